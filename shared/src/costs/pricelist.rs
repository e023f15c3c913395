//! Refreshing the price table from the AWS Price List API (service code `AmazonSageMaker`).
//!
//! `GetProducts` answers with one JSON document per product (SKU): `product.attributes` says what
//! it is, `terms.OnDemand.*.priceDimensions.*` what it costs. Only two kinds of document become a
//! rate here, both recognised by their `usagetype`, `<REGION PREFIX>-<KIND>:<instance type>`:
//!
//! - `Train` (e.g. `USE1-Train:ml.g5.2xlarge`): the training column;
//! - `Host` (e.g. `USE1-Host:ml.g5.2xlarge`): the hosting column (real-time endpoints).
//!
//! Everything else is skipped: notebooks (`Notebk`), Studio, processing, batch transform
//! (`Tsform`), asynchronous inference (`AsyncInf`), HyperPod clusters, training plans, spot or other
//! suffixed kinds (`Train-Spot`), storage and data (per GB), and documents with no on-demand
//! price per hour. A document without `usagetype` counts when its `component` is exactly
//! `Training` or `Hosting`; when both are present they must agree. The instance type is
//! `instanceName` (falling back to the part of `usagetype` after `:`), and must be the same as that
//! part, so a variant with a suffix (`ml.g5.2xlarge-Flex`) is never taken for the plain instance.
//!
//! A document that should give a rate but cannot (unreadable, no region, a price that is not a
//! number, a price at or below zero, several different hourly prices) is an error naming the
//! document: the refresh is then refused as a whole and the table stays as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::prices::{PriceTable, Rate};

/// The Price List service code of SageMaker.
pub const SERVICE_CODE: &str = "AmazonSageMaker";

/// The `GetProducts` filters (`TERM_MATCH` field and value) that ask for one region's products.
///
/// Only the region is filtered on: the parser decides what is a training or hosting price, so a
/// change in AWS's other attribute values cannot silently empty the answer.
pub fn filters(region: &str) -> Vec<(&'static str, String)> {
    vec![("regionCode", region.to_string())]
}

/// Which column of the table a price belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Training,
    Hosting,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Training => "training",
            Component::Hosting => "hosting",
        }
    }

    fn slot(self, rate: &mut Rate) -> &mut Option<f64> {
        match self {
            Component::Training => &mut rate.training,
            Component::Hosting => &mut rate.hosting,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One on-demand hourly price read from the Price List API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedPrice {
    pub region: String,
    pub instance_type: String,
    pub component: Component,
    pub usd_per_hour: f64,
}

/// Which document of an answer: its position (from 0) and, when it could be read, its SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentId {
    pub index: usize,
    pub sku: Option<String>,
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sku {
            Some(sku) => write!(f, "#{} (SKU {sku})", self.index),
            None => write!(f, "#{}", self.index),
        }
    }
}

/// A document that should have given a price but could not: the refresh is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceListError {
    #[error(
        "price list document {document} is not a product document ({message}): the answer was not what GetProducts returns; the price table was left as it was"
    )]
    Unreadable {
        document: DocumentId,
        message: String,
    },
    #[error(
        "price list document {document}: the {component} price of {instance_type} names no region (attribute regionCode); the price table was left as it was"
    )]
    NoRegion {
        document: DocumentId,
        component: Component,
        instance_type: String,
    },
    #[error(
        "price list document {document}: the {component} price of {instance_type} in {region} is \"{text}\" USD per hour, not a number; the price table was left as it was"
    )]
    BadPrice {
        document: DocumentId,
        component: Component,
        instance_type: String,
        region: String,
        text: String,
    },
    #[error(
        "price list document {document}: the {component} price of {instance_type} in {region} is {usd} USD per hour; a price at or below zero is refused (nothing is priced as free), so the price table was left as it was"
    )]
    NotPositive {
        document: DocumentId,
        component: Component,
        instance_type: String,
        region: String,
        usd: f64,
    },
    #[error(
        "price list document {document}: {instance_type} in {region} has several on-demand {component} prices per hour ({prices}), so which one applies is unknown; the price table was left as it was"
    )]
    Ambiguous {
        document: DocumentId,
        component: Component,
        instance_type: String,
        region: String,
        prices: String,
    },
}

impl PriceListError {
    /// The document the error is about.
    pub fn document(&self) -> &DocumentId {
        match self {
            PriceListError::Unreadable { document, .. }
            | PriceListError::NoRegion { document, .. }
            | PriceListError::BadPrice { document, .. }
            | PriceListError::NotPositive { document, .. }
            | PriceListError::Ambiguous { document, .. } => document,
        }
    }
}

#[derive(Deserialize)]
struct Document {
    product: Product,
    #[serde(default)]
    terms: Terms,
}

#[derive(Deserialize)]
struct Product {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, serde_json::Value>,
}

#[derive(Default, Deserialize)]
struct Terms {
    #[serde(rename = "OnDemand", default)]
    on_demand: BTreeMap<String, Offer>,
}

#[derive(Deserialize)]
struct Offer {
    #[serde(rename = "priceDimensions", default)]
    price_dimensions: BTreeMap<String, Dimension>,
}

#[derive(Deserialize)]
struct Dimension {
    #[serde(default)]
    unit: String,
    #[serde(rename = "pricePerUnit", default)]
    price_per_unit: BTreeMap<String, serde_json::Value>,
}

/// The instance prices in an answer's documents, in order; documents that are not an on-demand
/// training or hosting price per hour are skipped. The first document that should give a price but
/// cannot is the error.
pub fn parse_products<I, S>(documents: I) -> Result<Vec<ListedPrice>, PriceListError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut prices = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        if let Some(price) = parse_product(index, document.as_ref())? {
            prices.push(price);
        }
    }
    Ok(prices)
}

/// One document (`index` is its position in the answer, for the error): its price, `None` when it
/// is not an on-demand training or hosting price per hour.
pub fn parse_product(index: usize, document: &str) -> Result<Option<ListedPrice>, PriceListError> {
    let parsed: Document =
        serde_json::from_str(document).map_err(|e| PriceListError::Unreadable {
            document: DocumentId { index, sku: None },
            message: e.to_string(),
        })?;
    let attributes = &parsed.product.attributes;
    let id = DocumentId {
        index,
        sku: parsed
            .product
            .sku
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| text(attributes, "sku").map(str::to_string)),
    };
    if text(attributes, "locationType").is_some_and(|l| l != "AWS Region") {
        return Ok(None);
    }
    let Some((component, instance_type)) = classify(attributes) else {
        return Ok(None);
    };
    let Some(region) = text(attributes, "regionCode") else {
        return Err(PriceListError::NoRegion {
            document: id,
            component,
            instance_type,
        });
    };
    let mut found: Vec<f64> = Vec::new();
    for offer in parsed.terms.on_demand.values() {
        for dimension in offer.price_dimensions.values() {
            if !is_hourly(&dimension.unit) {
                continue;
            }
            let Some(usd) = dimension.price_per_unit.get("USD") else {
                continue;
            };
            let raw = match usd {
                serde_json::Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            };
            let value = match raw.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    return Err(PriceListError::BadPrice {
                        document: id,
                        component,
                        instance_type,
                        region: region.to_string(),
                        text: raw,
                    });
                }
            };
            if value <= 0.0 {
                return Err(PriceListError::NotPositive {
                    document: id,
                    component,
                    instance_type,
                    region: region.to_string(),
                    usd: value,
                });
            }
            if !found.contains(&value) {
                found.push(value);
            }
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [usd] => Ok(Some(ListedPrice {
            region: region.to_string(),
            instance_type,
            component,
            usd_per_hour: *usd,
        })),
        several => Err(PriceListError::Ambiguous {
            document: id,
            component,
            instance_type,
            region: region.to_string(),
            prices: several
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn text<'a>(attributes: &'a BTreeMap<String, serde_json::Value>, name: &str) -> Option<&'a str> {
    attributes
        .get(name)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn is_hourly(unit: &str) -> bool {
    ["Hrs", "Hr", "Hours", "Hour"]
        .iter()
        .any(|u| unit.trim().eq_ignore_ascii_case(u))
}

/// Training or hosting, and the instance type; `None` for every other kind of product.
fn classify(attributes: &BTreeMap<String, serde_json::Value>) -> Option<(Component, String)> {
    let from_component = match text(attributes, "component") {
        None => None,
        Some(c) if c.eq_ignore_ascii_case("Training") => Some(Component::Training),
        Some(c) if c.eq_ignore_ascii_case("Hosting") => Some(Component::Hosting),
        Some(_) => return None,
    };
    let name = text(attributes, "instanceName");
    let (component, instance_type) = match text(attributes, "usagetype") {
        Some(usage) => {
            let (kind, usage_instance) = usage.split_once(':')?;
            let component = match kind.rsplit_once('-') {
                Some((prefix, kind)) if is_region_prefix(prefix) => usage_kind(kind)?,
                Some(_) => return None,
                None => usage_kind(kind)?,
            };
            if from_component.is_some_and(|c| c != component) {
                return None;
            }
            if name.is_some_and(|n| n != usage_instance) {
                return None;
            }
            (component, usage_instance)
        }
        None => (from_component?, name?),
    };
    is_instance_type(instance_type).then(|| (component, instance_type.to_string()))
}

fn usage_kind(kind: &str) -> Option<Component> {
    match kind {
        "Train" => Some(Component::Training),
        "Host" => Some(Component::Hosting),
        _ => None,
    }
}

/// `USE1`, `EU`, `APS3`: the region prefix of a usage type.
fn is_region_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `ml.<family>.<size>`, nothing else.
fn is_instance_type(name: &str) -> bool {
    let mut parts = name.split('.');
    parts.next() == Some("ml")
        && parts.clone().count() == 2
        && parts.all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// What a refresh changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RefreshSummary {
    /// Rates the API gave a different price for.
    pub updated: usize,
    /// Rates the table did not have.
    pub added: usize,
    /// Rates the API confirmed.
    pub unchanged: usize,
    /// Rates of the table the API did not mention, kept as they were.
    pub kept: usize,
    /// The regions the API gave prices for.
    pub regions: BTreeSet<String>,
    /// `region instance_type component` given several different prices: the highest is used, so
    /// a cost is overestimated rather than underestimated.
    pub conflicts: Vec<String>,
}

impl PriceTable {
    /// The table with the API's prices in place of its own, its other rates and the config's
    /// overrides kept, and `source`/`as_of` saying where the numbers now come from. With no
    /// prices the table is returned as it was.
    pub fn refreshed(
        mut self,
        prices: &[ListedPrice],
        as_of: &str,
    ) -> (PriceTable, RefreshSummary) {
        let mut summary = RefreshSummary::default();
        let mut best: BTreeMap<(&str, &str, Component), f64> = BTreeMap::new();
        let mut conflicts = BTreeSet::new();
        for p in prices {
            let key = (p.region.as_str(), p.instance_type.as_str(), p.component);
            match best.get_mut(&key) {
                None => {
                    best.insert(key, p.usd_per_hour);
                }
                Some(usd) => {
                    if *usd != p.usd_per_hour {
                        conflicts.insert(key);
                        *usd = usd.max(p.usd_per_hour);
                    }
                }
            }
        }
        summary.conflicts = conflicts
            .into_iter()
            .map(|(region, instance_type, component)| {
                format!("{region} {instance_type} {component}")
            })
            .collect();
        let before: usize = self
            .regions
            .values()
            .flat_map(|types| types.values())
            .map(|r| usize::from(r.training.is_some()) + usize::from(r.hosting.is_some()))
            .sum();
        for (&(region, instance_type, component), &usd) in &best {
            summary.regions.insert(region.to_string());
            let rate = self
                .regions
                .entry(region.to_string())
                .or_default()
                .entry(instance_type.to_string())
                .or_default();
            let slot = component.slot(rate);
            match *slot {
                None => summary.added += 1,
                Some(old) if old == usd => summary.unchanged += 1,
                Some(_) => summary.updated += 1,
            }
            *slot = Some(usd);
        }
        summary.kept = before - summary.updated - summary.unchanged;
        if !summary.regions.is_empty() {
            let regions: Vec<&str> = summary.regions.iter().map(String::as_str).collect();
            self.source = format!(
                "AWS Price List API ({SERVICE_CODE}, on-demand price per hour) for {}, read {as_of}; rates it did not give are kept from the table of {}.",
                regions.join(", "),
                self.as_of
            );
            self.as_of = as_of.to_string();
        }
        (self, summary)
    }
}

/// The Price List API as the cost run sees it: the product documents of one region.
pub trait PriceSource: Sync {
    fn products(
        &self,
        region: &str,
    ) -> impl std::future::Future<Output = Result<Vec<String>, crate::error::StoreError>> + Send;
}

/// The table refreshed from `source` for `region`, or the table as it was and why not: a refresh
/// that fails (no access to the API, a document that does not parse) never fails the cost run,
/// and never leaves a half-refreshed table.
pub async fn refresh(
    table: PriceTable,
    source: &impl PriceSource,
    region: &str,
    as_of: &str,
) -> (PriceTable, Result<RefreshSummary, String>) {
    let documents = match source.products(region).await {
        Ok(documents) => documents,
        Err(e) => {
            return (
                table,
                Err(format!("the Price List API could not be read: {e}")),
            );
        }
    };
    match parse_products(&documents) {
        Ok(prices) => {
            let (table, summary) = table.refreshed(&prices, as_of);
            (table, Ok(summary))
        }
        Err(e) => (
            table,
            Err(format!(
                "the Price List API answered a document the run cannot use: {e}"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// A product document in the shape GetProducts returns (self-written, numbers invented).
    fn doc(attributes: serde_json::Value, unit: &str, usd: &str) -> String {
        json!({
            "product": {
                "productFamily": "ML Instance",
                "sku": "SKU0TEST",
                "attributes": attributes,
            },
            "serviceCode": "AmazonSageMaker",
            "terms": {
                "OnDemand": {
                    "SKU0TEST.OFFER1": {
                        "offerTermCode": "OFFER1",
                        "sku": "SKU0TEST",
                        "priceDimensions": {
                            "SKU0TEST.OFFER1.RATE1": {
                                "unit": unit,
                                "description": "test price",
                                "beginRange": "0",
                                "endRange": "Inf",
                                "pricePerUnit": { "USD": usd },
                            }
                        },
                        "termAttributes": {},
                    }
                }
            },
            "version": "20260101000000",
            "publicationDate": "2026-01-01T00:00:00Z",
        })
        .to_string()
    }

    fn instance(region: &str, usagetype: &str, component: &str, name: &str) -> serde_json::Value {
        json!({
            "servicecode": "AmazonSageMaker",
            "servicename": "Amazon SageMaker",
            "location": "Test Region",
            "locationType": "AWS Region",
            "regionCode": region,
            "usagetype": usagetype,
            "operation": "RunInstance",
            "component": component,
            "instanceName": name,
            "instanceType": format!("{name}-{component}"),
            "vCpu": "8",
        })
    }

    fn without(mut attributes: serde_json::Value, name: &str) -> serde_json::Value {
        if let Some(a) = attributes.as_object_mut() {
            a.remove(name);
        }
        attributes
    }

    fn listed(region: &str, t: &str, component: Component, usd: f64) -> ListedPrice {
        ListedPrice {
            region: region.into(),
            instance_type: t.into(),
            component,
            usd_per_hour: usd,
        }
    }

    #[test]
    fn training_and_hosting_documents_give_their_column() {
        let docs = [
            doc(
                instance(
                    "us-east-1",
                    "USE1-Train:ml.g5.2xlarge",
                    "Training",
                    "ml.g5.2xlarge",
                ),
                "Hrs",
                "1.6000000000",
            ),
            doc(
                instance("eu-west-1", "EU-Host:ml.m5.large", "Hosting", "ml.m5.large"),
                "Hrs",
                "0.1300000000",
            ),
        ];
        assert_eq!(
            parse_products(&docs),
            Ok(vec![
                listed("us-east-1", "ml.g5.2xlarge", Component::Training, 1.6),
                listed("eu-west-1", "ml.m5.large", Component::Hosting, 0.13),
            ])
        );
    }

    #[test]
    fn the_kind_comes_from_the_usage_type_or_else_the_component() {
        let mut no_name = instance("us-east-1", "USE1-Host:ml.c5.xlarge", "Hosting", "");
        no_name["instanceName"] = json!(null);
        let no_usage = without(
            instance("us-east-1", "", "Training", "ml.c5.xlarge"),
            "usagetype",
        );
        let no_component = without(
            instance("us-east-1", "Train:ml.c5.xlarge", "", "ml.c5.xlarge"),
            "component",
        );
        for (attributes, component) in [
            (no_name, Component::Hosting),
            (no_usage, Component::Training),
            (no_component, Component::Training),
        ] {
            assert_eq!(
                parse_product(0, &doc(attributes.clone(), "Hrs", "0.2")),
                Ok(Some(listed("us-east-1", "ml.c5.xlarge", component, 0.2))),
                "{attributes}"
            );
        }
    }

    #[test]
    fn documents_that_are_not_an_hourly_instance_price_are_skipped() {
        let n = "ml.g5.2xlarge";
        let skipped = [
            // Other kinds of instance use.
            doc(
                instance("us-east-1", "USE1-Notebk:ml.g5.2xlarge", "Notebook", n),
                "Hrs",
                "1.2",
            ),
            doc(
                instance(
                    "us-east-1",
                    "USE1-Processing:ml.g5.2xlarge",
                    "Processing",
                    n,
                ),
                "Hrs",
                "1.2",
            ),
            doc(
                instance(
                    "us-east-1",
                    "USE1-Tsform:ml.g5.2xlarge",
                    "Batch Transform",
                    n,
                ),
                "Hrs",
                "1.2",
            ),
            doc(
                instance(
                    "us-east-1",
                    "USE1-AsyncInf:ml.g5.2xlarge",
                    "AsyncInference",
                    n,
                ),
                "Hrs",
                "1.2",
            ),
            doc(
                instance("us-east-1", "USE1-Train-Spot:ml.g5.2xlarge", "Training", n),
                "Hrs",
                "0.5",
            ),
            doc(
                instance(
                    "us-east-1",
                    "USE1-TrainingPlanUpfrontFee:ml.g5.2xlarge",
                    "",
                    n,
                ),
                "Quantity",
                "9.0",
            ),
            // The right kind, but a component that says otherwise, or a suffixed variant.
            doc(
                instance("us-east-1", "USE1-Train:ml.g5.2xlarge", "Cluster", n),
                "Hrs",
                "1.7",
            ),
            doc(
                instance("us-east-1", "USE1-Host:ml.g5.2xlarge-Flex", "Hosting", n),
                "Hrs",
                "1.1",
            ),
            // Storage and data, priced per GB.
            doc(
                json!({
                    "regionCode": "us-east-1",
                    "usagetype": "USE1-Host:VolumeUsage.gp2",
                    "component": "Hosting",
                }),
                "GB-Mo",
                "0.14",
            ),
            doc(
                instance("us-east-1", "USE1-Host:ml.g5.2xlarge", "Hosting", n),
                "GB",
                "0.016",
            ),
            // Not in an AWS Region.
            {
                let mut a = instance("us-east-1", "USE1-Host:ml.g5.2xlarge", "Hosting", n);
                a["locationType"] = json!("AWS Outposts");
                doc(a, "Hrs", "1.4")
            },
            // No on-demand term: savings plans and reservations are not list prices.
            json!({
                "product": {
                    "sku": "SKU0RESERVED",
                    "attributes": instance("us-east-1", "USE1-Host:ml.g5.2xlarge", "Hosting", n),
                },
                "terms": { "Reserved": { "X": { "priceDimensions": {} } } },
            })
            .to_string(),
        ];
        for d in &skipped {
            assert_eq!(parse_product(3, d), Ok(None), "{d}");
        }
        assert_eq!(parse_products(&skipped), Ok(Vec::new()));
    }

    #[test]
    fn a_malformed_document_is_an_error_naming_it() {
        let good = doc(
            instance(
                "us-east-1",
                "USE1-Host:ml.m5.large",
                "Hosting",
                "ml.m5.large",
            ),
            "Hrs",
            "0.115",
        );
        let error = parse_products([good.as_str(), "{\"product\": 3", good.as_str()])
            .expect_err("the second document is cut short");
        assert_eq!(
            error.document(),
            &DocumentId {
                index: 1,
                sku: None
            }
        );
        assert!(matches!(error, PriceListError::Unreadable { .. }));
        assert!(error.to_string().contains("#1"), "{error}");

        let error = parse_product(0, "{\"terms\": {}}").expect_err("no product");
        assert!(error.to_string().contains("product"), "{error}");

        let error = parse_product(
            4,
            &doc(
                instance(
                    "us-east-1",
                    "USE1-Train:ml.m5.large",
                    "Training",
                    "ml.m5.large",
                ),
                "Hrs",
                "about a dollar",
            ),
        )
        .expect_err("not a number");
        assert!(
            matches!(error, PriceListError::BadPrice { ref text, .. } if text == "about a dollar")
        );
        assert!(error.to_string().contains("#4 (SKU SKU0TEST)"), "{error}");

        let attributes = without(
            instance("", "USE1-Train:ml.m5.large", "Training", "ml.m5.large"),
            "regionCode",
        );
        let error = parse_product(0, &doc(attributes, "Hrs", "0.1")).expect_err("no region");
        assert!(matches!(error, PriceListError::NoRegion { .. }), "{error}");
    }

    #[test]
    fn a_price_at_or_below_zero_is_refused() {
        for usd in ["0.0000000000", "0", "-1.5"] {
            let d = doc(
                instance(
                    "us-east-1",
                    "USE1-Host:ml.g5.2xlarge",
                    "Hosting",
                    "ml.g5.2xlarge",
                ),
                "Hrs",
                usd,
            );
            let error = parse_products([d]).expect_err(usd);
            assert!(
                matches!(error, PriceListError::NotPositive { ref instance_type, .. } if instance_type == "ml.g5.2xlarge"),
                "{error}"
            );
            assert!(error.to_string().contains("refused"), "{error}");
        }
        let d = doc(
            instance(
                "us-east-1",
                "USE1-Host:ml.g5.2xlarge",
                "Hosting",
                "ml.g5.2xlarge",
            ),
            "Hrs",
            "NaN",
        );
        assert!(matches!(
            parse_product(0, &d),
            Err(PriceListError::BadPrice { .. })
        ));
    }

    #[test]
    fn two_hourly_prices_in_one_document_are_ambiguous() {
        let mut value: serde_json::Value = serde_json::from_str(&doc(
            instance(
                "us-east-1",
                "USE1-Host:ml.g5.2xlarge",
                "Hosting",
                "ml.g5.2xlarge",
            ),
            "Hrs",
            "1.5",
        ))
        .expect("valid");
        value["terms"]["OnDemand"]["SKU0TEST.OFFER2"] = json!({
            "priceDimensions": { "R": { "unit": "Hrs", "pricePerUnit": { "USD": "1.9" } } }
        });
        let error = parse_product(0, &value.to_string()).expect_err("two prices");
        assert!(matches!(error, PriceListError::Ambiguous { .. }), "{error}");
    }

    #[test]
    fn the_filters_ask_for_one_region() {
        assert_eq!(
            filters("eu-west-1"),
            vec![("regionCode", "eu-west-1".to_string())]
        );
    }

    #[test]
    fn a_refresh_replaces_given_rates_and_keeps_the_others() {
        let bundled = PriceTable::bundled().expect("the bundled table parses");
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "ml.g5.2xlarge".to_string(),
            crate::config::PriceOverride {
                training: Some(1.0),
                hosting: None,
            },
        );
        let bundled = bundled.with_overrides(&overrides);
        let old_eu_m5 = bundled.training("eu-west-1", "ml.m5.large");
        let old_count: usize = bundled
            .regions
            .values()
            .flat_map(|t| t.values())
            .map(|r| usize::from(r.training.is_some()) + usize::from(r.hosting.is_some()))
            .sum();
        let hosting_g5 = bundled
            .hosting("us-east-1", "ml.g5.2xlarge")
            .expect("bundled");
        let prices = [
            listed("us-east-1", "ml.g5.2xlarge", Component::Hosting, hosting_g5),
            listed("us-east-1", "ml.g5.xlarge", Component::Training, 9.75),
            listed("us-east-1", "ml.trn1.2xlarge", Component::Hosting, 1.5),
            listed("us-east-1", "ml.g7e.2xlarge", Component::Training, 4.0),
            listed("sa-east-1", "ml.m5.large", Component::Hosting, 0.2),
            listed("sa-east-1", "ml.m5.large", Component::Hosting, 0.25),
        ];
        let (table, summary) = bundled.clone().refreshed(&prices, "2026-12-01");

        assert_eq!(table.training("us-east-1", "ml.g5.xlarge"), Some(9.75));
        assert_eq!(table.hosting("us-east-1", "ml.trn1.2xlarge"), Some(1.5));
        assert_eq!(table.training("us-east-1", "ml.g7e.2xlarge"), Some(4.0));
        assert_eq!(table.hosting("us-east-1", "ml.g7e.2xlarge"), None);
        assert_eq!(table.hosting("sa-east-1", "ml.m5.large"), Some(0.25));
        assert_eq!(table.training("eu-west-1", "ml.m5.large"), old_eu_m5);
        assert_eq!(
            table.hosting("us-east-1", "ml.g5.xlarge"),
            bundled.hosting("us-east-1", "ml.g5.xlarge")
        );
        // The config's override still wins.
        assert_eq!(table.training("us-east-1", "ml.g5.2xlarge"), Some(1.0));
        assert_eq!(table.overrides, bundled.overrides);

        assert_eq!(
            summary,
            RefreshSummary {
                updated: 1,
                added: 3,
                unchanged: 1,
                kept: old_count - 2,
                regions: ["sa-east-1", "us-east-1"].map(String::from).into(),
                conflicts: vec!["sa-east-1 ml.m5.large hosting".to_string()],
            }
        );
        assert_eq!(table.as_of, "2026-12-01");
        assert!(
            table.source.contains("AWS Price List API"),
            "{}",
            table.source
        );
        assert!(
            table.source.contains("sa-east-1, us-east-1"),
            "{}",
            table.source
        );
        assert!(table.source.contains(&bundled.as_of), "{}", table.source);
        for rate in table.regions.values().flat_map(|t| t.values()) {
            for price in [rate.training, rate.hosting].into_iter().flatten() {
                assert!(price > 0.0);
            }
        }
    }

    #[test]
    fn a_refresh_with_no_prices_changes_nothing() {
        let bundled = PriceTable::bundled().expect("the bundled table parses");
        let (table, summary) = bundled.clone().refreshed(&[], "2026-12-01");
        assert_eq!(table, bundled);
        assert_eq!(
            (summary.updated, summary.added, summary.unchanged),
            (0, 0, 0)
        );
        assert!(summary.kept > 0 && summary.regions.is_empty());
    }

    #[test]
    fn parsed_documents_refresh_the_table_end_to_end() {
        let docs = [
            doc(
                instance(
                    "us-east-1",
                    "USE1-Train:ml.g5.2xlarge",
                    "Training",
                    "ml.g5.2xlarge",
                ),
                "Hrs",
                "1.7000000000",
            ),
            doc(
                instance(
                    "us-east-1",
                    "USE1-Notebk:ml.g5.2xlarge",
                    "Notebook",
                    "ml.g5.2xlarge",
                ),
                "Hrs",
                "0.0000000000",
            ),
        ];
        let prices = parse_products(&docs).expect("parses");
        let (table, summary) = PriceTable::bundled()
            .expect("parses")
            .refreshed(&prices, "2026-12-01");
        assert_eq!(table.training("us-east-1", "ml.g5.2xlarge"), Some(1.7));
        assert_eq!(summary.updated, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_text_gives_a_price_none_or_an_error(text in ".{0,200}") {
            let _ = parse_product(0, &text);
        }

        #[test]
        fn any_price_text_gives_a_positive_price_or_an_error(usd in ".{0,12}", unit in "(Hrs|GB|Quantity)") {
            let d = doc(
                instance("us-east-1", "USE1-Host:ml.m5.large", "Hosting", "ml.m5.large"),
                &unit,
                &usd,
            );
            if let Ok(Some(p)) = parse_product(0, &d) {
                prop_assert!(p.usd_per_hour > 0.0 && p.usd_per_hour.is_finite());
            }
        }
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::*;

    struct Fixed(Result<Vec<String>, crate::error::StoreError>);

    impl PriceSource for Fixed {
        async fn products(&self, _region: &str) -> Result<Vec<String>, crate::error::StoreError> {
            self.0.clone()
        }
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn document(price: &str) -> String {
        serde_json::json!({
            "product": {"sku": "S1", "attributes": {
                "regionCode": "us-east-1", "instanceName": "ml.g5.2xlarge",
                "usagetype": "USE1-Train:ml.g5.2xlarge", "locationType": "AWS Region"}},
            "terms": {"OnDemand": {"S1.T": {"priceDimensions": {"S1.T.D": {
                "unit": "Hrs", "pricePerUnit": {"USD": price}}}}}}
        })
        .to_string()
    }

    #[test]
    fn a_refresh_replaces_what_the_api_gave_and_a_failure_keeps_the_table() {
        let bundled = PriceTable::bundled().expect("bundled");
        let (table, summary) = run(refresh(
            bundled.clone(),
            &Fixed(Ok(vec![document("1.6")])),
            "us-east-1",
            "2026-12-01",
        ));
        assert_eq!(summary.expect("refreshed").updated, 1);
        assert_eq!(table.training("us-east-1", "ml.g5.2xlarge"), Some(1.6));
        assert_eq!(table.as_of, "2026-12-01");

        let (table, summary) = run(refresh(
            bundled.clone(),
            &Fixed(Ok(vec![document("0")])),
            "us-east-1",
            "2026-12-01",
        ));
        assert!(summary.is_err());
        assert_eq!(table, bundled, "nothing half-refreshed");

        let refused = crate::error::StoreError::Refused {
            op: "GetProducts",
            resource: "AmazonSageMaker".into(),
            message: "AccessDeniedException".into(),
        };
        let (table, summary) = run(refresh(
            bundled.clone(),
            &Fixed(Err(refused)),
            "us-east-1",
            "2026-12-01",
        ));
        assert!(summary.is_err_and(|e| e.contains("AccessDenied")));
        assert_eq!(table, bundled);
    }
}

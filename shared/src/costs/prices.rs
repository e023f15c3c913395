//! What an instance costs per hour: the table kept in the repo (`shared/data/sagemaker-prices.json`,
//! approximate on-demand list prices with their source and date), with the config's overrides on
//! top. A type the table does not know has no price: it is reported as unknown, never as free.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::PriceOverride;

/// The table shipped with the code.
pub const BUNDLED: &str = include_str!("../../data/sagemaker-prices.json");

/// On-demand $/hour of one instance type; `None` where SageMaker does not offer it for that use.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rate {
    #[serde(default)]
    pub training: Option<f64>,
    #[serde(default)]
    pub hosting: Option<f64>,
}

/// Prices by region and instance type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// Where the numbers come from.
    pub source: String,
    /// When they were recorded (`YYYY-MM-DD`).
    pub as_of: String,
    /// Serverless inference, $ per GB-second of inference duration.
    pub serverless_usd_per_gb_second: f64,
    pub regions: BTreeMap<String, BTreeMap<String, Rate>>,
    /// Overrides from the config, for every region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, Rate>,
}

impl PriceTable {
    /// The bundled table.
    pub fn bundled() -> Result<PriceTable, serde_json::Error> {
        Self::from_json(BUNDLED)
    }

    pub fn from_json(text: &str) -> Result<PriceTable, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The table with the config's `[costs.prices]` on top.
    pub fn with_overrides(mut self, overrides: &BTreeMap<String, PriceOverride>) -> PriceTable {
        for (instance_type, o) in overrides {
            self.overrides.insert(
                instance_type.clone(),
                Rate {
                    training: o.training,
                    hosting: o.hosting,
                },
            );
        }
        self
    }

    fn rate(
        &self,
        region: &str,
        instance_type: &str,
        pick: fn(&Rate) -> Option<f64>,
    ) -> Option<f64> {
        self.overrides
            .get(instance_type)
            .and_then(pick)
            .or_else(|| self.regions.get(region)?.get(instance_type).and_then(pick))
    }

    /// $/hour to train on one instance, or `None` when unknown.
    pub fn training(&self, region: &str, instance_type: &str) -> Option<f64> {
        self.rate(region, instance_type, |r| r.training)
    }

    /// $/hour to host on one instance, or `None` when unknown.
    pub fn hosting(&self, region: &str, instance_type: &str) -> Option<f64> {
        self.rate(region, instance_type, |r| r.hosting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_table_covers_the_families_and_regions() {
        let table = PriceTable::bundled().expect("the bundled table parses");
        assert!(!table.source.is_empty() && table.as_of.len() == 10);
        for region in [
            "us-east-1",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-northeast-1",
        ] {
            for family in [
                "ml.m5.", "ml.c5.", "ml.g4dn.", "ml.g5.", "ml.g6.", "ml.p3.", "ml.p4d.",
                "ml.inf2.", "ml.trn1.",
            ] {
                let found = table.regions[region].iter().any(|(t, r)| {
                    t.starts_with(family) && (r.training.is_some() || r.hosting.is_some())
                });
                assert!(found, "{region} {family}");
            }
            for rate in table.regions[region].values() {
                for price in [rate.training, rate.hosting].into_iter().flatten() {
                    assert!(price > 0.0);
                }
            }
        }
        assert_eq!(table.training("us-east-1", "ml.g5.2xlarge"), Some(1.515));
        assert_eq!(table.hosting("us-east-1", "ml.trn1.2xlarge"), None);
        assert_eq!(table.training("us-east-1", "ml.x9.huge"), None);
        assert_eq!(table.training("mars-north-1", "ml.g5.2xlarge"), None);
    }

    #[test]
    fn overrides_win_in_every_region() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "ml.g5.2xlarge".to_string(),
            PriceOverride {
                training: Some(1.0),
                hosting: None,
            },
        );
        overrides.insert(
            "ml.custom.large".to_string(),
            PriceOverride {
                training: None,
                hosting: Some(0.5),
            },
        );
        let table = PriceTable::bundled()
            .expect("parses")
            .with_overrides(&overrides);
        assert_eq!(table.training("eu-west-1", "ml.g5.2xlarge"), Some(1.0));
        assert_eq!(table.hosting("us-east-1", "ml.g5.2xlarge"), Some(1.515));
        assert_eq!(table.hosting("mars-north-1", "ml.custom.large"), Some(0.5));
    }
}

//! [`PriceList`]: the AWS Price List API's `GetProducts` for SageMaker, page after page. What the
//! documents mean is decided in [`crate::costs::pricelist`].

use aws_config::{Region, SdkConfig};
use aws_sdk_pricing::Client;
use aws_sdk_pricing::types::{Filter, FilterType};

use super::store_error;
use crate::costs::pricelist::{SERVICE_CODE, filters};
use crate::error::StoreError;

/// The regions that serve the Price List API; from anywhere else it is asked in the first.
pub const API_REGIONS: [&str; 3] = ["us-east-1", "eu-central-1", "ap-south-1"];

/// Products asked for per page: the most `GetProducts` allows.
const PAGE_SIZE: i32 = 100;

/// Pages read at most for one region: SageMaker has a few thousand products per region, so an
/// answer longer than this is not what this code expects.
const MAX_PAGES: usize = 200;

#[derive(Debug, Clone)]
pub struct PriceList {
    client: Client,
}

impl PriceList {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client in the config's region when that serves the Price List API, else in us-east-1.
    pub fn from_config(config: &SdkConfig) -> Self {
        let mut builder = aws_sdk_pricing::config::Builder::from(config);
        let served = config
            .region()
            .is_some_and(|r| API_REGIONS.contains(&r.as_ref()));
        if !served {
            builder = builder.region(Region::new(API_REGIONS[0]));
        }
        Self::new(Client::from_conf(builder.build()))
    }

    /// Every SageMaker product document of `region`, as `GetProducts` returns them.
    pub async fn fetch(&self, region: &str) -> Result<Vec<String>, StoreError> {
        let resource = format!("{SERVICE_CODE} products in {region}");
        let filters = filters(region)
            .into_iter()
            .map(|(field, value)| {
                Filter::builder()
                    .r#type(FilterType::TermMatch)
                    .field(field)
                    .value(value)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Other {
                op: "GetProducts",
                resource: resource.clone(),
                message: format!("the request's filters could not be built: {e}"),
            })?;
        let mut documents = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .client
                .get_products()
                .service_code(SERVICE_CODE)
                .set_filters(Some(filters.clone()))
                .format_version("aws_v1")
                .max_results(PAGE_SIZE)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|err| store_error("GetProducts", &resource, &err))?;
            documents.extend(page.price_list().iter().cloned());
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => return Ok(documents),
            }
        }
        Err(StoreError::Other {
            op: "GetProducts",
            resource,
            message: format!(
                "the answer went on past {MAX_PAGES} pages of {PAGE_SIZE} products, so none of it was used; check the filters in costs::pricelist::filters"
            ),
        })
    }
}

impl crate::costs::pricelist::PriceSource for PriceList {
    async fn products(&self, region: &str) -> Result<Vec<String>, StoreError> {
        self.fetch(region).await
    }
}

#[cfg(test)]
mod tests {
    use aws_config::BehaviorVersion;
    use aws_sdk_pricing::error::ErrorMetadata;
    use aws_sdk_pricing::operation::get_products::{GetProductsError, GetProductsOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::error::Retry;

    fn asks_for_eu_west_1(
        request: &aws_sdk_pricing::operation::get_products::GetProductsInput,
    ) -> bool {
        request.service_code() == Some("AmazonSageMaker")
            && request.max_results() == Some(100)
            && request.filters().len() == 1
            && request.filters().iter().all(|f| {
                f.r#type() == &FilterType::TermMatch
                    && f.field() == "regionCode"
                    && f.value() == "eu-west-1"
            })
    }

    #[tokio::test]
    async fn pages_are_read_until_there_is_no_next_token() {
        let first = mock!(Client::get_products)
            .match_requests(|r| asks_for_eu_west_1(r) && r.next_token().is_none())
            .then_output(|| {
                GetProductsOutput::builder()
                    .format_version("aws_v1")
                    .price_list("{\"n\": 1}")
                    .price_list("{\"n\": 2}")
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::get_products)
            .match_requests(|r| asks_for_eu_west_1(r) && r.next_token() == Some("page-2"))
            .then_output(|| {
                GetProductsOutput::builder()
                    .format_version("aws_v1")
                    .price_list("{\"n\": 3}")
                    .build()
            });
        let list = PriceList::new(mock_client!(
            aws_sdk_pricing,
            RuleMode::Sequential,
            [&first, &second]
        ));
        let documents = list.fetch("eu-west-1").await.expect("two pages");
        assert_eq!(documents, ["{\"n\": 1}", "{\"n\": 2}", "{\"n\": 3}"]);
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn throttling_is_retryable_and_names_the_region() {
        let throttled = mock!(Client::get_products).then_error(|| {
            GetProductsError::generic(
                ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate exceeded")
                    .build(),
            )
        });
        let list = PriceList::new(mock_client!(aws_sdk_pricing, [&throttled]));
        let error = list.fetch("eu-west-1").await.expect_err("throttled");
        assert!(error.retryable(), "{error}");
        assert!(error.to_string().contains("eu-west-1"), "{error}");
    }

    #[test]
    fn the_client_is_built_where_the_api_is_served() {
        for (configured, used) in [
            (Some("eu-west-1"), "us-east-1"),
            (None, "us-east-1"),
            (Some("ap-south-1"), "ap-south-1"),
            (Some("eu-central-1"), "eu-central-1"),
        ] {
            let config = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(configured.map(Region::new))
                .build();
            let list = PriceList::from_config(&config);
            assert_eq!(
                list.client.config().region().map(|r| r.as_ref()),
                Some(used),
                "{configured:?}"
            );
        }
    }
}

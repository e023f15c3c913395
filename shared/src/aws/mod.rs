//! The AWS SDK behind the traits of [`crate::store`]: built once per Lambda container, in `main`.

#[cfg(all(feature = "autoscaling", feature = "cloudwatch"))]
pub mod autoscaling;
#[cfg(feature = "cloudwatch")]
pub mod cloudwatch;
#[cfg(feature = "sagemaker")]
pub mod lifecycle;
#[cfg(feature = "pricing")]
pub mod pricing;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "sagemaker")]
pub mod sagemaker;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::StoreError;

/// The SDK configuration from the environment (the Lambda's role and region). An endpoint in
/// `AWS_ENDPOINT_URL` (the local AWS) is honoured by the SDK itself.
pub async fn config_from_env() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// A configuration for the local AWS at `endpoint`, with its fixed test credentials; nothing is
/// read from the environment, so parallel tests cannot disturb each other.
pub fn local_config(endpoint: &str) -> SdkConfig {
    let credentials =
        aws_credential_types::Credentials::new("test", "test", None, None, "local-aws");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .build()
}

/// Reads an environment variable the function cannot run without, once, at start.
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("environment variable {name} is not set: the stack's template sets it; set it when running the function by hand"))
}

/// Sorts an SDK failure into retryable or not, keeping the service's own words.
pub(crate) fn store_error<E, R>(
    op: &'static str,
    resource: &str,
    err: &SdkError<E, R>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error,
    R: std::fmt::Debug,
{
    let resource = resource.to_string();
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Transient {
                op,
                resource,
                message: format!("{err}"),
            }
        }
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown");
            let message = format!("{code}: {}", inner.message().unwrap_or("no message"));
            if is_transient_code(code) {
                StoreError::Transient {
                    op,
                    resource,
                    message,
                }
            } else if is_refusal_code(code) {
                StoreError::Refused {
                    op,
                    resource,
                    message,
                }
            } else {
                StoreError::Other {
                    op,
                    resource,
                    message,
                }
            }
        }
        other => StoreError::Other {
            op,
            resource,
            message: format!("{other}"),
        },
    }
}

fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "RequestTimeout"
            | "KMSThrottlingException"
    )
}

fn is_refusal_code(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "AuthorizationError"
            | "NoSuchBucket"
            | "NotFound"
            | "InvalidAccessKeyId"
            | "KMS.DisabledException"
            | "KMSAccessDeniedException"
    )
}

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
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
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
pub(crate) fn store_error<E>(
    op: &'static str,
    resource: &str,
    err: &SdkError<E, HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error,
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
            let status = service.raw().status().as_u16();
            let message = format!(
                "{code} (HTTP {status}): {}",
                inner.message().unwrap_or("no message")
            );
            match answer_class(status, code) {
                AnswerClass::Transient => StoreError::Transient {
                    op,
                    resource,
                    message,
                },
                AnswerClass::Refused => StoreError::Refused {
                    op,
                    resource,
                    message,
                },
                AnswerClass::Other => StoreError::Other {
                    op,
                    resource,
                    message,
                },
            }
        }
        other => StoreError::Other {
            op,
            resource,
            message: format!("{other}"),
        },
    }
}

/// What a service's error answer means for the event that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnswerClass {
    /// Worth another try: the service was busy, throttled us or failed on its side.
    Transient,
    /// A person must fix a permission or a missing resource.
    Refused,
    /// The request itself is wrong: the same event fails the same way.
    Other,
}

/// Decides from the HTTP status first and the error code second: a code this list has never seen
/// still comes with its status, so a new throttling code on a 429, or any 5xx, stays retryable
/// (services differ in their throttling codes: SNS says `Throttled`, Application Auto Scaling
/// `ConcurrentUpdateException` on a 400).
fn answer_class(status: u16, code: &str) -> AnswerClass {
    if status == 429 || (500..600).contains(&status) || is_transient_code(code) {
        AnswerClass::Transient
    } else if is_refusal_code(code) || status == 401 || status == 403 {
        AnswerClass::Refused
    } else {
        AnswerClass::Other
    }
}

fn is_transient_code(code: &str) -> bool {
    code.contains("Throttl")
        || matches!(
            code,
            "TooManyRequestsException"
                | "RequestLimitExceeded"
                | "SlowDown"
                | "InternalError"
                | "InternalFailure"
                | "InternalServerError"
                | "ServiceUnavailable"
                | "ServiceUnavailableException"
                | "RequestTimeout"
                | "RequestTimeoutException"
                | "PriorRequestNotComplete"
                | "ConcurrentUpdateException"
                | "ConcurrentModificationException"
                | "ProvisionedThroughputExceededException"
                | "EC2ThrottledException"
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

#[cfg(test)]
mod tests {
    use super::{AnswerClass, answer_class};

    #[test]
    fn answers_are_sorted_by_status_then_code() {
        let cases = [
            // Throttling under each service's own name.
            (400, "Throttling", AnswerClass::Transient),
            (400, "ThrottlingException", AnswerClass::Transient),
            (400, "Throttled", AnswerClass::Transient),
            (400, "KMSThrottlingException", AnswerClass::Transient),
            (400, "ConcurrentUpdateException", AnswerClass::Transient),
            (503, "SlowDown", AnswerClass::Transient),
            // A code nobody listed: the status decides.
            (500, "SomethingNewException", AnswerClass::Transient),
            (502, "Unknown", AnswerClass::Transient),
            (504, "GatewayTimeout", AnswerClass::Transient),
            (429, "SomethingNewException", AnswerClass::Transient),
            // Permissions and missing resources.
            (403, "AccessDenied", AnswerClass::Refused),
            (400, "AccessDeniedException", AnswerClass::Refused),
            (403, "SomethingNewException", AnswerClass::Refused),
            (404, "NoSuchBucket", AnswerClass::Refused),
            // The request is wrong: trying again cannot help.
            (400, "ValidationException", AnswerClass::Other),
            (400, "ResourceLimitExceeded", AnswerClass::Other),
            (404, "NoSuchKey", AnswerClass::Other),
        ];
        for (status, code, want) in cases {
            assert_eq!(answer_class(status, code), want, "HTTP {status} {code}");
        }
    }
}

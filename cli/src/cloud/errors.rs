//! AWS failures as one line a person can act on: the operation, the resource, the service's own
//! code and message, and what to do next (the IAM action to grant, the flag to pass). Never the
//! SDK's debug dump.
//!
//! [`explain`] decides the words from plain values and is tested here; [`aws`] and [`store`] only
//! take the facts out of an SDK error or a [`StoreError`].

use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use hawkins::error::StoreError;

use crate::exit::{self, Exit};

/// One AWS operation: the IAM service prefix and the API name (`sagemaker`, `ListEndpoints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub service: &'static str,
    pub op: &'static str,
}

pub const fn sagemaker(op: &'static str) -> Call {
    Call {
        service: "sagemaker",
        op,
    }
}

pub const fn s3(op: &'static str) -> Call {
    Call { service: "s3", op }
}

pub const fn logs(op: &'static str) -> Call {
    Call {
        service: "logs",
        op,
    }
}

pub const fn ecr(op: &'static str) -> Call {
    Call { service: "ecr", op }
}

pub const fn secretsmanager(op: &'static str) -> Call {
    Call {
        service: "secretsmanager",
        op,
    }
}

pub const fn sns(op: &'static str) -> Call {
    Call { service: "sns", op }
}

pub const fn servicequotas(op: &'static str) -> Call {
    Call {
        service: "servicequotas",
        op,
    }
}

pub const fn cloudformation(op: &'static str) -> Call {
    Call {
        service: "cloudformation",
        op,
    }
}

impl Call {
    /// The IAM action that allows the call. S3's list and head calls are authorised by other
    /// actions than their names; everything else is `<service>:<operation>` (InvokeEndpoint,
    /// although sent to the runtime API, is `sagemaker:InvokeEndpoint`).
    pub fn iam_action(&self) -> String {
        match (self.service, self.op) {
            ("s3", "ListObjectsV2" | "ListObjects") => "s3:ListBucket".into(),
            ("s3", "HeadObject") => "s3:GetObject".into(),
            (service, op) => format!("{service}:{op}"),
        }
    }
}

/// What went wrong, as far as the SDK tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with an error.
    Service {
        code: String,
        message: String,
    },
    /// No credentials could be loaded (no profile, expired SSO session...).
    NoCredentials(String),
    /// The request never reached the service.
    Unreachable(String),
    Timeout,
    Other(String),
}

/// Codes that mean "your identity may not do this".
fn denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "AuthorizationError"
            | "UnauthorizedOperation"
            | "NotAuthorized"
            | "Forbidden"
    )
}

/// Codes that mean "these credentials are not (or no longer) valid".
fn bad_credentials(code: &str) -> bool {
    matches!(
        code,
        "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "InvalidSignatureException"
    )
}

fn throttled(code: &str) -> bool {
    matches!(
        code,
        "Throttling" | "ThrottlingException" | "TooManyRequestsException" | "SlowDown"
    )
}

fn not_found(code: &str, message: &str) -> bool {
    matches!(
        code,
        "ResourceNotFound"
            | "ResourceNotFoundException"
            | "NoSuchKey"
            | "NoSuchBucket"
            | "NotFound"
            | "NoSuchEntity"
    ) || (matches!(code, "ValidationException" | "ValidationError")
        && (message.contains("does not exist")
            || message.contains("Could not find")
            || message.contains("not found")))
}

/// Codes of a service that failed on its side: the same request may work later.
fn unavailable(code: &str) -> bool {
    matches!(
        code,
        "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalFailure"
            | "InternalError"
            | "InternalServerError"
            | "InternalServiceError"
            | "InternalServiceException"
            | "RequestTimeout"
            | "RequestTimeoutException"
    )
}

/// The exit code of a failed call: refused (fix something, then rerun) or transient (rerun).
pub fn exit_for(failure: &Failure) -> Exit {
    match failure {
        Failure::Service { code, .. } if throttled(code) || unavailable(code) => Exit::AwsTransient,
        Failure::Service { code, message }
            if denied(code) || bad_credentials(code) || not_found(code, message) =>
        {
            Exit::AwsRefused
        }
        Failure::Service { code, message }
            if matches!(code.as_str(), "ValidationError" | "ValidationException")
                && message.contains("does not exist") =>
        {
            Exit::AwsRefused
        }
        Failure::Service { .. } | Failure::Other(_) => Exit::Failed,
        Failure::NoCredentials(_) => Exit::AwsRefused,
        Failure::Unreachable(_) | Failure::Timeout => Exit::AwsTransient,
    }
}

/// Whether the failure says the resource does not exist.
pub fn is_not_found(failure: &Failure) -> bool {
    matches!(failure, Failure::Service { code, message } if not_found(code, message))
}

/// The message of a failed call on `resource`. `region` names where a missing stack was looked
/// for.
pub fn explain(call: Call, resource: &str, region: &str, failure: &Failure) -> String {
    let Call { op, .. } = call;
    match failure {
        Failure::Service { code, message }
            if op == "DescribeStacks"
                && matches!(code.as_str(), "ValidationError" | "ValidationException")
                && message.contains("does not exist") =>
        {
            format!(
                "no stack named {resource} in {region}: deploy infra/template.yaml or pass --stack"
            )
        }
        Failure::Service { code, message } if denied(code) => format!(
            "{op} {resource} was refused: {code}: {message}; grant {} to the identity you use (--profile / AWS_PROFILE)",
            call.iam_action()
        ),
        Failure::Service { code, message } if bad_credentials(code) => format!(
            "{op} {resource}: the credentials were refused ({code}: {message}); refresh them (`aws sso login`) or pass --profile"
        ),
        Failure::Service { code, .. } if throttled(code) => {
            format!(
                "{op} {resource}: AWS is throttling the requests ({code}); try again in a minute"
            )
        }
        Failure::Service { code, message } if not_found(code, message) => format!(
            "{op} {resource}: not found ({code}: {message}); `hawkins status` lists what the stack has"
        ),
        Failure::Service { code, message } => format!("{op} {resource} failed: {code}: {message}"),
        Failure::NoCredentials(detail) => format!(
            "{op} {resource}: no AWS credentials ({detail}); pass --profile, set AWS_PROFILE, or run `aws configure` / `aws sso login`"
        ),
        Failure::Unreachable(detail) => format!(
            "{op} {resource}: could not reach AWS ({detail}); check the network, --region and --endpoint-url"
        ),
        Failure::Timeout => format!("{op} {resource}: timed out; try again"),
        Failure::Other(detail) => format!("{op} {resource} failed: {detail}"),
    }
}

/// The innermost cause of an error: the words closest to what happened.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// The whole chain, to look for a cause without showing it.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut current = error;
    while let Some(next) = current.source() {
        out.push_str(": ");
        out.push_str(&next.to_string());
        current = next;
    }
    out
}

/// The facts of an SDK error.
pub fn failure<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let inner = service.err();
        return Failure::Service {
            code: inner.code().unwrap_or("Unknown").to_string(),
            message: inner.message().unwrap_or("no message").to_string(),
        };
    }
    let whole = chain(err);
    // The first line only: some providers list every source they tried, one per line.
    let detail = innermost(err)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches("Attempted:")
        .trim_end_matches(['.', ' '])
        .to_string();
    if whole.to_lowercase().contains("credential") {
        return Failure::NoCredentials(detail);
    }
    match err {
        SdkError::TimeoutError(_) => Failure::Timeout,
        SdkError::DispatchFailure(d) if d.is_timeout() => Failure::Timeout,
        SdkError::DispatchFailure(_) => Failure::Unreachable(detail),
        _ => Failure::Other(detail),
    }
}

/// An SDK error as the one line the CLI prints.
pub fn aws<E, R>(call: Call, resource: &str, region: &str, err: &SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let failure = failure(err);
    exit::coded(
        exit_for(&failure),
        explain(call, resource, region, &failure),
    )
}

/// A [`StoreError`] from the shared adapters (S3 ledger, CloudWatch metrics), in the same words.
pub fn store(error: &StoreError, region: &str) -> anyhow::Error {
    let (op, resource, message, kind) = match error {
        StoreError::Transient {
            op,
            resource,
            message,
        } => (
            *op,
            resource.as_str(),
            message.as_str(),
            Some(Exit::AwsTransient),
        ),
        StoreError::Refused {
            op,
            resource,
            message,
        } => (
            *op,
            resource.as_str(),
            message.as_str(),
            Some(Exit::AwsRefused),
        ),
        StoreError::Other {
            op,
            resource,
            message,
        } => (*op, resource.as_str(), message.as_str(), None),
    };
    let service = match op {
        "GetMetricStatistics" => "cloudwatch",
        "Publish" => "sns",
        _ => "s3",
    };
    // The adapters keep the service's words as `Code: message`.
    let failure = match message.split_once(": ") {
        Some((code, rest)) if !code.contains(' ') => Failure::Service {
            code: code.to_string(),
            message: rest.to_string(),
        },
        _ => Failure::Other(message.to_string()),
    };
    let exit = kind.unwrap_or_else(|| exit_for(&failure));
    exit::coded(
        exit,
        explain(Call { service, op }, resource, region, &failure),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, message: &str) -> Failure {
        Failure::Service {
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn a_missing_stack_says_how_to_get_one() {
        let text = explain(
            cloudformation("DescribeStacks"),
            "hawkins-dev",
            "eu-west-1",
            &service(
                "ValidationError",
                "Stack with id hawkins-dev does not exist",
            ),
        );
        assert_eq!(
            text,
            "no stack named hawkins-dev in eu-west-1: deploy infra/template.yaml or pass --stack"
        );
    }

    #[test]
    fn access_denied_names_the_action_to_grant() {
        let text = explain(
            sagemaker("ListEndpoints"),
            "hawkins-*",
            "eu-west-1",
            &service(
                "AccessDeniedException",
                "User: arn:aws:iam::1:user/x is not authorized",
            ),
        );
        assert!(text.starts_with("ListEndpoints hawkins-* was refused: AccessDeniedException: User: arn:aws:iam::1:user/x is not authorized"), "{text}");
        assert!(text.contains("grant sagemaker:ListEndpoints"), "{text}");
        let listing = explain(
            s3("ListObjectsV2"),
            "s3://b/ledger/",
            "eu-west-1",
            &service("AccessDenied", "Access Denied"),
        );
        assert!(listing.contains("grant s3:ListBucket"), "{listing}");
        assert_eq!(s3("HeadObject").iam_action(), "s3:GetObject");
        assert_eq!(logs("GetLogEvents").iam_action(), "logs:GetLogEvents");
    }

    #[test]
    fn every_message_is_one_line_naming_the_operation_and_resource() {
        let failures = [
            service(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
            service("ThrottlingException", "Rate exceeded"),
            service(
                "ValidationException",
                "Could not find endpoint \"hawkins-x\".",
            ),
            service("ModelError", "Received client error (400)"),
            Failure::NoCredentials("no providers in chain provided credentials".into()),
            Failure::Unreachable("Connection refused (os error 111)".into()),
            Failure::Timeout,
            Failure::Other("something".into()),
        ];
        for f in &failures {
            let text = explain(sagemaker("DescribeEndpoint"), "hawkins-x", "us-east-1", f);
            assert!(!text.contains('\n'), "{text}");
            assert!(text.starts_with("DescribeEndpoint hawkins-x"), "{text}");
        }
        let expired = explain(sagemaker("ListModels"), "m", "r", &failures[0]);
        assert!(expired.contains("aws sso login"), "{expired}");
        let missing = explain(
            sagemaker("DescribeEndpoint"),
            "hawkins-x",
            "r",
            &failures[2],
        );
        assert!(
            missing.contains("not found") && missing.contains("hawkins status"),
            "{missing}"
        );
        let model = explain(sagemaker("InvokeEndpoint"), "e", "r", &failures[3]);
        assert_eq!(
            model,
            "InvokeEndpoint e failed: ModelError: Received client error (400)"
        );
    }

    #[test]
    fn each_failure_has_its_exit_code() {
        let cases = [
            (service("AccessDeniedException", "no"), Exit::AwsRefused),
            (
                service("ExpiredTokenException", "expired"),
                Exit::AwsRefused,
            ),
            (
                service("ValidationError", "Stack with id x does not exist"),
                Exit::AwsRefused,
            ),
            (
                service("ResourceNotFoundException", "gone"),
                Exit::AwsRefused,
            ),
            (Failure::NoCredentials("none".into()), Exit::AwsRefused),
            (
                service("ThrottlingException", "Rate exceeded"),
                Exit::AwsTransient,
            ),
            (service("ServiceUnavailable", "later"), Exit::AwsTransient),
            (Failure::Unreachable("refused".into()), Exit::AwsTransient),
            (Failure::Timeout, Exit::AwsTransient),
            (service("ModelError", "400"), Exit::Failed),
            (Failure::Other("x".into()), Exit::Failed),
        ];
        for (failure, exit) in cases {
            assert_eq!(exit_for(&failure), exit, "{failure:?}");
        }
        let transient = StoreError::Transient {
            op: "GetObject",
            resource: "s3://b/k".into(),
            message: "SlowDown: reduce your request rate".into(),
        };
        assert_eq!(crate::exit::of(&store(&transient, "r")), Exit::AwsTransient);
        let other = StoreError::Other {
            op: "GetObject",
            resource: "s3://b/k".into(),
            message: "AccessDenied: no".into(),
        };
        assert_eq!(crate::exit::of(&store(&other, "r")), Exit::AwsRefused);
    }

    #[test]
    fn store_errors_keep_the_service_code() {
        let error = StoreError::Refused {
            op: "GetObject",
            resource: "s3://b/ledger/training/j.json".into(),
            message: "AccessDenied: Access Denied".into(),
        };
        let text = store(&error, "us-east-1").to_string();
        assert!(
            text.starts_with("GetObject s3://b/ledger/training/j.json was refused: AccessDenied: Access Denied; grant s3:GetObject"),
            "{text}"
        );
        let metrics = StoreError::Refused {
            op: "GetMetricStatistics",
            resource: "Invocations of e/primary".into(),
            message: "AccessDenied: no".into(),
        };
        assert!(
            store(&metrics, "r")
                .to_string()
                .contains("grant cloudwatch:GetMetricStatistics")
        );
    }
}

//! What every function's `main.rs` shares, so that each stays one screen of wiring: the clock,
//! the log set-up, the model config embedded at build, and the error a failed event reports.

use std::fmt::Display;

use lambda_runtime::Diagnostic;

use crate::error::{Retry, error_type};
pub use crate::time::now;

/// The name the embedded config's messages carry (the file as the repository names it).
pub const CONFIG_FILE: &str = "infra/hawkins.toml";

/// Structured logs as the Lambda runtime writes them (JSON when the function's log format is
/// JSON, the level from `AWS_LAMBDA_LOG_LEVEL`).
pub fn init_logs() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// The failure Lambda records for an event: its type says `Retryable` or `NonRetryable`, so a
/// person reading the failed invocation knows at once whether the event will come back, and its
/// message is the error's own words.
pub fn diagnostic<E: Retry + Display>(error: E) -> Diagnostic {
    Diagnostic {
        error_type: error_type(&error).into(),
        error_message: error.to_string(),
    }
}

/// The model config the function was built with, parsed and validated: its built-in config, in
/// force while the stack's config location holds no object (see [`crate::config::live`]). The
/// function's build
/// script (`functions/build.rs`) has already refused an invalid one, so an error here means the
/// binary was built some other way; it stops the function at start with every problem named.
///
/// Use as `hawkins::embedded_config!()` in a function whose `Cargo.toml` names
/// `build = "../build.rs"`.
#[macro_export]
macro_rules! embedded_config {
    () => {
        $crate::config::parse(
            $crate::entry::CONFIG_FILE,
            include_str!(env!("HAWKINS_CONFIG_FILE")),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[test]
    fn a_diagnostic_says_whether_the_event_comes_back() {
        let transient = StoreError::Transient {
            op: "PutObject",
            resource: "datasets/latest.json".into(),
            message: "SlowDown".into(),
        };
        let refused = StoreError::Refused {
            op: "Publish",
            resource: "hawkins-alerts".into(),
            message: "AuthorizationError".into(),
        };
        let retry = diagnostic(transient.clone());
        assert_eq!(retry.error_type, "Retryable");
        assert_eq!(retry.error_message, transient.to_string());
        let refused_diagnostic = diagnostic(refused);
        assert_eq!(refused_diagnostic.error_type, "NonRetryable");
        assert!(
            refused_diagnostic
                .error_message
                .contains("Publish hawkins-alerts was refused")
        );
    }
}

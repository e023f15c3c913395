//! The exit codes of `hawkins`, in one place: what a script may rely on, listed in
//! `hawkins --help`.
//!
//! An error that knows why it happened carries its code ([`Coded`], made with [`coded`]); [`of`]
//! finds it anywhere in an error's chain, and every other error is a failure of the command's own
//! work (1). Clap exits with 2 on a usage error before any command runs.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// The command's own work failed (a file it cannot read, an endpoint that answered nonsense).
    Failed,
    /// The command line was wrong (clap's code), or a required setting such as the region is
    /// missing.
    Usage,
    /// The model config cannot be found or is not valid.
    InvalidConfig,
    /// AWS refused: no or expired credentials, a missing permission, a missing stack or resource.
    AwsRefused,
    /// AWS was throttling, unreachable or timed out: the same command may work in a minute.
    AwsTransient,
    /// `hawkins doctor` found a failing check.
    DoctorFailed,
}

impl Exit {
    pub const ALL: [Exit; 7] = [
        Exit::Success,
        Exit::Failed,
        Exit::Usage,
        Exit::InvalidConfig,
        Exit::AwsRefused,
        Exit::AwsTransient,
        Exit::DoctorFailed,
    ];

    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::InvalidConfig => 3,
            Exit::AwsRefused => 4,
            Exit::AwsTransient => 5,
            Exit::DoctorFailed => 6,
        }
    }

    /// The name in `--json` error documents.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::InvalidConfig => "invalid_config",
            Exit::AwsRefused => "aws_refused",
            Exit::AwsTransient => "aws_transient",
            Exit::DoctorFailed => "doctor_failed",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Failed => "the command's own work failed (see the message)",
            Exit::Usage => "usage: a wrong flag or argument, or no region given",
            Exit::InvalidConfig => {
                "the model config is missing or invalid (`hawkins config check <file>`)"
            }
            Exit::AwsRefused => {
                "AWS refused: credentials, permissions, a missing stack or resource; fix, then rerun"
            }
            Exit::AwsTransient => "AWS throttled, timed out or was unreachable: retry",
            Exit::DoctorFailed => "`hawkins doctor` found a failing check",
        }
    }
}

/// The table at the end of `hawkins --help`.
pub fn help() -> String {
    let mut out = String::from("Exit codes:\n");
    for exit in Exit::ALL {
        out.push_str(&format!("  {}  {}\n", exit.code(), exit.meaning()));
    }
    out.push_str(
        "\nWith --json every command prints one JSON document on standard output (logs and chat: one per line);\na failure prints {\"error\": {\"message\", \"exit\", \"kind\"}}.",
    );
    out
}

/// An error with the code it exits with.
#[derive(Debug)]
pub struct Coded {
    pub exit: Exit,
    pub message: String,
    /// The command already printed its `--json` document (which says what failed).
    pub printed: bool,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

pub fn coded(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        exit,
        message: message.into(),
        printed: false,
    })
}

/// A failure the command has already described in its `--json` document: only the code and the
/// line on standard error are left to give.
pub fn coded_after_output(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        exit,
        message: message.into(),
        printed: true,
    })
}

/// Whether the command printed its own `--json` document before failing.
pub fn printed(error: &anyhow::Error) -> bool {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Coded>())
        .is_some_and(|coded| coded.printed)
}

/// The code an error exits with: the first [`Coded`] in its chain, else [`Exit::Failed`].
pub fn of(error: &anyhow::Error) -> Exit {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<Coded>())
        .map_or(Exit::Failed, |coded| coded.exit)
}

/// The `--json` document of a failure.
pub fn error_json(error: &anyhow::Error) -> serde_json::Value {
    let exit = of(error);
    serde_json::json!({
        "error": {
            "message": format!("{error:#}"),
            "exit": exit.code(),
            "kind": exit.name(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_are_distinct_and_documented() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
        let help = help();
        for exit in Exit::ALL {
            assert!(
                help.contains(&format!("  {}  {}", exit.code(), exit.meaning())),
                "{help}"
            );
        }
    }

    #[test]
    fn a_coded_error_keeps_its_code_under_context() {
        let error = Err::<(), _>(coded(Exit::AwsTransient, "throttled"))
            .context("reading the ledger")
            .unwrap_err();
        assert_eq!(of(&error), Exit::AwsTransient);
        assert_eq!(of(&anyhow::anyhow!("plain")), Exit::Failed);
        let json = error_json(&coded(Exit::InvalidConfig, "bad"));
        assert_eq!(json["error"]["exit"], 3);
        assert_eq!(json["error"]["kind"], "invalid_config");
        assert_eq!(json["error"]["message"], "bad");
        assert!(!printed(&coded(Exit::DoctorFailed, "x")));
        assert!(printed(&coded_after_output(Exit::DoctorFailed, "x")));
    }
}

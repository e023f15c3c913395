//! The local AWS harness that `hawkins local` and the end-to-end tests share. Test tooling only:
//! no function depends on it, and the domain crate (`hawkins`) knows nothing of it.
//!
//! - [`process`]: the moto server, installed into the project's `.venv` when missing, on a free
//!   loopback port, stopped when dropped.
//! - [`stack`]: the pipeline's resources on it (bucket, alert topic with a queue standing in for
//!   the e-mail subscription, train queue) and the SDK adapters the functions use, pointed there.
//! - [`template`] and [`router`]: the rules of `infra/template.yaml`, read from the template and
//!   put on the local bus, each feeding a queue per function.
//! - [`standin`]: SageMaker's side, which the local AWS does not run (jobs finishing, endpoints
//!   coming into service), publishing the state-change events the real service would.
//! - [`deployment`]: what the lifecycle left in SageMaker, read back for summaries and checks.
//! - [`faults`]: a fault-injecting layer between the functions and the local AWS (throttling,
//!   server errors, timeouts, crashes between writes), seeded, for the reliability campaign.

pub mod deployment;
pub mod faults;
pub mod process;
pub mod router;
pub mod stack;
pub mod standin;
pub mod template;

pub use process::{LocalAws, LocalAwsError};
pub use stack::{
    Delivered, LOCAL_ACCOUNT, LOCAL_HOSTING_ROLE, LOCAL_SAGEMAKER_ROLE, LocalError, LocalStack,
};

use std::path::{Path, PathBuf};

/// The workspace root, where `.venv`, the samples and the template are: the first folder at or
/// above the current one that holds the local AWS's requirements, else the folder this crate was
/// built from.
pub fn workspace_root() -> PathBuf {
    if let Ok(mut dir) = std::env::current_dir() {
        loop {
            if dir.join(process::REQUIREMENTS).exists() {
                return dir;
            }
            if !dir.pop() {
                break;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

//! `[storage]`: how long the bucket keeps what can be made again or is no longer used (spot
//! checkpoints, the output of training jobs whose model is not approved or waiting, dataset
//! versions nothing points at), and the S3 price the cost report puts on what it keeps.

use super::reader::{Cx, Tbl};

/// Default days a checkpoint folder is kept after its last write.
pub const DEFAULT_CHECKPOINT_DAYS: u32 = 14;
/// Default days the output of a job without an approved or waiting package is kept.
pub const DEFAULT_UNAPPROVED_OUTPUT_DAYS: u32 = 30;
/// Default days an unreferenced dataset version is kept after it was written.
pub const DEFAULT_DATASET_DAYS: u32 = 90;
/// The longest retention: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// S3 Standard storage, dollars per GB-month: the first 50 TB a month in us-east-1 and
/// eu-west-1, from https://aws.amazon.com/s3/pricing/ (December 2026). Other regions differ by
/// cents; set `usd_per_gb_month` for yours.
pub const DEFAULT_USD_PER_GB_MONTH: f64 = 0.023;

/// `[storage]`, every field optional.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Storage {
    /// Days after its newest object that a `checkpoints/<model>/<version>/` folder is deleted.
    pub checkpoint_days: u32,
    /// Days after its newest object that `training-output/<model>/<job>/` is deleted, unless an
    /// approved or waiting model package's artifact is in it.
    pub unapproved_output_days: u32,
    /// Days after its newest object that `datasets/<version>/` is deleted, unless
    /// `datasets/latest.json` or an approved or waiting package's lineage names it.
    pub dataset_days: u32,
    /// Dollars per GB-month the cost report prices the bucket's bytes at.
    pub usd_per_gb_month: f64,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            checkpoint_days: DEFAULT_CHECKPOINT_DAYS,
            unapproved_output_days: DEFAULT_UNAPPROVED_OUTPUT_DAYS,
            dataset_days: DEFAULT_DATASET_DAYS,
            usd_per_gb_month: DEFAULT_USD_PER_GB_MONTH,
        }
    }
}

const STORAGE_KEYS: &[&str] = &[
    "checkpoint_days",
    "unapproved_output_days",
    "dataset_days",
    "usd_per_gb_month",
];

/// `[storage]`, or the defaults when the file has none.
pub(super) fn read_section(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> Option<Storage> {
    let Some(t) = root.table(cx, "storage") else {
        return (!root.has("storage")).then(Storage::default);
    };
    t.check_keys(cx, STORAGE_KEYS);
    let mut storage = Storage::default();
    let mut ok = true;
    for (key, slot, what) in [
        (
            "checkpoint_days",
            &mut storage.checkpoint_days,
            "days a spot job's checkpoints are kept after their last write",
        ),
        (
            "unapproved_output_days",
            &mut storage.unapproved_output_days,
            "days the output of a job whose model is not approved or waiting is kept",
        ),
        (
            "dataset_days",
            &mut storage.dataset_days,
            "days a dataset version nothing points at is kept",
        ),
    ] {
        match t.bounded(cx, key, 1, i64::from(MAX_RETENTION_DAYS), what) {
            Some(v) => *slot = v.value,
            None if t.has(key) => ok = false,
            None => {}
        }
    }
    if let Some(price) = t.float(cx, "usd_per_gb_month") {
        if price.value.is_finite() && price.value >= 0.0 {
            storage.usd_per_gb_month = price.value;
        } else {
            cx.error(
                &price.at,
                format!(
                    "must be 0 or more (dollars per GB-month of S3 storage), got {}",
                    price.value
                ),
            );
            ok = false;
        }
    } else if t.has("usd_per_gb_month") {
        ok = false;
    }
    ok.then_some(storage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

    #[test]
    fn storage_has_defaults_and_each_field_is_checked() {
        assert_eq!(ok(BASE).storage, Storage::default());
        let set = ok(&format!(
            "{BASE}[storage]\ncheckpoint_days = 3\nusd_per_gb_month = 0.025\n"
        ));
        assert_eq!(set.storage.checkpoint_days, 3);
        assert_eq!(set.storage.usd_per_gb_month, 0.025);
        assert_eq!(set.storage.dataset_days, DEFAULT_DATASET_DAYS);

        let text = format!("{BASE}[storage]\ndataset_days = 0\n");
        only(
            &text,
            "dataset_days",
            "storage.dataset_days",
            "must be between 1 and 3650",
        );
        let text = format!("{BASE}[storage]\nusd_per_gb_month = -1.0\n");
        only(
            &text,
            "usd_per_gb_month",
            "storage.usd_per_gb_month",
            "must be 0 or more",
        );
        let text = format!("{BASE}[storage]\ncheckpoints_days = 3\n");
        only(
            &text,
            "checkpoints_days",
            "storage.checkpoints_days",
            "checkpoint_days",
        );
    }
}

//! The bucket's storage: what expires, and what the rest costs.
//!
//! Three kinds of objects can be made again or are no longer used, and expire per `[storage]`
//! ([`crate::config::Storage`]):
//! - `checkpoints/<model>/<version>-<config>/`: a spot job's checkpoints, kept `checkpoint_days` after the
//!   folder's newest write (a running job rewrites them, so they are never old);
//! - `training-output/<model>/<job>/`: a job's output, kept `unapproved_output_days` after its
//!   newest write unless the artifact of an approved or waiting model package is in it;
//! - `datasets/<version>/`: a corpus version's datasets, kept `dataset_days` after their newest
//!   write unless `datasets/latest.json` names the version or an approved or waiting package's
//!   lineage does.
//!
//! A folder expires whole or not at all (a checkpoint set or a dataset version half deleted
//! would be worse than either). Nothing else is ever deleted: not `raw/` (the uploads are the
//! source of everything), not `processed/`, the ledger, reports or models. An object whose age is
//! unknown keeps its folder. [`expired`] decides, a pure function of the listing, the protected
//! sets and the config; the cost run ([`crate::costs`]) lists, asks the registry, deletes and
//! prices what stays ([`cost`]).
//!
//! Why a sweep in the cost run rather than S3 lifecycle rules alone: the rules cannot ask the
//! registry which artifacts a package uses or read which dataset version is the latest, and a
//! rule on age alone would delete the artifact an endpoint serves. The rules in the template only
//! remove the older versions the bucket's versioning keeps after the sweep's deletions.
//!
//! Idempotent: the same bucket gives the same deletions; deleting a key that is already gone
//! succeeds, so a replayed run or two runs at once delete nothing twice and fail on nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use serde::Serialize;
use tracing::info;

use crate::config::Storage;
use crate::error::StoreError;
use crate::manifest::CorpusManifest;
use crate::store::{MemStore, ObjectStore};
use crate::time::{DAY, Date};

pub const CHECKPOINTS_PREFIX: &str = "checkpoints/";
pub const TRAINING_OUTPUT_PREFIX: &str = "training-output/";

/// The prefixes the cost report prices on their own; everything else is `other`.
pub const PRICED_PREFIXES: [&str; 5] = [
    "raw/",
    "processed/",
    crate::manifest::DATASETS_PREFIX,
    CHECKPOINTS_PREFIX,
    TRAINING_OUTPUT_PREFIX,
];

/// One object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Seconds since the epoch.
    pub last_modified: Option<i64>,
}

/// The bucket as the storage sweep needs it: a listing with sizes and ages, and deletion.
pub trait Inventory: Sync {
    /// Every object under `prefix` (`""`: the whole bucket), sorted by key.
    fn list_sized(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<Listed>, StoreError>> + Send;
    /// Deletes `keys`; a key that is already gone is no error.
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What the model registry says is in use: the packages that are approved or wait for a person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LivePackage {
    /// `s3://<bucket>/training-output/<model>/<job>/output/model.tar.gz`
    pub model_data_url: String,
    /// The corpus version of its lineage, when it names one.
    pub corpus_version: Option<String>,
}

/// The registry, as the storage sweep asks it.
pub trait PackageLineage: Sync {
    /// The approved and waiting (PendingManualApproval) packages of every group whose name
    /// starts with `group_prefix` (`<project>-`: the groups of models no longer in the config
    /// too).
    fn live_packages(
        &self,
        group_prefix: &str,
    ) -> impl Future<Output = Result<Vec<LivePackage>, StoreError>> + Send;
}

/// What must stay whatever its age.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Protected {
    /// `training-output/<model>/<job>/` folders holding a live package's artifact.
    pub output_folders: BTreeSet<String>,
    /// Dataset versions (folder names under `datasets/`) that must stay.
    pub dataset_versions: BTreeSet<String>,
    /// Set when the latest dataset version is unknown (no readable `datasets/latest.json`): no
    /// dataset version is deleted then.
    pub keep_all_datasets: bool,
}

impl Protected {
    /// The protected sets from the live packages and the latest dataset version (`None`: unknown).
    pub fn new(packages: &[LivePackage], latest_dataset: Option<&str>) -> Protected {
        let mut protected = Protected {
            keep_all_datasets: latest_dataset.is_none(),
            ..Protected::default()
        };
        protected
            .dataset_versions
            .extend(latest_dataset.map(str::to_string));
        for package in packages {
            let key = package
                .model_data_url
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
                .map_or(package.model_data_url.as_str(), |(_, key)| key);
            if let Some(folder) = unit(key, TRAINING_OUTPUT_PREFIX) {
                protected.output_folders.insert(folder);
            }
            if let Some(version) = package.corpus_version.as_ref().filter(|v| !v.is_empty()) {
                protected.dataset_versions.insert(version.clone());
            }
        }
        protected
    }
}

/// The folder `<prefix><a>/<b>/` a key under `prefix` belongs to (checkpoints and training
/// output: model then version or job); `None` for a key with fewer levels.
fn unit(key: &str, prefix: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let mut parts = rest.splitn(3, '/');
    let (a, b, tail) = (parts.next()?, parts.next()?, parts.next()?);
    (!a.is_empty() && !b.is_empty() && !tail.is_empty()).then(|| format!("{prefix}{a}/{b}/"))
}

/// The dataset version folder `datasets/<version>/` of a key, `None` for `datasets/latest.json`
/// and other keys directly under `datasets/`.
fn dataset_version(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(crate::manifest::DATASETS_PREFIX)?;
    let (version, tail) = rest.split_once('/')?;
    (!version.is_empty() && !tail.is_empty()).then_some(version)
}

/// A folder that may expire: its retention in days and whether it must stay.
fn folder_of(key: &str, protected: &Protected, storage: &Storage) -> Option<(String, u32, bool)> {
    if let Some(folder) = unit(key, CHECKPOINTS_PREFIX) {
        return Some((folder, storage.checkpoint_days, false));
    }
    if let Some(folder) = unit(key, TRAINING_OUTPUT_PREFIX) {
        let keep = protected.output_folders.contains(&folder);
        return Some((folder, storage.unapproved_output_days, keep));
    }
    let version = dataset_version(key)?;
    let keep = protected.keep_all_datasets || protected.dataset_versions.contains(version);
    Some((
        format!("{}{version}/", crate::manifest::DATASETS_PREFIX),
        storage.dataset_days,
        keep,
    ))
}

/// The keys to delete at `now`: every object of each folder (see the module's doc) that is not
/// protected and whose newest object is at least its retention old. Sorted.
pub fn expired(
    listing: &[Listed],
    protected: &Protected,
    storage: &Storage,
    now: i64,
) -> Vec<String> {
    let mut folders: BTreeMap<String, Folder<'_>> = BTreeMap::new();
    for object in listing {
        let Some((name, days, keep)) = folder_of(&object.key, protected, storage) else {
            continue;
        };
        let folder = folders.entry(name).or_insert(Folder {
            days,
            keep,
            newest: Some(i64::MIN),
            keys: Vec::new(),
        });
        folder.newest = match (folder.newest, object.last_modified) {
            (Some(newest), Some(at)) => Some(newest.max(at)),
            _ => None,
        };
        folder.keys.push(&object.key);
    }
    let mut keys: Vec<String> = folders
        .into_values()
        .filter(|f| {
            !f.keep
                && f.newest
                    .is_some_and(|at| now - at >= i64::from(f.days) * DAY)
        })
        .flat_map(|f| f.keys.into_iter().map(str::to_string))
        .collect();
    keys.sort();
    keys
}

/// A folder of the listing, as [`expired`] sees it.
struct Folder<'a> {
    /// Retention in days.
    days: u32,
    /// Protected: never deleted.
    keep: bool,
    /// Its newest object's write, or `None` when an object's age is unknown.
    newest: Option<i64>,
    keys: Vec<&'a str>,
}

/// One priced prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrefixCost {
    /// `raw/`, `processed/`, ... or `other`.
    pub prefix: String,
    pub objects: u64,
    pub bytes: u64,
    pub usd_per_month: f64,
    pub usd_per_day: f64,
}

/// The bucket's storage and what it costs, as the cost report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageCost {
    pub usd_per_gb_month: f64,
    pub prefixes: Vec<PrefixCost>,
    pub bytes: u64,
    pub usd_per_month: f64,
    /// The day's share of the month's cost: what a day of keeping the bucket as it is costs.
    pub usd_per_day: f64,
    /// Objects the sweep deleted in this run (before the sizes were taken).
    pub deleted: u64,
}

/// Bytes in a GB as S3 bills them (GiB).
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

fn round_usd(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// The cost of keeping `listing` (after the sweep's deletions, which are left out of it) at
/// `usd_per_gb_month`: per priced prefix and in all. S3 prorates a GB-month over the hours of the
/// month, so a day costs the month's price over `days_in_month`.
pub fn cost(
    listing: &[Listed],
    deleted: &[String],
    usd_per_gb_month: f64,
    days_in_month: u32,
) -> StorageCost {
    let days = f64::from(days_in_month.max(1));
    let gone: BTreeSet<&str> = deleted.iter().map(String::as_str).collect();
    let mut sums: BTreeMap<&str, (u64, u64)> = PRICED_PREFIXES
        .iter()
        .copied()
        .chain(["other"])
        .map(|p| (p, (0, 0)))
        .collect();
    for object in listing.iter().filter(|o| !gone.contains(o.key.as_str())) {
        let prefix = PRICED_PREFIXES
            .iter()
            .copied()
            .find(|p| object.key.starts_with(p))
            .unwrap_or("other");
        let entry = sums.entry(prefix).or_default();
        entry.0 += 1;
        entry.1 += object.size;
    }
    let price = |bytes: u64| bytes as f64 / GB * usd_per_gb_month;
    let prefixes: Vec<PrefixCost> = PRICED_PREFIXES
        .iter()
        .copied()
        .chain(["other"])
        .map(|p| {
            let (objects, bytes) = sums.get(p).copied().unwrap_or_default();
            PrefixCost {
                prefix: p.to_string(),
                objects,
                bytes,
                usd_per_month: round_usd(price(bytes)),
                usd_per_day: round_usd(price(bytes) / days),
            }
        })
        .collect();
    let bytes: u64 = prefixes.iter().map(|p| p.bytes).sum();
    StorageCost {
        usd_per_gb_month,
        bytes,
        usd_per_month: round_usd(price(bytes)),
        usd_per_day: round_usd(price(bytes) / days),
        deleted: deleted.len() as u64,
        prefixes,
    }
}

/// The sweep's outcome: what it deleted, and the storage that stays, priced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Swept {
    pub deleted: Vec<String>,
    pub cost: StorageCost,
}

/// Sweeps the bucket at `now`: asks the registry what is live (`group_prefix`: the project's
/// package groups) and reads `datasets/latest.json` first, so that a failure there deletes
/// nothing; then lists the bucket, deletes what [`expired`] chooses and prices the rest.
pub async fn sweep<B, L>(
    bucket: &B,
    lineage: &L,
    group_prefix: &str,
    config: &Storage,
    now: i64,
) -> Result<Swept, StoreError>
where
    B: Inventory + ObjectStore,
    L: PackageLineage,
{
    let live = lineage.live_packages(group_prefix).await?;
    let latest = bucket
        .get(crate::manifest::LATEST_KEY)
        .await?
        .and_then(|o| serde_json::from_slice::<CorpusManifest>(&o.bytes).ok())
        .map(|m| m.version);
    let protected = Protected::new(&live, latest.as_deref());
    let listing = bucket.list_sized("").await?;
    let deleted = expired(&listing, &protected, config, now);
    if !deleted.is_empty() {
        bucket.delete(&deleted).await?;
        info!(objects = deleted.len(), "expired objects deleted");
    }
    let cost = cost(
        &listing,
        &deleted,
        config.usd_per_gb_month,
        Date::of(now).days_in_month(),
    );
    Ok(Swept { deleted, cost })
}

impl Inventory for MemStore {
    async fn list_sized(&self, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        let mut out = Vec::new();
        for key in self.list(prefix).await? {
            if let Some(head) = self.head(&key).await? {
                out.push(Listed {
                    key,
                    size: head.size.unwrap_or(0),
                    last_modified: head.last_modified,
                });
            }
        }
        Ok(out)
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            self.remove(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn object(key: &str, days_old: i64) -> Listed {
        Listed {
            key: key.into(),
            size: 1024,
            last_modified: Some(NOW - days_old * DAY),
        }
    }

    fn storage() -> Storage {
        Storage {
            checkpoint_days: 7,
            unapproved_output_days: 30,
            dataset_days: 90,
            usd_per_gb_month: 0.023,
        }
    }

    fn live(job: &str, corpus: &str) -> LivePackage {
        LivePackage {
            model_data_url: format!(
                "s3://hawkins-pipeline/training-output/chatbot-eleven/{job}/output/model.tar.gz"
            ),
            corpus_version: Some(corpus.into()),
        }
    }

    #[test]
    fn old_folders_expire_whole_and_protected_ones_stay() {
        let listing = [
            object("raw/S01E01.srt", 900),
            object("processed/subtitles/S01E01.jsonl", 900),
            object("checkpoints/chatbot-eleven/v1/step-100.pt", 8),
            object("checkpoints/chatbot-eleven/v1/step-200.pt", 7),
            object("checkpoints/chatbot-eleven/v2/step-100.pt", 30),
            object("checkpoints/chatbot-eleven/v2/step-900.pt", 1),
            object(
                "training-output/chatbot-eleven/job-old/output/model.tar.gz",
                40,
            ),
            object(
                "training-output/chatbot-eleven/job-live/output/model.tar.gz",
                400,
            ),
            object(
                "training-output/chatbot-eleven/job-new/output/model.tar.gz",
                29,
            ),
            object("datasets/latest.json", 400),
            object("datasets/v-old/manifest.json", 100),
            object("datasets/v-old/themes/batches.jsonl", 100),
            object("datasets/v-latest/manifest.json", 400),
            object("datasets/v-packaged/manifest.json", 400),
            object("datasets/v-recent/manifest.json", 10),
            object("models/chatbot-eleven/job-old/metrics.json", 400),
        ];
        let protected = Protected::new(&[live("job-live", "v-packaged")], Some("v-latest"));
        assert_eq!(
            expired(&listing, &protected, &storage(), NOW),
            [
                "checkpoints/chatbot-eleven/v1/step-100.pt",
                "checkpoints/chatbot-eleven/v1/step-200.pt",
                "datasets/v-old/manifest.json",
                "datasets/v-old/themes/batches.jsonl",
                "training-output/chatbot-eleven/job-old/output/model.tar.gz",
            ]
        );
    }

    #[test]
    fn unknown_ages_and_an_unknown_latest_version_keep_everything_they_touch() {
        let mut undated = object("checkpoints/m/v/b.pt", 0);
        undated.last_modified = None;
        let listing = [
            object("checkpoints/m/v/a.pt", 100),
            undated,
            object("datasets/v-old/manifest.json", 1000),
        ];
        let protected = Protected::new(&[], None);
        assert!(expired(&listing, &protected, &storage(), NOW).is_empty());
    }

    #[test]
    fn the_cost_is_per_prefix_without_what_was_deleted() {
        let gib = 1024 * 1024 * 1024;
        let listing = [
            Listed {
                key: "raw/a.srt".into(),
                size: 31 * gib,
                last_modified: None,
            },
            Listed {
                key: "checkpoints/m/v/a.pt".into(),
                size: gib,
                last_modified: None,
            },
            Listed {
                key: "reports/costs/2026-12-01.json".into(),
                size: gib,
                last_modified: None,
            },
        ];
        let cost = cost(&listing, &["checkpoints/m/v/a.pt".into()], 0.023, 31);
        assert_eq!(cost.deleted, 1);
        assert_eq!(cost.bytes, 32 * gib);
        let raw = &cost.prefixes[0];
        assert_eq!((raw.prefix.as_str(), raw.objects), ("raw/", 1));
        assert_eq!(raw.usd_per_month, 0.713);
        assert_eq!(raw.usd_per_day, 0.023);
        let checkpoints = cost.prefixes.iter().find(|p| p.prefix == "checkpoints/");
        assert_eq!(checkpoints.map(|p| p.bytes), Some(0));
        assert_eq!(cost.prefixes.last().map(|p| p.bytes), Some(gib));
        assert_eq!(cost.usd_per_month, 0.736);
    }

    #[tokio::test]
    async fn the_sweep_asks_the_registry_first_and_deletes_once() {
        use crate::fakes::FakeRegistry;
        let bucket = MemStore::new();
        let manifest = |version: &str| {
            serde_json::json!({"version": version, "version_sha256": "", "cast": "builtin",
                "episodes": [], "sources": [], "datasets": []})
            .to_string()
        };
        for (key, body) in [
            ("datasets/latest.json", manifest("v-new")),
            ("datasets/v-new/manifest.json", manifest("v-new")),
            ("datasets/v-old/manifest.json", manifest("v-old")),
            ("checkpoints/m/v-old/a.pt", "x".repeat(10)),
            ("raw/S01E01.srt", "y".repeat(20)),
        ] {
            bucket.insert(key, body.as_bytes());
            bucket.set_last_modified(key, NOW - 200 * DAY);
        }
        let registry = FakeRegistry::default();
        registry
            .faults
            .fail_next(crate::fakes::throttled("ListModelPackages"));
        let failed = sweep(&bucket, &registry, "hawkins-", &storage(), NOW).await;
        assert!(failed.is_err());
        assert_eq!(
            bucket.snapshot().len(),
            5,
            "nothing is deleted without the registry"
        );

        let swept = sweep(&bucket, &registry, "hawkins-", &storage(), NOW)
            .await
            .expect("swept");
        assert_eq!(
            swept.deleted,
            ["checkpoints/m/v-old/a.pt", "datasets/v-old/manifest.json"]
        );
        assert!(
            bucket
                .snapshot()
                .contains_key("datasets/v-new/manifest.json")
        );
        assert!(bucket.snapshot().contains_key("datasets/latest.json"));
        assert_eq!(
            swept.cost.prefixes[0].bytes, 20,
            "raw/ is priced, never deleted"
        );
        let again = sweep(&bucket, &registry, "hawkins-", &storage(), NOW)
            .await
            .expect("swept");
        assert!(again.deleted.is_empty());
    }

    fn any_key() -> impl Strategy<Value = String> {
        let prefix = prop_oneof![
            Just("raw/"),
            Just("processed/"),
            Just("checkpoints/"),
            Just("training-output/"),
            Just("datasets/"),
            Just("ledger/"),
            Just("models/"),
        ];
        (prefix, "[ab]{1}", "[xy]{1}", "(/[a-c]{1,2}){0,2}")
            .prop_map(|(p, a, b, tail)| format!("{p}{a}/{b}{tail}"))
    }

    proptest! {
        /// Whatever the bucket holds: nothing outside the three prefixes is deleted, nothing
        /// protected is, nothing younger than its retention is, and a folder goes whole or not
        /// at all. Deleting what was chosen and deciding again chooses nothing more.
        #[test]
        fn the_sweep_never_deletes_what_it_must_keep(
            objects in proptest::collection::vec((any_key(), 0i64..200, any::<bool>()), 0..40),
            live_job in "[ab]{1}",
            latest in "[ab]{1}",
        ) {
            let listing: Vec<Listed> = objects
                .iter()
                .map(|(key, days, dated)| Listed {
                    key: key.clone(),
                    size: 1,
                    last_modified: dated.then_some(NOW - days * DAY),
                })
                .collect();
            let package = LivePackage {
                model_data_url: format!("s3://b/training-output/a/{live_job}/output/model.tar.gz"),
                corpus_version: None,
            };
            let protected = Protected::new(&[package], Some(&latest));
            let storage = storage();
            let gone = expired(&listing, &protected, &storage, NOW);
            for key in &gone {
                let (folder, days, keep) = folder_of(key, &protected, &storage)
                    .ok_or_else(|| TestCaseError::fail(format!("{key} is not sweepable")))?;
                prop_assert!(!keep, "{key} is protected");
                prop_assert!(!key.starts_with("raw/") && !key.starts_with("ledger/"));
                for other in listing.iter().filter(|o| o.key.starts_with(&folder)) {
                    prop_assert!(gone.contains(&other.key), "{folder} went in part");
                    let age = other.last_modified.map(|at| NOW - at);
                    prop_assert!(age.is_some_and(|a| a >= i64::from(days) * DAY), "{} is too young", other.key);
                }
            }
            let left: Vec<Listed> = listing.into_iter().filter(|o| !gone.contains(&o.key)).collect();
            prop_assert!(expired(&left, &protected, &storage, NOW).is_empty());
        }
    }
}

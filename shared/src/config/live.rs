//! The model config in force: the object at the stack's config location (by default
//! `s3://<pipeline bucket>/config/hawkins.toml`, `hawkins config push` writes it), or the config
//! built into the function when there is no such object.
//!
//! A function builds one [`LiveConfig`] at start and asks it for the config at each invocation
//! ([`LiveConfig::current`]). The first invocation reads the object; later ones look again when the
//! last look is [`LiveSettings::refresh_seconds`] old. Looking is one HeadObject: its revision
//! (version id, or ETag) is compared with the one read last, and only a new revision is fetched
//! (GetObject) and parsed. What a look finds is decided by [`step`], a pure function:
//! - no object: the built-in config;
//! - the revision read last: nothing changes;
//! - a new revision that parses and validates (the same [`super::parse`] as `hawkins config
//!   check`): it replaces the config;
//! - a new revision that does not: the config in force stays (the last good object, or the
//!   built-in config when none was read yet) and one alert lists every problem.
//!
//! Why looking is idempotent: the state is a function of the object's revision, so a look that
//! finds the revision it read last changes nothing, and the alert about a bad revision carries
//! that revision in its id and goes through [`crate::store::send_once`]: however many
//! invocations, containers or functions meet the revision, one message goes out.
//!
//! Failures: a look that cannot reach the object fails the invocation when no look has succeeded
//! yet (a cold container must not act on the built-in config while a pushed one may exist: the
//! event comes back); after that it keeps the config in force and looks again at the next
//! invocation. An alert that cannot be sent is tried again at the next look.
//!
//! Known limit: a container that starts while the object is invalid has no earlier object to
//! keep, so it runs on the built-in config until a valid object is pushed (the alert says so).

use std::fmt;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::{Config, ConfigError, ConfigErrors, parse};
use crate::error::{Retry, StoreError};
use crate::store::{Alert, Notifier, ObjectStore, Severity};

/// The environment variable naming the config object (`s3://bucket/key`); the stack sets it to
/// its `ConfigLocation` parameter or to the pipeline bucket's [`CONFIG_KEY`].
pub const CONFIG_URI_ENV: &str = "HAWKINS_CONFIG_URI";
/// The environment variable with the seconds between two looks at the object (default
/// [`DEFAULT_REFRESH_SECONDS`]; 0 looks at every invocation).
pub const REFRESH_ENV: &str = "HAWKINS_CONFIG_REFRESH_SECONDS";
/// Where the config lives in the pipeline bucket unless the stack names another place.
pub const CONFIG_KEY: &str = "config/hawkins.toml";
/// Seconds between two looks. Each look is one HeadObject (a GET-class request, $0.0004 per
/// thousand): a warm container looking every 10 s makes at most 8,640 a day, a fraction of a
/// cent, and a pushed config is in force everywhere within 10 s of the push.
pub const DEFAULT_REFRESH_SECONDS: u32 = 10;
/// The longest interval the environment may ask for.
pub const MAX_REFRESH_SECONDS: u32 = 3600;
/// The alert's kind (an SNS attribute).
pub const ALERT_KIND: &str = "config_invalid";

/// An S3 object holding a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    pub bucket: String,
    pub key: String,
}

impl ConfigLocation {
    /// The pipeline bucket's [`CONFIG_KEY`].
    pub fn in_bucket(bucket: &str) -> Self {
        ConfigLocation {
            bucket: bucket.to_string(),
            key: CONFIG_KEY.to_string(),
        }
    }

    /// Reads `s3://bucket/key`.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let refused = || format!("'{uri}' is not an S3 object URI (s3://bucket/key)");
        let rest = uri.trim().strip_prefix("s3://").ok_or_else(refused)?;
        let (bucket, key) = rest.split_once('/').ok_or_else(refused)?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok || key.is_empty() || key.ends_with('/') {
            return Err(refused());
        }
        Ok(ConfigLocation {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// `s3://bucket/key`.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

impl fmt::Display for ConfigLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Where a function looks for its config, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSettings {
    pub location: ConfigLocation,
    pub refresh_seconds: u32,
}

impl LiveSettings {
    /// From the environment ([`CONFIG_URI_ENV`], [`REFRESH_ENV`]); without a URI, the pipeline
    /// bucket's [`CONFIG_KEY`]. `env` is `std::env::var(..).ok()` in a function.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, bucket: &str) -> Result<Self, String> {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let location = match set(CONFIG_URI_ENV) {
            Some(uri) => {
                ConfigLocation::parse(&uri).map_err(|e| format!("{CONFIG_URI_ENV}: {e}"))?
            }
            None => ConfigLocation::in_bucket(bucket),
        };
        let refresh_seconds = match set(REFRESH_ENV) {
            None => DEFAULT_REFRESH_SECONDS,
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|s| *s <= MAX_REFRESH_SECONDS)
                .ok_or_else(|| {
                    format!("{REFRESH_ENV}='{text}' is not a number of seconds from 0 to {MAX_REFRESH_SECONDS}")
                })?,
        };
        Ok(LiveSettings {
            location,
            refresh_seconds,
        })
    }
}

/// Where the config in force came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Source {
    /// The config the function was built with.
    BuiltIn,
    /// A revision of the object at the config location.
    Object { revision: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn => write!(
                f,
                "the config built into the functions (infra/hawkins.toml)"
            ),
            Source::Object { revision } => {
                write!(f, "the config of revision {revision}, pushed earlier")
            }
        }
    }
}

/// The config in force and what it was decided from.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigState {
    pub config: Arc<Config>,
    pub source: Source,
    /// The revision of the object read last, valid or not; `None` when there was no object. A
    /// look that finds this revision again reads nothing.
    pub seen: Option<String>,
}

impl ConfigState {
    /// The built-in config, before any look.
    pub fn built_in(config: Arc<Config>) -> Self {
        ConfigState {
            config,
            source: Source::BuiltIn,
            seen: None,
        }
    }
}

/// What a look found at the location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found<'a> {
    /// No object.
    Missing,
    /// The object's revision and bytes.
    Object { revision: &'a str, bytes: &'a [u8] },
}

/// What a look changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Nothing: the revision read last, or still no object.
    Same,
    /// A new valid revision is in force.
    Loaded { revision: String },
    /// The object is gone: the built-in config is in force.
    BuiltIn,
    /// A new revision was refused; the config in force stays.
    Refused {
        revision: String,
        errors: ConfigErrors,
    },
}

/// A look's decision: the next state and the alert to send once.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub state: ConfigState,
    pub change: Change,
    pub alert: Option<Alert>,
}

/// Whether a look that found `revision` at the location must fetch the object.
pub fn must_fetch(state: &ConfigState, revision: &str) -> bool {
    state.seen.as_deref() != Some(revision)
}

/// Decides what a look means, given the state before it and the built-in config.
pub fn step(
    current: &ConfigState,
    built_in: &Arc<Config>,
    found: Found<'_>,
    location: &ConfigLocation,
) -> Step {
    let same = || Step {
        state: current.clone(),
        change: Change::Same,
        alert: None,
    };
    match found {
        Found::Missing if current.source == Source::BuiltIn && current.seen.is_none() => same(),
        Found::Missing => Step {
            state: ConfigState::built_in(Arc::clone(built_in)),
            change: Change::BuiltIn,
            alert: None,
        },
        Found::Object { revision, .. } if !must_fetch(current, revision) => same(),
        Found::Object { revision, bytes } => match read(location, bytes) {
            Ok(config) => Step {
                state: ConfigState {
                    config: Arc::new(config),
                    source: Source::Object {
                        revision: revision.to_string(),
                    },
                    seen: Some(revision.to_string()),
                },
                change: Change::Loaded {
                    revision: revision.to_string(),
                },
                alert: None,
            },
            Err(errors) => Step {
                alert: Some(invalid_alert(location, revision, &errors, &current.source)),
                state: ConfigState {
                    seen: Some(revision.to_string()),
                    ..current.clone()
                },
                change: Change::Refused {
                    revision: revision.to_string(),
                    errors,
                },
            },
        },
    }
}

/// The object's text, parsed and validated; the messages are labelled with its URI.
fn read(location: &ConfigLocation, bytes: &[u8]) -> Result<Config, ConfigErrors> {
    let file = location.uri();
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(&file, text),
        Err(e) => Err(ConfigErrors {
            file,
            errors: vec![ConfigError {
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("is not UTF-8 text ({e})"),
            }],
        }),
    }
}

/// The alert about a revision that was not applied: every problem, and what stays in force.
pub fn invalid_alert(
    location: &ConfigLocation,
    revision: &str,
    errors: &ConfigErrors,
    kept: &Source,
) -> Alert {
    let count = errors.errors.len();
    let plural = if count == 1 { "" } else { "s" };
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("location".to_string(), location.uri());
    attributes.insert("revision".to_string(), revision.to_string());
    Alert {
        kind: ALERT_KIND.to_string(),
        severity: Severity::Warning,
        subject: format!("Hawkins: the model config at {location} is not valid")
            .chars()
            .take(100)
            .collect(),
        body: format!(
            "The model config at {location} (revision {revision}) has {count} problem{plural}, \
             so it was not applied. The functions keep using {kept}.\n\n\
             {errors}\n\n\
             Next steps:\n\
             - Check the file: hawkins config check <file>\n\
             - Fix it and push it again: hawkins config push <file> (it refuses a file with \
             problems, so nothing invalid reaches the bucket).\n\
             This alert is sent once for this revision of the object.\n"
        ),
        attributes,
        id: format!("config-invalid-{revision}"),
    }
}

/// A look at the config location that failed.
#[derive(Debug, thiserror::Error)]
#[error("the model config at {location} could not be read: {source}")]
pub struct ConfigReadError {
    pub location: String,
    #[source]
    pub source: StoreError,
}

impl Retry for ConfigReadError {
    fn retryable(&self) -> bool {
        self.source.retryable()
    }
}

/// What the function holds between invocations.
struct Held {
    state: ConfigState,
    /// When the last look succeeded (seconds since the epoch); `None` before the first.
    looked_at: Option<i64>,
}

/// The config in force for one function container: see the module's documentation.
pub struct LiveConfig<'a, C, S, N> {
    /// The bucket the config lives in.
    source: &'a C,
    /// The pipeline bucket: where the alert's marker goes.
    store: &'a S,
    notifier: &'a N,
    settings: LiveSettings,
    built_in: Arc<Config>,
    held: Mutex<Held>,
}

impl<'a, C, S, N> LiveConfig<'a, C, S, N>
where
    C: ObjectStore,
    S: ObjectStore,
    N: Notifier,
{
    /// Starts on `built_in`; the first [`LiveConfig::current`] looks at the location.
    pub fn new(
        source: &'a C,
        store: &'a S,
        notifier: &'a N,
        settings: LiveSettings,
        built_in: Config,
    ) -> Self {
        let built_in = Arc::new(built_in);
        LiveConfig {
            source,
            store,
            notifier,
            settings,
            held: Mutex::new(Held {
                state: ConfigState::built_in(Arc::clone(&built_in)),
                looked_at: None,
            }),
            built_in,
        }
    }

    pub fn settings(&self) -> &LiveSettings {
        &self.settings
    }

    /// The state as it is, without looking.
    pub fn state(&self) -> ConfigState {
        self.lock().state.clone()
    }

    /// The config to use for an invocation at `now` (seconds since the epoch): looks at the
    /// location first when the last look is old enough (or there was none).
    pub async fn current(&self, now: i64) -> Result<Arc<Config>, ConfigReadError> {
        let due = {
            let held = self.lock();
            held.looked_at
                .is_none_or(|at| now.saturating_sub(at) >= i64::from(self.settings.refresh_seconds))
        };
        if due {
            self.look(now).await?;
        }
        Ok(Arc::clone(&self.lock().state.config))
    }

    /// Looks at the location now and applies what it finds; what changed.
    pub async fn look(&self, now: i64) -> Result<Change, ConfigReadError> {
        let (current, first) = {
            let held = self.lock();
            (held.state.clone(), held.looked_at.is_none())
        };
        let found = match self.fetch(&current).await {
            Ok(found) => found,
            Err(source) if !first => {
                tracing::warn!(location = %self.settings.location, error = %source, "the model config could not be read: the config in force stays, and is looked at again next time");
                return Ok(Change::Same);
            }
            Err(source) => {
                return Err(ConfigReadError {
                    location: self.settings.location.uri(),
                    source,
                });
            }
        };
        let seen_before = current.seen.clone();
        let step = match &found {
            Fetched::Same => Step {
                state: current,
                change: Change::Same,
                alert: None,
            },
            Fetched::Missing => step(
                &current,
                &self.built_in,
                Found::Missing,
                &self.settings.location,
            ),
            Fetched::Object { revision, bytes } => step(
                &current,
                &self.built_in,
                Found::Object { revision, bytes },
                &self.settings.location,
            ),
        };
        let mut next = step.state;
        if let Some(alert) = &step.alert {
            let marker = crate::lifecycle::sent_marker(&alert.id);
            if let Err(error) =
                crate::store::send_once(self.store, self.notifier, alert, &marker, None).await
            {
                // The revision is not marked as seen, so the next look reads it and sends again.
                tracing::error!(%error, alert = %alert.id, "the alert about an invalid model config could not be sent: tried again at the next look");
                next.seen = seen_before;
            }
        }
        match &step.change {
            Change::Same => {}
            Change::Loaded { revision } => {
                tracing::info!(location = %self.settings.location, revision, models = next.config.models.len(), "model config loaded")
            }
            Change::BuiltIn => {
                tracing::info!(location = %self.settings.location, "no model config object: the built-in config is in force")
            }
            Change::Refused { revision, errors } => {
                tracing::warn!(location = %self.settings.location, revision, problems = errors.errors.len(), kept = %next.source, "model config refused: the config in force stays")
            }
        }
        let mut held = self.lock();
        held.state = next;
        held.looked_at = Some(now);
        Ok(step.change)
    }

    /// HeadObject, then GetObject only for a revision not read yet.
    async fn fetch(&self, current: &ConfigState) -> Result<Fetched, StoreError> {
        let key = &self.settings.location.key;
        let Some(head) = self.source.head(key).await? else {
            return Ok(Fetched::Missing);
        };
        if !must_fetch(current, &head.revision) {
            return Ok(Fetched::Same);
        }
        // Deleted between the two calls: as if the head had found nothing.
        Ok(match self.source.get(key).await? {
            Some(object) => Fetched::Object {
                revision: head.revision,
                bytes: object.bytes,
            },
            None => Fetched::Missing,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The settings a function derived from the config at start follow the config in force: the
/// project tag names and tags what the pipeline creates.
impl crate::training::StackSettings {
    /// These settings with `config`'s project tag.
    pub fn for_config(&self, config: &Config) -> Self {
        crate::training::StackSettings {
            project: config.pipeline.project_tag.clone(),
            ..self.clone()
        }
    }
}

/// What [`LiveConfig::fetch`] read.
enum Fetched {
    Same,
    Missing,
    Object { revision: String, bytes: Vec<u8> },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{BASE, replace};
    use crate::store::{AlertLog, MemStore};

    fn location() -> ConfigLocation {
        ConfigLocation::in_bucket("hawkins-pipeline")
    }

    fn built_in() -> Arc<Config> {
        Arc::new(parse("built-in", BASE).expect("valid"))
    }

    /// The base with a longer quiet period.
    fn pushed() -> String {
        replace("[pipeline]\n", "[pipeline]\nquiet_period_seconds = 60\n")
    }

    /// The base with two problems: a quiet period out of bounds and a misspelt field.
    fn bad() -> String {
        replace(
            "[pipeline]\n",
            "[pipeline]\nquiet_period_seconds = 0\ntraining_imag = \"x:1\"\n",
        )
    }

    #[test]
    fn locations_are_read_from_s3_uris() {
        assert_eq!(
            ConfigLocation::parse("s3://my-bucket/hawkins/hawkins.toml"),
            Ok(ConfigLocation {
                bucket: "my-bucket".into(),
                key: "hawkins/hawkins.toml".into()
            })
        );
        for bad in [
            "",
            "my-bucket/key",
            "s3://my-bucket",
            "s3://my-bucket/",
            "s3://my-bucket/folder/",
            "s3://My_Bucket/key",
            "https://my-bucket/key",
        ] {
            assert!(ConfigLocation::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            location().uri(),
            "s3://hawkins-pipeline/config/hawkins.toml"
        );
    }

    #[test]
    fn the_settings_come_from_the_environment_with_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            LiveSettings::from_env(env(&[]), "b-1"),
            Ok(LiveSettings {
                location: ConfigLocation::in_bucket("b-1"),
                refresh_seconds: DEFAULT_REFRESH_SECONDS
            })
        );
        let set = LiveSettings::from_env(
            env(&[(CONFIG_URI_ENV, "s3://other/x.toml"), (REFRESH_ENV, "0")]),
            "b-1",
        )
        .expect("valid");
        assert_eq!(set.location.uri(), "s3://other/x.toml");
        assert_eq!(set.refresh_seconds, 0);
        assert!(LiveSettings::from_env(env(&[(CONFIG_URI_ENV, "other/x")]), "b").is_err());
        assert!(LiveSettings::from_env(env(&[(REFRESH_ENV, "soon")]), "b").is_err());
        assert!(LiveSettings::from_env(env(&[(REFRESH_ENV, "3601")]), "b").is_err());
        assert_eq!(
            LiveSettings::from_env(env(&[(CONFIG_URI_ENV, " ")]), "b").map(|s| s.location),
            Ok(ConfigLocation::in_bucket("b"))
        );
    }

    fn object<'a>(revision: &'a str, text: &'a str) -> Found<'a> {
        Found::Object {
            revision,
            bytes: text.as_bytes(),
        }
    }

    #[test]
    fn the_decision_table() {
        let built_in = built_in();
        let start = ConfigState::built_in(Arc::clone(&built_in));
        let loc = location();
        let (pushed, bad) = (pushed(), bad());

        // No object at a cold start: the built-in config, nothing to say.
        let none = step(&start, &built_in, Found::Missing, &loc);
        assert_eq!(
            (none.change, none.alert, none.state),
            (Change::Same, None, start.clone())
        );

        // A valid object replaces it.
        let loaded = step(&start, &built_in, object("v1", &pushed), &loc);
        assert_eq!(
            loaded.change,
            Change::Loaded {
                revision: "v1".into()
            }
        );
        assert_eq!(loaded.alert, None);
        assert_eq!(loaded.state.config.pipeline.quiet_period_seconds, 60);
        assert_eq!(
            loaded.state.source,
            Source::Object {
                revision: "v1".into()
            }
        );

        // The same revision again (a replay, another look): nothing, whatever the bytes.
        let again = step(&loaded.state, &built_in, object("v1", &bad), &loc);
        assert_eq!((again.change, again.alert), (Change::Same, None));
        assert_eq!(again.state, loaded.state);

        // A bad revision: the last good stays, one alert naming every problem.
        let refused = step(&loaded.state, &built_in, object("v2", &bad), &loc);
        let Change::Refused { revision, errors } = &refused.change else {
            panic!("{:?}", refused.change);
        };
        assert_eq!((revision.as_str(), errors.errors.len()), ("v2", 2));
        assert_eq!(refused.state.config, loaded.state.config);
        assert_eq!(
            refused.state.source,
            Source::Object {
                revision: "v1".into()
            }
        );
        assert_eq!(refused.state.seen.as_deref(), Some("v2"));
        let alert = refused.alert.as_ref().expect("an alert");
        assert_eq!(alert.id, "config-invalid-v2");
        assert_eq!(alert.kind, ALERT_KIND);
        assert!(
            alert.body.contains("quiet_period_seconds"),
            "{}",
            alert.body
        );
        assert!(alert.body.contains("training_imag"), "{}", alert.body);
        assert!(
            alert.body.contains("revision v1, pushed earlier"),
            "{}",
            alert.body
        );
        assert!(alert.subject.chars().count() <= 100);

        // Seen again: no second alert.
        let replay = step(&refused.state, &built_in, object("v2", &bad), &loc);
        assert_eq!((replay.change, replay.alert), (Change::Same, None));

        // A fixed revision is taken.
        let fixed = step(&refused.state, &built_in, object("v3", BASE), &loc);
        assert_eq!(
            fixed.change,
            Change::Loaded {
                revision: "v3".into()
            }
        );
        assert_eq!(fixed.state.config, built_in);

        // Deleted: back to the built-in config; deleted again: nothing more.
        let gone = step(&loaded.state, &built_in, Found::Missing, &loc);
        assert_eq!(gone.change, Change::BuiltIn);
        assert_eq!(gone.state, start);
        let still = step(&gone.state, &built_in, Found::Missing, &loc);
        assert_eq!(still.change, Change::Same);
    }

    #[test]
    fn a_bad_object_at_a_cold_start_keeps_the_built_in_config_and_says_so() {
        let built_in = built_in();
        let start = ConfigState::built_in(Arc::clone(&built_in));
        let refused = step(&start, &built_in, object("e1", &bad()), &location());
        assert_eq!(refused.state.config, built_in);
        assert_eq!(refused.state.source, Source::BuiltIn);
        let body = refused.alert.map(|a| a.body).unwrap_or_default();
        assert!(body.contains("built into the functions"), "{body}");
        assert!(body.starts_with("The model config at s3://hawkins-pipeline/config/hawkins.toml (revision e1) has 2 problems"), "{body}");
    }

    #[test]
    fn bytes_that_are_not_text_are_one_problem() {
        let built_in = built_in();
        let start = ConfigState::built_in(Arc::clone(&built_in));
        let found = Found::Object {
            revision: "v9",
            bytes: &[0xff, 0xfe, 0x00],
        };
        let refused = step(&start, &built_in, found, &location());
        match refused.change {
            Change::Refused { errors, .. } => {
                assert_eq!(errors.errors.len(), 1);
                assert!(errors.errors[0].message.contains("UTF-8"));
            }
            other => panic!("{other:?}"),
        }
    }

    fn live<'a>(
        bucket: &'a MemStore,
        log: &'a AlertLog,
        refresh_seconds: u32,
    ) -> LiveConfig<'a, MemStore, MemStore, AlertLog> {
        let settings = LiveSettings {
            location: location(),
            refresh_seconds,
        };
        LiveConfig::new(bucket, bucket, log, settings, (*built_in()).clone())
    }

    #[tokio::test]
    async fn a_container_follows_the_object_and_alerts_once_per_bad_revision() {
        let bucket = MemStore::new();
        let log = AlertLog::default();
        let live = live(&bucket, &log, 0);
        assert_eq!(live.current(100).await.expect("read"), built_in());

        bucket.insert(CONFIG_KEY, pushed().as_bytes());
        let pushed = live.current(101).await.expect("read");
        assert_eq!(pushed.pipeline.quiet_period_seconds, 60);

        bucket.insert(CONFIG_KEY, bad().as_bytes());
        for now in 102..105 {
            assert_eq!(live.current(now).await.expect("read"), pushed);
        }
        // A second container (a cold start) meets the same revision: the marker holds its alert
        // back, and it runs on the built-in config.
        let cold = self::live(&bucket, &log, 0);
        assert_eq!(cold.current(105).await.expect("read"), built_in());
        let alerts = log.alerts();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].kind, ALERT_KIND);

        let fixed = replace("ml.g5.2xlarge", "ml.g5.4xlarge");
        bucket.insert(CONFIG_KEY, fixed.as_bytes());
        let now = live.current(106).await.expect("read");
        assert_eq!(now.models[0].instance_type, "ml.g5.4xlarge");
    }

    #[tokio::test]
    async fn looks_wait_for_the_refresh_interval() {
        let bucket = MemStore::new();
        let log = AlertLog::default();
        let live = live(&bucket, &log, 10);
        assert_eq!(live.current(1_000).await.expect("read"), built_in());
        bucket.insert(CONFIG_KEY, pushed().as_bytes());
        assert_eq!(
            live.current(1_009).await.expect("read"),
            built_in(),
            "not looked at yet"
        );
        assert_eq!(
            live.current(1_010)
                .await
                .expect("read")
                .pipeline
                .quiet_period_seconds,
            60
        );
    }

    /// A bucket that fails every call.
    struct Down;

    impl ObjectStore for Down {
        async fn get(&self, key: &str) -> Result<Option<crate::store::Object>, StoreError> {
            Err(throttled(key))
        }
        async fn stored_sha256(&self, key: &str) -> Result<Option<String>, StoreError> {
            Err(throttled(key))
        }
        async fn head(&self, key: &str) -> Result<Option<crate::store::Head>, StoreError> {
            Err(throttled(key))
        }
        async fn put(&self, key: &str, _: Vec<u8>, _: &str, _: &str) -> Result<(), StoreError> {
            Err(throttled(key))
        }
        async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
            Err(throttled(prefix))
        }
    }

    fn throttled(key: &str) -> StoreError {
        StoreError::Transient {
            op: "HeadObject",
            resource: key.into(),
            message: "SlowDown".into(),
        }
    }

    #[tokio::test]
    async fn an_unreadable_location_fails_a_cold_start_and_keeps_a_warm_config() {
        let log = AlertLog::default();
        let markers = MemStore::new();
        let settings = LiveSettings {
            location: location(),
            refresh_seconds: 0,
        };
        let cold = LiveConfig::new(&Down, &markers, &log, settings, (*built_in()).clone());
        let error = cold.current(1).await.expect_err("nothing read yet");
        assert!(error.retryable());
        assert!(
            error.to_string().starts_with(
                "the model config at s3://hawkins-pipeline/config/hawkins.toml could not be read"
            ),
            "{error}"
        );

        // Warm: a container that read the object once keeps it through a failing look.
        let bucket = MemStore::new();
        bucket.insert(CONFIG_KEY, pushed().as_bytes());
        let warm = live(&bucket, &log, 0);
        let pushed = warm.current(1).await.expect("read");
        let flaky = LiveConfig {
            source: &Down,
            store: &bucket,
            notifier: &log,
            settings: warm.settings().clone(),
            built_in: built_in(),
            held: Mutex::new(Held {
                state: warm.state(),
                looked_at: Some(1),
            }),
        };
        assert_eq!(flaky.current(2).await.expect("kept"), pushed);
    }

    /// A topic that refuses every message.
    struct Mute;

    impl Notifier for Mute {
        async fn publish(&self, alert: &Alert) -> Result<(), StoreError> {
            Err(throttled(&alert.id))
        }
    }

    #[tokio::test]
    async fn an_alert_that_cannot_be_sent_is_sent_at_the_next_look() {
        let bucket = MemStore::new();
        bucket.insert(CONFIG_KEY, bad().as_bytes());
        let settings = LiveSettings {
            location: location(),
            refresh_seconds: 0,
        };
        let mute = LiveConfig::new(
            &bucket,
            &bucket,
            &Mute,
            settings.clone(),
            (*built_in()).clone(),
        );
        assert_eq!(mute.current(1).await.expect("kept"), built_in());
        assert_eq!(mute.state().seen, None, "not marked as read");

        let log = AlertLog::default();
        let live = LiveConfig {
            source: &bucket,
            store: &bucket,
            notifier: &log,
            settings,
            built_in: built_in(),
            held: Mutex::new(Held {
                state: mute.state(),
                looked_at: Some(1),
            }),
        };
        live.current(2).await.expect("kept");
        live.current(3).await.expect("kept");
        assert_eq!(log.alerts().len(), 1);
    }
}

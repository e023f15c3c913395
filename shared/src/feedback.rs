//! Chat feedback: a person's thumbs up or down on one reply of a chatbot, the third signal of an A/B
//! test (beside errors and latency, see [`crate::lifecycle::ab`]).
//!
//! The chat writes one record per rating with [`record`] (the web app, and `hawkins chat`'s `/up`
//! and `/down`); the A/B check reads them back with [`tally`]. Layout:
//!
//! ```text
//! feedback/<model>/<YYYY-MM-DD>/<id>.json   {"id", "model", "model_version", "variant", "rating", "at"}
//! ```
//!
//! The day is the UTC day of `at`, so a reader of a window lists only the days it spans. The record
//! names the model version (the package version the answering SageMaker model was made from) as
//! well as the variant: the A/B check counts by version, which stays right even when the variant
//! names move on to other models.
//!
//! Idempotent: the key is the record's `id`, chosen by the writer once per rating (a retried write
//! lands on the same key, and an unchanged record is not written again), and the reader counts
//! distinct records, never events.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::error::{Retry, StoreError};
use crate::store::ObjectStore;
use crate::time::{Date, format_rfc3339, parse_rfc3339};

/// Where the records are.
pub const PREFIX: &str = "feedback/";

/// The longest id: ids are file names.
pub const ID_MAX: usize = 128;

/// A rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rating {
    Up,
    Down,
}

/// One rating of one reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// Chosen once per rating by the writer (a UUID, or the conversation and turn): letters,
    /// digits, `-`, `_` and `.`, at most [`ID_MAX`] characters.
    pub id: String,
    /// The model of the config (`chatbot-eleven`), not the endpoint.
    pub model: String,
    /// The package version that answered: the `N` of the SageMaker model `<endpoint>-v<N>`.
    pub model_version: u32,
    /// The endpoint variant that answered (InvokeEndpoint's `x-amzn-invoked-production-variant`).
    pub variant: String,
    pub rating: Rating,
    /// When the person rated the reply, RFC 3339.
    pub at: String,
}

/// Why a record was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    /// The record itself is wrong: writing it again cannot help.
    #[error("feedback record refused: {field} {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Retry for FeedbackError {
    fn retryable(&self) -> bool {
        match self {
            FeedbackError::Invalid { .. } => false,
            FeedbackError::Store(e) => e.retryable(),
        }
    }
}

fn invalid(field: &'static str, problem: impl Into<String>) -> FeedbackError {
    FeedbackError::Invalid {
        field,
        problem: problem.into(),
    }
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Feedback {
    /// A checked record of a rating given at `at` (seconds).
    pub fn new(
        id: &str,
        model: &str,
        model_version: u32,
        variant: &str,
        rating: Rating,
        at: i64,
    ) -> Result<Feedback, FeedbackError> {
        let feedback = Feedback {
            id: id.to_string(),
            model: model.to_string(),
            model_version,
            variant: variant.to_string(),
            rating,
            at: format_rfc3339(at),
        };
        feedback.check()?;
        Ok(feedback)
    }

    /// The record's time in seconds, when it is a valid RFC 3339 time.
    pub fn at_seconds(&self) -> Option<i64> {
        parse_rfc3339(&self.at)
    }

    /// Whether the record can be stored and read back: an id that is a safe file name, a model
    /// name as the config writes them, a version, a variant and a time.
    pub fn check(&self) -> Result<(), FeedbackError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= ID_MAX
            && !self.id.starts_with('.')
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(invalid(
                "id",
                format!(
                    "must be 1 to {ID_MAX} letters, digits, '-', '_' or '.' (not starting with '.'), got {:?}",
                    self.id
                ),
            ));
        }
        if !is_name(&self.model) {
            return Err(invalid(
                "model",
                format!(
                    "must be a model name of the config (lowercase letters, digits and '-'), got {:?}",
                    self.model
                ),
            ));
        }
        if self.model_version == 0 {
            return Err(invalid(
                "model_version",
                "must be the package version that answered (1 or more)",
            ));
        }
        if self.variant.is_empty() || self.variant.len() > 63 {
            return Err(invalid(
                "variant",
                format!(
                    "must be the endpoint variant that answered, got {:?}",
                    self.variant
                ),
            ));
        }
        if self.at_seconds().is_none() {
            return Err(invalid(
                "at",
                format!("must be an RFC 3339 time, got {:?}", self.at),
            ));
        }
        Ok(())
    }

    /// `feedback/<model>/<YYYY-MM-DD>/<id>.json`, the day of `at` in UTC.
    pub fn key(&self) -> String {
        let day = Date::of(self.at_seconds().unwrap_or_default());
        format!("{}{day}/{}.json", day_prefix_root(&self.model), self.id)
    }
}

fn day_prefix_root(model: &str) -> String {
    format!("{PREFIX}{model}/")
}

/// Stores a rating; its key. Writing the same record again changes nothing.
pub async fn record(
    store: &impl ObjectStore,
    feedback: &Feedback,
) -> Result<String, FeedbackError> {
    feedback.check()?;
    let key = feedback.key();
    let bytes =
        serde_json::to_vec_pretty(feedback).map_err(|e| invalid("record", e.to_string()))?;
    store
        .put_if_changed(&key, bytes, "application/json")
        .await?;
    Ok(key)
}

/// Thumbs up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    pub up: u64,
    pub down: u64,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.up + self.down
    }

    fn add(&mut self, rating: Rating) {
        match rating {
            Rating::Up => self.up += 1,
            Rating::Down => self.down += 1,
        }
    }
}

/// The ratings of `model` given in `[since, until)`, by model version. Each record counts once
/// (one key per id); a record that does not parse, names another model or lies outside the window
/// is skipped (a bad record from a writer never stops the A/B check).
pub async fn tally(
    store: &impl ObjectStore,
    model: &str,
    since: i64,
    until: i64,
) -> Result<BTreeMap<u32, Tally>, StoreError> {
    let mut out: BTreeMap<u32, Tally> = BTreeMap::new();
    if until <= since {
        return Ok(out);
    }
    let last = Date::of(until - 1);
    let mut day = Date::of(since);
    loop {
        let prefix = format!("{}{day}/", day_prefix_root(model));
        let keys = store.list(&prefix).await?;
        // A few reads in flight at once: a busy day's ratings are many small objects.
        let mut reads = stream::iter(keys.iter())
            .map(|key| async move { store.get(key).await.map(|o| (key, o)) })
            .buffered(crate::corpus::READ_AHEAD);
        while let Some((key, object)) = reads.try_next().await? {
            let Some(object) = object else {
                continue;
            };
            let record: Feedback = match serde_json::from_slice(&object.bytes) {
                Ok(record) => record,
                Err(e) => {
                    warn!(key, error = %e, "feedback record skipped: not a record");
                    continue;
                }
            };
            let inside = record
                .at_seconds()
                .is_some_and(|at| since <= at && at < until);
            if record.model == model && inside && record.check().is_ok() {
                out.entry(record.model_version)
                    .or_default()
                    .add(record.rating);
            }
        }
        if day >= last {
            break;
        }
        day = day.next();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    const AT: i64 = 1_795_800_000; // 2026-11-28T...

    fn rating(id: &str, version: u32, rating: Rating, at: i64) -> Feedback {
        Feedback::new(id, "chatbot-eleven", version, "challenger", rating, at).expect("valid")
    }

    #[tokio::test]
    async fn records_land_under_their_day_and_are_counted_once_by_version() {
        let store = MemStore::new();
        let a = rating("a1", 2, Rating::Up, AT);
        let key = record(&store, &a).await.expect("written");
        assert_eq!(
            key,
            format!("feedback/chatbot-eleven/{}/a1.json", Date::of(AT))
        );
        // The same rating delivered twice: one record, one count, no second write.
        let puts = store.puts();
        record(&store, &a).await.expect("written");
        assert_eq!(store.puts(), puts);
        record(&store, &rating("a2", 2, Rating::Down, AT + 60))
            .await
            .expect("written");
        record(&store, &rating("b1", 1, Rating::Up, AT + 86_400))
            .await
            .expect("written");
        // Outside the window, and a record that is not one.
        record(&store, &rating("old", 1, Rating::Down, AT - 10 * 86_400))
            .await
            .expect("written");
        store.insert(
            &format!("feedback/chatbot-eleven/{}/junk.json", Date::of(AT)),
            b"not json",
        );
        let counts = tally(&store, "chatbot-eleven", AT - 3600, AT + 2 * 86_400)
            .await
            .expect("read");
        assert_eq!(counts[&2], Tally { up: 1, down: 1 });
        assert_eq!(counts[&1], Tally { up: 1, down: 0 });
        assert_eq!(counts.len(), 2);
        let none = tally(&store, "chatbot-eleven", AT + 10, AT + 10)
            .await
            .expect("read");
        assert!(none.is_empty());
    }

    #[test]
    fn bad_records_are_refused_before_they_are_written() {
        let cases = [
            Feedback::new("../x", "chatbot-eleven", 1, "primary", Rating::Up, AT),
            Feedback::new("", "chatbot-eleven", 1, "primary", Rating::Up, AT),
            Feedback::new("a", "Chatbot Eleven", 1, "primary", Rating::Up, AT),
            Feedback::new("a", "chatbot-eleven", 0, "primary", Rating::Up, AT),
            Feedback::new("a", "chatbot-eleven", 1, "", Rating::Up, AT),
        ];
        for case in cases {
            let Err(e) = case else {
                panic!("accepted: {case:?}")
            };
            assert!(!e.retryable(), "{e}");
        }
        let parsed: Feedback = serde_json::from_str(
            r#"{"id":"x","model":"chatbot-eleven","model_version":3,"variant":"primary","rating":"down","at":"2026-11-28T10:00:00Z"}"#,
        )
        .expect("the documented shape parses");
        assert_eq!(parsed.rating, Rating::Down);
        assert!(parsed.check().is_ok());
    }
}

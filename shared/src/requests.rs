//! What a person asks of the pipeline: a new training attempt, a deployment of a chosen version,
//! a rollback. Each request is a small JSON object under `requests/` in the pipeline bucket
//! (written by `hawkins train`, `hawkins deploy` and `hawkins rollback`); its "Object Created"
//! event reaches the function that carries it out (train, or lifecycle) through the stack's
//! EventBridge rules, like every other event of the pipeline. The object stays as the record of
//! who asked for what, and its id makes the request idempotent: a redelivered event starts the
//! same jobs (same names) or finds the request already carried out.

use serde::{Deserialize, Serialize};

/// Where training requests are written.
pub const TRAIN_PREFIX: &str = "requests/train/";
/// Where deploy and rollback requests are written.
pub const DEPLOY_PREFIX: &str = "requests/deploy/";
/// Where the lifecycle function records a deploy request it carried out.
pub const DONE_PREFIX: &str = "state/requests/deploy/";

/// A new training attempt of some models on a corpus version, whatever their last job did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainRequest {
    /// Unique per request: it makes the attempt's job names (see [`crate::training::job_identity`]).
    pub id: String,
    /// The models to train; empty: every configured model.
    #[serde(default)]
    pub models: Vec<String>,
    /// The corpus version to train on (the current one when the request was made), so that a
    /// redelivery trains what the person saw.
    pub corpus_version: String,
    /// RFC 3339.
    pub requested_at: String,
    /// Who asked (the caller's identity, as the CLI sees it), for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// Which package version a deploy request puts on the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum DeployTarget {
    /// Exactly this version of the model's package group.
    Version { version: u32 },
    /// The newest approved version older than the one the endpoint serves.
    Previous,
}

/// A deployment a person asked for: `hawkins deploy <model> --version N` or
/// `hawkins rollback <model>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRequest {
    pub id: String,
    pub model: String,
    #[serde(flatten)]
    pub target: DeployTarget,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// A request's id, which also names its object.
pub trait Request: serde::de::DeserializeOwned {
    /// What the request is, for messages: "a training request".
    const WHAT: &'static str;
    fn id(&self) -> &str;
}

impl Request for TrainRequest {
    const WHAT: &'static str = "a training request";
    fn id(&self) -> &str {
        &self.id
    }
}

impl Request for DeployRequest {
    const WHAT: &'static str = "a deploy request";
    fn id(&self) -> &str {
        &self.id
    }
}

/// Reads the request at `key` (whose id is `id`) from its object, `None` when it is gone; the
/// error says, for the person, why it cannot be carried out. Pure.
pub fn read<T: Request>(key: &str, id: &str, bytes: Option<&[u8]>) -> Result<T, String> {
    let Some(bytes) = bytes else {
        return Err(format!("{key} is gone: nothing to carry out"));
    };
    let request: T =
        serde_json::from_slice(bytes).map_err(|e| format!("{key} is not {}: {e}", T::WHAT))?;
    if request.id() != id {
        return Err(format!(
            "{key} says its id is '{}': a request's id is its file name",
            request.id()
        ));
    }
    Ok(request)
}

/// Writes a request under `prefix` (its id names the object); its "Object Created" event carries
/// it to the function that does it. Writing the same request again changes nothing.
pub async fn submit<S: crate::store::ObjectStore, T: Serialize>(
    store: &S,
    prefix: &str,
    id: &str,
    request: &T,
) -> Result<String, crate::error::StoreError> {
    let key = key(prefix, id);
    let bytes = serde_json::to_vec_pretty(request).unwrap_or_default();
    store
        .put_if_changed(&key, bytes, "application/json")
        .await?;
    Ok(key)
}

/// The key of a request under `prefix`.
pub fn key(prefix: &str, id: &str) -> String {
    format!("{prefix}{id}.json")
}

/// A request id: the time (sortable) and 8 hex characters that tell apart requests of the same
/// second. `entropy` is anything that differs between two callers (the CLI passes the clock's
/// nanoseconds and its process id).
pub fn new_id(now: i64, entropy: &[u8]) -> String {
    let stamp = chrono::DateTime::from_timestamp(now, 0)
        .map(|t| t.format("%Y%m%dt%H%M%Sz").to_string())
        .unwrap_or_else(|| now.to_string());
    let mut seed = stamp.as_bytes().to_vec();
    seed.extend_from_slice(entropy);
    format!("{stamp}-{}", &crate::hash::sha256_hex(&seed)[..8])
}

/// Whether an id is safe as the last part of a key (and so of the request's event): letters,
/// digits, `-` and `_`, 1 to 64 characters.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The id of the request at `key` under `prefix`, when the key is one.
pub fn id_of<'k>(prefix: &str, key: &'k str) -> Option<&'k str> {
    key.strip_prefix(prefix)?
        .strip_suffix(".json")
        .filter(|id| valid_id(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_differ_by_caller() {
        let a = new_id(1_796_000_000, b"1");
        let b = new_id(1_796_000_000, b"2");
        let later = new_id(1_796_000_001, b"1");
        assert_ne!(a, b);
        assert!(a < later && b < later, "{a} {b} {later}");
        assert!(valid_id(&a), "{a}");
        assert_eq!(
            id_of(TRAIN_PREFIX, &key(TRAIN_PREFIX, &a)),
            Some(a.as_str())
        );
    }

    #[test]
    fn only_request_keys_name_a_request() {
        assert_eq!(id_of(TRAIN_PREFIX, "requests/train/x.json"), Some("x"));
        assert_eq!(id_of(TRAIN_PREFIX, "requests/train/a/b.json"), None);
        assert_eq!(id_of(TRAIN_PREFIX, "requests/train/.json"), None);
        assert_eq!(id_of(TRAIN_PREFIX, "requests/deploy/x.json"), None);
        assert_eq!(id_of(DEPLOY_PREFIX, "requests/deploy/x.txt"), None);
    }

    #[test]
    fn a_request_is_read_only_under_its_own_id() {
        let key = key(TRAIN_PREFIX, "r1");
        let body = br#"{"id":"r1","corpus_version":"v","requested_at":"t"}"#;
        let request: TrainRequest = read(&key, "r1", Some(body)).expect("reads");
        assert!(request.models.is_empty());
        let other = read::<TrainRequest>(&key, "r2", Some(body)).expect_err("another id");
        assert!(other.contains("says its id is 'r1'"), "{other}");
        let bad = read::<DeployRequest>(&key, "r1", Some(body)).expect_err("not a deploy");
        assert!(bad.contains("is not a deploy request"), "{bad}");
        assert!(read::<TrainRequest>(&key, "r1", None).is_err());
    }

    #[test]
    fn deploy_requests_read_back_as_written() {
        for target in [DeployTarget::Version { version: 3 }, DeployTarget::Previous] {
            let request = DeployRequest {
                id: "r1".into(),
                model: "chatbot-eleven".into(),
                target,
                requested_at: "2026-12-07T10:00:00Z".into(),
                requested_by: None,
            };
            let text = serde_json::to_string(&request).unwrap_or_default();
            let back: DeployRequest = serde_json::from_str(&text).expect("reads back");
            assert_eq!(back, request, "{text}");
        }
        let rollback: DeployRequest = serde_json::from_str(
            r#"{"id":"r2","model":"m","target":"previous","requested_at":"t"}"#,
        )
        .expect("a rollback");
        assert_eq!(rollback.target, DeployTarget::Previous);
    }
}

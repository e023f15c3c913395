//! Event envelopes the functions take, and the one place where S3 keys are URL-decoded.
//!
//! Ingest is wired either to S3 event notifications or to EventBridge "Object Created" events (the
//! template picks one); both carry URL-encoded keys (`+` for a space, `%xx` for the rest), decoded
//! here, at the edge, and nowhere else.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An object some event says was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub bucket: String,
    /// Decoded: exactly the key to pass to GetObject.
    pub key: String,
}

/// The `detail` of an EventBridge "Object Created" event from S3.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ObjectCreatedDetail {
    pub bucket: NamedBucket,
    pub object: CreatedObject,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NamedBucket {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CreatedObject {
    pub key: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default, rename = "version-id")]
    pub version_id: Option<String>,
}

/// Why an event could not be read. Never retryable: the same bytes will not parse next time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(
        "the event is neither an S3 notification nor an EventBridge 'Object Created' event: {0}"
    )]
    Unrecognised(String),
    #[error("S3 notification record {index} has no {field}")]
    MissingField { index: usize, field: &'static str },
    #[error("the object key '{0}' is not valid URL-encoded UTF-8")]
    BadKey(String),
}

/// What an ingest invocation was asked to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectEvent {
    /// Objects created (one per S3 record, or the one of an EventBridge event).
    Created(Vec<ObjectRef>),
    /// S3's configuration test message, or a record for something other than a creation: nothing to do.
    Ignored(String),
}

/// Reads either envelope.
pub fn object_event(value: Value) -> Result<ObjectEvent, EventError> {
    if value.get("Records").is_some() {
        let event: S3Event =
            serde_json::from_value(value).map_err(|e| EventError::Unrecognised(e.to_string()))?;
        let mut refs = Vec::with_capacity(event.records.len());
        for (index, record) in event.records.into_iter().enumerate() {
            let name = record.event_name.as_deref().unwrap_or_default();
            if !name.is_empty() && !name.starts_with("ObjectCreated") {
                continue;
            }
            let bucket = record.s3.bucket.name.ok_or(EventError::MissingField {
                index,
                field: "s3.bucket.name",
            })?;
            let raw = record.s3.object.key.ok_or(EventError::MissingField {
                index,
                field: "s3.object.key",
            })?;
            refs.push(ObjectRef {
                bucket,
                key: decode_key(&raw)?,
            });
        }
        if refs.is_empty() {
            return Ok(ObjectEvent::Ignored(
                "no ObjectCreated record in the notification".into(),
            ));
        }
        return Ok(ObjectEvent::Created(refs));
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(ObjectEvent::Ignored("S3 test event".into()));
    }
    if value.get("detail-type").is_some() {
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(value).map_err(|e| EventError::Unrecognised(e.to_string()))?;
        if event.detail_type != "Object Created" {
            return Ok(ObjectEvent::Ignored(format!(
                "detail-type '{}'",
                event.detail_type
            )));
        }
        let detail: ObjectCreatedDetail = serde_json::from_value(event.detail)
            .map_err(|e| EventError::Unrecognised(format!("Object Created detail: {e}")))?;
        let key = decode_key(&detail.object.key)?;
        return Ok(ObjectEvent::Created(vec![ObjectRef {
            bucket: detail.bucket.name,
            key,
        }]));
    }
    Err(EventError::Unrecognised(
        "no 'Records' and no 'detail-type'".into(),
    ))
}

/// Decodes an S3 event key: `+` is a space, `%xx` a byte of UTF-8.
pub fn decode_key(raw: &str) -> Result<String, EventError> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| EventError::BadKey(raw.to_string()))
}

/// Encodes a key the way S3 does in event notifications (the inverse of [`decode_key`]): what
/// the local run puts into the events it delivers.
pub fn encode_key(key: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    utf8_percent_encode(key, KEEP).to_string().replace(' ', "+")
}

/// An S3 "ObjectCreated:Put" notification for `bucket`/`key`, in the shape of the sample in
/// `events/s3-object-created.json`.
pub fn s3_notification(bucket: &str, key: &str, size: u64) -> Value {
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "hawkins-ingest",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": encode_key(key), "size": size}}
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notification(key: &str) -> Value {
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
            "eventTime": "2026-11-27T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "ingest",
                   "bucket": {"name": "hawkins-data", "arn": "arn:aws:s3:::hawkins-data"},
                   "object": {"key": key, "size": 10, "eTag": "abc", "sequencer": "01"}}
        }]})
    }

    fn eventbridge(key: &str) -> Value {
        json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
               "account": "123456789012", "time": "2026-11-27T10:00:00Z", "region": "eu-west-1",
               "resources": ["arn:aws:s3:::hawkins-data"],
               "detail": {"version": "0", "bucket": {"name": "hawkins-data"},
                          "object": {"key": key, "size": 10, "etag": "abc"},
                          "reason": "PutObject"}})
    }

    #[test]
    fn both_envelopes_decode_keys() {
        let cases = [
            ("raw/Season+2/S02E03.srt", "raw/Season 2/S02E03.srt"),
            ("raw/Season%202/S02E03.srt", "raw/Season 2/S02E03.srt"),
            ("raw/caf%C3%A9%2B1.srt", "raw/café+1.srt"),
            ("raw/%E2%99%AA.srt", "raw/♪.srt"),
        ];
        for (raw, decoded) in cases {
            for event in [notification(raw), eventbridge(raw)] {
                let expected = ObjectEvent::Created(vec![ObjectRef {
                    bucket: "hawkins-data".into(),
                    key: decoded.into(),
                }]);
                assert_eq!(object_event(event), Ok(expected), "{raw}");
            }
        }
    }

    #[test]
    fn samples_in_events_folder_parse() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/");
        let read = |name: &str| -> Value {
            let text = std::fs::read_to_string(format!("{dir}{name}")).expect("sample exists");
            serde_json::from_str(&text).expect("sample is JSON")
        };
        let created = |key: &str| {
            Ok(ObjectEvent::Created(vec![ObjectRef {
                bucket: "hawkins-pipeline-123456789012".into(),
                key: key.into(),
            }]))
        };
        assert_eq!(
            object_event(read("s3-object-created.json")),
            created("raw/Season 2/Stranger.Things.S02E03.720p.HI.srt")
        );
        assert_eq!(
            object_event(read("eventbridge-object-created.json")),
            created("raw/transcripts/transcript S02E03 – final.csv")
        );
        assert!(matches!(
            object_event(read("s3-test-event.json")),
            Ok(ObjectEvent::Ignored(_))
        ));
    }

    #[test]
    fn encoding_round_trips() {
        for key in ["raw/a b+c/é ♪.srt", "raw/x%y&z=1.csv", "raw/plain.srt"] {
            assert_eq!(decode_key(&encode_key(key)).as_deref(), Ok(key));
            let event = s3_notification("b", key, 1);
            let expected = ObjectEvent::Created(vec![ObjectRef {
                bucket: "b".into(),
                key: key.into(),
            }]);
            assert_eq!(object_event(event), Ok(expected));
        }
    }

    #[test]
    fn bad_keys_and_envelopes_are_errors() {
        assert!(matches!(
            object_event(notification("raw/%FF.srt")),
            Err(EventError::BadKey(_))
        ));
        assert!(matches!(
            object_event(json!({"hello": 1})),
            Err(EventError::Unrecognised(_))
        ));
    }

    #[test]
    fn test_events_and_deletions_are_ignored() {
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
        assert!(matches!(object_event(test), Ok(ObjectEvent::Ignored(_))));
        let mut deleted = notification("raw/a.srt");
        deleted["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
        assert!(matches!(object_event(deleted), Ok(ObjectEvent::Ignored(_))));
        let mut other = eventbridge("raw/a.srt");
        other["detail-type"] = json!("Object Deleted");
        assert!(matches!(object_event(other), Ok(ObjectEvent::Ignored(_))));
    }
}

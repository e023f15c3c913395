//! The chat's conversation, kept by the browser: the page carries it in a hidden field and sends
//! it back with each turn, so the function keeps no session state and any instance can answer.
//! It is bounded on the way in (turns and characters), and only the last turns go to the model.

use serde::{Deserialize, Serialize};

/// Turns a page carries; older ones are dropped.
pub const MAX_TURNS: usize = 20;
/// Exchanges sent to the model with each new line.
pub const CONTEXT_TURNS: usize = 6;
/// Characters kept of a line or a reply.
pub const MAX_CHARS: usize = 2000;

/// One exchange: the person's line and the character's reply, with who answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub user: String,
    pub reply: String,
    /// The endpoint variant that answered.
    #[serde(default)]
    pub variant: String,
    /// The package version that variant serves (0 when unknown).
    #[serde(default)]
    pub version: u32,
    /// `up`, `down`, or empty.
    #[serde(default)]
    pub rated: String,
    /// The rating's id: the same turn rated twice overwrites one record.
    #[serde(default)]
    pub id: String,
}

/// The history a form sent, bounded; anything unreadable is an empty history (a tampered
/// field costs its sender the conversation, nothing else).
pub fn parse_history(field: &str) -> Vec<Turn> {
    let mut turns: Vec<Turn> = serde_json::from_str(field).unwrap_or_default();
    if turns.len() > MAX_TURNS {
        turns.drain(..turns.len() - MAX_TURNS);
    }
    for t in &mut turns {
        t.user = cut(&t.user);
        t.reply = cut(&t.reply);
        t.variant = cut(&t.variant);
        t.id.retain(|c| c.is_ascii_alphanumeric() || c == '-');
        t.id.truncate(64);
    }
    turns
}

pub fn history_field(turns: &[Turn]) -> String {
    serde_json::to_string(turns).unwrap_or_else(|_| "[]".into())
}

pub fn cut(text: &str) -> String {
    text.chars().take(MAX_CHARS).collect()
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct Request<'a> {
    messages: Vec<Message<'a>>,
    max_new_tokens: u32,
    temperature: f64,
}

/// The chatbot container's request: the last [`CONTEXT_TURNS`] exchanges, then the new line.
pub fn request(turns: &[Turn], line: &str) -> Vec<u8> {
    let start = turns.len().saturating_sub(CONTEXT_TURNS);
    let mut messages = Vec::new();
    for t in &turns[start..] {
        messages.push(Message {
            role: "user",
            content: &t.user,
        });
        messages.push(Message {
            role: "assistant",
            content: &t.reply,
        });
    }
    messages.push(Message {
        role: "user",
        content: line,
    });
    serde_json::to_vec(&Request {
        messages,
        max_new_tokens: 120,
        temperature: 0.7,
    })
    .unwrap_or_default()
}

#[derive(Deserialize)]
struct Reply {
    reply: String,
}

/// The reply in a chatbot's answer.
pub fn parse_reply(body: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<Reply>(body)
        .map(|r| r.reply)
        .map_err(|_| "the endpoint answered without a reply: is it a chatbot endpoint?".into())
}

/// One prediction of the location classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub label: String,
    pub score: f64,
}

#[derive(Deserialize)]
struct Predictions {
    predictions: Vec<Label>,
}

pub fn classify_request(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "inputs": [text] })).unwrap_or_default()
}

pub fn parse_labels(body: &[u8]) -> Result<Vec<Label>, String> {
    serde_json::from_slice::<Predictions>(body)
        .map(|p| p.predictions)
        .map_err(|_| "the classifier answered without predictions".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(n: usize) -> Turn {
        Turn {
            user: format!("line {n}"),
            reply: format!("reply {n}"),
            variant: "primary".into(),
            version: 1,
            rated: String::new(),
            id: format!("t{n}"),
        }
    }

    #[test]
    fn only_the_last_turns_reach_the_model_and_the_history_is_bounded() {
        let turns: Vec<Turn> = (0..30).map(turn).collect();
        let body: serde_json::Value = serde_json::from_slice(&request(&turns, "hi")).unwrap();
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), CONTEXT_TURNS * 2 + 1);
        assert_eq!(messages[0]["content"], "line 24");
        assert_eq!(messages.last().unwrap()["content"], "hi");
        let kept = parse_history(&history_field(&turns));
        assert_eq!(kept.len(), MAX_TURNS);
        assert_eq!(kept[0].user, "line 10");
    }

    #[test]
    fn a_tampered_history_is_dropped_or_cut() {
        assert!(parse_history("not json").is_empty());
        let mut long = turn(1);
        long.user = "x".repeat(MAX_CHARS * 3);
        long.id = "<script>".into();
        let kept = parse_history(&history_field(&[long]));
        assert_eq!(kept[0].user.len(), MAX_CHARS);
        assert_eq!(kept[0].id, "script");
    }

    #[test]
    fn replies_and_labels_parse() {
        assert_eq!(
            parse_reply(br#"{"reply":"Friends don't lie."}"#).unwrap(),
            "Friends don't lie."
        );
        assert!(parse_reply(b"[]").is_err());
        let labels =
            parse_labels(br#"{"predictions":[{"label":"Hawkins Lab","score":0.91}]}"#).unwrap();
        assert_eq!(labels[0].label, "Hawkins Lab");
        assert!(parse_labels(b"{}").is_err());
    }
}

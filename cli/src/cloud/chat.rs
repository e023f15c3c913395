//! `hawkins chat <character>`: a conversation with a deployed character chatbot.
//!
//! The container is stateless: every request carries the conversation so far as `messages`
//! (user and assistant turns, ending with the user's new line), which is what its `input_fn`
//! expects (docker/hawkins_train/inference/chatbot.py); its answer is
//! `{"character", "reply"}`. The character's system prompt is stored with the model and added by
//! the container, so none is sent.
//!
//! `/up` and `/down` rate the last reply: one record of `hawkins::feedback` in the stack's bucket,
//! naming the variant that answered and its model version, which an A/B test weighs.

use std::io::{BufRead, IsTerminal, Write};

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use hawkins::aws::s3::S3Store;
use hawkins::config::{ModelConfig, ModelKind};
use hawkins::feedback::{Feedback, Rating};
use hawkins::lifecycle::plan::{endpoint_name, model_version};
use serde::{Deserialize, Serialize};

use super::invoke::call;
use super::{Cloud, errors, now};

const JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub max_new_tokens: u32,
    pub temperature: f64,
    /// Exchanges (a line and its reply) kept in each request.
    pub max_turns: usize,
    /// Each reply as a JSON line (`{"character","reply"}`).
    pub json: bool,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

/// The request body, in the order the container documents it.
#[derive(Debug, Serialize)]
struct Request<'a> {
    messages: Vec<&'a Message>,
    max_new_tokens: u32,
    temperature: f64,
}

/// The conversation so far: only answered exchanges, so a failed request leaves no dangling line.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    messages: Vec<Message>,
}

impl Conversation {
    /// The request for the next line: the last `max_turns` exchanges, then the line.
    pub fn request(&self, line: &str, options: &Options) -> Vec<u8> {
        let keep = options.max_turns.saturating_mul(2);
        let start = self.messages.len().saturating_sub(keep);
        let next = Message {
            role: "user",
            content: line.to_string(),
        };
        let messages = self.messages[start..]
            .iter()
            .chain(std::iter::once(&next))
            .collect();
        serde_json::to_vec(&Request {
            messages,
            max_new_tokens: options.max_new_tokens,
            temperature: options.temperature,
        })
        .unwrap_or_default()
    }

    /// Keeps an answered exchange.
    pub fn record(&mut self, line: &str, reply: &str) {
        self.messages.push(Message {
            role: "user",
            content: line.to_string(),
        });
        self.messages.push(Message {
            role: "assistant",
            content: reply.to_string(),
        });
    }

    pub fn reset(&mut self) {
        self.messages.clear();
    }

    #[cfg(test)]
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }
}

/// The container's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Reply {
    #[serde(default)]
    pub character: Option<String>,
    pub reply: String,
}

pub fn parse_reply(body: &[u8]) -> Result<Reply, String> {
    serde_json::from_slice(body).map_err(|_| {
        let text = String::from_utf8_lossy(body);
        let shown: String = text.chars().take(200).collect();
        format!(
            "the endpoint answered without a reply ({shown}); is it a chatbot endpoint? `hawkins invoke` shows any endpoint's raw answer"
        )
    })
}

/// How a reply is printed: `Eleven: text`, or a JSON line.
pub fn reply_line(reply: &Reply, name: &str, json: bool) -> String {
    let character = reply.character.as_deref().unwrap_or(name);
    if json {
        serde_json::json!({"character": character, "reply": reply.reply}).to_string()
    } else {
        format!("{character}: {}", reply.reply)
    }
}

/// The chatbot playing `query`: its model name, its full character name, or one word of it
/// (first or last name), ignoring case. Several characters sharing the word is an error naming
/// them.
pub fn find_character<'m>(
    models: &'m [ModelConfig],
    query: &str,
) -> Result<&'m ModelConfig, String> {
    let wanted = query.trim().to_lowercase();
    let chatbots: Vec<(&ModelConfig, &str)> = models
        .iter()
        .filter(|m| m.kind == ModelKind::Chatbot)
        .filter_map(|m| Some((m, m.character.as_deref()?)))
        .collect();
    let known = || {
        chatbots
            .iter()
            .map(|(m, c)| format!("{c} ({})", m.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if chatbots.is_empty() {
        return Err("the model config has no chatbot with a character".into());
    }
    if let Some((m, _)) = chatbots
        .iter()
        .find(|(m, c)| m.name.to_lowercase() == wanted || c.to_lowercase() == wanted)
    {
        return Ok(m);
    }
    let matches: Vec<&(&ModelConfig, &str)> = chatbots
        .iter()
        .filter(|(_, c)| {
            c.split_whitespace()
                .any(|word| word.to_lowercase() == wanted)
        })
        .collect();
    match matches.as_slice() {
        [(m, _)] => Ok(m),
        [] => Err(format!(
            "no chatbot plays \"{}\"; the config has: {}",
            query.trim(),
            known()
        )),
        many => Err(format!(
            "\"{}\" could be {}: write the full name",
            query.trim(),
            many.iter()
                .map(|(_, c)| *c)
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

/// `/up` or `/down`.
pub fn rating(line: &str) -> Option<Rating> {
    match line {
        "/up" => Some(Rating::Up),
        "/down" => Some(Rating::Down),
        _ => None,
    }
}

/// The id of the rating of reply `turn` of the chat started at `session` (seconds) by process
/// `pid`: rating the same reply again replaces the record, never adds one.
pub fn feedback_id(session: i64, pid: u32, turn: usize) -> String {
    format!("cli-{session}-{pid}-{turn}")
}

/// The model version each variant of the endpoint serves, from its current endpoint config.
async fn variant_versions(cloud: &Cloud, endpoint: &str) -> Result<BTreeMap<String, u32>> {
    let client = cloud.sagemaker();
    let described = client
        .describe_endpoint()
        .endpoint_name(endpoint)
        .send()
        .await
        .map_err(|e| cloud.fail(errors::sagemaker("DescribeEndpoint"), endpoint, &e))?;
    let config = described.endpoint_config_name().unwrap_or_default();
    let config = client
        .describe_endpoint_config()
        .endpoint_config_name(config)
        .send()
        .await
        .map_err(|e| cloud.fail(errors::sagemaker("DescribeEndpointConfig"), config, &e))?;
    Ok(config
        .production_variants()
        .iter()
        .filter_map(|v| {
            Some((
                v.variant_name()?.to_string(),
                model_version(v.model_name()?)?,
            ))
        })
        .collect())
}

/// Rates the last reply; the record's key.
async fn rate(
    cloud: &Cloud,
    model: &str,
    endpoint: &str,
    last: &(usize, String),
    rating: Rating,
    session: i64,
) -> Result<String> {
    let (turn, variant) = last;
    let versions = variant_versions(cloud, endpoint).await?;
    let version = versions.get(variant).copied().ok_or_else(|| {
        anyhow!("the variant {variant} that answered no longer serves on {endpoint}: not rated")
    })?;
    let feedback = Feedback::new(
        &feedback_id(session, std::process::id(), *turn),
        model,
        version,
        variant,
        rating,
        now(),
    )
    .map_err(|e| anyhow!(e))?;
    let bucket = cloud.outputs().await?.bucket;
    let store = S3Store::from_config(&cloud.sdk, &bucket);
    hawkins::feedback::record(&store, &feedback)
        .await
        .map_err(|e| match e {
            hawkins::feedback::FeedbackError::Store(e) => errors::store(&e, &cloud.region),
            other => anyhow!(other),
        })
}

pub async fn run(cloud: &Cloud, character: &str, options: Options) -> Result<()> {
    let model = find_character(&cloud.config.models, character).map_err(|e| anyhow!(e))?;
    let endpoint = endpoint_name(cloud.project(), &model.name);
    let name = model
        .character
        .clone()
        .unwrap_or_else(|| model.name.clone());
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "talking with {name} ({endpoint}); /up or /down rates the last reply, /reset starts over, an empty line or Ctrl-D ends"
        );
    }
    let mut conversation = Conversation::default();
    let session = now();
    // The last reply: its turn and the variant that gave it.
    let mut last: Option<(usize, String)> = None;
    let mut turn = 0;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            eprint!("you> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = tokio::task::block_in_place(|| lines.next()) else {
            break;
        };
        let line = line.map_err(|e| anyhow!("cannot read standard input: {e}"))?;
        let text = line.trim();
        if text.is_empty() {
            break;
        }
        if let Some(rating) = rating(text) {
            match &last {
                Some(reply) => {
                    let key = rate(cloud, &model.name, &endpoint, reply, rating, session).await?;
                    eprintln!("(rated: {key})");
                }
                None => eprintln!("(no reply to rate yet)"),
            }
            continue;
        }
        if text == "/reset" {
            conversation.reset();
            eprintln!("(a new conversation)");
            continue;
        }
        let body = conversation.request(text, &options);
        let answer = match call(cloud, &endpoint, body, JSON, JSON).await {
            Ok(answer) => answer,
            Err(refusal) if refusal.by_model => {
                eprintln!("hawkins: {refusal} (this line is not kept; try another)");
                continue;
            }
            Err(refusal) => return Err(refusal.error),
        };
        let reply = parse_reply(&answer.body).map_err(|e| anyhow!(e))?;
        println!("{}", reply_line(&reply, &name, options.json));
        conversation.record(text, &reply.reply);
        turn += 1;
        last = answer.variant.clone().map(|variant| (turn, variant));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: Options = Options {
        max_new_tokens: 128,
        temperature: 0.7,
        max_turns: 2,
        json: false,
    };

    fn models() -> Vec<ModelConfig> {
        let text = r#"
[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
[[model]]
name = "chatbot-mike"
kind = "chatbot"
dataset = "chatbot/mike-wheeler.jsonl"
character = "Mike Wheeler"
[[model]]
name = "chatbot-nancy"
kind = "chatbot"
dataset = "chatbot/nancy-wheeler.jsonl"
character = "Nancy Wheeler"
"#;
        crate::cloud::test_config(text).models
    }

    #[test]
    fn ratings_are_commands_and_each_reply_has_one_id() {
        assert_eq!(rating("/up"), Some(Rating::Up));
        assert_eq!(rating("/down"), Some(Rating::Down));
        assert_eq!(rating("up"), None);
        assert_eq!(feedback_id(1_795_800_000, 42, 3), "cli-1795800000-42-3");
        assert_ne!(feedback_id(1, 42, 3), feedback_id(1, 42, 4));
    }

    #[test]
    fn characters_are_found_by_name_first_name_or_model() {
        let models = models();
        let name = |q: &str| find_character(&models, q).map(|m| m.name.clone());
        assert_eq!(name("Eleven"), Ok("chatbot-eleven".into()));
        assert_eq!(name(" eleven "), Ok("chatbot-eleven".into()));
        assert_eq!(name("mike"), Ok("chatbot-mike".into()));
        assert_eq!(name("MIKE WHEELER"), Ok("chatbot-mike".into()));
        assert_eq!(name("chatbot-nancy"), Ok("chatbot-nancy".into()));
        assert_eq!(
            name("wheeler"),
            Err("\"wheeler\" could be Mike Wheeler or Nancy Wheeler: write the full name".into())
        );
        let unknown = name("vecna").unwrap_err();
        assert!(
            unknown.starts_with("no chatbot plays \"vecna\"; the config has: Eleven (chatbot-eleven), Mike Wheeler (chatbot-mike)"),
            "{unknown}"
        );
    }

    #[test]
    fn each_request_carries_the_conversation_so_far() {
        let mut chat = Conversation::default();
        let first = chat.request("Where is Will?", &OPTIONS);
        assert_eq!(
            String::from_utf8(first).unwrap(),
            r#"{"messages":[{"role":"user","content":"Where is Will?"}],"max_new_tokens":128,"temperature":0.7}"#
        );
        chat.record("Where is Will?", "The Upside Down.");
        let second = chat.request("Is he safe?", &OPTIONS);
        assert_eq!(
            String::from_utf8(second).unwrap(),
            r#"{"messages":[{"role":"user","content":"Where is Will?"},{"role":"assistant","content":"The Upside Down."},{"role":"user","content":"Is he safe?"}],"max_new_tokens":128,"temperature":0.7}"#
        );
        // A request that failed was never recorded: the next one does not carry it.
        assert_eq!(chat.messages().len(), 2);
    }

    #[test]
    fn only_the_last_turns_are_sent() {
        let mut chat = Conversation::default();
        for i in 0..3 {
            chat.record(&format!("q{i}"), &format!("a{i}"));
        }
        let body: serde_json::Value =
            serde_json::from_slice(&chat.request("q3", &OPTIONS)).unwrap();
        let contents: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        assert_eq!(contents, ["q1", "a1", "q2", "a2", "q3"]);
        chat.reset();
        assert!(chat.messages().is_empty());
    }

    #[test]
    fn replies_are_read_from_the_containers_answer() {
        assert_eq!(
            parse_reply(br#"{"character":"Eleven","reply":"Friends don't lie."}"#),
            Ok(Reply {
                character: Some("Eleven".into()),
                reply: "Friends don't lie.".into()
            })
        );
        let error = parse_reply(b"body").unwrap_err();
        assert!(error.contains("is it a chatbot endpoint?"), "{error}");
    }

    #[test]
    fn a_reply_is_a_line_of_text_or_of_json() {
        let reply = Reply {
            character: None,
            reply: "Friends don't lie.".into(),
        };
        assert_eq!(
            reply_line(&reply, "Eleven", false),
            "Eleven: Friends don't lie."
        );
        let line: serde_json::Value =
            serde_json::from_str(&reply_line(&reply, "Eleven", true)).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"character": "Eleven", "reply": "Friends don't lie."})
        );
    }
}

//! `hawkins invoke <endpoint>`: one request to an endpoint, its answer printed. The call itself is
//! shared with `hawkins chat`.

use std::io::Read;

use anyhow::{Context, Result};
use aws_sdk_sagemakerruntime::primitives::Blob;
use hawkins::config::ModelConfig;
use hawkins::lifecycle::plan::endpoint_name;

use super::Cloud;
use super::errors::sagemaker;

/// What an endpoint answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub variant: Option<String>,
}

/// The endpoint a name means: a model of the config stands for its endpoint
/// `<project>-<model>`; anything else is an endpoint name as is.
pub fn resolve_endpoint(name: &str, project: &str, models: &[ModelConfig]) -> String {
    if models.iter().any(|m| m.name == name) && !name.starts_with(&format!("{project}-")) {
        endpoint_name(project, name)
    } else {
        name.to_string()
    }
}

/// Where the body comes from: `@file`, `-` (standard input), or the text itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySource<'a> {
    File(&'a str),
    Stdin,
    Text(&'a str),
}

pub fn body_source(arg: &str) -> BodySource<'_> {
    match arg {
        "-" => BodySource::Stdin,
        _ => match arg.strip_prefix('@') {
            Some(path) if !path.is_empty() => BodySource::File(path),
            _ => BodySource::Text(arg),
        },
    }
}

/// The answer as text: indented when it is JSON, else as sent (invalid UTF-8 replaced).
pub fn pretty(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// A failed invocation; `by_model` when the container itself refused the request (the endpoint
/// works, this request did not).
#[derive(Debug)]
pub struct Refusal {
    pub by_model: bool,
    pub error: anyhow::Error,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)
    }
}

impl std::error::Error for Refusal {}

/// InvokeEndpoint.
pub async fn call(
    cloud: &Cloud,
    endpoint: &str,
    body: Vec<u8>,
    content_type: &str,
    accept: &str,
) -> Result<Answer, Refusal> {
    let answer = aws_sdk_sagemakerruntime::Client::new(&cloud.sdk)
        .invoke_endpoint()
        .endpoint_name(endpoint)
        .content_type(content_type)
        .accept(accept)
        .body(Blob::new(body))
        .send()
        .await
        .map_err(|e| Refusal {
            by_model: e.as_service_error().is_some_and(|s| s.is_model_error()),
            error: cloud.fail(sagemaker("InvokeEndpoint"), endpoint, &e),
        })?;
    Ok(Answer {
        body: answer
            .body()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default(),
        content_type: answer.content_type().map(str::to_string),
        variant: answer.invoked_production_variant().map(str::to_string),
    })
}

pub async fn run(
    cloud: &Cloud,
    endpoint: &str,
    body: &str,
    content_type: &str,
    accept: &str,
    json: bool,
) -> Result<()> {
    let endpoint = resolve_endpoint(endpoint, cloud.project(), &cloud.config.models);
    let bytes = match body_source(body) {
        BodySource::Text(text) => text.as_bytes().to_vec(),
        BodySource::File(path) => std::fs::read(path)
            .with_context(|| format!("cannot read the request body from {path}"))?,
        BodySource::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read the request body from standard input")?;
            bytes
        }
    };
    if content_type.contains("json") && serde_json::from_slice::<serde_json::Value>(&bytes).is_err()
    {
        anyhow::bail!(
            "the body is not valid JSON, but is sent as {content_type}: fix it, or pass --content-type"
        );
    }
    let answer = call(cloud, &endpoint, bytes, content_type, accept).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer_json(&endpoint, &answer))?
        );
        return Ok(());
    }
    if let Some(variant) = &answer.variant {
        eprintln!("{endpoint}: answered by variant {variant}");
    }
    println!("{}", pretty(&answer.body));
    Ok(())
}

/// The `--json` document: the answer as JSON when it is, else as text.
pub fn answer_json(endpoint: &str, answer: &Answer) -> serde_json::Value {
    let body = serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&answer.body).into_owned())
    });
    serde_json::json!({
        "endpoint": endpoint,
        "variant": answer.variant,
        "content_type": answer.content_type,
        "body": body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_name_means_its_endpoint() {
        let config = crate::cloud::test_config(
            r#"
[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
base_model = "Qwen/Qwen2.5-3B-Instruct"
"#,
        );
        let models = &config.models;
        assert_eq!(
            resolve_endpoint("chatbot-eleven", "hawkins", models),
            "hawkins-chatbot-eleven"
        );
        assert_eq!(
            resolve_endpoint("hawkins-chatbot-eleven", "hawkins", models),
            "hawkins-chatbot-eleven"
        );
        assert_eq!(resolve_endpoint("other", "hawkins", models), "other");
    }

    #[test]
    fn bodies_come_from_text_files_or_stdin() {
        assert_eq!(body_source("{}"), BodySource::Text("{}"));
        assert_eq!(body_source("@req.json"), BodySource::File("req.json"));
        assert_eq!(body_source("-"), BodySource::Stdin);
        assert_eq!(body_source("@"), BodySource::Text("@"));
    }

    #[test]
    fn the_json_document_keeps_a_json_answer_as_json() {
        let answer = Answer {
            body: br#"{"reply":"hi"}"#.to_vec(),
            content_type: Some("application/json".into()),
            variant: Some("primary".into()),
        };
        let document = answer_json("e", &answer);
        assert_eq!(document["body"]["reply"], "hi");
        assert_eq!(document["variant"], "primary");
        let text = Answer {
            body: b"plain".to_vec(),
            ..answer
        };
        assert_eq!(answer_json("e", &text)["body"], "plain");
    }

    #[test]
    fn json_answers_are_indented() {
        assert_eq!(pretty(br#"{"reply":"hi"}"#), "{\n  \"reply\": \"hi\"\n}");
        assert_eq!(pretty(b"plain"), "plain");
    }
}

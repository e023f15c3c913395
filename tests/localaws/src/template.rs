//! The event routes of `infra/template.yaml`, read so the local run delivers events exactly as the
//! deployed stack's rules would: each rule's event pattern (with `!Ref PipelineBucket` resolved to
//! the local bucket) or schedule, and the function it ends at, directly or through an SQS queue
//! and its event source mapping.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value as Json;
use serde_norway::Value;

/// One rule of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The rule's logical id.
    pub rule: String,
    /// The event pattern, references resolved; `None` for a schedule.
    pub pattern: Option<Json>,
    /// The schedule expression (or the parameter it comes from), for scheduled rules.
    pub schedule: Option<String>,
    /// The binary of the function the events reach (`ingest`, `train`, ...).
    pub function: String,
    /// Whether they reach it through an SQS queue (the train queue).
    pub through_queue: bool,
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` points at.
fn reference(value: &Value) -> Option<String> {
    let Value::Tagged(tagged) = value else {
        return None;
    };
    let text = tagged.value.as_str()?;
    match tagged.tag.to_string().trim_start_matches('!') {
        "Ref" => Some(text.to_string()),
        "GetAtt" => text.split('.').next().map(str::to_string),
        _ => None,
    }
}

/// YAML → JSON, with `!Ref`s resolved by `resolve` (an unresolved reference is an error: a rule
/// the local run cannot evaluate must fail here, not route nothing).
fn to_json(value: &Value, resolve: &dyn Fn(&str) -> Option<String>) -> Result<Json> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => serde_json::to_value(n)?,
        Value::String(s) => Json::String(s.clone()),
        Value::Sequence(items) => Json::Array(
            items
                .iter()
                .map(|v| to_json(v, resolve))
                .collect::<Result<_>>()?,
        ),
        Value::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = k
                    .as_str()
                    .ok_or_else(|| anyhow!("a non-string key in an event pattern"))?;
                out.insert(key.to_string(), to_json(v, resolve)?);
            }
            Json::Object(out)
        }
        Value::Tagged(_) => {
            let name = reference(value)
                .ok_or_else(|| anyhow!("an intrinsic other than !Ref in an event pattern"))?;
            Json::String(resolve(&name).ok_or_else(|| {
                anyhow!("the local run cannot resolve !Ref {name} in an event pattern")
            })?)
        }
    })
}

/// The rules of the template at `path`; `bucket` stands for `PipelineBucket`.
pub fn routes(path: &Path, bucket: &str) -> Result<Vec<Route>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_routes(&text, bucket).with_context(|| format!("reading the rules of {}", path.display()))
}

pub fn parse_routes(text: &str, bucket: &str) -> Result<Vec<Route>> {
    let template: Value = serde_norway::from_str(text)?;
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| anyhow!("no Resources"))?;
    let kind = |id: &str| {
        resources
            .get(id)
            .and_then(|r| r.get("Type"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let binary = |id: &str| -> Option<String> {
        resources
            .get(id)?
            .get("Metadata")?
            .get("BuildProperties")?
            .get("Binary")?
            .as_str()
            .map(str::to_string)
    };
    // Queue → the function its event source mapping feeds.
    let queue_function = |queue: &str| -> Option<String> {
        resources.values().find_map(|r| {
            if r.get("Type")?.as_str()? != "AWS::Lambda::EventSourceMapping" {
                return None;
            }
            let props = r.get("Properties")?;
            (reference(props.get("EventSourceArn")?)? == queue)
                .then(|| reference(props.get("FunctionName")?))
                .flatten()
        })
    };
    let resolve = |name: &str| (name == "PipelineBucket").then(|| bucket.to_string());
    let mut out = Vec::new();
    for (id, resource) in resources {
        let (Some(id), Some("AWS::Events::Rule")) =
            (id.as_str(), resource.get("Type").and_then(Value::as_str))
        else {
            continue;
        };
        let props = resource
            .get("Properties")
            .ok_or_else(|| anyhow!("{id} has no Properties"))?;
        if props.get("State").and_then(Value::as_str) == Some("DISABLED") {
            continue;
        }
        let pattern = props
            .get("EventPattern")
            .map(|p| to_json(p, &resolve))
            .transpose()
            .with_context(|| format!("{id}'s EventPattern"))?;
        let schedule = props.get("ScheduleExpression").map(|s| match reference(s) {
            Some(parameter) => format!("parameter {parameter}"),
            None => s.as_str().unwrap_or_default().to_string(),
        });
        let targets = props
            .get("Targets")
            .and_then(Value::as_sequence)
            .ok_or_else(|| anyhow!("{id} has no Targets"))?;
        for target in targets {
            let Some(target_id) = target.get("Arn").and_then(reference) else {
                bail!("{id} has a target whose Arn is not a !GetAtt of a resource");
            };
            let (function, through_queue) = match kind(&target_id).as_deref() {
                Some("AWS::Serverless::Function") => (target_id, false),
                Some("AWS::SQS::Queue") => (
                    queue_function(&target_id).ok_or_else(|| {
                        anyhow!("{id} targets {target_id}, which no event source mapping reads")
                    })?,
                    true,
                ),
                other => bail!(
                    "{id} targets {target_id} of type {other:?}, which the local run cannot deliver to"
                ),
            };
            let function = binary(&function)
                .ok_or_else(|| anyhow!("{function} names no BuildProperties.Binary"))?;
            out.push(Route {
                rule: id.to_string(),
                pattern: pattern.clone(),
                schedule: schedule.clone(),
                function,
                through_queue,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stacks_rules_are_read() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
        let routes = routes(&path, "local-bucket").expect("the template's rules read");
        let ingest = routes
            .iter()
            .find(|r| r.function == "ingest")
            .expect("ingest is routed");
        let pattern = ingest.pattern.as_ref().expect("a pattern");
        assert_eq!(pattern["detail"]["bucket"]["name"][0], "local-bucket");
        assert!(!ingest.through_queue);
        let train = routes
            .iter()
            .find(|r| r.function == "train")
            .expect("train is routed");
        assert!(train.through_queue);
        let costs = routes
            .iter()
            .find(|r| r.function == "costs")
            .expect("costs is scheduled");
        assert!(costs.pattern.is_none() && costs.schedule.is_some());
        assert!(
            routes.iter().any(|r| r.function == "lifecycle"),
            "lifecycle is routed"
        );
    }

    #[test]
    fn unknown_references_and_targets_are_refused() {
        let text = "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern:\n        detail: { name: [!Ref Other] }\n      Targets: []\n";
        assert!(parse_routes(text, "b").is_err());
        let text = "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: { source: [x] }\n      Targets:\n        - Arn: !GetAtt T.Arn\n  T:\n    Type: AWS::SNS::Topic\n";
        assert!(parse_routes(text, "b").is_err());
    }
}

//! `hawkins logs <function>`: a pipeline function's CloudWatch Logs.
//!
//! The function's physical name comes from the stack's resources (its logical id in
//! infra/template.yaml), its log group is `/aws/lambda/<name>`; FilterLogEvents reads every stream
//! of the group from `--since` on, with the `--filter` pattern, and `--follow` asks again every
//! few seconds from the newest line seen (events already printed are skipped by id). The lines
//! are printed as `jobs logs` prints a job's.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client as Logs;
use clap::ValueEnum;

use super::errors::{self, cloudformation, failure, is_not_found};
use super::jobs::{self, Event};
use super::{Cloud, now};
use crate::exit::{Exit, coded};

/// How often `--follow` looks for new lines.
const POLL: Duration = Duration::from_secs(5);

/// The pipeline's functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Function {
    Ingest,
    Train,
    Lifecycle,
    Costs,
}

impl Function {
    /// The logical id in infra/template.yaml.
    pub fn logical_id(self) -> &'static str {
        match self {
            Function::Ingest => "IngestFunction",
            Function::Train => "TrainFunction",
            Function::Lifecycle => "LifecycleFunction",
            Function::Costs => "CostFunction",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Function::Ingest => "ingest",
            Function::Train => "train",
            Function::Lifecycle => "lifecycle",
            Function::Costs => "costs",
        }
    }
}

pub fn log_group(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// `90s`, `15m`, `1h`, `2d`, `1w`, or several as `1h30m`: seconds.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a duration: write it as 90s, 15m, 1h, 2d, 1w or 1h30m");
    let duration = humantime::parse_duration(text.trim()).map_err(|_| bad())?;
    match i64::try_from(duration.as_secs()) {
        Ok(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(bad()),
    }
}

/// The physical id of a logical resource, from DescribeStackResources' `(logical, physical)`
/// pairs.
pub fn physical_name(
    resources: &[(String, String)],
    function: Function,
    stack: &str,
) -> Result<String, String> {
    resources
        .iter()
        .find(|(logical, _)| logical == function.logical_id())
        .map(|(_, physical)| physical.clone())
        .ok_or_else(|| {
            format!(
                "stack {stack} has no resource {} (the {} function): is it deployed from infra/template.yaml? Pass --stack to name another",
                function.logical_id(),
                function.as_str()
            )
        })
}

/// A Lambda stream name (`2026/11/27/[$LATEST]0123abcd…`) as the instance it stands for: the
/// version and the first 8 characters of the id (`$LATEST 0123abcd`).
pub fn instance(stream: &str) -> String {
    let last = stream.rsplit('/').next().unwrap_or(stream);
    match last.strip_prefix('[').and_then(|l| l.split_once(']')) {
        Some((version, id)) => {
            let short: String = id.chars().take(8).collect();
            format!("{version} {short}")
        }
        None => last.to_string(),
    }
}

/// A line as `--json` prints it: the fields of `jobs logs --json`, with the whole stream name
/// and its short instance.
pub fn json_line(event: &Event) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(&jobs::json_line("", event)).unwrap_or_default();
    value["instance"] = serde_json::Value::String(instance(&event.stream));
    value.to_string()
}

/// Events not printed yet, in time order; `seen` remembers them.
pub fn fresh(mut events: Vec<(String, Event)>, seen: &mut BTreeSet<String>) -> Vec<Event> {
    events.retain(|(id, _)| seen.insert(id.clone()));
    let mut out: Vec<Event> = events.into_iter().map(|(_, e)| e).collect();
    out.sort_by_key(|e| e.timestamp);
    out
}

#[derive(Debug, Clone)]
pub struct Options {
    pub since_seconds: i64,
    pub follow: bool,
    pub filter: Option<String>,
    pub json: bool,
}

pub async fn run(cloud: &Cloud, function: Function, options: &Options) -> Result<()> {
    let name = function_name(cloud, function).await?;
    let group = log_group(&name);
    let client = Logs::new(&cloud.sdk);
    let mut seen = BTreeSet::new();
    let mut from_ms = (now() - options.since_seconds) * 1000;
    loop {
        let events = read(cloud, &client, &group, from_ms, options.filter.as_deref()).await?;
        let Some(events) = events else {
            if !options.follow {
                return Err(coded(
                    Exit::AwsRefused,
                    format!(
                        "no log group {group}: the {} function has not run yet (or its logs were deleted); upload a file or wait for its schedule, then try again",
                        function.as_str()
                    ),
                ));
            }
            tokio::time::sleep(POLL).await;
            continue;
        };
        for event in fresh(events, &mut seen) {
            // Lines at the newest time seen are asked for again: another may share it.
            from_ms = from_ms.max(event.timestamp);
            if options.json {
                println!("{}", json_line(&event));
            } else {
                let shown = Event {
                    stream: instance(&event.stream),
                    ..event
                };
                println!("{}", jobs::line("", &shown));
            }
        }
        if !options.follow {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The function's physical name, from the stack's resources.
async fn function_name(cloud: &Cloud, function: Function) -> Result<String> {
    let answer = aws_sdk_cloudformation::Client::new(&cloud.sdk)
        .describe_stack_resources()
        .stack_name(&cloud.stack)
        .send()
        .await
        .map_err(|e| cloud.fail(cloudformation("DescribeStackResources"), &cloud.stack, &e))?;
    let resources: Vec<(String, String)> = answer
        .stack_resources()
        .iter()
        .filter_map(|r| {
            Some((
                r.logical_resource_id()?.to_string(),
                r.physical_resource_id()?.to_string(),
            ))
        })
        .collect();
    physical_name(&resources, function, &cloud.stack).map_err(|e| coded(Exit::AwsRefused, e))
}

/// The group's events from `from_ms` on, each with its id; `None` when the group does not exist.
async fn read(
    cloud: &Cloud,
    client: &Logs,
    group: &str,
    from_ms: i64,
    filter: Option<&str>,
) -> Result<Option<Vec<(String, Event)>>> {
    let mut out = Vec::new();
    let mut pages = client
        .filter_log_events()
        .log_group_name(group)
        .start_time(from_ms)
        .set_filter_pattern(filter.map(str::to_string))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) if is_not_found(&failure(&e)) => return Ok(None),
            Err(e) => return Err(cloud.fail(errors::logs("FilterLogEvents"), group, &e)),
        };
        for e in page.events() {
            let stream = e.log_stream_name().unwrap_or_default().to_string();
            let timestamp = e.timestamp().unwrap_or_default();
            let message = e.message().unwrap_or_default().to_string();
            let id = e
                .event_id()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{stream}/{timestamp}/{message}"));
            out.push((
                id,
                Event {
                    stream,
                    timestamp,
                    message,
                },
            ));
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_in_their_units() {
        assert_eq!(parse_since("90s"), Ok(90));
        assert_eq!(parse_since("15m"), Ok(900));
        assert_eq!(parse_since("1h"), Ok(3600));
        assert_eq!(parse_since("2d"), Ok(172_800));
        assert_eq!(parse_since("1w"), Ok(604_800));
        assert_eq!(parse_since("1h30m"), Ok(5400));
        assert_eq!(parse_since("1h 30m"), Ok(5400));
        assert_eq!(parse_since("1.5h"), Ok(5400));
        for bad in ["", "1", "h", "1x", "-1h", "0m", "99999999999999999999h"] {
            let error = parse_since(bad).unwrap_err();
            assert!(error.contains("1h30m"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_function_is_found_by_its_logical_id() {
        let resources = vec![
            ("PipelineBucket".to_string(), "hawkins-bucket-1".to_string()),
            (
                "IngestFunction".to_string(),
                "hawkins-IngestFunction-AbC123".to_string(),
            ),
            (
                "CostFunction".to_string(),
                "hawkins-CostFunction-XyZ".to_string(),
            ),
        ];
        assert_eq!(
            physical_name(&resources, Function::Ingest, "hawkins"),
            Ok("hawkins-IngestFunction-AbC123".into())
        );
        assert_eq!(
            physical_name(&resources, Function::Costs, "hawkins"),
            Ok("hawkins-CostFunction-XyZ".into())
        );
        let missing = physical_name(&resources, Function::Lifecycle, "hawkins").unwrap_err();
        assert!(
            missing.starts_with(
                "stack hawkins has no resource LifecycleFunction (the lifecycle function)"
            ),
            "{missing}"
        );
        assert_eq!(
            log_group("hawkins-IngestFunction-AbC123"),
            "/aws/lambda/hawkins-IngestFunction-AbC123"
        );
    }

    #[test]
    fn a_lambda_stream_shows_as_its_instance() {
        assert_eq!(
            instance("2026/11/27/[$LATEST]0123456789abcdef0123456789abcdef"),
            "$LATEST 01234567"
        );
        assert_eq!(instance("other-stream"), "other-stream");
    }

    #[test]
    fn a_json_line_keeps_the_whole_stream() {
        let stream = "2026/11/27/[$LATEST]0123456789abcdef";
        let line = json_line(&Event {
            stream: stream.into(),
            timestamp: 1_795_809_439_000,
            message: "quarantined raw/x.srt\n".into(),
        });
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["stream"], stream);
        assert_eq!(value["instance"], "$LATEST 01234567");
        assert_eq!(value["message"], "quarantined raw/x.srt");
        assert_eq!(value["time"], "2026-11-27T19:57:19Z");
    }

    #[test]
    fn events_are_printed_once_in_time_order() {
        let event = |id: &str, t: i64| {
            (
                id.to_string(),
                Event {
                    stream: "s".into(),
                    timestamp: t,
                    message: id.into(),
                },
            )
        };
        let mut seen = BTreeSet::new();
        let first: Vec<String> = fresh(vec![event("b", 2), event("a", 1)], &mut seen)
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(first, ["a", "b"]);
        let again: Vec<String> = fresh(vec![event("b", 2), event("c", 2)], &mut seen)
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(again, ["c"]);
    }
}

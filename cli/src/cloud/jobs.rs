//! `hawkins jobs logs <job>`: a job's CloudWatch Logs, the last lines of every instance merged in
//! time order, and with `--follow` the new ones until the job ends.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};
use aws_sdk_cloudwatchlogs::Client as Logs;
use hawkins::time::format_rfc3339;

use super::Cloud;
use super::errors::{self, failure, is_not_found, sagemaker};
use crate::exit::{Exit, coded};

/// How often `--follow` looks for new lines.
const POLL: Duration = Duration::from_secs(5);
/// GetLogEvents returns at most this many events per call.
const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Training,
    Transform,
}

impl Kind {
    pub fn log_group(self) -> &'static str {
        match self {
            Kind::Training => "/aws/sagemaker/TrainingJobs",
            Kind::Transform => "/aws/sagemaker/TransformJobs",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Training => "training",
            Kind::Transform => "transform",
        }
    }
}

/// Whether a job status means more lines may come.
pub fn running(status: &str) -> bool {
    matches!(status, "InProgress" | "Stopping")
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub stream: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// The last `n` events of all streams, oldest first (a stable sort keeps each stream's order
/// among equal timestamps).
pub fn tail(mut events: Vec<Event>, n: usize) -> Vec<Event> {
    events.sort_by_key(|e| e.timestamp);
    let skip = events.len().saturating_sub(n);
    events.split_off(skip)
}

/// `[algo-1-1700000000] 2026-11-27T19:57:19Z message`: the stream without the job's name (which
/// instance), the time, the line.
pub fn line(job: &str, event: &Event) -> String {
    let instance = event
        .stream
        .strip_prefix(job)
        .and_then(|s| s.strip_prefix('/'))
        .unwrap_or(&event.stream);
    format!(
        "[{instance}] {} {}",
        format_rfc3339(event.timestamp.div_euclid(1000)),
        event.message.trim_end()
    )
}

/// Why there is nothing to show, and what to do.
pub fn no_logs(job: &str, kind: Kind, status: &str, reason: Option<&str>) -> String {
    let group = kind.log_group();
    let word = kind.word();
    if running(status) {
        format!(
            "no logs for {word} job {job} in {group} yet: it is {status}, and SageMaker writes them once its instances start; run again with --follow to wait for them"
        )
    } else {
        let why = reason.map_or(String::new(), |r| format!(" ({r})"));
        format!(
            "no logs for {word} job {job} in {group}: it is {status}{why}, and ended before an instance wrote any"
        )
    }
}

/// A line as `--json` prints it: one JSON document per line.
pub fn json_line(prefix: &str, event: &Event) -> String {
    let instance = event
        .stream
        .strip_prefix(prefix)
        .and_then(|s| s.strip_prefix('/'))
        .unwrap_or(&event.stream);
    serde_json::json!({
        "stream": event.stream,
        "instance": instance,
        "timestamp_ms": event.timestamp,
        "time": format_rfc3339(event.timestamp.div_euclid(1000)),
        "message": event.message.trim_end(),
    })
    .to_string()
}

/// Prints one line of text or of JSON.
pub fn print(job: &str, event: &Event, json: bool) {
    if json {
        println!("{}", json_line(job, event));
    } else {
        println!("{}", line(job, event));
    }
}

pub async fn logs(cloud: &Cloud, job: &str, lines: usize, follow: bool, json: bool) -> Result<()> {
    let (kind, mut status, reason) = describe(cloud, job).await?;
    let client = Logs::new(&cloud.sdk);
    let group = kind.log_group();
    let mut streams = list_streams(cloud, &client, group, job).await?;
    if streams.is_empty() && !(follow && running(&status)) {
        bail!(no_logs(job, kind, &status, reason.as_deref()));
    }
    // The last lines, and where each stream goes on from.
    let mut tokens: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut events = Vec::new();
    for stream in &streams {
        let answer = client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(false)
            .limit(lines.clamp(1, MAX_EVENTS) as i32)
            .send()
            .await
            .map_err(|e| {
                cloud.fail(
                    errors::logs("GetLogEvents"),
                    &format!("{group}:{stream}"),
                    &e,
                )
            })?;
        events.extend(answer.events().iter().map(|e| Event {
            stream: stream.clone(),
            timestamp: e.timestamp().unwrap_or_default(),
            message: e.message().unwrap_or_default().to_string(),
        }));
        tokens.insert(
            stream.clone(),
            answer.next_forward_token().map(str::to_string),
        );
    }
    for event in tail(events, lines) {
        print(job, &event, json);
    }
    if !follow {
        return Ok(());
    }
    if streams.is_empty() {
        eprintln!("{}", no_logs(job, kind, &status, None));
    }
    loop {
        if !running(&status) {
            eprintln!("{} job {job} is {status}", kind.word());
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
        // The status first: lines written before it changed are read below.
        (_, status, _) = describe(cloud, job).await?;
        streams = list_streams(cloud, &client, group, job).await?;
        let mut new = Vec::new();
        for stream in &streams {
            let mut request = client
                .get_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .start_from_head(true);
            if let Some(Some(token)) = tokens.get(stream) {
                request = request.next_token(token);
            }
            let answer = request.send().await.map_err(|e| {
                cloud.fail(
                    errors::logs("GetLogEvents"),
                    &format!("{group}:{stream}"),
                    &e,
                )
            })?;
            new.extend(answer.events().iter().map(|e| Event {
                stream: stream.clone(),
                timestamp: e.timestamp().unwrap_or_default(),
                message: e.message().unwrap_or_default().to_string(),
            }));
            if let Some(token) = answer.next_forward_token() {
                tokens.insert(stream.clone(), Some(token.to_string()));
            }
        }
        for event in tail(new, usize::MAX) {
            print(job, &event, json);
        }
    }
}

/// The job's streams (`<job>/algo-1-...`, one per instance), or none when the group does not
/// exist yet.
async fn list_streams(cloud: &Cloud, client: &Logs, group: &str, job: &str) -> Result<Vec<String>> {
    let prefix = format!("{job}/");
    let mut out = Vec::new();
    let mut pages = client
        .describe_log_streams()
        .log_group_name(group)
        .log_stream_name_prefix(&prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => out.extend(
                page.log_streams()
                    .iter()
                    .filter_map(|s| s.log_stream_name())
                    .map(str::to_string),
            ),
            Err(e) if is_not_found(&failure(&e)) => return Ok(Vec::new()),
            Err(e) => {
                return Err(cloud.fail(
                    errors::logs("DescribeLogStreams"),
                    &format!("{group}:{prefix}*"),
                    &e,
                ));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Which kind of job `job` is, its status and failure reason.
async fn describe(cloud: &Cloud, job: &str) -> Result<(Kind, String, Option<String>)> {
    let client = cloud.sagemaker();
    let training = match client
        .describe_training_job()
        .training_job_name(job)
        .send()
        .await
    {
        Ok(j) => {
            return Ok((
                Kind::Training,
                j.training_job_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                j.failure_reason().map(str::to_string),
            ));
        }
        Err(e) => e,
    };
    if !is_not_found(&failure(&training)) {
        return Err(cloud.fail(sagemaker("DescribeTrainingJob"), job, &training));
    }
    match client
        .describe_transform_job()
        .transform_job_name(job)
        .send()
        .await
    {
        Ok(j) => Ok((
            Kind::Transform,
            j.transform_job_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            j.failure_reason().map(str::to_string),
        )),
        Err(e) if is_not_found(&failure(&e)) => Err(coded(
            Exit::AwsRefused,
            format!(
                "no training or transform job named {job} in {}: `hawkins status` lists the recent ones",
                cloud.region
            ),
        )),
        Err(e) => Err(cloud.fail(sagemaker("DescribeTransformJob"), job, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stream: &str, t: i64, m: &str) -> Event {
        Event {
            stream: stream.into(),
            timestamp: t,
            message: m.into(),
        }
    }

    #[test]
    fn the_tail_merges_instances_in_time_order() {
        let events = vec![
            event("j/algo-1", 1_000, "a1"),
            event("j/algo-1", 3_000, "a3"),
            event("j/algo-2", 2_000, "b2"),
            event("j/algo-2", 3_000, "b3"),
        ];
        let last: Vec<String> = tail(events, 3).into_iter().map(|e| e.message).collect();
        assert_eq!(last, ["b2", "a3", "b3"]);
        assert!(tail(Vec::new(), 5).is_empty());
    }

    #[test]
    fn a_line_names_its_instance_and_time() {
        let text = line(
            "chatbot-eleven-3f2a",
            &event(
                "chatbot-eleven-3f2a/algo-1-1795809439",
                1_795_809_439_673,
                "METRIC step=10 loss=1.5\n",
            ),
        );
        assert_eq!(
            text,
            "[algo-1-1795809439] 2026-11-27T19:57:19Z METRIC step=10 loss=1.5"
        );
    }

    #[test]
    fn a_json_line_carries_the_same_facts() {
        let text = json_line(
            "j",
            &event("j/algo-1-17", 1_795_809_439_673, "METRIC loss=1.5\n"),
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["instance"], "algo-1-17");
        assert_eq!(value["time"], "2026-11-27T19:57:19Z");
        assert_eq!(value["timestamp_ms"], 1_795_809_439_673_i64);
        assert_eq!(value["message"], "METRIC loss=1.5");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn no_logs_says_whether_to_wait() {
        let waiting = no_logs("j", Kind::Training, "InProgress", None);
        assert!(waiting.contains("--follow"), "{waiting}");
        let failed = no_logs(
            "j",
            Kind::Transform,
            "Failed",
            Some("ClientError: image not found"),
        );
        assert_eq!(
            failed,
            "no logs for transform job j in /aws/sagemaker/TransformJobs: it is Failed (ClientError: image not found), and ended before an instance wrote any"
        );
    }
}

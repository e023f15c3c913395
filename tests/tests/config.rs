//! The model config in the bucket, end to end: the train function's real handler on the local AWS
//! takes a config pushed to `config/hawkins.toml` at its next invocation, without a rebuild; a bad
//! config pushed after it is refused with one alert however often it is met, and the last good one
//! stays in force; deleting the object brings back the built-in config.

use hawkins::config::live::{ALERT_KIND, CONFIG_KEY, Source};
use hawkins::store::ObjectStore;
use hawkins::training::MessageOutcome;
use hawkins_localaws::LocalStack;
use hawkins_tests::{
    Envelope, deliver, event, fixture, route_pending, sample_corpus, stack, test_config,
};

/// The test config with chatbot-eleven trained for 7 epochs (3 built in) and a quiet period of
/// one second (4 built in).
fn pushed() -> String {
    let text = String::from_utf8(fixture("training.toml")).expect("utf-8");
    let from =
        "hyperparameters = { epochs = 3, learning_rate = 0.0002, lora_r = 16, lora_alpha = 32 }";
    assert!(text.contains(from) && text.contains("quiet_period_seconds = 4"));
    text.replacen(from, &from.replacen("epochs = 3", "epochs = 7", 1), 1)
        .replacen("quiet_period_seconds = 4", "quiet_period_seconds = 1", 1)
}

/// The pushed config with two problems: a quiet period of 0 and a misspelt field.
fn bad() -> String {
    pushed().replacen(
        "quiet_period_seconds = 1",
        "quiet_period_seconds = 0\nproject_tagg = \"hawkins\"",
        1,
    )
}

async fn upload_and_ingest(stack: &LocalStack, files: &[(String, Vec<u8>)]) {
    for (key, bytes) in files {
        stack.upload(key, bytes.clone()).await.expect("upload");
        deliver(stack, event(Envelope::S3Notification, &stack.bucket, key)).await;
        route_pending(stack).await;
    }
}

/// The epochs of every chatbot-eleven training job, by job name.
async fn eleven_epochs(stack: &LocalStack) -> Vec<(String, String)> {
    let client = aws_sdk_sagemaker::Client::new(&stack.config);
    let listed = client
        .list_training_jobs()
        .max_results(100)
        .send()
        .await
        .expect("ListTrainingJobs");
    let mut out = Vec::new();
    for summary in listed.training_job_summaries() {
        let name = summary.training_job_name().unwrap_or_default();
        if !name.starts_with("chatbot-eleven-") {
            continue;
        }
        let job = client
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
            .expect("DescribeTrainingJob");
        let epochs = job
            .hyper_parameters()
            .and_then(|h| h.get("epochs"))
            .cloned()
            .unwrap_or_default();
        out.push((name.to_string(), epochs));
    }
    out.sort();
    out
}

fn requeued(outcomes: &[MessageOutcome]) -> bool {
    outcomes
        .iter()
        .any(|o| matches!(o, MessageOutcome::Requeued { .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_config_is_taken_without_a_rebuild_and_a_bad_one_is_refused_once() {
    let stack = stack().await;
    let built_in = test_config();
    let (store, notifier) = (stack.store(), stack.notifier());
    // One train function container, as the Lambda runs it (looking at every invocation).
    let live = stack.live_config(&store, &notifier, built_in.clone());
    assert_eq!(
        stack
            .function_env()
            .iter()
            .find(|(n, _)| *n == "HAWKINS_CONFIG_URI")
            .map(|(_, v)| v.as_str()),
        Some(format!("s3://{}/{CONFIG_KEY}", stack.bucket).as_str()),
        "the local functions are told the bucket's place"
    );

    // Pushed before the uploads settle: the next invocation trains on it.
    stack
        .upload(CONFIG_KEY, pushed().into_bytes())
        .await
        .expect("push");
    let pushed_revision = stack
        .harness_store()
        .head(CONFIG_KEY)
        .await
        .expect("HeadObject")
        .expect("pushed")
        .revision;
    let corpus: Vec<(String, Vec<u8>)> = sample_corpus()
        .into_iter()
        .map(|(name, bytes)| (format!("raw/{name}"), bytes))
        .collect();
    upload_and_ingest(&stack, &corpus).await;
    let outcomes = stack.drain_train_queue(&live, None).await.expect("train");
    // The pushed quiet period (1 s) has always passed by the time the event is read; the
    // built-in one (4 s) would have queued it again.
    assert!(!requeued(&outcomes), "{outcomes:?}");
    let jobs = eleven_epochs(&stack).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        jobs[0].1, "7",
        "the pushed hyperparameter reached SageMaker"
    );
    assert_eq!(
        live.state().source,
        Source::Object {
            revision: pushed_revision.clone()
        }
    );
    assert!(stack.delivered().await.expect("alerts").is_empty());

    // A bad config: refused at each invocation, the last good stays, one alert.
    stack
        .upload(CONFIG_KEY, bad().into_bytes())
        .await
        .expect("push");
    let bad_revision = stack
        .harness_store()
        .head(CONFIG_KEY)
        .await
        .expect("HeadObject")
        .expect("pushed")
        .revision;
    for _ in 0..3 {
        let config = live.current(hawkins::time::now()).await.expect("read");
        assert_eq!(
            config.pipeline.quiet_period_seconds, 1,
            "the last good config"
        );
    }
    // The next corpus version trains on the last good config too.
    let mut episode = fixture("corpus/Hawkins.Sample.S01E01.720p.HI.srt");
    episode.extend_from_slice(
        b"\r\n90\r\n00:09:00,000 --> 00:09:02,000\r\nMIKE: Episode 4, El.\r\n\r\n91\r\n00:09:02,100 --> 00:09:04,000\r\nELEVEN: Episode 4. I know.\r\n",
    );
    upload_and_ingest(
        &stack,
        &[("raw/season 2/Hawkins.Sample.S02E04.HI.srt".into(), episode)],
    )
    .await;
    let outcomes = stack.drain_train_queue(&live, None).await.expect("train");
    assert!(!requeued(&outcomes), "{outcomes:?}");
    let jobs = eleven_epochs(&stack).await;
    assert_eq!(jobs.len(), 2, "{jobs:?} {outcomes:?}");
    assert!(jobs.iter().all(|(_, epochs)| epochs == "7"), "{jobs:?}");
    // Another container (a cold start, or another function) meets the same revision: no second
    // alert; with no good object to keep it runs on its built-in config.
    let (store2, notifier2) = (stack.store(), stack.notifier());
    let cold = stack.live_config(&store2, &notifier2, built_in.clone());
    let config = cold.current(hawkins::time::now()).await.expect("read");
    assert_eq!(*config, built_in);
    assert_eq!(cold.state().source, Source::BuiltIn);

    let alerts = stack.delivered().await.expect("alerts");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(
        alert.attributes.get("kind").map(String::as_str),
        Some(ALERT_KIND)
    );
    assert_eq!(
        alert.attributes.get("revision"),
        Some(&bad_revision),
        "{alert:?}"
    );
    assert!(alert.subject.contains("is not valid"), "{}", alert.subject);
    for needle in [
        "has 2 problems",
        "quiet_period_seconds",
        "project_tagg",
        &format!("revision {pushed_revision}, pushed earlier"),
        "hawkins config push",
    ] {
        assert!(
            alert.message.contains(needle),
            "{needle}: {}",
            alert.message
        );
    }

    // Deleted: the built-in config again.
    stack
        .s3()
        .delete_object()
        .bucket(&stack.bucket)
        .key(CONFIG_KEY)
        .send()
        .await
        .expect("DeleteObject");
    let config = live.current(hawkins::time::now()).await.expect("read");
    assert_eq!(*config, built_in);
    assert_eq!(live.state().source, Source::BuiltIn);
    assert!(stack.delivered().await.expect("alerts").is_empty());
}

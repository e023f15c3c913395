//! Training end to end: a burst of uploads on the local AWS builds one corpus version and starts
//! one job per model on it, after the quiet period; replays start nothing; a change starts the
//! next jobs.

use std::collections::BTreeMap;

use hawkins::training::{MessageOutcome, tags};
use hawkins_localaws::LocalStack;
use hawkins_tests::{
    Envelope, deliver, drain_train_queue, event, fixture, read_json, route_pending, stack,
    test_config,
};

/// Eight episodes, each a little different, as a season upload would be.
fn season() -> Vec<(String, Vec<u8>)> {
    let template = fixture("corpus/Hawkins.Sample.S01E01.720p.HI.srt");
    (1..=8)
        .map(|n| {
            let mut bytes = template.clone();
            bytes.extend_from_slice(
                format!("\r\n90\r\n00:09:00,000 --> 00:09:02,000\r\nMIKE: Episode {n}, El.\r\n\r\n91\r\n00:09:02,100 --> 00:09:04,000\r\nELEVEN: Episode {n}. I know.\r\n").as_bytes(),
            );
            (format!("raw/season 2/Hawkins.Sample.S02E0{n}.HI.srt"), bytes)
        })
        .collect()
}

async fn upload_and_ingest(stack: &LocalStack, files: &[(String, Vec<u8>)]) {
    for (key, bytes) in files {
        stack.upload(key, bytes.clone()).await.expect("upload");
    }
    for (key, _) in files {
        deliver(stack, event(Envelope::S3Notification, &stack.bucket, key)).await;
        route_pending(stack).await;
    }
}

/// Every job on the local SageMaker: training jobs by name, and the tuning jobs' names.
async fn jobs(
    stack: &LocalStack,
) -> (
    BTreeMap<
        String,
        aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput,
    >,
    Vec<String>,
) {
    let client = aws_sdk_sagemaker::Client::new(&stack.config);
    let mut training = BTreeMap::new();
    let listed = client
        .list_training_jobs()
        .max_results(100)
        .send()
        .await
        .expect("ListTrainingJobs");
    for summary in listed.training_job_summaries() {
        let name = summary.training_job_name().unwrap_or_default().to_string();
        let described = client
            .describe_training_job()
            .training_job_name(&name)
            .send()
            .await
            .expect("DescribeTrainingJob");
        training.insert(name, described);
    }
    let tuning = client
        .list_hyper_parameter_tuning_jobs()
        .send()
        .await
        .expect("ListHyperParameterTuningJobs");
    let tuning = tuning
        .hyper_parameter_tuning_job_summaries()
        .iter()
        .map(|s| {
            s.hyper_parameter_tuning_job_name()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    (training, tuning)
}

/// The name of a model's job on a corpus version, started by the pipeline with `config`.
fn job_of(config: &hawkins::config::Config, model: &str, version: &str) -> String {
    let model = config.model(model).expect("a configured model");
    let identity = hawkins::training::job_identity(
        &hawkins::training::training_config_sha256(model, config),
        None,
    );
    model.job_name(version, &identity)
}

fn trained(outcomes: &[MessageOutcome]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for outcome in outcomes {
        if let MessageOutcome::Trained {
            corpus_version,
            models,
            ..
        } = outcome
        {
            for m in models {
                out.push((corpus_version.clone(), m.model.clone(), m.result.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_starts_one_job_per_model_and_replays_start_none() {
    let stack = stack().await;
    let config = test_config();
    let mut burst = season();
    burst.push((
        "raw/locations.jsonl".into(),
        fixture("corpus/locations.jsonl"),
    ));
    upload_and_ingest(&stack, &burst).await;

    let outcomes = drain_train_queue(&stack, &config).await;
    let version = read_json(&stack, "datasets/latest.json").await["version"]
        .as_str()
        .expect("version")
        .to_string();
    let superseded = outcomes
        .iter()
        .filter(|o| matches!(o, MessageOutcome::Superseded))
        .count();
    assert_eq!(
        superseded,
        burst.len() - 1,
        "every event but the last names a replaced corpus: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, MessageOutcome::Requeued { .. })),
        "the last waited for the quiet period"
    );
    let created: Vec<_> = trained(&outcomes)
        .into_iter()
        .filter(|(_, _, r)| r == "created")
        .collect();
    assert_eq!(created.len(), 4, "{created:?}");
    assert_eq!(
        corpus_versions(&stack).await,
        std::slice::from_ref(&version),
        "one corpus version for the whole burst"
    );
    assert!(
        created.iter().all(|(v, _, _)| *v == version),
        "jobs run on the complete corpus"
    );

    let (training, tuning) = jobs(&stack).await;
    let names: Vec<_> = training.keys().cloned().collect();
    assert_eq!(
        names,
        [
            job_of(&config, "chatbot-eleven", &version),
            job_of(&config, "chatbot-mike", &version),
            job_of(&config, "themes", &version),
        ]
    );
    assert_eq!(tuning, [job_of(&config, "locations", &version)]);
    assert!(tuning[0].starts_with(&format!("locations-{}", &version[..4])));

    // The request, as SageMaker recorded it.
    let job = &training[&job_of(&config, "chatbot-eleven", &version)];
    assert_eq!(job.enable_managed_spot_training(), Some(true));
    let checkpoint = job.checkpoint_config().expect("checkpoint config");
    assert_eq!(
        checkpoint.s3_uri(),
        Some(
            format!(
                "s3://{}/checkpoints/chatbot-eleven/{version}-{}/",
                stack.bucket,
                &job_tags_of(&stack, job).await[tags::CONFIG_SHA256][..8]
            )
            .as_str()
        )
    );
    assert_eq!(checkpoint.local_path(), Some("/opt/ml/checkpoints"));
    let stopping = job.stopping_condition().expect("stopping condition");
    assert_eq!(
        (
            stopping.max_runtime_in_seconds(),
            stopping.max_wait_time_in_seconds()
        ),
        (Some(7200), Some(10800))
    );
    let hp = job.hyper_parameters().expect("hyperparameters");
    assert_eq!(hp.get("character").map(String::as_str), Some("Eleven"));
    assert_eq!(hp.get("learning_rate").map(String::as_str), Some("0.0002"));
    assert_eq!(hp.get("corpus_version"), Some(&version));
    let channel = &job.input_data_config()[0];
    assert_eq!(channel.channel_name(), Some("train"));
    let s3 = channel
        .data_source()
        .and_then(|d| d.s3_data_source())
        .expect("s3 source");
    assert_eq!(
        s3.s3_uri(),
        Some(
            format!(
                "s3://{}/datasets/{version}/chatbot/eleven.jsonl",
                stack.bucket
            )
            .as_str()
        )
    );
    assert_eq!(
        job.output_data_config().and_then(|o| o.s3_output_path()),
        Some(format!("s3://{}/training-output/chatbot-eleven/", stack.bucket).as_str())
    );
    let job_tags = job_tags_of(&stack, job).await;
    assert_eq!(
        job_tags.get(tags::PROJECT).map(String::as_str),
        Some("hawkins")
    );
    assert_eq!(
        job_tags.get(tags::MODEL).map(String::as_str),
        Some("chatbot-eleven")
    );
    assert_eq!(job_tags.get(tags::CORPUS_VERSION), Some(&version));

    // Every event delivered three more times, and the last change's event too: nothing new
    // starts, and no other corpus version is written.
    for _ in 0..3 {
        for (key, _) in &burst {
            deliver(&stack, event(Envelope::EventBridge, &stack.bucket, key)).await;
            route_pending(&stack).await;
        }
        let mut body = event(
            Envelope::EventBridge,
            &stack.bucket,
            hawkins::manifest::PENDING_KEY,
        );
        let head = {
            use hawkins::store::ObjectStore;
            stack
                .store()
                .head(hawkins::manifest::PENDING_KEY)
                .await
                .expect("head")
                .expect("pending")
        };
        body["detail"]["object"]["version-id"] = head.revision.into();
        stack
            .sqs()
            .send_message()
            .queue_url(&stack.train_queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .expect("send");
    }
    let replayed = drain_train_queue(&stack, &config).await;
    assert!(
        trained(&replayed).iter().all(|(_, _, r)| r == "unchanged"),
        "{replayed:?}"
    );
    let (again, tuning_again) = jobs(&stack).await;
    assert_eq!((again.len(), tuning_again.len()), (3, 1));
    assert_eq!(corpus_versions(&stack).await, [version]);
}

/// A training job's tags, as SageMaker lists them.
async fn job_tags_of(
    stack: &LocalStack,
    job: &aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput,
) -> BTreeMap<String, String> {
    let client = aws_sdk_sagemaker::Client::new(&stack.config);
    let listed = client
        .list_tags()
        .resource_arn(job.training_job_arn().unwrap_or_default())
        .send()
        .await
        .expect("ListTags");
    listed
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The corpus versions written: one `datasets/<version>/manifest.json` each.
async fn corpus_versions(stack: &LocalStack) -> Vec<String> {
    use hawkins::store::ObjectStore;
    stack
        .store()
        .list(hawkins::manifest::DATASETS_PREFIX)
        .await
        .expect("list")
        .iter()
        .filter_map(|key| {
            key.strip_prefix(hawkins::manifest::DATASETS_PREFIX)?
                .strip_suffix("/manifest.json")
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_episode_later_starts_the_next_jobs_of_the_models_it_changes() {
    let stack = stack().await;
    let config = test_config();
    let mut burst = season();
    burst.push((
        "raw/locations.jsonl".into(),
        fixture("corpus/locations.jsonl"),
    ));
    upload_and_ingest(&stack, &burst).await;
    drain_train_queue(&stack, &config).await;
    let first = read_json(&stack, "datasets/latest.json").await["version"]
        .as_str()
        .expect("v")
        .to_string();

    let (key, mut bytes) = season().swap_remove(2);
    bytes.extend_from_slice(b"\r\n92\r\n00:09:05,000 --> 00:09:07,000\r\nMIKE: One more thing.\r\n\r\n93\r\n00:09:07,100 --> 00:09:09,000\r\nELEVEN: Friends don't lie.\r\n");
    upload_and_ingest(&stack, &[(key, bytes)]).await;
    let outcomes = drain_train_queue(&stack, &config).await;
    let second = read_json(&stack, "datasets/latest.json").await["version"]
        .as_str()
        .expect("v")
        .to_string();
    assert_ne!(first, second);
    let results: BTreeMap<_, _> = trained(&outcomes)
        .into_iter()
        .map(|(_, m, r)| (m, r))
        .collect();
    assert_eq!(
        results.get("chatbot-eleven").map(String::as_str),
        Some("created")
    );
    assert_eq!(
        results.get("chatbot-mike").map(String::as_str),
        Some("created")
    );
    assert_eq!(results.get("themes").map(String::as_str), Some("created"));
    assert_eq!(
        results.get("locations").map(String::as_str),
        Some("unchanged"),
        "its dataset did not change"
    );
    let (training, _) = jobs(&stack).await;
    assert!(training.contains_key(&job_of(&config, "chatbot-eleven", &second)));
    assert_eq!(training.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_retrains_what_it_names_once_and_a_changed_config_retrains_that_model() {
    use hawkins::requests::{TRAIN_PREFIX, TrainRequest, submit};
    let stack = stack().await;
    let config = test_config();
    upload_and_ingest(&stack, &season()).await;
    drain_train_queue(&stack, &config).await;
    let version = read_json(&stack, "datasets/latest.json").await["version"]
        .as_str()
        .expect("v")
        .to_string();
    let (before, _) = jobs(&stack).await;

    // `hawkins train chatbot-mike`: one new attempt on the same corpus version, whatever the
    // first one did; the request delivered three times starts it once.
    let request = TrainRequest {
        id: "20261207t100000z-0a1b2c3d".into(),
        models: vec!["chatbot-mike".into()],
        corpus_version: version.clone(),
        requested_at: "2026-12-07T10:00:00Z".into(),
        requested_by: Some("tests".into()),
    };
    let key = submit(&stack.store(), TRAIN_PREFIX, &request.id, &request)
        .await
        .expect("request written");
    for _ in 0..3 {
        stack.route_to_train(&key).await.expect("routed");
    }
    let outcomes = drain_train_queue(&stack, &config).await;
    let results: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            MessageOutcome::Requested {
                corpus_version,
                models,
                ..
            } => Some((corpus_version.clone(), models[0].result.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 3, "{outcomes:?}");
    assert_eq!(
        results.iter().filter(|(_, r)| r == "created").count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|(v, _)| *v == version));
    let (after, _) = jobs(&stack).await;
    let new: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(new[0].starts_with("chatbot-mike-"), "{new:?}");
    let tags = job_tags_of(&stack, &after[new[0]]).await;
    assert_eq!(
        tags.get(tags::REQUEST).map(String::as_str),
        Some(request.id.as_str())
    );

    // `hawkins config push` of a config with one model's hyperparameter changed: its event
    // (delivered twice) retrains that model only, once, on the same corpus version.
    let text = String::from_utf8(fixture("training.toml")).expect("utf-8");
    let from = "epochs = 3, learning_rate = 0.0002, lora_r";
    assert_eq!(text.matches(from).count(), 1, "chatbot-eleven's epochs");
    let pushed = text.replacen(from, "epochs = 9, learning_rate = 0.0002, lora_r", 1);
    let changed = hawkins::config::parse("pushed.toml", &pushed).expect("a valid config");
    let key = hawkins::config::live::CONFIG_KEY;
    stack.upload(key, pushed.into_bytes()).await.expect("push");
    stack.route_to_train(key).await.expect("routed");
    stack.route_to_train(key).await.expect("routed");
    let outcomes = drain_train_queue(&stack, &config).await;
    assert_eq!(
        trained(&outcomes)
            .iter()
            .filter(|(_, m, r)| r == "created" && m == "chatbot-eleven")
            .count(),
        1,
        "{outcomes:?}"
    );
    let (last, _) = jobs(&stack).await;
    let retrained: Vec<_> = last.keys().filter(|k| !after.contains_key(*k)).collect();
    assert_eq!(
        retrained,
        [&job_of(&changed, "chatbot-eleven", &version)],
        "only the changed model, once"
    );
}

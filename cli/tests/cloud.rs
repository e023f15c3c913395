//! The cloud commands, run as a user runs them (the built `hawkins` binary) against the local AWS
//! with `--endpoint-url`: a stack created in CloudFormation from a small template with the
//! outputs the commands look up, and SageMaker, S3, CloudWatch Logs and the runtime seeded the way
//! the pipeline leaves them. Each command's output is checked, and so is what it left behind:
//! approve and reject change the registry, costs writes nothing, cleanup deletes nothing without
//! --yes and exactly the unused resources with it, chat's second request carries the first turn.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, ContainerDefinition, InferenceSpecification, ModelApprovalStatus,
    ModelPackageContainerDefinition, OutputDataConfig, ProductionVariant,
    ProductionVariantInstanceType, ResourceConfig, StoppingCondition, TrainingInputMode,
    TrainingInstanceType,
};
use aws_sdk_sagemakerruntime::primitives::Blob;
use hawkins::aws::s3::S3Store;
use hawkins::costs::PriceTable;
use hawkins::costs::time::format_rfc3339;
use hawkins_localaws::LocalAws;
use serde_json::{Value, json};

const CONFIG: &str = "tests/fixtures/training.toml";
const ROLE: &str = "arn:aws:iam::123456789012:role/hawkins-sagemaker";
const ENDPOINT: &str = "hawkins-chatbot-eleven";
const GROUP: &str = "hawkins-chatbot-eleven";
const JOB: &str = "chatbot-eleven-3f2a9c1e";
const STREAM: &str = "chatbot-eleven-3f2a9c1e/algo-1-1795809439";
/// Not used by the endpoint: what cleanup must delete.
const OLD_CONFIG: &str = "hawkins-chatbot-eleven-v1-aaaaaaaa";
const ORPHAN_MODEL: &str = "hawkins-chatbot-eleven-v0";
/// The endpoint's config: an A/B test of v1 (80%) and v2 (20%).
const LIVE_CONFIG: &str = "hawkins-chatbot-eleven-v2-bbbbbbbb";

const TEMPLATE: &str = r#"
Resources:
  PipelineBucket:
    Type: AWS::S3::Bucket
  AlertTopic:
    Type: AWS::SNS::Topic
Outputs:
  BucketName:
    Value: !Ref PipelineBucket
  AlertTopicArn:
    Value: !Ref AlertTopic
  SageMakerExecutionRoleArn:
    Value: arn:aws:iam::123456789012:role/hawkins-sagemaker
"#;

/// The answers the endpoint gives, in order: `invoke`, then chat's two turns.
const INVOKE_ANSWER: &str = r#"{"character": "Eleven", "reply": "Mouth breather."}"#;
const FIRST_REPLY: &str = "Friends don't lie.";
const SECOND_REPLY: &str = "He is in the Upside Down.";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Runs `hawkins <args> --endpoint-url <endpoint> --config <test config>` from the workspace
/// root, with nothing from the caller's AWS environment.
fn hawkins(endpoint: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hawkins"));
    command
        .current_dir(root())
        .args(args)
        .args(["--endpoint-url", endpoint, "--config", CONFIG])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "HAWKINS_STACK",
        "HAWKINS_DAILY_BUDGET_USD",
        "HAWKINS_MONTHLY_BUDGET_USD",
        "HAWKINS_IDLE_HOURS",
    ] {
        command.env_remove(name);
    }
    let mut child = command.spawn().expect("the hawkins binary runs");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.unwrap_or("").as_bytes())
            .expect("write stdin");
    }
    child.wait_with_output().expect("hawkins finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command's standard output, after checking it succeeded.
fn ok(endpoint: &str, args: &[&str], stdin: Option<&str>) -> String {
    let output = hawkins(endpoint, args, stdin);
    assert!(
        output.status.success(),
        "hawkins {args:?} exited with {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// The command's standard error, after checking it failed with one readable line.
fn fails(endpoint: &str, args: &[&str]) -> String {
    let output = hawkins(endpoint, args, None);
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "hawkins {args:?} should fail\nstdout:\n{}",
        text(&output.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        !stderr.contains("ServiceError") && !stderr.contains("{"),
        "no SDK dump: {stderr}"
    );
    stderr
}

/// POSTs JSON to the local AWS's own API.
fn post(endpoint: &str, path: &str, body: &Value) {
    let address = endpoint.trim_start_matches("http://");
    let body = body.to_string();
    let mut stream = TcpStream::connect(address).expect("connect to the local AWS");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 20"), "{answer}");
}

/// Creates the stack; its bucket's name.
async fn seed_stack(sdk: &SdkConfig) -> String {
    let cf = aws_sdk_cloudformation::Client::new(sdk);
    cf.create_stack()
        .stack_name("hawkins")
        .template_body(TEMPLATE)
        .send()
        .await
        .expect("CreateStack");
    let stacks = cf
        .describe_stacks()
        .stack_name("hawkins")
        .send()
        .await
        .expect("DescribeStacks");
    stacks.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("BucketName"))
        .and_then(|o| o.output_value())
        .expect("the stack has a bucket")
        .to_string()
}

async fn seed_bucket(sdk: &SdkConfig, bucket: &str) {
    let s3 = S3Store::client(sdk);
    let now = now();
    let job = json!({"job_name": JOB, "model": "chatbot-eleven", "kind": "chatbot", "corpus_version": "3f2a9c1e",
        "instance_type": "ml.g5.2xlarge", "instance_count": 1, "spot": false, "training_seconds": 3600,
        "billable_seconds": 3600, "status": "Completed", "started_at": format_rfc3339(now - 3600),
        "ended_at": format_rfc3339(now), "region": "us-east-1"});
    let endpoint = json!({"endpoint": ENDPOINT, "model": "chatbot-eleven", "history": [
        {"at": format_rfc3339(now - 2 * 3600), "status": "InService", "variants": [
            {"name": "primary", "instance_type": "ml.g5.xlarge", "instance_count": 1, "serverless": null}]}]});
    let objects = [
        (
            "raw/Stranger.Things.S01E01.srt".to_string(),
            "1\n00:00:01,000 --> 00:00:02,000\nFriends don't lie.\n".to_string(),
        ),
        ("raw/notes.srt".to_string(), "not subtitles".to_string()),
        ("quarantine/notes.srt".to_string(), "not subtitles".to_string()),
        (
            "quarantine/notes.srt.reason.json".to_string(),
            json!({"reason": {"code": "no_cues", "line": 1, "message": "no cue"}, "action": "fix it"})
                .to_string(),
        ),
        (format!("ledger/training/{JOB}.json"), job.to_string()),
        (format!("ledger/endpoints/{ENDPOINT}.json"), endpoint.to_string()),
    ];
    for (key, body) in objects {
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.into_bytes().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e}"));
    }
}

fn variant(name: &str, model: &str, weight: f32) -> ProductionVariant {
    ProductionVariant::builder()
        .variant_name(name)
        .model_name(model)
        .initial_instance_count(1)
        .instance_type(ProductionVariantInstanceType::from("ml.g5.xlarge"))
        .initial_variant_weight(weight)
        .build()
}

async fn seed_sagemaker(sdk: &SdkConfig) {
    let sm = aws_sdk_sagemaker::Client::new(sdk);
    for model in [
        ORPHAN_MODEL,
        "hawkins-chatbot-eleven-v1",
        "hawkins-chatbot-eleven-v2",
        "someone-elses-model",
    ] {
        sm.create_model()
            .model_name(model)
            .execution_role_arn(ROLE)
            .primary_container(
                ContainerDefinition::builder()
                    .image("hawkins-inference")
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateModel {model}: {e}"));
    }
    sm.create_endpoint_config()
        .endpoint_config_name(OLD_CONFIG)
        .production_variants(variant("primary", "hawkins-chatbot-eleven-v1", 1.0))
        .send()
        .await
        .expect("CreateEndpointConfig old");
    sm.create_endpoint_config()
        .endpoint_config_name(LIVE_CONFIG)
        .production_variants(variant("primary", "hawkins-chatbot-eleven-v1", 0.8))
        .production_variants(variant("challenger", "hawkins-chatbot-eleven-v2", 0.2))
        .send()
        .await
        .expect("CreateEndpointConfig live");
    sm.create_endpoint()
        .endpoint_name(ENDPOINT)
        .endpoint_config_name(LIVE_CONFIG)
        .send()
        .await
        .expect("CreateEndpoint");

    sm.create_model_package_group()
        .model_package_group_name(GROUP)
        .send()
        .await
        .expect("CreateModelPackageGroup");
    for (corpus, loss) in [("3f2a9c1e", "1.42"), ("77d0b5aa", "1.31")] {
        sm.create_model_package()
            .model_package_group_name(GROUP)
            .model_approval_status(ModelApprovalStatus::PendingManualApproval)
            .inference_specification(
                InferenceSpecification::builder()
                    .containers(
                        ModelPackageContainerDefinition::builder()
                            .image("hawkins-inference")
                            .model_data_url(format!(
                                "s3://b/models/chatbot-eleven/{corpus}/model.tar.gz"
                            ))
                            .build(),
                    )
                    .supported_content_types("application/json")
                    .supported_response_mime_types("application/json")
                    .build(),
            )
            .customer_metadata_properties("hawkins:model", "chatbot-eleven")
            .customer_metadata_properties("hawkins:corpus-version", corpus)
            .customer_metadata_properties("hawkins:metric:eval_loss", loss)
            .customer_metadata_properties(
                "hawkins:gate",
                "eval_loss misses the threshold, waiting for a person",
            )
            .send()
            .await
            .expect("CreateModelPackage");
    }

    sm.create_training_job()
        .training_job_name(JOB)
        .algorithm_specification(
            AlgorithmSpecification::builder()
                .training_image("hawkins-training")
                .training_input_mode(TrainingInputMode::File)
                .build(),
        )
        .role_arn(ROLE)
        .output_data_config(
            OutputDataConfig::builder()
                .s3_output_path("s3://b/models/")
                .build(),
        )
        .resource_config(
            ResourceConfig::builder()
                .instance_type(TrainingInstanceType::from("ml.g5.2xlarge"))
                .instance_count(1)
                .volume_size_in_gb(50)
                .build(),
        )
        .stopping_condition(
            StoppingCondition::builder()
                .max_runtime_in_seconds(3600)
                .build(),
        )
        .send()
        .await
        .expect("CreateTrainingJob");
}

async fn seed_logs(sdk: &SdkConfig) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let group = "/aws/sagemaker/TrainingJobs";
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .expect("CreateLogGroup");
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(STREAM)
        .send()
        .await
        .expect("CreateLogStream");
    let start = now() * 1000 - 3000;
    let mut put = logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(STREAM);
    for (i, message) in [
        "loading the dataset",
        "METRIC step=10 loss=1.5",
        "METRIC step=20 eval_loss=1.31",
    ]
    .into_iter()
    .enumerate()
    {
        put = put.log_events(
            InputLogEvent::builder()
                .timestamp(start + i as i64 * 1000)
                .message(message)
                .build()
                .expect("a log event"),
        );
    }
    put.send().await.expect("PutLogEvents");
}

/// Queues the endpoint's answers: each new request body takes the next one, and the same body
/// sent again gets the same answer.
fn seed_answers(endpoint: &str) {
    let answer = |body: String| json!({"Body": body, "ContentType": "application/json", "InvokedProductionVariant": "primary"});
    post(
        endpoint,
        "/moto-api/static/sagemaker/endpoint-results",
        &json!({"results": [
            answer(INVOKE_ANSWER.to_string()),
            answer(json!({"character": "Eleven", "reply": FIRST_REPLY}).to_string()),
            answer(json!({"character": "Eleven", "reply": SECOND_REPLY}).to_string()),
        ]}),
    );
}

async fn approval(sdk: &SdkConfig, version: i32) -> String {
    let arn = format!("arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/{version}");
    aws_sdk_sagemaker::Client::new(sdk)
        .describe_model_package()
        .model_package_name(arn)
        .send()
        .await
        .expect("DescribeModelPackage")
        .model_approval_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// Endpoint configs and models, sorted.
async fn hosting(sdk: &SdkConfig) -> (Vec<String>, Vec<String>) {
    let sm = aws_sdk_sagemaker::Client::new(sdk);
    let mut configs: Vec<String> = sm
        .list_endpoint_configs()
        .send()
        .await
        .expect("ListEndpointConfigs")
        .endpoint_configs()
        .iter()
        .filter_map(|c| c.endpoint_config_name().map(str::to_string))
        .collect();
    let mut models: Vec<String> = sm
        .list_models()
        .send()
        .await
        .expect("ListModels")
        .models()
        .iter()
        .filter_map(|m| m.model_name().map(str::to_string))
        .collect();
    configs.sort();
    models.sort();
    (configs, models)
}

async fn keys(sdk: &SdkConfig, bucket: &str) -> Vec<String> {
    S3Store::client(sdk)
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("ListObjectsV2")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// What the endpoint answers to exactly these bytes (the local AWS replays an earlier answer to
/// the same body).
async fn answer_to(sdk: &SdkConfig, body: &str) -> String {
    let answer = aws_sdk_sagemakerruntime::Client::new(sdk)
        .invoke_endpoint()
        .endpoint_name(ENDPOINT)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(body.as_bytes().to_vec()))
        .send()
        .await
        .expect("InvokeEndpoint");
    text(answer.body().map(|b| b.as_ref()).unwrap_or_default())
}

#[test]
fn every_cloud_command_has_help_with_an_example() {
    for command in [
        &["status"][..],
        &["jobs"],
        &["jobs", "logs"],
        &["approve"],
        &["reject"],
        &["costs"],
        &["invoke"],
        &["chat"],
        &["cleanup"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_hawkins"))
            .args(command)
            .arg("--help")
            .output()
            .expect("hawkins runs");
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{command:?}: {stdout}");
        assert!(
            stdout.contains("Example: hawkins "),
            "{command:?} --help has no example:\n{stdout}"
        );
        if command != ["jobs"] {
            assert!(stdout.contains("--endpoint-url"), "{command:?}: {stdout}");
        }
    }
    let cleanup = Command::new(env!("CARGO_BIN_EXE_hawkins"))
        .args(["cleanup", "--help"])
        .output()
        .expect("hawkins runs");
    assert!(text(&cleanup.stdout).contains("Failed endpoints are deleted too"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_commands_operate_the_stack() {
    let server = match LocalAws::start(&root()) {
        Ok(server) => server,
        Err(e) => panic!("the local AWS must start for this test: {e}"),
    };
    let url = server.endpoint().to_string();
    let sdk = hawkins::aws::local_config(&url);
    let bucket = seed_stack(&sdk).await;
    seed_bucket(&sdk, &bucket).await;
    seed_sagemaker(&sdk).await;
    seed_logs(&sdk).await;
    seed_answers(&url);
    let url = url.as_str();

    // A stack that is not there: one line that says what to do, and a failure.
    let missing = fails(url, &["status", "--stack", "hawkins-nowhere"]);
    assert_eq!(
        missing.trim_end(),
        "hawkins: no stack named hawkins-nowhere in us-east-1: deploy infra/template.yaml or pass --stack"
    );

    // status: the four tables.
    let status = ok(url, &["status"], None);
    assert!(
        status.contains(&format!(
            "stack hawkins (CREATE_COMPLETE) in us-east-1: bucket {bucket}"
        )),
        "{status}"
    );
    assert!(
        status.contains("raw/Stranger.Things.S01E01.srt"),
        "{status}"
    );
    assert!(status.contains("quarantined (no_cues)"), "{status}");
    assert!(
        status.contains(&format!("{JOB}  chatbot-eleven  Completed")),
        "{status}"
    );
    assert!(
        status.contains("hawkins-chatbot-eleven/1  chatbot-eleven  3f2a9c1e  eval_loss=1.42"),
        "{status}"
    );
    assert!(
        status.contains("hawkins-chatbot-eleven/2  chatbot-eleven  77d0b5aa  eval_loss=1.31"),
        "{status}"
    );
    assert!(
        status.contains("hawkins-chatbot-eleven  InService  primary     hawkins-chatbot-eleven-v1  1 × ml.g5.xlarge  80%"),
        "{status}"
    );
    assert!(
        status.contains("challenger  hawkins-chatbot-eleven-v2  1 × ml.g5.xlarge  20%"),
        "{status}"
    );

    // jobs logs: the last lines, each with its instance.
    let logs = ok(url, &["jobs", "logs", JOB, "--lines", "2"], None);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 2, "{logs}");
    assert!(
        lines[0].starts_with("[algo-1-1795809439] ")
            && lines[0].ends_with(" METRIC step=10 loss=1.5"),
        "{logs}"
    );
    assert!(
        lines[1].ends_with(" METRIC step=20 eval_loss=1.31"),
        "{logs}"
    );
    let unknown = fails(url, &["jobs", "logs", "no-such-job"]);
    assert!(
        unknown.contains("no training or transform job named no-such-job in us-east-1"),
        "{unknown}"
    );

    // approve / reject: a model alone is ambiguous with two waiting; then each by version.
    let ambiguous = fails(url, &["approve", "chatbot-eleven"]);
    assert!(
        ambiguous.contains("2 packages of hawkins-chatbot-eleven await approval (versions 1, 2)"),
        "{ambiguous}"
    );
    let approved = ok(
        url,
        &["approve", "chatbot-eleven/2", "--note", "in character"],
        None,
    );
    assert!(
        approved.starts_with("approved hawkins-chatbot-eleven/2 (was PendingManualApproval): the lifecycle function now deploys it to endpoint hawkins-chatbot-eleven"),
        "{approved}"
    );
    assert_eq!(approval(&sdk, 2).await, "Approved");
    let rejected = ok(url, &["reject", "hawkins-chatbot-eleven/1"], None);
    assert!(
        rejected.starts_with("rejected hawkins-chatbot-eleven/1 (was PendingManualApproval)"),
        "{rejected}"
    );
    assert_eq!(approval(&sdk, 1).await, "Rejected");
    assert_eq!(approval(&sdk, 2).await, "Approved");

    // costs: the scheduled run's figures, printed; nothing stored, nothing sent.
    let before = keys(&sdk, &bucket).await;
    let report: Value = serde_json::from_str(&ok(url, &["costs", "--json"], None))
        .expect("costs --json prints JSON");
    let price = PriceTable::bundled()
        .expect("prices")
        .training("us-east-1", "ml.g5.2xlarge")
        .expect("a price for ml.g5.2xlarge");
    let job_line = report["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .find(|l| l["name"] == JOB)
        .expect("the job is priced");
    let month = job_line["month_usd"].as_f64().expect("a known amount");
    assert!((month - price).abs() < 1e-9, "{month} != {price}");
    assert!(
        report["by_model"]["chatbot-eleven"]
            .as_f64()
            .expect("by model")
            >= price
    );
    assert!(report["month_to_date_usd"].as_f64().expect("total") >= price);
    let costs = ok(url, &["costs", "--days", "3"], None);
    assert!(costs.contains("month to date"), "{costs}");
    assert!(costs.contains("By model, month to date"), "{costs}");
    assert!(costs.contains(JOB), "{costs}");
    assert_eq!(keys(&sdk, &bucket).await, before, "costs writes nothing");

    // invoke: one request, the answer printed.
    let invoked = ok(
        url,
        &[
            "invoke",
            ENDPOINT,
            "--body",
            r#"{"messages":[{"role":"user","content":"Who are you?"}]}"#,
        ],
        None,
    );
    assert_eq!(
        invoked.trim_end(),
        "{\n  \"character\": \"Eleven\",\n  \"reply\": \"Mouth breather.\"\n}"
    );

    // chat: two turns; the second request carries the first exchange.
    let chat = ok(
        url,
        &["chat", "eleven"],
        Some("Where is Will?\nIs he safe?\n"),
    );
    assert_eq!(
        chat,
        format!("Eleven: {FIRST_REPLY}\nEleven: {SECOND_REPLY}\n")
    );
    let first = r#"{"messages":[{"role":"user","content":"Where is Will?"}],"max_new_tokens":128,"temperature":0.7}"#;
    let second = format!(
        r#"{{"messages":[{{"role":"user","content":"Where is Will?"}},{{"role":"assistant","content":"{FIRST_REPLY}"}},{{"role":"user","content":"Is he safe?"}}],"max_new_tokens":128,"temperature":0.7}}"#
    );
    // The endpoint gives these answers back only to the exact bodies the chat sent.
    assert!(answer_to(&sdk, first).await.contains(FIRST_REPLY));
    assert!(answer_to(&sdk, &second).await.contains(SECOND_REPLY));

    // cleanup: recent resources are kept by default; without --yes nothing is deleted.
    let (configs_before, models_before) = hosting(&sdk).await;
    let recent = ok(url, &["cleanup"], None);
    assert!(
        recent.contains("kept, created in the last 60 min"),
        "{recent}"
    );
    let listed = ok(url, &["cleanup", "--older-than", "0"], None);
    assert!(listed.contains("would delete:"), "{listed}");
    assert!(
        listed.contains(&format!("endpoint config  {OLD_CONFIG}")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("model            {ORPHAN_MODEL}")),
        "{listed}"
    );
    assert!(
        !listed.contains(LIVE_CONFIG) && !listed.contains("someone-elses-model"),
        "{listed}"
    );
    assert!(
        listed.ends_with("nothing deleted; run again with --yes\n"),
        "{listed}"
    );
    assert_eq!(hosting(&sdk).await, (configs_before, models_before));

    let deleted = ok(url, &["cleanup", "--older-than", "0", "--yes"], None);
    assert!(
        deleted.contains(&format!("deleted endpoint config {OLD_CONFIG}")),
        "{deleted}"
    );
    assert!(
        deleted.contains(&format!("deleted model {ORPHAN_MODEL}")),
        "{deleted}"
    );
    let (configs, models) = hosting(&sdk).await;
    assert_eq!(configs, [LIVE_CONFIG]);
    assert_eq!(
        models,
        [
            "hawkins-chatbot-eleven-v1",
            "hawkins-chatbot-eleven-v2",
            "someone-elses-model"
        ]
    );
    let again = ok(url, &["cleanup", "--older-than", "0"], None);
    assert!(again.contains("nothing unused to delete"), "{again}");
    drop(server);
}

//! The cloud commands, run as a user runs them (the built `hawkins` binary) against the local AWS
//! with `--endpoint-url`: a stack created in CloudFormation from a small template with the
//! outputs the commands look up, and SageMaker, S3, CloudWatch Logs and the runtime seeded the way
//! the pipeline leaves them. Each command's output is checked, and so is what it left behind:
//! approve and reject change the registry, costs writes nothing, cleanup deletes nothing without
//! --yes and exactly the unused resources with it, chat's second request carries the first turn.
//! `doctor` finds the image in ECR and the secret, warns that the local AWS has no Service
//! Quotas, and fails (exit 6) on a missing secret; `logs` reads a function's log group found
//! through the stack's resources; `--json` prints documents and the exit codes are the
//! documented ones.

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
use hawkins::time::format_rfc3339;
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
  FunctionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole
  IngestFunction:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt FunctionRole.Arn
      Code:
        ZipFile: "never run here"
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
    hawkins_with(endpoint, CONFIG, args, stdin)
}

/// The line every command with an endpoint override writes first on standard error.
fn endpoint_note(endpoint: &str) -> String {
    format!(
        "hawkins: AWS endpoint {endpoint}, with the fixed test credentials of the local AWS (a loopback endpoint)"
    )
}

/// Standard error without the endpoint line.
fn errors_only(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("hawkins: AWS endpoint "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn hawkins_with(endpoint: &str, config: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hawkins"));
    command
        .current_dir(root())
        .args(args)
        .args(["--endpoint-url", endpoint, "--config", config])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
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

/// The command's standard error (without the endpoint line), after checking it failed with one
/// readable line and the exit code `code`.
fn fails(endpoint: &str, args: &[&str], code: i32) -> String {
    let output = hawkins(endpoint, args, None);
    let all = text(&output.stderr);
    assert!(
        all.starts_with(&endpoint_note(endpoint)),
        "the endpoint and its credentials are named first: {all}"
    );
    let stderr = errors_only(&all);
    assert_eq!(
        output.status.code(),
        Some(code),
        "hawkins {args:?} should fail with {code}\nstdout:\n{}\nstderr:\n{all}",
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

/// The training image in ECR, the Hugging Face secret and the alert e-mail; the secret's ARN.
async fn seed_doctor(sdk: &SdkConfig) -> String {
    let stacks = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name("hawkins")
        .send()
        .await
        .expect("DescribeStacks");
    let topic = stacks.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("AlertTopicArn"))
        .and_then(|o| o.output_value())
        .expect("the stack has an alert topic")
        .to_string();
    aws_sdk_sns::Client::new(sdk)
        .subscribe()
        .topic_arn(topic)
        .protocol("email")
        .endpoint("ops@example.com")
        .send()
        .await
        .expect("Subscribe");
    let ecr = aws_sdk_ecr::Client::new(sdk);
    ecr.create_repository()
        .repository_name("hawkins-training")
        .send()
        .await
        .expect("CreateRepository");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
            "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
            "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]
    });
    ecr.put_image()
        .repository_name("hawkins-training")
        .image_manifest(manifest.to_string())
        .image_tag("0.1.0")
        .send()
        .await
        .expect("PutImage");
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name("hawkins/hf-token")
        .secret_string("hf_not_a_real_token")
        .send()
        .await
        .expect("CreateSecret")
        .arn()
        .expect("the secret's ARN")
        .to_string()
}

/// The ingest function's log group, with three lines; the group's name.
async fn seed_function_logs(sdk: &SdkConfig) -> String {
    let resources = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stack_resources()
        .stack_name("hawkins")
        .send()
        .await
        .expect("DescribeStackResources");
    let name = resources
        .stack_resources()
        .iter()
        .find(|r| r.logical_resource_id() == Some("IngestFunction"))
        .and_then(|r| r.physical_resource_id())
        .expect("the stack has the ingest function")
        .to_string();
    let group = format!("/aws/lambda/{name}");
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .expect("CreateLogGroup");
    let stream = "2026/11/27/[$LATEST]0123456789abcdef0123456789abcdef";
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("CreateLogStream");
    let start = now() * 1000 - 3000;
    let mut put = logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name(stream);
    for (i, message) in FUNCTION_LINES.into_iter().enumerate() {
        put = put.log_events(
            InputLogEvent::builder()
                .timestamp(start + i as i64 * 1000)
                .message(message)
                .build()
                .expect("a log event"),
        );
    }
    put.send().await.expect("PutLogEvents");
    group
}

const FUNCTION_LINES: [&str; 3] = [
    "START RequestId: 5f1e Version: $LATEST",
    "quarantined raw/notes.srt: no_cues",
    "END RequestId: 5f1e",
];

/// The test config with `line` added after the line `after`, written to a file of its own.
fn config_with(name: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join(CONFIG)).expect("the test config");
    for (after, line) in edits {
        let at = text.find(after).expect("the line to add after") + after.len();
        text.insert_str(at, &format!("\n{line}"));
    }
    let path = std::env::temp_dir().join(format!("hawkins-{name}-{}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write the config");
    path.display().to_string()
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

async fn object(sdk: &SdkConfig, bucket: &str, key: &str) -> Vec<u8> {
    S3Store::client(sdk)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetObject {key}: {e}"))
        .body
        .collect()
        .await
        .expect("the body")
        .into_bytes()
        .to_vec()
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
        &["doctor"][..],
        &["logs"],
        &["status"],
        &["jobs"],
        &["jobs", "logs"],
        &["approve"],
        &["reject"],
        &["train"],
        &["deploy"],
        &["rollback"],
        &["costs"],
        &["invoke"],
        &["chat"],
        &["cleanup"],
        &["ab"],
        &["ab", "promote"],
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

#[test]
fn the_exit_codes_are_documented_and_given() {
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hawkins"));
        command.current_dir(root()).args(args);
        for name in [
            "AWS_ENDPOINT_URL",
            "AWS_PROFILE",
            "AWS_REGION",
            "HAWKINS_STACK",
        ] {
            command.env_remove(name);
        }
        command.envs(envs.iter().copied());
        command.output().expect("hawkins runs")
    };
    let help = run(&["--help"], &[]);
    let help = text(&help.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    for code in 0..=6 {
        assert!(help.contains(&format!("\n  {code}  ")), "{code}: {help}");
    }

    let usage = run(&["status", "--no-such-flag"], &[]);
    assert_eq!(usage.status.code(), Some(2));

    let dir = std::env::temp_dir().join(format!("hawkins-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[pipeline]\nquiet_period_seconds = 0\n").expect("write");
    let bad = bad.display().to_string();
    let invalid = run(&["config", "check", &bad], &[]);
    assert_eq!(invalid.status.code(), Some(3), "{}", text(&invalid.stderr));
    let invalid = run(&["config", "check", &bad, "--json"], &[]);
    assert_eq!(invalid.status.code(), Some(3));
    let document: Value = serde_json::from_slice(&invalid.stdout).expect("one JSON document");
    assert_eq!(document["valid"], false);
    assert!(
        document["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{document}"
    );
    assert!(document["errors"][0]["message"].is_string(), "{document}");
    let valid = run(&["config", "check", CONFIG, "--json"], &[]);
    assert_eq!(valid.status.code(), Some(0));
    let document: Value = serde_json::from_slice(&valid.stdout).expect("one JSON document");
    assert_eq!(document["models"][0]["name"], "chatbot-eleven");
    std::fs::remove_dir_all(&dir).ok();

    // An endpoint that is not on this machine: the normal credentials (here the environment's),
    // said on standard error; the unreachable endpoint is a transient failure.
    let proxy = "https://hawkins-proxy.invalid";
    let remote = run(
        &[
            "status",
            "--config",
            CONFIG,
            "--region",
            "us-east-1",
            "--endpoint-url",
            proxy,
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "example"),
        ],
    );
    let stderr = text(&remote.stderr);
    assert!(
        stderr.starts_with(&format!("hawkins: AWS endpoint {proxy}, with the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (not a loopback endpoint)\n")),
        "{stderr}"
    );
    assert_eq!(remote.status.code(), Some(5), "{stderr}");
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
    let secret = seed_doctor(&sdk).await;
    seed_function_logs(&sdk).await;
    let url = url.as_str();

    // doctor: the stack, the image, the secret and the e-mail are found; the local AWS has no
    // Service Quotas, which is a warning on every quota the config needs.
    let good = config_with(
        "doctor-good",
        &[(
            "name = \"chatbot-eleven\"",
            &format!("hf_token_secret_arn = \"{secret}\""),
        )],
    );
    let output = hawkins_with(url, &good, &["doctor"], None);
    let report = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{report}\n{}",
        text(&output.stderr)
    );
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines[0],
        "ok    stack hawkins  CREATE_COMPLETE in us-east-1, with its outputs"
    );
    assert!(
        lines.contains(&"ok    image hawkins-training:0.1.0  in ECR 123456789012/us-east-1, tag 0.1.0 (used by chatbot-eleven, chatbot-mike, locations, themes)"),
        "{report}"
    );
    assert!(
        lines.contains(&format!("ok    secret {secret}  exists and is readable (the Hugging Face token of chatbot-eleven)").as_str()),
        "{report}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ok    alerts  ") && l.contains("ops@example.com")),
        "{report}"
    );
    let quotas: Vec<&&str> = lines.iter().filter(|l| l.contains("  quota ml.")).collect();
    let wanted = [
        "ml.g5.2xlarge for spot training job usage",
        "ml.g5.xlarge for endpoint usage",
        "ml.m5.xlarge for training job usage",
        "ml.m5.xlarge for transform job usage",
    ];
    assert_eq!(quotas.len(), wanted.len(), "{report}");
    for (line, name) in quotas.iter().zip(wanted) {
        assert!(
            line.starts_with(&format!(
                "warn  quota {name}  the SageMaker quotas could not be read"
            )),
            "{report}"
        );
    }
    assert_eq!(lines.last(), Some(&"4 ok, 4 warn, 0 fail"), "{report}");
    assert!(
        !report.contains("hf_not_a_real_token"),
        "the secret's value is never read"
    );

    // A missing secret and an image tag never pushed fail doctor, with exit code 6.
    let missing_secret =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:hawkins/nowhere-AbCdEf";
    let bad = config_with(
        "doctor-bad",
        &[
            (
                "name = \"chatbot-mike\"",
                &format!("hf_token_secret_arn = \"{missing_secret}\""),
            ),
            ("name = \"locations\"", "image = \"hawkins-training:9.9.9\""),
        ],
    );
    let output = hawkins_with(url, &bad, &["doctor"], None);
    let report = text(&output.stdout);
    assert_eq!(output.status.code(), Some(6), "{report}");
    assert!(
        report.contains(&format!(
            "fail  secret {missing_secret}  does not exist: create it"
        )),
        "{report}"
    );
    assert!(
        report.contains("fail  image hawkins-training:9.9.9  repository hawkins-training in 123456789012/us-east-1 has no image with tag 9.9.9"),
        "{report}"
    );
    let stderr = errors_only(&text(&output.stderr));
    assert!(
        stderr.starts_with("hawkins: doctor: 3 ok, 4 warn, 2 fail"),
        "{stderr}"
    );
    // With --json: one document, which says what failed, and the same exit code.
    let output = hawkins_with(url, &bad, &["doctor", "--json"], None);
    assert_eq!(output.status.code(), Some(6));
    let document: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(document["ok"], false);
    let failed: Vec<&str> = document["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["level"] == "fail")
        .filter_map(|c| c["check"].as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "image hawkins-training:9.9.9".to_string(),
            format!("secret {missing_secret}")
        ]
    );

    // logs: the ingest function's lines, found through the stack's resources.
    let logs = ok(url, &["logs", "ingest", "--since", "10m"], None);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), 3, "{logs}");
    for (line, message) in lines.iter().zip(FUNCTION_LINES) {
        assert!(
            line.starts_with("[$LATEST 01234567] ") && line.ends_with(message),
            "{logs}"
        );
    }
    let filtered = ok(url, &["logs", "ingest", "--filter", "quarantined"], None);
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
    assert!(
        filtered
            .trim_end()
            .ends_with("quarantined raw/notes.srt: no_cues"),
        "{filtered}"
    );
    let json_lines = ok(url, &["logs", "ingest", "--json"], None);
    let messages: Vec<String> = json_lines
        .lines()
        .map(|l| {
            let value: Value = serde_json::from_str(l).expect("each line is JSON");
            value["message"].as_str().expect("a message").to_string()
        })
        .collect();
    assert_eq!(messages, FUNCTION_LINES);
    let train = fails(url, &["logs", "train"], 4);
    assert!(
        train.contains("stack hawkins has no resource TrainFunction (the train function)"),
        "{train}"
    );

    // A stack that is not there: one line that says what to do, and a failure.
    let missing = fails(url, &["status", "--stack", "hawkins-nowhere"], 4);
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
    let document: Value =
        serde_json::from_str(&ok(url, &["status", "--json"], None)).expect("status --json");
    assert_eq!(document["stack_status"], "CREATE_COMPLETE");
    assert_eq!(document["bucket"], bucket.as_str());
    assert_eq!(document["pending"].as_array().map(Vec::len), Some(2));
    assert_eq!(document["jobs"][0]["name"], JOB);
    assert_eq!(
        document["endpoints"][0]["variants"][1]["name"],
        "challenger"
    );
    // A failure with --json: the error as a document, with its exit code.
    let output = hawkins(
        url,
        &["--json", "status", "--stack", "hawkins-nowhere"],
        None,
    );
    assert_eq!(output.status.code(), Some(4));
    let error: Value = serde_json::from_slice(&output.stdout).expect("an error document");
    assert_eq!(error["error"]["exit"], 4);
    assert_eq!(error["error"]["kind"], "aws_refused");

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
    let unknown = fails(url, &["jobs", "logs", "no-such-job"], 4);
    assert!(
        unknown.contains("no training or transform job named no-such-job in us-east-1"),
        "{unknown}"
    );

    // approve / reject: a model alone is ambiguous with two waiting; then each by version.
    let ambiguous = fails(url, &["approve", "chatbot-eleven"], 1);
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

    // deploy / rollback: checked against the registry and the endpoint, then written as a
    // request for the lifecycle function.
    let back = fails(url, &["rollback", "chatbot-eleven"], 1);
    assert!(
        back.contains("no approved version older than 2, the one served (approved: 2)"),
        "{back}"
    );
    let rejected_one = fails(url, &["deploy", "chatbot-eleven", "--version", "1"], 1);
    assert!(
        rejected_one.contains("version 1 is not an approved package (approved: 2)"),
        "{rejected_one}"
    );
    let nobody = fails(url, &["deploy", "nobody", "--version", "1"], 2);
    assert!(nobody.contains("nobody is not in the config"), "{nobody}");
    let deployed: Value = serde_json::from_str(&ok(
        url,
        &["deploy", "chatbot-eleven", "--version", "2", "--json"],
        None,
    ))
    .expect("deploy --json prints JSON");
    assert_eq!(deployed["version"], 2);
    assert_eq!(deployed["serving"], json!([1, 2]));
    let key = deployed["key"].as_str().expect("the request's key");
    assert!(key.starts_with("requests/deploy/"), "{key}");
    let request: hawkins::requests::DeployRequest =
        serde_json::from_slice(&object(&sdk, &bucket, key).await).expect("a deploy request");
    assert_eq!(
        request.target,
        hawkins::requests::DeployTarget::Version { version: 2 }
    );
    assert_eq!(request.model, "chatbot-eleven");

    // train: needs a corpus version, names configured models.
    let early = fails(url, &["train", "chatbot-eleven"], 1);
    assert!(early.contains("no corpus version yet"), "{early}");
    let manifest = hawkins::manifest::CorpusManifest {
        version: "0123456789abcdef".into(),
        version_sha256: "0123456789abcdef".repeat(4),
        cast: "builtin".into(),
        episodes: Vec::new(),
        sources: Vec::new(),
        datasets: Vec::new(),
    };
    S3Store::client(&sdk)
        .put_object()
        .bucket(&bucket)
        .key(hawkins::manifest::LATEST_KEY)
        .body(serde_json::to_vec(&manifest).expect("JSON").into())
        .send()
        .await
        .expect("PutObject latest.json");
    let unnamed = fails(url, &["train"], 2);
    assert!(
        unnamed.contains("name the models to train, or --all"),
        "{unnamed}"
    );
    let unknown = fails(url, &["train", "chatbot-eleven", "nobody"], 2);
    assert!(unknown.contains("not in the config: nobody"), "{unknown}");
    let said = ok(url, &["train", "chatbot-eleven"], None);
    assert!(
        said.contains("for chatbot-eleven on corpus version 0123456789abcdef"),
        "{said}"
    );
    let trained: Value = serde_json::from_str(&ok(url, &["train", "--all", "--json"], None))
        .expect("train --json prints JSON");
    let key = trained["key"].as_str().expect("the request's key");
    let request: hawkins::requests::TrainRequest =
        serde_json::from_slice(&object(&sdk, &bucket, key).await).expect("a training request");
    assert!(request.models.is_empty(), "--all names none: every model");
    assert_eq!(request.corpus_version, "0123456789abcdef");
    assert_ne!(trained["request"], Value::Null);

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
    let planned: Value =
        serde_json::from_str(&ok(url, &["cleanup", "--older-than", "0", "--json"], None))
            .expect("cleanup --json");
    let to_delete: Vec<&str> = planned["delete"]
        .as_array()
        .expect("delete")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(to_delete, [OLD_CONFIG, ORPHAN_MODEL]);
    assert_eq!(planned["deleted"].as_array().map(Vec::len), Some(0));
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

    // ab promote: refused for a model whose strategy is not "ab"; with one, a person's choice of
    // the challenger leaves the endpoint serving v2 alone, and a second run finds no test.
    let refused = fails(url, &["ab", "promote", "chatbot-eleven"], 1);
    assert!(refused.contains("is not \"ab\""), "{refused}");
    let fixture = std::fs::read_to_string(root().join(CONFIG)).expect("the test config");
    let canary = "strategy = \"canary\"\ncanary_percent = 20\nwait_minutes = 5\n";
    assert!(
        fixture.contains(canary),
        "the fixture deploys chatbot-eleven with a canary"
    );
    let ab_config = std::env::temp_dir().join(format!("hawkins-ab-{}.toml", std::process::id()));
    std::fs::write(
        &ab_config,
        fixture.replacen(canary, "strategy = \"ab\"\nab_weight = 0.2\n", 1),
    )
    .expect("write the config");
    let ab_config = ab_config.display().to_string();
    let promote = ["ab", "promote", "chatbot-eleven", "--variant", "challenger"];
    let output = hawkins_with(url, &ab_config, &promote, None);
    assert!(
        output.status.success(),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).contains("serve the challenger alone"),
        "{}",
        text(&output.stdout)
    );
    let sm = aws_sdk_sagemaker::Client::new(&sdk);
    let serving = sm
        .describe_endpoint()
        .endpoint_name(ENDPOINT)
        .send()
        .await
        .expect("DescribeEndpoint")
        .endpoint_config_name()
        .unwrap_or_default()
        .to_string();
    let variants: Vec<(String, String)> = sm
        .describe_endpoint_config()
        .endpoint_config_name(&serving)
        .send()
        .await
        .expect("DescribeEndpointConfig")
        .production_variants()
        .iter()
        .map(|v| {
            (
                v.variant_name().unwrap_or_default().to_string(),
                v.model_name().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        [(
            "primary".to_string(),
            "hawkins-chatbot-eleven-v2".to_string()
        )]
    );
    let again = hawkins_with(url, &ab_config, &promote, None);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("serves no challenger variant"),
        "{}",
        text(&again.stderr)
    );
    drop(server);
}

/// `hawkins themes` reads the theme report the lifecycle function writes: the newest through
/// `processed/themes/latest.json`, another with `--version`; before any report it fails with a
/// line that says why (exit 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn themes_prints_the_episodes_by_theme() {
    let server = match LocalAws::start(&root()) {
        Ok(server) => server,
        Err(e) => panic!("the local AWS must start for this test: {e}"),
    };
    let url = server.endpoint().to_string();
    let sdk = hawkins::aws::local_config(&url);
    let bucket = seed_stack(&sdk).await;
    let url = url.as_str();

    let help = Command::new(env!("CARGO_BIN_EXE_hawkins"))
        .args(["themes", "--help"])
        .output()
        .expect("hawkins runs");
    assert!(text(&help.stdout).contains("Example: hawkins themes"));

    let none = fails(url, &["themes"], 1);
    assert!(none.contains("no theme report"), "{none}");

    let report = |version: &str, fear: f64| {
        json!({"model": "themes", "corpus_version": version, "job": "hawkins-themes-v2",
            "package_version": 2, "themes": ["fear", "friendship"], "episodes": [
                {"episode": "S01E01", "records": 2, "sentences": 80, "scores": {"fear": fear, "friendship": 0.6}},
                {"episode": "S01E02", "records": 1, "sentences": 10, "scores": {"fear": 0.75, "friendship": 0.25}}]})
    };
    let s3 = S3Store::client(&sdk);
    let objects = [
        ("processed/themes/v2/episodes.json", report("v2", 0.2)),
        ("processed/themes/v1/episodes.json", report("v1", 0.9)),
        (
            "processed/themes/latest.json",
            json!({"corpus_version": "v2", "key": "processed/themes/v2/episodes.json",
                "job": "hawkins-themes-v2", "package_version": 2}),
        ),
    ];
    for (key, body) in objects {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.to_string().into_bytes().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e}"));
    }

    let table = ok(url, &["themes"], None);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("corpus version v2"), "{table}");
    assert_eq!(lines[2], "EPISODE  SENTENCES  fear   friendship", "{table}");
    assert_eq!(lines[3], "S01E01   80         0.200  0.600", "{table}");
    assert_eq!(lines[4], "S01E02   10         0.750  0.250", "{table}");

    let older = ok(url, &["themes", "--version", "v1"], None);
    assert!(older.contains("S01E01   80         0.900"), "{older}");

    let document: Value =
        serde_json::from_str(&ok(url, &["themes", "--json"], None)).expect("--json prints JSON");
    assert_eq!(document["corpus_version"], "v2");
    assert_eq!(document["episodes"][1]["scores"]["fear"], 0.75);

    let missing = fails(url, &["themes", "--version", "v9"], 1);
    assert!(
        missing.contains("processed/themes/v9/episodes.json"),
        "{missing}"
    );
}

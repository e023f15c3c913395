//! `hawkins config push`, run as a user runs it against the local AWS: a file with problems is
//! refused with every problem and exit 3, and nothing reaches the bucket; a valid file lands at the
//! stack's config location (or `--to`), and the command names the place and the new version.

use std::path::PathBuf;
use std::process::{Command, Output};

use hawkins::aws::s3::S3Store;
use hawkins_localaws::LocalAws;
use serde_json::Value;

const CONFIG: &str = "tests/fixtures/training.toml";

/// A stack with a bucket and the outputs the CLI looks up (no ConfigUri: a stack
/// deployed before it, whose config place is the bucket's config/hawkins.toml).
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

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `hawkins config push <args> --endpoint-url <endpoint>` from the workspace root, with
/// nothing from the caller's AWS environment.
fn push(endpoint: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hawkins"));
    command
        .current_dir(root())
        .args(["config", "push"])
        .args(args)
        .args(["--endpoint-url", endpoint]);
    for name in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "HAWKINS_STACK",
    ] {
        command.env_remove(name);
    }
    command.output().expect("hawkins runs")
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("ListObjectsV2");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_and_a_good_one_lands_where_the_functions_read() {
    let server = match LocalAws::start(&root()) {
        Ok(server) => server,
        Err(e) => panic!("the local AWS must start for this test: {e}"),
    };
    let url = server.endpoint().to_string();
    let sdk = hawkins::aws::local_config(&url);
    let cf = aws_sdk_cloudformation::Client::new(&sdk);
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
    let bucket = stacks.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("BucketName"))
        .and_then(|o| o.output_value())
        .expect("the stack has a bucket")
        .to_string();
    let s3 = S3Store::client(&sdk);
    // Versioned, as the template's bucket is.
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect("PutBucketVersioning");

    // Two problems: both printed, exit 3, nothing uploaded.
    let dir = std::env::temp_dir().join(format!("hawkins-config-push-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = std::fs::read_to_string(root().join(CONFIG)).expect("the test config");
    let bad = good.replacen(
        "quiet_period_seconds = 4",
        "quiet_period_seconds = 0\nproject_tagg = \"hawkins\"",
        1,
    );
    let bad_path = dir.join("bad.toml");
    std::fs::write(&bad_path, &bad).expect("write");
    let bad_path = bad_path.display().to_string();
    let refused = push(&url, &[&bad_path]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{bad_path}:4:")) && stderr.contains("quiet_period_seconds"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{bad_path}:5:")) && stderr.contains("project_tagg"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 problems; the configuration was not accepted"),
        "{stderr}"
    );
    let refused = push(&url, &[&bad_path, "--json"]);
    assert_eq!(refused.status.code(), Some(3));
    let document: Value = serde_json::from_slice(&refused.stdout).expect("one JSON document");
    assert_eq!(document["valid"], false);
    assert_eq!(document["errors"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        keys(&s3, &bucket).await,
        Vec::<String>::new(),
        "nothing uploaded"
    );

    // Valid: to the stack's place, with its version.
    let pushed = push(&url, &[CONFIG]);
    let stdout = text(&pushed.stdout);
    assert!(
        pushed.status.success(),
        "{stdout}\n{}",
        text(&pushed.stderr)
    );
    let location = format!("s3://{bucket}/config/hawkins.toml");
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key("config/hawkins.toml")
        .send()
        .await
        .expect("the config was pushed");
    let version = object.version_id().expect("a versioned bucket").to_string();
    let body = object.body.collect().await.expect("body").to_vec();
    assert_eq!(text(&body), good);
    assert!(
        stdout.starts_with(&format!(
            "{CONFIG}: ok, 4 models; pushed to {location}: version {version}, ETag "
        )),
        "{stdout}"
    );

    // --to another place, --json.
    let pushed = push(
        &url,
        &[
            CONFIG,
            "--to",
            &format!("s3://{bucket}/other/h.toml"),
            "--json",
        ],
    );
    assert!(pushed.status.success(), "{}", text(&pushed.stderr));
    let document: Value = serde_json::from_slice(&pushed.stdout).expect("one JSON document");
    assert_eq!(document["location"], format!("s3://{bucket}/other/h.toml"));
    assert_eq!(document["models"], 4);
    assert!(document["version_id"].is_string(), "{document}");
    let mut stored = keys(&s3, &bucket).await;
    stored.sort();
    assert_eq!(stored, ["config/hawkins.toml", "other/h.toml"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn push_has_help_with_an_example() {
    let output = Command::new(env!("CARGO_BIN_EXE_hawkins"))
        .args(["config", "push", "--help"])
        .output()
        .expect("hawkins runs");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("Example: hawkins config push"), "{stdout}");
    assert!(stdout.contains("--to"), "{stdout}");
}

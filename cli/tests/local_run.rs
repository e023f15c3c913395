//! The README's first command, run as a user runs it: `hawkins local` must finish with its
//! summary and exit 0, having taken every stage of the pipeline through the template's rules:
//! ingest, training, SageMaker's events, registration, deployment, the cost run, the alerts.

use std::process::Command;

/// Runs `hawkins <global...> local --out <a temporary folder> <extra...>` from the workspace
/// root, as a user does; it must succeed. Its standard output, and the folder.
fn run_local(name: &str, global: &[&str], extra: &[&str]) -> (String, std::path::PathBuf) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("hawkins-{name}-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_hawkins"))
        .current_dir(&root)
        .args(global)
        .args(["local", "--out"])
        .arg(&out)
        .args(extra)
        .output()
        .expect("the hawkins binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    (stdout, out)
}

#[test]
fn the_local_run_takes_the_samples_from_upload_to_endpoints_and_costs() {
    let (stdout, out) = run_local("local-run", &[], &[]);
    assert!(
        stdout.contains("7 files, 6 processed, 1 quarantined"),
        "{stdout}"
    );
    assert!(
        stdout.contains("QUARANTINED raw/notes.srt: no_cues at line 1"),
        "{stdout}"
    );
    assert!(stdout.contains("training jobs started: 6"), "{stdout}");
    // The lifecycle: gated packages approved and deployed, the ungated one held, the scripted
    // failure heard (tests/fixtures/local/sagemaker.json).
    assert!(
        stdout.contains("hawkins-chatbot-eleven           v1   Approved"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hawkins-themes                   v1   PendingManualApproval"),
        "{stdout}"
    );
    assert!(stdout.contains("endpoints: 4"), "{stdout}");
    assert!(stdout.contains("serverless 3072 MB"), "{stdout}");
    assert!(
        stdout.contains("Hawkins: training of chatbot-dustin failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Hawkins: themes waits for your approval"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Hawkins: chatbot-eleven is serving the new version"),
        "{stdout}"
    );
    assert!(stdout.contains("costs ("), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    let report =
        std::fs::read_to_string(out.join("costs.html")).expect("the cost report was copied");
    assert!(
        report.contains("chatbot-eleven"),
        "the report prices the jobs"
    );
    let alerts =
        std::fs::read_to_string(out.join("alerts.txt")).expect("the alert texts were written");
    assert!(alerts.contains("CUDA out of memory"));
    let page =
        std::fs::read_to_string(out.join("corpus.html")).expect("the network page was copied");
    assert!(page.contains("Eleven"));
    let _ = std::fs::remove_dir_all(&out);
}

/// The README's `cargo lambda` recipe, without cargo-lambda: `hawkins local up` must print and
/// write the functions' environment, hold the upload `events/s3-object-created.json` announces in
/// the bucket that sample names, so that the real ingest handler, configured from that environment
/// alone, processes the sample event; and Ctrl-C must stop it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_up_serves_the_samples_to_the_functions_and_stops_on_ctrl_c() {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("hawkins-local-up-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_hawkins"))
        .current_dir(&root)
        .args(["local", "up", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the hawkins binary runs");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut env = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("stdout reads");
        let (name, value) = line.split_once('=').expect("NAME=value lines");
        env.insert(name.to_string(), value.to_string());
        if name == "HAWKINS_SAGEMAKER_ROLE_ARN" {
            break;
        }
    }
    let written = std::fs::read_to_string(out.join("lambda.env")).expect("lambda.env written");
    assert_eq!(written.lines().count(), env.len(), "{written}");
    assert_eq!(env["HAWKINS_BUCKET"], "hawkins-pipeline-123456789012");
    assert_eq!(
        env["HAWKINS_CONFIG_URI"],
        "s3://hawkins-pipeline-123456789012/config/hawkins.toml"
    );
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "test");
    assert!(
        env["AWS_ENDPOINT_URL"].starts_with("http://127.0.0.1:"),
        "{env:?}"
    );

    let sdk = hawkins::aws::local_config(&env["AWS_ENDPOINT_URL"]);
    let store = hawkins::aws::s3::S3Store::from_config(&sdk, &env["HAWKINS_BUCKET"]);
    let notifier =
        hawkins::aws::sns::SnsNotifier::from_config(&sdk, env["HAWKINS_ALERT_TOPIC_ARN"].clone());
    let ingest = hawkins::ingest::Ingest {
        store: &store,
        notifier: &notifier,
        location: format!("s3://{}", env["HAWKINS_BUCKET"]),
        network_window: hawkins::ingest::DEFAULT_NETWORK_WINDOW,
    };
    let sample = std::fs::read_to_string(root.join("events/s3-object-created.json"))
        .expect("the sample event");
    let event: serde_json::Value = serde_json::from_str(&sample).expect("the sample is JSON");
    let report = hawkins::ingest::handle_event(&ingest, &env["HAWKINS_BUCKET"], event)
        .await
        .expect("ingest handles the sample against the local stack");
    let report = serde_json::to_value(&report).expect("the report serialises");
    assert_eq!(report["objects"][0]["outcome"], "processed", "{report}");
    assert_eq!(
        report["objects"][0]["source"], "subtitles/S02E03",
        "{report}"
    );

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let status = child.wait().expect("hawkins local up ends");
    assert!(status.success(), "Ctrl-C ends it cleanly: {status:?}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Runs `hawkins --json local` with the given extra arguments; the summary it printed.
fn local_json(name: &str, extra: &[&str]) -> serde_json::Value {
    let (stdout, out) = run_local(name, &["--json"], extra);
    let _ = std::fs::remove_dir_all(&out);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{name}: {e}\n{stdout}"))
}

/// What a user gets out of a run, without what depends on the clock or on retries: the uploads'
/// fates, the corpus version, the jobs SageMaker holds, the registry, the endpoints and the
/// alerts (as a sorted list, so a lost or repeated alert shows). The train function's own report
/// is left out: a delivery after a crash finds the jobs it started already recorded, and says
/// "unchanged".
fn results(summary: &serde_json::Value) -> serde_json::Value {
    let mut alerts: Vec<String> = summary["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a[0].to_string())
        .collect();
    alerts.sort();
    serde_json::json!({
        "files": summary["files"],
        "processed": summary["processed"],
        "quarantined": summary["quarantined"],
        "corpus": summary["manifest"]["version"],
        "jobs": summary["deployment"]["jobs"],
        "packages": summary["deployment"]["packages"],
        "endpoints": summary["deployment"]["endpoints"],
        "transforms": summary["deployment"]["transforms"],
        "alerts": alerts,
    })
}

/// The reliability campaign: the whole local pipeline with a fifth of the functions' calls to
/// the local AWS throttled, failed or timed out and some invocations crashing between two writes
/// (seeded, so a failure reproduces with `hawkins local --faults 7`). It must end as the run
/// without faults does: no upload, job, package, endpoint or alert lost, none repeated.
#[test]
fn the_local_run_under_injected_faults_ends_as_the_run_without() {
    let calm = local_json("calm", &[]);
    let stormy = local_json("faults", &["--faults", "7"]);
    assert!(calm["faults"].is_null());
    let faults = &stormy["faults"];
    // The figures, for whoever reads the test's output.
    println!("{faults}");
    let count = |field: &str| faults[field].as_u64().unwrap_or_default();
    assert!(count("calls") > 500, "{faults}");
    let injected = count("throttled") + count("server_errors") + count("timeouts");
    assert!(
        injected * 100 / count("calls") >= 15,
        "about a fifth of the calls fail: {faults}"
    );
    assert!(count("crashes") >= 1, "{faults}");
    assert!(
        count("retries") > 0 && count("redeliveries") > 0,
        "{faults}"
    );
    assert_eq!(stormy["failures"], serde_json::json!([]), "{stormy}");
    let (calm, stormy) = (results(&calm), results(&stormy));
    assert!(
        calm["alerts"].as_array().is_some_and(|a| a.len() > 5),
        "{calm}"
    );
    assert!(
        calm["jobs"].as_array().is_some_and(|j| j.len() >= 6),
        "{calm}"
    );
    assert_eq!(stormy, calm);
}

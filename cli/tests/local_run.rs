//! The README's first command, run as a user runs it: `hawkins local` must finish with its
//! summary and exit 0, having taken every stage of the pipeline through the template's rules:
//! ingest, training, SageMaker's events, registration, deployment, the cost run, the alerts.

use std::process::Command;

#[test]
fn the_local_run_takes_the_samples_from_upload_to_endpoints_and_costs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("hawkins-local-run-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_hawkins"))
        .current_dir(&root)
        .args(["local", "--out"])
        .arg(&out)
        .output()
        .expect("the hawkins binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
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

//! The README's first command, run as a user runs it: `hawkins local` must finish with its
//! summary and exit 0.

use std::process::Command;

#[test]
fn the_local_run_processes_the_samples_and_starts_training() {
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
    let page =
        std::fs::read_to_string(out.join("corpus.html")).expect("the network page was copied");
    assert!(page.contains("Eleven"));
    let _ = std::fs::remove_dir_all(&out);
}

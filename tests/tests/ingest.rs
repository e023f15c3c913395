//! Ingest end to end: the real handler against the local AWS, asserting on what a user would find
//! in the bucket and in their inbox (the SQS queue subscribed to the alert topic).

use std::collections::BTreeMap;

use hawkins_tests::{
    Envelope, build_corpus, deliver, event, fixture, read, read_json, sample_corpus, stack,
};

const BAD: [&str; 5] = [
    "empty.srt",
    "binary.srt",
    "notes.srt",
    "broken.csv",
    "readme.txt",
];

async fn upload_all(stack: &hawkins_localaws::LocalStack) -> Vec<String> {
    let mut keys = Vec::new();
    for (name, bytes) in sample_corpus() {
        let key = format!("raw/season 1/{name}");
        stack.upload(&key, bytes).await.expect("upload");
        keys.push(key);
    }
    for name in BAD {
        let key = format!("raw/{name}");
        stack
            .upload(&key, fixture(&format!("bad/{name}")))
            .await
            .expect("upload");
        keys.push(key);
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_become_datasets_networks_and_a_manifest() {
    let stack = stack().await;
    let keys = upload_all(&stack).await;
    for key in &keys {
        deliver(&stack, event(Envelope::S3Notification, &stack.bucket, key)).await;
    }
    assert!(
        read(&stack, "datasets/latest.json").await.is_none(),
        "an upload builds no corpus"
    );
    let corpus = build_corpus(&stack).await;
    assert!(corpus.latest_changed);

    // Cleaned dialogue, cue by cue, speakers attributed, no cues or tags left.
    let processed = read(&stack, "processed/subtitles/S01E01.jsonl")
        .await
        .expect("episode 1");
    let lines: Vec<serde_json::Value> = processed
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("json line"))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["episode"] == "S01E01" && l["start_ms"].is_u64())
    );
    let text = String::from_utf8_lossy(&processed);
    for residue in ["CRICKETS", "<i>", "♪", "[SIGHS]", "MIKE:"] {
        assert!(
            !text.contains(residue),
            "{residue} left in the cleaned dialogue"
        );
    }
    let mike = lines
        .iter()
        .find(|l| l["text"] == "The Demogorgon is getting closer. Roll the dice, Will.");
    assert_eq!(
        mike.map(|l| l["speaker"].clone()),
        Some("Mike Wheeler".into())
    );
    // UTF-16 and Windows-1252 episodes decode.
    let e2 = String::from_utf8(
        read(&stack, "processed/subtitles/S01E02.jsonl")
            .await
            .expect("e2"),
    )
    .expect("utf-8");
    assert!(e2.contains("Do you copy? Over."));
    let e3 = String::from_utf8(
        read(&stack, "processed/subtitles/S01E03.jsonl")
            .await
            .expect("e3"),
    )
    .expect("utf-8");
    assert!(e3.contains("The café is closed") && e3.contains("You’re going to need a bat."));

    // The manifest names every source and dataset, and every dataset it names exists.
    let manifest = read_json(&stack, "datasets/latest.json").await;
    let version = manifest["version"].as_str().expect("version").to_string();
    assert_eq!(version.len(), 16);
    assert_eq!(manifest["sources"].as_array().map(Vec::len), Some(6));
    let datasets = manifest["datasets"].as_array().expect("datasets");
    let mut characters = Vec::new();
    for dataset in datasets {
        let key = dataset["key"].as_str().expect("key");
        assert!(key.starts_with(&format!("datasets/{version}/")), "{key}");
        let bytes = read(&stack, key)
            .await
            .unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(
            bytes.iter().filter(|b| **b == b'\n').count() as u64,
            dataset["records"].as_u64().expect("records")
        );
        if let Some(c) = dataset["character"].as_str() {
            characters.push(c.to_string());
        }
    }
    for who in [
        "Eleven",
        "Mike Wheeler",
        "Dustin Henderson",
        "Jim Hopper",
        "Joyce Byers",
    ] {
        assert!(
            characters.contains(&who.to_string()),
            "no chatbot set for {who}: {characters:?}"
        );
    }
    let chat = read(&stack, &format!("datasets/{version}/chatbot/eleven.jsonl"))
        .await
        .expect("eleven");
    let first: serde_json::Value =
        serde_json::from_slice(chat.split(|b| *b == b'\n').next().expect("a line")).expect("json");
    assert_eq!(first["messages"][2]["role"], "assistant");
    assert!(
        read(
            &stack,
            &format!("datasets/{version}/locations/locations.jsonl")
        )
        .await
        .is_some()
    );
    assert!(
        read(&stack, &format!("datasets/{version}/themes/batches.jsonl"))
            .await
            .is_some()
    );

    // Character networks: per episode and for the corpus, JSON and a page.
    let network = read_json(&stack, "processed/network/corpus.json").await;
    assert!(network["edges"].as_array().is_some_and(|e| !e.is_empty()));
    let page = String::from_utf8(
        read(&stack, "processed/network/corpus.html")
            .await
            .expect("page"),
    )
    .expect("utf-8");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("Jim Hopper"));
    assert!(
        read(&stack, "processed/network/episodes/S01E02.html")
            .await
            .is_some()
    );

    // Each bad upload: copied to quarantine with a reason naming what is wrong, one alert each.
    let reason = read_json(&stack, "quarantine/notes.srt.reason.json").await;
    assert_eq!(reason["reason"]["code"], "no_cues");
    assert_eq!(reason["reason"]["line"], 1);
    let reason = read_json(&stack, "quarantine/broken.csv.reason.json").await;
    assert_eq!(
        (
            reason["reason"]["code"].as_str(),
            reason["reason"]["line"].as_u64()
        ),
        (Some("bad_transcript"), Some(3))
    );
    assert_eq!(
        read(&stack, "quarantine/binary.srt").await,
        Some(fixture("bad/binary.srt"))
    );
    let alerts = stack.delivered().await.expect("inbox");
    let mut codes: Vec<_> = alerts
        .iter()
        .map(|a| a.attributes.get("code").cloned().unwrap_or_default())
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "bad_transcript",
            "binary_file",
            "empty_file",
            "no_cues",
            "unsupported_type"
        ]
    );
    let notes = alerts
        .iter()
        .find(|a| a.subject.contains("notes.srt"))
        .expect("notes alert");
    assert!(
        notes.message.contains("line 1") && notes.message.contains("What to do"),
        "{}",
        notes.message
    );
    assert_eq!(
        notes.attributes.get("kind").map(String::as_str),
        Some("quarantine")
    );

    // The raw uploads are untouched: one version each, same bytes.
    let versions = stack.versions().await.expect("versions");
    for key in &keys {
        assert_eq!(versions.get(key), Some(&1), "{key}");
    }
    assert_eq!(
        read(&stack, "raw/binary.srt").await,
        Some(fixture("bad/binary.srt"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_every_event_three_times_changes_nothing() {
    let stack = stack().await;
    let keys = upload_all(&stack).await;
    for key in &keys {
        deliver(&stack, event(Envelope::S3Notification, &stack.bucket, key)).await;
    }
    build_corpus(&stack).await;
    let versions_once = stack.versions().await.expect("versions");
    let alerts_once = stack.delivered().await.expect("inbox");
    assert_eq!(alerts_once.len(), BAD.len());

    for round in 0..3 {
        for key in &keys {
            let envelope = if round % 2 == 0 {
                Envelope::S3Notification
            } else {
                Envelope::EventBridge
            };
            deliver(&stack, event(envelope, &stack.bucket, key)).await;
        }
        assert_eq!(
            build_corpus(&stack).await.written,
            0,
            "a rebuild wrote files"
        );
    }
    assert_eq!(
        stack.versions().await.expect("versions"),
        versions_once,
        "replays created object versions"
    );
    assert_eq!(
        stack.delivered().await.expect("inbox"),
        Vec::new(),
        "replays sent alerts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_keys_with_spaces_and_unicode_are_read() {
    let stack = stack().await;
    let key = "raw/Saison 1/Épisode S01E04 – ♪ final+cut.srt";
    stack
        .upload(key, fixture("corpus/Hawkins.Sample.S01E01.720p.HI.srt"))
        .await
        .expect("upload");
    let report = deliver(&stack, event(Envelope::EventBridge, &stack.bucket, key)).await;
    let outcome = serde_json::to_value(&report.objects[0]).expect("json");
    assert_eq!(outcome["outcome"], "processed", "{outcome}");
    let entry = read_json(&stack, "manifest/sources/subtitles/S01E04.json").await;
    assert_eq!(entry["raw_key"], key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_upload_makes_a_new_version_and_the_same_bytes_do_not() {
    let stack = stack().await;
    let key = "raw/transcriptS01E01.csv";
    stack
        .upload(key, fixture("corpus/transcriptS01E01.csv"))
        .await
        .expect("upload");
    deliver(&stack, event(Envelope::S3Notification, &stack.bucket, key)).await;
    build_corpus(&stack).await;
    let first = read_json(&stack, "datasets/latest.json").await["version"].clone();

    // The same bytes uploaded again (a second later, so S3's LastModified moves): a new raw
    // version, but nothing new downstream.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    stack
        .upload(key, fixture("corpus/transcriptS01E01.csv"))
        .await
        .expect("upload");
    let before: BTreeMap<_, _> = stack
        .versions()
        .await
        .expect("versions")
        .into_iter()
        .filter(|(k, _)| !k.starts_with("raw/"))
        .collect();
    deliver(&stack, event(Envelope::S3Notification, &stack.bucket, key)).await;
    assert_eq!(build_corpus(&stack).await.written, 0);
    let after: BTreeMap<_, _> = stack
        .versions()
        .await
        .expect("versions")
        .into_iter()
        .filter(|(k, _)| !k.starts_with("raw/"))
        .collect();
    assert_eq!(before, after);

    // A changed file supersedes the old one: a new corpus version, the old one kept.
    let mut changed = fixture("corpus/transcriptS01E01.csv");
    changed.extend_from_slice(b"Eleven,\"Mouth breather.\"\n");
    stack.upload(key, changed).await.expect("upload");
    deliver(&stack, event(Envelope::S3Notification, &stack.bucket, key)).await;
    build_corpus(&stack).await;
    let second = read_json(&stack, "datasets/latest.json").await["version"].clone();
    assert_ne!(first, second);
    let old = read_json(
        &stack,
        &format!("datasets/{}/manifest.json", first.as_str().expect("str")),
    )
    .await;
    assert_eq!(old["version"], first);
    let eleven = read(
        &stack,
        &format!(
            "datasets/{}/chatbot/eleven.jsonl",
            second.as_str().expect("str")
        ),
    )
    .await
    .expect("eleven");
    assert!(String::from_utf8_lossy(&eleven).contains("Mouth breather."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_end_with_every_source_in_the_manifest() {
    // Six invocations at once, as six concurrent Lambdas would run for a burst of uploads: each
    // writes its source and signals it; the build after them must include all.
    let stack = std::sync::Arc::new(stack().await);
    let mut keys = Vec::new();
    for (name, bytes) in sample_corpus() {
        let key = format!("raw/{name}");
        stack.upload(&key, bytes).await.expect("upload");
        keys.push(key);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for key in keys.clone() {
        let stack = stack.clone();
        tasks.spawn(async move {
            deliver(&stack, event(Envelope::S3Notification, &stack.bucket, &key)).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("an invocation panicked");
    }
    let pending = read_json(&stack, hawkins::manifest::PENDING_KEY).await;
    assert!(
        keys.iter().any(|k| pending["raw_key"] == k.as_str()),
        "the last change names one of the uploads: {pending}"
    );
    build_corpus(&stack).await;
    let manifest = read_json(&stack, "datasets/latest.json").await;
    let mut raw: Vec<String> = manifest["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["raw_key"].as_str().unwrap_or_default().to_string())
        .collect();
    raw.sort();
    assert_eq!(raw, keys);
}

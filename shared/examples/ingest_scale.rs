//! Ingest at scale, over a folder standing in for the bucket (the same code as the Lambdas, without
//! the SDK). Used by `shared/benches/ingest_scale.sh`, which runs each step in its own process
//! to measure its peak memory.
//!
//! Usage:
//! - `ingest_scale synth <corpus-dir> <out-dir> <sources>`: writes `sources` files made from the
//!   corpus's subtitles and transcripts; past the first copy, each copy is another "season" whose
//!   dialogue lines carry the copy's number, so no two copies dedupe into one.
//! - `ingest_scale fill <bucket-dir> <file>...`: ingests the files, no corpus build (setup).
//! - `ingest_scale upload <bucket-dir> <file>`: one upload as the ingest function handles it (the
//!   file is put under `raw/`, then read back, processed and signalled); prints the requests it
//!   made and the time it took.
//! - `ingest_scale build <bucket-dir>`: the corpus build the train function runs once uploads
//!   settle; prints its requests, time and outcome.
//! - `ingest_scale large <file> utf-16|windows-1252 <bytes>`: writes a subtitle file of about
//!   `bytes` bytes in that encoding (one long episode of short cues, accented words included).

use std::path::{Path, PathBuf};
use std::time::Instant;

use hawkins::corpus::CorpusBuild;
use hawkins::fakes::Watched;
use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, Ingest};
use hawkins::store::{AlertLog, DirStore, Object, ObjectStore};

/// The folder standing in for the bucket, each call written down: a call is one S3 request (a
/// write that compares the stored hash first is two, HeadObject and PutObject; a listing is one
/// per 1,000 keys, and the ones counted here stay under that).
type Bucket<'a> = Watched<'a, DirStore>;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["synth", corpus, out, sources] => {
            synth(Path::new(corpus), Path::new(out), sources.parse()?)
        }
        ["fill", bucket, files @ ..] => runtime.block_on(fill(bucket, files)),
        ["upload", bucket, file] => runtime.block_on(upload(bucket, file)),
        ["build", bucket] => runtime.block_on(build(bucket)),
        ["large", file, encoding, bytes] => large(Path::new(file), encoding, bytes.parse()?),
        _ => Err("usage: ingest_scale synth|fill|upload|build ... (see the file's header)".into()),
    }
}

/// Writes `sources` files from the corpus: copy 0 is the corpus itself, copy k (k ≥ 1) moves each
/// episode to season 10k + its season and marks its dialogue lines with k.
fn synth(corpus: &Path, out: &Path, sources: usize) -> Result<(), Error> {
    let mut originals: Vec<PathBuf> = Vec::new();
    for folder in ["subtitles", "transcripts"] {
        for entry in std::fs::read_dir(corpus.join(folder))? {
            originals.push(entry?.path());
        }
    }
    originals.sort();
    if originals.is_empty() {
        return Err(format!("no subtitles or transcripts under {}", corpus.display()).into());
    }
    std::fs::create_dir_all(out)?;
    for n in 0..sources {
        let (copy, original) = (n / originals.len(), &originals[n % originals.len()]);
        let name = original
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(original)?;
        if copy == 0 {
            std::fs::write(out.join(&name), bytes)?;
            continue;
        }
        let season = |name: &str| -> Option<(usize, usize)> {
            let at = name.find('S')?;
            let s: usize = name.get(at + 1..at + 3)?.parse().ok()?;
            (name.get(at + 3..at + 4)? == "E").then_some((at, s))
        };
        let Some((at, s)) = (0..name.len())
            .filter(|i| name.is_char_boundary(*i))
            .find_map(|i| season(&name[i..]).map(|(at, s)| (i + at, s)))
        else {
            continue;
        };
        let renamed = format!("{}S{:02}{}", &name[..at], 10 * copy + s, &name[at + 3..]);
        let text = String::from_utf8_lossy(&bytes);
        let marked: String = text
            .lines()
            .map(|line| {
                let t = line.trim();
                let is_dialogue = !t.is_empty()
                    && !t.chars().all(|c| c.is_ascii_digit() || c == '\u{feff}')
                    && !t.contains("-->")
                    && t != "name,line";
                match (is_dialogue, t.strip_suffix('"')) {
                    (false, _) => format!("{line}\r\n"),
                    (true, Some(quoted)) => format!("{quoted} take {copy}\"\r\n"),
                    (true, None) => format!("{t} take {copy}\r\n"),
                }
            })
            .collect();
        std::fs::write(out.join(renamed), marked)?;
    }
    Ok(())
}

/// A long episode in `encoding`, about `size` bytes.
fn large(file: &Path, encoding: &str, size: usize) -> Result<(), Error> {
    let speakers = [
        "MIKE", "ELEVEN", "DUSTIN", "LUCAS", "WILL", "JOYCE", "HOPPER",
    ];
    let (per_char, bom): (usize, &[u8]) = match encoding {
        "utf-16" => (2, b"\xFF\xFE"),
        "windows-1252" => (1, b""),
        other => return Err(format!("unknown encoding {other}").into()),
    };
    let mut text = String::new();
    let mut n = 0usize;
    while (text.len() + 200) * per_char < size {
        n += 1;
        let (start, end) = (n * 2000, n * 2000 + 1500);
        let time = |ms: usize| {
            format!(
                "{:02}:{:02}:{:02},{:03}",
                ms / 3_600_000,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000
            )
        };
        text.push_str(&format!(
            "{n}\r\n{} --> {}\r\n{}: Line {n}, café at the arcade?\r\nNot without Will.\r\n\r\n",
            time(start),
            time(end),
            speakers[n % speakers.len()]
        ));
    }
    let mut bytes = bom.to_vec();
    if per_char == 2 {
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    } else {
        bytes.extend_from_slice(&encoding_rs::WINDOWS_1252.encode(&text).0);
    }
    std::fs::write(file, bytes)?;
    Ok(())
}

fn ingest<'a>(store: &'a Bucket<'a>, alerts: &'a AlertLog) -> Ingest<'a, Bucket<'a>, AlertLog> {
    Ingest {
        store,
        notifier: alerts,
        location: "bench".into(),
        network_window: DEFAULT_NETWORK_WINDOW,
    }
}

async fn fill(bucket: &str, files: &[&str]) -> Result<(), Error> {
    let folder = DirStore::new(bucket);
    let store = Watched::new(&folder);
    let alerts = AlertLog::default();
    let ingest = ingest(&store, &alerts);
    for file in files {
        let key = raw_key(file);
        let object = Object {
            bytes: std::fs::read(file)?,
            last_modified: None,
        };
        ingest.upload(&key, &object).await?;
    }
    Ok(())
}

async fn upload(bucket: &str, file: &str) -> Result<(), Error> {
    let folder = DirStore::new(bucket);
    let store = Watched::new(&folder);
    let key = raw_key(file);
    store
        .put(&key, std::fs::read(file)?, "text/plain", "")
        .await?;
    store.forget();
    let alerts = AlertLog::default();
    let started = Instant::now();
    let outcome = ingest(&store, &alerts).object(&key).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "upload ms={ms:.1} requests={} outcome={}",
        store.calls().len(),
        serde_json::to_string(&outcome)?
    );
    Ok(())
}

async fn build(bucket: &str) -> Result<(), Error> {
    let folder = DirStore::new(bucket);
    let store = Watched::new(&folder);
    let started = Instant::now();
    let outcome = CorpusBuild {
        store: &store,
        network_window: DEFAULT_NETWORK_WINDOW,
    }
    .run()
    .await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "build ms={ms:.1} requests={} outcome={}",
        store.calls().len(),
        serde_json::to_string(&outcome)?
    );
    Ok(())
}

fn raw_key(file: &str) -> String {
    let name = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("raw/{name}")
}

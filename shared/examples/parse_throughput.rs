//! Decode + parse + clean throughput over a folder of .srt files, on one core, text in memory.
//!
//! `cargo run --profile bench -p hawkins-shared --example parse_throughput -- [DIR] [ITERATIONS]`
//! (the bench profile is opt-level 3, as `cargo bench`; `--release` measures the build the
//! functions ship, where this crate is opt-level 3 too). DIR defaults to the shared subtitle corpus
//! beside the checkout.
//!
//! Prints one line of JSON: files, bytes, cues, lines, a digest of the cleaned lines (SHA-256 of
//! `start<TAB>end<TAB>speaker<TAB>text<LF>` per line, as `benches/reference_srt.py` computes it),
//! and times. `best_s` is the sum of each file's best time, the figure a busy machine disturbs
//! least and the one `mb_per_s` (10^6 bytes per second) is taken from; `pass_best_s` and
//! `pass_median_s` are whole passes over the folder. Each file's time covers decoding, parsing,
//! cleaning and dropping what they made. `benches/parse_vs_python.sh` reads it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hawkins::{clean, srt, text};
use sha2::{Digest, Sha256};

/// A cast of the size the pipeline knows, looked up without allocating: it stands in for the
/// cast lookup, which gives the cast's own name to borrow, as this gives a constant.
fn speaker_of(label: &str) -> Option<&'static str> {
    const CAST: [&str; 12] = [
        "Mike", "Dustin", "Lucas", "Will", "Eleven", "Joyce", "Hopper", "Nancy", "Steve",
        "Jonathan", "Max", "Robin",
    ];
    CAST.iter()
        .find(|name| name.eq_ignore_ascii_case(label))
        .copied()
}

/// One file, as timed: its cue and line counts.
fn read(file: &[u8]) -> (usize, usize) {
    let decoded = text::decode(file).expect("decodable");
    let subs = srt::parse(&decoded.text).expect("parsable");
    let arena = clean::Bump::new();
    let lines = std::hint::black_box(clean::clean(&subs, &speaker_of, &arena));
    (subs.cues.len(), lines.len())
}

/// The cleaned lines of every file, hashed as the Python reference hashes its own.
fn digest(files: &[Vec<u8>]) -> String {
    let mut sha = Sha256::new();
    for file in files {
        let decoded = text::decode(file).expect("decodable");
        let subs = srt::parse(&decoded.text).expect("parsable");
        let arena = clean::Bump::new();
        for line in clean::clean(&subs, &speaker_of, &arena) {
            let ms = |t: Option<u64>| t.map_or(String::new(), |t| t.to_string());
            let speaker = line.speaker.as_deref().unwrap_or_default();
            let row = format!(
                "{}\t{}\t{speaker}\t{}\n",
                ms(line.start_ms),
                ms(line.end_ms),
                line.text
            );
            sha.update(row.as_bytes());
        }
    }
    hex::encode(sha.finalize())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/subtitles")
    });
    let iterations: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(30);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "no subtitle folder at {}: nothing to measure",
            dir.display()
        );
        std::process::exit(2);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("srt")))
        .collect();
    paths.sort();
    let files: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("readable file"))
        .collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    let (cues, lines) = files
        .iter()
        .map(|f| read(f))
        .fold((0, 0), |(c, l), (fc, fl)| (c + fc, l + fl));

    let mut file_best = vec![f64::INFINITY; files.len()];
    let mut passes = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let pass = Instant::now();
        for (best, file) in file_best.iter_mut().zip(&files) {
            let started = Instant::now();
            std::hint::black_box(read(file));
            *best = best.min(started.elapsed().as_secs_f64());
        }
        passes.push(pass.elapsed().as_secs_f64());
    }
    passes.sort_by(f64::total_cmp);
    let best: f64 = file_best.iter().sum();
    println!(
        "{{\"files\":{},\"bytes\":{bytes},\"cues\":{cues},\"lines\":{lines},\"digest\":\"{}\",\"best_s\":{best:.6},\"pass_best_s\":{:.6},\"pass_median_s\":{:.6},\"mb_per_s\":{:.1}}}",
        files.len(),
        digest(&files),
        passes[0],
        passes[passes.len() / 2],
        bytes as f64 / best / 1e6
    );
}

//! Decode + parse + clean throughput over a folder of .srt files, on one core, text in memory.
//!
//! `cargo run --profile bench -p hawkins-shared --example parse_throughput -- [DIR] [ITERATIONS]`
//! (the bench profile is opt-level 3, as `cargo bench`; `--release` measures the size-optimised
//! build the functions ship). DIR defaults to the shared subtitle corpus beside the checkout.
//! Prints one line of JSON: files, bytes, cues, lines, best and median seconds of an iteration, and
//! MB/s (10^6 bytes per second) at the best one, which a busy machine disturbs least.
//! `benches/parse_vs_python.sh` reads it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hawkins::{clean, srt, text};

/// A cast of the size the pipeline knows, looked up without allocating, as the real lookup is.
fn speaker_of(label: &str) -> Option<String> {
    const CAST: [&str; 12] = [
        "Mike", "Dustin", "Lucas", "Will", "Eleven", "Joyce", "Hopper", "Nancy", "Steve",
        "Jonathan", "Max", "Robin",
    ];
    CAST.iter()
        .find(|name| name.eq_ignore_ascii_case(label))
        .map(|name| (*name).to_owned())
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

    let mut times = Vec::with_capacity(iterations);
    let (mut cues, mut lines) = (0, 0);
    for _ in 0..iterations.max(1) {
        (cues, lines) = (0, 0);
        let started = Instant::now();
        for file in &files {
            let decoded = text::decode(file).expect("decodable");
            let subs = srt::parse(&decoded.text).expect("parsable");
            cues += subs.cues.len();
            lines += std::hint::black_box(clean::clean(&subs, &speaker_of)).len();
        }
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    println!(
        "{{\"files\":{},\"bytes\":{bytes},\"cues\":{cues},\"lines\":{lines},\"best_s\":{best:.6},\"median_s\":{median:.6},\"mb_per_s\":{:.1}}}",
        files.len(),
        bytes as f64 / best / 1e6
    );
}

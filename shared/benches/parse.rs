//! Subtitle reading throughput on the real corpus: decode, parse and clean, each alone and all
//! three together, in bytes per second of .srt file.
//!
//! `cargo bench -p hawkins-shared --bench parse`. The corpus is the shared folder beside the
//! checkout (`../shared/corpus/subtitles`, or `HAWKINS_SUBTITLES`); without it the bench says so
//! and measures nothing.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hawkins::{clean, srt, text};

/// A cast lookup of the cost the pipeline's has: a few names, compared without allocating.
fn speaker_of(label: &str) -> Option<&'static str> {
    const CAST: [&str; 12] = [
        "Mike", "Dustin", "Lucas", "Will", "Eleven", "Joyce", "Hopper", "Nancy", "Steve",
        "Jonathan", "Max", "Robin",
    ];
    CAST.iter()
        .find(|name| name.eq_ignore_ascii_case(label))
        .copied()
}

fn corpus() -> Option<Vec<Vec<u8>>> {
    let dir = std::env::var_os("HAWKINS_SUBTITLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/corpus/subtitles"
            ))
        });
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("srt")))
        .collect();
    paths.sort();
    let files: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    (!files.is_empty()).then_some(files)
}

fn bench(c: &mut Criterion) {
    let Some(files) = corpus() else {
        eprintln!(
            "no subtitle corpus beside the checkout (set HAWKINS_SUBTITLES to a folder of .srt files): nothing to measure"
        );
        return;
    };
    let bytes: u64 = files.iter().map(|f| f.len() as u64).sum();
    let texts: Vec<String> = files
        .iter()
        .map(|f| text::decode(f).expect("corpus decodes").text.into_owned())
        .collect();
    let parsed: Vec<srt::Subtitles<'_>> = texts
        .iter()
        .map(|t| srt::parse(t).expect("corpus parses"))
        .collect();

    let mut group = c.benchmark_group(format!("subtitles ({} files)", files.len()));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("decode", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| {
                    text::decode(black_box(f))
                        .map(|d| d.text.len())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| srt::parse(black_box(t)).map(|s| s.cues.len()).unwrap_or(0))
                .sum::<usize>()
        })
    });
    group.bench_function("clean", |b| {
        b.iter(|| {
            parsed
                .iter()
                .map(|s| clean::clean(black_box(s), &speaker_of, &clean::Bump::new()).len())
                .sum::<usize>()
        })
    });
    group.bench_function("decode+parse+clean", |b| {
        b.iter(|| {
            let mut lines = 0;
            for file in &files {
                let decoded = text::decode(black_box(file)).expect("corpus decodes");
                let subs = srt::parse(&decoded.text).expect("corpus parses");
                lines += clean::clean(&subs, &speaker_of, &clean::Bump::new()).len();
            }
            lines
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

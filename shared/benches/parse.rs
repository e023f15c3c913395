//! Subtitle reading throughput on the real corpus: decode, parse and clean, each alone and all
//! three together, in bytes per second of .srt file.
//!
//! `cargo bench -p hawkins-shared --bench parse`. The corpus is the shared folder beside the
//! checkout (`../shared/corpus/subtitles`, or `HAWKINS_SUBTITLES`); without it the bench says so
//! and measures nothing on it.
//!
//! A second group needs no corpus: files of 1000 cues of one kind each (a sound cue, one plain
//! line, two lines, dialogue dashes, a label, a sound cue before words, curly punctuation),
//! parsed and cleaned, in cues per second: which kind of cue costs what.

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

/// One cue text of each kind the corpus is made of, in a CRLF file as the corpus is.
const CUE_KINDS: [(&str, &str); 7] = [
    ("sound cue", "(CRICKETS CHIRPING)"),
    ("one plain line", "What are you doing here?"),
    (
        "two plain lines",
        "What are you doing here?\r\nI thought you left.",
    ),
    ("dialogue dashes", "- What are you doing?\r\n- Nothing."),
    ("label", "MIKE: What are you doing here?"),
    ("sound cue and words", "(SIGHS) What are you doing here?"),
    ("curly punctuation", "I don’t know what you’re doing…"),
];

/// A SubRip file of `n` cues, each saying `text`, three seconds apart.
fn file_of(text: &str, n: u64) -> String {
    let clock = |ms: u64| {
        format!(
            "{:02}:{:02}:{:02},{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    (0..n)
        .map(|i| {
            let start = i * 3000;
            format!(
                "{}\r\n{} --> {}\r\n{text}\r\n\r\n",
                i + 1,
                clock(start),
                clock(start + 2500)
            )
        })
        .collect()
}

fn bench_cue_kinds(c: &mut Criterion) {
    const CUES: u64 = 1000;
    let mut group = c.benchmark_group("cue kinds (1000 cues, parse + clean)");
    group.throughput(Throughput::Elements(CUES));
    for (kind, text) in CUE_KINDS {
        let file = file_of(text, CUES);
        group.bench_function(kind, |b| {
            b.iter(|| {
                let subs = srt::parse(black_box(&file)).expect("the bench's own file parses");
                clean::clean(&subs, &speaker_of, &clean::Bump::new()).len()
            })
        });
    }
    group.finish();
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

criterion_group!(benches, bench, bench_cue_kinds);
criterion_main!(benches);

//! Any bytes a user may upload as subtitles: decode, parse and clean must not panic, and what
//! comes out must keep the readers' promises.
//!
//! `cargo +nightly fuzz run parse_subtitle` from `shared/`.

#![no_main]

use hawkins::{clean, srt, text};
use libfuzzer_sys::fuzz_target;

fn speaker_of(label: &str) -> Option<&'static str> {
    ["Mike", "Dustin", "woman"]
        .iter()
        .find(|n| n.eq_ignore_ascii_case(label))
        .copied()
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(decoded) = text::decode(bytes) else {
        return;
    };
    assert!(!decoded.text.trim().is_empty());
    let Ok(subs) = srt::parse(&decoded.text) else {
        return;
    };
    assert!(subs.cues.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
    for cue in &subs.cues {
        assert!(cue.start_ms <= cue.end_ms && cue.lines().all(|line| !line.contains('\r')));
    }
    let arena = clean::Bump::new();
    for line in clean::clean(&subs, &speaker_of, &arena) {
        assert!(
            !line.text.is_empty() && line.text.trim() == line.text && !line.text.contains("  ")
        );
    }
});

//! Themes per episode: the theme model's batch transform output, combined per episode.
//!
//! The transform job reads the corpus version's theme dataset (`datasets/<version>/themes/
//! batches.jsonl`, one record per batch of an episode's sentences, see
//! [`crate::datasets::theme_records`]) and writes one output line per input line
//! (`predictions/<model>/<version>/batches.jsonl.out`, `{"episode", "batch", "scores": {theme:
//! mean over the batch's sentences}}`). [`combine`] pairs each output line with its input line
//! (the input says which episode and how many sentences) and gives each episode the mean score per
//! theme over its sentences, with its record and sentence counts.
//!
//! The lifecycle writes the result to [`episodes_key`] and points [`LATEST_KEY`] at it; the
//! `hawkins themes` command prints it. [`moves_latest`] decides whether a report replaces the one
//! the pointer names: only a report of a newer model package does, so a late event about an older
//! job never moves the pointer backwards.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where the per-episode theme reports live.
pub const PREFIX: &str = "processed/themes/";
/// The pointer to the newest report.
pub const LATEST_KEY: &str = "processed/themes/latest.json";

/// The report of a corpus version.
pub fn episodes_key(corpus_version: &str) -> String {
    format!("{PREFIX}{corpus_version}/episodes.json")
}

/// The object a transform job writes for `input_key` under `output_prefix` (an `s3://` URI or a
/// key ending in `/`): the input file's name with `.out` appended.
pub fn output_key(input_key: &str, output_prefix: &str) -> String {
    let name = input_key.rsplit('/').next().unwrap_or(input_key);
    format!("{output_prefix}{name}.out")
}

/// One episode's themes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeThemes {
    pub episode: String,
    /// Dataset records (batches of sentences) scored.
    pub records: u64,
    pub sentences: u64,
    /// Theme → mean score over the episode's sentences (0 to 1, six decimals).
    pub scores: BTreeMap<String, f64>,
}

/// `processed/themes/<version>/episodes.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeReport {
    pub model: String,
    pub corpus_version: String,
    /// The transform job that scored it.
    pub job: String,
    /// The model package version the job ran (0 when its name carries none).
    pub package_version: u32,
    /// Every theme scored, sorted.
    pub themes: Vec<String>,
    /// Sorted by episode.
    pub episodes: Vec<EpisodeThemes>,
}

/// `processed/themes/latest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    pub corpus_version: String,
    pub key: String,
    pub job: String,
    pub package_version: u32,
}

impl ThemeReport {
    pub fn latest(&self) -> Latest {
        Latest {
            corpus_version: self.corpus_version.clone(),
            key: episodes_key(&self.corpus_version),
            job: self.job.clone(),
            package_version: self.package_version,
        }
    }

    /// The bytes stored: the same report always gives the same bytes.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

impl Latest {
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// Whether `candidate` replaces the report or pointer `current` names. Package versions only
/// grow, so the newer package wins; the same package (a replay) is written again, which stores
/// nothing when the bytes are the same. A late event about an older package leaves it alone.
pub fn moves_latest(current: Option<u32>, candidate: u32) -> bool {
    current.is_none_or(|v| candidate >= v)
}

/// Why a transform output could not be combined. None is retryable: the same objects give the
/// same answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemesError {
    #[error(
        "line {line} of the theme dataset is not a record {{\"episode\", \"batch\", \"sentences\"}}: {message}"
    )]
    Input { line: usize, message: String },
    #[error(
        "line {line} of the transform output is not {{\"scores\": {{theme: number}}}}: {message}"
    )]
    Output { line: usize, message: String },
    #[error(
        "the transform output has {output} lines for the dataset's {input} records: it is not this dataset's output"
    )]
    Count { input: usize, output: usize },
    #[error(
        "line {line} of the transform output is about episode {output}, the dataset's line about {input}: it is not this dataset's output"
    )]
    Episode {
        line: usize,
        input: String,
        output: String,
    },
}

impl crate::error::Retry for ThemesError {
    fn retryable(&self) -> bool {
        false
    }
}

#[derive(Deserialize)]
struct InputRecord {
    episode: String,
    #[serde(default)]
    sentences: Vec<String>,
}

#[derive(Deserialize)]
struct OutputRecord {
    #[serde(default)]
    episode: Option<String>,
    scores: BTreeMap<String, f64>,
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
}

#[derive(Default)]
struct Sums {
    records: u64,
    sentences: u64,
    /// Theme → (weighted sum, weight).
    themes: BTreeMap<String, (f64, f64)>,
}

/// Combines a transform's output with its input, line by line: each episode's mean score per
/// theme over its sentences (each record's mean weighted by its sentence count; a record without
/// sentences counts as one), rounded to six decimals, episodes sorted. Pure: the same bytes give
/// the same result.
pub fn combine(input: &[u8], output: &[u8]) -> Result<Vec<EpisodeThemes>, ThemesError> {
    let inputs: Vec<InputRecord> = lines(input)
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_slice(l).map_err(|e| ThemesError::Input {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect::<Result<_, _>>()?;
    let outputs: Vec<OutputRecord> = lines(output)
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_slice(l).map_err(|e| ThemesError::Output {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect::<Result<_, _>>()?;
    if inputs.len() != outputs.len() {
        return Err(ThemesError::Count {
            input: inputs.len(),
            output: outputs.len(),
        });
    }
    let mut episodes: BTreeMap<&str, Sums> = BTreeMap::new();
    for (i, (record, scored)) in inputs.iter().zip(&outputs).enumerate() {
        if let Some(said) = &scored.episode
            && said != &record.episode
        {
            return Err(ThemesError::Episode {
                line: i + 1,
                input: record.episode.clone(),
                output: said.clone(),
            });
        }
        let sums = episodes.entry(&record.episode).or_default();
        let count = record.sentences.len() as u64;
        sums.records += 1;
        sums.sentences += count;
        let weight = count.max(1) as f64;
        for (theme, score) in &scored.scores {
            let entry = sums.themes.entry(theme.clone()).or_default();
            entry.0 += score * weight;
            entry.1 += weight;
        }
    }
    Ok(episodes
        .into_iter()
        .map(|(episode, sums)| EpisodeThemes {
            episode: episode.to_string(),
            records: sums.records,
            sentences: sums.sentences,
            scores: sums
                .themes
                .into_iter()
                .map(|(theme, (sum, weight))| (theme, round6(sum / weight)))
                .collect(),
        })
        .collect())
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// The report of a corpus version from its combined episodes.
pub fn report(
    model: &str,
    corpus_version: &str,
    job: &str,
    package_version: u32,
    episodes: Vec<EpisodeThemes>,
) -> ThemeReport {
    let mut themes: Vec<String> = episodes
        .iter()
        .flat_map(|e| e.scores.keys().cloned())
        .collect();
    themes.sort();
    themes.dedup();
    ThemeReport {
        model: model.to_string(),
        corpus_version: corpus_version.to_string(),
        job: job.to_string(),
        package_version,
        themes,
        episodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn input_line(episode: &str, batch: usize, sentences: usize) -> String {
        let sentences: Vec<String> = (0..sentences).map(|i| format!("Line {i}.")).collect();
        json!({"episode": episode, "batch": batch, "sentences": sentences}).to_string()
    }

    fn output_line(episode: &str, batch: usize, friendship: f64, fear: f64) -> String {
        json!({"episode": episode, "batch": batch, "scores": {"friendship": friendship, "fear": fear}})
            .to_string()
    }

    #[test]
    fn episodes_get_the_mean_over_their_sentences() {
        let input = [
            input_line("S01E01", 0, 64),
            input_line("S01E01", 1, 16),
            input_line("S01E02", 0, 10),
        ]
        .join("\n");
        let output = [
            output_line("S01E01", 0, 0.5, 0.1),
            output_line("S01E01", 1, 1.0, 0.6),
            output_line("S01E02", 0, 0.25, 0.75),
        ]
        .join("\n")
            + "\n";
        let episodes = combine(input.as_bytes(), output.as_bytes()).expect("combined");
        assert_eq!(episodes.len(), 2);
        let first = &episodes[0];
        assert_eq!(
            (first.episode.as_str(), first.records, first.sentences),
            ("S01E01", 2, 80)
        );
        // (64 × 0.5 + 16 × 1.0) / 80 = 0.6; (64 × 0.1 + 16 × 0.6) / 80 = 0.2.
        assert_eq!(first.scores["friendship"], 0.6);
        assert_eq!(first.scores["fear"], 0.2);
        assert_eq!(episodes[1].scores["fear"], 0.75);
        let report = report("themes", "v1", "hawkins-themes-v3", 3, episodes);
        assert_eq!(report.themes, ["fear", "friendship"]);
        assert_eq!(report.latest().key, "processed/themes/v1/episodes.json");
    }

    #[test]
    fn output_that_is_not_the_inputs_is_refused() {
        let input = [input_line("S01E01", 0, 3), input_line("S01E02", 0, 3)].join("\n");
        let short = output_line("S01E01", 0, 0.5, 0.5);
        assert_eq!(
            combine(input.as_bytes(), short.as_bytes()),
            Err(ThemesError::Count {
                input: 2,
                output: 1
            })
        );
        let swapped = [
            output_line("S01E02", 0, 0.5, 0.5),
            output_line("S01E01", 0, 0.5, 0.5),
        ]
        .join("\n");
        assert!(matches!(
            combine(input.as_bytes(), swapped.as_bytes()),
            Err(ThemesError::Episode { line: 1, .. })
        ));
        assert!(matches!(
            combine(b"{\"batch\": 0}", b"{}"),
            Err(ThemesError::Input { line: 1, .. })
        ));
        assert!(matches!(
            combine(input_line("S01E01", 0, 1).as_bytes(), b"{\"scores\": 3}"),
            Err(ThemesError::Output { line: 1, .. })
        ));
    }

    #[test]
    fn output_lines_without_an_episode_take_the_inputs() {
        let input = input_line("S02E01", 0, 2);
        let episodes =
            combine(input.as_bytes(), br#"{"scores": {"loss": 0.4}}"#).expect("combined");
        assert_eq!(episodes[0].episode, "S02E01");
        assert_eq!(episodes[0].scores["loss"], 0.4);
    }

    #[test]
    fn the_output_key_is_the_input_file_with_out() {
        assert_eq!(
            output_key("datasets/v1/themes/batches.jsonl", "predictions/themes/v1/"),
            "predictions/themes/v1/batches.jsonl.out"
        );
    }

    #[test]
    fn only_a_newer_package_moves_the_pointer() {
        assert!(moves_latest(None, 0));
        assert!(moves_latest(Some(2), 3));
        assert!(moves_latest(Some(3), 3), "a replay writes the same bytes");
        assert!(!moves_latest(Some(3), 2), "a late event about an older job");
    }

    proptest! {
        /// Whatever the batches, an episode whose records all score the same gets that score,
        /// every record and sentence is counted once, and the episodes' order in the files does
        /// not change the result.
        #[test]
        fn combining_counts_everything_once_and_keeps_constant_scores(
            batches in proptest::collection::vec((0usize..4, 0usize..70), 1..30),
            rotate in 0usize..30,
        ) {
            let score = |episode: usize| (episode as f64 + 1.0) / 8.0;
            let name = |episode: usize| format!("S01E0{}", episode + 1);
            let mut pairs: Vec<(String, String)> = batches
                .iter()
                .enumerate()
                .map(|(i, (e, n))| {
                    (input_line(&name(*e), i, *n), output_line(&name(*e), i, score(*e), 0.5))
                })
                .collect();
            let combined = |pairs: &[(String, String)]| {
                let input: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
                let output: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
                combine(input.join("\n").as_bytes(), output.join("\n").as_bytes())
            };
            let episodes = combined(&pairs).expect("combined");
            let records: u64 = episodes.iter().map(|e| e.records).sum();
            let sentences: u64 = episodes.iter().map(|e| e.sentences).sum();
            prop_assert_eq!(records, batches.len() as u64);
            prop_assert_eq!(sentences, batches.iter().map(|b| b.1 as u64).sum::<u64>());
            for e in &episodes {
                let index = batches.iter().find(|b| name(b.0) == e.episode).map(|b| b.0);
                prop_assert_eq!(e.scores["friendship"], round6(score(index.unwrap_or(0))));
                prop_assert_eq!(e.scores["fear"], 0.5);
            }
            let len = pairs.len();
            pairs.rotate_left(rotate % len);
            prop_assert_eq!(combined(&pairs).expect("combined"), episodes);
        }
    }
}

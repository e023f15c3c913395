//! `name,line` transcripts: one spoken line per row, speaker first.

use std::borrow::Cow;

use serde::Serialize;

use crate::dialogue::Line;

/// Why a transcript cannot be used; `line` is the 1-based line in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("line {line}: {message}")]
pub struct TranscriptError {
    pub line: u64,
    pub message: String,
}

/// A parsed transcript and what was odd about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript<'a> {
    /// Speakers the cast knows borrow its names.
    pub lines: Vec<Line<'a>>,
    pub warnings: Vec<String>,
}

/// Labels that name nobody: the line is kept, without a speaker.
const ANONYMOUS: [&str; 4] = ["unknown", "", "?", "n/a"];

/// Reads a transcript. The header row (`name,line`) is optional; a row whose text has unquoted
/// commas is read as name + the rest. `speaker_of` turns a name as written into the cast's name.
pub fn parse<'a>(
    text: &str,
    speaker_of: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<Transcript<'a>, TranscriptError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut rows = 0u64;
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| TranscriptError {
            line: e.position().map_or(index as u64 + 1, |p| p.line()),
            message: format!("not valid CSV: {e}"),
        })?;
        let line_no = record.position().map_or(index as u64 + 1, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        rows += 1;
        let name = record.get(0).unwrap_or_default();
        if rows == 1 && name.eq_ignore_ascii_case("name") {
            continue;
        }
        if record.len() < 2 {
            return Err(TranscriptError {
                line: line_no,
                message: format!(
                    "expected two columns 'name,line' but found one: '{}'",
                    truncate(name, 60)
                ),
            });
        }
        if record.len() > 2 {
            warnings.push(format!(
                "line {line_no}: {} columns; the text after the name was joined back with commas (quote the line to avoid this)",
                record.len()
            ));
        }
        let said = record.iter().skip(1).collect::<Vec<_>>().join(", ");
        let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
        if said.is_empty() {
            continue;
        }
        let speaker = if ANONYMOUS.contains(&name.to_lowercase().as_str()) {
            None
        } else {
            Some(speaker_of(name).map_or_else(|| Cow::Owned(name.to_string()), Cow::Borrowed))
        };
        lines.push(Line {
            start_ms: None,
            end_ms: None,
            speaker,
            text: Cow::Owned(said),
        });
    }
    if lines.is_empty() {
        return Err(TranscriptError {
            line: 1,
            message:
                "no dialogue rows: expected 'name,line' rows such as 'Mike,\"Where is Will?\"'"
                    .into(),
        });
    }
    Ok(Transcript { lines, warnings })
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> Option<&'static str> {
        (name == "Mike").then_some("Mike Wheeler")
    }

    #[test]
    fn reads_quoted_rows_with_or_without_header() {
        let text = "name,line\nMike,\"Where is Will?\"\nUnknown,\"Hello, hello.\"\nClaudia,\"He said \"\"no.\"\"\"\n";
        let t = parse(text, &known).expect("valid");
        let got: Vec<_> = t
            .lines
            .iter()
            .map(|l| (l.speaker.as_deref(), l.text.as_ref()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("Mike Wheeler"), "Where is Will?"),
                (None, "Hello, hello."),
                (Some("Claudia"), "He said \"no.\""),
            ]
        );
        let headless = parse("Mike,Hi\n", &known).expect("valid");
        assert_eq!(headless.lines.len(), 1);
    }

    #[test]
    fn unquoted_commas_are_joined_with_a_warning() {
        let t = parse("Mike,Wait, what?\n", &known).expect("valid");
        assert_eq!(t.lines[0].text, "Wait, what?");
        assert_eq!(t.warnings.len(), 1);
    }

    #[test]
    fn unusable_files_name_the_line() {
        let err = parse("name,line\nMike,Hi\njust some words\n", &known).unwrap_err();
        assert_eq!(err.line, 3);
        let err = parse("name,line\n\n", &known).unwrap_err();
        assert!(err.message.contains("no dialogue"), "{err}");
    }
}

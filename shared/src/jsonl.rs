//! JSON Lines lists users upload: locations (for the location classifier).

use serde::{Deserialize, Serialize};

/// One location: the classifier learns `text` (its description) → `label` (its type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub name: String,
    pub text: String,
    pub label: String,
}

/// Why a list cannot be used; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("line {line}: {message}")]
pub struct JsonlError {
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
struct RawLocation {
    #[serde(alias = "location_name")]
    name: Option<String>,
    #[serde(alias = "location_description", alias = "description")]
    text: Option<String>,
    #[serde(alias = "location_type", alias = "type")]
    label: Option<String>,
}

/// Reads a locations list: `{"location_name", "location_description", "location_type"}` per line
/// (or `name`, `text`/`description`, `label`/`type`). Every line must be usable: a list with a
/// broken line is refused whole, naming the line, rather than training on part of it.
pub fn parse_locations(text: &str) -> Result<Vec<Location>, JsonlError> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let parsed: RawLocation = serde_json::from_str(raw).map_err(|e| JsonlError {
            line,
            message: format!("not a JSON object: {e}"),
        })?;
        let field = |value: Option<String>, name: &str| {
            let value = value.map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "));
            value.filter(|v| !v.is_empty()).ok_or_else(|| JsonlError {
                line,
                message: format!("'{name}' is missing or empty"),
            })
        };
        out.push(Location {
            name: field(parsed.name, "location_name")?,
            text: field(parsed.text, "location_description")?,
            label: field(parsed.label, "location_type")?,
        });
    }
    if out.is_empty() {
        return Err(JsonlError {
            line: 1,
            message: "no locations in the file".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_spellings() {
        let text = "{\"location_name\":\"Hawkins Lab\",\"location_description\":\"A  lab.\",\"location_type\":\"Government\"}\n\n{\"name\":\"Starcourt\",\"text\":\"A mall.\",\"label\":\"Public\"}\n";
        let got = parse_locations(text).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text, "A lab.");
        assert_eq!(got[1].label, "Public");
    }

    #[test]
    fn broken_lines_are_named() {
        let text = "{\"name\":\"a\",\"text\":\"b\",\"label\":\"c\"}\n{oops\n";
        assert_eq!(parse_locations(text).unwrap_err().line, 2);
        let text = "{\"name\":\"a\",\"text\":\"\",\"label\":\"c\"}\n";
        let err = parse_locations(text).unwrap_err();
        assert!(err.message.contains("location_description"), "{err}");
    }
}

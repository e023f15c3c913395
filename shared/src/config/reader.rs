//! The reader every section uses: typed values with the place they came from in the text, and
//! every problem found so far, reported as `file:line:column: field: message`.
//!
//! A section's reader takes a [`Tbl`] (a table and its path in the config) and a [`Cx`] (the text
//! and the problems found), reads each field with a typed getter that reports a wrong type or a
//! value out of bounds, and goes on after a problem so that one check reports all of them.

use std::fmt;
use std::ops::Range;

use toml::de::{DeArray, DeTable, DeValue};

/// Where a value is: its span in the text and its field path.
#[derive(Debug, Clone)]
pub(super) struct At {
    pub(super) span: Range<usize>,
    pub(super) field: String,
}

/// A value read from the config, with where it was.
#[derive(Debug, Clone)]
pub(super) struct Val<T> {
    pub(super) value: T,
    pub(super) at: At,
}

/// A problem, before its offset is turned into a line and a column.
struct Found {
    span: Range<usize>,
    field: String,
    message: String,
}

/// The text being read and every problem found in it so far.
pub(super) struct Cx<'t> {
    text: &'t str,
    found: Vec<Found>,
}

impl<'t> Cx<'t> {
    /// Reading `text`, nothing found yet.
    pub(super) fn new(text: &'t str) -> Self {
        Cx {
            text,
            found: Vec::new(),
        }
    }

    /// How many problems have been found so far.
    pub(super) fn found(&self) -> usize {
        self.found.len()
    }

    /// Records a problem at a span of the text.
    pub(super) fn push(&mut self, span: Range<usize>, field: String, message: String) {
        self.found.push(Found {
            span,
            field,
            message,
        });
    }

    /// Records a problem with a value or a table.
    pub(super) fn error(&mut self, at: &At, message: impl Into<String>) {
        self.push(at.span.clone(), at.field.clone(), message.into());
    }

    /// The 1-based line a value is on.
    pub(super) fn line_of(&self, at: &At) -> usize {
        position(self.text, at.span.start).0
    }

    /// Every problem found, in the order of the file, as the file's errors.
    pub(super) fn finish(self, file: &str) -> ConfigErrors {
        let mut errors: Vec<ConfigError> = self
            .found
            .into_iter()
            .map(|f| {
                let (line, column) = position(self.text, f.span.start);
                ConfigError {
                    line,
                    column,
                    field: f.field,
                    message: f.message,
                }
            })
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        ConfigErrors {
            file: file.to_string(),
            errors,
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A table and its path in the config.
pub(super) struct Tbl<'a, 'i> {
    pub(super) table: &'a DeTable<'i>,
    pub(super) span: Range<usize>,
    pub(super) path: String,
}

impl<'a, 'i> Tbl<'a, 'i> {
    pub(super) fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(super) fn at(&self, key: &str) -> At {
        let span = self.table.get(key).map_or(self.span.clone(), |v| v.span());
        At {
            span,
            field: self.field(key),
        }
    }

    pub(super) fn here(&self) -> At {
        At {
            span: self.span.clone(),
            field: self.path.clone(),
        }
    }

    pub(super) fn key_at(&self, key: &str) -> At {
        let span = self
            .table
            .get_key_value(key)
            .map_or(self.span.clone(), |(k, _)| k.span());
        At {
            span,
            field: self.field(key),
        }
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Some other key of the table is a likely misspelling of `key`.
    pub(super) fn misspells(&self, key: &str) -> bool {
        self.table.iter().any(|(k, _)| {
            let k: &str = k.get_ref();
            k != key && closest(k, &[key]).is_some()
        })
    }

    pub(super) fn get(&self, key: &str) -> Option<(&'a DeValue<'i>, At)> {
        let table: &'a DeTable<'i> = self.table;
        table.get(key).map(|v| {
            (
                v.get_ref(),
                At {
                    span: v.span(),
                    field: self.field(key),
                },
            )
        })
    }

    /// Reports each key not in `allowed`, suggesting the closest allowed one.
    pub(super) fn check_keys(&self, cx: &mut Cx<'_>, allowed: &[&str]) {
        for (key, _) in self.table.iter() {
            let key: &str = key.get_ref();
            if !allowed.contains(&key) {
                cx.error(&self.key_at(key), unknown_key(key, allowed));
            }
        }
    }

    /// Reports a missing required key at the table, unless a misspelling of it is there (that
    /// is reported as an unknown field, with the right spelling).
    pub(super) fn require(&self, cx: &mut Cx<'_>, key: &str, what: &str) -> bool {
        if self.has(key) {
            return true;
        }
        if self.misspells(key) {
            return false;
        }
        let at = At {
            span: self.span.clone(),
            field: self.field(key),
        };
        cx.error(&at, format!("is missing: {what}"));
        false
    }

    pub(super) fn string(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<String>> {
        let (value, at) = self.get(key)?;
        expect_string(cx, value, at)
    }

    pub(super) fn int(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<i64>> {
        let (value, at) = self.get(key)?;
        expect_int(cx, value, at)
    }

    /// A whole number in `min..=max`, or an error naming the bounds and `why`.
    pub(super) fn bounded(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
        min: i64,
        max: i64,
        why: &str,
    ) -> Option<Val<u32>> {
        let value = self.int(cx, key)?;
        if value.value < min || value.value > max {
            let bounds = if max == i64::from(u32::MAX) {
                format!("must be at least {min}")
            } else {
                format!("must be between {min} and {max}")
            };
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            };
            cx.error(&value.at, format!("{bounds}{why}, got {}", value.value));
            return None;
        }
        Some(Val {
            value: u32::try_from(value.value).ok()?,
            at: value.at,
        })
    }

    pub(super) fn float(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<f64>> {
        let (value, at) = self.get(key)?;
        expect_float(cx, value, at)
    }

    pub(super) fn bool(&self, cx: &mut Cx<'_>, key: &str) -> Option<Val<bool>> {
        let (value, at) = self.get(key)?;
        match value {
            DeValue::Boolean(b) => Some(Val { value: *b, at }),
            other => {
                cx.error(&at, wrong_type("true or false", other));
                None
            }
        }
    }

    pub(super) fn table(&self, cx: &mut Cx<'_>, key: &str) -> Option<Tbl<'a, 'i>> {
        let (value, at) = self.get(key)?;
        expect_table(cx, value, at)
    }

    pub(super) fn array(&self, cx: &mut Cx<'_>, key: &str) -> Option<(&'a DeArray<'i>, At)> {
        let (value, at) = self.get(key)?;
        match value {
            DeValue::Array(array) => Some((array, at)),
            other => {
                cx.error(&at, wrong_type("an array", other));
                None
            }
        }
    }

    /// One of `options`, by name.
    pub(super) fn choice<T: Copy>(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
        options: &[(&str, T)],
    ) -> Option<Val<T>> {
        let text = self.string(cx, key)?;
        match options.iter().find(|(name, _)| *name == text.value) {
            Some((_, value)) => Some(Val {
                value: *value,
                at: text.at,
            }),
            None => {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                let hint = match closest(&text.value, &names) {
                    Some(near) => format!(" (did you mean \"{near}\"?)"),
                    None => String::new(),
                };
                cx.error(
                    &text.at,
                    format!(
                        "must be one of {}, got \"{}\"{hint}",
                        names.join(", "),
                        text.value
                    ),
                );
                None
            }
        }
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(super) fn wrong_type(expected: &str, found: &DeValue<'_>) -> String {
    format!("must be {expected}, found {}", type_name(found))
}

pub(super) fn expect_string(cx: &mut Cx<'_>, value: &DeValue<'_>, at: At) -> Option<Val<String>> {
    match value {
        DeValue::String(s) if s.trim().is_empty() => {
            cx.error(&at, "must not be empty");
            None
        }
        DeValue::String(s) => Some(Val {
            value: s.to_string(),
            at,
        }),
        other => {
            cx.error(&at, wrong_type("a string", other));
            None
        }
    }
}

fn parse_int(value: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(value.as_str(), value.radix()).ok()
}

pub(super) fn expect_int(cx: &mut Cx<'_>, value: &DeValue<'_>, at: At) -> Option<Val<i64>> {
    match value {
        DeValue::Integer(i) => match parse_int(i) {
            Some(n) => Some(Val { value: n, at }),
            None => {
                cx.error(&at, "is too large");
                None
            }
        },
        DeValue::Float(f) => {
            cx.error(
                &at,
                format!("must be a whole number, found the float {}", f.as_str()),
            );
            None
        }
        other => {
            cx.error(&at, wrong_type("a whole number", other));
            None
        }
    }
}

pub(super) fn expect_float(cx: &mut Cx<'_>, value: &DeValue<'_>, at: At) -> Option<Val<f64>> {
    let number = match value {
        DeValue::Integer(i) => parse_int(i).map(|n| n as f64),
        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
        other => {
            cx.error(&at, wrong_type("a number", other));
            return None;
        }
    };
    match number {
        Some(n) if n.is_finite() => Some(Val { value: n, at }),
        _ => {
            cx.error(&at, "must be a finite number");
            None
        }
    }
}

pub(super) fn expect_table<'a, 'i>(
    cx: &mut Cx<'_>,
    value: &'a DeValue<'i>,
    at: At,
) -> Option<Tbl<'a, 'i>> {
    match value {
        DeValue::Table(table) => Some(Tbl {
            table,
            span: at.span,
            path: at.field,
        }),
        other => {
            cx.error(&at, wrong_type("a table", other));
            None
        }
    }
}

/// A scalar as the string SageMaker passes: strings as they are, numbers as written.
pub(super) fn scalar_string(
    cx: &mut Cx<'_>,
    value: &DeValue<'_>,
    at: &At,
    what: &str,
) -> Option<String> {
    match value {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => match parse_int(i) {
            Some(n) => Some(n.to_string()),
            None => {
                cx.error(at, "is too large");
                None
            }
        },
        DeValue::Float(f) => match f.as_str().parse::<f64>() {
            Ok(n) if n.is_finite() => Some(f.as_str().to_string()),
            _ => {
                cx.error(at, "must be a finite number");
                None
            }
        },
        DeValue::Boolean(b) => Some(b.to_string()),
        other => {
            cx.error(
                at,
                format!(
                    "{what} must be a string, number or boolean, found {}",
                    type_name(other)
                ),
            );
            None
        }
    }
}

pub(super) fn unknown_key(key: &str, allowed: &[&str]) -> String {
    match closest(key, allowed) {
        Some(near) => format!("unknown field `{key}` (did you mean `{near}`?)"),
        None => format!(
            "unknown field `{key}`; expected one of: {}",
            allowed.join(", ")
        ),
    }
}

/// The allowed word nearest to `word`, when it is close enough to be a typo of it.
pub(super) fn closest<'w>(word: &str, allowed: &[&'w str]) -> Option<&'w str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// One problem in the file. `line` and `column` start at 1 (0 for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub column: usize,
    /// Where in the config, such as `model[chatbot-eleven].tuning.max_jobs`; empty for a syntax
    /// error.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one file, in the order of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.file, .errors))]
pub struct ConfigErrors {
    /// The file name the messages start with.
    pub file: String,
    pub errors: Vec<ConfigError>,
}

/// A bad config fails the same way every time: an event that met one is not worth retrying.
impl crate::error::Retry for ConfigErrors {
    fn retryable(&self) -> bool {
        false
    }
}

fn render(file: &str, errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors
        .iter()
        .map(|e| {
            if e.line > 0 {
                format!("{file}:{e}")
            } else {
                format!("{file}: {e}")
            }
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::config::testing::*;

    #[test]
    fn an_unknown_field_is_named_with_its_nearest_spelling() {
        let text = with("instace_type = \"ml.g5.xlarge\"\n");
        let error = only(
            &text,
            "instace_type",
            &format!("{MODEL}.instace_type"),
            "did you mean `instance_type`",
        );
        assert_eq!(error.column, 1);
        only(
            &replace("[defaults]", "[defaults]\nspto = true"),
            "spto",
            "defaults.spto",
            "`spot`",
        );
        only(
            &replace("[pipeline]", "[pipeline]\nquiet_period = 300"),
            "quiet_period",
            "pipeline.quiet_period",
            "quiet_period_seconds",
        );
        only(
            &format!("{BASE}\n[modle]\nx = 1\n"),
            "[modle]",
            "modle",
            "`model`",
        );
        let text = with(
            "[model.deploy]\nmode = \"realtime\"\ninstance_type = \"ml.g5.xlarge\"\nstratgy = \"canary\"\n",
        );
        only(
            &text,
            "stratgy",
            &format!("{MODEL}.deploy.stratgy"),
            "`strategy`",
        );
        only(
            &with("metrics = [{ name = \"loss\", regx = \"x\" }]\n"),
            "regx",
            &format!("{MODEL}.metrics[0].regx"),
            "`regex`",
        );
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = with("instance_count = 0\nspot = true\nhyperparameters = { hf_token = \"x\" }\n[model.gate]\nmetric = \"f1\"\ndirection = \"up\"\n")
            .replace("kind = \"chatbot\"", "kind = \"chatbt\"");
        let found = errors(&text);
        let fields: Vec<&str> = found
            .iter()
            .map(|e| e.field.rsplit('.').next().unwrap_or_default())
            .collect();
        assert_eq!(
            fields,
            [
                "kind",
                "instance_count",
                "max_wait_seconds",
                "hf_token",
                "metric",
                "direction"
            ],
            "{found:#?}"
        );
        let lines: Vec<usize> = found.iter().map(|e| e.line).collect();
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    }

    #[test]
    fn errors_display_as_file_line_column_field_message() {
        let err = parse("infra/hawkins.toml", &with("instance_count = 0\n")).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            format!("infra/hawkins.toml:18:18: {MODEL}.instance_count: must be at least 1, got 0")
        );
        let err = parse("a.toml", &with("instance_count = 0\nvolume_size_gb = 0\n"))
            .expect_err("rejected");
        assert_eq!(err.to_string().lines().count(), 2);
    }
}

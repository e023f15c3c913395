//! `hawkins themes`: the theme model's scores per episode, as the lifecycle function combined
//! them from the batch transform's output (`processed/themes/<version>/episodes.json`, the
//! newest named by `processed/themes/latest.json`; see `hawkins::themes`).

use anyhow::{Result, anyhow};
use hawkins::aws::s3::S3Store;
use hawkins::store::ObjectStore;
use hawkins::themes::{LATEST_KEY, Latest, ThemeReport, episodes_key};

use super::table::render;
use super::{Cloud, errors};
use crate::exit::{Exit, coded};

/// Theme names longer than this are cut in the table's header.
const HEADER_CHARS: usize = 16;

/// The table: one row per episode, one column per theme (scores with three decimals), and the
/// episode's sentence count.
pub fn render_text(report: &ThemeReport) -> String {
    let mut out = format!(
        "Themes of corpus version {} (model {}, transform job {})\n\n",
        report.corpus_version, report.model, report.job
    );
    let names: Vec<String> = report
        .themes
        .iter()
        .map(|t| {
            t.chars()
                .take(HEADER_CHARS)
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect();
    let mut headers: Vec<&str> = vec!["EPISODE", "SENTENCES"];
    headers.extend(names.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = report
        .episodes
        .iter()
        .map(|e| {
            let mut row = vec![e.episode.clone(), e.sentences.to_string()];
            row.extend(report.themes.iter().map(|t| {
                e.scores
                    .get(t)
                    .map_or("-".to_string(), |s| format!("{s:.3}"))
            }));
            row
        })
        .collect();
    out.push_str(&render(&headers, &rows));
    out
}

/// Which report to read: the version asked for, else the one the pointer names (`None`: no
/// report has been written yet).
pub fn report_key(version: Option<&str>, latest: Option<&[u8]>) -> Result<Option<String>> {
    if let Some(version) = version {
        return Ok(Some(episodes_key(version)));
    }
    let Some(bytes) = latest else {
        return Ok(None);
    };
    let latest: Latest =
        serde_json::from_slice(bytes).map_err(|e| anyhow!("{LATEST_KEY} does not parse: {e}"))?;
    Ok(Some(latest.key))
}

pub async fn run(cloud: &Cloud, version: Option<&str>, json: bool) -> Result<()> {
    let outputs = cloud.outputs().await?;
    let store = S3Store::from_config(&cloud.sdk, &outputs.bucket);
    let fail = |e: hawkins::error::StoreError| errors::store(&e, &cloud.region);
    let latest = match version {
        Some(_) => None,
        None => store.get(LATEST_KEY).await.map_err(fail)?,
    };
    let key = report_key(version, latest.as_ref().map(|o| o.bytes.as_slice()))?.ok_or_else(|| {
        coded(
            Exit::Failed,
            format!(
                "no theme report in s3://{}/{LATEST_KEY} yet: the theme model's transform job writes it when it completes",
                outputs.bucket
            ),
        )
    })?;
    let object = store.get(&key).await.map_err(fail)?.ok_or_else(|| {
        coded(
            Exit::Failed,
            format!(
                "no theme report at s3://{}/{key}: is the corpus version right? `hawkins themes` without --version shows the newest",
                outputs.bucket
            ),
        )
    })?;
    let report: ThemeReport = serde_json::from_slice(&object.bytes)
        .map_err(|e| anyhow!("s3://{}/{key} does not parse: {e}", outputs.bucket))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", render_text(&report));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hawkins::themes::EpisodeThemes;
    use std::collections::BTreeMap;

    #[test]
    fn episodes_are_rows_and_themes_columns() {
        let episode = |name: &str, fear: f64| EpisodeThemes {
            episode: name.into(),
            records: 1,
            sentences: 12,
            scores: BTreeMap::from([("fear".to_string(), fear)]),
        };
        let report = ThemeReport {
            model: "themes".into(),
            corpus_version: "9ff9935c".into(),
            job: "hawkins-themes-v2".into(),
            package_version: 2,
            themes: vec!["fear".into(), "the Upside Down and beyond".into()],
            episodes: vec![episode("S01E01", 0.3), episode("S01E02", 0.81234)],
        };
        let text = render_text(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Themes of corpus version 9ff9935c (model themes, transform job hawkins-themes-v2)"
        );
        assert_eq!(lines[2], "EPISODE  SENTENCES  fear   the Upside Down");
        assert_eq!(lines[3], "S01E01   12         0.300  -");
        assert_eq!(lines[4], "S01E02   12         0.812  -");
    }

    #[test]
    fn the_version_asked_for_wins_over_the_pointer() {
        let latest = br#"{"corpus_version": "b", "key": "processed/themes/b/episodes.json", "job": "j", "package_version": 3}"#;
        assert_eq!(
            report_key(Some("a"), Some(latest))
                .ok()
                .flatten()
                .as_deref(),
            Some("processed/themes/a/episodes.json")
        );
        assert_eq!(
            report_key(None, Some(latest)).ok().flatten().as_deref(),
            Some("processed/themes/b/episodes.json")
        );
        assert!(matches!(report_key(None, None), Ok(None)));
        assert!(report_key(None, Some(b"{")).is_err());
    }
}

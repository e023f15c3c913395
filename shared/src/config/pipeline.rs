//! `[pipeline]`: the settings that are not about one model (the quiet period before training, the
//! default images and the project tag), and the images it gives every model.

use super::model::{JOB_NAME_MAX, MODEL_NAME_MAX, check_image};
use super::reader::{Cx, Tbl};

/// The longest quiet period: one day.
pub const MAX_QUIET_PERIOD_SECONDS: u32 = 24 * 3600;

const DEFAULT_QUIET_PERIOD_SECONDS: u32 = 300;
const DEFAULT_PROJECT_TAG: &str = "hawkins";
/// The longest `project_tag`: `<project_tag>-<name>` fits the 63 characters of an endpoint or a
/// model package group name.
pub const PROJECT_TAG_MAX: usize = JOB_NAME_MAX - 1 - MODEL_NAME_MAX;

/// `[pipeline]`: settings that are not about one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// Training starts once no upload has arrived for this long (1 s to 1 day; default 300).
    pub quiet_period_seconds: u32,
    /// The default training image of every model (see [`image_uri`](super::image_uri)).
    pub training_image: Option<String>,
    /// The default serving image; the training image when unset (it also serves).
    pub inference_image: Option<String>,
    /// Prefix and tag value of what the pipeline creates (default `hawkins`).
    pub project_tag: String,
}

/// The fields of `[pipeline]`.
const PIPELINE_KEYS: &[&str] = &[
    "quiet_period_seconds",
    "training_image",
    "inference_image",
    "project_tag",
];

/// `[pipeline]`, or every default when the file has none, and the images it gives the models.
pub(super) fn read_section(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> (Option<Pipeline>, Images) {
    let table = root.table(cx, "pipeline");
    let pipeline = match &table {
        Some(table) => read_pipeline(cx, table),
        None if root.has("pipeline") => None,
        None => Some(Pipeline {
            quiet_period_seconds: DEFAULT_QUIET_PERIOD_SECONDS,
            training_image: None,
            inference_image: None,
            project_tag: DEFAULT_PROJECT_TAG.into(),
        }),
    };
    let images = Images {
        training: pipeline.as_ref().and_then(|p| p.training_image.clone()),
        training_set: table.as_ref().is_some_and(|p| p.has("training_image")),
        inference: pipeline.as_ref().and_then(|p| p.inference_image.clone()),
    };
    (pipeline, images)
}

/// The `[pipeline]` table's fields, each checked.
fn read_pipeline(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Pipeline> {
    t.check_keys(cx, PIPELINE_KEYS);
    let quiet = t.bounded(
        cx,
        "quiet_period_seconds",
        1,
        i64::from(MAX_QUIET_PERIOD_SECONDS),
        "seconds without uploads before training starts; at most one day",
    );
    let training_image = t.string(cx, "training_image");
    let inference_image = t.string(cx, "inference_image");
    for image in [&training_image, &inference_image].into_iter().flatten() {
        check_image(cx, image);
    }
    let tag = t.string(cx, "project_tag");
    if let Some(tag) = &tag {
        let ok = tag.value.len() <= PROJECT_TAG_MAX
            && tag
                .value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !tag.value.starts_with('-')
            && !tag.value.ends_with('-');
        if !ok {
            cx.error(
                &tag.at,
                format!(
                    "must be at most {PROJECT_TAG_MAX} lowercase letters, digits and hyphens (it prefixes endpoint and model package group names), got \"{}\"",
                    tag.value
                ),
            );
        }
    }
    let quiet = match quiet {
        Some(q) => Some(q.value),
        None if t.has("quiet_period_seconds") => None,
        None => Some(DEFAULT_QUIET_PERIOD_SECONDS),
    };
    Some(Pipeline {
        quiet_period_seconds: quiet?,
        training_image: training_image.map(|v| v.value),
        inference_image: inference_image.map(|v| v.value),
        project_tag: tag.map_or_else(|| DEFAULT_PROJECT_TAG.to_string(), |v| v.value),
    })
}

/// The pipeline's default images, for the models.
pub(super) struct Images {
    pub(super) training: Option<String>,
    /// Set in `[pipeline]`, even if invalid (already reported).
    pub(super) training_set: bool,
    pub(super) inference: Option<String>,
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

    #[test]
    fn the_quiet_period_is_between_a_second_and_a_day() {
        let field = "pipeline.quiet_period_seconds";
        only(
            &replace("[pipeline]", "[pipeline]\nquiet_period_seconds = 0"),
            "quiet_period_seconds",
            field,
            "between 1 and 86400",
        );
        only(
            &replace("[pipeline]", "[pipeline]\nquiet_period_seconds = 86401"),
            "quiet_period_seconds",
            field,
            "at most one day",
        );
        let config = ok(&replace(
            "[pipeline]",
            "[pipeline]\nquiet_period_seconds = 600",
        ));
        assert_eq!(config.pipeline.quiet_period_seconds, 600);
    }
}

//! Names every event derives the same way: package groups, endpoints, models and scaling targets
//! from the project and the model, cut to SageMaker's limits; the metadata keys a package carries;
//! and which configured model a set of tags names. Pure.

use std::collections::BTreeMap;

use crate::config::ModelConfig;
use crate::hash::sha256_hex;
use crate::training::tags as tag;

/// SageMaker's limit on model, endpoint config and endpoint names.
pub const NAME_MAX: usize = 63;

/// The variant that serves; blue/green updates need the same name in the old and new config.
pub const PRIMARY: &str = "primary";

/// The second variant of an A/B deployment.
pub const CHALLENGER: &str = "challenger";

/// Package metadata keys (CustomerMetadataProperties).
pub mod meta {
    pub const MODEL: &str = "hawkins:model";
    pub const JOB: &str = "hawkins:training-job";
    pub const CORPUS_VERSION: &str = "hawkins:corpus-version";
    pub const DATASET_SHA256: &str = "hawkins:dataset-sha256";
    pub const MANIFEST: &str = "hawkins:manifest";
    pub const GATE: &str = "hawkins:gate";
    /// Followed by the metric's name.
    pub const METRIC: &str = "hawkins:metric:";
}

/// The configured model that tags name, when they carry this project's tag.
pub(super) fn tagged_model<'c>(
    tags: &BTreeMap<String, String>,
    project: &str,
    models: &'c [ModelConfig],
) -> Option<&'c ModelConfig> {
    if tags.get(tag::PROJECT).map(String::as_str) != Some(project) {
        return None;
    }
    let name = tags.get(tag::MODEL)?;
    models.iter().find(|m| &m.name == name)
}

/// The package group of a model: `<project>-<model>`.
pub fn group_name(project: &str, model: &str) -> String {
    bounded(&format!("{project}-{model}"))
}

/// The endpoint of a model: `<project>-<model>` (both are checked short enough by the config).
pub fn endpoint_name(project: &str, model: &str) -> String {
    bounded(&format!("{project}-{model}"))
}

/// A SageMaker name of at most 63 characters: as is when short enough, else cut with a hash of the
/// whole so that two long names stay apart.
pub fn bounded(name: &str) -> String {
    if name.len() <= NAME_MAX {
        return name.to_string();
    }
    let hash = &sha256_hex(name.as_bytes())[..8];
    let cut: String = name.chars().take(NAME_MAX - 9).collect();
    format!("{}-{hash}", cut.trim_end_matches('-'))
}

/// The model version a SageMaker model name carries (`...-v<N>`).
pub fn model_version(model_name: &str) -> Option<u32> {
    model_name.rsplit_once("-v")?.1.parse().ok()
}

/// The name of the SageMaker model of a package: `<endpoint>-v<version>`.
pub fn model_name(endpoint: &str, version: u32) -> String {
    bounded(&format!("{endpoint}-v{version}"))
}

pub fn scaling_resource(endpoint: &str, variant: &str) -> String {
    format!("endpoint/{endpoint}/variant/{variant}")
}

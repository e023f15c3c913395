//! `hawkins config push <file>`: checks a model config as `hawkins config check` does and, only
//! when it is valid, uploads it to where the stack's functions read it (the stack's `ConfigUri`
//! output: its `ConfigLocation` parameter, else `config/hawkins.toml` in its bucket). The
//! functions take it at their next look (`hawkins::config::live`), without a deploy.

use std::path::Path;

use anyhow::Result;
use aws_sdk_s3::primitives::ByteStream;
use hawkins::config::ConfigLocation;
use serde_json::json;

use super::errors::s3;
use super::{Cloud, Connection};
use crate::config_check::validate;
use crate::exit::{Exit, coded};

/// What the push wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub location: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

/// The line printed after a push.
pub fn report(file: &str, models: usize, pushed: &Pushed) -> String {
    let plural = if models == 1 { "" } else { "s" };
    let revision = match (&pushed.version_id, &pushed.etag) {
        (Some(version), Some(etag)) => format!("version {version}, ETag {etag}"),
        (Some(version), None) => format!("version {version}"),
        (None, Some(etag)) => format!("ETag {etag} (the bucket is not versioned)"),
        (None, None) => "no version or ETag returned".to_string(),
    };
    format!(
        "{file}: ok, {models} model{plural}; pushed to {}: {revision}\n\
         The functions use it from their next invocation (they look for a new version every {} s).\n",
        pushed.location,
        hawkins::config::live::DEFAULT_REFRESH_SECONDS
    )
}

/// Checks `file`, then uploads it to `to` or the stack's config location.
pub async fn run(connection: &Connection, file: &Path, to: Option<&str>, json: bool) -> Result<()> {
    // Refused before anything reaches AWS: every problem printed, exit 3.
    let checked = validate(file, json)?;
    let models = checked.config.models.len();
    let cloud = Cloud::connect_with(connection, checked.config).await?;
    let location = match to {
        Some(uri) => {
            ConfigLocation::parse(uri).map_err(|e| coded(Exit::Usage, format!("--to: {e}")))?
        }
        None => {
            let uri = cloud.outputs().await?.config_uri;
            ConfigLocation::parse(&uri).map_err(|e| {
                coded(
                    Exit::AwsRefused,
                    format!("stack {}: output ConfigUri: {e}", cloud.stack),
                )
            })?
        }
    };
    let sha = hawkins::hash::sha256_hex(checked.text.as_bytes());
    let answer = hawkins::aws::s3::S3Store::client(&cloud.sdk)
        .put_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .content_type("application/toml")
        .metadata(hawkins::aws::s3::SHA256_METADATA, sha)
        .body(ByteStream::from(checked.text.into_bytes()))
        .send()
        .await
        .map_err(|e| cloud.fail(s3("PutObject"), &location.uri(), &e))?;
    let pushed = Pushed {
        location: location.uri(),
        version_id: answer
            .version_id()
            .filter(|v| !v.is_empty() && *v != "null")
            .map(str::to_string),
        etag: answer.e_tag().map(str::to_string),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "file": checked.file,
                "valid": true,
                "models": models,
                "location": pushed.location,
                "version_id": pushed.version_id,
                "etag": pushed.etag,
            }))?
        );
    } else {
        print!("{}", report(&checked.file, models, &pushed));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_the_place_and_the_revision() {
        let pushed = Pushed {
            location: "s3://b/config/hawkins.toml".into(),
            version_id: Some("3HL4kqtJlcpXroDTDmJ".into()),
            etag: Some("\"9b2cf535f27731c974343645a3985328\"".into()),
        };
        let text = report("infra/hawkins.toml", 6, &pushed);
        assert!(
            text.starts_with("infra/hawkins.toml: ok, 6 models; pushed to s3://b/config/hawkins.toml: version 3HL4kqtJlcpXroDTDmJ, ETag \"9b2cf535f27731c974343645a3985328\"\n"),
            "{text}"
        );
        let unversioned = Pushed {
            version_id: None,
            ..pushed
        };
        assert!(
            report("f", 1, &unversioned)
                .contains("1 model; pushed to s3://b/config/hawkins.toml: ETag \"9b2")
        );
    }
}

//! `hawkins train`, `hawkins deploy` and `hawkins rollback`: a person's request, written to the
//! pipeline bucket under `requests/` (see [`hawkins::requests`]). The stack's rules carry it to
//! the function that does it (train, or lifecycle), through the same code as the pipeline's own
//! events; nothing is started from here. What the command can check from where it runs (the
//! model is configured, the corpus version exists, the version is approved) it checks first, so
//! a mistake is told now rather than by an alert later.

use anyhow::{Result, anyhow, bail};
use aws_sdk_sagemaker::types::ModelApprovalStatus;
use hawkins::aws::s3::S3Store;
use hawkins::lifecycle::plan::{chosen_version, endpoint_name, group_name, model_version};
use hawkins::requests::{
    DEPLOY_PREFIX, DeployRequest, DeployTarget, TRAIN_PREFIX, TrainRequest, new_id, submit,
};
use hawkins::store::ObjectStore;

use super::{Cloud, errors, now};
use crate::exit::{Exit, coded};

/// The models a `hawkins train` names, checked against the config: every one must be
/// configured. Empty with `all`. Pure.
pub fn train_models(
    named: &[String],
    all: bool,
    configured: &[&str],
) -> Result<Vec<String>, String> {
    match (named.is_empty(), all) {
        (true, false) => {
            return Err(format!(
                "name the models to train, or --all (configured: {})",
                configured.join(", ")
            ));
        }
        (false, true) => return Err("name models or pass --all, not both".into()),
        (true, true) => return Ok(Vec::new()),
        (false, false) => {}
    }
    let unknown: Vec<&str> = named
        .iter()
        .map(String::as_str)
        .filter(|m| !configured.contains(m))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "not in the config: {} (configured: {})",
            unknown.join(", "),
            configured.join(", ")
        ));
    }
    let mut models = named.to_vec();
    models.dedup();
    Ok(models)
}

/// A request id unique to this call.
fn request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let entropy = format!("{nanos}-{}", std::process::id());
    new_id(now(), entropy.as_bytes())
}

fn requested_at() -> String {
    hawkins::time::format_rfc3339(now())
}

/// `hawkins train <model>... | --all`.
pub async fn train(cloud: &Cloud, named: &[String], all: bool, json: bool) -> Result<()> {
    let configured: Vec<&str> = cloud
        .config
        .models
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let models = train_models(named, all, &configured).map_err(|e| coded(Exit::Usage, e))?;
    let outputs = cloud.outputs().await?;
    let store = S3Store::from_config(&cloud.sdk, &outputs.bucket);
    let latest = store
        .get(hawkins::manifest::LATEST_KEY)
        .await
        .map_err(|e| errors::store(&e, &cloud.region))?
        .ok_or_else(|| {
            anyhow!(
                "no corpus version yet in s3://{}: upload subtitles under raw/ first",
                outputs.bucket
            )
        })?;
    let manifest: hawkins::manifest::CorpusManifest = serde_json::from_slice(&latest.bytes)
        .map_err(|e| {
            anyhow!(
                "{} does not read as a manifest: {e}",
                hawkins::manifest::LATEST_KEY
            )
        })?;
    let request = TrainRequest {
        id: request_id(),
        models,
        corpus_version: manifest.version,
        requested_at: requested_at(),
        requested_by: None,
    };
    let key = submit(&store, TRAIN_PREFIX, &request.id, &request)
        .await
        .map_err(|e| errors::store(&e, &cloud.region))?;
    let names = if request.models.is_empty() {
        "every model".to_string()
    } else {
        request.models.join(", ")
    };
    if json {
        let document = serde_json::json!({
            "request": request.id,
            "key": key,
            "bucket": outputs.bucket,
            "corpus_version": request.corpus_version,
            "models": request.models,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!(
            "training request {} for {names} on corpus version {}: s3://{}/{key}\n\
             The train function starts a new job per model in a few seconds; follow them with `hawkins status`.",
            request.id, request.corpus_version, outputs.bucket
        );
    }
    Ok(())
}

/// `hawkins deploy <model> --version N` (`Some(N)`) or `hawkins rollback <model>` (`None`).
pub async fn deploy(cloud: &Cloud, model: &str, version: Option<u32>, json: bool) -> Result<()> {
    let Some(config) = cloud.config.model(model) else {
        return Err(coded(
            Exit::Usage,
            format!(
                "{model} is not in the config (configured: {})",
                cloud
                    .config
                    .models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    if config.deploy.is_none() {
        bail!(
            "{model} has no [model.deploy] in the config: its packages are registered, never deployed"
        );
    }
    let group = group_name(cloud.project(), model);
    let approved: Vec<u32> =
        super::approve::list(cloud, &group, Some(ModelApprovalStatus::Approved))
            .await?
            .into_iter()
            .filter_map(|(v, _)| u32::try_from(v).ok())
            .collect();
    let endpoint = endpoint_name(cloud.project(), model);
    let serving = serving_versions(cloud, &endpoint).await?;
    let target = match version {
        Some(version) => DeployTarget::Version { version },
        None => DeployTarget::Previous,
    };
    let chosen =
        chosen_version(&target, &approved, &serving).map_err(|e| anyhow!("{model}: {e}"))?;
    let outputs = cloud.outputs().await?;
    let store = S3Store::from_config(&cloud.sdk, &outputs.bucket);
    let request = DeployRequest {
        id: request_id(),
        model: model.to_string(),
        target,
        requested_at: requested_at(),
        requested_by: None,
    };
    let key = submit(&store, DEPLOY_PREFIX, &request.id, &request)
        .await
        .map_err(|e| errors::store(&e, &cloud.region))?;
    let from = serving
        .iter()
        .max()
        .map(|v| format!("version {v}"))
        .unwrap_or_else(|| "nothing".into());
    if json {
        let document = serde_json::json!({
            "request": request.id,
            "key": key,
            "bucket": outputs.bucket,
            "model": model,
            "endpoint": endpoint,
            "version": chosen,
            "serving": serving,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!(
            "deploy request {} for {model}: version {chosen} (the endpoint {endpoint} serves {from}): s3://{}/{key}\n\
             The lifecycle function updates the endpoint with the model's blue/green policy; newer approvals \
             deploy as usual, older ones wait. Follow it with `hawkins status`.",
            request.id, outputs.bucket
        );
    }
    Ok(())
}

/// The package versions an endpoint's variants serve (their models are `<endpoint>-v<N>`).
async fn serving_versions(cloud: &Cloud, endpoint: &str) -> Result<Vec<u32>> {
    let Some(found) = cloud
        .project_endpoints()
        .await?
        .into_iter()
        .find(|e| e.name == endpoint)
    else {
        return Ok(Vec::new());
    };
    let Some(config) = found.described.endpoint_config_name() else {
        return Ok(Vec::new());
    };
    let described = cloud
        .sagemaker()
        .describe_endpoint_config()
        .endpoint_config_name(config)
        .send()
        .await
        .map_err(|e| cloud.fail(errors::sagemaker("DescribeEndpointConfig"), config, &e))?;
    Ok(described
        .production_variants()
        .iter()
        .filter_map(|v| v.model_name().and_then(model_version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_names_configured_models_or_all() {
        let configured = ["chatbot-eleven", "themes"];
        let named = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            train_models(&named(&["themes"]), false, &configured),
            Ok(named(&["themes"]))
        );
        assert_eq!(train_models(&[], true, &configured), Ok(Vec::new()));
        let unknown =
            train_models(&named(&["themes", "nobody"]), false, &configured).expect_err("unknown");
        assert!(
            unknown.contains("nobody") && unknown.contains("chatbot-eleven"),
            "{unknown}"
        );
        assert!(train_models(&[], false, &configured).is_err());
        assert!(train_models(&named(&["themes"]), true, &configured).is_err());
    }
}

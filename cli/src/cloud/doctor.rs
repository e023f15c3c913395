//! `hawkins doctor`: is the stack ready to train? One line per check, before and after
//! `sam deploy`.
//!
//! Which checks a config asks for ([`images`], [`secrets`], [`quota_needs`]) and what each
//! finding says (the `*_check` functions) are plain functions over values, tested here; the SDK
//! calls at the end only fetch the facts: DescribeStacks, ECR DescribeImages, Secrets Manager
//! DescribeSecret (never the value), SNS ListSubscriptionsByTopic and Service Quotas
//! ListServiceQuotas (then ListAWSDefaultServiceQuotas for the names an account has not
//! changed).

use std::collections::BTreeMap;

use anyhow::Result;
use aws_config::Region;
use hawkins::config::{Config, Deploy};
use serde::Serialize;

use super::errors::{self, Failure, failure};
use super::{Cloud, StackInfo, StackOutputs};
use crate::exit::{Exit, coded, coded_after_output};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub level: Level,
    pub check: String,
    pub detail: String,
}

fn check(level: Level, name: impl Into<String>, detail: impl Into<String>) -> Check {
    Check {
        level,
        check: name.into(),
        detail: detail.into(),
    }
}

/// `ok    stack hawkins  CREATE_COMPLETE in eu-west-1`.
pub fn line(c: &Check) -> String {
    format!("{:<4}  {}  {}", c.level.as_str(), c.check, c.detail)
}

// ---------------------------------------------------------------------------------------------
// The stack.

/// The stack, as DescribeStacks found it (`Err`: the explained failure, `Ok(None)`: no stack).
pub fn stack_check(stack: &str, region: &str, found: &Result<Option<StackInfo>, String>) -> Check {
    let name = format!("stack {stack}");
    let info = match found {
        Err(message) => return check(Level::Fail, name, message.clone()),
        Ok(None) => {
            return check(
                Level::Fail,
                name,
                format!(
                    "no stack named {stack} in {region}: deploy infra/template.yaml (sam build && sam deploy --guided), or pass --stack / --region"
                ),
            );
        }
        Ok(Some(info)) => info,
    };
    let status = info.status.as_str();
    let why = info
        .reason
        .as_deref()
        .filter(|r| !r.is_empty())
        .map_or(String::new(), |r| format!(" ({r})"));
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" => {
            match StackOutputs::from_outputs(stack, status, &info.outputs) {
                Ok(_) => check(
                    Level::Ok,
                    name,
                    format!("{status} in {region}, with its outputs"),
                ),
                Err(message) => check(Level::Fail, name, message),
            }
        }
        "UPDATE_ROLLBACK_COMPLETE" => check(
            Level::Warn,
            name,
            format!(
                "{status}{why}: the last update was rolled back and the stack runs the previous version; fix the cause and run sam deploy again"
            ),
        ),
        s if s.ends_with("_IN_PROGRESS") => check(
            Level::Warn,
            name,
            format!("{status}: a deployment is under way; run hawkins doctor again when it ends"),
        ),
        _ => check(
            Level::Fail,
            name,
            format!(
                "{status}{why}: the stack is not usable; see its events in the CloudFormation console, fix the cause, delete it when it is ROLLBACK_COMPLETE, and run sam deploy again"
            ),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Images.

/// An image as the config names it, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The account of the registry, when the image is a full ECR URI.
    pub account: Option<String>,
    /// The region of the registry, when the image is a full ECR URI.
    pub region: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// `repository:tag`, `repository@sha256:…`, or a full ECR URI
/// (`<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`). Another registry is an
/// error saying that only ECR images are checked.
pub fn parse_image(image: &str) -> Result<ImageRef, String> {
    let (account, region, path) = match image.split_once('/') {
        Some((host, path)) if host.contains('.') || host.contains(':') => {
            let parts: Vec<&str> = host.split('.').collect();
            match parts.as_slice() {
                [account, "dkr", ecr, region, "amazonaws", "com", ..]
                    if ecr.starts_with("ecr") && !account.is_empty() =>
                {
                    (Some(account.to_string()), Some(region.to_string()), path)
                }
                _ => {
                    return Err(format!(
                        "{image} is not in ECR: SageMaker pulls training images from ECR only; push it there (docker/build_and_push.sh)"
                    ));
                }
            }
        }
        _ => (None, None, image),
    };
    let (repository, tag, digest) = match path.split_once('@') {
        Some((repository, digest)) => (repository, None, Some(digest.to_string())),
        None => {
            let name_start = path.rfind('/').map_or(0, |i| i + 1);
            match path[name_start..].rsplit_once(':') {
                Some((_, tag)) => (
                    &path[..path.len() - tag.len() - 1],
                    Some(tag.to_string()),
                    None,
                ),
                None => (path, None, None),
            }
        }
    };
    if repository.is_empty() {
        return Err(format!(
            "{image} names no repository: write repository:tag, as hawkins-training:0.1.0"
        ));
    }
    Ok(ImageRef {
        account,
        region,
        repository: repository.to_string(),
        tag,
        digest,
    })
}

/// Each image the config names (training images, and inference images that differ), with the
/// models using it, in the config's order.
pub fn images(config: &Config) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for model in &config.models {
        for image in [&model.training_image, &model.inference_image] {
            match out.iter_mut().find(|(i, _)| i == image) {
                Some((_, models)) if models.last() != Some(&model.name) => {
                    models.push(model.name.clone())
                }
                Some(_) => {}
                None => out.push((image.clone(), vec![model.name.clone()])),
            }
        }
    }
    out
}

/// What ECR says about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFound {
    Present,
    NoRepository,
    NoImage,
    /// The call failed: the explained failure.
    Unknown(String),
}

/// Where an image is looked for: its own registry when a full URI, else the stack's.
pub fn image_location(image: &ImageRef, account: Option<&str>, region: &str) -> String {
    let account = image
        .account
        .as_deref()
        .or(account)
        .unwrap_or("your account");
    let region = image.region.as_deref().unwrap_or(region);
    format!("{account}/{region}")
}

pub fn image_check(
    image: &str,
    models: &[String],
    parsed: &Result<ImageRef, String>,
    location: &str,
    found: Option<&ImageFound>,
) -> Check {
    let name = format!("image {image}");
    let used = format!("used by {}", models.join(", "));
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return check(Level::Fail, name, format!("{message} ({used})")),
    };
    let version = match (&parsed.tag, &parsed.digest) {
        (Some(tag), _) => format!("tag {tag}"),
        (None, Some(digest)) => format!("digest {digest}"),
        (None, None) => "tag latest".to_string(),
    };
    match found {
        Some(ImageFound::Present) => check(
            Level::Ok,
            name,
            format!("in ECR {location}, {version} ({used})"),
        ),
        Some(ImageFound::NoRepository) => check(
            Level::Fail,
            name,
            format!(
                "no ECR repository {} in {location}: build and push the image with docker/build_and_push.sh ({used})",
                parsed.repository
            ),
        ),
        Some(ImageFound::NoImage) => check(
            Level::Fail,
            name,
            format!(
                "repository {} in {location} has no image with {version}: push it (docker/build_and_push.sh), or set the tag it printed in the config ({used})",
                parsed.repository
            ),
        ),
        Some(ImageFound::Unknown(message)) => check(
            Level::Warn,
            name,
            format!("could not be checked: {message} ({used})"),
        ),
        None => check(Level::Warn, name, format!("not checked ({used})")),
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets.

/// Each Hugging Face token secret the config names, with its models.
pub fn secrets(config: &Config) -> Vec<(String, Vec<String>)> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for model in &config.models {
        if let Some(arn) = &model.hf_token_secret_arn {
            out.entry(arn.clone()).or_default().push(model.name.clone());
        }
    }
    out.into_iter().collect()
}

/// The region of an ARN (`arn:aws:secretsmanager:<region>:…`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// What DescribeSecret says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFound {
    Present {
        scheduled_for_deletion: bool,
    },
    Missing,
    /// The caller may not describe it: the explained failure.
    Denied(String),
    Unknown(String),
}

pub fn secret_check(arn: &str, models: &[String], found: &SecretFound) -> Check {
    let name = format!("secret {arn}");
    let used = format!("the Hugging Face token of {}", models.join(", "));
    match found {
        SecretFound::Present {
            scheduled_for_deletion: false,
        } => check(Level::Ok, name, format!("exists and is readable ({used})")),
        SecretFound::Present {
            scheduled_for_deletion: true,
        } => check(
            Level::Fail,
            name,
            format!(
                "is scheduled for deletion: restore it with `aws secretsmanager restore-secret --secret-id {arn}` ({used})"
            ),
        ),
        SecretFound::Missing => check(
            Level::Fail,
            name,
            format!(
                "does not exist: create it with `aws secretsmanager create-secret --name hawkins/hf-token --secret-string <token>` and put its ARN in the config ({used})"
            ),
        ),
        SecretFound::Denied(message) => check(
            Level::Fail,
            name,
            format!("not readable by you: {message} ({used})"),
        ),
        SecretFound::Unknown(message) => check(
            Level::Warn,
            name,
            format!("could not be checked: {message} ({used})"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The alert subscription.

/// A subscription of the alert topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub protocol: String,
    pub endpoint: String,
    /// `PendingConfirmation` until the e-mail's link is followed.
    pub arn: String,
}

pub fn subscription_check(topic: Option<&str>, found: &Result<Vec<Subscription>, String>) -> Check {
    let name = "alerts";
    let Some(topic) = topic else {
        return check(
            Level::Warn,
            name,
            "not checked: the stack's AlertTopicArn output is needed",
        );
    };
    let subscriptions = match found {
        Ok(subscriptions) => subscriptions,
        Err(message) => {
            return check(
                Level::Warn,
                name,
                format!("the subscriptions of {topic} could not be listed: {message}"),
            );
        }
    };
    let emails: Vec<&Subscription> = subscriptions
        .iter()
        .filter(|s| s.protocol.starts_with("email"))
        .collect();
    let pending: Vec<&str> = emails
        .iter()
        .filter(|s| s.arn == "PendingConfirmation")
        .map(|s| s.endpoint.as_str())
        .collect();
    if emails.is_empty() {
        return check(
            Level::Warn,
            name,
            format!(
                "no e-mail subscription on {topic}: nobody hears of failures; deploy with `sam deploy --parameter-overrides AlertEmail=you@example.com`"
            ),
        );
    }
    if !pending.is_empty() {
        return check(
            Level::Warn,
            name,
            format!(
                "the subscription of {} is PendingConfirmation: confirm the e-mail (follow the link AWS sent), or no alert reaches it",
                pending.join(", ")
            ),
        );
    }
    let to: Vec<&str> = emails.iter().map(|s| s.endpoint.as_str()).collect();
    check(
        Level::Ok,
        name,
        format!("{topic} e-mails {} (confirmed)", to.join(", ")),
    )
}

// ---------------------------------------------------------------------------------------------
// Quotas.

/// What a config needs of one SageMaker quota.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaNeed {
    /// The quota's name in Service Quotas, such as `ml.g5.2xlarge for spot training job usage`.
    pub name: String,
    /// Instances the biggest single job or endpoint needs: below this nothing of it runs.
    pub least: u32,
    /// Instances when everything using the quota runs at once (every model trains on a new
    /// corpus version together; an endpoint update brings up a second fleet beside the first).
    pub peak: u32,
    pub models: Vec<String>,
}

/// The quota names a config needs, in name order.
pub fn quota_needs(config: &Config) -> Vec<QuotaNeed> {
    let mut needs: BTreeMap<String, QuotaNeed> = BTreeMap::new();
    let mut add = |name: String, least: u32, peak: u32, model: &str| {
        let need = needs.entry(name.clone()).or_insert_with(|| QuotaNeed {
            name,
            least: 0,
            peak: 0,
            models: Vec::new(),
        });
        need.least = need.least.max(least);
        need.peak = need.peak.saturating_add(peak);
        need.models.push(model.to_string());
    };
    for model in &config.models {
        let usage = if model.spot {
            "spot training job usage"
        } else {
            "training job usage"
        };
        let parallel = model
            .tuning
            .as_ref()
            .map_or(1, |t| t.max_parallel_jobs.max(1));
        add(
            format!("{} for {usage}", model.instance_type),
            model.instance_count,
            model.instance_count.saturating_mul(parallel),
            &model.name,
        );
        match &model.deploy {
            Some(Deploy::Realtime {
                instance_type,
                initial_instance_count,
                max_instances,
                ..
            }) => add(
                format!("{instance_type} for endpoint usage"),
                *initial_instance_count,
                (*max_instances).max(*initial_instance_count) + initial_instance_count,
                &model.name,
            ),
            Some(Deploy::Batch {
                instance_type,
                instance_count,
            }) => add(
                format!("{instance_type} for transform job usage"),
                *instance_count,
                *instance_count,
                &model.name,
            ),
            Some(Deploy::Serverless { .. }) | None => {}
        }
    }
    needs.into_values().collect()
}

/// The account's SageMaker quotas by name, or why they could not be read.
pub type Quotas = Result<BTreeMap<String, f64>, String>;

pub fn quota_check(need: &QuotaNeed, quotas: &Quotas) -> Check {
    let name = format!("quota {}", need.name);
    let used = format!("for {}", need.models.join(", "));
    let console = "request an increase in the Service Quotas console (Amazon SageMaker)";
    let quotas = match quotas {
        Ok(quotas) if quotas.is_empty() => {
            return check(
                Level::Warn,
                name,
                format!(
                    "Service Quotas returned no SageMaker quota: check this one in the console ({used}; {} instance(s) needed)",
                    need.peak
                ),
            );
        }
        Ok(quotas) => quotas,
        Err(message) => {
            return check(
                Level::Warn,
                name,
                format!(
                    "the SageMaker quotas could not be read ({message}): check this one in the Service Quotas console ({used})"
                ),
            );
        }
    };
    let Some(value) = quotas.get(&need.name).copied() else {
        return check(
            Level::Warn,
            name,
            format!(
                "no such quota in Service Quotas: is the instance type right, and offered in this region? ({used})"
            ),
        );
    };
    let shown = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        value.to_string()
    };
    if value <= 0.0 {
        check(
            Level::Fail,
            name,
            format!(
                "is 0: no job can start; {console} to at least {} ({used})",
                need.peak
            ),
        )
    } else if value < f64::from(need.least) {
        check(
            Level::Fail,
            name,
            format!(
                "is {shown}, below the {} instances one job needs; {console} to at least {} ({used})",
                need.least, need.peak
            ),
        )
    } else if value < f64::from(need.peak) {
        check(
            Level::Warn,
            name,
            format!(
                "is {shown}: enough for one at a time, not the {} instances when all run at once (the rest fail with ResourceLimitExceeded); {console} ({used})",
                need.peak
            ),
        )
    } else {
        check(
            Level::Ok,
            name,
            format!("is {shown}, {} needed ({used})", need.peak),
        )
    }
}

/// The closing line, and whether doctor fails.
pub fn summary(checks: &[Check]) -> (String, bool) {
    let count = |level| checks.iter().filter(|c| c.level == level).count();
    let (ok, warn, fail) = (count(Level::Ok), count(Level::Warn), count(Level::Fail));
    let text = format!("{ok} ok, {warn} warn, {fail} fail");
    (text, fail > 0)
}

// ---------------------------------------------------------------------------------------------
// The calls.

pub async fn run(cloud: &Cloud, json: bool) -> Result<()> {
    let stack = match cloud.describe_stack().await {
        Ok(stack) => Ok(Some(stack)),
        Err(e)
            if crate::exit::of(&e) == Exit::AwsRefused
                && e.to_string().starts_with("no stack named") =>
        {
            Ok(None)
        }
        Err(e) => Err(e.to_string()),
    };
    let mut checks = vec![stack_check(&cloud.stack, &cloud.region, &stack)];
    let info = stack.as_ref().ok().and_then(Option::as_ref);
    let account = info.and_then(StackInfo::account);

    for (image, models) in images(&cloud.config) {
        let parsed = parse_image(&image);
        let (location, found) = match &parsed {
            Ok(parsed) => (
                image_location(parsed, account, &cloud.region),
                Some(find_image(cloud, parsed, account).await),
            ),
            Err(_) => (String::new(), None),
        };
        checks.push(image_check(
            &image,
            &models,
            &parsed,
            &location,
            found.as_ref(),
        ));
    }

    for (arn, models) in secrets(&cloud.config) {
        let found = find_secret(cloud, &arn).await;
        checks.push(secret_check(&arn, &models, &found));
    }

    let topic = info.and_then(|i| {
        i.outputs
            .iter()
            .find(|(k, _)| k == "AlertTopicArn")
            .map(|(_, v)| v.clone())
    });
    let subscriptions = match &topic {
        Some(topic) => list_subscriptions(cloud, topic).await,
        None => Ok(Vec::new()),
    };
    checks.push(subscription_check(topic.as_deref(), &subscriptions));

    let needs = quota_needs(&cloud.config);
    let quotas = read_quotas(cloud, &needs).await;
    checks.extend(needs.iter().map(|need| quota_check(need, &quotas)));

    let (text, failed) = summary(&checks);
    if json {
        let document = serde_json::json!({
            "stack": cloud.stack,
            "region": cloud.region,
            "ok": !failed,
            "summary": text,
            "checks": checks,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        for c in &checks {
            println!("{}", line(c));
        }
        println!("{text}");
    }
    if failed {
        let message = format!("doctor: {text}; fix the failing checks above and run it again");
        return Err(if json {
            coded_after_output(Exit::DoctorFailed, message)
        } else {
            coded(Exit::DoctorFailed, message)
        });
    }
    Ok(())
}

fn explained<E, R>(
    cloud: &Cloud,
    call: errors::Call,
    resource: &str,
    err: &aws_sdk_sagemaker::error::SdkError<E, R>,
) -> (Failure, String)
where
    E: aws_sdk_sagemaker::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let found = failure(err);
    let message = errors::explain(call, resource, &cloud.region, &found);
    (found, message)
}

fn code(found: &Failure) -> &str {
    match found {
        Failure::Service { code, .. } => code,
        _ => "",
    }
}

async fn find_image(cloud: &Cloud, image: &ImageRef, account: Option<&str>) -> ImageFound {
    let mut config = aws_sdk_ecr::config::Builder::from(&cloud.sdk);
    if let Some(region) = &image.region {
        config = config.region(Region::new(region.clone()));
    }
    let client = aws_sdk_ecr::Client::from_conf(config.build());
    let id = aws_sdk_ecr::types::ImageIdentifier::builder()
        .set_image_tag(
            image
                .tag
                .clone()
                .or_else(|| image.digest.is_none().then(|| "latest".to_string())),
        )
        .set_image_digest(image.digest.clone())
        .build();
    let answer = client
        .describe_images()
        .set_registry_id(image.account.clone().or(account.map(str::to_string)))
        .repository_name(&image.repository)
        .image_ids(id)
        .send()
        .await;
    match answer {
        Ok(answer) if !answer.image_details().is_empty() => ImageFound::Present,
        Ok(_) => ImageFound::NoImage,
        Err(e) => {
            let (found, message) =
                explained(cloud, errors::ecr("DescribeImages"), &image.repository, &e);
            match code(&found) {
                "RepositoryNotFoundException" => ImageFound::NoRepository,
                "ImageNotFoundException" => ImageFound::NoImage,
                _ => ImageFound::Unknown(message),
            }
        }
    }
}

async fn find_secret(cloud: &Cloud, arn: &str) -> SecretFound {
    let mut config = aws_sdk_secretsmanager::config::Builder::from(&cloud.sdk);
    if let Some(region) = arn_region(arn) {
        config = config.region(Region::new(region.to_string()));
    }
    let client = aws_sdk_secretsmanager::Client::from_conf(config.build());
    match client.describe_secret().secret_id(arn).send().await {
        Ok(secret) => SecretFound::Present {
            scheduled_for_deletion: secret.deleted_date().is_some(),
        },
        Err(e) => {
            let (found, message) =
                explained(cloud, errors::secretsmanager("DescribeSecret"), arn, &e);
            if code(&found) == "ResourceNotFoundException" {
                SecretFound::Missing
            } else if errors::exit_for(&found) == Exit::AwsRefused {
                SecretFound::Denied(message)
            } else {
                SecretFound::Unknown(message)
            }
        }
    }
}

async fn list_subscriptions(cloud: &Cloud, topic: &str) -> Result<Vec<Subscription>, String> {
    let client = aws_sdk_sns::Client::new(&cloud.sdk);
    let mut out = Vec::new();
    let mut pages = client
        .list_subscriptions_by_topic()
        .topic_arn(topic)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| explained(cloud, errors::sns("ListSubscriptionsByTopic"), topic, &e).1)?;
        out.extend(page.subscriptions().iter().map(|s| Subscription {
            protocol: s.protocol().unwrap_or_default().to_string(),
            endpoint: s.endpoint().unwrap_or_default().to_string(),
            arn: s.subscription_arn().unwrap_or_default().to_string(),
        }));
    }
    Ok(out)
}

/// The applied SageMaker quotas, then the defaults of the names the account never changed.
async fn read_quotas(cloud: &Cloud, needs: &[QuotaNeed]) -> Quotas {
    let client = aws_sdk_servicequotas::Client::new(&cloud.sdk);
    let mut out = BTreeMap::new();
    let mut pages = client
        .list_service_quotas()
        .service_code("sagemaker")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            explained(
                cloud,
                errors::servicequotas("ListServiceQuotas"),
                "sagemaker",
                &e,
            )
            .1
        })?;
        for q in page.quotas() {
            if let (Some(name), Some(value)) = (q.quota_name(), q.value()) {
                out.insert(name.to_string(), value);
            }
        }
    }
    if needs.iter().all(|n| out.contains_key(&n.name)) {
        return Ok(out);
    }
    let mut pages = client
        .list_aws_default_service_quotas()
        .service_code("sagemaker")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            explained(
                cloud,
                errors::servicequotas("ListAWSDefaultServiceQuotas"),
                "sagemaker",
                &e,
            )
            .1
        })?;
        for q in page.quotas() {
            if let (Some(name), Some(value)) = (q.quota_name(), q.value()) {
                out.entry(name.to_string()).or_insert(value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: &str, outputs: &[&str]) -> StackInfo {
        StackInfo {
            id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/hawkins/1".into(),
            status: status.into(),
            reason: Some("Resource creation cancelled".into()),
            outputs: outputs
                .iter()
                .map(|k| (k.to_string(), format!("value-{k}")))
                .collect(),
        }
    }

    const OUTPUTS: [&str; 3] = ["BucketName", "AlertTopicArn", "SageMakerExecutionRoleArn"];

    #[test]
    fn the_stack_must_be_complete_with_its_outputs() {
        let ok = stack_check(
            "hawkins",
            "eu-west-1",
            &Ok(Some(stack("UPDATE_COMPLETE", &OUTPUTS))),
        );
        assert_eq!(ok.level, Level::Ok, "{ok:?}");
        assert_eq!(
            line(&ok),
            "ok    stack hawkins  UPDATE_COMPLETE in eu-west-1, with its outputs"
        );
        let partial = stack_check(
            "hawkins",
            "eu-west-1",
            &Ok(Some(stack("CREATE_COMPLETE", &["BucketName"]))),
        );
        assert_eq!(partial.level, Level::Fail);
        assert!(
            partial.detail.contains("has no output AlertTopicArn"),
            "{partial:?}"
        );
        let missing = stack_check("hawkins", "eu-west-1", &Ok(None));
        assert_eq!(missing.level, Level::Fail);
        assert!(missing.detail.contains("sam deploy"), "{missing:?}");
        let rolled_back = stack_check(
            "hawkins",
            "eu-west-1",
            &Ok(Some(stack("ROLLBACK_COMPLETE", &[]))),
        );
        assert_eq!(rolled_back.level, Level::Fail);
        assert!(
            rolled_back.detail.contains("(Resource creation cancelled)"),
            "{rolled_back:?}"
        );
        let moving = stack_check(
            "hawkins",
            "eu-west-1",
            &Ok(Some(stack("UPDATE_IN_PROGRESS", &OUTPUTS))),
        );
        assert_eq!(moving.level, Level::Warn);
        let refused = stack_check(
            "hawkins",
            "eu-west-1",
            &Err("DescribeStacks hawkins was refused".into()),
        );
        assert_eq!(refused.level, Level::Fail);
    }

    #[test]
    fn images_are_taken_apart() {
        assert_eq!(
            parse_image("hawkins-training:0.1.0"),
            Ok(ImageRef {
                account: None,
                region: None,
                repository: "hawkins-training".into(),
                tag: Some("0.1.0".into()),
                digest: None
            })
        );
        let full =
            parse_image("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/hawkins-training:2")
                .unwrap();
        assert_eq!(full.account.as_deref(), Some("123456789012"));
        assert_eq!(full.region.as_deref(), Some("eu-west-1"));
        assert_eq!(full.repository, "team/hawkins-training");
        assert_eq!(full.tag.as_deref(), Some("2"));
        let pinned = parse_image("hawkins-training@sha256:abc").unwrap();
        assert_eq!(pinned.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(pinned.tag, None);
        assert!(
            parse_image("ghcr.io/someone/trainer:1")
                .unwrap_err()
                .contains("not in ECR")
        );
        assert!(parse_image(":1").is_err());
        assert_eq!(
            image_location(&full, Some("999"), "us-east-1"),
            "123456789012/eu-west-1"
        );
        let short = parse_image("hawkins-training:0.1.0").unwrap();
        assert_eq!(
            image_location(&short, Some("999"), "us-east-1"),
            "999/us-east-1"
        );
    }

    fn config() -> Config {
        crate::cloud::test_config(
            r#"
[[model]]
name = "chatbot-eleven"
kind = "chatbot"
dataset = "chatbot/eleven.jsonl"
character = "Eleven"
spot = true
max_wait_seconds = 7200
hf_token_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hawkins/hf-AbC"
[model.deploy]
mode = "realtime"
instance_type = "ml.g5.xlarge"
initial_instance_count = 1
max_instances = 2
[[model]]
name = "chatbot-mike"
kind = "chatbot"
dataset = "chatbot/mike-wheeler.jsonl"
character = "Mike Wheeler"
spot = true
max_wait_seconds = 7200
hf_token_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hawkins/hf-AbC"
[[model]]
name = "locations"
kind = "location"
dataset = "locations/locations.jsonl"
base_model = "distilbert-base-uncased"
instance_type = "ml.m5.xlarge"
image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/other:1"
metrics = [{ name = "accuracy", regex = '^METRIC step=\d+ accuracy=([0-9.eE+-]+)$' }]
[model.tuning]
objective = "accuracy"
direction = "maximize"
max_jobs = 4
max_parallel_jobs = 2
ranges = { learning_rate = { type = "continuous", min = 0.00001, max = 0.001 } }
[[model]]
name = "themes"
kind = "theme"
dataset = "themes/batches.jsonl"
base_model = "facebook/bart-large-mnli"
instance_type = "ml.m5.xlarge"
hyperparameters = { themes = "friendship,fear" }
[model.deploy]
mode = "batch"
instance_type = "ml.m5.xlarge"
"#,
        )
    }

    #[test]
    fn a_config_names_its_images_secrets_and_quotas() {
        let config = config();
        let images = images(&config);
        assert_eq!(
            images[0],
            (
                "hawkins-training:0.1.0".to_string(),
                vec![
                    "chatbot-eleven".to_string(),
                    "chatbot-mike".to_string(),
                    "themes".to_string()
                ]
            )
        );
        assert_eq!(
            images[1].0,
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/other:1"
        );
        assert_eq!(images.len(), 2);
        let secrets = secrets(&config);
        assert_eq!(secrets.len(), 1);
        assert_eq!(secrets[0].1, ["chatbot-eleven", "chatbot-mike"]);
        assert_eq!(arn_region(&secrets[0].0), Some("eu-west-1"));

        let needs = quota_needs(&config);
        let by_name: BTreeMap<&str, (u32, u32)> = needs
            .iter()
            .map(|n| (n.name.as_str(), (n.least, n.peak)))
            .collect();
        assert_eq!(
            by_name,
            BTreeMap::from([
                ("ml.g5.2xlarge for spot training job usage", (1, 2)),
                ("ml.g5.xlarge for endpoint usage", (1, 3)),
                ("ml.m5.xlarge for training job usage", (1, 3)),
                ("ml.m5.xlarge for transform job usage", (1, 1)),
            ])
        );
    }

    #[test]
    fn image_findings_say_what_to_push() {
        let models = vec!["chatbot-eleven".to_string()];
        let parsed = parse_image("hawkins-training:0.1.0");
        let at = "123456789012/eu-west-1";
        let ok = image_check(
            "hawkins-training:0.1.0",
            &models,
            &parsed,
            at,
            Some(&ImageFound::Present),
        );
        assert_eq!(
            line(&ok),
            "ok    image hawkins-training:0.1.0  in ECR 123456789012/eu-west-1, tag 0.1.0 (used by chatbot-eleven)"
        );
        let no_repo = image_check(
            "hawkins-training:0.1.0",
            &models,
            &parsed,
            at,
            Some(&ImageFound::NoRepository),
        );
        assert_eq!(no_repo.level, Level::Fail);
        assert!(
            no_repo.detail.contains("docker/build_and_push.sh"),
            "{no_repo:?}"
        );
        let no_tag = image_check(
            "hawkins-training:0.1.0",
            &models,
            &parsed,
            at,
            Some(&ImageFound::NoImage),
        );
        assert!(
            no_tag.detail.contains("has no image with tag 0.1.0"),
            "{no_tag:?}"
        );
        let unknown = image_check(
            "hawkins-training:0.1.0",
            &models,
            &parsed,
            at,
            Some(&ImageFound::Unknown("refused".into())),
        );
        assert_eq!(unknown.level, Level::Warn);
        let elsewhere = parse_image("ghcr.io/x/y:1");
        assert_eq!(
            image_check("ghcr.io/x/y:1", &models, &elsewhere, "", None).level,
            Level::Fail
        );
    }

    #[test]
    fn secret_findings_never_show_a_value_and_say_what_to_do() {
        let models = vec!["chatbot-eleven".to_string()];
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:hf";
        assert_eq!(
            secret_check(
                arn,
                &models,
                &SecretFound::Present {
                    scheduled_for_deletion: false
                }
            )
            .level,
            Level::Ok
        );
        let deleting = secret_check(
            arn,
            &models,
            &SecretFound::Present {
                scheduled_for_deletion: true,
            },
        );
        assert!(
            deleting.level == Level::Fail && deleting.detail.contains("restore-secret"),
            "{deleting:?}"
        );
        let missing = secret_check(arn, &models, &SecretFound::Missing);
        assert!(
            missing.level == Level::Fail && missing.detail.contains("create-secret"),
            "{missing:?}"
        );
        assert_eq!(
            secret_check(arn, &models, &SecretFound::Denied("grant it".into())).level,
            Level::Fail
        );
        assert_eq!(
            secret_check(arn, &models, &SecretFound::Unknown("throttled".into())).level,
            Level::Warn
        );
    }

    #[test]
    fn a_pending_email_is_a_warning_to_confirm_it() {
        let sub = |protocol: &str, arn: &str| Subscription {
            protocol: protocol.into(),
            endpoint: "ops@example.com".into(),
            arn: arn.into(),
        };
        let topic = Some("arn:aws:sns:eu-west-1:1:alerts");
        let pending = subscription_check(topic, &Ok(vec![sub("email", "PendingConfirmation")]));
        assert_eq!(pending.level, Level::Warn);
        assert!(pending.detail.contains("confirm the e-mail"), "{pending:?}");
        let confirmed = subscription_check(
            topic,
            &Ok(vec![sub("email", "arn:aws:sns:eu-west-1:1:alerts:abc")]),
        );
        assert_eq!(confirmed.level, Level::Ok);
        let none = subscription_check(topic, &Ok(vec![sub("sqs", "arn:x")]));
        assert!(
            none.level == Level::Warn && none.detail.contains("AlertEmail="),
            "{none:?}"
        );
        assert_eq!(subscription_check(None, &Ok(vec![])).level, Level::Warn);
        assert_eq!(
            subscription_check(topic, &Err("refused".into())).level,
            Level::Warn
        );
    }

    #[test]
    fn quotas_fail_at_zero_and_warn_when_missing() {
        let need = QuotaNeed {
            name: "ml.g5.2xlarge for spot training job usage".into(),
            least: 1,
            peak: 2,
            models: vec!["chatbot-eleven".into(), "chatbot-mike".into()],
        };
        let quotas = |v: f64| -> Quotas { Ok(BTreeMap::from([(need.name.clone(), v)])) };
        assert_eq!(quota_check(&need, &quotas(0.0)).level, Level::Fail);
        assert!(
            quota_check(&need, &quotas(0.0))
                .detail
                .contains("request an increase")
        );
        assert_eq!(quota_check(&need, &quotas(1.0)).level, Level::Warn);
        let ok = quota_check(&need, &quotas(4.0));
        assert_eq!(
            line(&ok),
            "ok    quota ml.g5.2xlarge for spot training job usage  is 4, 2 needed (for chatbot-eleven, chatbot-mike)"
        );
        let bigger = QuotaNeed {
            least: 2,
            ..need.clone()
        };
        assert_eq!(quota_check(&bigger, &quotas(1.0)).level, Level::Fail);
        let other: Quotas = Ok(BTreeMap::from([(
            "ml.m5.xlarge for training job usage".to_string(),
            4.0,
        )]));
        let missing = quota_check(&need, &other);
        assert!(
            missing.level == Level::Warn && missing.detail.contains("no such quota"),
            "{missing:?}"
        );
        let empty = quota_check(&need, &Ok(BTreeMap::new()));
        assert!(
            empty.level == Level::Warn && empty.detail.contains("returned no SageMaker quota"),
            "{empty:?}"
        );
        let unreadable = quota_check(&need, &Err("ListServiceQuotas sagemaker failed".into()));
        assert_eq!(unreadable.level, Level::Warn);
    }

    #[test]
    fn any_failing_check_fails_doctor() {
        let checks = [check(Level::Ok, "a", "x"), check(Level::Warn, "b", "y")];
        assert_eq!(
            summary(&checks),
            ("1 ok, 1 warn, 0 fail".to_string(), false)
        );
        let failing = [check(Level::Ok, "a", "x"), check(Level::Fail, "c", "z")];
        assert_eq!(
            summary(&failing),
            ("1 ok, 0 warn, 1 fail".to_string(), true)
        );
    }
}

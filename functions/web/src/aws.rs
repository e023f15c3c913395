//! The app's parts over the AWS SDK: SageMaker (registry, endpoints, jobs), SageMaker Runtime
//! (invocations), S3 (reads through `hawkins::aws::s3::S3Store`, presigned PUTs), and Cognito's
//! sign-in (the user pool's keys and token endpoint, over HTTPS).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::types::{
    ModelApprovalStatus, ModelPackageSortBy, SortOrder, TrainingJobStatus,
};
use aws_sdk_sagemakerruntime::primitives::Blob;
use hawkins::aws::lifecycle::SageMakerLifecycle;
use hawkins::aws::s3::S3Store;
use hawkins::config::Config;
use hawkins::lifecycle::Hosting;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::RwLock;

use crate::auth::{AuthError, CognitoSettings, SignIn, User, verify_id_token};
use crate::backend::{
    Backend, BackendError, EndpointRow, Invoked, PackageRow, Presigned, RunningJob, VariantRow,
};

/// How long a presigned upload URL works.
const PRESIGN_SECONDS: u64 = 900;

/// SageMaker, SageMaker Runtime and the upload presigner.
pub struct AwsBackend {
    sagemaker: aws_sdk_sagemaker::Client,
    runtime: aws_sdk_sagemakerruntime::Client,
    hosting: SageMakerLifecycle,
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// The config's models: a running job is the project's when its name starts with one.
    models: Vec<String>,
}

impl AwsBackend {
    pub fn new(sdk: &SdkConfig, bucket: &str, config: &Config) -> Self {
        Self {
            sagemaker: aws_sdk_sagemaker::Client::new(sdk),
            runtime: aws_sdk_sagemakerruntime::Client::new(sdk),
            hosting: SageMakerLifecycle::from_config(sdk),
            s3: S3Store::client(sdk),
            bucket: bucket.into(),
            models: config.models.iter().map(|m| m.name.clone()).collect(),
        }
    }
}

/// Sorts an SDK failure: throttling, timeouts and 5xx may pass; a missing resource is named.
fn backend_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    operation: &str,
    err: &SdkError<E, R>,
) -> BackendError {
    let operation = operation.to_string();
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown").to_string();
            let message = inner.message().unwrap_or("no message").to_string();
            match code.as_str() {
                "ThrottlingException"
                | "ServiceUnavailable"
                | "InternalFailure"
                | "ModelNotReadyException"
                | "InternalDependencyException" => BackendError::Unavailable { operation, message },
                "ModelError" => BackendError::ModelFailed(message),
                "ResourceNotFound" => BackendError::Missing(message),
                "ValidationException" | "ValidationError"
                    if message.contains("not found")
                        || message.contains("does not exist")
                        || message.contains("Could not find") =>
                {
                    BackendError::Missing(message)
                }
                _ => BackendError::Refused {
                    operation,
                    message: format!("{code}: {message}"),
                },
            }
        }
        other => BackendError::Unavailable {
            operation,
            message: format!("{other:?}").chars().take(300).collect(),
        },
    }
}

fn seconds(t: Option<&aws_sdk_sagemaker::primitives::DateTime>) -> Option<i64> {
    t.map(|t| t.secs())
}

impl AwsBackend {
    /// The group's newest `limit` packages as (ARN, row without metadata): one list call.
    async fn list(
        &self,
        group: &str,
        limit: usize,
    ) -> Result<Vec<(String, PackageRow)>, BackendError> {
        let listed = self
            .sagemaker
            .list_model_packages()
            .model_package_group_name(group)
            .sort_by(ModelPackageSortBy::CreationTime)
            .sort_order(SortOrder::Descending)
            .max_results(limit.clamp(1, 100) as i32)
            .send()
            .await
            .map_err(|e| backend_error("ListModelPackages", &e))?;
        Ok(listed
            .model_package_summary_list()
            .iter()
            .map(|summary| {
                let row = PackageRow {
                    version: summary.model_package_version().unwrap_or_default().max(0) as u32,
                    approval: summary
                        .model_approval_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    created: seconds(summary.creation_time()),
                    metadata: BTreeMap::new(),
                };
                (
                    summary.model_package_arn().unwrap_or_default().to_string(),
                    row,
                )
            })
            .collect())
    }
}

impl Backend for AwsBackend {
    async fn packages(&self, group: &str, limit: usize) -> Result<Vec<PackageRow>, BackendError> {
        let mut rows = Vec::new();
        for (arn, mut row) in self.list(group, limit).await? {
            let described = self
                .sagemaker
                .describe_model_package()
                .model_package_name(arn)
                .send()
                .await
                .map_err(|e| backend_error("DescribeModelPackage", &e))?;
            row.metadata = described
                .customer_metadata_properties()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            rows.push(row);
        }
        Ok(rows)
    }

    async fn pending(&self, group: &str) -> Result<Vec<PackageRow>, BackendError> {
        Ok(self
            .list(group, 100)
            .await?
            .into_iter()
            .map(|(_, row)| row)
            .filter(|row| row.approval == ModelApprovalStatus::PendingManualApproval.as_str())
            .collect())
    }

    async fn decide(
        &self,
        group: &str,
        version: u32,
        approve: bool,
        note: &str,
    ) -> Result<(), BackendError> {
        // The package's ARN is `<group ARN>/<version>`; listing finds it without knowing the
        // account, and proves the version exists in the group.
        let (arn, _) = self
            .list(group, 100)
            .await?
            .into_iter()
            .find(|(_, row)| row.version == version)
            .ok_or_else(|| BackendError::Missing(format!("{group} version {version}")))?;
        let status = if approve {
            ModelApprovalStatus::Approved
        } else {
            ModelApprovalStatus::Rejected
        };
        self.sagemaker
            .update_model_package()
            .model_package_arn(arn)
            .model_approval_status(status)
            .approval_description(note)
            .send()
            .await
            .map_err(|e| backend_error("UpdateModelPackage", &e))?;
        Ok(())
    }

    async fn endpoint(&self, name: &str) -> Result<Option<EndpointRow>, BackendError> {
        let endpoint =
            self.hosting
                .endpoint(name)
                .await
                .map_err(|e| BackendError::Unavailable {
                    operation: "DescribeEndpoint".into(),
                    message: e.to_string(),
                })?;
        Ok(endpoint.map(|e| EndpointRow {
            name: e.name,
            status: e.status,
            failure: e.failure_reason,
            variants: e
                .variants
                .into_iter()
                .map(|v| VariantRow {
                    name: v.name,
                    model: v.model,
                    weight: v.weight as f32,
                    instances: v.instance_count.map(|n| n as i32),
                    instance_type: v.instance_type,
                })
                .collect(),
        }))
    }

    async fn running_jobs(&self) -> Result<Vec<RunningJob>, BackendError> {
        let listed = self
            .sagemaker
            .list_training_jobs()
            .status_equals(TrainingJobStatus::InProgress)
            .max_results(50)
            .send()
            .await
            .map_err(|e| backend_error("ListTrainingJobs", &e))?;
        let mut jobs = Vec::new();
        for summary in listed.training_job_summaries() {
            let name = summary.training_job_name().unwrap_or_default();
            if !self.models.iter().any(|m| {
                name.strip_prefix(m.as_str())
                    .is_some_and(|r| r.starts_with('-'))
            }) {
                continue;
            }
            let described = self
                .sagemaker
                .describe_training_job()
                .training_job_name(name)
                .send()
                .await
                .map_err(|e| backend_error("DescribeTrainingJob", &e))?;
            let resources = described.resource_config();
            jobs.push(RunningJob {
                name: name.into(),
                created: seconds(summary.creation_time()),
                instance_type: resources
                    .and_then(|r| r.instance_type())
                    .map(|t| t.as_str().to_string()),
                instance_count: resources.and_then(|r| r.instance_count()).unwrap_or(1),
                spot: described.enable_managed_spot_training().unwrap_or(false),
            });
        }
        Ok(jobs)
    }

    async fn invoke(
        &self,
        endpoint: &str,
        variant: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Invoked, BackendError> {
        let answer = self
            .runtime
            .invoke_endpoint()
            .endpoint_name(endpoint)
            .set_target_variant(variant.map(str::to_string))
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| backend_error("InvokeEndpoint", &e))?;
        Ok(Invoked {
            variant: answer.invoked_production_variant().map(str::to_string),
            body: answer.body.map(|b| b.into_inner()).unwrap_or_default(),
        })
    }

    async fn presign_put(&self, key: &str, content_type: &str) -> Result<Presigned, BackendError> {
        let config =
            PresigningConfig::expires_in(Duration::from_secs(PRESIGN_SECONDS)).map_err(|e| {
                BackendError::Refused {
                    operation: "presign".into(),
                    message: e.to_string(),
                }
            })?;
        let request = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .presigned(config)
            .await
            .map_err(|e| BackendError::Refused {
                operation: "presign".into(),
                message: e.to_string(),
            })?;
        let headers: BTreeMap<String, String> = request
            .headers()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(Presigned {
            key: key.into(),
            url: request.uri().to_string(),
            headers,
            expires_seconds: PRESIGN_SECONDS,
        })
    }
}

type Https = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<bytes::Bytes>>;

/// The deployed app's sign-in: Cognito's hosted pages, the ID token verified here against the
/// user pool's keys (fetched once, again when a token names a key not yet seen: Cognito rotates
/// keys by adding one).
pub struct CognitoSignIn {
    settings: CognitoSettings,
    /// The app's own URL (`https://.../`): the redirect and logout URIs the client allows.
    app_url: String,
    keys: RwLock<Option<Arc<JwkSet>>>,
    http: Https,
}

impl CognitoSignIn {
    pub fn new(settings: CognitoSettings, app_url: &str) -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| format!("no TLS roots: {e}"))?
            .https_only()
            .enable_http1()
            .build();
        Ok(Self {
            settings,
            app_url: app_url.trim_end_matches('/').to_string(),
            keys: RwLock::new(None),
            http: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    async fn fetch(
        &self,
        request: hyper::Request<Full<bytes::Bytes>>,
    ) -> Result<Vec<u8>, AuthError> {
        let unavailable = |e: String| AuthError::Unavailable(e);
        let response = tokio::time::timeout(Duration::from_secs(5), self.http.request(request))
            .await
            .map_err(|_| unavailable("timed out".into()))?
            .map_err(|e| unavailable(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(e.to_string()))?
            .to_bytes()
            .to_vec();
        if status.is_server_error() {
            return Err(unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            return Err(AuthError::Invalid(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )));
        }
        Ok(body)
    }

    async fn keys(&self, refresh: bool) -> Result<Arc<JwkSet>, AuthError> {
        if !refresh && let Some(keys) = self.keys.read().await.clone() {
            return Ok(keys);
        }
        let request = hyper::Request::get(self.settings.jwks_url())
            .body(Full::default())
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let body = self.fetch(request).await?;
        let keys: JwkSet = serde_json::from_slice(&body)
            .map_err(|e| AuthError::Unavailable(format!("the user pool's keys: {e}")))?;
        let keys = Arc::new(keys);
        *self.keys.write().await = Some(keys.clone());
        Ok(keys)
    }
}

impl SignIn for CognitoSignIn {
    async fn identify(
        &self,
        session: Option<&str>,
        _peer: Option<SocketAddr>,
    ) -> Result<Option<User>, AuthError> {
        let Some(token) = session.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let keys = self.keys(false).await?;
        let kid = jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .unwrap_or_default();
        let keys = if keys.find(&kid).is_none() {
            self.keys(true).await?
        } else {
            keys
        };
        verify_id_token(token, &keys, &self.settings).map(Some)
    }

    fn authorize_url(&self, _redirect: &str, state: &str, challenge: &str) -> Option<String> {
        Some(self.settings.authorize_url(
            &format!("{}/auth/callback", self.app_url),
            state,
            challenge,
        ))
    }

    async fn exchange(
        &self,
        code: &str,
        verifier: &str,
        _redirect: &str,
    ) -> Result<String, AuthError> {
        let form =
            self.settings
                .token_form(code, verifier, &format!("{}/auth/callback", self.app_url));
        let request = hyper::Request::post(self.settings.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(bytes::Bytes::from(form)))
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let body = self.fetch(request).await?;
        #[derive(serde::Deserialize)]
        struct Tokens {
            id_token: String,
        }
        let tokens: Tokens = serde_json::from_slice(&body)
            .map_err(|_| AuthError::Invalid("the token endpoint sent no ID token".into()))?;
        // Verified now, so a bad token never becomes a cookie.
        self.identify(Some(&tokens.id_token), None).await?;
        Ok(tokens.id_token)
    }

    fn logout_url(&self, _return_to: &str) -> Option<String> {
        Some(self.settings.logout_url(&format!("{}/", self.app_url)))
    }

    fn secure(&self) -> bool {
        true
    }
}

#[cfg(feature = "lambda")]
pub use entry::lambda_main;

#[cfg(feature = "lambda")]
mod entry {
    use super::*;
    use crate::{App, ConfigSource, Parts};
    use hawkins::aws::{config_from_env, required_env, sns::SnsNotifier};
    use hawkins::config::{LiveConfig, LiveSettings};
    use hawkins::entry::init_logs;

    type Live = LiveConfig<'static, S3Store, S3Store, SnsNotifier>;

    /// The config in force: the bucket's (or ConfigLocation's) object when valid, else the
    /// built-in one, looked at again every few seconds (`hawkins::config::live`).
    pub struct LiveSource(&'static Live);

    impl ConfigSource for LiveSource {
        async fn current(&self) -> Arc<Config> {
            let state = self.0.state();
            match self.0.current(crate::now()).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "config not read; the last one stays");
                    state.config
                }
            }
        }
    }

    struct Deployed;
    impl Parts for Deployed {
        type Store = S3Store;
        type Backend = AwsBackend;
        type SignIn = CognitoSignIn;
        type Config = LiveSource;
    }

    pub async fn lambda_main() -> Result<(), lambda_http::Error> {
        init_logs();
        let built_in = hawkins::embedded_config!()?;
        let bucket = required_env("HAWKINS_BUCKET")?;
        let region = required_env("AWS_REGION")?;
        let settings = LiveSettings::from_env(|name| std::env::var(name).ok(), &bucket)?;
        let sdk = config_from_env().await;
        let cognito = CognitoSettings {
            region: region.clone(),
            user_pool_id: required_env("HAWKINS_USER_POOL_ID")?,
            client_id: required_env("HAWKINS_USER_POOL_CLIENT_ID")?,
            domain: required_env("HAWKINS_AUTH_DOMAIN")?,
            approvers_group: std::env::var("HAWKINS_APPROVERS_GROUP")
                .unwrap_or_else(|_| "approvers".into()),
        };
        let app_url = required_env("HAWKINS_WEB_URL")?;
        let backend = AwsBackend::new(&sdk, &bucket, &built_in);
        // The config reader lives as long as the process: leaked once, at start.
        let config_bucket: &'static S3Store = Box::leak(Box::new(S3Store::from_config(
            &sdk,
            &settings.location.bucket,
        )));
        let store_for_config: &'static S3Store =
            Box::leak(Box::new(S3Store::from_config(&sdk, &bucket)));
        let notifier: &'static SnsNotifier = Box::leak(Box::new(SnsNotifier::from_config(
            &sdk,
            required_env("HAWKINS_ALERT_TOPIC_ARN")?,
        )));
        let live: &'static Live = Box::leak(Box::new(LiveConfig::new(
            config_bucket,
            store_for_config,
            notifier,
            settings,
            built_in,
        )));
        let app = App::<Deployed> {
            store: S3Store::from_config(&sdk, &bucket),
            backend,
            sign_in: CognitoSignIn::new(cognito, &app_url)?,
            config: LiveSource(live),
            upload_origin: format!("https://{bucket}.s3.{region}.amazonaws.com"),
            bucket,
            region,
            clock: crate::now,
        };
        let router = crate::router(Arc::new(app));
        lambda_http::run(router).await
    }
}

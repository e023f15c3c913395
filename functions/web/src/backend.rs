//! What the pages need from SageMaker and S3 beyond reading objects: the model registry, the
//! endpoints, the running jobs, invoking a model and presigning an upload. One narrow trait, so
//! the router runs the same over the SDK (`aws`), the local AWS, or the in-memory stand-in of the
//! handler tests (`fake`).

use std::collections::BTreeMap;
use std::future::Future;

use hawkins::error::Retry;
use serde::Serialize;

/// A model package as the Models page lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageRow {
    pub version: u32,
    /// `Approved`, `Rejected` or `PendingManualApproval`.
    pub approval: String,
    pub created: Option<i64>,
    /// CustomerMetadataProperties: corpus version, gate verdict, metrics (`hawkins:metric:*`).
    pub metadata: BTreeMap<String, String>,
}

/// One production variant of an endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantRow {
    pub name: String,
    /// The SageMaker model it serves (`<endpoint>-v<N>`).
    pub model: String,
    pub weight: f32,
    pub instances: Option<i32>,
    pub instance_type: Option<String>,
}

/// An endpoint and what it serves now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointRow {
    pub name: String,
    /// `InService`, `Creating`, `Updating`, `Failed`...
    pub status: String,
    pub variants: Vec<VariantRow>,
    pub failure: Option<String>,
}

/// A training job still running.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunningJob {
    pub name: String,
    pub created: Option<i64>,
    pub instance_type: Option<String>,
    pub instance_count: i32,
    pub spot: bool,
}

/// What an endpoint answered, and which variant answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoked {
    pub body: Vec<u8>,
    pub variant: Option<String>,
}

/// A URL the browser PUTs one upload to, with the headers it must send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Presigned {
    pub key: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_seconds: u64,
}

/// Why a call to the backend failed. `Missing` and `NotReady` are what a person can act on (no
/// such endpoint, an endpoint that is still creating); `Unavailable` may pass on a retry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    #[error("{0} does not exist")]
    Missing(String),
    #[error("{what} is {status}, not in service")]
    NotReady { what: String, status: String },
    #[error("the model failed: {0}")]
    ModelFailed(String),
    #[error("{operation} failed for a moment: {message}")]
    Unavailable { operation: String, message: String },
    #[error("{operation} was refused: {message}")]
    Refused { operation: String, message: String },
}

impl Retry for BackendError {
    fn retryable(&self) -> bool {
        matches!(self, BackendError::Unavailable { .. })
    }
}

/// SageMaker and the upload presigner, as the pages use them.
pub trait Backend: Send + Sync + 'static {
    /// A package group's packages, newest first, at most `limit`.
    fn packages(
        &self,
        group: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PackageRow>, BackendError>> + Send;
    /// The group's packages waiting for a person, newest first, without their metadata (one
    /// list call: the Overview asks this of every model on every load).
    fn pending(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<PackageRow>, BackendError>> + Send;
    /// Approves or rejects one package of a group (the lifecycle function deploys an approved
    /// one on the registry's event). Setting the state it has already succeeds.
    fn decide(
        &self,
        group: &str,
        version: u32,
        approve: bool,
        note: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// The endpoint, or `None` when there is none.
    fn endpoint(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<EndpointRow>, BackendError>> + Send;
    /// The project's training jobs in progress.
    fn running_jobs(&self) -> impl Future<Output = Result<Vec<RunningJob>, BackendError>> + Send;
    /// Sends a JSON body to an endpoint, to one variant or where its weights say.
    fn invoke(
        &self,
        endpoint: &str,
        variant: Option<&str>,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<Invoked, BackendError>> + Send;
    /// A PUT URL for `key` (always under `raw/`: the caller checks, the role enforces).
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
    ) -> impl Future<Output = Result<Presigned, BackendError>> + Send;
}

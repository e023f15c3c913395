//! An in-memory [`Backend`]: model packages, endpoints, running jobs and scripted answers, for
//! the handler tests and the bench. It records what was asked of it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::backend::{
    Backend, BackendError, EndpointRow, Invoked, PackageRow, Presigned, RunningJob,
};

/// One invocation: endpoint, variant asked for, body.
pub type Invocation = (String, Option<String>, Vec<u8>);

#[derive(Default)]
pub struct FakeBackend {
    pub packages: Mutex<BTreeMap<String, Vec<PackageRow>>>,
    pub endpoints: Mutex<BTreeMap<String, EndpointRow>>,
    pub jobs: Mutex<Vec<RunningJob>>,
    /// Endpoint → the body it answers and the variant that answers it.
    pub answers: Mutex<BTreeMap<String, Result<Invoked, BackendError>>>,
    /// Every invocation: endpoint, variant asked for, body.
    pub invocations: Mutex<Vec<Invocation>>,
    /// Every decision: group, version, approve, note.
    pub decisions: Mutex<Vec<(String, u32, bool, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeBackend {
    pub fn with_package(self, group: &str, row: PackageRow) -> Self {
        lock(&self.packages)
            .entry(group.into())
            .or_default()
            .insert(0, row);
        self
    }

    pub fn with_endpoint(self, row: EndpointRow) -> Self {
        lock(&self.endpoints).insert(row.name.clone(), row);
        self
    }

    pub fn with_answer(self, endpoint: &str, answer: Result<Invoked, BackendError>) -> Self {
        lock(&self.answers).insert(endpoint.into(), answer);
        self
    }

    pub fn with_job(self, job: RunningJob) -> Self {
        lock(&self.jobs).push(job);
        self
    }

    pub fn invocations(&self) -> Vec<Invocation> {
        lock(&self.invocations).clone()
    }

    pub fn decisions(&self) -> Vec<(String, u32, bool, String)> {
        lock(&self.decisions).clone()
    }
}

impl Backend for FakeBackend {
    async fn packages(&self, group: &str, limit: usize) -> Result<Vec<PackageRow>, BackendError> {
        let mut rows = lock(&self.packages).get(group).cloned().unwrap_or_default();
        rows.sort_by_key(|r| std::cmp::Reverse(r.version));
        rows.truncate(limit);
        Ok(rows)
    }

    async fn pending(&self, group: &str) -> Result<Vec<PackageRow>, BackendError> {
        let mut rows = self.packages(group, usize::MAX).await?;
        rows.retain(|r| r.approval == "PendingManualApproval");
        Ok(rows)
    }

    async fn decide(
        &self,
        group: &str,
        version: u32,
        approve: bool,
        note: &str,
    ) -> Result<(), BackendError> {
        let mut packages = lock(&self.packages);
        let row = packages
            .get_mut(group)
            .and_then(|rows| rows.iter_mut().find(|r| r.version == version))
            .ok_or_else(|| BackendError::Missing(format!("{group}/{version}")))?;
        row.approval = if approve { "Approved" } else { "Rejected" }.into();
        lock(&self.decisions).push((group.into(), version, approve, note.into()));
        Ok(())
    }

    async fn endpoint(&self, name: &str) -> Result<Option<EndpointRow>, BackendError> {
        Ok(lock(&self.endpoints).get(name).cloned())
    }

    async fn running_jobs(&self) -> Result<Vec<RunningJob>, BackendError> {
        Ok(lock(&self.jobs).clone())
    }

    async fn invoke(
        &self,
        endpoint: &str,
        variant: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Invoked, BackendError> {
        lock(&self.invocations).push((endpoint.into(), variant.map(str::to_string), body));
        let answer = lock(&self.answers)
            .get(endpoint)
            .cloned()
            .unwrap_or_else(|| Err(BackendError::Missing(endpoint.into())))?;
        Ok(Invoked {
            body: answer.body,
            variant: variant.map(str::to_string).or(answer.variant),
        })
    }

    async fn presign_put(&self, key: &str, content_type: &str) -> Result<Presigned, BackendError> {
        Ok(Presigned {
            key: key.into(),
            url: format!("https://uploads.example/{key}?signed"),
            headers: BTreeMap::from([("content-type".to_string(), content_type.to_string())]),
            expires_seconds: 900,
        })
    }
}

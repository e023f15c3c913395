//! The Hawkins web app: one axum router, server-rendered HTML (maud, checked at compile time),
//! that runs in the `web` Lambda behind its Function URL and, locally, inside `hawkins local`.
//!
//! - [`auth`]: who is asking (Cognito ID token in a cookie, or the local approver on loopback),
//!   roles, CSRF, the sign-in round trip.
//! - [`data`]: what the pipeline wrote to the bucket, read for the pages.
//! - [`backend`]: SageMaker and the upload presigner, behind one narrow trait.
//! - [`pages`]: the HTML; [`routes`]: the handlers; [`chat`]: the conversation carried by the page.
//! - `fake` (tests and the bench): an in-memory backend; `aws` (feature): the SDK backend.

pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod backend;
pub mod chat;
pub mod data;
pub mod fake;
pub mod pages;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use hawkins::config::Config;
use hawkins::store::ObjectStore;

pub use routes::router;

/// The model config the pages follow (which chatbots, which classifier, the budgets).
pub trait ConfigSource: Send + Sync + 'static {
    fn current(&self) -> impl Future<Output = Arc<Config>> + Send;
}

impl ConfigSource for Arc<Config> {
    async fn current(&self) -> Arc<Config> {
        self.clone()
    }
}

/// The parts an [`App`] is made of: the bucket, SageMaker, the sign-in and the config.
pub trait Parts: Send + Sync + 'static {
    type Store: ObjectStore + Send + Sync + 'static;
    type Backend: backend::Backend;
    type SignIn: auth::SignIn;
    type Config: ConfigSource;
}

/// Everything a request handler reaches.
pub struct App<P: Parts> {
    pub store: P::Store,
    pub backend: P::Backend,
    pub sign_in: P::SignIn,
    pub config: P::Config,
    /// Where uploads go: shown on the Upload page (`s3://bucket/raw/`).
    pub bucket: String,
    /// Origins the browser may reach besides the app (the presigned upload URLs' host), for the
    /// Content-Security-Policy's `connect-src`.
    pub upload_origin: String,
    /// The stack's region: the price column of the bundled price list.
    pub region: String,
    /// Seconds since the epoch (a parameter, so tests and the bench fix it).
    pub clock: fn() -> i64,
}

/// The wall clock.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Serves the router on `listener` until the task is dropped, with each request's peer address
/// (the local sign-in admits loopback peers only).
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// Wraps the app for the router's state.
pub fn state<P: Parts>(app: App<P>) -> Arc<App<P>> {
    Arc::new(app)
}

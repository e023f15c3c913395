//! The router: every page and form, the sign-in round trip, and the two layers every response
//! passes (who is asking; the security headers).
//!
//! Handlers hold no state between requests (the chat's history travels in the page), so any
//! Lambda instance answers any request, and a repeated request changes nothing twice: approving
//! an approved package succeeds without a second event; a rating has the id of its turn, so
//! rating again rewrites one record; a presigned URL is only a permission.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use hawkins::config::ModelKind;
use hawkins::error::Retry;
use hawkins::feedback::{self, Feedback, Rating};
use hawkins::lifecycle::plan::{endpoint_name, group_name, model_version};
use hawkins::source::RAW_PREFIX;
use maud::Markup;
use serde::Deserialize;

use crate::auth::{
    CSRF_COOKIE, CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE, SignIn, User, cookie, cookie_name,
    csrf_matches, pkce_challenge, random_hex, set_cookie,
};
use crate::backend::{Backend, BackendError, EndpointRow, PackageRow};
use crate::chat::{self, Turn};
use crate::data;
use crate::pages::{self, Character, ChatView, Frame, ModelView, Overview};
use crate::{App, ConfigSource, Parts};

const APP_CSS: &str = include_str!("../static/app.css");
const APP_JS: &str = include_str!("../static/app.js");

/// Uploads listed on the Overview and Upload pages.
const RECENT_UPLOADS: usize = 10;
/// Versions listed per model on the Models page.
const PACKAGES_SHOWN: usize = 10;

type Shared<P> = State<Arc<App<P>>>;

/// The app's router over its parts.
pub fn router<P: Parts>(app: Arc<App<P>>) -> Router {
    let pages = Router::new()
        .route("/", get(overview::<P>))
        .route("/upload", get(upload_page::<P>))
        .route("/api/uploads", post(presign::<P>))
        .route("/api/uploads/status", get(upload_status::<P>))
        .route("/chat", get(chat_page::<P>).post(chat_post::<P>))
        .route(
            "/classify",
            get(classify_page::<P>).post(classify_post::<P>),
        )
        .route("/themes", get(themes::<P>))
        .route("/network", get(network::<P>))
        .route("/network/frame", get(network_frame::<P>))
        .route("/costs", get(costs::<P>))
        .route("/models", get(models::<P>))
        .route("/models/decide", post(decide::<P>))
        .route("/signout", post(sign_out::<P>))
        .route_layer(middleware::from_fn_with_state(app.clone(), identify::<P>));
    Router::new()
        .route("/signin", get(sign_in_page::<P>))
        .route("/auth/login", get(login::<P>))
        .route("/auth/callback", get(callback::<P>))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .merge(pages)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            security_headers::<P>,
        ))
        .with_state(app)
}

/// The signed-in user and the request's CSRF token, put in the request by [`identify`].
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    /// The CSRF cookie to set: this request came without one.
    new_csrf: bool,
}

fn cookies(headers: &HeaderMap) -> &str {
    headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Who is asking. Anonymous page loads go to the sign-in page; anything else anonymous, or with
/// a token that does not verify, is 401. A state-changing request must carry the CSRF token
/// (header or form field, checked by the handler through [`Session::check`]).
async fn identify<P: Parts>(State(app): Shared<P>, mut request: Request, next: Next) -> Response {
    let secure = app.sign_in.secure();
    let jar = cookies(request.headers()).to_string();
    let session = cookie(&jar, cookie_name(SESSION_COOKIE, secure));
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let user = match app.sign_in.identify(session, peer).await {
        Ok(Some(user)) => user,
        Ok(None) | Err(crate::auth::AuthError::Invalid(_)) => {
            return if request.method() == axum::http::Method::GET {
                Redirect::to("/signin").into_response()
            } else {
                (StatusCode::UNAUTHORIZED, "sign in first").into_response()
            };
        }
        Err(e) => {
            tracing::warn!(error = %e, "sign-in service unavailable");
            return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
        }
    };
    let existing = cookie(&jar, cookie_name(CSRF_COOKIE, secure)).filter(|t| t.len() == 64);
    let session = Session {
        user,
        csrf: existing
            .map(str::to_string)
            .unwrap_or_else(|| random_hex(32)),
        new_csrf: existing.is_none(),
    };
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    if session.new_csrf {
        let value = set_cookie(CSRF_COOKIE, &session.csrf, None, "Strict", secure);
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

impl Session {
    /// Refuses a state-changing request without the right CSRF token, or from a viewer when
    /// `approver` is asked.
    fn check(
        &self,
        submitted: Option<&str>,
        approver: bool,
    ) -> Result<(), (StatusCode, &'static str)> {
        if self.new_csrf || !csrf_matches(Some(&self.csrf), submitted) {
            return Err((
                StatusCode::FORBIDDEN,
                "the form is stale or did not come from this app: reload the page and try again",
            ));
        }
        if approver && !self.user.can_change() {
            return Err((
                StatusCode::FORBIDDEN,
                "only approvers can do this: ask to be added to the approvers group",
            ));
        }
        Ok(())
    }
}

/// Every response: a strict Content-Security-Policy (the network frame sets its own), no
/// sniffing, no framing by others, no referrer beyond the origin, no caching of pages.
async fn security_headers<P: Parts>(
    State(app): Shared<P>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' {}; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            app.upload_origin
        );
        if let Ok(v) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if app.sign_in.secure() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

fn page(frame: Frame<'_>, body: Markup) -> Response {
    pages::layout(&frame, body).into_response()
}

fn frame<'a>(title: &'a str, path: &'a str, s: &'a Session) -> Frame<'a> {
    Frame {
        title,
        path,
        user: &s.user,
        csrf: &s.csrf,
        refresh: None,
    }
}

/// A failure a person reads: what failed and whether trying again may help.
fn failure(what: &str, error: &dyn std::fmt::Display, retryable: bool) -> String {
    if retryable {
        format!("{what} failed for a moment ({error}); reload to try again")
    } else {
        format!("{what} failed: {error}")
    }
}

async fn css() -> Response {
    static_file("text/css; charset=utf-8", APP_CSS)
}

async fn js() -> Response {
    static_file("text/javascript; charset=utf-8", APP_JS)
}

fn static_file(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn sign_in_page<P: Parts>(State(app): Shared<P>) -> Response {
    let can = app.sign_in.authorize_url("", "", "").is_some();
    if !can {
        return Redirect::to("/").into_response();
    }
    pages::sign_in(true).into_response()
}

/// This app's own URL, from the request (the Function URL's host), for the OAuth redirect.
fn origin(headers: &HeaderMap, secure: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", if secure { "https" } else { "http" })
}

async fn login<P: Parts>(State(app): Shared<P>, headers: HeaderMap) -> Response {
    let secure = app.sign_in.secure();
    let state = random_hex(16);
    let verifier = random_hex(32);
    let redirect = format!("{}/auth/callback", origin(&headers, secure));
    let Some(url) = app
        .sign_in
        .authorize_url(&redirect, &state, &pkce_challenge(&verifier))
    else {
        return Redirect::to("/").into_response();
    };
    let cookie = set_cookie(
        LOGIN_COOKIE,
        &format!("{state}.{verifier}"),
        Some(600),
        "Lax",
        secure,
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&url)).into_response()
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback<P: Parts>(
    State(app): Shared<P>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let secure = app.sign_in.secure();
    let jar = cookies(&headers);
    let pending = cookie(jar, cookie_name(LOGIN_COOKIE, secure)).and_then(|v| v.split_once('.'));
    let (Some(code), Some(state), Some((expected, verifier))) = (&q.code, &q.state, pending) else {
        let why = q
            .error
            .unwrap_or_else(|| "the sign-in did not finish".into());
        return (
            StatusCode::BAD_REQUEST,
            format!("{why}: sign in again from /signin"),
        )
            .into_response();
    };
    if !csrf_matches(Some(expected), Some(state)) {
        return (
            StatusCode::BAD_REQUEST,
            "the sign-in state does not match: sign in again",
        )
            .into_response();
    }
    let redirect = format!("{}/auth/callback", origin(&headers, secure));
    match app.sign_in.exchange(code, verifier, &redirect).await {
        Ok(token) => {
            let mut response = Redirect::to("/").into_response();
            for c in [
                set_cookie(SESSION_COOKIE, &token, Some(3600), "Lax", secure),
                set_cookie(LOGIN_COOKIE, "", Some(0), "Lax", secure),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    response.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            response
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("signing in failed: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

async fn sign_out<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = s.check(f.csrf.as_deref(), false) {
        return r.into_response();
    }
    let secure = app.sign_in.secure();
    let to = app
        .sign_in
        .logout_url(&format!("{}/", origin(&headers, secure)))
        .unwrap_or_else(|| "/".into());
    (
        [(
            header::SET_COOKIE,
            set_cookie(SESSION_COOKIE, "", Some(0), "Lax", secure),
        )],
        Redirect::to(&to),
    )
        .into_response()
}

/// The models that have an endpoint (chatbots and the location classifier), with it.
async fn endpoints<P: Parts>(
    app: &App<P>,
    config: &hawkins::config::Config,
    problems: &mut Vec<String>,
) -> Vec<(String, Option<EndpointRow>)> {
    let mut out = Vec::new();
    for m in config.models.iter().filter(|m| m.kind != ModelKind::Theme) {
        let name = endpoint_name(&config.pipeline.project_tag, &m.name);
        match app.backend.endpoint(&name).await {
            Ok(e) => out.push((m.name.clone(), e)),
            Err(e) => {
                problems.push(failure(&format!("Reading {name}"), &e, e.retryable()));
                out.push((m.name.clone(), None));
            }
        }
    }
    out
}

async fn overview<P: Parts>(State(app): Shared<P>, Extension(s): Extension<Session>) -> Response {
    let config = app.config.current().await;
    let mut problems = Vec::new();
    let corpus = data::corpus(&app.store).await.unwrap_or_else(|e| {
        problems.push(failure("Reading the corpus version", &e, e.retryable()));
        None
    });
    let uploads = data::recent_uploads(&app.store, RECENT_UPLOADS)
        .await
        .unwrap_or_else(|e| {
            problems.push(failure("Listing the uploads", &e, e.retryable()));
            Vec::new()
        });
    let prices = prices();
    let jobs = app
        .backend
        .running_jobs()
        .await
        .unwrap_or_else(|e| {
            problems.push(failure("Listing the training jobs", &e, e.retryable()));
            Vec::new()
        })
        .into_iter()
        .map(|j| {
            let per_hour = j
                .instance_type
                .as_deref()
                .and_then(|t| prices.and_then(|p| p.training(&app.region, t)))
                .map(|p| p * f64::from(j.instance_count.max(1)));
            (j, per_hour)
        })
        .collect();
    let mut pending = Vec::new();
    for m in &config.models {
        let group = group_name(&config.pipeline.project_tag, &m.name);
        match app.backend.pending(&group).await {
            Ok(ps) => pending.extend(ps.into_iter().map(|p| (m.name.clone(), p))),
            Err(BackendError::Missing(_)) => {}
            Err(e) => problems.push(failure(&format!("Reading {group}"), &e, e.retryable())),
        }
    }
    let endpoints = endpoints(&app, &config, &mut problems).await;
    let costs = data::cost_report(&app.store).await.unwrap_or_else(|e| {
        problems.push(failure("Reading the cost report", &e, e.retryable()));
        None
    });
    let view = Overview {
        corpus,
        uploads,
        jobs,
        pending,
        endpoints,
        costs,
        monthly_budget: config.costs.monthly_usd,
        problems,
        now: (app.clock)(),
    };
    let mut f = frame("Overview", "/", &s);
    if view.in_progress() {
        f.refresh = Some(15);
    }
    page(f, pages::overview(&view))
}

/// The bundled price list (SageMaker's on-demand prices per region), read once.
fn prices() -> Option<&'static hawkins::costs::PriceTable> {
    static PRICES: std::sync::OnceLock<Option<hawkins::costs::PriceTable>> =
        std::sync::OnceLock::new();
    PRICES
        .get_or_init(|| hawkins::costs::PriceTable::bundled().ok())
        .as_ref()
}

async fn upload_page<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
) -> Response {
    let (uploads, problem) = match data::recent_uploads(&app.store, RECENT_UPLOADS).await {
        Ok(u) => (u, None),
        Err(e) => (
            Vec::new(),
            Some(failure("Listing the uploads", &e, e.retryable())),
        ),
    };
    let body = maud::html! {
        @if let Some(p) = problem { (pages::problem(&p)) }
        (pages::upload_page(&app.bucket, s.user.can_change(), &uploads))
    };
    page(frame("Upload", "/upload", &s), body)
}

#[derive(Deserialize)]
struct PresignRequest {
    name: String,
    #[serde(default)]
    content_type: String,
}

/// The key an upload's file name becomes: `raw/<name>`, the name's last path part, of the
/// characters S3 keys and ingest take without surprise.
pub fn upload_key(name: &str) -> Result<String, String> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let lower = file.to_ascii_lowercase();
    if !(lower.ends_with(".srt") || lower.ends_with(".csv") || lower.ends_with(".jsonl")) {
        return Err(format!(
            "'{file}' is not an .srt, .csv or .jsonl file: ingest takes only those"
        ));
    }
    if file.len() > 200
        || file.starts_with('.')
        || !file
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
    {
        return Err(format!(
            "'{file}': use a name of letters, digits, spaces, '.', '-' and '_' (at most 200)"
        ));
    }
    Ok(format!("{RAW_PREFIX}{file}"))
}

async fn presign<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    headers: HeaderMap,
    Json(req): Json<PresignRequest>,
) -> Response {
    let token = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if let Err(r) = s.check(token, true) {
        return r.into_response();
    }
    let key = match upload_key(&req.name) {
        Ok(k) => k,
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e).into_response(),
    };
    let kind = if req.content_type.is_empty() {
        "application/octet-stream"
    } else {
        &req.content_type
    };
    match app.backend.presign_put(&key, kind).await {
        Ok(p) => Json(p).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
struct StatusQuery {
    key: String,
}

async fn upload_status<P: Parts>(State(app): Shared<P>, Query(q): Query<StatusQuery>) -> Response {
    if !q.key.starts_with(RAW_PREFIX) {
        return (StatusCode::BAD_REQUEST, "only uploads under raw/").into_response();
    }
    match data::upload(&app.store, &q.key).await {
        Ok(u) => Json(u).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn characters<P: Parts>(app: &App<P>, config: &hawkins::config::Config) -> Vec<Character> {
    let mut out = Vec::new();
    for m in config
        .models
        .iter()
        .filter(|m| m.kind == ModelKind::Chatbot)
    {
        let endpoint = app
            .backend
            .endpoint(&endpoint_name(&config.pipeline.project_tag, &m.name))
            .await
            .ok()
            .flatten();
        out.push(Character {
            model: m.name.clone(),
            name: m.character.clone().unwrap_or_else(|| m.name.clone()),
            endpoint,
        });
    }
    out
}

#[derive(Deserialize)]
struct ChatQuery {
    model: Option<String>,
}

async fn chat_page<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    Query(q): Query<ChatQuery>,
) -> Response {
    let config = app.config.current().await;
    let characters = characters(&app, &config).await;
    let chosen = q
        .model
        .as_deref()
        .and_then(|m| characters.iter().find(|c| c.model == m));
    let view = ChatView {
        characters: &characters,
        chosen,
        variant: "",
        turns: &[],
        error: None,
        csrf: &s.csrf,
    };
    page(frame("Chat", "/chat", &s), pages::chat(&view))
}

#[derive(Deserialize)]
struct ChatForm {
    csrf: Option<String>,
    model: String,
    #[serde(default)]
    history: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    chosen_variant: Option<String>,
    /// `up:<turn>` or `down:<turn>`: a rating instead of a new line.
    #[serde(default)]
    rate: Option<String>,
}

async fn chat_post<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    Form(f): Form<ChatForm>,
) -> Response {
    if let Err(r) = s.check(f.csrf.as_deref(), false) {
        return r.into_response();
    }
    let config = app.config.current().await;
    let characters = characters(&app, &config).await;
    let Some(chosen) = characters.iter().find(|c| c.model == f.model) else {
        return (StatusCode::NOT_FOUND, "no such character").into_response();
    };
    let mut turns = chat::parse_history(&f.history);
    let variant = f
        .variant
        .or(f.chosen_variant)
        .unwrap_or_default()
        .chars()
        .take(63)
        .collect::<String>();
    let mut error = None;
    if let Some(rate) = f.rate.as_deref() {
        error = rate_turn(&app, &chosen.model, &mut turns, rate).await.err();
    } else if !f.message.trim().is_empty() {
        let endpoint = endpoint_name(&config.pipeline.project_tag, &chosen.model);
        let line = chat::cut(f.message.trim());
        let target = (!variant.is_empty()).then_some(variant.as_str());
        match app
            .backend
            .invoke(&endpoint, target, chat::request(&turns, &line))
            .await
        {
            Ok(answer) => match chat::parse_reply(&answer.body) {
                Ok(reply) => {
                    let answered = answer.variant.unwrap_or_default();
                    let version = chosen
                        .endpoint
                        .as_ref()
                        .and_then(|e| e.variants.iter().find(|v| v.name == answered))
                        .and_then(|v| model_version(&v.model))
                        .unwrap_or(0);
                    turns.push(Turn {
                        user: line,
                        reply: chat::cut(&reply),
                        variant: answered,
                        version,
                        rated: String::new(),
                        id: random_hex(12),
                    });
                    if turns.len() > chat::MAX_TURNS {
                        turns.remove(0);
                    }
                }
                Err(e) => error = Some(e),
            },
            Err(e) => error = Some(chat_error(&chosen.name, &e)),
        }
    }
    let view = ChatView {
        characters: &characters,
        chosen: Some(chosen),
        variant: &variant,
        turns: &turns,
        error,
        csrf: &s.csrf,
    };
    page(frame("Chat", "/chat", &s), pages::chat(&view))
}

fn chat_error(name: &str, e: &BackendError) -> String {
    match e {
        BackendError::Missing(_) => format!("{name} has no endpoint any more: see Models."),
        BackendError::NotReady { status, .. } => {
            format!("{name}'s endpoint is {status}; try again once it is InService.")
        }
        BackendError::ModelFailed(m) => format!("{name}'s model could not answer: {m}"),
        BackendError::Unavailable { .. } => {
            format!("{name} is waking up or busy; send your line again in a moment.")
        }
        BackendError::Refused { message, .. } => format!("{name} cannot be reached: {message}"),
    }
}

/// Records a thumbs up or down on one reply, per model version and variant (the A/B tests read
/// these). The record's id is the turn's, so rating the same turn again rewrites one record.
async fn rate_turn<P: Parts>(
    app: &App<P>,
    model: &str,
    turns: &mut [Turn],
    rate: &str,
) -> Result<(), String> {
    let (rating, index) = match rate.split_once(':') {
        Some(("up", i)) => (Rating::Up, i),
        Some(("down", i)) => (Rating::Down, i),
        _ => return Err("unknown rating".into()),
    };
    let turn = index
        .parse::<usize>()
        .ok()
        .and_then(|i| turns.get_mut(i))
        .ok_or("no such reply")?;
    if turn.id.is_empty() || turn.variant.is_empty() {
        return Err("this reply cannot be rated (its variant is unknown)".into());
    }
    let record = Feedback::new(
        &turn.id,
        model,
        turn.version,
        &turn.variant,
        rating,
        (app.clock)(),
    )
    .map_err(|e| e.to_string())?;
    feedback::record(&app.store, &record)
        .await
        .map_err(|e| format!("the rating was not saved: {e}"))?;
    turn.rated = match rating {
        Rating::Up => "up".into(),
        Rating::Down => "down".into(),
    };
    Ok(())
}

/// The location classifier's model and endpoint, or why there is none to use.
async fn classifier<P: Parts>(
    app: &App<P>,
    config: &hawkins::config::Config,
) -> Result<String, String> {
    let model = config
        .models
        .iter()
        .find(|m| m.kind == ModelKind::Location)
        .ok_or("The config has no location classifier.")?;
    let name = endpoint_name(&config.pipeline.project_tag, &model.name);
    match app.backend.endpoint(&name).await {
        Ok(Some(e)) if e.status == "InService" => Ok(name),
        Ok(Some(e)) => Err(format!("The classifier's endpoint is {}.", e.status)),
        Ok(None) => Err("The location classifier is not deployed yet.".into()),
        Err(e) => Err(failure(
            "Reading the classifier's endpoint",
            &e,
            e.retryable(),
        )),
    }
}

async fn classify_page<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
) -> Response {
    let config = app.config.current().await;
    let ready = classifier(&app, &config).await.map(|_| ());
    page(
        frame("Classify", "/classify", &s),
        pages::classify(&s.csrf, ready, "", &[], None),
    )
}

#[derive(Deserialize)]
struct ClassifyForm {
    csrf: Option<String>,
    text: String,
}

async fn classify_post<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    Form(f): Form<ClassifyForm>,
) -> Response {
    if let Err(r) = s.check(f.csrf.as_deref(), false) {
        return r.into_response();
    }
    let config = app.config.current().await;
    let text = chat::cut(f.text.trim());
    let endpoint = match classifier(&app, &config).await {
        Ok(e) => e,
        Err(why) => {
            return page(
                frame("Classify", "/classify", &s),
                pages::classify(&s.csrf, Err(why), &text, &[], None),
            );
        }
    };
    let (labels, error) = match app
        .backend
        .invoke(&endpoint, None, chat::classify_request(&text))
        .await
    {
        Ok(a) => match chat::parse_labels(&a.body) {
            Ok(l) => (l, None),
            Err(e) => (Vec::new(), Some(e)),
        },
        Err(e) => (Vec::new(), Some(chat_error("The classifier", &e))),
    };
    page(
        frame("Classify", "/classify", &s),
        pages::classify(&s.csrf, Ok(()), &text, &labels, error.as_deref()),
    )
}

async fn themes<P: Parts>(State(app): Shared<P>, Extension(s): Extension<Session>) -> Response {
    let body = match data::themes(&app.store).await {
        Ok(r) => pages::themes(r.as_ref()),
        Err(e) => pages::problem(&failure("Reading the theme scores", &e, e.retryable())),
    };
    page(frame("Themes", "/themes", &s), body)
}

#[derive(Deserialize)]
struct EpisodeQuery {
    episode: Option<String>,
}

async fn network<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    Query(q): Query<EpisodeQuery>,
) -> Response {
    let chosen = q
        .episode
        .as_deref()
        .filter(|e| !e.is_empty() && data::is_plain_name(e));
    let episodes = data::corpus(&app.store)
        .await
        .ok()
        .flatten()
        .map(|c| c.episodes)
        .unwrap_or_default();
    let available = matches!(data::network_page(&app.store, chosen).await, Ok(Some(_)));
    page(
        frame("Network", "/network", &s),
        pages::network(&episodes, chosen, available),
    )
}

async fn network_frame<P: Parts>(State(app): Shared<P>, Query(q): Query<EpisodeQuery>) -> Response {
    let chosen = q.episode.as_deref().filter(|e| !e.is_empty());
    match data::network_page(&app.store, chosen).await {
        Ok(Some(html)) => {
            let policy = pages::network_frame_policy(&html);
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                    (header::CONTENT_SECURITY_POLICY, policy),
                    (header::X_FRAME_OPTIONS, "SAMEORIGIN".to_string()),
                ],
                html,
            )
                .into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, "no network for this choice").into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn costs<P: Parts>(State(app): Shared<P>, Extension(s): Extension<Session>) -> Response {
    let config = app.config.current().await;
    let body = match data::cost_report(&app.store).await {
        Ok(r) => pages::costs(r.as_ref(), config.costs.monthly_usd),
        Err(e) => pages::problem(&failure("Reading the cost report", &e, e.retryable())),
    };
    page(frame("Costs", "/costs", &s), body)
}

#[derive(Deserialize)]
struct ModelsQuery {
    done: Option<String>,
}

async fn models<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    Query(q): Query<ModelsQuery>,
) -> Response {
    let config = app.config.current().await;
    let project = &config.pipeline.project_tag;
    let mut views = Vec::new();
    for m in &config.models {
        let packages = match app
            .backend
            .packages(&group_name(project, &m.name), PACKAGES_SHOWN)
            .await
        {
            Ok(p) => Ok(p),
            Err(BackendError::Missing(_)) => Ok(Vec::<PackageRow>::new()),
            Err(e) => Err(failure("Listing the versions", &e, e.retryable())),
        };
        let endpoint = if m.kind == ModelKind::Theme {
            None
        } else {
            app.backend
                .endpoint(&endpoint_name(project, &m.name))
                .await
                .ok()
                .flatten()
        };
        views.push(ModelView {
            model: m.name.clone(),
            kind: m.kind.as_str().to_string(),
            endpoint,
            packages,
        });
    }
    // Lineage: each corpus version's sources, from its manifest (read once per version).
    let mut versions: Vec<String> = views
        .iter()
        .filter_map(|v| v.packages.as_ref().ok())
        .flatten()
        .filter_map(|p| p.metadata.get("hawkins:corpus-version").cloned())
        .filter(|v| data::is_plain_name(v))
        .collect();
    versions.sort();
    versions.dedup();
    let mut lineage = pages::Lineage::new();
    for version in versions {
        let key = hawkins::manifest::manifest_key(&version);
        if let Ok(Some(manifest)) =
            data::read_json::<hawkins::manifest::CorpusManifest>(&app.store, &key).await
        {
            lineage.insert(
                version,
                manifest.sources.into_iter().map(|s| s.id).collect(),
            );
        }
    }
    let message = q.done.as_deref().map(|d| match d {
        "approved" => "Approved: the lifecycle function deploys it (canary first where configured); its endpoint shows the change in a few minutes.",
        "rejected" => "Rejected: the version stays in the registry and is never deployed.",
        _ => "Done.",
    });
    page(
        frame("Models", "/models", &s),
        pages::models(&views, &lineage, &s.user, &s.csrf, message),
    )
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: Option<String>,
    model: String,
    version: u32,
    decision: String,
}

async fn decide<P: Parts>(
    State(app): Shared<P>,
    Extension(s): Extension<Session>,
    Form(f): Form<DecideForm>,
) -> Response {
    if let Err(r) = s.check(f.csrf.as_deref(), true) {
        return r.into_response();
    }
    let config = app.config.current().await;
    if config.model(&f.model).is_none() {
        return (StatusCode::NOT_FOUND, "no such model in the config").into_response();
    }
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return (StatusCode::BAD_REQUEST, "approve or reject").into_response(),
    };
    let note = format!(
        "{} in the web app by {}",
        if approve { "Approved" } else { "Rejected" },
        s.user.name
    );
    let group = group_name(&config.pipeline.project_tag, &f.model);
    match app.backend.decide(&group, f.version, approve, &note).await {
        Ok(()) => Redirect::to(&format!(
            "/models?done={}#{}",
            if approve { "approved" } else { "rejected" },
            f.model
        ))
        .into_response(),
        Err(BackendError::Missing(what)) => {
            (StatusCode::NOT_FOUND, format!("{what} does not exist")).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

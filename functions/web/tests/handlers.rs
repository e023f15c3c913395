//! Every route over the in-memory store and backend: status codes, sign-in, roles, CSRF, the
//! security headers, escaping of what came from uploads, and what each form changes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use hawkins::config::Config;
use hawkins::store::{MemStore, ObjectStore};
use hawkins_web::auth::{AuthError, LocalSignIn, Role, SignIn, User};
use hawkins_web::backend::{
    BackendError, EndpointRow, Invoked, PackageRow, RunningJob, VariantRow,
};
use hawkins_web::fake::FakeBackend;
use hawkins_web::{App, Parts, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

const CSRF: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Session tokens `viewer` and `approver` are those users; `down` is an unreachable sign-in
/// service; anything else does not verify.
struct TokenSignIn;

impl SignIn for TokenSignIn {
    async fn identify(
        &self,
        session: Option<&str>,
        _peer: Option<SocketAddr>,
    ) -> Result<Option<User>, AuthError> {
        match session {
            None => Ok(None),
            Some("viewer") => Ok(Some(User {
                name: "robin@example.com".into(),
                role: Role::Viewer,
            })),
            Some("approver") => Ok(Some(User {
                name: "joyce@example.com".into(),
                role: Role::Approver,
            })),
            Some("down") => Err(AuthError::Unavailable("timeout".into())),
            Some(_) => Err(AuthError::Invalid("bad signature".into())),
        }
    }
    fn authorize_url(&self, redirect: &str, state: &str, challenge: &str) -> Option<String> {
        Some(format!(
            "https://auth.example/authorize?r={redirect}&s={state}&c={challenge}"
        ))
    }
    async fn exchange(&self, code: &str, _: &str, _: &str) -> Result<String, AuthError> {
        if code == "good" {
            Ok("approver".into())
        } else {
            Err(AuthError::Invalid("bad code".into()))
        }
    }
    fn logout_url(&self, to: &str) -> Option<String> {
        Some(format!("https://auth.example/logout?to={to}"))
    }
    fn secure(&self) -> bool {
        true
    }
}

struct Test;
impl Parts for Test {
    type Store = MemStore;
    type Backend = FakeBackend;
    type SignIn = TokenSignIn;
    type Config = Arc<Config>;
}

struct Local;
impl Parts for Local {
    type Store = MemStore;
    type Backend = FakeBackend;
    type SignIn = LocalSignIn;
    type Config = Arc<Config>;
}

fn config() -> Arc<Config> {
    Arc::new(
        hawkins::config::parse(
            "infra/hawkins.toml",
            include_str!("../../../infra/hawkins.toml"),
        )
        .expect("the project config"),
    )
}

const NOW: i64 = 1_765_000_000;

fn in_service(name: &str, variants: &[(&str, u32, f32)]) -> EndpointRow {
    EndpointRow {
        name: name.into(),
        status: "InService".into(),
        variants: variants
            .iter()
            .map(|(v, version, weight)| VariantRow {
                name: (*v).into(),
                model: format!("{name}-v{version}"),
                weight: *weight,
                instances: Some(1),
                instance_type: Some("ml.g5.xlarge".into()),
            })
            .collect(),
        failure: None,
    }
}

fn pending(version: u32) -> PackageRow {
    PackageRow {
        version,
        approval: "PendingManualApproval".into(),
        created: Some(NOW - 600),
        metadata: BTreeMap::from([
            ("hawkins:corpus-version".to_string(), "3f2a9c1d".to_string()),
            ("hawkins:metric:eval_loss".to_string(), "1.23".to_string()),
        ]),
    }
}

struct World {
    app: Arc<App<Test>>,
    router: Router,
}

impl World {
    fn store(&self) -> &MemStore {
        &self.app.store
    }
    fn backend(&self) -> &FakeBackend {
        &self.app.backend
    }
}

fn world_with(backend: FakeBackend) -> World {
    let app = Arc::new(App::<Test> {
        store: MemStore::new(),
        backend,
        sign_in: TokenSignIn,
        config: config(),
        bucket: "hawkins-test".into(),
        upload_origin: "https://hawkins-test.s3.eu-west-1.amazonaws.com".into(),
        region: "eu-west-1".into(),
        clock: || NOW,
    });
    World {
        router: router(app.clone()),
        app,
    }
}

fn world() -> World {
    world_with(
        FakeBackend::default()
            .with_endpoint(in_service(
                "hawkins-chatbot-eleven",
                &[("primary", 3, 0.9), ("challenger", 4, 0.1)],
            ))
            .with_answer(
                "hawkins-chatbot-eleven",
                Ok(Invoked {
                    body: br#"{"reply":"Friends don't lie."}"#.to_vec(),
                    variant: Some("primary".into()),
                }),
            )
            .with_endpoint(in_service(
                "hawkins-location-classifier",
                &[("primary", 1, 1.0)],
            ))
            .with_answer(
                "hawkins-location-classifier",
                Ok(Invoked {
                    body:
                        br#"{"predictions":[{"label":"Hawkins National Laboratory","score":0.87}]}"#
                            .to_vec(),
                    variant: Some("primary".into()),
                }),
            )
            .with_package("hawkins-chatbot-mike", pending(2)),
    )
}

fn get(path: &str, session: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path).header(header::HOST, "app.example");
    if let Some(s) = session {
        b = b.header(
            header::COOKIE,
            format!("__Host-hawkins-session={s}; __Host-hawkins-csrf={CSRF}"),
        );
    }
    b.body(Body::empty()).expect("request")
}

fn post_form(path: &str, session: Option<&str>, form: &[(&str, &str)]) -> Request<Body> {
    let body = form
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut b = Request::post(path)
        .header(header::HOST, "app.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(s) = session {
        b = b.header(
            header::COOKIE,
            format!("__Host-hawkins-session={s}; __Host-hawkins-csrf={CSRF}"),
        );
    }
    b.body(Body::from(body)).expect("request")
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Response<()>, String) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        Response::from_parts(parts, ()),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

const PAGES: [&str; 8] = [
    "/",
    "/upload",
    "/chat",
    "/classify",
    "/themes",
    "/network",
    "/costs",
    "/models",
];

#[tokio::test]
async fn anonymous_requests_reach_only_the_sign_in() {
    let w = world();
    for path in PAGES {
        let (status, response, _) = send(&w.router, get(path, None)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[header::LOCATION], "/signin", "{path}");
    }
    let (status, _, _) = send(&w.router, get("/api/uploads/status?key=raw/a.srt", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = send(
        &w.router,
        post_form("/models/decide", None, &[("csrf", CSRF)]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A token that does not verify is no one.
    let (status, _, _) = send(&w.router, get("/", Some("forged"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = send(&w.router, get("/", Some("down"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // The sign-in page and the assets need no session.
    let (status, _, body) = send(&w.router, get("/signin", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("/auth/login"));
    let (status, _, css) = send(&w.router, get("/static/app.css", None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("--accent"));
}

#[tokio::test]
async fn the_sign_in_round_trip_checks_its_state_and_sets_the_session() {
    let w = world();
    let (status, response, _) = send(&w.router, get("/auth/login", None)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(to.starts_with("https://auth.example/authorize?r=https://app.example/auth/callback"));
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-hawkins-login=")
        .to_string();
    let (state, _) = value.split_once('.').unwrap();
    let callback = |state: &str, code: &str| {
        Request::get(format!("/auth/callback?code={code}&state={state}"))
            .header(header::HOST, "app.example")
            .header(header::COOKIE, format!("__Host-hawkins-login={value}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, _) = send(&w.router, callback("0000", "good")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another state is refused");
    let (status, _, _) = send(&w.router, callback(state, "bad")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let (status, response, _) = send(&w.router, callback(state, "good")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set: Vec<&str> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("__Host-hawkins-session=approver;")
                && c.contains("HttpOnly")
                && c.contains("Secure"))
    );
}

#[tokio::test]
async fn every_page_answers_a_viewer_with_strict_headers_and_its_empty_state() {
    let w = world_with(FakeBackend::default());
    for path in PAGES {
        let (status, response, body) = send(&w.router, get(path, Some("viewer"))).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self'"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        assert!(
            body.contains("aria-current=\"page\""),
            "{path}: the bar marks the page"
        );
        assert!(body.contains("class=\"empty\""), "{path}: an empty state");
        assert!(
            !body.contains("<script>") && !body.contains("style="),
            "{path}: nothing inline"
        );
        assert!(body.len() < 100_000, "{path} is {} bytes", body.len());
    }
}

#[tokio::test]
async fn a_request_without_the_csrf_cookie_gets_one_and_cannot_change_anything() {
    let w = world();
    let request = Request::get("/")
        .header(header::COOKIE, "__Host-hawkins-session=approver")
        .body(Body::empty())
        .unwrap();
    let (_, response, _) = send(&w.router, request).await;
    let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("__Host-hawkins-csrf=") && set.contains("SameSite=Strict"));
    let request = Request::post("/models/decide")
        .header(header::COOKIE, "__Host-hawkins-session=approver")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "csrf={CSRF}&model=chatbot-mike&version=2&decision=approve"
        )))
        .unwrap();
    let (status, _, _) = send(&w.router, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(w.backend().decisions().is_empty());
}

#[tokio::test]
async fn only_an_approver_with_the_csrf_token_approves() {
    let w = world();
    let form = |csrf: &'static str| {
        vec![
            ("csrf", csrf),
            ("model", "chatbot-mike"),
            ("version", "2"),
            ("decision", "approve"),
        ]
    };
    let (status, _, _) = send(
        &w.router,
        post_form("/models/decide", Some("viewer"), &form(CSRF)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer");
    let wrong = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    let (status, _, _) = send(
        &w.router,
        post_form("/models/decide", Some("approver"), &form(wrong)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a forged form");
    assert!(w.backend().decisions().is_empty());
    // The viewer sees the version, with its lineage, but no buttons; the approver sees them.
    w.store().insert(
        "datasets/3f2a9c1d/manifest.json",
        serde_json::json!({"version": "3f2a9c1d", "version_sha256": "3f2a9c1d00", "cast": "builtin", "episodes": ["S01E01"],
            "sources": [{"id": "subtitles/S01E01", "raw_key": "raw/S01E01.srt", "raw_sha256": "a", "processed_sha256": "b", "counts": {"records": 3}},
                        {"id": "transcripts/S01E01", "raw_key": "raw/S01E01.csv", "raw_sha256": "c", "processed_sha256": "d", "counts": {"records": 2}}],
            "datasets": []}).to_string().as_bytes(),
    );
    let (_, _, page) = send(&w.router, get("/models", Some("viewer"))).await;
    assert!(page.contains("PendingManualApproval") && !page.contains("value=\"approve\""));
    assert!(
        page.contains("2 sources") && page.contains("transcripts/S01E01"),
        "lineage"
    );
    let (_, _, page) = send(&w.router, get("/models", Some("approver"))).await;
    assert!(page.contains("value=\"approve\""));
    let (status, response, _) = send(
        &w.router,
        post_form("/models/decide", Some("approver"), &form(CSRF)),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/models?done=approved")
    );
    let decisions = w.backend().decisions();
    assert_eq!(decisions.len(), 1);
    assert_eq!(
        (decisions[0].0.as_str(), decisions[0].1, decisions[0].2),
        ("hawkins-chatbot-mike", 2, true)
    );
    assert!(decisions[0].3.contains("joyce@example.com"));
    // Unknown models and versions are refused by name.
    let (status, _, _) = send(
        &w.router,
        post_form(
            "/models/decide",
            Some("approver"),
            &[
                ("csrf", CSRF),
                ("model", "chatbot-nobody"),
                ("version", "1"),
                ("decision", "approve"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(
        &w.router,
        post_form(
            "/models/decide",
            Some("approver"),
            &[
                ("csrf", CSRF),
                ("model", "chatbot-mike"),
                ("version", "9"),
                ("decision", "approve"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn presign_request(session: &str, csrf: Option<&str>, name: &str) -> Request<Body> {
    let mut b = Request::post("/api/uploads")
        .header(
            header::COOKIE,
            format!("__Host-hawkins-session={session}; __Host-hawkins-csrf={CSRF}"),
        )
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = csrf {
        b = b.header("x-csrf-token", c);
    }
    b.body(Body::from(
        serde_json::json!({"name": name, "content_type": "application/x-subrip"}).to_string(),
    ))
    .unwrap()
}

#[tokio::test]
async fn uploads_are_presigned_under_raw_for_approvers_only() {
    let w = world();
    let (status, _, _) = send(
        &w.router,
        presign_request("viewer", Some(CSRF), "S01E01.srt"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(&w.router, presign_request("approver", None, "S01E01.srt")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = send(
        &w.router,
        presign_request("approver", Some(CSRF), "C:\\fakepath\\S01E01.srt"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let presigned: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(presigned["key"], "raw/S01E01.srt");
    // Only the name's last part is kept: a path cannot leave raw/.
    let (_, _, body) = send(
        &w.router,
        presign_request("approver", Some(CSRF), "../../etc/S01E02.srt"),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["key"],
        "raw/S01E02.srt"
    );
    for bad in ["notes.txt", "a<b>.srt", ".hidden.srt", "..", ""] {
        let (status, _, _) = send(&w.router, presign_request("approver", Some(CSRF), bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn an_upload_is_followed_to_processed_or_quarantined_and_shown_escaped() {
    let w = world();
    w.store().insert(
        "raw/S01E01.srt",
        b"1\n00:00:01,000 --> 00:00:02,000\nELEVEN: Hi.\n",
    );
    w.store().set_last_modified("raw/S01E01.srt", NOW - 100);
    let (_, _, body) = send(
        &w.router,
        get("/api/uploads/status?key=raw/S01E01.srt", Some("viewer")),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["state"],
        "processing"
    );
    w.store().insert(
        "manifest/sources/subtitles/S01E01.json",
        serde_json::json!({"id": "subtitles/S01E01", "kind": "subtitles", "name": "S01E01", "raw_key": "raw/S01E01.srt",
            "raw_sha256": "ab", "raw_bytes": 10, "processed_key": "processed/subtitles/S01E01.jsonl", "processed_sha256": "cd",
            "counts": {"cues": 1, "records": 1, "with_speaker": 1}}).to_string().as_bytes(),
    );
    w.store()
        .set_last_modified("manifest/sources/subtitles/S01E01.json", NOW - 50);
    let (_, _, body) = send(
        &w.router,
        get("/api/uploads/status?key=raw/S01E01.srt", Some("viewer")),
    )
    .await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status["state"].as_str(), status["records"].as_u64()),
        (Some("processed"), Some(1))
    );

    // A bad file with markup in its name and in the reason.
    let key = "raw/<img src=x onerror=alert(1)>.srt";
    w.store().insert(key, b"\x00\x01");
    w.store().set_last_modified(key, NOW - 40);
    w.store().insert(
        "quarantine/<img src=x onerror=alert(1)>.srt.reason.json",
        serde_json::json!({"raw_key": key, "raw_sha256": "ef", "copy_key": null,
            "reason": {"code": "binary", "line": 3, "message": "<script>alert(2)</script> is not text"},
            "action": "Upload the episode as UTF-8 text."}).to_string().as_bytes(),
    );
    w.store().set_last_modified(
        "quarantine/<img src=x onerror=alert(1)>.srt.reason.json",
        NOW - 30,
    );
    let (_, _, body) = send(
        &w.router,
        get(
            &format!(
                "/api/uploads/status?key={}",
                percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
            ),
            Some("viewer"),
        ),
    )
    .await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            status["state"].as_str(),
            status["code"].as_str(),
            status["line"].as_u64()
        ),
        (Some("quarantined"), Some("binary"), Some(3))
    );
    for path in ["/", "/upload"] {
        let (_, _, page) = send(&w.router, get(path, Some("viewer"))).await;
        assert!(page.contains("quarantined"), "{path}");
        assert!(
            page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
            "{path}"
        );
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{path}"
        );
        assert!(
            !page.contains("<script>alert") && !page.contains("<img src=x"),
            "{path}"
        );
        assert!(page.contains("Upload the episode as UTF-8 text."));
    }
    let (status, _, _) = send(
        &w.router,
        get(
            "/api/uploads/status?key=datasets/latest.json",
            Some("viewer"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn hidden_history(page: &str) -> String {
    let start = page
        .find("name=\"history\" value=\"")
        .expect("history field")
        + "name=\"history\" value=\"".len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

#[tokio::test]
async fn a_two_turn_chat_sends_the_history_shows_the_variant_and_records_a_rating() {
    let w = world();
    let (_, _, page) = send(&w.router, get("/chat", Some("viewer"))).await;
    assert!(
        page.contains("value=\"chatbot-eleven\"") && !page.contains("value=\"chatbot-mike\""),
        "only characters in service"
    );
    let (status, _, page) = send(
        &w.router,
        post_form(
            "/chat",
            Some("viewer"),
            &[
                ("csrf", CSRF),
                ("model", "chatbot-eleven"),
                ("history", "[]"),
                ("message", "Where is Hopper?"),
                ("send", "1"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Friends don&#39;t lie.") || page.contains("Friends don't lie."));
    assert!(
        page.contains("primary v3"),
        "the variant and version that answered"
    );
    let history = hidden_history(&page);
    let (_, _, page) = send(
        &w.router,
        post_form(
            "/chat",
            Some("viewer"),
            &[
                ("csrf", CSRF),
                ("model", "chatbot-eleven"),
                ("history", &history),
                ("message", "And Mike?"),
                ("variant", "challenger"),
            ],
        ),
    )
    .await;
    let calls = w.backend().invocations();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].1.as_deref(), Some("challenger"));
    let sent: serde_json::Value = serde_json::from_slice(&calls[1].2).unwrap();
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["Where is Hopper?", "Friends don't lie.", "And Mike?"]
    );
    assert!(page.contains("challenger v4"));
    // Thumbs up on the second reply: one record for model version 4, variant challenger.
    let history = hidden_history(&page);
    let (_, _, page) = send(
        &w.router,
        post_form(
            "/chat",
            Some("viewer"),
            &[
                ("csrf", CSRF),
                ("model", "chatbot-eleven"),
                ("history", &history),
                ("rate", "up:1"),
            ],
        ),
    )
    .await;
    assert!(page.contains("Rated up"));
    let records = w.store().list("feedback/chatbot-eleven/").await.unwrap();
    assert_eq!(records.len(), 1);
    let record: serde_json::Value =
        serde_json::from_slice(&w.store().get(&records[0]).await.unwrap().unwrap().bytes).unwrap();
    assert_eq!(
        (
            record["model_version"].as_u64(),
            record["variant"].as_str(),
            record["rating"].as_str()
        ),
        (Some(4), Some("challenger"), Some("up"))
    );
    // Rating the same turn again rewrites the one record.
    send(
        &w.router,
        post_form(
            "/chat",
            Some("viewer"),
            &[
                ("csrf", CSRF),
                ("model", "chatbot-eleven"),
                ("history", &history),
                ("rate", "down:1"),
            ],
        ),
    )
    .await;
    assert_eq!(
        w.store()
            .list("feedback/chatbot-eleven/")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_failing_or_missing_endpoint_is_a_message_not_an_error_page() {
    let w = world_with(
        FakeBackend::default()
            .with_endpoint(in_service("hawkins-chatbot-eleven", &[("primary", 1, 1.0)]))
            .with_answer(
                "hawkins-chatbot-eleven",
                Err(BackendError::Unavailable {
                    operation: "InvokeEndpoint".into(),
                    message: "ModelNotReady".into(),
                }),
            ),
    );
    let (status, _, page) = send(
        &w.router,
        post_form(
            "/chat",
            Some("viewer"),
            &[
                ("csrf", CSRF),
                ("model", "chatbot-eleven"),
                ("history", "[]"),
                ("message", "Hi"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("waking up or busy"));
    let (_, _, page) = send(&w.router, get("/chat?model=chatbot-dustin", Some("viewer"))).await;
    assert!(page.contains("has no endpoint"));
    let (_, _, page) = send(&w.router, get("/classify", Some("viewer"))).await;
    assert!(page.contains("not deployed yet"));
}

#[tokio::test]
async fn classify_shows_the_labels_with_scores() {
    let w = world();
    let (status, _, page) = send(
        &w.router,
        post_form(
            "/classify",
            Some("viewer"),
            &[
                ("csrf", CSRF),
                ("text", "A lab corridor with flickering lights"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Hawkins National Laboratory") && page.contains("0.870"));
    let sent: serde_json::Value = serde_json::from_slice(&w.backend().invocations()[0].2).unwrap();
    assert_eq!(sent["inputs"][0], "A lab corridor with flickering lights");
}

#[tokio::test]
async fn themes_costs_and_the_network_read_what_the_pipeline_wrote() {
    let w = world();
    w.store().insert("processed/themes/latest.json", br#"{"corpus_version":"v1","key":"processed/themes/v1/episodes.json","job":"hawkins-themes-v1","package_version":2}"#);
    w.store().insert("processed/themes/v1/episodes.json", br#"{"model":"themes","corpus_version":"v1","job":"hawkins-themes-v1","package_version":2,"themes":["friendship","fear"],"episodes":[{"episode":"S01E01","records":3,"sentences":30,"scores":{"friendship":0.8,"fear":0.15}}]}"#);
    let (_, _, page) = send(&w.router, get("/themes", Some("viewer"))).await;
    assert!(
        page.contains("S01E01") && page.contains("class=\"s7\"") && page.contains("friendship")
    );

    w.store().insert("reports/costs/2026-12-01.json", br#"{"date":"2026-12-01","generated_at":"x","month":"2026-12","last_24h_usd":1,"month_to_date_usd":1,"forecast_usd":30,"spot_savings_month_usd":0}"#);
    w.store().insert("reports/costs/2026-12-02.json", br#"{"date":"2026-12-02","generated_at":"2026-12-02T06:00:00Z","month":"2026-12","last_24h_usd":4.5,"month_to_date_usd":12.25,"forecast_usd":190.0,"spot_savings_month_usd":3.1,
        "days":{"2026-12-01":{"chatbot-eleven":5.0},"2026-12-02":{"chatbot-eleven":7.25}},"by_model":{"chatbot-eleven":12.25},
        "idle_endpoints":[{"endpoint":"hawkins-chatbot-hopper","model":"chatbot-hopper","idle_hours":30,"usd_per_day":33.84,"delete_command":"aws sagemaker delete-endpoint --endpoint-name hawkins-chatbot-hopper"}]}"#);
    let (_, _, page) = send(&w.router, get("/costs", Some("viewer"))).await;
    assert!(
        page.contains("$12.25")
            && page.contains("$190.00")
            && page.contains("$33.84")
            && page.contains("<svg")
    );
    assert!(page.contains("2026-12-02"), "the newest report");

    let network = "<!doctype html><style>body{margin:0}</style><svg id=\"graph\"></svg><script type=\"application/json\" id=\"network-data\">{}</script><script>draw()</script>";
    w.store()
        .insert("processed/network/corpus.html", network.as_bytes());
    let (_, _, page) = send(&w.router, get("/network", Some("viewer"))).await;
    assert!(page.contains("<iframe") && page.contains("/network/frame"));
    let (status, response, body) = send(&w.router, get("/network/frame", Some("viewer"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, network);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'sha256-")
            && csp.contains("style-src 'sha256-")
            && csp.contains("frame-ancestors 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    let (status, _, _) = send(
        &w.router,
        get("/network/frame?episode=../../secret", Some("viewer")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_overview_reloads_itself_while_a_job_runs() {
    let w = world_with(FakeBackend::default());
    let (_, _, page) = send(&w.router, get("/", Some("viewer"))).await;
    assert!(!page.contains("http-equiv=\"refresh\""));
    let w = world_with(FakeBackend::default().with_job(RunningJob {
        name: "chatbot-eleven-3f2a9c1d0a1b2c3d".into(),
        created: Some(NOW - 3700),
        instance_type: Some("ml.g5.2xlarge".into()),
        instance_count: 1,
        spot: true,
    }));
    let (_, _, page) = send(&w.router, get("/", Some("viewer"))).await;
    assert!(page.contains("http-equiv=\"refresh\""));
    assert!(page.contains("1h01m") && page.contains("(spot)"));
    assert!(
        page.contains("at most $"),
        "the cost so far, at the on-demand price"
    );
}

#[tokio::test]
async fn the_local_app_is_the_local_approver_on_loopback_only() {
    let app = App::<Local> {
        store: MemStore::new(),
        backend: FakeBackend::default(),
        sign_in: LocalSignIn,
        config: config(),
        bucket: "local".into(),
        upload_origin: "http://127.0.0.1:5000".into(),
        region: "eu-west-1".into(),
        clock: || NOW,
    };
    let router = router(Arc::new(app));
    let from = |peer: &str| {
        let mut r = Request::get("/models").body(Body::empty()).unwrap();
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        r
    };
    let (status, _, page) = send(&router, from("127.0.0.1:40000")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("local · approver"));
    let (status, _, _) = send(&router, from("10.0.0.7:40000")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, response, _) = send(&router, get("/signin", None)).await;
    assert_eq!(
        (
            status,
            response.headers()[header::LOCATION].to_str().unwrap()
        ),
        (StatusCode::SEE_OTHER, "/")
    );
}

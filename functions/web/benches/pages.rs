//! Server time per page: the router over the in-memory store and backend, filled like a season
//! (34 uploads with their outcomes, 34 episodes × 10 themes, a month of costs, 10 versions per
//! model, two-variant endpoints). Prints p50 and p95 per page and the ratio of p50 to the 2 ms
//! goal (the issue's bar); a ratio above 1.00 misses it.
//!
//! `cargo bench -p web --no-default-features --bench pages` (no SDK needed: the router runs over
//! the in-memory parts).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hawkins::config::Config;
use hawkins::store::MemStore;
use hawkins_web::auth::LocalSignIn;
use hawkins_web::backend::{EndpointRow, Invoked, PackageRow, VariantRow};
use hawkins_web::fake::FakeBackend;
use hawkins_web::{App, Parts, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

const GOAL: Duration = Duration::from_millis(2);
const RUNS: usize = 300;

struct Bench;
impl Parts for Bench {
    type Store = MemStore;
    type Backend = FakeBackend;
    type SignIn = LocalSignIn;
    type Config = Arc<Config>;
}

fn season(config: &Config) -> (MemStore, FakeBackend) {
    let store = MemStore::new();
    let mut backend = FakeBackend::default();
    let episodes: Vec<String> = (1..=34)
        .map(|i| format!("S{:02}E{:02}", 1 + (i - 1) / 9, 1 + (i - 1) % 9))
        .collect();
    for (i, e) in episodes.iter().enumerate() {
        let key = format!("raw/{e}.srt");
        store.insert(&key, b"1\n00:00:01,000 --> 00:00:02,000\nMIKE: Hi.\n");
        store.set_last_modified(&key, 1_000 + i as i64);
        let entry = serde_json::json!({"id": format!("subtitles/{e}"), "kind": "subtitles", "name": e, "raw_key": key,
            "raw_sha256": "ab", "raw_bytes": 40000, "processed_key": format!("processed/subtitles/{e}.jsonl"),
            "processed_sha256": "cd", "counts": {"cues": 700, "records": 650, "with_speaker": 600}});
        let entry_key = format!("manifest/sources/subtitles/{e}.json");
        store.insert(&entry_key, entry.to_string().as_bytes());
        store.set_last_modified(&entry_key, 2_000 + i as i64);
    }
    let themes: Vec<String> = (0..10).map(|i| format!("theme {i}")).collect();
    let report = serde_json::json!({"model": "themes", "corpus_version": "v1", "job": "hawkins-themes-v1", "package_version": 1,
        "themes": themes, "episodes": episodes.iter().map(|e| serde_json::json!({"episode": e, "records": 60, "sentences": 600,
            "scores": themes.iter().enumerate().map(|(i, t)| (t.clone(), i as f64 / 10.0)).collect::<BTreeMap<_, _>>()})).collect::<Vec<_>>()});
    store.insert(
        "processed/themes/v1/episodes.json",
        report.to_string().as_bytes(),
    );
    store.insert(
        "processed/themes/latest.json",
        br#"{"corpus_version":"v1","key":"processed/themes/v1/episodes.json","job":"hawkins-themes-v1","package_version":1}"#,
    );
    let days: BTreeMap<String, BTreeMap<String, f64>> = (1..=30)
        .map(|d| {
            (
                format!("2026-11-{d:02}"),
                config
                    .models
                    .iter()
                    .map(|m| (m.name.clone(), d as f64))
                    .collect(),
            )
        })
        .collect();
    let costs = serde_json::json!({"date": "2026-11-30", "generated_at": "2026-11-30T06:00:00Z", "month": "2026-11",
        "last_24h_usd": 40.0, "month_to_date_usd": 900.0, "forecast_usd": 930.0, "spot_savings_month_usd": 120.0,
        "days": days, "by_model": config.models.iter().map(|m| (m.name.clone(), 100.0)).collect::<BTreeMap<_, _>>()});
    store.insert(
        "reports/costs/2026-11-30.json",
        costs.to_string().as_bytes(),
    );
    for m in &config.models {
        let endpoint = format!("{}-{}", config.pipeline.project_tag, m.name);
        for v in 1..=10 {
            backend = backend.with_package(
                &endpoint,
                PackageRow {
                    version: v,
                    approval: if v == 10 {
                        "PendingManualApproval"
                    } else {
                        "Approved"
                    }
                    .into(),
                    created: Some(1_000),
                    metadata: BTreeMap::from([(
                        "hawkins:metric:eval_loss".to_string(),
                        "1.2".to_string(),
                    )]),
                },
            );
        }
        backend = backend
            .with_endpoint(EndpointRow {
                name: endpoint.clone(),
                status: "InService".into(),
                variants: ["primary", "challenger"]
                    .iter()
                    .enumerate()
                    .map(|(i, v)| VariantRow {
                        name: (*v).into(),
                        model: format!("{endpoint}-v{}", 8 + i),
                        weight: 0.5,
                        instances: Some(1),
                        instance_type: Some("ml.g5.xlarge".into()),
                    })
                    .collect(),
                failure: None,
            })
            .with_answer(
                &endpoint,
                Ok(Invoked {
                    body: br#"{"reply":"Mornings are for coffee and contemplation."}"#.to_vec(),
                    variant: Some("primary".into()),
                }),
            );
    }
    (store, backend)
}

fn main() {
    let config: Arc<Config> = Arc::new(
        hawkins::config::parse(
            "infra/hawkins.toml",
            include_str!("../../../infra/hawkins.toml"),
        )
        .expect("the project config"),
    );
    let (store, backend) = season(&config);
    let app = Arc::new(App::<Bench> {
        store,
        backend,
        sign_in: LocalSignIn,
        config,
        bucket: "bench".into(),
        upload_origin: "http://127.0.0.1".into(),
        region: "us-east-1".into(),
        clock: || 10_000,
    });
    let router = router(app);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let peer: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    println!(
        "{:<28} {:>10} {:>10} {:>9} {:>12}",
        "page", "p50", "p95", "bytes", "p50 / 2 ms"
    );
    for path in [
        "/",
        "/upload",
        "/chat?model=chatbot-hopper",
        "/classify",
        "/themes",
        "/network",
        "/costs",
        "/models",
    ] {
        let mut times = Vec::with_capacity(RUNS);
        let mut bytes = 0;
        for _ in 0..RUNS {
            let mut request = Request::get(path).body(Body::empty()).expect("request");
            request.extensions_mut().insert(ConnectInfo(peer));
            let started = Instant::now();
            let body = runtime.block_on(async {
                let response = router.clone().oneshot(request).await.expect("infallible");
                response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes()
            });
            times.push(started.elapsed());
            bytes = body.len();
        }
        times.sort();
        let p50 = times[RUNS / 2];
        let p95 = times[RUNS * 95 / 100];
        println!(
            "{path:<28} {:>8.3}ms {:>8.3}ms {bytes:>9} {:>12.2}",
            p50.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            p50.as_secs_f64() / GOAL.as_secs_f64()
        );
    }
}

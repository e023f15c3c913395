//! `hawkins local`: the whole pipeline on the local AWS, fed with the project's sample corpus.
//!
//! The stack's resources are created on the local AWS; uploads to its bucket emit EventBridge
//! events that the rules of `infra/template.yaml` (read, not copied) route to one queue per
//! function, and the real handlers take them from there, as Lambda would. SageMaker's side (jobs
//! finishing, endpoints coming up) is played by `hawkins_localaws::standin`, whose events take the same
//! routes. Scheduled rules (the cost run) fire once at the end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use hawkins::aws::autoscaling::EndpointGuards;
use hawkins::aws::lifecycle::SageMakerLifecycle;
use hawkins::costs::{CostRun, PriceTable, RunOutcome, budgets, handle_schedule_with};
use hawkins::error::Retry;
use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, Ingest, ObjectOutcome, handle_event};
use hawkins::lifecycle::Lifecycle;
use hawkins::storage::sweep;
use hawkins::store::ObjectStore;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::Value;

use hawkins_localaws::deployment::Deployment;
use hawkins_localaws::faults::{FaultPlan, Faults, invoke};
use hawkins_localaws::router::Router;
use hawkins_localaws::standin::{Clients, Scenario, StandIn};
use hawkins_localaws::template::routes;
use hawkins_localaws::{LocalStack, workspace_root};

use crate::preprocess::collect;
use crate::summary::Summary;

/// The quiet period of the local run: short, so the run ends in seconds.
const LOCAL_QUIET_SECONDS: u32 = 3;
/// Rounds of SageMaker events and lifecycle deliveries before the run gives up settling.
const MAX_ROUNDS: usize = 12;
/// With the fault layer: more rounds, as events fail and come back.
const MAX_ROUNDS_WITH_FAULTS: usize = 60;
/// How often one event is delivered to a handler that keeps failing in a way that may pass.
const MAX_DELIVERIES: u32 = 10;

/// Delivers one event as Lambda does: again while the handler fails in a way that may pass (a
/// retryable error, or a crash of the fault layer's making), at most [`MAX_DELIVERIES`] times.
/// The error of the last delivery otherwise.
async fn deliver<T, E, F, Fut>(faults: Option<&Faults>, mut handler: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Retry + std::fmt::Display,
{
    let mut attempt = 1;
    loop {
        let (result, crashed) = invoke(faults, handler()).await;
        let again = match &result {
            _ if crashed => true,
            Ok(_) => false,
            Err(e) => e.retryable(),
        };
        if !again {
            return result.map_err(|e| e.to_string());
        }
        if attempt == MAX_DELIVERIES {
            return Err(match result {
                Err(e) => format!("{e} (after {attempt} deliveries)"),
                Ok(_) => format!("crashed on each of {attempt} deliveries"),
            });
        }
        attempt += 1;
        if let Some(faults) = faults {
            faults.redelivered();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs the pipeline; Ctrl-C stops it and everything it started (the local AWS goes with the
/// dropped stack).
pub async fn run(
    samples: &[PathBuf],
    out: &Path,
    faults: Option<u64>,
    serve: bool,
    json: bool,
) -> Result<()> {
    tokio::select! {
        result = pipeline(samples, out, faults, serve, json) => result,
        // With --serve, Ctrl-C is how the run ends.
        _ = tokio::signal::ctrl_c(), if serve => {
            eprintln!("stopped: the web app, the local AWS and everything the run started");
            Ok(())
        }
        _ = tokio::signal::ctrl_c(), if !serve => bail!("interrupted: the local AWS and everything the run started were stopped"),
    }
}

/// `hawkins local up`: the stack's resources on the local AWS, named as the samples in `events/`
/// name them, with the upload the S3 sample announces, until Ctrl-C.
pub async fn up(out: &Path, json: bool) -> Result<()> {
    let root = workspace_root();
    let sample = root.join("events/s3-object-created.json");
    let text = std::fs::read_to_string(&sample)
        .with_context(|| format!("reading {}", sample.display()))?;
    let event: Value = serde_json::from_str(&text).context("events/s3-object-created.json")?;
    let s3 = &event["Records"][0]["s3"];
    let (Some(bucket), Some(key)) = (s3["bucket"]["name"].as_str(), s3["object"]["key"].as_str())
    else {
        bail!("events/s3-object-created.json names no bucket and key");
    };
    let key = hawkins::events::decode_key(key).map_err(|e| anyhow!("{e}"))?;
    eprintln!("starting the local AWS...");
    let stack = LocalStack::start_with_bucket(&root, bucket)
        .await
        .context("starting the local AWS")?;
    let episode = root.join("tests/fixtures/corpus/Hawkins.Sample.S01E01.720p.HI.srt");
    let bytes =
        std::fs::read(&episode).with_context(|| format!("reading {}", episode.display()))?;
    stack.upload(&key, bytes).await?;
    // Listen for Ctrl-C before the environment is printed: whoever reads it may stop us at once.
    let interrupted = interrupt()?;
    let env: String = stack
        .function_env()
        .iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect();
    std::fs::create_dir_all(out)?;
    let file = out.join("lambda.env");
    std::fs::write(&file, &env)?;
    if json {
        let object: serde_json::Map<String, Value> = stack
            .function_env()
            .into_iter()
            .map(|(name, value)| (name.to_string(), Value::String(value)))
            .collect();
        println!("{}", Value::Object(object));
    } else {
        print!("{env}");
    }
    eprintln!(
        "the local AWS is up at {}: bucket {bucket} holds {key}.\n\
         The functions' environment is in {file}; in another shell:\n\
         \n  cargo lambda watch -A 127.0.0.1 --env-file {file}\n\
         \n  cargo lambda invoke -A 127.0.0.1 ingest --data-file events/s3-object-created.json\n\
         \nCtrl-C stops it.",
        stack.server.endpoint(),
        file = file.display(),
    );
    interrupted.await;
    eprintln!("stopping the local AWS");
    Ok(())
}

/// A future that ends at the first Ctrl-C (SIGINT) after this call: the handler is in place when
/// it returns, not when the future is first polled.
#[cfg(unix)]
fn interrupt() -> Result<impl std::future::Future<Output = ()>> {
    let mut signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listening for Ctrl-C")?;
    Ok(async move {
        signal.recv().await;
    })
}

#[cfg(not(unix))]
fn interrupt() -> Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn bar(progress: &MultiProgress, stage: &str, len: u64) -> ProgressBar {
    let bar = progress.add(ProgressBar::new(len));
    bar.set_style(
        ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(stage.to_string());
    bar
}

/// The web app's parts in the local run: the local AWS through the SDK, the local approver.
struct LocalWeb;

impl hawkins_web::Parts for LocalWeb {
    type Store = hawkins::aws::s3::S3Store;
    type Backend = hawkins_web::aws::AwsBackend;
    type SignIn = hawkins_web::auth::LocalSignIn;
    type Config = std::sync::Arc<hawkins::config::Config>;
}

/// Serves the web app over the local AWS on a free loopback port, for as long as the run lasts:
/// its URL. The bucket lets the app's origin PUT uploads (the browser sends them to S3 itself).
async fn start_web(stack: &LocalStack, config: &hawkins::config::Config) -> Result<String> {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding a port for the web app")?;
    let url = format!("http://{}", listener.local_addr()?);
    let rule = CorsRule::builder()
        .allowed_origins(&url)
        .allowed_methods("PUT")
        .allowed_headers("*")
        .build()?;
    stack
        .s3()
        .put_bucket_cors()
        .bucket(&stack.bucket)
        .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build()?)
        .send()
        .await
        .context("allowing the web app's uploads (PutBucketCors)")?;
    let app = hawkins_web::App::<LocalWeb> {
        store: stack.harness_store(),
        backend: hawkins_web::aws::AwsBackend::new(&stack.config, &stack.bucket, config),
        sign_in: hawkins_web::auth::LocalSignIn,
        config: std::sync::Arc::new(config.clone()),
        bucket: stack.bucket.clone(),
        upload_origin: stack.server.endpoint().trim_end_matches('/').to_string(),
        region: "us-east-1".into(),
        clock: hawkins_web::now,
    };
    let router = hawkins_web::router(std::sync::Arc::new(app));
    tokio::spawn(async move {
        if let Err(e) = hawkins_web::serve(listener, router).await {
            eprintln!("the web app stopped: {e}");
        }
    });
    Ok(url)
}

async fn pipeline(
    samples: &[PathBuf],
    out: &Path,
    faults: Option<u64>,
    serve: bool,
    json: bool,
) -> Result<()> {
    let root = workspace_root();
    let samples = if samples.is_empty() {
        vec![
            root.join("tests/fixtures/corpus"),
            root.join("tests/fixtures/bad/notes.srt"),
        ]
    } else {
        samples.to_vec()
    };
    let config =
        hawkins::config::load(&root.join("infra/hawkins.toml")).map_err(|e| anyhow!("{e}"))?;
    let scenario = Scenario::load(&root.join("tests/fixtures/local/sagemaker.json"))?;
    eprintln!("starting the local AWS...");
    let mut stack = LocalStack::start(&root)
        .await
        .context("starting the local AWS")?;
    eprintln!(
        "local AWS at {}; bucket {}",
        stack.server.endpoint(),
        stack.bucket
    );
    let router = Router::wire(
        &stack,
        routes(&root.join("infra/template.yaml"), &stack.bucket)?,
    )
    .await?;
    if let Some(seed) = faults {
        stack.inject_faults(FaultPlan::campaign(seed));
        eprintln!(
            "fault layer on (seed {seed}): the functions' calls to the local AWS fail at random"
        );
    }
    let web = start_web(&stack, &config).await?;
    let faults = stack.faults();
    let progress = MultiProgress::new();
    let mut failures: Vec<String> = Vec::new();

    // 1. Uploads: each one emits its event on the local bus.
    let files = collect(&samples)?;
    let uploads = bar(&progress, "upload", files.len() as u64);
    for (key, path) in &files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        stack.upload(key, bytes).await?;
        uploads.set_message(key.clone());
        uploads.inc(1);
    }
    uploads.finish_with_message("uploaded");

    // 2. Ingest: every event its rule routed.
    let store = stack.store();
    let notifier = stack.notifier();
    let ingest = Ingest {
        store: &store,
        notifier: &notifier,
        location: format!("s3://{}", stack.bucket),
        network_window: DEFAULT_NETWORK_WINDOW,
    };
    let mut outcomes: Vec<ObjectOutcome> = Vec::new();
    let mut pending = router.take(&stack, "ingest").await?;
    let ingest_bar = bar(&progress, "ingest", pending.len() as u64);
    while !pending.is_empty() {
        for event in std::mem::take(&mut pending) {
            match deliver(faults, || {
                handle_event(&ingest, &stack.bucket, event.clone())
            })
            .await
            {
                Ok(report) => outcomes.extend(report.objects),
                Err(e) => failures.push(format!("ingest: {e}")),
            }
            ingest_bar.inc(1);
        }
        pending = router.take(&stack, "ingest").await?;
        ingest_bar.inc_length(pending.len() as u64);
    }
    ingest_bar.finish_with_message(format!("{} files", outcomes.len()));

    // 3. Training: the train function reads its queue until the quiet period has passed.
    let train_bar = bar(&progress, "train", 1);
    train_bar.set_message(format!(
        "waiting {LOCAL_QUIET_SECONDS} s of quiet (the deployed stack waits {} s)",
        config.pipeline.quiet_period_seconds
    ));
    // The functions' model config: infra/hawkins.toml built in, unless an object is pushed to
    // the bucket's config/hawkins.toml (looked at every invocation, as a deployed function does
    // every few seconds).
    let live = stack.live_config(&store, &notifier, config.clone());
    let trained = stack
        .drain_train_queue(&live, Some(LOCAL_QUIET_SECONDS))
        .await?;
    train_bar.inc(1);
    train_bar.finish_with_message("jobs started");

    // 4. SageMaker's events and the lifecycle function, until nothing more happens.
    let sagemaker = aws_sdk_sagemaker::Client::new(&stack.config);
    let events = aws_sdk_eventbridge::Client::new(&stack.config);
    let samples_dir = root.join("events");
    let s3 = hawkins::aws::s3::S3Store::client(&stack.config);
    let clients = Clients {
        sagemaker: &sagemaker,
        s3: &s3,
        events: &events,
        bucket: &stack.bucket,
        project: &config.pipeline.project_tag,
        samples: &samples_dir,
        scenario: &scenario,
    };
    let registry = stack.sagemaker_lifecycle();
    let harness_registry = SageMakerLifecycle::from_config(&stack.config);
    let guards: EndpointGuards = stack.guards();
    let settings = stack.stack_settings(&config.pipeline.project_tag);
    let lifecycle_bar = bar(&progress, "lifecycle", 0);
    let mut standin = StandIn::default();
    let mut retry: Vec<Value> = Vec::new();
    let max_rounds = if faults.is_some() {
        MAX_ROUNDS_WITH_FAULTS
    } else {
        MAX_ROUNDS
    };
    for round in 0..max_rounds {
        let published = standin.step(&clients).await?;
        let mut batch = std::mem::take(&mut retry);
        batch.extend(router.take(&stack, "lifecycle").await?);
        lifecycle_bar.inc_length(batch.len() as u64);
        let delivered = batch.len();
        let in_force = live
            .current(hawkins::time::now())
            .await
            .context("reading the model config")?;
        let lifecycle = Lifecycle {
            store: &store,
            notifier: &notifier,
            registry: &registry,
            hosting: &registry as &SageMakerLifecycle,
            guards: &guards,
            config: &in_force,
            stack: &settings.for_config(&in_force),
        };
        for event in batch {
            let (result, crashed) = invoke(
                faults,
                lifecycle.handle(event.clone(), hawkins::time::now()),
            )
            .await;
            // A crashed invocation comes back whatever it returned; so does a retryable failure
            // (the event may be early: an endpoint not in service yet), in the next round.
            let again =
                crashed || matches!(&result, Err(e) if e.retryable() && round + 1 < max_rounds);
            match result {
                _ if again => {
                    if let Some(faults) = faults.filter(|_| crashed) {
                        faults.redelivered();
                    }
                    retry.push(event)
                }
                Ok(_) => {}
                Err(e) => failures.push(format!("lifecycle: {e}")),
            }
            lifecycle_bar.inc(1);
        }
        if published == 0 && delivered == 0 && retry.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lifecycle_bar.finish_with_message(format!("{} SageMaker events", standin.events));

    // 5. The schedules, once each: the cost run, and lifecycle's A/B check.
    let costs_bar = bar(&progress, "costs", router.schedules.len() as u64);
    let in_force = live
        .current(hawkins::time::now())
        .await
        .context("reading the model config")?;
    let prices = PriceTable::bundled()?.with_overrides(&in_force.costs.prices);
    let metrics = stack.metrics();
    let run = CostRun {
        store: &store,
        notifier: &notifier,
        metrics: &metrics,
        prices: &prices,
        budgets: budgets(&in_force.costs, |_| None).map_err(|e| anyhow!(e))?,
        region: "us-east-1".into(),
        location: format!("s3://{}", stack.bucket),
    };
    let lifecycle = Lifecycle {
        store: &store,
        notifier: &notifier,
        registry: &registry,
        hosting: &registry as &SageMakerLifecycle,
        guards: &guards,
        config: &in_force,
        stack: &settings.for_config(&in_force),
    };
    let mut cost: Option<RunOutcome> = None;
    for route in &router.schedules {
        if route.function == "lifecycle" {
            let event = serde_json::json!({
                "detail-type": hawkins::lifecycle::events::SCHEDULE,
                "source": "aws.events",
                "time": hawkins::time::format_rfc3339(hawkins::time::now()),
                "detail": {},
            });
            if let Err(e) = deliver(faults, || {
                lifecycle.handle(event.clone(), hawkins::time::now())
            })
            .await
            {
                failures.push(format!("lifecycle A/B check: {e}"));
            }
            costs_bar.inc(1);
            continue;
        }
        if route.function != "costs" {
            failures.push(format!(
                "{}: the local run has no handler for scheduled function {}",
                route.rule, route.function
            ));
            continue;
        }
        // As the cost function: the storage sweep first (nothing is old enough to expire in a
        // local run), then the report with what the bucket holds priced.
        let groups = format!("{}-", in_force.pipeline.project_tag);
        let now = hawkins::time::now();
        let storage = match deliver(faults, || {
            sweep(&store, &registry, &groups, &in_force.storage, now)
        })
        .await
        {
            Ok(swept) => Some(swept.cost),
            Err(e) => {
                failures.push(format!("storage sweep: {e}"));
                None
            }
        };
        match deliver(faults, || handle_schedule_with(&run, storage.clone(), now)).await {
            Ok(outcome) => cost = Some(outcome),
            Err(e) => failures.push(format!("costs: {e}")),
        }
        costs_bar.inc(1);
    }
    costs_bar.finish_with_message("report written");
    progress.clear().ok();

    // 6. The summary.
    let delivered = stack.delivered().await?;
    let alerts = delivered
        .into_iter()
        .map(|d| hawkins::store::Alert {
            kind: d.attributes.get("kind").cloned().unwrap_or_default(),
            severity: hawkins::store::Severity::Info,
            subject: d.subject,
            body: d.message,
            attributes: d.attributes,
            id: String::new(),
        })
        .collect();
    // Read back past the fault layer: the summary is what the local AWS holds.
    let store = stack.harness_store();
    // The corpus the train function built once the uploads had settled.
    let corpus = trained.iter().rev().find_map(|outcome| match outcome {
        hawkins::training::MessageOutcome::Trained { corpus, .. } => corpus.clone(),
        _ => None,
    });
    let mut summary = Summary::read(&store, outcomes, corpus, alerts).await?;
    summary.add_training(&trained);
    summary.deployment =
        Some(Deployment::read(&sagemaker, &harness_registry, &config.pipeline.project_tag).await?);
    summary.faults = stack.faults().map(Faults::report);
    std::fs::create_dir_all(out)?;
    let mut pages = vec![
        ("processed/network/corpus.html".to_string(), "corpus.html"),
        ("processed/network/corpus.json".to_string(), "corpus.json"),
        ("datasets/latest.json".to_string(), "latest.json"),
    ];
    if let Some(cost) = &cost {
        pages.push((cost.html_key.clone(), "costs.html"));
        pages.push((cost.report_key.clone(), "costs.json"));
    }
    for (key, name) in &pages {
        if let Some(object) = store.get(key).await? {
            std::fs::write(out.join(name), object.bytes)?;
        }
    }
    let mut texts = String::new();
    for (subject, text) in &summary.alerts {
        texts.push_str(&format!("== {subject}\n{text}\n\n"));
    }
    std::fs::write(out.join("alerts.txt"), texts)?;
    summary.cost = cost;
    summary.pages = pages
        .iter()
        .filter(|(_, n)| n.ends_with(".html"))
        .map(|(_, n)| out.join(n))
        .filter(|p| p.exists())
        .collect();
    summary.pages.push(out.join("alerts.txt"));
    summary.failures = failures.clone();
    summary.web = Some(web.clone());
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!(
            "{}",
            summary.text(&out.join("corpus.html")).replacen(
                "Hawkins preprocess",
                "Hawkins local run",
                1
            )
        );
    }
    if serve {
        // As the deployed stack would: whatever the browser uploads or approves takes the same
        // routes to the same handlers, every two seconds.
        eprintln!(
            "serving the web app at {web} and the local AWS at {}: uploads and approvals in the browser go through the pipeline. Ctrl-C stops both.",
            stack.server.endpoint()
        );
        let mut again: Vec<Value> = Vec::new();
        // Until Ctrl-C, which `run` catches: dropping this future stops the app and the local
        // AWS.
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            for event in router.take(&stack, "ingest").await? {
                if let Err(e) = deliver(faults, || {
                    handle_event(&ingest, &stack.bucket, event.clone())
                })
                .await
                {
                    eprintln!("ingest: {e}");
                }
            }
            if let Err(e) = stack
                .drain_train_queue(&live, Some(LOCAL_QUIET_SECONDS))
                .await
            {
                eprintln!("train: {e}");
            }
            standin.step(&clients).await?;
            let mut batch = std::mem::take(&mut again);
            batch.extend(router.take(&stack, "lifecycle").await?);
            for event in batch {
                match lifecycle.handle(event.clone(), hawkins::time::now()).await {
                    Ok(_) => {}
                    // An early event (an endpoint not in service yet) comes back next time.
                    Err(e) if e.retryable() => again.push(event),
                    Err(e) => eprintln!("lifecycle: {e}"),
                }
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} stage(s) failed: {}",
            failures.len(),
            failures.join("; ")
        );
    }
    Ok(())
}

//! Costs: on an EventBridge schedule (daily by default), prices the ledger's jobs and endpoints,
//! writes `reports/costs/<date>.{json,html}`, prints the figures as Embedded Metric Format lines
//! (CloudWatch turns them into `Hawkins/Costs` metrics) and alerts on budgets, the month's
//! forecast, idle endpoints and overlong jobs; first it deletes expired storage (`[storage]`) and
//! prices what stays. The decisions live in `hawkins::costs` and `hawkins::storage`.

use hawkins::aws::{
    cloudwatch::CloudWatchMetrics, config_from_env, lifecycle::SageMakerLifecycle,
    pricing::PriceList, required_env, s3::S3Store, sns::SnsNotifier,
};
use hawkins::config::{LiveConfig, LiveSettings};
use hawkins::costs::pricelist::refresh;
use hawkins::costs::{CostRun, PriceTable, budgets, handle_schedule_with, scheduled_time};
use hawkins::entry::{diagnostic, init_logs, now};
use hawkins::storage::sweep;
use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    // Its `[costs]` section: the built-in config, checked when this function was built
    // (functions/build.rs), in force while the stack's config location holds no object (see
    // hawkins::config::live).
    let built_in = hawkins::embedded_config!()?;
    let env = |name: &str| std::env::var(name).ok();
    // The budget parameters, checked now; each run takes the config in force under them.
    let started_with = budgets(&built_in.costs, env)?;
    let mut prices = PriceTable::bundled()?;
    let bucket = required_env("HAWKINS_BUCKET")?;
    let settings = LiveSettings::from_env(env, &bucket)?;
    let region = required_env("AWS_REGION")?;
    let sdk = config_from_env().await;
    // The stack's PriceListRefresh parameter: prices from the AWS Price List API for this region
    // on top of the bundled table, once per cold start; any failure keeps the bundled table. The
    // config's price overrides go on top at each run.
    if std::env::var("HAWKINS_PRICE_LIST_REFRESH").is_ok_and(|v| v.trim() == "true") {
        let today = hawkins::time::format_rfc3339(now())
            .get(..10)
            .unwrap_or_default()
            .to_string();
        let (table, result) = refresh(prices, &PriceList::from_config(&sdk), &region, &today).await;
        prices = table;
        match result {
            Ok(summary) => tracing::info!(?summary, "prices refreshed from the Price List API"),
            Err(why) => tracing::warn!(%why, "keeping the bundled price table"),
        }
    }
    let store = S3Store::from_config(&sdk, &bucket);
    let config_bucket = S3Store::from_config(&sdk, &settings.location.bucket);
    let notifier = SnsNotifier::from_config(&sdk, required_env("HAWKINS_ALERT_TOPIC_ARN")?);
    let metrics = CloudWatchMetrics::from_config(&sdk);
    let registry = SageMakerLifecycle::from_config(&sdk);
    tracing::info!(budgets = ?started_with, prices_as_of = %prices.as_of, location = %settings.location, "costs function ready");
    let live = LiveConfig::new(&config_bucket, &store, &notifier, settings, built_in);
    let (live, prices, region) = (&live, &prices, region.as_str());
    let (store, notifier, metrics, registry, location) = (
        &store,
        &notifier,
        &metrics,
        &registry,
        format!("s3://{bucket}"),
    );
    let location = location.as_str();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let now = scheduled_time(&event.payload).unwrap_or_else(now);
        async move {
            let config = live
                .current(hawkins::entry::now())
                .await
                .map_err(diagnostic)?;
            let prices = prices.clone().with_overrides(&config.costs.prices);
            let run = CostRun {
                store,
                notifier,
                metrics,
                prices: &prices,
                budgets: budgets(&config.costs, env)?,
                region: region.to_string(),
                location: location.to_string(),
            };
            // The sweep first, so that the report prices what stays. A sweep that fails (the
            // registry or the bucket cannot be read) deletes nothing; the report goes without
            // its storage line and the next run sweeps again.
            let groups = format!("{}-", config.pipeline.project_tag);
            let storage = match sweep(store, registry, &groups, &config.storage, now).await {
                Ok(swept) => Some(swept.cost),
                Err(e) => {
                    tracing::warn!(error = %e, "storage sweep skipped");
                    None
                }
            };
            let outcome = handle_schedule_with(&run, storage, now)
                .await
                .map_err(diagnostic)?;
            for line in &outcome.emf {
                println!("{line}");
            }
            Ok::<_, Diagnostic>(serde_json::to_value(&outcome).unwrap_or_default())
        }
    }))
    .await
}

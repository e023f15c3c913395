//! A/B tests that conclude. `strategy = "ab"` puts an approved package beside the serving one as
//! the `challenger` variant; this module decides when the test is over, which variant won, and
//! moves the endpoint to the kept variant alone (at once with `ab_promote = "auto"`, or when a
//! person runs `hawkins ab promote <model>`).
//!
//! The endpoint's InService event on a config with a challenger starts a test
//! (`Lifecycle::ab_started`, called from [`super::endpoint`]). The hourly schedule
//! (`LifecycleAbCheckRule`, a "Scheduled Event") runs [`Lifecycle::ab_checks`]
//! over every model whose strategy is `ab`. For an endpoint InService with both variants it reads
//! each variant's traffic since the test started ([`VariantMetrics`]: CloudWatch's `AWS/SageMaker`
//! `Invocations`, `Invocation5XXErrors`, `Invocation4XXErrors` and `ModelLatency`), the chat's
//! ratings of each variant's model version ([`crate::feedback`]), and asks [`decide`].
//!
//! A test is remembered at `state/lifecycle/ab/<endpoint>/<challenger model>.json` ([`AbRecord`]):
//! when it started and, once concluded, the conclusion and whether it was promoted.
//!
//! Idempotent: the conclusion is written before anything is done about it, and a test with a
//! conclusion is never decided again (a later check, a replayed schedule event or a second
//! delivery only finishes what the first left undone: the promotion, then the message, whose
//! marker under `alerts/sent/` lets it go out once). The promotion's endpoint config is named from
//! its content like every deployment's, so asking twice creates nothing new; the dropped
//! challenger's package is rejected in the registry before the endpoint moves, so no endpoint
//! event can deploy it again ([`super::endpoint::next_to_deploy`] takes the newest approved).

use std::future::Future;

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::endpoint::{Endpoint, EndpointState};
use super::names::{CHALLENGER, PRIMARY, endpoint_name, group_name, model_version};
use super::package::{VariantSpec, alarms, config_name, variant as variant_spec};
use super::plan::EndpointConfigSpec;
use super::{Guards, Hosting, Lifecycle, LifecycleError, Registry, alerts};
use crate::config::{AbPromote, AbWindow, ModelConfig, Strategy as DeployStrategy};
use crate::error::{Retry, StoreError};
use crate::feedback::{self, Tally};
use crate::store::{Notifier, ObjectStore};
use crate::time::{HOUR, format_rfc3339, parse_rfc3339};

/// One variant's traffic over a time range, as CloudWatch counts it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Traffic {
    pub invocations: u64,
    pub errors_5xx: u64,
    pub errors_4xx: u64,
    /// Mean `ModelLatency`, microseconds; `None` without a datapoint.
    pub latency_avg_micros: Option<f64>,
    /// Median `ModelLatency`, microseconds, where the metrics store computes percentiles.
    pub latency_p50_micros: Option<f64>,
}

/// Reads a variant's SageMaker metrics (`AWS/SageMaker`, by `EndpointName` and `VariantName`).
pub trait VariantMetrics: Sync {
    /// The variant's traffic in `[start, end)`; zeros when there is none.
    fn variant_traffic(
        &self,
        endpoint: &str,
        variant: &str,
        start: i64,
        end: i64,
    ) -> impl Future<Output = Result<Traffic, StoreError>> + Send;
}

/// What [`decide`] weighs for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct VariantStats {
    pub traffic: Traffic,
    pub feedback: Tally,
}

impl VariantStats {
    /// Server and client errors over invocations (0 without invocations).
    pub fn error_rate(&self) -> f64 {
        if self.traffic.invocations == 0 {
            return 0.0;
        }
        (self.traffic.errors_5xx + self.traffic.errors_4xx) as f64 / self.traffic.invocations as f64
    }

    /// Thumbs up over all ratings, when there are any.
    pub fn up_share(&self) -> Option<f64> {
        let total = self.feedback.total();
        (total > 0).then(|| self.feedback.up as f64 / total as f64)
    }
}

/// Both sides of a test.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct AbStats {
    pub primary: VariantStats,
    pub challenger: VariantStats,
}

impl AbStats {
    /// The same stats with the two variants' roles exchanged.
    pub fn swapped(self) -> AbStats {
        AbStats {
            primary: self.challenger,
            challenger: self.primary,
        }
    }

    fn of(&self, side: Side) -> &VariantStats {
        match side {
            Side::Primary => &self.primary,
            Side::Challenger => &self.challenger,
        }
    }
}

/// A variant of the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Primary,
    Challenger,
}

impl Side {
    /// The endpoint variant's name.
    pub fn variant(self) -> &'static str {
        match self {
            Side::Primary => PRIMARY,
            Side::Challenger => CHALLENGER,
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Primary => Side::Challenger,
            Side::Challenger => Side::Primary,
        }
    }

    /// `primary` or `challenger`, as a person writes it.
    pub fn parse(text: &str) -> Option<Side> {
        match text.trim().to_ascii_lowercase().as_str() {
            PRIMARY => Some(Side::Primary),
            CHALLENGER => Some(Side::Challenger),
            _ => None,
        }
    }
}

/// What a test's numbers say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum AbDecision {
    /// Too early: the window is not over.
    NotYet { reason: String },
    /// One variant is better; the other is dropped.
    Winner { variant: Side, why: String },
    /// The window is over and neither is clearly better: the serving model (primary) is kept.
    Inconclusive { why: String },
}

impl AbDecision {
    /// The variant that serves alone once the test is promoted; `None` while it runs.
    pub fn keep(&self) -> Option<Side> {
        match self {
            AbDecision::NotYet { .. } => None,
            AbDecision::Winner { variant, .. } => Some(*variant),
            AbDecision::Inconclusive { .. } => Some(Side::Primary),
        }
    }

    pub fn why(&self) -> &str {
        match self {
            AbDecision::NotYet { reason } => reason,
            AbDecision::Winner { why, .. } | AbDecision::Inconclusive { why } => why,
        }
    }

    /// The decision with the variants' roles exchanged (what [`decide`] says of swapped stats).
    pub fn swapped(&self) -> AbDecision {
        match self {
            AbDecision::Winner { variant, why } => AbDecision::Winner {
                variant: variant.other(),
                why: why.clone(),
            },
            other => other.clone(),
        }
    }
}

/// A variant whose error rate is higher than the other's by more than this (one percentage point
/// of its invocations) loses.
pub const ERROR_MARGIN: f64 = 0.01;
/// Ratings each variant needs before the chat's feedback decides.
pub const MIN_FEEDBACK: u64 = 20;
/// A share of thumbs up higher by more than this (five percentage points) wins.
pub const FEEDBACK_MARGIN: f64 = 0.05;
/// A variant faster by more than this share of the slower one's latency wins (ten per cent).
pub const LATENCY_MARGIN: f64 = 0.10;

/// Whether the test is over, and who won. `started` and `now` are seconds.
///
/// The window: nothing is decided before `min_hours`, nor before the challenger has served
/// `min_invocations`, unless `max_hours` have passed: then too few invocations make the test
/// [`AbDecision::Inconclusive`] (the serving model is kept).
///
/// The rule, in order; the first signal that separates the variants decides:
/// 1. errors: a variant whose error rate (5XX and 4XX over invocations) is worse than the other's
///    by more than [`ERROR_MARGIN`] loses; a model that fails requests never wins on taste;
/// 2. feedback: when both variants have at least [`MIN_FEEDBACK`] ratings, the higher share of
///    thumbs up wins if it is higher by more than [`FEEDBACK_MARGIN`]: what the users said is the
///    point of a character chatbot;
/// 3. latency: the median `ModelLatency` (the mean where no median is available) lower by more
///    than [`LATENCY_MARGIN`] wins;
/// 4. otherwise the test is inconclusive and the serving model stays: a new model must show it
///    is better, not merely as good.
///
/// Apart from the window (which counts the challenger's invocations), the rule treats both
/// variants alike: swapping their stats swaps the winner.
pub fn decide(window: &AbWindow, started: i64, now: i64, stats: &AbStats) -> AbDecision {
    let elapsed = (now - started).max(0);
    let hours = elapsed as f64 / HOUR as f64;
    if elapsed < i64::from(window.min_hours) * HOUR {
        return AbDecision::NotYet {
            reason: format!(
                "the test has run {hours:.1} h of at least {} h",
                window.min_hours
            ),
        };
    }
    let served = stats.challenger.traffic.invocations;
    let min = u64::from(window.min_invocations);
    if served < min {
        return if elapsed < i64::from(window.max_hours) * HOUR {
            AbDecision::NotYet {
                reason: format!(
                    "the challenger has served {served} of {min} invocations (the test ends after {} h whatever the traffic)",
                    window.max_hours
                ),
            }
        } else {
            AbDecision::Inconclusive {
                why: format!(
                    "after {hours:.1} h the challenger had served only {served} of the {min} invocations needed: too little traffic to tell, the serving model stays"
                ),
            }
        };
    }
    if let Some(decision) = compare(stats) {
        return decision;
    }
    AbDecision::Inconclusive {
        why: format!(
            "no signal separates the variants (errors {}, thumbs up {}, latency {}): the serving model stays",
            percents(stats, |s| Some(s.error_rate())),
            percents(stats, VariantStats::up_share),
            latencies(stats),
        ),
    }
}

/// Steps 1 to 3 of [`decide`]: the winner, when a signal separates the variants.
fn compare(stats: &AbStats) -> Option<AbDecision> {
    let (p, c) = (&stats.primary, &stats.challenger);
    let winner = |variant: Side, why: String| Some(AbDecision::Winner { variant, why });
    // 1. Errors.
    let (ep, ec) = (p.error_rate(), c.error_rate());
    for (side, better, worse) in [(Side::Primary, ep, ec), (Side::Challenger, ec, ep)] {
        if worse - better > ERROR_MARGIN {
            return winner(
                side,
                format!(
                    "the {} failed {:.1}% of its requests, the {} {:.1}%",
                    side.other().variant(),
                    worse * 100.0,
                    side.variant(),
                    better * 100.0
                ),
            );
        }
    }
    // 2. Feedback.
    if p.feedback.total() >= MIN_FEEDBACK
        && c.feedback.total() >= MIN_FEEDBACK
        && let (Some(sp), Some(sc)) = (p.up_share(), c.up_share())
    {
        for (side, better, worse) in [(Side::Primary, sp, sc), (Side::Challenger, sc, sp)] {
            if better - worse > FEEDBACK_MARGIN {
                let (b, w) = (stats.of(side), stats.of(side.other()));
                return winner(
                    side,
                    format!(
                        "users liked the {} {:.0}% of the time ({} of {} ratings), the {} {:.0}% ({} of {})",
                        side.variant(),
                        better * 100.0,
                        b.feedback.up,
                        b.feedback.total(),
                        side.other().variant(),
                        worse * 100.0,
                        w.feedback.up,
                        w.feedback.total()
                    ),
                );
            }
        }
    }
    // 3. Latency.
    if let Some((lp, lc, what)) = latency_pair(stats) {
        for (side, fast, slow) in [(Side::Primary, lp, lc), (Side::Challenger, lc, lp)] {
            if slow > 0.0 && (slow - fast) / slow > LATENCY_MARGIN {
                return winner(
                    side,
                    format!(
                        "errors and feedback were even; the {} answered in {:.0} ms ({what}), the {} in {:.0} ms",
                        side.variant(),
                        fast / 1000.0,
                        side.other().variant(),
                        slow / 1000.0
                    ),
                );
            }
        }
    }
    None
}

/// Both variants' latency: the medians when both have one, else the means.
fn latency_pair(stats: &AbStats) -> Option<(f64, f64, &'static str)> {
    let (p, c) = (&stats.primary.traffic, &stats.challenger.traffic);
    match (p.latency_p50_micros, c.latency_p50_micros) {
        (Some(a), Some(b)) => Some((a, b, "median")),
        _ => Some((p.latency_avg_micros?, c.latency_avg_micros?, "mean")),
    }
}

fn percents(stats: &AbStats, f: impl Fn(&VariantStats) -> Option<f64>) -> String {
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
    format!(
        "{} vs {}",
        show(f(&stats.primary)),
        show(f(&stats.challenger))
    )
}

fn latencies(stats: &AbStats) -> String {
    match latency_pair(stats) {
        Some((p, c, what)) => format!("{:.0} vs {:.0} ms {what}", p / 1000.0, c / 1000.0),
        None => "unknown".into(),
    }
}

/// Where a test is remembered.
pub const AB_STATE_PREFIX: &str = "state/lifecycle/ab/";

/// One A/B test of an endpoint, at `state/lifecycle/ab/<endpoint>/<challenger model>.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AbRecord {
    pub endpoint: String,
    pub model: String,
    /// The SageMaker models of the two variants.
    pub primary_model: String,
    pub challenger_model: String,
    /// When both variants started serving (RFC 3339): the time of the endpoint's InService event
    /// on the A/B config, or of the first check that saw them. The window starts here.
    pub started: String,
    #[serde(default)]
    pub conclusion: Option<AbConclusion>,
}

/// Who moves the endpoint to the kept variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Promoter {
    /// `ab_promote = "auto"`: the check itself.
    Auto,
    /// `ab_promote = "approval"`: a person, told by the conclusion's message.
    Approval,
    /// A person chose the variant (`hawkins ab promote --variant`), perhaps before the end.
    Person,
}

impl From<AbPromote> for Promoter {
    fn from(promote: AbPromote) -> Self {
        match promote {
            AbPromote::Auto => Promoter::Auto,
            AbPromote::Approval => Promoter::Approval,
        }
    }
}

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbConclusion {
    pub at: String,
    pub decision: AbDecision,
    /// The variant that serves alone once promoted, and its SageMaker model.
    pub keep: Side,
    pub keep_model: String,
    /// The numbers it was decided on.
    pub stats: AbStats,
    /// Who moves the endpoint: `ab_promote` when the test concluded, or a person who ended it.
    pub promote: Promoter,
    /// The endpoint config serving `keep` alone, once the update was asked for.
    #[serde(default)]
    pub promoted_config: Option<String>,
    #[serde(default)]
    pub promoted_at: Option<String>,
}

impl AbRecord {
    pub fn key(endpoint: &str, challenger_model: &str) -> String {
        format!("{AB_STATE_PREFIX}{endpoint}/{challenger_model}.json")
    }

    pub fn started_at(&self) -> Option<i64> {
        parse_rfc3339(&self.started)
    }
}

/// The A/B test an endpoint runs: its primary and challenger variants' models, when both are there.
pub fn running_test(endpoint: &Endpoint) -> Option<(String, String)> {
    let model = |name: &str| {
        endpoint
            .variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.model.clone())
    };
    Some((model(PRIMARY)?, model(CHALLENGER)?))
}

/// The endpoint config that serves `keep_model` alone as the primary variant, with the model's
/// instance settings. Named from its content like a deployment's (a replay finds it), with `-ab`
/// after the model: never the config the primary was first deployed with, so the endpoint's
/// InService event tells the team it serves (that message goes out once per config).
pub fn promotion_config(
    model: &ModelConfig,
    keep_model: &str,
    tags: &[(String, String)],
) -> Option<EndpointConfigSpec> {
    let deploy = model.deploy.as_ref()?;
    let variants: Vec<VariantSpec> = vec![variant_spec(PRIMARY, keep_model, 1.0, deploy)];
    Some(EndpointConfigSpec {
        name: config_name(&format!("{keep_model}-ab"), &variants),
        variants,
        tags: tags.to_vec(),
    })
}

/// What the check did with one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "ab")]
pub enum AbOutcome {
    /// No test runs on the model's endpoint.
    NoTest { model: String, reason: String },
    /// The test runs on; why it was not decided.
    Running {
        model: String,
        endpoint: String,
        reason: String,
    },
    /// The test has a conclusion (now or earlier).
    Concluded {
        model: String,
        endpoint: String,
        decision: AbDecision,
        keep: Side,
        /// The update to the kept variant alone was asked for.
        promoted: bool,
        /// A message went out in this run.
        alerted: bool,
    },
}

/// Why a person's promotion did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbError {
    #[error("{model} is not a model of the config, or its [model.deploy] strategy is not \"ab\"")]
    NotAbModel { model: String },
    #[error("no A/B test runs on {endpoint}: {reason}. `hawkins status` shows its variants")]
    NoTest { endpoint: String, reason: String },
    #[error(
        "the A/B test on {endpoint} has not concluded: {reason}. Name the variant to keep to end it now (--variant primary or --variant challenger)"
    )]
    NotConcluded { endpoint: String, reason: String },
    #[error(
        "{endpoint} is {status}: it can be promoted once it is InService again (try again in a few minutes)"
    )]
    Busy { endpoint: String, status: String },
}

impl Retry for AbError {
    fn retryable(&self) -> bool {
        matches!(self, AbError::Busy { .. })
    }
}

fn strategy_window(model: &ModelConfig) -> Option<&AbWindow> {
    match model.deploy.as_ref()?.strategy()? {
        DeployStrategy::AB { window, .. } => Some(window),
        _ => None,
    }
}

impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards + VariantMetrics,
{
    /// The scheduled check: every model whose strategy is `ab`. Each model is checked even when
    /// another fails; the first failure is then returned (a retryable one brings the schedule
    /// event back, and the check is idempotent).
    pub async fn ab_checks(&self, now: i64) -> Result<Vec<AbOutcome>, LifecycleError> {
        let mut out = Vec::new();
        let mut failed = None;
        for model in &self.config.models {
            let Some(window) = strategy_window(model) else {
                continue;
            };
            match self.ab_check(model, window, now).await {
                Ok(outcome) => out.push(outcome),
                Err(e) => {
                    warn!(model = %model.name, error = %e, "A/B check failed");
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The test of one model: recorded if its start was missed, decided once its window allows, then
    /// finished (promoted with `ab_promote = "auto"`, and told once).
    pub async fn ab_check(
        &self,
        model: &ModelConfig,
        window: &AbWindow,
        now: i64,
    ) -> Result<AbOutcome, LifecycleError> {
        let endpoint = endpoint_name(self.project(), &model.name);
        let (current, record) = match self.ab_test(model, &endpoint, now).await? {
            Ok(found) => found,
            Err(reason) => {
                return Ok(AbOutcome::NoTest {
                    model: model.name.clone(),
                    reason,
                });
            }
        };
        let mut record = record;
        if record.conclusion.is_none() {
            if current.status != "InService" {
                return Ok(AbOutcome::Running {
                    model: model.name.clone(),
                    endpoint,
                    reason: format!("the endpoint is {}", current.status),
                });
            }
            let started = record.started_at().unwrap_or(now);
            let stats = self.ab_stats(&record, started, now).await?;
            let decision = decide(window, started, now, &stats);
            let Some(keep) = decision.keep() else {
                info!(endpoint, reason = decision.why(), "A/B test runs on");
                return Ok(AbOutcome::Running {
                    model: model.name.clone(),
                    endpoint,
                    reason: decision.why().to_string(),
                });
            };
            // Written before anything is done about it: a later run finishes, never re-decides.
            record.conclusion = Some(AbConclusion {
                at: format_rfc3339(now),
                keep_model: keep_model(&record, keep),
                decision,
                keep,
                stats,
                promote: window.promote.into(),
                promoted_config: None,
                promoted_at: None,
            });
            self.put_ab(&record).await?;
        }
        let auto = record
            .conclusion
            .as_ref()
            .is_some_and(|c| c.promote == Promoter::Auto);
        if auto {
            self.ab_promote_record(model, &current, &mut record, now)
                .await?;
        }
        self.ab_finish(model, &record).await
    }

    /// A person's promotion (`hawkins ab promote`): the conclusion's kept variant, or `choice`,
    /// which also ends a test that has not concluded. The endpoint then serves that variant
    /// alone; a second run finds it done.
    pub async fn ab_promote(
        &self,
        model_name: &str,
        choice: Option<Side>,
        now: i64,
    ) -> Result<AbOutcome, LifecycleError> {
        let Some((model, window)) = self
            .config
            .model(model_name)
            .and_then(|m| Some((m, strategy_window(m)?)))
        else {
            return Err(AbError::NotAbModel {
                model: model_name.to_string(),
            }
            .into());
        };
        let endpoint = endpoint_name(self.project(), &model.name);
        let (current, mut record) = match self.ab_test(model, &endpoint, now).await? {
            Ok(found) => found,
            Err(reason) => return Err(AbError::NoTest { endpoint, reason }.into()),
        };
        if current.status != "InService" {
            return Err(AbError::Busy {
                endpoint,
                status: current.status.clone(),
            }
            .into());
        }
        let started = record.started_at().unwrap_or(now);
        let concluded = record.conclusion.clone();
        let conclusion = match (concluded, choice) {
            (Some(c), None) => c,
            (Some(c), Some(side)) if c.keep == side => c,
            (earlier, Some(side)) => {
                let stats = match &earlier {
                    Some(c) => c.stats,
                    None => self.ab_stats(&record, started, now).await?,
                };
                let said = match &earlier {
                    Some(c) => format!(" (the test had concluded: {})", c.decision.why()),
                    None => String::new(),
                };
                AbConclusion {
                    at: format_rfc3339(now),
                    decision: AbDecision::Winner {
                        variant: side,
                        why: format!("a person chose the {}{said}", side.variant()),
                    },
                    keep: side,
                    keep_model: keep_model(&record, side),
                    stats,
                    promote: Promoter::Person,
                    promoted_config: None,
                    promoted_at: None,
                }
            }
            (None, None) => {
                let stats = self.ab_stats(&record, started, now).await?;
                let reason = decide(window, started, now, &stats).why().to_string();
                return Err(AbError::NotConcluded { endpoint, reason }.into());
            }
        };
        // The endpoint is InService with both variants: a promotion asked for earlier did not
        // take (SageMaker rolled it back), so the person's promotion asks again.
        let mut conclusion = conclusion;
        conclusion.promoted_config = None;
        conclusion.promoted_at = None;
        if record.conclusion.as_ref() != Some(&conclusion) {
            record.conclusion = Some(conclusion);
            self.put_ab(&record).await?;
        }
        self.ab_promote_record(model, &current, &mut record, now)
            .await?;
        self.ab_finish(model, &record).await
    }

    /// The model's endpoint and its running test's record (written now if missing), or why
    /// there is none.
    async fn ab_test(
        &self,
        model: &ModelConfig,
        endpoint: &str,
        now: i64,
    ) -> Result<Result<(Endpoint, AbRecord), String>, LifecycleError> {
        let Some(current) = self.hosting.endpoint(endpoint).await? else {
            return Ok(Err(format!("the endpoint {endpoint} does not exist")));
        };
        let Some((primary_model, challenger_model)) = running_test(&current) else {
            return Ok(Err(format!(
                "the endpoint {endpoint} serves no challenger variant"
            )));
        };
        let key = AbRecord::key(endpoint, &challenger_model);
        if let Some(record) = self.read::<AbRecord>(&key).await? {
            return Ok(Ok((current, record)));
        }
        // The endpoint's InService event starts the window ([`Self::ab_started`]); should it
        // have been missed, the first check that sees both variants serving does, at most an
        // hour late.
        if current.status != "InService" {
            return Ok(Err(format!(
                "the endpoint {endpoint} is {}: the test starts once it is InService",
                current.status
            )));
        }
        let record = AbRecord {
            endpoint: endpoint.to_string(),
            model: model.name.clone(),
            primary_model,
            challenger_model,
            started: format_rfc3339(now),
            conclusion: None,
        };
        self.put_ab(&record).await?;
        info!(endpoint, challenger = %record.challenger_model, "A/B test started");
        Ok(Ok((current, record)))
    }

    /// Both variants' traffic and ratings since the test started.
    async fn ab_stats(
        &self,
        record: &AbRecord,
        started: i64,
        now: i64,
    ) -> Result<AbStats, StoreError> {
        let end = now.max(started + 1);
        let ratings = feedback::tally(self.store, &record.model, started, end).await?;
        let rated = |model: &str| {
            model_version(model)
                .and_then(|v| ratings.get(&v).copied())
                .unwrap_or_default()
        };
        Ok(AbStats {
            primary: VariantStats {
                traffic: self
                    .guards
                    .variant_traffic(&record.endpoint, PRIMARY, started, end)
                    .await?,
                feedback: rated(&record.primary_model),
            },
            challenger: VariantStats {
                traffic: self
                    .guards
                    .variant_traffic(&record.endpoint, CHALLENGER, started, end)
                    .await?,
                feedback: rated(&record.challenger_model),
            },
        })
    }

    /// Moves the endpoint to the conclusion's kept variant alone, unless that was asked already:
    /// the dropped challenger's package is rejected first (so that no endpoint event deploys it
    /// again), then the config, its alarms and the update, as a deployment makes them.
    async fn ab_promote_record(
        &self,
        model: &ModelConfig,
        current: &Endpoint,
        record: &mut AbRecord,
        now: i64,
    ) -> Result<(), LifecycleError> {
        let Some(conclusion) = record.conclusion.clone() else {
            return Ok(());
        };
        if conclusion.promoted_config.is_some() {
            return Ok(());
        }
        if current.status != "InService" {
            // The next check (or the person's next try) finishes it.
            info!(endpoint = %record.endpoint, status = %current.status, "promotion waits for InService");
            return Ok(());
        }
        let endpoint = record.endpoint.clone();
        let tags = vec![
            (
                crate::training::tags::PROJECT.to_string(),
                self.project().to_string(),
            ),
            (crate::training::tags::MODEL.to_string(), model.name.clone()),
        ];
        let Some(config) = promotion_config(model, &conclusion.keep_model, &tags) else {
            return Ok(());
        };
        if conclusion.keep == Side::Primary {
            self.reject_challenger(model, record, &conclusion).await?;
        }
        self.hosting.create_endpoint_config(&config).await?;
        for alarm in alarms(&endpoint, PRIMARY) {
            self.guards.put_alarm(&alarm).await?;
        }
        let before: Option<EndpointState> = self.read(&EndpointState::key(&endpoint)).await?;
        let state = EndpointState {
            endpoint: endpoint.clone(),
            pending_config: Some(config.name.clone()),
            pending_package: None,
            pending_version: model_version(&conclusion.keep_model),
            failed_package: before.as_ref().and_then(|s| s.failed_package.clone()),
            held_through: before.as_ref().and_then(|s| s.held_through),
        };
        self.put_state(&endpoint, &state).await?;
        let resources: Vec<String> = current
            .variants
            .iter()
            .map(|v| super::names::scaling_resource(&endpoint, &v.name))
            .collect();
        let asked = async {
            if matches!(model.deploy, Some(crate::config::Deploy::Realtime { .. })) {
                for resource in &resources {
                    self.guards.deregister_scaling(resource).await?;
                }
            }
            self.hosting
                .update_endpoint(&endpoint, &config.name, None)
                .await
        }
        .await;
        if let Err(refused) = asked {
            // Nothing is updating: scaling and the state go back as they were; the next check
            // tries again.
            warn!(endpoint, error = %refused, "promotion refused: scaling and state put back");
            self.scale(model, &endpoint, Some(current)).await?;
            let restored = EndpointState::refused(before, &endpoint, &config.name);
            self.put_state(&endpoint, &restored).await?;
            return Err(refused.into());
        }
        if let Some(c) = record.conclusion.as_mut() {
            c.promoted_config = Some(config.name.clone());
            c.promoted_at = Some(format_rfc3339(now));
        }
        self.put_ab(record).await?;
        info!(endpoint, config = %config.name, keep = conclusion.keep.variant(), "A/B test promoted");
        Ok(())
    }

    /// Rejects the challenger's package when it is still the group's newest approved one, so that
    /// the endpoint's next event does not deploy it again. A newer approval is left alone: it is
    /// the next test.
    async fn reject_challenger(
        &self,
        model: &ModelConfig,
        record: &AbRecord,
        conclusion: &AbConclusion,
    ) -> Result<(), StoreError> {
        let group = group_name(self.project(), &model.name);
        let Some(latest) = self.registry.latest_approved(&group).await? else {
            return Ok(());
        };
        if Some(latest.version) != model_version(&record.challenger_model) {
            return Ok(());
        }
        let note = format!(
            "A/B test on {}: the primary was kept ({})",
            record.endpoint,
            conclusion.decision.why()
        );
        self.registry
            .update_approval(&latest.arn, "Rejected", &note)
            .await
    }

    /// The message of a concluded test, sent once.
    async fn ab_finish(
        &self,
        model: &ModelConfig,
        record: &AbRecord,
    ) -> Result<AbOutcome, LifecycleError> {
        let Some(conclusion) = &record.conclusion else {
            return Ok(AbOutcome::Running {
                model: model.name.clone(),
                endpoint: record.endpoint.clone(),
                reason: "not concluded".into(),
            });
        };
        let promoted = conclusion.promoted_config.is_some();
        // A person's own promotion needs no message; an automatic one, or one awaiting a person,
        // does.
        let alerted = if conclusion.promote == Promoter::Person {
            false
        } else {
            let alert = alerts::ab_concluded(&model.name, record, conclusion, &self.links());
            if promoted || conclusion.promote != Promoter::Auto {
                self.send_once(&alert).await?
            } else {
                false
            }
        };
        Ok(AbOutcome::Concluded {
            model: model.name.clone(),
            endpoint: record.endpoint.clone(),
            decision: conclusion.decision.clone(),
            keep: conclusion.keep,
            promoted,
            alerted,
        })
    }
}

/// What the endpoint's own events tell the A/B tests; no metrics needed.
impl<S, N, R, H, G> Lifecycle<'_, S, N, R, H, G>
where
    S: ObjectStore,
    N: Notifier,
    R: Registry,
    H: Hosting,
    G: Guards,
{
    /// An update Hawkins asked for is serving (`at`, the event's time): when its config has a
    /// challenger, a test starts now. A record is written when there is none, or when the one of
    /// this challenger ended in a promotion: the challenger was approved again, and this is a new
    /// test. Not when that test awaits a person, nor when it runs: a replayed event never restarts
    /// a test. (A promotion SageMaker rolled back is an UpdateFailed event, never this one.)
    pub(super) async fn ab_started(
        &self,
        model: &ModelConfig,
        current: Option<&Endpoint>,
        at: i64,
    ) -> Result<(), StoreError> {
        let Some(current) = current else {
            return Ok(());
        };
        if strategy_window(model).is_none() {
            return Ok(());
        }
        let Some((primary_model, challenger_model)) = running_test(current) else {
            return Ok(());
        };
        let key = AbRecord::key(&current.name, &challenger_model);
        let earlier: Option<AbRecord> = self.read(&key).await?;
        let ended = earlier.as_ref().is_some_and(|r| {
            r.conclusion
                .as_ref()
                .is_some_and(|c| c.promoted_config.is_some())
        });
        if earlier.is_some() && !ended {
            return Ok(());
        }
        let record = AbRecord {
            endpoint: current.name.clone(),
            model: model.name.clone(),
            primary_model,
            challenger_model,
            started: format_rfc3339(at),
            conclusion: None,
        };
        info!(endpoint = %record.endpoint, challenger = %record.challenger_model, "A/B test started");
        self.put_ab(&record).await
    }

    async fn put_ab(&self, record: &AbRecord) -> Result<(), StoreError> {
        self.store
            .put_if_changed(
                &AbRecord::key(&record.endpoint, &record.challenger_model),
                serde_json::to_vec_pretty(record).unwrap_or_default(),
                "application/json",
            )
            .await?;
        Ok(())
    }
}

fn keep_model(record: &AbRecord, keep: Side) -> String {
    match keep {
        Side::Primary => record.primary_model.clone(),
        Side::Challenger => record.challenger_model.clone(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn window() -> AbWindow {
        AbWindow {
            min_invocations: 100,
            min_hours: 24,
            max_hours: 72,
            promote: AbPromote::Auto,
        }
    }

    fn side(invocations: u64, errors: u64, latency_ms: f64, up: u64, down: u64) -> VariantStats {
        VariantStats {
            traffic: Traffic {
                invocations,
                errors_5xx: errors,
                errors_4xx: 0,
                latency_avg_micros: Some(latency_ms * 1000.0),
                latency_p50_micros: None,
            },
            feedback: Tally { up, down },
        }
    }

    const DAY: i64 = 86_400;

    #[test]
    fn the_window_holds_the_decision_back_then_ends_the_test() {
        let stats = AbStats {
            primary: side(1000, 0, 500.0, 0, 0),
            challenger: side(50, 10, 500.0, 0, 0),
        };
        let w = window();
        assert!(matches!(
            decide(&w, 0, DAY - 1, &stats),
            AbDecision::NotYet { reason } if reason.contains("of at least 24 h")
        ));
        assert!(matches!(
            decide(&w, 0, DAY, &stats),
            AbDecision::NotYet { reason } if reason.contains("50 of 100")
        ));
        // Past the longest run with too little traffic: the serving model stays, whatever the
        // few invocations said.
        let ended = decide(&w, 0, 3 * DAY, &stats);
        assert!(
            matches!(&ended, AbDecision::Inconclusive { why } if why.contains("too little traffic")),
            "{ended:?}"
        );
        assert_eq!(ended.keep(), Some(Side::Primary));
    }

    #[test]
    fn errors_then_feedback_then_latency_decide() {
        let w = window();
        let decided = |primary, challenger| {
            decide(
                &w,
                0,
                2 * DAY,
                &AbStats {
                    primary,
                    challenger,
                },
            )
        };
        // 1. The challenger fails 5% of its requests: it loses, even though users liked it more.
        let d = decided(side(1000, 0, 500.0, 10, 20), side(200, 10, 300.0, 30, 0));
        assert!(
            matches!(&d, AbDecision::Winner { variant: Side::Primary, why } if why.contains("challenger failed 5.0%")),
            "{d:?}"
        );
        // Half a point apart: not an error difference.
        let d = decided(side(1000, 10, 500.0, 0, 0), side(200, 3, 500.0, 0, 0));
        assert!(matches!(d, AbDecision::Inconclusive { .. }), "{d:?}");
        // 2. Feedback with enough ratings on both sides.
        let d = decided(side(1000, 0, 300.0, 12, 12), side(200, 0, 500.0, 18, 6));
        assert!(
            matches!(&d, AbDecision::Winner { variant: Side::Challenger, why } if why.contains("75%")),
            "{d:?}"
        );
        // Too few ratings: latency decides instead.
        let d = decided(side(1000, 0, 300.0, 12, 12), side(200, 0, 500.0, 5, 0));
        assert!(
            matches!(&d, AbDecision::Winner { variant: Side::Primary, why } if why.contains("300 ms")),
            "{d:?}"
        );
        // 3. Within ten per cent: inconclusive, the primary stays.
        let d = decided(side(1000, 0, 500.0, 0, 0), side(200, 0, 460.0, 0, 0));
        assert!(matches!(d, AbDecision::Inconclusive { .. }), "{d:?}");
        assert_eq!(d.keep(), Some(Side::Primary));
        // Medians are preferred to means when both variants have one.
        let mut primary = side(1000, 0, 500.0, 0, 0);
        let mut challenger = side(200, 0, 500.0, 0, 0);
        primary.traffic.latency_p50_micros = Some(400_000.0);
        challenger.traffic.latency_p50_micros = Some(300_000.0);
        let d = decided(primary, challenger);
        assert!(
            matches!(&d, AbDecision::Winner { variant: Side::Challenger, why } if why.contains("median")),
            "{d:?}"
        );
    }

    fn stats() -> impl Strategy<Value = VariantStats> {
        (
            100u64..10_000,
            0u64..500,
            0u64..500,
            proptest::option::of(1.0f64..5e6),
            proptest::option::of(1.0f64..5e6),
            0u64..200,
            0u64..200,
        )
            .prop_map(|(invocations, e5, e4, avg, p50, up, down)| VariantStats {
                traffic: Traffic {
                    invocations,
                    errors_5xx: e5.min(invocations),
                    errors_4xx: e4.min(invocations - e5.min(invocations)),
                    latency_avg_micros: avg,
                    latency_p50_micros: p50,
                },
                feedback: Tally { up, down },
            })
    }

    /// A decision without its wording: the winner, or none.
    fn verdict(d: &AbDecision) -> (&'static str, Option<Side>) {
        match d {
            AbDecision::NotYet { .. } => ("not yet", None),
            AbDecision::Winner { variant, .. } => ("winner", Some(*variant)),
            AbDecision::Inconclusive { .. } => ("inconclusive", None),
        }
    }

    proptest! {
        /// Past the window, with enough traffic on both sides, the rule has no favourite:
        /// swapping the variants' stats swaps the winner (and an inconclusive test stays one).
        #[test]
        fn swapping_the_variants_swaps_the_winner(primary in stats(), challenger in stats()) {
            let w = window();
            let s = AbStats { primary, challenger };
            let d = decide(&w, 0, 2 * DAY, &s);
            prop_assert!(!matches!(d, AbDecision::NotYet { .. }), "{:?}", d);
            let swapped = decide(&w, 0, 2 * DAY, &s.swapped());
            prop_assert_eq!(verdict(&swapped), verdict(&d.swapped()));
        }

        /// A variant no worse on any signal never loses to one that is worse on some.
        #[test]
        fn a_variant_better_everywhere_is_never_dropped(base in stats()) {
            let mut better = base;
            better.traffic.errors_5xx = 0;
            better.traffic.errors_4xx = 0;
            better.feedback.up += better.feedback.down;
            better.feedback.down = 0;
            better.traffic.latency_avg_micros = base.traffic.latency_avg_micros.map(|l| l / 2.0);
            better.traffic.latency_p50_micros = base.traffic.latency_p50_micros.map(|l| l / 2.0);
            let d = decide(&window(), 0, 2 * DAY, &AbStats { primary: base, challenger: better });
            prop_assert_ne!(d.keep(), None);
            prop_assert!(!matches!(d, AbDecision::Winner { variant: Side::Primary, .. }), "{:?}", d);
        }
    }
}

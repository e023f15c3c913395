//! `[model.deploy]`: how an approved model is served: a realtime endpoint on instances with auto
//! scaling, a serverless endpoint, or a batch transform job, and for an endpoint the strategy that
//! moves traffic to the new model.

use super::model::{ModelKind, check_instance_type};
use super::reader::{Cx, Tbl, Val};

/// SageMaker's longest wait between the steps of a deployment.
const MAX_WAIT_MINUTES: i64 = 60;
const DEFAULT_WAIT_MINUTES: u32 = 10;
const DEFAULT_CANARY_PERCENT: u8 = 10;
const DEFAULT_TARGET_INVOCATIONS: u32 = 100;
const DEFAULT_MAX_CONCURRENCY: u32 = 5;
/// An A/B test's defaults: a thousand of the challenger's answers, at least a day (the traffic's
/// daily rhythm seen by both variants), at most a week (a second variant is a second bill).
const DEFAULT_AB_MIN_INVOCATIONS: u32 = 1_000;
const DEFAULT_AB_MIN_HOURS: u32 = 24;
const DEFAULT_AB_MAX_HOURS: u32 = 168;
/// The longest an A/B test may run: thirty days.
const MAX_AB_HOURS: i64 = 720;

/// `[model.deploy]`: how an approved model is served.
#[derive(Debug, Clone, PartialEq)]
pub enum Deploy {
    /// An endpoint on instances, with auto scaling between `min` and `max` instances.
    Realtime {
        instance_type: String,
        initial_instance_count: u32,
        min_instances: u32,
        max_instances: u32,
        target_invocations_per_instance: u32,
        strategy: Strategy,
    },
    /// A serverless endpoint (CPU only, one variant).
    Serverless {
        memory_mb: u32,
        max_concurrency: u32,
        strategy: Strategy,
    },
    /// A batch transform job over the model's dataset (the theme model).
    Batch {
        instance_type: String,
        instance_count: u32,
    },
}

/// The three deploy modes, without their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployMode {
    Realtime,
    Serverless,
    Batch,
}

impl DeployMode {
    /// The name in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployMode::Realtime => "realtime",
            DeployMode::Serverless => "serverless",
            DeployMode::Batch => "batch",
        }
    }
}

impl Deploy {
    /// The mode, without its settings.
    pub fn mode(&self) -> DeployMode {
        match self {
            Deploy::Realtime { .. } => DeployMode::Realtime,
            Deploy::Serverless { .. } => DeployMode::Serverless,
            Deploy::Batch { .. } => DeployMode::Batch,
        }
    }

    /// How traffic moves to a new model (endpoints only).
    pub fn strategy(&self) -> Option<&Strategy> {
        match self {
            Deploy::Realtime { strategy, .. } | Deploy::Serverless { strategy, .. } => {
                Some(strategy)
            }
            Deploy::Batch { .. } => None,
        }
    }
}

/// How an endpoint moves from the serving model to the new one. `wait_minutes` is the baking time
/// (after each step, and after the last) during which an alarm rolls the update back.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Blue/green, all traffic at once.
    AllAtOnce { wait_minutes: u32 },
    /// `percent` of the traffic first, the rest after `wait_minutes`.
    Canary { percent: u8, wait_minutes: u32 },
    /// `step_percent` more of the traffic every `wait_minutes`.
    Linear { step_percent: u8, wait_minutes: u32 },
    /// A second variant beside the serving one, taking `weight` (0 to 1) of the traffic, until
    /// the test concludes (`window`).
    AB { weight: f64, window: AbWindow },
}

/// When an A/B test concludes and who then promotes its winner: the `ab_*` fields of
/// `[model.deploy]` (the rule that names the winner is `hawkins::lifecycle::ab::decide`).
#[derive(Debug, Clone, PartialEq)]
pub struct AbWindow {
    /// `ab_min_invocations`: the challenger's invocations before a winner may be named.
    pub min_invocations: u32,
    /// `ab_min_hours`: hours the test runs at least, however busy the endpoint.
    pub min_hours: u32,
    /// `ab_max_hours`: hours after which it concludes with what it has (too few invocations keep
    /// the serving model).
    pub max_hours: u32,
    /// `ab_promote`.
    pub promote: AbPromote,
}

impl Default for AbWindow {
    fn default() -> Self {
        AbWindow {
            min_invocations: DEFAULT_AB_MIN_INVOCATIONS,
            min_hours: DEFAULT_AB_MIN_HOURS,
            max_hours: DEFAULT_AB_MAX_HOURS,
            promote: AbPromote::Approval,
        }
    }
}

/// `ab_promote`: what happens once an A/B test concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbPromote {
    /// The endpoint is moved to the kept variant alone at once; the team hears what was done.
    Auto,
    /// The conclusion is recorded and the team told; a person runs `hawkins ab promote <model>`.
    Approval,
}

impl AbPromote {
    /// The name in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            AbPromote::Auto => "auto",
            AbPromote::Approval => "approval",
        }
    }
}

impl Strategy {
    /// The name in the config.
    pub fn as_str(&self) -> &'static str {
        match self {
            Strategy::AllAtOnce { .. } => "all_at_once",
            Strategy::Canary { .. } => "canary",
            Strategy::Linear { .. } => "linear",
            Strategy::AB { .. } => "ab",
        }
    }
}
/// The fields of `[model.deploy]`, each with the modes it applies to.
const DEPLOY_KEYS: &[(&str, &[DeployMode])] = &[
    (
        "mode",
        &[
            DeployMode::Realtime,
            DeployMode::Serverless,
            DeployMode::Batch,
        ],
    ),
    ("instance_type", &[DeployMode::Realtime, DeployMode::Batch]),
    ("initial_instance_count", &[DeployMode::Realtime]),
    ("min_instances", &[DeployMode::Realtime]),
    ("max_instances", &[DeployMode::Realtime]),
    ("target_invocations_per_instance", &[DeployMode::Realtime]),
    ("instance_count", &[DeployMode::Batch]),
    ("strategy", &[DeployMode::Realtime, DeployMode::Serverless]),
    (
        "canary_percent",
        &[DeployMode::Realtime, DeployMode::Serverless],
    ),
    (
        "linear_step_percent",
        &[DeployMode::Realtime, DeployMode::Serverless],
    ),
    (
        "wait_minutes",
        &[DeployMode::Realtime, DeployMode::Serverless],
    ),
    ("ab_weight", &[DeployMode::Realtime]),
    ("ab_min_invocations", &[DeployMode::Realtime]),
    ("ab_min_hours", &[DeployMode::Realtime]),
    ("ab_max_hours", &[DeployMode::Realtime]),
    ("ab_promote", &[DeployMode::Realtime]),
    ("serverless", &[DeployMode::Serverless]),
];

/// The `[model.deploy]` table of a model of `kind`.
pub(super) fn read_deploy(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    kind: Option<ModelKind>,
) -> Option<Deploy> {
    let keys: Vec<&str> = DEPLOY_KEYS.iter().map(|(k, _)| *k).collect();
    t.check_keys(cx, &keys);
    t.require(cx, "mode", "realtime, serverless or batch");
    let mode = t.choice(
        cx,
        "mode",
        &[
            ("realtime", DeployMode::Realtime),
            ("serverless", DeployMode::Serverless),
            ("batch", DeployMode::Batch),
        ],
    )?;
    if kind == Some(ModelKind::Theme) && mode.value != DeployMode::Batch {
        cx.error(
            &mode.at,
            format!("a theme model scores the theme batches in a batch transform job: use mode = \"batch\", got \"{}\"", mode.value.as_str()),
        );
        return None;
    }
    let mut ok = true;
    for (key, modes) in DEPLOY_KEYS {
        if t.has(key) && !modes.contains(&mode.value) {
            let names: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
            cx.error(
                &t.key_at(key),
                format!(
                    "applies only to mode = {}, not {}",
                    names.join(" or "),
                    mode.value.as_str()
                ),
            );
            ok = false;
        }
    }
    let deploy = match mode.value {
        DeployMode::Batch => read_batch(cx, t)?,
        DeployMode::Realtime => read_realtime(cx, t)?,
        DeployMode::Serverless => read_serverless(cx, t)?,
    };
    ok.then_some(deploy)
}

/// `mode = "batch"`: a batch transform job's instance type and count.
fn read_batch(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Deploy> {
    t.require(
        cx,
        "instance_type",
        "the batch transform instance, such as \"ml.g4dn.xlarge\"",
    );
    let instance_type = t.string(cx, "instance_type");
    if let Some(instance) = &instance_type {
        check_instance_type(cx, instance);
    }
    let count = default_u32(cx, t, "instance_count", 1, i64::from(u32::MAX), 1)?;
    Some(Deploy::Batch {
        instance_type: instance_type?.value,
        instance_count: count,
    })
}

/// `mode = "realtime"`: the endpoint's instances, its auto scaling bounds and its strategy.
fn read_realtime(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Deploy> {
    t.require(
        cx,
        "instance_type",
        "the endpoint instance, such as \"ml.g5.xlarge\"",
    );
    let instance_type = t.string(cx, "instance_type");
    if let Some(instance) = &instance_type {
        check_instance_type(cx, instance);
    }
    let min = default_u32(cx, t, "min_instances", 1, i64::from(u32::MAX), 1);
    let max = default_u32(
        cx,
        t,
        "max_instances",
        1,
        i64::from(u32::MAX),
        min.unwrap_or(1),
    );
    let initial = default_u32(
        cx,
        t,
        "initial_instance_count",
        1,
        i64::from(u32::MAX),
        min.unwrap_or(1),
    );
    let target = default_u32(
        cx,
        t,
        "target_invocations_per_instance",
        1,
        i64::from(u32::MAX),
        DEFAULT_TARGET_INVOCATIONS,
    );
    let strategy = read_strategy(cx, t, true);
    let (min, max, initial) = (min?, max?, initial?);
    if min > max {
        cx.error(
            &t.at("max_instances"),
            format!("max_instances ({max}) must be at least min_instances ({min})"),
        );
        return None;
    }
    if initial < min || initial > max {
        cx.error(
            &t.at("initial_instance_count"),
            format!("initial_instance_count ({initial}) must be between min_instances ({min}) and max_instances ({max})"),
        );
        return None;
    }
    let strategy = strategy?;
    Some(Deploy::Realtime {
        instance_type: instance_type?.value,
        initial_instance_count: initial,
        min_instances: min,
        max_instances: max,
        target_invocations_per_instance: target?,
        strategy,
    })
}

/// `mode = "serverless"`: the endpoint's memory and concurrency, and its strategy.
fn read_serverless(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Deploy> {
    t.require(
        cx,
        "serverless",
        "the endpoint's memory and concurrency, such as { memory_mb = 4096, max_concurrency = 5 }",
    );
    let strategy = read_strategy(cx, t, false);
    let table = t.table(cx, "serverless")?;
    table.check_keys(cx, &["memory_mb", "max_concurrency"]);
    table.require(cx, "memory_mb", "1024, 2048, 3072, 4096, 5120 or 6144");
    let memory = table.int(cx, "memory_mb");
    if let Some(memory) = &memory
        && (!(1024..=6144).contains(&memory.value) || memory.value % 1024 != 0)
    {
        cx.error(
            &memory.at,
            format!("must be 1024, 2048, 3072, 4096, 5120 or 6144 (serverless memory comes in 1 GB steps up to 6 GB), got {}", memory.value),
        );
        return None;
    }
    let concurrency = default_u32(
        cx,
        &table,
        "max_concurrency",
        1,
        200,
        DEFAULT_MAX_CONCURRENCY,
    );
    Some(Deploy::Serverless {
        memory_mb: u32::try_from(memory?.value).ok()?,
        max_concurrency: concurrency?,
        strategy: strategy?,
    })
}

/// A bounded whole number, or `default` when the key is absent; None when it is set but invalid.
fn default_u32(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    key: &str,
    min: i64,
    max: i64,
    default: u32,
) -> Option<u32> {
    match t.bounded(cx, key, min, max, "") {
        Some(v) => Some(v.value),
        None if t.has(key) => None,
        None => Some(default),
    }
}

/// How an endpoint moves traffic to the new model; an A/B test needs a realtime endpoint.
fn read_strategy(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, ab_allowed: bool) -> Option<Strategy> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Name {
        AllAtOnce,
        Canary,
        Linear,
        AB,
    }
    let name = match t.choice(
        cx,
        "strategy",
        &[
            ("all_at_once", Name::AllAtOnce),
            ("canary", Name::Canary),
            ("linear", Name::Linear),
            ("ab", Name::AB),
        ],
    ) {
        Some(name) => name,
        None if t.has("strategy") => return None,
        None => Val {
            value: Name::AllAtOnce,
            at: t.at("strategy"),
        },
    };
    if name.value == Name::AB && !ab_allowed {
        cx.error(&name.at, "a serverless endpoint has a single variant, so it cannot run an A/B test: use canary, linear or all_at_once, or mode = \"realtime\"");
        return None;
    }
    let applies: &[(&str, &[Name], &str)] = &[
        ("canary_percent", &[Name::Canary], "canary"),
        ("linear_step_percent", &[Name::Linear], "linear"),
        (
            "wait_minutes",
            &[Name::AllAtOnce, Name::Canary, Name::Linear],
            "all_at_once, canary or linear",
        ),
        ("ab_weight", &[Name::AB], "ab"),
        ("ab_min_invocations", &[Name::AB], "ab"),
        ("ab_min_hours", &[Name::AB], "ab"),
        ("ab_max_hours", &[Name::AB], "ab"),
        ("ab_promote", &[Name::AB], "ab"),
    ];
    let mut ok = true;
    for (key, names, label) in applies {
        // A serverless ab_* field is already reported as not applying to the mode.
        let refused_by_mode = key.starts_with("ab_") && !ab_allowed;
        if t.has(key) && !names.contains(&name.value) && !refused_by_mode {
            cx.error(
                &t.key_at(key),
                format!("applies only to strategy = {label}"),
            );
            ok = false;
        }
    }
    let wait_why = "SageMaker waits at most an hour between steps";
    let wait = match t.bounded(cx, "wait_minutes", 0, MAX_WAIT_MINUTES, wait_why) {
        Some(v) => v.value,
        None if t.has("wait_minutes") => return None,
        None => DEFAULT_WAIT_MINUTES,
    };
    let percent = |cx: &mut Cx<'_>, key: &str| -> Option<u8> {
        match t.bounded(
            cx,
            key,
            1,
            99,
            "a percentage of the traffic, leaving some for each side",
        ) {
            Some(v) => u8::try_from(v.value).ok(),
            None if t.has(key) => None,
            None => Some(DEFAULT_CANARY_PERCENT),
        }
    };
    let strategy = match name.value {
        Name::AllAtOnce => Strategy::AllAtOnce { wait_minutes: wait },
        Name::Canary => Strategy::Canary {
            percent: percent(cx, "canary_percent")?,
            wait_minutes: wait,
        },
        Name::Linear => Strategy::Linear {
            step_percent: percent(cx, "linear_step_percent")?,
            wait_minutes: wait,
        },
        Name::AB => {
            t.require(
                cx,
                "ab_weight",
                "the share of traffic the new variant takes, between 0 and 1, such as 0.1",
            );
            let weight = t.float(cx, "ab_weight")?;
            if weight.value <= 0.0 || weight.value >= 1.0 {
                cx.error(
                    &weight.at,
                    format!("must be between 0 and 1, exclusive (the new variant's share of the traffic), got {}", weight.value),
                );
                return None;
            }
            Strategy::AB {
                weight: weight.value,
                window: read_ab_window(cx, t)?,
            }
        }
    };
    ok.then_some(strategy)
}

/// The `ab_*` fields that say when an A/B test concludes, defaults applied.
fn read_ab_window(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<AbWindow> {
    let defaults = AbWindow::default();
    let invocations = default_u32(
        cx,
        t,
        "ab_min_invocations",
        1,
        i64::from(u32::MAX),
        defaults.min_invocations,
    );
    let hours_why = "at most 30 days: a second variant is a second bill";
    let min_hours = match t.bounded(cx, "ab_min_hours", 0, MAX_AB_HOURS, hours_why) {
        Some(v) => Some(v.value),
        None if t.has("ab_min_hours") => None,
        None => Some(defaults.min_hours),
    };
    let max_hours = match t.bounded(cx, "ab_max_hours", 1, MAX_AB_HOURS, hours_why) {
        Some(v) => Some(v.value),
        None if t.has("ab_max_hours") => None,
        None => Some(defaults.max_hours),
    };
    let promote = match t.choice(
        cx,
        "ab_promote",
        &[("auto", AbPromote::Auto), ("approval", AbPromote::Approval)],
    ) {
        Some(v) => Some(v.value),
        None if t.has("ab_promote") => None,
        None => Some(defaults.promote),
    };
    let (min_invocations, min_hours, max_hours) = (invocations?, min_hours?, max_hours?);
    if max_hours < min_hours {
        let at = if t.has("ab_max_hours") {
            t.at("ab_max_hours")
        } else {
            t.at("ab_min_hours")
        };
        cx.error(
            &at,
            format!("ab_max_hours ({max_hours}) must be at least ab_min_hours ({min_hours}): the test would end before it may conclude"),
        );
        return None;
    }
    Some(AbWindow {
        min_invocations,
        min_hours,
        max_hours,
        promote: promote?,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::config::{AbPromote, AbWindow, Deploy, Strategy};

    const DEPLOY: &str = "[model.deploy]\nmode = \"realtime\"\ninstance_type = \"ml.g5.xlarge\"\n";

    #[test]
    fn realtime_deploy_settings_are_checked() {
        let field = |key: &str| format!("{MODEL}.deploy.{key}");
        let text = with(&format!("{DEPLOY}min_instances = 3\nmax_instances = 2\n"));
        only(
            &text,
            "max_instances",
            &field("max_instances"),
            "must be at least min_instances (3)",
        );
        let text = with(&format!(
            "{DEPLOY}strategy = \"canary\"\ncanary_percent = 100\n"
        ));
        only(
            &text,
            "canary_percent",
            &field("canary_percent"),
            "between 1 and 99",
        );
        let text = with(&format!(
            "{DEPLOY}strategy = \"canary\"\ncanary_percent = 0\n"
        ));
        only(
            &text,
            "canary_percent",
            &field("canary_percent"),
            "between 1 and 99",
        );
        let text = with(&format!("{DEPLOY}strategy = \"ab\"\nab_weight = 1.0\n"));
        only(
            &text,
            "ab_weight",
            &field("ab_weight"),
            "between 0 and 1, exclusive",
        );
        let text = with(&format!("{DEPLOY}strategy = \"ab\"\n"));
        only(&text, "[model.deploy]", &field("ab_weight"), "is missing");
        let text = with(&format!("{DEPLOY}strategy = \"canary\"\nab_weight = 0.5\n"));
        only(
            &text,
            "ab_weight",
            &field("ab_weight"),
            "only to strategy = ab",
        );
        let text = with(&format!("{DEPLOY}wait_minutes = 90\n"));
        only(
            &text,
            "wait_minutes",
            &field("wait_minutes"),
            "between 0 and 60",
        );
        let text = with(&format!("{DEPLOY}instance_type = \"ml.g5.xlarge\"\n"));
        only(
            &text,
            "instance_type = \"ml.g5.xlarge\"",
            "",
            "duplicate key",
        );
    }

    #[test]
    fn a_realtime_deploy_parses_with_its_defaults() {
        let config = ok(&with(&format!(
            "{DEPLOY}max_instances = 4\nstrategy = \"linear\"\nlinear_step_percent = 25\n"
        )));
        assert_eq!(
            config.models[0].deploy,
            Some(Deploy::Realtime {
                instance_type: "ml.g5.xlarge".into(),
                initial_instance_count: 1,
                min_instances: 1,
                max_instances: 4,
                target_invocations_per_instance: 100,
                strategy: Strategy::Linear {
                    step_percent: 25,
                    wait_minutes: 10
                },
            })
        );
    }

    #[test]
    fn an_ab_window_parses_with_its_defaults_and_its_bounds() {
        let ab = format!("{DEPLOY}strategy = \"ab\"\nab_weight = 0.2\n");
        let config = ok(&with(&ab));
        let Some(Deploy::Realtime { strategy, .. }) = &config.models[0].deploy else {
            panic!("realtime")
        };
        assert_eq!(
            strategy,
            &Strategy::AB {
                weight: 0.2,
                window: AbWindow::default()
            }
        );
        let config = ok(&with(&format!(
            "{ab}ab_min_invocations = 50\nab_min_hours = 2\nab_max_hours = 6\nab_promote = \"auto\"\n"
        )));
        let Some(Deploy::Realtime { strategy, .. }) = &config.models[0].deploy else {
            panic!("realtime")
        };
        assert_eq!(
            strategy,
            &Strategy::AB {
                weight: 0.2,
                window: AbWindow {
                    min_invocations: 50,
                    min_hours: 2,
                    max_hours: 6,
                    promote: AbPromote::Auto
                }
            }
        );
        let field = |key: &str| format!("{MODEL}.deploy.{key}");
        only(
            &with(&format!("{ab}ab_min_hours = 10\nab_max_hours = 5\n")),
            "ab_max_hours = 5",
            &field("ab_max_hours"),
            "must be at least ab_min_hours (10)",
        );
        only(
            &with(&format!("{ab}ab_min_hours = 200\n")),
            "ab_min_hours",
            &field("ab_min_hours"),
            "must be at least ab_min_hours (200)",
        );
        only(
            &with(&format!("{ab}ab_max_hours = 1000\n")),
            "ab_max_hours",
            &field("ab_max_hours"),
            "between 1 and 720",
        );
        only(
            &with(&format!("{ab}ab_min_invocations = 0\n")),
            "ab_min_invocations",
            &field("ab_min_invocations"),
            "at least 1",
        );
        only(
            &with(&format!("{ab}ab_promote = \"automatic\"\n")),
            "ab_promote",
            &field("ab_promote"),
            "must be one of auto, approval",
        );
        only(
            &with(&format!(
                "{DEPLOY}strategy = \"canary\"\nab_promote = \"auto\"\n"
            )),
            "ab_promote",
            &field("ab_promote"),
            "only to strategy = ab",
        );
    }

    #[test]
    fn serverless_deploy_settings_are_checked() {
        let field = |key: &str| format!("{MODEL}.deploy.{key}");
        let serverless = "[model.deploy]\nmode = \"serverless\"\n";
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 5000 }}\n"
        ));
        only(
            &text,
            "memory_mb",
            &field("serverless.memory_mb"),
            "1024, 2048",
        );
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 8192 }}\n"
        ));
        only(
            &text,
            "memory_mb",
            &field("serverless.memory_mb"),
            "up to 6 GB",
        );
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 2048 }}\nstrategy = \"ab\"\n"
        ));
        has(
            &text,
            "strategy = \"ab\"",
            &field("strategy"),
            "single variant",
        );
        let text = with(&format!(
            "{serverless}serverless = {{ memory_mb = 2048 }}\ninstance_type = \"ml.m5.large\"\n"
        ));
        only(
            &text,
            "instance_type",
            &field("instance_type"),
            "applies only to mode = realtime or batch",
        );
        let text = with(serverless);
        only(&text, "[model.deploy]", &field("serverless"), "is missing");
        let config = ok(&with(&format!(
            "{serverless}serverless = {{ memory_mb = 2048 }}\n"
        )));
        assert_eq!(
            config.models[0].deploy,
            Some(Deploy::Serverless {
                memory_mb: 2048,
                max_concurrency: 5,
                strategy: Strategy::AllAtOnce { wait_minutes: 10 }
            })
        );
    }
}

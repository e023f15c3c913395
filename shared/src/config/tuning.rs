//! `[model.tuning]`: a hyperparameter tuning job instead of a training job: the objective (one of
//! the model's metrics), the strategy, how many jobs run, and the range each tuned
//! hyperparameter takes (`[model.tuning.ranges]`).

use std::collections::BTreeMap;

use super::model::{DIRECTIONS, Direction, ModelKind, check_hyperparameter_key, check_metric_name};
use super::reader::{At, Cx, Tbl, Val, expect_table, scalar_string};

/// SageMaker's limit on tuned hyperparameters.
const MAX_RANGES: usize = 30;
/// SageMaker's limit on the values of a categorical range.
const MAX_CATEGORICAL_VALUES: usize = 30;

/// `[model.tuning]`: a hyperparameter tuning job.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// One of the model's metric names.
    pub objective: String,
    pub direction: Direction,
    pub strategy: TuningStrategy,
    pub max_jobs: u32,
    /// At most `max_jobs`.
    pub max_parallel_jobs: u32,
    pub ranges: BTreeMap<String, ParameterRange>,
}

/// How the tuning job picks the next hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuningStrategy {
    Bayesian,
    Random,
    Hyperband,
}

impl TuningStrategy {
    /// The name SageMaker's tuning job takes.
    pub fn as_sagemaker(self) -> &'static str {
        match self {
            TuningStrategy::Bayesian => "Bayesian",
            TuningStrategy::Random => "Random",
            TuningStrategy::Hyperband => "Hyperband",
        }
    }
}

/// The values one tuned hyperparameter may take.
#[derive(Debug, Clone, PartialEq)]
pub enum ParameterRange {
    /// `min < max`; logarithmic needs `min > 0`, reverse logarithmic `0 <= min` and `max < 1`.
    Continuous {
        min: f64,
        max: f64,
        scaling: Scaling,
    },
    /// `min < max`; logarithmic needs `min > 0`.
    Integer {
        min: i64,
        max: i64,
        scaling: Scaling,
    },
    /// Distinct values, as strings.
    Categorical { values: Vec<String> },
}

/// How a numeric range is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    Auto,
    Linear,
    Logarithmic,
    ReverseLogarithmic,
}

impl Scaling {
    /// The name SageMaker's tuning job takes.
    pub fn as_sagemaker(self) -> &'static str {
        match self {
            Scaling::Auto => "Auto",
            Scaling::Linear => "Linear",
            Scaling::Logarithmic => "Logarithmic",
            Scaling::ReverseLogarithmic => "ReverseLogarithmic",
        }
    }
}

/// The `[model.tuning]` table of a model of `kind` whose metrics are `metric_names`.
pub(super) fn read_tuning(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    kind: Option<ModelKind>,
    metric_names: &[String],
) -> Option<Tuning> {
    t.check_keys(
        cx,
        &[
            "objective",
            "direction",
            "strategy",
            "max_jobs",
            "max_parallel_jobs",
            "ranges",
        ],
    );
    if kind == Some(ModelKind::Theme) {
        cx.error(
            &t.here(),
            "a theme model is not trained (its zero-shot model is only packaged), so there is nothing to tune: remove this section",
        );
    }
    t.require(
        cx,
        "objective",
        "the metric the tuning job optimises, such as \"eval_loss\"",
    );
    let objective = t
        .string(cx, "objective")
        .filter(|o| check_metric_name(cx, o, metric_names));
    t.require(cx, "direction", "minimize or maximize");
    let direction = t.choice(cx, "direction", DIRECTIONS);
    let strategy = t.choice(
        cx,
        "strategy",
        &[
            ("bayesian", TuningStrategy::Bayesian),
            ("random", TuningStrategy::Random),
            ("hyperband", TuningStrategy::Hyperband),
        ],
    );
    let strategy_set = t.has("strategy");
    t.require(
        cx,
        "max_jobs",
        "how many training jobs the tuning job may start in all",
    );
    let max_jobs = t.bounded(cx, "max_jobs", 1, i64::from(u32::MAX), "");
    let parallel = t.bounded(cx, "max_parallel_jobs", 1, i64::from(u32::MAX), "");
    if let (Some(jobs), Some(parallel)) = (&max_jobs, &parallel)
        && parallel.value > jobs.value
    {
        cx.error(
            &parallel.at,
            format!(
                "is {}, more than max_jobs ({}): at most max_jobs can run at once",
                parallel.value, jobs.value
            ),
        );
    }
    t.require(cx, "ranges", "the hyperparameters to tune, such as { learning_rate = { type = \"continuous\", min = 1e-5, max = 1e-3 } }");
    let ranges = read_ranges(cx, t);
    let strategy = match strategy {
        Some(s) => Some(s.value),
        None if strategy_set => None,
        None => Some(TuningStrategy::Bayesian),
    };
    let parallel = match parallel {
        Some(p) => Some(p.value),
        None if t.has("max_parallel_jobs") => None,
        None => Some(1),
    };
    let ranges = ranges?;
    if kind == Some(ModelKind::Theme) {
        return None;
    }
    Some(Tuning {
        objective: objective?.value,
        direction: direction?.value,
        strategy: strategy?,
        max_jobs: max_jobs?.value,
        max_parallel_jobs: parallel?,
        ranges,
    })
}

/// `[model.tuning.ranges]`: hyperparameter → range; none when one is invalid (already reported).
fn read_ranges(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<BTreeMap<String, ParameterRange>> {
    let table = t.table(cx, "ranges")?;
    let count = table.table.len();
    if count == 0 || count > MAX_RANGES {
        cx.error(
            &table.here(),
            format!("must tune 1 to {MAX_RANGES} hyperparameters, got {count}"),
        );
    }
    let mut ranges = BTreeMap::new();
    let mut ok = true;
    for (key, value) in table.table.iter() {
        let key: &str = key.get_ref();
        if !check_hyperparameter_key(cx, key, &table.key_at(key)) {
            ok = false;
            continue;
        }
        let Some(range_table) = expect_table(cx, value.get_ref(), table.at(key)) else {
            ok = false;
            continue;
        };
        match read_range(cx, &range_table) {
            Some(range) => {
                ranges.insert(key.to_string(), range);
            }
            None => ok = false,
        }
    }
    ok.then_some(ranges)
}

/// The `type` of a range.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Continuous,
    Integer,
    Categorical,
}

/// One hyperparameter's range: its type, and the fields that type takes.
fn read_range(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<ParameterRange> {
    t.check_keys(cx, &["type", "min", "max", "scaling", "values"]);
    t.require(cx, "type", "continuous, integer or categorical");
    let kind = t.choice(
        cx,
        "type",
        &[
            ("continuous", RangeType::Continuous),
            ("integer", RangeType::Integer),
            ("categorical", RangeType::Categorical),
        ],
    )?;
    let (needed, refused): (&[&str], &[&str]) = match kind.value {
        RangeType::Continuous | RangeType::Integer => (&["min", "max"], &["values"]),
        RangeType::Categorical => (&["values"], &["min", "max", "scaling"]),
    };
    let label = match kind.value {
        RangeType::Continuous => "continuous",
        RangeType::Integer => "integer",
        RangeType::Categorical => "categorical",
    };
    for key in refused {
        if t.has(key) {
            cx.error(&t.key_at(key), format!("does not apply to a {label} range"));
        }
    }
    for key in needed {
        t.require(
            cx,
            key,
            &format!("a {label} range needs {}", needed.join(" and ")),
        );
    }
    match kind.value {
        RangeType::Categorical => read_categorical(cx, t),
        numeric => read_numeric(cx, t, numeric),
    }
}

/// A categorical range: 1 to 30 distinct scalar values, as strings.
fn read_categorical(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<ParameterRange> {
    let (array, at) = t.array(cx, "values")?;
    if array.is_empty() || array.len() > MAX_CATEGORICAL_VALUES {
        cx.error(
            &at,
            format!(
                "must list 1 to {MAX_CATEGORICAL_VALUES} values, got {}",
                array.len()
            ),
        );
    }
    let mut values: Vec<String> = Vec::new();
    for (index, item) in array.iter().enumerate() {
        let item_at = At {
            span: item.span(),
            field: format!("{}[{index}]", at.field),
        };
        let value = scalar_string(cx, item.get_ref(), &item_at, "a categorical value")?;
        if values.contains(&value) {
            cx.error(&item_at, format!("\"{value}\" is listed twice"));
            return None;
        }
        values.push(value);
    }
    Some(ParameterRange::Categorical { values })
}

/// A continuous or integer range: `min < max`, and a scaling those bounds allow.
fn read_numeric(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, kind: RangeType) -> Option<ParameterRange> {
    let mut scalings = vec![
        ("auto", Scaling::Auto),
        ("linear", Scaling::Linear),
        ("logarithmic", Scaling::Logarithmic),
    ];
    if kind == RangeType::Continuous {
        scalings.push(("reverse_logarithmic", Scaling::ReverseLogarithmic));
    }
    let scaling = match t.choice(cx, "scaling", &scalings) {
        Some(s) => s,
        None if t.has("scaling") => return None,
        None => Val {
            value: Scaling::Auto,
            at: t.at("scaling"),
        },
    };
    let (min, max) = if kind == RangeType::Integer {
        let (min, max) = (t.int(cx, "min")?, t.int(cx, "max")?);
        (
            Val {
                value: min.value as f64,
                at: min.at,
            },
            Val {
                value: max.value as f64,
                at: max.at,
            },
        )
    } else {
        (t.float(cx, "min")?, t.float(cx, "max")?)
    };
    if min.value >= max.value {
        cx.error(
            &min.at,
            format!("min ({}) must be less than max ({})", min.value, max.value),
        );
        return None;
    }
    match scaling.value {
        Scaling::Logarithmic if min.value <= 0.0 => {
            cx.error(
                &scaling.at,
                format!("logarithmic scaling needs min > 0, got min = {}", min.value),
            );
            return None;
        }
        Scaling::ReverseLogarithmic if min.value < 0.0 || max.value >= 1.0 => {
            cx.error(
                &scaling.at,
                format!(
                    "reverse_logarithmic scaling needs 0 <= min and max < 1, got {} to {}",
                    min.value, max.value
                ),
            );
            return None;
        }
        _ => {}
    }
    Some(match kind {
        RangeType::Integer => ParameterRange::Integer {
            min: min.value as i64,
            max: max.value as i64,
            scaling: scaling.value,
        },
        _ => ParameterRange::Continuous {
            min: min.value,
            max: max.value,
            scaling: scaling.value,
        },
    })
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::config::{ParameterRange, Scaling, TuningStrategy};

    #[test]
    fn tuning_ranges_are_checked() {
        let field = |key: &str| format!("{MODEL}.tuning.ranges.{key}");
        let text = with(&format!(
            "{TUNING}learning_rate = {{ type = \"continuous\", min = 1e-3, max = 1e-5 }}\n"
        ));
        only(
            &text,
            "learning_rate",
            &format!("{}.min", field("learning_rate")),
            "must be less than max",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8, max = 64, scaling = \"exponential\" }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.scaling", field("lora_r")),
            "must be one of auto, linear, logarithmic",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8, max = 64, scaling = \"reverse_logarithmic\" }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.scaling", field("lora_r")),
            "got \"reverse_logarithmic\"",
        );
        let text = with(&format!(
            "{TUNING}warmup = {{ type = \"continuous\", min = 0, max = 0.1, scaling = \"logarithmic\" }}\n"
        ));
        only(
            &text,
            "warmup",
            &format!("{}.scaling", field("warmup")),
            "needs min > 0",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8.5, max = 64 }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.min", field("lora_r")),
            "whole number",
        );
        let text = with(&format!(
            "{TUNING}precision = {{ type = \"categorical\", values = [\"bf16\", \"bf16\"] }}\n"
        ));
        only(
            &text,
            "precision",
            &format!("{}.values[1]", field("precision")),
            "listed twice",
        );
        let text = with(&format!(
            "{TUNING}precision = {{ type = \"categorical\", values = [\"bf16\"], min = 1 }}\n"
        ));
        only(
            &text,
            "precision",
            &format!("{}.min", field("precision")),
            "does not apply to a categorical range",
        );
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integr\", min = 8, max = 64 }}\n"
        ));
        only(
            &text,
            "lora_r",
            &format!("{}.type", field("lora_r")),
            "did you mean \"integer\"",
        );
        let text = with(&format!(
            "{TUNING}hf_token = {{ type = \"categorical\", values = [\"a\"] }}\n"
        ));
        only(&text, "hf_token", &field("hf_token"), "hf_token_secret_arn");
    }

    #[test]
    fn tuning_runs_no_more_jobs_at_once_than_in_all() {
        let text = with(&format!(
            "{TUNING}lora_r = {{ type = \"integer\", min = 8, max = 64 }}\n"
        ))
        .replace("max_parallel_jobs = 2", "max_parallel_jobs = 10");
        only(
            &text,
            "max_parallel_jobs",
            &format!("{MODEL}.tuning.max_parallel_jobs"),
            "more than max_jobs (8)",
        );
    }

    #[test]
    fn a_tuned_model_parses_and_drops_tuned_keys_from_its_fixed_hyperparameters() {
        let text = with(&format!(
            "hyperparameters = {{ learning_rate = 2e-4, epochs = 3 }}\n{TUNING}learning_rate = {{ type = \"continuous\", min = 1e-5, max = 1e-3, scaling = \"logarithmic\" }}\nlora_dropout = {{ type = \"categorical\", values = [0.0, 0.05] }}\n"
        ));
        let config = ok(&text);
        let model = &config.models[0];
        let tuning = model.tuning.as_ref().expect("tuning");
        assert_eq!(
            (tuning.max_jobs, tuning.max_parallel_jobs, tuning.strategy),
            (8, 2, TuningStrategy::Bayesian)
        );
        assert_eq!(
            tuning.ranges["learning_rate"],
            ParameterRange::Continuous {
                min: 1e-5,
                max: 1e-3,
                scaling: Scaling::Logarithmic
            }
        );
        assert_eq!(
            tuning.ranges["lora_dropout"],
            ParameterRange::Categorical {
                values: vec!["0.0".into(), "0.05".into()]
            }
        );
        assert_eq!(model.hyperparameters["learning_rate"], "2e-4");
        let job = model.job_hyperparameters();
        assert!(!job.contains_key("learning_rate"));
        assert_eq!(job["epochs"], "3");
        assert_eq!(job["model_kind"], "chatbot");
        assert_eq!(job["character"], "Eleven");
        assert_eq!(job["base_model"], "meta-llama/Llama-3.2-3B-Instruct");
    }
}

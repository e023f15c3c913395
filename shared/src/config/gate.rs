//! `[model.gate]`: when a model package a training job registers is approved on its own: a
//! metric of the model's, which way is better, a threshold and the improvement needed over the
//! approved package.

use super::model::{DIRECTIONS, Direction, check_metric_name};
use super::reader::{Cx, Tbl};

/// `[model.gate]`: when a new model package is approved.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// One of the model's metric names.
    pub metric: String,
    pub direction: Direction,
    /// The metric must be at least this good, when set.
    pub threshold: Option<f64>,
    /// And better than the approved package's by at least this much (0: not worse).
    pub min_improvement: f64,
}

/// The `[model.gate]` table: the metric it names is one of the model's `metric_names`.
pub(super) fn read_gate(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, metric_names: &[String]) -> Option<Gate> {
    t.check_keys(cx, &["metric", "direction", "threshold", "min_improvement"]);
    t.require(
        cx,
        "metric",
        "the metric that decides approval, such as \"eval_loss\"",
    );
    let metric = t
        .string(cx, "metric")
        .filter(|m| check_metric_name(cx, m, metric_names));
    t.require(cx, "direction", "minimize or maximize");
    let direction = t.choice(cx, "direction", DIRECTIONS);
    let threshold = t.float(cx, "threshold");
    let min_improvement = t.float(cx, "min_improvement");
    if let Some(improvement) = &min_improvement
        && improvement.value < 0.0
    {
        cx.error(
            &improvement.at,
            format!(
                "must be 0 or more (0: not worse than the approved model), got {}",
                improvement.value
            ),
        );
        return None;
    }
    if (t.has("threshold") && threshold.is_none())
        || (t.has("min_improvement") && min_improvement.is_none())
    {
        return None;
    }
    Some(Gate {
        metric: metric?.value,
        direction: direction?.value,
        threshold: threshold.map(|v| v.value),
        min_improvement: min_improvement.map_or(0.0, |v| v.value),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

    #[test]
    fn gate_and_tuning_name_defined_metrics() {
        let text = with("[model.gate]\nmetric = \"accuracy\"\ndirection = \"maximize\"\n");
        only(
            &text,
            "\"accuracy\"",
            &format!("{MODEL}.gate.metric"),
            "not one of this model's metrics (loss, eval_loss)",
        );
        let text = with(
            "metrics = []\n[model.tuning]\nobjective = \"eval_loss\"\ndirection = \"minimize\"\nmax_jobs = 4\nranges = { lora_r = { type = \"integer\", min = 8, max = 64 } }\n",
        );
        only(
            &text,
            "objective",
            &format!("{MODEL}.tuning.objective"),
            "defines no metrics",
        );
    }
}

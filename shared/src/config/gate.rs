//! `[model.gate]`: when a model package a training job registers is approved on its own: a
//! metric of the model's, which way is better, a threshold and the improvement needed over the
//! approved package; or, for the theme model (which reports no metric), `approval = "auto"`:
//! every package is approved when it is registered.

use super::model::{DIRECTIONS, Direction, ModelKind, check_metric_name};
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

/// What `[model.gate]` says.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum GateSection {
    /// `approval = "metric"` (the default): the metric decides.
    Metric(Gate),
    /// `approval = "auto"`: approved on registration, no metric read.
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Approval {
    Metric,
    Auto,
}

const APPROVALS: &[(&str, Approval)] = &[("metric", Approval::Metric), ("auto", Approval::Auto)];

/// The `[model.gate]` table: `approval = "auto"` alone (a theme model only), or a metric that is
/// one of the model's `metric_names`.
pub(super) fn read_gate_section(
    cx: &mut Cx<'_>,
    t: &Tbl<'_, '_>,
    kind: Option<ModelKind>,
    metric_names: &[String],
) -> Option<GateSection> {
    let approval = if t.has("approval") {
        t.choice(cx, "approval", APPROVALS)?
    } else {
        return read_gate(cx, t, metric_names).map(GateSection::Metric);
    };
    if approval.value == Approval::Metric {
        return read_gate(cx, t, metric_names).map(GateSection::Metric);
    }
    t.check_keys(cx, &["approval"]);
    if kind.is_some_and(|k| k != ModelKind::Theme) {
        cx.error(
            &approval.at,
            "\"auto\" is for the theme model only (it reports no metric and serves no endpoint); gate this model on a metric",
        );
        return None;
    }
    (!["metric", "direction", "threshold", "min_improvement"]
        .iter()
        .any(|k| t.has(k)))
    .then_some(GateSection::Auto)
}

/// The metric gate's keys: the metric it names is one of the model's `metric_names`.
fn read_gate(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, metric_names: &[String]) -> Option<Gate> {
    t.check_keys(
        cx,
        &[
            "approval",
            "metric",
            "direction",
            "threshold",
            "min_improvement",
        ],
    );
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

    const THEMES: &str = "\n[[model]]\nname = \"themes\"\nkind = \"theme\"\ndataset = \"themes/batches.jsonl\"\nmetrics = []\nhyperparameters = { themes = \"fear,friendship\" }\n";

    #[test]
    fn a_theme_model_may_be_approved_without_a_metric() {
        let config = ok(&with(&format!(
            "{THEMES}[model.gate]\napproval = \"auto\"\n"
        )));
        let themes = &config.models[1];
        assert!(themes.auto_approve);
        assert_eq!(themes.gate, None);
        assert!(
            !config.models[0].auto_approve,
            "the default: a person or the metric decides"
        );

        let text = with(&format!(
            "{THEMES}[model.gate]\napproval = \"auto\"\nmetric = \"loss\"\n"
        ));
        only(
            &text,
            "metric = \"loss\"",
            "model[themes].gate.metric",
            "unknown field",
        );
        let text = with("[model.gate]\napproval = \"auto\"\n");
        only(
            &text,
            "approval",
            &format!("{MODEL}.gate.approval"),
            "for the theme model only",
        );
        let text = with(&format!("{THEMES}[model.gate]\napproval = \"always\"\n"));
        only(
            &text,
            "approval",
            "model[themes].gate.approval",
            "must be one of metric, auto",
        );
        let explicit = ok(&with(
            "[model.gate]\napproval = \"metric\"\nmetric = \"loss\"\ndirection = \"minimize\"\n",
        ));
        assert_eq!(
            explicit.models[0].gate.as_ref().map(|g| g.metric.as_str()),
            Some("loss")
        );
        assert!(!explicit.models[0].auto_approve);
    }

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

//! `[costs]`: the budgets the scheduled cost run alerts on, how long an endpoint may go without
//! invocations before it is reported idle, and prices that replace the bundled table's.

use std::collections::BTreeMap;

use super::model::check_instance_type;
use super::reader::{Cx, Tbl, Val};

/// Default hours without invocations before an endpoint counts as idle.
pub const DEFAULT_IDLE_HOURS: u32 = 24;
/// The longest idle threshold: 30 days.
pub const MAX_IDLE_HOURS: u32 = 720;

/// `[costs]`: what the scheduled cost run compares spend against, and prices that replace the
/// bundled table's (for every region).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Costs {
    /// Spend in 24 hours above which the team is alerted (dollars, > 0).
    pub daily_usd: Option<f64>,
    /// Spend in a calendar month, or its forecast, above which the team is alerted.
    pub monthly_usd: Option<f64>,
    /// Hours without invocations after which an endpoint is reported idle (1 to 720; default 24).
    pub idle_hours: u32,
    /// Instance type → $/hour for training and hosting.
    pub prices: BTreeMap<String, PriceOverride>,
}

/// One `[costs.prices]` entry: on-demand dollars per instance-hour.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PriceOverride {
    pub training: Option<f64>,
    pub hosting: Option<f64>,
}

/// The fields of `[costs]`.
const COSTS_KEYS: &[&str] = &["daily_usd", "monthly_usd", "idle_hours", "prices"];
/// The fields of one `[costs.prices]` entry.
const PRICE_KEYS: &[&str] = &["training", "hosting"];

/// A dollar amount that must be above zero.
fn positive_usd(cx: &mut Cx<'_>, t: &Tbl<'_, '_>, key: &str, what: &str) -> Option<f64> {
    let value = t.float(cx, key)?;
    if value.value <= 0.0 {
        cx.error(
            &value.at,
            format!("must be more than 0 (dollars {what}), got {}", value.value),
        );
        return None;
    }
    Some(value.value)
}

/// `[costs]`, or no budgets and the default idle threshold when the file has none.
pub(super) fn read_section(cx: &mut Cx<'_>, root: &Tbl<'_, '_>) -> Option<Costs> {
    match root.table(cx, "costs") {
        Some(table) => read_costs(cx, &table),
        None if root.has("costs") => None,
        None => Some(Costs {
            idle_hours: DEFAULT_IDLE_HOURS,
            ..Costs::default()
        }),
    }
}

/// The `[costs]` table's fields, each checked.
fn read_costs(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<Costs> {
    t.check_keys(cx, COSTS_KEYS);
    let daily_usd = positive_usd(cx, t, "daily_usd", "in 24 hours");
    let monthly_usd = positive_usd(cx, t, "monthly_usd", "in a calendar month");
    let idle = t.bounded(
        cx,
        "idle_hours",
        1,
        i64::from(MAX_IDLE_HOURS),
        "hours without invocations before an endpoint is reported idle; at most 30 days",
    );
    let prices = read_prices(cx, t);
    let idle_hours = match idle {
        Some(v) => v.value,
        None if t.has("idle_hours") => return None,
        None => DEFAULT_IDLE_HOURS,
    };
    if (t.has("daily_usd") && daily_usd.is_none())
        || (t.has("monthly_usd") && monthly_usd.is_none())
    {
        return None;
    }
    Some(Costs {
        daily_usd,
        monthly_usd,
        idle_hours,
        prices: prices?,
    })
}

/// `[costs.prices]`: instance type → prices; none when an entry is invalid (already reported).
fn read_prices(cx: &mut Cx<'_>, t: &Tbl<'_, '_>) -> Option<BTreeMap<String, PriceOverride>> {
    let mut prices = BTreeMap::new();
    let mut ok = true;
    if let Some(table) = t.table(cx, "prices") {
        for (key, _) in table.table.iter() {
            let instance_type: &str = key.get_ref();
            match read_price(cx, &table, instance_type) {
                Some(rate) => {
                    prices.insert(instance_type.to_string(), rate);
                }
                None => ok = false,
            }
        }
    } else if t.has("prices") {
        ok = false;
    }
    ok.then_some(prices)
}

/// One price entry: a SageMaker instance type with a training price, a hosting price or both.
fn read_price(cx: &mut Cx<'_>, table: &Tbl<'_, '_>, instance_type: &str) -> Option<PriceOverride> {
    let name = Val {
        value: instance_type.to_string(),
        at: table.key_at(instance_type),
    };
    check_instance_type(cx, &name);
    let entry = table.table(cx, instance_type)?;
    entry.check_keys(cx, PRICE_KEYS);
    let mut rate = PriceOverride::default();
    let mut ok = true;
    for (field, slot) in [
        ("training", &mut rate.training),
        ("hosting", &mut rate.hosting),
    ] {
        if let Some(value) = entry.float(cx, field) {
            if value.value < 0.0 {
                cx.error(
                    &value.at,
                    format!(
                        "must not be negative (dollars per instance-hour), got {}",
                        value.value
                    ),
                );
                ok = false;
            } else {
                *slot = Some(value.value);
            }
        }
    }
    if !entry.has("training") && !entry.has("hosting") {
        cx.error(
            &entry.here(),
            "sets no price: give `training`, `hosting` or both, in dollars per instance-hour",
        );
        ok = false;
    }
    ok.then_some(rate)
}

#[cfg(test)]
mod tests {
    use crate::config::testing::*;
    use crate::config::{DEFAULT_IDLE_HOURS, PriceOverride};

    #[test]
    fn costs_default_to_no_budget_and_a_day_of_idleness() {
        let config = ok(BASE);
        assert_eq!(config.costs.idle_hours, DEFAULT_IDLE_HOURS);
        assert_eq!(
            (config.costs.daily_usd, config.costs.monthly_usd),
            (None, None)
        );
        assert!(config.costs.prices.is_empty());
    }

    #[test]
    fn costs_read_budgets_and_price_overrides() {
        let config = ok(&with(
            "\n[costs]\ndaily_usd = 50\nmonthly_usd = 1000.5\nidle_hours = 12\nprices = { \"ml.g5.2xlarge\" = { training = 1.515, hosting = 1.6 }, \"ml.inf2.xlarge\" = { hosting = 0.99 } }\n",
        ));
        let costs = &config.costs;
        assert_eq!(
            (costs.daily_usd, costs.monthly_usd, costs.idle_hours),
            (Some(50.0), Some(1000.5), 12)
        );
        assert_eq!(
            costs.prices["ml.g5.2xlarge"],
            PriceOverride {
                training: Some(1.515),
                hosting: Some(1.6)
            }
        );
        assert_eq!(costs.prices["ml.inf2.xlarge"].training, None);
    }

    #[test]
    fn an_unknown_costs_field_is_named() {
        only(
            &with("\n[costs]\nmonthly_budget = 10\n"),
            "monthly_budget",
            "costs.monthly_budget",
            "unknown field `monthly_budget`",
        );
    }

    #[test]
    fn a_budget_must_be_positive() {
        only(
            &with("\n[costs]\ndaily_usd = 0\n"),
            "daily_usd",
            "costs.daily_usd",
            "must be more than 0",
        );
        only(
            &with("\n[costs]\nmonthly_usd = \"lots\"\n"),
            "monthly_usd",
            "costs.monthly_usd",
            "must be a number",
        );
    }

    #[test]
    fn idle_hours_are_bounded() {
        only(
            &with("\n[costs]\nidle_hours = 0\n"),
            "idle_hours",
            "costs.idle_hours",
            "must be between 1 and 720",
        );
        only(
            &with("\n[costs]\nidle_hours = 721\n"),
            "idle_hours",
            "costs.idle_hours",
            "must be between 1 and 720",
        );
    }

    #[test]
    fn a_price_override_names_a_sagemaker_instance_type() {
        only(
            &with("\n[costs.prices]\n\"g5.2xlarge\" = { training = 1.0 }\n"),
            "g5.2xlarge",
            "costs.prices.g5.2xlarge",
            "must be a SageMaker instance type",
        );
    }

    #[test]
    fn a_price_must_not_be_negative() {
        only(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = { training = -1.0 }\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge.training",
            "must not be negative",
        );
    }

    #[test]
    fn a_price_override_sets_a_price_and_nothing_else() {
        only(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = {}\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge",
            "sets no price",
        );
        has(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = { trainig = 1.0 }\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge.trainig",
            "did you mean `training`",
        );
        only(
            &with("\n[costs.prices]\n\"ml.g5.2xlarge\" = 1.5\n"),
            "ml.g5.2xlarge",
            "costs.prices.ml.g5.2xlarge",
            "must be a table",
        );
    }
}

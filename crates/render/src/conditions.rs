//! Conditions in the standard shape: one per type, the transition time moving only when the
//! status flips, so an unchanged condition never rewrites status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The condition of `type_` with the given state, keeping the previous transition time when the
/// status is unchanged and using `now` when it flips.
pub fn set(
    previous: &[Condition],
    type_: &str,
    (status, reason, message): (&str, &str, &str),
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// `conditions` with `condition` replacing the one of its type, sorted by type.
pub fn upsert(conditions: &[Condition], condition: Condition) -> Vec<Condition> {
    let mut out: Vec<_> = conditions
        .iter()
        .filter(|c| c.type_ != condition.type_)
        .cloned()
        .collect();
    out.push(condition);
    out.sort_by(|a, b| a.type_.cmp(&b.type_));
    out
}

/// Whether `conditions` hold `type_` with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

//! Conditions in the standard shape: one per type, the transition time moving only when the
//! status flips, so an unchanged condition never rewrites status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// The condition of `type_` with the given state, keeping the previous transition time when the
/// status is unchanged.
pub fn set(
    previous: &[Condition],
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(crate::child::now);
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: generation,
        last_transition_time,
    }
}

//! Conditions stamped with the current time; the rules live in the pure core.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
pub use superset_operator_render::conditions::{is_true, upsert};

/// The condition of `type_` with the given state, as of now.
pub fn set(
    previous: &[Condition],
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    superset_operator_render::conditions::set(
        previous,
        type_,
        (status, reason, message),
        generation,
        &crate::child::now(),
    )
}

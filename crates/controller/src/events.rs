//! Events, published only when something changes (a condition flips), never per reconcile.
//! They are best effort: a failure to publish is logged, not retried.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

/// Name the operator reports events under.
const REPORTER: &str = "superset-operator";

/// Publishes an event on `object` when condition `type_` moved from `before` to `after`.
pub async fn on_transition<K: Resource<DynamicType = ()>>(
    client: &Client,
    object: &K,
    before: &[Condition],
    after: &[Condition],
    type_: &str,
) {
    let find = |conditions: &[Condition]| {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    let Some((status, reason)) = find(after) else {
        return;
    };
    if find(before) == Some((status.clone(), reason.clone())) {
        return;
    }
    let message = after
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.message.clone());
    let healthy = matches!(
        (type_, status.as_str()),
        ("Available" | "Ready", "True") | ("Degraded" | "Stopped" | "Suspended", "False")
    );
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: REPORTER.into(),
            instance: None,
        },
    );
    let event = Event {
        type_: if healthy {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason,
        note: message,
        action: format!("{type_}Changed"),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, &object.object_ref(&())).await {
        tracing::debug!(%error, "publishing an event failed");
    }
}

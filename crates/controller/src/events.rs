//! Events, published only when something changes (a condition flips), never per reconcile.
//! They are best effort: a failure to publish is logged, not retried.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use superset_operator_api::superset::status::LifecyclePhase;

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
    let healthy = matches!(reason.as_str(), "WaitingForLifecycle" | "Restoring")
        || matches!(
            (type_, status.as_str()),
            (
                "Available" | "Ready" | "ScheduleValid" | "VersionSupported",
                "True"
            ) | ("Degraded" | "Stopped" | "Suspended", "False")
                | ("MaintenanceActive", _)
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
    publish(client, object, event).await;
}

/// Publishes the lifecycle milestone `phase` on the Superset, with the `LifecycleComplete`
/// message saying what happens.
pub async fn on_lifecycle_phase<K: Resource<DynamicType = ()>>(
    client: &Client,
    object: &K,
    phase: LifecyclePhase,
    conditions: &[Condition],
) {
    let note = conditions
        .iter()
        .find(|c| c.type_ == "LifecycleComplete")
        .map(|c| c.message.clone());
    let warning = matches!(
        phase,
        LifecyclePhase::Failed | LifecyclePhase::Blocked | LifecyclePhase::AwaitingApproval
    );
    let reason = match phase {
        LifecyclePhase::Complete => "LifecycleComplete".to_owned(),
        other => format!("{other:?}"),
    };
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason,
        note,
        action: "Lifecycle".into(),
        secondary: None,
    };
    publish(client, object, event).await;
}

/// Publishes `event` on `object`, best effort.
pub async fn publish<K: Resource<DynamicType = ()>>(client: &Client, object: &K, event: Event) {
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: REPORTER.into(),
            instance: None,
        },
    );
    if let Err(error) = recorder.publish(&event, &object.object_ref(&())).await {
        tracing::debug!(%error, "publishing an event failed");
    }
}

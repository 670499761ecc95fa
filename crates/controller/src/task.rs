//! The `SupersetLifecycleTask` controller: carries out the plan of the pure task-run planner.
//! It lists the task's pods from the API server on every pass (never from a cache that may lag
//! after a restart), creates at most the one attempt the plan names, writes status, and only
//! then deletes pods, so a failure is recorded before its evidence goes.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use superset_operator_api::SupersetLifecycleTask;
use superset_operator_api::task::SupersetLifecycleTaskStatus;
use superset_operator_render::component::TaskFacts;
use superset_operator_render::{labels, task_run};

use crate::apply::{self, FIELD_MANAGER, owner_reference};
use crate::decode::Lenient;
use crate::report::without_reports;
use crate::retry::{Retries, guarded};
use crate::{Error, Scope, Tuning, events, metrics, watch};

struct Context {
    client: Client,
    retries: Retries,
}

/// Runs the lifecycle task controller until the stream ends.
pub async fn run(client: Client, scope: Scope, tuning: Tuning) {
    let pods = watch::config().labels(labels::TASK);
    watch::controller(
        scope.api::<Lenient<SupersetLifecycleTask>>(&client),
        watch::config(),
        tuning,
    )
    .owns_stream(watch::changes::<Pod>(&client, &scope, pods))
    .run(
        |task, ctx| {
            metrics::measure("SupersetLifecycleTask", async move {
                guarded(&ctx.client, &ctx.retries, &task, |valid| {
                    reconcile(valid, &ctx)
                })
                .await
            })
        },
        error_policy,
        Arc::new(Context {
            client,
            retries: Retries::default(),
        }),
    )
    .for_each(|result| async move {
        if let Err(error) = result {
            tracing::debug!(%error, "lifecycle task reconcile failed");
        }
    })
    .await;
}

fn error_policy(
    task: Arc<Lenient<SupersetLifecycleTask>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    ctx.retries.after_failure(task.as_ref(), error)
}

async fn reconcile(task: &SupersetLifecycleTask, ctx: &Context) -> Result<Action, Error> {
    let namespace = task.namespace().ok_or(Error::MissingIdentity)?;
    let uid = task.uid().ok_or(Error::MissingIdentity)?;
    if crate::child::parent_suspended(&ctx.client, &namespace, task).await? {
        return Ok(Action::await_change());
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    // The pods of every task of the instance: an attempt waits while another task's runs.
    let selector = task_run::instance_pod_selector(task);
    let (owned, siblings): (Vec<Pod>, Vec<Pod>) = pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .partition(|pod| apply::control(Some(pod), &uid) == apply::Control::Ours);
    let plan = task_run::plan_among(task, &owned, &siblings, k8s_openapi::jiff::Timestamp::now());

    if let Some(mut pod) = plan.create.clone() {
        pod.metadata.owner_references = Some(vec![owner_reference(task)]);
        match pods.create(&PostParams::default(), &pod).await {
            // The attempt exists already: it is the one this plan means, so nothing is lost.
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            result => {
                result?;
            }
        }
        tracing::info!(task = %task.name_any(), pod = %pod.name_any(), "task attempt started");
    }
    if task.status.as_ref() != Some(&plan.status) {
        let api: Api<Lenient<SupersetLifecycleTask>> =
            Api::namespaced(ctx.client.clone(), &namespace);
        let status = SupersetLifecycleTaskStatus {
            conditions: without_reports(&plan.status.conditions),
            ..plan.status.clone()
        };
        let patch = json!({
            "apiVersion": SupersetLifecycleTask::api_version(&()),
            "kind": SupersetLifecycleTask::kind(&()),
            "status": status,
        });
        api.patch_status(
            &task.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await?;
    }
    // Counted as soon as the status says so, so that metrics never lag what readers see.
    record_metrics(task, &plan);
    for name in &plan.delete {
        if let Some(pod) = owned.iter().find(|p| p.name_any() == *name) {
            apply::delete_exact(&pods, name, &pod.uid().unwrap_or_default()).await?;
        }
    }
    for event in &plan.events {
        if event.warning {
            tracing::warn!(task = %task.name_any(), reason = event.reason, "{}", event.message);
        } else {
            tracing::info!(task = %task.name_any(), reason = event.reason, "{}", event.message);
        }
        events::publish(
            &ctx.client,
            task,
            Event {
                type_: if event.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: event.reason.to_owned(),
                note: Some(event.message.clone()),
                action: "RunTask".into(),
                secondary: None,
            },
        )
        .await;
    }
    Ok(plan
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

/// Counts the attempts the plan starts and ends, and the duration of a completed task.
fn record_metrics(task: &SupersetLifecycleTask, plan: &task_run::Plan) {
    let task_type = task.spec.type_.suffix();
    for event in &plan.events {
        match event.reason {
            "TaskStarted" => metrics::task_attempt(task_type, "started"),
            "TaskComplete" => metrics::task_attempt(task_type, "succeeded"),
            "TaskRetry" | "TaskFailed" => metrics::task_attempt(task_type, "failed"),
            _ => {}
        }
    }
    let completed = plan.events.iter().any(|e| e.reason == "TaskComplete");
    if let (true, Some(started), Some(done)) = (
        completed,
        plan.status.started_at.as_ref(),
        plan.status.completed_at.as_ref(),
    ) {
        let seconds = done.0.duration_since(started.0).as_secs_f64().max(0.0);
        metrics::task_duration(task_type, seconds);
    }
}

//! The generic component controller, shared by the six child kinds: it turns a child into its
//! Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget, tracks the Deployment
//! by name and UID, and reports readiness.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, PartialObjectMeta, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use superset_operator_api::children::{ComponentChildStatus, FlatComponentSpec};
use superset_operator_api::service::ComponentServiceSpec;
use superset_operator_api::status::OwnedObjectRef;
use superset_operator_api::{
    SupersetCeleryBeat, SupersetCeleryFlower, SupersetCeleryWorker, SupersetMcpServer,
    SupersetWebServer, SupersetWebsocketServer,
};
use superset_operator_render::{Component, labels, naming, workload};

use crate::apply::{self, Control, FIELD_MANAGER, owned_by, owner_reference};
use crate::decode::Lenient;
use crate::report::without_reports;
use crate::retry::{Retries, guarded};
use crate::watch::{self, Caches, Seen, Watched};
use crate::{Error, Scope, Tuning, conditions, events, metrics};

/// What the generic controller needs to know about a child kind.
pub trait ComponentChild:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The component this kind runs.
    const COMPONENT: Component;
    /// The resolved workload.
    fn flat(&self) -> &FlatComponentSpec;
    /// The Service it owns, if any (the web server's Service belongs to the parent).
    fn owned_service(&self) -> Option<&ComponentServiceSpec>;
    /// Its current status.
    fn child_status(&self) -> Option<&ComponentChildStatus>;
}

macro_rules! component_child {
    ($kind:ty, $component:expr, service: $service:expr) => {
        impl ComponentChild for $kind {
            const COMPONENT: Component = $component;
            fn flat(&self) -> &FlatComponentSpec {
                &self.spec.component
            }
            fn owned_service(&self) -> Option<&ComponentServiceSpec> {
                let select: fn(&Self) -> Option<&ComponentServiceSpec> = $service;
                select(self)
            }
            fn child_status(&self) -> Option<&ComponentChildStatus> {
                self.status.as_ref()
            }
        }
    };
}

component_child!(SupersetWebServer, Component::WebServer, service: |_| None);
component_child!(SupersetCeleryWorker, Component::CeleryWorker, service: |_| None);
component_child!(SupersetCeleryBeat, Component::CeleryBeat, service: |_| None);
component_child!(SupersetCeleryFlower, Component::CeleryFlower, service: |c| c.spec.service.as_ref());
component_child!(SupersetMcpServer, Component::McpServer, service: |c| c.spec.service.as_ref());
component_child!(SupersetWebsocketServer, Component::WebsocketServer, service: |c| c.spec.service.as_ref());

struct Context {
    client: Client,
    caches: Caches,
    retries: Retries,
}

/// Runs the controller of one child kind until the stream ends.
pub async fn run<K: ComponentChild>(client: Client, scope: Scope, tuning: Tuning) {
    // The children are cached as metadata and each reconcile reads its child in full: decoded,
    // a child takes about 15 KiB (five times its JSON), which at a thousand instances made up
    // a third of the operator's memory, for one GET per reconcile.
    let api: Api<PartialObjectMeta<K>> = scope.api(&client);
    // Every object of a component carries its component label (the operator's labels win over
    // the user's), so its watches hold only this component's objects, not one copy per
    // component controller of every Service, autoscaler and budget in scope. An object stripped
    // of the label looks deleted: a reconcile then reads it before writing, so it is restored.
    let component = labels::component_query(K::COMPONENT.suffix());
    let config = || watch::config().labels(&component);
    let mut caches = Caches::default();
    let services = watch::known_changes::<Service>(&client, &scope, config(), &mut caches);
    let autoscalers =
        watch::known_changes::<HorizontalPodAutoscaler>(&client, &scope, config(), &mut caches);
    let budgets =
        watch::known_changes::<PodDisruptionBudget>(&client, &scope, config(), &mut caches);
    watch::controller(api, watch::config(), tuning)
        .owns_stream(watch::changes::<Deployment>(&client, &scope, config()))
        .owns_stream(services)
        .owns_stream(autoscalers)
        .owns_stream(budgets)
        // The parent's suspend flag governs the child: re-check when the parent's spec changes
        // (not on its status updates, which are many and never concern the child).
        .watches_stream(
            watch::spec_changes::<superset_operator_api::Superset>(
                &client,
                &scope,
                watch::config(),
            ),
            |superset| {
                superset
                    .namespace()
                    .map(|namespace| ObjectRef::new(&superset.name_any()).within(&namespace))
            },
        )
        .run(
            |child, ctx| metrics::measure(K::COMPONENT.kind(), read_and_reconcile::<K>(child, ctx)),
            error_policy::<K>,
            Arc::new(Context {
                client,
                caches,
                retries: Retries::default(),
            }),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, kind = K::kind(&()).as_ref(), "reconcile failed");
            }
        })
        .await;
}

fn error_policy<K: ComponentChild>(
    child: Arc<PartialObjectMeta<K>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    ctx.retries.after_failure(child.as_ref(), error)
}

/// Reads the child the watch saw change and reconciles it; one deleted since needs nothing.
async fn read_and_reconcile<K: ComponentChild>(
    seen: Arc<PartialObjectMeta<K>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = seen.namespace().ok_or(Error::MissingIdentity)?;
    let api: Api<Lenient<K>> = Api::namespaced(ctx.client.clone(), &namespace);
    match api.get_opt(&seen.name_any()).await? {
        Some(child) => {
            guarded(&ctx.client, &ctx.retries, &child, |child| {
                reconcile(child, &ctx)
            })
            .await
        }
        None => Ok(Action::await_change()),
    }
}

async fn reconcile<K: ComponentChild>(child: &K, ctx: &Context) -> Result<Action, Error> {
    let namespace = child.namespace().ok_or(Error::MissingIdentity)?;
    let parent = child.name_any();
    let child_uid = child.uid().ok_or(Error::MissingIdentity)?;
    let component = K::COMPONENT;
    let owner = owner_reference(child);
    let flat = child.flat();
    let name = naming::workload(&parent, component);
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);

    let live = deployments.get_opt(&name).await?;
    let recorded = child.child_status().and_then(|s| s.deployment.clone());
    let mut problem = None;
    let mut tracked = recorded.clone();
    let mut requeue = None;
    // A suspended parent suspends its children too: status only.
    let suspended = parent_suspended(&ctx.client, &namespace, child).await?;
    let control = if suspended {
        None
    } else {
        Some(apply::control(live.as_ref(), &child_uid))
    };
    // The Deployment as it stands after this pass, for the status.
    let current = match control.unwrap_or(Control::Absent) {
        _ if suspended => live,
        Control::Absent | Control::Ours => {
            let mut desired = workload::deployment(&parent, Some(&namespace), component, flat);
            desired.metadata.owner_references = Some(vec![owner.clone()]);
            let applied = apply::apply(&deployments, &desired, live).await?;
            tracked = Some(OwnedObjectRef {
                name: name.clone(),
                uid: applied.uid().unwrap_or_default(),
            });
            Some(applied)
        }
        Control::Unowned if recorded.is_some() => {
            // Our Deployment was replaced by someone else's object: remove it, forget the old
            // identity, and create ours on the next pass (the delete event brings it).
            let impostor = live.expect("classified as present");
            apply::delete_exact(&deployments, &name, &impostor.uid().unwrap_or_default()).await?;
            tracked = None;
            requeue = Some(Duration::from_secs(1));
            None
        }
        Control::Unowned => {
            problem = Some(format!(
                "Deployment {name} exists and is not managed by this operator; it is left alone"
            ));
            live
        }
        Control::Foreign(owner) => {
            problem = Some(format!(
                "Deployment {name} is controlled by {owner}; it is left alone"
            ));
            live
        }
    };

    if problem.is_none() && !suspended {
        reconcile_satellites(
            &ctx.client,
            &ctx.caches,
            &namespace,
            &parent,
            &child_uid,
            &owner,
            child,
        )
        .await?;
    }

    let deployment = current.filter(|d| d.uid() == tracked.as_ref().map(|t| t.uid.clone()));
    let status = child_status(child, flat, deployment.as_ref(), tracked, problem);
    if child.child_status() != Some(&status) {
        let before = child
            .child_status()
            .map(|s| s.conditions.clone())
            .unwrap_or_default();
        events::on_transition(&ctx.client, child, &before, &status.conditions, "Ready").await;
        let api: Api<Lenient<K>> = Api::namespaced(ctx.client.clone(), &namespace);
        let status = ComponentChildStatus {
            conditions: without_reports(&status.conditions),
            ..status
        };
        let patch =
            json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status });
        api.patch_status(
            &parent,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await?;
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Whether the `Superset` controlling `child` is suspended.
pub(crate) async fn parent_suspended<K: Resource>(
    client: &Client,
    namespace: &str,
    child: &K,
) -> Result<bool, Error> {
    let Some(owner) = child
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true) && r.kind == "Superset")
    else {
        return Ok(false);
    };
    // Read leniently: a parent that does not fit its type is reported by its own controller,
    // and its children keep running as they are.
    let supersets: Api<Lenient<superset_operator_api::Superset>> =
        Api::namespaced(client.clone(), namespace);
    Ok(supersets
        .get_opt(&owner.name)
        .await?
        .and_then(Lenient::into_valid)
        .is_some_and(|s| s.spec.suspend == Some(true)))
}

/// The Service (for kinds that own one), the autoscaler and the disruption budget: applied
/// when wanted, deleted when not, never touched when another owner has them.
async fn reconcile_satellites<K: ComponentChild>(
    client: &Client,
    caches: &Caches,
    namespace: &str,
    parent: &str,
    child_uid: &str,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    child: &K,
) -> Result<(), Error> {
    let component = K::COMPONENT;
    let flat = child.flat();
    let name = naming::workload(parent, component);
    // Absent specs delete what is there: a removed autoscaler must not keep scaling.
    let service = child.owned_service().map(|spec| {
        owned_by(
            workload::service(parent, Some(namespace), component, flat, spec),
            owner,
        )
    });
    sync(
        &Api::namespaced(client.clone(), namespace),
        caches,
        &name,
        child_uid,
        service,
    )
    .await?;
    let hpa = flat.autoscaling.as_ref().map(|spec| {
        owned_by(
            workload::horizontal_pod_autoscaler(parent, Some(namespace), component, spec),
            owner,
        )
    });
    sync(
        &Api::namespaced(client.clone(), namespace),
        caches,
        &name,
        child_uid,
        hpa,
    )
    .await?;
    let pdb = flat.pod_disruption_budget.as_ref().map(|spec| {
        owned_by(
            workload::pod_disruption_budget(parent, Some(namespace), component, spec),
            owner,
        )
    });
    sync(
        &Api::namespaced(client.clone(), namespace),
        caches,
        &name,
        child_uid,
        pdb,
    )
    .await
}

/// Applies `desired` at `name`, or deletes what is there when nothing is desired, for objects
/// this owner controls (or that are absent). The object is read only when the watch cannot
/// tell: when it is absent and not wanted, or unchanged since it was last applied as desired,
/// nothing is sent at all.
pub(crate) async fn sync<K: Watched + Serialize>(
    api: &Api<K>,
    caches: &Caches,
    name: &str,
    owner_uid: &str,
    desired: Option<K>,
) -> Result<(), Error> {
    let seen = caches.get::<K>().map_or(Seen::Unknown, |known| {
        known.seen(api.namespace().unwrap_or_default(), name)
    });
    match (seen, &desired) {
        (Seen::Absent, None) => return Ok(()),
        (Seen::Unchanged(meta), Some(desired))
            if apply::control(Some(meta.as_ref()), owner_uid) == Control::Ours
                && meta.annotations().get(apply::APPLIED)
                    == Some(&apply::fingerprint(desired)?) =>
        {
            return Ok(());
        }
        _ => {}
    }
    let live = api.get_opt(name).await?;
    sync_live(api, caches, name, owner_uid, desired, live).await
}

/// [`sync`], with the live object already read.
pub(crate) async fn sync_live<K: Watched + Serialize>(
    api: &Api<K>,
    caches: &Caches,
    name: &str,
    owner_uid: &str,
    desired: Option<K>,
    live: Option<K>,
) -> Result<(), Error> {
    let known = caches.get::<K>();
    match (apply::control(live.as_ref(), owner_uid), desired) {
        (Control::Absent | Control::Ours, Some(desired)) => {
            let applied = apply::apply(api, &desired, live).await?;
            if let Some(known) = known {
                known.verified(&applied);
            }
        }
        (Control::Ours, None) => {
            let uid = live.and_then(|l| l.uid()).unwrap_or_default();
            apply::delete_exact(api, name, &uid).await?;
            if let Some(known) = known {
                known.forget(api.namespace().unwrap_or_default(), name);
            }
        }
        // Wanted at a name another object holds: reported, so that nothing goes on to use it
        // (a ConfigMap of someone else's code mounted into pods that hold the instance's
        // Secrets, say).
        (Control::Unowned, Some(_)) => return Err(name_taken::<K>(name, None)),
        (Control::Foreign(owner), Some(_)) => return Err(name_taken::<K>(name, Some(owner))),
        (Control::Foreign(_) | Control::Unowned | Control::Absent, None) => {}
    }
    Ok(())
}

/// The error for a `K` named `name` that the operator does not control.
pub(crate) fn name_taken<K: Watched>(name: &str, controller: Option<String>) -> Error {
    let kind = K::kind(&()).into_owned();
    let hint = if kind == "ServiceAccount" {
        "; or, to run the pods as this ServiceAccount, set serviceAccount.create to false"
    } else {
        ""
    };
    Error::NameTaken {
        holder: match controller {
            Some(controller) => format!("is controlled by {controller}"),
            None => "is not managed by this operator".into(),
        },
        kind,
        name: name.to_owned(),
        hint,
    }
}

fn child_status(
    child: &impl ComponentChild,
    flat: &FlatComponentSpec,
    deployment: Option<&Deployment>,
    tracked: Option<OwnedObjectRef>,
    problem: Option<String>,
) -> ComponentChildStatus {
    let spec_replicas = deployment
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| s.replicas);
    let live = deployment.and_then(|d| d.status.as_ref());
    let desired = spec_replicas.unwrap_or(if flat.autoscaling.is_some() {
        live.and_then(|s| s.replicas).unwrap_or(0)
    } else {
        flat.replicas
    });
    let ready = live.and_then(|s| s.ready_replicas).unwrap_or(0);
    let previous = child
        .child_status()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    let generation = child.meta().generation;
    let failure = deployment.and_then(|d| failed_condition(d, "ReplicaFailure", "True"));
    let stalled = deployment.and_then(|d| failed_condition(d, "Progressing", "False"));
    let (ready_state, reason, message) = match (&problem, ready, desired) {
        (Some(problem), _, _) => ("False", "ManagedNameTaken", problem.clone()),
        (None, r, d) if d > 0 && r >= d => (
            "True",
            "AllReplicasReady",
            format!("{r}/{d} replicas ready"),
        ),
        // The Deployment cannot create its pods (a quota, an admission policy, a missing
        // ServiceAccount): what it says is the cause, not "not ready".
        (None, r, d) if failure.is_some() => (
            "False",
            "ReplicaFailure",
            format!(
                "{r}/{d} replicas ready: {}",
                failure.clone().unwrap_or_default()
            ),
        ),
        (None, 0, _) => ("False", "NotReady", format!("0/{desired} replicas ready")),
        (None, r, d) => ("False", "PartiallyReady", format!("{r}/{d} replicas ready")),
    };
    let rolling = deployment.is_some_and(|d| {
        let observed = d.status.as_ref().and_then(|s| s.observed_generation);
        let updated = d
            .status
            .as_ref()
            .and_then(|s| s.updated_replicas)
            .unwrap_or(0);
        observed < d.metadata.generation || updated < desired
    });
    let progressing = if let Some(stalled) = stalled {
        (
            "False",
            "ProgressDeadlineExceeded",
            format!("the rollout made no progress within its deadline: {stalled}"),
        )
    } else if rolling {
        (
            "True",
            "RolloutInProgress",
            "the Deployment is rolling out".to_owned(),
        )
    } else {
        (
            "False",
            "RolloutComplete",
            "the Deployment is up to date".to_owned(),
        )
    };
    let conditions = vec![
        conditions::set(
            &previous,
            "Ready",
            ready_state,
            reason,
            &message,
            generation,
        ),
        conditions::set(
            &previous,
            "Progressing",
            progressing.0,
            progressing.1,
            &progressing.2,
            generation,
        ),
    ];
    ComponentChildStatus {
        ready: Some(format!("{ready}/{desired}")),
        replicas: Some(desired),
        ready_replicas: Some(ready),
        image: Some(format!("{}:{}", flat.image.repository, flat.image.tag)),
        deployment: tracked,
        conditions,
        observed_generation: generation,
    }
}

/// The message of the Deployment's condition `type_` when it has status `status` for a reason
/// that means failure (`ReplicaFailure`, or `Progressing` with `ProgressDeadlineExceeded`),
/// redacted: it may quote the pod template.
fn failed_condition(deployment: &Deployment, type_: &str, status: &str) -> Option<String> {
    deployment
        .status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| {
            c.type_ == type_
                && c.status == status
                && (type_ != "Progressing"
                    || c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
        })
        .map(|c| {
            let text = match (&c.reason, &c.message) {
                (Some(reason), Some(message)) => format!("{reason}: {message}"),
                (reason, message) => reason.clone().or(message.clone()).unwrap_or_default(),
            };
            superset_operator_render::redact::redact_and_truncate(&text)
        })
}

/// `now`, for condition transition times.
pub(crate) fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
    use superset_operator_api::SupersetWebServer;

    fn web_server() -> SupersetWebServer {
        serde_json::from_value(json!({
            "apiVersion": "superset.apache.org/v1alpha1",
            "kind": "SupersetWebServer",
            "metadata": { "name": "bi", "namespace": "ns", "generation": 3 },
            "spec": { "image": { "repository": "apache/superset", "tag": "6.0.0" }, "replicas": 2 },
        }))
        .expect("a valid web server child")
    }

    fn deployment(conditions: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": { "name": "bi-web-server", "generation": 4 },
            "spec": { "replicas": 2, "selector": {}, "template": {} },
            "status": { "observedGeneration": 4, "replicas": 2, "updatedReplicas": 2,
                "readyReplicas": 0, "conditions": conditions },
        }))
        .expect("a Deployment")
    }

    fn condition<'a>(status: &'a ComponentChildStatus, type_: &str) -> &'a Condition {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
            .expect("the condition is set")
    }

    #[test]
    fn a_deployment_that_cannot_create_its_pods_says_why() {
        let child = web_server();
        let quota = deployment(json!([{ "type": "ReplicaFailure", "status": "True",
            "reason": "FailedCreate",
            "message": "pods \"bi-web-server-1\" is forbidden: exceeded quota: compute, requested: cpu=2" }]));
        let status = child_status(&child, child.flat(), Some(&quota), None, None);
        let ready = condition(&status, "Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "ReplicaFailure")
        );
        assert!(
            ready.message.contains("exceeded quota"),
            "{}",
            ready.message
        );
        assert!(
            ready
                .message
                .starts_with("0/2 replicas ready: FailedCreate")
        );
    }

    #[test]
    fn a_rollout_past_its_progress_deadline_is_reported_as_such() {
        let child = web_server();
        let stalled = deployment(json!([{ "type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"bi-web-server-5d\" has timed out progressing." }]));
        let status = child_status(&child, child.flat(), Some(&stalled), None, None);
        let progressing = condition(&status, "Progressing");
        assert_eq!(progressing.reason, "ProgressDeadlineExceeded");
        assert!(progressing.message.contains("timed out progressing"));
        // A Deployment that progresses normally is not reported as stalled.
        let fine = deployment(json!([{ "type": "Progressing", "status": "True",
            "reason": "NewReplicaSetAvailable", "message": "ok" }]));
        let status = child_status(&child, child.flat(), Some(&fine), None, None);
        assert_eq!(condition(&status, "Progressing").reason, "RolloutComplete");
        assert_eq!(condition(&status, "Ready").reason, "NotReady");
    }
}

//! Target `render`: a `Superset` from arbitrary bytes, resolved into its child resources and
//! ConfigMaps, and every object the parent and child controllers would build from them.
//!
//! Asserted, besides "no panic": resolution is deterministic; each child resource reads back
//! from its JSON as it was written (the parent writes it, the child controller reads it); every
//! object is in the Superset's namespace; a Deployment's selector is part of its pod labels
//! (the API server rejects a Deployment otherwise, and a Service would select nothing).

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use superset_operator_api::Superset;
use superset_operator_render::resolve::ResolveError;
use superset_operator_render::schedule::Schedule;
use superset_operator_render::{
    Child, ResolveOptions, maintenance, networking, references, resolve, resolve_with, task_run,
    workload,
};

/// The clock of every seed schedule: resolution must not depend on the time it runs at.
const NOW: &str = "2026-03-01T12:34:56Z";

/// The target.
pub fn target(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    // JSON as the API server sends it, else YAML as `superset-operator render -f` reads it.
    let superset = serde_json::from_str::<Superset>(text)
        .ok()
        .or_else(|| serde_yaml::from_str::<Superset>(text).ok());
    if let Some(superset) = superset {
        superset_objects(&superset);
    }
}

/// Everything built from `superset`, with the invariants above checked; `None` for a Superset
/// that resolution refuses (one without a name, for example).
pub fn superset_objects(superset: &Superset) -> Option<Vec<serde_json::Value>> {
    let resolved = match resolve(superset) {
        Ok(resolved) => resolved,
        Err(error) => {
            // Refusing is fine; refusing a named Superset for want of a name is not.
            assert!(
                !(error == ResolveError::MissingName && superset.metadata.name.is_some()),
                "MissingName for a Superset with a name"
            );
            return None;
        }
    };
    assert_eq!(
        resolve(superset).as_ref(),
        Ok(&resolved),
        "resolving the same Superset twice gave different results"
    );
    let name = superset.metadata.name.clone().expect("resolved, so named");
    let namespace = superset.metadata.namespace.clone();
    let spec = &superset.spec;

    let options = ResolveOptions {
        seed_tick: seed_tick(superset),
    };
    let mut resolved = resolve_with(superset, &options).expect("resolved once already");
    // The controller folds in the data of every Secret and ConfigMap the pods read; absent
    // objects hash as null.
    let _ = references::read_by_any(&name, &resolved);
    let key = superset_operator_render::checksum::DataKey::new(b"fuzz");
    references::fold_read_data(&name, &mut resolved, &key, |_| serde_json::Value::Null);

    let mut objects = Vec::new();
    let mut emit = |meta: Option<&ObjectMeta>, value: serde_json::Value| {
        if let Some(meta) = meta {
            assert_eq!(
                meta.namespace, namespace,
                "an object outside the Superset's namespace: {value}"
            );
            assert!(
                meta.name.as_deref().is_some_and(|n| !n.is_empty()),
                "an object without a name: {value}"
            );
        }
        // Every object is written as YAML by `render` and as JSON by the controllers.
        serde_yaml::to_string(&value).expect("objects serialise to YAML");
        objects.push(value);
    };

    for component in &resolved.components {
        let child = &component.child;
        let value = child.to_value();
        round_trips(child);
        if let Some(config_map) = &component.config_map {
            emit(Some(&config_map.metadata), json(config_map));
        }
        let flat = child.flat();
        let kind = component.component;
        let deployment = workload::deployment(&name, namespace.as_deref(), kind, flat);
        selector_within_pod_labels(&deployment);
        emit(Some(&deployment.metadata), json(&deployment));
        let service = match child {
            // The parent applies the web server's Service, with defaults when none is set.
            Child::WebServer(c) => Some(c.spec.service.clone().unwrap_or_default()),
            Child::CeleryFlower(c) => c.spec.service.clone(),
            Child::McpServer(c) => c.spec.service.clone(),
            Child::WebsocketServer(c) => c.spec.service.clone(),
            Child::CeleryWorker(_) | Child::CeleryBeat(_) => None,
        };
        if let Some(service_spec) = service {
            let service = workload::service(&name, namespace.as_deref(), kind, flat, &service_spec);
            let selector = service.spec.as_ref().and_then(|s| s.selector.as_ref());
            let pod_labels = pod_labels(&deployment);
            for (key, value) in selector.into_iter().flatten() {
                assert_eq!(
                    pod_labels.get(key),
                    Some(value),
                    "the Service of {kind:?} selects {key}={value}, which its pods do not carry"
                );
            }
            emit(Some(&service.metadata), json(&service));
        }
        if let Some(autoscaling) = &flat.autoscaling {
            let hpa =
                workload::horizontal_pod_autoscaler(&name, namespace.as_deref(), kind, autoscaling);
            emit(Some(&hpa.metadata), json(&hpa));
        }
        if let Some(budget) = &flat.pod_disruption_budget {
            let pdb = workload::pod_disruption_budget(&name, namespace.as_deref(), kind, budget);
            emit(Some(&pdb.metadata), json(&pdb));
        }
        if let Some(policy) = &spec.network_policy {
            let policy = networking::network_policy(
                &name,
                namespace.as_deref(),
                kind,
                component.serving_port(),
                policy,
            );
            emit(Some(&policy.metadata), json(&policy));
        }
        emit(None, value);
    }

    let routes = networking::routes(spec, &name, &resolved);
    let networking_spec = spec.networking.as_ref();
    if let Some(ingress) = networking_spec.and_then(|n| n.ingress.as_ref()) {
        let ingress = networking::ingress(&name, namespace.as_deref(), ingress, &routes);
        emit(Some(&ingress.metadata), json(&ingress));
    }
    // The HTTPRoute and ServiceMonitor are namespaced; the controller has the namespace.
    let namespace_or_default = namespace.clone().unwrap_or_else(|| "default".into());
    if let Some(gateway) = networking_spec.and_then(|n| n.gateway.as_ref()) {
        emit(
            None,
            networking::http_route(&name, &namespace_or_default, gateway, &routes),
        );
    }
    if let Some(monitor) = spec
        .monitoring
        .as_ref()
        .and_then(|m| m.service_monitor.as_ref())
    {
        emit(
            None,
            networking::service_monitor(&name, &namespace_or_default, monitor),
        );
    }

    for task in &resolved.tasks {
        round_trip(&task.task);
        if let Some(config_map) = &task.config_map {
            emit(Some(&config_map.metadata), json(config_map));
        }
        emit(Some(&task.task.metadata), json(&task.task));
        let _ = task_run::run_id(&task.task.spec);
        for attempt in [1, 4] {
            let pod = task_run::attempt_pod(&task.task, attempt);
            emit(Some(&pod.metadata), json(&pod));
        }
    }

    // The maintenance page, shown in front of the web server while it drains.
    let web_port = resolved
        .components
        .iter()
        .find(|c| c.component == superset_operator_render::Component::WebServer)
        .and_then(|c| c.serving_port());
    let page = spec
        .lifecycle
        .as_deref()
        .and_then(|l| l.maintenance_page.as_ref());
    if let Some((page, port)) = page.zip(web_port) {
        if let Some(config_map) = maintenance::config_map(&name, namespace.as_deref(), page, port) {
            emit(Some(&config_map.metadata), json(&config_map));
        }
        let deployment = maintenance::deployment(&name, namespace.as_deref(), page, port);
        selector_within_pod_labels(&deployment);
        emit(Some(&deployment.metadata), json(&deployment));
    }
    Some(objects)
}

/// The seed's tick at [`NOW`], the way the controller computes it from the cron schedule.
fn seed_tick(superset: &Superset) -> Option<String> {
    let expression = superset
        .spec
        .lifecycle
        .as_deref()
        .and_then(|l| l.seed.as_ref())
        .and_then(|s| s.cron_schedule.as_deref())?;
    let now: Timestamp = NOW.parse().expect("a valid timestamp");
    let schedule = Schedule::parse(expression).ok()?;
    let _ = schedule.next(now);
    schedule.tick(now).map(|t| t.to_string())
}

fn json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("objects serialise to JSON")
}

/// `value` reads back from its JSON as it was written.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let written = json(value);
    let read: T = serde_json::from_value(written.clone())
        .unwrap_or_else(|e| panic!("cannot read back what was written ({e}): {written}"));
    assert_eq!(&read, value, "read back differently: {written}");
}

fn round_trips(child: &Child) {
    match child {
        Child::WebServer(c) => round_trip(c),
        Child::CeleryWorker(c) => round_trip(c),
        Child::CeleryBeat(c) => round_trip(c),
        Child::CeleryFlower(c) => round_trip(c),
        Child::McpServer(c) => round_trip(c),
        Child::WebsocketServer(c) => round_trip(c),
    }
}

fn pod_labels(deployment: &Deployment) -> BTreeMap<String, String> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

fn selector_within_pod_labels(deployment: &Deployment) {
    let labels = pod_labels(deployment);
    let selector = deployment
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    assert!(!selector.is_empty(), "a Deployment that selects every pod");
    for (key, value) in &selector {
        assert_eq!(
            labels.get(key),
            Some(value),
            "Deployment {:?} selects {key}={value}, which its pod template does not carry",
            deployment.metadata.name
        );
    }
}

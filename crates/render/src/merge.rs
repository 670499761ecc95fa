//! How a component's settings combine with the top-level ones: scalars and structs are
//! replaced whole, keyed lists are merged by key in place (by name; volume mounts by path;
//! ports by name, or by number and protocol when unnamed), maps by key, unkeyed lists are
//! appended, and `command`/`args` are never inherited.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerPort, VolumeMount};

use superset_operator_api::template::{ContainerTemplate, DeploymentTemplate, PodTemplate};

/// `base` then `over`; an entry of `over` whose key is already present replaces it where it
/// stands, so the first-seen order is kept.
pub fn by_key<T: Clone, K: PartialEq>(base: &[T], over: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut merged: Vec<T> = Vec::with_capacity(base.len() + over.len());
    for item in base.iter().chain(over) {
        match merged
            .iter()
            .position(|existing| key(existing) == key(item))
        {
            Some(index) => merged[index] = item.clone(),
            None => merged.push(item.clone()),
        }
    }
    merged
}

/// `base` with `over`'s entries set on top.
pub fn maps(
    base: &BTreeMap<String, String>,
    over: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut merged = base.clone();
    merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

/// The component's value when set, else the top-level one: structs are replaced whole.
fn replaced<T: Clone>(component: &Option<T>, top: &Option<T>) -> Option<T> {
    component.clone().or_else(|| top.clone())
}

fn appended<T: Clone>(base: &[T], over: &[T]) -> Vec<T> {
    base.iter().chain(over).cloned().collect()
}

/// The component's Deployment settings over the top-level ones; `None` when nothing is set.
pub fn deployment_template(
    top: Option<&DeploymentTemplate>,
    component: Option<&DeploymentTemplate>,
) -> Option<DeploymentTemplate> {
    let empty = DeploymentTemplate::default();
    let (top, component) = (top.unwrap_or(&empty), component.unwrap_or(&empty));
    let merged = DeploymentTemplate {
        revision_history_limit: component
            .revision_history_limit
            .or(top.revision_history_limit),
        min_ready_seconds: component.min_ready_seconds.or(top.min_ready_seconds),
        progress_deadline_seconds: component
            .progress_deadline_seconds
            .or(top.progress_deadline_seconds),
        strategy: component.strategy.clone().or_else(|| top.strategy.clone()),
        labels: maps(&top.labels, &component.labels),
        annotations: maps(&top.annotations, &component.annotations),
    };
    (merged != empty).then_some(merged)
}

/// The component's pod settings over the top-level ones.
pub fn pod_template(top: Option<&PodTemplate>, component: Option<&PodTemplate>) -> PodTemplate {
    let empty = PodTemplate::default();
    let (top, component) = (top.unwrap_or(&empty), component.unwrap_or(&empty));
    PodTemplate {
        annotations: maps(&top.annotations, &component.annotations),
        labels: maps(&top.labels, &component.labels),
        affinity: replaced(&component.affinity, &top.affinity),
        tolerations: appended(&top.tolerations, &component.tolerations),
        node_selector: maps(&top.node_selector, &component.node_selector),
        topology_spread_constraints: appended(
            &top.topology_spread_constraints,
            &component.topology_spread_constraints,
        ),
        host_aliases: by_key(&top.host_aliases, &component.host_aliases, |h| h.ip.clone()),
        pod_security_context: replaced(&component.pod_security_context, &top.pod_security_context),
        priority_class_name: replaced(&component.priority_class_name, &top.priority_class_name),
        volumes: by_key(&top.volumes, &component.volumes, |v| v.name.clone()),
        sidecars: by_key(&top.sidecars, &component.sidecars, |c| c.name.clone()),
        init_containers: by_key(&top.init_containers, &component.init_containers, |c| {
            c.name.clone()
        }),
        termination_grace_period_seconds: component
            .termination_grace_period_seconds
            .or(top.termination_grace_period_seconds),
        dns_policy: replaced(&component.dns_policy, &top.dns_policy),
        dns_config: replaced(&component.dns_config, &top.dns_config),
        runtime_class_name: replaced(&component.runtime_class_name, &top.runtime_class_name),
        share_process_namespace: component
            .share_process_namespace
            .or(top.share_process_namespace),
        enable_service_links: component.enable_service_links.or(top.enable_service_links),
        resources: replaced(&component.resources, &top.resources),
        container: Some(container(
            top.container.as_ref(),
            component.container.as_ref(),
        )),
    }
}

/// `base`'s volume mounts with `over`'s on top. Kubernetes tells mounts apart by path: one
/// volume may be mounted at several (a ConfigMap's keys under their `subPath`s).
pub fn mounts(base: &[VolumeMount], over: &[VolumeMount]) -> Vec<VolumeMount> {
    by_key(base, over, |m| m.mount_path.clone())
}

/// What tells two ports apart: the name, which is optional; an unnamed port is its number
/// and protocol.
#[derive(PartialEq)]
enum PortKey {
    Named(String),
    Unnamed(i32, String),
}

fn port_key(port: &ContainerPort) -> PortKey {
    match &port.name {
        Some(name) => PortKey::Named(name.clone()),
        None => PortKey::Unnamed(
            port.container_port,
            port.protocol.clone().unwrap_or_else(|| "TCP".into()),
        ),
    }
}

fn container(
    top: Option<&ContainerTemplate>,
    component: Option<&ContainerTemplate>,
) -> ContainerTemplate {
    let empty = ContainerTemplate::default();
    let (top, component) = (top.unwrap_or(&empty), component.unwrap_or(&empty));
    ContainerTemplate {
        resources: replaced(&component.resources, &top.resources),
        env: by_key(&top.env, &component.env, |e| e.name.clone()),
        env_from: appended(&top.env_from, &component.env_from),
        volume_mounts: mounts(&top.volume_mounts, &component.volume_mounts),
        ports: by_key(&top.ports, &component.ports, port_key),
        security_context: replaced(&component.security_context, &top.security_context),
        // A command is specific to what runs; inheriting one would run, say, the web server's
        // command in a Celery pod.
        command: component.command.clone(),
        args: component.args.clone(),
        liveness_probe: replaced(&component.liveness_probe, &top.liveness_probe),
        readiness_probe: replaced(&component.readiness_probe, &top.readiness_probe),
        startup_probe: replaced(&component.startup_probe, &top.startup_probe),
        lifecycle: replaced(&component.lifecycle, &top.lifecycle),
    }
}

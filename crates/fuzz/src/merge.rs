//! Target `merge`: the top-level pod and Deployment templates merged with a component's
//! (`superset_operator_render::merge`), checked field by field against the rules its module
//! documents: maps merge by key with the component winning, scalars and structs are replaced
//! whole, unnamed lists are appended, named lists are merged in place, `command` and `args`
//! are never inherited. The merged template also reads back from its JSON unchanged, since it
//! is written into the child resource.
//!
//! For keyed lists the check is that nothing the user wrote is lost: an entry may only give
//! way to a later entry with the same key, and entries that Kubernetes tells apart (two mounts
//! of one volume at different paths, two unnamed ports) are both kept.

use std::collections::BTreeMap;
use std::fmt::Debug;

use k8s_openapi::api::core::v1::{ContainerPort, VolumeMount};
use serde::Deserialize;
use superset_operator_api::template::{ContainerTemplate, DeploymentTemplate, PodTemplate};
use superset_operator_render::merge;

/// What the target reads: any of the four templates may be absent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// `spec.podTemplate`.
    #[serde(default)]
    pub top: Option<PodTemplate>,
    /// The component's `podTemplate`.
    #[serde(default)]
    pub component: Option<PodTemplate>,
    /// `spec.deploymentTemplate`.
    #[serde(default)]
    pub top_deployment: Option<DeploymentTemplate>,
    /// The component's `deploymentTemplate`.
    #[serde(default)]
    pub component_deployment: Option<DeploymentTemplate>,
}

/// The target: JSON or YAML of an [`Input`].
pub fn target(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let input = serde_json::from_str::<Input>(text)
        .ok()
        .or_else(|| serde_yaml::from_str::<Input>(text).ok());
    if let Some(input) = input {
        check(&input);
    }
}

/// Checks every merge of `input`.
pub fn check(input: &Input) {
    check_pod(input.top.as_ref(), input.component.as_ref());
    // Merging with nothing, either way round, must lose nothing either.
    check_pod(input.top.as_ref(), None);
    check_pod(None, input.component.as_ref());
    check_deployment(
        input.top_deployment.as_ref(),
        input.component_deployment.as_ref(),
    );
}

fn check_pod(top: Option<&PodTemplate>, component: Option<&PodTemplate>) {
    let merged = merge::pod_template(top, component);
    let empty = PodTemplate::default();
    let (t, c) = (top.unwrap_or(&empty), component.unwrap_or(&empty));

    by_key(
        "annotations",
        &merged.annotations,
        &t.annotations,
        &c.annotations,
    );
    by_key("labels", &merged.labels, &t.labels, &c.labels);
    by_key(
        "nodeSelector",
        &merged.node_selector,
        &t.node_selector,
        &c.node_selector,
    );

    replaced("affinity", &merged.affinity, &t.affinity, &c.affinity);
    replaced(
        "podSecurityContext",
        &merged.pod_security_context,
        &t.pod_security_context,
        &c.pod_security_context,
    );
    replaced(
        "priorityClassName",
        &merged.priority_class_name,
        &t.priority_class_name,
        &c.priority_class_name,
    );
    replaced(
        "terminationGracePeriodSeconds",
        &merged.termination_grace_period_seconds,
        &t.termination_grace_period_seconds,
        &c.termination_grace_period_seconds,
    );
    replaced(
        "dnsPolicy",
        &merged.dns_policy,
        &t.dns_policy,
        &c.dns_policy,
    );
    replaced(
        "dnsConfig",
        &merged.dns_config,
        &t.dns_config,
        &c.dns_config,
    );
    replaced(
        "runtimeClassName",
        &merged.runtime_class_name,
        &t.runtime_class_name,
        &c.runtime_class_name,
    );
    replaced(
        "shareProcessNamespace",
        &merged.share_process_namespace,
        &t.share_process_namespace,
        &c.share_process_namespace,
    );
    replaced(
        "enableServiceLinks",
        &merged.enable_service_links,
        &t.enable_service_links,
        &c.enable_service_links,
    );
    replaced("resources", &merged.resources, &t.resources, &c.resources);

    appended(
        "tolerations",
        &merged.tolerations,
        &t.tolerations,
        &c.tolerations,
    );
    appended(
        "topologySpreadConstraints",
        &merged.topology_spread_constraints,
        &t.topology_spread_constraints,
        &c.topology_spread_constraints,
    );

    named("volumes", &merged.volumes, &t.volumes, &c.volumes, |v| {
        v.name.clone()
    });
    named(
        "sidecars",
        &merged.sidecars,
        &t.sidecars,
        &c.sidecars,
        |s| s.name.clone(),
    );
    named(
        "initContainers",
        &merged.init_containers,
        &t.init_containers,
        &c.init_containers,
        |s| s.name.clone(),
    );
    named(
        "hostAliases",
        &merged.host_aliases,
        &t.host_aliases,
        &c.host_aliases,
        |h| h.ip.clone(),
    );

    let merged_container = merged
        .container
        .as_ref()
        .expect("the merged template always has a container");
    check_container(merged_container, t.container.as_ref(), c.container.as_ref());

    let written = serde_json::to_value(&merged).expect("templates serialise");
    let read: PodTemplate = serde_json::from_value(written.clone())
        .unwrap_or_else(|e| panic!("the merged template does not read back ({e}): {written}"));
    assert_eq!(read, merged, "the merged template reads back differently");
}

fn check_container(
    merged: &ContainerTemplate,
    top: Option<&ContainerTemplate>,
    component: Option<&ContainerTemplate>,
) {
    let empty = ContainerTemplate::default();
    let (t, c) = (top.unwrap_or(&empty), component.unwrap_or(&empty));
    assert_eq!(merged.command, c.command, "command was inherited or lost");
    assert_eq!(merged.args, c.args, "args were inherited or lost");
    named("env", &merged.env, &t.env, &c.env, |e| e.name.clone());
    appended("envFrom", &merged.env_from, &t.env_from, &c.env_from);
    mounts(&merged.volume_mounts, &t.volume_mounts, &c.volume_mounts);
    ports(&merged.ports, &t.ports, &c.ports);
    replaced(
        "container.resources",
        &merged.resources,
        &t.resources,
        &c.resources,
    );
    replaced(
        "securityContext",
        &merged.security_context,
        &t.security_context,
        &c.security_context,
    );
    replaced(
        "livenessProbe",
        &merged.liveness_probe,
        &t.liveness_probe,
        &c.liveness_probe,
    );
    replaced(
        "readinessProbe",
        &merged.readiness_probe,
        &t.readiness_probe,
        &c.readiness_probe,
    );
    replaced(
        "startupProbe",
        &merged.startup_probe,
        &t.startup_probe,
        &c.startup_probe,
    );
    replaced("lifecycle", &merged.lifecycle, &t.lifecycle, &c.lifecycle);
}

fn check_deployment(top: Option<&DeploymentTemplate>, component: Option<&DeploymentTemplate>) {
    let merged = merge::deployment_template(top, component);
    let empty = DeploymentTemplate::default();
    let (t, c) = (top.unwrap_or(&empty), component.unwrap_or(&empty));
    let m = merged.clone().unwrap_or_default();
    assert_eq!(
        merged.is_none(),
        m == empty,
        "`None` is for an empty merge only"
    );
    replaced(
        "revisionHistoryLimit",
        &m.revision_history_limit,
        &t.revision_history_limit,
        &c.revision_history_limit,
    );
    replaced(
        "minReadySeconds",
        &m.min_ready_seconds,
        &t.min_ready_seconds,
        &c.min_ready_seconds,
    );
    replaced(
        "progressDeadlineSeconds",
        &m.progress_deadline_seconds,
        &t.progress_deadline_seconds,
        &c.progress_deadline_seconds,
    );
    replaced("strategy", &m.strategy, &t.strategy, &c.strategy);
    by_key("deployment labels", &m.labels, &t.labels, &c.labels);
    by_key(
        "deployment annotations",
        &m.annotations,
        &t.annotations,
        &c.annotations,
    );
}

/// Maps: every key of either side, the component's value where both have one.
fn by_key(
    field: &str,
    merged: &BTreeMap<String, String>,
    top: &BTreeMap<String, String>,
    component: &BTreeMap<String, String>,
) {
    let keys = top.keys().chain(component.keys());
    assert_eq!(
        merged.len(),
        keys.collect::<std::collections::BTreeSet<_>>().len(),
        "{field}: keys added or lost"
    );
    for (key, value) in merged {
        let expected = component.get(key).or_else(|| top.get(key));
        assert_eq!(Some(value), expected, "{field}.{key}");
    }
}

/// Scalars and structs: the component's when set, else the top-level one, whole.
fn replaced<T: PartialEq + Debug + Clone>(
    field: &str,
    merged: &Option<T>,
    top: &Option<T>,
    component: &Option<T>,
) {
    let expected = component.clone().or_else(|| top.clone());
    assert_eq!(merged, &expected, "{field} is not replaced whole");
}

/// Unnamed lists: the top-level entries, then the component's.
fn appended<T: PartialEq + Debug + Clone>(field: &str, merged: &[T], top: &[T], component: &[T]) {
    let expected: Vec<T> = top.iter().chain(component).cloned().collect();
    assert_eq!(merged, expected.as_slice(), "{field} is not appended");
}

/// Named lists: each key once, where it first appeared, with the value of its last entry.
fn named<T: PartialEq + Debug + Clone, K: PartialEq + Debug>(
    field: &str,
    merged: &[T],
    top: &[T],
    component: &[T],
    key: impl Fn(&T) -> K,
) {
    let all: Vec<&T> = top.iter().chain(component).collect();
    let mut expected: Vec<&T> = Vec::new();
    for (index, item) in all.iter().enumerate() {
        let k = key(item);
        if expected.iter().any(|e| key(e) == k) {
            continue;
        }
        let last = all[index..]
            .iter()
            .rev()
            .find(|later| key(later) == k)
            .expect("the item itself");
        expected.push(last);
    }
    let expected: Vec<T> = expected.into_iter().cloned().collect();
    assert_eq!(merged, expected.as_slice(), "{field} is not merged by key");
}

/// Kubernetes tells mounts apart by path: one volume mounted twice (a ConfigMap's keys under
/// two `subPath`s) is two mounts, and the merge keeps both.
fn mounts(merged: &[VolumeMount], top: &[VolumeMount], component: &[VolumeMount]) {
    let all: Vec<&VolumeMount> = top.iter().chain(component).collect();
    let lost = all.iter().enumerate().find(|(index, mount)| {
        !merged.contains(mount)
            && !all[index + 1..]
                .iter()
                .any(|later| later.mount_path == mount.mount_path)
    });
    if let Some((_, mount)) = lost {
        panic!(
            "volumeMounts: the mount of {:?} at {:?} was dropped, though no later mount uses that path",
            mount.name, mount.mount_path
        );
    }
    named("volumeMounts", merged, top, component, |m| {
        m.mount_path.clone()
    });
}

/// Ports are keyed by name, which is optional: two unnamed ports are two ports unless they
/// share number and protocol.
fn ports(merged: &[ContainerPort], top: &[ContainerPort], component: &[ContainerPort]) {
    let protocol = |p: &ContainerPort| p.protocol.clone().unwrap_or_else(|| "TCP".into());
    let all: Vec<&ContainerPort> = top.iter().chain(component).collect();
    let lost = all.iter().enumerate().find(|(index, port)| {
        port.name.is_none()
            && !merged.contains(port)
            && !all[index + 1..].iter().any(|later| {
                later.name.is_none()
                    && later.container_port == port.container_port
                    && protocol(later) == protocol(port)
            })
    });
    if let Some((_, port)) = lost {
        panic!(
            "ports: the unnamed port {} was dropped in favour of another unnamed port",
            port.container_port
        );
    }
    named("ports", merged, top, component, |p| match &p.name {
        Some(name) => (Some(name.clone()), 0, String::new()),
        None => (None, p.container_port, protocol(p)),
    });
}

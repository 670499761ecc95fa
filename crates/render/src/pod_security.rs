//! What a Production Superset refuses in its pod templates: anything below the baseline Pod
//! Security Standard. Creating a Superset means creating pods through the operator, with the
//! instance's Secrets in them; a template that asks for a privileged container or a host path
//! would otherwise be rendered as written, whatever the namespace's own policy is.

use k8s_openapi::api::core::v1::{Container, PodSecurityContext, SecurityContext};
use superset_operator_api::template::PodTemplate;

/// The capabilities the baseline standard lets a container add.
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// The sysctls the baseline standard calls safe.
const SAFE_SYSCTLS: [&str; 8] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
];

/// What in `pod` is below the baseline standard, each as the field and what it asks for.
pub fn baseline_violations(pod: &PodTemplate) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(context) = &pod.pod_security_context {
        pod_context(context, &mut found);
    }
    for volume in &pod.volumes {
        if volume.host_path.is_some() {
            found.push(format!("volumes[{}].hostPath", volume.name));
        }
    }
    if let Some(main) = &pod.container {
        if let Some(context) = &main.security_context {
            container_context("container", context, &mut found);
        }
        host_ports(
            "container",
            main.ports.iter().map(|p| p.host_port),
            &mut found,
        );
    }
    let others = [
        ("sidecars", &pod.sidecars),
        ("initContainers", &pod.init_containers),
    ];
    for (field, containers) in others {
        for container in containers {
            other_container(
                &format!("{field}[{}]", container.name),
                container,
                &mut found,
            );
        }
    }
    found
}

fn other_container(place: &str, container: &Container, found: &mut Vec<String>) {
    if let Some(context) = &container.security_context {
        container_context(place, context, found);
    }
    let ports = container.ports.iter().flatten().map(|p| p.host_port);
    host_ports(place, ports, found);
}

fn host_ports(place: &str, ports: impl Iterator<Item = Option<i32>>, found: &mut Vec<String>) {
    if ports.flatten().any(|port| port != 0) {
        found.push(format!("{place}.ports[].hostPort"));
    }
}

fn pod_context(context: &PodSecurityContext, found: &mut Vec<String>) {
    let seccomp = context.seccomp_profile.as_ref().map(|s| s.type_.as_str());
    if seccomp == Some("Unconfined") {
        found.push("podSecurityContext.seccompProfile: Unconfined".into());
    }
    for sysctl in context.sysctls.iter().flatten() {
        if !SAFE_SYSCTLS.contains(&sysctl.name.as_str()) {
            found.push(format!("podSecurityContext.sysctls: {}", sysctl.name));
        }
    }
}

fn container_context(place: &str, context: &SecurityContext, found: &mut Vec<String>) {
    if context.privileged == Some(true) {
        found.push(format!("{place}.securityContext.privileged"));
    }
    let added = context
        .capabilities
        .iter()
        .flat_map(|c| c.add.iter().flatten());
    for capability in added {
        let name = capability.trim_start_matches("CAP_");
        if !BASELINE_CAPABILITIES.contains(&name) {
            found.push(format!(
                "{place}.securityContext.capabilities.add: {capability}"
            ));
        }
    }
    let seccomp = context.seccomp_profile.as_ref().map(|s| s.type_.as_str());
    if seccomp == Some("Unconfined") {
        found.push(format!(
            "{place}.securityContext.seccompProfile: Unconfined"
        ));
    }
    if context.proc_mount.as_deref() == Some("Unmasked") {
        found.push(format!("{place}.securityContext.procMount: Unmasked"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> PodTemplate {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn what_the_baseline_standard_forbids_is_named() {
        let bad = pod("
podSecurityContext: {seccompProfile: {type: Unconfined}, sysctls: [{name: kernel.msgmax, value: '1'}]}
volumes: [{name: root, hostPath: {path: /}}]
container:
  securityContext: {capabilities: {add: [SYS_ADMIN, CHOWN]}}
  ports: [{containerPort: 8088, hostPort: 80}]
sidecars: [{name: debug, image: x, securityContext: {privileged: true, procMount: Unmasked}}]
initContainers: [{name: net, image: x, securityContext: {capabilities: {add: [CAP_NET_ADMIN]}}}]
");
        assert_eq!(
            baseline_violations(&bad),
            [
                "podSecurityContext.seccompProfile: Unconfined",
                "podSecurityContext.sysctls: kernel.msgmax",
                "volumes[root].hostPath",
                "container.securityContext.capabilities.add: SYS_ADMIN",
                "container.ports[].hostPort",
                "sidecars[debug].securityContext.privileged",
                "sidecars[debug].securityContext.procMount: Unmasked",
                "initContainers[net].securityContext.capabilities.add: CAP_NET_ADMIN",
            ]
        );
    }

    #[test]
    fn what_the_baseline_standard_allows_passes() {
        let fine = pod("
podSecurityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, sysctls: [{name: net.ipv4.tcp_keepalive_time, value: '60'}]}
volumes: [{name: cache, emptyDir: {}}]
container:
  securityContext: {capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}, privileged: false}
  ports: [{containerPort: 8088}]
sidecars: [{name: proxy, image: x, ports: [{containerPort: 5432, hostPort: 0}]}]
");
        assert!(baseline_violations(&fine).is_empty());
    }
}

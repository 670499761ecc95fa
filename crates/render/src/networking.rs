//! Publishing and isolation: the Ingress and one NetworkPolicy per component.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec as KubeIngressSpec, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec as KubeNetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use superset_operator_api::SupersetSpec;
use superset_operator_api::superset::Environment;
use superset_operator_api::superset::networking::{
    GatewaySpec, IngressPathType, IngressSpec, NetworkPolicySpec, ServiceMonitorSpec,
};

use crate::component::Component;
use crate::{Resolved, labels, naming};

/// A component published under a path: its Service and the Service's port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The component.
    pub component: Component,
    /// URL path prefix.
    pub path: String,
    /// Service name.
    pub service: String,
    /// Service port.
    pub port: i32,
}

/// Components reachable from outside, most specific path first and the web server last.
/// Flower is published in Production only when its `gatewayPath` is set explicitly.
pub fn routes(spec: &SupersetSpec, parent: &str, resolved: &Resolved) -> Vec<Route> {
    let mut routes = Vec::new();
    for component in [
        Component::WebsocketServer,
        Component::McpServer,
        Component::CeleryFlower,
        Component::WebServer,
    ] {
        let Some(resolved) = resolved
            .components
            .iter()
            .find(|c| c.component == component)
        else {
            continue;
        };
        let service = match &resolved.child {
            crate::Child::WebServer(c) => c.spec.service.clone(),
            crate::Child::CeleryFlower(c) => c.spec.service.clone(),
            crate::Child::McpServer(c) => c.spec.service.clone(),
            crate::Child::WebsocketServer(c) => c.spec.service.clone(),
            _ => None,
        }
        .unwrap_or_default();
        if component == Component::CeleryFlower
            && spec.environment == Environment::Production
            && service.gateway_path.is_none()
        {
            continue;
        }
        let default = component
            .default_route_path()
            .expect("served components have a route");
        let path = if component == Component::WebServer {
            "/".to_owned()
        } else {
            service
                .gateway_path
                .clone()
                .unwrap_or_else(|| default.to_owned())
        };
        let port = service
            .port
            .or(component.default_port().map(|p| p.port))
            .unwrap_or(8088);
        routes.push(Route {
            component,
            path,
            service: naming::workload(parent, component),
            port,
        });
    }
    routes
}

fn route_labels(parent: &str, user: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let operator = BTreeMap::from([
        (labels::NAME.to_owned(), "superset".to_owned()),
        (labels::PARENT.to_owned(), parent.to_owned()),
        (
            labels::MANAGED_BY.to_owned(),
            "superset-operator".to_owned(),
        ),
    ]);
    labels::merge_user_and_operator(user, &operator)
}

fn backend(route: &Route) -> IngressBackend {
    IngressBackend {
        service: Some(IngressServiceBackend {
            name: route.service.clone(),
            port: Some(ServiceBackendPort {
                number: Some(route.port),
                name: None,
            }),
        }),
        resource: None,
    }
}

fn path_type(kind: IngressPathType) -> String {
    match kind {
        IngressPathType::Prefix => "Prefix",
        IngressPathType::Exact => "Exact",
        IngressPathType::ImplementationSpecific => "ImplementationSpecific",
    }
    .to_owned()
}

/// The Ingress. A host with explicit paths routes them to the web server; a host without
/// routes every published component at its path.
pub fn ingress(
    parent: &str,
    namespace: Option<&str>,
    spec: &IngressSpec,
    routes: &[Route],
) -> Ingress {
    let web = routes.iter().find(|r| r.component == Component::WebServer);
    let mut hosts = spec.hosts.clone();
    if hosts.is_empty() {
        hosts.push(superset_operator_api::superset::networking::IngressHost {
            host: spec.host.clone(),
            paths: Vec::new(),
        });
    }
    let rules = hosts
        .iter()
        .map(|host| {
            let paths = if host.paths.is_empty() {
                routes
                    .iter()
                    .map(|r| HTTPIngressPath {
                        path: Some(r.path.clone()),
                        path_type: "Prefix".into(),
                        backend: backend(r),
                    })
                    .collect()
            } else {
                web.map(|web| {
                    host.paths
                        .iter()
                        .map(|p| HTTPIngressPath {
                            path: Some(p.path.clone()),
                            path_type: path_type(p.path_type),
                            backend: backend(web),
                        })
                        .collect()
                })
                .unwrap_or_default()
            };
            IngressRule {
                host: host.host.clone(),
                http: Some(HTTPIngressRuleValue { paths }),
            }
        })
        .collect();
    Ingress {
        metadata: ObjectMeta {
            name: Some(naming::route(parent)),
            namespace: namespace.map(str::to_owned),
            labels: Some(route_labels(parent, &spec.labels)),
            annotations: (!spec.annotations.is_empty()).then(|| spec.annotations.clone()),
            ..Default::default()
        },
        spec: Some(KubeIngressSpec {
            ingress_class_name: spec.class_name.clone(),
            rules: Some(rules),
            tls: (!spec.tls.is_empty()).then(|| spec.tls.clone()),
            ..Default::default()
        }),
        status: None,
    }
}

/// The NetworkPolicy of one component: pods of the same Superset may reach it on any port,
/// anyone may reach a published component on its serving port, egress is open, and the
/// user's extra rules are added.
pub fn network_policy(
    parent: &str,
    namespace: Option<&str>,
    component: Component,
    serving_port: Option<i32>,
    spec: &NetworkPolicySpec,
) -> NetworkPolicy {
    let same_instance = NetworkPolicyIngressRule {
        from: Some(vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([
                    (labels::NAME.to_owned(), "superset".to_owned()),
                    (labels::PARENT.to_owned(), parent.to_owned()),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ports: None,
    };
    let mut ingress = vec![same_instance];
    if let Some(port) = serving_port {
        ingress.push(NetworkPolicyIngressRule {
            from: None,
            ports: Some(vec![NetworkPolicyPort {
                port: Some(IntOrString::Int(port)),
                protocol: Some("TCP".into()),
                end_port: None,
            }]),
        });
    }
    ingress.extend(spec.extra_ingress.iter().cloned());
    let mut egress = vec![NetworkPolicyEgressRule::default()];
    egress.extend(spec.extra_egress.iter().cloned());
    let mut policy_labels = labels::component(parent, component);
    policy_labels.remove(labels::INSTANCE);
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(naming::network_policy(parent, component)),
            namespace: namespace.map(str::to_owned),
            labels: Some(policy_labels),
            ..Default::default()
        },
        spec: Some(KubeNetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(labels::selector(parent, component)),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    }
}

/// The Gateway API HTTPRoute: one rule per published component, most specific path first.
pub fn http_route(
    parent: &str,
    namespace: &str,
    spec: &GatewaySpec,
    routes: &[Route],
) -> serde_json::Value {
    let reference = &spec.gateway_ref;
    let mut parent_ref = serde_json::json!({ "name": reference.name });
    for (key, value) in [
        ("group", &reference.group),
        ("kind", &reference.kind),
        ("namespace", &reference.namespace),
        ("sectionName", &reference.section_name),
    ] {
        if let Some(value) = value {
            parent_ref[key] = serde_json::json!(value);
        }
    }
    if let Some(port) = reference.port {
        parent_ref["port"] = serde_json::json!(port);
    }
    let rules: Vec<_> = routes
        .iter()
        .map(|route| {
            serde_json::json!({
                "matches": [{ "path": { "type": "PathPrefix", "value": route.path } }],
                "backendRefs": [{ "name": route.service, "port": route.port }],
            })
        })
        .collect();
    let mut spec_json = serde_json::json!({ "parentRefs": [parent_ref], "rules": rules });
    if !spec.hostnames.is_empty() {
        spec_json["hostnames"] = serde_json::json!(spec.hostnames);
    }
    serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": naming::route(parent),
            "namespace": namespace,
            "labels": route_labels(parent, &spec.labels),
            "annotations": spec.annotations,
        },
        "spec": spec_json,
    })
}

/// The Prometheus Operator ServiceMonitor that scrapes the web server.
pub fn service_monitor(
    parent: &str,
    namespace: &str,
    spec: &ServiceMonitorSpec,
) -> serde_json::Value {
    let mut endpoint = serde_json::json!({ "port": "http", "interval": spec.interval });
    if let Some(timeout) = &spec.scrape_timeout {
        endpoint["scrapeTimeout"] = serde_json::json!(timeout);
    }
    serde_json::json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {
            "name": naming::route(parent),
            "namespace": namespace,
            "labels": route_labels(parent, &spec.labels),
        },
        "spec": {
            "selector": { "matchLabels": labels::selector(parent, Component::WebServer) },
            "namespaceSelector": { "matchNames": [namespace] },
            "endpoints": [endpoint],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(extra: &str, environment: &str) -> (SupersetSpec, Resolved) {
        let yaml = format!(
            "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata: {{name: bi}}\nspec:\n  environment: {environment}\n  secretKeyFrom: {{name: s, key: k}}\n  image: {{tag: \"6.0.0\"}}\n{extra}"
        );
        let superset: superset_operator_api::Superset = serde_yaml::from_str(&yaml).unwrap();
        let resolved = crate::resolve(&superset).unwrap();
        (superset.spec, resolved)
    }

    const ALL: &str = "  webServer: {}\n  celeryFlower: {}\n  mcpServer: {}\n  celeryWorker: {}\n";

    #[test]
    fn flower_is_published_in_production_only_when_asked() {
        let (spec, r) = resolved(ALL, "Production");
        let paths: Vec<_> = routes(&spec, "bi", &r)
            .into_iter()
            .map(|r| r.path)
            .collect();
        assert_eq!(paths, ["/mcp", "/"]);
        let (spec, r) = resolved(
            &ALL.replace(
                "celeryFlower: {}",
                "celeryFlower: {service: {gatewayPath: /ops/flower}}",
            ),
            "Production",
        );
        let paths: Vec<_> = routes(&spec, "bi", &r)
            .into_iter()
            .map(|r| r.path)
            .collect();
        assert_eq!(paths, ["/mcp", "/ops/flower", "/"]);
        let (spec, r) = resolved(ALL, "Development");
        assert_eq!(routes(&spec, "bi", &r).len(), 3);
    }

    #[test]
    fn hosts_without_paths_fan_out_and_explicit_paths_go_to_the_web_server() {
        let (spec, r) = resolved(ALL, "Development");
        let ingress_spec: IngressSpec = serde_yaml::from_str(
            "hosts: [{host: a.example.com}, {host: b.example.com, paths: [{path: /superset}]}]",
        )
        .unwrap();
        let ingress = ingress("bi", None, &ingress_spec, &routes(&spec, "bi", &r));
        let rules = ingress.spec.unwrap().rules.unwrap();
        let fan_out = &rules[0].http.as_ref().unwrap().paths;
        assert_eq!(fan_out.len(), 3);
        assert_eq!(
            fan_out
                .last()
                .unwrap()
                .backend
                .service
                .as_ref()
                .unwrap()
                .name,
            "bi-web-server"
        );
        let explicit = &rules[1].http.as_ref().unwrap().paths;
        assert_eq!(explicit.len(), 1);
        assert_eq!(explicit[0].path.as_deref(), Some("/superset"));
        assert_eq!(
            explicit[0].backend.service.as_ref().unwrap().name,
            "bi-web-server"
        );
    }

    #[test]
    fn workers_accept_only_their_own_instance() {
        let policy = network_policy(
            "bi",
            None,
            Component::CeleryWorker,
            None,
            &NetworkPolicySpec::default(),
        );
        let spec = policy.spec.unwrap();
        assert_eq!(spec.ingress.as_ref().unwrap().len(), 1);
        let web = network_policy(
            "bi",
            None,
            Component::WebServer,
            Some(8088),
            &NetworkPolicySpec::default(),
        );
        let rules = web.spec.unwrap().ingress.unwrap();
        assert_eq!(
            rules[1].ports.as_ref().unwrap()[0].port,
            Some(IntOrString::Int(8088))
        );
    }
}

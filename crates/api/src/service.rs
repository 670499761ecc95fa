//! The Service in front of a component that serves HTTP or WebSocket traffic.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a component's Service is exposed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    #[default]
    ClusterIP,
    /// Also reachable on a port of every node.
    NodePort,
    /// Also reachable through a cloud load balancer.
    LoadBalancer,
}

/// The Service of a component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.nodePort) || (has(self.type) && self.type in ['NodePort', 'LoadBalancer'])")
        .message("service.nodePort needs service.type NodePort or LoadBalancer"),
    validation = Rule::new("!has(self.nodePort) || (self.nodePort >= 30000 && self.nodePort <= 32767)")
        .message("service.nodePort must be within the node port range 30000-32767"),
)]
pub struct ComponentServiceSpec {
    /// Service type.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,

    /// Service port. Defaults: web server 8088, Flower 5555, websocket server 8080, MCP server 8088.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,

    /// Node port, for NodePort and LoadBalancer Services; chosen by Kubernetes when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i32>,

    /// Annotations on the Service.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// Labels on the Service; the operator's selector labels win on conflict.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Path under which Ingress or Gateway routes publish this component
    /// (defaults `/ws`, `/mcp`, `/flower`; the web server is always at `/`).
    /// For Flower it is also the URL prefix Flower serves under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^/[a-zA-Z0-9/_.-]+$"))]
    pub gateway_path: Option<String>,
}

//! Publishing Superset (Ingress or Gateway API), monitoring, network policies and the
//! ServiceAccount of its pods.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IngressTLS, NetworkPolicyEgressRule, NetworkPolicyIngressRule,
};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How Superset is reached from outside the cluster: an Ingress or a Gateway API HTTPRoute.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.gateway) && has(self.ingress))")
    .message("set either networking.gateway or networking.ingress, not both"))]
pub struct NetworkingSpec {
    /// Publish through a Gateway API HTTPRoute attached to an existing Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewaySpec>,

    /// Publish through an Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
}

/// An HTTPRoute with one rule per published component (`/` for the web server).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// The Gateway the route attaches to.
    pub gateway_ref: GatewayParentReference,

    /// Host names the route answers to; all of the Gateway's when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = crate::patterns::HOSTNAME), length(max = 253)))]
    pub hostnames: Vec<String>,

    /// Annotations on the HTTPRoute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// Labels on the HTTPRoute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A reference to a Gateway (the Gateway API `ParentReference`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayParentReference {
    /// API group of the parent (`gateway.networking.k8s.io` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,

    /// Kind of the parent (`Gateway` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,

    /// Namespace of the Gateway; the Superset's namespace when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,

    /// Name of the Gateway.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// Listener of the Gateway to attach to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,

    /// Port of the Gateway to attach to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// An Ingress. With no explicit paths, every published component gets its path on each host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// Ingress class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,

    /// Single host name, used when `hosts` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::patterns::HOSTNAME), length(max = 253))]
    pub host: Option<String>,

    /// Annotations on the Ingress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// Labels on the Ingress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Hosts and their paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<IngressHost>,

    /// TLS settings of the Ingress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<IngressTLS>>")]
    pub tls: Vec<IngressTLS>,
}

/// One host of the Ingress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressHost {
    /// Host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::patterns::HOSTNAME), length(max = 253))]
    pub host: Option<String>,

    /// Paths routed to the web server; empty means every published component at its path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<IngressPath>,
}

/// How an Ingress path matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum IngressPathType {
    /// Match by path prefix, element by element.
    #[default]
    Prefix,
    /// Match the exact path.
    Exact,
    /// Left to the Ingress class.
    ImplementationSpecific,
}

/// One path of an Ingress host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressPath {
    /// The path.
    #[serde(default = "default_ingress_path")]
    pub path: String,

    /// How the path matches.
    #[serde(default)]
    pub path_type: IngressPathType,
}

fn default_ingress_path() -> String {
    "/".into()
}

/// Monitoring of Superset.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// A Prometheus Operator ServiceMonitor for the web server (skipped, with a condition,
    /// while the ServiceMonitor CRD is not installed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor: Option<ServiceMonitorSpec>,
}

/// The ServiceMonitor of the web server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Scrape interval.
    #[serde(default = "default_scrape_interval")]
    pub interval: String,

    /// Scrape timeout; Prometheus' default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<String>,

    /// Labels on the ServiceMonitor, for the Prometheus that selects it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn default_scrape_interval() -> String {
    "30s".into()
}

/// NetworkPolicies: present (even `{}`) means one policy per component that admits only the
/// traffic Superset needs, plus the extra rules given here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Extra ingress rules added to every component's policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<NetworkPolicyIngressRule>>")]
    pub extra_ingress: Vec<NetworkPolicyIngressRule>,

    /// Extra egress rules added to every component's policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<NetworkPolicyEgressRule>>")]
    pub extra_egress: Vec<NetworkPolicyEgressRule>,
}

/// The ServiceAccount Superset's pods run as.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.create) || self.create || has(self.name)")
    .message("serviceAccount.name is required when serviceAccount.create is false"))]
pub struct ServiceAccountSpec {
    /// Create the ServiceAccount (true when unset); false uses an existing one named `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<bool>,

    /// Name of the ServiceAccount; the Superset's name when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::patterns::DNS_SUBDOMAIN))]
    pub name: Option<String>,

    /// Annotations on the created ServiceAccount (for example a cloud IAM role).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

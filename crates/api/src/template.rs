//! Deployment and pod templates: the knobs users set once at the top of a `Superset` and
//! override per component. Children carry them fully resolved.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DeploymentStrategy;
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EnvFromSource, EnvVar, HostAlias, Lifecycle, PodDNSConfig,
    PodSecurityContext, Probe, ResourceRequirements, SecurityContext, Toleration,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Settings of the Deployment that runs a component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentTemplate {
    /// How many old ReplicaSets the Deployment keeps for rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub revision_history_limit: Option<i32>,

    /// Seconds a new pod must be ready before it counts as available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub min_ready_seconds: Option<i32>,

    /// Seconds a rollout may make no progress before the Deployment reports it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub progress_deadline_seconds: Option<i32>,

    /// How old pods are replaced by new ones (RollingUpdate or Recreate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<DeploymentStrategy>>")]
    pub strategy: Option<DeploymentStrategy>,

    /// Labels added to the Deployment's own metadata (not to its pods).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Annotations added to the Deployment's own metadata (not to its pods).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Settings of the pods of a component or task. Set at the top of the spec, they apply to
/// every pod; a component's own template is merged over them field by field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// Annotations on the pods. The operator's config-checksum annotation cannot be overridden.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,

    /// Labels on the pods. Keys under `superset.apache.org/` are reserved for the operator.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Scheduling constraints (node, pod affinity and anti-affinity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<Affinity>>")]
    pub affinity: Option<Affinity>,

    /// Taints the pods tolerate. Component entries are appended to top-level ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<Toleration>>")]
    pub tolerations: Vec<Toleration>,

    /// Node labels the pods must be scheduled on. Merged by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// How pods spread across zones or nodes. Component entries are appended to top-level ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<TopologySpreadConstraint>>")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,

    /// Extra `/etc/hosts` entries, merged by IP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<HostAlias>>")]
    pub host_aliases: Vec<HostAlias>,

    /// Pod-level security settings. When unset, the operator applies a context that satisfies
    /// the `restricted` Pod Security Standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<PodSecurityContext>>")]
    pub pod_security_context: Option<PodSecurityContext>,

    /// Priority class of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    /// Extra volumes, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<Volume>>")]
    pub volumes: Vec<Volume>,

    /// Extra containers running next to the main container, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<Container>>")]
    pub sidecars: Vec<Container>,

    /// Containers that run to completion before the main container starts, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<Container>>")]
    pub init_containers: Vec<Container>,

    /// Seconds the pod is given to stop gracefully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: Option<i64>,

    /// DNS policy of the pods (`ClusterFirst`, `Default`, `None`, `ClusterFirstWithHostNet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_policy: Option<String>,

    /// Custom DNS settings of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<PodDNSConfig>>")]
    pub dns_config: Option<PodDNSConfig>,

    /// Runtime class of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,

    /// Whether the containers of a pod share one process namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_process_namespace: Option<bool>,

    /// Whether Service environment variables are injected into the containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_service_links: Option<bool>,

    /// Pod-level resource requests and limits (needs the PodLevelResources feature gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<ResourceRequirements>>")]
    pub resources: Option<ResourceRequirements>,

    /// Settings of the main container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerTemplate>,
}

/// Settings of the main container of a pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerTemplate {
    /// Resource requests and limits of the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<ResourceRequirements>>")]
    pub resources: Option<ResourceRequirements>,

    /// Extra environment variables, merged by name. The operator's own variables win.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<EnvVar>>")]
    pub env: Vec<EnvVar>,

    /// Sources of environment variables (ConfigMaps, Secrets). Component entries are appended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<EnvFromSource>>")]
    pub env_from: Vec<EnvFromSource>,

    /// Extra volume mounts, merged by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<VolumeMount>>")]
    pub volume_mounts: Vec<VolumeMount>,

    /// Container ports. When set, they replace the component's default ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<ContainerPort>>")]
    pub ports: Vec<ContainerPort>,

    /// Container security settings. When unset, the operator applies a context that satisfies
    /// the `restricted` Pod Security Standard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<SecurityContext>>")]
    pub security_context: Option<SecurityContext>,

    /// Entrypoint. Never inherited from the top-level template: set it on the component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,

    /// Arguments to the entrypoint. Never inherited from the top-level template.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,

    /// Liveness probe; replaces the component's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<Probe>>")]
    pub liveness_probe: Option<Probe>,

    /// Readiness probe; replaces the component's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<Probe>>")]
    pub readiness_probe: Option<Probe>,

    /// Startup probe; replaces the component's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<Probe>>")]
    pub startup_probe: Option<Probe>,

    /// Hooks run after start and before stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::core::<Option<Lifecycle>>")]
    pub lifecycle: Option<Lifecycle>,
}

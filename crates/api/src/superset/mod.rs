//! `Superset`: the one resource users write. The operator resolves it into one child resource
//! per component and per lifecycle task.

pub mod components;
pub mod lifecycle;
pub mod metastore;
pub mod networking;
pub mod status;
pub mod valkey;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::SecretKeySelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::image::ImageSpec;
use crate::scaling::{AutoscalingSpec, PodDisruptionBudgetSpec};
use crate::template::{DeploymentTemplate, PodTemplate};
use crate::tuning::SqlaEngineOptionsSpec;

use components::{
    CeleryBeatComponentSpec, CeleryFlowerComponentSpec, CeleryWorkerComponentSpec,
    McpServerComponentSpec, WebServerComponentSpec, WebsocketServerComponentSpec,
};
use lifecycle::LifecycleSpec;
use metastore::MetastoreSpec;
use networking::{MonitoringSpec, NetworkPolicySpec, NetworkingSpec, ServiceAccountSpec};
use status::SupersetStatus;
use valkey::ValkeySpec;

/// How strict admission is about inline secrets and development helpers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Environment {
    /// Inline secrets, the admin user, example data and seeding are allowed.
    Development,
    /// Like Production, but seeding from another database is allowed.
    Staging,
    /// Secrets only from Secret references; no development helpers.
    #[default]
    Production,
}

/// A Superset instance: its image, configuration, components and lifecycle.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "superset.apache.org",
    version = "v1alpha1",
    kind = "Superset",
    namespaced,
    status = "SupersetStatus",
    derive = "PartialEq",
    shortname = "sup",
    category = "superset-all",
    doc = "A Superset instance. The operator resolves it into one child resource per component and per lifecycle task, runs the lifecycle tasks in order, and reports progress in status.",
    printcolumn(name = "Tag", type_ = "string", json_path = ".status.tag"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Lifecycle", type_ = "string", json_path = ".status.lifecycle.phase"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.ready"),
    printcolumn(name = "Available", type_ = "string", json_path = ".status.conditions[?(@.type==\"Available\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 63").message("metadata.name must be at most 63 characters"),
    validation = Rule::new("self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"),
    validation = Rule::new("!has(self.spec.webServer) || self.metadata.name.size() <= 52").message("metadata.name must be at most 52 characters with webServer (objects are named <name>-web-server)"),
    validation = Rule::new("!has(self.spec.celeryWorker) || self.metadata.name.size() <= 49").message("metadata.name must be at most 49 characters with celeryWorker (objects are named <name>-celery-worker)"),
    validation = Rule::new("!has(self.spec.celeryBeat) || self.metadata.name.size() <= 51").message("metadata.name must be at most 51 characters with celeryBeat (objects are named <name>-celery-beat)"),
    validation = Rule::new("!has(self.spec.celeryFlower) || self.metadata.name.size() <= 49").message("metadata.name must be at most 49 characters with celeryFlower (objects are named <name>-celery-flower)"),
    validation = Rule::new("!has(self.spec.websocketServer) || self.metadata.name.size() <= 46").message("metadata.name must be at most 46 characters with websocketServer (objects are named <name>-websocket-server)"),
    validation = Rule::new("!has(self.spec.mcpServer) || self.metadata.name.size() <= 52").message("metadata.name must be at most 52 characters with mcpServer (objects are named <name>-mcp-server)"),
    validation = Rule::new("!has(self.spec.lifecycle) || !has(self.spec.lifecycle.maintenancePage) || self.metadata.name.size() <= 46").message("metadata.name must be at most 46 characters with lifecycle.maintenancePage (objects are named <name>-maintenance-page)"),
    validation = Rule::new("!has(self.spec.lifecycle) || !has(self.spec.lifecycle.rotate) || self.metadata.name.size() <= 49").message("metadata.name must be at most 49 characters with lifecycle.rotate (objects are named <name>-rotate-config)"),
    validation = Rule::new("(has(self.spec.lifecycle) && has(self.spec.lifecycle.disabled) && self.spec.lifecycle.disabled) || self.metadata.name.size() <= 48").message("metadata.name must be at most 48 characters while lifecycle tasks run (objects are named <name>-migrate-config)"),
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.secretKey) != has(self.secretKeyFrom)")
        .message("set exactly one of spec.secretKey or spec.secretKeyFrom"),
    validation = Rule::new("!has(self.secretKey) || self.environment == 'Development'")
        .message("spec.secretKey (inline) is allowed only in Development: use spec.secretKeyFrom"),
    validation = Rule::new("!has(self.metastore) || !has(self.metastore.uri) || self.environment == 'Development'")
        .message("spec.metastore.uri (inline) is allowed only in Development: use spec.metastore.uriFrom"),
    validation = Rule::new("!has(self.metastore) || !has(self.metastore.password) || self.environment == 'Development'")
        .message("spec.metastore.password (inline) is allowed only in Development: use spec.metastore.passwordFrom"),
    validation = Rule::new("!has(self.valkey) || !has(self.valkey.password) || self.environment == 'Development'")
        .message("spec.valkey.password (inline) is allowed only in Development: use spec.valkey.passwordFrom"),
    validation = Rule::new("!has(self.lifecycle) || !has(self.lifecycle.init) || !has(self.lifecycle.init.adminUser) || self.environment == 'Development'")
        .message("spec.lifecycle.init.adminUser is allowed only in Development"),
    validation = Rule::new("!has(self.lifecycle) || !has(self.lifecycle.init) || !has(self.lifecycle.init.loadExamples) || !self.lifecycle.init.loadExamples || self.environment == 'Development'")
        .message("spec.lifecycle.init.loadExamples is allowed only in Development"),
    validation = Rule::new("!has(self.networking) || !has(self.networking.ingress) || has(self.webServer)")
        .message("spec.networking.ingress needs spec.webServer"),
    validation = Rule::new("!has(self.networking) || !has(self.networking.gateway) || has(self.webServer) || has(self.websocketServer) || has(self.mcpServer) || has(self.celeryFlower)")
        .message("spec.networking.gateway needs at least one of webServer, websocketServer, mcpServer or celeryFlower"),
    validation = Rule::new("!has(self.monitoring) || !has(self.monitoring.serviceMonitor) || has(self.webServer)")
        .message("spec.monitoring.serviceMonitor needs spec.webServer"),
    validation = Rule::new("!has(self.lifecycle) || !has(self.lifecycle.seed) || (has(self.lifecycle.seed.disabled) && self.lifecycle.seed.disabled) || self.environment != 'Production'")
        .message("spec.lifecycle.seed is allowed only in Development and Staging"),
    validation = Rule::new("!has(self.lifecycle) || !has(self.lifecycle.seed) || !has(self.lifecycle.seed.source.password) || self.environment == 'Development'")
        .message("spec.lifecycle.seed.source.password (inline) is allowed only in Development: use passwordFrom"),
    validation = Rule::new("!has(self.lifecycle) || !has(self.lifecycle.seed) || (has(self.lifecycle.seed.disabled) && self.lifecycle.seed.disabled) || (has(self.metastore) && has(self.metastore.host))")
        .message("spec.lifecycle.seed needs a structured metastore (spec.metastore.host) to copy into"),
    validation = Rule::new("!has(self.lifecycle) || !has(self.lifecycle.seed) || (has(self.lifecycle.seed.disabled) && self.lifecycle.seed.disabled) || !has(self.metastore) || self.lifecycle.seed.source.type == self.metastore.type")
        .message("spec.lifecycle.seed.source.type must match spec.metastore.type: the seed copies with one engine's own tools"),
    validation = Rule::new("!has(self.celeryFlower) || (has(self.celeryFlower.image) && (has(self.celeryFlower.image.repository) || has(self.celeryFlower.image.tag))) || !self.image.repository.endsWith('apache/superset')")
        .message("celeryFlower needs an image with Flower installed, and the official apache/superset images (lean and -dev) have none: set celeryFlower.image to an image built from yours with `pip install flower` (see docs/configuration.md, Flower)"),
    validation = Rule::new("!has(self.previousSecretKey) || self.environment == 'Development'")
        .message("spec.previousSecretKey (inline) is allowed only in Development: use spec.previousSecretKeyFrom"),
    validation = Rule::new("!(has(self.previousSecretKey) && has(self.previousSecretKeyFrom))")
        .message("set either spec.previousSecretKey or spec.previousSecretKeyFrom, not both"),
    validation = Rule::new("!has(self.lifecycle) || !has(self.lifecycle.rotate) || (has(self.lifecycle.rotate.disabled) && self.lifecycle.rotate.disabled) || has(self.previousSecretKey) || has(self.previousSecretKeyFrom)")
        .message("spec.lifecycle.rotate needs spec.previousSecretKey or spec.previousSecretKeyFrom: the key to re-encrypt from"),
    validation = Rule::new("!has(self.websocketServer) || !has(self.websocketServer.config) || self.environment == 'Development'")
        .message("spec.websocketServer.config (inline, it holds the JWT secret) is allowed only in Development: use spec.websocketServer.configFrom"),
)]
pub struct SupersetSpec {
    /// The Superset image, inherited by every component and by the migrate, rotate and init tasks.
    pub image: ImageSpec,

    /// Deployment settings for every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_template: Option<DeploymentTemplate>,

    /// Pod settings for every component and task pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// Replicas of each scalable component (1 when unset). Celery beat always runs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,

    /// Autoscaling for each scalable component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,

    /// Disruption budget for each scalable component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,

    /// Admission strictness. Production (the default) rejects inline secrets.
    #[serde(default)]
    pub environment: Environment,

    /// Superset's `SECRET_KEY`, inline. Development only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,

    /// Superset's `SECRET_KEY`, read from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_from: Option<SecretKeySelector>,

    /// The previous `SECRET_KEY`, inline, for the rotate task. Development only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_key: Option<String>,

    /// The previous `SECRET_KEY`, read from a Secret key, for the rotate task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_key_from: Option<SecretKeySelector>,

    /// The metastore database. Without it, no database URI is rendered (set one in `config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metastore: Option<MetastoreSpec>,

    /// Valkey for caches, Celery and SQL Lab results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valkey: Option<ValkeySpec>,

    /// Python appended to every `superset_config.py` (components and tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// Shell sourced before every Superset process starts, for example to install a driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_script: Option<String>,

    /// Superset feature flags, rendered in sorted order into `FEATURE_FLAGS`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, k.matches('^[A-Z][A-Z0-9_]*$'))")
        .message("spec.featureFlags keys must be upper-case Superset flag names such as ALERT_REPORTS"))]
    pub feature_flags: BTreeMap<String, bool>,

    /// Connection pool of every Python component (the `balanced` preset when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqla_engine_options: Option<SqlaEngineOptionsSpec>,

    /// The web server. Present means deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_server: Option<WebServerComponentSpec>,

    /// Celery workers. Present means deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celery_worker: Option<CeleryWorkerComponentSpec>,

    /// Celery beat. Present means deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celery_beat: Option<CeleryBeatComponentSpec>,

    /// Celery Flower. Present means deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celery_flower: Option<CeleryFlowerComponentSpec>,

    /// The websocket server. Present means deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket_server: Option<WebsocketServerComponentSpec>,

    /// The MCP server. Present means deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server: Option<McpServerComponentSpec>,

    /// Lifecycle tasks. Migrate and init run even when this is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Box<LifecycleSpec>>,

    /// Ingress or Gateway API route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<NetworkingSpec>,

    /// Prometheus ServiceMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,

    /// NetworkPolicies; present (even `{}`) means enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,

    /// ServiceAccount of the pods (created, named after the Superset, when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountSpec>,

    /// Stop reconciling: nothing is written while status stays current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,

    /// Scale every component to zero (autoscalers removed) while keeping Services, ConfigMaps
    /// and Secrets; clearing it brings the replicas of the spec back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<bool>,

    /// Any string; changing it restarts every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_reload: Option<String>,
}

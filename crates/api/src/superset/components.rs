//! The six components a `Superset` can run. Presence enables one: `celeryWorker: {}` deploys
//! workers with defaults.

use k8s_openapi::api::core::v1::SecretKeySelector;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::image::ImageOverrideSpec;
use crate::scaling::{AutoscalingSpec, PodDisruptionBudgetSpec};
use crate::service::ComponentServiceSpec;
use crate::template::{DeploymentTemplate, PodTemplate};
use crate::tuning::{CeleryWorkerProcessSpec, GunicornSpec, SqlaEngineOptionsSpec};

/// Deployment, pods and scaling of a component that can run more than one replica. Each field
/// overrides the top-level field of the same name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScalableSpec {
    /// Deployment settings, merged over `spec.deploymentTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_template: Option<DeploymentTemplate>,

    /// Pod settings, merged over `spec.podTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// Replicas; overrides `spec.replicas`. Ignored while autoscaling is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,

    /// Autoscaling; replaces `spec.autoscaling` whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,

    /// Disruption budget; replaces `spec.podDisruptionBudget` whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
}

/// The web server: Superset's UI and REST API under Gunicorn.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebServerComponentSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub scalable: ScalableSpec,

    /// Image override for the web server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOverrideSpec>,

    /// Python appended to the web server's `superset_config.py`, after `spec.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// Shell sourced before the web server starts; replaces `spec.bootstrapScript`
    /// (`""` runs none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_script: Option<String>,

    /// The web server's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ComponentServiceSpec>,

    /// Gunicorn workers, threads and limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gunicorn: Option<GunicornSpec>,

    /// Connection pool; replaces `spec.sqlaEngineOptions` whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqla_engine_options: Option<SqlaEngineOptionsSpec>,
}

/// Celery workers: run asynchronous queries, reports, alerts and thumbnails.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeleryWorkerComponentSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub scalable: ScalableSpec,

    /// Image override for the workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOverrideSpec>,

    /// Python appended to the workers' `superset_config.py`, after `spec.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// Shell sourced before the worker starts; replaces `spec.bootstrapScript` (`""` runs none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_script: Option<String>,

    /// Celery pool, concurrency and limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celery: Option<CeleryWorkerProcessSpec>,

    /// Connection pool; replaces `spec.sqlaEngineOptions` whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqla_engine_options: Option<SqlaEngineOptionsSpec>,
}

/// Celery beat: the scheduler of reports and alerts. Always exactly one replica.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeleryBeatComponentSpec {
    /// Deployment settings, merged over `spec.deploymentTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_template: Option<DeploymentTemplate>,

    /// Pod settings, merged over `spec.podTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// Image override for beat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOverrideSpec>,

    /// Python appended to beat's `superset_config.py`, after `spec.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// Shell sourced before beat starts; replaces `spec.bootstrapScript` (`""` runs none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_script: Option<String>,

    /// Connection pool; replaces `spec.sqlaEngineOptions` whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqla_engine_options: Option<SqlaEngineOptionsSpec>,
}

/// Celery Flower: a web UI to watch the Celery workers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CeleryFlowerComponentSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub scalable: ScalableSpec,

    /// Image override for Flower.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOverrideSpec>,

    /// Python appended to Flower's `superset_config.py`, after `spec.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// Shell sourced before Flower starts; replaces `spec.bootstrapScript` (`""` runs none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_script: Option<String>,

    /// Flower's Service. In Production Flower is published by Ingress or Gateway only when
    /// `gatewayPath` is set here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ComponentServiceSpec>,
}

/// The websocket server (Node.js) that pushes asynchronous query events to browsers.
/// It runs its own image, so the repository must be given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.image) && has(self.image.repository)")
        .message("websocketServer.image.repository is required: the websocket server does not run the Superset image"),
    validation = Rule::new("!(has(self.config) && has(self.configFrom))")
        .message("set at most one of websocketServer.config or websocketServer.configFrom"),
)]
pub struct WebsocketServerComponentSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub scalable: ScalableSpec,

    /// Image of the websocket server; `repository` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOverrideSpec>,

    /// The server's `config.json`, inline. Development only: it holds the JWT secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// The server's `config.json`, read from a Secret key and mounted into the pod. With
    /// neither this nor `config`, the server reads its settings from its environment
    /// (`JWT_SECRET`, `REDIS_HOST`, … set through `podTemplate.container.env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_from: Option<SecretKeySelector>,

    /// The websocket server's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ComponentServiceSpec>,
}

/// The MCP server: Superset's Model Context Protocol endpoint for AI assistants.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerComponentSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub scalable: ScalableSpec,

    /// Image override for the MCP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOverrideSpec>,

    /// Python appended to the MCP server's `superset_config.py`, after `spec.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// Shell sourced before the MCP server starts; replaces `spec.bootstrapScript`
    /// (`""` runs none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_script: Option<String>,

    /// The MCP server's Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ComponentServiceSpec>,

    /// Connection pool; replaces `spec.sqlaEngineOptions` whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqla_engine_options: Option<SqlaEngineOptionsSpec>,
}

//! Replicas, autoscaling and disruption budgets of the scalable components.

use k8s_openapi::api::autoscaling::v2::MetricSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A HorizontalPodAutoscaler for a component. While it is set, the operator leaves the
/// Deployment's replica count to the autoscaler.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minReplicas) || self.maxReplicas >= self.minReplicas")
    .message("autoscaling.maxReplicas must be greater than or equal to autoscaling.minReplicas"))]
pub struct AutoscalingSpec {
    /// Fewest replicas the autoscaler keeps (1 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_replicas: Option<i32>,

    /// Most replicas the autoscaler may create.
    #[schemars(range(min = 1, max = 100))]
    pub max_replicas: i32,

    /// What the autoscaler scales on (autoscaling/v2 metrics). Empty means 80 % average CPU.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::core::<Vec<MetricSpec>>")]
    pub metrics: Vec<MetricSpec>,
}

/// A PodDisruptionBudget for a component. Set one of the two fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.minAvailable) && has(self.maxUnavailable))")
    .message("set either podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable, not both"))]
pub struct PodDisruptionBudgetSpec {
    /// Pods that must stay available during a voluntary disruption (number or percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<IntOrString>,

    /// Pods that may be unavailable during a voluntary disruption (number or percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

//! The six component kinds the parent writes, fully resolved: `kubectl get supersetwebserver
//! -o yaml` shows exactly what runs. One generic controller turns each into a Deployment and
//! its Service, HorizontalPodAutoscaler and PodDisruptionBudget.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::image::ImageSpec;
use crate::scaling::{AutoscalingSpec, PodDisruptionBudgetSpec};
use crate::service::ComponentServiceSpec;
use crate::status::OwnedObjectRef;
use crate::template::{DeploymentTemplate, PodTemplate};

/// The resolved workload of one component: what every child kind has.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlatComponentSpec {
    /// Image, fully resolved.
    pub image: ImageSpec,

    /// Replicas, unless `autoscaling` manages them.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,

    /// Deployment settings, fully resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_template: Option<DeploymentTemplate>,

    /// Pod settings, fully resolved, including the operator's env vars, volumes and command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// ServiceAccount the pods run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// HorizontalPodAutoscaler, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,

    /// PodDisruptionBudget, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,

    /// Checksum of everything the pods read at start (config, referenced Secret data hashes);
    /// it is stamped on the pod template, so a change rolls the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_checksum: Option<String>,
}

fn default_replicas() -> i32 {
    1
}

/// Observed state of a component child.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentChildStatus {
    /// Ready replicas over desired replicas, for example `2/2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,

    /// Desired replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,

    /// Ready replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,

    /// Image (`repository:tag`) of the current pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// The Deployment this child created, by name and UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<OwnedObjectRef>,

    /// `Ready` and `Progressing`, with the Deployment's rollout state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Declares one component kind. The name limit keeps `<name>-<suffix>` within the 63
/// characters of a DNS label, so every object the child creates has a valid name.
macro_rules! component_kind {
    (
        $(#[$doc:meta])*
        $spec:ident, kind = $kind:literal, short = $short:literal, suffix = $suffix:literal,
        max_name = $max:literal { $($extra:tt)* }
    ) => {
        $(#[$doc])*
        #[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
        #[kube(
            group = "superset.apache.org",
            version = "v1alpha1",
            kind = $kind,
            namespaced,
            status = "ComponentChildStatus",
            derive = "PartialEq",
            shortname = $short,
            category = "superset-all",
            printcolumn(name = "Ready", type_ = "string", json_path = ".status.ready"),
            printcolumn(name = "Image", type_ = "string", json_path = ".status.image"),
            printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
            validation = Rule::new(concat!("self.metadata.name.size() <= ", $max)).message(concat!(
                "metadata.name must be at most ", $max, " characters (objects are named <name>-", $suffix, ")"
            )),
            validation = Rule::new("self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message(
                "metadata.name must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"
            ),
        )]
        #[serde(rename_all = "camelCase")]
        pub struct $spec {
            #[serde(flatten)]
            #[allow(missing_docs)]
            pub component: FlatComponentSpec,

            $($extra)*
        }
    };
}

component_kind! {
    /// The web server, resolved. Its Service belongs to the parent, which points it at the
    /// maintenance page during a drain.
    SupersetWebServerSpec, kind = "SupersetWebServer", short = "supweb", suffix = "web-server",
    max_name = 52 {
        /// The web server's Service, applied by the parent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service: Option<ComponentServiceSpec>,
    }
}

component_kind! {
    /// The Celery workers, resolved.
    SupersetCeleryWorkerSpec, kind = "SupersetCeleryWorker", short = "supworker",
    suffix = "celery-worker", max_name = 49 {}
}

component_kind! {
    /// Celery beat, resolved. Always one replica, never autoscaled.
    SupersetCeleryBeatSpec, kind = "SupersetCeleryBeat", short = "supbeat",
    suffix = "celery-beat", max_name = 51 {}
}

component_kind! {
    /// Celery Flower, resolved.
    SupersetCeleryFlowerSpec, kind = "SupersetCeleryFlower", short = "supflower",
    suffix = "celery-flower", max_name = 49 {
        /// Flower's Service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service: Option<ComponentServiceSpec>,
    }
}

component_kind! {
    /// The websocket server, resolved.
    SupersetWebsocketServerSpec, kind = "SupersetWebsocketServer", short = "supws",
    suffix = "websocket-server", max_name = 46 {
        /// The websocket server's Service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service: Option<ComponentServiceSpec>,
    }
}

component_kind! {
    /// The MCP server, resolved.
    SupersetMcpServerSpec, kind = "SupersetMcpServer", short = "supmcp",
    suffix = "mcp-server", max_name = 52 {
        /// The MCP server's Service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service: Option<ComponentServiceSpec>,
    }
}

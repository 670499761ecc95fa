//! Container images: the Superset image every component inherits, per-component overrides,
//! and the defaults-free image of the non-Superset helpers (seed database client, maintenance page).

use k8s_openapi::api::core::v1::LocalObjectReference;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the official Superset image is published.
pub const DEFAULT_SUPERSET_REPOSITORY: &str = "apachesuperset.docker.scarf.sh/apache/superset";

fn default_superset_repository() -> String {
    DEFAULT_SUPERSET_REPOSITORY.to_owned()
}

/// When the kubelet pulls an image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Pull on every pod start.
    Always,
    /// Pull only when the node does not have the image yet.
    #[default]
    IfNotPresent,
    /// Never pull; the image must already be on the node.
    Never,
}

/// The Superset image. Every component, and the migrate, rotate and init tasks, run it unless
/// they override it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// Image repository, without tag.
    #[serde(default = "default_superset_repository")]
    #[schemars(regex(pattern = crate::patterns::IMAGE_REPOSITORY), length(max = 255))]
    pub repository: String,

    /// Image tag, for example `6.0.0`. Changing it is an upgrade: the migrate task runs again
    /// before any component rolls to the new image.
    #[schemars(length(min = 1), regex(pattern = crate::patterns::IMAGE_TAG))]
    pub tag: String,

    /// When the kubelet pulls the image.
    #[serde(default)]
    pub pull_policy: PullPolicy,

    /// Secrets holding registry credentials, copied to every Superset pod.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<LocalObjectReference>,
}

/// A partial image that overrides `spec.image` for one component or for the lifecycle tasks.
/// Unset fields are inherited; pull secrets always are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageOverrideSpec {
    /// Image repository; inherits `spec.image.repository` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::patterns::IMAGE_REPOSITORY), length(max = 255))]
    pub repository: Option<String>,

    /// Image tag; inherits `spec.image.tag` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), regex(pattern = crate::patterns::IMAGE_TAG))]
    pub tag: Option<String>,

    /// Pull policy; inherits `spec.image.pullPolicy` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
}

/// An image that is not Superset (the seed task's database client, the maintenance page's web
/// server). Unset fields take the defaults of the place it is used in, never Superset's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerImageSpec {
    /// Image repository; the default depends on where the image is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::patterns::IMAGE_REPOSITORY), length(max = 255))]
    pub repository: Option<String>,

    /// Image tag; the default depends on where the image is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), regex(pattern = crate::patterns::IMAGE_TAG))]
    pub tag: Option<String>,

    /// When the kubelet pulls the image; `IfNotPresent` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,

    /// Secrets holding registry credentials for this image only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<LocalObjectReference>,
}

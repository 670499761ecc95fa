//! What a `Superset` reports: per-component readiness, the lifecycle pipeline and conditions.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::status::TaskState;

/// Observed state of a `Superset`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupersetStatus {
    /// `Available`, `Progressing`, `Degraded`, `LifecycleComplete`, `Suspended` and more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Summary of where the instance stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SupersetPhase>,

    /// Superset image tag the components run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,

    /// Ready replicas over desired replicas, summed over components, for example `3/4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,

    /// Checksum of the configuration shared by every component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_checksum: Option<String>,

    /// One entry per enabled component, keyed `webServer`, `celeryWorker`, `celeryBeat`,
    /// `celeryFlower`, `websocketServer`, `mcpServer`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, ComponentStatus>,

    /// The lifecycle pipeline; absent while lifecycle is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleStatus>,

    /// Image (`repository:tag`) that last completed the lifecycle pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_lifecycle_image: Option<String>,

    /// A fingerprint of the secret key the components were last applied with (salted with the
    /// instance's UID; never the key). A different key is refused until the stored secrets
    /// are re-encrypted (`previousSecretKeyFrom` and `lifecycle.rotate`) or it is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_fingerprint: Option<String>,
}

/// Summary of where a `Superset` stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SupersetPhase {
    /// Lifecycle tasks run before the first start, or after a configuration change.
    Initializing,
    /// Lifecycle tasks run for a new image.
    Upgrading,
    /// Every enabled component is ready.
    Running,
    /// Some enabled component is not ready, or a task failed.
    Degraded,
    /// `spec.suspend` is true: nothing is written.
    Suspended,
    /// `spec.stop` is true: every component runs zero replicas.
    Stopped,
    /// The pipeline cannot proceed until the spec is fixed (for example an invalid schedule).
    Blocked,
    /// A supervised upgrade waits for approval.
    AwaitingApproval,
}

/// Status of one component, read from its child resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Ready replicas over desired replicas, for example `2/2`.
    pub ready: String,

    /// The child resource, as `Kind/name`.
    #[serde(rename = "ref")]
    pub ref_: String,

    /// Checksum of the component's configuration; a change rolls its pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_checksum: Option<String>,

    /// Image the component runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Step of the lifecycle pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LifecyclePhase {
    /// Components are being stopped before a task that needs them gone.
    Draining,
    /// The seed task runs.
    Seeding,
    /// The migrate task runs.
    Migrating,
    /// The rotate task runs.
    Rotating,
    /// The init task runs.
    Initializing,
    /// Tasks are done; components start again.
    Restoring,
    /// Every task is complete and the components are back.
    Complete,
    /// A task failed every attempt.
    Failed,
    /// The pipeline cannot proceed until the spec is fixed.
    Blocked,
    /// A supervised upgrade waits for approval.
    AwaitingApproval,
}

/// The lifecycle pipeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleStatus {
    /// Current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<LifecyclePhase>,

    /// The web server's Service points at the maintenance page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_active: Option<bool>,

    /// Checksum each task last completed with, keyed `Seed`, `Migrate`, `Rotate`, `Init`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub last_completed_checksums: BTreeMap<String, String>,

    /// The seed task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<TaskRefStatus>,

    /// The migrate task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<TaskRefStatus>,

    /// The rotate task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<TaskRefStatus>,

    /// The init task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<TaskRefStatus>,

    /// The upgrade in progress, when the image changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeContext>,
}

/// A task's state as seen from the parent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskRefStatus {
    /// Where the task stands.
    #[serde(default)]
    pub state: TaskState,

    /// When the current run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    /// When the task last completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,

    /// How long the last completed run took, for example `42s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,

    /// Attempts made for the current inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,

    /// Pod of the current or last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,

    /// Image of the current or last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Last message, with credentials redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// When the next attempt starts, after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Time>,

    /// When a scheduled seed last ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_at: Option<Time>,

    /// When a scheduled seed runs next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_at: Option<Time>,
}

/// An upgrade from one image to another.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeContext {
    /// Image tag before the upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_tag: Option<String>,

    /// Image tag after the upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_tag: Option<String>,

    /// When the upgrade started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    /// In Supervised mode, the value the `superset.apache.org/approve-upgrade` annotation must
    /// carry to approve this upgrade; it is derived from both images, so an approval cannot be
    /// reused for another upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_token: Option<String>,
}

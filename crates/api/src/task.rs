//! `SupersetLifecycleTask`: one lifecycle task (seed, migrate, rotate or init), resolved by
//! the parent. Its controller runs one attempt at a time until the task completes for the
//! checksum in its spec.

use crate::duration::Timeout;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::image::ImageSpec;
use crate::status::TaskState;
use crate::superset::lifecycle::PodRetentionSpec;
use crate::template::PodTemplate;

/// Which lifecycle task this is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum TaskType {
    /// Copy a source database into the metastore.
    Seed,
    /// `superset db upgrade`.
    Migrate,
    /// Re-encrypt the metastore's secrets from the previous secret key.
    Rotate,
    /// `superset init`.
    Init,
}

/// One lifecycle task, resolved.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "superset.apache.org",
    version = "v1alpha1",
    kind = "SupersetLifecycleTask",
    namespaced,
    status = "SupersetLifecycleTaskStatus",
    derive = "PartialEq",
    shortname = "suptask",
    category = "superset-all",
    doc = "One lifecycle task of a Superset, resolved by the parent. The operator runs one attempt at a time until the task completes for the checksum in its spec.",
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Attempts", type_ = "integer", json_path = ".status.attempts"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.size() <= 56").message("metadata.name must be at most 56 characters (objects are named <name>-config)"),
    validation = Rule::new("self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit"),
)]
#[serde(rename_all = "camelCase")]
pub struct SupersetLifecycleTaskSpec {
    /// Which task this is.
    #[serde(rename = "type")]
    pub type_: TaskType,

    /// Command of the task container.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,

    /// Image of the task, fully resolved.
    pub image: ImageSpec,

    /// Pod settings, fully resolved, including the operator's env vars, volumes and init
    /// containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// ServiceAccount the task pods run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// Checksum of everything the task depends on; the task runs again when it changes.
    #[schemars(length(min = 1))]
    pub config_checksum: String,

    /// Longest one attempt may run, from `1s` to `168h` (5m when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,

    /// Attempts before the task is marked Failed.
    #[serde(default = "default_max_retries")]
    #[schemars(range(min = 1))]
    pub max_retries: i32,

    /// What happens to finished pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_retention: Option<PodRetentionSpec>,
}

fn default_max_retries() -> i32 {
    3
}

/// Observed state of a lifecycle task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupersetLifecycleTaskStatus {
    /// Where the task stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,

    /// Pod of the current or last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,

    /// When the current run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,

    /// When the task completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,

    /// How long the completed run took, for example `42s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,

    /// Attempts made for the current checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,

    /// When the next attempt starts, after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Time>,

    /// Image of the current or last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Last message, with credentials redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// The checksum the current run is for. The task is done when its state is `Complete`
    /// and this equals `spec.configChecksum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_checksum: Option<String>,

    /// Hash of the pod the current run starts. A terminally failed task runs again when the
    /// pod it would start changes (a fixed image or pod setting); a completed task does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_spec_hash: Option<String>,

    /// `TaskComplete` and `TaskCannotStart`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

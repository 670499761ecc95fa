//! Status vocabulary shared by every kind: phases, task states, and the references children
//! record of the objects they own.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The identity of an object a controller created, so that an object recreated out of band
/// under the same name is told apart from the one the controller made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnedObjectRef {
    /// Name of the object.
    pub name: String,
    /// UID of the object.
    pub uid: String,
}

/// Where a lifecycle task stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TaskState {
    /// Waiting for its turn or for the next attempt.
    #[default]
    Pending,
    /// An attempt is running.
    Running,
    /// Succeeded for the current inputs.
    Complete,
    /// Every attempt failed; fix the cause and change the spec to retry.
    Failed,
}

//! The controllers of the Superset operator: the parent `Superset` controller and one generic
//! controller for the six component kinds. Every write is a server-side apply with one field
//! manager, sent only when something differs.

pub mod apply;
pub mod child;
mod conditions;
pub mod data_key;
pub mod decode;
mod events;
mod lifecycle;
pub mod metrics;
pub mod parent;
pub mod rbac;
pub mod report;
mod retry;
pub mod task;
mod watch;

pub use retry::panic_message;

use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use kube::{Api, Client, Resource};
use superset_operator_api::{
    SupersetCeleryBeat, SupersetCeleryFlower, SupersetCeleryWorker, SupersetMcpServer,
    SupersetWebServer, SupersetWebsocketServer,
};
use superset_operator_render::checksum::DataKey;

/// What a reconcile can fail on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be encoded.
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    /// The object has no namespace or UID (it was not read from the API).
    #[error("the object has no namespace or UID")]
    MissingIdentity,
    /// The Superset cannot be resolved.
    #[error(transparent)]
    Resolve(#[from] superset_operator_render::resolve::ResolveError),
    /// The reconcile panicked: a defect of the operator, met on this object alone.
    #[error("the operator failed on this object (a defect; please report it): {0}")]
    Panicked(String),
    /// An object the operator did not create holds a name it manages; it is never used.
    #[error(
        "{kind} {name} exists and {holder}: it is never used or changed; delete or rename it so the operator can create its own{hint}"
    )]
    NameTaken {
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// Who controls it, in words: "is not managed by this operator", "is controlled by …".
        holder: String,
        /// What else may be meant, with its leading separator; empty when nothing is.
        hint: &'static str,
    },
}

impl Error {
    /// The metric label that counts the failure (`forbidden`, `invalid`, …).
    pub fn category(&self) -> &'static str {
        self.kind().0
    }

    /// The reason of the condition and event that report the failure.
    pub fn reason(&self) -> &'static str {
        self.kind().1
    }

    /// The failure's metric label and condition reason, in one table.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Error::Kube(kube::Error::Api(status)) => match status.code {
                400 => ("api", "BadRequest"),
                403 => ("forbidden", "Forbidden"),
                404 => ("not_found", "NotFound"),
                409 => ("conflict", "Conflict"),
                422 => ("invalid", "Invalid"),
                429 => ("throttled", "Throttled"),
                500.. => ("server", "APIServerError"),
                _ => ("api", "APIError"),
            },
            Error::Kube(_) => ("transport", "APIUnreachable"),
            Error::Json(_) => ("encoding", "EncodingFailed"),
            Error::MissingIdentity => ("identity", "MissingIdentity"),
            Error::Resolve(_) => ("resolve", "SpecNotResolvable"),
            Error::Panicked(_) => ("panic", "InternalError"),
            Error::NameTaken { .. } => ("name_taken", "ManagedNameTaken"),
        }
    }

    /// What the user reads: the API server's own message for a rejected request, redacted
    /// and shortened, as every message that leaves the operator.
    pub fn message(&self) -> String {
        let text = match self {
            Error::Kube(kube::Error::Api(status)) if !status.message.is_empty() => {
                status.message.clone()
            }
            other => other.to_string(),
        };
        superset_operator_render::redact::redact_and_truncate(&text)
    }

    /// Whether only a change (of the object or what it is made from) can fix it, so that
    /// retrying on a timer would fail the same way: a request the API server found invalid,
    /// a Superset that cannot be resolved, a defect.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Kube(kube::Error::Api(status)) => matches!(status.code, 400 | 422),
            // The other object may go at any time, and its deletion wakes nothing: retried.
            Error::Kube(_) | Error::NameTaken { .. } => false,
            Error::Json(_) | Error::MissingIdentity | Error::Resolve(_) | Error::Panicked(_) => {
                true
            }
        }
    }
}

/// Which namespaces the controllers watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace.
    All,
    /// One namespace.
    Namespace(String),
}

impl Scope {
    /// An API over the watched namespaces.
    pub fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self {
            Scope::All => Api::all(client.clone()),
            Scope::Namespace(namespace) => Api::namespaced(client.clone(), namespace),
        }
    }
}

/// How hard each controller works at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Reconciles one controller runs at the same time. Unbounded, a thousand Supersets
    /// created at once start a thousand reconciles, each holding its objects and a connection,
    /// which is what sets the operator's peak memory and the API server's load.
    pub concurrency: u16,
    /// How long a controller waits for an object's triggers to stop before reconciling it, so
    /// that a burst (a rollout's status updates, a parent's children all changing) costs one
    /// pass instead of one per event.
    pub debounce: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            concurrency: 16,
            debounce: Duration::from_millis(500),
        }
    }
}

/// Runs every controller until one of them stops (none does but by a defect), naming it.
/// Secret data is hashed with `data_key` ([`data_key::load_or_create`]).
pub async fn run(client: Client, scope: Scope, tuning: Tuning, data_key: DataKey) {
    let stopped = tokio::select! {
        () = parent::run(client.clone(), scope.clone(), tuning, data_key) => "Superset",
        () = child::run::<SupersetWebServer>(client.clone(), scope.clone(), tuning) => "SupersetWebServer",
        () = child::run::<SupersetCeleryWorker>(client.clone(), scope.clone(), tuning) => "SupersetCeleryWorker",
        () = child::run::<SupersetCeleryBeat>(client.clone(), scope.clone(), tuning) => "SupersetCeleryBeat",
        () = child::run::<SupersetCeleryFlower>(client.clone(), scope.clone(), tuning) => "SupersetCeleryFlower",
        () = child::run::<SupersetMcpServer>(client.clone(), scope.clone(), tuning) => "SupersetMcpServer",
        () = child::run::<SupersetWebsocketServer>(client.clone(), scope.clone(), tuning) => "SupersetWebsocketServer",
        () = task::run(client.clone(), scope.clone(), tuning) => "SupersetLifecycleTask",
    };
    tracing::error!(controller = stopped, ?scope, "a controller stopped");
}

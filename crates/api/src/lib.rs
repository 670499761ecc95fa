//! The API of the Superset operator: the `Superset` resource users write and the child
//! resources the operator resolves it into, with their CEL validation rules.
//!
//! Everything here is data: no I/O, no logging.

#![deny(missing_docs)]

pub mod children;
pub mod duration;
pub mod generated;
pub mod image;
pub mod patterns;
pub mod scaling;
mod schema;
pub mod service;
pub mod status;
pub mod superset;
pub mod task;
pub mod template;
pub mod tuning;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use children::{
    SupersetCeleryBeat, SupersetCeleryFlower, SupersetCeleryWorker, SupersetMcpServer,
    SupersetWebServer, SupersetWebsocketServer,
};
pub use superset::{Superset, SupersetSpec};
pub use task::SupersetLifecycleTask;

/// API group of every kind.
pub const GROUP: &str = "superset.apache.org";
/// The only API version.
pub const VERSION: &str = "v1alpha1";

/// Every CustomResourceDefinition of the operator, parent first.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let crds = [
        Superset::crd(),
        SupersetWebServer::crd(),
        SupersetCeleryWorker::crd(),
        SupersetCeleryBeat::crd(),
        SupersetCeleryFlower::crd(),
        SupersetWebsocketServer::crd(),
        SupersetMcpServer::crd(),
        SupersetLifecycleTask::crd(),
    ];
    crds.into_iter()
        .map(schema::reflow_descriptions)
        .map(schema::bound_int32)
        .map(schema::pattern_quantities)
        .collect()
}

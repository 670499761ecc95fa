//! The pure core of the operator: resolves a `Superset` into the child resources and
//! ConfigMaps the operator creates, and renders `superset_config.py`.
//!
//! No I/O and no logging: everything here is a function of its arguments, so it can be tested
//! exhaustively and previewed offline (`superset-operator render`).

#![deny(missing_docs)]

pub mod checksum;
pub mod component;
pub mod conditions;
pub mod env;
pub mod labels;
pub mod lifecycle;
pub mod maintenance;
pub mod merge;
pub mod naming;
pub mod networking;
pub mod pod_security;
pub mod python;
pub mod redact;
pub mod references;
pub mod resolve;
pub mod schedule;
pub mod secret_key;
mod shell;
pub mod task_run;
pub mod tuning;
pub mod versions;
pub mod workload;

pub use component::Component;
pub use resolve::{
    Child, ResolveOptions, Resolved, ResolvedComponent, ResolvedTask, resolve, resolve_with,
};

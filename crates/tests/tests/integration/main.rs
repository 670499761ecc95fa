//! Integration and end-to-end tests. One test binary, so that every test shares one control
//! plane (started on first use by the testkit); each test gets a namespace of its own.

mod api_crds;
mod cel_rules;
mod cluster_smoke;
mod controllers;
mod lifecycle;
mod node_smoke;
mod pod_security;
mod real_node;
mod support;
mod versions;
mod workloads;

//! Names of every object the operator creates for a Superset named `parent`.

use superset_operator_api::task::TaskType;

use crate::component::{Component, TaskFacts};

/// Name of the main container of every component and task pod.
pub const MAIN_CONTAINER: &str = "superset";

/// A component's child resource: named like the parent, told apart by its kind.
pub fn child(parent: &str) -> String {
    parent.to_owned()
}

/// A component's Deployment, Service, HPA and PDB.
pub fn workload(parent: &str, component: Component) -> String {
    format!("{parent}-{}", component.suffix())
}

/// A component's ConfigMap (`superset_config.py`, bootstrap script, websocket `config.json`).
pub fn component_config_map(parent: &str, component: Component) -> String {
    format!("{parent}-{}-config", component.suffix())
}

/// A component's NetworkPolicy.
pub fn network_policy(parent: &str, component: Component) -> String {
    format!("{parent}-{}-netpol", component.suffix())
}

/// A lifecycle task's child resource.
pub fn task(parent: &str, task: TaskType) -> String {
    format!("{parent}-{}", task.suffix())
}

/// A lifecycle task's ConfigMap.
pub fn task_config_map(parent: &str, task_type: TaskType) -> String {
    format!("{}-config", task(parent, task_type))
}

/// The maintenance page's Deployment.
pub fn maintenance_page(parent: &str) -> String {
    format!("{parent}-maintenance-page")
}

/// The maintenance page's ConfigMap.
pub fn maintenance_page_config_map(parent: &str) -> String {
    format!("{parent}-maintenance-page-config")
}

/// The Ingress, HTTPRoute and ServiceMonitor.
pub fn route(parent: &str) -> String {
    parent.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_names_allowed_by_admission_stay_within_a_dns_label() {
        // The CEL rules cap the parent's name per component; these are the resulting names.
        let longest = |limit: usize| "a".repeat(limit);
        assert_eq!(workload(&longest(52), Component::WebServer).len(), 63);
        assert_eq!(workload(&longest(49), Component::CeleryWorker).len(), 63);
        assert_eq!(workload(&longest(51), Component::CeleryBeat).len(), 63);
        assert_eq!(workload(&longest(49), Component::CeleryFlower).len(), 63);
        assert_eq!(workload(&longest(46), Component::WebsocketServer).len(), 63);
        assert_eq!(workload(&longest(52), Component::McpServer).len(), 63);
        assert_eq!(maintenance_page(&longest(46)).len(), 63);
        assert_eq!(task_config_map(&longest(48), TaskType::Migrate).len(), 63);
        assert_eq!(task_config_map(&longest(49), TaskType::Rotate).len(), 63);
    }
}

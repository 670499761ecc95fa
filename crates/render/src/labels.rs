//! Labels and annotations the operator puts on what it creates. Users' labels never override
//! them, and keys under `superset.apache.org/` are reserved.

use std::collections::BTreeMap;

use superset_operator_api::task::TaskType;

use crate::component::{Component, TaskFacts};

/// `app.kubernetes.io/name`, always `superset`.
pub const NAME: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/component`: the component's or task's suffix.
pub const COMPONENT: &str = "app.kubernetes.io/component";
/// `app.kubernetes.io/instance`: the Superset's name.
pub const INSTANCE: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/managed-by`, always `superset-operator`.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The Superset an object belongs to.
pub const PARENT: &str = "superset.apache.org/parent";
/// The lifecycle task a pod or resource belongs to.
pub const TASK: &str = "superset.apache.org/task";
/// Keys under this prefix belong to the operator.
pub const RESERVED_PREFIX: &str = "superset.apache.org/";
/// Pod annotation carrying the checksum of everything the pod reads at start.
pub const CONFIG_CHECKSUM: &str = "superset.apache.org/config-checksum";

/// The labels that select a component's pods (Deployment, Service, PDB selectors).
pub fn selector(parent: &str, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_owned(), "superset".to_owned()),
        (COMPONENT.to_owned(), component.suffix().to_owned()),
        (INSTANCE.to_owned(), parent.to_owned()),
    ])
}

/// Every label of a component's objects and pods.
pub fn component(parent: &str, component: Component) -> BTreeMap<String, String> {
    let mut labels = selector(parent, component);
    labels.insert(MANAGED_BY.to_owned(), "superset-operator".to_owned());
    labels.insert(PARENT.to_owned(), parent.to_owned());
    labels
}

/// Every label of a lifecycle task's objects and pods.
pub fn task(parent: &str, task: TaskType) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_owned(), "superset".to_owned()),
        (COMPONENT.to_owned(), task.suffix().to_owned()),
        (INSTANCE.to_owned(), parent.to_owned()),
        (MANAGED_BY.to_owned(), "superset-operator".to_owned()),
        (PARENT.to_owned(), parent.to_owned()),
        (TASK.to_owned(), task.suffix().to_owned()),
    ])
}

/// The label selector of the objects of one component (`value` of
/// `app.kubernetes.io/component`), for watches that need no other.
pub fn component_query(value: &str) -> String {
    format!("{COMPONENT}={value}")
}

/// `app.kubernetes.io/component` of the maintenance page.
pub const MAINTENANCE_COMPONENT: &str = "maintenance-page";

/// The labels that select the maintenance page's pods (its Deployment, and the web server's
/// Service while the page is up).
pub fn maintenance_selector(parent: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_owned(), "superset".to_owned()),
        (COMPONENT.to_owned(), MAINTENANCE_COMPONENT.to_owned()),
        (INSTANCE.to_owned(), parent.to_owned()),
    ])
}

/// Every label of the maintenance page's objects and pods. They carry the parent label like
/// every pod of the instance, and the drain tells them apart by component.
pub fn maintenance(parent: &str) -> BTreeMap<String, String> {
    let mut labels = maintenance_selector(parent);
    labels.insert(MANAGED_BY.to_owned(), "superset-operator".to_owned());
    labels.insert(PARENT.to_owned(), parent.to_owned());
    labels
}

/// `user` labels without reserved keys, then `operator` labels over them.
pub fn merge_user_and_operator(
    user: &BTreeMap<String, String>,
    operator: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut merged: BTreeMap<String, String> = user
        .iter()
        .filter(|(key, _)| !key.starts_with(RESERVED_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merged.extend(operator.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_component_query_matches_the_labels_of_a_components_objects() {
        let query = component_query(Component::CeleryWorker.suffix());
        let (key, value) = query.split_once('=').expect("key=value");
        let labels = component("bi", Component::CeleryWorker);
        assert_eq!(labels.get(key).map(String::as_str), Some(value));
        // The user cannot take the label away: the operator's value wins.
        let user = BTreeMap::from([(COMPONENT.to_owned(), "mine".to_owned())]);
        let merged = merge_user_and_operator(&user, &labels);
        assert_eq!(merged.get(key).map(String::as_str), Some(value));
        let page = component_query(MAINTENANCE_COMPONENT);
        assert_eq!(
            page.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            maintenance("bi").remove_entry(COMPONENT)
        );
    }
}

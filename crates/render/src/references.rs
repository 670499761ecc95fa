//! Secrets and ConfigMaps a component's pods read, so that a change to their data can roll
//! exactly those pods. Only names are collected here; data is hashed by the controller and
//! never stored.

use std::collections::BTreeSet;

use superset_operator_api::template::PodTemplate;

use crate::resolve::Child;

/// An object whose data a pod reads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reference {
    /// A Secret, by name.
    Secret(String),
    /// A ConfigMap, by name.
    ConfigMap(String),
}

/// Every Secret and ConfigMap the pod template reads through env vars, `envFrom`, or volumes
/// (of the main container, sidecars and init containers), except `own` (the ConfigMap the
/// operator renders, whose content the checksum already covers).
pub fn of_pod(pod: &PodTemplate, own: &str) -> BTreeSet<Reference> {
    let mut found = BTreeSet::new();
    let main = pod.container.clone().unwrap_or_default();
    let mut env = main.env.clone();
    let mut env_from = main.env_from.clone();
    for container in pod.sidecars.iter().chain(&pod.init_containers) {
        env.extend(container.env.clone().unwrap_or_default());
        env_from.extend(container.env_from.clone().unwrap_or_default());
    }
    for var in env.iter().filter_map(|e| e.value_from.as_ref()) {
        if let Some(secret) = &var.secret_key_ref {
            found.insert(Reference::Secret(secret.name.clone()));
        }
        if let Some(map) = &var.config_map_key_ref {
            found.insert(Reference::ConfigMap(map.name.clone()));
        }
    }
    for source in &env_from {
        if let Some(secret) = &source.secret_ref {
            found.insert(Reference::Secret(secret.name.clone()));
        }
        if let Some(map) = &source.config_map_ref {
            found.insert(Reference::ConfigMap(map.name.clone()));
        }
    }
    for volume in &pod.volumes {
        if let Some(name) = volume.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            found.insert(Reference::Secret(name));
        }
        if let Some(map) = &volume.config_map {
            found.insert(Reference::ConfigMap(map.name.clone()));
        }
    }
    found.remove(&Reference::ConfigMap(own.to_owned()));
    found
}

/// Folds the hash of referenced data into a child's checksum and its pods' checksum
/// annotation, so that new data rolls the pods.
pub fn fold_into(child: &mut Child, data_hash: &str) {
    let flat = match child {
        Child::WebServer(c) => &mut c.spec.component,
        Child::CeleryWorker(c) => &mut c.spec.component,
        Child::CeleryBeat(c) => &mut c.spec.component,
        Child::CeleryFlower(c) => &mut c.spec.component,
        Child::McpServer(c) => &mut c.spec.component,
        Child::WebsocketServer(c) => &mut c.spec.component,
    };
    let folded = crate::checksum::of_json(&(&flat.config_checksum, data_hash));
    flat.config_checksum = Some(folded.clone());
    if let Some(pod) = flat.pod_template.as_mut() {
        pod.annotations
            .insert(crate::labels::CONFIG_CHECKSUM.to_owned(), folded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_secret_and_config_map_references_but_not_the_rendered_config() {
        let yaml = "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata: {name: bi}\nspec:\n  secretKeyFrom: {name: app, key: secret-key}\n  image: {tag: \"6\"}\n  metastore: {uriFrom: {name: db, key: uri}}\n  podTemplate:\n    container:\n      envFrom: [{configMapRef: {name: tuning}}]\n  webServer: {}\n  celeryBeat: {}\n";
        let superset: superset_operator_api::Superset = serde_yaml::from_str(yaml).unwrap();
        let resolved = crate::resolve(&superset).unwrap();
        let web = &resolved.components[0];
        let pod = web.child.flat().pod_template.clone().unwrap();
        let found = of_pod(&pod, "bi-web-server-config");
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [
                Reference::Secret("app".into()),
                Reference::Secret("db".into()),
                Reference::ConfigMap("tuning".into())
            ]
        );
    }
}

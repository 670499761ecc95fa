//! Secrets and ConfigMaps a component's pods read, so that a change to their data can roll
//! exactly those pods. The controller fetches the data; only its hash is kept.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::Value;
use superset_operator_api::template::PodTemplate;

use crate::checksum::DataKey;
use crate::resolve::{Child, Resolved, ResolvedComponent};
use crate::{checksum, naming};

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

impl Reference {
    /// The object's name.
    pub fn name(&self) -> &str {
        match self {
            Reference::Secret(name) | Reference::ConfigMap(name) => name,
        }
    }
}

/// What a component's pods read, besides the ConfigMap the operator renders for it.
pub fn read_by(superset: &str, component: &ResolvedComponent) -> BTreeSet<Reference> {
    let own = naming::component_config_map(superset, component.component);
    component
        .child
        .flat()
        .pod_template
        .as_ref()
        .map(|pod| of_pod(pod, &own))
        .unwrap_or_default()
}

/// What the pods of every component of the Superset `superset` read.
pub fn read_by_any(superset: &str, resolved: &Resolved) -> BTreeSet<Reference> {
    resolved
        .components
        .iter()
        .flat_map(|component| read_by(superset, component))
        .collect()
}

/// The data of a Secret as the hash covers it; null when the Secret is absent.
pub fn secret_data(secret: Option<&Secret>) -> Value {
    serde_json::to_value(secret.map(|s| s.data.clone().unwrap_or_default()))
        .expect("Secret data serialises to JSON")
}

/// The data of a ConfigMap as the hash covers it (`data` and `binaryData`); null when the
/// ConfigMap is absent.
pub fn config_map_data(map: Option<&ConfigMap>) -> Value {
    serde_json::to_value(map.map(|m| {
        (
            m.data.clone().unwrap_or_default(),
            m.binary_data.clone().unwrap_or_default(),
        )
    }))
    .expect("ConfigMap data serialises to JSON")
}

/// Folds into each component of the Superset named `superset` a hash of the data its pods
/// read, as `data_of` gives it ([`secret_data`], [`config_map_data`]), so that new data rolls
/// exactly the pods that read it. A Secret's data is hashed with `key`, so that the published
/// hash cannot be tested against guessed passwords.
pub fn fold_read_data(
    superset: &str,
    resolved: &mut Resolved,
    key: &DataKey,
    data_of: impl Fn(&Reference) -> Value,
) {
    for component in &mut resolved.components {
        let read = read_by(superset, component);
        if read.is_empty() {
            continue;
        }
        let hashes: Vec<String> = read
            .iter()
            .map(|reference| {
                let data = (reference.name(), data_of(reference));
                match reference {
                    Reference::Secret(_) => key.of_json(&data),
                    Reference::ConfigMap(_) => checksum::of_json(&data),
                }
            })
            .collect();
        fold_into(&mut component.child, &checksum::of_json(&hashes));
    }
}

/// Folds the hash of referenced data into a child's checksum and its pods' checksum
/// annotation, so that new data rolls the pods.
fn fold_into(child: &mut Child, data_hash: &str) {
    let flat = match child {
        Child::WebServer(c) => &mut c.spec.component,
        Child::CeleryWorker(c) => &mut c.spec.component,
        Child::CeleryBeat(c) => &mut c.spec.component,
        Child::CeleryFlower(c) => &mut c.spec.component,
        Child::McpServer(c) => &mut c.spec.component,
        Child::WebsocketServer(c) => &mut c.spec.component,
    };
    let folded = checksum::of_json(&(&flat.config_checksum, data_hash));
    flat.config_checksum = Some(folded.clone());
    if let Some(pod) = flat.pod_template.as_mut() {
        pod.annotations
            .insert(crate::labels::CONFIG_CHECKSUM.to_owned(), folded);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    #[test]
    fn the_data_hash_is_the_one_earlier_versions_computed() {
        // Earlier versions hashed the typed data; a different encoding would roll every pod
        // that reads a ConfigMap on the operator's upgrade (Secret data is keyed since, which
        // rolled the pods reading Secrets once).
        let data = BTreeMap::from([("b".to_owned(), ByteString(b"x".to_vec()))]);
        let secret = Secret {
            data: Some(data.clone()),
            ..Default::default()
        };
        assert_eq!(
            checksum::of_json(&("app", secret_data(Some(&secret)))),
            checksum::of_json(&(&"app".to_owned(), Some(data)))
        );
        let text = BTreeMap::from([
            ("z".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ]);
        let map = ConfigMap {
            data: Some(text.clone()),
            ..Default::default()
        };
        assert_eq!(
            checksum::of_json(&("tuning", config_map_data(Some(&map)))),
            checksum::of_json(&(
                &"tuning".to_owned(),
                Some((text, BTreeMap::<String, ByteString>::new()))
            ))
        );
        assert_eq!(secret_data(None), Value::Null);
    }

    #[test]
    fn only_components_reading_the_data_change_with_it() {
        let yaml = "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata: {name: bi}\nspec:\n  secretKeyFrom: {name: app, key: secret-key}\n  image: {tag: \"6\"}\n  metastore: {uriFrom: {name: db, key: uri}}\n  webServer:\n    podTemplate:\n      container:\n        envFrom: [{configMapRef: {name: tuning}}]\n  celeryBeat: {}\n";
        let superset: superset_operator_api::Superset = serde_yaml::from_str(yaml).unwrap();
        let checksums = |tuning: &str| {
            let mut resolved = crate::resolve(&superset).unwrap();
            fold_read_data(
                "bi",
                &mut resolved,
                &DataKey::new(b"k"),
                |reference| match reference {
                    Reference::ConfigMap(name) if name == "tuning" => Value::from(tuning),
                    _ => Value::Null,
                },
            );
            resolved
                .components
                .iter()
                .map(|c| c.child.flat().config_checksum.clone())
                .collect::<Vec<_>>()
        };
        let (before, after) = (checksums("a"), checksums("b"));
        assert_ne!(before[0], after[0], "the web server reads the ConfigMap");
        assert_eq!(before[1], after[1], "beat does not");
    }

    #[test]
    fn secret_data_is_published_only_as_a_keyed_hash() {
        let yaml = "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata: {name: bi}\nspec:\n  secretKeyFrom: {name: app, key: secret-key}\n  image: {tag: \"6\"}\n  metastore: {uriFrom: {name: db, key: uri}}\n  webServer: {}\n";
        let superset: superset_operator_api::Superset = serde_yaml::from_str(yaml).unwrap();
        let password = serde_json::json!({ "uri": "cG9zdGdyZXM6Ly9zZWNyZXQ=" });
        let checksum = |key: &DataKey| {
            let mut resolved = crate::resolve(&superset).unwrap();
            fold_read_data("bi", &mut resolved, key, |reference| match reference {
                Reference::Secret(name) if name == "db" => password.clone(),
                _ => Value::Null,
            });
            resolved.components[0].child.flat().config_checksum.clone()
        };
        // Anyone who reads the Deployment sees the checksum; it depends on the operator's key,
        // so a guess of the password cannot be checked against it without that key.
        let with_key = checksum(&DataKey::new(b"operator key"));
        assert_ne!(with_key, checksum(&DataKey::new(b"another operator's key")));
        assert_eq!(with_key, checksum(&DataKey::new(b"operator key")));
    }

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

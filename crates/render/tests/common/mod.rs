//! Fixtures shared by the render tests.

#![allow(dead_code)]

use superset_operator_api::Superset;
use superset_operator_render::{Child, Component, Resolved, resolve};

/// A Superset from YAML, with a namespace and a UID as the API server would give it.
pub fn superset(yaml: &str) -> Superset {
    let mut superset: Superset = serde_yaml::from_str(yaml).expect("fixture parses");
    superset
        .metadata
        .namespace
        .get_or_insert_with(|| "analytics".into());
    superset
        .metadata
        .uid
        .get_or_insert_with(|| "00000000-0000-0000-0000-000000000001".into());
    superset
}

/// The resolution of a YAML fixture.
pub fn resolved(yaml: &str) -> Resolved {
    resolve(&superset(yaml)).expect("fixture resolves")
}

/// One component's child.
pub fn child(resolved: &Resolved, component: Component) -> &Child {
    &resolved
        .components
        .iter()
        .find(|c| c.component == component)
        .expect("component resolved")
        .child
}

/// One component's rendered `superset_config.py`.
pub fn config(resolved: &Resolved, component: Component) -> String {
    resolved
        .components
        .iter()
        .find(|c| c.component == component)
        .and_then(|c| c.config_map.as_ref())
        .and_then(|cm| cm.data.as_ref())
        .and_then(|d| d.get("superset_config.py"))
        .expect("component has a rendered config")
        .clone()
}

/// A minimal Development Superset with the given spec lines (indented by four spaces).
pub fn dev(extra: &str) -> String {
    format!(
        "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata:\n  name: dev\nspec:\n  environment: Development\n  image:\n    tag: \"6.0.0\"\n  secretKey: dev-secret-key\n{extra}"
    )
}

//! What must hold for any input: secret values never reach a ConfigMap, manifest strings
//! cannot break out of their Python literals, merging keeps everything it is given, and
//! resolution never panics.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use k8s_openapi::api::core::v1::{EnvVar, Toleration};
use proptest::prelude::*;
use superset_operator_api::template::{ContainerTemplate, PodTemplate};
use superset_operator_render::python::py_str;
use superset_operator_render::{labels, merge};

/// Every ConfigMap of a resolution, as text.
fn config_maps_text(yaml: &str) -> String {
    let resolved = common::resolved(yaml);
    let maps = resolved
        .components
        .iter()
        .filter_map(|c| c.config_map.as_ref())
        .chain(resolved.tasks.iter().filter_map(|t| t.config_map.as_ref()));
    maps.map(|m| serde_json::to_string(m).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every inline secret a Development manifest can carry, each a distinct marker.
fn development_with_secrets(marker: &str) -> String {
    format!(
        "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata:\n  name: dev\nspec:\n  environment: Development\n  image: {{tag: \"6.0.0\"}}\n\
         \x20 secretKey: \"{marker}-secret-key\"\n  previousSecretKey: \"{marker}-previous-key\"\n\
         \x20 metastore: {{host: db, database: superset, username: superset, password: \"{marker}-db-password\", createDatabase: true}}\n\
         \x20 valkey: {{host: valkey, password: \"{marker}-valkey-password\"}}\n\
         \x20 webServer: {{}}\n  celeryWorker: {{}}\n  celeryBeat: {{}}\n  celeryFlower: {{}}\n  mcpServer: {{}}\n\
         \x20 lifecycle:\n    rotate: {{}}\n    seed:\n      source: {{host: source, database: superset, username: reader, password: \"{marker}-seed-password\"}}\n\
         \x20   init:\n      adminUser: {{password: \"{marker}-admin-password\"}}\n"
    )
}

#[test]
fn no_secret_value_reaches_a_config_map() {
    let marker = "Zq7xSecretMarker";
    let text = config_maps_text(&development_with_secrets(marker));
    assert!(!text.is_empty());
    assert!(
        !text.contains(marker),
        "a secret value was rendered into a ConfigMap"
    );
    // The values do reach pods, as environment variables (Development only).
    let resolved = common::resolved(&development_with_secrets(marker));
    let children = serde_json::to_string(
        &resolved
            .components
            .iter()
            .map(|c| c.child.to_value())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(children.contains(&format!("{marker}-secret-key")));
}

#[test]
fn a_passthrough_uri_never_reaches_a_config_map() {
    let yaml = common::dev(
        "  metastore: {uri: \"postgresql://u:Zq7xUriPassword@db/superset\"}\n  webServer: {}\n",
    );
    assert!(!config_maps_text(&yaml).contains("Zq7xUriPassword"));
}

#[test]
fn python_literals_round_trip_through_python() {
    let hostile = [
        "plain",
        "double \" quote",
        "single ' quote",
        "back\\slash",
        "\"\"\"triple",
        "new\nline",
        "\r\n\t\u{0}\u{7f}",
        "\u{2028}\u{2029}\u{85}",
        "emoji 🦀 and é",
        "{curly} f-string {__import__('os')}",
        "\"); import os; os.system(\"id\"); (\"",
    ];
    let mut program = String::from("import json, sys\nvalues = [\n");
    for text in hostile {
        program.push_str(&format!("    {},\n", py_str(text)));
    }
    program.push_str("]\nprint(json.dumps(values))\n");
    let output = Command::new("python3")
        .arg("-c")
        .arg(&program)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let values: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(values, hostile);
}

#[test]
fn hostile_manifest_strings_stay_inside_their_literals() {
    let hostile = r#"x\"); import os; os._exit(3) #"#;
    let yaml = common::dev(&format!(
        "  featureFlags: {{'{flag}': true}}\n  valkey:\n    host: valkey\n    cache: {{keyPrefix: '{hostile}'}}\n    ssl: {{caCertFile: '{hostile}'}}\n  webServer: {{}}\n",
        flag = "EVIL\"]; import os #",
    ));
    let resolved = common::resolved(&yaml);
    let config = common::config(&resolved, superset_operator_render::Component::WebServer);
    let dir = std::env::temp_dir().join(format!("hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("superset_config.py");
    std::fs::write(&file, &config).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/exec_config.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(&file)
        .env("SUPERSET_OPERATOR__SECRET_KEY", "k")
        .env("SUPERSET_OPERATOR__VALKEY_HOST", "valkey")
        .env("SUPERSET_OPERATOR__VALKEY_PORT", "6379")
        .env("SUPERSET_OPERATOR__INSTANCE_NAME", "dev")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{config}",
        String::from_utf8_lossy(&output.stderr)
    );
    let settings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        settings["CACHE_CONFIG"]["CACHE_KEY_PREFIX"],
        format!("dev_{hostile}")
    );
    assert_eq!(
        settings["CACHE_CONFIG"]["CACHE_OPTIONS"]["ssl_ca_certs"],
        hostile
    );
    assert_eq!(settings["FEATURE_FLAGS"]["EVIL\"]; import os #"], true);
}

fn env_var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn names() -> impl Strategy<Value = String> {
    "[a-e]{1,2}"
}

fn env_list() -> impl Strategy<Value = Vec<EnvVar>> {
    prop::collection::vec((names(), "[a-z0-9]{0,3}"), 0..6)
        .prop_map(|pairs| pairs.iter().map(|(n, v)| env_var(n, v)).collect())
}

fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        prop_oneof![
            names(),
            names().prop_map(|n| format!("{}{n}", labels::RESERVED_PREFIX))
        ],
        "[a-z]{0,3}",
        0..5,
    )
}

fn pod(env: Vec<EnvVar>, labels: BTreeMap<String, String>, tolerations: usize) -> PodTemplate {
    PodTemplate {
        labels,
        tolerations: (0..tolerations)
            .map(|i| Toleration {
                key: Some(format!("t{i}")),
                ..Default::default()
            })
            .collect(),
        container: Some(ContainerTemplate {
            env,
            ..Default::default()
        }),
        ..Default::default()
    }
}

proptest! {
    /// Whatever a credential looks like, the failure text shown in status keeps none of it.
    #[test]
    fn failure_output_never_shows_a_credential(
        secret in "[A-Za-z0-9!#%*+.~_;,&-]{6,40}",
        filler in "[a-z ]{0,300}",
    ) {
        use superset_operator_render::redact::redact_and_truncate;
        for text in [
            format!("{filler} could not connect to postgresql://superset:{secret}@db:5432/superset"),
            format!("{filler} password={secret} user=superset"),
            format!("{filler} Authorization: Bearer {secret}"),
            format!("{filler} SECRET_KEY: {secret}"),
        ] {
            let shown = redact_and_truncate(&text);
            prop_assert!(!shown.contains(&secret), "{shown}");
        }
    }

    #[test]
    fn merged_env_keeps_every_name_and_lets_the_component_win(top in env_list(), component in env_list()) {
        let merged = merge::pod_template(Some(&pod(top.clone(), BTreeMap::new(), 0)), Some(&pod(component.clone(), BTreeMap::new(), 0)));
        let env = merged.container.unwrap().env;
        // Nothing named is lost, and each name appears once.
        for var in top.iter().chain(&component) {
            prop_assert_eq!(env.iter().filter(|e| e.name == var.name).count(), 1);
        }
        // On conflict the component's last entry wins.
        for var in &component {
            let last = component.iter().rev().find(|c| c.name == var.name).unwrap();
            prop_assert_eq!(&env.iter().find(|e| e.name == var.name).unwrap().value, &last.value);
        }
        // Order is stable: first appearance across top then component.
        let mut order: Vec<&str> = Vec::new();
        for var in top.iter().chain(&component) {
            if !order.contains(&var.name.as_str()) { order.push(&var.name); }
        }
        prop_assert_eq!(env.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), order);
    }

    #[test]
    fn merging_is_deterministic(top in env_list(), component in env_list()) {
        let a = merge::pod_template(Some(&pod(top.clone(), BTreeMap::new(), 1)), Some(&pod(component.clone(), BTreeMap::new(), 2)));
        let b = merge::pod_template(Some(&pod(top, BTreeMap::new(), 1)), Some(&pod(component, BTreeMap::new(), 2)));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn maps_merge_by_key_and_lists_append(top in label_map(), component in label_map(), t in 0usize..4, c in 0usize..4) {
        let merged = merge::pod_template(Some(&pod(vec![], top.clone(), t)), Some(&pod(vec![], component.clone(), c)));
        for (key, value) in &component {
            prop_assert_eq!(&merged.labels[key], value);
        }
        for (key, value) in &top {
            prop_assert_eq!(&merged.labels[key], component.get(key).unwrap_or(value));
        }
        prop_assert_eq!(merged.tolerations.len(), t + c);
    }

    #[test]
    fn reserved_labels_always_survive(user in label_map(), name in "[a-z][a-z0-9-]{0,20}") {
        let operator = labels::component(&name, superset_operator_render::Component::WebServer);
        let merged = labels::merge_user_and_operator(&user, &operator);
        for (key, value) in &operator {
            prop_assert_eq!(&merged[key], value);
        }
        for key in merged.keys() {
            prop_assert!(!key.starts_with(labels::RESERVED_PREFIX) || operator.contains_key(key));
        }
    }

    #[test]
    fn resolving_never_panics_on_arbitrary_strings(
        text in "\\PC{0,40}",
        flag in "[A-Z][A-Z0-9_]{0,12}",
        port in 1i32..65535,
        replicas in 0i32..20,
    ) {
        let yaml = serde_json::json!({
            "apiVersion": "superset.apache.org/v1alpha1",
            "kind": "Superset",
            "metadata": { "name": "fuzz" },
            "spec": {
                "environment": "Development",
                "image": { "tag": text },
                "secretKey": text,
                "config": text,
                "bootstrapScript": text,
                "featureFlags": { flag.clone(): true },
                "metastore": { "host": text, "database": text, "username": text, "port": port },
                "valkey": { "host": text, "port": port, "cache": { "keyPrefix": text }, "ssl": { "keyFile": text } },
                "replicas": replicas,
                "webServer": { "service": { "port": port } },
                "celeryWorker": { "config": text },
                "celeryFlower": {},
                "mcpServer": {},
                "lifecycle": { "maintenancePage": { "title": text, "message": text } },
            },
        });
        let superset: superset_operator_api::Superset = serde_json::from_value(yaml).unwrap();
        let resolved = superset_operator_render::resolve(&superset).unwrap();
        prop_assert_eq!(resolved.components.len(), 4);
        for component in &resolved.components {
            let rendered = component.config_map.as_ref().unwrap().data.as_ref().unwrap()["superset_config.py"].clone();
            // The user's own config is appended verbatim; everything before it is ours.
            let ours = rendered.split("# Base config (spec.config)").next().unwrap();
            prop_assert!(ours.contains(&py_str(&flag)));
        }
    }
}

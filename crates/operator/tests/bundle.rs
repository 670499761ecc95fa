//! The OLM bundle holds to the rules `operator-sdk bundle validate` enforces (the registry+v1
//! format, the CSV, CRD ownership, examples) and to the operatorhub and good-practice checks,
//! and its examples are accepted by the real API server.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

mod common;

fn bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bundle")
}

fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let mut documents = serde_yaml::Deserializer::from_str(&text);
    let first = serde::Deserialize::deserialize(documents.next().unwrap()).unwrap();
    assert!(
        documents.next().is_none(),
        "{}: OLM reads only the first document of a file",
        path.display()
    );
    first
}

/// Every manifest, by file name.
fn manifests() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(bundle().join("manifests")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(path.is_file(), "manifests/ must be flat: {name}");
        assert!(
            !name.starts_with('.'),
            "no hidden files in manifests/: {name}"
        );
        assert!(name.ends_with(".yaml"), "{name}");
        out.push((name, read_yaml(&path)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn csv() -> Value {
    let csvs: Vec<Value> = manifests()
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| m["kind"] == "ClusterServiceVersion")
        .collect();
    assert_eq!(csvs.len(), 1, "exactly one CSV");
    csvs.into_iter().next().unwrap()
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap();
    let parts: Vec<_> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[test]
fn annotations_declare_a_registry_v1_bundle() {
    let annotations = read_yaml(&bundle().join("metadata/annotations.yaml"));
    let a = &annotations["annotations"];
    let key = |k: &str| a[format!("operators.operatorframework.io.bundle.{k}")].as_str();
    assert_eq!(key("mediatype.v1"), Some("registry+v1"));
    assert_eq!(key("manifests.v1"), Some("manifests/"));
    assert_eq!(key("metadata.v1"), Some("metadata/"));
    assert_eq!(key("package.v1"), Some("superset-operator"));
    let channels = key("channels.v1").unwrap();
    assert!(!channels.is_empty());
    let default = key("channel.default.v1").unwrap();
    assert!(channels.split(',').any(|c| c == default));
    assert!(
        ["stable", "fast", "candidate"]
            .iter()
            .any(|p| default.starts_with(p)),
        "good practice: channels start with stable, fast or candidate"
    );
    let dockerfile = std::fs::read_to_string(bundle().join("bundle.Dockerfile")).unwrap();
    for (k, v) in a.as_object().unwrap() {
        assert!(
            dockerfile.contains(&format!("LABEL {k}={}", v.as_str().unwrap())),
            "bundle.Dockerfile labels every annotation: {k}"
        );
    }
}

#[test]
fn the_manifests_are_only_kinds_a_bundle_may_hold() {
    let allowed = [
        "ClusterServiceVersion",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "ServiceMonitor",
        "PrometheusRule",
        "PodDisruptionBudget",
    ];
    for (name, manifest) in manifests() {
        let kind = manifest["kind"].as_str().unwrap();
        assert!(
            allowed.contains(&kind),
            "{name}: {kind} cannot be in a bundle"
        );
        assert!(
            is_dns_subdomain(manifest["metadata"]["name"].as_str().unwrap()),
            "{name}"
        );
    }
}

#[test]
fn the_csv_is_complete() {
    let csv = csv();
    assert_eq!(csv["apiVersion"], "operators.coreos.com/v1alpha1");
    let name = csv["metadata"]["name"].as_str().unwrap();
    let version = csv["spec"]["version"].as_str().unwrap();
    assert!(is_semver(version), "{version}");
    assert_eq!(name, format!("superset-operator.v{version}"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert!(is_dns_subdomain(name));
    let spec = &csv["spec"];
    for field in ["displayName", "description", "maturity"] {
        assert!(
            !spec[field].as_str().unwrap_or_default().is_empty(),
            "{field}"
        );
    }
    assert!(is_semver(spec["minKubeVersion"].as_str().unwrap()));

    let annotations = &csv["metadata"]["annotations"];
    let capabilities = [
        "Basic Install",
        "Seamless Upgrades",
        "Full Lifecycle",
        "Deep Insights",
        "Auto Pilot",
    ];
    assert!(capabilities.contains(&annotations["capabilities"].as_str().unwrap()));
    let categories = [
        "AI/Machine Learning",
        "Application Runtime",
        "Big Data",
        "Cloud Provider",
        "Developer Tools",
        "Database",
        "Integration & Delivery",
        "Logging & Tracing",
        "Monitoring",
        "Modernization & Migration",
        "Networking",
        "OpenShift Optional",
        "Security",
        "Storage",
        "Streaming & Messaging",
        "Observability",
    ];
    for category in annotations["categories"].as_str().unwrap().split(',') {
        assert!(categories.contains(&category.trim()), "{category}");
    }
    for field in ["containerImage", "description", "repository", "support"] {
        assert!(
            !annotations[field].as_str().unwrap_or_default().is_empty(),
            "{field}"
        );
    }

    assert!(
        !spec["provider"]["name"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    for maintainer in spec["maintainers"].as_array().unwrap() {
        let email = maintainer["email"].as_str().unwrap();
        assert!(!maintainer["name"].as_str().unwrap().is_empty());
        let (user, domain) = email.split_once('@').unwrap();
        assert!(!user.is_empty() && domain.contains('.'), "{email}");
    }
    for link in spec["links"].as_array().unwrap() {
        assert!(!link["name"].as_str().unwrap().is_empty());
        assert!(link["url"].as_str().unwrap().starts_with("https://"));
    }
    let icons = spec["icon"].as_array().unwrap();
    assert_eq!(icons.len(), 1);
    assert!(
        ["image/gif", "image/jpeg", "image/png", "image/svg+xml"]
            .contains(&icons[0]["mediatype"].as_str().unwrap())
    );
    assert!(!icons[0]["base64data"].as_str().unwrap().is_empty());

    let modes: Vec<&str> = spec["installModes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        modes,
        [
            "OwnNamespace",
            "SingleNamespace",
            "MultiNamespace",
            "AllNamespaces"
        ]
    );
    assert!(
        spec["installModes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["supported"] == true)
    );
}

#[test]
fn the_install_strategy_runs_the_operator_with_its_generated_rbac() {
    let csv = csv();
    let install = &csv["spec"]["install"];
    assert_eq!(install["strategy"], "deployment");
    let deployments = install["spec"]["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1);
    let pod = &deployments[0]["spec"]["template"]["spec"];
    let account = pod["serviceAccountName"].as_str().unwrap();
    for container in pod["containers"].as_array().unwrap() {
        let requests = &container["resources"]["requests"];
        assert!(requests["cpu"].is_string() && requests["memory"].is_string());
        let env = container["env"].as_array().unwrap();
        assert!(
            env.iter()
                .any(|e| e["name"] == "SUPERSET_OPERATOR_NAMESPACES"
                    && e["valueFrom"]["fieldRef"]["fieldPath"]
                        == "metadata.annotations['olm.targetNamespaces']"),
            "the operator watches the namespaces OLM targets"
        );
    }
    for permissions in ["clusterPermissions", "permissions"] {
        for entry in install["spec"][permissions].as_array().unwrap() {
            assert_eq!(entry["serviceAccountName"], account, "{permissions}");
            for rule in entry["rules"].as_array().unwrap() {
                let text = rule.to_string();
                assert!(!text.contains("\"*\""), "no wildcards: {text}");
                let creates_crds = rule["resources"]
                    .to_string()
                    .contains("customresourcedefinitions")
                    && ["create", "patch", "update"]
                        .iter()
                        .any(|v| rule["verbs"].to_string().contains(v));
                assert!(!creates_crds, "OLM installs the CRDs: {text}");
            }
        }
    }
    for (name, manifest) in manifests() {
        assert!(
            !(manifest["kind"] == "ServiceAccount" && manifest["metadata"]["name"] == account),
            "{name}: OLM creates the deployment's ServiceAccount itself"
        );
    }
}

#[test]
fn every_crd_is_owned_and_every_owned_kind_has_a_crd_and_an_example() {
    let csv = csv();
    let owned = csv["spec"]["customresourcedefinitions"]["owned"]
        .as_array()
        .unwrap();
    let crds: Vec<Value> = manifests()
        .into_iter()
        .map(|(_, m)| m)
        .filter(|m| m["kind"] == "CustomResourceDefinition")
        .collect();
    assert_eq!(crds.len(), 8);
    let mut owned_keys = BTreeSet::new();
    for o in owned {
        let name = o["name"].as_str().unwrap();
        let crd = crds
            .iter()
            .find(|c| c["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("owned {name} has no CRD in the bundle"));
        assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
        assert_eq!(crd["spec"]["names"]["kind"], o["kind"]);
        let version = crd["spec"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == o["version"])
            .unwrap_or_else(|| panic!("{name}: owned version missing"));
        assert_eq!(version["served"], true);
        assert_eq!(version["storage"], true);
        assert!(!o["displayName"].as_str().unwrap().is_empty());
        assert!(!o["description"].as_str().unwrap().is_empty(), "{name}");
        let group = name.split_once('.').unwrap().1;
        owned_keys.insert((
            group.to_owned(),
            o["version"].as_str().unwrap().to_owned(),
            o["kind"].as_str().unwrap().to_owned(),
        ));
    }
    for crd in &crds {
        assert!(
            owned.iter().any(|o| o["name"] == crd["metadata"]["name"]),
            "every CRD in the bundle is owned"
        );
    }

    let examples: Vec<Value> = serde_json::from_str(
        csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let mut example_keys = BTreeSet::new();
    for example in &examples {
        let (group, version) = example["apiVersion"]
            .as_str()
            .unwrap()
            .split_once('/')
            .unwrap();
        let key = (
            group.to_owned(),
            version.to_owned(),
            example["kind"].as_str().unwrap().to_owned(),
        );
        assert!(
            owned_keys.contains(&key),
            "example of an unowned kind: {key:?}"
        );
        example_keys.insert(key);
    }
    assert_eq!(example_keys, owned_keys, "one example for every owned kind");
}

#[test]
fn the_bundle_is_small_enough_for_a_catalog() {
    let mut bytes = Vec::new();
    for (name, _) in manifests() {
        let mut file = std::fs::File::open(bundle().join("manifests").join(name)).unwrap();
        file.read_to_end(&mut bytes).unwrap();
    }
    // The validator's limit is 1 MiB after gzip and base64; the raw size bounds it from above
    // only loosely, so compress as it does.
    let mut gzip = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = gzip.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes).unwrap());
    let output = gzip.wait_with_output().unwrap();
    writer.join().unwrap();
    let encoded = output.stdout.len() * 4 / 3;
    assert!(encoded < 1 << 20, "{encoded} bytes after gzip and base64");
}

#[tokio::test]
async fn every_example_is_accepted_by_the_api_server() {
    let env = superset_operator_testkit::api().await;
    let csv = csv();
    let examples: Vec<Value> = serde_json::from_str(
        csv["metadata"]["annotations"]["alm-examples"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    for example in examples {
        let output = common::kubectl_with_input(
            &env,
            &["create", "--dry-run=server", "-f", "-"],
            &example.to_string(),
        );
        assert!(
            output.status.success(),
            "{} example rejected: {}",
            example["kind"],
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

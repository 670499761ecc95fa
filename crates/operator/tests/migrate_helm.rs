//! `superset-operator migrate-helm` on values files written like real releases: the manifest it
//! prints is accepted by the real API server as written (nothing pruned), renders, holds no
//! credential from the values file, and lists every value it could not carry over.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use superset_operator_api::Superset;

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/migrate_helm")
        .join(name)
}

fn migrate(values: &Path, name: &str, namespace: &str, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_superset-operator"))
        .args(["migrate-helm", "-f"])
        .arg(values)
        .args(["--name", name, "--namespace", namespace])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "migrate-helm failed on {}: {}",
        values.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The keys listed under "Values not carried over" in the manifest's header.
fn reported_keys(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .skip_while(|l| !l.starts_with("# Values not carried over"))
        .skip(1)
        .map_while(|l| l.strip_prefix("#   "))
        .map(|l| l.split(": ").next().unwrap().to_owned())
        .collect()
}

/// Every scalar under a key that names a credential, anywhere in the values file.
fn inline_credentials(values: &serde_yaml::Value, under_credential: bool, out: &mut Vec<String>) {
    match values {
        serde_yaml::Value::Mapping(map) => {
            for (key, value) in map {
                let key = key.as_str().unwrap_or_default().to_ascii_lowercase();
                // Passwords, the websocket JWT secret, and the values of extraSecretEnv; names
                // of Secrets (imagePullSecrets, secretName) are references, not credentials.
                let credential =
                    key.contains("pass") || key == "jwtsecret" || key == "extrasecretenv";
                inline_credentials(value, under_credential || credential, out);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            for item in items {
                inline_credentials(item, under_credential, out);
            }
        }
        serde_yaml::Value::String(s) if under_credential && s.len() >= 6 => out.push(s.clone()),
        _ => {}
    }
}

fn credentials_in(values: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(values).unwrap();
    let mut found = Vec::new();
    inline_credentials(&serde_yaml::from_str(&text).unwrap(), false, &mut found);
    // Credentials written inside Python snippets.
    for line in text.lines() {
        if let Some(start) = line.find("inline-") {
            let word: String = line[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-')
                .collect();
            found.push(word);
        }
    }
    found
}

fn renders(manifest: &str, dir: &Path) {
    let file = dir.join("superset.yaml");
    std::fs::write(&file, manifest).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_superset-operator"))
        .args(["render", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "render rejected the migrated manifest: {}\n{manifest}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every field of `expected` is in `actual` with the same value (the API server adds defaults,
/// but must not prune or change anything the tool wrote).
fn assert_kept(expected: &Value, actual: &Value, path: &str) {
    match expected {
        Value::Object(map) => {
            for (key, value) in map {
                let child = actual.get(key).unwrap_or_else(|| {
                    panic!("{path}.{key} was dropped by the API server: the tool wrote a field the API does not know")
                });
                assert_kept(value, child, &format!("{path}.{key}"));
            }
        }
        _ => assert_eq!(expected, actual, "{path} changed when stored"),
    }
}

fn kubectl_create(env: &superset_operator_testkit::TestEnv, manifest: &str) {
    let output = common::kubectl_with_input(env, &["create", "-f", "-"], manifest);
    assert!(
        output.status.success(),
        "the API server rejected the migrated manifest: {}\n{manifest}",
        String::from_utf8_lossy(&output.stderr)
    );
}

struct Case {
    file: &'static str,
    name: &'static str,
    extra: &'static [&'static str],
    reported: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        file: "minimal.yaml",
        name: "minimal",
        extra: &[],
        reported: &["postgresql.enabled", "redis.enabled"],
    },
    Case {
        file: "external-secrets.yaml",
        name: "external",
        extra: &["--release", "analytics"],
        reported: &[],
    },
    Case {
        file: "every-component.yaml",
        name: "every",
        extra: &[],
        reported: &[
            "extraConfigs",
            "ingress.extraHostsRaw",
            "service.loadBalancerIP",
            "some_unknown_value",
            "supersetCeleryBeat.podDisruptionBudget",
            "supersetCeleryFlower.enabled",
            "supersetNode.command",
            "supersetWorker.autoscaling.maxReplicas",
        ],
    },
    Case {
        file: "inline-passwords.yaml",
        name: "inline",
        extra: &[],
        reported: &[
            "configOverrides.oauth",
            "configOverrides.results",
            "configOverrides.results",
            "configOverrides.secret",
            "init.createAdmin",
            "init.loadExamples",
        ],
    },
    Case {
        file: "inline-passwords.yaml",
        name: "inline-dev",
        extra: &["--environment", "Development"],
        reported: &[
            "configOverrides.oauth",
            "configOverrides.results",
            "configOverrides.results",
            "configOverrides.secret",
            "init.adminUser.password",
        ],
    },
];

#[tokio::test]
async fn migrated_values_are_accepted_render_and_hold_no_credential() {
    let env = superset_operator_testkit::api().await;
    let dir = std::env::temp_dir().join(format!("migrate-helm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let supersets: kube::Api<Superset> = env.api();
    for case in CASES {
        let values = fixture(case.file);
        let manifest = migrate(&values, case.name, &env.namespace, case.extra);

        assert_eq!(reported_keys(&manifest), case.reported, "{}", case.file);
        let credentials = credentials_in(&values);
        assert!(!credentials.is_empty() || case.file == "minimal.yaml");
        for credential in credentials {
            assert!(
                !manifest.contains(&credential),
                "{}: the credential {credential:?} reached the manifest",
                case.file
            );
        }

        renders(&manifest, &dir);
        kubectl_create(&env, &manifest);
        let stored = supersets.get(case.name).await.unwrap();
        let written: Value = serde_yaml::from_str(&manifest).unwrap();
        assert_kept(
            &written["spec"],
            &serde_json::to_value(&stored.spec).unwrap(),
            "spec",
        );
        let spec = &stored.spec;
        assert!(spec.secret_key.is_none() && spec.secret_key_from.is_some());
        let metastore = spec.metastore.as_ref().unwrap();
        assert!(metastore.password.is_none() && metastore.password_from.is_some());
        assert!(spec.valkey.as_ref().unwrap().password.is_none());
        if let Some(ws) = &spec.websocket_server {
            assert!(ws.config.is_none() && ws.config_from.is_some());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

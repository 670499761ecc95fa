//! Targets `preview` and `migrate_helm`: the two commands of the binary that read a user's
//! YAML file, called the way `main.rs` calls them.

use serde_json::Value;
use superset_operator_api::superset::Environment;

use crate::{migrate_helm as helm, preview};

/// Target `preview`: `superset-operator render -f`. Any error is fine; what it renders must
/// be YAML documents, each an object with a kind.
///
/// Slow: every Superset document costs about a second in a release build (under a debug
/// build, several), nearly all of it in kube's `validate_cel`, which builds the whole CRD
/// again on every call.
pub fn preview(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    if let Ok(rendered) = preview::render(text, "default") {
        check_documents(&rendered);
    }
}

fn check_documents(rendered: &str) {
    use serde::Deserialize as _;
    for document in serde_yaml::Deserializer::from_str(rendered) {
        let value = serde_yaml::Value::deserialize(document)
            .unwrap_or_else(|e| panic!("render printed YAML it cannot read back ({e})"));
        if value.is_null() {
            // Nothing rendered: the input had no Superset.
            continue;
        }
        assert!(
            value.get("kind").and_then(|k| k.as_str()).is_some(),
            "a rendered document without a kind: {value:?}"
        );
    }
}

/// The options `migrate-helm` is run with: its defaults, or a release named unlike the
/// Superset, in a namespace, for Development. Each input gets one of the two (by the sum of its
/// bytes), since checking a migration costs as much as [`preview`].
fn options_for(data: &[u8]) -> helm::Options {
    let sum = data.iter().map(|b| usize::from(*b)).sum::<usize>();
    let [first, second] = [
        helm::Options {
            name: "superset".into(),
            namespace: None,
            release: "superset".into(),
            environment: Environment::Production,
        },
        helm::Options {
            name: "bi".into(),
            namespace: Some("analytics".into()),
            release: "bi-release".into(),
            environment: Environment::Development,
        },
    ];
    if sum % 2 == 0 { first } else { second }
}

/// Target `migrate_helm`: a Helm values file. Any error is fine; a migration that succeeds
/// must give a manifest that `render` accepts (the binary says "please report this"
/// otherwise), and no string marked as a credential (see [`marked_credentials`]) may reach
/// it.
pub fn migrate_helm(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let options = options_for(data);
    let Ok(migration) = helm::migrate(text, &options) else {
        return;
    };
    let manifest = helm::manifest(&migration, "values.yaml")
        .unwrap_or_else(|e| panic!("a migration that cannot be written as YAML: {e}"));
    for credential in marked_credentials(text) {
        assert!(
            !manifest.contains(credential.as_str()),
            "the credential {credential:?} from the values file reached the manifest:\n{manifest}"
        );
    }
    let namespace = options.namespace.as_deref().unwrap_or("default");
    validated(&manifest, namespace, || {
        preview::render(&manifest, namespace)
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .unwrap_or_else(|error| {
        panic!("the migrated manifest does not pass validation: {error}\n{manifest}")
    });
}

/// `check()`, unless the same manifest was checked before in this process: many mutations of
/// a values file (comments, spacing, order) give the same manifest, and each check costs about
/// a second.
fn validated(
    manifest: &str,
    namespace: &str,
    check: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static SEEN: OnceLock<Mutex<HashMap<String, Result<(), String>>>> = OnceLock::new();
    let key = format!("{namespace}\n{manifest}");
    let seen = SEEN.get_or_init(Default::default);
    if let Some(outcome) = seen.lock().expect("not poisoned").get(&key) {
        return outcome.clone();
    }
    let outcome = check();
    let mut seen = seen.lock().expect("not poisoned");
    if seen.len() >= 4096 {
        seen.clear();
    }
    seen.insert(key, outcome.clone());
    outcome
}

/// The prefix that marks a string of a values file as a credential for this target. Only
/// marked strings are checked, so that a short password such as `superset`, which appears in
/// the manifest for other reasons, raises no false alarm.
pub const CREDENTIAL_MARK: &str = "fuzzcred";

/// Marked strings (starting with [`CREDENTIAL_MARK`]) at the places of a values file that
/// hold credentials, which `migrate-helm` promises never to copy: the database and Redis
/// passwords under `supersetNode.connections`, `extraSecretEnv`, environment variables of
/// `extraEnv` whose names say they hold a credential, `init.adminUser.password`, the
/// websocket server's `jwtSecret`, and the sub-charts' passwords. A marked string that also
/// appears anywhere else in the file, as a value or a key, is left out: it may be copied from
/// there.
pub fn marked_credentials(text: &str) -> Vec<String> {
    let Ok(values) = serde_yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut at_credentials = Vec::new();
    let mut elsewhere = Vec::new();
    walk(
        &values,
        &mut Vec::new(),
        &mut at_credentials,
        &mut elsewhere,
    );
    at_credentials.retain(|c| {
        c.starts_with(CREDENTIAL_MARK) && !elsewhere.iter().any(|e| e.contains(c.as_str()))
    });
    at_credentials.sort();
    at_credentials.dedup();
    at_credentials
}

fn is_credential_path(path: &[&str]) -> bool {
    let upper = |s: &str| s.to_ascii_uppercase();
    match path {
        ["supersetNode", "connections", key] => key.to_ascii_lowercase().contains("pass"),
        ["extraSecretEnv", _] => true,
        ["extraEnv", name] => ["PASSWORD", "PASSWD", "SECRET", "API_KEY"]
            .iter()
            .any(|m| upper(name).contains(m)),
        ["init", "adminUser", "password"] => true,
        ["supersetWebsockets", "config", "jwtSecret"] => true,
        ["postgresql" | "redis", "auth", key] => key.to_ascii_lowercase().contains("password"),
        _ => false,
    }
}

fn walk<'a>(
    value: &'a Value,
    path: &mut Vec<&'a str>,
    at_credentials: &mut Vec<String>,
    elsewhere: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                elsewhere.push(key.clone());
                path.push(key);
                walk(child, path, at_credentials, elsewhere);
                path.pop();
            }
        }
        Value::Array(items) => {
            for item in items {
                // Items of a list are never at a credential's place.
                path.push("[]");
                walk(item, path, at_credentials, elsewhere);
                path.pop();
            }
        }
        Value::String(s) if is_credential_path(path) => at_credentials.push(s.clone()),
        other => elsewhere.push(match other {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }),
    }
}

//! Installing the operator: the generated manifests are fresh, the Helm chart renders exactly the
//! generated RBAC and CRDs in both install modes, and the operator needs nothing beyond that
//! RBAC (it is run with a token of a ServiceAccount that has only the generated rules).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Replica, available, kubectl_apply, sample, wait_until};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, PostParams};
use serde_yaml::Value;
use superset_operator_controller::rbac;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn generated_install_artefacts_are_fresh() {
    let output = Command::new(env!("CARGO_BIN_EXE_superset-operator"))
        .args(["generate", "--check", "--root"])
        .arg(root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn helm() -> PathBuf {
    std::env::var_os("SUPERSET_HELM")
        .map(PathBuf::from)
        .expect("SUPERSET_HELM names the helm binary (`make test` builds it with hack/helm.sh)")
}

/// `helm template` of the chart with `args`, as YAML documents.
fn template(args: &[&str]) -> Vec<Value> {
    let output = Command::new(helm())
        .args([
            "template",
            "ops",
            "charts/superset-operator",
            "--namespace",
            "ops",
        ])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "helm template failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|doc| !doc.is_null())
        .collect()
}

use serde::Deserialize as _;

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn rules_of<T: serde::Serialize>(rules: &T) -> Value {
    serde_yaml::to_value(rules).unwrap()
}

#[test]
fn the_chart_lints_and_renders_the_generated_rbac_and_crds() {
    let lint = Command::new(helm())
        .args(["lint", "charts/superset-operator", "--strict"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );

    // Cluster-wide: one ClusterRole with every generated rule.
    let docs = template(&["--include-crds"]);
    let cluster_roles = of_kind(&docs, "ClusterRole");
    assert_eq!(cluster_roles.len(), 1);
    assert_eq!(
        cluster_roles[0]["rules"],
        rules_of(&rbac::cluster_role("x").rules)
    );
    let crds = of_kind(&docs, "CustomResourceDefinition");
    let generated: Vec<Value> = superset_operator_api::crds()
        .iter()
        .map(|crd| serde_yaml::to_value(crd).unwrap())
        .collect();
    assert_eq!(crds.len(), generated.len());
    for crd in &generated {
        assert!(
            crds.contains(&crd),
            "the chart's CRDs differ from the generated ones"
        );
    }
    let deployment = of_kind(&docs, "Deployment")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"][0],
        "ALL"
    );
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(args.contains(&"--leader-elect"));
    assert!(args.contains(&"--max-concurrent-reconciles=16"));
    assert!(args.contains(&"--reconcile-debounce-ms=500"));
    assert!(!args.iter().any(|a| a.starts_with("--namespace")));
    assert!(of_kind(&docs, "ServiceMonitor").is_empty());
    assert_eq!(of_kind(&docs, "Service").len(), 1, "the metrics Service");
    let roles = of_kind(&docs, "Role");
    assert_eq!(roles.len(), 1, "only the Role of its own namespace");
    assert_eq!(
        roles[0]["rules"],
        rules_of(&rbac::own_namespace_role("x", "y").rules)
    );

    // Namespace-scoped: a Role per namespace, and cluster-wide only reading the CRDs.
    let docs = template(&[
        "--set",
        "watchNamespaces={analytics,bi}",
        "--set",
        "metrics.serviceMonitor.enabled=true",
    ]);
    let cluster_roles = of_kind(&docs, "ClusterRole");
    assert_eq!(cluster_roles.len(), 1);
    assert_eq!(
        cluster_roles[0]["rules"],
        rules_of(&rbac::crd_reader("x").rules)
    );
    let watched: Vec<&Value> = of_kind(&docs, "Role")
        .into_iter()
        .filter(|r| r["metadata"]["namespace"] != "ops")
        .collect();
    assert_eq!(watched.len(), 2);
    for role in watched {
        assert_eq!(
            role["rules"],
            rules_of(&rbac::namespace_role("x", "y").rules)
        );
    }
    let deployment = of_kind(&docs, "Deployment")[0];
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_sequence()
            .unwrap()
            .contains(&Value::from("--namespace=analytics"))
    );
    assert_eq!(of_kind(&docs, "ServiceMonitor").len(), 1);

    // Values are validated by the schema.
    let bad = Command::new(helm())
        .args(["template", "ops", "charts/superset-operator"])
        .args(["--set", "logFormat=xml"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!bad.status.success(), "an invalid value was accepted");
}

/// A kubeconfig like the admin one, authenticating with `token` instead.
fn kubeconfig_with_token(admin: &Path, token: &str, path: &Path) {
    let mut config: Value = serde_yaml::from_str(&std::fs::read_to_string(admin).unwrap()).unwrap();
    for user in config["users"].as_sequence_mut().unwrap() {
        user["user"] = serde_yaml::from_str(&format!("token: {token}")).unwrap();
    }
    std::fs::write(path, serde_yaml::to_string(&config).unwrap()).unwrap();
}

#[tokio::test]
async fn the_operator_needs_nothing_beyond_the_generated_rbac() {
    let env = superset_operator_testkit::cluster().await;
    let namespace = env.namespace.clone();
    let account = "superset-operator";
    let accounts: Api<ServiceAccount> = env.api();
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": account } })).unwrap();
    accounts.create(&PostParams::default(), &sa).await.unwrap();

    // The namespace-scoped install: the generated Role here, the Lease Role, and reading CRDs.
    let roles: Api<Role> = env.api();
    let bindings: Api<RoleBinding> = env.api();
    for role in [
        rbac::namespace_role("operator", &namespace),
        rbac::own_namespace_role("operator-lease", &namespace),
    ] {
        let name = role.metadata.name.clone().unwrap();
        roles.create(&PostParams::default(), &role).await.unwrap();
        bindings
            .create(
                &PostParams::default(),
                &rbac::role_binding(&name, &namespace, account, &namespace),
            )
            .await
            .unwrap();
    }
    let crd_reader = format!("{namespace}-crds");
    Api::<ClusterRole>::all(env.client.clone())
        .create(&PostParams::default(), &rbac::crd_reader(&crd_reader))
        .await
        .unwrap();
    Api::<ClusterRoleBinding>::all(env.client.clone())
        .create(
            &PostParams::default(),
            &rbac::cluster_binding(&crd_reader, account, &namespace),
        )
        .await
        .unwrap();

    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = accounts
        .create_token_request(account, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let kubeconfig = std::env::temp_dir().join(format!("{namespace}-operator.kubeconfig"));
    kubeconfig_with_token(env.kubeconfig(), &token, &kubeconfig);

    let operator = Replica::start_with(
        &kubeconfig,
        &namespace,
        "restricted",
        &["--leader-elect", "--leader-election-namespace", &namespace],
    );
    kubectl_apply(&env, &sample());
    wait_until(
        "the operator with the generated RBAC did not converge the sample",
        Duration::from_secs(120),
        || available(&env),
    );
    let metrics = operator.get("/metrics").unwrap().1;
    assert!(
        !metrics.contains("category=\"forbidden\""),
        "a request was forbidden:\n{metrics}"
    );
    operator.stop();
    let _ = std::fs::remove_file(kubeconfig);
}

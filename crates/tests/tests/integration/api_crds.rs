//! The CRDs as the API server sees them: installed and established, defaults applied by the
//! server, printer columns, short names, the `superset-all` category and `kubectl explain`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};
use serde_json::json;
use superset_operator_api::Superset;
use superset_operator_api::image::{DEFAULT_SUPERSET_REPOSITORY, PullPolicy};
use superset_operator_api::superset::Environment;
use superset_operator_testkit::TestEnv;

/// Supersets as plain JSON, to send exactly what a user's manifest holds.
fn untyped(env: &TestEnv) -> Api<kube::api::DynamicObject> {
    Api::namespaced_with(
        env.client.clone(),
        &env.namespace,
        &kube::api::ApiResource::erase::<Superset>(&()),
    )
}

fn kubectl(env: &TestEnv, args: &[&str]) -> String {
    let output = env.kubectl().args(args).output().expect("running kubectl");
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn every_crd_is_established() {
    let env = superset_operator_testkit::api().await;
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    for crd in superset_operator_api::crds() {
        let name = crd.metadata.name.unwrap();
        let live = crds.get(&name).await.unwrap();
        let conditions = live.status.unwrap().conditions.unwrap();
        for wanted in ["Established", "NamesAccepted"] {
            assert!(
                conditions
                    .iter()
                    .any(|c| c.type_ == wanted && c.status == "True"),
                "{name} is not {wanted}: {conditions:?}"
            );
        }
    }
}

#[tokio::test]
async fn minimal_development_superset_is_accepted_with_server_defaults() {
    let env = superset_operator_testkit::api().await;
    let supersets: Api<Superset> = env.api();
    let manifest: Superset = serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": "dev" },
        "spec": {
            "environment": "Development",
            "image": { "tag": "6.0.0" },
            "secretKey": "not-a-real-key",
            "metastore": { "uri": "postgresql://superset:superset@postgres:5432/superset" },
            "webServer": {},
        },
    }))
    .unwrap();
    // Serialising our own type sends no defaults, so the server must fill them in.
    let sent = serde_json::to_value(&manifest).unwrap();
    assert!(
        sent["spec"]["image"].get("pullPolicy").is_some(),
        "our Default fills pullPolicy client-side too"
    );
    let raw: Api<kube::api::DynamicObject> = untyped(&env);
    let bare: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": "bare" },
        "spec": { "environment": "Development", "image": { "tag": "6.0.0" }, "secretKey": "k" },
    }))
    .unwrap();
    raw.create(&PostParams::default(), &bare).await.unwrap();
    let stored = raw.get("bare").await.unwrap();
    assert_eq!(
        stored.data["spec"]["image"]["repository"],
        DEFAULT_SUPERSET_REPOSITORY
    );
    assert_eq!(stored.data["spec"]["image"]["pullPolicy"], "IfNotPresent");

    supersets
        .create(&PostParams::default(), &manifest)
        .await
        .unwrap();
    let stored = supersets.get("dev").await.unwrap();
    assert_eq!(stored.spec.environment, Environment::Development);
    assert_eq!(stored.spec.image.pull_policy, PullPolicy::IfNotPresent);
    assert!(stored.spec.web_server.is_some());
}

#[tokio::test]
async fn production_superset_with_secret_references_is_accepted() {
    let env = superset_operator_testkit::api().await;
    let raw: Api<kube::api::DynamicObject> = untyped(&env);
    let manifest: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": "prod" },
        "spec": {
            "image": { "tag": "6.0.0" },
            "secretKeyFrom": { "name": "superset", "key": "secret-key" },
            "metastore": { "uriFrom": { "name": "superset", "key": "database-uri" } },
            "valkey": { "host": "valkey", "passwordFrom": { "name": "valkey", "key": "password" } },
            "webServer": { "replicas": 2 },
            "celeryWorker": { "autoscaling": { "minReplicas": 2, "maxReplicas": 10 } },
            "celeryBeat": {},
        },
    }))
    .unwrap();
    raw.create(&PostParams::default(), &manifest).await.unwrap();
    let stored = raw.get("prod").await.unwrap();
    assert_eq!(
        stored.data["spec"]["environment"], "Production",
        "Production is the default"
    );
    assert_eq!(stored.data["spec"]["valkey"]["port"], 6379);

    let typed: Api<Superset> = env.api();
    let parsed = typed.get("prod").await.unwrap();
    assert_eq!(
        parsed
            .spec
            .celery_worker
            .unwrap()
            .scalable
            .autoscaling
            .unwrap()
            .max_replicas,
        10
    );
}

#[tokio::test]
async fn kubectl_shows_columns_category_and_explanations() {
    let env = superset_operator_testkit::api().await;
    let supersets: Api<kube::api::DynamicObject> = untyped(&env);
    let manifest: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": "shown" },
        "spec": { "environment": "Development", "image": { "tag": "6.0.0" }, "secretKey": "k" },
    }))
    .unwrap();
    supersets
        .create(&PostParams::default(), &manifest)
        .await
        .unwrap();

    let table = kubectl(&env, &["get", "sup"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TAG",
            "PHASE",
            "LIFECYCLE",
            "READY",
            "AVAILABLE",
            "AGE"
        ]
    );
    assert!(table.contains("shown"));

    let everything = kubectl(&env, &["get", "superset-all"]);
    assert!(
        everything.contains("superset.superset.apache.org/shown"),
        "{everything}"
    );
    // The category must not hijack the kind's own name.
    let by_kind = kubectl(&env, &["get", "superset"]);
    assert!(
        by_kind.lines().next().unwrap().contains("LIFECYCLE"),
        "{by_kind}"
    );

    let explained = kubectl(&env, &["explain", "superset.spec.metastore"]);
    assert!(explained.contains("The metastore database."), "{explained}");
    assert!(
        explained.contains("init container on the migrate task"),
        "doc comments are reflowed: {explained}"
    );
    assert!(explained.contains("uriFrom"), "{explained}");
}

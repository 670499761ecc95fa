//! Every pod the operator creates or has created (components, lifecycle tasks with the
//! createDatabase init container, the maintenance page) is admitted by the API server's own
//! PodSecurity admission in a namespace that enforces the `restricted` standard.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use superset_operator_api::Superset;
use superset_operator_render::{maintenance, resolve, task_run, workload};

const EVERY_POD: &str = r#"
apiVersion: superset.apache.org/v1alpha1
kind: Superset
metadata: {name: strict}
spec:
  image: {tag: "6.1.0"}
  secretKeyFrom: {name: superset, key: secret-key}
  previousSecretKeyFrom: {name: superset, key: previous-secret-key}
  metastore:
    host: postgres
    database: superset
    username: superset
    passwordFrom: {name: superset, key: db-password}
    createDatabase: true
  valkey: {host: valkey}
  webServer: {}
  celeryWorker: {}
  celeryBeat: {}
  celeryFlower: {image: {repository: superset-flower}}
  mcpServer: {}
  websocketServer:
    image: {repository: oneacrefund/superset-websocket, tag: "1.0"}
    configFrom: {name: websocket, key: config.json}
  lifecycle:
    rotate: {}
    maintenancePage: {}
"#;

fn pod_of(deployment: Deployment, name: &str) -> Pod {
    let template = deployment.spec.expect("a spec").template;
    Pod {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[tokio::test]
async fn every_pod_is_admitted_under_the_restricted_pod_security_standard() {
    let env = superset_operator_testkit::api().await;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    let label = json!({ "metadata": { "labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    } } });
    namespaces
        .patch(
            &env.namespace,
            &PatchParams::default(),
            &Patch::Merge(&label),
        )
        .await
        .unwrap();

    // The parent controller creates the instance's ServiceAccount; stand in for it.
    let accounts: Api<ServiceAccount> = env.api();
    // `default` (the maintenance page's) exists only once the shared control plane runs the
    // cluster tier's controller manager, which depends on which tests ran first.
    for name in ["strict", "default"] {
        let account = serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap();
        match accounts.create(&PostParams::default(), &account).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("creating the ServiceAccount {name}: {e}"),
        }
    }

    let mut superset: Superset = serde_yaml::from_str(EVERY_POD).unwrap();
    superset.metadata.namespace = Some(env.namespace.clone());
    superset.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
    let resolved = resolve(&superset).unwrap();
    let namespace = Some(env.namespace.as_str());

    let mut pods = Vec::new();
    for component in &resolved.components {
        let deployment = workload::deployment(
            "strict",
            namespace,
            component.component,
            component.child.flat(),
        );
        pods.push(pod_of(deployment, component.component.suffix()));
    }
    for task in &resolved.tasks {
        let mut task = task.task.clone();
        task.metadata.namespace = Some(env.namespace.clone());
        pods.push(task_run::attempt_pod(&task, 1));
    }
    let page = superset
        .spec
        .lifecycle
        .as_ref()
        .and_then(|l| l.maintenance_page.clone())
        .unwrap();
    pods.push(pod_of(
        maintenance::deployment("strict", namespace, &page, 8080),
        "maintenance-page",
    ));
    let with_init_containers = pods
        .iter()
        .filter(|p| p.spec.as_ref().is_some_and(|s| s.init_containers.is_some()))
        .count();
    assert!(
        with_init_containers >= 1,
        "createDatabase's container is checked too"
    );
    assert!(pods.len() >= 10, "{} pods", pods.len());

    let api: Api<Pod> = env.api();
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let mut rejected = Vec::new();
    for pod in &pods {
        if let Err(e) = api.create(&dry_run, pod).await {
            rejected.push(format!(
                "{}: {e}",
                pod.metadata.name.as_deref().unwrap_or("?")
            ));
        }
    }
    assert!(
        rejected.is_empty(),
        "rejected by PodSecurity:\n{}",
        rejected.join("\n")
    );

    // The namespace really enforces: a pod without the restricted settings is turned away.
    let loose: Pod = serde_json::from_value(json!({
        "metadata": { "name": "loose" },
        "spec": { "containers": [{ "name": "c", "image": "busybox" }] }
    }))
    .unwrap();
    let refused = api.create(&dry_run, &loose).await.unwrap_err().to_string();
    assert!(refused.contains("violates PodSecurity"), "{refused}");
}

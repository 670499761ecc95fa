//! The "cluster" tier behaves like a cluster: Deployments roll out to Ready pods on kwok nodes,
//! garbage collection cascades, and a pod can be made to fail.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::json;
use superset_operator_testkit::OUTCOME_ANNOTATION;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn wait<K, C>(api: &Api<K>, name: &str, what: &str, condition: C) -> Option<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
    C: kube::runtime::wait::Condition<K>,
{
    tokio::time::timeout(TIMEOUT, await_condition(api.clone(), name, condition))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|e| panic!("watching for {what}: {e}"))
}

#[tokio::test]
async fn deployment_rolls_out_and_is_garbage_collected() {
    let env = superset_operator_testkit::cluster().await;
    let deployments: Api<Deployment> = env.api();
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "smoke" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "smoke" } },
            "template": {
                "metadata": { "labels": { "app": "smoke" } },
                "spec": { "containers": [{ "name": "main", "image": "registry.invalid/smoke:1" }] },
            },
        },
    }))
    .unwrap();
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    let ready = wait(
        &deployments,
        "smoke",
        "2 ready replicas",
        |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.ready_replicas)
                == Some(2)
        },
    )
    .await
    .unwrap();
    assert_eq!(ready.status.unwrap().available_replicas, Some(2));

    let pods: Api<Pod> = env.api();
    let selected = ListParams::default().labels("app=smoke");
    let running = pods.list(&selected).await.unwrap();
    assert_eq!(running.items.len(), 2);
    for pod in &running.items {
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(
            pod.spec
                .as_ref()
                .unwrap()
                .node_name
                .as_deref()
                .unwrap()
                .starts_with("kwok-node-")
        );
    }

    deployments
        .delete("smoke", &DeleteParams::background())
        .await
        .unwrap();
    let replica_sets: Api<ReplicaSet> = env.api();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let left_sets = replica_sets.list(&selected).await.unwrap().items.len();
        let left_pods = pods.list(&selected).await.unwrap().items.len();
        if left_sets == 0 && left_pods == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "garbage collection left {left_sets} ReplicaSets and {left_pods} pods"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn bare_pod(name: &str, outcome: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": name, "annotations": { OUTCOME_ANNOTATION: outcome } },
        "spec": {
            "restartPolicy": "Never",
            "containers": [{ "name": "task", "image": "registry.invalid/task:1" }],
        },
    }))
    .unwrap()
}

fn phase(pod: Option<&Pod>) -> Option<&str> {
    pod.and_then(|p| p.status.as_ref())
        .and_then(|s| s.phase.as_deref())
}

#[tokio::test]
async fn bare_pods_end_as_the_test_chooses() {
    let env = superset_operator_testkit::cluster().await;
    let pods: Api<Pod> = env.api();
    for (name, outcome) in [
        ("fails", "fail"),
        ("succeeds", "succeed"),
        ("stuck", "cannot-start"),
    ] {
        pods.create(&PostParams::default(), &bare_pod(name, outcome))
            .await
            .unwrap();
    }

    let failed = wait(&pods, "fails", "the pod to fail", |p: Option<&Pod>| {
        phase(p) == Some("Failed")
    })
    .await
    .unwrap();
    let terminated = failed.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.exit_code, 1);

    wait(
        &pods,
        "succeeds",
        "the pod to succeed",
        |p: Option<&Pod>| phase(p) == Some("Succeeded"),
    )
    .await;

    let stuck = wait(&pods, "stuck", "an image pull error", |p: Option<&Pod>| {
        p.and_then(|p| p.status.as_ref())
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|cs| !cs.is_empty())
    })
    .await
    .unwrap();
    let status = stuck.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    let waiting = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
}

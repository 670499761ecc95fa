//! The "node" tier runs containers for real: a Redis Deployment becomes Ready on the real node,
//! `kubectl logs` and `exec` reach it through kubelet, a pod resolves the Service's name
//! through the cluster DNS, and Redis answers PING through the Service's ClusterIP, from the
//! node's network namespace and from the test process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::json;
use superset_operator_testkit::TestEnv;

const REDIS_IMAGE: &str = "docker.io/library/redis:7";
const TIMEOUT: Duration = Duration::from_secs(120);

async fn create_redis(env: &TestEnv) {
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "redis" },
        "spec": {
            "selector": { "matchLabels": { "app": "redis" } },
            "template": {
                "metadata": { "labels": { "app": "redis" } },
                "spec": {
                    "containers": [{
                        "name": "redis",
                        "image": REDIS_IMAGE,
                        // Imported into containerd; pulling would fail anyway (no route out).
                        "imagePullPolicy": "Never",
                        "ports": [{ "containerPort": 6379 }],
                        "readinessProbe": { "tcpSocket": { "port": 6379 }, "periodSeconds": 1 },
                    }],
                },
            },
        },
    }))
    .unwrap();
    let service: Service = serde_json::from_value(json!({
        "metadata": { "name": "redis" },
        "spec": { "selector": { "app": "redis" }, "ports": [{ "port": 6379 }] },
    }))
    .unwrap();
    let params = PostParams::default();
    env.api::<Deployment>()
        .create(&params, &deployment)
        .await
        .unwrap();
    env.api::<Service>()
        .create(&params, &service)
        .await
        .unwrap();
}

fn kubectl(env: &TestEnv, args: &[&str]) -> String {
    let output = env.kubectl().args(args).output().expect("running kubectl");
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sends Redis's inline PING and returns the reply.
fn ping(address: SocketAddr) -> String {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn a_deployment_runs_and_answers_through_its_service() {
    let env = superset_operator_testkit::node().await;
    let node = env.node();
    assert!(
        node.images().iter().any(|i| i == REDIS_IMAGE),
        "hack/images.sh provided no {REDIS_IMAGE}: {:?}",
        node.images()
    );
    create_redis(&env).await;

    let deployments: Api<Deployment> = env.api();
    let ready = await_condition(deployments, "redis", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.ready_replicas)
            == Some(1)
    });
    tokio::time::timeout(TIMEOUT, ready)
        .await
        .expect("timed out waiting for Redis to become Ready")
        .unwrap();
    let pods: Api<Pod> = env.api();
    let pod = pods
        .list(&ListParams::default().labels("app=redis"))
        .await
        .unwrap()
        .items
        .remove(0);
    let pod_name = pod.metadata.name.unwrap();
    assert_eq!(pod.spec.unwrap().node_name.as_deref(), Some(node.name()));

    // kubelet serves logs and exec to the API server with the harness's certificates.
    let logs = kubectl(&env, &["logs", &pod_name]);
    assert!(
        logs.contains("Ready to accept connections"),
        "Redis's log: {logs}"
    );
    let hostname = kubectl(&env, &["exec", &pod_name, "--", "cat", "/etc/hostname"]);
    assert_eq!(hostname.trim(), pod_name);

    // The cluster DNS resolves the Service by its short name (search path) and its full one.
    let services: Api<Service> = env.api();
    let cluster_ip = services
        .get("redis")
        .await
        .unwrap()
        .spec
        .unwrap()
        .cluster_ip
        .unwrap();
    let fqdn = format!("redis.{}.svc.cluster.local", env.namespace);
    for name in ["redis", fqdn.as_str()] {
        let resolved = kubectl(&env, &["exec", &pod_name, "--", "getent", "hosts", name]);
        assert!(
            resolved.split_whitespace().next() == Some(cluster_ip.as_str()),
            "{name} resolved to {resolved:?}, not {cluster_ip}"
        );
    }

    // Through the ClusterIP, from the node's network namespace (kube-proxy's DNAT on locally
    // sent packets) and from the test process (routed into the node namespace).
    let script =
        format!("exec 3<>/dev/tcp/{cluster_ip}/6379; printf 'PING\\r\\n' >&3; head -c 7 <&3");
    let output = node
        .command("bash")
        .args(["-c", &script])
        .output()
        .expect("running bash in the node's network namespace");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "+PONG\r\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let address = SocketAddr::new(cluster_ip.parse().unwrap(), 6379);
    assert_eq!(ping(address), "+PONG\r\n");
}

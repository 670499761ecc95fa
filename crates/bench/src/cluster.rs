//! The simulated cluster the bench runs on, from the test harness: etcd and kube-apiserver
//! (the "api" tier) plus kube-controller-manager, kube-scheduler and kwok (the "cluster" tier),
//! so that Deployments roll out and pods become ready. The harness starts two fake nodes; the
//! bench adds enough for every pod it will run.
//!
//! The operator runs as a ServiceAccount of its own bound to the generated cluster-wide RBAC,
//! like an installed operator, and talks to the API server through the bench's counting proxy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;
use superset_operator_controller::rbac;
use superset_operator_testkit::ControlPlane;

/// Namespace of the operator's ServiceAccount.
const OPERATOR_NAMESPACE: &str = "superset-operator";
/// The operator's ServiceAccount, ClusterRole and binding.
const OPERATOR_ACCOUNT: &str = "superset-operator";
/// Pods one fake node takes (kwok's node stage in the harness).
const PODS_PER_NODE: usize = 500;
/// Fake nodes the harness itself creates.
const HARNESS_NODES: usize = 2;

/// The running control plane and an admin client.
pub struct Cluster {
    plane: ControlPlane,
    /// Client with the admin token.
    pub client: Client,
}

impl Cluster {
    /// Starts the whole simulated cluster in `dir`, with fake nodes for `pods` pods.
    pub async fn start(dir: &Path, pods: usize) -> anyhow::Result<Cluster> {
        let plane = ControlPlane::start_api(dir)
            .await
            .context("starting etcd and kube-apiserver")?;
        plane
            .start_cluster_components()
            .await
            .context("starting kube-controller-manager, kube-scheduler and kwok")?;
        let client = plane.client().await?;
        let cluster = Cluster { plane, client };
        let nodes = pods.div_ceil(PODS_PER_NODE * 9 / 10);
        cluster
            .add_fake_nodes(nodes.saturating_sub(HARNESS_NODES))
            .await?;
        Ok(cluster)
    }

    /// The directory of the control plane (component logs under `logs/`).
    pub fn dir(&self) -> &Path {
        self.plane.dir()
    }

    /// Stops every component.
    pub fn shutdown(&self) {
        self.plane.shutdown();
    }

    /// A client for the API server without credentials, to relay the operator's requests
    /// (their token included) unchanged; it retries nothing, so every retry the operator makes
    /// is counted.
    pub async fn credential_free_client(&self) -> anyhow::Result<Client> {
        let kubeconfig = Kubeconfig::read_from(self.plane.kubeconfig())?;
        let mut config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        config.auth_info = AuthInfo::default();
        config.default_retry = false;
        config.read_timeout = None;
        Ok(Client::try_from(config)?)
    }

    /// Creates the operator's ServiceAccount bound to the generated cluster-wide rules, and
    /// writes a kubeconfig with its token for the API server at `server` (the proxy).
    pub async fn operator_kubeconfig(&self, server: &str, path: &Path) -> anyhow::Result<()> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({ "metadata": { "name": OPERATOR_NAMESPACE } }))?,
            )
            .await?;
        let accounts: Api<ServiceAccount> =
            Api::namespaced(self.client.clone(), OPERATOR_NAMESPACE);
        accounts
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({ "metadata": { "name": OPERATOR_ACCOUNT } }))?,
            )
            .await?;
        Api::<ClusterRole>::all(self.client.clone())
            .create(
                &PostParams::default(),
                &rbac::cluster_role(OPERATOR_ACCOUNT),
            )
            .await?;
        Api::<ClusterRoleBinding>::all(self.client.clone())
            .create(
                &PostParams::default(),
                &rbac::cluster_binding(OPERATOR_ACCOUNT, OPERATOR_ACCOUNT, OPERATOR_NAMESPACE),
            )
            .await?;
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: Vec::new(),
                expiration_seconds: Some(24 * 3600),
                ..Default::default()
            },
            ..Default::default()
        };
        let token = accounts
            .create_token_request(OPERATOR_ACCOUNT, &PostParams::default(), &request)
            .await?
            .status
            .context("the token request returned no token")?
            .token;
        let kubeconfig = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{ "name": "bench", "cluster": { "server": server } }],
            "users": [{ "name": OPERATOR_ACCOUNT, "user": { "token": token } }],
            "contexts": [{ "name": "bench", "context": { "cluster": "bench", "user": OPERATOR_ACCOUNT } }],
            "current-context": "bench",
        });
        std::fs::write(path, serde_yaml::to_string(&kubeconfig)?)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The API server's `apiserver_request_total` series, to show what it can tell apart.
    pub async fn apiserver_request_labels(&self) -> anyhow::Result<Vec<String>> {
        let request = http::Request::get("/metrics").body(Vec::new())?;
        let text = self.client.request_text(request).await?;
        let exposition = crate::prometheus::Exposition::parse(&text);
        let mut labels: Vec<String> = exposition
            .0
            .iter()
            .filter(|s| s.name == "apiserver_request_total")
            .flat_map(|s| s.labels.keys().cloned())
            .collect();
        labels.sort();
        labels.dedup();
        Ok(labels)
    }

    /// Adds `count` fake nodes for kwok to run pods on, and waits until each is Ready and
    /// untainted.
    async fn add_fake_nodes(&self, count: usize) -> anyhow::Result<()> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        for i in 0..count {
            let name = format!("bench-node-{i}");
            let node: Node = serde_json::from_value(json!({
                "metadata": {
                    "name": name,
                    "annotations": { "kwok.x-k8s.io/node": "fake" },
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                    },
                },
            }))?;
            nodes.create(&PostParams::default(), &node).await?;
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        for i in 0..count {
            let name = format!("bench-node-{i}");
            while !node_schedulable(nodes.get(&name).await?) {
                if Instant::now() > deadline {
                    bail!("fake node {name} did not become Ready (is kwok running?)");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }
}

/// Ready, and no longer tainted not-ready by the node lifecycle controller.
fn node_schedulable(node: Node) -> bool {
    let ready = node
        .status
        .and_then(|s| s.conditions)
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = node
        .spec
        .and_then(|s| s.taints)
        .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/not-ready"));
    ready && !tainted
}

/// A fresh directory for the control plane of this run.
pub fn run_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("superset-operator-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

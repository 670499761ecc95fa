//! The operator's test harness: a real Kubernetes control plane built from Go modules and
//! started on loopback, shared by the tests of one test binary, one namespace per test.
//!
//! ```text
//! #[tokio::test]
//! async fn stores_a_superset() {
//!     let env = superset_operator_testkit::api().await;   // etcd + kube-apiserver + CRDs
//!     let supersets: kube::Api<Superset> = env.api();     // namespaced to this test
//!     // ...
//! }
//! ```
//! `cluster()` adds kube-controller-manager, kube-scheduler and kwok with fake nodes. `node()`
//! starts a control plane of its own with one real node (containerd, kubelet, kube-proxy,
//! CoreDNS) in network namespaces of the harness, where containers of locally built images
//! really run; it needs root. When a test panics, the control plane's directory (component
//! logs, etcd data) is kept and its path printed.

pub mod binaries;
mod control_plane;
mod node;
mod pki;
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::{Client, Resource};
use serde_json::json;

pub use control_plane::{ControlPlane, Tier, install_crds};
pub use node::Node;
pub use process::spawn_tied;

/// Annotation that tells kwok how a pod ends: `succeed`, `fail` or `cannot-start`.
pub const OUTCOME_ANNOTATION: &str = "kwok.superset.apache.org/outcome";

/// What can go wrong while starting or using the control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The control-plane binaries could not be built.
    #[error("building the control plane: {0}")]
    Build(String),
    /// Certificates could not be generated.
    #[error("generating certificates: {0}")]
    Pki(String),
    /// A component exited.
    #[error("{component} exited ({status}); end of its log:\n{log_tail}")]
    Exited {
        /// The component.
        component: String,
        /// Its exit status.
        status: String,
        /// The end of its log.
        log_tail: String,
    },
    /// Something did not happen in time.
    #[error("timed out waiting for {0}")]
    Timeout(String),
    /// The tier, which starts once for every test of a test binary, did not start.
    #[error("{0} (the tier starts once for all the tests of this binary)")]
    Shared(String),
    /// A Kubernetes API call failed.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// A kubeconfig could not be read.
    #[error(transparent)]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// Serialising an object failed.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Serialising YAML failed.
    #[error(transparent)]
    Yaml(#[from] serde_yaml::Error),
    /// The machine cannot run the real node: not root, no overlayfs, a tool missing, an
    /// address range in use.
    #[error("the node tier cannot start: {0}")]
    Prerequisite(String),
    /// A command the harness ran failed.
    #[error("{what} failed ({status}):\n{output}")]
    Command {
        /// What was being done.
        what: String,
        /// Its exit status.
        status: String,
        /// Its output.
        output: String,
    },
}

/// The control plane shared by every test of this test binary, started on first use. The
/// node tier's is its own.
pub fn shared(tier: Tier) -> Result<&'static ControlPlane, Error> {
    if tier == Tier::Node {
        return node::shared().map(Node::control_plane);
    }
    static PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    static CLUSTER: OnceLock<Result<(), String>> = OnceLock::new();
    let plane = PLANE
        .get_or_init(|| {
            let dir = run_dir("");
            block_on_own_runtime(ControlPlane::start_api(&dir)).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Shared(e.clone()))?;
    if tier == Tier::Cluster {
        CLUSTER
            .get_or_init(|| {
                block_on_own_runtime(plane.start_cluster_components()).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(Error::Shared)?;
    }
    Ok(plane)
}

/// A test's view of the shared control plane: a client and a namespace of its own.
pub struct TestEnv {
    /// Admin client.
    pub client: Client,
    /// The test's own namespace.
    pub namespace: String,
    plane: &'static ControlPlane,
    node: Option<&'static Node>,
}

/// etcd + kube-apiserver with the CRDs installed, and a fresh namespace.
pub async fn api() -> TestEnv {
    env(Tier::Api).await
}

/// The whole simulated cluster (controllers, scheduler, kwok nodes), and a fresh namespace.
pub async fn cluster() -> TestEnv {
    env(Tier::Cluster).await
}

/// A control plane with one real node whose containers run, and a fresh namespace. Needs root;
/// see [`Node`].
pub async fn node() -> TestEnv {
    env(Tier::Node).await
}

async fn env(tier: Tier) -> TestEnv {
    let (plane, node) = tokio::task::spawn_blocking(move || match tier {
        Tier::Node => node::shared().map(|node| (node.control_plane(), Some(node))),
        _ => shared(tier).map(|plane| (plane, None)),
    })
    .await
    .expect("starting the control plane panicked")
    .unwrap_or_else(|e| panic!("starting the {tier:?} tier: {e}"));
    let client = plane.client().await.expect("creating a client");
    let namespace = create_namespace(&client, tier)
        .await
        .expect("creating the test namespace");
    TestEnv {
        client,
        namespace,
        plane,
        node,
    }
}

impl TestEnv {
    /// An API for namespaced `K` in the test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Path of an admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        self.plane.kubeconfig()
    }

    /// `kubectl` for this control plane, in the test's namespace.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new(self.plane.bin_dir().join("kubectl"));
        command
            .env("KUBECONFIG", self.plane.kubeconfig())
            .args(["--namespace", &self.namespace]);
        command
    }

    /// The control plane behind this environment.
    pub fn control_plane(&self) -> &'static ControlPlane {
        self.plane
    }

    /// The real node of the node tier: commands in its network namespace, its image names.
    ///
    /// # Panics
    /// When the environment is not from [`node()`].
    pub fn node(&self) -> &'static Node {
        self.node
            .expect("TestEnv::node is for environments from superset_operator_testkit::node()")
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if self.node.is_some() {
            // Pods of a real node keep running after their test: the namespace goes, so that
            // the next test has the node's CPU and memory to itself.
            let deleted = self
                .kubectl()
                .args(["delete", "namespace", &self.namespace, "--wait=false"])
                .output();
            if !deleted.as_ref().is_ok_and(|out| out.status.success()) {
                eprintln!(
                    "testkit: namespace {} stays on the node: {deleted:?}",
                    self.namespace
                );
            }
        }
        if std::thread::panicking() {
            let marker = self.plane.dir().join("KEEP");
            let _ = std::fs::write(
                &marker,
                format!("test namespace {} failed\n", self.namespace),
            );
            eprintln!(
                "testkit: test in namespace {} failed; control-plane logs kept in {}",
                self.namespace,
                self.plane.dir().join("logs").display()
            );
        }
    }
}

async fn create_namespace(client: &Client, tier: Tier) -> Result<String, Error> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
    namespaces
        .create(&PostParams::default(), &namespace)
        .await?;
    if tier != Tier::Api {
        // Pods are admitted only once the namespace's default ServiceAccount exists.
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        let exists = kube::runtime::wait::await_condition(
            accounts,
            "default",
            |sa: Option<&ServiceAccount>| sa.is_some(),
        );
        tokio::time::timeout(std::time::Duration::from_secs(30), exists)
            .await
            .map_err(|_| Error::Timeout(format!("the default ServiceAccount of {name}")))?
            .map_err(|e| Error::Timeout(format!("the default ServiceAccount of {name}: {e}")))?;
    }
    Ok(name)
}

/// Runs `future` to completion on a runtime of its own, in a thread of its own, so it can be
/// called from inside or outside any other runtime.
fn block_on_own_runtime<F>(future: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building a Tokio runtime")
                    .block_on(future)
            })
            .join()
            .expect("control-plane start-up panicked")
    })
}

/// A fresh directory for this process's control plane, its name ending in `<label>-<pid>`.
/// Directories of earlier runs are removed unless a failed test marked them to be kept.
fn run_dir(label: &str) -> PathBuf {
    let root = std::env::temp_dir().join("superset-operator-testkit");
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let path = entry.path();
            let owner_alive = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.rsplit('-').next())
                .is_some_and(|pid| Path::new("/proc").join(pid).exists());
            if !owner_alive && !path.join("KEEP").exists() {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "test".into());
    let dir = root.join(format!("{binary}{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

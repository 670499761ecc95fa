//! A real Kubernetes control plane on loopback: etcd and kube-apiserver ("api" tier), plus
//! kube-controller-manager, kube-scheduler and kwok with fake nodes ("cluster" tier). The
//! "node" tier (see `node.rs`) starts one of its own for a real kubelet.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};

use crate::Error;
use crate::binaries::bin_dir;
use crate::pki::{CertificateFiles, Pki};
use crate::process::Process;

/// How much of a cluster a test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// etcd and kube-apiserver with the operator's CRDs installed: objects are stored and
    /// validated, nothing runs them.
    Api,
    /// Also kube-controller-manager, kube-scheduler and kwok: Deployments roll out, pods get
    /// scheduled on fake nodes and become ready, garbage collection cascades.
    Cluster,
    /// A control plane of its own with kube-controller-manager, kube-scheduler and one real
    /// node (containerd, kubelet, kube-proxy, CoreDNS) in network namespaces of the harness:
    /// containers really run, from images built by `hack/images.sh`.
    Node,
}

/// Service addresses of every tier; only the node tier routes them, inside its namespaces.
pub(crate) const SERVICE_CLUSTER_IP_RANGE: &str = "10.96.0.0/16";
/// The `kubernetes` Service's address: the first of the range.
pub(crate) const KUBERNETES_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);

/// How kube-apiserver is set up.
pub(crate) struct ApiServerOptions {
    /// The address it listens on and advertises: loopback, or for the node tier the harness's
    /// end of the link to the node, which the node's kubelet and pods can reach.
    pub address: Ipv4Addr,
    /// For a real node: the client certificate it presents to kubelet for `logs` and `exec`.
    pub kubelet_client: Option<CertificateFiles>,
}

impl ApiServerOptions {
    fn loopback() -> Self {
        Self {
            address: Ipv4Addr::LOCALHOST,
            kubelet_client: None,
        }
    }
}

/// Field manager of everything the harness applies.
const FIELD_MANAGER: &str = "superset-operator-testkit";
/// Fake nodes created in the cluster tier.
const NODES: usize = 2;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// A running control plane. Its processes stop when it is shut down or when the process that
/// started it exits.
pub struct ControlPlane {
    dir: PathBuf,
    server: String,
    kubeconfig: PathBuf,
    bin: PathBuf,
    service_account_key: PathBuf,
    ca_cert: PathBuf,
    processes: Mutex<Vec<Process>>,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver in `dir` and installs the operator's CRDs.
    pub async fn start_api(dir: &Path) -> Result<Self, Error> {
        let pki = Self::prepare(dir, &[])?;
        Self::start_api_with(dir, pki, ApiServerOptions::loopback()).await
    }

    /// Creates `dir` and the PKI of a control plane whose API server is also reachable on
    /// `extra_ips`.
    pub(crate) fn prepare(dir: &Path, extra_ips: &[IpAddr]) -> Result<Pki, Error> {
        for sub in ["logs", "pki", "etcd"] {
            create_dir(&dir.join(sub))?;
        }
        let mut ips = vec![IpAddr::V4(KUBERNETES_SERVICE_IP)];
        ips.extend_from_slice(extra_ips);
        Pki::create(&dir.join("pki"), &ips)
    }

    /// Starts etcd and kube-apiserver in `dir`, prepared by [`Self::prepare`], and installs the
    /// operator's CRDs.
    pub(crate) async fn start_api_with(
        dir: &Path,
        pki: Pki,
        options: ApiServerOptions,
    ) -> Result<Self, Error> {
        let started = Instant::now();
        let bin = bin_dir()?;
        let [etcd_client, etcd_peer, apiserver] = [free_port()?, free_port()?, free_port()?];
        let address = options.address;
        let server = format!("https://{address}:{apiserver}");
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &server, &pki.ca_pem, &pki.admin_token)?;

        let plane = Self {
            dir: dir.to_owned(),
            server: server.clone(),
            kubeconfig,
            bin,
            service_account_key: pki.service_account_key.clone(),
            ca_cert: pki.ca_cert.clone(),
            processes: Mutex::new(Vec::new()),
        };
        let etcd_url = |port: u16| format!("http://127.0.0.1:{port}");
        plane.spawn(
            "etcd",
            &[
                "--name=default".into(),
                format!("--data-dir={}", dir.join("etcd").display()),
                format!("--listen-client-urls={}", etcd_url(etcd_client)),
                format!("--advertise-client-urls={}", etcd_url(etcd_client)),
                format!("--listen-peer-urls={}", etcd_url(etcd_peer)),
                format!("--initial-advertise-peer-urls={}", etcd_url(etcd_peer)),
                format!("--initial-cluster=default={}", etcd_url(etcd_peer)),
                // Test data is disposable; fsync only slows every write down.
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
        )?;
        let mut apiserver_args = vec![
            format!("--etcd-servers={}", etcd_url(etcd_client)),
            format!("--bind-address={address}"),
            format!("--advertise-address={address}"),
            format!("--secure-port={apiserver}"),
            format!("--cert-dir={}", dir.join("pki").display()),
            format!("--tls-cert-file={}", pki.server_cert.display()),
            format!("--tls-private-key-file={}", pki.server_key.display()),
            format!("--client-ca-file={}", pki.ca_cert.display()),
            format!("--token-auth-file={}", pki.token_file.display()),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!(
                "--service-account-key-file={}",
                pki.service_account_public_key.display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                pki.service_account_key.display()
            ),
            format!("--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}"),
            "--allow-privileged=true".into(),
            "--enable-priority-and-fairness=false".into(),
            "--profiling=false".into(),
        ];
        match &options.kubelet_client {
            None => apiserver_args.push("--authorization-mode=RBAC".into()),
            // A real kubelet is authorised as its node, and the API server reaches it on the
            // node's InternalIP (its only address) with a client certificate kubelet trusts.
            Some(client) => apiserver_args.extend([
                "--authorization-mode=Node,RBAC".into(),
                "--enable-admission-plugins=NodeRestriction".into(),
                format!("--kubelet-client-certificate={}", client.cert.display()),
                format!("--kubelet-client-key={}", client.key.display()),
                format!("--kubelet-certificate-authority={}", pki.ca_cert.display()),
                "--kubelet-preferred-address-types=InternalIP".into(),
            ]),
        }
        plane.spawn("kube-apiserver", &apiserver_args)?;
        let client = plane.wait_until_ready().await?;
        install_crds(&client).await?;
        eprintln!(
            "testkit: api tier up in {:.1}s ({server})",
            started.elapsed().as_secs_f64()
        );
        Ok(plane)
    }

    /// Adds kube-controller-manager, kube-scheduler, kwok and fake nodes.
    pub async fn start_cluster_components(&self) -> Result<(), Error> {
        let started = Instant::now();
        self.start_controllers().await?;
        let kubeconfig = format!("--kubeconfig={}", self.kubeconfig.display());
        let stages = self.dir.join("kwok-stages.yaml");
        std::fs::write(&stages, include_str!("kwok-stages.yaml")).map_err(|source| Error::Io {
            what: format!("writing {}", stages.display()),
            source,
        })?;
        self.spawn(
            "kwok",
            &[
                kubeconfig,
                format!("--config={}", stages.display()),
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
                format!("--server-address=127.0.0.1:{}", free_port()?),
                "--cidr=10.244.0.0/16".into(),
                // kwok renews a Lease per node, so the node lifecycle controller sees live nodes,
                // lifts the not-ready taint and never evicts their pods.
                "--node-lease-duration-seconds=40".into(),
            ],
        )?;
        let client = self.client().await?;
        create_fake_nodes(&client).await?;
        eprintln!(
            "testkit: cluster tier up in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Adds kube-controller-manager and kube-scheduler, and waits until the default
    /// ServiceAccount exists.
    pub(crate) async fn start_controllers(&self) -> Result<(), Error> {
        let kubeconfig = format!("--kubeconfig={}", self.kubeconfig.display());
        // The default client limits (20 requests/s for the controller manager, 50 for the
        // scheduler) would make the simulated cluster, not the operator, the slowest part of
        // every rollout: a thousand Deployments cost the controller manager twenty thousand
        // requests. As kwokctl does, they are lifted.
        let unthrottled = [
            "--kube-api-qps=5000".to_owned(),
            "--kube-api-burst=10000".to_owned(),
        ];
        self.spawn(
            "kube-controller-manager",
            &[
                kubeconfig.clone(),
                unthrottled[0].clone(),
                unthrottled[1].clone(),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
                "--use-service-account-credentials=false".into(),
                format!(
                    "--service-account-private-key-file={}",
                    self.service_account_key.display()
                ),
                format!("--root-ca-file={}", self.ca_cert.display()),
            ],
        )?;
        self.spawn(
            "kube-scheduler",
            &[
                kubeconfig.clone(),
                unthrottled[0].clone(),
                unthrottled[1].clone(),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
            ],
        )?;
        let client = self.client().await?;
        self.wait_for(&client, "the default ServiceAccount", |c| async move {
            let accounts: Api<ServiceAccount> = Api::namespaced(c, "default");
            Ok(accounts.get_opt("default").await?.is_some())
        })
        .await
    }

    /// A new client for the admin user. Make one per test: a client belongs to the Tokio
    /// runtime it was made in.
    pub async fn client(&self) -> Result<Client, Error> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(Client::try_from(config)?)
    }

    /// URL of the API server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Path of an admin kubeconfig for this control plane.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Directory of the control plane (logs in `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Directory of the control-plane binaries (kubectl among them).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Stops every process, newest first.
    pub fn shutdown(&self) {
        let mut processes = self.processes.lock().expect("process list lock");
        while let Some(mut process) = processes.pop() {
            process.stop();
        }
    }

    /// Fails if any component has exited.
    pub fn ensure_running(&self) -> Result<(), Error> {
        self.processes
            .lock()
            .expect("process list lock")
            .iter_mut()
            .try_for_each(Process::ensure_running)
    }

    fn spawn(&self, name: &str, args: &[String]) -> Result<(), Error> {
        let process = Process::start(name, &self.bin.join(name), args, &self.dir.join("logs"))?;
        self.processes
            .lock()
            .expect("process list lock")
            .push(process);
        Ok(())
    }

    async fn wait_until_ready(&self) -> Result<Client, Error> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            self.ensure_running()?;
            if let Ok(client) = self.client().await {
                let readyz = http::Request::get("/readyz")
                    .body(Vec::new())
                    .expect("static request");
                if client
                    .request_text(readyz)
                    .await
                    .is_ok_and(|body| body.trim() == "ok")
                {
                    return Ok(client);
                }
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout("kube-apiserver to become ready".into()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_for<F, Fut>(&self, client: &Client, what: &str, check: F) -> Result<(), Error>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<bool, Error>>,
    {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            self.ensure_running()?;
            if check(client.clone()).await? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout(what.to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Applies every CRD of the operator and waits until each is Established.
pub async fn install_crds(client: &Client) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for crd in superset_operator_api::crds() {
        let name = crd.metadata.name.clone().expect("generated CRDs are named");
        api.patch(&name, &params, &Patch::Apply(&crd)).await?;
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(STARTUP_TIMEOUT, established)
            .await
            .map_err(|_| Error::Timeout(format!("CRD {name} to become Established")))?
            .map_err(|e| Error::Timeout(format!("CRD {name} to become Established: {e}")))?;
    }
    Ok(())
}

async fn create_fake_nodes(client: &Client) -> Result<(), Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..NODES {
        let name = format!("kwok-node-{i}");
        let node: Node = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": { "kwok.x-k8s.io/node": "fake" },
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                    "topology.kubernetes.io/zone": format!("zone-{}", i % 2),
                },
            },
        }))?;
        nodes.create(&PostParams::default(), &node).await?;
        let ready = await_condition(nodes.clone(), &name, |node: Option<&Node>| {
            let is_ready = node
                .and_then(|n| n.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            // The node lifecycle controller lifts this taint once it trusts the node.
            let tainted_not_ready = node
                .and_then(|n| n.spec.as_ref())
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/not-ready"));
            is_ready && !tainted_not_ready
        });
        tokio::time::timeout(STARTUP_TIMEOUT, ready)
            .await
            .map_err(|_| Error::Timeout(format!("node {name} to become Ready (is kwok running?)")))?
            .map_err(|e| Error::Timeout(format!("node {name} to become Ready: {e}")))?;
    }
    Ok(())
}

fn write_kubeconfig(path: &Path, server: &str, ca_pem: &str, token: &str) -> Result<(), Error> {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "testkit", "cluster": { "server": server, "certificate-authority-data": ca } }],
        "users": [{ "name": "admin", "user": { "token": token } }],
        "contexts": [{ "name": "testkit", "context": { "cluster": "testkit", "user": "admin" } }],
        "current-context": "testkit",
    });
    let yaml = serde_yaml::to_string(&config)?;
    std::fs::write(path, yaml).map_err(|source| Error::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| Error::Io {
        what: "finding a free port".into(),
        source,
    })?;
    Ok(listener
        .local_addr()
        .map_err(|source| Error::Io {
            what: "finding a free port".into(),
            source,
        })?
        .port())
}

fn create_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|source| Error::Io {
        what: format!("creating {}", path.display()),
        source,
    })
}

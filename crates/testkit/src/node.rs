//! The "node" tier: a control plane of its own (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler; no kwok) and one real node (containerd and runc, kubelet, kube-proxy in
//! iptables mode, CoreDNS) whose containers really run, from the images `hack/images.sh`
//! builds.
//!
//! Every packet stays on this machine. The node runs in namespaces the harness creates:
//!
//! ```text
//!  root namespace                          | node: network + mount + PID namespaces
//!  kube-apiserver on 100.64.0.1 ----------- veth ------ eth0 100.64.0.2 (node IP)
//!  etcd, controllers, scheduler on loopback |            containerd, kubelet, kube-proxy,
//!  routes 10.244.0.0/24, 10.96.0.0/16       |            CoreDNS (:53, behind 10.96.0.10)
//!    via 100.64.0.2 on the veth             |            cni0 10.244.0.1 -- pods 10.244.0.x
//!                                           |            local route 10.96.0.0/16 (Services)
//! ```
//!
//! The node namespace has no default route: its only links are loopback, the veth to the root
//! namespace and the pod bridge. Pods reach each other, the node, Service IPs and, through the
//! `kubernetes` Service, the API server; a mangle rule drops any other forwarding, and the
//! root namespace does not forward what comes from the veth. iptables rules (kubelet's,
//! kube-proxy's, the harness's) live in the node namespace's own tables.
//!
//! Nothing outlives the test process: the namespaces belong to a first process tied to it, so
//! when it dies the kernel kills every process of the node (containers included), unmounts
//! everything they mounted and deletes the network namespace with its veth, routes and rules.
//! The node's mount namespace hides `/run`, `/var/lib` and `/var/log` behind tmpfs (containerd
//! and CNI write there regardless of their configuration), and kubelet's kernel tunables are
//! redirected to copies, so no sysctl of the machine changes. Only the pod cgroups under
//! `superset-testkit` in each cgroup hierarchy remain after a crash; the tier removes them at
//! exit and, after a crash, at its next start. containerd's root (images) is kept in the cache,
//! so that a second run imports nothing.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node as NodeObject, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::Error;
use crate::binaries::workspace_root;
use crate::control_plane::{ApiServerOptions, ControlPlane, SERVICE_CLUSTER_IP_RANGE};
use crate::pki::{CertificateFiles, CertificateSpec, Pki};
use crate::process::spawn_tied;

/// The node's name: kubelet's `--hostname-override` and its certificate's identity.
const NODE_NAME: &str = "testkit-node";
/// The harness's end of the link to the node, in the root namespace: the API server listens
/// here.
const HOST_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
/// The node's IP (its InternalIP), inside the node namespace.
const NODE_IP: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
/// Address of the cluster DNS Service.
const DNS_SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
const LINK: &str = "100.64.0.0/30";
/// The pod network on the node's bridge, and the cluster's pod range around it.
const POD_SUBNET: &str = "10.244.0.0/24";
const CLUSTER_CIDR: &str = "10.244.0.0/16";
/// Root-namespace end of the veth; the node's end is `eth0` in the node namespace.
const HOST_LINK_NAME: &str = "sotk-node";
const BRIDGE: &str = "cni0";
/// The node namespace's mangle chain that limits forwarding.
const FORWARD_CHAIN: &str = "TESTKIT-FORWARD";
/// kubelet's cgroup root, created in every cgroup hierarchy.
const CGROUP_ROOT: &str = "superset-testkit";
/// Name of the node's first process (its script): leftovers of a crashed run carry it.
const INIT_MARKER: &str = "superset-testkit-node-init";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// containerd's socket, in the node's own `/run` (a socket path has at most 108 bytes; the run
/// directory's are longer). Only the node's mount namespace sees it.
const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";
/// In containerd's root: a marker per imported archive.
const IMPORT_MARKERS: &str = "testkit-imported";
/// In containerd's root: what CRI keeps of sandboxes and containers.
const CRI_ROOT: &str = "io.containerd.grpc.v1.cri";
/// Debian's containernetworking-plugins.
const CNI_BIN_DIR: &str = "/usr/lib/cni";
/// Tools the node needs from the machine (installed by `hack/node.sh`).
const TOOLS: [&str; 7] = [
    "containerd",
    "ctr",
    "runc",
    "iptables",
    "ip",
    "nsenter",
    "unshare",
];
/// Kernel tunables kubelet sets unless they already have its values; the node sees copies.
const KUBELET_TUNABLES: [&str; 6] = [
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
];

/// A running real node and its control plane. Everything stops when [`Node::shutdown`] is
/// called, at exit of the process that started the shared one, or when that process dies.
pub struct Node {
    plane: ControlPlane,
    dir: PathBuf,
    images: Vec<String>,
    namespaces: Namespaces,
    components: Mutex<Vec<Component>>,
    _lock: File,
}

/// The node shared by every test of this test binary, started on first use and stopped when
/// the process exits.
pub(crate) fn shared() -> Result<&'static Node, Error> {
    static_node()
        .get_or_init(|| {
            let dir = crate::run_dir("-node");
            let node = crate::block_on_own_runtime(Node::start(&dir)).map_err(|e| e.to_string())?;
            // SAFETY: registers a plain function; it runs once, at exit.
            unsafe { libc::atexit(shut_down_shared) };
            Ok(node)
        })
        .as_ref()
        .map_err(|e| Error::Shared(e.clone()))
}

fn static_node() -> &'static OnceLock<Result<Node, String>> {
    static NODE: OnceLock<Result<Node, String>> = OnceLock::new();
    &NODE
}

/// Statics are never dropped: at exit the shared node is stopped here, so that even its
/// cgroups are gone once the test binary has exited. The control plane's processes die with
/// the test binary; stopping them gracefully would only delay its exit.
extern "C" fn shut_down_shared() {
    if let Some(Ok(node)) = static_node().get() {
        node.stop_node();
    }
}

impl Node {
    /// Starts a control plane and a real node in `dir`. Needs root, overlayfs and the
    /// packages `hack/node.sh` installs; builds CoreDNS and the images when they are absent.
    pub async fn start(dir: &Path) -> Result<Self, Error> {
        let started = Instant::now();
        let tools = Tools::find()?;
        let images = build_images()?;
        let lock = lock()?;
        clean_leftovers()?;
        ensure_ranges_free()?;
        let node_dir = dir.join("node");
        for sub in ["", "sysctl", "cni/net.d", "cni/ipam", "pod-logs", "kubelet"] {
            create_dir(&node_dir.join(sub))?;
        }
        create_dir(&dir.join("logs"))?;
        let namespaces = Namespaces::create(&node_dir, &dir.join("logs"))?;
        namespaces.set_up_network()?;

        let pki = ControlPlane::prepare(dir, &[IpAddr::V4(HOST_IP)])?;
        let certs = NodeCertificates::sign(&pki)?;
        let options = ApiServerOptions {
            address: HOST_IP,
            kubelet_client: Some(certs.apiserver_kubelet_client.clone()),
        };
        let plane = ControlPlane::start_api_with(dir, pki, options).await?;
        let plane_started = Instant::now();
        let port = plane.server().rsplit(':').next().unwrap_or_default();
        if let Err(e) = namespaces.allow_api_server(port) {
            plane.shutdown();
            return Err(e);
        }
        let node = Self {
            plane,
            dir: node_dir,
            images: images.keys().cloned().collect(),
            namespaces,
            components: Mutex::new(Vec::new()),
            _lock: lock,
        };
        // Dropping the node on an error stops what has started.
        node.plane.start_controllers().await?;
        node.start_containerd(&tools, &images).await?;
        node.start_node_components(&tools, &certs).await?;
        eprintln!(
            "testkit: node tier up in {:.1}s, {:.1}s after its API server ({} images, logs in {})",
            started.elapsed().as_secs_f64(),
            plane_started.elapsed().as_secs_f64(),
            node.images.len(),
            node.plane.dir().join("logs").display()
        );
        Ok(node)
    }

    /// The node's control plane.
    pub fn control_plane(&self) -> &ControlPlane {
        &self.plane
    }

    /// Path of an admin kubeconfig. Its server, on the harness's end of the veth, is
    /// reachable from the root namespace and from the node.
    pub fn kubeconfig(&self) -> &Path {
        self.plane.kubeconfig()
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        NODE_NAME
    }

    /// The node's IP.
    pub fn address(&self) -> Ipv4Addr {
        NODE_IP
    }

    /// The cluster DNS server pods use (the `kube-dns` Service in `kube-system`).
    pub fn dns_address(&self) -> Ipv4Addr {
        DNS_SERVICE_IP
    }

    /// Every image name containerd has (from `hack/images.sh`); a pod with one of them and
    /// `imagePullPolicy: IfNotPresent` or `Never` starts without pulling.
    pub fn images(&self) -> &[String] {
        &self.images
    }

    /// `program` run in the node's network namespace, where pod and Service IPs answer as
    /// they do for the node itself. (The root namespace also has routes to both.)
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--target={}", self.namespaces.init_pid))
            .args(["--net", "--"])
            .arg(program);
        command
    }

    /// Fails if a component of the node or of its control plane has exited.
    pub fn ensure_running(&self) -> Result<(), Error> {
        self.namespaces.ensure_running()?;
        self.components
            .lock()
            .expect("component list lock")
            .iter_mut()
            .try_for_each(Component::ensure_running)?;
        self.plane.ensure_running()
    }

    /// Stops the node (every process in its namespaces at once) and its control plane, and
    /// removes the pod cgroups. Safe to call more than once.
    pub fn shutdown(&self) {
        self.stop_node();
        self.plane.shutdown();
    }

    fn stop_node(&self) {
        self.namespaces.kill();
        for mut component in self
            .components
            .lock()
            .expect("component list lock")
            .drain(..)
        {
            component.reap();
        }
        if let Err(e) = remove_cgroups() {
            eprintln!("testkit: {e}");
        }
    }

    /// Starts containerd with every image imported. Its root is kept between runs, and with it
    /// the containers of earlier runs, which CRI would recover and kubelet collect only a
    /// minute or more later: when there are any, or images to import, a containerd without
    /// CRI first imports the images and forgets the containers.
    async fn start_containerd(
        &self,
        tools: &Tools,
        images: &BTreeMap<String, PathBuf>,
    ) -> Result<(), Error> {
        let pause = images
            .keys()
            .find(|name| name.starts_with("registry.k8s.io/pause:"))
            .ok_or_else(|| {
                Error::Prerequisite("hack/images.sh printed no registry.k8s.io/pause image".into())
            })?;
        write_cni_config(&self.dir)?;
        let root = &tools.containerd_root;
        let ctr = Ctr {
            init_pid: self.namespaces.init_pid,
        };
        if needs_preparation(root, images)? {
            let started = Instant::now();
            let config = containerd_config(&self.dir, root, pause, false);
            self.run_containerd("containerd-prepare", &config, &ctr)
                .await?;
            import_images(&ctr, root, images)?;
            forget_containers(&ctr, root)?;
            self.stop_component("containerd-prepare");
            eprintln!(
                "testkit: prepared containerd's root in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        let config = containerd_config(&self.dir, root, pause, true);
        self.run_containerd("containerd", &config, &ctr).await
    }

    async fn run_containerd(&self, name: &str, config: &str, ctr: &Ctr) -> Result<(), Error> {
        let path = self.dir.join(format!("{name}.toml"));
        write(&path, config)?;
        self.spawn(
            name,
            Path::new("containerd"),
            &[format!("--config={}", path.display())],
        )?;
        self.wait_until("containerd to answer", || async { Ok(ctr.answers()) })
            .await
    }

    /// Stops one component, gracefully.
    fn stop_component(&self, name: &str) {
        let mut components = self.components.lock().expect("component list lock");
        if let Some(index) = components.iter().position(|c| c.name == name) {
            components.remove(index).stop();
        }
    }

    /// Starts kubelet, kube-proxy and CoreDNS, and waits until the node is Ready, Services
    /// are routed and names resolve.
    async fn start_node_components(
        &self,
        tools: &Tools,
        certs: &NodeCertificates,
    ) -> Result<(), Error> {
        let ca = self.plane.dir().join("pki/ca.crt");
        self.start_kubelet(tools, certs, &ca)?;
        self.start_kube_proxy(tools, certs, &ca)?;
        let corefile = self.dir.join("Corefile");
        write(&corefile, &corefile_text(self.plane.kubeconfig()))?;
        self.spawn(
            "coredns",
            &tools.coredns_bin.join("coredns"),
            &[format!("-conf={}", corefile.display())],
        )?;

        let client = self.plane.client().await?;
        create_dns_service(&client).await?;
        self.wait_until("the node to become Ready", || node_ready(client.clone()))
            .await?;
        self.wait_until("kube-proxy to sync its rules", || async {
            Ok(http_ok(SocketAddr::new(NODE_IP.into(), 10256), "/healthz"))
        })
        .await?;
        self.wait_until("CoreDNS to become ready", || async {
            Ok(http_ok(SocketAddr::new(NODE_IP.into(), 8181), "/ready"))
        })
        .await
    }

    fn start_kubelet(
        &self,
        tools: &Tools,
        certs: &NodeCertificates,
        ca: &Path,
    ) -> Result<(), Error> {
        let kubeconfig = self.dir.join("kubelet.kubeconfig");
        write_cert_kubeconfig(&kubeconfig, self.plane.server(), ca, &certs.kubelet_client)?;
        write(
            &self.dir.join("resolv.conf"),
            &format!("nameserver {DNS_SERVICE_IP}\n"),
        )?;
        let config = self.dir.join("kubelet.yaml");
        write(&config, &kubelet_config_yaml(&self.dir, ca, certs)?)?;
        self.spawn(
            "kubelet",
            &tools.kubernetes_bin.join("kubelet"),
            &[
                format!("--config={}", config.display()),
                format!("--kubeconfig={}", kubeconfig.display()),
                // The run directory's kubelet/, mounted there in the node's namespace.
                "--root-dir=/var/lib/kubelet".into(),
                format!("--node-ip={NODE_IP}"),
                format!("--hostname-override={NODE_NAME}"),
            ],
        )
    }

    fn start_kube_proxy(
        &self,
        tools: &Tools,
        certs: &NodeCertificates,
        ca: &Path,
    ) -> Result<(), Error> {
        let kubeconfig = self.dir.join("kube-proxy.kubeconfig");
        write_cert_kubeconfig(&kubeconfig, self.plane.server(), ca, &certs.kube_proxy)?;
        let config = self.dir.join("kube-proxy.yaml");
        write(&config, &kube_proxy_config_yaml(&kubeconfig)?)?;
        self.spawn(
            "kube-proxy",
            &tools.kubernetes_bin.join("kube-proxy"),
            &[format!("--config={}", config.display())],
        )
    }

    /// Starts `program` inside the node's namespaces, logging to `logs/<name>.log`.
    fn spawn(&self, name: &str, program: &Path, args: &[String]) -> Result<(), Error> {
        let log = self.plane.dir().join("logs").join(format!("{name}.log"));
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--target={}", self.namespaces.init_pid))
            .args(["--mount", "--net", "--pid", "--"])
            .arg(program)
            .args(args);
        let component = Component::start(name, command, log)?;
        self.components
            .lock()
            .expect("component list lock")
            .push(component);
        Ok(())
    }

    async fn wait_until<F, Fut>(&self, what: &str, check: F) -> Result<(), Error>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<bool, Error>>,
    {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            self.ensure_running()?;
            if check().await? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout(what.to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where the node's programs are.
struct Tools {
    /// kubelet and kube-proxy, built with the control plane.
    kubernetes_bin: PathBuf,
    /// CoreDNS, built by `hack/node.sh`.
    coredns_bin: PathBuf,
    /// containerd's root directory, kept in the cache between runs.
    containerd_root: PathBuf,
}

impl Tools {
    /// Checks what the node needs from the machine and builds what is missing.
    fn find() -> Result<Self, Error> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Error::Prerequisite(
                "the real node needs root (network namespaces, mounts, cgroups, containerd)".into(),
            ));
        }
        let filesystems = read("/proc/filesystems")?;
        if !filesystems
            .lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
        {
            return Err(Error::Prerequisite(
                "the kernel has no overlay filesystem, which containerd's snapshotter needs".into(),
            ));
        }
        let coredns_bin = run_script("hack/node.sh", &[])?;
        let coredns_bin = PathBuf::from(coredns_bin.trim());
        let kubernetes_bin = crate::binaries::bin_dir()?;
        for tool in TOOLS {
            if !on_path(tool) {
                return Err(Error::Prerequisite(format!("{tool} is not installed")));
            }
        }
        let needed = [
            kubernetes_bin.join("kubelet"),
            kubernetes_bin.join("kube-proxy"),
            coredns_bin.join("coredns"),
            Path::new(CNI_BIN_DIR).join("bridge"),
            Path::new(CNI_BIN_DIR).join("host-local"),
            Path::new(CNI_BIN_DIR).join("loopback"),
        ];
        if let Some(missing) = needed.iter().find(|p| !p.is_file()) {
            return Err(Error::Prerequisite(format!(
                "{} is missing",
                missing.display()
            )));
        }
        // <cache>/node/<coredns key>/bin -> <cache>/node/containerd
        let containerd_root = coredns_bin
            .ancestors()
            .nth(2)
            .map(|node| node.join("containerd"))
            .ok_or_else(|| Error::Prerequisite("unexpected hack/node.sh output".into()))?;
        create_dir(&containerd_root)?;
        Ok(Self {
            kubernetes_bin,
            coredns_bin,
            containerd_root,
        })
    }
}

/// The images `hack/images.sh` builds, by name, with their archives. All of them unless
/// `SUPERSET_OPERATOR_NODE_IMAGES` names some (names or ids, space or comma separated); the
/// pause image is always among them.
fn build_images() -> Result<BTreeMap<String, PathBuf>, Error> {
    let mut wanted: Vec<String> = std::env::var("SUPERSET_OPERATOR_NODE_IMAGES")
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !wanted.is_empty() {
        let ids = run_script("hack/images.sh", &["--ids".to_owned()])?;
        let pause = ids
            .lines()
            .filter_map(|l| l.split('\t').next())
            .find(|id| id.starts_with("pause-"))
            .ok_or_else(|| Error::Prerequisite("hack/images.sh has no pause image".into()))?;
        wanted.push(pause.to_owned());
    }
    let listing = run_script("hack/images.sh", &wanted)?;
    Ok(listing
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, archive)| (name.to_owned(), PathBuf::from(archive)))
        .collect())
}

/// Runs a script of `hack/` and returns its standard output; its standard error goes to the
/// test's.
fn run_script(script: &str, args: &[String]) -> Result<String, Error> {
    let path = workspace_root().join(script);
    if !path.is_file() {
        return Err(Error::Prerequisite(format!(
            "{} is missing",
            path.display()
        )));
    }
    let output = Command::new("bash")
        .arg(&path)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(io_error(format!("running {}", path.display())))?;
    if !output.status.success() {
        return Err(Error::Build(format!(
            "{} exited with {}",
            path.display(),
            output.status
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// One node tier per machine: its addresses, veth name and cgroup root are fixed. The lock
/// is released by the kernel when its holder dies, so whatever the tier finds of an earlier
/// run once it holds the lock is a leftover.
fn lock() -> Result<File, Error> {
    let root = std::env::temp_dir().join("superset-operator-testkit");
    create_dir(&root)?;
    let path = root.join("node.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error(format!("opening {}", path.display())))?;
    let flock = |file: &File, operation| {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    if flock(&file, libc::LOCK_EX | libc::LOCK_NB).is_err() {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        eprintln!(
            "testkit: waiting for the node tier of process {} to stop",
            holder.trim()
        );
        flock(&file, libc::LOCK_EX).map_err(io_error(format!("locking {}", path.display())))?;
    }
    let pid = std::process::id().to_string();
    file.set_len(0)
        .and_then(|()| file.write_all(pid.as_bytes()))
        .map_err(io_error(format!("writing {}", path.display())))?;
    Ok(file)
}

/// Removes what a run that died without cleaning up left: its node's processes (if anything
/// kept them alive), the veth with them, and the pod cgroups.
fn clean_leftovers() -> Result<(), Error> {
    let stale = processes_with_marker();
    if !stale.is_empty() {
        eprintln!("testkit: killing the node of an earlier run (pids {stale:?})");
        for pid in &stale {
            // SAFETY: signals a process by pid; it carries the node tier's marker.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while !processes_with_marker().is_empty() || link_exists(HOST_LINK_NAME) {
        if Instant::now() > deadline {
            return Err(Error::Prerequisite(format!(
                "the node of an earlier run is still there: processes {:?}, link {HOST_LINK_NAME} {}",
                processes_with_marker(),
                if link_exists(HOST_LINK_NAME) {
                    "present"
                } else {
                    "gone"
                }
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    remove_cgroups()
}

/// Processes whose command line names the node's first process.
fn processes_with_marker() -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id() as libc::pid_t;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(INIT_MARKER))
        })
        .collect()
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Fails when the machine already uses an address of the ranges the node tier routes.
fn ensure_ranges_free() -> Result<(), Error> {
    let ours: Vec<Cidr> = [LINK, POD_SUBNET, SERVICE_CLUSTER_IP_RANGE]
        .iter()
        .map(|c| Cidr::parse(c).expect("constant ranges parse"))
        .collect();
    let routes = run(
        "listing routes",
        Command::new("ip").args(["-4", "route", "show", "table", "all"]),
    )?;
    for route in routes.lines() {
        let Some(destination) = route_destination(route) else {
            continue;
        };
        if let Some(range) = ours.iter().find(|r| r.overlaps(&destination)) {
            return Err(Error::Prerequisite(format!(
                "the route `{route}` overlaps {range}, which the node tier uses"
            )));
        }
    }
    Ok(())
}

/// The destination of a line of `ip route show`, unless it is a default route.
fn route_destination(route: &str) -> Option<Cidr> {
    const TYPES: [&str; 10] = [
        "unicast",
        "local",
        "broadcast",
        "multicast",
        "unreachable",
        "blackhole",
        "prohibit",
        "throw",
        "nat",
        "anycast",
    ];
    let mut words = route.split_whitespace();
    let mut first = words.next()?;
    if TYPES.contains(&first) {
        first = words.next()?;
    }
    Cidr::parse(first)
}

/// An IPv4 range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cidr {
    address: u32,
    prefix: u32,
}

impl Cidr {
    fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = text.split_once('/').unwrap_or((text, "32"));
        Some(Self {
            address: address.parse::<Ipv4Addr>().ok()?.into(),
            prefix: prefix.parse().ok().filter(|p| *p <= 32)?,
        })
    }

    fn overlaps(&self, other: &Self) -> bool {
        let prefix = self.prefix.min(other.prefix);
        let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
        self.address & mask == other.address & mask
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.address), self.prefix)
    }
}

/// The node's namespaces, held by its first process: `unshare`, tied to the test process,
/// whose child is the first process of the new PID namespace. When that child dies the kernel
/// kills every other process of the namespace; nothing then holds the network and mount
/// namespaces, and they go too.
struct Namespaces {
    unshare: Mutex<Option<Child>>,
    /// The first process of the PID namespace, as the root namespace numbers it: `nsenter
    /// --target` enters its namespaces.
    init_pid: u32,
    log: PathBuf,
}

impl Namespaces {
    fn create(node_dir: &Path, log_dir: &Path) -> Result<Self, Error> {
        create_cgroups()?;
        let script = node_dir.join(INIT_MARKER);
        write(&script, &init_script(&KUBELET_TUNABLES))?;
        let log = log_dir.join("node-init.log");
        let out = File::create(&log).map_err(io_error(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(io_error(format!("cloning {}", log.display())))?;
        let mut command = Command::new("unshare");
        command
            .args(["--net", "--mount", "--pid", "--fork", "--kill-child"])
            .args(["--mount-proc", "--propagation=private", "sh"])
            .arg(&script)
            .arg(node_dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let mut unshare = spawn_tied(command).map_err(io_error("starting unshare".into()))?;
        let ready = node_dir.join("init-ready");
        let deadline = Instant::now() + Duration::from_secs(10);
        let init_pid = loop {
            if let Some(pid) = first_child(unshare.id()).filter(|_| ready.exists()) {
                break pid;
            }
            let exited = unshare.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let _ = unshare.kill();
                let _ = unshare.wait();
                return Err(Error::Exited {
                    component: "the node's namespaces (unshare)".into(),
                    status: exited.map_or("timed out".into(), |s| s.to_string()),
                    log_tail: read(&log).unwrap_or_default(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(Self {
            unshare: Mutex::new(Some(unshare)),
            init_pid,
            log,
        })
    }

    /// Links the node namespace to the root namespace and gives it its addresses, routes and
    /// the forwarding rule that keeps pods at home.
    fn set_up_network(&self) -> Result<(), Error> {
        let pid = self.init_pid.to_string();
        let host = format!("{HOST_IP}/30");
        let node = format!("{NODE_IP}/30");
        let ip = |what: &str, args: &[&str]| run(what, Command::new("ip").args(args));
        ip(
            "creating the veth pair",
            &[
                "link",
                "add",
                HOST_LINK_NAME,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &pid,
            ],
        )?;
        // Nothing arriving from the node is forwarded by the root namespace, and the link
        // carries no IPv6 (no link-local chatter, no autoconfiguration).
        let conf = |family: &str, key: &str, value: &str| {
            let path = format!("/proc/sys/net/{family}/conf/{HOST_LINK_NAME}/{key}");
            write(Path::new(&path), value)
        };
        conf("ipv4", "forwarding", "0")?;
        conf("ipv6", "disable_ipv6", "1")?;
        ip(
            "addressing the veth",
            &["addr", "add", &host, "dev", HOST_LINK_NAME],
        )?;
        ip(
            "bringing the veth up",
            &["link", "set", HOST_LINK_NAME, "up"],
        )?;
        for range in [POD_SUBNET, SERVICE_CLUSTER_IP_RANGE] {
            ip(
                "routing to the node",
                &[
                    "route",
                    "add",
                    range,
                    "via",
                    &NODE_IP.to_string(),
                    "dev",
                    HOST_LINK_NAME,
                ],
            )?;
        }
        let script = node_network_script(&node);
        run(
            "setting up the node's network",
            Command::new("nsenter")
                .arg(format!("--target={pid}"))
                .args(["--net", "--", "sh", "-euc", &script]),
        )?;
        Ok(())
    }

    /// Lets pods reach the API server, on `port` of the harness's end of the link.
    fn allow_api_server(&self, port: &str) -> Result<(), Error> {
        let host = format!("{HOST_IP}/32");
        run(
            "letting pods reach the API server",
            Command::new("nsenter")
                .arg(format!("--target={}", self.init_pid))
                .args(["--net", "--", "iptables", "-w", "-t", "mangle", "-I"])
                .args([FORWARD_CHAIN, "2", "-i", BRIDGE, "-o", "eth0", "-d", &host])
                .args(["-p", "tcp", "--dport", port, "-j", "RETURN"]),
        )?;
        Ok(())
    }

    fn ensure_running(&self) -> Result<(), Error> {
        let mut unshare = self.unshare.lock().expect("unshare lock");
        let Some(child) = unshare.as_mut() else {
            return Err(Error::Timeout("the node, which has been shut down".into()));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Exited {
                component: "the node's namespaces (unshare)".into(),
                status: status.to_string(),
                log_tail: read(&self.log).unwrap_or_default(),
            }),
            Err(source) => Err(Error::Io {
                what: "waiting for unshare".into(),
                source,
            }),
        }
    }

    /// Kills every process of the node at once and waits until they are gone.
    fn kill(&self) {
        if let Some(mut unshare) = self.unshare.lock().expect("unshare lock").take() {
            let _ = unshare.kill();
            let _ = unshare.wait();
        }
        let proc_dir = PathBuf::from(format!("/proc/{}", self.init_pid));
        let deadline = Instant::now() + Duration::from_secs(10);
        while proc_dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        self.kill();
        if let Err(e) = remove_cgroups() {
            eprintln!("testkit: {e}");
        }
    }
}

/// The first child of `pid`, if it has one yet.
fn first_child(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The script of the node's first process (PID 1 of its namespace). It masks the machine's
/// directories that containerd and CNI write to whatever their configuration says, gives
/// kubelet copies of the kernel tunables it would change, and then reaps orphans until the
/// kernel kills it.
fn init_script(tunables: &[&str]) -> String {
    let tunables = tunables.join(" ");
    format!(
        r#"# The first process of the test node's namespaces (written by the testkit).
set -eu
dir=$1
for d in /run /var/lib /var/log; do mount -t tmpfs -o mode=0755 superset-testkit "$d"; done
# kubelet's sockets need a short path; its files stay in the run directory.
mkdir /var/lib/kubelet
mount --bind "$dir/kubelet" /var/lib/kubelet
for tunable in {tunables}; do
  copy="$dir/sysctl/$(echo "$tunable" | tr / .)"
  cat "/proc/sys/$tunable" > "$copy"
  mount --bind "$copy" "/proc/sys/$tunable"
done
: > "$dir/init-ready"
while :; do sleep 3600 & wait $! || true; done
"#
    )
}

/// Network of the node namespace, set up from inside it.
fn node_network_script(node_address: &str) -> String {
    format!(
        r#"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6
ip link set lo up
ip addr add {node_address} dev eth0
ip link set eth0 up
# Service IPs are local to the node: kube-proxy's DNAT sends them on to their endpoints, and
# an address without a Service is answered here instead of being routed anywhere.
ip route add local {services} dev lo table local
echo 1 > /proc/sys/net/ipv4/ip_forward
# Forwarded packets go to pods, or from pods to the harness's end of the link: replies to
# the root namespace, and (a rule added once its port is known) the API server behind the
# kubernetes Service. Nothing else.
iptables -w -t mangle -N {FORWARD_CHAIN}
iptables -w -t mangle -A {FORWARD_CHAIN} -o {BRIDGE} -j RETURN
iptables -w -t mangle -A {FORWARD_CHAIN} -i {BRIDGE} -o eth0 -d {HOST_IP}/32 -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
iptables -w -t mangle -A {FORWARD_CHAIN} -j DROP
iptables -w -t mangle -A FORWARD -j {FORWARD_CHAIN}
"#,
        services = SERVICE_CLUSTER_IP_RANGE,
    )
}

/// Mount points of every cgroup hierarchy (v1 controllers, named ones, the unified one).
fn cgroup_hierarchies() -> Result<Vec<PathBuf>, Error> {
    let mountinfo = read("/proc/self/mountinfo")?;
    Ok(mountinfo
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let fs_type = fs.split_whitespace().next()?;
            let point = mount.split_whitespace().nth(4)?;
            matches!(fs_type, "cgroup" | "cgroup2").then(|| PathBuf::from(point))
        })
        .collect())
}

/// kubelet's cgroup root in every hierarchy (kubelet requires it to exist). A new cpuset
/// cgroup starts with no CPUs and no memory nodes: it gets its parent's.
fn create_cgroups() -> Result<(), Error> {
    for hierarchy in cgroup_hierarchies()? {
        let dir = hierarchy.join(CGROUP_ROOT);
        create_dir(&dir)?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = dir.join(file);
            if let Ok(parent) = std::fs::read_to_string(hierarchy.join(file))
                && read(&own).is_ok_and(|own| own.trim().is_empty())
            {
                write(&own, parent.trim())?;
            }
        }
    }
    Ok(())
}

/// Removes kubelet's cgroup root from every hierarchy, innermost cgroups first, waiting a
/// little for the processes of a killed node to leave them.
fn remove_cgroups() -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    for hierarchy in cgroup_hierarchies()? {
        let dir = hierarchy.join(CGROUP_ROOT);
        loop {
            match remove_cgroup(&dir) {
                Ok(()) => break,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(source) => {
                    return Err(Error::Io {
                        what: format!("removing the cgroup {}", dir.display()),
                        source,
                    });
                }
            }
        }
    }
    Ok(())
}

fn remove_cgroup(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Certificates of the node's components, signed by the control plane's CA.
struct NodeCertificates {
    kubelet_serving: CertificateFiles,
    kubelet_client: CertificateFiles,
    kube_proxy: CertificateFiles,
    apiserver_kubelet_client: CertificateFiles,
}

impl NodeCertificates {
    fn sign(pki: &Pki) -> Result<Self, Error> {
        let node_user = format!("system:node:{NODE_NAME}");
        let client = |name, common_name, organizations| CertificateSpec {
            name,
            common_name,
            organizations,
            dns_names: &[],
            ips: &[],
            server: false,
        };
        Ok(Self {
            kubelet_serving: pki.sign(&CertificateSpec {
                name: "kubelet",
                common_name: &node_user,
                organizations: &["system:nodes"],
                dns_names: &[NODE_NAME],
                ips: &[IpAddr::V4(NODE_IP)],
                server: true,
            })?,
            // The Node authoriser knows a kubelet by this user and group.
            kubelet_client: pki.sign(&client("kubelet-client", &node_user, &["system:nodes"]))?,
            // Bound to the node-proxier ClusterRole by default.
            kube_proxy: pki.sign(&client("kube-proxy", "system:kube-proxy", &[]))?,
            // kubelet lets a system:masters client read logs and exec.
            apiserver_kubelet_client: pki.sign(&client(
                "apiserver-kubelet-client",
                "kube-apiserver-kubelet-client",
                &["system:masters"],
            ))?,
        })
    }
}

/// Whether containerd's root lacks an image or holds containers of an earlier run.
fn needs_preparation(root: &Path, images: &BTreeMap<String, PathBuf>) -> Result<bool, Error> {
    let markers = root.join(IMPORT_MARKERS);
    for archive in images.values() {
        if !markers.join(import_marker(archive)?).exists() {
            return Ok(true);
        }
    }
    Ok(["sandboxes", "containers"].iter().any(|dir| {
        std::fs::read_dir(root.join(CRI_ROOT).join(dir))
            .is_ok_and(|mut entries| entries.next().is_some())
    }))
}

/// Deletes every container (and its snapshot) of earlier runs, and what CRI kept of them.
fn forget_containers(ctr: &Ctr, root: &Path) -> Result<(), Error> {
    let listing = run(
        "listing containerd's containers",
        ctr.command().args(["containers", "ls", "-q"]),
    )?;
    let ids: Vec<&str> = listing.lines().filter(|l| !l.is_empty()).collect();
    if !ids.is_empty() {
        run(
            "deleting the containers of an earlier run",
            ctr.command().args(["containers", "rm"]).args(&ids),
        )?;
    }
    collect_garbage(ctr)?;
    for dir in ["sandboxes", "containers"] {
        let path = root.join(CRI_ROOT).join(dir);
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Io {
                    what: format!("removing {}", path.display()),
                    source: e,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs containerd's garbage collector to its end, so that the snapshots of deleted containers
/// leave the disk before containerd stops (its own collection may not have run by then, and
/// only the process that deleted them removes them). Deleting a lease synchronously collects.
fn collect_garbage(ctr: &Ctr) -> Result<(), Error> {
    let lease = run(
        "creating a containerd lease",
        ctr.command().args(["leases", "create"]),
    )?;
    let id = lease.split_whitespace().next().unwrap_or_default();
    run(
        "collecting containerd's garbage",
        ctr.command().args(["leases", "delete", "--sync", id]),
    )?;
    Ok(())
}

/// containerd's configuration: its own socket, state and runtime directories in the run
/// directory, its root in the cache, CRI (unless `cri` is false) with the settings this kind
/// of machine needs.
fn containerd_config(node_dir: &Path, root: &Path, pause_image: &str, cri: bool) -> String {
    let state = node_dir.join("containerd");
    let cri = if cri {
        ""
    } else {
        r#""io.containerd.grpc.v1.cri", "#
    };
    format!(
        r#"version = 2
root = "{root}"
state = "{state}/state"
disabled_plugins = [{cri}"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{CONTAINERD_SOCKET}"

[ttrpc]
  address = "{CONTAINERD_SOCKET}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{state}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  # Root here lacks CAP_SYS_RESOURCE: an OOM score below the parent's fails every sandbox.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{state}/runc"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{cni}/net.d"
"#,
        root = root.display(),
        state = state.display(),
        cni = node_dir.join("cni").display(),
    )
}

/// The CNI network: a bridge with host-local addresses and no masquerading (pods have nowhere
/// to go but the node).
fn write_cni_config(node_dir: &Path) -> Result<(), Error> {
    let config = json!({
        "cniVersion": "1.0.0",
        "name": "testkit",
        "plugins": [{
            "type": "bridge",
            "bridge": BRIDGE,
            "isGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": POD_SUBNET }]],
                "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": node_dir.join("cni/ipam"),
            },
        }],
    });
    write(
        &node_dir.join("cni/net.d/10-testkit.conflist"),
        &config.to_string(),
    )
}

fn kubelet_config_yaml(
    node_dir: &Path,
    ca: &Path,
    certs: &NodeCertificates,
) -> Result<String, Error> {
    let config = json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": format!("unix://{CONTAINERD_SOCKET}"),
        // This machine has cgroup v1, which kubelet 1.35 refuses unless told otherwise.
        "failCgroupV1": false,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": format!("/{CGROUP_ROOT}"),
        "address": NODE_IP.to_string(),
        "readOnlyPort": 0,
        "healthzBindAddress": NODE_IP.to_string(),
        "authentication": {
            "anonymous": { "enabled": false },
            "webhook": { "enabled": true },
            "x509": { "clientCAFile": ca },
        },
        "authorization": { "mode": "Webhook" },
        "tlsCertFile": certs.kubelet_serving.cert,
        "tlsPrivateKeyFile": certs.kubelet_serving.key,
        "clusterDomain": "cluster.local",
        "clusterDNS": [DNS_SERVICE_IP.to_string()],
        "resolvConf": node_dir.join("resolv.conf"),
        "podLogsDir": node_dir.join("pod-logs"),
        // Images are imported, never pulled: none may be collected.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        // As kind does: a full disk must not evict the test's pods.
        "evictionHard": {
            "nodefs.available": "0%",
            "nodefs.inodesFree": "0%",
            "imagefs.available": "0%",
        },
        "failSwapOn": false,
        "oomScoreAdj": 0,
        "kubeAPIQPS": 50,
        "kubeAPIBurst": 100,
        "serializeImagePulls": false,
        "shutdownGracePeriod": "0s",
        "rotateCertificates": false,
    });
    Ok(serde_yaml::to_string(&config)?)
}

fn kube_proxy_config_yaml(kubeconfig: &Path) -> Result<String, Error> {
    let config = json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": { "kubeconfig": kubeconfig, "qps": 50, "burst": 100 },
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP.to_string(),
        "healthzBindAddress": format!("{NODE_IP}:10256"),
        "metricsBindAddress": "127.0.0.1:10249",
        "clusterCIDR": CLUSTER_CIDR,
        "nodePortAddresses": [format!("{NODE_IP}/32")],
        "oomScoreAdj": 0,
        // Zero leaves the conntrack sysctls alone (the table size is the machine's, not the
        // namespace's).
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
        // Service traffic is masqueraded, so replies between pods on the bridge come back
        // through the node and are un-DNATed.
        "iptables": { "masqueradeAll": true, "minSyncPeriod": "0s", "syncPeriod": "30s" },
    });
    Ok(serde_yaml::to_string(&config)?)
}

/// CoreDNS answers for the cluster's names from the API server and for nothing else: no
/// forwarding.
fn corefile_text(kubeconfig: &Path) -> String {
    format!(
        r#"cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {{
    errors
    health {NODE_IP}:8080
    ready {NODE_IP}:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} testkit
        pods insecure
        ttl 5
    }}
    cache 5
}}
"#,
        kubeconfig = kubeconfig.display(),
    )
}

/// The `kube-dns` Service at the cluster DNS address, its endpoint CoreDNS on the node.
async fn create_dns_service(client: &Client) -> Result<(), Error> {
    let ports = json!([
        { "name": "dns", "port": 53, "protocol": "UDP" },
        { "name": "dns-tcp", "port": 53, "protocol": "TCP" },
    ]);
    let service: Service = serde_json::from_value(json!({
        "metadata": { "name": "kube-dns", "labels": { "k8s-app": "kube-dns" } },
        "spec": { "clusterIP": DNS_SERVICE_IP.to_string(), "ports": ports },
    }))?;
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {
            "name": "kube-dns-node",
            "labels": {
                "kubernetes.io/service-name": "kube-dns",
                "endpointslice.kubernetes.io/managed-by": "superset-operator-testkit",
            },
        },
        "addressType": "IPv4",
        "endpoints": [{ "addresses": [NODE_IP.to_string()], "conditions": { "ready": true } }],
        "ports": ports,
    }))?;
    let services: Api<Service> = Api::namespaced(client.clone(), "kube-system");
    services.create(&PostParams::default(), &service).await?;
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "kube-system");
    slices.create(&PostParams::default(), &slice).await?;
    Ok(())
}

/// Whether the node is Ready and the node lifecycle controller has lifted its not-ready taint.
async fn node_ready(client: Client) -> Result<bool, Error> {
    let nodes: Api<NodeObject> = Api::all(client);
    let Some(node) = nodes.get_opt(NODE_NAME).await? else {
        return Ok(false);
    };
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/not-ready"));
    Ok(ready && !tainted)
}

/// Whether `GET path` on `address` answers 200.
fn http_ok(address: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response
            .lines()
            .next()
            .is_some_and(|status| status.split_whitespace().nth(1) == Some("200"))
}

/// `ctr` on the node's containerd, run in the node's mount namespace, where its socket is.
struct Ctr {
    init_pid: u32,
}

impl Ctr {
    fn command(&self) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--target={}", self.init_pid))
            .args(["--mount", "--", "ctr"])
            .arg(format!("--address={CONTAINERD_SOCKET}"))
            .args(["--namespace", "k8s.io"]);
        command
    }

    fn answers(&self) -> bool {
        self.command()
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn image_names(&self) -> Result<Vec<String>, Error> {
        let listing = run(
            "listing containerd's images",
            self.command().args(["images", "ls", "-q"]),
        )?;
        Ok(listing.lines().map(str::to_owned).collect())
    }
}

/// Imports every archive whose images containerd's root does not have yet, as recorded by a
/// marker per archive (an archive's path names the recipe that built it).
fn import_images(
    ctr: &Ctr,
    containerd_root: &Path,
    images: &BTreeMap<String, PathBuf>,
) -> Result<(), Error> {
    let present = ctr.image_names()?;
    let markers = containerd_root.join(IMPORT_MARKERS);
    create_dir(&markers)?;
    let mut archives: BTreeMap<&Path, Vec<&str>> = BTreeMap::new();
    for (name, archive) in images {
        archives.entry(archive).or_default().push(name);
    }
    for (archive, names) in archives {
        let marker = markers.join(import_marker(archive)?);
        if marker.exists() && names.iter().all(|n| present.iter().any(|p| p == n)) {
            continue;
        }
        let started = Instant::now();
        run(
            &format!("importing {}", archive.display()),
            ctr.command()
                .args(["images", "import", "--all-platforms"])
                .arg(archive),
        )?;
        eprintln!(
            "testkit: imported {} in {:.1}s",
            names.join(", "),
            started.elapsed().as_secs_f64()
        );
        write(&marker, &format!("{}\n", archive.display()))?;
    }
    Ok(())
}

/// A file name that changes when the archive does.
fn import_marker(archive: &Path) -> Result<String, Error> {
    use std::hash::{Hash, Hasher};
    let metadata = std::fs::metadata(archive).map_err(io_error(format!(
        "reading the metadata of {}",
        archive.display()
    )))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    archive.hash(&mut hasher);
    metadata.len().hash(&mut hasher);
    metadata.modified().ok().hash(&mut hasher);
    Ok(format!("{:016x}", hasher.finish()))
}

/// A process of the node, started through `nsenter`, which forks it into the node's PID
/// namespace and waits for it: the handle's exit is the component's. It is stopped with the
/// whole node.
struct Component {
    name: String,
    log: PathBuf,
    nsenter: Child,
}

impl Component {
    fn start(name: &str, mut command: Command, log: PathBuf) -> Result<Self, Error> {
        let out = File::create(&log).map_err(io_error(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(io_error(format!("cloning {}", log.display())))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let nsenter = spawn_tied(command).map_err(io_error(format!("starting {name}")))?;
        Ok(Self {
            name: name.to_owned(),
            log,
            nsenter,
        })
    }

    fn ensure_running(&mut self) -> Result<(), Error> {
        match self.nsenter.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(Error::Exited {
                component: self.name.clone(),
                status: status.to_string(),
                log_tail: log_tail(&self.log, 4000),
            }),
            Err(source) => Err(Error::Io {
                what: format!("waiting for {}", self.name),
                source,
            }),
        }
    }

    /// Stops the component with SIGTERM (SIGKILL after five seconds). `nsenter` does not pass
    /// signals on: the component is its child.
    fn stop(mut self) {
        if let Some(pid) = first_child(self.nsenter.id()) {
            // SAFETY: signals the child of our own child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            for _ in 0..250 {
                if let Ok(Some(_)) = self.nsenter.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: as above.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        self.reap();
    }

    /// Waits for the component, which the node's end has killed, and for its `nsenter`.
    fn reap(&mut self) {
        for _ in 0..50 {
            if let Ok(Some(_)) = self.nsenter.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.nsenter.kill();
        let _ = self.nsenter.wait();
    }
}

fn log_tail(path: &Path, bytes: usize) -> String {
    let text = read(path).unwrap_or_default();
    let start = text.len().saturating_sub(bytes);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].to_owned()
}

fn write_cert_kubeconfig(
    path: &Path,
    server: &str,
    ca: &Path,
    client: &CertificateFiles,
) -> Result<(), Error> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "testkit", "cluster": { "server": server, "certificate-authority": ca } }],
        "users": [{ "name": "node", "user": { "client-certificate": client.cert, "client-key": client.key } }],
        "contexts": [{ "name": "testkit", "context": { "cluster": "testkit", "user": "node" } }],
        "current-context": "testkit",
    });
    write(path, &serde_yaml::to_string(&config)?)
}

/// Runs `command`, failing with its output unless it succeeds; returns its standard output.
fn run(what: &str, command: &mut Command) -> Result<String, Error> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(io_error(what.to_owned()))?;
    if !output.status.success() {
        return Err(Error::Command {
            what: what.to_owned(),
            status: output.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir| dir.join(program).is_file())
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

fn read(path: impl AsRef<Path>) -> Result<String, Error> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(io_error(format!("reading {}", path.display())))
}

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(io_error(format!("writing {}", path.display())))
}

fn create_dir(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(io_error(format!("creating {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_overlap_when_one_contains_the_other() {
        let services = Cidr::parse("10.96.0.0/16").unwrap();
        assert!(services.overlaps(&Cidr::parse("10.96.3.0/24").unwrap()));
        assert!(services.overlaps(&Cidr::parse("10.0.0.0/8").unwrap()));
        assert!(!services.overlaps(&Cidr::parse("10.97.0.0/16").unwrap()));
        assert!(!services.overlaps(&Cidr::parse("192.0.2.2").unwrap()));
    }

    #[test]
    fn route_destinations_skip_types_and_defaults() {
        let local = route_destination("local 127.0.0.1 dev lo table local proto kernel");
        assert_eq!(local, Cidr::parse("127.0.0.1/32"));
        assert_eq!(route_destination("default via 192.0.2.1 dev eth0"), None);
        assert_eq!(
            route_destination("192.0.2.0/24 dev eth0 proto kernel scope link"),
            Cidr::parse("192.0.2.0/24")
        );
    }
}

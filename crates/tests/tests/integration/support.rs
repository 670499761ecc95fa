//! What the controller and lifecycle tests share: the operator run in-process with a client that
//! counts its requests, and waits that fail with a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use kube::{Client, Config};
use superset_operator_api::Superset;
use superset_operator_controller::{Scope, Tuning, data_key};
use superset_operator_testkit::TestEnv;

pub const TIMEOUT: Duration = Duration::from_secs(120);

/// Requests the operator's client sent: reads (GET, including watches) and writes (POST, PUT,
/// PATCH, DELETE).
#[derive(Clone, Default)]
pub struct Writes(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl Writes {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub fn reads(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }
}

/// A client for the operator that counts the requests it sends.
async fn plain_client(kubeconfig: &std::path::Path) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

async fn counting_client(kubeconfig: &std::path::Path, writes: Writes) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let layer =
        tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
            let counter = if request.method() == http::Method::GET {
                &writes.1
            } else {
                &writes.0
            };
            counter.fetch_add(1, Ordering::SeqCst);
            request
        });
    kube::client::ClientBuilder::try_from(config)
        .unwrap()
        .with_layer(&layer)
        .build()
}

/// The controllers running for one test namespace. Dropping or killing it stops them at once,
/// mid-request if need be, as a crashed operator would.
pub struct Operator {
    writes: Writes,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Operator {
    pub fn count(&self) -> usize {
        self.writes.count()
    }

    pub fn reads(&self) -> usize {
        self.writes.reads()
    }

    /// Stops the controllers abruptly and waits until they are gone.
    pub fn kill(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Starts the controllers for the test's namespace on a runtime of their own, with the deep
/// stacks unoptimised builds need.
pub fn operator(env: &TestEnv) -> Operator {
    let writes = Writes::default();
    let (kubeconfig, namespace, counter) = (
        env.kubeconfig().to_owned(),
        env.namespace.clone(),
        writes.clone(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("operator-{namespace}"))
        .stack_size(32 << 20)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(32 << 20)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                // The data key as the operator binary keeps it, in the namespace it runs for:
                // every restart of a test's operator hashes alike. Read outside the counts.
                let data_key = data_key::load_or_create(
                    &Api::namespaced(plain_client(&kubeconfig).await, &namespace),
                    data_key::SECRET,
                )
                .await
                .unwrap();
                let client = counting_client(&kubeconfig, counter).await;
                tokio::select! {
                    _ = superset_operator_controller::run(client, Scope::Namespace(namespace), Tuning::default(), data_key) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime cancels every task still in flight.
            runtime.shutdown_background();
        })
        .unwrap();
    Operator {
        writes,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// `future`, or a panic saying `what` did not happen within the test timeout.
pub async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}"))
}

/// A JSON merge patch on the Superset `dev`.
pub async fn merge_spec(supersets: &Api<Superset>, patch: &serde_json::Value) {
    supersets
        .patch("dev", &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
}

pub async fn wait_available(api: &Api<Superset>, ready: &str) -> Superset {
    let wanted = ready.to_owned();
    let condition = move |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|status| {
            status.ready.as_deref() == Some(wanted.as_str())
                && status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Available" && c.status == "True")
        })
    };
    tokio::time::timeout(TIMEOUT, await_condition(api.clone(), "dev", condition))
        .await
        .unwrap_or_else(|_| panic!("the Superset did not become Available with {ready} ready"))
        .unwrap()
        .unwrap()
}

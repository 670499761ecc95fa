//! `superset-operator run`: the controllers, until SIGTERM or Ctrl-C.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, Resource};
use kube_lease_manager::LeaseManagerBuilder;
use superset_operator_api::{
    Superset, SupersetCeleryBeat, SupersetCeleryFlower, SupersetCeleryWorker,
    SupersetLifecycleTask, SupersetMcpServer, SupersetWebServer, SupersetWebsocketServer,
};
use superset_operator_controller::{Scope, Tuning, data_key};
use superset_operator_render::checksum::DataKey;
use tokio::signal::unix::{SignalKind, signal};

use crate::serve::{self, Readiness};

/// One of the operator's kinds: its `apiVersion`, its plural, and its CRD's name.
struct Kind {
    api_version: String,
    plural: String,
    crd: String,
}

fn kind<K: Resource<DynamicType = ()>>() -> Kind {
    let plural = K::plural(&()).into_owned();
    Kind {
        api_version: K::api_version(&()).into_owned(),
        crd: format!("{plural}.{}", K::group(&())),
        plural,
    }
}

/// Every kind the controllers watch.
fn kinds() -> [Kind; 8] {
    [
        kind::<Superset>(),
        kind::<SupersetWebServer>(),
        kind::<SupersetCeleryWorker>(),
        kind::<SupersetCeleryBeat>(),
        kind::<SupersetCeleryFlower>(),
        kind::<SupersetWebsocketServer>(),
        kind::<SupersetMcpServer>(),
        kind::<SupersetLifecycleTask>(),
    ]
}

/// Checks that every CRD of the operator is installed and established, naming those that
/// are not. The API server's discovery lists a custom resource once its CRD is established;
/// asking it costs a few kilobytes, where reading the CRDs themselves would decode megabytes of
/// schema, and that peak would stay in the process's resident memory.
async fn ensure_crds(client: &Client) -> anyhow::Result<()> {
    let mut served = BTreeSet::new();
    let versions: BTreeSet<String> = kinds().into_iter().map(|k| k.api_version).collect();
    for version in versions {
        match client.list_api_group_resources(&version).await {
            Ok(list) => served.extend(
                list.resources
                    .into_iter()
                    .map(|r| (version.clone(), r.name)),
            ),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("reading the API discovery of {version}"));
            }
        }
    }
    let missing: Vec<String> = kinds()
        .into_iter()
        .filter(|k| !served.contains(&(k.api_version.clone(), k.plural.clone())))
        .map(|k| k.crd)
        .collect();
    if !missing.is_empty() {
        bail!(
            "these CRDs are not installed or not established: {}; install them with `superset-operator crd | kubectl apply --server-side -f -`",
            missing.join(", ")
        );
    }
    Ok(())
}

/// How `run` coordinates with other replicas.
pub struct LeaderElection {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub lease: String,
    /// This replica's identity in the Lease.
    pub identity: String,
    /// Seconds a lease stays valid without renewal; a standby takes over after at most this.
    pub duration: u64,
    /// Seconds before expiry the leader renews.
    pub grace: u64,
}

/// Where the key that secret data is hashed with lives.
pub struct DataKeySecret {
    /// The Secret's namespace.
    pub namespace: String,
    /// The Secret's name.
    pub name: String,
}

/// What `run` needs.
pub struct Options {
    /// Namespaces to watch; every namespace when empty.
    pub namespaces: BTreeSet<String>,
    /// Where `/metrics` is served.
    pub metrics_address: SocketAddr,
    /// Where `/healthz` and `/readyz` are served.
    pub probe_address: SocketAddr,
    /// Leader election, when several replicas run.
    pub leader_election: Option<LeaderElection>,
    /// The Secret of the key secret data is hashed with.
    pub data_key: DataKeySecret,
    /// How hard each controller works at once.
    pub tuning: Tuning,
}

/// Runs the controllers until SIGTERM or Ctrl-C (or, with leader election, until the lease is
/// lost, which ends the process with an error so that it restarts as a standby).
pub async fn run(options: Options) -> anyhow::Result<()> {
    let readiness = Readiness::default();
    serve::start(
        options.metrics_address,
        options.probe_address,
        readiness.clone(),
    )
    .await?;
    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    ensure_crds(&client).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &options.data_key.namespace);
    let data_key = data_key::load_or_create(&secrets, &options.data_key.name)
        .await
        .with_context(|| {
            format!(
                "the data key in Secret {}/{}",
                options.data_key.namespace, options.data_key.name
            )
        })?;
    readiness.set_ready();
    let scopes: Vec<Scope> = if options.namespaces.is_empty() {
        vec![Scope::All]
    } else {
        options
            .namespaces
            .into_iter()
            .map(Scope::Namespace)
            .collect()
    };
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;

    let Some(election) = options.leader_election else {
        superset_operator_controller::metrics::set_leader(true);
        tracing::info!(?scopes, "controllers starting");
        let message = tokio::select! {
            error = controllers(client, scopes, options.tuning, data_key) => return Err(error),
            _ = terminate.recv() => "SIGTERM received; stopping",
            _ = tokio::signal::ctrl_c() => "interrupted; stopping",
        };
        tracing::info!("{message}");
        return Ok(());
    };

    let manager = LeaseManagerBuilder::new(client.clone(), &election.lease)
        .with_namespace(&election.namespace)
        .with_identity(&election.identity)
        .with_duration(election.duration)
        .with_grace(election.grace)
        .with_field_manager(format!("superset-operator-{}", election.identity))
        .build()
        .await
        .context("setting up leader election")?;
    let (mut leading, lease_task) = manager.watch().await;
    tracing::info!(
        lease = %election.lease,
        namespace = %election.namespace,
        identity = %election.identity,
        "waiting for the leader lease"
    );
    let outcome = loop {
        if *leading.borrow_and_update() {
            break None;
        }
        tokio::select! {
            changed = leading.changed() => {
                if changed.is_err() {
                    break Some(Err(anyhow::anyhow!("leader election stopped")));
                }
            }
            _ = terminate.recv() => break Some(Ok("SIGTERM received while standing by; stopping")),
            _ = tokio::signal::ctrl_c() => break Some(Ok("interrupted while standing by; stopping")),
        }
    };
    let outcome = match outcome {
        Some(outcome) => outcome,
        None => {
            superset_operator_controller::metrics::set_leader(true);
            tracing::info!(?scopes, identity = %election.identity, "leader lease acquired; controllers starting");
            // Whichever branch ends first, the others are dropped, the controllers with them.
            let outcome = tokio::select! {
                error = controllers(client, scopes, options.tuning, data_key) => Err(error),
                _ = lost(&mut leading) => Err(anyhow::anyhow!("the leader lease was lost; exiting so that a standby takes over")),
                _ = terminate.recv() => Ok("SIGTERM received; stopping and releasing the lease"),
                _ = tokio::signal::ctrl_c() => Ok("interrupted; stopping and releasing the lease"),
            };
            superset_operator_controller::metrics::set_leader(false);
            outcome
        }
    };
    // Closing the channel makes the lease task release the lease before it ends.
    drop(leading);
    match lease_task.await {
        Ok(Ok(_)) => tracing::info!("leader lease released"),
        Ok(Err(error)) => tracing::warn!(%error, "releasing the leader lease failed"),
        Err(error) => tracing::warn!(%error, "the leader election task failed"),
    }
    let message = outcome?;
    tracing::info!("{message}");
    Ok(())
}

/// Resolves when the lease is no longer held.
async fn lost(leading: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if leading.changed().await.is_err() || !*leading.borrow_and_update() {
            return;
        }
    }
}

/// Runs every controller for every scope until one stops, and says why. Each runs for the
/// life of the process, so one that ended (a panic outside any reconcile: those are reported
/// on their object) is an error that ends the process, rather than objects left unreconciled
/// behind a ready probe and a held lease.
async fn controllers(
    client: Client,
    scopes: Vec<Scope>,
    tuning: Tuning,
    data_key: DataKey,
) -> anyhow::Error {
    let mut running = tokio::task::JoinSet::new();
    for scope in scopes {
        running.spawn(superset_operator_controller::run(
            client.clone(),
            scope,
            tuning,
            data_key.clone(),
        ));
    }
    match running.join_next().await {
        Some(Err(error)) if error.is_panic() => {
            let message = superset_operator_controller::panic_message(error.into_panic().as_ref());
            anyhow::anyhow!(
                "a controller panicked ({message}); exiting so that the operator restarts"
            )
        }
        _ => anyhow::anyhow!("a controller stopped; exiting so that the operator restarts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kinds_checked_at_start_are_exactly_the_crds() {
        let checked: BTreeSet<String> = kinds().into_iter().map(|k| k.crd).collect();
        let crds: BTreeSet<String> = superset_operator_api::crds()
            .into_iter()
            .map(|crd| crd.metadata.name.expect("generated CRDs are named"))
            .collect();
        assert_eq!(checked, crds);
    }
}

//! `superset-operator run`: the controllers, until SIGTERM or Ctrl-C.

use std::collections::BTreeSet;

use anyhow::{Context as _, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};
use superset_operator_controller::Scope;
use tokio::signal::unix::{SignalKind, signal};

/// Checks that every CRD of the operator is installed and established, naming those that
/// are not.
async fn ensure_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut missing = Vec::new();
    for crd in superset_operator_api::crds() {
        let name = crd.metadata.name.expect("generated CRDs are named");
        let established = api
            .get_opt(&name)
            .await
            .with_context(|| format!("reading CRD {name}"))?
            .is_some_and(|live| {
                live.status.and_then(|s| s.conditions).is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
            });
        if !established {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        bail!(
            "these CRDs are not installed or not established: {}; install them with `superset-operator crd | kubectl apply --server-side -f -`",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Runs the controllers for `namespaces` (every namespace when empty) until a signal.
pub async fn run(namespaces: BTreeSet<String>) -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    ensure_crds(&client).await?;
    let scopes: Vec<Scope> = if namespaces.is_empty() {
        vec![Scope::All]
    } else {
        namespaces.into_iter().map(Scope::Namespace).collect()
    };
    tracing::info!(?scopes, "controllers starting");
    let controllers = futures_join_all(
        scopes
            .into_iter()
            .map(|scope| superset_operator_controller::run(client.clone(), scope)),
    );
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        () = controllers => tracing::warn!("controllers stopped"),
        _ = terminate.recv() => tracing::info!("SIGTERM received; stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
    }
    Ok(())
}

/// Runs every future to completion, concurrently.
async fn futures_join_all(
    futures: impl Iterator<Item = impl std::future::Future<Output = ()> + Send + 'static>,
) {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for handle in handles {
        let _ = handle.await;
    }
}

//! The Supersets the bench creates, and creating and changing many of them at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};
use superset_operator_api::Superset;
use superset_operator_testkit::OUTCOME_ANNOTATION;

/// Requests the bench keeps in flight while creating or patching Supersets.
const CONCURRENCY: usize = 16;

/// The Secret every Superset of a namespace reads its secret key and database URI from.
const SECRET: &str = "superset";

/// The names of `count` Supersets.
pub fn names(count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("superset-{i:04}")).collect()
}

/// A Superset as production runs it, minus autoscaling: web server, Celery worker and beat,
/// Valkey, secrets by reference. With `lifecycle`, the migrate and init tasks run first, in
/// pods that kwok makes succeed at once; without, the components start straight away.
pub fn superset(name: &str, lifecycle: bool) -> anyhow::Result<Superset> {
    let lifecycle = if lifecycle {
        json!({ "podTemplate": { "annotations": { OUTCOME_ANNOTATION: "succeed" } } })
    } else {
        json!({ "disabled": true })
    };
    let manifest = json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": name },
        "spec": {
            "image": { "tag": "6.0.0" },
            "secretKeyFrom": { "name": SECRET, "key": "secret-key" },
            "metastore": { "uriFrom": { "name": SECRET, "key": "database-uri" } },
            "valkey": { "host": "valkey" },
            "webServer": {},
            "celeryWorker": {},
            "celeryBeat": {},
            "lifecycle": lifecycle,
        },
    });
    Ok(serde_json::from_value(manifest)?)
}

/// Creates `namespace` with the Secret the Supersets read, and waits for its default
/// ServiceAccount (the API server admits no pod before it exists).
pub async fn prepare_namespace(client: &Client, namespace: &str) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let object: Namespace = serde_json::from_value(json!({ "metadata": { "name": namespace } }))?;
    namespaces
        .create(&PostParams::default(), &object)
        .await
        .with_context(|| format!("creating namespace {namespace}"))?;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": { "name": SECRET },
        "stringData": {
            "secret-key": "a-benchmark-secret-key",
            "database-uri": "postgresql://superset:superset@postgres/superset",
        },
    }))?;
    Api::<Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await?;
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), namespace);
    let deadline = Instant::now() + Duration::from_secs(60);
    while accounts.get_opt("default").await?.is_none() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the default ServiceAccount of {namespace} did not appear"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// When the creates of a batch were sent and answered.
pub struct Created {
    /// Just before the first create was sent.
    pub first: Instant,
    /// When the last create was answered.
    pub last: Instant,
    /// When each Superset's create was answered.
    pub at: BTreeMap<String, Instant>,
}

/// Creates every Superset of `names`, a bounded number at a time.
pub async fn create_all(
    api: &Api<Superset>,
    names: &[String],
    lifecycle: bool,
) -> anyhow::Result<Created> {
    let first = Instant::now();
    let at: BTreeMap<String, Instant> = futures::stream::iter(names.iter().cloned())
        .map(|name| async move {
            let object = superset(&name, lifecycle)?;
            api.create(&PostParams::default(), &object)
                .await
                .with_context(|| format!("creating Superset {name}"))?;
            anyhow::Ok((name, Instant::now()))
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let last = at.values().max().copied().unwrap_or(first);
    Ok(Created { first, last, at })
}

/// Applies the merge patch `patch` to every Superset of `names`; returns when the last patch
/// was answered, and the generation each Superset reached.
pub async fn patch_all(
    api: &Api<Superset>,
    names: &[String],
    patch: &Value,
) -> anyhow::Result<(Instant, BTreeMap<String, i64>)> {
    let generations: BTreeMap<String, i64> = futures::stream::iter(names.iter().cloned())
        .map(|name| async move {
            let patched = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .with_context(|| format!("patching Superset {name}"))?;
            anyhow::Ok((
                patched.name_any(),
                patched.metadata.generation.unwrap_or_default(),
            ))
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok((Instant::now(), generations))
}

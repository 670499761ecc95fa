//! The measurements: per size, a fresh namespace and a fresh operator process; create the
//! Supersets, wait for convergence, stay settled, force the watches to reconnect and then to
//! relist; optionally change every Superset's configuration; and separately, Supersets that
//! run their lifecycle pipeline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::ListParams;
use serde_json::json;
use superset_operator_api::Superset;
use superset_operator_render::labels;

use crate::cluster::Cluster;
use crate::operator::{Operator, Usage};
use crate::prometheus::{Exposition, quantile};
use crate::proxy::{Interrupt, Proxy};
use crate::report::{ChangeResult, Latency, LifecycleResult, Resync, SizeResult, Window, round};
use crate::requests::{RequestKind, Tally, Verb};
use crate::tracker::{Changes, Progress, Tracker};
use crate::workload;

/// A period without a request from the operator after which it counts as quiet.
const QUIET: Duration = Duration::from_secs(5);
/// The longest the bench waits for quiet.
const QUIET_AT_MOST: Duration = Duration::from_secs(180);
/// The longest the bench waits for the watches to be open again after a resync.
const RECOVERY_AT_MOST: Duration = Duration::from_secs(600);

/// What every measurement uses.
pub struct Bench {
    pub cluster: Cluster,
    pub proxy: Proxy,
    pub operator_binary: PathBuf,
    pub kubeconfig: PathBuf,
    /// The settled period after convergence.
    pub settle: Duration,
    /// The operator's log filter.
    pub operator_log_level: String,
}

/// An operator process for one namespace, and the bench's view of that namespace.
struct Run<'a> {
    bench: &'a Bench,
    namespace: String,
    names: Vec<String>,
    operator: Operator,
    tracker: Tracker,
    supersets: Api<Superset>,
}

impl<'a> Run<'a> {
    async fn start(bench: &'a Bench, namespace: &str, instances: usize) -> anyhow::Result<Run<'a>> {
        let client = &bench.cluster.client;
        workload::prepare_namespace(client, namespace).await?;
        let tracker = Tracker::start(client, namespace).await?;
        let log = bench
            .cluster
            .dir()
            .join("logs")
            .join(format!("operator-{namespace}.log"));
        let operator = Operator::start(
            &bench.operator_binary,
            &bench.kubeconfig,
            namespace,
            &log,
            &bench.operator_log_level,
        )
        .await?;
        // Let the operator's watches list the empty namespace before anything is counted.
        wait_quiet(
            &bench.proxy,
            Duration::from_secs(2),
            Duration::from_secs(30),
        )
        .await;
        Ok(Run {
            bench,
            namespace: namespace.to_owned(),
            names: workload::names(instances),
            operator,
            tracker,
            supersets: Api::namespaced(client.clone(), namespace),
        })
    }

    /// Counts the operator's requests and the changes seen from now on.
    fn mark(&self) -> Mark {
        Mark {
            at: Instant::now(),
            tally: self.bench.proxy.tally(),
            rejected: self.bench.proxy.rejected(),
            changes: self.tracker.changes(),
        }
    }

    fn window_since(&self, mark: &Mark) -> Window {
        Window::new(
            mark.at.elapsed(),
            &self.bench.proxy.tally().since(&mark.tally),
            &self.bench.proxy.rejected().since(&mark.rejected),
            self.tracker.changes().since(&mark.changes),
        )
    }

    /// The latest of `pick` over every Superset, in seconds after `reference` (zero when all
    /// were earlier).
    fn latest_after(&self, reference: Instant, pick: impl Fn(&Progress) -> Option<Instant>) -> f64 {
        self.names
            .iter()
            .filter_map(|name| pick(&self.tracker.progress(name)))
            .map(|at| at.saturating_duration_since(reference).as_secs_f64())
            .fold(0.0, f64::max)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(300 + 2 * self.names.len() as u64)
    }

    async fn metrics(&mut self) -> anyhow::Result<Exposition> {
        self.operator.ensure_running()?;
        self.operator.metrics().await
    }
}

/// A point in time to count requests and changes from.
struct Mark {
    at: Instant,
    tally: Tally,
    rejected: Tally,
    changes: Changes,
}

/// Waits until the operator has sent nothing for `quiet`, or `at_most` has passed; returns how
/// long that took.
async fn wait_quiet(proxy: &Proxy, quiet: Duration, at_most: Duration) -> Duration {
    let started = Instant::now();
    tokio::time::sleep(quiet).await;
    while proxy.idle_for() < quiet && started.elapsed() < at_most {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    started.elapsed()
}

/// Creates `instances` Supersets without lifecycle pipeline and measures them; the relist and
/// the configuration change follow when `relist` and `change` are set.
pub async fn size(
    bench: &Bench,
    instances: usize,
    relist: bool,
    change: bool,
) -> anyhow::Result<(SizeResult, Option<ChangeResult>)> {
    let namespace = format!("bench-{instances}");
    let mut run = Run::start(bench, &namespace, instances).await?;
    let start = run.mark();
    let failures_before = bench.proxy.failures();
    let usage_before = run.operator.usage()?;

    let created = workload::create_all(&run.supersets, &run.names, false).await?;
    eprintln!(
        "bench: {namespace}: {instances} Supersets created in {:.1}s; waiting for convergence",
        (created.last - created.first).as_secs_f64()
    );
    run.tracker
        .wait_for(
            "their objects and Available",
            &run.names,
            run.timeout(),
            |_, p| p.objects_since.is_some() && p.status_since.is_some(),
        )
        .await?;
    let mut result = SizeResult {
        instances,
        create_seconds: round((created.last - created.first).as_secs_f64(), 2),
        objects_after_last_create_seconds: round(
            run.latest_after(created.last, |p| p.objects_since),
            2,
        ),
        available_after_last_create_seconds: round(
            run.latest_after(created.last, |p| p.status_since),
            2,
        ),
        convergence: run.window_since(&start),
        usage_started: since(usage_before, Usage::default()),
        usage_converged: since(run.operator.usage()?, usage_before),
        ..SizeResult::default()
    };
    let metrics = run.metrics().await?;
    result.reconcile_errors = errors(&metrics);
    result.reconciles = reconciles(&metrics);
    result.latency_superset = latency(&metrics, |c| c == "superset");
    result.latency_components = latency(&metrics, |c| {
        c != "superset" && c != "SupersetLifecycleTask"
    });
    eprintln!(
        "bench: {namespace}: converged {:.1}s after the last create; settling for {:?}",
        result.available_after_last_create_seconds, bench.settle
    );

    let settled = run.mark();
    tokio::time::sleep(bench.settle).await;
    result.settled = run.window_since(&settled);
    result.settled_status_changes = run.tracker.status_changes_since(settled.at);
    result.usage_settled = since(run.operator.usage()?, usage_before);

    result.watch_reconnect = resync(&run, Interrupt::Close).await;
    if relist {
        result.relist = Some(resync(&run, Interrupt::Expire).await);
    }

    let change = if change {
        Some(config_change(&mut run).await?)
    } else {
        None
    };
    let metrics = run.metrics().await?;
    result.reconcile_errors_total = errors(&metrics);
    result.reconcile_errors_by_category = errors_by_category(&metrics);
    result.usage_end = since(run.operator.usage()?, usage_before);
    result.failed_responses = failures_since(&failures_before, &bench.proxy.failures());
    run.operator.stop();
    Ok((result, change))
}

/// Ends every watch of the operator the way `how` says and counts what follows until every
/// watch is back and the operator is quiet: after a close, until as many watches are open
/// again; after an expiry, until every watcher has listed again.
///
/// A kube-rs controller merges its watches into one trigger stream with one backoff; the
/// operator keeps watch errors out of it, since otherwise the 410s of a controller's watches
/// were taken one after another, each after a longer pause, and recovery took minutes.
async fn resync(run: &Run<'_>, how: Interrupt) -> Resync {
    let mark = run.mark();
    let proxy = &run.bench.proxy;
    let lists_before = proxy.list_starts();
    let watches = proxy.interrupt_watches(how);
    let back = || match how {
        Interrupt::Close => proxy.tally().since(&mark.tally).verb(Verb::Watch) as usize,
        Interrupt::Expire => (proxy.list_starts() - lists_before) as usize,
    };
    let deadline = Instant::now() + RECOVERY_AT_MOST;
    while back() < watches && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (recovered, back_by_then) = (mark.at.elapsed(), back());
    wait_quiet(proxy, QUIET, QUIET_AT_MOST).await;
    let window = run.window_since(&mark);
    eprintln!(
        "bench: {}: {watches} watches {}; {} back after {:.1}s; {} requests, {} writes",
        run.namespace,
        match how {
            Interrupt::Close => "closed",
            Interrupt::Expire => "expired",
        },
        back_by_then,
        recovered.as_secs_f64(),
        window.total,
        window.writes,
    );
    Resync {
        watches,
        back: back_by_then,
        recovered_seconds: round(recovered.as_secs_f64(), 1),
        window,
    }
}

/// Adds a feature flag to every Superset and measures until every Deployment carries it (its
/// pod template's checksum annotation changes) and every Superset is Available again.
async fn config_change(run: &mut Run<'_>) -> anyhow::Result<ChangeResult> {
    let before = checksums(run).await?;
    let mark = run.mark();
    let patch = json!({ "spec": { "featureFlags": { "BENCH_CONFIG_CHANGE": true } } });
    let first = Instant::now();
    let (last, generations) = workload::patch_all(&run.supersets, &run.names, &patch).await?;
    let reached =
        |name: &str, p: &Progress| generations.get(name).is_some_and(|g| p.generation >= *g);
    run.tracker
        .wait_for(
            "the new configuration on every Deployment",
            &run.names,
            run.timeout(),
            |name, p| reached(name, p) && p.objects_since.is_some(),
        )
        .await?;
    let deployments_seconds = run.latest_after(last, |p| p.objects_since);
    run.tracker
        .wait_for(
            "Available with the new configuration",
            &run.names,
            run.timeout(),
            |name, p| reached(name, p) && p.status_since.is_some(),
        )
        .await?;
    let available_seconds = run.latest_after(last, |p| p.status_since);
    let window = run.window_since(&mark);
    // The controller-manager is still replacing pods; what follows must not wait behind it.
    rolled_out(run).await?;
    let after = checksums(run).await?;
    let changed = before
        .iter()
        .filter(|(name, checksum)| after.get(*name).is_some_and(|now| now != *checksum))
        .count();
    eprintln!(
        "bench: {}: config change on every Deployment {deployments_seconds:.1}s after the last patch",
        run.namespace
    );
    Ok(ChangeResult {
        instances: run.names.len(),
        patch_seconds: round((last - first).as_secs_f64(), 2),
        deployments_after_last_patch_seconds: round(deployments_seconds, 2),
        available_after_last_patch_seconds: round(available_seconds, 2),
        checksums_changed: changed,
        deployments: before.len(),
        window,
    })
}

/// Waits until every Deployment of the run's namespace has finished rolling out.
async fn rolled_out(run: &Run<'_>) -> anyhow::Result<()> {
    let deployments: Api<Deployment> =
        Api::namespaced(run.bench.cluster.client.clone(), &run.namespace);
    let deadline = Instant::now() + run.timeout();
    loop {
        let list = deployments.list(&ListParams::default()).await?;
        let rolling = list.items.iter().filter(|d| !is_rolled_out(d)).count();
        if rolling == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{rolling} Deployments in {} still rolling out",
            run.namespace
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether the controller-manager has seen the Deployment's spec and every replica is updated
/// and available, with no old one left.
fn is_rolled_out(deployment: &Deployment) -> bool {
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    deployment.status.as_ref().is_some_and(|status| {
        status.observed_generation >= deployment.metadata.generation
            && status.replicas == Some(wanted)
            && status.updated_replicas == Some(wanted)
            && status.available_replicas == Some(wanted)
    })
}

/// The pod template checksum annotation of every Deployment in the run's namespace.
async fn checksums(run: &Run<'_>) -> anyhow::Result<BTreeMap<String, String>> {
    let deployments: Api<Deployment> =
        Api::namespaced(run.bench.cluster.client.clone(), &run.namespace);
    let list = deployments
        .list(&ListParams::default().labels(&format!("{}=superset-operator", labels::MANAGED_BY)))
        .await
        .context("listing Deployments")?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|d| {
            let checksum = d
                .spec?
                .template
                .metadata?
                .annotations?
                .get(labels::CONFIG_CHECKSUM)?
                .clone();
            Some((d.metadata.name?, checksum))
        })
        .collect())
}

/// Creates `instances` Supersets whose migrate and init tasks run first (their pods succeed at
/// once) and measures each one's way to Complete and Available.
pub async fn lifecycle(bench: &Bench, instances: usize) -> anyhow::Result<LifecycleResult> {
    let namespace = format!("bench-lifecycle-{instances}");
    let mut run = Run::start(bench, &namespace, instances).await?;
    let mark = run.mark();
    let usage_before = run.operator.usage()?;
    let created = workload::create_all(&run.supersets, &run.names, true).await?;
    eprintln!("bench: {namespace}: {instances} Supersets with lifecycle created; waiting");
    run.tracker
        .wait_for(
            "lifecycle Complete and Available",
            &run.names,
            run.timeout(),
            |_, p| p.status_since.is_some(),
        )
        .await?;
    let mut durations: Vec<f64> = run
        .names
        .iter()
        .filter_map(|name| {
            let done = run.tracker.progress(name).status_since?;
            Some(
                done.saturating_duration_since(*created.at.get(name)?)
                    .as_secs_f64(),
            )
        })
        .collect();
    durations.sort_by(f64::total_cmp);
    let window = run.window_since(&mark);
    let metrics = run.metrics().await?;
    let task_attempts = metrics
        .0
        .iter()
        .filter(|s| s.name == "superset_operator_lifecycle_task_attempts_total")
        .map(|s| {
            let label = |key: &str| s.labels.get(key).cloned().unwrap_or_default();
            (format!("{} {}", label("task"), label("result")), s.value)
        })
        .collect();
    let result = LifecycleResult {
        instances,
        pipeline_p50_seconds: round(rank(&durations, 0.50), 2),
        pipeline_p99_seconds: round(rank(&durations, 0.99), 2),
        pipeline_max_seconds: round(durations.last().copied().unwrap_or_default(), 2),
        complete_after_last_create_seconds: round(
            run.latest_after(created.last, |p| p.status_since),
            2,
        ),
        window,
        reconcile_errors: errors(&metrics),
        task_attempts,
        usage: since(run.operator.usage()?, usage_before),
    };
    run.operator.stop();
    Ok(result)
}

/// The `q`-quantile of sorted `values` (nearest rank).
fn rank(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let index = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1;
    values[index]
}

/// Memory as it is now; CPU time since `before`.
fn since(now: Usage, before: Usage) -> Usage {
    Usage {
        cpu_seconds: round(now.cpu_seconds - before.cpu_seconds, 2),
        peak_rss_mib: round(now.peak_rss_mib, 1),
        rss_mib: round(now.rss_mib, 1),
    }
}

fn errors(metrics: &Exposition) -> f64 {
    metrics.sum("superset_operator_reconcile_errors_total", |_| true)
}

fn errors_by_category(metrics: &Exposition) -> BTreeMap<String, f64> {
    metrics
        .0
        .iter()
        .filter(|s| s.name == "superset_operator_reconcile_errors_total")
        .map(|s| {
            let label = |key: &str| s.labels.get(key).cloned().unwrap_or_default();
            (
                format!("{} {}", label("controller"), label("category")),
                s.value,
            )
        })
        .collect()
}

fn reconciles(metrics: &Exposition) -> BTreeMap<String, f64> {
    metrics
        .0
        .iter()
        .filter(|s| s.name == "superset_operator_reconciles_total")
        .map(|s| {
            (
                s.labels.get("controller").cloned().unwrap_or_default(),
                s.value,
            )
        })
        .collect()
}

/// p50 and p99 of the reconciles of the controllers `keep` selects.
fn latency(metrics: &Exposition, keep: impl Fn(&str) -> bool) -> Latency {
    let select =
        |labels: &BTreeMap<String, String>| labels.get("controller").is_some_and(|c| keep(c));
    let buckets = metrics.buckets("superset_operator_reconcile_duration_seconds", select);
    let to_ms = |seconds: Option<f64>| seconds.map(|s| round(s * 1000.0, 2));
    Latency {
        reconciles: buckets.last().map_or(0.0, |b| b.1),
        p50_ms: to_ms(quantile(0.50, &buckets)),
        p99_ms: to_ms(quantile(0.99, &buckets)),
    }
}

fn failures_since(
    before: &BTreeMap<(RequestKind, u16), u64>,
    now: &BTreeMap<(RequestKind, u16), u64>,
) -> BTreeMap<String, u64> {
    now.iter()
        .filter_map(|(key, count)| {
            let delta = count - before.get(key).copied().unwrap_or(0);
            (delta > 0).then(|| {
                (
                    format!("{} {} {}", key.0.verb, key.0.resource, key.1),
                    delta,
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(rank(&values, 0.5), 50.0);
        assert_eq!(rank(&values, 0.99), 99.0);
        assert_eq!(rank(&values, 1.0), 100.0);
        assert_eq!(rank(&[3.0], 0.99), 3.0);
        assert_eq!(rank(&[], 0.5), 0.0);
    }
}

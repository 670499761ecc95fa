//! Prometheus metrics of the controllers, in one registry the binary serves at `/metrics`:
//! reconciles, errors by category and reconcile durations per controller, lifecycle task
//! attempts and durations, and the lifecycle phase of every instance.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use superset_operator_api::superset::status::LifecyclePhase;

use crate::Error;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: String,
    category: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskTypeLabels {
    task: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct InstanceLabels {
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct PhaseLabels {
    namespace: String,
    name: String,
    phase: String,
}

struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    durations: Family<ControllerLabels, Histogram>,
    task_attempts: Family<TaskLabels, Counter>,
    task_durations: Family<TaskTypeLabels, Histogram>,
    phases: Family<PhaseLabels, Gauge>,
    leader: Gauge,
    version_supported: Family<InstanceLabels, Gauge>,
    /// The phase series set, so that an instance's old phase and a deleted instance's series
    /// can be removed.
    phase_series: Mutex<BTreeSet<PhaseLabels>>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("superset_operator");
    let reconciles = Family::<ControllerLabels, Counter>::default();
    registry.register(
        "reconciles",
        "Reconciles run, per controller",
        reconciles.clone(),
    );
    let errors = Family::<ErrorLabels, Counter>::default();
    registry.register(
        "reconcile_errors",
        "Reconciles that failed, per controller and error category",
        errors.clone(),
    );
    let durations = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
        Histogram::new(exponential_buckets(0.001, 2.0, 16))
    });
    registry.register(
        "reconcile_duration_seconds",
        "Time a reconcile took, per controller",
        durations.clone(),
    );
    let task_attempts = Family::<TaskLabels, Counter>::default();
    registry.register(
        "lifecycle_task_attempts",
        "Lifecycle task attempts, per task type and result (started, succeeded, failed)",
        task_attempts.clone(),
    );
    let task_durations = Family::<TaskTypeLabels, Histogram>::new_with_constructor(|| {
        Histogram::new(exponential_buckets(1.0, 2.0, 14))
    });
    registry.register(
        "lifecycle_task_duration_seconds",
        "Time from a task's first attempt to its completion, per task type",
        task_durations.clone(),
    );
    let phases = Family::<PhaseLabels, Gauge>::default();
    registry.register(
        "lifecycle_phase",
        "1 for the lifecycle phase each Superset is in",
        phases.clone(),
    );
    let leader = Gauge::default();
    registry.register(
        "leader",
        "1 while this replica holds the leader lease (or runs without leader election)",
        leader.clone(),
    );
    let version_supported = Family::<InstanceLabels, Gauge>::default();
    registry.register(
        "instance_version_supported",
        "1 when a Superset's image is a supported Superset version, 0 otherwise",
        version_supported.clone(),
    );
    Metrics {
        registry,
        leader,
        version_supported,
        reconciles,
        errors,
        durations,
        task_attempts,
        task_durations,
        phases,
        phase_series: Mutex::new(BTreeSet::new()),
    }
});

/// The metrics in the Prometheus text format.
pub fn encode() -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &METRICS.registry)
        .expect("writing to a String cannot fail");
    text
}

/// Runs one reconcile of `controller`, counting it, timing it and classifying its error.
pub async fn measure<T>(
    controller: &'static str,
    reconcile: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let labels = ControllerLabels {
        controller: controller.to_owned(),
    };
    let started = Instant::now();
    let result = reconcile.await;
    METRICS.reconciles.get_or_create(&labels).inc();
    METRICS
        .durations
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    if let Err(error) = &result {
        METRICS
            .errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                category: error.category().to_owned(),
            })
            .inc();
    }
    result
}

/// Records whether this replica leads.
pub fn set_leader(leading: bool) {
    METRICS.leader.set(i64::from(leading));
}

/// Counts a task attempt that started, succeeded or failed.
pub fn task_attempt(task: &str, result: &str) {
    METRICS
        .task_attempts
        .get_or_create(&TaskLabels {
            task: task.to_owned(),
            result: result.to_owned(),
        })
        .inc();
}

/// Records how long a completed task took.
pub fn task_duration(task: &str, seconds: f64) {
    METRICS
        .task_durations
        .get_or_create(&TaskTypeLabels {
            task: task.to_owned(),
        })
        .observe(seconds);
}

/// Sets the lifecycle phase of one Superset (`None` when its lifecycle is off).
pub fn lifecycle_phase(namespace: &str, name: &str, phase: Option<LifecyclePhase>) {
    let wanted = phase.map(|phase| PhaseLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        phase: format!("{phase:?}"),
    });
    let mut series = METRICS.phase_series.lock().expect("not poisoned");
    let stale: Vec<PhaseLabels> = series
        .iter()
        .filter(|s| s.namespace == namespace && s.name == name && Some(*s) != wanted.as_ref())
        .cloned()
        .collect();
    for labels in stale {
        METRICS.phases.remove(&labels);
        series.remove(&labels);
    }
    if let Some(labels) = wanted {
        METRICS.phases.get_or_create(&labels).set(1);
        series.insert(labels);
    }
}

/// Records whether a Superset's image is a supported version.
pub fn version_supported(namespace: &str, name: &str, supported: bool) {
    METRICS
        .version_supported
        .get_or_create(&InstanceLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
        .set(i64::from(supported));
    VERSION_SERIES
        .lock()
        .expect("not poisoned")
        .insert(InstanceLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        });
}

/// The instances with a version series, so deleted ones can be removed.
static VERSION_SERIES: LazyLock<Mutex<BTreeSet<InstanceLabels>>> =
    LazyLock::new(|| Mutex::new(BTreeSet::new()));

/// Removes the series of Supersets that no longer exist.
pub fn forget_instances_except(live: &BTreeSet<(String, String)>) {
    let series = METRICS
        .phase_series
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|s| !live.contains(&(s.namespace.clone(), s.name.clone())))
        .map(|s| (s.namespace.clone(), s.name.clone()))
        .collect::<BTreeSet<_>>();
    for (namespace, name) in series {
        lifecycle_phase(&namespace, &name, None);
    }
    let gone: Vec<InstanceLabels> = VERSION_SERIES
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|s| !live.contains(&(s.namespace.clone(), s.name.clone())))
        .cloned()
        .collect();
    for labels in gone {
        METRICS.version_supported.remove(&labels);
        VERSION_SERIES.lock().expect("not poisoned").remove(&labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_phase_replaces_the_old_series() {
        lifecycle_phase("ns", "phase-test", Some(LifecyclePhase::Migrating));
        lifecycle_phase("ns", "phase-test", Some(LifecyclePhase::Complete));
        let text = encode();
        assert!(text.contains(
            r#"superset_operator_lifecycle_phase{namespace="ns",name="phase-test",phase="Complete"} 1"#
        ));
        assert!(!text.contains(r#"name="phase-test",phase="Migrating""#));
        forget_instances_except(&BTreeSet::new());
        assert!(!encode().contains("phase-test"));
    }

    #[tokio::test]
    async fn reconciles_are_counted_timed_and_errors_classified() {
        measure("metrics-test", async { Ok::<_, Error>(()) })
            .await
            .unwrap();
        let _ = measure("metrics-test", async {
            Err::<(), _>(Error::MissingIdentity)
        })
        .await;
        let text = encode();
        assert!(
            text.contains(r#"superset_operator_reconciles_total{controller="metrics-test"} 2"#)
        );
        assert!(text.contains(
            r#"superset_operator_reconcile_errors_total{controller="metrics-test",category="identity"} 1"#
        ));
        assert!(text.contains(
            r#"superset_operator_reconcile_duration_seconds_count{controller="metrics-test"} 2"#
        ));
    }
}

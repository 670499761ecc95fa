//! What every controller does with a reconcile: an object that does not fit its type is
//! reported, not reconciled; a failure (a panic included) is reported on the object and
//! retried with a per-object exponential backoff, or, when only a change can fix it, waits
//! for that change; a success withdraws the reports.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder as _, ExponentialBackoff, ExponentialBuilder};
use futures::FutureExt as _;
use kube::runtime::controller::Action;
use kube::{Client, Resource, ResourceExt as _};

use crate::Error;
use crate::decode::Lenient;
use crate::report::{self, Report};
use crate::watch::Watched;

/// The first retry after a failure; each next one waits twice as long, plus up to as much
/// again at random, so that objects failing together do not retry together.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest wait between retries.
const LONGEST_RETRY: Duration = Duration::from_secs(300);
/// A schedule not used for this long belongs to an object that is gone or no longer fails
/// (an object still failing is retried at least every twice [`LONGEST_RETRY`]): it is dropped,
/// so that objects deleted while failing do not pile up.
const FORGOTTEN_AFTER: Duration = Duration::from_secs(900);

/// The retry schedule of each failing object, by namespace and name, with when it was last
/// used.
#[derive(Default)]
pub struct Retries(Mutex<HashMap<String, (ExponentialBackoff, Instant)>>);

impl Retries {
    /// What to do after `error` on `object`, logged (redacted, as in the object's report).
    pub fn after_failure<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        error: &Error,
    ) -> Action {
        let retry_in = self.retry_in(object, error);
        tracing::warn!(
            kind = %K::kind(&()),
            namespace = object.meta().namespace.as_deref().unwrap_or_default(),
            name = object.meta().name.as_deref().unwrap_or_default(),
            reason = error.reason(),
            error = %error.message(),
            ?retry_in,
            "reconcile failed"
        );
        retry_in.map_or_else(Action::await_change, Action::requeue)
    }

    /// How long until `object` is tried again after `error`; never, when only a change of the
    /// object can fix it.
    fn retry_in<K: Resource>(&self, object: &K, error: &Error) -> Option<Duration> {
        self.retry_at(object, error, Instant::now())
    }

    fn retry_at<K: Resource>(&self, object: &K, error: &Error, now: Instant) -> Option<Duration> {
        let mut schedules = self.0.lock().expect("not poisoned");
        schedules.retain(|_, (_, used)| now.saturating_duration_since(*used) < FORGOTTEN_AFTER);
        if error.is_permanent() {
            schedules.remove(&key(object));
            return None;
        }
        let (schedule, used) = schedules
            .entry(key(object))
            .or_insert_with(|| (schedule(), now));
        *used = now;
        Some(schedule.next().unwrap_or(LONGEST_RETRY))
    }

    /// How many objects have a retry schedule.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().expect("not poisoned").len()
    }

    /// Forgets the schedule of `object`, which succeeded (or will not be retried).
    pub fn forget<K: Resource>(&self, object: &K) {
        self.0.lock().expect("not poisoned").remove(&key(object));
    }
}

fn schedule() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(FIRST_RETRY)
        .with_max_delay(LONGEST_RETRY)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

fn key<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.meta().namespace.as_deref().unwrap_or_default(),
        object.meta().name.as_deref().unwrap_or_default()
    )
}

/// Reconciles `object` with `reconcile` when it fits its type, and reports the outcome on it:
/// `InvalidSpec` when it does not fit, `ReconcileError` when the reconcile failed or panicked,
/// each withdrawn once it no longer holds. A failure to report is logged; the reconcile's own
/// outcome is what the controller retries on.
pub async fn guarded<'a, K, Fut>(
    client: &Client,
    retries: &Retries,
    object: &'a Lenient<K>,
    reconcile: impl FnOnce(&'a K) -> Fut,
) -> Result<Action, Error>
where
    K: Watched,
    Fut: Future<Output = Result<Action, Error>>,
{
    let valid = match object {
        Lenient::Invalid { error, .. } => {
            tracing::warn!(
                kind = %K::kind(&()),
                namespace = object.namespace().unwrap_or_default(),
                name = object.name_any(),
                %error,
                "the object does not fit the operator's schema; it is not reconciled until it is fixed"
            );
            let raised = report::raise(client, object, Report::InvalidSpec, "InvalidSpec", error);
            logged(raised.await);
            return Ok(Action::await_change());
        }
        Lenient::Valid { object: valid, .. } => valid,
    };
    logged(report::withdraw(client, object, Report::InvalidSpec).await);
    let outcome = AssertUnwindSafe(reconcile(valid))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(Error::Panicked(panic_message(panic.as_ref()))));
    match &outcome {
        Ok(_) => {
            retries.forget(object);
            logged(report::withdraw(client, object, Report::ReconcileError).await);
        }
        Err(error) => {
            let message = error.message();
            let raised = report::raise(
                client,
                object,
                Report::ReconcileError,
                error.reason(),
                &message,
            );
            logged(raised.await);
        }
    }
    outcome
}

fn logged(result: Result<(), Error>) {
    if let Err(error) = result {
        tracing::warn!(error = %error.message(), "reporting on the object failed");
    }
}

/// The message a panic carries, for reports and logs.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn object(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn transient() -> Error {
        Error::Kube(kube::Error::Api(Box::new(
            kube::core::Status::failure("etcd is slow", "InternalError").with_code(500),
        )))
    }

    #[test]
    fn failures_back_off_per_object_with_jitter_up_to_five_minutes() {
        let retries = Retries::default();
        let web = object("web");
        let delays: Vec<Duration> = (0..10)
            .map(|_| retries.retry_in(&web, &transient()).unwrap())
            .collect();
        assert!(
            delays[0] >= FIRST_RETRY && delays[0] < FIRST_RETRY * 2,
            "{delays:?}"
        );
        assert!(delays[1] >= FIRST_RETRY * 2, "{delays:?}");
        assert!(delays[3] >= FIRST_RETRY * 8, "{delays:?}");
        assert!(delays.iter().all(|d| *d <= LONGEST_RETRY * 2), "{delays:?}");
        // Another object starts its own schedule.
        let other = retries.retry_in(&object("other"), &transient()).unwrap();
        assert!(other < FIRST_RETRY * 2, "{other:?}");
        // A success starts the schedule over.
        retries.forget(&web);
        let again = retries.retry_in(&web, &transient()).unwrap();
        assert!(again < FIRST_RETRY * 2, "{again:?}");
    }

    #[test]
    fn schedules_of_objects_no_longer_failing_are_dropped() {
        let retries = Retries::default();
        let start = Instant::now();
        // "deleted" fails once and is deleted; "failing" keeps failing at the longest interval.
        retries.retry_at(&object("deleted"), &transient(), start);
        let mut now = start;
        for _ in 0..4 {
            now += LONGEST_RETRY * 2;
            retries.retry_at(&object("failing"), &transient(), now);
        }
        assert_eq!(retries.len(), 1, "only the failing object keeps a schedule");
        assert!(
            retries
                .retry_at(&object("failing"), &transient(), now)
                .unwrap()
                >= FIRST_RETRY * 8,
            "the failing object's schedule kept its progress"
        );
    }

    #[test]
    fn what_only_a_change_can_fix_waits_for_the_change() {
        let retries = Retries::default();
        let invalid = Error::Kube(kube::Error::Api(Box::new(
            kube::core::Status::failure("Deployment.apps \"web\" is invalid", "Invalid")
                .with_code(422),
        )));
        assert_eq!(retries.retry_in(&object("web"), &invalid), None);
    }

    #[tokio::test]
    async fn a_panic_is_an_error_of_its_object_alone() {
        // Reports go to a closed port on loopback and fail at once; they are only logged.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let retries = Retries::default();
        let object = Lenient::Valid {
            object: object("web"),
            reported: Default::default(),
        };
        let outcome = guarded(&client, &retries, &object, |_| async {
            if object.valid().is_some() {
                panic!("pool size overflowed");
            }
            Ok(Action::await_change())
        })
        .await;
        assert!(
            matches!(&outcome, Err(Error::Panicked(message)) if message == "pool size overflowed"),
            "{outcome:?}"
        );
        assert!(outcome.unwrap_err().is_permanent());
    }
}

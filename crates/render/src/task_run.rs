//! How a lifecycle task runs: one pod per attempt, planned from what is live.
//!
//! A run is one (checksum, pod spec) pair. Its attempts are pods named
//! `<task>-<run>-<attempt>`, so the name of the next attempt is known before it exists, and a
//! controller that restarts finds the attempt it started instead of starting another. The plan
//! is a function of the task, its pods and the time: it reads what the pods say (running,
//! succeeded, failed, cannot start) and never trusts remembered status over a live pod.
//!
//! Bare pods rather than Jobs: a Job would add a second controller with its own retry and
//! deadline rules that would have to be switched off to keep ours, and one more object per
//! attempt for the API server to store and watch; a pod per attempt gives the deterministic
//! name, the exit status and the termination message directly.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use superset_operator_api::SupersetLifecycleTask;
use superset_operator_api::status::TaskState;
use superset_operator_api::superset::lifecycle::PodRetentionPolicy;
use superset_operator_api::task::{SupersetLifecycleTaskSpec, SupersetLifecycleTaskStatus};

use crate::redact::redact_and_truncate;
use crate::{checksum, conditions, naming, workload};

/// Annotation on an attempt pod: the run it belongs to.
pub const RUN: &str = "superset.apache.org/task-run";
/// Annotation on an attempt pod: its attempt number, from 1.
pub const ATTEMPT: &str = "superset.apache.org/task-attempt";
/// Annotation on an attempt pod: the task checksum it runs for.
pub const CHECKSUM: &str = "superset.apache.org/task-checksum";
/// Annotation on an attempt pod: the hash of its spec.
pub const POD_SPEC_HASH: &str = "superset.apache.org/task-pod-spec-hash";

/// Longest an attempt runs when the task sets no timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Wait after the first failed attempt; it doubles after each further failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(10);
/// Longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a pod may sit with an image or container-config error before its attempt fails.
/// Scheduling problems are not cut short: a cluster autoscaler may be adding a node.
pub const CANNOT_START_GRACE: Duration = Duration::from_secs(120);

/// The wait before the attempt after failed attempt `attempt` (10 s, 20 s, 40 s, ... 300 s).
pub fn backoff(attempt: i32) -> Duration {
    let doublings = attempt.saturating_sub(1).clamp(0, 16) as u32;
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// Hash of everything the attempt pod is made from.
pub fn pod_spec_hash(spec: &SupersetLifecycleTaskSpec) -> String {
    checksum::of_json(&(
        &spec.image,
        &spec.pod_template,
        &spec.command,
        &spec.service_account_name,
        timeout(spec).as_secs(),
    ))
}

/// Short identity of the run for the task's current checksum and pod spec.
pub fn run_id(spec: &SupersetLifecycleTaskSpec) -> String {
    let hash = checksum::of_json(&(&spec.config_checksum, pod_spec_hash(spec)));
    hash.trim_start_matches("sha256:")[..10].to_owned()
}

/// The name of attempt `attempt` of run `run` of task `task`.
pub fn attempt_pod_name(task: &str, run: &str, attempt: i32) -> String {
    format!("{task}-{run}-{attempt}")
}

fn timeout(spec: &SupersetLifecycleTaskSpec) -> Duration {
    spec.timeout.map(Duration::from).unwrap_or(DEFAULT_TIMEOUT)
}

/// The pod of attempt `attempt`, without its owner reference.
pub fn attempt_pod(task: &SupersetLifecycleTask, attempt: i32) -> Pod {
    let spec = &task.spec;
    let name = task.metadata.name.clone().unwrap_or_default();
    let template = spec.pod_template.as_deref().cloned().unwrap_or_default();
    let mut pod_spec =
        workload::pod_spec(&spec.image, &template, spec.service_account_name.as_deref());
    pod_spec.restart_policy = Some("Never".into());
    pod_spec.active_deadline_seconds = Some(timeout(spec).as_secs() as i64);
    as_native_sidecars(&mut pod_spec);
    if let Some(main) = pod_spec
        .containers
        .iter_mut()
        .find(|c| c.name == naming::MAIN_CONTAINER)
    {
        main.command = Some(spec.command.clone());
        // A task serves nothing: no ports, no probes, no hooks.
        main.ports = None;
        main.liveness_probe = None;
        main.readiness_probe = None;
        main.startup_probe = None;
        main.lifecycle = None;
        // The tail of the log becomes the failure message (redacted before it is shown).
        main.termination_message_policy = Some("FallbackToLogsOnError".into());
    }
    let mut annotations = template.annotations.clone();
    annotations.extend([
        (RUN.to_owned(), run_id(spec)),
        (ATTEMPT.to_owned(), attempt.to_string()),
        (CHECKSUM.to_owned(), spec.config_checksum.clone()),
        (POD_SPEC_HASH.to_owned(), pod_spec_hash(spec)),
    ]);
    Pod {
        metadata: ObjectMeta {
            name: Some(attempt_pod_name(&name, &run_id(spec), attempt)),
            namespace: task.metadata.namespace.clone(),
            labels: Some(template.labels.clone()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

/// Turns the sidecars of a task pod into native sidecars: init containers that keep running
/// (`restartPolicy: Always`). They start before the other init containers and the task, serve
/// it (a database proxy, say), and are stopped once it ends; as plain containers a sidecar that
/// never exits would hold the pod Running until its deadline and fail the task.
fn as_native_sidecars(pod: &mut PodSpec) {
    let (main, sidecars): (Vec<Container>, Vec<Container>) = std::mem::take(&mut pod.containers)
        .into_iter()
        .partition(|c| c.name == naming::MAIN_CONTAINER);
    pod.containers = main;
    if sidecars.is_empty() {
        return;
    }
    let mut init: Vec<Container> = sidecars
        .into_iter()
        .map(|c| Container {
            restart_policy: Some("Always".into()),
            ..c
        })
        .collect();
    init.extend(pod.init_containers.take().unwrap_or_default());
    pod.init_containers = Some(init);
}

/// How an attempt pod stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Scheduled, starting or running.
    Active,
    /// Exited 0.
    Succeeded,
    /// Ended otherwise; the message is redacted.
    Failed(String),
}

/// Why an active pod is not getting anywhere.
#[derive(Clone, Debug, PartialEq)]
pub struct CannotStart {
    /// `ImagePullBackOff`, `CreateContainerConfigError`, `Unschedulable`, ...
    pub reason: String,
    /// What the kubelet or scheduler said, redacted.
    pub message: String,
    /// Whether waiting longer will not help (image and container-config errors).
    pub hopeless: bool,
}

/// An attempt pod, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    /// Pod name.
    pub name: String,
    /// Run it belongs to.
    pub run: String,
    /// Attempt number.
    pub attempt: i32,
    /// When it was created.
    pub created: Timestamp,
    /// When it ended, if it did.
    pub finished: Option<Timestamp>,
    /// How it stands.
    pub outcome: Outcome,
    /// Whether it is being deleted.
    pub terminating: bool,
    /// Whether its containers have started (phase `Running`): from then on it may be changing
    /// the database, so it is left to finish rather than cut off.
    pub running: bool,
    /// Why it cannot start, if it cannot.
    pub cannot_start: Option<CannotStart>,
}

const HOPELESS_WAITING: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Reads an attempt pod; `None` for a pod without attempt annotations.
pub fn observe(pod: &Pod) -> Option<Attempt> {
    let annotations = pod.metadata.annotations.as_ref()?;
    let run = annotations.get(RUN)?.clone();
    let attempt = annotations.get(ATTEMPT)?.parse().ok()?;
    let status = pod.status.clone().unwrap_or_default();
    let created = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let outcome = match status.phase.as_deref() {
        Some("Succeeded") => Outcome::Succeeded,
        Some("Failed") => Outcome::Failed(failure_message(&status)),
        _ => Outcome::Active,
    };
    Some(Attempt {
        name: pod.metadata.name.clone().unwrap_or_default(),
        run,
        attempt,
        created,
        finished: finished_at(&status),
        cannot_start: (outcome == Outcome::Active)
            .then(|| cannot_start(&status))
            .flatten(),
        outcome,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        running: status.phase.as_deref() == Some("Running"),
    })
}

/// Every container's status, the task's own first: a failed task names its own exit, not that
/// of a sidecar stopped because the task ended.
fn all_container_statuses(
    status: &PodStatus,
) -> impl Iterator<Item = &k8s_openapi::api::core::v1::ContainerStatus> {
    let containers = status.container_statuses.iter().flatten();
    let (main, others): (Vec<_>, Vec<_>) =
        containers.partition(|c| c.name == naming::MAIN_CONTAINER);
    main.into_iter()
        .chain(status.init_container_statuses.iter().flatten())
        .chain(others)
}

fn finished_at(status: &PodStatus) -> Option<Timestamp> {
    all_container_statuses(status)
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
}

/// "Exit code N: reason: message" of the first container that failed, redacted.
fn failure_message(status: &PodStatus) -> String {
    if status.reason.as_deref() == Some("DeadlineExceeded") {
        return "Timed out: the pod ran past its deadline".into();
    }
    let failed = all_container_statuses(status).find_map(|c| {
        let terminated = c.state.as_ref()?.terminated.as_ref()?;
        (terminated.exit_code != 0).then_some((c.name.clone(), terminated))
    });
    let text = match failed {
        Some((container, terminated)) => {
            let mut text = format!("Exit code {} in {container}", terminated.exit_code);
            if let Some(advice) = terminated
                .message
                .as_deref()
                .and_then(missing_driver_advice)
            {
                // The log tail is long; what to do goes first, where truncation cannot cut it.
                text = format!("{advice} ({text})");
            }
            for part in [&terminated.reason, &terminated.message]
                .into_iter()
                .flatten()
            {
                text.push_str(": ");
                text.push_str(part);
            }
            text
        }
        None => {
            let parts: Vec<&str> = [&status.reason, &status.message]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            if parts.is_empty() {
                "Pod failed".into()
            } else {
                format!("Pod failed: {}", parts.join(": "))
            }
        }
    };
    redact_and_truncate(&text)
}

/// Python modules of the database drivers Superset's metastore URIs name, and the package
/// that provides each.
const DRIVERS: [(&str, &str); 5] = [
    ("psycopg2", "psycopg2-binary"),
    ("MySQLdb", "mysqlclient"),
    ("pymysql", "pymysql"),
    ("pymssql", "pymssql"),
    ("cx_Oracle", "cx-Oracle"),
];

/// What to do when the log tail shows that the image lacks the metastore's database driver,
/// as the official (lean) Superset images lack `psycopg2`.
pub fn missing_driver_advice(log_tail: &str) -> Option<String> {
    let (module, package) = DRIVERS
        .iter()
        .find(|(module, _)| log_tail.contains(&format!("No module named '{module}'")))?;
    Some(format!(
        "The image has no database driver {module} for the metastore: the official Superset \
         images are lean and ship none. Use an image that adds it (built from yours with \
         `pip install {package}`), see docs/configuration.md, Database drivers"
    ))
}

fn cannot_start(status: &PodStatus) -> Option<CannotStart> {
    let waiting = all_container_statuses(status).find_map(|c| {
        let waiting = c.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.clone()?;
        HOPELESS_WAITING
            .contains(&reason.as_str())
            .then(|| (reason, waiting.message.clone().unwrap_or_default()))
    });
    if let Some((reason, message)) = waiting {
        return Some(CannotStart {
            reason,
            message: redact_and_truncate(&message),
            hopeless: true,
        });
    }
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| CannotStart {
            reason: "Unschedulable".into(),
            message: redact_and_truncate(c.message.as_deref().unwrap_or_default()),
            hopeless: false,
        })
}

/// An event to publish on the task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskEvent {
    /// Warning rather than Normal.
    pub warning: bool,
    /// `TaskStarted`, `TaskRetry`, `TaskComplete`, `TaskFailed`, `TaskCannotStart`.
    pub reason: &'static str,
    /// What happened.
    pub message: String,
}

/// What the task controller does next.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The status to write.
    pub status: SupersetLifecycleTaskStatus,
    /// An attempt pod to create (after which the status is written).
    pub create: Option<Pod>,
    /// Pods to delete (after the status is written, so a failure is recorded before its
    /// evidence goes).
    pub delete: Vec<String>,
    /// Events to publish.
    pub events: Vec<TaskEvent>,
    /// When to look again, if nothing else wakes the controller.
    pub requeue: Option<Duration>,
}

impl Plan {
    fn wake_in(&mut self, after: Duration) {
        let after = after.max(Duration::from_secs(1));
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    fn event(&mut self, warning: bool, reason: &'static str, message: String) {
        self.events.push(TaskEvent {
            warning,
            reason,
            message,
        });
    }
}

/// Plans the next step of `task` given its pods (only those it controls) at `now`, for a task
/// that has no sibling.
pub fn plan(task: &SupersetLifecycleTask, pods: &[Pod], now: Timestamp) -> Plan {
    plan_among(task, pods, &[], now)
}

/// Plans the next step of `task` given its pods (only those it controls) and the attempt pods
/// of the other tasks of its instance at `now`. No attempt starts while a pod of an earlier run
/// or of another task is active: two tasks of one instance (a migration of the new image and an
/// init of the old one, say) never run at once.
pub fn plan_among(
    task: &SupersetLifecycleTask,
    pods: &[Pod],
    siblings: &[Pod],
    now: Timestamp,
) -> Plan {
    let spec = &task.spec;
    let previous = task.status.clone().unwrap_or_default();
    let run = run_id(spec);
    let spec_hash = pod_spec_hash(spec);
    let attempts: Vec<Attempt> = pods.iter().filter_map(observe).collect();
    let same_checksum = previous.config_checksum.as_deref() == Some(spec.config_checksum.as_str());
    let same_run = same_checksum && previous.pod_spec_hash.as_deref() == Some(spec_hash.as_str());
    let done = same_checksum && previous.state == Some(TaskState::Complete);
    let mut plan = Plan {
        status: if done || same_run {
            previous.clone()
        } else {
            SupersetLifecycleTaskStatus {
                state: Some(TaskState::Pending),
                config_checksum: Some(spec.config_checksum.clone()),
                pod_spec_hash: Some(spec_hash),
                attempts: Some(0),
                image: Some(format!("{}:{}", spec.image.repository, spec.image.tag)),
                conditions: previous.conditions.clone(),
                ..Default::default()
            }
        },
        ..Default::default()
    };
    plan.status.observed_generation = task.metadata.generation;
    let terminal = done || (same_run && previous.state == Some(TaskState::Failed));
    if !terminal {
        let earlier_run = attempts
            .iter()
            .find(|a| a.run != run && a.outcome == Outcome::Active)
            .map(|a| format!("pod {} of the previous run", a.name));
        let sibling = siblings
            .iter()
            .filter_map(observe)
            .find(|a| a.outcome == Outcome::Active)
            .map(|a| format!("pod {} of another task of this instance", a.name));
        advance(
            task,
            &attempts,
            &run,
            earlier_run.or(sibling).as_deref(),
            now,
            &mut plan,
        );
    }
    retain(task, &previous, &attempts, &run, &mut plan);
    let now_time = Time(now);
    let cannot_start = attempts
        .iter()
        .filter(|a| a.run == run && a.outcome == Outcome::Active)
        .find_map(|a| a.cannot_start.clone())
        .filter(|_| plan.status.state == Some(TaskState::Running));
    let condition = match &cannot_start {
        Some(c) => ("True", c.reason.as_str(), c.message.as_str()),
        None => ("False", "Started", "the current attempt is not stuck"),
    };
    if let Some(c) = &cannot_start
        && !conditions::is_true(&previous.conditions, "TaskCannotStart")
    {
        let message = format!("the task pod cannot start: {}: {}", c.reason, c.message);
        plan.event(true, "TaskCannotStart", message);
    }
    plan.status.conditions = conditions::upsert(
        &plan.status.conditions,
        conditions::set(
            &previous.conditions,
            "TaskCannotStart",
            condition,
            task.metadata.generation,
            &now_time,
        ),
    );
    let complete = task_complete_condition(&plan.status, spec.max_retries);
    plan.status.conditions = conditions::upsert(
        &plan.status.conditions,
        conditions::set(
            &previous.conditions,
            "TaskComplete",
            (complete.0, complete.1, &complete.2),
            task.metadata.generation,
            &now_time,
        ),
    );
    plan
}

fn task_complete_condition(
    status: &SupersetLifecycleTaskStatus,
    max_retries: i32,
) -> (&'static str, &'static str, String) {
    let attempts = status.attempts.unwrap_or(0);
    let message = status.message.clone().unwrap_or_default();
    match status.state.unwrap_or_default() {
        TaskState::Complete => ("True", "TaskComplete", "the task completed".into()),
        TaskState::Failed if message.starts_with("Timed out") => ("False", "TaskTimedOut", message),
        TaskState::Failed => ("False", "TaskFailed", message),
        TaskState::Pending if attempts > 0 => (
            "False",
            "TaskRetrying",
            format!("attempt {attempts} of {max_retries} failed: {message}"),
        ),
        TaskState::Pending => ("False", "TaskPending", "no attempt started yet".into()),
        TaskState::Running => (
            "False",
            "TaskInProgress",
            format!("attempt {attempts} of {max_retries} is running"),
        ),
    }
}

/// Moves a run that is not finished one step. `blocker` names an active pod of an earlier run
/// or of another task, if one is left: no attempt starts while it is there.
fn advance(
    task: &SupersetLifecycleTask,
    attempts: &[Attempt],
    run: &str,
    blocker: Option<&str>,
    now: Timestamp,
    plan: &mut Plan,
) {
    let spec = &task.spec;
    let max = spec.max_retries.max(1);
    let current: Vec<&Attempt> = attempts.iter().filter(|a| a.run == run).collect();
    if let Some(succeeded) = current.iter().find(|a| a.outcome == Outcome::Succeeded) {
        let finished = succeeded.finished.unwrap_or(now);
        let started = plan
            .status
            .started_at
            .as_ref()
            .map_or(succeeded.created, |t| t.0);
        let status = &mut plan.status;
        status.state = Some(TaskState::Complete);
        status.attempts = Some(status.attempts.unwrap_or(0).max(succeeded.attempt));
        status.pod_name = Some(succeeded.name.clone());
        status.completed_at = Some(Time(finished));
        status.duration = Some(format_duration(finished.duration_since(started)));
        status.next_attempt_at = None;
        status.message = Some("Completed successfully".into());
        let message = format!(
            "attempt {} of {max} completed in {}",
            succeeded.attempt,
            status.duration.clone().unwrap_or_default()
        );
        plan.event(false, "TaskComplete", message);
        return;
    }
    let recorded = plan.status.attempts.unwrap_or(0);
    let latest = current.iter().max_by_key(|a| a.attempt).copied();
    let timeout = timeout(spec);
    if let Some(attempt) = latest.filter(|a| a.attempt >= recorded) {
        match &attempt.outcome {
            Outcome::Active if attempt.terminating => {
                // One attempt at a time: the next waits until this one is gone.
                plan.status.attempts = Some(attempt.attempt);
                plan.wake_in(Duration::from_secs(2));
                return;
            }
            Outcome::Active => {
                let deadline = attempt.created + signed(timeout);
                let stuck = attempt.cannot_start.as_ref().filter(|c| c.hopeless);
                if now >= deadline {
                    let message = format!("Timed out after {}", format_duration(signed(timeout)));
                    plan.delete.push(attempt.name.clone());
                    fail(task, attempt.attempt, message, deadline, now, plan);
                } else if let Some(stuck) =
                    stuck.filter(|_| now >= attempt.created + signed(CANNOT_START_GRACE))
                {
                    let message = format!("Cannot start: {}: {}", stuck.reason, stuck.message);
                    plan.delete.push(attempt.name.clone());
                    fail(task, attempt.attempt, message, now, now, plan);
                } else {
                    let status = &mut plan.status;
                    status.state = Some(TaskState::Running);
                    status.attempts = Some(attempt.attempt);
                    status.pod_name = Some(attempt.name.clone());
                    status.next_attempt_at = None;
                    status.started_at.get_or_insert(Time(attempt.created));
                    plan.wake_in(unsigned(deadline.duration_since(now)));
                    if stuck.is_some() {
                        let grace_end = attempt.created + signed(CANNOT_START_GRACE);
                        plan.wake_in(unsigned(grace_end.duration_since(now)));
                    }
                }
                return;
            }
            Outcome::Failed(message) => {
                let failed_at = attempt.finished.unwrap_or(now);
                let message = message.clone();
                fail(task, attempt.attempt, message, failed_at, now, plan);
                return;
            }
            Outcome::Succeeded => unreachable!("handled above"),
        }
    }
    if plan.status.state == Some(TaskState::Running) && recorded > 0 {
        // The pod of the running attempt is gone (deleted or evicted) without a result.
        let message = format!("the pod of attempt {recorded} disappeared before it finished");
        fail(task, recorded, message, now, now, plan);
        return;
    }
    if let Some(pod) = blocker {
        plan.status.message = Some(format!("waiting for {pod} to end before the next attempt"));
        plan.wake_in(Duration::from_secs(2));
        return;
    }
    start_next_when_due(task, now, plan);
}

/// Records failed attempt `attempt`, then either ends the task or schedules the next attempt.
fn fail(
    task: &SupersetLifecycleTask,
    attempt: i32,
    message: String,
    failed_at: Timestamp,
    now: Timestamp,
    plan: &mut Plan,
) {
    let max = task.spec.max_retries.max(1);
    let already_recorded = plan.status.attempts == Some(attempt)
        && matches!(
            plan.status.state,
            Some(TaskState::Pending | TaskState::Failed)
        );
    let status = &mut plan.status;
    status.attempts = Some(attempt);
    status.message = Some(message.clone());
    if attempt >= max {
        status.state = Some(TaskState::Failed);
        status.next_attempt_at = None;
        status.completed_at = Some(Time(failed_at));
        if !already_recorded {
            let text = format!("attempt {attempt} of {max} failed; giving up: {message}");
            plan.event(true, "TaskFailed", text);
        }
        return;
    }
    let next = status
        .next_attempt_at
        .as_ref()
        .map(|t| t.0)
        .filter(|_| already_recorded)
        .unwrap_or(failed_at + signed(backoff(attempt)));
    status.state = Some(TaskState::Pending);
    status.next_attempt_at = Some(Time(next));
    if !already_recorded {
        let wait = format_duration(next.duration_since(now).max(SignedDuration::ZERO));
        let text = format!("attempt {attempt} of {max} failed, retrying in {wait}: {message}");
        plan.event(true, "TaskRetry", text);
    }
    if !plan.delete.is_empty() {
        // The failed pod is still being removed; the next attempt waits for it.
        plan.wake_in(unsigned(next.duration_since(now)));
        return;
    }
    start_next_when_due(task, now, plan);
}

fn start_next_when_due(task: &SupersetLifecycleTask, now: Timestamp, plan: &mut Plan) {
    if let Some(next) = plan.status.next_attempt_at.as_ref().map(|t| t.0)
        && next > now
    {
        plan.wake_in(unsigned(next.duration_since(now)));
        return;
    }
    let attempt = plan.status.attempts.unwrap_or(0).saturating_add(1);
    let pod = attempt_pod(task, attempt);
    let max = task.spec.max_retries.max(1);
    let name = pod.metadata.name.clone().unwrap_or_default();
    plan.event(
        false,
        "TaskStarted",
        format!("attempt {attempt} of {max} started in pod {name}"),
    );
    let status = &mut plan.status;
    status.state = Some(TaskState::Running);
    status.attempts = Some(attempt);
    status.pod_name = Some(name);
    status.next_attempt_at = None;
    status.started_at.get_or_insert(Time(now));
    plan.create = Some(pod);
    plan.wake_in(timeout(&task.spec));
}

/// Deletes finished pods the retention policy does not keep, and pods of older runs that have
/// not started. A pod of an older run that has started is left to finish: cut off, it could
/// leave a migration half done. A pod whose result the previous status does not hold yet is
/// kept until it does.
fn retain(
    task: &SupersetLifecycleTask,
    previous: &SupersetLifecycleTaskStatus,
    attempts: &[Attempt],
    run: &str,
    plan: &mut Plan,
) {
    let policy = task
        .spec
        .pod_retention
        .as_ref()
        .map(|r| r.policy)
        .unwrap_or_default();
    let complete = plan.status.state == Some(TaskState::Complete);
    let recorded = |a: &Attempt| {
        previous.pod_spec_hash.is_some()
            && (a.run != *run
                || (previous.attempts.unwrap_or(0) >= a.attempt
                    && !(previous.state == Some(TaskState::Running)
                        && previous.attempts == Some(a.attempt))))
    };
    for attempt in attempts {
        if plan.delete.contains(&attempt.name) || attempt.terminating {
            continue;
        }
        let remove = match &attempt.outcome {
            Outcome::Active => attempt.run != run && !attempt.running,
            Outcome::Succeeded => recorded(attempt) && policy != PodRetentionPolicy::Retain,
            Outcome::Failed(_) => {
                recorded(attempt)
                    && match policy {
                        PodRetentionPolicy::Delete => true,
                        PodRetentionPolicy::Retain => false,
                        PodRetentionPolicy::RetainOnFailure => complete,
                    }
            }
        };
        if remove {
            plan.delete.push(attempt.name.clone());
        }
    }
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

fn unsigned(duration: SignedDuration) -> Duration {
    Duration::try_from(duration).unwrap_or(Duration::ZERO)
}

/// `1h2m3s`, `4m5s` or `6s`, rounded to seconds.
pub fn format_duration(duration: SignedDuration) -> String {
    let total = duration.as_secs().max(0);
    let (hours, minutes, seconds) = (total / 3600, total % 3600 / 60, total % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// The label selector that finds the attempt pods of every task of the task's instance.
pub fn instance_pod_selector(task: &SupersetLifecycleTask) -> String {
    let labels = task
        .spec
        .pod_template
        .as_ref()
        .map(|p| p.labels.clone())
        .unwrap_or_default();
    match labels.get(crate::labels::PARENT) {
        Some(parent) => format!("{}={parent},{}", crate::labels::PARENT, crate::labels::TASK),
        None => pod_selector(task),
    }
}

/// The label selector that finds the pods of a task.
pub fn pod_selector(task: &SupersetLifecycleTask) -> String {
    let labels: BTreeMap<String, String> = task
        .spec
        .pod_template
        .as_ref()
        .map(|p| p.labels.clone())
        .unwrap_or_default();
    [crate::labels::PARENT, crate::labels::TASK]
        .iter()
        .filter_map(|key| labels.get(*key).map(|value| format!("{key}={value}")))
        .collect::<Vec<_>>()
        .join(",")
}

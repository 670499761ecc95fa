//! The task-run planner: one attempt at a time, deterministic attempt names, backoff, timeouts,
//! pods that cannot start, retention, and plans that stay right when the status is stale.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;
use superset_operator_api::SupersetLifecycleTask;
use superset_operator_api::status::TaskState;
use superset_operator_render::task_run::{self, Plan, backoff, plan};

fn task(extra: serde_json::Value) -> SupersetLifecycleTask {
    let mut spec = json!({
        "type": "Migrate",
        "command": ["/bin/sh", "-c", "superset db upgrade"],
        "image": { "repository": "apache/superset", "tag": "6.0.0" },
        "podTemplate": { "labels": {
            "superset.apache.org/parent": "dev", "superset.apache.org/task": "migrate" } },
        "configChecksum": "sha256:aaaa",
        "maxRetries": 3,
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "SupersetLifecycleTask",
        "metadata": { "name": "dev-migrate", "namespace": "ns", "generation": 1 },
        "spec": spec,
    }))
    .unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

/// The task after the controller wrote `plan`'s status.
fn after(task: &SupersetLifecycleTask, plan: &Plan) -> SupersetLifecycleTask {
    let mut next = task.clone();
    next.status = Some(plan.status.clone());
    next
}

/// The pod `plan` created, as the API server would show it at `created`.
fn created(plan: &Plan, created: Timestamp) -> Pod {
    let mut pod = plan.create.clone().expect("an attempt is created");
    pod.metadata.creation_timestamp = Some(Time(created));
    pod
}

fn with_phase(mut pod: Pod, phase: &str, exit: i32, message: &str, finished: Timestamp) -> Pod {
    pod.status = Some(
        serde_json::from_value(json!({
            "phase": phase,
            "containerStatuses": [{
                "name": "superset", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "terminated": { "exitCode": exit, "reason": "Error", "message": message,
                    "finishedAt": Time(finished) } }
            }]
        }))
        .unwrap(),
    );
    pod
}

fn state(plan: &Plan) -> TaskState {
    plan.status.state.unwrap()
}

#[test]
fn a_new_task_starts_attempt_one_under_a_deterministic_name() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let pod = first.create.clone().unwrap();
    let name = pod.metadata.name.clone().unwrap();
    assert_eq!(
        name,
        format!("dev-migrate-{}-1", task_run::run_id(&task.spec))
    );
    assert_eq!(state(&first), TaskState::Running);
    assert_eq!(first.status.attempts, Some(1));
    assert_eq!(first.events[0].reason, "TaskStarted");
    let spec = pod.spec.unwrap();
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(spec.active_deadline_seconds, Some(300));
    assert_eq!(
        spec.containers[0].command.as_deref().unwrap()[2],
        "superset db upgrade"
    );
    // Planning again from the same inputs names the same pod.
    assert_eq!(
        plan(&task, &[], at(5)).create.unwrap().metadata.name,
        Some(name)
    );
}

#[test]
fn a_restart_with_stale_status_adopts_the_running_attempt_instead_of_starting_another() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let pod = created(&first, at(0));
    // The status write was lost: the task still looks new.
    let again = plan(&task, &[pod], at(3));
    assert!(again.create.is_none(), "no second attempt");
    assert_eq!(state(&again), TaskState::Running);
    assert_eq!(again.status.attempts, Some(1));
}

#[test]
fn success_completes_once_and_never_reruns() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let running = after(&task, &first);
    let done = with_phase(created(&first, at(0)), "Succeeded", 0, "", at(42));
    let complete = plan(&running, std::slice::from_ref(&done), at(43));
    assert_eq!(state(&complete), TaskState::Complete);
    assert_eq!(complete.status.duration.as_deref(), Some("42s"));
    assert!(complete.delete.is_empty(), "deleted only once recorded");
    let settled = plan(&after(&running, &complete), &[done], at(44));
    assert!(settled.create.is_none());
    assert_eq!(
        settled.delete.len(),
        1,
        "RetainOnFailure removes the succeeded pod"
    );
    // With the pod gone, the completed task stays complete.
    let later = plan(&after(&running, &settled), &[], at(500));
    assert_eq!(state(&later), TaskState::Complete);
    assert!(later.create.is_none());
    assert!(later.events.is_empty());
}

#[test]
fn a_success_seen_after_a_lost_status_write_is_not_rerun() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let done = with_phase(created(&first, at(0)), "Succeeded", 0, "", at(10));
    let complete = plan(&task, &[done], at(11));
    assert_eq!(state(&complete), TaskState::Complete);
    assert!(complete.create.is_none());
}

#[test]
fn failures_back_off_ten_seconds_doubling_to_five_minutes() {
    assert_eq!(
        (1..=7).map(|a| backoff(a).as_secs()).collect::<Vec<_>>(),
        vec![10, 20, 40, 80, 160, 300, 300]
    );
    let task = task(json!({ "maxRetries": 5 }));
    let first = plan(&task, &[], at(0));
    let failed = with_phase(created(&first, at(0)), "Failed", 1, "boom", at(20));
    let retrying = plan(&after(&task, &first), std::slice::from_ref(&failed), at(21));
    assert_eq!(state(&retrying), TaskState::Pending);
    assert_eq!(
        retrying.status.next_attempt_at.as_ref().unwrap().0,
        at(30),
        "next attempt 10 s after the failure"
    );
    assert!(retrying.create.is_none());
    assert_eq!(retrying.requeue, Some(Duration::from_secs(9)));
    assert_eq!(retrying.events[0].reason, "TaskRetry");
    let waiting = after(&task, &retrying);
    // A pod event before the time is up starts nothing.
    assert!(
        plan(&waiting, std::slice::from_ref(&failed), at(25))
            .create
            .is_none()
    );
    let second = plan(&waiting, std::slice::from_ref(&failed), at(30));
    let pod = second.create.clone().unwrap();
    assert!(pod.metadata.name.unwrap().ends_with("-2"));
    assert_eq!(second.status.attempts, Some(2));
    let failed2 = with_phase(created(&second, at(30)), "Failed", 1, "boom", at(35));
    let retrying2 = plan(&after(&task, &second), &[failed, failed2], at(36));
    assert_eq!(retrying2.status.next_attempt_at.as_ref().unwrap().0, at(55));
}

#[test]
fn the_last_failed_attempt_fails_the_task_until_the_pod_spec_changes() {
    let task = task(json!({ "maxRetries": 1 }));
    let first = plan(&task, &[], at(0));
    let failed = with_phase(created(&first, at(0)), "Failed", 2, "no such table", at(5));
    let failing = plan(&after(&task, &first), std::slice::from_ref(&failed), at(6));
    assert_eq!(state(&failing), TaskState::Failed);
    assert_eq!(failing.events[0].reason, "TaskFailed");
    let condition = failing
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "TaskComplete")
        .unwrap();
    assert_eq!(condition.reason, "TaskFailed");
    assert!(condition.message.contains("Exit code 2"));
    let terminal = after(&task, &failing);
    assert!(
        plan(&terminal, std::slice::from_ref(&failed), at(1000))
            .create
            .is_none()
    );
    // Fixing the pod (here: its image) starts a new run under a new name.
    let mut fixed = terminal.clone();
    fixed.spec.image.tag = "6.0.1".into();
    let rerun = plan(&fixed, &[failed], at(1001));
    let pod = rerun.create.unwrap();
    assert!(pod.metadata.name.unwrap().ends_with("-1"));
    assert_eq!(rerun.status.attempts, Some(1));
}

/// The pod as the kubelet shows it once its containers run.
fn running(mut pod: Pod) -> Pod {
    pod.status = Some(serde_json::from_value(json!({ "phase": "Running" })).unwrap());
    pod
}

fn terminating(mut pod: Pod) -> Pod {
    pod.metadata.deletion_timestamp = Some(Time(at(0)));
    pod
}

#[test]
fn a_new_checksum_stops_an_attempt_not_started_and_starts_only_once_it_is_gone() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let old = created(&first, at(0));
    let mut changed = after(&task, &first);
    changed.spec.config_checksum = "sha256:bbbb".into();
    let next = plan(&changed, std::slice::from_ref(&old), at(5));
    assert_eq!(next.delete, vec![old.metadata.name.clone().unwrap()]);
    assert!(next.create.is_none(), "the new run waits for the old pod");
    assert_eq!(state(&next), TaskState::Pending);
    let waiting = after(&changed, &next);
    let still = plan(&waiting, &[terminating(old)], at(6));
    assert!(still.create.is_none(), "a terminating pod still runs");
    assert!(still.delete.is_empty());
    let gone = plan(&waiting, &[], at(8));
    assert!(gone.create.is_some());
}

#[test]
fn a_started_attempt_of_an_older_run_finishes_before_the_new_run_starts() {
    // A migration cut off half way can leave the schema half migrated (MySQL has no
    // transactional DDL), and two runs at once would migrate concurrently.
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let old = running(created(&first, at(0)));
    let mut changed = after(&task, &first);
    changed.spec.image.tag = "6.1.0".into();
    changed.spec.config_checksum = "sha256:bbbb".into();
    let next = plan(&changed, std::slice::from_ref(&old), at(5));
    assert!(next.delete.is_empty(), "a running migration is not cut off");
    assert!(next.create.is_none(), "no second migration beside it");
    assert!(
        next.status
            .message
            .as_deref()
            .unwrap()
            .contains(old.metadata.name.as_deref().unwrap())
    );
    let finished = with_phase(old, "Succeeded", 0, "", at(30));
    let waiting = after(&changed, &next);
    let now = plan(&waiting, std::slice::from_ref(&finished), at(31));
    let pod = now
        .create
        .expect("the new run starts once the old pod ended");
    assert_eq!(
        pod.spec.unwrap().containers[0].image.as_deref(),
        Some("apache/superset:6.1.0")
    );
    assert_eq!(now.delete, vec![finished.metadata.name.unwrap()]);
}

#[test]
fn an_attempt_past_its_timeout_fails_and_is_removed() {
    let task = task(json!({ "timeout": "1m", "maxRetries": 2 }));
    let first = plan(&task, &[], at(0));
    let pod = created(&first, at(0));
    let running = after(&task, &first);
    assert!(
        plan(&running, std::slice::from_ref(&pod), at(59))
            .delete
            .is_empty()
    );
    let timed_out = plan(&running, std::slice::from_ref(&pod), at(61));
    assert_eq!(timed_out.delete, vec![pod.metadata.name.clone().unwrap()]);
    assert_eq!(state(&timed_out), TaskState::Pending);
    assert_eq!(
        timed_out.status.message.as_deref(),
        Some("Timed out after 1m0s")
    );
    assert!(timed_out.create.is_none(), "the old pod must go first");
    // Re-planning while the pod is still there records nothing twice.
    let again = plan(&after(&running, &timed_out), &[pod], at(62));
    assert!(again.events.is_empty());
    assert_eq!(again.status.attempts, Some(1));
}

#[test]
fn a_pod_that_cannot_start_is_reported_then_failed() {
    let task = task(json!({ "maxRetries": 2 }));
    let first = plan(&task, &[], at(0));
    let mut pod = created(&first, at(0));
    pod.status = Some(
        serde_json::from_value(json!({
            "phase": "Pending",
            "containerStatuses": [{ "name": "superset", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": { "waiting": { "reason": "ImagePullBackOff",
                "message": "pull access denied" } } }]
        }))
        .unwrap(),
    );
    let running = after(&task, &first);
    let stuck = plan(&running, std::slice::from_ref(&pod), at(5));
    let condition = stuck
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "TaskCannotStart")
        .unwrap();
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("True", "ImagePullBackOff")
    );
    assert_eq!(stuck.events[0].reason, "TaskCannotStart");
    let given_up = plan(&after(&running, &stuck), &[pod], at(121));
    assert_eq!(given_up.delete.len(), 1);
    assert!(
        given_up
            .status
            .message
            .as_deref()
            .unwrap()
            .starts_with("Cannot start: ImagePullBackOff")
    );
}

#[test]
fn failure_messages_are_redacted_before_they_are_cut() {
    let task = task(json!({ "maxRetries": 1 }));
    let first = plan(&task, &[], at(0));
    let log = format!(
        "{} sqlalchemy: could not connect to postgresql://superset:hunter2@db/superset password=hunter2",
        "x".repeat(150)
    );
    let failed = with_phase(created(&first, at(0)), "Failed", 1, &log, at(3));
    let failing = plan(&after(&task, &first), &[failed], at(4));
    let message = failing.status.message.unwrap();
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.ends_with("..."));
    assert!(
        failing
            .events
            .iter()
            .all(|e| !e.message.contains("hunter2"))
    );
}

#[test]
fn a_vanished_attempt_counts_as_failed() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let gone = plan(&after(&task, &first), &[], at(10));
    assert_eq!(state(&gone), TaskState::Pending);
    assert_eq!(gone.status.attempts, Some(1));
    assert!(gone.status.message.unwrap().contains("disappeared"));
}

#[test]
fn retain_keeps_every_pod_and_delete_keeps_none() {
    for (policy, kept) in [("Retain", true), ("Delete", false)] {
        let task = task(json!({ "podRetention": { "policy": policy }, "maxRetries": 1 }));
        let first = plan(&task, &[], at(0));
        let failed = with_phase(created(&first, at(0)), "Failed", 1, "x", at(2));
        let failing = plan(&after(&task, &first), std::slice::from_ref(&failed), at(3));
        let settled = plan(&after(&task, &failing), &[failed], at(4));
        assert_eq!(settled.delete.is_empty(), kept, "{policy}");
    }
}

#[test]
fn durations_read_like_kubectl() {
    use task_run::format_duration;
    assert_eq!(format_duration(SignedDuration::from_secs(5)), "5s");
    assert_eq!(format_duration(SignedDuration::from_secs(125)), "2m5s");
    assert_eq!(format_duration(SignedDuration::from_secs(3725)), "1h2m5s");
}

#[test]
fn a_migration_failing_on_a_lean_image_says_which_driver_is_missing_and_no_secret() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let running = after(&task, &first);
    let tail = "Loaded your LOCAL configuration\nsqlalchemy url postgresql+psycopg2://superset:hunter2@db:5432/superset\nTraceback (most recent call last):\nModuleNotFoundError: No module named 'psycopg2'";
    let failed = with_phase(created(&first, at(0)), "Failed", 1, tail, at(12));
    let next = plan(&running, &[failed], at(13));
    let message = next.status.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("The image has no database driver psycopg2"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn a_missing_database_driver_is_named_with_what_to_do() {
    let tail = "Traceback (most recent call last):\n  File \"/app/.venv/lib/python3.11/site-packages/sqlalchemy/dialects/postgresql/psycopg2.py\", line 1\nModuleNotFoundError: No module named 'psycopg2'\n";
    let advice = superset_operator_render::task_run::missing_driver_advice(tail).unwrap();
    assert!(advice.contains("no database driver psycopg2"), "{advice}");
    assert!(advice.contains("pip install psycopg2-binary"), "{advice}");
    assert_eq!(
        superset_operator_render::task_run::missing_driver_advice(
            "ModuleNotFoundError: No module named 'flask_foo'"
        ),
        None
    );
}

#[test]
fn no_attempt_starts_while_another_task_of_the_instance_has_an_active_pod() {
    // An init of the old image still running while the migration of the new image is due.
    let init = task(json!({ "type": "Init", "podTemplate": { "labels": {
        "superset.apache.org/parent": "dev", "superset.apache.org/task": "init" } } }));
    let mut init_pod = created(&plan(&init, &[], at(0)), at(0));
    init_pod.metadata.name = Some("dev-init-x-1".into());
    let migrate = task(json!({}));
    let held = task_run::plan_among(&migrate, &[], &[running(init_pod.clone())], at(5));
    assert!(
        held.create.is_none(),
        "the migration waits for the init pod"
    );
    assert!(
        held.status
            .message
            .as_deref()
            .unwrap()
            .contains("dev-init-x-1")
    );
    assert!(held.requeue.is_some());
    let ended = with_phase(init_pod, "Succeeded", 0, "", at(9));
    let free = task_run::plan_among(&after(&migrate, &held), &[], &[ended], at(10));
    assert!(free.create.is_some(), "an ended pod holds nothing");
}

#[test]
fn the_instance_selector_finds_every_task_of_the_parent() {
    assert_eq!(
        task_run::instance_pod_selector(&task(json!({}))),
        "superset.apache.org/parent=dev,superset.apache.org/task"
    );
}

#[test]
fn sidecars_of_a_task_pod_run_as_native_sidecars_and_never_hold_it_running() {
    let task = task(json!({ "podTemplate": {
        "labels": { "superset.apache.org/parent": "dev", "superset.apache.org/task": "migrate" },
        "sidecars": [{ "name": "cloud-sql-proxy", "image": "proxy:2" }],
        "initContainers": [{ "name": "wait-for-db", "image": "busybox" }],
    } }));
    let pod = plan(&task, &[], at(0)).create.unwrap();
    let spec = pod.spec.unwrap();
    let names = |containers: &[k8s_openapi::api::core::v1::Container]| {
        containers
            .iter()
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&spec.containers), ["superset"]);
    let init = spec.init_containers.unwrap();
    // The proxy starts first, so the other init containers can use it too.
    assert_eq!(names(&init), ["cloud-sql-proxy", "wait-for-db"]);
    assert_eq!(init[0].restart_policy.as_deref(), Some("Always"));
    assert_eq!(init[1].restart_policy, None);
}

#[test]
fn a_failed_task_names_its_own_exit_not_a_stopped_sidecar() {
    let task = task(json!({}));
    let first = plan(&task, &[], at(0));
    let mut pod = created(&first, at(0));
    pod.status = Some(
        serde_json::from_value(json!({
            "phase": "Failed",
            "initContainerStatuses": [{
                "name": "proxy", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "terminated": { "exitCode": 143, "reason": "Error" } } }],
            "containerStatuses": [{
                "name": "superset", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "terminated": { "exitCode": 1, "reason": "Error",
                    "message": "alembic: no such revision" } } }],
        }))
        .unwrap(),
    );
    let failed = plan(&after(&task, &first), &[pod], at(10));
    let message = failed.status.message.unwrap();
    assert!(message.starts_with("Exit code 1 in superset"), "{message}");
}

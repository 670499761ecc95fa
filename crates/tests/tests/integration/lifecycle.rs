//! The lifecycle pipeline on the simulated cluster: tasks in order before components, drains
//! behind a maintenance page with no moment without a ready backend, failing tasks retried
//! with backoff, supervised upgrades, schedules, and an operator killed at every phase.
//!
//! Task pods end the way the kwok annotation `kwok.superset.apache.org/outcome` says; a test
//! that wants to hold a task running leaves the annotation off and sets it on the live pod
//! when the task may finish.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::wait::await_condition;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use superset_operator_api::status::TaskState;
use superset_operator_api::superset::status::{LifecyclePhase, SupersetPhase, UpgradeContext};
use superset_operator_api::{Superset, SupersetLifecycleTask, SupersetWebServer};
use superset_operator_render::lifecycle::APPROVE_UPGRADE;
use superset_operator_testkit::{OUTCOME_ANNOTATION, TestEnv};

use crate::support::{TIMEOUT, merge_spec, operator, within};

const SUCCEED: &str = "succeed";
/// The default Superset repository.
const REPO: &str = "apachesuperset.docker.scarf.sh/apache/superset";

fn image(tag: &str) -> String {
    format!("{REPO}:{tag}")
}

fn superset(lifecycle: serde_json::Value) -> Superset {
    serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": "dev" },
        "spec": {
            "environment": "Development",
            "image": { "tag": "6.0.0" },
            "secretKey": "dev-secret-key",
            "metastore": { "host": "postgres", "database": "superset", "username": "superset", "password": "superset" },
            "valkey": { "host": "valkey" },
            "webServer": {},
            "celeryWorker": {},
            "lifecycle": lifecycle,
        },
    }))
    .unwrap()
}

/// A seed task from a fixed source, on `cron` when given, whose pods succeed.
fn seed(cron: Option<&str>) -> serde_json::Value {
    let mut seed = json!({
        "source": { "host": "prod-db", "database": "superset", "username": "reader", "password": "pw" },
        "podTemplate": succeeding(),
    });
    if let Some(cron) = cron {
        seed["cronSchedule"] = json!(cron);
    }
    seed
}

/// The reasons of every event in the test's namespace.
async fn event_reasons(env: &TestEnv) -> BTreeSet<String> {
    env.api::<k8s_openapi::api::events::v1::Event>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| e.reason)
        .collect()
}

/// Task pods that succeed as soon as they run.
fn succeeding() -> serde_json::Value {
    json!({ "annotations": { OUTCOME_ANNOTATION: SUCCEED } })
}

async fn wait_superset(
    api: &Api<Superset>,
    what: &str,
    test: impl Fn(&Superset) -> bool + Send + 'static,
) -> Superset {
    within(
        what,
        await_condition(api.clone(), "dev", move |s: Option<&Superset>| {
            s.is_some_and(&test)
        }),
    )
    .await
    .unwrap()
    .unwrap()
}

fn phase(superset: &Superset) -> Option<SupersetPhase> {
    superset.status.as_ref()?.phase
}

/// Waits until the Superset shows `wanted` as its phase.
async fn wait_phase(api: &Api<Superset>, wanted: SupersetPhase) -> Superset {
    let what = format!("the Superset never reached phase {wanted:?}");
    wait_superset(api, &what, move |s| phase(s) == Some(wanted)).await
}

/// Waits until the upgrade to `tag` is complete and every component is ready.
async fn wait_upgraded(api: &Api<Superset>, tag: &str) -> Superset {
    let wanted = image(tag);
    let what = format!("the upgrade to {tag} did not complete");
    wait_superset(api, &what, move |s| {
        lifecycle_phase(s) == Some(LifecyclePhase::Complete)
            && s.status
                .as_ref()
                .and_then(|s| s.last_lifecycle_image.as_deref())
                == Some(wanted.as_str())
            && has_condition(s, "Available", "True", "AllComponentsReady")
    })
    .await
}

/// Changes the Superset's image tag.
async fn upgrade_to(api: &Api<Superset>, tag: &str) {
    merge_spec(api, &json!({ "spec": { "image": { "tag": tag } } })).await;
}

fn upgrade_context(superset: &Superset) -> UpgradeContext {
    superset
        .status
        .as_ref()
        .and_then(|s| s.lifecycle.as_ref())
        .and_then(|l| l.upgrade.clone())
        .expect("the status shows the upgrade")
}

fn lifecycle_phase(superset: &Superset) -> Option<LifecyclePhase> {
    superset.status.as_ref()?.lifecycle.as_ref()?.phase
}

fn has_condition(superset: &Superset, type_: &str, status: &str, reason: &str) -> bool {
    superset.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == status && c.reason == reason)
    })
}

fn condition_message(superset: &Superset, type_: &str) -> String {
    superset
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Complete and every component ready.
async fn wait_complete(api: &Api<Superset>, what: &str) -> Superset {
    wait_superset(api, what, |s| {
        lifecycle_phase(s) == Some(LifecyclePhase::Complete)
            && has_condition(s, "Available", "True", "AllComponentsReady")
    })
    .await
}

async fn task(env: &TestEnv, name: &str) -> Option<SupersetLifecycleTask> {
    env.api::<SupersetLifecycleTask>()
        .get_opt(name)
        .await
        .unwrap()
}

async fn task_pods(env: &TestEnv, task: &str) -> Vec<Pod> {
    env.api::<Pod>()
        .list(&ListParams::default().labels(&format!("superset.apache.org/task={task}")))
        .await
        .unwrap()
        .items
}

/// Sets the kwok outcome on the live pods of `task` that have none.
async fn finish_task_pods(env: &TestEnv, task: &str) -> usize {
    let pods = env.api::<Pod>();
    let mut finished = 0;
    for pod in task_pods(env, task).await {
        if pod.annotations().contains_key(OUTCOME_ANNOTATION) {
            continue;
        }
        let patch = json!({ "metadata": { "annotations": { OUTCOME_ANNOTATION: SUCCEED } } });
        pods.patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
        finished += 1;
    }
    finished
}

async fn wait_task_pod_running(env: &TestEnv, task: &str) -> Pod {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let running = task_pods(env, task)
            .await
            .into_iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
        if let Some(pod) = running {
            return pod;
        }
        assert!(Instant::now() < deadline, "no {task} pod ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn image_of(deployment: &Deployment) -> String {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn component_pod(pod: &Pod) -> bool {
    let labels = pod.labels();
    labels.get("superset.apache.org/parent").map(String::as_str) == Some("dev")
        && !labels.contains_key("superset.apache.org/task")
        && labels
            .get("app.kubernetes.io/component")
            .map(String::as_str)
            != Some("maintenance-page")
}

fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Watches pods and the web server's Service and checks, at every event, the promises of the
/// lifecycle: no component pod while migrate runs, never two task pods at once, the Service on the maintenance page before
/// any component pod goes, and the Service never selecting zero ready pods.
struct Invariants {
    state: Arc<Mutex<Observed>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Observed {
    violations: Vec<String>,
    without_backend: Duration,
    zero_since: Option<Instant>,
    maintenance_seen: bool,
    component_pods_seen: BTreeSet<String>,
}

impl Invariants {
    fn start(env: &TestEnv) -> Invariants {
        let (pods, pod_writer) = reflector::store::<Pod>();
        let (services, service_writer) = reflector::store::<Service>();
        let pod_events = watcher(env.api::<Pod>(), watcher::Config::default())
            .default_backoff()
            .reflect(pod_writer)
            .map(|event| (0, matches!(event, Ok(watcher::Event::InitDone))))
            .boxed();
        let service_events = watcher(
            env.api::<Service>(),
            watcher::Config::default().fields("metadata.name=dev-web-server"),
        )
        .default_backoff()
        .reflect(service_writer)
        .map(|event| (1, matches!(event, Ok(watcher::Event::InitDone))))
        .boxed();
        let state = Arc::new(Mutex::new(Observed::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let mut events = futures::stream::select(pod_events, service_events);
            // Checked only once both lists are complete, so a half-read start is no finding.
            let mut listed = [false, false];
            while let Some((stream, init_done)) = events.next().await {
                listed[stream] |= init_done;
                if listed == [true, true] {
                    check(&pods, &services, &mut shared.lock().unwrap());
                }
            }
        });
        Invariants { state, task }
    }

    /// Stops watching; returns the violations and the time the Service had no ready backend.
    fn finish(self) -> (Vec<String>, Duration, bool) {
        self.task.abort();
        let mut state = self.state.lock().unwrap();
        if let Some(since) = state.zero_since.take() {
            state.without_backend += since.elapsed();
        }
        (
            state.violations.clone(),
            state.without_backend,
            state.maintenance_seen,
        )
    }
}

fn check(pods: &Store<Pod>, services: &Store<Service>, state: &mut Observed) {
    let pods = pods.state();
    let Some(service) = services.state().first().cloned() else {
        return;
    };
    let selector: BTreeMap<String, String> = service
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    let on_page = selector
        .get("app.kubernetes.io/component")
        .map(String::as_str)
        == Some("maintenance-page");
    state.maintenance_seen |= on_page;
    let migrating = pods.iter().any(|p| {
        p.labels()
            .get("superset.apache.org/task")
            .map(String::as_str)
            == Some("migrate")
            && !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
    });
    let active_tasks: BTreeSet<String> = pods
        .iter()
        .filter(|p| p.labels().contains_key("superset.apache.org/task"))
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .map(|p| p.name_any())
        .collect();
    if active_tasks.len() > 1 {
        state
            .violations
            .push(format!("task pods {active_tasks:?} are active at once"));
    }
    let components: BTreeSet<String> = pods
        .iter()
        .filter(|p| component_pod(p))
        .map(|p| p.name_any())
        .collect();
    if migrating && !components.is_empty() {
        state.violations.push(format!(
            "component pods {components:?} exist while migrate runs"
        ));
    }
    let leaving = pods
        .iter()
        .filter(|p| component_pod(p) && p.metadata.deletion_timestamp.is_some())
        .count()
        + state.component_pods_seen.difference(&components).count();
    if leaving > 0 && !state.maintenance_seen {
        state.violations.push(
            "a component pod was removed before the Service pointed at the maintenance page".into(),
        );
    }
    state.component_pods_seen = components;
    let backends = pods
        .iter()
        .filter(|p| ready(p))
        .filter(|p| {
            let labels = p.labels();
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .count();
    match (backends, state.zero_since) {
        (0, None) => state.zero_since = Some(Instant::now()),
        (n, Some(since)) if n > 0 => {
            state.without_backend += since.elapsed();
            state.zero_since = None;
        }
        _ => {}
    }
}

#[tokio::test]
async fn a_fresh_install_seeds_migrates_and_initialises_in_order_before_components() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = superset(json!({
        "podTemplate": succeeding(),
        "maintenancePage": {},
        "seed": seed(None),
        "init": { "adminUser": {} },
    }));
    let started = Instant::now();
    supersets
        .create(&PostParams::default(), &spec)
        .await
        .unwrap();
    let phases = Arc::new(Mutex::new(Vec::new()));
    let seen = phases.clone();
    let recorder = tokio::spawn({
        let supersets = supersets.clone();
        async move {
            let mut stream = watcher(supersets, watcher::Config::default())
                .applied_objects()
                .boxed();
            while let Some(Ok(s)) = stream.next().await {
                let entry = (s.status.as_ref().and_then(|s| s.phase), lifecycle_phase(&s));
                let mut seen = seen.lock().unwrap();
                if seen.last() != Some(&entry) {
                    seen.push(entry);
                }
            }
        }
    });
    let done = wait_complete(&supersets, "the fresh install did not complete").await;
    eprintln!(
        "fresh install: Complete and Available after {:.1}s",
        started.elapsed().as_secs_f64()
    );
    recorder.abort();

    let mut completed = Vec::new();
    for name in ["dev-seed", "dev-migrate", "dev-init"] {
        let task = task(&env, name).await.expect("the task exists");
        let status = task.status.clone().unwrap();
        assert_eq!(status.state, Some(TaskState::Complete), "{name}");
        assert_eq!(status.attempts, Some(1), "{name} ran once");
        completed.push((
            task.metadata.creation_timestamp.clone().unwrap().0,
            status.completed_at.unwrap().0,
        ));
    }
    // Each task starts only after the one before it completed.
    assert!(
        completed[0].1 <= completed[1].0,
        "migrate started before seed completed"
    );
    assert!(
        completed[1].1 <= completed[2].0,
        "init started before migrate completed"
    );
    let web = env.api::<SupersetWebServer>().get("dev").await.unwrap();
    assert!(
        completed[2].1 <= web.metadata.creation_timestamp.unwrap().0,
        "components started before init completed"
    );
    // No drain and no maintenance page on a first install, and it is not an upgrade.
    let phases = phases.lock().unwrap().clone();
    assert!(
        phases
            .iter()
            .all(|(p, l)| *p != Some(SupersetPhase::Upgrading)
                && *l != Some(LifecyclePhase::Draining)),
        "{phases:?}"
    );
    assert!(
        phases
            .iter()
            .any(|(p, _)| *p == Some(SupersetPhase::Initializing)),
        "{phases:?}"
    );
    assert!(
        env.api::<Deployment>()
            .get_opt("dev-maintenance-page")
            .await
            .unwrap()
            .is_none()
    );
    let status = done.status.unwrap();
    assert_eq!(
        status.last_lifecycle_image.as_deref(),
        Some(image("6.0.0").as_str())
    );
    assert_eq!(status.phase, Some(SupersetPhase::Running));
    let lifecycle = status.lifecycle.unwrap();
    assert_eq!(lifecycle.last_completed_checksums.len(), 3);
    assert_eq!(lifecycle.migrate.unwrap().state, TaskState::Complete);
}

#[tokio::test]
async fn an_image_upgrade_drains_behind_the_maintenance_page_without_a_moment_of_no_backend() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = superset(json!({
        "podTemplate": succeeding(),
        "maintenancePage": { "title": "Upgrading <Superset>" },
    }));
    supersets
        .create(&PostParams::default(), &spec)
        .await
        .unwrap();
    wait_complete(&supersets, "the install did not complete").await;
    let migrate_before = task(&env, "dev-migrate").await.unwrap();

    let watch = Invariants::start(&env);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    upgrade_to(&supersets, "6.0.1").await;
    let upgrading = wait_phase(&supersets, SupersetPhase::Upgrading).await;
    let context = upgrade_context(&upgrading);
    assert_eq!(context.from_tag.as_deref(), Some("6.0.0"));
    assert_eq!(context.to_tag.as_deref(), Some("6.0.1"));
    let done = wait_upgraded(&supersets, "6.0.1").await;
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (violations, without_backend, maintenance_seen) = watch.finish();
    eprintln!(
        "upgrade: image change to Complete in {:.1}s; the Service had no ready backend for {:?}",
        elapsed.as_secs_f64(),
        without_backend
    );
    assert!(violations.is_empty(), "{violations:?}");
    assert!(
        maintenance_seen,
        "the Service never pointed at the maintenance page"
    );
    assert_eq!(without_backend, Duration::ZERO);

    let migrate = task(&env, "dev-migrate").await.unwrap();
    assert_ne!(
        migrate.spec.config_checksum, migrate_before.spec.config_checksum,
        "the image change re-ran migrate"
    );
    assert_eq!(migrate.status.unwrap().state, Some(TaskState::Complete));
    let web = env.api::<Deployment>().get("dev-web-server").await.unwrap();
    assert_eq!(image_of(&web), image("6.0.1"));
    let selector = env
        .api::<Service>()
        .get("dev-web-server")
        .await
        .unwrap()
        .spec
        .unwrap()
        .selector
        .unwrap();
    assert_eq!(selector["app.kubernetes.io/component"], "web-server");
    within(
        "the maintenance page was not removed",
        await_condition(
            env.api::<Deployment>(),
            "dev-maintenance-page",
            kube::runtime::conditions::is_deleted(""),
        ),
    )
    .await
    .ok();
    assert!(
        env.api::<Deployment>()
            .get_opt("dev-maintenance-page")
            .await
            .unwrap()
            .is_none()
    );
    let status = done.status.unwrap();
    assert!(status.lifecycle.unwrap().upgrade.is_none());
    let reasons = event_reasons(&env).await;
    for reason in [
        "Draining",
        "Migrating",
        "Restoring",
        "LifecycleComplete",
        "MaintenancePageServing",
    ] {
        assert!(reasons.contains(reason), "no {reason} event in {reasons:?}");
    }
}

#[tokio::test]
async fn a_failing_migrate_retries_with_backoff_and_recovers_when_the_spec_is_fixed() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "podTemplate": succeeding() })),
        )
        .await
        .unwrap();
    wait_complete(&supersets, "the install did not complete").await;

    // The new image's migration fails.
    merge_spec(
        &supersets,
        &json!({ "spec": { "image": { "tag": "6.0.1" }, "lifecycle": { "podTemplate": {
            "annotations": { OUTCOME_ANNOTATION: "fail" } } } } }),
    )
    .await;
    let degraded = wait_superset(&supersets, "a failed attempt did not degrade", |s| {
        has_condition(s, "Degraded", "True", "TaskRetrying")
    })
    .await;
    assert!(condition_message(&degraded, "Degraded").contains("Migrate: attempt 1 of 3 failed"));
    let failed = wait_superset(&supersets, "migrate did not fail terminally", |s| {
        lifecycle_phase(s) == Some(LifecyclePhase::Failed)
    })
    .await;
    assert!(has_condition(&failed, "Degraded", "True", "TaskFailed"));
    assert!(has_condition(
        &failed,
        "LifecycleComplete",
        "False",
        "TaskFailed"
    ));
    let migrate = task(&env, "dev-migrate").await.unwrap();
    let status = migrate.status.unwrap();
    assert_eq!(status.attempts, Some(3));
    assert_eq!(status.state, Some(TaskState::Failed));
    // Three attempts, 10 s then 20 s apart at least.
    let mut starts: Vec<_> = task_pods(&env, "migrate")
        .await
        .into_iter()
        .filter(|p| p.annotations().get(OUTCOME_ANNOTATION).map(String::as_str) == Some("fail"))
        .map(|p| p.metadata.creation_timestamp.unwrap().0)
        .collect();
    starts.sort();
    assert_eq!(starts.len(), 3, "failed pods are retained for inspection");
    assert!(starts[1].duration_since(starts[0]).as_secs() >= 10);
    assert!(starts[2].duration_since(starts[1]).as_secs() >= 20);
    // Nothing runs the new image.
    for deployment in env
        .api::<Deployment>()
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        assert_ne!(
            image_of(&deployment),
            image("6.0.1"),
            "{}",
            deployment.name_any()
        );
    }

    merge_spec(
        &supersets,
        &json!({ "spec": { "lifecycle": { "podTemplate": {
            "annotations": { OUTCOME_ANNOTATION: SUCCEED } } } } }),
    )
    .await;
    let recovered = wait_complete(&supersets, "the fixed spec did not recover").await;
    assert!(has_condition(&recovered, "Degraded", "False", "Healthy"));
    let web = env.api::<Deployment>().get("dev-web-server").await.unwrap();
    assert_eq!(image_of(&web), image("6.0.1"));
    // The failed pods go once the task completes.
    within("failed pods were not cleaned up", async {
        while task_pods(&env, "migrate")
            .await
            .iter()
            .any(|p| p.annotations().get(OUTCOME_ANNOTATION).map(String::as_str) == Some("fail"))
        {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_operator_killed_at_every_phase_resumes_without_running_a_task_twice() {
    let env = superset_operator_testkit::cluster().await;
    let mut running = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "podTemplate": succeeding(), "maintenancePage": {} })),
        )
        .await
        .unwrap();
    wait_complete(&supersets, "the install did not complete").await;

    // A straggler pod of the instance holds the drain until the test removes it.
    let straggler: Pod = serde_json::from_value(json!({
        "metadata": { "name": "straggler", "labels": {
            "superset.apache.org/parent": "dev", "app.kubernetes.io/component": "web-server" } },
        "spec": { "containers": [{ "name": "c", "image": "busybox" }] },
    }))
    .unwrap();
    env.api::<Pod>()
        .create(&PostParams::default(), &straggler)
        .await
        .unwrap();
    let watch = Invariants::start(&env);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Upgrade, with task pods that run until the test lets them finish.
    merge_spec(
        &supersets,
        &json!({ "spec": { "image": { "tag": "6.0.1" }, "lifecycle": { "podTemplate": {
            "annotations": { OUTCOME_ANNOTATION: null } } } } }),
    )
    .await;

    // 1. Killed while draining, with the maintenance page up.
    wait_superset(&supersets, "the drain did not start behind the page", |s| {
        lifecycle_phase(s) == Some(LifecyclePhase::Draining)
            && s.status
                .as_ref()
                .and_then(|s| s.lifecycle.as_ref())
                .and_then(|l| l.maintenance_active)
                == Some(true)
    })
    .await;
    running.kill();
    running = operator(&env);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = supersets.get("dev").await.unwrap();
    assert_eq!(lifecycle_phase(&still), Some(LifecyclePhase::Draining));
    assert!(
        task_pods(&env, "migrate")
            .await
            .iter()
            .all(|p| p.annotations().contains_key(OUTCOME_ANNOTATION)),
        "migrate started before the drain finished"
    );
    env.api::<Pod>()
        .delete("straggler", &Default::default())
        .await
        .unwrap();

    // 2. Killed while migrate runs.
    let first = wait_task_pod_running(&env, "migrate").await;
    running.kill();
    running = operator(&env);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let new_run: Vec<Pod> = task_pods(&env, "migrate")
        .await
        .into_iter()
        .filter(|p| !p.annotations().contains_key(OUTCOME_ANNOTATION))
        .collect();
    assert_eq!(new_run.len(), 1, "a second migrate attempt started");
    assert_eq!(new_run[0].name_any(), first.name_any());
    assert_eq!(finish_task_pods(&env, "migrate").await, 1);

    // 3. Killed while init runs; init finishes while no operator runs; the next one restores.
    wait_task_pod_running(&env, "init").await;
    running.kill();
    assert_eq!(finish_task_pods(&env, "init").await, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The killed operator may not have recorded init's start; either way it is mid-pipeline.
    let stopped_at = supersets.get("dev").await.unwrap();
    assert!(
        matches!(
            lifecycle_phase(&stopped_at),
            Some(LifecyclePhase::Migrating | LifecyclePhase::Initializing)
        ),
        "{:?}",
        lifecycle_phase(&stopped_at)
    );
    let _restarted = operator(&env);
    let done = wait_complete(&supersets, "the restarted operator did not restore").await;
    let (violations, without_backend, maintenance_seen) = watch.finish();
    assert!(violations.is_empty(), "{violations:?}");
    assert!(maintenance_seen);
    assert_eq!(without_backend, Duration::ZERO);
    for name in ["dev-migrate", "dev-init"] {
        let status = task(&env, name).await.unwrap().status.unwrap();
        assert_eq!(status.attempts, Some(1), "{name} ran more than once");
        assert_eq!(status.state, Some(TaskState::Complete));
    }
    assert_eq!(
        done.status.unwrap().last_lifecycle_image.as_deref(),
        Some(image("6.0.1").as_str())
    );
}

#[tokio::test]
async fn a_supervised_upgrade_waits_for_the_right_token_and_consumes_it() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "podTemplate": succeeding(), "upgradeMode": "Supervised" })),
        )
        .await
        .unwrap();
    // A first install is not an upgrade: it needs no approval.
    wait_complete(&supersets, "the install did not complete").await;

    upgrade_to(&supersets, "6.0.1").await;
    let waiting = wait_phase(&supersets, SupersetPhase::AwaitingApproval).await;
    let token = upgrade_context(&waiting).approval_token.unwrap();
    let message = condition_message(&waiting, "LifecycleComplete");
    assert!(
        message.contains(&format!("{APPROVE_UPGRADE}={token}")),
        "{message}"
    );
    let web_image =
        || async { image_of(&env.api::<Deployment>().get("dev-web-server").await.unwrap()) };
    assert_eq!(web_image().await, image("6.0.0"));

    // A token of another upgrade approves nothing.
    let annotate =
        |value: &str| json!({ "metadata": { "annotations": { APPROVE_UPGRADE: value } } });
    let stale =
        superset_operator_render::lifecycle::approval_token(&image("5.0.0"), &image("6.0.0"));
    merge_spec(&supersets, &annotate(&stale)).await;
    wait_superset(&supersets, "the stale token was not reported", |s| {
        condition_message(s, "LifecycleComplete").contains("token for another upgrade")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        phase(&supersets.get("dev").await.unwrap()),
        Some(SupersetPhase::AwaitingApproval)
    );
    assert_eq!(web_image().await, image("6.0.0"));

    merge_spec(&supersets, &annotate(&token)).await;
    let done = wait_upgraded(&supersets, "6.0.1").await;
    let _ = done;
    within("the approval was not consumed", async {
        while supersets
            .get("dev")
            .await
            .unwrap()
            .annotations()
            .contains_key(APPROVE_UPGRADE)
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert_eq!(web_image().await, image("6.0.1"));
}

#[tokio::test]
async fn tuning_changes_roll_components_without_draining_or_rerunning_init() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "podTemplate": succeeding() })),
        )
        .await
        .unwrap();
    wait_complete(&supersets, "the install did not complete").await;
    let init_before = task(&env, "dev-init").await.unwrap().status.unwrap();
    let migrate_before = task(&env, "dev-migrate").await.unwrap().status.unwrap();

    let web_before = env.api::<Deployment>().get("dev-web-server").await.unwrap();
    merge_spec(
        &supersets,
        &json!({ "spec": {
            "webServer": { "gunicorn": { "preset": "performance" } },
            "celeryWorker": { "celery": { "preset": "performance" } } } }),
    )
    .await;
    within("the web server did not roll", async {
        loop {
            let web = env.api::<Deployment>().get("dev-web-server").await.unwrap();
            if web.metadata.generation != web_before.metadata.generation {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    wait_complete(&supersets, "the tuned Superset did not settle").await;
    let init_after = task(&env, "dev-init").await.unwrap().status.unwrap();
    assert_eq!(init_after.config_checksum, init_before.config_checksum);
    assert_eq!(
        init_after.completed_at, init_before.completed_at,
        "init ran again"
    );
    let migrate_after = task(&env, "dev-migrate").await.unwrap().status.unwrap();
    assert_eq!(migrate_after.completed_at, migrate_before.completed_at);
    assert!(
        !event_reasons(&env).await.contains("Draining"),
        "a tuning change drained the components"
    );
}

#[tokio::test]
async fn a_scheduled_seed_runs_again_on_its_next_tick() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = superset(json!({
        "podTemplate": succeeding(),
        "seed": seed(Some("*/20 * * * * *")),
    }));
    supersets
        .create(&PostParams::default(), &spec)
        .await
        .unwrap();
    let installed = wait_complete(&supersets, "the install did not complete").await;
    let seed = installed
        .status
        .clone()
        .unwrap()
        .lifecycle
        .unwrap()
        .seed
        .unwrap();
    let first_tick = seed
        .last_scheduled_at
        .clone()
        .expect("the seed shows its tick");
    assert!(seed.next_schedule_at.unwrap().0 > first_tick.0);
    // From the same status as the tick, so that the two belong together.
    let first_checksum = installed
        .status
        .as_ref()
        .and_then(|s| s.lifecycle.as_ref())
        .and_then(|l| l.last_completed_checksums.get("Seed").cloned());

    wait_superset(
        &supersets,
        "the seed did not run on its next tick",
        move |s| {
            let lifecycle = s.status.as_ref().and_then(|s| s.lifecycle.as_ref());
            lifecycle
                .and_then(|l| l.seed.as_ref())
                .and_then(|seed| seed.last_scheduled_at.as_ref())
                .is_some_and(|tick| tick.0 > first_tick.0)
                && lifecycle.and_then(|l| l.seed.as_ref()).map(|s| s.state)
                    == Some(TaskState::Complete)
                && lifecycle.and_then(|l| l.phase) == Some(LifecyclePhase::Complete)
        },
    )
    .await;
    let seed_task = task(&env, "dev-seed").await.unwrap().status.unwrap();
    assert_eq!(seed_task.state, Some(TaskState::Complete));
    assert_ne!(
        seed_task.config_checksum, first_checksum,
        "a new tick is a new run"
    );
}

#[tokio::test]
async fn an_invalid_schedule_blocks_the_pipeline_until_it_is_fixed() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = superset(json!({
        "podTemplate": succeeding(),
        "seed": seed(Some("61 * * * *")),
    }));
    supersets
        .create(&PostParams::default(), &spec)
        .await
        .unwrap();
    let blocked = wait_phase(&supersets, SupersetPhase::Blocked).await;
    assert!(has_condition(
        &blocked,
        "ScheduleValid",
        "False",
        "InvalidCronSchedule"
    ));
    assert!(condition_message(&blocked, "ScheduleValid").contains("61 * * * *"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in ["dev-seed", "dev-migrate", "dev-init"] {
        assert!(task(&env, name).await.is_none(), "{name} ran while blocked");
    }
    assert!(
        env.api::<SupersetWebServer>()
            .get_opt("dev")
            .await
            .unwrap()
            .is_none()
    );
    merge_spec(
        &supersets,
        &json!({ "spec": { "lifecycle": { "seed": { "cronSchedule": "0 3 * * *" } } } }),
    )
    .await;
    let fixed = wait_complete(&supersets, "the fixed schedule did not unblock").await;
    assert!(has_condition(
        &fixed,
        "ScheduleValid",
        "True",
        "SchedulesValid"
    ));
}

#[tokio::test]
async fn a_task_pod_that_cannot_start_is_reported_on_the_task_and_the_superset() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = superset(json!({
        "podTemplate": { "annotations": { OUTCOME_ANNOTATION: "cannot-start" } },
    }));
    supersets
        .create(&PostParams::default(), &spec)
        .await
        .unwrap();
    let stuck = wait_superset(&supersets, "the stuck task was not reported", |s| {
        has_condition(s, "Degraded", "True", "TaskCannotStart")
    })
    .await;
    let message = condition_message(&stuck, "LifecycleComplete");
    assert!(message.contains("Migrate"), "{message}");
    assert!(message.contains("ImagePullBackOff"), "{message}");
    let migrate = task(&env, "dev-migrate").await.unwrap().status.unwrap();
    assert!(
        migrate
            .conditions
            .iter()
            .any(|c| c.type_ == "TaskCannotStart"
                && c.status == "True"
                && c.reason == "ImagePullBackOff")
    );
    assert!(
        env.api::<SupersetWebServer>()
            .get_opt("dev")
            .await
            .unwrap()
            .is_none(),
        "components started while migrate could not"
    );
}

#[tokio::test]
async fn a_disabled_lifecycle_records_the_image_so_enabling_it_later_upgrades() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "disabled": true })),
        )
        .await
        .unwrap();
    let settled = wait_superset(&supersets, "the image was not recorded", |s| {
        has_condition(s, "LifecycleComplete", "True", "LifecycleDisabled")
            && has_condition(s, "Available", "True", "AllComponentsReady")
    })
    .await;
    assert_eq!(
        settled
            .status
            .clone()
            .unwrap()
            .last_lifecycle_image
            .as_deref(),
        Some(image("6.0.0").as_str())
    );
    assert!(settled.status.unwrap().lifecycle.is_none());
    assert!(task(&env, "dev-migrate").await.is_none());

    merge_spec(
        &supersets,
        &json!({ "spec": { "image": { "tag": "6.0.1" }, "lifecycle": {
            "disabled": false, "podTemplate": succeeding() } } }),
    )
    .await;
    wait_phase(&supersets, SupersetPhase::Upgrading).await;
    wait_complete(&supersets, "the upgrade did not complete").await;
}

#[tokio::test]
async fn a_new_tag_while_migrate_runs_never_runs_two_migrations_or_an_old_init_beside_it() {
    let env = superset_operator_testkit::cluster().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    // Task pods run until the test sets their outcome.
    supersets
        .create(&PostParams::default(), &superset(json!({})))
        .await
        .unwrap();
    let watch = Invariants::start(&env);
    let first = wait_task_pod_running(&env, "migrate").await;
    upgrade_to(&supersets, "6.0.1").await;
    // The old run holds: no second migrate pod starts while it runs, and it is not cut off.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pods = task_pods(&env, "migrate").await;
    assert_eq!(
        pods.iter().map(|p| p.name_any()).collect::<Vec<_>>(),
        vec![first.name_any()],
        "only the running attempt of the old run exists"
    );
    assert!(first.metadata.deletion_timestamp.is_none());
    let held = task(&env, "dev-migrate").await.unwrap();
    let message = held.status.unwrap().message.unwrap_or_default();
    assert!(message.contains(&first.name_any()), "{message}");
    // Once it ends, the new run starts with the new image, then init, one at a time.
    finish_task_pods(&env, "migrate").await;
    let second = within("the new run did not start", async {
        loop {
            let running = task_pods(&env, "migrate").await.into_iter().find(|p| {
                p.name_any() != first.name_any()
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            });
            if let Some(pod) = running {
                return pod;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let image = second.spec.unwrap().containers[0].image.clone().unwrap();
    assert_eq!(image, self::image("6.0.1"));
    finish_task_pods(&env, "migrate").await;
    wait_task_pod_running(&env, "init").await;
    finish_task_pods(&env, "init").await;
    wait_upgraded(&supersets, "6.0.1").await;
    let (violations, _, _) = watch.finish();
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test]
async fn components_live_without_a_recorded_image_are_drained_before_an_upgrade() {
    let env = superset_operator_testkit::cluster().await;
    let running = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "podTemplate": succeeding(), "maintenancePage": {} })),
        )
        .await
        .unwrap();
    wait_complete(&supersets, "the install did not complete").await;
    // While no operator runs, the status is lost (a restore from a backup drops it; so does a
    // crash between applying the components and writing status) and the image changes.
    running.kill();
    supersets
        .patch_status(
            "dev",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": null })),
        )
        .await
        .unwrap();
    upgrade_to(&supersets, "6.0.1").await;
    let watch = Invariants::start(&env);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _operator = operator(&env);
    wait_superset(&supersets, "the upgrade did not complete", |s| {
        lifecycle_phase(s) == Some(LifecyclePhase::Complete)
            && s.status
                .as_ref()
                .and_then(|s| s.last_lifecycle_image.as_deref())
                == Some(image("6.0.1").as_str())
    })
    .await;
    let (violations, _, _) = watch.finish();
    assert!(violations.is_empty(), "{violations:?}");
    assert!(event_reasons(&env).await.contains("Draining"));
}

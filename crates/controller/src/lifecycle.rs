//! The parent's side of the lifecycle pipeline: which tasks must run, whether components must
//! be drained first, the maintenance page, supervised upgrades, and what status shows.
//!
//! Everything is decided again on every pass from what is live (task resources and their
//! status, the component children, the pods, the web server Service's selector), so an operator
//! that restarts at any moment picks up where the previous one stopped: no task runs twice and
//! no component comes back while a task that needs them gone is pending.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use superset_operator_api::status::TaskState;
use superset_operator_api::superset::lifecycle::UpgradeMode;
use superset_operator_api::superset::status::{
    LifecyclePhase, LifecycleStatus, SupersetPhase, TaskRefStatus, UpgradeContext,
};
use superset_operator_api::task::{SupersetLifecycleTaskStatus, TaskType};
use superset_operator_api::{Superset, SupersetLifecycleTask, SupersetSpec};
use superset_operator_render::component::TaskFacts;
use superset_operator_render::lifecycle::{APPROVE_UPGRADE, approval_token, tag_of};
use superset_operator_render::resolve;
use superset_operator_render::schedule::Schedule;
use superset_operator_render::{Component, ResolvedTask, labels, maintenance, naming};

use crate::apply::{self, owned_by};
use crate::child::sync;
use crate::watch::Caches;
use crate::{Error, child};

/// How often the parent looks again while it waits on pods it does not watch.
pub const POLL: Duration = Duration::from_secs(2);

/// What happens to the components during this pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Components {
    /// Apply the desired children (no task pending, or lifecycle off).
    Apply,
    /// Leave the children as they are: a task that does not need a drain is pending, or the
    /// pipeline is blocked or waits for approval. Nothing new rolls out before tasks finish.
    Freeze,
    /// Remove every child: a pending task needs the components gone.
    Drain,
}

/// A condition to set: type, status, reason, message.
pub type Wanted = (&'static str, &'static str, &'static str, String);

/// The outcome of the lifecycle step of one parent pass.
pub struct Step {
    /// What happens to the components.
    pub components: Components,
    /// Whether the web server's Service selects the maintenance page.
    pub maintenance: bool,
    /// Whether the maintenance page's objects should be removed once the Service no longer
    /// points at them.
    pub remove_maintenance: bool,
    /// Every task is complete: components come back, and the page goes once a web pod is ready.
    pub tasks_done: bool,
    /// `status.lifecycle`.
    pub status: Option<LifecycleStatus>,
    /// `status.lastLifecycleImage`.
    pub last_image: Option<String>,
    /// The parent phase while the pipeline holds the components.
    pub phase: Option<SupersetPhase>,
    /// Conditions to set.
    pub conditions: Vec<Wanted>,
    /// When to look again.
    pub requeue: Option<Duration>,
    /// Remove the approval annotation: the upgrade it approved is done.
    pub consume_approval: bool,
}

impl Step {
    fn new(previous: Option<LifecycleStatus>, last_image: Option<String>) -> Step {
        Step {
            components: Components::Apply,
            maintenance: false,
            remove_maintenance: false,
            tasks_done: false,
            status: previous,
            last_image,
            phase: None,
            conditions: Vec::new(),
            requeue: None,
            consume_approval: false,
        }
    }

    fn wake_in(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    fn lifecycle(&mut self) -> &mut LifecycleStatus {
        self.status.get_or_insert_with(Default::default)
    }
}

/// The seed schedule: the tick the seed belongs to and the next one, or why it is invalid.
pub struct SeedSchedule {
    /// Latest scheduled time at or before now.
    pub tick: Option<Time>,
    /// Next scheduled time.
    pub next: Option<Time>,
}

/// Parses the seed's cron schedule, if it has one.
pub fn seed_schedule(spec: &SupersetSpec) -> Result<Option<SeedSchedule>, String> {
    let Some(expression) = spec
        .lifecycle
        .as_deref()
        .filter(|l| l.disabled != Some(true))
        .and_then(|l| l.seed.as_ref())
        .filter(|s| s.task.disabled != Some(true))
        .and_then(|s| s.cron_schedule.as_deref())
    else {
        return Ok(None);
    };
    let schedule = Schedule::parse(expression)?;
    let now = k8s_openapi::jiff::Timestamp::now();
    Ok(Some(SeedSchedule {
        tick: schedule.tick(now).map(Time),
        next: schedule.next(now).map(Time),
    }))
}

fn phase_of(task: TaskType) -> LifecyclePhase {
    match task {
        TaskType::Seed => LifecyclePhase::Seeding,
        TaskType::Migrate => LifecyclePhase::Migrating,
        TaskType::Rotate => LifecyclePhase::Rotating,
        TaskType::Init => LifecyclePhase::Initializing,
    }
}

fn key_of(task: TaskType) -> &'static str {
    match task {
        TaskType::Seed => "Seed",
        TaskType::Migrate => "Migrate",
        TaskType::Rotate => "Rotate",
        TaskType::Init => "Init",
    }
}

fn slot(status: &mut LifecycleStatus, task: TaskType) -> &mut Option<TaskRefStatus> {
    match task {
        TaskType::Seed => &mut status.seed,
        TaskType::Migrate => &mut status.migrate,
        TaskType::Rotate => &mut status.rotate,
        TaskType::Init => &mut status.init,
    }
}

/// Whether `phase` is a step of a pipeline in progress.
pub fn in_progress(phase: Option<LifecyclePhase>) -> bool {
    matches!(
        phase,
        Some(
            LifecyclePhase::Draining
                | LifecyclePhase::Seeding
                | LifecyclePhase::Migrating
                | LifecyclePhase::Rotating
                | LifecyclePhase::Initializing
                | LifecyclePhase::Restoring
        )
    )
}

/// What the parent knows before the step.
pub struct Inputs<'a> {
    /// The Superset.
    pub superset: &'a Superset,
    /// Its resolved tasks, in pipeline order.
    pub tasks: &'a [ResolvedTask],
    /// Its owner reference.
    pub owner: &'a OwnerReference,
    /// The seed schedule, or why it is invalid.
    pub schedule: &'a Result<Option<SeedSchedule>, String>,
    /// Whether the web server's Service selects the maintenance page right now.
    pub maintenance_live: bool,
    /// The web server's serving port, when there is a web server.
    pub web_port: Option<i32>,
    /// What the parent's watches know of the objects it owns.
    pub caches: &'a Caches,
}

/// Decides the lifecycle part of a parent pass, creating and reading task resources and the
/// maintenance page on the way.
pub async fn step(client: &Client, inputs: Inputs<'_>) -> Result<Step, Error> {
    let superset = inputs.superset;
    let spec = &superset.spec;
    let previous_status = superset.status.clone().unwrap_or_default();
    let image = resolve::image_ref(&resolve::image(
        &spec.image,
        spec.lifecycle.as_deref().and_then(|l| l.image.as_ref()),
    ));
    let disabled = spec
        .lifecycle
        .as_deref()
        .is_some_and(|l| l.disabled == Some(true));
    let mut step = Step::new(
        previous_status.lifecycle.clone(),
        previous_status.last_lifecycle_image.clone(),
    );
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let name = superset.name_any();
    remove_tasks_not_enabled(client, &namespace, &name, &inputs.owner.uid, inputs.tasks).await?;

    if disabled || inputs.tasks.is_empty() {
        // Nothing runs, but the image is recorded so a later upgrade is recognised as one.
        step.last_image = Some(image);
        step.remove_maintenance = true;
        step.status = (!disabled).then(|| LifecycleStatus {
            phase: Some(LifecyclePhase::Complete),
            ..Default::default()
        });
        let (reason, message) = if disabled {
            (
                "LifecycleDisabled",
                "lifecycle.disabled is true: no task runs",
            )
        } else {
            ("NoTasksEnabled", "every lifecycle task is disabled")
        };
        step.conditions
            .push(("LifecycleComplete", "True", reason, message.into()));
        return Ok(step);
    }

    let previous = step.lifecycle().clone();
    step.lifecycle().maintenance_active = Some(inputs.maintenance_live);
    step.maintenance = inputs.maintenance_live;
    match inputs.schedule {
        Err(message) => {
            step.conditions.push((
                "ScheduleValid",
                "False",
                "InvalidCronSchedule",
                message.clone(),
            ));
            step.conditions.push((
                "LifecycleComplete",
                "False",
                "InvalidCronSchedule",
                format!("the pipeline is blocked until the schedule is fixed: {message}"),
            ));
            step.lifecycle().phase = Some(LifecyclePhase::Blocked);
            step.phase = Some(SupersetPhase::Blocked);
            step.components = Components::Freeze;
            return Ok(step);
        }
        Ok(schedule) => {
            step.conditions.push((
                "ScheduleValid",
                "True",
                "SchedulesValid",
                "every schedule parses".into(),
            ));
            if let Some(next) = schedule.as_ref().and_then(|s| s.next.as_ref()) {
                let until = next.0.duration_since(k8s_openapi::jiff::Timestamp::now());
                let until = Duration::try_from(until).unwrap_or_default() + Duration::from_secs(1);
                step.wake_in(until);
            }
        }
    }

    let first_install = previous_status.last_lifecycle_image.is_none();
    let upgrade = previous_status
        .last_lifecycle_image
        .as_ref()
        .filter(|last| **last != image)
        .cloned();
    let supervised = spec
        .lifecycle
        .as_deref()
        .is_some_and(|l| l.upgrade_mode == UpgradeMode::Supervised);
    if let Some(from) = &upgrade {
        let from_tag = tag_of(from).to_owned();
        let to_tag = tag_of(&image).to_owned();
        let token = approval_token(from, &image);
        let context = previous
            .upgrade
            .clone()
            .filter(|u| u.approval_token.as_deref() == Some(token.as_str()) || !supervised)
            .filter(|u| u.from_tag.as_deref() == Some(from_tag.as_str()))
            .filter(|u| u.to_tag.as_deref() == Some(to_tag.as_str()))
            .unwrap_or(UpgradeContext {
                from_tag: Some(from_tag.clone()),
                to_tag: Some(to_tag.clone()),
                started_at: Some(child::now()),
                approval_token: supervised.then(|| token.clone()),
            });
        step.lifecycle().upgrade = Some(context);
        let approval = superset.annotations().get(APPROVE_UPGRADE);
        if supervised && approval != Some(&token) {
            let stale = approval.is_some_and(|a| *a != token);
            let message = format!(
                "the upgrade from {from_tag} to {to_tag} waits for approval{}: kubectl annotate superset {name} -n {namespace} {APPROVE_UPGRADE}={token} --overwrite",
                if stale {
                    " (the annotation carries a token for another upgrade)"
                } else {
                    ""
                }
            );
            step.conditions
                .push(("LifecycleComplete", "False", "AwaitingApproval", message));
            step.lifecycle().phase = Some(LifecyclePhase::AwaitingApproval);
            step.phase = Some(SupersetPhase::AwaitingApproval);
            step.components = Components::Freeze;
            return Ok(step);
        }
    }

    // Which tasks are done: the live task completed for the checksum wanted now, or (when the
    // task resource is gone) the checksum recorded the last time it completed.
    let api: Api<SupersetLifecycleTask> = Api::namespaced(client.clone(), &namespace);
    let mut live = BTreeMap::new();
    for task in inputs.tasks {
        let task_name = task.task.metadata.name.clone().unwrap_or_default();
        let found = api
            .get_opt(&task_name)
            .await?
            .filter(|t| apply::control(Some(t), &inputs.owner.uid) == apply::Control::Ours);
        live.insert(task.task_type, found);
    }
    let done = |task: &ResolvedTask, status: Option<&SupersetLifecycleTaskStatus>| -> bool {
        let checksum = &task.task.spec.config_checksum;
        match status {
            Some(s) if s.config_checksum.as_ref() == Some(checksum) => {
                s.state == Some(TaskState::Complete)
            }
            _ => {
                previous
                    .last_completed_checksums
                    .get(key_of(task.task_type))
                    == Some(checksum)
            }
        }
    };
    let pending: Vec<&ResolvedTask> = inputs
        .tasks
        .iter()
        .filter(|t| {
            let status = live
                .get(&t.task_type)
                .and_then(|l| l.as_ref())
                .and_then(|l| l.status.as_ref());
            !done(t, status)
        })
        .collect();
    // Every task shows where it stands, also while the drain holds the pipeline.
    for task in inputs.tasks {
        let status = live
            .get(&task.task_type)
            .and_then(|l| l.as_ref())
            .and_then(|l| l.status.as_ref());
        project(&mut step, task, status, done(task, status));
    }
    let running_phase = if upgrade.is_some() {
        SupersetPhase::Upgrading
    } else {
        SupersetPhase::Initializing
    };

    if !pending.is_empty() {
        step.phase = Some(running_phase);
        step.components = Components::Freeze;
        // Status alone cannot tell a first install: it may have been lost (a restore from a
        // backup, a crash between applying the components and writing status). Components
        // that are live are drained whatever status says.
        let needs_drain = pending.iter().any(|t| t.requires_drain)
            && (!first_install || components_live(client, &namespace, &name).await?);
        if needs_drain {
            let drained = drain(client, &inputs, &mut step).await?;
            if !drained {
                return Ok(step);
            }
        }
    }

    // Run the tasks in order; the first that is not complete holds the rest.
    let mut all_done = true;
    for (position, task) in inputs.tasks.iter().enumerate() {
        let key = key_of(task.task_type);
        let checksum = task.task.spec.config_checksum.clone();
        let mut current = live.get(&task.task_type).cloned().flatten();
        let status_now = current.as_ref().and_then(|t| t.status.clone());
        if done(task, status_now.as_ref()) {
            project(&mut step, task, status_now.as_ref(), true);
            step.lifecycle()
                .last_completed_checksums
                .insert(key.to_owned(), checksum);
            continue;
        }
        all_done = false;
        // A later task still at work on an older spec (an init of the old image, retrying)
        // must not run again between this task's attempts: it is removed, and comes back with
        // the current spec when its turn comes. One with a running attempt is left to finish;
        // this task's attempts wait for it (the task controller holds them).
        for later in &inputs.tasks[position + 1..] {
            if let Some(resource) = live.get(&later.task_type).and_then(|l| l.as_ref())
                && stale_and_idle(later, resource)
            {
                apply::delete_exact(
                    &api,
                    &resource.name_any(),
                    &resource.uid().unwrap_or_default(),
                )
                .await?;
            }
        }
        current =
            Some(apply_task(client, inputs.caches, &namespace, &name, task, inputs.owner).await?);
        let status = current.as_ref().and_then(|t| t.status.clone());
        project(&mut step, task, status.as_ref(), false);
        step.lifecycle().phase = Some(phase_of(task.task_type));
        let state = status
            .as_ref()
            .filter(|s| s.config_checksum.as_ref() == Some(&checksum))
            .and_then(|s| s.state)
            .unwrap_or_default();
        let message = status
            .as_ref()
            .and_then(|s| s.message.clone())
            .unwrap_or_default();
        let attempts = status.as_ref().and_then(|s| s.attempts).unwrap_or(0);
        let max = task.task.spec.max_retries;
        match state {
            TaskState::Failed => {
                let text = format!("{key}: {message}");
                step.lifecycle().phase = Some(LifecyclePhase::Failed);
                step.phase = Some(SupersetPhase::Degraded);
                step.conditions
                    .push(("LifecycleComplete", "False", "TaskFailed", text.clone()));
                step.conditions.push((
                    "Degraded",
                    "True",
                    "TaskFailed",
                    format!("{text}; fix the cause and change the spec to run it again"),
                ));
            }
            TaskState::Pending if attempts > 0 => {
                let text = format!("{key}: attempt {attempts} of {max} failed: {message}");
                step.conditions
                    .push(("LifecycleComplete", "False", "TaskRetrying", text.clone()));
                step.conditions
                    .push(("Degraded", "True", "TaskRetrying", text));
            }
            _ => {
                let stuck = status.as_ref().and_then(|s| {
                    s.conditions
                        .iter()
                        .find(|c| c.type_ == "TaskCannotStart" && c.status == "True")
                });
                if let Some(stuck) = stuck {
                    let text = format!(
                        "{key}: the task pod cannot start: {}: {}",
                        stuck.reason, stuck.message
                    );
                    step.conditions.push((
                        "LifecycleComplete",
                        "False",
                        "TaskCannotStart",
                        text.clone(),
                    ));
                    step.conditions
                        .push(("Degraded", "True", "TaskCannotStart", text));
                } else {
                    let message = if attempts == 0 {
                        format!("{key} is starting")
                    } else {
                        format!("{key} is running (attempt {attempts} of {max})")
                    };
                    step.conditions
                        .push(("LifecycleComplete", "False", "TaskInProgress", message));
                }
            }
        }
        break;
    }
    if !all_done {
        return Ok(step);
    }

    // Every task is complete for what the spec asks now.
    step.tasks_done = true;
    step.components = Components::Apply;
    step.phase = None;
    step.last_image = Some(image);
    step.consume_approval = superset.annotations().contains_key(APPROVE_UPGRADE);
    Ok(step)
}

/// Whether any component of the instance is live: a child, or a pod that is not a task's or the
/// maintenance page's.
async fn components_live(client: &Client, namespace: &str, parent: &str) -> Result<bool, Error> {
    for component in Component::ALL {
        if crate::parent::read_child(client, namespace, parent, component)
            .await?
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(component_pods(client, namespace, parent).await? > 0)
}

/// How many pods of the instance's components are left (task and maintenance pods aside).
async fn component_pods(client: &Client, namespace: &str, parent: &str) -> Result<usize, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    Ok(pods
        .list(&ListParams::default().labels(&format!("{}={parent}", labels::PARENT)))
        .await?
        .items
        .into_iter()
        .filter(|pod| {
            let labels = pod.labels();
            !labels.contains_key(labels::TASK)
                && labels.get(labels::COMPONENT).map(String::as_str)
                    != Some(labels::MAINTENANCE_COMPONENT)
        })
        .count())
}

/// Whether a task resource works on a spec other than the one wanted now and has no attempt
/// running.
fn stale_and_idle(wanted: &ResolvedTask, live: &SupersetLifecycleTask) -> bool {
    let status = live.status.clone().unwrap_or_default();
    let stale = live.spec.config_checksum != wanted.task.spec.config_checksum
        || status.config_checksum.as_ref() != Some(&wanted.task.spec.config_checksum);
    stale && status.state != Some(TaskState::Running)
}

/// Stops the components for a task that needs them gone: the maintenance page first (when
/// configured and a web server is there to stand in for), then the children, then a wait until
/// no pod of the instance is left. Returns whether the instance is drained.
async fn drain(client: &Client, inputs: &Inputs<'_>, step: &mut Step) -> Result<bool, Error> {
    let superset = inputs.superset;
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let name = superset.name_any();
    step.lifecycle().phase = Some(LifecyclePhase::Draining);
    step.conditions.push((
        "LifecycleComplete",
        "False",
        "Draining",
        "components are stopped before a task that needs them gone".into(),
    ));
    let page = superset
        .spec
        .lifecycle
        .as_deref()
        .and_then(|l| l.maintenance_page.as_ref())
        .filter(|_| superset.spec.web_server.is_some());
    // Children are read only here, while a drain is wanted, not on every pass.
    let mut children = Vec::new();
    for component in Component::ALL {
        if crate::parent::read_child(client, &namespace, &name, component)
            .await?
            .is_some()
        {
            children.push(component);
        }
    }
    if let Some((page, port)) = page.zip(inputs.web_port)
        && children.contains(&Component::WebServer)
        && !inputs.maintenance_live
    {
        let ready =
            ensure_maintenance_page(client, inputs.caches, superset, inputs.owner, page, port)
                .await?;
        if !ready {
            // Components keep serving until the page can take over.
            step.wake_in(POLL);
            return Ok(false);
        }
        step.maintenance = true;
        step.lifecycle().maintenance_active = Some(true);
    }
    step.components = Components::Drain;
    if !children.is_empty() {
        step.wake_in(POLL);
        return Ok(false);
    }
    let left = component_pods(client, &namespace, &name).await?;
    if left > 0 {
        step.conditions.push((
            "LifecycleComplete",
            "False",
            "Draining",
            format!("waiting for {left} component pod(s) to stop"),
        ));
        step.wake_in(POLL);
        return Ok(false);
    }
    Ok(true)
}

/// Applies the maintenance page and says whether a replica is ready.
async fn ensure_maintenance_page(
    client: &Client,
    caches: &Caches,
    superset: &Superset,
    owner: &OwnerReference,
    page: &superset_operator_api::superset::lifecycle::MaintenancePageSpec,
    port: i32,
) -> Result<bool, Error> {
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let name = superset.name_any();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let config_map =
        maintenance::config_map(&name, Some(&namespace), page, port).map(|cm| owned_by(cm, owner));
    sync(
        &config_maps,
        caches,
        &naming::maintenance_page_config_map(&name),
        &owner.uid,
        config_map,
    )
    .await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let desired = owned_by(
        maintenance::deployment(&name, Some(&namespace), page, port),
        owner,
    );
    sync(
        &deployments,
        caches,
        &naming::maintenance_page(&name),
        &owner.uid,
        Some(desired),
    )
    .await?;
    Ok(deployments
        .get_opt(&naming::maintenance_page(&name))
        .await?
        .and_then(|d| d.status)
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
        > 0)
}

/// Removes the maintenance page's Deployment and ConfigMap.
pub async fn remove_maintenance_page(
    client: &Client,
    caches: &Caches,
    namespace: &str,
    parent: &str,
    owner_uid: &str,
) -> Result<(), Error> {
    sync::<Deployment>(
        &Api::namespaced(client.clone(), namespace),
        caches,
        &naming::maintenance_page(parent),
        owner_uid,
        None,
    )
    .await?;
    sync::<ConfigMap>(
        &Api::namespaced(client.clone(), namespace),
        caches,
        &naming::maintenance_page_config_map(parent),
        owner_uid,
        None,
    )
    .await
}

/// Writes the task's ConfigMap, then the task, and returns the task as it stands. The spec is
/// applied on every pass, so a changed checksum or pod setting reaches a task that has not
/// completed; a completed task is not touched.
async fn apply_task(
    client: &Client,
    caches: &Caches,
    namespace: &str,
    parent: &str,
    task: &ResolvedTask,
    owner: &OwnerReference,
) -> Result<SupersetLifecycleTask, Error> {
    let name = task.task.metadata.name.clone().unwrap_or_default();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let config_map = task.config_map.clone().map(|cm| owned_by(cm, owner));
    sync(
        &config_maps,
        caches,
        &naming::task_config_map(parent, task.task_type),
        &owner.uid,
        config_map,
    )
    .await?;
    let api: Api<SupersetLifecycleTask> = Api::namespaced(client.clone(), namespace);
    let live = api.get_opt(&name).await?;
    let desired = owned_by(task.task.clone(), owner);
    match apply::control(live.as_ref(), &owner.uid) {
        apply::Control::Absent | apply::Control::Ours => {
            Ok(apply::apply(&api, &desired, live).await?)
        }
        apply::Control::Unowned => Err(child::name_taken::<SupersetLifecycleTask>(&name, None)),
        apply::Control::Foreign(controller) => Err(child::name_taken::<SupersetLifecycleTask>(
            &name,
            Some(controller),
        )),
    }
}

/// Deletes the task resources and ConfigMaps of tasks that are not enabled. Two list calls find
/// them, whatever the number of tasks.
async fn remove_tasks_not_enabled(
    client: &Client,
    namespace: &str,
    parent: &str,
    owner_uid: &str,
    enabled: &[ResolvedTask],
) -> Result<(), Error> {
    let selector = format!("{}={parent},{}", labels::PARENT, labels::TASK);
    let wanted = |object_labels: &BTreeMap<String, String>| {
        object_labels
            .get(labels::TASK)
            .is_some_and(|task| enabled.iter().any(|t| t.task_type.suffix() == task))
    };
    let tasks: Api<SupersetLifecycleTask> = Api::namespaced(client.clone(), namespace);
    for task in tasks
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
    {
        if !wanted(task.labels()) && apply::control(Some(&task), owner_uid) == apply::Control::Ours
        {
            apply::delete_exact(&tasks, &task.name_any(), &task.uid().unwrap_or_default()).await?;
        }
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for map in config_maps
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
    {
        if !wanted(map.labels()) && apply::control(Some(&map), owner_uid) == apply::Control::Ours {
            apply::delete_exact(
                &config_maps,
                &map.name_any(),
                &map.uid().unwrap_or_default(),
            )
            .await?;
        }
    }
    Ok(())
}

/// Copies what the task reports into `status.lifecycle`.
fn project(
    step: &mut Step,
    task: &ResolvedTask,
    status: Option<&SupersetLifecycleTaskStatus>,
    done: bool,
) {
    let checksum = &task.task.spec.config_checksum;
    let current = status.filter(|s| s.config_checksum.as_ref() == Some(checksum));
    let previous = slot(step.lifecycle(), task.task_type).clone();
    let projected = match current {
        Some(s) => TaskRefStatus {
            state: s.state.unwrap_or_default(),
            started_at: s.started_at.clone(),
            completed_at: s.completed_at.clone(),
            duration: s.duration.clone(),
            attempts: s.attempts,
            pod_name: s.pod_name.clone(),
            image: s.image.clone(),
            message: s.message.clone(),
            next_attempt_at: s.next_attempt_at.clone(),
            last_scheduled_at: None,
            next_schedule_at: None,
        },
        // Complete by the recorded checksum, its resource gone: keep what was shown.
        None if done => TaskRefStatus {
            state: TaskState::Complete,
            ..previous.unwrap_or_default()
        },
        None => TaskRefStatus::default(),
    };
    *slot(step.lifecycle(), task.task_type) = Some(projected);
}

/// Adds the schedule to the seed's projection.
pub fn project_schedule(status: &mut LifecycleStatus, schedule: &SeedSchedule) {
    if let Some(seed) = status.seed.as_mut() {
        seed.last_scheduled_at = schedule.tick.clone();
        seed.next_schedule_at = schedule.next.clone();
    }
}

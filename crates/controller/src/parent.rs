//! The `Superset` controller: resolves the parent into its children and the objects it owns
//! itself (ConfigMaps, the web server's Service, the ServiceAccount), removes what a removed
//! component leaves behind, and aggregates the children's status.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};
use kube::api::{ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use superset_operator_api::children::ComponentChildStatus;
use superset_operator_api::superset::status::{
    ComponentStatus, LifecyclePhase, SupersetPhase, SupersetStatus,
};
use superset_operator_api::{
    Superset, SupersetCeleryBeat, SupersetCeleryFlower, SupersetCeleryWorker,
    SupersetLifecycleTask, SupersetMcpServer, SupersetWebServer, SupersetWebsocketServer,
};
use superset_operator_render::checksum::DataKey;
use superset_operator_render::lifecycle::APPROVE_UPGRADE;
use superset_operator_render::references::{self, Reference};
use superset_operator_render::secret_key;
use superset_operator_render::versions;
use superset_operator_render::{
    Child, Component, ResolveOptions, Resolved, labels, naming, networking, resolve, resolve_with,
    workload,
};

use crate::apply::{self, FIELD_MANAGER, owned_by, owner_reference};
use crate::child::{ComponentChild, name_taken, sync, sync_live};
use crate::decode::Lenient;
use crate::report::without_reports;
use crate::retry::{Retries, guarded};
use crate::watch::Caches;
use crate::{Error, Scope, Tuning, conditions, events, lifecycle, metrics, watch};

struct Context {
    client: Client,
    data_key: DataKey,
    kinds: Discovered,
    caches: Caches,
    retries: Retries,
}

/// What discovery last said about each optional kind, and when. Asking on every reconcile
/// costs requests per kind per pass; CRDs come and go far more rarely than that.
#[derive(Default)]
struct Discovered(Mutex<HashMap<GroupVersionKind, (Instant, Option<ApiResource>)>>);

/// How long an installed kind is taken as installed.
const FOUND_FOR: Duration = Duration::from_secs(60);
/// How long a missing kind is taken as missing: less than [`OPTIONAL_KIND_RETRY`], so that
/// the re-check of a Superset waiting for a CRD asks the API server again.
const MISSING_FOR: Duration = Duration::from_secs(10);

impl Discovered {
    /// The kind's resource when its CRD is installed, from discovery at most [`FOUND_FOR`]
    /// (or [`MISSING_FOR`]) ago.
    async fn resource(&self, client: &Client, gvk: &GroupVersionKind) -> Option<ApiResource> {
        let known = self.0.lock().expect("not poisoned").get(gvk).cloned();
        if let Some((at, resource)) = known {
            let valid_for = if resource.is_some() {
                FOUND_FOR
            } else {
                MISSING_FOR
            };
            if at.elapsed() < valid_for {
                return resource;
            }
        }
        let resource = kube::discovery::pinned_kind(client, gvk)
            .await
            .ok()
            .map(|(resource, _)| resource);
        self.0
            .lock()
            .expect("not poisoned")
            .insert(gvk.clone(), (Instant::now(), resource.clone()));
        resource
    }

    /// Forgets what is known of `gvk`, after a request for it failed.
    fn forget(&self, gvk: &GroupVersionKind) {
        self.0.lock().expect("not poisoned").remove(gvk);
    }
}

/// Runs the `Superset` controller until the stream ends, hashing secret data with `data_key`.
pub async fn run(client: Client, scope: Scope, tuning: Tuning, data_key: DataKey) {
    let api: Api<Lenient<Superset>> = scope.api(&client);
    let config = watch::config;
    let mut controller = watch::controller(api, config(), tuning);
    // Kinds of other projects are watched when their CRDs are installed at start-up; one that
    // appears later is created by the periodic re-check, and watched after a restart.
    let kinds = Discovered::default();
    for gvk in optional_kinds() {
        if let Some(resource) = kinds.resource(&client, &gvk).await {
            let api = match &scope {
                Scope::All => Api::<DynamicObject>::all_with(client.clone(), &resource),
                Scope::Namespace(namespace) => {
                    Api::namespaced_with(client.clone(), namespace, &resource)
                }
            };
            controller = controller.owns_with(api, resource, config());
        }
    }
    let for_secrets = Readers::new(controller.store());
    let for_config_maps = for_secrets.clone();
    let mut caches = Caches::default();
    // Owned kinds whose watches also tell reconciles what need not be read again.
    macro_rules! known {
        ($kind:ty) => {
            watch::known_changes::<$kind>(&client, &scope, config(), &mut caches)
        };
    }
    tokio::spawn(forget_deleted_instances(controller.store()));
    controller
        .watches_stream(
            watch::changes::<Secret>(&client, &scope, config()),
            move |secret| for_secrets.of(&Reference::Secret(secret.name_any()), secret.namespace()),
        )
        // One watch of ConfigMaps serves both the ones the parent owns and the ones its pods
        // read.
        .watches_stream(known!(ConfigMap), move |map| {
            let mut supersets =
                for_config_maps.of(&Reference::ConfigMap(map.name_any()), map.namespace());
            supersets.extend(owners(&map.metadata));
            supersets
        })
        .owns_stream(known!(SupersetWebServer))
        .owns_stream(known!(SupersetCeleryWorker))
        .owns_stream(known!(SupersetCeleryBeat))
        .owns_stream(known!(SupersetCeleryFlower))
        .owns_stream(known!(SupersetMcpServer))
        .owns_stream(known!(SupersetWebsocketServer))
        .owns_stream(known!(Service))
        .owns_stream(known!(ServiceAccount))
        .owns_stream(known!(Ingress))
        .owns_stream(known!(NetworkPolicy))
        .owns_stream(watch::changes::<SupersetLifecycleTask>(
            &client,
            &scope,
            config(),
        ))
        // Only the maintenance page's Deployments are the parent's own; the components' are
        // left to their controllers' watches.
        .owns_stream(watch::known_changes::<Deployment>(
            &client,
            &scope,
            config().labels(&labels::component_query(labels::MAINTENANCE_COMPONENT)),
            &mut caches,
        ))
        .run(
            |superset, ctx| {
                metrics::measure("superset", async move {
                    guarded(&ctx.client, &ctx.retries, &superset, |valid| {
                        reconcile(valid, &ctx)
                    })
                    .await
                })
            },
            error_policy,
            Arc::new(Context {
                client,
                data_key,
                kinds,
                caches,
                retries: Retries::default(),
            }),
        )
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "Superset reconcile failed");
            }
        })
        .await;
}

/// Drops the metrics of Supersets that are gone, which no reconcile would otherwise notice.
async fn forget_deleted_instances(store: Store<Lenient<Superset>>) {
    loop {
        tokio::time::sleep(Duration::from_secs(30)).await;
        let live = store
            .state()
            .iter()
            .map(|s| (s.namespace().unwrap_or_default(), s.name_any()))
            .collect();
        metrics::forget_instances_except(&live);
    }
}

/// The Supersets among the owners of an object, as `owns_stream` finds them.
fn owners(meta: &ObjectMeta) -> impl Iterator<Item = ObjectRef<Lenient<Superset>>> + '_ {
    meta.owner_references
        .iter()
        .flatten()
        .filter_map(|owner| ObjectRef::from_owner_ref(meta.namespace.as_deref(), owner, ()))
}

/// Which Secrets and ConfigMaps the pods of each Superset read, to find the Supersets a change
/// of one concerns. Every such change is matched against every Superset of its namespace, so
/// what each reads is resolved once per generation: resolving them all again for each event
/// made the operator's CPU time grow with the square of the number of instances.
#[derive(Clone)]
struct Readers {
    supersets: Store<Lenient<Superset>>,
    read: Arc<Mutex<ReadMemo>>,
}

/// By Superset UID: the generation resolved, and what its pods read then.
type ReadMemo = HashMap<String, (Option<i64>, Arc<BTreeSet<Reference>>)>;

impl Readers {
    fn new(supersets: Store<Lenient<Superset>>) -> Self {
        Readers {
            supersets,
            read: Arc::default(),
        }
    }

    /// The Supersets in `namespace` whose pods read `reference`.
    fn of(
        &self,
        reference: &Reference,
        namespace: Option<String>,
    ) -> Vec<ObjectRef<Lenient<Superset>>> {
        let supersets = self.supersets.state();
        let mut read = self.read.lock().expect("not poisoned");
        let found = supersets
            .iter()
            .filter(|superset| superset.namespace() == namespace)
            .filter(|superset| {
                superset
                    .valid()
                    .is_some_and(|valid| memoised_reads(&mut read, valid).contains(reference))
            })
            .map(|superset| ObjectRef::from_obj(superset.as_ref()))
            .collect();
        // Drop what deleted Supersets read, once there is any.
        if read.len() > supersets.len() {
            let live: HashSet<String> = supersets.iter().filter_map(|s| s.uid()).collect();
            read.retain(|uid, _| live.contains(uid));
        }
        found
    }
}

/// What the pods of `superset` read, from `memo` while its generation is unchanged. One that
/// cannot be resolved reads nothing: its reconcile reports why.
fn memoised_reads(memo: &mut ReadMemo, superset: &Superset) -> Arc<BTreeSet<Reference>> {
    let generation = superset.metadata.generation;
    let Some(uid) = superset.uid() else {
        return Arc::default();
    };
    if let Some((resolved_at, read)) = memo.get(&uid)
        && *resolved_at == generation
    {
        return read.clone();
    }
    let read = Arc::new(
        resolve(superset)
            .map(|resolved| reads(superset, &resolved))
            .unwrap_or_default(),
    );
    memo.insert(uid, (generation, read.clone()));
    read
}

/// What a Superset's pass reads: the Secrets and ConfigMaps its components read, and the
/// Secrets of both secret keys (the previous one only the rotate task reads).
fn reads(superset: &Superset, resolved: &Resolved) -> BTreeSet<Reference> {
    let mut read = references::read_by_any(&superset.name_any(), resolved);
    read.extend(secret_key::references(&superset.spec));
    read
}

/// The data of every Secret and ConfigMap the components read, each fetched once however many
/// components read it. It lives only for one pass: only its hash is kept.
async fn referenced_data(
    client: &Client,
    namespace: &str,
    references: BTreeSet<Reference>,
) -> Result<BTreeMap<Reference, Value>, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut data = BTreeMap::new();
    for reference in references {
        let value = match &reference {
            Reference::Secret(name) => {
                references::secret_data(secrets.get_opt(name).await?.as_ref())
            }
            Reference::ConfigMap(name) => {
                references::config_map_data(config_maps.get_opt(name).await?.as_ref())
            }
        };
        data.insert(reference, value);
    }
    Ok(data)
}

fn error_policy(superset: Arc<Lenient<Superset>>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.retries.after_failure(superset.as_ref(), error)
}

async fn reconcile(superset: &Superset, ctx: &Context) -> Result<Action, Error> {
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let name = superset.name_any();
    let uid = superset.uid().ok_or(Error::MissingIdentity)?;
    let client = &ctx.client;
    let caches = &ctx.caches;

    if superset.spec.suspend == Some(true) {
        // Nothing is written but status, which keeps following the children.
        let mut statuses = BTreeMap::new();
        for component in resolve(superset)?.components {
            statuses.insert(
                component.component,
                read_child(client, &namespace, &name, component.component)
                    .await?
                    .flatten(),
            );
        }
        let status = suspended_status(superset, aggregate(superset, &statuses, &[], false));
        write_status(client, superset, status).await?;
        return Ok(Action::await_change());
    }

    let schedule = lifecycle::seed_schedule(&superset.spec);
    let options = ResolveOptions {
        seed_tick: schedule
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref())
            .and_then(|s| s.tick.as_ref())
            .map(|t| t.0.to_string()),
    };
    let mut resolved = resolve_with(superset, &options)?;
    let data = referenced_data(client, &namespace, reads(superset, &resolved)).await?;
    references::fold_read_data(&name, &mut resolved, &ctx.data_key, |reference| {
        data.get(reference).cloned().unwrap_or_default()
    });
    let keys = secret_key::keys(&superset.spec, &uid, |reference| {
        data.get(reference).cloned().unwrap_or_default()
    });
    secret_key::fold_into_rotate(&mut resolved, &keys);
    let recorded_key = superset
        .status
        .as_ref()
        .and_then(|s| s.secret_key_fingerprint.clone());
    let verdict = secret_key::judge(
        recorded_key.as_deref(),
        &keys,
        resolved
            .tasks
            .iter()
            .any(|t| t.task_type == superset_operator_api::task::TaskType::Rotate),
        superset
            .annotations()
            .get(secret_key::ACCEPT)
            .map(String::as_str),
        &name,
    );
    if let secret_key::Verdict::Refuse(message) = verdict {
        return refuse_new_key(client, superset, &resolved, message).await;
    }
    let owner = owner_reference(superset);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);

    reconcile_service_account(client, caches, superset, &owner).await?;

    let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
    let web_service_name = naming::workload(&name, Component::WebServer);
    let maintenance_selector = labels::maintenance_selector(&name);
    let live_service = services.get_opt(&web_service_name).await?;
    let maintenance_live = live_service
        .as_ref()
        .filter(|s| apply::control(Some(*s), &uid) == apply::Control::Ours)
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|selector| *selector == maintenance_selector);
    let web_port = resolved
        .components
        .iter()
        .find(|c| c.component == Component::WebServer)
        .and_then(|web| web.serving_port());
    let step = lifecycle::step(
        client,
        lifecycle::Inputs {
            superset,
            tasks: &resolved.tasks,
            owner: &owner,
            schedule: &schedule,
            maintenance_live,
            web_port,
            caches,
        },
    )
    .await?;

    // The Service moves to the maintenance page before any component is removed, and back
    // only once a web server pod is ready, so it never points at nothing.
    let web_service = |to_maintenance: bool| {
        web_service(superset, &resolved, &owner).map(|mut service| {
            if to_maintenance && let Some(spec) = service.spec.as_mut() {
                spec.selector = Some(maintenance_selector.clone());
            }
            service
        })
    };
    sync_live(
        &services,
        caches,
        &web_service_name,
        &uid,
        web_service(step.maintenance),
        live_service,
    )
    .await?;

    let mut statuses = BTreeMap::new();
    match step.components {
        lifecycle::Components::Apply => {
            for component in &resolved.components {
                // ConfigMaps first: a pod template never points at a ConfigMap not there yet.
                let config_map_name = naming::component_config_map(&name, component.component);
                let config_map = component.config_map.clone().map(|cm| owned_by(cm, &owner));
                // A ConfigMap someone else holds at this name would be mounted as the
                // component's code. One that replaced ours (the component runs) is removed and
                // ours comes back; one that was there first holds the component back, and the
                // others go on.
                let mut synced = sync(
                    &config_maps,
                    caches,
                    &config_map_name,
                    &uid,
                    config_map.clone(),
                )
                .await;
                if matches!(synced, Err(Error::NameTaken { .. }))
                    && read_child(client, &namespace, &name, component.component)
                        .await?
                        .is_some()
                {
                    remove_impostor(&config_maps, &config_map_name).await?;
                    synced = sync(&config_maps, caches, &config_map_name, &uid, config_map).await;
                }
                let status = match synced {
                    Err(taken @ Error::NameTaken { .. }) => Some(held_back(&taken, superset)),
                    other => {
                        other?;
                        apply_child(client, &namespace, &component.child, &owner).await?
                    }
                };
                statuses.insert(component.component, status);
            }
        }
        lifecycle::Components::Freeze => {
            for component in &resolved.components {
                let status = read_child(client, &namespace, &name, component.component)
                    .await?
                    .flatten();
                statuses.insert(component.component, status);
            }
        }
        lifecycle::Components::Drain => {
            for component in Component::ALL {
                remove_child(client, caches, &namespace, &name, &uid, component).await?;
            }
            for component in &resolved.components {
                statuses.insert(component.component, None);
            }
        }
    }
    for component in Component::ALL {
        if resolved.components.iter().all(|c| c.component != component) {
            remove_component(client, caches, &namespace, &name, &uid, component).await?;
        }
    }

    let mut maintenance_on = step.maintenance;
    let mut requeue = step.requeue;
    // The other object's removal wakes nothing: a held-back component is looked at again.
    if statuses.values().flatten().any(|s| {
        s.conditions
            .iter()
            .any(|c| c.reason == "ManagedNameTaken" && c.type_ == "Ready")
    }) {
        requeue = Some(requeue.map_or(NAME_TAKEN_RETRY, |r| r.min(NAME_TAKEN_RETRY)));
    }
    if step.tasks_done && maintenance_on {
        if web_capacity_restored(&resolved, &statuses) != Some(false) {
            sync(
                &services,
                caches,
                &web_service_name,
                &uid,
                web_service(false),
            )
            .await?;
            maintenance_on = false;
        } else {
            requeue = Some(requeue.map_or(lifecycle::POLL, |r| r.min(lifecycle::POLL)));
        }
    }
    if !maintenance_on && (step.tasks_done || step.remove_maintenance) {
        lifecycle::remove_maintenance_page(client, caches, &namespace, &name, &uid).await?;
    }

    reconcile_networking(client, caches, superset, &resolved, &owner).await?;
    let optional =
        reconcile_optional_kinds(client, &ctx.kinds, superset, &resolved, &owner).await?;

    let mut extra = optional.conditions.clone();
    extra.push(version_condition(superset));
    metrics::version_supported(
        &namespace,
        &name,
        extra.last().is_some_and(|c| c.1 == "True"),
    );
    // Applied in full: the children carry this generation's spec and their controllers have
    // applied it to the Deployments.
    let applied = step.components == lifecycle::Components::Apply
        && statuses.values().all(|s| {
            s.as_ref().is_some_and(|s| {
                !s.conditions
                    .iter()
                    .any(|c| c.type_ == "Progressing" && c.reason == SPEC_NOT_OBSERVED)
            })
        });
    let mut status = aggregate(superset, &statuses, &extra, applied);
    if applied && keys.current.is_some() {
        status.secret_key_fingerprint = keys.current.clone();
    }
    let complete = finish_lifecycle(superset, &mut status, step, maintenance_on, &schedule);
    if complete && superset.annotations().contains_key(APPROVE_UPGRADE) {
        consume_approval(client, superset).await?;
    }
    metrics::lifecycle_phase(
        &namespace,
        &name,
        status.lifecycle.as_ref().and_then(|l| l.phase),
    );
    write_status(client, superset, status).await?;
    // A wanted kind whose CRD is not installed yet is looked for again later.
    if optional.missing {
        requeue = Some(requeue.map_or(OPTIONAL_KIND_RETRY, |r| r.min(OPTIONAL_KIND_RETRY)));
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// A pass that found a new secret key nothing re-encrypts for: nothing is applied and no task
/// runs; the status says why and what to do. A change of the Superset or of the Secret wakes
/// it again.
async fn refuse_new_key(
    client: &Client,
    superset: &Superset,
    resolved: &Resolved,
    message: String,
) -> Result<Action, Error> {
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let name = superset.name_any();
    let mut statuses = BTreeMap::new();
    for component in &resolved.components {
        let status = read_child(client, &namespace, &name, component.component).await?;
        statuses.insert(component.component, status.flatten());
    }
    let extra = [("Degraded", "True", "SecretKeyChanged", message)];
    let mut status = aggregate(superset, &statuses, &extra, false);
    status.phase = Some(SupersetPhase::Blocked);
    write_status(client, superset, status).await?;
    Ok(Action::await_change())
}

/// Deletes the object at `name`, which another than the operator put in place of the
/// operator's own.
async fn remove_impostor(api: &Api<ConfigMap>, name: &str) -> Result<(), Error> {
    if let Some(impostor) = api.get_opt(name).await? {
        apply::delete_exact(api, name, &impostor.uid().unwrap_or_default()).await?;
    }
    Ok(())
}

/// The status of a component held back because a name it needs is taken: not ready, for the
/// reason `taken` gives.
fn held_back(taken: &Error, superset: &Superset) -> ComponentChildStatus {
    let ready = conditions::set(
        &[],
        "Ready",
        "False",
        taken.reason(),
        &taken.message(),
        superset.meta().generation,
    );
    ComponentChildStatus {
        conditions: vec![ready],
        ..Default::default()
    }
}

/// Whether the web server, back after a drain, runs the capacity its spec asks for: as many
/// ready replicas as `replicas`, or as the autoscaler's minimum (the Deployment restarts at one
/// replica until the autoscaler acts). Its Service leaves the maintenance page only then, so the
/// traffic of a whole instance never lands on its first ready pod. `None` without a web server.
fn web_capacity_restored(
    resolved: &Resolved,
    statuses: &BTreeMap<Component, Option<ComponentChildStatus>>,
) -> Option<bool> {
    let web = resolved
        .components
        .iter()
        .find(|c| c.component == Component::WebServer)?;
    let flat = web.child.flat();
    let wanted = flat
        .autoscaling
        .as_ref()
        .map_or(flat.replicas, |a| a.min_replicas.unwrap_or(1));
    let status = statuses.get(&Component::WebServer).cloned().flatten();
    let ready = status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    let desired = status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    Some(ready > 0 && ready >= wanted.max(desired) || wanted == 0)
}

/// `VersionSupported`: whether the image tag is a Superset version the operator supports.
fn version_condition(superset: &Superset) -> (&'static str, &'static str, &'static str, String) {
    let tag = &superset.spec.image.tag;
    let declared = superset
        .annotations()
        .get(versions::DECLARED_SUPPORTED)
        .is_some_and(|v| v == "true");
    let range = versions::describe_range();
    let (status, reason, message) = match versions::support(tag, declared) {
        versions::Support::Supported(v) => (
            "True",
            "Supported",
            format!("Superset {v} is supported ({range})"),
        ),
        versions::Support::Declared => (
            "True",
            "DeclaredSupported",
            format!(
                "the image is declared supported by the {} annotation",
                versions::DECLARED_SUPPORTED
            ),
        ),
        versions::Support::BelowMinimum(v) => (
            "False",
            "BelowMinimum",
            format!(
                "Superset {v} is older than the supported range ({range}); it is reconciled, but the rendered configuration was not made for it"
            ),
        ),
        versions::Support::AboveMaximum(v) => (
            "False",
            "AboveMaximum",
            format!(
                "Superset {v} is newer than the supported range ({range}); it is reconciled, but the rendered configuration was not checked against it"
            ),
        ),
        versions::Support::Unparseable => (
            "False",
            "Unparseable",
            format!(
                "the image tag {tag:?} is not a Superset version; pin a version tag, or declare a custom image supported with the annotation {}: \"true\"",
                versions::DECLARED_SUPPORTED
            ),
        ),
    };
    ("VersionSupported", status, reason, message)
}

/// The web server's Service, owned by the parent so that it outlives the web server's child
/// during a drain.
fn web_service(
    superset: &Superset,
    resolved: &Resolved,
    owner: &OwnerReference,
) -> Option<Service> {
    let name = superset.name_any();
    let namespace = superset.namespace();
    let web = resolved
        .components
        .iter()
        .find(|c| c.component == Component::WebServer)?;
    let Child::WebServer(child) = &web.child else {
        return None;
    };
    let spec = child.spec.service.clone().unwrap_or_default();
    let service = workload::service(
        &name,
        namespace.as_deref(),
        Component::WebServer,
        &child.spec.component,
        &spec,
    );
    Some(owned_by(service, owner))
}

/// Folds the lifecycle step into the status, deciding between Restoring and Complete once every
/// task is done. Returns whether the pipeline is complete.
fn finish_lifecycle(
    superset: &Superset,
    status: &mut SupersetStatus,
    step: lifecycle::Step,
    maintenance_on: bool,
    schedule: &Result<Option<lifecycle::SeedSchedule>, String>,
) -> bool {
    let previous = superset.status.clone().unwrap_or_default();
    let previous_phase = previous.lifecycle.as_ref().and_then(|l| l.phase);
    let generation = superset.meta().generation;
    let mut wanted = step.conditions.clone();
    status.lifecycle = step.status.clone();
    status.last_lifecycle_image = step.last_image.clone();
    let mut complete = false;
    if let Some(lifecycle_status) = status.lifecycle.as_mut() {
        lifecycle_status.maintenance_active = Some(maintenance_on);
        if let Ok(Some(schedule)) = schedule {
            lifecycle::project_schedule(lifecycle_status, schedule);
        }
        if step.tasks_done {
            let available = conditions::is_true(&status.conditions, "Available");
            let restoring =
                maintenance_on || (lifecycle::in_progress(previous_phase) && !available);
            if restoring {
                lifecycle_status.phase = Some(LifecyclePhase::Restoring);
                status.phase = Some(if lifecycle_status.upgrade.is_some() {
                    SupersetPhase::Upgrading
                } else {
                    SupersetPhase::Initializing
                });
                wanted.push((
                    "LifecycleComplete",
                    "False",
                    "Restoring",
                    "every task is complete; components are starting again".into(),
                ));
                if !conditions::is_true(&status.conditions, "Available") {
                    wanted.push((
                        "Available",
                        "False",
                        "Restoring",
                        "components are starting after the lifecycle tasks".into(),
                    ));
                }
            } else {
                complete = true;
                lifecycle_status.phase = Some(LifecyclePhase::Complete);
                lifecycle_status.upgrade = None;
                wanted.push((
                    "LifecycleComplete",
                    "True",
                    "LifecycleComplete",
                    "every lifecycle task is complete".into(),
                ));
            }
        }
    }
    if !step.tasks_done
        && let Some(phase) = step.phase
    {
        status.phase = Some(phase);
        if !conditions::is_true(&status.conditions, "Available") {
            wanted.push((
                "Available",
                "False",
                "WaitingForLifecycle",
                "components start once every lifecycle task is complete".into(),
            ));
        }
    }
    if status.lifecycle.is_some() {
        wanted.push(if maintenance_on {
            (
                "MaintenanceActive",
                "True",
                "MaintenancePageServing",
                "the web server's Service points at the maintenance page".into(),
            )
        } else {
            (
                "MaintenanceActive",
                "False",
                "WebServerServing",
                "the web server's Service points at the web server".into(),
            )
        });
    }
    for (type_, state, reason, message) in wanted {
        let condition = conditions::set(
            &previous.conditions,
            type_,
            state,
            reason,
            &message,
            generation,
        );
        status.conditions = conditions::upsert(&status.conditions, condition);
    }
    complete || status.lifecycle.is_none()
}

/// Removes the approval annotation once the upgrade it approved is complete, so it cannot
/// approve anything else.
async fn consume_approval(client: &Client, superset: &Superset) -> Result<(), Error> {
    let api: Api<Lenient<Superset>> = Api::namespaced(
        client.clone(),
        &superset.namespace().ok_or(Error::MissingIdentity)?,
    );
    let patch = json!({ "metadata": { "annotations": { APPROVE_UPGRADE: null } } });
    api.patch(
        &superset.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// The HTTPRoute and ServiceMonitor kinds, whose CRDs other projects install.
fn optional_kinds() -> [GroupVersionKind; 2] {
    [
        GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
    ]
}

/// How often a Superset with a component held back by a taken name looks again.
const NAME_TAKEN_RETRY: Duration = Duration::from_secs(10);

/// How often a Superset that wants a kind whose CRD is missing looks for it again.
const OPTIONAL_KIND_RETRY: Duration = Duration::from_secs(15);

/// Conditions about kinds that need CRDs of other projects (Gateway API, Prometheus Operator).
struct OptionalKinds {
    conditions: Vec<(&'static str, &'static str, &'static str, String)>,
    missing: bool,
}

/// The HTTPRoute and the ServiceMonitor, when asked for and when their CRDs are installed.
async fn reconcile_optional_kinds(
    client: &Client,
    kinds: &Discovered,
    superset: &Superset,
    resolved: &Resolved,
    owner: &OwnerReference,
) -> Result<OptionalKinds, Error> {
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let name = superset.name_any();
    let spec = &superset.spec;
    let route = spec
        .networking
        .as_ref()
        .and_then(|n| n.gateway.as_ref())
        .map(|gateway| {
            networking::http_route(
                &name,
                &namespace,
                gateway,
                &networking::routes(spec, &name, resolved),
            )
        });
    let monitor = spec
        .monitoring
        .as_ref()
        .and_then(|m| m.service_monitor.as_ref())
        .map(|monitor| networking::service_monitor(&name, &namespace, monitor));
    let mut optional = OptionalKinds {
        conditions: Vec::new(),
        missing: false,
    };
    let [route_kind, monitor_kind] = optional_kinds();
    for (condition, gvk, desired) in [
        ("RouteReady", route_kind, route),
        ("MonitoringReady", monitor_kind, monitor),
    ] {
        let resource = match kinds.resource(client, &gvk).await {
            Some(resource) => resource,
            None if desired.is_some() => {
                let message = format!(
                    "the {} CRD ({}) is not installed; it is created once the CRD appears",
                    gvk.kind, gvk.group
                );
                optional
                    .conditions
                    .push((condition, "False", "CRDMissing", message));
                optional.missing = true;
                continue;
            }
            None => continue,
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource);
        let live = api
            .get_opt(&name)
            .await
            .inspect_err(|_| kinds.forget(&gvk))?;
        match (apply::control(live.as_ref(), &owner.uid), desired) {
            (apply::Control::Absent | apply::Control::Ours, Some(mut desired)) => {
                desired["metadata"]["ownerReferences"] = serde_json::to_value(vec![owner])?;
                let desired: DynamicObject = serde_json::from_value(desired)?;
                apply::apply(&api, &desired, live)
                    .await
                    .inspect_err(|_| kinds.forget(&gvk))?;
                optional.conditions.push((
                    condition,
                    "True",
                    "Applied",
                    format!("{} {name} is applied", gvk.kind),
                ));
            }
            (apply::Control::Ours, None) => {
                let uid = live.and_then(|l| l.uid()).unwrap_or_default();
                apply::delete_exact(&api, &name, &uid)
                    .await
                    .inspect_err(|_| kinds.forget(&gvk))?;
            }
            (apply::Control::Foreign(other), Some(_)) => {
                optional.conditions.push((
                    condition,
                    "False",
                    "ManagedNameTaken",
                    format!(
                        "{} {name} is controlled by {other}; it is left alone",
                        gvk.kind
                    ),
                ));
            }
            (apply::Control::Unowned, Some(_)) => {
                optional.conditions.push((
                    condition,
                    "False",
                    "ManagedNameTaken",
                    format!(
                        "{} {name} exists and is not managed by this operator; it is left alone",
                        gvk.kind
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(optional)
}

/// The Ingress and the NetworkPolicies: applied while asked for, removed when not.
async fn reconcile_networking(
    client: &Client,
    caches: &Caches,
    superset: &Superset,
    resolved: &Resolved,
    owner: &OwnerReference,
) -> Result<(), Error> {
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let name = superset.name_any();
    let spec = &superset.spec;
    let owned = |mut meta: ObjectMeta| {
        meta.owner_references = Some(vec![owner.clone()]);
        meta
    };

    let ingress = spec
        .networking
        .as_ref()
        .and_then(|n| n.ingress.as_ref())
        .map(|ingress_spec| {
            let routes = networking::routes(spec, &name, resolved);
            let mut ingress = networking::ingress(&name, Some(&namespace), ingress_spec, &routes);
            ingress.metadata = owned(ingress.metadata);
            ingress
        });
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &namespace);
    sync(
        &ingresses,
        caches,
        &naming::route(&name),
        &owner.uid,
        ingress,
    )
    .await?;

    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &namespace);
    for component in Component::ALL {
        let resolved_component = resolved
            .components
            .iter()
            .find(|c| c.component == component);
        let policy = spec.network_policy.as_ref().zip(resolved_component).map(
            |(policy_spec, resolved_component)| {
                let mut policy = networking::network_policy(
                    &name,
                    Some(&namespace),
                    component,
                    resolved_component.serving_port(),
                    policy_spec,
                );
                policy.metadata = owned(policy.metadata);
                policy
            },
        );
        sync(
            &policies,
            caches,
            &naming::network_policy(&name, component),
            &owner.uid,
            policy,
        )
        .await?;
    }
    Ok(())
}

async fn reconcile_service_account(
    client: &Client,
    caches: &Caches,
    superset: &Superset,
    owner: &OwnerReference,
) -> Result<(), Error> {
    let spec = superset.spec.service_account.clone().unwrap_or_default();
    if spec.create == Some(false) {
        return Ok(());
    }
    let name = spec.name.clone().unwrap_or_else(|| superset.name_any());
    let namespace = superset.namespace().ok_or(Error::MissingIdentity)?;
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(BTreeMap::from([
                (labels::NAME.to_owned(), "superset".to_owned()),
                (labels::PARENT.to_owned(), superset.name_any()),
                (
                    labels::MANAGED_BY.to_owned(),
                    "superset-operator".to_owned(),
                ),
            ])),
            annotations: (!spec.annotations.is_empty()).then_some(spec.annotations),
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    sync(&api, caches, &name, &owner.uid, Some(account)).await
}

async fn apply_typed<K: ComponentChild>(
    client: &Client,
    namespace: &str,
    child: &K,
    owner: &OwnerReference,
) -> Result<Option<ComponentChildStatus>, Error> {
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let mut desired = child.clone();
    desired.meta_mut().owner_references = Some(vec![owner.clone()]);
    let name = desired.name_any();
    let live = api.get_opt(&name).await?;
    match apply::control(live.as_ref(), &owner.uid) {
        apply::Control::Absent | apply::Control::Ours => {
            let applied = apply::apply(&api, &desired, live).await?;
            Ok(seen_status(&applied))
        }
        apply::Control::Unowned => Err(name_taken::<K>(&name, None)),
        apply::Control::Foreign(controller) => Err(name_taken::<K>(&name, Some(controller))),
    }
}

async fn apply_child(
    client: &Client,
    namespace: &str,
    child: &Child,
    owner: &OwnerReference,
) -> Result<Option<ComponentChildStatus>, Error> {
    match child {
        Child::WebServer(c) => apply_typed(client, namespace, c, owner).await,
        Child::CeleryWorker(c) => apply_typed(client, namespace, c, owner).await,
        Child::CeleryBeat(c) => apply_typed(client, namespace, c, owner).await,
        Child::CeleryFlower(c) => apply_typed(client, namespace, c, owner).await,
        Child::McpServer(c) => apply_typed(client, namespace, c, owner).await,
        Child::WebsocketServer(c) => apply_typed(client, namespace, c, owner).await,
    }
}

async fn remove_typed<K: ComponentChild>(
    client: &Client,
    caches: &Caches,
    namespace: &str,
    name: &str,
    owner_uid: &str,
) -> Result<(), Error> {
    sync::<K>(
        &Api::namespaced(client.clone(), namespace),
        caches,
        name,
        owner_uid,
        None,
    )
    .await
}

/// Removes a component's child and its ConfigMap, when they are ours.
async fn remove_component(
    client: &Client,
    caches: &Caches,
    namespace: &str,
    parent: &str,
    owner_uid: &str,
    component: Component,
) -> Result<(), Error> {
    remove_child(client, caches, namespace, parent, owner_uid, component).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    sync(
        &config_maps,
        caches,
        &naming::component_config_map(parent, component),
        owner_uid,
        None,
    )
    .await
}

/// Removes a component's child when it is ours; its Deployment and satellites follow by
/// garbage collection.
async fn remove_child(
    client: &Client,
    caches: &Caches,
    namespace: &str,
    parent: &str,
    owner_uid: &str,
    component: Component,
) -> Result<(), Error> {
    let child = naming::child(parent);
    match component {
        Component::WebServer => {
            remove_typed::<SupersetWebServer>(client, caches, namespace, &child, owner_uid).await?
        }
        Component::CeleryWorker => {
            remove_typed::<SupersetCeleryWorker>(client, caches, namespace, &child, owner_uid)
                .await?
        }
        Component::CeleryBeat => {
            remove_typed::<SupersetCeleryBeat>(client, caches, namespace, &child, owner_uid).await?
        }
        Component::CeleryFlower => {
            remove_typed::<SupersetCeleryFlower>(client, caches, namespace, &child, owner_uid)
                .await?
        }
        Component::McpServer => {
            remove_typed::<SupersetMcpServer>(client, caches, namespace, &child, owner_uid).await?
        }
        Component::WebsocketServer => {
            remove_typed::<SupersetWebsocketServer>(client, caches, namespace, &child, owner_uid)
                .await?
        }
    }
    Ok(())
}

fn suspended_status(superset: &Superset, mut status: SupersetStatus) -> SupersetStatus {
    let previous = superset.status.clone().unwrap_or_default();
    for (type_, state, message) in [
        (
            "Suspended",
            "True",
            "spec.suspend is true: nothing is written",
        ),
        (
            "Progressing",
            "False",
            "spec.suspend is true: nothing rolls out",
        ),
    ] {
        let condition = conditions::set(
            &previous.conditions,
            type_,
            state,
            "Suspended",
            message,
            superset.meta().generation,
        );
        status.conditions = conditions::upsert(&status.conditions, condition);
    }
    status.phase = Some(SupersetPhase::Suspended);
    status
}

/// The child of kind `K` named `name`, if it exists, with the status it reports.
async fn read_typed<K: ComponentChild>(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Option<ComponentChildStatus>>, Error> {
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    Ok(api.get_opt(name).await?.map(|child| seen_status(&child)))
}

/// The reason a child's status is read as progressing when its controller has not acted on its
/// current spec yet.
const SPEC_NOT_OBSERVED: &str = "SpecNotObserved";

/// The status a child reports, as the parent must read it: a status written before the child's
/// controller saw its current spec says nothing of that spec, so it counts as progressing.
fn seen_status<K: ComponentChild>(child: &K) -> Option<ComponentChildStatus> {
    let mut status = child.child_status().cloned()?;
    let generation = child.meta().generation;
    if status.observed_generation != generation {
        status.conditions = conditions::upsert(
            &status.conditions,
            conditions::set(
                &status.conditions,
                "Progressing",
                "True",
                SPEC_NOT_OBSERVED,
                "the child's controller has not acted on its current spec yet",
                generation,
            ),
        );
    }
    Some(status)
}

/// A component's child, if it exists, with the status it reports.
pub(crate) async fn read_child(
    client: &Client,
    namespace: &str,
    parent: &str,
    component: Component,
) -> Result<Option<Option<ComponentChildStatus>>, Error> {
    let name = naming::child(parent);
    match component {
        Component::WebServer => read_typed::<SupersetWebServer>(client, namespace, &name).await,
        Component::CeleryWorker => {
            read_typed::<SupersetCeleryWorker>(client, namespace, &name).await
        }
        Component::CeleryBeat => read_typed::<SupersetCeleryBeat>(client, namespace, &name).await,
        Component::CeleryFlower => {
            read_typed::<SupersetCeleryFlower>(client, namespace, &name).await
        }
        Component::McpServer => read_typed::<SupersetMcpServer>(client, namespace, &name).await,
        Component::WebsocketServer => {
            read_typed::<SupersetWebsocketServer>(client, namespace, &name).await
        }
    }
}

fn aggregate(
    superset: &Superset,
    statuses: &BTreeMap<Component, Option<ComponentChildStatus>>,
    extra: &[(&'static str, &'static str, &'static str, String)],
    applied: bool,
) -> SupersetStatus {
    let previous = superset.status.clone().unwrap_or_default();
    let generation = superset.meta().generation;
    let mut components = BTreeMap::new();
    let (mut ready, mut desired, mut all_ready) = (0, 0, true);
    for (component, status) in statuses {
        let status = status.clone().unwrap_or_default();
        let (r, d) = (
            status.ready_replicas.unwrap_or(0),
            status.replicas.unwrap_or(0),
        );
        ready += r;
        desired += d;
        all_ready &= status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        components.insert(
            component.field().to_owned(),
            ComponentStatus {
                ready: format!("{r}/{d}"),
                ref_: format!(
                    "{}/{}",
                    component.kind(),
                    naming::child(&superset.name_any())
                ),
                config_checksum: None,
                image: status.image.clone(),
            },
        );
    }
    let stopped = superset.spec.stop == Some(true);
    let replicas = format!("{ready}/{desired} replicas ready");
    let (available, reason, message) = if stopped {
        (
            "False",
            "Stopped",
            "spec.stop is true: every component runs zero replicas".to_owned(),
        )
    } else if statuses.is_empty() {
        (
            "True",
            "NoComponentsEnabled",
            "no component is enabled".to_owned(),
        )
    } else if all_ready {
        ("True", "AllComponentsReady", replicas)
    } else {
        ("False", "ComponentsNotReady", replicas)
    };
    let child_progressing = |reason: Option<&str>| {
        statuses.values().any(|s| {
            s.as_ref().is_none_or(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == "Progressing"
                        && reason.map_or(c.status == "True", |reason| c.reason == reason)
                })
            })
        })
    };
    let progressing = if stopped {
        ("False", "Stopped", "every component is scaled to zero")
    } else if !applied {
        (
            "True",
            "Pending",
            "this generation's components are not applied yet",
        )
    } else if child_progressing(Some("ProgressDeadlineExceeded")) {
        (
            "False",
            "ProgressDeadlineExceeded",
            "a rollout made no progress within its deadline",
        )
    } else if available != "True" || child_progressing(None) {
        (
            "True",
            "RollingOut",
            "components are starting or rolling out",
        )
    } else {
        ("False", "Settled", "every component is up to date")
    };
    let stop = if stopped {
        ("True", "Stopped", "every component is scaled to zero")
    } else {
        (
            "False",
            "Running",
            "components run their configured replicas",
        )
    };
    let failures = component_failures(statuses);
    let degraded = match failures.first() {
        None => (
            "False",
            "Healthy",
            "nothing blocks the components".to_owned(),
        ),
        Some((reason, _)) => (
            "True",
            *reason,
            failures
                .iter()
                .map(|(_, message)| message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    let wanted = [
        ("Degraded", degraded.0, degraded.1, degraded.2),
        (
            "Suspended",
            "False",
            "NotSuspended",
            "reconciling".to_owned(),
        ),
        ("Available", available, reason, message),
        (
            "Progressing",
            progressing.0,
            progressing.1,
            progressing.2.to_owned(),
        ),
        ("Stopped", stop.0, stop.1, stop.2.to_owned()),
    ];
    let conds = wanted.iter().chain(extra).fold(
        previous.conditions.clone(),
        |conds, (type_, status, reason, message)| {
            conditions::upsert(
                &conds,
                conditions::set(
                    &previous.conditions,
                    type_,
                    status,
                    reason,
                    message,
                    generation,
                ),
            )
        },
    );
    SupersetStatus {
        conditions: conds,
        // Advanced only once every object of this generation is applied.
        observed_generation: if applied {
            generation
        } else {
            previous.observed_generation
        },
        phase: Some(match (stopped, available) {
            (true, _) => SupersetPhase::Stopped,
            (false, "True") => SupersetPhase::Running,
            (false, _) => SupersetPhase::Degraded,
        }),
        tag: Some(superset.spec.image.tag.clone()),
        ready: Some(format!("{ready}/{desired}")),
        components,
        ..previous
    }
}

/// What keeps components from running, as their children report it: the reason (of the first,
/// when there are several) and a message per failure naming the component, so that the
/// Superset's `Degraded` condition says why without a look at each child.
fn component_failures(
    statuses: &BTreeMap<Component, Option<ComponentChildStatus>>,
) -> Vec<(&'static str, String)> {
    const FAILURES: [(&str, &str, &str); 5] = [
        ("Ready", "False", "ManagedNameTaken"),
        ("Ready", "False", "ReplicaFailure"),
        ("Progressing", "False", "ProgressDeadlineExceeded"),
        (crate::report::RECONCILE_ERROR, "True", ""),
        (crate::decode::INVALID_SPEC, "True", ""),
    ];
    let mut failures = Vec::new();
    for (component, status) in statuses {
        for condition in status.iter().flat_map(|s| &s.conditions) {
            let Some((type_, _, reason)) = FAILURES.iter().find(|(type_, status, reason)| {
                condition.type_ == *type_
                    && condition.status == *status
                    && (reason.is_empty() || condition.reason == *reason)
            }) else {
                continue;
            };
            let reason = if reason.is_empty() { type_ } else { reason };
            failures.push((
                *reason,
                format!("{}: {}", component.field(), condition.message),
            ));
        }
    }
    failures
}

async fn write_status(
    client: &Client,
    superset: &Superset,
    status: SupersetStatus,
) -> Result<(), Error> {
    if superset.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let before = superset
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    for type_ in [
        "Available",
        "Degraded",
        "Stopped",
        "Suspended",
        "MaintenanceActive",
        "ScheduleValid",
        "VersionSupported",
    ] {
        events::on_transition(client, superset, &before, &status.conditions, type_).await;
    }
    let phase_before = superset
        .status
        .as_ref()
        .and_then(|s| s.lifecycle.as_ref())
        .and_then(|l| l.phase);
    if let Some(phase) = status.lifecycle.as_ref().and_then(|l| l.phase)
        && Some(phase) != phase_before
    {
        events::on_lifecycle_phase(client, superset, phase, &status.conditions).await;
    }
    let api: Api<Lenient<Superset>> = Api::namespaced(
        client.clone(),
        &superset.namespace().ok_or(Error::MissingIdentity)?,
    );
    let status = SupersetStatus {
        conditions: without_reports(&status.conditions),
        ..status
    };
    let patch = json!({ "apiVersion": Superset::api_version(&()), "kind": Superset::kind(&()), "status": status });
    api.patch_status(
        &superset.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superset(generation: i64, tuning: &str) -> Superset {
        serde_json::from_value(json!({
            "apiVersion": "superset.apache.org/v1alpha1",
            "kind": "Superset",
            "metadata": {"name": "bi", "namespace": "ns", "uid": "u1", "generation": generation},
            "spec": {
                "secretKeyFrom": {"name": "app", "key": "secret-key"},
                "image": {"tag": "6"},
                "metastore": {"uriFrom": {"name": "db", "key": "uri"}},
                "webServer": {"podTemplate": {"container": {
                    "envFrom": [{"configMapRef": {"name": tuning}}]
                }}},
            },
        }))
        .expect("a valid Superset")
    }

    #[test]
    fn what_a_superset_reads_is_resolved_again_only_on_a_new_generation() {
        let mut memo = HashMap::new();
        let read = memoised_reads(&mut memo, &superset(1, "tuning"));
        assert!(read.contains(&Reference::ConfigMap("tuning".into())));
        assert!(read.contains(&Reference::Secret("db".into())));
        // Same generation: the memo answers, even if the object given differs (it cannot,
        // short of a new generation).
        let again = memoised_reads(&mut memo, &superset(1, "other"));
        assert!(Arc::ptr_eq(&read, &again));
        let changed = memoised_reads(&mut memo, &superset(2, "other"));
        assert!(changed.contains(&Reference::ConfigMap("other".into())));
        assert!(!changed.contains(&Reference::ConfigMap("tuning".into())));
        assert_eq!(memo.len(), 1);
    }

    fn reporting(conditions: serde_json::Value) -> Option<ComponentChildStatus> {
        Some(serde_json::from_value(json!({ "conditions": conditions })).expect("a child status"))
    }

    #[test]
    fn the_superset_names_each_component_that_fails_and_why() {
        let t = "2026-01-01T00:00:00Z";
        let statuses = BTreeMap::from([
            (
                Component::WebServer,
                reporting(
                    json!([{ "type": "Ready", "status": "False", "reason": "ReplicaFailure",
                    "message": "0/2 replicas ready: FailedCreate: exceeded quota", "lastTransitionTime": t }]),
                ),
            ),
            (
                Component::CeleryWorker,
                reporting(json!([
                    { "type": "Ready", "status": "False", "reason": "NotReady",
                      "message": "0/1 replicas ready", "lastTransitionTime": t },
                    { "type": "ReconcileError", "status": "True", "reason": "Forbidden",
                      "message": "deployments is forbidden", "lastTransitionTime": t },
                ])),
            ),
            (Component::CeleryBeat, None),
        ]);
        let failures = component_failures(&statuses);
        assert_eq!(
            failures,
            vec![
                (
                    "ReplicaFailure",
                    "webServer: 0/2 replicas ready: FailedCreate: exceeded quota".to_owned()
                ),
                (
                    "ReconcileError",
                    "celeryWorker: deployments is forbidden".to_owned()
                ),
            ]
        );
        let fine = BTreeMap::from([(
            Component::WebServer,
            reporting(
                json!([{ "type": "Ready", "status": "False", "reason": "NotReady",
                "message": "0/1", "lastTransitionTime": t }]),
            ),
        )]);
        assert!(component_failures(&fine).is_empty());
    }

    fn resolved_web(web: serde_json::Value) -> Resolved {
        let superset: Superset = serde_json::from_value(json!({
            "apiVersion": "superset.apache.org/v1alpha1",
            "kind": "Superset",
            "metadata": {"name": "bi", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": {
                "secretKey": "k", "image": {"tag": "6.0.0"},
                "metastore": {"uri": "sqlite://"},
                "webServer": web,
            },
        }))
        .expect("a valid Superset");
        resolve(&superset).expect("it resolves")
    }

    fn web_status(ready: i32, desired: i32) -> BTreeMap<Component, Option<ComponentChildStatus>> {
        BTreeMap::from([(
            Component::WebServer,
            Some(ComponentChildStatus {
                ready_replicas: Some(ready),
                replicas: Some(desired),
                ..Default::default()
            }),
        )])
    }

    #[test]
    fn the_web_service_leaves_the_maintenance_page_only_at_full_capacity() {
        let fixed = resolved_web(json!({ "replicas": 3 }));
        assert_eq!(
            web_capacity_restored(&fixed, &web_status(1, 3)),
            Some(false)
        );
        assert_eq!(web_capacity_restored(&fixed, &web_status(3, 3)), Some(true));
        // Autoscaled: the Deployment restarts at one replica; the minimum is what counts.
        let scaled =
            resolved_web(json!({ "autoscaling": { "minReplicas": 4, "maxReplicas": 10 } }));
        assert_eq!(
            web_capacity_restored(&scaled, &web_status(1, 1)),
            Some(false)
        );
        assert_eq!(
            web_capacity_restored(&scaled, &web_status(4, 5)),
            Some(false)
        );
        assert_eq!(
            web_capacity_restored(&scaled, &web_status(5, 5)),
            Some(true)
        );
        assert_eq!(
            web_capacity_restored(&scaled, &BTreeMap::new()),
            Some(false)
        );
    }
}

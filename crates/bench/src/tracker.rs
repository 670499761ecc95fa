//! Watches one namespace as a user would, and decides for every Superset when the operator
//! has finished with it: every child and owned object exists with the spec the pure core
//! renders for the current generation, configuration checksums included ("objects"), and the Superset reports that generation
//! as Running and Available, with its lifecycle pipeline complete when it has one ("status").
//! It also counts the changes the watches show, so that the operator's writes can be set
//! against what they changed: the API server sends no watch event for a write that changes
//! nothing.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Debug;
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt as _;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service, ServiceAccount};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, Resource, ResourceExt as _};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use superset_operator_api::superset::status::{LifecyclePhase, SupersetPhase};
use superset_operator_api::{
    Superset, SupersetCeleryBeat, SupersetCeleryWorker, SupersetWebServer,
};
use superset_operator_controller::child::ComponentChild;
use superset_operator_render::checksum::DataKey;
use superset_operator_render::references::{self, Reference};
use superset_operator_render::{Component, labels, naming, workload};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Where one Superset stands, as last evaluated.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// The Superset's generation at the last evaluation.
    pub generation: i64,
    /// Since when every object has matched that generation's rendering.
    pub objects_since: Option<Instant>,
    /// Since when its status has reported that generation Running and Available.
    pub status_since: Option<Instant>,
}

/// Changes the watches showed, per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Objects that appeared.
    pub created: BTreeMap<String, u64>,
    /// Objects whose spec, data, labels or owner changed.
    pub modified: BTreeMap<String, u64>,
    /// Supersets and children whose status changed.
    pub status: BTreeMap<String, u64>,
}

impl Changes {
    /// What changed since `earlier`.
    pub fn since(&self, earlier: &Changes) -> Changes {
        let delta = |now: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>| {
            now.iter()
                .map(|(kind, n)| (kind.clone(), n - before.get(kind).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        Changes {
            created: delta(&self.created, &earlier.created),
            modified: delta(&self.modified, &earlier.modified),
            status: delta(&self.status, &earlier.status),
        }
    }

    /// Objects created or modified, of every kind.
    pub fn object_changes(&self) -> u64 {
        self.created.values().sum::<u64>() + self.modified.values().sum::<u64>()
    }

    /// Status changes of Supersets and children.
    pub fn status_changes(&self) -> u64 {
        self.status.values().sum()
    }
}

#[derive(Clone)]
struct Stores {
    supersets: Store<Superset>,
    web: Store<SupersetWebServer>,
    worker: Store<SupersetCeleryWorker>,
    beat: Store<SupersetCeleryBeat>,
    config_maps: Store<ConfigMap>,
    deployments: Store<Deployment>,
    services: Store<Service>,
    accounts: Store<ServiceAccount>,
    secrets: Store<Secret>,
}

/// What the pure core renders for one generation of a Superset.
struct Rendered {
    generation: i64,
    components: Vec<RenderedComponent>,
}

struct RenderedComponent {
    component: Component,
    /// The child's spec, with the hash of the Secrets and ConfigMaps its pods read folded
    /// into its configuration checksum as the operator does.
    child_spec: Value,
    config_data: Option<Value>,
}

/// Content and status hashes last seen per object, and the changes counted from them.
#[derive(Default)]
struct ChangeLog {
    seen: BTreeMap<(&'static str, String), (u64, u64)>,
    changes: Changes,
    /// The last status of every Superset, to say what a change changed.
    statuses: BTreeMap<String, Value>,
    /// The latest Superset status changes, described.
    recent: VecDeque<(Instant, String)>,
}

/// Superset status changes kept for inspection.
const RECENT_CHANGES: usize = 50;

#[derive(Default)]
struct Evaluation {
    progress: BTreeMap<String, Progress>,
    /// Why each Superset is not done yet, as last evaluated.
    pending: BTreeMap<String, Vec<String>>,
    rendered: BTreeMap<String, Rendered>,
}

/// The watches and the evaluation of one namespace. Dropping it stops them.
pub struct Tracker {
    namespace: String,
    evaluation: Arc<Mutex<Evaluation>>,
    log: Arc<Mutex<ChangeLog>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every watch task shares.
struct Watching<'a> {
    client: &'a Client,
    namespace: &'a str,
    dirty: &'a mpsc::UnboundedSender<String>,
    log: &'a Arc<Mutex<ChangeLog>>,
    tasks: &'a mut Vec<JoinHandle<()>>,
}

impl Watching<'_> {
    /// Starts the watch of kind `K` into a store, counting changes and marking the Superset
    /// an object belongs to for evaluation.
    fn watch<K>(&mut self) -> Store<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + Debug
            + Serialize
            + DeserializeOwned
            + Send
            + Sync
            + 'static,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), self.namespace);
        let (store, writer) = reflector::store();
        let stream = reflector::reflector(
            writer,
            watcher(api, watcher::Config::default()).default_backoff(),
        )
        .applied_objects();
        let (dirty, log) = (self.dirty.clone(), self.log.clone());
        let kind: &'static str = Box::leak(K::kind(&()).into_owned().into_boxed_str());
        self.tasks.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(object) = stream.next().await {
                let Ok(object) = object else { continue };
                let value = serde_json::to_value(&object).unwrap_or_default();
                record_change(&mut log.lock().expect("not poisoned"), kind, &value);
                let _ = dirty.send(instance_of(&object));
            }
        }));
        store
    }
}

/// The Superset an object belongs to: its parent label, else its own name (a Superset).
fn instance_of<K: Resource>(object: &K) -> String {
    object
        .labels()
        .get(labels::PARENT)
        .cloned()
        .unwrap_or_else(|| object.name_any())
}

fn hash_of(value: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

fn record_change(log: &mut ChangeLog, kind: &'static str, object: &Value) {
    // The controller-manager's objects (the namespace's default ServiceAccount and CA
    // ConfigMap) are not the operator's doing.
    let managed = object["metadata"]["labels"][labels::MANAGED_BY] == "superset-operator";
    if kind != "Superset" && !managed {
        return;
    }
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // What a writer of the object decides: the operator's spec or data, labels and owner.
    let content = serde_json::json!([
        object.get("spec").or(object.get("data")),
        object["metadata"]["labels"],
        object["metadata"]["ownerReferences"],
    ]);
    // Only the status of our own kinds is ours; the controller-manager writes Deployments'.
    // A Superset's spec is the bench's doing, its status the operator's.
    let status = if kind.starts_with("Superset") {
        hash_of(&object["status"])
    } else {
        0
    };
    let content = if kind == "Superset" {
        0
    } else {
        hash_of(&content)
    };
    let hashes = (content, status);
    let changes = &mut log.changes;
    match log.seen.insert((kind, name), hashes) {
        None if kind == "Superset" => {}
        None => *changes.created.entry(kind.to_owned()).or_default() += 1,
        Some(before) => {
            if before.0 != hashes.0 {
                *changes.modified.entry(kind.to_owned()).or_default() += 1;
            }
            if before.1 != hashes.1 {
                *changes.status.entry(kind.to_owned()).or_default() += 1;
            }
        }
    }
    if kind == "Superset" {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let status = object["status"].clone();
        let before = log.statuses.insert(name.to_owned(), status.clone());
        if let Some(before) = before.filter(|before| *before != status) {
            if log.recent.len() == RECENT_CHANGES {
                log.recent.pop_front();
            }
            let described = format!("{name}: {}", describe_status_change(&before, &status));
            log.recent.push_back((Instant::now(), described));
        }
    }
}

/// What differs between two statuses of a Superset: the fields, and for conditions, the
/// types whose status or reason moved.
fn describe_status_change(before: &Value, after: &Value) -> String {
    let fields = |v: &Value| v.as_object().cloned().unwrap_or_default();
    let (before, after) = (fields(before), fields(after));
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut parts = Vec::new();
    for key in keys {
        let (was, now) = (before.get(key), after.get(key));
        if was == now {
            continue;
        }
        if key == "conditions" {
            let by_type = |v: Option<&Value>| -> BTreeMap<String, (Value, Value, Value)> {
                v.and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let field = |f: &str| c.get(f).cloned().unwrap_or_default();
                        let type_ = c["type"].as_str().unwrap_or_default().to_owned();
                        (type_, (field("status"), field("reason"), field("message")))
                    })
                    .collect()
            };
            let (was, now) = (by_type(was), by_type(now));
            for (type_, state) in &now {
                match was.get(type_) {
                    Some(old) if old == state => {}
                    Some(old) if old.0 == state.0 && old.1 == state.1 => {
                        parts.push(format!("{type_} message {} -> {}", old.2, state.2));
                    }
                    Some(old) => parts.push(format!(
                        "{type_} {}/{} -> {}/{}",
                        old.0, old.1, state.0, state.1
                    )),
                    None => parts.push(format!("{type_} added {}/{}", state.0, state.1)),
                }
            }
        } else {
            let show = |v: Option<&Value>| v.map_or_else(|| "absent".into(), brief);
            parts.push(format!("{key} {} -> {}", show(was), show(now)));
        }
    }
    parts.join(", ")
}

impl Tracker {
    /// Starts watching `namespace` and returns once every watch has listed it.
    pub async fn start(client: &Client, namespace: &str) -> anyhow::Result<Tracker> {
        let (dirty, instances) = mpsc::unbounded_channel::<String>();
        let log = Arc::new(Mutex::new(ChangeLog::default()));
        let mut tasks = Vec::new();
        let mut watching = Watching {
            client,
            namespace,
            dirty: &dirty,
            log: &log,
            tasks: &mut tasks,
        };
        let stores = Stores {
            supersets: watching.watch(),
            web: watching.watch(),
            worker: watching.watch(),
            beat: watching.watch(),
            config_maps: watching.watch(),
            deployments: watching.watch(),
            services: watching.watch(),
            accounts: watching.watch(),
            secrets: watching.watch(),
        };
        let listed = async {
            let _ = stores.supersets.wait_until_ready().await;
            let _ = stores.web.wait_until_ready().await;
            let _ = stores.worker.wait_until_ready().await;
            let _ = stores.beat.wait_until_ready().await;
            let _ = stores.config_maps.wait_until_ready().await;
            let _ = stores.deployments.wait_until_ready().await;
            let _ = stores.services.wait_until_ready().await;
            let _ = stores.accounts.wait_until_ready().await;
            let _ = stores.secrets.wait_until_ready().await;
        };
        if tokio::time::timeout(Duration::from_secs(60), listed)
            .await
            .is_err()
        {
            bail!("the bench's watches of {namespace} did not list within 60 s");
        }
        let evaluation = Arc::new(Mutex::new(Evaluation::default()));
        tasks.push(tokio::spawn(evaluate_forever(
            namespace.to_owned(),
            stores,
            evaluation.clone(),
            instances,
        )));
        Ok(Tracker {
            namespace: namespace.to_owned(),
            evaluation,
            log,
            tasks,
        })
    }

    /// Where `name` stands.
    pub fn progress(&self, name: &str) -> Progress {
        self.evaluation()
            .progress
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    /// Superset status changes seen since `since`, described (the latest few).
    pub fn status_changes_since(&self, since: Instant) -> Vec<String> {
        self.log
            .lock()
            .expect("not poisoned")
            .recent
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, described)| described.clone())
            .collect()
    }

    /// Changes seen so far.
    pub fn changes(&self) -> Changes {
        self.log.lock().expect("not poisoned").changes.clone()
    }

    /// Waits until `done` holds for every one of `names`, failing after `timeout` with how many
    /// did not get there.
    pub async fn wait_for(
        &self,
        what: &str,
        names: &[String],
        timeout: Duration,
        done: impl Fn(&str, &Progress) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let pending: Vec<&String> = {
                let evaluation = self.evaluation();
                let unknown = Progress::default();
                names
                    .iter()
                    .filter(|name| !done(name, evaluation.progress.get(*name).unwrap_or(&unknown)))
                    .collect()
            };
            let Some(example) = pending.first() else {
                return Ok(());
            };
            if Instant::now() > deadline {
                let why = self
                    .evaluation()
                    .pending
                    .get(*example)
                    .map(|why| why.join("; "))
                    .unwrap_or_else(|| "never evaluated".into());
                bail!(
                    "{} of {} Supersets in {} did not reach {what} within {timeout:?}; {example}: {why}",
                    pending.len(),
                    names.len(),
                    self.namespace
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn evaluation(&self) -> MutexGuard<'_, Evaluation> {
        self.evaluation.lock().expect("not poisoned")
    }
}

/// Re-evaluates every Superset an event touched, in batches.
async fn evaluate_forever(
    namespace: String,
    stores: Stores,
    evaluation: Arc<Mutex<Evaluation>>,
    mut instances: mpsc::UnboundedReceiver<String>,
) {
    while let Some(first) = instances.recv().await {
        let mut batch = BTreeSet::from([first]);
        while let Ok(next) = instances.try_recv() {
            batch.insert(next);
        }
        let now = Instant::now();
        let mut evaluation = evaluation.lock().expect("not poisoned");
        for name in batch {
            let Some(superset) = stores
                .supersets
                .get(&ObjectRef::new(&name).within(&namespace))
            else {
                continue;
            };
            let generation = superset.metadata.generation.unwrap_or_default();
            let objects = objects_match(&stores, &namespace, &superset, &mut evaluation.rendered);
            let status = status_reports(&superset);
            let progress = evaluation.progress.entry(name.clone()).or_default();
            let same_generation = progress.generation == generation;
            progress.generation = generation;
            progress.objects_since = since(
                objects.is_ok(),
                same_generation,
                progress.objects_since,
                now,
            );
            progress.status_since =
                since(status.is_ok(), same_generation, progress.status_since, now);
            let why = [objects.err(), status.err()];
            evaluation
                .pending
                .insert(name, why.into_iter().flatten().collect());
        }
    }
}

/// When a condition that holds now started to hold: kept from before only if it held for the
/// same generation.
fn since(
    holds: bool,
    same_generation: bool,
    before: Option<Instant>,
    now: Instant,
) -> Option<Instant> {
    match (holds, same_generation, before) {
        (false, _, _) => None,
        (true, true, Some(before)) => Some(before),
        (true, _, _) => Some(now),
    }
}

/// Why something the bench waits for does not hold yet.
type Verdict = Result<(), String>;

/// Whether the Superset reports its current generation Running and Available, with its
/// lifecycle pipeline complete when it has one.
fn status_reports(superset: &Superset) -> Verdict {
    let status = superset.status.as_ref().ok_or("no status")?;
    if status.observed_generation != superset.metadata.generation {
        return Err(format!(
            "status of generation {:?}, not {:?}",
            status.observed_generation, superset.metadata.generation
        ));
    }
    let lifecycle_on = superset
        .spec
        .lifecycle
        .as_deref()
        .is_none_or(|l| l.disabled != Some(true));
    let lifecycle_phase = status.lifecycle.as_ref().and_then(|l| l.phase);
    if lifecycle_on && lifecycle_phase != Some(LifecyclePhase::Complete) {
        return Err(format!("lifecycle phase {lifecycle_phase:?}"));
    }
    let available = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True");
    if status.phase != Some(SupersetPhase::Running) || !available {
        return Err(format!(
            "phase {:?}, ready {:?}, Available {}",
            status.phase,
            status.ready,
            if available { "True" } else { "not True" }
        ));
    }
    Ok(())
}

/// Whether every object of the Superset matches what the pure core renders for its current
/// generation: the ServiceAccount and web Service, and per component its ConfigMap, its child
/// resource and the child's Deployment.
fn objects_match(
    stores: &Stores,
    namespace: &str,
    superset: &Superset,
    rendered: &mut BTreeMap<String, Rendered>,
) -> Verdict {
    let name = superset.name_any();
    let uid = superset.uid().ok_or("no UID")?;
    let generation = superset.metadata.generation.unwrap_or_default();
    if rendered
        .get(&name)
        .is_none_or(|r| r.generation != generation)
    {
        rendered.insert(name.clone(), render(stores, superset, generation)?);
    }
    let rendered = &rendered[&name];
    controlled_by(stores.accounts.get(&at(&name, namespace)).as_deref(), &uid)
        .map_err(|e| format!("ServiceAccount {name}: {e}"))?;
    let service = naming::workload(&name, Component::WebServer);
    controlled_by(
        stores.services.get(&at(&service, namespace)).as_deref(),
        &uid,
    )
    .map_err(|e| format!("Service {service}: {e}"))?;
    for component in &rendered.components {
        if let Some(data) = &component.config_data {
            let config_map = naming::component_config_map(&name, component.component);
            config_map_matches(stores, namespace, &config_map, &uid, data)
                .map_err(|e| format!("ConfigMap {config_map}: {e}"))?;
        }
        component_matches(stores, namespace, &name, &uid, component)?;
    }
    Ok(())
}

fn config_map_matches(
    stores: &Stores,
    namespace: &str,
    name: &str,
    uid: &str,
    data: &Value,
) -> Verdict {
    let live = stores.config_maps.get(&at(name, namespace));
    controlled_by(live.as_deref(), uid)?;
    let live = serde_json::to_value(&live.ok_or("absent")?.data).map_err(|e| e.to_string())?;
    difference(data, &live, "data")
}

/// The operator's data key, once it has made it.
fn data_key(stores: &Stores, namespace: &str) -> Result<DataKey, String> {
    let secret = stores
        .secrets
        .get(&at(
            superset_operator_controller::data_key::SECRET,
            namespace,
        ))
        .ok_or("the operator has not made its data key yet")?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(superset_operator_controller::data_key::FIELD))
        .ok_or("the data key Secret has no key")?;
    Ok(DataKey::new(&bytes.0))
}

fn render(stores: &Stores, superset: &Superset, generation: i64) -> Result<Rendered, String> {
    let name = superset.name_any();
    let namespace = superset.namespace().unwrap_or_default();
    let mut resolved = superset_operator_render::resolve(superset).map_err(|e| e.to_string())?;
    // The operator folds in the data its pods read the same way, fetched from the API server,
    // with the key it keeps in a Secret of the namespace it runs for.
    let key = data_key(stores, &namespace)?;
    references::fold_read_data(&name, &mut resolved, &key, |reference| match reference {
        Reference::Secret(secret) => {
            references::secret_data(stores.secrets.get(&at(secret, &namespace)).as_deref())
        }
        Reference::ConfigMap(map) => {
            references::config_map_data(stores.config_maps.get(&at(map, &namespace)).as_deref())
        }
    });
    let components = resolved
        .components
        .into_iter()
        .map(|resolved| RenderedComponent {
            component: resolved.component,
            child_spec: resolved.child.to_value()["spec"].take(),
            config_data: resolved
                .config_map
                .as_ref()
                .and_then(|map| serde_json::to_value(&map.data).ok()),
        })
        .collect();
    Ok(Rendered {
        generation,
        components,
    })
}

/// The component's child matches the rendering and is the Superset's; its Deployment matches
/// what the child renders to (checksum annotation included) and is the child's.
fn component_matches(
    stores: &Stores,
    namespace: &str,
    parent: &str,
    uid: &str,
    component: &RenderedComponent,
) -> Verdict {
    let checked = Checked {
        stores,
        namespace,
        parent,
        uid,
        component,
    };
    match component.component {
        Component::WebServer => checked.child(&stores.web),
        Component::CeleryWorker => checked.child(&stores.worker),
        Component::CeleryBeat => checked.child(&stores.beat),
        // The bench's Supersets have no other component.
        other => Err(format!("{other:?} is not watched by the bench")),
    }
}

/// One component of one Superset being checked.
struct Checked<'a> {
    stores: &'a Stores,
    namespace: &'a str,
    parent: &'a str,
    uid: &'a str,
    component: &'a RenderedComponent,
}

impl Checked<'_> {
    fn child<K: ComponentChild>(&self, children: &Store<K>) -> Verdict {
        let kind = K::kind(&());
        let name = naming::child(self.parent);
        let child = children.get(&at(&name, self.namespace));
        controlled_by(child.as_deref(), self.uid).map_err(|e| format!("{kind} {name}: {e}"))?;
        let child = child.ok_or("absent")?;
        let live = serde_json::to_value(child.as_ref()).map_err(|e| e.to_string())?;
        difference(&self.component.child_spec, &live["spec"], "spec")
            .map_err(|e| format!("{kind} {name}: {e}"))?;
        self.deployment(child.as_ref())
    }

    fn deployment<K: ComponentChild>(&self, child: &K) -> Verdict {
        let name = naming::workload(self.parent, self.component.component);
        let live = self.stores.deployments.get(&at(&name, self.namespace));
        let describe = |e: String| format!("Deployment {name}: {e}");
        controlled_by(live.as_deref(), &child.uid().unwrap_or_default()).map_err(describe)?;
        let desired = workload::deployment(
            self.parent,
            Some(self.namespace),
            self.component.component,
            child.flat(),
        );
        let desired = serde_json::to_value(&desired.spec).map_err(|e| e.to_string())?;
        let live = serde_json::to_value(&live.ok_or("absent")?.spec).map_err(|e| e.to_string())?;
        difference(&desired, &live, "spec").map_err(describe)
    }
}

/// Where `live` does not hold `desired`, with the operator's notion of holding
/// (`superset_operator_controller::apply::is_subset`): every field of `desired` has its value
/// in `live`, arrays element by element; fields only `live` has are ignored.
fn difference(desired: &Value, live: &Value, path: &str) -> Verdict {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want.iter().filter(|(_, v)| !v.is_null()) {
                let at = format!("{path}.{key}");
                match have.get(key) {
                    Some(live) => difference(value, live, &at)?,
                    None => return Err(format!("{at} is missing")),
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => want
            .iter()
            .zip(have)
            .enumerate()
            .try_for_each(|(i, (w, h))| difference(w, h, &format!("{path}[{i}]"))),
        (want, have) if want == have => Ok(()),
        (want, have) => Err(format!("{path} is {}, not {}", brief(have), brief(want))),
    }
}

/// A value, cut short for a message.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The reference of the object `name` in `namespace`.
fn at<K: Resource<DynamicType = ()>>(name: &str, namespace: &str) -> ObjectRef<K> {
    ObjectRef::new(name).within(namespace)
}

/// Whether `object` exists and its controller is the object with `uid`.
fn controlled_by<K: Resource>(object: Option<&K>, uid: &str) -> Verdict {
    let object = object.ok_or("absent")?;
    let controller = object
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true));
    match controller {
        Some(owner) if owner.uid == uid => Ok(()),
        Some(owner) => Err(format!("controlled by {} {}", owner.kind, owner.name)),
        None => Err("has no controller".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_holds_since_it_first_held_for_this_generation() {
        let (earlier, now) = (Instant::now(), Instant::now() + Duration::from_secs(1));
        assert_eq!(since(true, true, Some(earlier), now), Some(earlier));
        assert_eq!(since(true, false, Some(earlier), now), Some(now));
        assert_eq!(since(true, true, None, now), Some(now));
        assert_eq!(since(false, true, Some(earlier), now), None);
    }

    #[test]
    fn differences_are_located_and_server_defaults_ignored() {
        let desired = serde_json::json!({"replicas": 1, "template": {"containers": [{"name": "a"}]}, "paused": null});
        let live = serde_json::json!({"replicas": 1, "progressDeadlineSeconds": 600, "template": {"containers": [{"name": "a", "imagePullPolicy": "Always"}]}});
        assert_eq!(difference(&desired, &live, "spec"), Ok(()));
        let changed =
            serde_json::json!({"replicas": 2, "template": {"containers": [{"name": "a"}]}});
        assert_eq!(
            difference(&desired, &changed, "spec"),
            Err("spec.replicas is 2, not 1".into())
        );
        let shorter = serde_json::json!({"replicas": 1, "template": {"containers": []}});
        assert_eq!(
            difference(&desired, &shorter, "spec"),
            Err(r#"spec.template.containers is [], not [{"name":"a"}]"#.into())
        );
        assert_eq!(
            difference(&desired, &serde_json::json!({"replicas": 1}), "spec"),
            Err("spec.template is missing".into())
        );
    }

    #[test]
    fn a_status_change_says_what_moved() {
        let before = serde_json::json!({
            "ready": "2/3",
            "conditions": [
                {"type": "Available", "status": "False", "reason": "ComponentsNotReady", "message": "2/3"},
                {"type": "Degraded", "status": "False", "reason": "Healthy", "message": "ok"},
            ],
        });
        let after = serde_json::json!({
            "ready": "3/3",
            "conditions": [
                {"type": "Available", "status": "True", "reason": "AllComponentsReady", "message": "3/3"},
                {"type": "Degraded", "status": "False", "reason": "Healthy", "message": "ok"},
            ],
        });
        assert_eq!(
            describe_status_change(&before, &after),
            r#"Available "False"/"ComponentsNotReady" -> "True"/"AllComponentsReady", ready "2/3" -> "3/3""#
        );
    }

    #[test]
    fn changes_count_content_and_status_apart() {
        let mut log = ChangeLog::default();
        let object = |replicas: i64, ready: &str| {
            serde_json::json!({
                "metadata": {
                    "name": "a",
                    "labels": { "app.kubernetes.io/managed-by": "superset-operator" },
                },
                "spec": { "replicas": replicas },
                "status": { "ready": ready },
            })
        };
        record_change(&mut log, "SupersetWebServer", &object(1, "0/1"));
        record_change(&mut log, "SupersetWebServer", &object(1, "0/1"));
        record_change(&mut log, "SupersetWebServer", &object(1, "1/1"));
        record_change(&mut log, "SupersetWebServer", &object(2, "1/1"));
        // A Deployment's status is the controller-manager's, not a change of ours.
        record_change(&mut log, "Deployment", &object(1, "0/1"));
        record_change(&mut log, "Deployment", &object(1, "1/1"));
        let changes = log.changes;
        assert_eq!(changes.created["SupersetWebServer"], 1);
        assert_eq!(changes.modified["SupersetWebServer"], 1);
        assert_eq!(changes.status["SupersetWebServer"], 1);
        assert_eq!(changes.created["Deployment"], 1);
        assert!(!changes.modified.contains_key("Deployment"));
        assert_eq!(changes.object_changes(), 3);
        assert_eq!(changes.status_changes(), 1);
    }
}

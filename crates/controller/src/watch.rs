//! The watches behind every controller, shaped for memory: the one kind a controller caches is
//! kept without what reconciles never read, and the kinds it only reacts to are watched as
//! metadata, so that neither their bodies nor their initial lists are ever decoded in full.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures::{FutureExt as _, Stream, StreamExt as _, TryStreamExt as _, future};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::utils::{PredicateConfig, predicates};
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Client, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;

use crate::{Scope, Tuning};

/// Written by `kubectl apply`; a copy of the whole object that no reconcile reads.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A namespaced kind the controllers watch.
pub trait Watched:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static
{
}

/// Objects per page of a watch's list. After an etcd compaction every watch lists again at
/// once, each holding its current page both as the response body and decoded: with kube's
/// default of 500, an operator holding 76 MiB for 1,000 instances peaked at 171 MiB then;
/// with 100, at 122 MiB, for a few more list requests.
const LIST_PAGE: u32 = 100;

/// How every watch of the operator lists and watches.
pub fn config() -> watcher::Config {
    watcher::Config::default().page_size(LIST_PAGE)
}

/// Drops the managed fields (as large as the object itself under server-side apply) and the
/// last-applied copy from an object before it is cached.
pub fn slim<K: Resource>(object: &mut K) {
    object.managed_fields_mut().clear();
    object.annotations_mut().remove(LAST_APPLIED);
}

/// [`slim`], and also every label and every annotation but the applied checksum: all that
/// reconciles ask of a [`Known`] object is its identity, version, owners and that checksum.
fn slim_to_identity<K: Resource>(object: &mut K) {
    slim(object);
    object.labels_mut().clear();
    object
        .annotations_mut()
        .retain(|key, _| key == crate::apply::APPLIED);
}

/// A controller for `K` whose cache holds slimmed objects, working as `tuning` says.
pub fn controller<K>(api: Api<K>, config: watcher::Config, tuning: Tuning) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .applied_objects();
    Controller::for_stream(errors_logged::<K, _>(stream), reader).with_config(
        controller::Config::default()
            .concurrency(tuning.concurrency)
            .debounce(tuning.debounce),
    )
}

/// Every change of a `K` in the scope, as metadata only: enough to find its owner or name.
pub fn changes<K: Watched>(
    client: &Client,
    scope: &Scope,
    config: watcher::Config,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static {
    // An API over `PartialObjectMeta` lists and watches with metadata-only requests.
    let stream = watcher(scope.api::<PartialObjectMeta<K>>(client), config)
        .default_backoff()
        .modify(slim)
        .touched_objects();
    errors_logged::<K, _>(stream)
}

/// [`changes`], keeping what the watch has seen in a [`Known`] registered in `caches`, so that
/// reconciles can skip reading what has not changed since they last read or wrote it.
pub fn known_changes<K: Watched>(
    client: &Client,
    scope: &Scope,
    config: watcher::Config,
    caches: &mut Caches,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static {
    let (store, writer) = reflector::store();
    let known = Known {
        store,
        verified: Arc::default(),
    };
    caches.insert(known.clone());
    // The store is written before the controller sees the event, so a reconcile triggered by
    // a change always finds that change in the store.
    let stream = watcher(scope.api::<PartialObjectMeta<K>>(client), config)
        .default_backoff()
        .modify(slim_to_identity)
        .reflect(writer)
        .inspect_ok(move |event| known.observe(event))
        .touched_objects();
    errors_logged::<K, _>(stream)
}

/// Logs the errors of a watch of `K` and keeps them from the controller. Each watch backs off
/// and recovers on its own; an error that reached the controller would also pause every other
/// watch of that controller, with a backoff that grows with each error, so that after every
/// watch expired (410 Gone, as after an etcd compaction) a controller with sixteen watches
/// heard nothing for minutes.
fn errors_logged<K: Resource<DynamicType = ()>, T: Send + 'static>(
    stream: impl Stream<Item = Result<T, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<T, watcher::Error>> + Send + 'static {
    let kind = K::kind(&()).into_owned();
    stream.filter(move |item| {
        if let Err(error) = item {
            tracing::warn!(%error, kind, "watch failed; it resumes on its own after a backoff");
        }
        future::ready(item.is_ok())
    })
}

/// Resource versions at which reconciles last read or wrote objects in full.
type Verified<K> = Arc<Mutex<HashMap<ObjectRef<PartialObjectMeta<K>>, String>>>;

fn key<K: Resource<DynamicType = ()>>(
    namespace: &str,
    name: &str,
) -> ObjectRef<PartialObjectMeta<K>> {
    ObjectRef::new(name).within(namespace)
}

/// What a reconcile can tell about an object from the watch, without asking the API server.
pub enum Seen<K> {
    /// Nothing to go on: the watch has not listed yet, or the object changed since a reconcile
    /// last read or wrote it.
    Unknown,
    /// The watch has no such object.
    Absent,
    /// The object is as a reconcile last read or wrote it; here is its metadata.
    Unchanged(Arc<PartialObjectMeta<K>>),
}

/// The metadata a watch has seen of every `K` in scope, with the resource version at which a
/// reconcile last read or wrote each object in full.
#[derive(Clone)]
pub struct Known<K: Resource<DynamicType = ()> + 'static> {
    store: Store<PartialObjectMeta<K>>,
    verified: Verified<K>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Known<K> {
    /// What the watch says of `name` in `namespace`.
    pub fn seen(&self, namespace: &str, name: &str) -> Seen<K> {
        let listed = self
            .store
            .wait_until_ready()
            .now_or_never()
            .is_some_and(|ready| ready.is_ok());
        if !listed {
            return Seen::Unknown;
        }
        let key = key(namespace, name);
        let Some(meta) = self.store.get(&key) else {
            return Seen::Absent;
        };
        let verified = self.verified.lock().expect("not poisoned");
        if meta.resource_version().is_some()
            && verified.get(&key) == meta.resource_version().as_ref()
        {
            Seen::Unchanged(meta)
        } else {
            Seen::Unknown
        }
    }

    /// Records that `object`, as read or written in full, is what it should be.
    pub fn verified(&self, object: &K) {
        let (Some(namespace), Some(version)) = (object.namespace(), object.resource_version())
        else {
            return;
        };
        self.verified
            .lock()
            .expect("not poisoned")
            .insert(key(&namespace, &object.name_any()), version);
    }

    /// Drops what was verified of an object the watch saw deleted, which would otherwise stay
    /// for the life of the process.
    fn observe(&self, event: &watcher::Event<PartialObjectMeta<K>>) {
        if let watcher::Event::Delete(meta) = event {
            self.forget(&meta.namespace().unwrap_or_default(), &meta.name_any());
        }
    }

    /// Forgets what was verified of `name` in `namespace`, which the operator deleted.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.verified
            .lock()
            .expect("not poisoned")
            .remove(&key(namespace, name));
    }
}

/// The [`Known`] of each kind a controller watches with [`known_changes`].
#[derive(Default)]
pub struct Caches(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl Caches {
    fn insert<K: Resource<DynamicType = ()> + 'static>(&mut self, known: Known<K>)
    where
        Known<K>: Send + Sync,
    {
        self.0.insert(TypeId::of::<K>(), Box::new(known));
    }

    /// The [`Known`] of `K`, if this controller keeps one.
    pub fn get<K: Resource<DynamicType = ()> + 'static>(&self) -> Option<&Known<K>> {
        self.0.get(&TypeId::of::<K>())?.downcast_ref()
    }
}

/// Changes of a `K` in the scope that change its spec (a new generation); status and
/// metadata updates are left out.
pub fn spec_changes<K: Watched>(
    client: &Client,
    scope: &Scope,
    config: watcher::Config,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static {
    changes(client, scope, config)
        .predicate_filter(predicates::generation, PredicateConfig::default())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        ManagedFieldsEntry, ObjectMeta, OwnerReference,
    };

    use super::*;

    fn meta(name: &str, version: &str) -> PartialObjectMeta<Deployment> {
        PartialObjectMeta {
            types: None,
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                resource_version: Some(version.into()),
                ..Default::default()
            },
            _phantom: Default::default(),
        }
    }

    fn deployment(name: &str, version: &str) -> Deployment {
        Deployment {
            metadata: meta(name, version).metadata,
            ..Default::default()
        }
    }

    #[test]
    fn only_objects_unchanged_since_verified_are_known() {
        let (store, mut writer) = reflector::store::<PartialObjectMeta<Deployment>>();
        let known = Known {
            store,
            verified: Arc::default(),
        };
        // Before the first list, nothing can be told.
        assert!(matches!(known.seen("ns", "web"), Seen::Unknown));
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(meta("web", "1")));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        assert!(matches!(known.seen("ns", "gone"), Seen::Absent));
        // Listed but never read or written in full by a reconcile.
        assert!(matches!(known.seen("ns", "web"), Seen::Unknown));
        known.verified(&deployment("web", "1"));
        assert!(matches!(known.seen("ns", "web"), Seen::Unchanged(m) if m.name_any() == "web"));
        // Someone else changed it: read it again.
        writer.apply_watcher_event(&watcher::Event::Apply(meta("web", "2")));
        assert!(matches!(known.seen("ns", "web"), Seen::Unknown));
        // Our own write, seen by the watch afterwards.
        known.verified(&deployment("web", "3"));
        writer.apply_watcher_event(&watcher::Event::Apply(meta("web", "3")));
        assert!(matches!(known.seen("ns", "web"), Seen::Unchanged(_)));
        known.forget("ns", "web");
        assert!(matches!(known.seen("ns", "web"), Seen::Unknown));
        // Deleted by someone else: absent, and nothing of it is kept.
        known.verified(&deployment("web", "3"));
        let deleted = watcher::Event::Delete(meta("web", "3"));
        writer.apply_watcher_event(&deleted);
        known.observe(&deleted);
        assert!(matches!(known.seen("ns", "web"), Seen::Absent));
        assert!(known.verified.lock().unwrap().is_empty());
    }

    #[test]
    fn slimming_keeps_everything_a_reconcile_reads() {
        let mut deployment = Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                annotations: Some(
                    [
                        (LAST_APPLIED.to_owned(), "{...}".to_owned()),
                        ("keep".to_owned(), "me".to_owned()),
                    ]
                    .into(),
                ),
                managed_fields: Some(vec![ManagedFieldsEntry::default()]),
                ..Default::default()
            },
            ..Default::default()
        };
        slim(&mut deployment);
        assert!(deployment.managed_fields().is_empty());
        assert_eq!(
            deployment.annotations(),
            &[("keep".to_owned(), "me".to_owned())].into()
        );
        assert_eq!(deployment.name_any(), "web");
    }

    #[test]
    fn known_objects_keep_what_sync_reads() {
        let mut deployment = deployment("web", "7");
        deployment.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
        deployment.metadata.annotations = Some(
            [
                (crate::apply::APPLIED.to_owned(), "abc".to_owned()),
                (LAST_APPLIED.to_owned(), "{...}".to_owned()),
                ("note".to_owned(), "hi".to_owned()),
            ]
            .into(),
        );
        deployment.metadata.uid = Some("u".into());
        deployment.metadata.owner_references = Some(vec![OwnerReference {
            uid: "owner".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        slim_to_identity(&mut deployment);
        assert!(deployment.labels().is_empty());
        assert_eq!(
            deployment.annotations(),
            &[(crate::apply::APPLIED.to_owned(), "abc".to_owned())].into()
        );
        assert_eq!(
            crate::apply::control(Some(&deployment), "owner"),
            crate::apply::Control::Ours
        );
        assert_eq!(deployment.resource_version().as_deref(), Some("7"));
        assert_eq!(deployment.uid().as_deref(), Some("u"));
    }
}

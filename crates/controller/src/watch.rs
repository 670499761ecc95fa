//! The watches behind every controller, shaped for memory: the one kind a controller caches is
//! kept without what reconciles never read, and the kinds it only reacts to are watched as
//! metadata, so that neither their bodies nor their initial lists are ever decoded in full.

use std::fmt::Debug;

use futures::{Stream, TryStreamExt as _};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::controller::Controller;
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Client, Resource, ResourceExt as _};
use serde::de::DeserializeOwned;

use crate::Scope;

/// Written by `kubectl apply`; a copy of the whole object that no reconcile reads.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops the managed fields (as large as the object itself under server-side apply) and the
/// last-applied copy from an object before it is cached.
pub fn slim<K: Resource>(object: &mut K) {
    object.managed_fields_mut().clear();
    object.annotations_mut().remove(LAST_APPLIED);
}

/// A controller for `K` whose cache holds slimmed objects.
pub fn controller<K>(api: Api<K>, config: watcher::Config) -> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, config)
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .applied_objects();
    Controller::for_stream(stream, reader)
}

/// Every change of a `K` in the scope, as metadata only: enough to find its owner or name.
pub fn changes<K>(
    client: &Client,
    scope: &Scope,
    config: watcher::Config,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    // An API over `PartialObjectMeta` lists and watches with metadata-only requests.
    watcher(scope.api::<PartialObjectMeta<K>>(client), config)
        .default_backoff()
        .touched_objects()
        .map_ok(|mut meta| {
            slim(&mut meta);
            meta
        })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};

    use super::*;

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
}

//! The one write path: server-side apply with one field manager, skipped entirely when the
//! live object already holds every field we would write. A reconcile with nothing to change
//! therefore sends no write request at all.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Error;

/// Field manager of every write the operator makes.
pub const FIELD_MANAGER: &str = "superset-operator";

/// A controller owner reference to `owner`, so deleting the owner deletes the object.
pub fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    owner
        .controller_owner_ref(&())
        .expect("owners read from the API have a name and a UID")
}

/// `object` with a controller owner reference to `owner`.
pub fn owned_by<K: Resource>(mut object: K, owner: &OwnerReference) -> K {
    object.meta_mut().owner_references = Some(vec![owner.clone()]);
    object
}

/// Whether `desired` is contained in `live`: every field we set has the value we want. Fields
/// the API server defaults or other writers own are ignored.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(key, value)| {
            value.is_null() || have.get(key).is_some_and(|h| is_subset(value, h))
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| is_subset(w, h))
        }
        (want, have) => want == have,
    }
}

/// Annotation holding the checksum of what the operator last applied to an object.
pub const APPLIED: &str = "superset.apache.org/applied";

/// Applies `desired` unless `live` already matches it; returns the object as it now stands.
///
/// "Matches" means both: the live object holds every field of `desired` (so nobody changed
/// them), and the last apply was of this very `desired` (so no field we used to set and no
/// longer want, such as replicas handed to an autoscaler, still lingers).
pub async fn apply<K>(api: &Api<K>, desired: &K, live: Option<K>) -> Result<K, Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let fingerprint = fingerprint(desired)?;
    let mut desired = desired.clone();
    desired
        .annotations_mut()
        .insert(APPLIED.to_owned(), fingerprint.clone());
    if let Some(live) = live {
        let same_apply = live.annotations().get(APPLIED) == Some(&fingerprint);
        let want = without_status(serde_json::to_value(&desired)?);
        if same_apply && is_subset(&want, &serde_json::to_value(&live)?) {
            return Ok(live);
        }
    }
    let name = desired.name_any();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api.patch(&name, &params, &Patch::Apply(&desired)).await?)
}

/// The checksum of `desired` that [`apply`] records in the [`APPLIED`] annotation.
pub fn fingerprint<K: Serialize>(desired: &K) -> Result<String, Error> {
    Ok(superset_operator_render::checksum::of_json(
        &without_status(serde_json::to_value(desired)?),
    ))
}

fn without_status(mut value: Value) -> Value {
    if let Some(object) = value.as_object_mut() {
        object.remove("status");
    }
    value
}

/// Who controls an object at a name the operator manages.
#[derive(Debug, PartialEq, Eq)]
pub enum Control {
    /// Nothing there.
    Absent,
    /// Ours: its controller is `owner`.
    Ours,
    /// Another controller's; never touched.
    Foreign(String),
    /// Nobody's; never adopted.
    Unowned,
}

/// Classifies `live` against the owner that should control it.
pub fn control<K: Resource>(live: Option<&K>, owner_uid: &str) -> Control {
    let Some(live) = live else {
        return Control::Absent;
    };
    match live
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
    {
        Some(r) if r.uid == owner_uid => Control::Ours,
        Some(r) => Control::Foreign(format!("{}/{}", r.kind, r.name)),
        None => Control::Unowned,
    }
}

/// Deletes `name` only if it is still the object with `uid`.
pub async fn delete_exact<K>(api: &Api<K>, name: &str, uid: &str) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_owned()),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_added_by_the_server_are_not_drift() {
        let desired = json!({"spec": {"replicas": 2, "template": {"containers": [{"name": "a"}]}}});
        let live = json!({"spec": {"replicas": 2, "progressDeadlineSeconds": 600, "template": {"containers": [{"name": "a", "imagePullPolicy": "Always"}]}}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn changed_or_removed_fields_are_drift() {
        let desired = json!({"spec": {"replicas": 2, "ports": [1, 2]}});
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"replicas": 3, "ports": [1, 2]}})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"replicas": 2, "ports": [1]}})
        ));
        assert!(!is_subset(&desired, &json!({"spec": {"ports": [1, 2]}})));
    }
}

//! Schema helpers for Kubernetes core types embedded in our specs.
//!
//! A `Superset` embeds pod templates in ten places; with the upstream descriptions of every
//! core type (Volume, Container, Affinity, ...) its CRD would exceed 3 MB and etcd's request
//! limit. Embedded core types therefore keep their structure and validation but drop their
//! nested descriptions, as `controller-gen crd:maxDescLen=0` does; the field's own doc comment
//! still describes it in `kubectl explain`.

use schemars::generate::SchemaGenerator;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The schema of `T` without the descriptions of its nested properties.
pub(crate) fn core<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let mut value = generator.subschema_for::<T>().to_value();
    strip_descriptions(&mut value);
    Schema::try_from(value).expect("a schema stays an object or a bool without descriptions")
}

fn strip_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("description");
            map.values_mut().for_each(strip_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

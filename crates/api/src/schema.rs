//! Schema helpers for Kubernetes core types embedded in our specs.
//!
//! A `Superset` embeds pod templates in ten places; with the upstream descriptions of every
//! core type (Volume, Container, Affinity, ...) its CRD would exceed 3 MB and etcd's request
//! limit. Embedded core types therefore keep their structure and validation but drop their
//! nested descriptions, as `controller-gen crd:maxDescLen=0` does; the field's own doc comment
//! still describes it in `kubectl explain`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
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

/// Gives every 32-bit integer of a CRD its bounds. The API server does not enforce
/// `format: int32` on custom resources: `replicas: 2147483648` was admitted, and the operator,
/// whose field is an `i32`, could then not read that Superset at all.
pub(crate) fn bound_int32(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut value = serde_json::to_value(crd).expect("a CRD serialises");
    bound(&mut value);
    serde_json::from_value(value).expect("bounding integers keeps a CRD valid")
}

fn bound(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("int32") {
                let within = |key: &str, limit: i64, keep: fn(i64, i64) -> i64| {
                    let given = map.get(key).and_then(Value::as_i64);
                    Value::from(given.map_or(limit, |given| keep(given, limit)))
                };
                let minimum = within("minimum", i32::MIN.into(), i64::max);
                let maximum = within("maximum", i32::MAX.into(), i64::min);
                map.insert("minimum".into(), minimum);
                map.insert("maximum".into(), maximum);
            }
            map.values_mut().for_each(bound);
        }
        Value::Array(items) => items.iter_mut().for_each(bound),
        _ => {}
    }
}

/// The properties of the core types that hold a resource quantity (`resources.limits`,
/// `requests`, `sizeLimit`, a metric target's `value`, a field reference's `divisor`), whose
/// upstream schema is a bare int-or-string.
const QUANTITY_PROPERTIES: [&str; 6] = [
    "limits",
    "requests",
    "sizeLimit",
    "value",
    "averageValue",
    "divisor",
];

/// Gives every resource quantity of a CRD the syntax Kubernetes parses: `cpu: banana` was
/// admitted, and then every apply of the Deployment made from it was refused.
pub(crate) fn pattern_quantities(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut value = serde_json::to_value(crd).expect("a CRD serialises");
    quantities(&mut value, None);
    serde_json::from_value(value).expect("patterning quantities keeps a CRD valid")
}

fn quantities(value: &mut Value, property: Option<&str>) {
    match value {
        Value::Object(map) => {
            let int_or_string = map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
            if int_or_string && property.is_some_and(|p| QUANTITY_PROPERTIES.contains(&p)) {
                map.insert("pattern".into(), Value::from(crate::patterns::QUANTITY));
            }
            for (key, child) in map.iter_mut() {
                let next = match key.as_str() {
                    // A map of quantities (`limits`) keeps its property's name for its values.
                    "additionalProperties" => property,
                    "properties" => {
                        if let Value::Object(properties) = child {
                            for (name, schema) in properties.iter_mut() {
                                quantities(schema, Some(name));
                            }
                        }
                        continue;
                    }
                    _ => None,
                };
                quantities(child, next);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| quantities(item, None)),
        _ => {}
    }
}

/// Joins the lines of each description into paragraphs. Doc comments wrap at 100 columns;
/// `kubectl explain` wraps again, and would otherwise show the source's line breaks.
pub(crate) fn reflow_descriptions(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut value = serde_json::to_value(crd).expect("a CRD serialises");
    reflow(&mut value);
    serde_json::from_value(value).expect("reflowing keeps a CRD valid")
}

fn reflow(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(text)) = map.get_mut("description") {
                *text = text
                    .split("\n\n")
                    .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n\n");
            }
            map.values_mut().for_each(reflow);
        }
        Value::Array(items) => items.iter_mut().for_each(reflow),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every int-or-string of the CRDs, by the name of the property holding it, with whether it
    /// carries a pattern.
    fn int_or_strings(value: &Value, property: Option<&str>, found: &mut Vec<(String, bool)>) {
        match value {
            Value::Object(map) => {
                if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                    found.push((
                        property.unwrap_or("").to_owned(),
                        map.contains_key("pattern"),
                    ));
                }
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("properties", Value::Object(properties)) => {
                            for (name, schema) in properties {
                                int_or_strings(schema, Some(name), found);
                            }
                        }
                        ("additionalProperties", _) => int_or_strings(child, property, found),
                        _ => int_or_strings(child, None, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| int_or_strings(i, None, found)),
            _ => {}
        }
    }

    #[test]
    fn every_quantity_has_the_quantity_syntax_and_no_other_int_or_string_does() {
        let mut found = Vec::new();
        for crd in crate::crds() {
            int_or_strings(&serde_json::to_value(crd).unwrap(), None, &mut found);
        }
        let quantities = found.iter().filter(|(_, patterned)| *patterned).count();
        assert!(quantities > 100, "only {quantities} quantities patterned");
        for (property, patterned) in &found {
            let quantity = super::QUANTITY_PROPERTIES.contains(&property.as_str());
            assert_eq!(quantity, *patterned, "{property}");
        }
        // Ports, surges and budgets take names and percentages: never a quantity's syntax.
        assert!(found.iter().any(|(p, patterned)| p == "port" && !patterned));
    }
}

//! Objects decoded one at a time. A typed list or watch fails as a whole when one object in
//! it does not fit the Rust type (a value the CRD admits and the operator cannot read), and a
//! controller whose watch fails reconciles nothing at all; kube's client then also logs the
//! whole response body, Secrets' references and inline values included. Read through
//! [`Lenient`], an object that does not fit is kept as its metadata and the reason, reported
//! on that object alone, and every other object goes on being reconciled.

use std::borrow::Cow;
use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::report::Reported;

/// The condition an undecodable object carries, with the reason in its message.
pub const INVALID_SPEC: &str = "InvalidSpec";

/// An object of `K` as the API server sent it.
#[derive(Clone, Debug)]
pub enum Lenient<K> {
    /// It fits `K`.
    Valid {
        /// The object.
        object: K,
        /// The failures its status reports.
        reported: Reported,
    },
    /// It does not: its metadata, and why (the field's path and what was wrong with it,
    /// never its value).
    Invalid {
        /// The object's metadata (boxed: invalid objects are rare, valid ones many).
        metadata: Box<ObjectMeta>,
        /// Why it cannot be read.
        error: String,
        /// The failures its status reports.
        reported: Reported,
    },
}

impl<K> Lenient<K> {
    /// The failures the object's status reports.
    pub fn reported(&self) -> &Reported {
        match self {
            Lenient::Valid { reported, .. } | Lenient::Invalid { reported, .. } => reported,
        }
    }

    /// The object, when it fits `K`.
    pub fn valid(&self) -> Option<&K> {
        match self {
            Lenient::Valid { object, .. } => Some(object),
            Lenient::Invalid { .. } => None,
        }
    }

    /// The object, when it fits `K`.
    pub fn into_valid(self) -> Option<K> {
        match self {
            Lenient::Valid { object, .. } => Some(object),
            Lenient::Invalid { .. } => None,
        }
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Lenient<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }
    fn api_version(dt: &()) -> Cow<'_, str> {
        K::api_version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Lenient::Valid { object, .. } => object.meta(),
            Lenient::Invalid { metadata, .. } => metadata,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Lenient::Valid { object, .. } => object.meta_mut(),
            Lenient::Invalid { metadata, .. } => metadata,
        }
    }
}

/// Only the metadata of an object, which the API server has validated whatever the CRD.
#[derive(Deserialize)]
struct MetadataOnly {
    #[serde(default)]
    metadata: ObjectMeta,
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Lenient<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Lists arrive inside a flattened envelope, which serde buffers: a borrowed raw value
        // is not available there, a JSON tree always is.
        let value = Value::deserialize(deserializer)?;
        match serde_path_to_error::deserialize::<_, K>(&value) {
            Ok(object) => Ok(Lenient::Valid {
                object,
                reported: Reported::read(&value),
            }),
            Err(error) => {
                let metadata = Box::new(
                    MetadataOnly::deserialize(&value)
                        .map_err(serde::de::Error::custom)?
                        .metadata,
                );
                let path = error.path().to_string();
                Ok(Lenient::Invalid {
                    metadata,
                    error: describe(&path, &error.into_inner().to_string()),
                    reported: Reported::read(&value),
                })
            }
        }
    }
}

/// `path: reason`, with the value serde quotes in its reason left out: a value in the wrong
/// place may be a credential (a Secret's value pasted where its name belongs).
fn describe(path: &str, reason: &str) -> String {
    let reason = without_values(reason);
    let reason = superset_operator_render::redact::redact_and_truncate(&reason);
    format!("{path}: {reason}; fix the field and apply it again")
}

/// serde_json's reasons with the offending value taken out: `invalid type: string "x",
/// expected i32` becomes `invalid type: string, expected i32`, `unknown variant `x`, expected
/// one of ...` becomes `unknown variant, expected one of ...`. Quoted names of fields and
/// variants the schema knows are kept.
fn without_values(reason: &str) -> String {
    // The words serde puts before a value it quotes.
    const BEFORE_A_VALUE: [&str; 7] = [
        "string",
        "integer",
        "point",
        "boolean",
        "character",
        "variant",
        "bytes",
    ];
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(at) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[at] as char;
        let Some(length) = rest[at + 1..].find(quote) else {
            break;
        };
        let head = &rest[..at];
        let quoted_end = at + 1 + length + 1;
        let names_a_value = head
            .split_whitespace()
            .last()
            .is_some_and(|word| BEFORE_A_VALUE.contains(&word));
        if names_a_value {
            out.push_str(head.trim_end());
        } else {
            out.push_str(&rest[..quoted_end]);
        }
        rest = &rest[quoted_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use superset_operator_api::Superset;

    use super::*;

    fn superset(spec: Value) -> Value {
        json!({
            "apiVersion": "superset.apache.org/v1alpha1",
            "kind": "Superset",
            "metadata": { "name": "analytics", "namespace": "bi", "uid": "u1" },
            "spec": spec,
        })
    }

    fn decode(value: Value) -> Lenient<Superset> {
        serde_json::from_value(value).expect("a lenient read never fails on the body")
    }

    fn valid_spec() -> Value {
        json!({ "image": { "tag": "6.1.0" }, "secretKeyFrom": { "name": "s", "key": "k" } })
    }

    #[test]
    fn an_object_that_fits_is_read_whole() {
        let Lenient::Valid { object, reported } = decode(superset(valid_spec())) else {
            panic!("a valid Superset");
        };
        assert_eq!(object.spec.image.tag, "6.1.0");
        assert_eq!(reported, Reported::default());
    }

    #[test]
    fn an_object_that_does_not_fit_keeps_its_identity_and_the_path_at_fault() {
        let mut spec = valid_spec();
        spec["lifecycle"] = json!({ "migrate": { "timeout": "300" } });
        let Lenient::Invalid {
            metadata, error, ..
        } = decode(superset(spec))
        else {
            panic!("an invalid Superset");
        };
        assert_eq!(metadata.name.as_deref(), Some("analytics"));
        assert_eq!(metadata.uid.as_deref(), Some("u1"));
        // The task's fields are flattened into `migrate`, where serde's path ends.
        assert!(
            error.starts_with("spec.lifecycle.migrate: not a duration"),
            "{error}"
        );
    }

    #[test]
    fn the_reason_never_quotes_the_value() {
        let mut spec = valid_spec();
        // A credential where a number belongs, and where a name belongs.
        spec["replicas"] = json!("hunter2-secret-value");
        let Lenient::Invalid { error, .. } = decode(superset(spec)) else {
            panic!("an invalid Superset");
        };
        assert!(!error.contains("hunter2"), "{error}");
        assert!(
            error.starts_with("spec.replicas: invalid type: string, expected i32"),
            "{error}"
        );
        let mut spec = valid_spec();
        spec["replicas"] = json!(2_147_483_648_i64);
        let Lenient::Invalid { error, .. } = decode(superset(spec)) else {
            panic!("an invalid Superset");
        };
        assert!(!error.contains("2147483648"), "{error}");
        assert!(
            error.starts_with("spec.replicas: invalid value: integer, expected i32"),
            "{error}"
        );
    }

    #[test]
    fn values_are_cut_and_the_schemas_words_kept() {
        assert_eq!(
            without_values("unknown variant `s3cr3t`, expected one of `Production`, `Development`"),
            "unknown variant, expected one of `Production`, `Development`"
        );
        assert_eq!(
            without_values("invalid type: string \"abc\", expected i32"),
            "invalid type: string, expected i32"
        );
        assert_eq!(
            without_values("missing field `image`"),
            "missing field `image`"
        );
        assert_eq!(
            without_values("invalid value: integer `2147483648`, expected i32"),
            "invalid value: integer, expected i32"
        );
    }
}

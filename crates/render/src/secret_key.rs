//! The guard on Superset's `SECRET_KEY`. Superset encrypts the passwords of its database
//! connections (and other stored secrets) with it: components that start with another key
//! cannot read them. A new key is therefore only rolled out once the rotate task has
//! re-encrypted them from the old one, or once a person accepts the loss.

use k8s_openapi::api::core::v1::SecretKeySelector;
use serde_json::Value;
use superset_operator_api::SupersetSpec;

use superset_operator_api::task::TaskType;

use crate::checksum;
use crate::references::Reference;
use crate::resolve::Resolved;

/// The annotation that accepts a new secret key without re-encryption; its value is the new
/// key's fingerprint, so accepting one key never accepts another.
pub const ACCEPT: &str = "superset.apache.org/accept-secret-key";

/// The fingerprints of the current and the previous key, where their values are known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    /// `secretKey` or `secretKeyFrom`.
    pub current: Option<String>,
    /// `previousSecretKey` or `previousSecretKeyFrom`.
    pub previous: Option<String>,
}

/// The Secrets that hold `spec`'s keys.
pub fn references(spec: &SupersetSpec) -> impl Iterator<Item = Reference> + '_ {
    [&spec.secret_key_from, &spec.previous_secret_key_from]
        .into_iter()
        .flatten()
        .map(|selector| Reference::Secret(selector.name.clone()))
}

/// What to do with the key the spec names now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The key the components run with, or the first one: roll out as usual.
    Keep,
    /// A new key, and the rotate task re-encrypts from the recorded one: the pipeline runs first.
    Rotate,
    /// A new key that nothing re-encrypts for: nothing rolls out and no task runs.
    Refuse(String),
}

/// A short fingerprint of key material, salted with the instance's UID so that two instances
/// with one key show different fingerprints and no table of known keys matches them. It is
/// deliberately not keyed with the operator's data key: the recorded fingerprint must survive
/// a new data key (the operator reinstalled elsewhere), or every instance would take its own
/// key for a new one and refuse it.
pub fn fingerprint(salt: &str, material: &str) -> String {
    let hash = checksum::of_json(&("superset-operator/secret-key", salt, material));
    hash.trim_start_matches("sha256:")[..16].to_owned()
}

/// The fingerprints of `spec`'s keys, `data_of` giving a Secret's data as the parent read it
/// (base64 values by key; null when absent).
pub fn keys(spec: &SupersetSpec, salt: &str, data_of: impl Fn(&Reference) -> Value) -> Keys {
    let from_secret = |selector: &SecretKeySelector| {
        data_of(&Reference::Secret(selector.name.clone()))
            .get(&selector.key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let material = |inline: &Option<String>, from: &Option<SecretKeySelector>| {
        inline
            .clone()
            .or_else(|| from.as_ref().and_then(from_secret))
    };
    Keys {
        current: material(&spec.secret_key, &spec.secret_key_from).map(|m| fingerprint(salt, &m)),
        previous: material(&spec.previous_secret_key, &spec.previous_secret_key_from)
            .map(|m| fingerprint(salt, &m)),
    }
}

/// Judges the key the spec names now against `recorded`, the one the components were last
/// applied with. `rotates` says whether the rotate task is enabled; `accepted` is the value of
/// the [`ACCEPT`] annotation.
pub fn judge(
    recorded: Option<&str>,
    keys: &Keys,
    rotates: bool,
    accepted: Option<&str>,
    name: &str,
) -> Verdict {
    let (Some(recorded), Some(current)) = (recorded, keys.current.as_deref()) else {
        return Verdict::Keep;
    };
    if recorded == current || accepted == Some(current) {
        return Verdict::Keep;
    }
    if rotates && keys.previous.as_deref() == Some(recorded) {
        return Verdict::Rotate;
    }
    let why = if !rotates {
        "lifecycle.rotate is not enabled"
    } else if keys.previous.is_none() {
        "no previous key is set"
    } else {
        "the previous key is not the one the components ran with"
    };
    Verdict::Refuse(format!(
        "the secret key changed (fingerprint {recorded} to {current}) and nothing re-encrypts \
         the stored secrets ({why}): started with the new key, Superset could not read the \
         passwords of its database connections. Nothing rolls out until either the old key is \
         back, or previousSecretKeyFrom names the old key and lifecycle.rotate is enabled, or \
         the loss is accepted: kubectl annotate superset {name} {ACCEPT}={current} --overwrite"
    ))
}

/// Folds the fingerprints of both keys into the rotate task's checksum, so that new key values
/// behind unchanged references (a Secret's data replaced) run it again, as new references do.
pub fn fold_into_rotate(resolved: &mut Resolved, keys: &Keys) {
    if keys == &Keys::default() {
        return;
    }
    for task in &mut resolved.tasks {
        if task.task_type == TaskType::Rotate {
            let spec = &mut task.task.spec;
            spec.config_checksum =
                checksum::of_json(&(&spec.config_checksum, &keys.current, &keys.previous));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str, previous: Option<&str>) -> Keys {
        Keys {
            current: Some(current.into()),
            previous: previous.map(Into::into),
        }
    }

    #[test]
    fn the_first_key_and_the_same_key_roll_out() {
        assert_eq!(
            judge(None, &keys("a", None), false, None, "bi"),
            Verdict::Keep
        );
        assert_eq!(
            judge(Some("a"), &keys("a", None), false, None, "bi"),
            Verdict::Keep
        );
        // A key that cannot be read (its Secret is missing) is no change: pods cannot start.
        assert_eq!(
            judge(Some("a"), &Keys::default(), false, None, "bi"),
            Verdict::Keep
        );
    }

    #[test]
    fn a_new_key_rolls_out_only_through_rotation_or_acceptance() {
        assert_eq!(
            judge(Some("a"), &keys("b", Some("a")), true, None, "bi"),
            Verdict::Rotate
        );
        for (keys, rotates, why) in [
            (keys("b", None), false, "lifecycle.rotate is not enabled"),
            (keys("b", None), true, "no previous key is set"),
            (
                keys("b", Some("c")),
                true,
                "not the one the components ran with",
            ),
        ] {
            let Verdict::Refuse(message) = judge(Some("a"), &keys, rotates, None, "bi") else {
                panic!("{why}: not refused");
            };
            assert!(message.contains(why), "{message}");
            assert!(message.contains(&format!("{ACCEPT}=b")), "{message}");
        }
        // Accepting this key accepts it; accepting another does not.
        assert_eq!(
            judge(Some("a"), &keys("b", None), false, Some("b"), "bi"),
            Verdict::Keep
        );
        assert!(matches!(
            judge(Some("a"), &keys("b", None), false, Some("c"), "bi"),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn fingerprints_are_salted_and_never_the_key() {
        let one = fingerprint("uid-1", "s3cr3t");
        assert_eq!(one.len(), 16);
        assert_ne!(one, fingerprint("uid-2", "s3cr3t"));
        assert_ne!(one, fingerprint("uid-1", "other"));
        assert!(!one.contains("s3cr3t"));
    }
}

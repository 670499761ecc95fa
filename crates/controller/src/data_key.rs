//! The operator's key for hashing secret data ([`DataKey`]): 32 random bytes in a Secret of
//! the operator's own namespace, made by the first replica that finds none, so that every
//! replica and every restart hashes alike and no pod rolls because the operator restarted.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;
use superset_operator_render::checksum::DataKey;

/// Why the key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum DataKeyError {
    /// Reading or creating the Secret failed.
    #[error("reading or creating the Secret of the operator's data key: {0}")]
    Kube(#[from] kube::Error),
    /// The system has no randomness to give.
    #[error("no random bytes for the operator's data key: {0}")]
    Random(getrandom::Error),
    /// The Secret holds no usable key.
    #[error(
        "the Secret {0} holds no key of at least 16 bytes under \"key\"; delete it and the operator makes a new one (every pod that reads a Secret then rolls once)"
    )]
    Unusable(String),
}

/// The Secret's default name.
pub const SECRET: &str = "superset-operator-data-key";
/// The key of the Secret that holds the bytes.
pub const FIELD: &str = "key";
/// How many random bytes a new key has.
const LENGTH: usize = 32;

/// The key in the Secret `name` of `api`'s namespace, created with a random key when absent.
pub async fn load_or_create(api: &Api<Secret>, name: &str) -> Result<DataKey, DataKeyError> {
    if let Some(secret) = api.get_opt(name).await? {
        return key_of(&secret, name);
    }
    let mut bytes = vec![0u8; LENGTH];
    getrandom::fill(&mut bytes).map_err(DataKeyError::Random)?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/name".to_owned(),
                "superset-operator".to_owned(),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(FIELD.to_owned(), ByteString(bytes))])),
        ..Default::default()
    };
    match api.create(&PostParams::default(), &secret).await {
        Ok(created) => key_of(&created, name),
        // Another replica made it first: use theirs.
        Err(kube::Error::Api(status)) if status.code == 409 => key_of(&api.get(name).await?, name),
        Err(error) => Err(error.into()),
    }
}

fn key_of(secret: &Secret, name: &str) -> Result<DataKey, DataKeyError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get(FIELD))
        .map(|b| b.0.as_slice())
        .unwrap_or_default();
    if bytes.len() < 16 {
        return Err(DataKeyError::Unusable(name.to_owned()));
    }
    Ok(DataKey::new(bytes))
}

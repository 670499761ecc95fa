//! Valkey (or Redis): caches, the Celery broker and result backend, SQL Lab results.

use k8s_openapi::api::core::v1::SecretKeySelector;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Connection to Valkey and what Superset uses it for. Every use is on by default; set
/// `disabled: true` on a block to leave it to Superset's own default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.password) && has(self.passwordFrom))")
    .message("set either valkey.password or valkey.passwordFrom, not both"))]
pub struct ValkeySpec {
    /// Host name of the Valkey server.
    #[schemars(length(min = 1))]
    pub host: String,

    /// Port of the Valkey server.
    #[serde(default = "default_valkey_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// ACL user name; the default user when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,

    /// Password, inline. Development only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,

    /// Password, read from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_from: Option<SecretKeySelector>,

    /// TLS to Valkey; its presence switches the scheme to `rediss://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<ValkeySslSpec>,

    /// General cache, `CACHE_CONFIG` (database 1, prefix `superset_`, 300 s when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<ValkeyCacheSpec>,

    /// Chart data cache, `DATA_CACHE_CONFIG` (database 2, prefix `superset_data_`, 86400 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_cache: Option<ValkeyCacheSpec>,

    /// Dashboard filter state, `FILTER_STATE_CACHE_CONFIG` (database 3, `superset_filter_`, 3600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_state_cache: Option<ValkeyCacheSpec>,

    /// Explore form data, `EXPLORE_FORM_DATA_CACHE_CONFIG` (database 4, `superset_explore_`, 3600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explore_form_data_cache: Option<ValkeyCacheSpec>,

    /// Thumbnails, `THUMBNAIL_CACHE_CONFIG` (database 5, `superset_thumbnail_`, 3600 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_cache: Option<ValkeyCacheSpec>,

    /// Locks between Superset processes, `DISTRIBUTED_COORDINATION_CONFIG`
    /// (database 7, `coordination_`, 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed_coordination: Option<ValkeyCacheSpec>,

    /// Celery broker, `CeleryConfig.broker_url` (database 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celery_broker: Option<ValkeyCelerySpec>,

    /// Celery result backend, `CeleryConfig.result_backend` (database 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub celery_result_backend: Option<ValkeyCelerySpec>,

    /// SQL Lab asynchronous query results, `RESULTS_BACKEND` (database 6, `superset_results_`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_backend: Option<ValkeyResultsBackendSpec>,
}

fn default_valkey_port() -> i32 {
    6379
}

/// Whether the server's certificate must be verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CertRequired {
    /// Verify, and fail without a valid certificate.
    #[default]
    Required,
    /// Verify when a certificate is presented.
    Optional,
    /// Do not verify.
    None,
}

/// TLS settings for Valkey. The files are mounted by you (for example through
/// `podTemplate.volumes`); their paths are written into the config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValkeySslSpec {
    /// How the server's certificate is verified.
    #[serde(default)]
    pub cert_required: CertRequired,

    /// Path of the client private key (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,

    /// Path of the client certificate (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,

    /// Path of the CA bundle that signed the server certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_file: Option<String>,
}

/// One cache stored in Valkey. Unset fields take the cache's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValkeyCacheSpec {
    /// Leave this cache to Superset's default instead of Valkey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,

    /// Valkey database number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub database: Option<i32>,

    /// Key prefix; the instance name is prepended at run time so instances can share a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,

    /// Seconds an entry lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub default_timeout: Option<i32>,
}

/// A Celery connection to Valkey.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValkeyCelerySpec {
    /// Leave this connection to the image's Celery default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,

    /// Valkey database number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub database: Option<i32>,
}

/// Where SQL Lab keeps asynchronous query results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValkeyResultsBackendSpec {
    /// Leave the results backend to Superset's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,

    /// Valkey database number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub database: Option<i32>,

    /// Key prefix; the instance name is prepended at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
}

//! The metastore: the database where Superset keeps its own state.

use k8s_openapi::api::core::v1::SecretKeySelector;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A database engine Superset can use as its metastore.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DatabaseType {
    /// PostgreSQL (default port 5432, driver `psycopg2`).
    #[default]
    PostgreSQL,
    /// MySQL (default port 3306, driver `mysqldb`).
    MySQL,
}

/// Connection to the metastore. Give either a full URI (`uri`/`uriFrom`) or its parts
/// (`host`, `database`, `username`, and a password).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.uri) && has(self.uriFrom))")
        .message("set either metastore.uri or metastore.uriFrom, not both"),
    validation = Rule::new("!(has(self.password) && has(self.passwordFrom))")
        .message("set either metastore.password or metastore.passwordFrom, not both"),
    validation = Rule::new("!has(self.uri) || !(has(self.host) || has(self.port) || has(self.database) || has(self.username) || has(self.password) || has(self.passwordFrom) || has(self.driver))")
        .message("metastore.uri is a complete connection string: remove host, port, database, username, password, passwordFrom and driver"),
    validation = Rule::new("!has(self.uriFrom) || !(has(self.host) || has(self.port) || has(self.database) || has(self.username) || has(self.password) || has(self.passwordFrom) || has(self.driver))")
        .message("metastore.uriFrom is a complete connection string: remove host, port, database, username, password, passwordFrom and driver"),
    validation = Rule::new("has(self.host) || !(has(self.port) || has(self.database) || has(self.username) || has(self.password) || has(self.passwordFrom) || has(self.driver))")
        .message("metastore.port, database, username, password, passwordFrom and driver need metastore.host"),
    validation = Rule::new("!has(self.host) || (has(self.database) && has(self.username))")
        .message("metastore.host needs metastore.database and metastore.username"),
    validation = Rule::new("!has(self.createDatabase) || !self.createDatabase || has(self.host)")
        .message("metastore.createDatabase needs the structured form (metastore.host, database, username)"),
)]
pub struct MetastoreSpec {
    /// Full SQLAlchemy URI, inline. Development only: it usually contains a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,

    /// Full SQLAlchemy URI, read from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_from: Option<SecretKeySelector>,

    /// Database engine; selects the URI scheme and the default port.
    #[serde(default, rename = "type")]
    pub type_: DatabaseType,

    /// SQLAlchemy driver name (`psycopg2` for PostgreSQL and `mysqldb` for MySQL when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_]+$"))]
    pub driver: Option<String>,

    /// Database host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub host: Option<String>,

    /// Database port (5432 for PostgreSQL, 3306 for MySQL when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,

    /// Database name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub database: Option<String>,

    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub username: Option<String>,

    /// Password, inline. Development only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,

    /// Password, read from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_from: Option<SecretKeySelector>,

    /// Create the database before migrating when it does not exist (an idempotent init
    /// container on the migrate task). Needs the structured form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_database: Option<bool>,
}

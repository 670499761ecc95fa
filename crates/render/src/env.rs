//! Environment variables the operator gives Superset's containers. Secrets travel only as
//! `secretKeyRef`s (inline values exist only in Development, where admission allows them).

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};
use superset_operator_api::SupersetSpec;
use superset_operator_api::superset::metastore::DatabaseType;

use crate::tuning::Gunicorn;

/// Names of the operator's environment variables.
pub mod vars {
    /// Superset's `SECRET_KEY`.
    pub const SECRET_KEY: &str = "SUPERSET_OPERATOR__SECRET_KEY";
    /// The previous `SECRET_KEY`, for re-encryption.
    pub const PREVIOUS_SECRET_KEY: &str = "SUPERSET_OPERATOR__PREVIOUS_SECRET_KEY";
    /// Full metastore URI (passthrough mode).
    pub const DB_URI: &str = "SUPERSET_OPERATOR__DB_URI";
    /// Metastore host (structured mode).
    pub const DB_HOST: &str = "SUPERSET_OPERATOR__DB_HOST";
    /// Metastore port.
    pub const DB_PORT: &str = "SUPERSET_OPERATOR__DB_PORT";
    /// Metastore database name.
    pub const DB_NAME: &str = "SUPERSET_OPERATOR__DB_NAME";
    /// Metastore user.
    pub const DB_USER: &str = "SUPERSET_OPERATOR__DB_USER";
    /// Metastore password.
    pub const DB_PASS: &str = "SUPERSET_OPERATOR__DB_PASS";
    /// Valkey host.
    pub const VALKEY_HOST: &str = "SUPERSET_OPERATOR__VALKEY_HOST";
    /// Valkey port.
    pub const VALKEY_PORT: &str = "SUPERSET_OPERATOR__VALKEY_PORT";
    /// Valkey ACL user.
    pub const VALKEY_USER: &str = "SUPERSET_OPERATOR__VALKEY_USER";
    /// Valkey password.
    pub const VALKEY_PASS: &str = "SUPERSET_OPERATOR__VALKEY_PASS";
    /// The Superset's name, prefixed to cache keys.
    pub const INSTANCE_NAME: &str = "SUPERSET_OPERATOR__INSTANCE_NAME";
    /// `spec.forceReload`; changing it restarts pods.
    pub const FORCE_RELOAD: &str = "SUPERSET_OPERATOR__FORCE_RELOAD";
    /// URL prefix Flower serves under.
    pub const FLOWER_URL_PREFIX: &str = "SUPERSET_OPERATOR__FLOWER_URL_PREFIX";
    /// Where Superset finds the rendered config.
    pub const CONFIG_PATH: &str = "SUPERSET_CONFIG_PATH";
    /// Port the image's `run-server.sh` binds.
    pub const SUPERSET_PORT: &str = "SUPERSET_PORT";
    /// Admin user created by init (Development only).
    pub const ADMIN_USERNAME: &str = "SUPERSET_OPERATOR__ADMIN_USERNAME";
    /// Admin password.
    pub const ADMIN_PASSWORD: &str = "SUPERSET_OPERATOR__ADMIN_PASSWORD";
    /// Admin first name.
    pub const ADMIN_FIRST_NAME: &str = "SUPERSET_OPERATOR__ADMIN_FIRST_NAME";
    /// Admin last name.
    pub const ADMIN_LAST_NAME: &str = "SUPERSET_OPERATOR__ADMIN_LAST_NAME";
    /// Admin e-mail.
    pub const ADMIN_EMAIL: &str = "SUPERSET_OPERATOR__ADMIN_EMAIL";
    /// Seed source host.
    pub const SEED_SRC_HOST: &str = "SUPERSET_OPERATOR__SEED_SRC_HOST";
    /// Seed source port.
    pub const SEED_SRC_PORT: &str = "SUPERSET_OPERATOR__SEED_SRC_PORT";
    /// Seed source database.
    pub const SEED_SRC_DB: &str = "SUPERSET_OPERATOR__SEED_SRC_DB";
    /// Seed source user.
    pub const SEED_SRC_USER: &str = "SUPERSET_OPERATOR__SEED_SRC_USER";
    /// Seed source password.
    pub const SEED_SRC_PASS: &str = "SUPERSET_OPERATOR__SEED_SRC_PASS";
    /// Maintenance page title, for custom page images.
    pub const MAINTENANCE_TITLE: &str = "SUPERSET_OPERATOR__MAINTENANCE_TITLE";
    /// Maintenance page message, for custom page images.
    pub const MAINTENANCE_MESSAGE: &str = "SUPERSET_OPERATOR__MAINTENANCE_MESSAGE";
    /// Maintenance page HTML, for custom page images.
    pub const MAINTENANCE_BODY: &str = "SUPERSET_OPERATOR__MAINTENANCE_BODY";
}

/// Directory the rendered files are mounted at.
pub const CONFIG_DIR: &str = "/app/pythonpath";

/// A variable with a plain value.
pub fn plain(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// A variable read from a Secret key.
pub fn from_secret(name: &str, selector: &SecretKeySelector) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(selector.clone()),
            ..Default::default()
        }),
    }
}

/// The inline value when given (Development), else the Secret reference.
fn inline_or_secret(
    name: &str,
    inline: Option<&String>,
    secret: Option<&SecretKeySelector>,
) -> Option<EnvVar> {
    inline
        .map(|v| plain(name, v.clone()))
        .or_else(|| secret.map(|s| from_secret(name, s)))
}

/// Default port of a database engine.
pub fn default_port(database: DatabaseType) -> i32 {
    match database {
        DatabaseType::PostgreSQL => 5432,
        DatabaseType::MySQL => 3306,
    }
}

/// Variables every Superset (Python) container gets: secrets, metastore, Valkey, instance.
pub fn superset(spec: &SupersetSpec, instance: &str) -> Vec<EnvVar> {
    let mut env = Vec::new();
    env.extend(inline_or_secret(
        vars::SECRET_KEY,
        spec.secret_key.as_ref(),
        spec.secret_key_from.as_ref(),
    ));
    env.extend(inline_or_secret(
        vars::PREVIOUS_SECRET_KEY,
        spec.previous_secret_key.as_ref(),
        spec.previous_secret_key_from.as_ref(),
    ));
    if let Some(metastore) = &spec.metastore {
        if let Some(uri) = inline_or_secret(
            vars::DB_URI,
            metastore.uri.as_ref(),
            metastore.uri_from.as_ref(),
        ) {
            env.push(uri);
        } else if let Some(host) = &metastore.host {
            env.push(plain(vars::DB_HOST, host.clone()));
            env.push(plain(
                vars::DB_PORT,
                metastore
                    .port
                    .unwrap_or(default_port(metastore.type_))
                    .to_string(),
            ));
            env.extend(
                metastore
                    .database
                    .as_ref()
                    .map(|d| plain(vars::DB_NAME, d.clone())),
            );
            env.extend(
                metastore
                    .username
                    .as_ref()
                    .map(|u| plain(vars::DB_USER, u.clone())),
            );
            env.extend(inline_or_secret(
                vars::DB_PASS,
                metastore.password.as_ref(),
                metastore.password_from.as_ref(),
            ));
        }
    }
    if let Some(valkey) = &spec.valkey {
        env.push(plain(vars::VALKEY_HOST, valkey.host.clone()));
        env.push(plain(vars::VALKEY_PORT, valkey.port.to_string()));
        env.extend(
            valkey
                .username
                .as_ref()
                .map(|u| plain(vars::VALKEY_USER, u.clone())),
        );
        env.extend(inline_or_secret(
            vars::VALKEY_PASS,
            valkey.password.as_ref(),
            valkey.password_from.as_ref(),
        ));
    }
    env.push(plain(vars::INSTANCE_NAME, instance));
    env.push(plain(
        vars::CONFIG_PATH,
        format!("{CONFIG_DIR}/superset_config.py"),
    ));
    env
}

/// `SUPERSET_OPERATOR__FORCE_RELOAD`, when `spec.forceReload` is set.
pub fn force_reload(spec: &SupersetSpec) -> Option<EnvVar> {
    spec.force_reload
        .as_ref()
        .filter(|v| !v.is_empty())
        .map(|v| plain(vars::FORCE_RELOAD, v.clone()))
}

/// Gunicorn settings for the image's `run-server.sh`, and the port it binds.
pub fn gunicorn(settings: Option<&Gunicorn>, port: i32) -> Vec<EnvVar> {
    let mut env = vec![plain(vars::SUPERSET_PORT, port.to_string())];
    let Some(g) = settings else { return env };
    let class = serde_json::to_value(g.worker_class).expect("enum serialises");
    let level = serde_json::to_value(g.log_level).expect("enum serialises");
    env.extend([
        plain("SERVER_WORKER_AMOUNT", g.workers.to_string()),
        plain("SERVER_THREADS_AMOUNT", g.threads.to_string()),
        plain("SERVER_WORKER_CLASS", class.as_str().unwrap_or_default()),
        plain("GUNICORN_TIMEOUT", g.timeout.to_string()),
        plain("GUNICORN_KEEPALIVE", g.keep_alive.to_string()),
        plain("WORKER_MAX_REQUESTS", g.max_requests.to_string()),
        plain(
            "WORKER_MAX_REQUESTS_JITTER",
            g.max_requests_jitter.to_string(),
        ),
        plain(
            "SERVER_LIMIT_REQUEST_LINE",
            g.limit_request_line.to_string(),
        ),
        plain(
            "SERVER_LIMIT_REQUEST_FIELD_SIZE",
            g.limit_request_field_size.to_string(),
        ),
        plain("GUNICORN_LOGLEVEL", level.as_str().unwrap_or_default()),
    ]);
    env
}

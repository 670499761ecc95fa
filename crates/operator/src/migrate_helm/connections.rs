//! The secret key, the metastore and Valkey: connection settings become fields, their
//! passwords references to the Secret the chart wrote them into.

use serde_json::json;

use super::Mapper;

/// The chart's connection defaults: what a release ran with when its values file is silent.
/// The host defaults point at the chart's own PostgreSQL and Redis sub-charts.
const CHART_DB_PORT: i64 = 5432;
const CHART_DB_USER: &str = "superset";
const CHART_DB_NAME: &str = "superset";
const CHART_REDIS_PORT: i64 = 6379;

impl Mapper {
    pub(super) fn map_secret_key(&mut self) {
        let env_secret = self.names.env_secret.clone();
        let from_secret_env = ["SUPERSET_SECRET_KEY", "SECRET_KEY"]
            .into_iter()
            .find(|k| self.values.has(&format!("extraSecretEnv.{k}")));
        if let Some(key) = from_secret_env {
            self.set("secretKeyFrom", json!({"name": env_secret, "key": key}));
            return;
        }
        // An inline key in extraEnv was already moved to the credentials Secret: read it there.
        let moved = ["SUPERSET_SECRET_KEY", "SECRET_KEY"]
            .into_iter()
            .find(|k| self.credential_envs.contains(*k));
        if let Some(key) = moved {
            let secret = self.credentials_secret();
            self.set("secretKeyFrom", json!({"name": secret, "key": key}));
            return;
        }
        let secret = format!("{}-secret-key", self.name);
        self.set(
            "secretKeyFrom",
            json!({"name": secret, "key": "secret-key"}),
        );
        let source = match self.secret_key_from_config.clone() {
            Some(path) => format!("the SECRET_KEY assigned in {path} (removed from the config)"),
            None => "the SECRET_KEY the release runs with (Superset reads SUPERSET_SECRET_KEY; the chart sets none by default)".into(),
        };
        self.reads_secret(
            &secret,
            "secret-key",
            format!("{source}; a different key makes stored database passwords unreadable"),
            true,
        );
    }

    pub(super) fn map_metastore(&mut self) {
        let base = "supersetNode.connections";
        let host = self
            .values
            .string(&format!("{base}.db_host"))
            .unwrap_or_else(|| "{{ .Release.Name }}-postgresql".into());
        let host = self
            .expand(&format!("{base}.db_host"), &host)
            .unwrap_or_else(|| "CHANGE-ME".into());
        let port = self
            .values
            .integer(&format!("{base}.db_port"))
            .unwrap_or(CHART_DB_PORT);
        let user = self
            .values
            .string(&format!("{base}.db_user"))
            .unwrap_or_else(|| CHART_DB_USER.into());
        let database = self
            .values
            .string(&format!("{base}.db_name"))
            .unwrap_or_else(|| CHART_DB_NAME.into());
        self.values.take(&format!("{base}.db_pass"));
        let secret = self.names.env_secret.clone();
        self.set(
            "metastore",
            json!({
                "type": "PostgreSQL",
                "host": host,
                "port": port,
                "username": user,
                "database": database,
                "passwordFrom": {"name": secret, "key": "DB_PASS"},
            }),
        );
        self.reads_secret(
            &secret,
            "DB_PASS",
            format!("the metastore password ({base}.db_pass), written there by the chart"),
            false,
        );
        if self.values.flag("postgresql.enabled") != Some(false) {
            self.unmapped(
                "postgresql.enabled",
                format!("the release runs PostgreSQL from the chart's sub-chart ({}-postgresql), and `helm uninstall` removes it: move the database to a managed service or its own release first, then point spec.metastore at it", self.names.release),
            );
        }
        self.values.take("postgresql");
    }

    pub(super) fn map_valkey(&mut self) {
        let base = "supersetNode.connections";
        let host = self
            .values
            .string(&format!("{base}.redis_host"))
            .unwrap_or_else(|| "{{ .Release.Name }}-redis-headless".into());
        let host = self
            .expand(&format!("{base}.redis_host"), &host)
            .unwrap_or_else(|| "CHANGE-ME".into());
        let port = self
            .values
            .integer(&format!("{base}.redis_port"))
            .unwrap_or(CHART_REDIS_PORT);
        let mut valkey = json!({"host": host, "port": port});
        if let Some(user) = self.values.string(&format!("{base}.redis_user")) {
            valkey["username"] = json!(user);
        }
        if self
            .values
            .take(&format!("{base}.redis_password"))
            .is_some()
        {
            let secret = self.names.env_secret.clone();
            valkey["passwordFrom"] = json!({"name": secret, "key": "REDIS_PASSWORD"});
            self.reads_secret(
                &secret,
                "REDIS_PASSWORD",
                format!("the Valkey password ({base}.redis_password), written there by the chart"),
                false,
            );
        }
        if let Some(db) = self.values.integer(&format!("{base}.redis_cache_db")) {
            valkey["cache"] = json!({"database": db});
        }
        if let Some(db) = self.values.integer(&format!("{base}.redis_celery_db")) {
            valkey["celeryBroker"] = json!({"database": db});
            valkey["celeryResultBackend"] = json!({"database": db});
        }
        if self.values.flag(&format!("{base}.redis_ssl.enabled")) == Some(true) {
            let reqs = self
                .values
                .string(&format!("{base}.redis_ssl.ssl_cert_reqs"))
                .unwrap_or_else(|| "CERT_NONE".into());
            let cert_required = match reqs.as_str() {
                "CERT_REQUIRED" => "required",
                "CERT_OPTIONAL" => "optional",
                _ => "none",
            };
            valkey["ssl"] = json!({"certRequired": cert_required});
        }
        self.values.take(&format!("{base}.redis_ssl"));
        self.set("valkey", valkey);
        if self.values.flag("redis.enabled") != Some(false) {
            self.unmapped(
                "redis.enabled",
                format!("the release runs Redis from the chart's sub-chart ({}-redis), and `helm uninstall` removes it: run Valkey or Redis separately first, then point spec.valkey at it", self.names.release),
            );
        }
        self.values.take("redis");
    }
}

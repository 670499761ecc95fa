//! Snapshots of rendered configs for each metastore and Valkey shape and for each component.
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always cargo test` to accept).

mod common;

use common::{config, dev, resolved};
use superset_operator_render::Component;

fn web_config(spec: &str) -> String {
    config(
        &resolved(&dev(&format!("{spec}  webServer: {{}}\n"))),
        Component::WebServer,
    )
}

#[test]
fn config_without_metastore_or_valkey() {
    insta::assert_snapshot!(web_config(""));
}

#[test]
fn config_with_passthrough_metastore() {
    insta::assert_snapshot!(web_config(
        "  metastore: {uri: \"postgresql://u:p@db/superset\"}\n"
    ));
}

#[test]
fn config_with_structured_postgres() {
    insta::assert_snapshot!(web_config(
        "  metastore: {host: db, database: superset, username: superset, password: p}\n"
    ));
}

#[test]
fn config_with_structured_mysql_and_driver() {
    insta::assert_snapshot!(web_config(
        "  metastore: {type: MySQL, driver: pymysql, host: db, port: 3307, database: superset, username: superset}\n"
    ));
}

#[test]
fn config_with_valkey_defaults() {
    insta::assert_snapshot!(web_config("  valkey: {host: valkey}\n"));
}

#[test]
fn config_with_valkey_tls_user_and_disabled_blocks() {
    insta::assert_snapshot!(web_config(
        "  valkey:\n    host: valkey\n    username: app\n    password: p\n    ssl: {caCertFile: /certs/ca.pem, certFile: /certs/tls.crt, keyFile: /certs/tls.key}\n\
         \x20   thumbnailCache: {disabled: true}\n    celeryResultBackend: {disabled: true}\n    resultsBackend: {disabled: true}\n"
    ));
}

#[test]
fn config_with_previous_key_feature_flags_and_user_config() {
    insta::assert_snapshot!(web_config(
        "  previousSecretKey: old\n  featureFlags: {ALERT_REPORTS: true, DASHBOARD_RBAC: false}\n  config: \"ROW_LIMIT = 5000\"\n\
         \x20 sqlaEngineOptions: {preset: performance, poolPrePing: true, poolTimeout: 10}\n"
    ));
}

const EVERY_COMPONENT: &str = "  metastore: {host: db, database: superset, username: superset, password: p}\n  valkey: {host: valkey}\n\
                               \x20 webServer: {}\n  celeryWorker: {}\n  celeryBeat: {}\n  celeryFlower: {}\n  mcpServer: {}\n";

#[test]
fn config_of_each_component() {
    let r = resolved(&dev(EVERY_COMPONENT));
    for component in [
        Component::WebServer,
        Component::CeleryWorker,
        Component::CeleryBeat,
        Component::CeleryFlower,
        Component::McpServer,
    ] {
        insta::assert_snapshot!(
            format!("config_of_{}", component.suffix()),
            config(&r, component)
        );
    }
    let migrate = r.tasks[0]
        .config_map
        .as_ref()
        .unwrap()
        .data
        .as_ref()
        .unwrap()["superset_config.py"]
        .clone();
    insta::assert_snapshot!("config_of_lifecycle_tasks", migrate);
}

//! Every rendered `superset_config.py` is executed by a real Python interpreter with the
//! operator's environment variables set, and the resulting settings are checked. When
//! `SUPERSET_PYTHON` names an interpreter with Apache Superset installed (`make test` sets it),
//! each file is also loaded through Superset's own config module.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::core::v1::EnvVar;
use serde_json::Value;
use superset_operator_render::{Component, Resolved};

/// Secret values the fixtures' references resolve to, keyed `name/key`.
fn secrets() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("superset/secret-key", "s3cr3t \"quoted\" \\ key"),
        (
            "superset/database-uri",
            "postgresql+psycopg2://u:p@db:5432/superset",
        ),
        ("db/password", "p@ss/w%rd:x y"),
        ("valkey/password", "v@lkey/pass"),
    ])
}

fn environment(env: &[EnvVar]) -> Vec<(String, String)> {
    let secrets = secrets();
    env.iter()
        .filter_map(|var| {
            let value = match (&var.value, &var.value_from) {
                (Some(value), _) => value.clone(),
                (None, Some(source)) => {
                    let selector = source.secret_key_ref.as_ref()?;
                    secrets[format!("{}/{}", selector.name, selector.key).as_str()].to_owned()
                }
                _ => return None,
            };
            Some((var.name.clone(), value))
        })
        .collect()
}

/// What ran it, the rendered config, and the environment its pods get.
type Rendered = Vec<(String, String, Vec<(String, String)>)>;

/// Every rendered config with the environment its pods get.
fn rendered(resolved: &Resolved) -> Rendered {
    let components = resolved.components.iter().map(|c| {
        (
            format!("{:?}", c.component),
            c.config_map.as_ref(),
            c.child.flat().pod_template.as_deref(),
        )
    });
    let tasks = resolved.tasks.iter().map(|t| {
        (
            format!("{:?}", t.task_type),
            t.config_map.as_ref(),
            t.task.spec.pod_template.as_deref(),
        )
    });
    components
        .chain(tasks)
        .filter_map(|(what, config_map, pod)| {
            let config = config_map?
                .data
                .as_ref()?
                .get("superset_config.py")?
                .clone();
            let env = pod?.container.as_ref()?.env.clone();
            Some((what, config, environment(&env)))
        })
        .collect()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

fn run_python(interpreter: &str, script: &Path, config: &str, env: &[(String, String)]) -> Value {
    let dir = std::env::temp_dir().join(format!("render-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("superset_config_{}.py", rand_suffix(config)));
    std::fs::write(&file, config).unwrap();
    let output = Command::new(interpreter)
        .arg(script)
        .arg(&file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        // The pods' path is /app/pythonpath; here the file is wherever the test wrote it.
        .env("SUPERSET_CONFIG_PATH", &file)
        .output()
        .unwrap_or_else(|e| panic!("running {interpreter}: {e}"));
    assert!(
        output.status.success(),
        "{interpreter} failed on\n{config}\n--- stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn rand_suffix(text: &str) -> String {
    superset_operator_render::checksum::of_bytes(text.as_bytes())[7..19].to_owned()
}

/// Runs every config of `yaml` and hands the settings of each to `check`.
fn check(yaml: &str, check: impl Fn(&str, &Value)) -> usize {
    let resolved = common::resolved(yaml);
    let superset_python = std::env::var("SUPERSET_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    let mut executed = 0;
    for (what, config, env) in rendered(&resolved) {
        let settings = run_python("python3", &script("exec_config.py"), &config, &env);
        check(&what, &settings);
        executed += 1;
        if let Some(python) = &superset_python {
            let loaded = run_python(python, &script("load_with_superset.py"), &config, &env);
            for key in [
                "SECRET_KEY",
                "SQLALCHEMY_DATABASE_URI",
                "FEATURE_FLAGS",
                "SUPERSET_WEBSERVER_PORT",
            ] {
                if settings.get(key).is_some_and(|v| !v.is_null()) {
                    assert_eq!(
                        loaded[key], settings[key],
                        "{what}: Superset loaded {key} differently"
                    );
                }
            }
            if settings.get("CELERY_CONFIG").is_some() {
                superset_celery_defaults_survive(&what, &loaded["CELERY_CONFIG"]);
            }
        }
    }
    assert!(executed > 0);
    eprintln!("python: executed {executed} rendered configs");
    executed
}

/// The rendered `CeleryConfig` extends Superset's own: without its task modules and beat
/// schedule, beat schedules no report and the worker knows no report task.
fn superset_celery_defaults_survive(what: &str, celery: &Value) {
    let schedule = celery["beat_schedule"].as_array();
    assert!(
        schedule.is_some_and(|s| s.iter().any(|t| t == "reports.scheduler")),
        "{what}: Superset's Alerts & Reports schedule was lost: {celery}"
    );
    let imports = celery["imports"].as_array();
    assert!(
        imports.is_some_and(|i| i.iter().any(|m| m == "superset.tasks.scheduler")),
        "{what}: Superset's task modules were lost: {celery}"
    );
    assert_eq!(celery["worker_prefetch_multiplier"], 1, "{what}");
}

const PRODUCTION: &str = "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata:\n  name: prod\nspec:\n  image:\n    tag: \"6.0.0\"\n  secretKeyFrom: {name: superset, key: secret-key}\n";

#[test]
fn structured_metastore_uri_is_assembled_with_every_part_url_quoted() {
    let yaml = format!(
        "{PRODUCTION}  metastore:\n    host: db.internal\n    port: 6543\n    database: \"my/db\"\n    username: \"us@er\"\n    passwordFrom: {{name: db, key: password}}\n  webServer: {{}}\n  celeryWorker: {{}}\n"
    );
    check(&yaml, |what, settings| {
        assert_eq!(
            settings["SECRET_KEY"],
            secrets()["superset/secret-key"],
            "{what}"
        );
        assert_eq!(
            settings["SQLALCHEMY_DATABASE_URI"],
            "postgresql+psycopg2://us%40er:p%40ss%2Fw%25rd%3Ax%20y@db.internal:6543/my%2Fdb",
            "{what}"
        );
        assert_eq!(
            settings["SQLALCHEMY_EXAMPLES_URI"],
            settings["SQLALCHEMY_DATABASE_URI"]
        );
    });
}

#[test]
fn passwordless_mysql_with_a_custom_driver() {
    let yaml = format!(
        "{PRODUCTION}  metastore:\n    type: MySQL\n    driver: pymysql\n    host: mysql\n    database: superset\n    username: iam-user\n  webServer: {{}}\n"
    );
    check(&yaml, |what, settings| {
        assert_eq!(
            settings["SQLALCHEMY_DATABASE_URI"], "mysql+pymysql://iam-user@mysql:3306/superset",
            "{what}"
        );
    });
}

#[test]
fn passthrough_uri_comes_from_the_secret() {
    let yaml = format!(
        "{PRODUCTION}  metastore:\n    uriFrom: {{name: superset, key: database-uri}}\n  previousSecretKeyFrom: {{name: superset, key: secret-key}}\n  mcpServer: {{}}\n"
    );
    check(&yaml, |what, settings| {
        assert_eq!(
            settings["SQLALCHEMY_DATABASE_URI"],
            secrets()["superset/database-uri"],
            "{what}"
        );
        assert_eq!(
            settings["PREVIOUS_SECRET_KEY"],
            secrets()["superset/secret-key"],
            "{what}"
        );
    });
}

#[test]
fn engine_options_are_sized_per_process_type() {
    let yaml = format!(
        "{PRODUCTION}  metastore:\n    uriFrom: {{name: superset, key: database-uri}}\n  webServer:\n    gunicorn: {{threads: 4}}\n  celeryWorker:\n    celery: {{pool: threads, concurrency: 6}}\n  celeryBeat: {{}}\n  mcpServer:\n    sqlaEngineOptions: {{preset: aggressive, poolTimeout: 30}}\n"
    );
    check(&yaml, |what, settings| {
        let options = &settings["SQLALCHEMY_ENGINE_OPTIONS"];
        match what {
            "WebServer" => assert_eq!(options["pool_size"], 4),
            "CeleryWorker" => assert_eq!(options["pool_size"], 6),
            "McpServer" => {
                assert_eq!(options["pool_size"], 10);
                assert_eq!(options["pool_timeout"], 30);
            }
            _ => assert_eq!(options["poolclass"], "NullPool", "{what} must not pool"),
        }
    });
}

#[test]
fn valkey_caches_celery_and_results_with_tls_and_instance_prefixes() {
    let yaml = format!(
        "{PRODUCTION}  valkey:\n    host: valkey.internal\n    port: 6380\n    username: \"app@1\"\n    passwordFrom: {{name: valkey, key: password}}\n\
         \x20   ssl: {{certRequired: optional, caCertFile: /certs/ca.pem, certFile: /certs/tls.crt, keyFile: /certs/tls.key}}\n\
         \x20   dataCache: {{keyPrefix: charts_, defaultTimeout: 600, database: 9}}\n    thumbnailCache: {{disabled: true}}\n  webServer: {{}}\n  celeryWorker: {{}}\n"
    );
    check(&yaml, |what, settings| {
        let base = "rediss://app%401:v%40lkey%2Fpass@valkey.internal:6380";
        assert_eq!(
            settings["CACHE_CONFIG"]["CACHE_REDIS_URL"],
            format!("{base}/1"),
            "{what}"
        );
        assert_eq!(
            settings["CACHE_CONFIG"]["CACHE_KEY_PREFIX"],
            "analytics/prod_superset_"
        );
        assert_eq!(
            settings["CACHE_CONFIG"]["CACHE_OPTIONS"]["ssl_cert_reqs"],
            "optional"
        );
        assert_eq!(
            settings["DATA_CACHE_CONFIG"]["CACHE_REDIS_URL"],
            format!("{base}/9")
        );
        assert_eq!(
            settings["DATA_CACHE_CONFIG"]["CACHE_KEY_PREFIX"],
            "analytics/prod_charts_"
        );
        assert_eq!(settings["DATA_CACHE_CONFIG"]["CACHE_DEFAULT_TIMEOUT"], 600);
        assert!(
            settings.get("THUMBNAIL_CACHE_CONFIG").is_none(),
            "disabled cache rendered"
        );
        let coordination = &settings["DISTRIBUTED_COORDINATION_CONFIG"];
        assert_eq!(
            coordination["CACHE_KEY_PREFIX"],
            "analytics/prod_coordination_"
        );
        // Superset's coordination backend reads these fields and ignores a URL.
        assert_eq!(
            coordination["CACHE_REDIS_HOST"], "valkey.internal",
            "{what}"
        );
        assert_eq!(coordination["CACHE_REDIS_PORT"], 6380);
        assert_eq!(coordination["CACHE_REDIS_DB"], 7);
        assert_eq!(coordination["CACHE_REDIS_USER"], "app@1");
        assert_eq!(coordination["CACHE_REDIS_PASSWORD"], "v@lkey/pass");
        assert_eq!(coordination["CACHE_REDIS_SSL"], true);
        assert_eq!(coordination["CACHE_REDIS_SSL_CERT_REQS"], "optional");
        assert_eq!(coordination["CACHE_REDIS_SSL_CA_CERTS"], "/certs/ca.pem");
        assert_eq!(coordination["CACHE_REDIS_SSL_CERTFILE"], "/certs/tls.crt");
        assert_eq!(coordination["CACHE_REDIS_SSL_KEYFILE"], "/certs/tls.key");
        assert!(coordination.get("CACHE_REDIS_URL").is_none());
        for key in [
            "broker_transport_options",
            "result_backend_transport_options",
        ] {
            assert_eq!(
                settings["CELERY_CONFIG"][key]["global_keyprefix"], "analytics/prod_celery_",
                "{what}: {key}"
            );
        }
        assert_eq!(settings["CELERY_CONFIG"]["broker_url"], format!("{base}/0"));
        assert_eq!(
            settings["CELERY_CONFIG"]["broker_use_ssl"]["ssl_ca_certs"],
            "/certs/ca.pem"
        );
        let results = &settings["RESULTS_BACKEND"]["kwargs"];
        if !results.is_null() {
            assert_eq!(results["key_prefix"], "analytics/prod_superset_results_");
            assert_eq!(results["port"], 6380);
            assert_eq!(results["ssl"], true);
            assert_eq!(results["username"], "app@1");
        }
    });
}

#[test]
fn feature_flags_web_port_and_user_config_come_through_in_order() {
    let yaml = format!(
        "{PRODUCTION}  featureFlags: {{THUMBNAILS: false, ALERT_REPORTS: true}}\n  config: \"ROW_LIMIT = 100\\nSQL_MAX_ROW = 5\"\n\
         \x20 webServer:\n    config: \"ROW_LIMIT = 200\"\n    podTemplate:\n      container:\n        ports: [{{name: http, containerPort: 9090}}]\n  celeryBeat: {{}}\n"
    );
    check(&yaml, |what, settings| {
        assert_eq!(
            settings["FEATURE_FLAGS"],
            serde_json::json!({"ALERT_REPORTS": true, "THUMBNAILS": false})
        );
        assert_eq!(settings["SQL_MAX_ROW"], 5);
        if what == "WebServer" {
            assert_eq!(
                settings["ROW_LIMIT"], 200,
                "the component's config comes last"
            );
            assert_eq!(settings["SUPERSET_WEBSERVER_PORT"], 9090);
        } else {
            assert_eq!(settings["ROW_LIMIT"], 100);
            assert!(settings.get("SUPERSET_WEBSERVER_PORT").is_none());
        }
    });
}

#[test]
fn the_lock_prefix_mutator_comes_last_and_runs_the_users_own() {
    let yaml = format!(
        "{PRODUCTION}  valkey: {{host: valkey}}\n  config: \"FLASK_APP_MUTATOR = lambda app: app.append('user')\"\n  webServer: {{}}\n"
    );
    let resolved = common::resolved(&yaml);
    for (what, config, env) in rendered(&resolved) {
        let mutator = config.find("FLASK_APP_MUTATOR = _with_prefixed_locks");
        let user = config.find("FLASK_APP_MUTATOR = lambda");
        assert!(mutator > user && user.is_some(), "{what}:\n{config}");
        let settings = run_python("python3", &script("exec_config.py"), &config, &env);
        assert_eq!(
            settings["FLASK_APP_MUTATOR"],
            serde_json::json!(["user"]),
            "{what}"
        );
    }
    let without = common::resolved(&format!("{PRODUCTION}  webServer: {{}}\n"));
    for (what, config, _) in rendered(&without) {
        assert!(
            !config.contains("FLASK_APP_MUTATOR"),
            "{what}: no Valkey, no locks there"
        );
    }
}

#[test]
fn every_example_in_docs_executes() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut executed = 0;
    for entry in std::fs::read_dir(examples).unwrap() {
        let yaml = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        executed += check(&yaml, |_, settings| {
            assert!(settings["SECRET_KEY"].is_string())
        });
    }
    eprintln!("executed {executed} example configs");
}

#[test]
fn no_component_left_unchecked() {
    let all = common::dev(
        "  metastore: {host: db, database: superset, username: superset, password: p}\n  valkey: {host: valkey}\n\
         \x20 webServer: {}\n  celeryWorker: {}\n  celeryBeat: {}\n  celeryFlower: {}\n  mcpServer: {}\n",
    );
    let resolved = common::resolved(&all);
    let python: Vec<Component> = resolved
        .components
        .iter()
        .filter(|c| c.config_map.is_some())
        .map(|c| c.component)
        .collect();
    assert_eq!(python.len(), 5);
    check(&all, |_, settings| {
        assert_eq!(settings["SECRET_KEY"], "dev-secret-key")
    });
}

#[test]
fn valkey_tls_without_certificate_files_still_sets_verification() {
    let yaml =
        format!("{PRODUCTION}  valkey:\n    host: valkey\n    ssl: {{}}\n  celeryWorker: {{}}\n");
    check(&yaml, |what, settings| {
        assert_eq!(
            settings["CELERY_CONFIG"]["redis_backend_use_ssl"]["ssl_cert_reqs"], "required",
            "{what}"
        );
        assert!(
            settings["CACHE_CONFIG"]["CACHE_REDIS_URL"]
                .as_str()
                .unwrap()
                .starts_with("rediss://")
        );
    });
}

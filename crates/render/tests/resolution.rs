//! Resolution: what each child receives, which checksums move when inputs change, and what
//! users cannot override.

mod common;

use common::{child, config, dev, resolved};
use superset_operator_api::task::TaskType;
use superset_operator_render::labels;
use superset_operator_render::{Component, Resolved};

fn container(
    resolved: &Resolved,
    component: Component,
) -> superset_operator_api::template::ContainerTemplate {
    child(resolved, component)
        .flat()
        .pod_template
        .as_ref()
        .unwrap()
        .container
        .clone()
        .unwrap()
}

fn checksum(resolved: &Resolved, component: Component) -> Option<String> {
    child(resolved, component).flat().config_checksum.clone()
}

fn task_checksum(resolved: &Resolved, task: TaskType) -> String {
    resolved
        .tasks
        .iter()
        .find(|t| t.task_type == task)
        .unwrap()
        .task
        .spec
        .config_checksum
        .clone()
}

/// The first example of the architecture guide: resources are a struct, replaced whole.
#[test]
fn component_resources_replace_top_level_resources_whole() {
    let r = resolved(&dev(
        "  podTemplate:\n    container:\n      resources:\n        limits:\n          cpu: \"2\"\n          memory: 4Gi\n\
         \x20 celeryWorker:\n    podTemplate:\n      container:\n        resources:\n          limits:\n            cpu: \"8\"\n",
    ));
    let limits = container(&r, Component::CeleryWorker)
        .resources
        .unwrap()
        .limits
        .unwrap();
    assert_eq!(limits.len(), 1, "memory is not inherited: {limits:?}");
    assert_eq!(limits["cpu"].0, "8");
}

/// Kubernetes tells mounts apart by path and unnamed ports by number: one ConfigMap's two keys
/// under two `subPath`s, and two unnamed ports, all reach the pod.
#[test]
fn mounts_of_one_volume_and_unnamed_ports_are_all_kept() {
    let r = resolved(&dev(
        "  podTemplate:\n    volumes: [{name: extra, configMap: {name: superset-extra}}]\n    container:\n      volumeMounts:\n\
         \x20       - {name: extra, mountPath: /app/pythonpath/custom_sso.py, subPath: custom_sso.py}\n\
         \x20       - {name: extra, mountPath: /app/pythonpath/custom_roles.py, subPath: custom_roles.py}\n\
         \x20 celeryWorker:\n    podTemplate:\n      container:\n        ports: [{containerPort: 9102}, {containerPort: 9103}]\n",
    ));
    let worker = container(&r, Component::CeleryWorker);
    let paths: Vec<&str> = worker
        .volume_mounts
        .iter()
        .map(|m| m.mount_path.as_str())
        .collect();
    assert!(
        paths.contains(&"/app/pythonpath/custom_sso.py")
            && paths.contains(&"/app/pythonpath/custom_roles.py"),
        "{paths:?}"
    );
    let ports: Vec<i32> = worker.ports.iter().map(|p| p.container_port).collect();
    assert_eq!(ports, [9102, 9103]);
}

/// A websocket server with neither `config` nor `configFrom` reads its environment: it gets
/// no config file and no ConfigMap, and resolution does not fail.
#[test]
fn a_websocket_server_configured_from_its_environment_mounts_no_config() {
    let r = resolved(&dev(
        "  websocketServer:\n    image: {repository: apache/superset-websocket, tag: \"1.0\"}\n    podTemplate:\n      container:\n        env: [{name: JWT_SECRET, valueFrom: {secretKeyRef: {name: ws, key: jwt}}}]\n",
    ));
    let ws = r
        .components
        .iter()
        .find(|c| c.component == Component::WebsocketServer)
        .expect("resolved");
    assert!(ws.config_map.is_none());
    let container = container(&r, Component::WebsocketServer);
    assert!(
        container
            .volume_mounts
            .iter()
            .all(|m| !m.mount_path.ends_with("config.json")),
        "{:?}",
        container.volume_mounts
    );
    assert!(container.env.iter().any(|e| e.name == "JWT_SECRET"));
}

/// The second example: env vars are a named collection, merged by name.
#[test]
fn component_env_vars_merge_with_top_level_env_vars() {
    let r = resolved(&dev(
        "  podTemplate:\n    container:\n      env:\n      - {name: LOG_LEVEL, value: INFO}\n\
         \x20 webServer:\n    podTemplate:\n      container:\n        env:\n        - {name: GUNICORN_WORKERS, value: \"4\"}\n",
    ));
    let env = container(&r, Component::WebServer).env;
    let names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.starts_with(&["LOG_LEVEL", "GUNICORN_WORKERS"]),
        "{names:?}"
    );
    assert!(names.contains(&"SUPERSET_OPERATOR__SECRET_KEY"));
}

#[test]
fn operator_env_vars_win_over_same_named_user_env_vars() {
    let r = resolved(&dev(
        "  webServer:\n    podTemplate:\n      container:\n        env:\n        - {name: SUPERSET_OPERATOR__SECRET_KEY, value: forged}\n",
    ));
    let env = container(&r, Component::WebServer).env;
    let keys: Vec<_> = env
        .iter()
        .filter(|e| e.name == "SUPERSET_OPERATOR__SECRET_KEY")
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].value.as_deref(), Some("dev-secret-key"));
}

#[test]
fn commands_are_never_inherited_from_the_top_level() {
    let r = resolved(&dev(
        "  podTemplate:\n    container:\n      command: [\"/bin/false\"]\n  webServer: {}\n  celeryWorker:\n    podTemplate:\n      container:\n        command: [\"my-worker\"]\n",
    ));
    assert_eq!(
        container(&r, Component::WebServer).command,
        superset_operator_render::tuning::web_server_command()
    );
    assert_eq!(
        container(&r, Component::CeleryWorker).command,
        ["my-worker"]
    );
}

#[test]
fn reserved_labels_and_the_checksum_annotation_cannot_be_forged() {
    let r = resolved(&dev(
        "  podTemplate:\n    labels:\n      superset.apache.org/parent: someone-else\n      superset.apache.org/task: migrate\n      team: data\n\
         \x20   annotations:\n      superset.apache.org/config-checksum: pinned\n  webServer: {}\n",
    ));
    let pod = child(&r, Component::WebServer)
        .flat()
        .pod_template
        .clone()
        .unwrap();
    assert_eq!(pod.labels[labels::PARENT], "dev");
    assert!(!pod.labels.contains_key(labels::TASK));
    assert_eq!(pod.labels["team"], "data");
    assert_eq!(
        pod.annotations[labels::CONFIG_CHECKSUM],
        checksum(&r, Component::WebServer).unwrap()
    );
}

const ALL: &str = "  metastore:\n    uri: postgresql://superset:superset@postgres/superset\n  valkey:\n    host: valkey\n\
                   \x20 webServer: {}\n  celeryWorker: {}\n  celeryBeat: {}\n  celeryFlower: {}\n  mcpServer: {}\n";

#[test]
fn a_component_config_change_moves_only_that_components_checksum() {
    let before = resolved(&dev(ALL));
    let after = resolved(&dev(&ALL.replace(
        "  webServer: {}\n",
        "  webServer:\n    config: \"ROW_LIMIT = 10\"\n",
    )));
    assert_ne!(
        checksum(&before, Component::WebServer),
        checksum(&after, Component::WebServer)
    );
    for component in [
        Component::CeleryWorker,
        Component::CeleryBeat,
        Component::CeleryFlower,
        Component::McpServer,
    ] {
        assert_eq!(
            checksum(&before, component),
            checksum(&after, component),
            "{component:?} moved"
        );
    }
}

#[test]
fn tuning_gunicorn_or_celery_rolls_only_that_component_and_reruns_no_task() {
    let before = resolved(&dev(ALL));
    let tuned = ALL
        .replace(
            "  webServer: {}\n",
            "  webServer:\n    gunicorn:\n      workers: 6\n",
        )
        .replace(
            "  celeryWorker: {}\n",
            "  celeryWorker:\n    celery:\n      concurrency: 12\n",
        );
    let after = resolved(&dev(&tuned));
    for component in [
        Component::CeleryBeat,
        Component::CeleryFlower,
        Component::McpServer,
    ] {
        assert_eq!(
            child(&before, component),
            child(&after, component),
            "{component:?} changed"
        );
    }
    assert_ne!(
        container(&before, Component::CeleryWorker).command,
        container(&after, Component::CeleryWorker).command
    );
    assert_ne!(
        container(&before, Component::WebServer).env,
        container(&after, Component::WebServer).env
    );
    for task in [TaskType::Migrate, TaskType::Init] {
        assert_eq!(
            task_checksum(&before, task),
            task_checksum(&after, task),
            "{task:?} would re-run"
        );
    }
}

#[test]
fn an_image_change_reruns_migrate_and_everything_after_it() {
    let before = resolved(&dev(ALL));
    let after = resolved(&dev(ALL).replace("tag: \"6.0.0\"", "tag: \"6.1.0\""));
    assert_ne!(
        task_checksum(&before, TaskType::Migrate),
        task_checksum(&after, TaskType::Migrate)
    );
    assert_ne!(
        task_checksum(&before, TaskType::Init),
        task_checksum(&after, TaskType::Init)
    );
}

#[test]
fn a_component_image_of_its_own_goes_through_migrate_like_the_main_image() {
    let with = |web: &str, websocket: &str| {
        resolved(&dev(&format!(
            "{ALL}  websocketServer:\n    config: '{{}}'\n    image: {{tag: \"{websocket}\"}}\n"
        )
        .replace(
            "  webServer: {}",
            &format!("  webServer: {{image: {{tag: \"{web}\"}}}}"),
        )))
    };
    let plain = resolved(&dev(ALL));
    let same = with("6.0.0", "1");
    // An override naming the lifecycle image changes nothing.
    assert_eq!(
        task_checksum(&plain, TaskType::Migrate),
        task_checksum(&same, TaskType::Migrate)
    );
    // New Superset code in one component reruns migrate (which drains) and init.
    let newer = with("6.1.0", "1");
    assert_ne!(
        task_checksum(&same, TaskType::Migrate),
        task_checksum(&newer, TaskType::Migrate)
    );
    assert_ne!(
        task_checksum(&same, TaskType::Init),
        task_checksum(&newer, TaskType::Init)
    );
    assert!(
        newer
            .tasks
            .iter()
            .any(|t| t.task_type == TaskType::Migrate && t.requires_drain)
    );
    // A repository of its own under the same tag is the same Superset.
    let flower = resolved(&dev(&ALL.replace(
        "celeryFlower: {}",
        "celeryFlower: {image: {repository: superset-flower}}",
    )));
    assert_eq!(
        task_checksum(&plain, TaskType::Migrate),
        task_checksum(&flower, TaskType::Migrate)
    );
    // The websocket server runs no Superset code.
    assert_eq!(
        task_checksum(&same, TaskType::Migrate),
        task_checksum(&with("6.0.0", "2"), TaskType::Migrate)
    );
}

#[test]
fn a_trigger_reruns_its_task_and_the_ones_after_it_only() {
    let with_rotate = format!("{ALL}  previousSecretKey: old\n  lifecycle:\n    rotate: {{}}\n");
    let before = resolved(&dev(&with_rotate));
    let after = resolved(&dev(
        &with_rotate.replace("rotate: {}", "rotate:\n      trigger: again")
    ));
    assert_eq!(
        task_checksum(&before, TaskType::Migrate),
        task_checksum(&after, TaskType::Migrate)
    );
    assert_ne!(
        task_checksum(&before, TaskType::Rotate),
        task_checksum(&after, TaskType::Rotate)
    );
    assert_ne!(
        task_checksum(&before, TaskType::Init),
        task_checksum(&after, TaskType::Init)
    );
}

#[test]
fn tasks_follow_presence_and_disabled() {
    let types = |r: &Resolved| r.tasks.iter().map(|t| t.task_type).collect::<Vec<_>>();
    assert_eq!(
        types(&resolved(&dev(""))),
        [TaskType::Migrate, TaskType::Init]
    );
    assert_eq!(
        types(&resolved(&dev("  lifecycle:\n    disabled: true\n"))),
        []
    );
    assert_eq!(
        types(&resolved(&dev(
            "  lifecycle:\n    init:\n      disabled: true\n"
        ))),
        [TaskType::Migrate]
    );
    let seeded = dev(
        "  metastore: {host: db, database: superset, username: superset, password: p}\n\
         \x20 previousSecretKey: old\n  lifecycle:\n    seed:\n      source: {host: prod-db, database: superset, username: reader, password: r}\n    rotate: {}\n",
    );
    assert_eq!(
        types(&resolved(&seeded)),
        [
            TaskType::Seed,
            TaskType::Migrate,
            TaskType::Rotate,
            TaskType::Init
        ]
    );
}

#[test]
fn beat_runs_one_replica_without_autoscaling() {
    let r = resolved(&dev(
        "  replicas: 3\n  autoscaling: {maxReplicas: 5}\n  podDisruptionBudget: {maxUnavailable: 1}\n  celeryBeat: {}\n  celeryWorker: {}\n",
    ));
    let beat = child(&r, Component::CeleryBeat).flat();
    assert_eq!(
        (
            beat.replicas,
            beat.autoscaling.is_some(),
            beat.pod_disruption_budget.is_some()
        ),
        (1, false, false)
    );
    let worker = child(&r, Component::CeleryWorker).flat();
    assert_eq!(
        (
            worker.replicas,
            worker.autoscaling.is_some(),
            worker.pod_disruption_budget.is_some()
        ),
        (3, true, true)
    );
}

#[test]
fn default_probes_follow_an_overridden_port_and_flowers_prefix() {
    let r = resolved(&dev(
        "  webServer:\n    podTemplate:\n      container:\n        ports: [{name: http, containerPort: 9000}]\n\
         \x20 celeryFlower:\n    service: {gatewayPath: /ops/flower}\n",
    ));
    let web = container(&r, Component::WebServer);
    let port = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref().unwrap().http_get.as_ref().unwrap().port.clone()
    };
    assert_eq!(
        port(&web.readiness_probe),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(9000)
    );
    assert!(config(&r, Component::WebServer).contains("SUPERSET_WEBSERVER_PORT = 9000"));
    let flower = container(&r, Component::CeleryFlower);
    assert_eq!(
        flower
            .liveness_probe
            .unwrap()
            .http_get
            .unwrap()
            .path
            .as_deref(),
        Some("/ops/flower/healthcheck")
    );
}

#[test]
fn bootstrap_script_is_sourced_before_the_command_and_can_be_turned_off() {
    let r = resolved(&dev(
        "  bootstrapScript: pip install psycopg2-binary\n  webServer: {}\n  celeryBeat:\n    bootstrapScript: \"\"\n",
    ));
    let web = container(&r, Component::WebServer).command;
    assert_eq!(web[..2], ["/bin/sh", "-c"]);
    assert!(web[2].contains("superset_bootstrap.sh"));
    assert!(web.last().unwrap().starts_with("exec gunicorn "), "{web:?}");
    assert!(!container(&r, Component::CeleryBeat).command[0].contains("sh"));
}

#[test]
fn pods_meet_the_restricted_pod_security_standard_by_default() {
    let r = resolved(&dev("  webServer: {}\n"));
    let pod = child(&r, Component::WebServer)
        .flat()
        .pod_template
        .clone()
        .unwrap();
    let pod_context = pod.pod_security_context.unwrap();
    assert_eq!(pod_context.run_as_non_root, Some(true));
    assert_eq!(pod_context.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let container = pod.container.unwrap().security_context.unwrap();
    assert_eq!(container.allow_privilege_escalation, Some(false));
    assert_eq!(container.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    for task in &r.tasks {
        let context = task
            .task
            .spec
            .pod_template
            .as_ref()
            .unwrap()
            .pod_security_context
            .clone()
            .unwrap();
        assert_eq!(context.run_as_non_root, Some(true));
    }
}

const SEEDED: &str = "  metastore: {host: db, database: superset, username: superset, password: p}\n  lifecycle:\n    seed:\n      source: {host: prod-db, database: superset, username: reader, password: r}\n";

#[test]
fn seed_reruns_for_its_data_inputs_and_cron_tick_but_not_for_pod_settings() {
    let before = resolved(&dev(SEEDED));
    let tuned = resolved(&dev(&SEEDED.replace("      source:", "      timeout: 30m\n      maxRetries: 5\n      podTemplate: {labels: {team: data}}\n      source:")));
    assert_eq!(
        task_checksum(&before, TaskType::Seed),
        task_checksum(&tuned, TaskType::Seed)
    );
    let excluded = resolved(&dev(&SEEDED.replace(
        "      source:",
        "      excludeTables: [logs]\n      source:",
    )));
    assert_ne!(
        task_checksum(&before, TaskType::Seed),
        task_checksum(&excluded, TaskType::Seed)
    );
    let options = superset_operator_render::ResolveOptions {
        seed_tick: Some("2026-11-22T03:00:00Z".into()),
    };
    let ticked =
        superset_operator_render::resolve_with(&common::superset(&dev(SEEDED)), &options).unwrap();
    assert_ne!(
        task_checksum(&before, TaskType::Seed),
        task_checksum(&ticked, TaskType::Seed)
    );
    assert_ne!(
        task_checksum(&before, TaskType::Init),
        task_checksum(&ticked, TaskType::Init),
        "a re-seed cascades"
    );
}

#[test]
fn seed_script_fails_when_the_dump_fails() {
    let r = resolved(&dev(SEEDED));
    let seed = &r
        .tasks
        .iter()
        .find(|t| t.task_type == TaskType::Seed)
        .unwrap()
        .task
        .spec;
    assert!(
        seed.command[2].starts_with("set -eu\nset -o pipefail\n"),
        "{}",
        seed.command[2]
    );
    assert_eq!(seed.image.repository, "postgres");
}

#[test]
fn force_reload_restarts_pods_without_rerunning_init() {
    let before = resolved(&dev(ALL));
    let after = resolved(&dev(&format!("{ALL}  forceReload: \"2\"\n")));
    assert_eq!(
        task_checksum(&before, TaskType::Init),
        task_checksum(&after, TaskType::Init)
    );
    assert_ne!(
        container(&before, Component::WebServer).env,
        container(&after, Component::WebServer).env
    );
}

#[test]
fn create_database_runs_before_migrate_with_the_tasks_resources() {
    let r = resolved(&dev(
        "  metastore: {host: db, database: superset, username: superset, passwordFrom: {name: db, key: password}, createDatabase: true}\n\
         \x20 lifecycle:\n    podTemplate:\n      initContainers: [{name: create-database, image: mine}]\n      container:\n        resources: {limits: {cpu: 500m}}\n",
    ));
    let migrate = &r
        .tasks
        .iter()
        .find(|t| t.task_type == TaskType::Migrate)
        .unwrap()
        .task
        .spec;
    let init = &migrate.pod_template.as_ref().unwrap().init_containers;
    assert_eq!(
        init.len(),
        1,
        "one create-database container, the operator's"
    );
    assert_eq!(init[0].image.as_deref(), Some("postgres:17-alpine"));
    assert_eq!(
        init[0].resources.as_ref().unwrap().limits.as_ref().unwrap()["cpu"].0,
        "500m"
    );
    assert!(
        init[0]
            .env
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.name == "SUPERSET_OPERATOR__DB_PASS" && e.value.is_none())
    );
    let init_task = &r
        .tasks
        .iter()
        .find(|t| t.task_type == TaskType::Init)
        .unwrap()
        .task
        .spec;
    assert!(
        init_task
            .pod_template
            .as_ref()
            .unwrap()
            .init_containers
            .iter()
            .all(|c| c.name != "create-database" || c.image.as_deref() == Some("mine"))
    );
}

#[test]
fn the_web_server_execs_gunicorn_so_that_a_pod_deletion_reaches_it() {
    let r = resolved(&dev("  webServer: {}\n"));
    let command = container(&r, Component::WebServer).command;
    assert_eq!(command[..2], ["/bin/sh", "-c"]);
    // `exec` first: the shell replaces itself, so Gunicorn is PID 1 and gets SIGTERM.
    assert!(command[2].starts_with("exec gunicorn "), "{command:?}");
    for setting in [
        "SERVER_WORKER_AMOUNT",
        "SERVER_THREADS_AMOUNT",
        "GUNICORN_TIMEOUT",
        "SUPERSET_PORT",
    ] {
        assert!(
            command[2].contains(&format!("${{{setting}:-")),
            "{setting} not read"
        );
    }
}

#[test]
fn worker_and_beat_log_what_they_do() {
    let r = resolved(&dev("  celeryWorker: {}\n  celeryBeat: {}\n"));
    for component in [Component::CeleryWorker, Component::CeleryBeat] {
        let command = container(&r, component).command;
        assert!(
            command.contains(&"--loglevel=INFO".to_owned()),
            "{component:?}: {command:?}"
        );
    }
}

#[test]
fn beat_replaces_its_pod_instead_of_rolling_so_that_two_schedulers_never_run() {
    let strategy = |yaml: &str| {
        let r = resolved(&dev(yaml));
        child(&r, Component::CeleryBeat)
            .flat()
            .deployment_template
            .as_ref()
            .and_then(|t| t.strategy.as_ref())
            .and_then(|s| s.type_.clone())
    };
    assert_eq!(strategy("  celeryBeat: {}\n").as_deref(), Some("Recreate"));
    // The top-level strategy is for the scalable components; beat does not inherit it.
    assert_eq!(
        strategy("  deploymentTemplate:\n    strategy: {type: RollingUpdate}\n  celeryBeat: {}\n")
            .as_deref(),
        Some("Recreate")
    );
    assert_eq!(
        strategy("  celeryBeat:\n    deploymentTemplate:\n      strategy: {type: RollingUpdate}\n")
            .as_deref(),
        Some("RollingUpdate")
    );
    let r = resolved(&dev(
        "  deploymentTemplate:\n    strategy: {type: RollingUpdate}\n  webServer: {}\n",
    ));
    let web = child(&r, Component::WebServer).flat();
    let web_strategy = web
        .deployment_template
        .as_ref()
        .and_then(|t| t.strategy.as_ref());
    assert_eq!(
        web_strategy.and_then(|s| s.type_.as_deref()),
        Some("RollingUpdate")
    );
}

#[test]
fn loading_the_examples_gets_a_longer_default_timeout() {
    let timeout = |yaml: &str| {
        let r = resolved(&dev(yaml));
        r.tasks
            .iter()
            .find(|t| t.task_type == TaskType::Init)
            .and_then(|t| t.task.spec.timeout)
            .map(|d| std::time::Duration::from(d).as_secs())
    };
    assert_eq!(timeout("  webServer: {}\n"), None);
    assert_eq!(
        timeout("  lifecycle:\n    init:\n      loadExamples: true\n  webServer: {}\n"),
        Some(1800)
    );
    assert_eq!(
        timeout(
            "  lifecycle:\n    init:\n      loadExamples: true\n      timeout: 7m\n  webServer: {}\n"
        ),
        Some(420)
    );
}

#[test]
fn cache_and_celery_keys_name_the_namespace_too() {
    let r = resolved(&dev("  webServer: {}\n"));
    let env = container(&r, Component::WebServer).env;
    let instance = env
        .iter()
        .find(|e| e.name == "SUPERSET_OPERATOR__INSTANCE_NAME");
    assert!(
        instance
            .and_then(|e| e.value.as_deref())
            .is_some_and(|v| v.starts_with("analytics/")),
        "{instance:?}"
    );
}

#[test]
fn production_refuses_pods_below_the_baseline_pod_security_standard() {
    let yaml = |environment: &str| {
        format!(
            "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata: {{name: bi}}\nspec:\n  environment: {environment}\n  image: {{tag: \"6.0.0\"}}\n  secretKeyFrom: {{name: app, key: k}}\n  metastore: {{uriFrom: {{name: db, key: uri}}}}\n  podTemplate:\n    sidecars: [{{name: debug, image: x, securityContext: {{privileged: true}}}}]\n  webServer:\n    podTemplate:\n      volumes: [{{name: docker, hostPath: {{path: /var/run/docker.sock}}}}]\n"
        )
    };
    let superset: superset_operator_api::Superset =
        serde_yaml::from_str(&yaml("Production")).unwrap();
    let error = superset_operator_render::resolve(&superset)
        .unwrap_err()
        .to_string();
    for named in [
        "webServer: volumes[docker].hostPath",
        "webServer: sidecars[debug].securityContext.privileged",
        "lifecycle.migrate: sidecars[debug].securityContext.privileged",
    ] {
        assert!(error.contains(named), "{named} not in {error}");
    }
    let development: superset_operator_api::Superset = serde_yaml::from_str(
        &yaml("Development").replace("secretKeyFrom: {name: app, key: k}", "secretKey: dev"),
    )
    .unwrap();
    assert!(superset_operator_render::resolve(&development).is_ok());
}

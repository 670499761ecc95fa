//! The mapping, value by value, on small values files.

use serde_json::{Value, json};
use superset_operator_api::superset::Environment;

use super::{Migration, Options, migrate};

fn run(values: &str) -> Migration {
    run_in(values, Environment::Production)
}

fn run_in(values: &str, environment: Environment) -> Migration {
    migrate(
        values,
        &Options {
            name: "bi".into(),
            namespace: Some("analytics".into()),
            release: "bi".into(),
            environment,
        },
    )
    .unwrap()
}

fn spec(m: &Migration) -> &Value {
    &m.manifest["spec"]
}

fn unmapped_keys(m: &Migration) -> Vec<&str> {
    m.unmapped.iter().map(|u| u.key.as_str()).collect()
}

#[test]
fn chart_defaults_fill_in_the_connection_and_the_sub_charts_are_reported() {
    let m = run("image: {tag: '5.0.0'}\n");
    assert_eq!(
        spec(&m)["metastore"],
        json!({"type": "PostgreSQL", "host": "bi-postgresql", "port": 5432, "username": "superset", "database": "superset", "passwordFrom": {"name": "bi-superset-env", "key": "DB_PASS"}})
    );
    assert_eq!(
        spec(&m)["valkey"],
        json!({"host": "bi-redis-headless", "port": 6379})
    );
    assert_eq!(unmapped_keys(&m), ["postgresql.enabled", "redis.enabled"]);
    assert_eq!(spec(&m)["webServer"], json!({}));
    assert_eq!(spec(&m)["celeryWorker"], json!({}));
    assert!(
        spec(&m).get("celeryBeat").is_none(),
        "beat is off in the chart by default"
    );
}

#[test]
fn the_release_name_decides_the_chart_object_names() {
    let values = "fullnameOverride: custom\npostgresql: {enabled: false}\nredis: {enabled: false}\nimage: {tag: '5.0.0'}\n";
    let m = run(values);
    assert_eq!(spec(&m)["metastore"]["passwordFrom"]["name"], "custom-env");
    let m = migrate(
        "image: {tag: '5.0.0'}\n",
        &Options {
            name: "bi".into(),
            namespace: None,
            release: "my-superset".into(),
            environment: Environment::Production,
        },
    )
    .unwrap();
    assert_eq!(
        spec(&m)["metastore"]["passwordFrom"]["name"],
        "my-superset-env",
        "a release name containing the chart name is the full name"
    );
    assert!(m.manifest["metadata"].get("namespace").is_none());
}

#[test]
fn a_missing_tag_is_a_placeholder_and_reported() {
    let m = run("postgresql: {enabled: false}\nredis: {enabled: false}\n");
    assert_eq!(spec(&m)["image"]["tag"], "CHANGE-ME");
    assert_eq!(unmapped_keys(&m), ["image.tag"]);
}

#[test]
fn config_overrides_are_concatenated_in_key_order() {
    let m = run("configOverrides:\n  b: B = 2\n  a: A = 1\n");
    assert_eq!(
        spec(&m)["config"],
        "# configOverrides.a\nA = 1\n\n# configOverrides.b\nB = 2\n"
    );
}

#[test]
fn inline_credentials_never_reach_the_manifest() {
    let values = r#"
supersetNode:
  connections: {db_pass: pw-db, redis_password: pw-redis}
extraEnv: {API_TOKEN: pw-token, PLAIN: visible}
extraEnvRaw: [{name: LDAP_PASSWORD, value: pw-ldap}]
configOverrides:
  s: "SECRET_KEY = 'pw-key'\nX = {'password': 'pw-dict'}\n"
init: {adminUser: {password: pw-admin}, createAdmin: true}
supersetWebsockets: {enabled: true, config: {jwtSecret: pw-jwt}}
postgresql: {auth: {password: pw-sub}}
"#;
    for environment in [Environment::Production, Environment::Development] {
        let m = run_in(values, environment);
        let text = super::manifest(&m, "values.yaml").unwrap();
        assert!(!text.contains("pw-"), "{text}");
        assert!(text.contains("visible"));
        let created: Vec<_> = m
            .secrets
            .iter()
            .filter(|s| s.create)
            .map(|s| (s.secret.as_str(), s.key.as_str()))
            .collect();
        assert_eq!(
            created,
            [
                ("bi-credentials", "API_TOKEN"),
                ("bi-credentials", "LDAP_PASSWORD"),
                ("bi-credentials", "PASSWORD"),
                ("bi-secret-key", "secret-key"),
            ]
        );
    }
}

#[test]
fn admin_user_and_examples_only_in_development() {
    let values = "init:\n  createAdmin: true\n  loadExamples: true\n  adminUser: {username: root, firstname: R, email: r@example.com}\n";
    let production = run(values);
    assert!(spec(&production).get("lifecycle").is_none());
    assert!(unmapped_keys(&production).contains(&"init.createAdmin"));
    assert!(unmapped_keys(&production).contains(&"init.loadExamples"));
    let development = run_in(values, Environment::Development);
    assert_eq!(
        spec(&development)["lifecycle"]["init"],
        json!({"adminUser": {"username": "root", "firstName": "R", "email": "r@example.com"}, "loadExamples": true})
    );
    assert_eq!(spec(&development)["environment"], "Development");
}

#[test]
fn autoscaling_wins_over_replicas_as_in_the_chart() {
    let m = run(
        "supersetNode:\n  replicas: {replicaCount: 4}\n  autoscaling: {enabled: true, maxReplicas: 9, targetCPUUtilizationPercentage: 60}\nsupersetWorker:\n  replicas: {replicaCount: 3}\n",
    );
    assert!(spec(&m)["webServer"].get("replicas").is_none());
    assert_eq!(spec(&m)["webServer"]["autoscaling"]["maxReplicas"], 9);
    assert_eq!(
        spec(&m)["webServer"]["autoscaling"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        60
    );
    assert_eq!(spec(&m)["celeryWorker"]["replicas"], 3);
}

#[test]
fn disabled_components_are_ignored_whatever_their_settings() {
    let m = run(
        "supersetCeleryFlower:\n  enabled: false\n  replicaCount: 3\n  command: [custom]\npostgresql: {enabled: false}\nredis: {enabled: false}\nimage: {tag: '5.0.0'}\n",
    );
    assert!(spec(&m).get("celeryFlower").is_none());
    assert!(m.unmapped.is_empty(), "{:?}", m.unmapped);
}

#[test]
fn chart_default_commands_and_wait_containers_are_not_reported() {
    let values = r#"
image: {tag: '5.0.0'}
postgresql: {enabled: false}
redis: {enabled: false}
configMountPath: /app/pythonpath
initImage: {repository: apache/superset, tag: dockerize}
bootstrapScript: |
  #!/bin/bash
  if [ ! -f ~/bootstrap ]; then echo "Running Superset with uid {{ .Values.runAsUser }}" > ~/bootstrap; fi
supersetNode:
  command: ["/bin/sh", "-c", ". {{ .Values.configMountPath }}/superset_bootstrap.sh; /usr/bin/run-server.sh"]
  initContainers:
    - name: wait-for-postgres
      command: [/bin/sh, -c, 'dockerize -wait "tcp://$DB_HOST:$DB_PORT" -timeout 120s']
init:
  command: ["/bin/sh", "-c", ". {{ .Values.configMountPath }}/superset_init.sh"]
  jobAnnotations: {"helm.sh/hook": "post-install,post-upgrade"}
  initscript: |-
    {{ if .Values.init.createAdmin }}
"#;
    let m = run(values);
    assert!(m.unmapped.is_empty(), "{:?}", m.unmapped);
    assert!(spec(&m).get("bootstrapScript").is_none());
}

#[test]
fn unknown_and_untranslatable_values_are_listed() {
    let m = run(
        "image: {tag: '5.0.0'}\npostgresql: {enabled: false}\nredis: {enabled: false}\nmystery: {deep: 1}\nsupersetNode:\n  command: [gunicorn]\nrunAsUser: 0\nextraEnv: {HOST: '{{ .Values.x }}'}\n",
    );
    assert_eq!(
        unmapped_keys(&m),
        [
            "extraEnv.HOST",
            "mystery.deep",
            "runAsUser",
            "supersetNode.command"
        ]
    );
}

#[test]
fn ingress_at_the_root_publishes_every_component() {
    let m = run("ingress:\n  enabled: true\n  hosts: [s.example.com]\n");
    assert_eq!(
        spec(&m)["networking"]["ingress"],
        json!({"host": "s.example.com"})
    );
    let m = run("ingress:\n  enabled: false\n  hosts: [s.example.com]\n");
    assert!(spec(&m).get("networking").is_none());
}

#[test]
fn an_explicit_env_secret_is_read_once_by_every_pod() {
    let m = run(
        "envFromSecret: external-env\nextraSecretEnv: {SUPERSET_SECRET_KEY: x}\nsupersetNode:\n  connections: {redis_password: y}\n",
    );
    assert_eq!(
        spec(&m)["podTemplate"]["container"]["envFrom"],
        json!([{"secretRef": {"name": "external-env"}}])
    );
    assert_eq!(
        spec(&m)["secretKeyFrom"],
        json!({"name": "external-env", "key": "SUPERSET_SECRET_KEY"})
    );
    assert_eq!(
        spec(&m)["valkey"]["passwordFrom"],
        json!({"name": "external-env", "key": "REDIS_PASSWORD"})
    );
}

#[test]
fn an_inline_secret_key_in_extra_env_is_read_from_the_credentials_secret() {
    let m = run("extraEnv: {SUPERSET_SECRET_KEY: pw-inline}\n");
    assert_eq!(
        spec(&m)["secretKeyFrom"],
        json!({"name": "bi-credentials", "key": "SUPERSET_SECRET_KEY"})
    );
    let created: Vec<_> = m.secrets.iter().filter(|s| s.create).collect();
    assert_eq!(
        created.len(),
        1,
        "one Secret key to create, not two: {created:?}"
    );
}

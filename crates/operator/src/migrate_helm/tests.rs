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

// ---- no credential reaches the output, in any form ----

/// A credential as distinctive as the issue's.
const SECRET: &str = "s3cr3t-VALUE-9f";

/// Everything `migrate-helm` prints for a values file: the manifest (stdout) and the summary
/// or the error with its causes (stderr).
fn printed(values: &str) -> String {
    let options = Options {
        name: "bi".into(),
        namespace: Some("analytics".into()),
        release: "bi".into(),
        environment: Environment::Production,
    };
    match migrate(values, &options) {
        Ok(m) => {
            let text = super::manifest(&m, "values.yaml").unwrap();
            format!("{text}\n{} values not mapped", m.unmapped.len())
        }
        Err(error) => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text.push_str(&format!("\ncaused by: {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

/// The manifest passes the checks the command applies before printing it: placeholders and
/// Secret references left where credentials were keep it a valid `Superset`.
fn validates(values: &str) {
    let text = super::manifest(&run(values), "values.yaml").unwrap();
    if let Err(error) = crate::preview::render(&text, "analytics") {
        panic!("the migrated manifest does not validate: {error}\n{text}");
    }
}

fn assert_no_secret(values: &str) -> String {
    let text = printed(values);
    assert!(
        !text.contains(SECRET),
        "the credential reached the output of\n{values}\n---\n{text}"
    );
    text
}

#[test]
fn component_env_credentials_are_read_from_a_secret() {
    let values = format!(
        r#"
supersetNode:
  env:
    DB_PASS: {SECRET}
    HEADER: "Bearer {SECRET}"
    PLAIN: visible-1
supersetWorker:
  env:
    BROKER: "redis://:{SECRET}@valkey:6379/0"
supersetCeleryBeat:
  enabled: true
  env: {{SUPERSET_SECRET_KEY: {SECRET}}}
"#
    );
    validates(&values);
    assert_no_secret(&values);
    let m = run(&values);
    let env = &spec(&m)["webServer"]["podTemplate"]["container"]["env"];
    assert_eq!(
        env[0],
        json!({"name": "DB_PASS", "valueFrom": {"secretKeyRef": {"name": "bi-credentials", "key": "DB_PASS"}}})
    );
    assert!(env.to_string().contains("visible-1"));
    let worker = &spec(&m)["celeryWorker"]["podTemplate"]["container"]["env"][0];
    assert_eq!(
        worker["valueFrom"]["secretKeyRef"]["name"],
        "bi-credentials"
    );
    let keys: Vec<_> = m
        .secrets
        .iter()
        .filter(|s| s.create)
        .map(|s| s.key.as_str())
        .collect();
    assert!(
        keys.contains(&"BROKER") && keys.contains(&"HEADER"),
        "{keys:?}"
    );
}

#[test]
fn uris_with_passwords_under_neutral_names_are_read_from_a_secret() {
    let values = format!(
        r#"
extraEnv:
  SQLALCHEMY_URI: "postgresql://superset:{SECRET}@db/superset"
  PLAIN_URI: "postgresql://superset@db/superset"
extraEnvRaw:
  - name: CACHE
    value: "redis://default:p@ss {SECRET}@valkey:6379/1"
"#
    );
    validates(&values);
    let text = assert_no_secret(&values);
    assert!(text.contains("postgresql://superset@db/superset"), "{text}");
}

#[test]
fn config_overrides_hold_no_credential_in_any_python_form() {
    for snippet in [
        format!("SECRET_KEY = \"\"\"{SECRET}\"\"\"\n"),
        format!("SMTP_PASSWORD = '''{SECRET}'''\n"),
        format!("SMTP_PASSWORD = f\"{SECRET}\"\n"),
        format!("API_KEY = rb'{SECRET}'\n"),
        format!("SECRET_KEY: str = \"{SECRET}\"\n"),
        format!("SMTP_PASSWORD: Optional[str] = '{SECRET}'\n"),
        format!("os.environ.setdefault(\"SUPERSET_SECRET_KEY\", \"{SECRET}\")\n"),
        format!("SMTP_PASSWORD = os.getenv(\"SMTP_PASSWORD\", \"{SECRET}\")\n"),
        format!("os.environ[\"API_TOKEN\"] = \"{SECRET}\"\n"),
        format!("app.config[\"SECRET_KEY\"] = '{SECRET}'\n"),
        format!("SECRET_KEY = (\n    \"{SECRET}\"\n)\n"),
        format!("SMTP_PASSWORD = \"{SECRET}\" \"-tail\"\n"),
        format!("SQLALCHEMY_DATABASE_URI = \"postgresql://superset:{SECRET}%40x@db/superset\"\n"),
        format!("SQLALCHEMY_DATABASE_URI = 'postgresql://superset:p/q {SECRET}@db/superset'\n"),
        format!("CACHE = {{\"CACHE_REDIS_URL\": f\"redis://:{SECRET}@{{host}}:6379/0\"}}\n"),
        format!("HEADERS = {{\"Authorization\": \"Bearer {SECRET}\"}}\n"),
        format!("OAUTH = [{{\"remote_app\": {{\"client_secret\": f'{SECRET}'}}}}]\n"),
        format!("# the old SMTP_PASSWORD = '{SECRET}'\nROW_LIMIT = 5000\n"),
        format!(
            "RESULTS = RedisCache(\n    host=\"valkey\",\n    password=\"\"\"{SECRET}\"\"\",\n)\n"
        ),
    ] {
        let values = format!(
            "configOverrides:\n  snippet: {}\n",
            serde_json::to_string(&snippet).unwrap()
        );
        assert_no_secret(&values);
    }
}

#[test]
fn environment_lookups_in_config_overrides_are_kept() {
    let snippet = "SMTP_PASSWORD = os.environ.get(\"SMTP_PASSWORD\")\nDB = f\"postgresql://{user}:{os.environ['DB_PASS']}@db/superset\"\nLDAP = get_env_variable(\"AUTH_LDAP_BIND_PASSWORD\")\n";
    let values = format!(
        "configOverrides:\n  lookups: {}\n",
        serde_json::to_string(snippet).unwrap()
    );
    let m = run(&values);
    assert_eq!(
        spec(&m)["config"],
        format!("# configOverrides.lookups\n{snippet}")
    );
}

#[test]
fn bootstrap_scripts_hold_no_credential() {
    for script in [
        format!(
            "pip install --index-url https://__token__:{SECRET}@pypi.example.com/simple acme-plugin\n"
        ),
        format!(
            "pip install --extra-index-url https://{SECRET}@pypi.example.com/simple acme-plugin\n"
        ),
        format!("export DB_PASS={SECRET}\nsuperset db upgrade\n"),
        format!("export API_TOKEN=\"{SECRET}\"\n"),
        format!("PGPASSWORD='{SECRET}' psql -h db -c 'select 1'\n"),
        format!("curl -H \"Authorization: Bearer {SECRET}\" https://hooks.example.com\n"),
        format!("mysql -usuperset -p{SECRET} -h db superset < schema.sql\n"),
        format!("echo 'machine pypi.example.com login u password {SECRET}' > ~/.netrc\n"),
    ] {
        let values = format!(
            "bootstrapScript: {}\n",
            serde_json::to_string(&format!("#!/bin/bash\n{script}")).unwrap()
        );
        assert_no_secret(&values);
    }
}

#[test]
fn bootstrap_script_assignments_read_the_credential_from_a_secret() {
    let values = format!(
        "bootstrapScript: |\n  #!/bin/bash\n  export DB_PASS={SECRET}\n  PGPASSWORD='{SECRET}-2' psql -h db -c 'select 1'\n"
    );
    validates(&values);
    let m = run(&values);
    assert_eq!(
        spec(&m)["bootstrapScript"],
        "#!/bin/bash\nexport DB_PASS=\"${DB_PASS}\"\nPGPASSWORD=\"${PGPASSWORD}\" psql -h db -c 'select 1'\n"
    );
    let env = &spec(&m)["podTemplate"]["container"]["env"];
    assert!(
        env.as_array().unwrap().iter().any(|e| e
            == &json!({"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": "bi-credentials", "key": "PGPASSWORD"}}})),
        "{env}"
    );
}

#[test]
fn sidecars_hold_no_credential() {
    let values = format!(
        r#"
supersetNode:
  extraContainers:
    - name: proxy
      image: example/proxy:1
      args: ["--upstream-password={SECRET}", "--token", "{SECRET}", "--secret-name", "proxy-tls"]
      env:
        - {{name: TOKEN, value: {SECRET}}}
        - {{name: UPSTREAM, value: "https://u:{SECRET}@upstream.example.com"}}
        - {{name: MODE, value: plain}}
"#
    );
    validates(&values);
    let text = assert_no_secret(&values);
    assert!(text.contains("plain"), "{text}");
    assert!(
        text.contains("proxy-tls"),
        "a Secret's name is kept: {text}"
    );
    let m = run(&values);
    let env = &spec(&m)["webServer"]["podTemplate"]["sidecars"][0]["env"];
    assert_eq!(
        env[0]["valueFrom"]["secretKeyRef"]["name"],
        "bi-credentials"
    );
}

#[test]
fn probe_headers_hold_no_credential() {
    let values = format!(
        r#"
supersetNode:
  livenessProbe:
    httpGet:
      path: /health
      port: http
      httpHeaders:
        - {{name: Authorization, value: "Bearer {SECRET}"}}
        - {{name: X-Probe, value: liveness}}
"#
    );
    validates(&values);
    let text = assert_no_secret(&values);
    assert!(text.contains("liveness"), "{text}");
    let m = run(&values);
    assert!(
        unmapped_keys(&m)
            .iter()
            .any(|k| k.starts_with("supersetNode.livenessProbe")),
        "{:?}",
        m.unmapped
    );
}

#[test]
fn annotations_hold_no_credential() {
    let values = format!(
        r#"
supersetNode:
  podAnnotations: {{"example.com/api-token": "{SECRET}", "prometheus.io/scrape": "true"}}
  deploymentAnnotations: {{"example.com/webhook": "https://hooks.example.com/x?token={SECRET}"}}
service:
  annotations: {{"example.com/password": "{SECRET}"}}
ingress:
  enabled: true
  annotations:
    nginx.ingress.kubernetes.io/auth-secret: basic-auth
    nginx.ingress.kubernetes.io/auth-url: "https://u:{SECRET}@auth.example.com/check"
serviceAccount:
  create: true
  annotations: {{"example.com/secret": "{SECRET}"}}
"#
    );
    validates(&values);
    let text = assert_no_secret(&values);
    assert!(
        text.contains("basic-auth"),
        "a Secret's name is kept: {text}"
    );
    let m = run(&values);
    for key in [
        "supersetNode.podAnnotations.example.com/api-token",
        "service.annotations.example.com/password",
        "ingress.annotations.nginx.ingress.kubernetes.io/auth-url",
        "serviceAccount.annotations.example.com/secret",
    ] {
        assert!(unmapped_keys(&m).contains(&key), "{key}: {:?}", m.unmapped);
    }
    assert!(
        text.contains("prometheus.io/scrape: 'true'")
            || text.contains("prometheus.io/scrape: \"true\""),
        "{text}"
    );
}

#[test]
fn type_errors_name_the_field_not_the_value() {
    for values in [
        format!("supersetNode:\n  resources: {SECRET}\n"),
        format!("tolerations: [{{key: a, tolerationSeconds: {SECRET}}}]\n"),
        format!("supersetNode:\n  extraContainers: {SECRET}\n"),
    ] {
        let text = assert_no_secret(&values);
        assert!(text.contains("spec."), "the field is named: {text}");
    }
}

#[test]
fn yaml_errors_do_not_quote_the_value() {
    for values in [
        format!("a: !!int {SECRET}\n"),
        format!("a: !!binary {SECRET}\n"),
        format!("a: \"{SECRET}\n"),
        format!("{SECRET}: [1\n"),
        format!("? [{SECRET}]\n: x\n"),
    ] {
        assert_no_secret(&values);
    }
}

#[test]
fn other_values_copied_as_they_are_hold_no_credential() {
    let values = format!(
        r#"
supersetWorker:
  env:
    CONFIG: {{password: {SECRET}}}
init:
  podAnnotations: {{"example.com/token": "{SECRET}"}}
extraVolumes:
  - name: share
    flexVolume: {{driver: example/cifs, options: {{password: {SECRET}}}}}
supersetNode:
  connections:
    db_host: "db.example.com?password={SECRET}"
"#
    );
    validates(&values);
    assert_no_secret(&values);
}

//! Every CEL rule declared on the API types, exercised against the real kube-apiserver: one
//! rejected object per rule with the server's message checked, and its accepted counterpart.
//! The test also proves the table is complete: every (kind, rule) pair in the installed CRDs
//! was triggered by some rejected case.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use superset_operator_testkit::TestEnv;

/// A rule, named by the kind whose CRD declares it and its message.
type RuleId = (String, String);

/// One rule: an object the server must reject with `message`, and a corrected one it accepts.
struct Case {
    kind: &'static str,
    message: &'static str,
    rejected: Value,
    accepted: Value,
}

fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": kind,
        "metadata": { "name": name },
        "spec": spec,
    })
}

/// JSON merge patch (RFC 7386): `null` removes a key.
fn merge(base: &Value, patch: &Value) -> Value {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            let mut out = base.clone();
            for (key, value) in patch {
                if value.is_null() {
                    out.remove(key);
                } else {
                    let merged = merge(out.get(key).unwrap_or(&Value::Null), value);
                    out.insert(key.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (_, patch) => patch.clone(),
    }
}

fn dev(patch: Value) -> Value {
    merge(
        &json!({ "environment": "Development", "secretKey": "dev-key", "image": { "tag": "6.0.0" } }),
        &patch,
    )
}

fn prod(patch: Value) -> Value {
    merge(
        &json!({ "environment": "Production", "secretKeyFrom": { "name": "superset", "key": "secret-key" }, "image": { "tag": "6.0.0" } }),
        &patch,
    )
}

fn superset(name: &str, spec: Value) -> Value {
    object("Superset", name, spec)
}

/// A Superset case named `s` whose rejected and accepted specs differ.
fn spec_case(message: &'static str, rejected: Value, accepted: Value) -> Case {
    Case {
        kind: "Superset",
        message,
        rejected: superset("s", rejected),
        accepted: superset("s", accepted),
    }
}

fn named(n: usize) -> String {
    "a".repeat(n)
}

const NO_LIFECYCLE: &str = r#"{"lifecycle": {"disabled": true}}"#;

fn no_lifecycle(patch: Value) -> Value {
    merge(&dev(serde_json::from_str(NO_LIFECYCLE).unwrap()), &patch)
}

fn root_length_case(message: &'static str, limit: usize, patch: Value) -> Case {
    Case {
        kind: "Superset",
        message,
        rejected: superset(&named(limit + 1), no_lifecycle(patch.clone())),
        accepted: superset(&named(limit), no_lifecycle(patch)),
    }
}

fn superset_cases() -> Vec<Case> {
    let ws = json!({ "image": { "repository": "apache/superset-websocket", "tag": "1.0" }, "config": "{}" });
    let secret = json!({ "name": "superset", "key": "password" });
    let structured = json!({ "host": "db", "database": "superset", "username": "superset", "passwordFrom": secret });
    let seed = json!({ "source": { "host": "source", "database": "superset", "username": "reader", "passwordFrom": secret } });
    vec![
        // A task's timeout: within the bounds an attempt pod's deadline and every clock allow.
        spec_case(
            superset_operator_api::duration::MESSAGE,
            dev(json!({ "lifecycle": { "migrate": { "timeout": "169h" } } })),
            dev(json!({ "lifecycle": { "migrate": { "timeout": "168h" } } })),
        ),
        // Root: names of everything the operator creates stay valid DNS labels.
        root_length_case("metadata.name must be at most 63 characters", 63, json!({})),
        Case {
            kind: "Superset",
            message: "metadata.name must be a DNS label",
            rejected: superset("my.superset", no_lifecycle(json!({}))),
            accepted: superset("my-superset", no_lifecycle(json!({}))),
        },
        root_length_case(
            "at most 52 characters with webServer",
            52,
            json!({ "webServer": {} }),
        ),
        root_length_case(
            "at most 49 characters with celeryWorker",
            49,
            json!({ "celeryWorker": {} }),
        ),
        root_length_case(
            "at most 51 characters with celeryBeat",
            51,
            json!({ "celeryBeat": {} }),
        ),
        root_length_case(
            "at most 49 characters with celeryFlower",
            49,
            json!({ "celeryFlower": { "image": { "repository": "superset-flower" } } }),
        ),
        root_length_case(
            "at most 46 characters with websocketServer",
            46,
            json!({ "websocketServer": ws }),
        ),
        root_length_case(
            "at most 52 characters with mcpServer",
            52,
            json!({ "mcpServer": {} }),
        ),
        root_length_case(
            "at most 46 characters with lifecycle.maintenancePage",
            46,
            json!({ "lifecycle": { "maintenancePage": {} } }),
        ),
        root_length_case(
            "at most 49 characters with lifecycle.rotate",
            49,
            json!({ "previousSecretKey": "old", "lifecycle": { "rotate": {} } }),
        ),
        Case {
            kind: "Superset",
            message: "at most 48 characters while lifecycle tasks run",
            rejected: superset(&named(49), dev(json!({}))),
            accepted: superset(&named(48), dev(json!({}))),
        },
        // Spec: secrets and development-only features.
        spec_case(
            "celeryFlower needs an image with Flower installed",
            dev(json!({ "celeryFlower": {} })),
            dev(json!({ "celeryFlower": { "image": { "repository": "superset-flower" } } })),
        ),
        spec_case(
            "celeryFlower needs an image with Flower installed",
            dev(json!({ "celeryFlower": { "image": { "pullPolicy": "Always" } } })),
            dev(
                json!({ "image": { "repository": "registry.example/bi/superset-with-flower" }, "celeryFlower": {} }),
            ),
        ),
        spec_case(
            "set exactly one of spec.secretKey or spec.secretKeyFrom",
            dev(json!({ "secretKeyFrom": secret })),
            dev(json!({})),
        ),
        spec_case(
            "spec.secretKey (inline) is allowed only in Development",
            prod(json!({ "secretKey": "inline", "secretKeyFrom": null })),
            dev(json!({})),
        ),
        spec_case(
            "spec.metastore.uri (inline) is allowed only in Development",
            prod(json!({ "metastore": { "uri": "postgresql://u:p@db/superset" } })),
            prod(json!({ "metastore": { "uriFrom": secret } })),
        ),
        spec_case(
            "spec.metastore.password (inline) is allowed only in Development",
            prod(
                json!({ "metastore": { "host": "db", "database": "superset", "username": "u", "password": "p" } }),
            ),
            prod(json!({ "metastore": structured })),
        ),
        spec_case(
            "spec.valkey.password (inline) is allowed only in Development",
            prod(json!({ "valkey": { "host": "valkey", "password": "p" } })),
            prod(json!({ "valkey": { "host": "valkey", "passwordFrom": secret } })),
        ),
        spec_case(
            "spec.lifecycle.init.adminUser is allowed only in Development",
            prod(json!({ "lifecycle": { "init": { "adminUser": {} } } })),
            dev(json!({ "lifecycle": { "init": { "adminUser": {} } } })),
        ),
        spec_case(
            "spec.lifecycle.init.loadExamples is allowed only in Development",
            prod(json!({ "lifecycle": { "init": { "loadExamples": true } } })),
            prod(json!({ "lifecycle": { "init": { "loadExamples": false } } })),
        ),
        spec_case(
            "spec.networking.ingress needs spec.webServer",
            dev(json!({ "networking": { "ingress": { "host": "superset.example.com" } } })),
            dev(
                json!({ "webServer": {}, "networking": { "ingress": { "host": "superset.example.com" } } }),
            ),
        ),
        spec_case(
            "spec.networking.gateway needs at least one of webServer",
            dev(json!({ "networking": { "gateway": { "gatewayRef": { "name": "gw" } } } })),
            dev(
                json!({ "mcpServer": {}, "networking": { "gateway": { "gatewayRef": { "name": "gw" } } } }),
            ),
        ),
        spec_case(
            "spec.monitoring.serviceMonitor needs spec.webServer",
            dev(json!({ "monitoring": { "serviceMonitor": {} } })),
            dev(json!({ "webServer": {}, "monitoring": { "serviceMonitor": {} } })),
        ),
        spec_case(
            "spec.lifecycle.seed is allowed only in Development and Staging",
            prod(json!({ "metastore": structured, "lifecycle": { "seed": seed } })),
            prod(
                json!({ "environment": "Staging", "metastore": structured, "lifecycle": { "seed": seed } }),
            ),
        ),
        spec_case(
            "spec.lifecycle.seed.source.password (inline) is allowed only in Development",
            prod(json!({
                "environment": "Staging",
                "metastore": structured,
                "lifecycle": { "seed": merge(&seed, &json!({ "source": { "password": "p", "passwordFrom": null } })) },
            })),
            prod(
                json!({ "environment": "Staging", "metastore": structured, "lifecycle": { "seed": seed } }),
            ),
        ),
        spec_case(
            "spec.lifecycle.seed needs a structured metastore",
            dev(json!({ "lifecycle": { "seed": seed } })),
            dev(json!({ "metastore": structured, "lifecycle": { "seed": seed } })),
        ),
        spec_case(
            "spec.lifecycle.seed.source.type must match spec.metastore.type",
            dev(
                json!({ "metastore": structured, "lifecycle": { "seed": merge(&seed, &json!({ "source": { "type": "MySQL" } })) } }),
            ),
            dev(
                json!({ "metastore": merge(&structured, &json!({ "type": "MySQL" })), "lifecycle": { "seed": merge(&seed, &json!({ "source": { "type": "MySQL" } })) } }),
            ),
        ),
        spec_case(
            "spec.previousSecretKey (inline) is allowed only in Development",
            prod(json!({ "previousSecretKey": "old" })),
            prod(json!({ "previousSecretKeyFrom": secret })),
        ),
        spec_case(
            "set either spec.previousSecretKey or spec.previousSecretKeyFrom, not both",
            dev(json!({ "previousSecretKey": "old", "previousSecretKeyFrom": secret })),
            dev(json!({ "previousSecretKey": "old" })),
        ),
        spec_case(
            "spec.lifecycle.rotate needs spec.previousSecretKey or spec.previousSecretKeyFrom",
            dev(json!({ "lifecycle": { "rotate": {} } })),
            dev(json!({ "lifecycle": { "rotate": { "disabled": true } } })),
        ),
        spec_case(
            "spec.websocketServer.config (inline, it holds the JWT secret) is allowed only in Development",
            prod(json!({ "websocketServer": ws })),
            prod(
                json!({ "websocketServer": merge(&ws, &json!({ "config": null, "configFrom": secret })) }),
            ),
        ),
        spec_case(
            "spec.featureFlags keys must be upper-case Superset flag names",
            dev(json!({ "featureFlags": { "alert_reports": true } })),
            dev(json!({ "featureFlags": { "ALERT_REPORTS": true } })),
        ),
        // Nested types.
        spec_case(
            "lifecycle.init.command replaces the default init command",
            dev(
                json!({ "lifecycle": { "init": { "command": ["superset", "init"], "loadExamples": true } } }),
            ),
            dev(json!({ "lifecycle": { "init": { "command": ["superset", "init"] } } })),
        ),
        spec_case(
            "lifecycle.seed.source needs password or passwordFrom",
            dev(
                json!({ "metastore": structured, "lifecycle": { "seed": merge(&seed, &json!({ "source": { "passwordFrom": null } })) } }),
            ),
            dev(json!({ "metastore": structured, "lifecycle": { "seed": seed } })),
        ),
        spec_case(
            "set either lifecycle.seed.source.password or passwordFrom, not both",
            dev(
                json!({ "metastore": structured, "lifecycle": { "seed": merge(&seed, &json!({ "source": { "password": "p" } })) } }),
            ),
            dev(
                json!({ "metastore": structured, "lifecycle": { "seed": merge(&seed, &json!({ "source": { "password": "p", "passwordFrom": null } })) } }),
            ),
        ),
        spec_case(
            "set either metastore.uri or metastore.uriFrom, not both",
            dev(json!({ "metastore": { "uri": "postgresql://db/superset", "uriFrom": secret } })),
            dev(json!({ "metastore": { "uri": "postgresql://db/superset" } })),
        ),
        spec_case(
            "set either metastore.password or metastore.passwordFrom, not both",
            dev(json!({ "metastore": merge(&structured, &json!({ "password": "p" })) })),
            dev(json!({ "metastore": structured })),
        ),
        spec_case(
            "metastore.uri is a complete connection string",
            dev(
                json!({ "metastore": { "uri": "postgresql://db/superset", "host": "db", "database": "superset", "username": "u" } }),
            ),
            dev(json!({ "metastore": { "uri": "postgresql://db/superset" } })),
        ),
        spec_case(
            "metastore.uriFrom is a complete connection string",
            dev(
                json!({ "metastore": { "uriFrom": secret, "host": "db", "database": "superset", "username": "u" } }),
            ),
            dev(json!({ "metastore": { "uriFrom": secret } })),
        ),
        spec_case(
            "metastore.port, database, username, password, passwordFrom and driver need metastore.host",
            dev(json!({ "metastore": { "database": "superset" } })),
            dev(json!({ "metastore": { "host": "db", "database": "superset", "username": "u" } })),
        ),
        spec_case(
            "metastore.host needs metastore.database and metastore.username",
            dev(json!({ "metastore": { "host": "db", "username": "u" } })),
            dev(json!({ "metastore": { "host": "db", "database": "superset", "username": "u" } })),
        ),
        spec_case(
            "metastore.createDatabase needs the structured form",
            dev(json!({ "metastore": { "uriFrom": secret, "createDatabase": true } })),
            dev(json!({ "metastore": merge(&structured, &json!({ "createDatabase": true })) })),
        ),
        spec_case(
            "set either networking.gateway or networking.ingress, not both",
            dev(
                json!({ "webServer": {}, "networking": { "ingress": {}, "gateway": { "gatewayRef": { "name": "gw" } } } }),
            ),
            dev(json!({ "webServer": {}, "networking": { "ingress": {} } })),
        ),
        spec_case(
            "set either valkey.password or valkey.passwordFrom, not both",
            dev(json!({ "valkey": { "host": "valkey", "password": "p", "passwordFrom": secret } })),
            dev(json!({ "valkey": { "host": "valkey", "password": "p" } })),
        ),
        spec_case(
            "gunicorn.threads greater than 1 needs gunicorn.workerClass gthread",
            dev(json!({ "webServer": { "gunicorn": { "threads": 4, "workerClass": "sync" } } })),
            dev(json!({ "webServer": { "gunicorn": { "threads": 4, "workerClass": "gthread" } } })),
        ),
        spec_case(
            "celery.maxTasksPerChild only works with celery.pool prefork",
            dev(
                json!({ "celeryWorker": { "celery": { "maxTasksPerChild": 100, "pool": "threads" } } }),
            ),
            dev(
                json!({ "celeryWorker": { "celery": { "maxTasksPerChild": 100, "pool": "prefork" } } }),
            ),
        ),
        spec_case(
            "celery.maxMemoryPerChild only works with celery.pool prefork",
            dev(
                json!({ "celeryWorker": { "celery": { "maxMemoryPerChild": 200000, "pool": "solo" } } }),
            ),
            dev(json!({ "celeryWorker": { "celery": { "maxMemoryPerChild": 200000 } } })),
        ),
        spec_case(
            "autoscaling.maxReplicas must be greater than or equal to autoscaling.minReplicas",
            dev(json!({ "autoscaling": { "minReplicas": 5, "maxReplicas": 2 } })),
            dev(json!({ "autoscaling": { "minReplicas": 2, "maxReplicas": 5 } })),
        ),
        spec_case(
            "set either podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable, not both",
            dev(
                json!({ "webServer": { "podDisruptionBudget": { "minAvailable": 1, "maxUnavailable": "50%" } } }),
            ),
            dev(json!({ "webServer": { "podDisruptionBudget": { "maxUnavailable": "50%" } } })),
        ),
        spec_case(
            "service.nodePort needs service.type NodePort or LoadBalancer",
            dev(json!({ "webServer": { "service": { "nodePort": 30080 } } })),
            dev(json!({ "webServer": { "service": { "type": "NodePort", "nodePort": 30080 } } })),
        ),
        spec_case(
            "service.nodePort must be within the node port range 30000-32767",
            dev(json!({ "webServer": { "service": { "type": "NodePort", "nodePort": 8080 } } })),
            dev(
                json!({ "webServer": { "service": { "type": "LoadBalancer", "nodePort": 32767 } } }),
            ),
        ),
        spec_case(
            "serviceAccount.name is required when serviceAccount.create is false",
            dev(json!({ "serviceAccount": { "create": false } })),
            dev(json!({ "serviceAccount": { "create": false, "name": "superset-runner" } })),
        ),
        spec_case(
            "websocketServer.image.repository is required",
            dev(json!({ "websocketServer": { "config": "{}" } })),
            dev(json!({ "websocketServer": ws })),
        ),
        spec_case(
            "set at most one of websocketServer.config or websocketServer.configFrom",
            dev(json!({ "websocketServer": merge(&ws, &json!({ "configFrom": secret })) })),
            // Neither: the server reads its settings from its environment.
            dev(json!({ "websocketServer": { "image": ws["image"] } })),
        ),
        spec_case(
            "lifecycle.seed.cronSchedule must have 5 to 7 space-separated cron fields",
            dev(
                json!({ "metastore": structured, "lifecycle": { "seed": merge(&seed, &json!({ "cronSchedule": "every night" })) } }),
            ),
            dev(
                json!({ "metastore": structured, "lifecycle": { "seed": merge(&seed, &json!({ "cronSchedule": "0 3 * * *" })) } }),
            ),
        ),
    ]
}

/// (kind, longest name, has a Service)
const CHILDREN: [(&str, usize, bool); 6] = [
    ("SupersetWebServer", 52, true),
    ("SupersetCeleryWorker", 49, false),
    ("SupersetCeleryBeat", 51, false),
    ("SupersetCeleryFlower", 49, true),
    ("SupersetWebsocketServer", 46, true),
    ("SupersetMcpServer", 52, true),
];

fn child_cases() -> Vec<Case> {
    let base = json!({ "image": { "tag": "6.0.0" } });
    let mut cases = Vec::new();
    for (kind, limit, has_service) in CHILDREN {
        let case = |message: &'static str, rejected: Value, accepted: Value| Case {
            kind,
            message,
            rejected: object(kind, "c", merge(&base, &rejected)),
            accepted: object(kind, "c", merge(&base, &accepted)),
        };
        cases.push(Case {
            kind,
            message: "metadata.name must be at most",
            rejected: object(kind, &named(limit + 1), base.clone()),
            accepted: object(kind, &named(limit), base.clone()),
        });
        cases.push(Case {
            kind,
            message: "metadata.name must be a DNS label",
            rejected: object(kind, "a.b", base.clone()),
            accepted: object(kind, "a-b", base.clone()),
        });
        cases.push(case(
            "autoscaling.maxReplicas must be greater than or equal to autoscaling.minReplicas",
            json!({ "autoscaling": { "minReplicas": 3, "maxReplicas": 1 } }),
            json!({ "autoscaling": { "minReplicas": 1, "maxReplicas": 3 } }),
        ));
        cases.push(case(
            "set either podDisruptionBudget.minAvailable or podDisruptionBudget.maxUnavailable, not both",
            json!({ "podDisruptionBudget": { "minAvailable": 1, "maxUnavailable": 1 } }),
            json!({ "podDisruptionBudget": { "minAvailable": 1 } }),
        ));
        if has_service {
            cases.push(case(
                "service.nodePort needs service.type NodePort or LoadBalancer",
                json!({ "service": { "nodePort": 30001 } }),
                json!({ "service": { "type": "NodePort", "nodePort": 30001 } }),
            ));
            cases.push(case(
                "service.nodePort must be within the node port range 30000-32767",
                json!({ "service": { "type": "NodePort", "nodePort": 40000 } }),
                json!({ "service": { "type": "NodePort", "nodePort": 30000 } }),
            ));
        }
    }
    let task = json!({ "type": "Migrate", "command": ["superset", "db", "upgrade"], "image": { "tag": "6.0.0" }, "configChecksum": "sha256:0" });
    let kind = "SupersetLifecycleTask";
    cases.push(Case {
        kind,
        message: "metadata.name must be at most 56 characters",
        rejected: object(kind, &named(57), task.clone()),
        accepted: object(kind, &named(56), task.clone()),
    });
    cases.push(Case {
        kind,
        message: superset_operator_api::duration::MESSAGE,
        rejected: object(kind, "t", merge(&task, &json!({ "timeout": "0s" }))),
        accepted: object(kind, "t", merge(&task, &json!({ "timeout": "1s" }))),
    });
    cases.push(Case {
        kind,
        message: "metadata.name must be a DNS label",
        rejected: object(kind, "a.b", task.clone()),
        accepted: object(kind, "a-b", task),
    });
    cases
}

fn api_for(env: &TestEnv, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("superset.apache.org", "v1alpha1", kind);
    let plural = format!("{}s", kind.to_lowercase());
    Api::namespaced_with(
        env.client.clone(),
        &env.namespace,
        &ApiResource::from_gvk_with_plural(&gvk, &plural),
    )
}

/// Every rule message of every CRD, keyed by kind.
fn declared_rules() -> BTreeMap<String, BTreeSet<String>> {
    fn collect(schema: &Value, out: &mut BTreeSet<String>) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
                    for rule in rules {
                        out.insert(
                            rule["message"]
                                .as_str()
                                .expect("every rule has a message")
                                .to_owned(),
                        );
                    }
                }
                map.values().for_each(|v| collect(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    superset_operator_api::crds()
        .into_iter()
        .map(|crd| {
            let mut messages = BTreeSet::new();
            collect(
                &serde_json::to_value(&crd.spec.versions[0].schema).unwrap(),
                &mut messages,
            );
            (crd.spec.names.kind, messages)
        })
        .collect()
}

/// Submits every case (dry run) and returns the rules the rejected objects triggered.
async fn run(env: &TestEnv, cases: Vec<Case>) -> BTreeSet<RuleId> {
    let declared = declared_rules();
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let mut failures = Vec::new();
    let mut triggered = BTreeSet::new();
    for case in cases {
        let api = api_for(env, case.kind);
        let rejected: DynamicObject = serde_json::from_value(case.rejected).unwrap();
        match api.create(&dry_run, &rejected).await {
            Ok(_) => failures.push(format!(
                "{}: accepted, expected rejection with {:?}",
                case.kind, case.message
            )),
            Err(kube::Error::Api(status)) if status.message.contains(case.message) => {
                for message in &declared[case.kind] {
                    if status.message.contains(message.as_str()) {
                        triggered.insert((case.kind.to_owned(), message.clone()));
                    }
                }
            }
            Err(e) => failures.push(format!(
                "{}: expected {:?}, got: {e}",
                case.kind, case.message
            )),
        }
        let accepted: DynamicObject = serde_json::from_value(case.accepted).unwrap();
        if let Err(e) = api.create(&dry_run, &accepted).await {
            failures.push(format!(
                "{}: counterpart of {:?} rejected: {e}",
                case.kind, case.message
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    triggered
}

#[tokio::test]
async fn every_cel_rule_rejects_with_its_message_and_accepts_the_fix() {
    let env = superset_operator_testkit::api().await;
    let mut cases = superset_cases();
    cases.extend(child_cases());
    let triggered = run(&env, cases).await;
    let declared: BTreeSet<RuleId> = declared_rules()
        .into_iter()
        .flat_map(|(kind, messages)| messages.into_iter().map(move |m| (kind.clone(), m)))
        .collect();
    let missing: Vec<_> = declared.difference(&triggered).collect();
    assert!(missing.is_empty(), "rules no case triggers: {missing:#?}");
    eprintln!(
        "CEL coverage: {} of {} (kind, rule) pairs triggered",
        triggered.len(),
        declared.len()
    );
}

/// The fields whose Rust type is narrower than JSON (durations, 32-bit integers): the API
/// server refuses what the operator's decoder refuses, and what it admits, the decoder reads.
/// An object admitted and then unreadable once stopped every Superset in scope.
#[tokio::test]
async fn what_admission_admits_the_operator_can_read() {
    let env = superset_operator_testkit::api().await;
    let api = api_for(&env, "Superset");
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let timeout = |t: &str| dev(json!({ "lifecycle": { "migrate": { "timeout": t } } }));
    let refused = [
        ("timeout without a unit", timeout("300")),
        ("timeout in days", timeout("1d")),
        ("timeout not a duration", timeout("banana")),
        ("timeout of zero", timeout("0s")),
        ("timeout past any clock", timeout("6000000000000000h")),
        (
            "replicas above int32",
            dev(json!({ "replicas": 2_147_483_648_i64 })),
        ),
        (
            "gunicorn threads above int32",
            dev(json!({ "webServer": { "gunicorn": { "threads": 2_147_483_648_i64 } } })),
        ),
    ];
    let mut failures = Vec::new();
    for (what, spec) in refused {
        let object: DynamicObject = serde_json::from_value(superset("s", spec.clone())).unwrap();
        let decoded = serde_json::from_value::<superset_operator_api::SupersetSpec>(spec);
        match api.create(&dry_run, &object).await {
            Ok(_) => failures.push(format!("{what}: admitted")),
            Err(kube::Error::Api(status)) if status.code == 422 => {}
            Err(error) => failures.push(format!("{what}: {error}")),
        }
        if decoded.is_ok() {
            failures.push(format!("{what}: the operator's decoder reads it"));
        }
    }
    let admitted = [
        timeout("90s"),
        timeout("1h30m"),
        timeout("1.5s"),
        timeout("168h"),
        dev(json!({ "replicas": 2_147_483_647_i64 })),
    ];
    for spec in admitted {
        let object: DynamicObject = serde_json::from_value(superset("s", spec.clone())).unwrap();
        match api.create(&dry_run, &object).await {
            Ok(stored) => {
                let stored = serde_json::to_value(stored).unwrap();
                if let Err(error) =
                    serde_json::from_value::<superset_operator_api::Superset>(stored)
                {
                    failures.push(format!("{spec}: admitted, unreadable: {error}"));
                }
            }
            Err(error) => failures.push(format!("{spec}: refused: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn what_the_objects_made_from_a_superset_would_refuse_admission_refuses() {
    // Each of these was admitted, and then every apply of the Deployment, ServiceAccount or
    // Ingress made from it failed with a 422 the user never saw at the source.
    let env = superset_operator_testkit::api().await;
    let api = api_for(&env, "Superset");
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let limits = |cpu: Value| {
        dev(
            json!({ "podTemplate": { "container": { "resources": { "limits": { "cpu": cpu } } } } }),
        )
    };
    let ingress_host =
        |host: &str| dev(json!({ "webServer": {}, "networking": { "ingress": { "host": host } } }));
    let refused = [
        ("a cpu that is no quantity", limits(json!("banana"))),
        ("a quantity with a space", limits(json!("1 Gi"))),
        (
            "a tag with a newline",
            dev(json!({ "image": { "tag": "6.0.0\n" } })),
        ),
        (
            "a repository with a tag",
            dev(json!({ "image": { "repository": "apache/superset:6.0.0", "tag": "6.0.0" } })),
        ),
        (
            "a component tag with a space",
            dev(json!({ "webServer": { "image": { "tag": "6.0 .0" } } })),
        ),
        (
            "a ServiceAccount name in capitals",
            dev(json!({ "serviceAccount": { "name": "Superset_SA" } })),
        ),
        (
            "an Ingress host with a scheme",
            ingress_host("http://bi.example.com"),
        ),
    ];
    let mut failures = Vec::new();
    for (what, spec) in refused {
        let object: DynamicObject = serde_json::from_value(superset("s", spec)).unwrap();
        match api.create(&dry_run, &object).await {
            Ok(_) => failures.push(format!("{what}: admitted")),
            Err(kube::Error::Api(status)) if status.code == 422 => {}
            Err(error) => failures.push(format!("{what}: {error}")),
        }
    }
    let admitted = [
        limits(json!("500m")),
        limits(json!(2)),
        limits(json!("1.5")),
        dev(json!({ "image": { "tag": "6.1.0-dev" } })),
        dev(json!({ "image": { "repository": "localhost:5000/team/superset", "tag": "6.0.0" } })),
        dev(json!({ "celeryFlower": { "image": { "repository": "superset-flower" } } })),
        dev(json!({ "serviceAccount": { "name": "superset.bi" } })),
        ingress_host("*.example.com"),
    ];
    for spec in admitted {
        let object: DynamicObject = serde_json::from_value(superset("s", spec.clone())).unwrap();
        if let Err(error) = api.create(&dry_run, &object).await {
            failures.push(format!("{spec}: refused: {error}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

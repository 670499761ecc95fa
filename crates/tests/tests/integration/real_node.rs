//! The real node: the operator's pods run on a real kubelet, with real containers of Superset
//! (built from PyPI), PostgreSQL and Valkey. What kwok cannot show is proven here: that the
//! rendered commands, environment and config files make a Superset that migrates, serves,
//! runs async queries and reports on a worker, shares a Valkey safely, and shuts down gently.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};
use superset_operator_api::Superset;
use superset_operator_testkit::TestEnv;

use crate::support;

/// One real Superset at a time: each runs a web server, workers, beat, PostgreSQL and Valkey
/// on two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Migrations and `superset init` on two cores take about a minute; images start in seconds.
const CONVERGE: Duration = Duration::from_secs(600);
const DB_PASSWORD: &str = "p@ss/w#rd:1";
const VALKEY_PASSWORD: &str = "v@lkey/pw";
const ADMIN: (&str, &str) = ("admin", "admin-pw-1");
/// Built by `hack/images.sh` from Debian's PostgreSQL 15 and Redis 7 (which speaks Valkey's protocol).
const POSTGRES_IMAGE: &str = "postgres:15";
const VALKEY_IMAGE: &str = "redis:7";

fn client_script() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/node/superset_client.py"
    ))
}

async fn create<K>(env: &TestEnv, object: Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + serde::Serialize,
    K::DynamicType: Default,
{
    let api: Api<K> = env.api();
    let object: K = serde_json::from_value(object).expect("a valid object");
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("creating {object:?}: {e}"))
}

/// A single-pod Deployment and its Service, for the test's own PostgreSQL and Valkey.
async fn backing_service(env: &TestEnv, name: &str, image: &str, port: i32, pod: Value) {
    let mut container = json!({
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{ "containerPort": port }],
        "readinessProbe": { "tcpSocket": { "port": port }, "periodSeconds": 2 },
    });
    merge(&mut container, &pod);
    create::<Deployment>(
        env,
        json!({
            "metadata": { "name": name },
            "spec": {
                "selector": { "matchLabels": { "app": name } },
                "template": {
                    "metadata": { "labels": { "app": name } },
                    "spec": { "containers": [container] }
                }
            }
        }),
    )
    .await;
    create::<Service>(
        env,
        json!({
            "metadata": { "name": name },
            "spec": { "selector": { "app": name }, "ports": [{ "port": port, "targetPort": port }] }
        }),
    )
    .await;
}

fn merge(base: &mut Value, patch: &Value) {
    if let (Some(base), Some(patch)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            base.insert(k.clone(), v.clone());
        }
    }
}

/// PostgreSQL and Valkey with passwords, and the Secret the Superset reads them from.
async fn backing_services(env: &TestEnv) {
    metastore(env).await;
    valkey(env).await;
}

/// PostgreSQL and the Secret with every password the Superset reads.
async fn metastore(env: &TestEnv) {
    create::<Secret>(
        env,
        json!({
            "metadata": { "name": "superset" },
            "stringData": {
                "secret-key": "a-real-secret-key-for-the-node-tier-0123456789",
                "db-password": DB_PASSWORD,
                "valkey-password": VALKEY_PASSWORD,
            }
        }),
    )
    .await;
    backing_service(
        env,
        "postgres",
        POSTGRES_IMAGE,
        5432,
        json!({ "env": [
            { "name": "POSTGRES_USER", "value": "superset" },
            { "name": "POSTGRES_DB", "value": "superset" },
            { "name": "POSTGRES_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "superset", "key": "db-password" } } },
        ] }),
    )
    .await;
}

async fn valkey(env: &TestEnv) {
    backing_service(
        env,
        "valkey",
        VALKEY_IMAGE,
        6379,
        json!({
            "env": [{ "name": "VALKEY_PASSWORD", "valueFrom": { "secretKeyRef": { "name": "superset", "key": "valkey-password" } } }],
            "args": ["--requirepass", "$(VALKEY_PASSWORD)"],
        }),
    )
    .await;
}

/// A Production Superset on the `-dev` image (the lean one has no PostgreSQL driver).
fn production(name: &str, tag: &str) -> Value {
    json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": name },
        "spec": {
            "image": { "tag": tag },
            "secretKeyFrom": { "name": "superset", "key": "secret-key" },
            "metastore": {
                "host": "postgres", "database": "superset", "username": "superset",
                "passwordFrom": { "name": "superset", "key": "db-password" },
            },
            "valkey": { "host": "valkey", "passwordFrom": { "name": "superset", "key": "valkey-password" } },
            "featureFlags": { "ALERT_REPORTS": true },
            "webServer": { "gunicorn": { "preset": "conservative" } },
            "celeryWorker": { "celery": { "concurrency": 2 } },
            "celeryBeat": {},
        }
    })
}

async fn wait_available(env: &TestEnv, name: &str) -> Superset {
    let api: Api<Superset> = env.api();
    let available = |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|status| {
            status
                .conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "True")
        })
    };
    match tokio::time::timeout(CONVERGE, await_condition(api.clone(), name, available)).await {
        Ok(done) => done.unwrap().unwrap(),
        Err(_) => {
            let status = api.get(name).await.ok().and_then(|s| s.status);
            panic!(
                "{name} did not become Available within {CONVERGE:?}: {status:?}\n{}",
                pod_report(env).await
            )
        }
    }
}

/// Every pod's phase and the end of its log, for a failure message.
async fn pod_report(env: &TestEnv) -> String {
    let pods: Api<Pod> = env.api();
    let mut report = String::new();
    for pod in pods.list(&ListParams::default()).await.unwrap() {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        let logs = kubectl(env, &["logs", "--all-containers", "--tail=15", &name]);
        report.push_str(&format!(
            "--- {name} {phase:?}\n{}{}\n",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        ));
    }
    report
}

fn kubectl(env: &TestEnv, args: &[&str]) -> Output {
    env.kubectl().args(args).output().expect("running kubectl")
}

/// `kubectl`, which must succeed.
fn kubectl_ok(env: &TestEnv, args: &[&str]) -> Output {
    let output = kubectl(env, args);
    assert!(
        output.status.success(),
        "kubectl {}: {}",
        args.first().unwrap_or(&""),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn creates_admin(env: &TestEnv, name: &str) {
    let deployment = format!("deploy/{name}-web-server");
    kubectl_ok(
        env,
        &[
            "exec",
            &deployment,
            "--",
            "superset",
            "fab",
            "create-admin",
            "--username",
            ADMIN.0,
            "--password",
            ADMIN.1,
            "--firstname",
            "Ada",
            "--lastname",
            "Admin",
            "--email",
            "ada@example.invalid",
        ],
    );
}

async fn web_url(env: &TestEnv, name: &str) -> String {
    service_url(env, &format!("{name}-web-server")).await
}

async fn service_url(env: &TestEnv, service: &str) -> String {
    let services: Api<Service> = env.api();
    let service = services.get(service).await.unwrap();
    let spec = service.spec.unwrap();
    let port = spec.ports.unwrap()[0].port;
    format!("http://{}:{port}", spec.cluster_ip.unwrap())
}

/// Runs `program` inside the node's network, where Service addresses answer.
fn in_network(env: &TestEnv, program: &str, args: &[&str]) -> Output {
    env.node()
        .command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program} in the node's network: {e}"))
}

fn http_status(env: &TestEnv, url: &str) -> String {
    let out = in_network(
        env,
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
            url,
        ],
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn superset_client(env: &TestEnv, url: &str, args: &[&str]) -> Value {
    let script = client_script().to_str().unwrap().to_owned();
    let mut all = vec![script.as_str(), url, ADMIN.0, ADMIN.1];
    all.extend_from_slice(args);
    let out = in_network(env, "python3", &all);
    assert!(
        out.status.success(),
        "superset_client {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

fn metastore_uri() -> String {
    let quoted: String = DB_PASSWORD
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("postgresql+psycopg2://superset:{quoted}@postgres:5432/superset")
}

#[tokio::test]
async fn a_production_superset_migrates_serves_runs_async_queries_and_reports() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let env = superset_operator_testkit::node().await;
    backing_services(&env).await;
    let _operator = support::operator(&env);
    let mut superset = production("bi", "6.1.0-dev");
    superset["spec"]["celeryFlower"] =
        json!({ "image": { "repository": "superset-flower", "tag": "6.1.0" } });
    create::<Superset>(&env, superset).await;
    let started = std::time::Instant::now();
    wait_available(&env, "bi").await;
    eprintln!(
        "real node: Production Superset Available in {:?}",
        started.elapsed()
    );

    let url = web_url(&env, "bi").await;
    assert_eq!(http_status(&env, &format!("{url}/health")), "200");
    assert_eq!(http_status(&env, &format!("{url}/login/")), "200");
    creates_admin(&env, "bi");
    let flower = service_url(&env, "bi-celery-flower").await;
    assert_eq!(
        http_status(&env, &format!("{flower}/flower/healthcheck")),
        "200"
    );

    let query = superset_client(&env, &url, &["sqllab", &metastore_uri()]);
    assert_eq!(query["data"][0]["answer"], 42, "{query}");

    // Alerts & Reports: beat schedules `reports.scheduler` every minute and a worker runs it.
    let report = superset_client(&env, &url, &["report", &metastore_uri(), "150"]);
    assert!(report["logs"].as_u64().unwrap_or(0) >= 1, "{report}");
}

/// Seconds until the pod is gone from the API.
async fn seconds_until_gone(env: &TestEnv, name: &str) -> f64 {
    let pods: Api<Pod> = env.api();
    let started = std::time::Instant::now();
    let gone = await_condition(pods, name, |p: Option<&Pod>| p.is_none());
    tokio::time::timeout(Duration::from_secs(90), gone)
        .await
        .unwrap_or_else(|_| panic!("{name} was not gone 90 s after its deletion"))
        .unwrap();
    started.elapsed().as_secs_f64()
}

#[tokio::test]
async fn a_web_pod_deleted_mid_request_finishes_the_request_and_stops_at_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let env = superset_operator_testkit::node().await;
    backing_services(&env).await;
    let _operator = support::operator(&env);
    let mut superset = production("gentle", "6.1.0-dev");
    // Superset refuses pg_sleep by default; this instance's users may sleep.
    superset["spec"]["config"] = json!("DISALLOWED_SQL_FUNCTIONS = {\"postgresql\": set()}\n");
    create::<Superset>(&env, superset).await;
    wait_available(&env, "gentle").await;
    creates_admin(&env, "gentle");
    let url = web_url(&env, "gentle").await;
    // Warm the connection so the slow request starts at once.
    superset_client(&env, &url, &["slow-query", &metastore_uri(), "0"]);

    let pods: Api<Pod> = env.api();
    let web = pods
        .list(&ListParams::default().labels("app.kubernetes.io/component=web-server"))
        .await
        .unwrap()
        .items
        .remove(0);
    let web = web.metadata.name.unwrap();
    let slow = {
        let mut command = env.node().command("python3");
        command.args([
            client_script().to_str().unwrap(),
            &url,
            ADMIN.0,
            ADMIN.1,
            "slow-query",
            &metastore_uri(),
            "8",
        ]);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command.spawn().expect("starting the slow request")
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deleted = kubectl(&env, &["delete", "pod", &web, "--wait=false"]);
    assert!(deleted.status.success());
    let gone_after = seconds_until_gone(&env, &web).await;
    let finished = slow.wait_with_output().unwrap();
    assert!(
        finished.status.success(),
        "the request in flight was cut: {}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let answer: Value = serde_json::from_str(
        String::from_utf8_lossy(&finished.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["data"][0]["done"], 1, "{answer}");
    // Gunicorn got the SIGTERM: it stopped once the request was done, well before the grace
    // period's SIGKILL (30 s) that a shell in front of it would have waited for.
    eprintln!("real node: web pod gone {gone_after:.1} s after its deletion");
    assert!(
        gone_after < 20.0,
        "the web pod took {gone_after:.1} s to stop"
    );
}

/// Every key in the Valkey of `env`'s namespace.
fn valkey_keys(env: &TestEnv) -> Vec<String> {
    let out = kubectl_ok(
        env,
        &[
            "exec",
            "deploy/valkey",
            "--",
            "redis-cli",
            "-a",
            VALKEY_PASSWORD,
            "--no-auth-warning",
            "--scan",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn two_supersets_of_one_name_sharing_a_valkey_never_take_each_others_work() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The same name in two namespaces: only the namespace tells their keys apart.
    let (a, b) = (
        superset_operator_testkit::node().await,
        superset_operator_testkit::node().await,
    );
    backing_services(&a).await;
    metastore(&b).await;
    let (_operator_a, _operator_b) = (support::operator(&a), support::operator(&b));
    create::<Superset>(&a, production("bi", "6.1.0-dev")).await;
    let mut shared = production("bi", "6.1.0-dev");
    shared["spec"]["valkey"]["host"] = json!(format!("valkey.{}.svc.cluster.local", a.namespace));
    create::<Superset>(&b, shared).await;
    wait_available(&a, "bi").await;
    wait_available(&b, "bi").await;
    creates_admin(&a, "bi");
    creates_admin(&b, "bi");
    let (url_a, url_b) = (web_url(&a, "bi").await, web_url(&b, "bi").await);

    // Each instance's async queries are run by its own workers against its own metastore, and
    // answered: a worker of the other instance would run them where the query does not exist.
    for round in 0..3 {
        for (env, url) in [(&a, &url_a), (&b, &url_b)] {
            let query = superset_client(env, url, &["sqllab", &metastore_uri()]);
            assert_eq!(
                query["data"][0]["answer"], 42,
                "round {round}, {}: {query}",
                env.namespace
            );
        }
    }

    let keys = valkey_keys(&a);
    let prefixes = [
        format!("{}/bi_", a.namespace),
        format!("{}/bi_", b.namespace),
    ];
    let stray: Vec<&String> = keys
        .iter()
        .filter(|k| !prefixes.iter().any(|p| k.starts_with(p.as_str())))
        .collect();
    assert!(
        stray.is_empty(),
        "keys outside both instances' prefixes: {stray:?}"
    );
    for prefix in &prefixes {
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&format!("{prefix}celery"))),
            "no Celery key of {prefix}: {keys:?}"
        );
    }
}

#[tokio::test]
async fn on_the_lean_image_the_migration_fails_naming_the_missing_driver() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let env = superset_operator_testkit::node().await;
    backing_services(&env).await;
    let _operator = support::operator(&env);
    create::<Superset>(&env, production("lean", "6.1.0")).await;
    let api: Api<Superset> = env.api();
    let says_why = |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|status| {
            status
                .conditions
                .iter()
                .any(|c| c.message.contains("no database driver psycopg2"))
        })
    };
    let told = tokio::time::timeout(CONVERGE, await_condition(api.clone(), "lean", says_why)).await;
    let superset = api.get("lean").await.unwrap();
    let status = serde_json::to_string(&superset.status).unwrap();
    assert!(
        told.is_ok(),
        "no condition named the missing driver: {status}"
    );
    assert!(
        !status.contains(DB_PASSWORD) && !status.contains("p%40ss"),
        "{status}"
    );
}

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

/// One real Superset on the node with its own PostgreSQL, Valkey and operator, Available and
/// with an admin user. Fields drop in order: the operator stops, the namespace goes, and then
/// the next test may start.
struct Deployed {
    _operator: support::Operator,
    env: TestEnv,
    url: String,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

async fn deploy(superset: Value) -> Deployed {
    let turn = ONE_AT_A_TIME.lock().await;
    let env = superset_operator_testkit::node().await;
    backing_services(&env).await;
    let operator = support::operator(&env);
    let name = superset["metadata"]["name"].as_str().unwrap().to_owned();
    create::<Superset>(&env, superset).await;
    let started = std::time::Instant::now();
    wait_available(&env, &name).await;
    eprintln!("real node: {name} Available in {:?}", started.elapsed());
    creates_admin(&env, &name);
    let url = web_url(&env, &name).await;
    Deployed {
        _operator: operator,
        env,
        url,
        _turn: turn,
    }
}

/// Merges `patch` into the Superset `name`.
async fn merge_patch(env: &TestEnv, name: &str, patch: Value) -> Superset {
    let api: Api<Superset> = env.api();
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .unwrap_or_else(|e| panic!("patching {name} with {patch}: {e}"))
}

/// Whether the status has `condition` True.
fn is_true(
    status: &superset_operator_api::superset::status::SupersetStatus,
    condition: &str,
) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == condition && c.status == "True")
}

async fn wait_available(env: &TestEnv, name: &str) -> Superset {
    let api: Api<Superset> = env.api();
    let available = |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref())
            .is_some_and(|status| is_true(status, "Available"))
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

/// Headless Chromium in the node's network (no route out), driven by `browser.py`.
fn browser(env: &TestEnv, args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node/browser.py");
    let mut all = vec![script];
    all.extend_from_slice(args);
    python_in_network(env, &all)
}

/// A Python script of `tests/node` run in the node's network; its last line is JSON.
fn python_in_network(env: &TestEnv, args: &[&str]) -> Value {
    let out = in_network(env, "python3", args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// Where the browser saves `name`: the docs' screenshots are copied from there
/// (docs/development.md, "Screenshots").
fn screenshot(name: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_str().unwrap().to_owned()
}

fn superset_client(env: &TestEnv, url: &str, args: &[&str]) -> Value {
    let script = client_script().to_str().unwrap().to_owned();
    let mut all = vec![script.as_str(), url, ADMIN.0, ADMIN.1];
    all.extend_from_slice(args);
    python_in_network(env, &all)
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
    let mut superset = production("bi", "6.1.0-dev");
    superset["spec"]["celeryFlower"] =
        json!({ "image": { "repository": "superset-flower", "tag": "6.1.0" } });
    // A sidecar that never ends on its own (a database proxy, say) in every task pod: the
    // migration and the init must still complete, not run until their deadline.
    superset["spec"]["lifecycle"] = json!({ "podTemplate": { "sidecars": [{
        "name": "proxy",
        "image": "apachesuperset.docker.scarf.sh/apache/superset:6.1.0-dev",
        "command": ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
    }] } });
    let bi = deploy(superset).await;
    let (env, url) = (&bi.env, &bi.url);
    assert_eq!(http_status(env, &format!("{url}/health")), "200");
    assert_eq!(http_status(env, &format!("{url}/login/")), "200");
    let flower = service_url(env, "bi-celery-flower").await;
    assert_eq!(
        http_status(env, &format!("{flower}/flower/healthcheck")),
        "200"
    );

    let query = superset_client(env, url, &["sqllab", &metastore_uri()]);
    assert_eq!(query["data"][0]["answer"], 42, "{query}");

    // Alerts & Reports: beat schedules `reports.scheduler` every minute and a worker runs it.
    let report = superset_client(env, url, &["report", &metastore_uri(), "150"]);
    assert!(report["logs"].as_u64().unwrap_or(0) >= 1, "{report}");

    // A rollout of every component: beat's old pod is gone before its new one exists, so no
    // moment has two schedulers sending each report twice.
    merge_patch(
        env,
        "bi",
        json!({ "spec": { "forceReload": "roll-everything-once" } }),
    )
    .await;
    let most = most_pods_at_once(env, "celery-beat", Duration::from_secs(120)).await;
    assert_eq!(most, 1, "two beat pods ran at once during the rollout");
}

/// The most pods of `component` running at once while it rolled out to new pods, sampled
/// every 100 ms until a new pod is ready (or `limit`).
async fn most_pods_at_once(env: &TestEnv, component: &str, limit: Duration) -> usize {
    let pods: Api<Pod> = env.api();
    let selector = format!("app.kubernetes.io/component={component}");
    let list = || async {
        pods.list(&ListParams::default().labels(&selector))
            .await
            .unwrap()
            .items
    };
    let before: Vec<String> = list()
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    let ready = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    };
    // A deleted pod stays listed, in a terminal phase, after its containers stopped.
    let running = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
            })
    };
    let (started, mut most) = (std::time::Instant::now(), 0);
    while started.elapsed() < limit {
        let now = list().await;
        most = most.max(now.iter().filter(|p| running(p)).count());
        let rolled = now
            .iter()
            .any(|p| !before.contains(p.metadata.name.as_ref().unwrap()) && ready(p));
        if rolled {
            return most;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{component} did not roll out within {limit:?}\n{}",
        pod_report(env).await
    )
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
    let mut superset = production("gentle", "6.1.0-dev");
    // Superset refuses pg_sleep by default; this instance's users may sleep.
    superset["spec"]["config"] = json!("DISALLOWED_SQL_FUNCTIONS = {\"postgresql\": set()}\n");
    let gentle = deploy(superset).await;
    let (env, url) = (&gentle.env, &gentle.url);
    // Warm the connection so the slow request starts at once.
    superset_client(env, url, &["slow-query", &metastore_uri(), "0"]);

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
            url,
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
    let deleted = kubectl(env, &["delete", "pod", &web, "--wait=false"]);
    assert!(deleted.status.success());
    let gone_after = seconds_until_gone(env, &web).await;
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

/// Every key in every database of the Valkey of `env`'s namespace.
fn valkey_keys(env: &TestEnv) -> Vec<String> {
    // Caches, results and coordination use databases 1 to 7, Celery 0.
    let every_database = "for db in $(seq 0 15); do \
        redis-cli -a \"$VALKEY_PASSWORD\" --no-auth-warning -n \"$db\" --scan; done";
    let out = kubectl_ok(
        env,
        &["exec", "deploy/valkey", "--", "sh", "-c", every_database],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Superset's `DistributedLock("node-tier", shared=1)`, held `seconds` in a web pod of `name`.
const TAKE_LOCK: &str = r#"
import sys, time
from superset.app import create_app
with create_app().app_context():
    from superset.distributed_lock import DistributedLock
    with DistributedLock("node-tier", ttl_seconds=60, shared=1):
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
"#;

fn lock_command(name: &str, seconds: u32) -> Vec<String> {
    let deployment = format!("deploy/{name}-web-server");
    [
        "exec",
        &deployment,
        "--",
        "python",
        "-c",
        TAKE_LOCK,
        &seconds.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A lock held in the background.
struct HeldLock(std::process::Child);

fn take_lock(env: &TestEnv, name: &str, seconds: u32) -> HeldLock {
    let child = env
        .kubectl()
        .args(lock_command(name, seconds))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running kubectl exec");
    HeldLock(child)
}

impl HeldLock {
    /// Blocks until the pod printed `held`; returns what it printed before.
    fn wait_until_held(&mut self) -> Vec<String> {
        use std::io::BufRead;
        let stdout = self.0.stdout.as_mut().expect("piped stdout");
        let mut seen = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if line.trim() == "held" {
                return seen;
            }
            seen.push(line);
        }
        panic!("the lock was never held: {seen:?}");
    }

    fn finish(self) {
        let out = self.0.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the lock holder failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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

    // The same lock (one namespace, the same parameters) taken by both instances at once:
    // each holds its own.
    let mut holding = take_lock(&a, "bi", 20);
    let taken = holding.wait_until_held();
    let other = b.kubectl().args(lock_command("bi", 0)).output().unwrap();
    assert!(
        other.status.success() && String::from_utf8_lossy(&other.stdout).contains("held"),
        "{} could not take the lock {} holds: {}",
        b.namespace,
        a.namespace,
        String::from_utf8_lossy(&other.stderr)
    );
    let keys = valkey_keys(&a);
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{}/bi_coordination_lock:", a.namespace))),
        "no prefixed lock of {} while it held one ({taken:?}): {keys:?}",
        a.namespace
    );
    holding.finish();
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

const PAGE_TITLE: &str = "Upgrading Superset";

/// A user polling the web Service in the background until [`Watcher::stop`].
struct Watcher {
    child: std::process::Child,
    stop_file: std::path::PathBuf,
}

impl Watcher {
    fn start(env: &TestEnv, url: &str) -> Self {
        let stop_file = std::env::temp_dir().join(format!("watch-{}-stop", env.namespace));
        let _ = std::fs::remove_file(&stop_file);
        let child = env
            .node()
            .command("python3")
            .args([client_script().to_str().unwrap(), url, "-", "-", "watch"])
            .arg(PAGE_TITLE)
            .arg(&stop_file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting the watcher");
        Self { child, stop_file }
    }

    /// What the watcher saw: `{seen: {superset, maintenance, error}, changes, errors}`.
    fn stop(self) -> Value {
        std::fs::write(&self.stop_file, "").unwrap();
        let out = self.child.wait_with_output().unwrap();
        let _ = std::fs::remove_file(&self.stop_file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|_| {
            panic!(
                "the watcher failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

async fn wait_for(
    env: &TestEnv,
    name: &str,
    what: &str,
    test: impl Fn(&Superset) -> bool,
) -> Superset {
    let api: Api<Superset> = env.api();
    let done = await_condition(api.clone(), name, move |s: Option<&Superset>| {
        s.is_some_and(&test)
    });
    match tokio::time::timeout(CONVERGE, done).await {
        Ok(done) => done.unwrap().unwrap(),
        Err(_) => {
            let status = api.get(name).await.ok().and_then(|s| s.status);
            panic!(
                "{name}: {what} not within {CONVERGE:?}: {status:?}\n{}",
                pod_report(env).await
            )
        }
    }
}

/// The images the pods of one component run.
async fn component_images(env: &TestEnv, component: &str) -> Vec<String> {
    live_containers(env, component)
        .await
        .into_iter()
        .filter_map(|c| c.image)
        .collect()
}

/// The containers of a component's pods that are not being deleted.
async fn live_containers(
    env: &TestEnv,
    component: &str,
) -> Vec<k8s_openapi::api::core::v1::Container> {
    let pods: Api<Pod> = env.api();
    pods.list(&ListParams::default().labels(&format!("app.kubernetes.io/component={component}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .flat_map(|p| p.spec.unwrap().containers)
        .collect()
}

#[tokio::test]
async fn a_supervised_upgrade_waits_for_approval_then_migrates_behind_the_maintenance_page() {
    let mut superset = production("up", "6.0.0-dev");
    superset["spec"]["lifecycle"] = json!({
        "upgradeMode": "Supervised",
        "maintenancePage": { "title": PAGE_TITLE, "message": "Back in a minute." },
    });
    let up = deploy(superset).await;
    let (env, url) = (&up.env, &up.url);
    // Data saved on 6.0.0 that 6.1.0 must still serve.
    let before = superset_client(env, url, &["sqllab", &metastore_uri()]);
    assert_eq!(before["data"][0]["answer"], 42, "{before}");
    let watcher = Watcher::start(env, url);

    merge_patch(
        env,
        "up",
        json!({ "spec": { "image": { "tag": "6.1.0-dev" } } }),
    )
    .await;
    let waiting = wait_for(env, "up", "AwaitingApproval", |s| {
        s.status
            .as_ref()
            .and_then(|s| s.lifecycle.as_ref())
            .and_then(|l| l.upgrade.as_ref())
            .and_then(|u| u.approval_token.as_ref())
            .is_some()
    })
    .await;
    let token = waiting
        .status
        .unwrap()
        .lifecycle
        .unwrap()
        .upgrade
        .unwrap()
        .approval_token
        .unwrap();
    // Unapproved, nothing drains: the old image keeps serving.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let old = format!(
        "{}:6.0.0-dev",
        superset_operator_api::image::DEFAULT_SUPERSET_REPOSITORY
    );
    assert_eq!(component_images(env, "web-server").await, vec![old.clone()]);
    assert_eq!(http_status(env, &format!("{url}/health")), "200");

    let started = std::time::Instant::now();
    kubectl_ok(
        env,
        &[
            "annotate",
            "superset",
            "up",
            &format!("superset.apache.org/approve-upgrade={token}"),
            "--overwrite",
        ],
    );
    wait_for(env, "up", "the maintenance page", |s| {
        s.status
            .as_ref()
            .and_then(|s| s.lifecycle.as_ref())
            .is_some_and(|l| l.maintenance_active == Some(true))
    })
    .await;
    let page = browser(
        env,
        &[
            "screenshot",
            &format!("{url}/"),
            &screenshot("maintenance-page.png"),
            "--expect",
            PAGE_TITLE,
        ],
    );
    eprintln!("real node: the browser saw {page}");
    let done = wait_for(env, "up", "the upgrade's end", |s| {
        s.metadata.generation.is_some()
            && s.status.as_ref().is_some_and(|status| {
                is_true(status, "LifecycleComplete")
                    && status
                        .lifecycle
                        .as_ref()
                        .is_some_and(|l| l.maintenance_active != Some(true))
                    && is_true(status, "Available")
            })
    })
    .await;
    eprintln!(
        "real node: supervised upgrade 6.0.0 -> 6.1.0 done {:?} after its approval",
        started.elapsed()
    );
    // The Service is back on Superset; let the watcher see it for a moment.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let seen = watcher.stop();
    eprintln!("real node: the watcher saw {seen}");
    assert_eq!(
        seen["seen"]["error"], 0,
        "a user saw errors during the upgrade: {seen}"
    );
    assert!(
        seen["seen"]["maintenance"].as_u64().unwrap() > 0,
        "no maintenance page: {seen}"
    );
    let changes: Vec<&str> = seen["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().split(": ").nth(1).unwrap())
        .collect();
    assert_eq!(changes, ["superset", "maintenance", "superset"], "{seen}");

    let new = format!(
        "{}:6.1.0-dev",
        superset_operator_api::image::DEFAULT_SUPERSET_REPOSITORY
    );
    assert_eq!(component_images(env, "web-server").await, vec![new]);
    assert!(
        !done
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("superset.apache.org/approve-upgrade"),
        "the approval stayed after the upgrade"
    );
    let migrate = done.status.unwrap().lifecycle.unwrap().migrate.unwrap();
    eprintln!("real node: migrate {migrate:?}");
    let after = superset_client(env, url, &["sqllab", &metastore_uri()]);
    assert_eq!(after["data"][0]["answer"], 42, "{after}");
    let welcome = browser(
        env,
        &[
            "login-screenshot",
            url,
            ADMIN.0,
            ADMIN.1,
            &screenshot("welcome.png"),
        ],
    );
    assert!(
        welcome["url"]
            .as_str()
            .unwrap()
            .contains("/superset/welcome/"),
        "{welcome}"
    );
}

#[tokio::test]
async fn a_rotated_secret_key_still_opens_the_database_connections_saved_before() {
    let keys = deploy(production("keys", "6.1.0-dev")).await;
    let (env, url) = (&keys.env, &keys.url);
    // Saves the connection, its password encrypted with the first key, and uses it.
    let before = superset_client(env, url, &["sqllab", &metastore_uri()]);
    assert_eq!(before["data"][0]["answer"], 42, "{before}");

    create::<Secret>(
        env,
        json!({
            "metadata": { "name": "superset-key-2" },
            "stringData": { "secret-key": "the-second-secret-key-of-the-node-tier-9876543210" }
        }),
    )
    .await;
    merge_patch(
        env,
        "keys",
        json!({ "spec": {
        "secretKeyFrom": { "name": "superset-key-2", "key": "secret-key" },
        "previousSecretKeyFrom": { "name": "superset", "key": "secret-key" },
        "lifecycle": { "rotate": {} },
    } }),
    )
    .await;
    let started = std::time::Instant::now();
    let rotated = wait_for(env, "keys", "the rotation", |s| {
        s.status.as_ref().is_some_and(|status| {
            status.observed_generation == s.metadata.generation
                && status
                    .lifecycle
                    .as_ref()
                    .and_then(|l| l.rotate.as_ref())
                    .is_some_and(|r| r.state == superset_operator_api::status::TaskState::Complete)
                && is_true(status, "LifecycleComplete")
                && is_true(status, "Available")
        })
    })
    .await;
    eprintln!(
        "real node: secret key rotated, Available again {:?} later",
        started.elapsed()
    );
    let web = component_env(env, "web-server", "SUPERSET_OPERATOR__SECRET_KEY").await;
    assert_eq!(
        web,
        ["superset-key-2"],
        "the web server still reads the first key"
    );
    // The web server decrypts the saved password with the new key to run the query on a worker.
    let after = superset_client(env, url, &["sqllab", &metastore_uri()]);
    assert_eq!(after["data"][0]["answer"], 42, "{after}");
    let opened = superset_client(env, url, &["open-database", "metastore"]);
    assert!(opened["database"].as_u64().is_some(), "{opened}");
    let status = serde_json::to_string(&rotated.status).unwrap();
    assert!(!status.contains("second-secret-key"), "{status}");
}

/// The Secrets the running pods of a component read `variable` from.
async fn component_env(env: &TestEnv, component: &str, variable: &str) -> Vec<String> {
    live_containers(env, component)
        .await
        .into_iter()
        .flat_map(|c| c.env.unwrap_or_default())
        .filter(|e| e.name == variable)
        .filter_map(|e| e.value_from?.secret_key_ref.map(|r| r.name))
        .collect()
}

/// The operator's image, named as the chart and `config/install.yaml` render it.
const OPERATOR_IMAGE: &str = "docker.io/library/superset-operator:0.1.0";

fn workspace_file(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn helm(env: &TestEnv, args: &[&str]) -> Output {
    let helm = std::env::var_os("SUPERSET_HELM").expect(
        "SUPERSET_HELM names the helm binary (`make test-node` builds it with hack/helm.sh)",
    );
    let out = std::process::Command::new(helm)
        .env("KUBECONFIG", env.kubeconfig())
        .args(["--namespace", &env.namespace])
        .args(args)
        .output()
        .expect("running helm");
    assert!(
        out.status.success(),
        "helm {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Ready pods of the operator in `namespace`.
async fn operator_pods(env: &TestEnv, namespace: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), namespace);
    pods.list(&ListParams::default().labels("app.kubernetes.io/name=superset-operator"))
        .await
        .unwrap()
        .items
}

/// A small Superset: migrate, init and one web server.
fn web_only(name: &str) -> Value {
    let mut superset = production(name, "6.1.0-dev");
    let spec = superset["spec"].as_object_mut().unwrap();
    spec.remove("celeryWorker");
    spec.remove("celeryBeat");
    superset
}

#[tokio::test]
async fn the_operator_runs_as_a_pod_from_the_chart_and_from_install_yaml_and_deploys_a_superset() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let env = superset_operator_testkit::node().await;
    assert!(
        env.node().images().iter().any(|i| i == OPERATOR_IMAGE),
        "the node has no {OPERATOR_IMAGE}: SUPERSET_OPERATOR_IMAGE_BIN must name a release build of \
         superset-operator (`make test-node` builds one and sets it)"
    );
    backing_services(&env).await;

    // The chart, two replicas watching this namespace: one holds the Lease and reconciles.
    let namespaces = format!("watchNamespaces={{{}}}", env.namespace);
    helm(
        &env,
        &[
            "install",
            "superset-operator",
            &workspace_file("charts/superset-operator"),
            "--set",
            "replicas=2",
            "--set",
            &namespaces,
            "--wait",
            "--timeout",
            "180s",
        ],
    );
    let pods = operator_pods(&env, &env.namespace).await;
    assert_eq!(pods.len(), 2, "{pods:?}");
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> = env.api();
    let lease = leases
        .get("superset-operator")
        .await
        .expect("the leader's Lease");
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    assert!(
        pods.iter()
            .any(|p| p.metadata.name.as_deref() == Some(holder.as_str())),
        "the Lease is held by {holder:?}, no operator pod"
    );
    create::<Superset>(&env, web_only("charted")).await;
    let started = std::time::Instant::now();
    wait_available(&env, "charted").await;
    eprintln!(
        "real node: the chart's operator made a Superset Available in {:?}",
        started.elapsed()
    );
    assert_eq!(
        http_status(&env, &format!("{}/health", web_url(&env, "charted").await)),
        "200"
    );
    helm(
        &env,
        &[
            "uninstall",
            "superset-operator",
            "--wait",
            "--timeout",
            "120s",
        ],
    );

    // The one-file manifest: every namespace, its own namespace and Lease.
    kubectl_ok(
        &env,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            // Its namespaced objects are in its own namespace, not the test's.
            "--namespace=superset-operator",
            "-f",
            &workspace_file("config/install.yaml"),
        ],
    );
    kubectl_ok(
        &env,
        &[
            "rollout",
            "status",
            "--namespace=superset-operator",
            "deploy/superset-operator",
            "--timeout=180s",
        ],
    );
    let patched = merge_patch(
        &env,
        "charted",
        json!({ "spec": { "webServer": { "replicas": 2 } } }),
    )
    .await;
    let generation = patched.metadata.generation;
    let deployments: Api<Deployment> = env.api();
    let scaled = await_condition(
        deployments,
        "charted-web-server",
        |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.ready_replicas)
                == Some(2)
        },
    );
    if tokio::time::timeout(CONVERGE, scaled).await.is_err() {
        panic!(
            "install.yaml's operator did not scale the web server\n{}",
            pod_report(&env).await
        );
    }
    let observed = wait_for(&env, "charted", "the new generation observed", move |s| {
        s.status.as_ref().and_then(|s| s.observed_generation) == generation
    })
    .await;
    assert!(observed.status.is_some());
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(env.client.clone(), "superset-operator");
    assert!(
        leases.get("superset-operator").await.is_ok(),
        "install.yaml's operator holds no Lease"
    );
    // Only the operator goes: the CRDs stay for the other tests of the node.
    kubectl_ok(
        &env,
        &["delete", "namespace", "superset-operator", "--timeout=120s"],
    );
}

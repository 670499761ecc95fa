//! `superset-operator run` as a separate process against the simulated cluster: it reconciles
//! a sample to Available, serves metrics and probes, elects one leader among two replicas,
//! hands over when the leader dies, and stops cleanly on SIGTERM, releasing its lease.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use superset_operator_testkit::TestEnv;

fn kubectl_apply(env: &TestEnv, manifest: &str) {
    let mut child = env
        .kubectl()
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// The development sample, with lifecycle task pods that succeed on the simulated nodes.
fn sample() -> String {
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/development.yaml"
    ))
    .unwrap();
    let mut sample: serde_yaml::Value = serde_yaml::from_str(&sample).unwrap();
    sample["spec"]["lifecycle"]["podTemplate"] = serde_yaml::from_str(&format!(
        "annotations: {{ {}: succeed }}",
        superset_operator_testkit::OUTCOME_ANNOTATION
    ))
    .unwrap();
    serde_yaml::to_string(&sample).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One operator process and the port of its metrics and probes.
struct Replica {
    process: Child,
    port: u16,
}

impl Replica {
    fn start(env: &TestEnv, identity: &str, extra: &[&str]) -> Replica {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let process = Command::new(env!("CARGO_BIN_EXE_superset-operator"))
            .args(["run", "--namespace", &env.namespace, "--log-format", "json"])
            .args(["--metrics-address", &address, "--probe-address", &address])
            .args(extra)
            .env("KUBECONFIG", env.kubeconfig())
            .env("POD_NAME", identity)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Replica { process, port }
    }

    /// `GET path`: the status code and body, or `None` while nothing answers.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let status = response.split_whitespace().nth(1)?.parse().ok()?;
        let body = response.split_once("\r\n\r\n")?.1.to_owned();
        Some((status, body))
    }

    /// The value of the un-labelled metric `name`.
    fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
    }

    fn sigterm(&self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.process.id() as libc::pid_t, libc::SIGTERM) };
    }

    /// Waits for the process to exit after SIGTERM; returns its logs.
    fn stop(mut self) -> String {
        self.sigterm();
        let stopping = Instant::now();
        let status = loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                break status;
            }
            assert!(
                stopping.elapsed() < Duration::from_secs(15),
                "the operator ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "the operator exited with {status}");
        let mut logs = String::new();
        self.process
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut logs)
            .unwrap();
        logs
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn jsonpath(env: &TestEnv, args: &[&str]) -> String {
    let output = env.kubectl().args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn available(env: &TestEnv) -> bool {
    jsonpath(
        env,
        &[
            "get",
            "superset",
            "dev",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
        ],
    ) == "True"
}

fn wait_until(what: &str, timeout: Duration, mut test: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !test() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn lease_holder(env: &TestEnv) -> String {
    jsonpath(
        env,
        &[
            "get",
            "lease",
            "superset-operator",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
    )
}

#[tokio::test]
async fn the_binary_reconciles_a_sample_serves_metrics_and_stops_on_sigterm() {
    let env = superset_operator_testkit::cluster().await;
    let started = Instant::now();
    let operator = Replica::start(&env, "single", &[]);
    wait_until("/readyz never answered", Duration::from_secs(30), || {
        operator.get("/readyz").is_some_and(|(code, _)| code == 200)
    });
    let ready = started.elapsed();
    kubectl_apply(&env, &sample());
    wait_until(
        "the sample did not become Available",
        Duration::from_secs(120),
        || available(&env),
    );
    eprintln!(
        "ready {:.2}s after start; sample Available {:.1}s after start",
        ready.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(operator.get("/healthz").unwrap().0, 200);
    let (code, metrics) = operator.get("/metrics").unwrap();
    assert_eq!(code, 200);
    for series in [
        "superset_operator_reconciles_total{controller=\"superset\"}",
        "superset_operator_reconciles_total{controller=\"SupersetWebServer\"}",
        "superset_operator_reconcile_duration_seconds_count{controller=\"superset\"}",
        "superset_operator_lifecycle_task_attempts_total{task=\"migrate\",result=\"succeeded\"} 1",
        "superset_operator_lifecycle_task_duration_seconds_count{task=\"init\"} 1",
        "superset_operator_lifecycle_phase{namespace=",
        "superset_operator_leader 1",
    ] {
        assert!(metrics.contains(series), "no {series} in\n{metrics}");
    }
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", operator.process.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().to_owned()))
        .unwrap();
    eprintln!("operator resident memory after converging the sample: {rss_kib}");

    let logs = operator.stop();
    assert!(logs.contains("SIGTERM received"), "{logs}");
    // The sample's inline secrets never reach the logs.
    for secret in ["a-development-only-secret-key", "password\":\"superset"] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test]
async fn two_replicas_elect_one_leader_and_a_standby_takes_over_when_it_dies() {
    let env = superset_operator_testkit::cluster().await;
    let election = [
        "--leader-elect",
        "--leader-election-namespace",
        &env.namespace,
        "--lease-duration",
        "6",
        "--lease-renew-grace",
        "2",
    ];
    let first = Replica::start(&env, "replica-a", &election);
    wait_until("replica-a never led", Duration::from_secs(30), || {
        first.metric("superset_operator_leader") == Some(1.0)
    });
    let second = Replica::start(&env, "replica-b", &election);
    wait_until("replica-b never answered", Duration::from_secs(30), || {
        second.get("/readyz").is_some_and(|(code, _)| code == 200)
    });
    assert_eq!(lease_holder(&env), "replica-a");
    kubectl_apply(&env, &sample());
    wait_until(
        "the leader did not reconcile the sample",
        Duration::from_secs(120),
        || available(&env),
    );
    // The standby reconciles nothing.
    assert_ne!(second.metric("superset_operator_leader"), Some(1.0));
    let standby_metrics = second.get("/metrics").unwrap().1;
    assert!(
        !standby_metrics.contains("superset_operator_reconciles_total{"),
        "the standby reconciled:\n{standby_metrics}"
    );

    // The leader dies without releasing its lease; the standby takes over within its duration.
    let killed = Instant::now();
    drop(first);
    wait_until(
        "the standby did not take over",
        Duration::from_secs(30),
        || second.metric("superset_operator_leader") == Some(1.0),
    );
    let takeover = killed.elapsed();
    eprintln!(
        "standby took over {:.1}s after the leader died",
        takeover.as_secs_f64()
    );
    assert!(takeover < Duration::from_secs(6 + 5), "took {takeover:?}");
    assert_eq!(lease_holder(&env), "replica-b");
    let patch = r#"{"spec":{"webServer":{"replicas":2}}}"#;
    let output = env
        .kubectl()
        .args(["patch", "superset", "dev", "--type", "merge", "-p", patch])
        .output()
        .unwrap();
    assert!(output.status.success());
    wait_until(
        "the new leader did not reconcile",
        Duration::from_secs(60),
        || {
            jsonpath(
                &env,
                &[
                    "get",
                    "deployment",
                    "dev-web-server",
                    "-o",
                    "jsonpath={.spec.replicas}",
                ],
            ) == "2"
        },
    );
    // SIGTERM releases the lease for the next replica at once.
    second.stop();
    assert_eq!(lease_holder(&env), "");
}

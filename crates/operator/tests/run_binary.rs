//! `superset-operator run` as a separate process against the simulated cluster: it reconciles
//! a sample to Available, serves metrics and probes, elects one leader among two replicas,
//! hands over when the leader dies, and stops cleanly on SIGTERM, releasing its lease.

mod common;

use std::time::{Duration, Instant};

use common::{Replica, available, jsonpath, kubectl_apply, sample, wait_until};
use superset_operator_testkit::TestEnv;

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
    let expected = [
        "superset_operator_reconciles_total{controller=\"superset\"}",
        "superset_operator_reconciles_total{controller=\"SupersetWebServer\"}",
        "superset_operator_reconcile_duration_seconds_count{controller=\"superset\"}",
        "superset_operator_lifecycle_task_attempts_total{task=\"migrate\",result=\"succeeded\"} 1",
        "superset_operator_lifecycle_task_duration_seconds_count{task=\"init\"} 1",
        "superset_operator_lifecycle_phase{namespace=",
        "superset_operator_leader 1",
    ];
    // Scraped from another process: allow the last reconcile to finish counting.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, metrics) = operator.get("/metrics").unwrap();
        assert_eq!(code, 200);
        let missing: Vec<_> = expected.iter().filter(|s| !metrics.contains(*s)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no {missing:?} in\n{metrics}");
        std::thread::sleep(Duration::from_millis(200));
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

//! `superset-operator run` as a separate process against the simulated cluster: it reconciles
//! a sample to Available, and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kubectl_apply(env: &superset_operator_testkit::TestEnv, manifest: &str) {
    let mut child = env
        .kubectl()
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn the_binary_reconciles_a_sample_and_stops_on_sigterm() {
    let env = superset_operator_testkit::cluster().await;
    let started = Instant::now();
    let mut operator = Command::new(env!("CARGO_BIN_EXE_superset-operator"))
        .args(["run", "--namespace", &env.namespace, "--log-format", "json"])
        .env("KUBECONFIG", env.kubeconfig())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/development.yaml"
    ))
    .unwrap();
    // The sample's lifecycle task pods succeed on the simulated nodes.
    let mut sample: serde_yaml::Value = serde_yaml::from_str(&sample).unwrap();
    sample["spec"]["lifecycle"]["podTemplate"] = serde_yaml::from_str(&format!(
        "annotations: {{ {}: succeed }}",
        superset_operator_testkit::OUTCOME_ANNOTATION
    ))
    .unwrap();
    kubectl_apply(&env, &serde_yaml::to_string(&sample).unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let output = env
            .kubectl()
            .args([
                "get",
                "superset",
                "dev",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&output.stdout) == "True" {
            break;
        }
        assert!(
            operator.try_wait().unwrap().is_none(),
            "the operator exited early"
        );
        assert!(
            Instant::now() < deadline,
            "the sample did not become Available"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "sample Available {:.1}s after the operator started",
        started.elapsed().as_secs_f64()
    );

    // SAFETY: signalling our own child process.
    unsafe { libc::kill(operator.id() as libc::pid_t, libc::SIGTERM) };
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = operator.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(15),
            "the operator ignored SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "the operator exited with {status}");
    let mut logs = String::new();
    use std::io::Read as _;
    operator
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("SIGTERM received"), "{logs}");
    // The sample's inline secrets never reach the logs.
    for secret in ["a-development-only-secret-key", "password\":\"superset"] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

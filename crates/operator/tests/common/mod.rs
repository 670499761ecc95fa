//! What the binary's tests share: the operator as a child process with its HTTP endpoints,
//! the development sample, and waits.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use superset_operator_testkit::TestEnv;

/// Runs `kubectl` in the test's namespace with `input` on standard input.
pub fn kubectl_with_input(env: &TestEnv, args: &[&str], input: &str) -> std::process::Output {
    let mut child = env
        .kubectl()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn kubectl_apply(env: &TestEnv, manifest: &str) {
    let output = kubectl_with_input(env, &["apply", "-f", "-"], manifest);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The development sample, with lifecycle task pods that succeed on the simulated nodes.
pub fn sample() -> String {
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One operator process and the port of its metrics and probes.
pub struct Replica {
    pub process: Child,
    pub port: u16,
}

impl Replica {
    pub fn start(env: &TestEnv, identity: &str, extra: &[&str]) -> Replica {
        Replica::start_with(env.kubeconfig(), &env.namespace, identity, extra)
    }

    /// An operator using `kubeconfig` (for example one with a restricted token).
    pub fn start_with(
        kubeconfig: &Path,
        namespace: &str,
        identity: &str,
        extra: &[&str],
    ) -> Replica {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let process = Command::new(env!("CARGO_BIN_EXE_superset-operator"))
            .args(["run", "--namespace", namespace, "--log-format", "json"])
            .args(["--metrics-address", &address, "--probe-address", &address])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAME", identity)
            .env("POD_NAMESPACE", namespace)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Replica { process, port }
    }

    /// `GET path`: the status code and body, or `None` while nothing answers.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
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
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
    }

    pub fn sigterm(&self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.process.id() as libc::pid_t, libc::SIGTERM) };
    }

    /// Waits for the process to exit after SIGTERM; returns its logs.
    pub fn stop(mut self) -> String {
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

pub fn jsonpath(env: &TestEnv, args: &[&str]) -> String {
    let output = env.kubectl().args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn available(env: &TestEnv) -> bool {
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

pub fn wait_until(what: &str, timeout: Duration, mut test: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !test() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

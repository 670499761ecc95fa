//! `make demo` end to end: the script starts its own simulated cluster, runs the operator
//! built for this test, applies the sample with every component and shows it Available.

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_demo_brings_a_superset_with_every_component_to_available() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let state = std::env::temp_dir().join(format!("superset-demo-test-{}", std::process::id()));
    let script = root.join("hack/demo.sh");
    let run = |action: &str| {
        Command::new(&script)
            .arg(action)
            .env("SUPERSET_OPERATOR_CLUSTER_STATE", &state)
            .env(
                "SUPERSET_OPERATOR_BIN",
                env!("CARGO_BIN_EXE_superset-operator"),
            )
            .env(
                "SUPERSET_DEMO_METRICS_PORT",
                common::free_port().to_string(),
            )
            .output()
            .unwrap()
    };
    let up = run("up");
    let down = run("down");
    let _ = std::fs::remove_dir_all(&state);
    let output = String::from_utf8_lossy(&up.stdout);
    assert!(
        up.status.success(),
        "the demo failed:\n{output}\n{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(output.contains("condition met"), "{output}");
    let superset_line = output
        .lines()
        .find(|l| l.starts_with("demo "))
        .unwrap_or_else(|| panic!("no Superset in the output:\n{output}"));
    for column in ["6.0.0", "Running", "Complete", "True"] {
        assert!(superset_line.contains(column), "{superset_line}");
    }
    for kind in [
        "supersetwebserver.superset.apache.org/demo",
        "supersetceleryworker.superset.apache.org/demo",
        "supersetcelerybeat.superset.apache.org/demo",
        "supersetceleryflower.superset.apache.org/demo",
        "supersetwebsocketserver.superset.apache.org/demo",
        "supersetmcpserver.superset.apache.org/demo",
        "supersetlifecycletask.superset.apache.org/demo-migrate",
    ] {
        assert!(output.contains(kind), "no {kind} in:\n{output}");
    }
    assert!(output.contains("make demo-down"), "{output}");
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}

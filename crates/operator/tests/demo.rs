//! `make demo` and `make demo-upgrade` end to end on the real node: the script starts its own
//! control plane with one real node, runs the operator built for this test, applies the
//! sample (PostgreSQL, Valkey, a Superset 6.0.0), prints the URL where a person logs in, and
//! upgrades it to 6.1.0 behind the maintenance page. In the node group of `make test`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

mod real_node {
    use super::*;

    fn demo(action: &str, state: &Path, metrics_port: u16) -> Output {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Command::new(root.join("hack/demo.sh"))
            .arg(action)
            .env("SUPERSET_OPERATOR_DEMO_STATE", state)
            .env(
                "SUPERSET_OPERATOR_BIN",
                env!("CARGO_BIN_EXE_superset-operator"),
            )
            .env("SUPERSET_DEMO_METRICS_PORT", metrics_port.to_string())
            .output()
            .unwrap()
    }

    fn stdout(output: &Output) -> String {
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Logs in to Superset's REST API from this machine, as a person's browser would.
    fn logs_in(url: &str) -> bool {
        let out = Command::new("curl")
            .args([
                "-s",
                "--max-time",
                "30",
                "-H",
                "Content-Type: application/json",
            ])
            .args([
                "-d",
                r#"{"username":"admin","password":"admin","provider":"db"}"#,
            ])
            .arg(format!("{url}api/v1/security/login"))
            .output()
            .expect("running curl");
        String::from_utf8_lossy(&out.stdout).contains("access_token")
    }

    /// The first `http://` address the demo printed.
    fn url_in(output: &str) -> Option<String> {
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix("http://"))
            .and_then(|l| l.split_whitespace().next())
            .map(|address| format!("http://{address}"))
    }

    #[test]
    fn the_demo_serves_a_real_superset_to_log_in_to_and_upgrades_it_behind_the_maintenance_page() {
        let state = std::env::temp_dir().join(format!("superset-demo-test-{}", std::process::id()));
        let port = common::free_port();
        let up = demo("up", &state, port);
        let url = url_in(&stdout(&up));
        let logged_in = url.as_deref().is_some_and(logs_in);
        let upgrade = up.status.success().then(|| demo("upgrade", &state, port));
        let logged_in_after = url.as_deref().is_some_and(logs_in);
        let down = demo("down", &state, port);
        let _ = std::fs::remove_dir_all(&state);

        let output = stdout(&up);
        assert!(up.status.success(), "the demo failed:\n{output}");
        assert!(output.contains("condition met"), "{output}");
        assert!(output.contains("log in as admin / admin"), "{output}");
        for kind in [
            "supersetwebserver.superset.apache.org/demo",
            "supersetceleryworker.superset.apache.org/demo",
            "supersetcelerybeat.superset.apache.org/demo",
            "supersetceleryflower.superset.apache.org/demo",
            "supersetlifecycletask.superset.apache.org/demo-migrate",
        ] {
            assert!(output.contains(kind), "no {kind} in:\n{output}");
        }
        assert!(
            logged_in,
            "admin / admin could not log in at {url:?}:\n{output}"
        );
        let upgrade = upgrade.unwrap();
        let upgraded = stdout(&upgrade);
        assert!(upgrade.status.success(), "the upgrade failed:\n{upgraded}");
        assert!(
            upgraded.contains("shows the maintenance page: \"Upgrading Superset\""),
            "{upgraded}"
        );
        assert!(
            upgraded.contains("serves Superset 6.1.0 again"),
            "{upgraded}"
        );
        assert!(logged_in_after, "no login after the upgrade at {url:?}");
        assert!(down.status.success(), "{}", stdout(&down));
    }
}

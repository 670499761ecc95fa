//! The rotate task's script, run with the real Superset (`SUPERSET_PYTHON`, which `make test`
//! sets) on a SQLite metastore: a connection saved with the first key opens with the second
//! after the rotation, a re-run changes nothing, and a wrong previous key fails the task
//! without writing anything or printing a secret. Superset's own `re-encrypt-secrets` is run
//! too, to show why the operator does not use it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use superset_operator_api::task::TaskType;

const FIRST_KEY: &str = "the-first-secret-key-of-this-metastore-0123456789";
const SECOND_KEY: &str = "the-second-secret-key-of-this-metastore-987654321";
const DB_PASSWORD: &str = "saved-pa55word";

struct Metastore {
    dir: PathBuf,
    python: PathBuf,
}

impl Metastore {
    /// A migrated SQLite metastore whose config reads both keys from the environment.
    fn new(name: &str) -> Self {
        let python = PathBuf::from(std::env::var_os("SUPERSET_PYTHON").expect(
            "SUPERSET_PYTHON names a Python with Apache Superset (`make test` sets it: \
             hack/superset-python.sh)",
        ));
        let dir = std::env::temp_dir().join(format!("rotate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("superset_config.py"),
            format!(
                "import os\nSECRET_KEY = os.environ['KEY']\n\
                 PREVIOUS_SECRET_KEY = os.environ.get('PREVIOUS_KEY')\n\
                 SQLALCHEMY_DATABASE_URI = 'sqlite:///{}/superset.db'\n",
                dir.display()
            ),
        )
        .unwrap();
        let metastore = Self { dir, python };
        let upgraded = metastore.superset(FIRST_KEY, None, &["db", "upgrade"]);
        assert!(upgraded.status.success(), "{}", text(&upgraded));
        metastore
    }

    fn run(&self, program: &Path, args: &[&str], key: &str, previous: Option<&str>) -> Output {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("SUPERSET_CONFIG_PATH", self.dir.join("superset_config.py"))
            .env("KEY", key)
            .env_remove("PREVIOUS_KEY");
        if let Some(previous) = previous {
            command.env("PREVIOUS_KEY", previous);
        }
        command.output().unwrap()
    }

    fn superset(&self, key: &str, previous: Option<&str>, args: &[&str]) -> Output {
        let cli = self.python.with_file_name("superset");
        self.run(&cli, args, key, previous)
    }

    fn python(&self, key: &str, previous: Option<&str>, args: &[&str]) -> Output {
        self.run(&self.python, args, key, previous)
    }

    fn connection(&self, key: &str, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/saved_connection.py");
        let mut all = vec![script.to_str().unwrap()];
        all.extend_from_slice(args);
        self.python(key, None, &all)
    }

    fn saves(&self, name: &str) {
        let uri = format!("postgresql://reader:{DB_PASSWORD}@warehouse:5432/sales");
        let saved = self.connection(FIRST_KEY, &["save", name, &uri]);
        assert!(saved.status.success(), "{}", text(&saved));
    }

    /// The saved password as `key` reads it, or the error.
    fn password(&self, name: &str, key: &str) -> Result<String, String> {
        let read = self.connection(key, &["read", name]);
        let out = text(&read);
        if read.status.success() {
            Ok(String::from_utf8_lossy(&read.stdout)
                .lines()
                .last()
                .unwrap_or("")
                .to_owned())
        } else {
            Err(out)
        }
    }

    /// The rotate task's script as the operator renders it into the task's ConfigMap.
    fn rotates(&self, key: &str, previous: &str) -> Output {
        let script = self.dir.join("superset_rotate_secrets.py");
        std::fs::write(&script, rendered_rotate_script()).unwrap();
        self.python(key, Some(previous), &[script.to_str().unwrap()])
    }
}

impl Drop for Metastore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn rendered_rotate_script() -> String {
    let resolved = common::resolved(
        r#"
apiVersion: superset.apache.org/v1alpha1
kind: Superset
metadata: { name: keys }
spec:
  image: { tag: 6.1.0 }
  secretKeyFrom: { name: superset, key: new-key }
  previousSecretKeyFrom: { name: superset, key: old-key }
  metastore: { uriFrom: { name: superset, key: uri } }
  webServer: {}
  lifecycle: { rotate: {} }
"#,
    );
    let rotate = resolved
        .tasks
        .iter()
        .find(|t| t.task_type == TaskType::Rotate)
        .expect("a rotate task");
    let command = &rotate.task.spec.command;
    assert_eq!(
        command.last().map(String::as_str),
        Some("python /app/pythonpath/superset_rotate_secrets.py"),
        "{command:?}"
    );
    rotate.config_map.as_ref().unwrap().data.as_ref().unwrap()["superset_rotate_secrets.py"].clone()
}

#[test]
fn supersets_own_re_encrypt_secrets_changes_nothing_on_6_1() {
    let metastore = Metastore::new("upstream");
    metastore.saves("warehouse");
    let upstream = metastore.superset(SECOND_KEY, Some(FIRST_KEY), &["re-encrypt-secrets"]);
    assert!(upstream.status.success(), "{}", text(&upstream));
    let read = metastore.password("warehouse", SECOND_KEY);
    assert!(
        read.as_ref()
            .is_err_and(|e| e.contains("Invalid decryption key")),
        "Superset's re-encrypt-secrets works now ({read:?}): the operator could use it again"
    );
}

#[test]
fn the_rotate_task_re_encrypts_saved_connections_once_and_never_with_a_wrong_key() {
    let metastore = Metastore::new("task");
    metastore.saves("warehouse");
    assert_eq!(
        metastore.password("warehouse", FIRST_KEY).unwrap(),
        DB_PASSWORD
    );

    let rotated = metastore.rotates(SECOND_KEY, FIRST_KEY);
    let out = text(&rotated);
    assert!(rotated.status.success(), "{out}");
    assert!(out.contains("rotate: 1 re-encrypted"), "{out}");
    assert!(out.contains("dbs"), "{out}");
    assert_eq!(
        metastore.password("warehouse", SECOND_KEY).unwrap(),
        DB_PASSWORD
    );

    // A retried attempt, or the same rotation run again: nothing left to do.
    let again = metastore.rotates(SECOND_KEY, FIRST_KEY);
    let out = text(&again);
    assert!(again.status.success(), "{out}");
    assert!(
        out.contains("0 re-encrypted, 1 already on the new key"),
        "{out}"
    );

    // A previous key that never encrypted anything here: the task fails, naming the column,
    // and the data still opens with the key it is on.
    let third = "a-third-key-that-this-metastore-never-used-000000";
    let wrong = metastore.rotates(third, "not-the-key-it-was-saved-with-at-all-0000000000");
    let out = text(&wrong);
    assert!(!wrong.status.success(), "{out}");
    assert!(out.contains("dbs.password"), "{out}");
    assert!(out.contains("Nothing was changed"), "{out}");
    for secret in [DB_PASSWORD, FIRST_KEY, SECOND_KEY, third] {
        assert!(!out.contains(secret), "the task printed a secret: {out}");
    }
    assert_eq!(
        metastore.password("warehouse", SECOND_KEY).unwrap(),
        DB_PASSWORD
    );
}

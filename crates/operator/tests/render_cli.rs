//! `superset-operator render`, run as users run it: on every example in `examples/` and every
//! Superset in the docs, and on broken manifests, which must name the field to fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn render(manifest: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("render-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!(
        "{:x}.yaml",
        manifest.len() * 31 + manifest.bytes().map(usize::from).sum::<usize>()
    ));
    std::fs::write(&file, manifest).unwrap();
    Command::new(env!("CARGO_BIN_EXE_superset-operator"))
        .arg("render")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap()
}

fn kinds(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .map(str::to_owned)
        .collect()
}

/// Every `Superset` manifest shown in the README and the docs.
fn documented_manifests() -> Vec<(String, String)> {
    let mut files = vec![repository().join("README.md")];
    for entry in std::fs::read_dir(repository().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for block in text.split("```yaml\n").skip(1) {
            let block = block.split("```").next().unwrap();
            if block.contains("kind: Superset\n") {
                manifests.push((file.display().to_string(), block.to_owned()));
            }
        }
    }
    manifests
}

#[test]
fn every_example_renders() {
    let mut examples: Vec<_> = std::fs::read_dir(repository().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    examples.sort();
    assert!(examples.len() >= 2);
    for example in examples {
        let output = render(&std::fs::read_to_string(&example).unwrap());
        assert!(
            output.status.success(),
            "{}: {}",
            example.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let yaml = String::from_utf8(output.stdout).unwrap();
        assert!(
            kinds(&yaml).iter().any(|k| k == "SupersetLifecycleTask"),
            "{}",
            example.display()
        );
        let name = example.file_stem().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(format!("example_{name}"), yaml);
    }
}

#[test]
fn every_documented_superset_renders() {
    let manifests = documented_manifests();
    assert!(!manifests.is_empty());
    for (file, manifest) in manifests {
        let output = render(&manifest);
        assert!(
            output.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn error_of(manifest: &str) -> String {
    let output = render(manifest);
    assert!(!output.status.success(), "accepted:\n{manifest}");
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8(output.stderr).unwrap()
}

const HEAD: &str =
    "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata:\n  name: broken\n";

#[test]
fn a_field_of_the_wrong_type_is_named() {
    let error = error_of(&format!(
        "{HEAD}spec:\n  environment: Development\n  secretKey: k\n  image: {{tag: \"6.0.0\"}}\n  metastore: {{host: db, port: five, database: d, username: u}}\n"
    ));
    assert!(error.contains("spec.metastore.port"), "{error}");
}

#[test]
fn an_unknown_enum_value_is_named() {
    let error = error_of(&format!(
        "{HEAD}spec:\n  environment: Dev\n  secretKey: k\n  image: {{tag: \"6.0.0\"}}\n"
    ));
    assert!(error.contains("spec.environment"), "{error}");
}

#[test]
fn a_rule_the_api_server_would_enforce_is_reported_with_its_message() {
    let error = error_of(&format!(
        "{HEAD}spec:\n  secretKey: inline\n  image: {{tag: \"6.0.0\"}}\n"
    ));
    assert!(
        error.contains("spec.secretKey (inline) is allowed only in Development"),
        "{error}"
    );
}

#[test]
fn a_missing_required_field_is_named() {
    let error = error_of(&format!(
        "{HEAD}spec:\n  environment: Development\n  secretKey: k\n"
    ));
    assert!(error.contains("spec") && error.contains("image"), "{error}");
}

#[test]
fn other_kinds_and_bad_yaml_are_refused() {
    assert!(
        error_of("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
            .contains("expected apiVersion superset.apache.org/v1alpha1")
    );
    assert!(error_of("spec: [unclosed\n").contains("not valid YAML"));
}

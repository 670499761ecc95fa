//! Artefacts generated from the types and checked in: the CRD YAML under `config/crd/` and the
//! validation reference under `docs/reference/`. `make generate` writes them; a test fails
//! when the checked-in copies are stale.

use std::fmt::Write as _;

use serde_json::Value;

use crate::crds;

/// Header of every generated file, so nobody edits one by hand.
const YAML_HEADER: &str =
    "# Generated from the Rust types in crates/api by `make generate`. Do not edit.\n";

/// Every generated file as `(path relative to the repository root, contents)`.
pub fn artefacts() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    let mut files = crd_files()?;
    files.push((
        "docs/reference/validation.md".into(),
        validation_reference(),
    ));
    Ok(files)
}

/// One `(config/crd/<plural>.yaml, YAML)` pair per CRD.
pub fn crd_files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    crds()
        .into_iter()
        .map(|crd| {
            let file = format!("config/crd/{}.yaml", crd.spec.names.plural);
            Ok((
                file,
                format!("{YAML_HEADER}{}", serde_yaml::to_string(&crd)?),
            ))
        })
        .collect()
}

/// Every CRD in one multi-document YAML stream, for `kubectl apply`.
pub fn all_crds_yaml() -> Result<String, serde_yaml::Error> {
    let docs = crds()
        .iter()
        .map(serde_yaml::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(docs.iter().map(|d| format!("---\n{d}")).collect())
}

/// Markdown listing every CEL rule of every kind with the field it guards and the message a
/// user sees when it fails.
pub fn validation_reference() -> String {
    let mut out = String::from(
        "<!-- Generated from the Rust types in crates/api by `make generate`. Do not edit. -->\n\
         # Validation rules\n\n\
         The API server checks these rules when an object is created or changed, so a mistake is\n\
         reported by `kubectl apply` before anything runs. Each message says what to change.\n",
    );
    for crd in crds() {
        let schema =
            serde_json::to_value(&crd.spec.versions[0].schema).expect("a schema serialises");
        let mut rules = Vec::new();
        collect_rules(&schema["openAPIV3Schema"], String::new(), &mut rules);
        let _ = write!(
            out,
            "\n## {}\n\n| Field | Rule | Message |\n|---|---|---|\n",
            crd.spec.names.kind
        );
        for (path, rule, message) in rules {
            let field = if path.is_empty() {
                "(object)".to_owned()
            } else {
                format!("`{path}`")
            };
            let _ = writeln!(
                out,
                "| {field} | `{}` | {} |",
                escape_cell(&rule),
                escape_cell(&message).replace('<', "&lt;")
            );
        }
    }
    out
}

fn collect_rules(schema: &Value, path: String, out: &mut Vec<(String, String, String)>) {
    if let Some(Value::Array(rules)) = schema.get("x-kubernetes-validations") {
        for rule in rules {
            let text = |key: &str| rule[key].as_str().unwrap_or_default().to_owned();
            out.push((path.clone(), text("rule"), text("message")));
        }
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, child) in properties {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            collect_rules(child, child_path, out);
        }
    }
    if let Some(items) = schema.get("items") {
        collect_rules(items, format!("{path}[]"), out);
    }
    if let Some(values) = schema.get("additionalProperties") {
        collect_rules(values, format!("{path}.*"), out);
    }
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

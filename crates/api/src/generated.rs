//! Artefacts generated from the types and checked in: the CRD YAML under `config/crd/`, and
//! the API and validation references under `docs/reference/`. `make generate` writes them; a test fails
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
    files.push(("docs/reference/api.md".into(), api_reference()));
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

/// Markdown listing every documented field of every kind: its path, type, default and what it
/// does, straight from the doc comments of the Rust types.
pub fn api_reference() -> String {
    let mut out = String::from(
        "<!-- Generated from the Rust types in crates/api by `make generate`. Do not edit. -->\n\
         # API reference\n\n\
         Every field of every kind, from the doc comments of the Rust types. You write\n\
         `Superset`; the operator writes the other kinds from it. Fields of embedded Kubernetes\n\
         types (pod templates, probes, affinity, ...) follow the Kubernetes API reference.\n\
         Validation rules are listed in [validation](validation.md).\n",
    );
    for crd in crds() {
        let schema =
            serde_json::to_value(&crd.spec.versions[0].schema).expect("a schema serialises");
        let root = &schema["openAPIV3Schema"];
        let _ = write!(
            out,
            "\n## {} (`{}`)\n\n{}\n\n| Field | Type | Default | Description |\n|---|---|---|---|\n",
            crd.spec.names.kind,
            crd.spec
                .names
                .short_names
                .clone()
                .unwrap_or_default()
                .join(", "),
            escape_cell(root["description"].as_str().unwrap_or_default()),
        );
        for part in ["spec", "status"] {
            collect_fields(&root["properties"][part], part.to_owned(), &mut out);
        }
    }
    out
}

fn type_of(schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        return format!("enum: {}", names.join(", "));
    }
    match schema["type"].as_str() {
        Some("array") => format!("[]{}", type_of(&schema["items"])),
        Some("object") if schema.get("additionalProperties").is_some() => {
            format!("map[string]{}", type_of(&schema["additionalProperties"]))
        }
        Some(kind) => kind.to_owned(),
        None if schema.get("x-kubernetes-int-or-string").is_some() => "int or string".into(),
        None => "object".into(),
    }
}

fn collect_fields(schema: &Value, path: String, out: &mut String) {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return;
    };
    let required_fields: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, child) in properties {
        let Some(description) = child.get("description").and_then(Value::as_str) else {
            // Inside embedded Kubernetes types descriptions are left out; so is the listing.
            continue;
        };
        let child_path = format!("{path}.{name}");
        let default = child
            .get("default")
            .map(|d| format!("`{d}`"))
            .unwrap_or_default();
        let marker = if required_fields.contains(&name.as_str()) {
            " (required)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| `{child_path}`{marker} | {} | {} | {} |",
            escape_cell(&type_of(child)),
            escape_cell(&default),
            escape_cell(&description.replace('\n', " ")).replace('<', "&lt;")
        );
        let nested = if child["type"] == "array" {
            &child["items"]
        } else {
            child
        };
        let nested_path = if child["type"] == "array" {
            format!("{child_path}[]")
        } else {
            child_path
        };
        collect_fields(nested, nested_path, out);
    }
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

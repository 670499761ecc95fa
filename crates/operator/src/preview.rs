//! `superset-operator render`: what the operator would create for a manifest, without a
//! cluster, the way `helm template` previews a chart.

use std::fmt::Write as _;

use serde::Deserialize;
use superset_operator_api::Superset;
use superset_operator_render::resolve;

/// Why a manifest cannot be rendered. Each message names the field to fix.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// Not YAML.
    #[error("document {document}: not valid YAML: {source}")]
    Yaml {
        /// 1-based document number.
        document: usize,
        /// The parser's error.
        source: serde_yaml::Error,
    },
    /// Not a `superset.apache.org/v1alpha1` `Superset`.
    #[error(
        "document {document}: expected apiVersion superset.apache.org/v1alpha1 and kind Superset, found {found}"
    )]
    NotASuperset {
        /// 1-based document number.
        document: usize,
        /// What was found instead.
        found: String,
    },
    /// A field has the wrong shape.
    #[error("document {document}: {path}: {message}")]
    Field {
        /// 1-based document number.
        document: usize,
        /// Path of the field, such as `spec.metastore.port`.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// CEL rules (the same the API server enforces) reject the manifest.
    #[error("document {document}: the API server would reject this Superset:\n{messages}")]
    Rules {
        /// 1-based document number.
        document: usize,
        /// One line per failed rule.
        messages: String,
    },
    /// The manifest cannot be resolved.
    #[error("document {document}: {source}")]
    Resolve {
        /// 1-based document number.
        document: usize,
        /// The reason.
        source: resolve::ResolveError,
    },
}

/// Renders every `Superset` in `yaml` (one or more documents) as multi-document YAML.
/// `namespace` fills in `metadata.namespace` where the manifest has none.
pub fn render(yaml: &str, namespace: &str) -> Result<String, PreviewError> {
    let mut out = String::new();
    for (index, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let document_number = index + 1;
        let value =
            serde_yaml::Value::deserialize(document).map_err(|source| PreviewError::Yaml {
                document: document_number,
                source,
            })?;
        if value.is_null() {
            continue;
        }
        let mut superset = parse(document_number, value)?;
        superset
            .metadata
            .namespace
            .get_or_insert_with(|| namespace.to_owned());
        let resolved = resolve::resolve(&superset).map_err(|source| PreviewError::Resolve {
            document: document_number,
            source,
        })?;
        for component in &resolved.components {
            if let Some(config_map) = &component.config_map {
                push_document(&mut out, config_map);
            }
            push_document(&mut out, &component.child.to_value());
        }
        for task in &resolved.tasks {
            if let Some(config_map) = &task.config_map {
                push_document(&mut out, config_map);
            }
            push_document(&mut out, &task.task);
        }
    }
    Ok(out)
}

fn parse(document: usize, value: serde_yaml::Value) -> Result<Superset, PreviewError> {
    let api_version = value
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let kind = value
        .get("kind")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if api_version != "superset.apache.org/v1alpha1" || kind != "Superset" {
        return Err(PreviewError::NotASuperset {
            document,
            found: format!("{api_version:?} {kind:?}"),
        });
    }
    let superset: Superset =
        serde_path_to_error::deserialize(value).map_err(|e| PreviewError::Field {
            document,
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    if superset.metadata.name.is_none() {
        return Err(PreviewError::Field {
            document,
            path: "metadata.name".into(),
            message: "is required".into(),
        });
    }
    kube::core::cel::validate_cel(&superset).map_err(|errors| PreviewError::Rules {
        document,
        messages: errors
            .to_string()
            .lines()
            .filter(|line| !line.trim_end().ends_with("validation error(s):"))
            .map(|line| format!("  {}", line.trim_start()))
            .collect::<Vec<_>>()
            .join("\n"),
    })?;
    Ok(superset)
}

fn push_document(out: &mut String, value: &impl serde::Serialize) {
    let yaml = serde_yaml::to_string(value).expect("objects serialise to YAML");
    let _ = write!(out, "---\n{yaml}");
}

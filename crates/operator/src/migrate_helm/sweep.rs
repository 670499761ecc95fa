//! The last look before the manifest is printed: values copied as they were (sidecars,
//! probes, annotations, volumes, ...) may hold credentials the mapping of each value did not
//! know of. Environment variables among them are read from a Secret instead; what cannot
//! read a Secret (a probe's header, an annotation, an argument) becomes `REDACTED`, reported
//! with the step to take.

use serde_json::{Map, Value, json};

use super::Mapper;
use super::credentials::{
    self, PLACEHOLDER, is_credential_header, is_credential_name, is_reference_name,
};

/// Annotations whose values name a Secret or a path in a vault rather than hold a credential.
const REFERENCE_ANNOTATIONS: [&str; 6] = [
    "nginx.ingress.kubernetes.io/auth-secret",
    "nginx.ingress.kubernetes.io/auth-tls-secret",
    "vault.hashicorp.com/",
    "secret.reloader.stakater.com/",
    "reloader.stakater.com/",
    "cert-manager.io/",
];

impl Mapper {
    pub(super) fn sweep_credentials(&mut self) {
        let mut spec = Value::Object(std::mem::take(&mut self.spec));
        if let Value::Object(map) = &mut spec {
            for (key, value) in map.iter_mut() {
                // Cleaned where they were mapped, by the rules of their language.
                if key == "config" || key == "bootstrapScript" {
                    continue;
                }
                self.sweep(value, key);
            }
        }
        let Value::Object(map) = spec else {
            unreachable!("the spec stays an object")
        };
        self.spec = map;
    }

    fn sweep(&mut self, value: &mut Value, path: &str) {
        match value {
            Value::Object(map) => self.sweep_object(map, path),
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.sweep(item, &format!("{path}[{i}]"));
                }
            }
            Value::String(text) => {
                if let Some(cleaned) = credentials::clean_text(text) {
                    *text = cleaned;
                    let key = self.values_path(path);
                    self.unmapped(
                        &key,
                        format!("held a credential: replaced by {PLACEHOLDER}; keep it in a Secret and refer to that instead"),
                    );
                }
            }
            _ => {}
        }
    }

    fn sweep_object(&mut self, map: &mut Map<String, Value>, path: &str) {
        for (key, value) in map.iter_mut() {
            let child = format!("{path}.{key}");
            match (key.as_str(), value) {
                ("env", Value::Array(items)) => self.sweep_env(items, &child),
                ("httpHeaders", Value::Array(items)) => self.sweep_headers(items, &child),
                ("annotations" | "labels" | "options", Value::Object(entries)) => {
                    self.sweep_free_map(entries, &child)
                }
                ("command" | "args", Value::Array(items)) => self.sweep_arguments(items, &child),
                (_, value) => self.sweep(value, &child),
            }
        }
    }

    /// Environment variables with a credential for a value are read from a Secret.
    fn sweep_env(&mut self, items: &mut [Value], path: &str) {
        for (i, item) in items.iter_mut().enumerate() {
            let (Some(name), Some(value)) = (
                item.get("name").and_then(Value::as_str),
                item.get("value").and_then(Value::as_str),
            ) else {
                continue;
            };
            if value.is_empty()
                || !(is_credential_name(name) || credentials::looks_secret(value, true))
            {
                continue;
            }
            let (name, value) = (name.to_owned(), value.to_owned());
            let key = self.credential_key(&name, &value);
            let secret = self.credentials_secret();
            *item =
                json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}});
            let source = self.values_path(&format!("{path}[{i}]"));
            self.reads_secret(
                &secret,
                &key,
                format!("the value of {source} ({name}, a credential, not copied)"),
                true,
            );
        }
    }

    /// Probe headers cannot read a Secret: a credential in one becomes a placeholder.
    fn sweep_headers(&mut self, items: &mut [Value], path: &str) {
        for (i, item) in items.iter_mut().enumerate() {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let Some(value) = item.get_mut("value") else {
                continue;
            };
            let Some(text) = value.as_str() else { continue };
            if text.is_empty()
                || !(is_credential_header(&name) || credentials::looks_secret(text, false))
            {
                continue;
            }
            *value = json!(PLACEHOLDER);
            let key = self.values_path(&format!("{path}[{i}]"));
            self.unmapped(
                &key,
                format!("the probe's {name} header held a credential: replaced by {PLACEHOLDER}, as probes cannot read Secrets; probe an endpoint that needs none, or use an exec probe that reads the credential from an environment variable backed by a Secret"),
            );
        }
    }

    /// Annotations, labels and volume options, which anyone who can read the object reads.
    fn sweep_free_map(&mut self, entries: &mut Map<String, Value>, path: &str) {
        for (name, value) in entries.iter_mut() {
            let Some(text) = value.as_str() else { continue };
            let named = is_credential_name(name)
                && !is_reference_name(name)
                && !REFERENCE_ANNOTATIONS.iter().any(|r| name.starts_with(r))
                && !matches!(
                    text.to_ascii_lowercase().as_str(),
                    "" | "true" | "false" | "yes" | "no" | "enabled" | "disabled"
                );
            let cleaned = if named {
                Some(PLACEHOLDER.to_owned())
            } else {
                credentials::clean_text(text)
            };
            let Some(cleaned) = cleaned else { continue };
            *value = json!(cleaned);
            let key = self.values_path(&format!("{path}.{name}"));
            self.unmapped(
                &key,
                format!("held a credential: replaced by {PLACEHOLDER}; anyone who can read the object reads its annotations and labels, so keep the credential in a Secret for whatever reads it"),
            );
        }
    }

    /// A container's command and arguments: `--token VALUE` and credentials inside one.
    fn sweep_arguments(&mut self, items: &mut [Value], path: &str) {
        let mut after_option = false;
        for (i, item) in items.iter_mut().enumerate() {
            let Some(text) = item.as_str() else {
                after_option = false;
                continue;
            };
            let option_value = after_option && !credentials::only_placeholders(text);
            let option = text.starts_with('-')
                && !text.contains(['=', ' '])
                && is_credential_name(text.trim_start_matches('-'))
                && !is_reference_name(text);
            after_option = option;
            let cleaned = if option_value {
                Some(PLACEHOLDER.to_owned())
            } else {
                credentials::clean_text(text)
            };
            let Some(cleaned) = cleaned else { continue };
            *item = json!(cleaned);
            let key = self.values_path(&format!("{path}[{i}]"));
            self.unmapped(
                &key,
                format!("held a credential: replaced by {PLACEHOLDER}; add an environment variable read from a Secret to the container and write $(NAME) in its place"),
            );
        }
    }

    /// The values file's path for a spec path, where the value was copied from one; else the
    /// spec path.
    pub(super) fn values_path(&self, spec_path: &str) -> String {
        values_path(&self.copies, spec_path)
    }
}

/// The values path of `spec_path` by the `(spec path, values path)` pairs of `copies`.
pub(super) fn values_path(copies: &[(String, String)], spec_path: &str) -> String {
    copies
        .iter()
        .filter(|(spec, _)| {
            spec_path.strip_prefix(spec.as_str()).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')
            })
        })
        .max_by_key(|(spec, _)| spec.len())
        .map_or_else(
            || format!("spec.{spec_path}"),
            |(spec, values)| format!("{values}{}", &spec_path[spec.len()..]),
        )
}

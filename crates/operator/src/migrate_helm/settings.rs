//! The image, the settings every Superset pod shares, environment, `configOverrides`, and the
//! service account.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Mapper, credentials, python, shell};

impl Mapper {
    pub(super) fn map_image(&mut self) {
        let repository = self.values.string("image.repository");
        let tag = self.values.string("image.tag");
        let mut image = json!({});
        if let Some(r) = repository {
            image["repository"] = json!(r);
        }
        match tag {
            Some(t) => image["tag"] = json!(t),
            None => {
                image["tag"] = json!("CHANGE-ME");
                self.unmapped(
                    "image.tag",
                    "unset, so the release ran the chart's appVersion: replace CHANGE-ME in spec.image.tag with that version (`helm list` shows it as APP VERSION)",
                );
            }
        }
        if let Some(p) = self.values.string("image.pullPolicy") {
            image["pullPolicy"] = json!(p);
        }
        if let Some(Value::Array(secrets)) = self.values.take("imagePullSecrets") {
            let refs: Vec<Value> = secrets
                .into_iter()
                .map(|s| match s {
                    Value::String(name) => json!({"name": name}),
                    other => other,
                })
                .collect();
            image["pullSecrets"] = json!(refs);
        }
        self.set("image", image);
    }

    /// Settings the chart applies to every Superset pod.
    pub(super) fn map_shared_pod_settings(&mut self) {
        self.copy("resources", "podTemplate.container.resources");
        self.copy("nodeSelector", "podTemplate.nodeSelector");
        self.copy("tolerations", "podTemplate.tolerations");
        self.copy("affinity", "podTemplate.affinity");
        self.copy(
            "topologySpreadConstraints",
            "podTemplate.topologySpreadConstraints",
        );
        self.copy("priorityClassName", "podTemplate.priorityClassName");
        self.copy("hostAliases", "podTemplate.hostAliases");
        self.copy("extraVolumes", "podTemplate.volumes");
        self.copy("extraVolumeMounts", "podTemplate.container.volumeMounts");
        self.copy("extraLabels", "podTemplate.labels");
        match self.values.integer("runAsUser") {
            Some(0) => self.unmapped(
                "runAsUser",
                "0 (root): the operator runs Superset as a non-root user under the restricted pod security standard; install packages in the image rather than at start",
            ),
            Some(uid) => self.set("podTemplate.podSecurityContext.runAsUser", json!(uid)),
            None => {}
        }
    }

    pub(super) fn map_env(&mut self) {
        if let Some(Value::Object(env)) = self.values.take("extraEnv") {
            for (name, value) in env {
                let key = format!("extraEnv.{name}");
                let value = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                if is_credential(&name, &value) {
                    self.move_to_secret(&key, &name, &value, "podTemplate.container.env");
                } else if let Some(value) = self.expand(&key, &value) {
                    self.push(
                        "podTemplate.container.env",
                        json!({"name": name, "value": value}),
                    );
                }
            }
        }
        if let Some(Value::Array(raw)) = self.values.take("extraEnvRaw") {
            for (i, entry) in raw.into_iter().enumerate() {
                let name = entry["name"].as_str().unwrap_or_default().to_owned();
                let value = match entry.get("value") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Null) | None => None,
                    Some(other) => Some(other.to_string()),
                };
                match value {
                    Some(value) if is_credential(&name, &value) => self.move_to_secret(
                        &format!("extraEnvRaw[{i}]"),
                        &name,
                        &value,
                        "podTemplate.container.env",
                    ),
                    _ => self.push("podTemplate.container.env", entry),
                }
            }
        }
        if let Some(Value::Object(secret_env)) = self.values.take("extraSecretEnv") {
            self.env_secret_needed = true;
            let secret = self.names.env_secret.clone();
            for name in secret_env.keys() {
                self.reads_secret(
                    &secret,
                    name,
                    format!("extraSecretEnv.{name}, read by every pod through envFrom"),
                    false,
                );
            }
        }
        if self.names.env_secret_explicit {
            self.env_secret_needed = true;
        }
        if let Some(Value::Array(secrets)) = self.values.take("envFromSecrets") {
            for (i, secret) in secrets.iter().enumerate() {
                if let Some(name) = secret.as_str()
                    && let Some(name) = self.expand(&format!("envFromSecrets[{i}]"), name)
                {
                    self.push(
                        "podTemplate.container.envFrom",
                        json!({"secretRef": {"name": name}}),
                    );
                }
            }
        }
    }

    /// An inline credential in an environment variable (`values_key` in the values file): the
    /// pods read it from a new Secret, through the environment at `env_path`.
    pub(super) fn move_to_secret(
        &mut self,
        values_key: &str,
        env_name: &str,
        value: &str,
        env_path: &str,
    ) {
        let secret = self.credentials_secret();
        let key = self.credential_key(env_name, value);
        self.push_credential_env(env_path, env_name, &key);
        self.reads_secret(
            &secret,
            &key,
            format!("the value of {values_key} (a credential, not copied)"),
            true,
        );
    }

    pub(super) fn map_config(&mut self) {
        let mut snippets = Vec::new();
        if let Some(Value::Object(overrides)) = self.values.take("configOverrides") {
            // The chart ranges over the map, which Go templates do in key order.
            let sorted: BTreeMap<_, _> = overrides.into_iter().collect();
            for (key, snippet) in sorted {
                let Some(text) = snippet.as_str() else {
                    continue;
                };
                let path = format!("configOverrides.{key}");
                let cleaned = python::remove_credentials(
                    text,
                    &self.credentials_secret(),
                    &mut self.credential_envs,
                );
                for finding in &cleaned.findings {
                    self.unmapped(&path, finding.reason.clone());
                    if let Some(env) = &finding.env {
                        self.push(
                            "podTemplate.container.env",
                            json!({"name": env.name, "valueFrom": {"secretKeyRef": {"name": env.secret, "key": env.name}}}),
                        );
                        self.reads_secret(
                            &env.secret,
                            &env.name,
                            format!("{} from {path} (a credential, not copied)", env.name),
                            true,
                        );
                    }
                }
                if cleaned.secret_key {
                    self.secret_key_from_config = Some(path.clone());
                }
                snippets.push(format!(
                    "# configOverrides.{key}\n{}",
                    cleaned.text.trim_end()
                ));
            }
        }
        if !snippets.is_empty() {
            self.set("config", json!(snippets.join("\n\n") + "\n"));
        }
        if let Some(Value::Object(files)) = self.values.take("configOverridesFiles") {
            for (key, file) in files {
                self.unmapped(
                    &format!("configOverridesFiles.{key}"),
                    format!(
                        "a file inside the chart ({}): paste its contents into spec.config",
                        file.as_str().unwrap_or_default()
                    ),
                );
            }
        }
        if let Some(script) = self.values.string("bootstrapScript") {
            // The chart's default script only logs the user ID.
            if !script.contains("Running Superset with uid")
                && let Some(script) = self.expand("bootstrapScript", &script)
            {
                let secret = self.credentials_secret();
                let mut allocate = |name: &str, value: &str| self.credential_key(name, value);
                let cleaned = shell::remove_credentials(&script, &secret, &mut allocate);
                for finding in cleaned.findings {
                    self.unmapped("bootstrapScript", finding.reason);
                    if let Some(env) = finding.env {
                        self.push_credential_env("podTemplate.container.env", &env.name, &env.name);
                        self.reads_secret(
                            &env.secret,
                            &env.name,
                            format!(
                                "{} from bootstrapScript (a credential, not copied)",
                                env.name
                            ),
                            true,
                        );
                    }
                }
                self.set("bootstrapScript", json!(cleaned.text));
            }
        }
        if let Some(secret) = self.values.string("configFromSecret")
            && !secret.contains("superset.fullname")
        {
            self.unmapped(
                "configFromSecret",
                format!("the operator renders superset_config.py itself: move the settings of Secret {secret} into spec.config (credentials as environment lookups)"),
            );
        }
        self.report(
            "extraConfigs",
            "files mounted at /app/configs: put them in your own ConfigMap and mount it with spec.podTemplate.volumes and spec.podTemplate.container.volumeMounts",
        );
        self.report(
            "extraSecrets",
            "files mounted in /app/pythonpath: put them in your own Secret and mount it with spec.podTemplate.volumes and spec.podTemplate.container.volumeMounts",
        );
        self.report(
            "additionalRequirements",
            "packages installed at every start: build them into the image, or run pip in spec.bootstrapScript",
        );
    }

    pub(super) fn map_service_account(&mut self) {
        let create = self.values.flag("serviceAccount.create");
        let name = self.values.string("serviceAccountName");
        let annotations = self.values.take("serviceAccount.annotations");
        let mut account = json!({});
        if let Some(create) = create {
            account["create"] = json!(create);
        }
        if let Some(name) = name {
            account["name"] = json!(name);
        } else if create == Some(true) {
            account["name"] = json!(self.names.fullname);
        }
        if let Some(a) = annotations {
            self.copied("serviceAccount.annotations", "serviceAccount.annotations");
            account["annotations"] = a;
        }
        if create == Some(false) && account.get("name").is_none() {
            // The chart's pods used the namespace's `default` account.
            account["name"] = json!("default");
        }
        if account.as_object().is_some_and(|o| !o.is_empty()) {
            self.set("serviceAccount", account);
        }
    }

    /// Values that only steered the chart's own templates and have no meaning for the operator.
    pub(super) fn map_chart_plumbing(&mut self) {
        for key in [
            "initImage",
            "secretEnv",
            "nameOverride",
            "fullnameOverride",
            "envFromSecret",
        ] {
            self.values.take(key);
        }
        for (key, default) in [
            ("configMountPath", "/app/pythonpath"),
            ("extraConfigMountPath", "/app/configs"),
        ] {
            if let Some(path) = self.values.string(key)
                && path != default
            {
                self.unmapped(
                    key,
                    format!("the operator mounts the configuration at {default}; mount extra files with spec.podTemplate.volumes instead"),
                );
            }
        }
    }
}

/// Whether an environment variable holds a credential, by its name or its value.
pub(super) fn is_credential(name: &str, value: &str) -> bool {
    !value.is_empty()
        && (credentials::is_credential_name(name) || credentials::looks_secret(value, true))
}

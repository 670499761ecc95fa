//! The chart's init Job: the operator's init task, with the admin user and examples kept only
//! in Development.

use serde_json::{Value, json};

use super::{Mapper, components::waits_with_dockerize};

impl Mapper {
    pub(super) fn map_init(&mut self) {
        if self.values.flag("init.enabled") == Some(false) {
            self.set("lifecycle.init.disabled", json!(true));
        }
        let create_admin = self.values.flag("init.createAdmin");
        let admin = self.values.take("init.adminUser");
        if create_admin == Some(true) {
            if self.development() {
                let admin = admin.unwrap_or(json!({}));
                let mut user = json!({});
                for (from, to) in [
                    ("username", "username"),
                    ("firstname", "firstName"),
                    ("lastname", "lastName"),
                    ("email", "email"),
                ] {
                    if let Some(v) = admin.get(from).filter(|v| !v.is_null()) {
                        user[to] = v.clone();
                    }
                }
                self.set("lifecycle.init.adminUser", user);
                if admin.get("password").is_some() {
                    self.unmapped(
                        "init.adminUser.password",
                        "a credential, not copied: the admin user gets the API's default password; change it after the first login",
                    );
                }
            } else {
                self.unmapped(
                    "init.createAdmin",
                    "an admin user is created only in Development: create the first admin with `superset fab create-admin` in a web server pod, or sign in through your identity provider",
                );
            }
        }
        if self.values.flag("init.loadExamples") == Some(true) {
            if self.development() {
                self.set("lifecycle.init.loadExamples", json!(true));
            } else {
                self.unmapped(
                    "init.loadExamples",
                    "example data is loaded only in Development",
                );
            }
        }
        if let Some(script) = self.values.string("init.initscript")
            && !script.contains(".Values.init.createAdmin")
        {
            self.unmapped(
                "init.initscript",
                "a custom init script: the operator runs `superset db upgrade` in its migrate task and `superset init` in init; put any extra steps in spec.lifecycle.init.command",
            );
        }
        if let Some(Value::Array(command)) = self.values.take("init.command")
            && !command
                .iter()
                .any(|c| c.as_str().is_some_and(|c| c.contains("superset_init.sh")))
        {
            self.unmapped(
                "init.command",
                "a custom init command: set spec.lifecycle.init.command",
            );
        }
        self.copy(
            "init.resources",
            "lifecycle.podTemplate.container.resources",
        );
        for (from, to) in [
            ("tolerations", "tolerations"),
            ("affinity", "affinity"),
            ("topologySpreadConstraints", "topologySpreadConstraints"),
            ("priorityClassName", "priorityClassName"),
            ("podAnnotations", "annotations"),
            ("podLabels", "labels"),
            ("podSecurityContext", "podSecurityContext"),
            ("containerSecurityContext", "container.securityContext"),
        ] {
            self.copy(
                &format!("init.{from}"),
                &format!("lifecycle.podTemplate.{to}"),
            );
        }
        if let Some(Value::Object(annotations)) = self.values.take("init.jobAnnotations")
            && annotations.keys().any(|k| !k.starts_with("helm.sh/"))
        {
            self.unmapped(
                "init.jobAnnotations",
                "the operator runs tasks as pods, not Jobs: put pod annotations in spec.lifecycle.podTemplate.annotations",
            );
        }
        if let Some(Value::Array(init)) = self.values.take("init.initContainers")
            && !init.iter().all(waits_with_dockerize)
        {
            self.unmapped(
                "init.initContainers",
                "custom init containers: add them with spec.lifecycle.podTemplate.initContainers",
            );
        }
        self.report(
            "init.extraContainers",
            "containers beside the init task would keep its pod from finishing: run them elsewhere",
        );
    }
}

//! The chart's Deployments (`supersetNode`, `supersetWorker`, `supersetCeleryBeat`,
//! `supersetCeleryFlower`, `supersetWebsockets`), their Services and the Ingress.

use serde_json::{Value, json};

use super::Mapper;

/// The websocket server the chart runs when its values name none.
const CHART_WEBSOCKET_IMAGE: (&str, &str) = ("oneacrefund/superset-websocket", "latest");

impl Mapper {
    pub(super) fn map_components(&mut self) {
        for component in COMPONENTS {
            self.map_component(component);
        }
    }

    fn map_component(&mut self, c: &ChartComponent) {
        let v = c.values;
        if c.optional && self.values.flag(&format!("{v}.enabled")) != Some(true) {
            // Not deployed by the release: its settings do not matter.
            self.values.take(v);
            return;
        }
        if c.spec == "celeryFlower" && !self.image_may_have_flower() {
            self.values.take(v);
            self.unmapped(
                &format!("{v}.enabled"),
                "not migrated: the official Superset images have no Flower (the chart's Flower pod could not start on them either); build an image from yours with `pip install flower` and add `celeryFlower: {image: {repository: ...}}`",
            );
            return;
        }
        let s = c.spec;
        self.set(s, json!({}));
        if c.scalable {
            self.map_replicas(c);
            self.map_disruption_budget(c);
        } else {
            self.report(
                &format!("{v}.podDisruptionBudget"),
                "Celery beat always runs exactly one pod, so it has no disruption budget",
            );
        }
        self.copy(
            &format!("{v}.resources"),
            &format!("{s}.podTemplate.container.resources"),
        );
        for (from, to) in [
            ("affinity", "podTemplate.affinity"),
            ("tolerations", "podTemplate.tolerations"),
            ("nodeSelector", "podTemplate.nodeSelector"),
            (
                "topologySpreadConstraints",
                "podTemplate.topologySpreadConstraints",
            ),
            ("podAnnotations", "podTemplate.annotations"),
            ("podLabels", "podTemplate.labels"),
            ("podSecurityContext", "podTemplate.podSecurityContext"),
            (
                "containerSecurityContext",
                "podTemplate.container.securityContext",
            ),
            ("priorityClassName", "podTemplate.priorityClassName"),
            ("extraContainers", "podTemplate.sidecars"),
            ("deploymentAnnotations", "deploymentTemplate.annotations"),
            ("deploymentLabels", "deploymentTemplate.labels"),
            ("strategy", "deploymentTemplate.strategy"),
        ] {
            self.copy(&format!("{v}.{from}"), &format!("{s}.{to}"));
        }
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            if let Some(mut p) = self.values.take(&format!("{v}.{probe}")) {
                if let Some((chart_port, our_port)) = c.port_rename
                    && p["httpGet"]["port"] == json!(chart_port)
                {
                    p["httpGet"]["port"] = json!(our_port);
                }
                let spec_path = format!("{s}.podTemplate.container.{probe}");
                self.copied(&format!("{v}.{probe}"), &spec_path);
                self.set(&spec_path, p);
            }
        }
        if let Some(Value::Object(env)) = self.values.take(&format!("{v}.env")) {
            let env_path = format!("{s}.podTemplate.container.env");
            for (name, value) in env {
                let value = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                if super::settings::is_credential(&name, &value) {
                    self.move_to_secret(&format!("{v}.env.{name}"), &name, &value, &env_path);
                } else {
                    self.push(&env_path, json!({"name": name, "value": value}));
                }
            }
        }
        if let Some(Value::Array(command)) = self.values.take(&format!("{v}.command")) {
            let text = command
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            if !c
                .default_command
                .is_some_and(|marker| text.contains(marker))
            {
                self.unmapped(&format!("{v}.command"), c.command_advice);
            }
        }
        if let Some(Value::Array(init)) = self.values.take(&format!("{v}.initContainers")) {
            // The chart's own init containers only wait for the database with dockerize; the
            // operator orders start-up itself (migrate before any component).
            if !init.iter().all(waits_with_dockerize) {
                self.unmapped(
                    &format!("{v}.initContainers"),
                    format!("custom init containers: add them with spec.{s}.podTemplate.initContainers (Helm template strings expanded by hand)"),
                );
            }
        }
        if self.values.flag(&format!("{v}.forceReload")) == Some(true) {
            self.unmapped(
                &format!("{v}.forceReload"),
                "the operator rolls pods when their configuration changes; to restart on demand, change spec.forceReload",
            );
        }
        if c.spec == "websocketServer" {
            self.map_websocket_specifics();
        }
        if let Some(service) = c.service {
            self.map_service(&format!("{v}.service"), &format!("{s}.service"), service);
        }
    }

    /// Whether the release ran its own image, which may add Flower; the official ones do not.
    fn image_may_have_flower(&self) -> bool {
        self.get("image.repository")
            .and_then(Value::as_str)
            .is_some_and(|r| !r.ends_with("apache/superset"))
    }

    fn map_replicas(&mut self, c: &ChartComponent) {
        let (v, s) = (c.values, c.spec);
        let replicas = self.values.integer(&format!("{v}.{}", c.replicas_key));
        let autoscaling = format!("{v}.autoscaling");
        if self.values.flag(&format!("{autoscaling}.enabled")) == Some(true) {
            let min = self.values.integer(&format!("{autoscaling}.minReplicas"));
            let max = self
                .values
                .integer(&format!("{autoscaling}.maxReplicas"))
                .unwrap_or(100);
            let mut metrics = Vec::new();
            for (key, resource) in [
                ("targetCPUUtilizationPercentage", "cpu"),
                ("targetMemoryUtilizationPercentage", "memory"),
            ] {
                if let Some(target) = self.values.integer(&format!("{autoscaling}.{key}")) {
                    metrics.push(json!({"type": "Resource", "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": target}}}));
                }
            }
            let mut spec = json!({"maxReplicas": max.min(100)});
            if max > 100 {
                self.unmapped(
                    &format!("{autoscaling}.maxReplicas"),
                    format!(
                        "{max} is above the API's limit of 100 replicas per component; set to 100"
                    ),
                );
            }
            if let Some(min) = min {
                spec["minReplicas"] = json!(min);
            }
            if !metrics.is_empty() {
                spec["metrics"] = json!(metrics);
            }
            self.set(&format!("{s}.autoscaling"), spec);
        } else if let Some(n) = replicas {
            self.set(&format!("{s}.replicas"), json!(n));
        }
        self.values.take(&autoscaling);
        if self.values.flag(&format!("{v}.replicas.enabled")) == Some(false) {
            self.unmapped(
                &format!("{v}.replicas.enabled"),
                format!("false left replicas to an outside autoscaler; the operator owns them: use spec.{s}.autoscaling"),
            );
        }
    }

    fn map_disruption_budget(&mut self, c: &ChartComponent) {
        let base = format!("{}.podDisruptionBudget", c.values);
        let enabled = self.values.flag(&format!("{base}.enabled")) == Some(true);
        let min = self.values.take(&format!("{base}.minAvailable"));
        let max = self.values.take(&format!("{base}.maxUnavailable"));
        if !enabled {
            return;
        }
        let budget = match (min, max) {
            (Some(min), _) => json!({"minAvailable": min}),
            (None, Some(max)) => json!({"maxUnavailable": max}),
            (None, None) => json!({"maxUnavailable": 1}),
        };
        self.set(&format!("{}.podDisruptionBudget", c.spec), budget);
    }

    fn map_service(&mut self, values_base: &str, spec_path: &str, default_port: i64) {
        let mut service = json!({});
        if let Some(t) = self.values.string(&format!("{values_base}.type")) {
            service["type"] = json!(t);
        }
        if let Some(port) = self.values.integer(&format!("{values_base}.port"))
            && port != default_port
        {
            service["port"] = json!(port);
        }
        if let Some(a) = self.values.take(&format!("{values_base}.annotations")) {
            self.copied(
                &format!("{values_base}.annotations"),
                &format!("{spec_path}.annotations"),
            );
            service["annotations"] = a;
        }
        // The chart's default is the string "nil".
        if let Some(port) = self.values.integer(&format!("{values_base}.nodePort.http")) {
            service["nodePort"] = json!(port);
        }
        self.report(
            &format!("{values_base}.loadBalancerIP"),
            "Service.spec.loadBalancerIP is deprecated in Kubernetes: request the address with your cloud's Service annotation in service.annotations",
        );
        if service.as_object().is_some_and(|o| !o.is_empty()) {
            self.set(spec_path, service);
        }
    }

    pub(super) fn map_web_service(&mut self) {
        self.map_service("service", "webServer.service", 8088);
    }

    fn map_websocket_specifics(&mut self) {
        let v = "supersetWebsockets";
        let repository = self
            .values
            .string(&format!("{v}.image.repository"))
            .unwrap_or_else(|| CHART_WEBSOCKET_IMAGE.0.into());
        let tag = self
            .values
            .string(&format!("{v}.image.tag"))
            .unwrap_or_else(|| CHART_WEBSOCKET_IMAGE.1.into());
        let mut image = json!({"repository": repository, "tag": tag});
        if let Some(p) = self.values.string(&format!("{v}.image.pullPolicy")) {
            image["pullPolicy"] = json!(p);
        }
        self.set("websocketServer.image", image);
        // The configuration holds the JWT secret and the Redis password: read it from the
        // Secret the chart rendered it into.
        self.values.take(&format!("{v}.config"));
        let secret = format!("{}-ws-config", self.names.fullname);
        self.set(
            "websocketServer.configFrom",
            json!({"name": secret, "key": "config.json"}),
        );
        self.reads_secret(
            &secret,
            "config.json",
            format!("the websocket server's configuration ({v}.config: JWT secret and Redis password), written there by the chart"),
            false,
        );
        if let Some(path) = self.values.string(&format!("{v}.ingress.path"))
            && path != "/ws"
        {
            self.set("websocketServer.service.gatewayPath", json!(path));
        }
        self.values.take(&format!("{v}.ingress"));
    }

    pub(super) fn map_ingress(&mut self) {
        if self.values.flag("ingress.enabled") != Some(true) {
            self.values.take("ingress");
            return;
        }
        let mut ingress = json!({});
        if let Some(class) = self.values.string("ingress.ingressClassName") {
            ingress["className"] = json!(class);
        }
        if let Some(a) = self.values.take("ingress.annotations") {
            self.copied("ingress.annotations", "networking.ingress.annotations");
            ingress["annotations"] = a;
        }
        let path = self
            .values
            .string("ingress.path")
            .unwrap_or_else(|| "/".into());
        let path_type = self
            .values
            .string("ingress.pathType")
            .unwrap_or_else(|| "ImplementationSpecific".into());
        let hosts: Vec<String> = match self.values.take("ingress.hosts") {
            Some(Value::Array(hosts)) => hosts
                .iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        // At `/` the operator publishes every component at its path, as the chart does; any
        // other path routes only the web server.
        let paths = if path == "/" {
            json!([])
        } else {
            json!([{"path": path, "pathType": path_type}])
        };
        match hosts.as_slice() {
            [host] if path == "/" => ingress["host"] = json!(host),
            [] => {}
            many => {
                ingress["hosts"] = json!(
                    many.iter()
                        .map(|h| json!({"host": h, "paths": paths}))
                        .collect::<Vec<_>>()
                )
            }
        }
        if let Some(tls) = self.values.take("ingress.tls") {
            ingress["tls"] = tls;
        }
        self.report(
            "ingress.extraHostsRaw",
            "raw Ingress rules: create a separate Ingress for them",
        );
        self.set("networking.ingress", ingress);
        if !self.spec.contains_key("webServer") {
            self.set("webServer", json!({}));
        }
    }
}

/// How a chart component maps onto a `Superset` component.
struct ChartComponent {
    /// Key in the values file.
    values: &'static str,
    /// Field of the `Superset` spec.
    spec: &'static str,
    /// Whether the chart deploys it only with `enabled: true`.
    optional: bool,
    /// Whether it has replicas, an autoscaler and a disruption budget.
    scalable: bool,
    /// Where the chart keeps its replica count.
    replicas_key: &'static str,
    /// Text found in the chart's default command; any other command is reported.
    default_command: Option<&'static str>,
    command_advice: &'static str,
    /// The chart's probe port name and the operator's, when they differ.
    port_rename: Option<(&'static str, &'static str)>,
    /// The default Service port, for components with a Service.
    service: Option<i64>,
}

const COMPONENTS: &[ChartComponent] = &[
    ChartComponent {
        values: "supersetNode",
        spec: "webServer",
        optional: false,
        scalable: true,
        replicas_key: "replicas.replicaCount",
        default_command: Some("run-server.sh"),
        command_advice: "the operator starts gunicorn itself: set workers, threads and timeouts with spec.webServer.gunicorn, or run another process as a sidecar",
        port_rename: None,
        service: None,
    },
    ChartComponent {
        values: "supersetWorker",
        spec: "celeryWorker",
        optional: false,
        scalable: true,
        replicas_key: "replicas.replicaCount",
        default_command: Some(" worker"),
        command_advice: "the operator starts the Celery worker itself: set concurrency, pool and queues with spec.celeryWorker.celery",
        port_rename: None,
        service: None,
    },
    ChartComponent {
        values: "supersetCeleryBeat",
        spec: "celeryBeat",
        optional: true,
        scalable: false,
        replicas_key: "",
        default_command: Some(" beat"),
        command_advice: "the operator starts Celery beat itself with its schedule file in a writable volume",
        port_rename: None,
        service: None,
    },
    ChartComponent {
        values: "supersetCeleryFlower",
        spec: "celeryFlower",
        optional: true,
        scalable: true,
        replicas_key: "replicaCount",
        default_command: Some(" flower"),
        command_advice: "the operator starts Flower itself under its gateway path",
        port_rename: Some(("flower", "http")),
        service: Some(5555),
    },
    ChartComponent {
        values: "supersetWebsockets",
        spec: "websocketServer",
        optional: true,
        scalable: true,
        replicas_key: "replicaCount",
        default_command: None,
        command_advice: "a custom websocket server command: set spec.websocketServer.podTemplate.container.command",
        port_rename: None,
        service: Some(8080),
    },
];

/// The chart's default init containers: wait for the database (and Redis) with dockerize.
pub(super) fn waits_with_dockerize(container: &Value) -> bool {
    container.to_string().contains("dockerize -wait")
}

//! The maintenance page: a small nginx that answers on the web server's port while components
//! are drained for a task, so users see a page instead of connection errors. It runs as a
//! non-root user with a read-only root filesystem; every writable path nginx needs is in /tmp.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, ContainerPort, EmptyDirVolumeSource, HTTPGetAction,
    PodTemplateSpec, Probe, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use superset_operator_api::superset::lifecycle::MaintenancePageSpec;

use crate::env::{self, vars};
use crate::resolve::{container_image, restricted_container_context, restricted_pod_context};
use crate::{checksum, labels, merge, naming, workload};

/// Name of the page's container.
pub const CONTAINER: &str = "maintenance-page";
/// Where the page's ConfigMap is mounted.
const CONFIG_DIR: &str = "/etc/superset-maintenance";
/// nginx's unprivileged user in the official image.
const NGINX_USER: i64 = 101;

const DEFAULT_TITLE: &str = "Scheduled maintenance";
const DEFAULT_MESSAGE: &str =
    "Superset is being upgraded and will be back in a few minutes. This page refreshes itself.";

/// `text` safe inside HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page: the user's complete HTML, or the built-in page with the escaped title and message.
pub fn index_html(spec: &MaintenancePageSpec) -> String {
    if let Some(body) = &spec.body {
        return body.clone();
    }
    let title = escape_html(spec.title.as_deref().unwrap_or(DEFAULT_TITLE));
    let message = escape_html(spec.message.as_deref().unwrap_or(DEFAULT_MESSAGE));
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f7f7f7; color: #333; display: flex;
  align-items: center; justify-content: center; min-height: 100vh; margin: 0; }}
main {{ max-width: 36rem; padding: 2rem; text-align: center; }}
h1 {{ font-weight: 600; }}
</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p>{message}</p>
</main>
</body>
</html>
"#
    )
}

/// nginx configuration: the page at `/`, a redirect to it from every other path, and every
/// writable path under /tmp so the container runs as non-root with a read-only root.
pub fn nginx_conf(port: i32) -> String {
    format!(
        r#"worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;
events {{
  worker_connections 256;
}}
http {{
  client_body_temp_path /tmp/client_temp;
  proxy_temp_path /tmp/proxy_temp;
  fastcgi_temp_path /tmp/fastcgi_temp;
  uwsgi_temp_path /tmp/uwsgi_temp;
  scgi_temp_path /tmp/scgi_temp;
  access_log off;
  server_tokens off;
  server {{
    listen {port};
    root {CONFIG_DIR};
    location = / {{
      default_type text/html;
      add_header Cache-Control "no-store" always;
      try_files /index.html =404;
    }}
    location / {{
      return 302 /;
    }}
  }}
}}
"#
    )
}

/// The page's ConfigMap, in managed mode (no custom image).
pub fn config_map(
    parent: &str,
    namespace: Option<&str>,
    spec: &MaintenancePageSpec,
    port: i32,
) -> Option<ConfigMap> {
    if spec.image.is_some() {
        return None;
    }
    Some(ConfigMap {
        metadata: ObjectMeta {
            name: Some(naming::maintenance_page_config_map(parent)),
            namespace: namespace.map(str::to_owned),
            labels: Some(labels::maintenance(parent)),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("nginx.conf".to_owned(), nginx_conf(port)),
            ("index.html".to_owned(), index_html(spec)),
        ])),
        ..Default::default()
    })
}

/// The page's Deployment. A custom image must serve `port` itself; it gets the title, message
/// and body as environment variables.
pub fn deployment(
    parent: &str,
    namespace: Option<&str>,
    spec: &MaintenancePageSpec,
    port: i32,
) -> Deployment {
    let managed = spec.image.is_none();
    let image = container_image(spec.image.as_ref(), "nginx", "alpine");
    let mut pod = spec.pod_template.as_deref().cloned().unwrap_or_default();
    let container = pod.container.get_or_insert_with(Default::default);
    let mut env_vars = Vec::new();
    for (name, value) in [
        (vars::MAINTENANCE_TITLE, &spec.title),
        (vars::MAINTENANCE_MESSAGE, &spec.message),
        (vars::MAINTENANCE_BODY, &spec.body),
    ] {
        if let Some(value) = value {
            env_vars.push(env::plain(name, value.clone()));
        }
    }
    container.env = merge::by_key(&container.env, &env_vars, |e| e.name.clone());
    container.ports = vec![ContainerPort {
        name: Some("http".into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..Default::default()
    }];
    container.readiness_probe.get_or_insert_with(|| Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/".into()),
            port: IntOrString::Int(port),
            ..Default::default()
        }),
        period_seconds: Some(2),
        ..Default::default()
    });
    let mut annotations = pod.annotations.clone();
    if managed {
        container.command = vec![
            "nginx".into(),
            "-c".into(),
            format!("{CONFIG_DIR}/nginx.conf"),
            "-g".into(),
            "daemon off;".into(),
        ];
        container.volume_mounts = merge::mounts(
            &container.volume_mounts,
            &[
                VolumeMount {
                    name: "page".into(),
                    mount_path: CONFIG_DIR.into(),
                    read_only: Some(true),
                    ..Default::default()
                },
                VolumeMount {
                    name: "tmp".into(),
                    mount_path: "/tmp".into(),
                    ..Default::default()
                },
            ],
        );
        container
            .security_context
            .get_or_insert_with(|| SecurityContext {
                read_only_root_filesystem: Some(true),
                ..restricted_container_context()
            });
        pod.volumes = merge::by_key(
            &pod.volumes,
            &[
                Volume {
                    name: "page".into(),
                    config_map: Some(ConfigMapVolumeSource {
                        name: naming::maintenance_page_config_map(parent),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                Volume {
                    name: "tmp".into(),
                    empty_dir: Some(EmptyDirVolumeSource::default()),
                    ..Default::default()
                },
            ],
            |v| v.name.clone(),
        );
        pod.pod_security_context
            .get_or_insert_with(|| restricted_pod_context(NGINX_USER));
        // A changed page rolls the pods, which read it at start.
        annotations.insert(
            labels::CONFIG_CHECKSUM.to_owned(),
            checksum::of_json(&(index_html(spec), nginx_conf(port))),
        );
    }
    let pod_labels = labels::merge_user_and_operator(&pod.labels, &labels::maintenance(parent));
    let mut pod_spec = workload::pod_spec(&image, &pod, None);
    pod_spec.containers[0].name = CONTAINER.into();
    let template = spec.deployment_template.clone().unwrap_or_default();
    Deployment {
        metadata: ObjectMeta {
            name: Some(naming::maintenance_page(parent)),
            namespace: namespace.map(str::to_owned),
            labels: Some(labels::merge_user_and_operator(
                &template.labels,
                &labels::maintenance(parent),
            )),
            annotations: (!template.annotations.is_empty()).then_some(template.annotations),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(spec.replicas),
            selector: LabelSelector {
                match_labels: Some(labels::maintenance_selector(parent)),
                ..Default::default()
            },
            revision_history_limit: template.revision_history_limit,
            min_ready_seconds: template.min_ready_seconds,
            progress_deadline_seconds: template.progress_deadline_seconds,
            strategy: template.strategy,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: (!annotations.is_empty()).then_some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec),
            },
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: serde_json::Value) -> MaintenancePageSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn title_and_message_are_escaped() {
        let html = index_html(&page(serde_json::json!({
            "title": "<script>alert(1)</script>",
            "message": "Back at 5 & \"soon\"",
        })));
        assert!(html.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"));
        assert!(html.contains("Back at 5 &amp; &quot;soon&quot;"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn a_body_replaces_the_built_in_page() {
        let body = "<html><body>custom</body></html>";
        assert_eq!(index_html(&page(serde_json::json!({ "body": body }))), body);
    }

    #[test]
    fn managed_pages_run_nginx_as_non_root_on_the_web_port() {
        let spec = page(serde_json::json!({}));
        let deployment = deployment("dev", Some("ns"), &spec, 8088);
        let pod = deployment.spec.unwrap().template.spec.unwrap();
        let container = &pod.containers[0];
        assert_eq!(container.name, CONTAINER);
        assert_eq!(container.image.as_deref(), Some("nginx:alpine"));
        assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 8088);
        assert_eq!(pod.security_context.unwrap().run_as_user, Some(NGINX_USER));
        let context = container.security_context.as_ref().unwrap();
        assert_eq!(context.read_only_root_filesystem, Some(true));
        assert!(nginx_conf(8088).contains("listen 8088;"));
        assert!(config_map("dev", Some("ns"), &spec, 8088).is_some());
    }

    #[test]
    fn custom_images_get_no_config_and_the_texts_as_env() {
        let spec = page(serde_json::json!({
            "image": { "repository": "example/page", "tag": "1" },
            "title": "Down",
        }));
        assert!(config_map("dev", None, &spec, 8088).is_none());
        let deployment = deployment("dev", None, &spec, 8088);
        let container = &deployment.spec.unwrap().template.spec.unwrap().containers[0];
        assert_eq!(container.image.as_deref(), Some("example/page:1"));
        assert!(container.command.is_none());
        let env = container.env.as_ref().unwrap();
        assert!(
            env.iter()
                .any(|e| e.name == vars::MAINTENANCE_TITLE && e.value.as_deref() == Some("Down"))
        );
    }
}

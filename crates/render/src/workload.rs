//! The Kubernetes objects a component child turns into: its Deployment, Service,
//! HorizontalPodAutoscaler and PodDisruptionBudget, built from the child's resolved spec.
//! Owner references are the controller's to add.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
};
use k8s_openapi::api::core::v1::{
    Container, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use superset_operator_api::children::FlatComponentSpec;
use superset_operator_api::image::{ImageSpec, PullPolicy};
use superset_operator_api::scaling::{AutoscalingSpec, PodDisruptionBudgetSpec as PdbSpec};
use superset_operator_api::service::{ComponentServiceSpec, ServiceType};
use superset_operator_api::template::PodTemplate;

use crate::component::Component;
use crate::{labels, naming};

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn non_empty_map(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

fn pull_policy(policy: PullPolicy) -> String {
    match policy {
        PullPolicy::Always => "Always",
        PullPolicy::IfNotPresent => "IfNotPresent",
        PullPolicy::Never => "Never",
    }
    .to_owned()
}

/// The pod of a component or task: the main container first, then sidecars.
pub fn pod_spec(
    image: &ImageSpec,
    pod: &PodTemplate,
    service_account_name: Option<&str>,
) -> PodSpec {
    let container = pod.container.clone().unwrap_or_default();
    let main = Container {
        name: naming::MAIN_CONTAINER.to_owned(),
        image: Some(format!("{}:{}", image.repository, image.tag)),
        image_pull_policy: Some(pull_policy(image.pull_policy)),
        command: non_empty(container.command),
        args: non_empty(container.args),
        env: non_empty(container.env),
        env_from: non_empty(container.env_from),
        ports: non_empty(container.ports),
        resources: container.resources,
        volume_mounts: non_empty(container.volume_mounts),
        security_context: container.security_context,
        liveness_probe: container.liveness_probe,
        readiness_probe: container.readiness_probe,
        startup_probe: container.startup_probe,
        lifecycle: container.lifecycle,
        ..Default::default()
    };
    let mut containers = vec![main];
    containers.extend(pod.sidecars.iter().cloned());
    PodSpec {
        containers,
        init_containers: non_empty(pod.init_containers.clone()),
        image_pull_secrets: non_empty(image.pull_secrets.clone()),
        volumes: non_empty(pod.volumes.clone()),
        security_context: pod.pod_security_context.clone(),
        affinity: pod.affinity.clone(),
        tolerations: non_empty(pod.tolerations.clone()),
        node_selector: non_empty_map(pod.node_selector.clone()),
        topology_spread_constraints: non_empty(pod.topology_spread_constraints.clone()),
        host_aliases: non_empty(pod.host_aliases.clone()),
        priority_class_name: pod.priority_class_name.clone(),
        termination_grace_period_seconds: pod.termination_grace_period_seconds,
        dns_policy: pod.dns_policy.clone(),
        dns_config: pod.dns_config.clone(),
        runtime_class_name: pod.runtime_class_name.clone(),
        share_process_namespace: pod.share_process_namespace,
        enable_service_links: pod.enable_service_links,
        resources: pod.resources.clone(),
        service_account_name: service_account_name.map(str::to_owned),
        ..Default::default()
    }
}

fn metadata(name: String, namespace: Option<&str>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels),
        ..Default::default()
    }
}

fn selector(parent: &str, component: Component) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels::selector(parent, component)),
        ..Default::default()
    }
}

/// The component's Deployment. `replicas` is left out while an autoscaler owns it, so that
/// applying the Deployment never resets what the autoscaler chose.
pub fn deployment(
    parent: &str,
    namespace: Option<&str>,
    component: Component,
    flat: &FlatComponentSpec,
) -> Deployment {
    let template = flat.deployment_template.clone().unwrap_or_default();
    let pod = flat.pod_template.as_deref().cloned().unwrap_or_default();
    let operator_labels = labels::component(parent, component);
    let mut meta = metadata(
        naming::workload(parent, component),
        namespace,
        labels::merge_user_and_operator(&template.labels, &operator_labels),
    );
    meta.annotations = non_empty_map(template.annotations);
    Deployment {
        metadata: meta,
        spec: Some(DeploymentSpec {
            replicas: flat.autoscaling.is_none().then_some(flat.replicas),
            selector: selector(parent, component),
            revision_history_limit: template.revision_history_limit,
            min_ready_seconds: template.min_ready_seconds,
            progress_deadline_seconds: template.progress_deadline_seconds,
            strategy: template.strategy,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod.labels.clone()),
                    annotations: non_empty_map(pod.annotations.clone()),
                    ..Default::default()
                }),
                spec: Some(pod_spec(
                    &flat.image,
                    &pod,
                    flat.service_account_name.as_deref(),
                )),
            },
            ..Default::default()
        }),
        status: None,
    }
}

/// The Service in front of a component, targeting its first container port.
pub fn service(
    parent: &str,
    namespace: Option<&str>,
    component: Component,
    flat: &FlatComponentSpec,
    spec: &ComponentServiceSpec,
) -> Service {
    let container_port = flat
        .pod_template
        .as_ref()
        .and_then(|p| p.container.as_ref())
        .and_then(|c| c.ports.first())
        .map(|p| p.container_port)
        .or(component.default_port().map(|p| p.port))
        .unwrap_or(8088);
    let port = spec.port.unwrap_or(container_port);
    let type_ = match spec.type_ {
        ServiceType::ClusterIP => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    let mut meta = metadata(
        naming::workload(parent, component),
        namespace,
        labels::merge_user_and_operator(&spec.labels, &labels::component(parent, component)),
    );
    meta.annotations = non_empty_map(spec.annotations.clone());
    Service {
        metadata: meta,
        spec: Some(ServiceSpec {
            type_: Some(type_.to_owned()),
            selector: Some(labels::selector(parent, component)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                protocol: Some("TCP".into()),
                port,
                target_port: Some(IntOrString::Int(container_port)),
                node_port: spec.node_port,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// The component's HorizontalPodAutoscaler (`autoscaling/v2`).
pub fn horizontal_pod_autoscaler(
    parent: &str,
    namespace: Option<&str>,
    component: Component,
    spec: &AutoscalingSpec,
) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: metadata(
            naming::workload(parent, component),
            namespace,
            labels::component(parent, component),
        ),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: naming::workload(parent, component),
            },
            min_replicas: spec.min_replicas,
            max_replicas: spec.max_replicas,
            metrics: non_empty(spec.metrics.clone()),
            behavior: None,
        }),
        status: None,
    }
}

/// The component's PodDisruptionBudget (`policy/v1`).
pub fn pod_disruption_budget(
    parent: &str,
    namespace: Option<&str>,
    component: Component,
    spec: &PdbSpec,
) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: metadata(
            naming::workload(parent, component),
            namespace,
            labels::component(parent, component),
        ),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(selector(parent, component)),
            min_available: spec.min_available.clone(),
            max_unavailable: spec.max_unavailable.clone(),
            ..Default::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(extra: &str) -> FlatComponentSpec {
        let yaml = format!(
            "apiVersion: superset.apache.org/v1alpha1\nkind: Superset\nmetadata: {{name: dev, namespace: analytics}}\n\
             spec:\n  environment: Development\n  secretKey: k\n  image: {{tag: \"6.0.0\", pullSecrets: [{{name: registry}}]}}\n{extra}"
        );
        let superset: superset_operator_api::Superset = serde_yaml::from_str(&yaml).unwrap();
        let resolved = crate::resolve(&superset).unwrap();
        resolved
            .components
            .iter()
            .find(|c| c.component == Component::WebServer)
            .unwrap()
            .child
            .flat()
            .clone()
    }

    #[test]
    fn deployment_carries_the_resolved_pod() {
        let flat = web(
            "  webServer:\n    replicas: 3\n    deploymentTemplate: {labels: {team: data}, revisionHistoryLimit: 2}\n    podTemplate:\n      sidecars: [{name: proxy, image: envoy}]\n",
        );
        let deployment = deployment("dev", Some("analytics"), Component::WebServer, &flat);
        assert_eq!(deployment.metadata.name.as_deref(), Some("dev-web-server"));
        assert_eq!(deployment.metadata.labels.as_ref().unwrap()["team"], "data");
        let spec = deployment.spec.unwrap();
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.revision_history_limit, Some(2));
        assert_eq!(
            spec.selector.match_labels.unwrap(),
            labels::selector("dev", Component::WebServer)
        );
        let template = spec.template;
        let pod_labels = template.metadata.as_ref().unwrap().labels.clone().unwrap();
        for (key, value) in labels::selector("dev", Component::WebServer) {
            assert_eq!(pod_labels[&key], value, "the selector selects the pods");
        }
        assert!(
            template
                .metadata
                .unwrap()
                .annotations
                .unwrap()
                .contains_key(labels::CONFIG_CHECKSUM)
        );
        let pod = template.spec.unwrap();
        let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["superset", "proxy"]);
        assert_eq!(
            pod.containers[0].image.as_deref(),
            Some("apachesuperset.docker.scarf.sh/apache/superset:6.0.0")
        );
        assert_eq!(pod.image_pull_secrets.unwrap()[0].name, "registry");
        assert_eq!(pod.service_account_name.as_deref(), Some("dev"));
    }

    #[test]
    fn an_autoscaled_deployment_leaves_replicas_to_the_autoscaler() {
        let flat = web("  webServer:\n    autoscaling: {minReplicas: 2, maxReplicas: 6}\n");
        assert_eq!(
            deployment("dev", None, Component::WebServer, &flat)
                .spec
                .unwrap()
                .replicas,
            None
        );
        let hpa = horizontal_pod_autoscaler(
            "dev",
            None,
            Component::WebServer,
            flat.autoscaling.as_ref().unwrap(),
        );
        let spec = hpa.spec.unwrap();
        assert_eq!(spec.scale_target_ref.name, "dev-web-server");
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 6));
    }

    #[test]
    fn service_targets_the_container_port() {
        let flat = web(
            "  webServer:\n    service: {type: NodePort, port: 80, nodePort: 30080, labels: {superset.apache.org/parent: x, team: data}}\n    podTemplate:\n      container:\n        ports: [{name: http, containerPort: 9000}]\n",
        );
        let spec = ComponentServiceSpec {
            type_: ServiceType::NodePort,
            port: Some(80),
            node_port: Some(30080),
            ..Default::default()
        };
        let service = service("dev", None, Component::WebServer, &flat, &spec);
        let port = &service.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.port, port.target_port.clone(), port.node_port),
            (80, Some(IntOrString::Int(9000)), Some(30080))
        );
        assert_eq!(
            service.spec.unwrap().selector.unwrap(),
            labels::selector("dev", Component::WebServer)
        );
    }

    #[test]
    fn disruption_budget_selects_the_components_pods() {
        let spec = PdbSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            ..Default::default()
        };
        let pdb = pod_disruption_budget("dev", None, Component::CeleryWorker, &spec);
        assert_eq!(pdb.metadata.name.as_deref(), Some("dev-celery-worker"));
        let spec = pdb.spec.unwrap();
        assert_eq!(
            spec.selector.unwrap().match_labels.unwrap(),
            labels::selector("dev", Component::CeleryWorker)
        );
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(1)));
    }
}

//! The objects the pure core builds are accepted by the real API server and run: every
//! component of the development example rolls out on kwok nodes, and a task pod runs to
//! completion.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::wait::await_condition;
use superset_operator_api::Superset;
use superset_operator_render::{Component, resolve, workload};
use superset_operator_testkit::OUTCOME_ANNOTATION;

const TIMEOUT: Duration = Duration::from_secs(90);

fn example(namespace: &str) -> Superset {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/development.yaml");
    let mut superset: Superset =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    superset.metadata.namespace = Some(namespace.to_owned());
    // Scale and autoscale so that every object kind is built.
    superset
        .spec
        .celery_worker
        .as_mut()
        .unwrap()
        .scalable
        .autoscaling = Some(
        serde_json::from_value(serde_json::json!({ "minReplicas": 1, "maxReplicas": 3 })).unwrap(),
    );
    superset
        .spec
        .web_server
        .as_mut()
        .unwrap()
        .scalable
        .pod_disruption_budget =
        Some(serde_json::from_value(serde_json::json!({ "maxUnavailable": 1 })).unwrap());
    superset
}

#[tokio::test]
async fn every_component_of_the_development_example_rolls_out() {
    let env = superset_operator_testkit::cluster().await;
    let namespace = env.namespace.clone();
    let superset = example(&namespace);
    let resolved = resolve(&superset).unwrap();
    let create = PostParams::default();
    // The parent controller creates the ServiceAccount; stand in for it.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> = env.api();
    let account =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "dev" } })).unwrap();
    accounts.create(&create, &account).await.unwrap();
    let (deployments, services, configs): (Api<Deployment>, Api<Service>, Api<ConfigMap>) =
        (env.api(), env.api(), env.api());
    for component in &resolved.components {
        let flat = component.child.flat();
        if let Some(config_map) = &component.config_map {
            configs.create(&create, config_map).await.unwrap();
        }
        deployments
            .create(
                &create,
                &workload::deployment("dev", Some(&namespace), component.component, flat),
            )
            .await
            .unwrap();
        if let Some(port) = component.component.default_port() {
            let spec = superset_operator_api::service::ComponentServiceSpec {
                port: Some(port.port),
                ..Default::default()
            };
            services
                .create(
                    &create,
                    &workload::service("dev", Some(&namespace), component.component, flat, &spec),
                )
                .await
                .unwrap();
        }
        if let Some(autoscaling) = &flat.autoscaling {
            let api: Api<HorizontalPodAutoscaler> = env.api();
            api.create(
                &create,
                &workload::horizontal_pod_autoscaler(
                    "dev",
                    Some(&namespace),
                    component.component,
                    autoscaling,
                ),
            )
            .await
            .unwrap();
        }
        if let Some(budget) = &flat.pod_disruption_budget {
            let api: Api<PodDisruptionBudget> = env.api();
            api.create(
                &create,
                &workload::pod_disruption_budget(
                    "dev",
                    Some(&namespace),
                    component.component,
                    budget,
                ),
            )
            .await
            .unwrap();
        }
    }
    for component in &resolved.components {
        let name = superset_operator_render::naming::workload("dev", component.component);
        let ready = await_condition(deployments.clone(), &name, |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0)
                >= 1
        });
        tokio::time::timeout(TIMEOUT, ready)
            .await
            .unwrap_or_else(|_| panic!("{name} did not become ready"))
            .unwrap();
    }
    assert_eq!(resolved.components.len(), 5);
    assert!(
        resolved
            .components
            .iter()
            .any(|c| c.component == Component::McpServer)
    );
}

#[tokio::test]
async fn a_migrate_task_pod_runs_to_completion() {
    let env = superset_operator_testkit::cluster().await;
    let namespace = env.namespace.clone();
    let resolved = resolve(&example(&namespace)).unwrap();
    let migrate = resolved
        .tasks
        .iter()
        .find(|t| t.task_type == superset_operator_api::task::TaskType::Migrate)
        .unwrap();
    let configs: Api<ConfigMap> = env.api();
    configs
        .create(&PostParams::default(), migrate.config_map.as_ref().unwrap())
        .await
        .unwrap();
    let spec = &migrate.task.spec;
    let mut pod_spec = workload::pod_spec(
        &spec.image,
        spec.pod_template.as_deref().unwrap(),
        spec.service_account_name.as_deref(),
    );
    pod_spec.containers[0].command = Some(spec.command.clone());
    pod_spec.restart_policy = Some("Never".into());
    // The ServiceAccount is the controllers' to create; this pod uses the namespace default.
    pod_spec.service_account_name = None;
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("dev-migrate-1".into()),
            annotations: Some([(OUTCOME_ANNOTATION.to_owned(), "succeed".to_owned())].into()),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    };
    let pods: Api<Pod> = env.api();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let done = await_condition(pods, "dev-migrate-1", |p: Option<&Pod>| {
        p.and_then(|p| p.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            == Some("Succeeded")
    });
    tokio::time::timeout(TIMEOUT, done)
        .await
        .expect("the task pod did not succeed")
        .unwrap();
}

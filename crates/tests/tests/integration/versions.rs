//! Supported Superset versions on a live instance: the `VersionSupported` condition, its
//! Warning event and the `superset_operator_instance_version_supported` metric follow the
//! image tag and the annotation that declares a custom image supported.

use kube::api::{Api, PostParams};
use serde_json::json;
use superset_operator_api::Superset;

use crate::support::{merge_spec, operator, within};

fn superset(tag: &str) -> Superset {
    serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": "dev" },
        "spec": {
            "environment": "Development",
            "image": { "tag": tag },
            "secretKey": "dev-secret-key",
            "metastore": { "host": "postgres", "database": "superset", "username": "superset", "password": "superset" },
            "lifecycle": { "disabled": true },
            "webServer": {},
        },
    }))
    .unwrap()
}

/// Waits until the condition has `reason` and the metric of this instance is `value`.
async fn wait_for(api: &Api<Superset>, namespace: &str, reason: &str, value: i64) {
    let series = format!(
        "superset_operator_instance_version_supported{{namespace=\"{namespace}\",name=\"dev\"}} {value}"
    );
    within(
        &format!("VersionSupported did not become {reason}"),
        async {
            loop {
                let superset = api.get("dev").await.unwrap();
                let condition = superset
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.iter().find(|c| c.type_ == "VersionSupported"));
                let metrics = superset_operator_controller::metrics::encode();
                if condition.is_some_and(|c| c.reason == reason) && metrics.contains(&series) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        },
    )
    .await;
}

#[tokio::test]
async fn the_version_condition_and_metric_follow_the_image_tag() {
    let env = superset_operator_testkit::api().await;
    let _operator = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(&PostParams::default(), &superset("6.0.0"))
        .await
        .unwrap();
    let ns = env.namespace.clone();
    wait_for(&supersets, &ns, "Supported", 1).await;

    merge_spec(
        &supersets,
        &json!({ "spec": { "image": { "tag": "latest" } } }),
    )
    .await;
    wait_for(&supersets, &ns, "Unparseable", 0).await;
    let superset = supersets.get("dev").await.unwrap();
    let condition = superset
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "VersionSupported")
        .unwrap();
    assert_eq!(condition.status, "False");
    assert!(
        condition.message.contains("\"latest\""),
        "{}",
        condition.message
    );
    let events = env
        .api::<k8s_openapi::api::events::v1::Event>()
        .list(&Default::default())
        .await
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("Unparseable")
                && e.type_.as_deref() == Some("Warning")),
        "no Warning event for the unsupported tag"
    );

    merge_spec(
        &supersets,
        &json!({ "spec": { "image": { "tag": "3.1.0" } } }),
    )
    .await;
    wait_for(&supersets, &ns, "BelowMinimum", 0).await;
    merge_spec(
        &supersets,
        &json!({ "spec": { "image": { "tag": "7.0.0" } } }),
    )
    .await;
    wait_for(&supersets, &ns, "AboveMaximum", 0).await;

    // A custom build declared supported.
    merge_spec(
        &supersets,
        &json!({ "metadata": { "annotations": {
            superset_operator_render::versions::DECLARED_SUPPORTED: "true" } } }),
    )
    .await;
    wait_for(&supersets, &ns, "DeclaredSupported", 1).await;
}

//! The controllers against the real control plane: a full Superset becomes children and
//! objects that roll out on kwok nodes, component changes add, remove and roll exactly what
//! they should, and a settled instance causes no writes.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::json;
use superset_operator_api::{Superset, SupersetCeleryFlower, SupersetWebServer};
use superset_operator_testkit::TestEnv;

use crate::support::{TIMEOUT, merge_spec, operator, wait_available, within};

fn superset(components: serde_json::Value) -> Superset {
    let mut spec = json!({
        "environment": "Development",
        "image": { "tag": "6.0.0" },
        "secretKey": "dev-secret-key",
        "metastore": { "host": "postgres", "database": "superset", "username": "superset", "password": "superset" },
        "valkey": { "host": "valkey" },
        "lifecycle": { "disabled": true },
    });
    spec.as_object_mut()
        .unwrap()
        .extend(components.as_object().unwrap().clone());
    serde_json::from_value(json!({
        "apiVersion": "superset.apache.org/v1alpha1",
        "kind": "Superset",
        "metadata": { "name": "dev" },
        "spec": spec,
    }))
    .unwrap()
}

fn checksum_of(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get("superset.apache.org/config-checksum")
        .cloned()
}

#[tokio::test]
async fn a_full_superset_rolls_out_and_changes_roll_exactly_what_they_touch() {
    let env = superset_operator_testkit::cluster().await;
    let writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    let all = json!({ "webServer": {}, "celeryWorker": {}, "celeryBeat": {}, "celeryFlower": { "image": { "repository": "superset-flower" } }, "mcpServer": {} });
    supersets
        .create(&PostParams::default(), &superset(all.clone()))
        .await
        .unwrap();
    let available = wait_available(&supersets, "5/5").await;
    eprintln!(
        "requests to converge one full Superset: {} reads, {} writes",
        writes.reads(),
        writes.count()
    );
    let status = available.status.unwrap();
    assert_eq!(status.components.len(), 5);
    assert_eq!(status.tag.as_deref(), Some("6.0.0"));

    // Children and objects are exactly what the pure core resolves.
    let mut expected = superset(all.clone());
    expected.metadata.namespace = Some(env.namespace.clone());
    let resolved = superset_operator_render::resolve(&expected).unwrap();
    let web: Api<SupersetWebServer> = env.api();
    let live_web = web.get("dev").await.unwrap();
    let superset_operator_render::Child::WebServer(resolved_web) = &resolved.components[0].child
    else {
        panic!()
    };
    assert_eq!(live_web.spec, resolved_web.spec);
    assert_eq!(live_web.owner_references()[0].kind, "Superset");
    let config_maps: Api<ConfigMap> = env.api();
    assert_eq!(
        config_maps.get("dev-web-server-config").await.unwrap().data,
        resolved.components[0].config_map.as_ref().unwrap().data
    );
    let services: Api<Service> = env.api();
    assert_eq!(
        services
            .get("dev-web-server")
            .await
            .unwrap()
            .owner_references()[0]
            .kind,
        "Superset"
    );
    assert_eq!(
        services
            .get("dev-celery-flower")
            .await
            .unwrap()
            .owner_references()[0]
            .kind,
        "SupersetCeleryFlower"
    );
    let accounts: Api<ServiceAccount> = env.api();
    assert!(accounts.get_opt("dev").await.unwrap().is_some());
    let deployments: Api<Deployment> = env.api();
    let web_deployment = deployments.get("dev-web-server").await.unwrap();
    assert_eq!(
        live_web
            .status
            .as_ref()
            .unwrap()
            .deployment
            .as_ref()
            .unwrap()
            .uid,
        web_deployment.uid().unwrap(),
        "the child records the Deployment it created"
    );

    // Settled: nothing to change means nothing written.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (settled, settled_reads) = (writes.count(), writes.reads());
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(writes.count(), settled, "a settled instance caused writes");
    eprintln!(
        "requests while settled for 8 s: {} reads, 0 writes",
        writes.reads() - settled_reads
    );

    // A config change on the web server rolls the web server only.
    let before: BTreeMap<String, Option<String>> = deployments
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|d| (d.name_any(), checksum_of(d)))
        .collect();
    let patch = json!({ "spec": { "webServer": { "config": "ROW_LIMIT = 10" } } });
    merge_spec(&supersets, &patch).await;
    let changed = await_condition(deployments.clone(), "dev-web-server", {
        let old = before["dev-web-server"].clone();
        move |d: Option<&Deployment>| d.is_some_and(|d| checksum_of(d) != old)
    });
    within("the web server did not roll", changed)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for deployment in deployments.list(&Default::default()).await.unwrap().items {
        if deployment.name_any() != "dev-web-server" {
            assert_eq!(
                checksum_of(&deployment),
                before[&deployment.name_any()],
                "{} rolled",
                deployment.name_any()
            );
        }
    }

    // Removing a component deletes its child; adding it back recreates it.
    let flowers: Api<SupersetCeleryFlower> = env.api();
    let remove = json!({ "spec": { "celeryFlower": null } });
    merge_spec(&supersets, &remove).await;
    let gone = await_condition(
        flowers.clone(),
        "dev",
        |f: Option<&SupersetCeleryFlower>| f.is_none(),
    );
    within("the Flower child was not removed", gone)
        .await
        .unwrap();
    wait_available(&supersets, "4/4").await;
    let add =
        json!({ "spec": { "celeryFlower": { "image": { "repository": "superset-flower" } } } });
    merge_spec(&supersets, &add).await;
    let back = await_condition(
        flowers.clone(),
        "dev",
        |f: Option<&SupersetCeleryFlower>| f.is_some(),
    );
    within("the Flower child was not recreated", back)
        .await
        .unwrap();
    wait_available(&supersets, "5/5").await;
}

#[tokio::test]
async fn drift_is_reverted_deletions_are_recreated_and_foreign_objects_left_alone() {
    let env = superset_operator_testkit::cluster().await;
    // An object nobody manages sits at the name the worker's Deployment would take.
    let deployments: Api<Deployment> = env.api();
    let squatter: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "dev-celery-worker" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "squatter" } },
            "template": { "metadata": { "labels": { "app": "squatter" } }, "spec": { "containers": [{ "name": "x", "image": "x" }] } },
        },
    }))
    .unwrap();
    let squatter = deployments
        .create(&PostParams::default(), &squatter)
        .await
        .unwrap();
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "webServer": { "replicas": 2 }, "celeryWorker": {} })),
        )
        .await
        .unwrap();

    // The squatter is left alone, and the worker child says why it is not ready.
    let workers: Api<superset_operator_api::SupersetCeleryWorker> = env.api();
    let reported = await_condition(
        workers.clone(),
        "dev",
        |w: Option<&superset_operator_api::SupersetCeleryWorker>| {
            w.and_then(|w| w.status.as_ref()).is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.reason == "ManagedNameTaken")
            })
        },
    );
    within("the taken name was not reported", reported)
        .await
        .unwrap();
    let degraded = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == "Degraded" && c.status == "True" && c.reason == "ManagedNameTaken"
            })
        })
    });
    within("the parent did not report Degraded", degraded)
        .await
        .unwrap();
    let events: Api<k8s_openapi::api::events::v1::Event> = env.api();
    let warnings: Vec<_> = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some("ManagedNameTaken") && e.type_.as_deref() == Some("Warning")
        })
        .collect();
    assert!(!warnings.is_empty(), "no Warning event for the taken name");
    let still = deployments.get("dev-celery-worker").await.unwrap();
    assert_eq!(still.uid(), squatter.uid());
    assert_eq!(
        still.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("x")
    );

    // A hand edit of a managed Deployment is reverted.
    let web: Api<SupersetWebServer> = env.api();
    let ready = await_condition(web.clone(), "dev", |w: Option<&SupersetWebServer>| {
        w.and_then(|w| w.status.as_ref())
            .and_then(|s| s.ready_replicas)
            == Some(2)
    });
    within("the web server did not become ready", ready)
        .await
        .unwrap();
    let edit = json!({ "spec": { "replicas": 5 } });
    deployments
        .patch(
            "dev-web-server",
            &PatchParams::default(),
            &Patch::Merge(&edit),
        )
        .await
        .unwrap();
    let reverted = await_condition(
        deployments.clone(),
        "dev-web-server",
        |d: Option<&Deployment>| {
            d.and_then(|d| d.spec.as_ref()).and_then(|s| s.replicas) == Some(2)
        },
    );
    within("the edit was not reverted", reverted).await.unwrap();

    // A deleted Deployment is recreated, and its new identity recorded.
    let old_uid = deployments
        .get("dev-web-server")
        .await
        .unwrap()
        .uid()
        .unwrap();
    deployments
        .delete("dev-web-server", &Default::default())
        .await
        .unwrap();
    let recorded = await_condition(web.clone(), "dev", move |w: Option<&SupersetWebServer>| {
        w.and_then(|w| w.status.as_ref())
            .and_then(|s| s.deployment.as_ref())
            .is_some_and(|d| d.uid != old_uid)
    });
    within("the deletion was not repaired", recorded)
        .await
        .unwrap();
    let tracked = web
        .get("dev")
        .await
        .unwrap()
        .status
        .unwrap()
        .deployment
        .unwrap();
    assert_eq!(
        deployments
            .get("dev-web-server")
            .await
            .unwrap()
            .uid()
            .unwrap(),
        tracked.uid
    );
}

#[tokio::test]
async fn suspend_stops_writes_and_deleting_the_superset_removes_everything() {
    let env = superset_operator_testkit::cluster().await;
    let writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "webServer": {}, "celeryBeat": {} })),
        )
        .await
        .unwrap();
    wait_available(&supersets, "2/2").await;

    let suspend = json!({ "spec": { "suspend": true } });
    merge_spec(&supersets, &suspend).await;
    let suspended = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Suspended" && c.status == "True")
        })
    });
    within("suspension not reported", suspended).await.unwrap();
    // Status stays current while suspended: losing a pod shows in it.
    let beat: Api<Deployment> = env.api();
    let scale = json!({ "spec": { "replicas": 0 } });
    beat.patch(
        "dev-celery-beat",
        &PatchParams::default(),
        &Patch::Merge(&scale),
    )
    .await
    .unwrap();
    let current = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Available" && c.status == "False")
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Suspended" && c.status == "True")
        })
    });
    within(
        "status did not follow the children while suspended",
        current,
    )
    .await
    .unwrap();
    let replicas = beat
        .get("dev-celery-beat")
        .await
        .unwrap()
        .spec
        .unwrap()
        .replicas;
    assert_eq!(replicas, Some(0), "nothing is repaired while suspended");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = writes.count();
    let change = json!({ "spec": { "webServer": { "replicas": 3 } } });
    merge_spec(&supersets, &change).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let web: Api<SupersetWebServer> = env.api();
    assert_eq!(
        web.get("dev").await.unwrap().spec.component.replicas,
        1,
        "a suspended Superset was reconciled"
    );
    assert!(
        writes.count() <= before + 1,
        "only the status may be written while suspended"
    );

    let resume = json!({ "spec": { "suspend": null } });
    merge_spec(&supersets, &resume).await;
    wait_available(&supersets, "4/4").await;

    // Deleting the parent garbage-collects children, their Deployments and everything else.
    supersets
        .delete("dev", &kube::api::DeleteParams::background())
        .await
        .unwrap();
    let deployments: Api<Deployment> = env.api();
    let config_maps: Api<ConfigMap> = env.api();
    let services: Api<Service> = env.api();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let left = (
            deployments
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .len(),
            web.list(&Default::default()).await.unwrap().items.len(),
            config_maps
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|c| c.name_any().starts_with("dev-"))
                .count(),
            services
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .len(),
        );
        if left == (0, 0, 0, 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind (deployments, children, config maps, services): {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn ingress_and_network_policies_follow_the_spec() {
    let env = superset_operator_testkit::cluster().await;
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = json!({
        "webServer": {},
        "celeryWorker": {},
        "mcpServer": {},
        "networkPolicy": {},
        "networking": { "ingress": { "className": "nginx", "host": "superset.example.com" } },
    });
    supersets
        .create(&PostParams::default(), &superset(spec))
        .await
        .unwrap();
    wait_available(&supersets, "3/3").await;

    let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> = env.api();
    let ingress = ingresses.get("dev").await.unwrap();
    let rules = ingress.spec.unwrap().rules.unwrap();
    assert_eq!(rules[0].host.as_deref(), Some("superset.example.com"));
    let paths: Vec<_> = rules[0]
        .http
        .as_ref()
        .unwrap()
        .paths
        .iter()
        .map(|p| p.path.clone().unwrap())
        .collect();
    assert_eq!(paths, ["/mcp", "/"]);
    let policies: Api<k8s_openapi::api::networking::v1::NetworkPolicy> = env.api();
    let mut names: Vec<String> = policies
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "dev-celery-worker-netpol",
            "dev-mcp-server-netpol",
            "dev-web-server-netpol"
        ]
    );

    let off = json!({ "spec": { "networking": null, "networkPolicy": null } });
    merge_spec(&supersets, &off).await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while ingresses.get_opt("dev").await.unwrap().is_some()
        || !policies
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Ingress or NetworkPolicies were not removed"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn stop_scales_to_zero_and_resume_restores_while_autoscaled_replicas_are_left_alone() {
    let env = superset_operator_testkit::cluster().await;
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = json!({
        "webServer": { "replicas": 2 },
        "celeryWorker": { "autoscaling": { "minReplicas": 1, "maxReplicas": 5 } },
    });
    supersets
        .create(&PostParams::default(), &superset(spec))
        .await
        .unwrap();
    wait_available(&supersets, "3/3").await;
    let deployments: Api<Deployment> = env.api();

    // An autoscaler decides the worker's replicas; a reconcile never resets them.
    let scale = json!({ "spec": { "replicas": 3 } });
    deployments
        .patch(
            "dev-celery-worker",
            &PatchParams::default(),
            &Patch::Merge(&scale),
        )
        .await
        .unwrap();
    let touch = json!({ "spec": { "celeryWorker": { "config": "X = 1" } } });
    merge_spec(&supersets, &touch).await;
    wait_available(&supersets, "5/5").await;
    assert_eq!(
        deployments
            .get("dev-celery-worker")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(3)
    );

    let stop = json!({ "spec": { "stop": true } });
    merge_spec(&supersets, &stop).await;
    let stopped = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            s.ready.as_deref() == Some("0/0")
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Stopped" && c.status == "True")
        })
    });
    within("the Superset did not stop", stopped).await.unwrap();
    for name in ["dev-web-server", "dev-celery-worker"] {
        assert_eq!(
            deployments.get(name).await.unwrap().spec.unwrap().replicas,
            Some(0),
            "{name}"
        );
    }
    let autoscalers: Api<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler> = env.api();
    assert!(
        autoscalers
            .get_opt("dev-celery-worker")
            .await
            .unwrap()
            .is_none(),
        "an autoscaler would bring pods back"
    );
    let services: Api<Service> = env.api();
    let config_maps: Api<ConfigMap> = env.api();
    assert!(services.get_opt("dev-web-server").await.unwrap().is_some());
    assert!(
        config_maps
            .get_opt("dev-web-server-config")
            .await
            .unwrap()
            .is_some()
    );

    let resume = json!({ "spec": { "stop": null } });
    merge_spec(&supersets, &resume).await;
    wait_available(&supersets, "3/3").await;
    assert_eq!(
        deployments
            .get("dev-web-server")
            .await
            .unwrap()
            .spec
            .unwrap()
            .replicas,
        Some(2)
    );
    assert!(
        autoscalers
            .get_opt("dev-celery-worker")
            .await
            .unwrap()
            .is_some()
    );
}

async fn checksums(deployments: &Api<Deployment>) -> BTreeMap<String, Option<String>> {
    deployments
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|d| (d.name_any(), checksum_of(d)))
        .collect()
}

async fn wait_for_roll(deployments: &Api<Deployment>, name: &str, old: Option<String>) {
    let rolled = await_condition(deployments.clone(), name, move |d: Option<&Deployment>| {
        d.is_some_and(|d| checksum_of(d) != old)
    });
    tokio::time::timeout(TIMEOUT, rolled)
        .await
        .unwrap_or_else(|_| panic!("{name} did not roll"))
        .unwrap();
}

#[tokio::test]
async fn a_rotated_secret_rolls_exactly_the_components_that_read_it() {
    let env = superset_operator_testkit::cluster().await;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = env.api();
    for (name, key) in [("app", "secret-key"), ("web-only", "token")] {
        let secret = serde_json::from_value(
            json!({ "metadata": { "name": name }, "stringData": { key: "v1" } }),
        )
        .unwrap();
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    }
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    let mut manifest = superset(json!({
        "webServer": { "podTemplate": { "container": { "env": [
            { "name": "EXTRA_TOKEN", "valueFrom": { "secretKeyRef": { "name": "web-only", "key": "token" } } }
        ] } } },
        "celeryWorker": {},
        "celeryBeat": {},
    }));
    manifest.spec.secret_key = None;
    manifest.spec.secret_key_from =
        Some(serde_json::from_value(json!({ "name": "app", "key": "secret-key" })).unwrap());
    supersets
        .create(&PostParams::default(), &manifest)
        .await
        .unwrap();
    wait_available(&supersets, "3/3").await;
    let deployments: Api<Deployment> = env.api();

    let before = checksums(&deployments).await;
    let rotate = json!({ "stringData": { "token": "v2" } });
    secrets
        .patch("web-only", &PatchParams::default(), &Patch::Merge(&rotate))
        .await
        .unwrap();
    wait_for_roll(
        &deployments,
        "dev-web-server",
        before["dev-web-server"].clone(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = checksums(&deployments).await;
    assert_eq!(
        after["dev-celery-worker"], before["dev-celery-worker"],
        "the worker does not read web-only"
    );
    assert_eq!(after["dev-celery-beat"], before["dev-celery-beat"]);

    // A new secret key with nothing to re-encrypt the stored secrets is refused: no component
    // rolls to a key that cannot read the database passwords Superset saved.
    let rotate = json!({ "stringData": { "secret-key": "v2" } });
    secrets
        .patch("app", &PatchParams::default(), &Patch::Merge(&rotate))
        .await
        .unwrap();
    let refused = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            s.conditions.iter().any(|c| {
                c.type_ == "Degraded" && c.status == "True" && c.reason == "SecretKeyChanged"
            })
        })
    });
    let refused = within("the new secret key was not refused", refused)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        checksums(&deployments).await,
        after,
        "a component rolled to the new key"
    );
    let status = refused.status.unwrap();
    assert_eq!(
        status.phase,
        Some(superset_operator_api::superset::status::SupersetPhase::Blocked)
    );
    let message = status
        .conditions
        .iter()
        .find(|c| c.reason == "SecretKeyChanged")
        .unwrap()
        .message
        .clone();
    // The message says what to do, down to the command that accepts the loss.
    let accept = message
        .split_whitespace()
        .find(|w| w.starts_with("superset.apache.org/accept-secret-key="))
        .expect("the message names the annotation")
        .to_owned();
    assert!(message.contains("previousSecretKeyFrom"), "{message}");
    let (key, value) = accept.split_once('=').unwrap();
    supersets
        .patch(
            "dev",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "annotations": { key: value } } })),
        )
        .await
        .unwrap();
    for name in ["dev-web-server", "dev-celery-worker", "dev-celery-beat"] {
        wait_for_roll(&deployments, name, after[name].clone()).await;
    }
    let fingerprint = value.to_owned();
    let recorded = await_condition(supersets.clone(), "dev", move |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref())
            .and_then(|s| s.secret_key_fingerprint.as_deref())
            == Some(fingerprint.as_str())
    });
    within("the accepted key was not recorded", recorded)
        .await
        .unwrap();
    // Only hashes travel: no secret value appears in what the operator wrote.
    let children = env
        .kubectl()
        .args(["get", "superset-all,configmap,events", "-o", "json"])
        .output()
        .unwrap();
    let written = String::from_utf8(children.stdout).unwrap();
    assert!(written.contains("dev-web-server-config"));
    assert!(
        !written.contains("\"v2\"") && !written.contains("djI="),
        "a secret value leaked into an object"
    );
}

/// Installs a schemaless stand-in for another project's CRD (Prometheus Operator, Gateway API).
async fn install_foreign_crd(env: &TestEnv, group: &str, kind: &str, plural: &str) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(env.client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {
            "name": format!("{plural}.{group}"),
            // Groups under k8s.io are protected; a stand-in declares itself unapproved.
            "annotations": { "api-approved.kubernetes.io": "unapproved, test stand-in" },
        },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List") },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } },
            }],
        },
    }))
    .unwrap();
    let params = PatchParams::apply("superset-operator-tests").force();
    crds.patch(
        &crd.metadata.name.clone().unwrap(),
        &params,
        &Patch::Apply(&crd),
    )
    .await
    .unwrap();
    let name = crd.metadata.name.unwrap();
    let established = await_condition(
        crds,
        &name,
        kube::runtime::wait::conditions::is_crd_established(),
    );
    tokio::time::timeout(TIMEOUT, established)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn service_monitor_and_http_route_wait_for_their_crds() {
    let env = superset_operator_testkit::cluster().await;
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec = json!({
        "webServer": {},
        "mcpServer": {},
        "monitoring": { "serviceMonitor": { "interval": "15s" } },
        "networking": { "gateway": { "gatewayRef": { "name": "public", "namespace": "gateways" }, "hostnames": ["bi.example.com"] } },
    });
    supersets
        .create(&PostParams::default(), &superset(spec))
        .await
        .unwrap();
    let reported = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "MonitoringReady" && c.reason == "CRDMissing")
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "RouteReady" && c.reason == "CRDMissing")
        })
    });
    within("missing CRDs were not reported", reported)
        .await
        .unwrap();

    install_foreign_crd(
        &env,
        "monitoring.coreos.com",
        "ServiceMonitor",
        "servicemonitors",
    )
    .await;
    install_foreign_crd(&env, "gateway.networking.k8s.io", "HTTPRoute", "httproutes").await;
    let applied = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| s.status.as_ref()).is_some_and(|s| {
            ["MonitoringReady", "RouteReady"].iter().all(|t| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == *t && c.status == "True")
            })
        })
    });
    within("the ServiceMonitor and HTTPRoute were not created", applied)
        .await
        .unwrap();

    let monitor = env
        .kubectl()
        .args([
            "get",
            "servicemonitors.monitoring.coreos.com",
            "dev",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let monitor: serde_json::Value = serde_json::from_slice(&monitor.stdout).unwrap();
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"],
        "web-server"
    );
    let route = env
        .kubectl()
        .args([
            "get",
            "httproutes.gateway.networking.k8s.io",
            "dev",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let route: serde_json::Value = serde_json::from_slice(&route.stdout).unwrap();
    assert_eq!(route["spec"]["parentRefs"][0]["namespace"], "gateways");
    let paths: Vec<&str> = route["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["matches"][0]["path"]["value"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/mcp", "/"]);
    assert_eq!(route["metadata"]["ownerReferences"][0]["kind"], "Superset");

    drift_on_a_service_monitor_is_reverted().await;
}

#[tokio::test]
async fn an_impostor_replacing_a_managed_deployment_is_replaced_without_churn() {
    let env = superset_operator_testkit::cluster().await;
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "webServer": {} })),
        )
        .await
        .unwrap();
    wait_available(&supersets, "1/1").await;
    let web: Api<SupersetWebServer> = env.api();
    let original = web
        .get("dev")
        .await
        .unwrap()
        .status
        .unwrap()
        .deployment
        .unwrap()
        .uid;

    // While the operator is suspended, someone swaps the Deployment for one of their own.
    let suspend = json!({ "spec": { "suspend": true } });
    merge_spec(&supersets, &suspend).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deployments: Api<Deployment> = env.api();
    deployments
        .delete("dev-web-server", &kube::api::DeleteParams::background())
        .await
        .unwrap();
    let gone = await_condition(
        deployments.clone(),
        "dev-web-server",
        |d: Option<&Deployment>| d.is_none(),
    );
    tokio::time::timeout(TIMEOUT, gone).await.unwrap().unwrap();
    let impostor: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "dev-web-server" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "impostor" } },
            "template": { "metadata": { "labels": { "app": "impostor" } }, "spec": { "containers": [{ "name": "x", "image": "x" }] } },
        },
    }))
    .unwrap();
    let impostor_uid = deployments
        .create(&PostParams::default(), &impostor)
        .await
        .unwrap()
        .uid()
        .unwrap();

    let resume = json!({ "spec": { "suspend": null } });
    merge_spec(&supersets, &resume).await;
    let replaced = await_condition(web.clone(), "dev", move |w: Option<&SupersetWebServer>| {
        w.and_then(|w| w.status.as_ref())
            .and_then(|s| s.deployment.as_ref())
            .is_some_and(|d| d.uid != original && d.uid != impostor_uid)
    });
    within("the impostor was not replaced", replaced)
        .await
        .unwrap();
    let recorded = web
        .get("dev")
        .await
        .unwrap()
        .status
        .unwrap()
        .deployment
        .unwrap()
        .uid;
    // No churn: the recorded Deployment stays put.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let live = deployments.get("dev-web-server").await.unwrap();
    assert_eq!(live.uid().unwrap(), recorded);
    assert_eq!(live.owner_references()[0].kind, "SupersetWebServer");
    assert_eq!(
        web.get("dev")
            .await
            .unwrap()
            .status
            .unwrap()
            .deployment
            .unwrap()
            .uid,
        recorded
    );
}

/// Drift on a ServiceMonitor is reverted by the watch, for an operator that started after
/// the CRD was installed. Called from `service_monitor_and_http_route_wait_for_their_crds`,
/// because installed CRDs are shared by every test of the binary.
async fn drift_on_a_service_monitor_is_reverted() {
    let env = superset_operator_testkit::cluster().await;
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    let spec =
        json!({ "webServer": {}, "monitoring": { "serviceMonitor": { "interval": "20s" } } });
    supersets
        .create(&PostParams::default(), &superset(spec))
        .await
        .unwrap();
    wait_available(&supersets, "1/1").await;
    let interval = |env: &TestEnv| {
        let output = env
            .kubectl()
            .args([
                "get",
                "servicemonitors.monitoring.coreos.com",
                "dev",
                "-o",
                "jsonpath={.spec.endpoints[0].interval}",
            ])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while interval(&env) != "20s" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ServiceMonitor was not created"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let edit = env
        .kubectl()
        .args([
            "patch",
            "servicemonitors.monitoring.coreos.com",
            "dev",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/endpoints/0/interval","value":"99s"}]"#,
        ])
        .output()
        .unwrap();
    assert!(
        edit.status.success(),
        "{}",
        String::from_utf8_lossy(&edit.stderr)
    );
    // Reverted by the watch, well before any periodic re-check.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while interval(&env) != "20s" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the edit was not reverted"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Whether the Superset `name` carries condition `type_` True for `reason`, and its message.
fn condition_true<'a>(superset: &'a Superset, type_: &str, reason: &str) -> Option<&'a str> {
    superset
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True" && c.reason == reason)
        .map(|c| c.message.as_str())
}

#[tokio::test]
async fn objects_at_managed_names_that_are_not_ours_are_never_used() {
    let env = superset_operator_testkit::cluster().await;
    // Someone else's code at the name of the web server's configuration, and a ServiceAccount
    // at the name a second instance would create.
    let config_maps: Api<ConfigMap> = env.api();
    let planted: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "dev-web-server-config" },
        "data": { "superset_config.py": "import os; os.system('exfiltrate')" },
    }))
    .unwrap();
    let planted = config_maps
        .create(&PostParams::default(), &planted)
        .await
        .unwrap();
    let accounts: Api<ServiceAccount> = env.api();
    let account: ServiceAccount =
        serde_json::from_value(json!({ "metadata": { "name": "other" } })).unwrap();
    accounts
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let running = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "webServer": {}, "celeryWorker": {} })),
        )
        .await
        .unwrap();
    let mut other = superset(json!({ "celeryWorker": {} }));
    other.metadata.name = Some("other".into());
    supersets
        .create(&PostParams::default(), &other)
        .await
        .unwrap();

    // The web server is held back and says why; the worker runs.
    let degraded = await_condition(supersets.clone(), "dev", |s: Option<&Superset>| {
        s.and_then(|s| condition_true(s, "Degraded", "ManagedNameTaken"))
            .is_some_and(|m| m.contains("ConfigMap dev-web-server-config"))
    });
    within("the taken ConfigMap was not reported", degraded)
        .await
        .unwrap();
    let deployments: Api<Deployment> = env.api();
    within(
        "the worker did not roll out beside the held-back web server",
        await_condition(
            deployments.clone(),
            "dev-celery-worker",
            |d: Option<&Deployment>| d.is_some(),
        ),
    )
    .await
    .unwrap();
    assert!(
        deployments
            .get_opt("dev-web-server")
            .await
            .unwrap()
            .is_none()
    );
    let web: Api<SupersetWebServer> = env.api();
    assert!(web.get_opt("dev").await.unwrap().is_none());
    let still = config_maps.get("dev-web-server-config").await.unwrap();
    assert_eq!(still.uid(), planted.uid());
    assert_eq!(still.data, planted.data);

    // The second instance stops at its ServiceAccount, and is told what else it may mean.
    let blocked = await_condition(supersets.clone(), "other", |s: Option<&Superset>| {
        s.and_then(|s| condition_true(s, "ReconcileError", "ManagedNameTaken"))
            .is_some_and(|m| {
                m.contains("ServiceAccount other") && m.contains("serviceAccount.create")
            })
    });
    within("the taken ServiceAccount was not reported", blocked)
        .await
        .unwrap();
    assert!(
        deployments
            .get_opt("other-celery-worker")
            .await
            .unwrap()
            .is_none()
    );

    // Once the planted ConfigMap goes, the operator's own takes its place.
    config_maps
        .delete("dev-web-server-config", &Default::default())
        .await
        .unwrap();
    within(
        "the web server did not come once the name was free",
        await_condition(
            deployments.clone(),
            "dev-web-server",
            |d: Option<&Deployment>| d.is_some(),
        ),
    )
    .await
    .unwrap();

    // A ConfigMap put in place of the operator's own while no operator ran is replaced.
    running.kill();
    config_maps
        .delete("dev-celery-worker-config", &Default::default())
        .await
        .unwrap();
    within(
        "the worker's ConfigMap was not deleted",
        await_condition(
            config_maps.clone(),
            "dev-celery-worker-config",
            kube::runtime::conditions::is_deleted(""),
        ),
    )
    .await
    .ok();
    let swapped: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "dev-celery-worker-config" },
        "data": { "superset_config.py": "import os; os.system('exfiltrate')" },
    }))
    .unwrap();
    let swapped = config_maps
        .create(&PostParams::default(), &swapped)
        .await
        .unwrap();
    let _operator = operator(&env);
    let replaced = await_condition(
        config_maps.clone(),
        "dev-celery-worker-config",
        move |c: Option<&ConfigMap>| {
            c.is_some_and(|c| {
                c.uid() != swapped.uid()
                    && c.data
                        .as_ref()
                        .and_then(|d| d.get("superset_config.py"))
                        .is_some_and(|code| !code.contains("exfiltrate"))
            })
        },
    );
    within("the swapped ConfigMap was not replaced", replaced)
        .await
        .unwrap();
}

#[tokio::test]
async fn observed_generation_and_progressing_tell_the_rollout_as_it_is() {
    use futures::StreamExt as _;
    use kube::runtime::{WatchStreamExt as _, watcher};

    let env = superset_operator_testkit::cluster().await;
    let _writes = operator(&env);
    let supersets: Api<Superset> = env.api();
    supersets
        .create(
            &PostParams::default(),
            &superset(json!({ "webServer": { "replicas": 2 } })),
        )
        .await
        .unwrap();
    wait_available(&supersets, "2/2").await;
    let deployments: Api<Deployment> = env.api();
    let mut statuses = watcher(
        supersets.clone(),
        watcher::Config::default().fields("metadata.name=dev"),
    )
    .applied_objects()
    .boxed();
    let changed = supersets
        .patch(
            "dev",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "webServer": { "podTemplate": {
                "annotations": { "rollout": "2" } } } } })),
        )
        .await
        .unwrap();
    let generation = changed.metadata.generation;
    let has_new_template = |d: &Deployment| {
        d.spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get("rollout"))
            .is_some_and(|v| v == "2")
    };
    let rolled_out = |d: &Deployment| {
        let status = d.status.clone().unwrap_or_default();
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        status.observed_generation == d.metadata.generation
            && status.updated_replicas.unwrap_or(0) == wanted
            && status.replicas.unwrap_or(0) == wanted
            && status.ready_replicas.unwrap_or(0) == wanted
    };
    let mut progressing_seen = false;
    within("the new generation never settled", async {
        while let Some(Ok(superset)) = statuses.next().await {
            let Some(status) = superset.status.as_ref() else {
                continue;
            };
            let progressing = status
                .conditions
                .iter()
                .find(|c| c.type_ == "Progressing")
                .map(|c| c.status == "True");
            if status.observed_generation != generation {
                continue;
            }
            // The generation is observed only once its objects are applied.
            let web = deployments.get("dev-web-server").await.unwrap();
            assert!(
                has_new_template(&web),
                "observedGeneration {generation:?} before the Deployment had the new template"
            );
            progressing_seen |= progressing == Some(true);
            if progressing == Some(false) {
                // Progressing ends only once the rollout has.
                assert!(
                    rolled_out(&web),
                    "Progressing=False before the rollout ended: {:?}",
                    web.status
                );
                return;
            }
        }
    })
    .await;
    assert!(
        progressing_seen,
        "Progressing never turned True during the rollout"
    );
}

//! Resolution: a `Superset` in, every child resource and ConfigMap the operator would create
//! out. Pure: no I/O, no logging, no clock.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DeploymentStrategy;
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, ContainerPort, EnvVar, HTTPGetAction,
    KeyToPath, PodSecurityContext, Probe, SeccompProfile, SecretVolumeSource, SecurityContext,
    TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use superset_operator_api::children::{
    FlatComponentSpec, SupersetCeleryBeatSpec, SupersetCeleryFlowerSpec, SupersetCeleryWorkerSpec,
    SupersetMcpServerSpec, SupersetWebServerSpec, SupersetWebsocketServerSpec,
};
use superset_operator_api::image::{ContainerImageSpec, ImageOverrideSpec, ImageSpec};
use superset_operator_api::scaling::{AutoscalingSpec, PodDisruptionBudgetSpec};
use superset_operator_api::service::ComponentServiceSpec;
use superset_operator_api::superset::metastore::DatabaseType;
use superset_operator_api::task::{SupersetLifecycleTaskSpec, TaskType};
use superset_operator_api::template::{DeploymentTemplate, PodTemplate};
use superset_operator_api::tuning::{CeleryWorkerProcessSpec, GunicornSpec, SqlaEngineOptionsSpec};
use superset_operator_api::{
    Superset, SupersetCeleryBeat, SupersetCeleryFlower, SupersetCeleryWorker,
    SupersetLifecycleTask, SupersetMcpServer, SupersetSpec, SupersetWebServer,
    SupersetWebsocketServer,
};

use crate::component::{Component, TaskFacts};
use crate::env::{self, CONFIG_DIR, vars};
use crate::lifecycle::{self, ChainInputs};
use crate::python::{self, MetastoreMode, PythonConfig};
use crate::tuning::{self, PoolUser};
use crate::{checksum, labels, merge, naming};

/// Why a Superset cannot be resolved. Admission rejects most bad input first; these are the
/// cases a manifest read from a file (`render`) or an object without a name can still hit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// `metadata.name` is missing.
    #[error("metadata.name is required")]
    MissingName,
    /// A Production or Staging pod template asks for more than the baseline Pod Security Standard allows.
    #[error(
        "a Production or Staging Superset runs no pod below the baseline Pod Security Standard: {0}; remove these settings (or use environment Development)"
    )]
    BelowBaseline(String),
}

/// Everything the operator creates for one Superset, before owner references.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// One entry per enabled component, in reconcile order.
    pub components: Vec<ResolvedComponent>,
    /// One entry per enabled lifecycle task, in pipeline order.
    pub tasks: Vec<ResolvedTask>,
}

impl ResolvedComponent {
    /// The port the component serves on: its first container port, else its default; `None`
    /// for components that serve nothing (workers, beat).
    pub fn serving_port(&self) -> Option<i32> {
        self.component.default_port().map(|default| {
            self.child
                .flat()
                .pod_template
                .as_ref()
                .and_then(|p| p.container.as_ref())
                .and_then(|c| c.ports.first())
                .map_or(default.port, |p| p.container_port)
        })
    }
}

/// One component: its child resource and its ConfigMap.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedComponent {
    /// Which component.
    pub component: Component,
    /// The child resource.
    pub child: Child,
    /// The ConfigMap its pods mount (none for a websocket server configured from a Secret).
    pub config_map: Option<ConfigMap>,
}

/// A component child resource of any of the six kinds.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Child {
    WebServer(SupersetWebServer),
    CeleryWorker(SupersetCeleryWorker),
    CeleryBeat(SupersetCeleryBeat),
    CeleryFlower(SupersetCeleryFlower),
    McpServer(SupersetMcpServer),
    WebsocketServer(SupersetWebsocketServer),
}

impl Child {
    /// The resolved workload, whatever the kind.
    pub fn flat(&self) -> &FlatComponentSpec {
        match self {
            Child::WebServer(c) => &c.spec.component,
            Child::CeleryWorker(c) => &c.spec.component,
            Child::CeleryBeat(c) => &c.spec.component,
            Child::CeleryFlower(c) => &c.spec.component,
            Child::McpServer(c) => &c.spec.component,
            Child::WebsocketServer(c) => &c.spec.component,
        }
    }

    /// The object as JSON, with `apiVersion` and `kind`.
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Child::WebServer(c) => serde_json::to_value(c),
            Child::CeleryWorker(c) => serde_json::to_value(c),
            Child::CeleryBeat(c) => serde_json::to_value(c),
            Child::CeleryFlower(c) => serde_json::to_value(c),
            Child::McpServer(c) => serde_json::to_value(c),
            Child::WebsocketServer(c) => serde_json::to_value(c),
        }
        .expect("child resources serialise")
    }
}

/// One lifecycle task: its child resource and its ConfigMap.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedTask {
    /// Which task.
    pub task_type: TaskType,
    /// The child resource.
    pub task: SupersetLifecycleTask,
    /// The ConfigMap its pod mounts (none for seed, which runs database tools only).
    pub config_map: Option<ConfigMap>,
    /// Whether every component must be stopped before it runs.
    pub requires_drain: bool,
}

/// The pieces of the parent spec one component reads.
struct View<'a> {
    deployment_template: Option<&'a DeploymentTemplate>,
    pod_template: Option<&'a PodTemplate>,
    replicas: Option<i32>,
    autoscaling: Option<&'a AutoscalingSpec>,
    pod_disruption_budget: Option<&'a PodDisruptionBudgetSpec>,
    image: Option<&'a ImageOverrideSpec>,
    config: Option<&'a str>,
    bootstrap_script: Option<&'a str>,
    service: Option<&'a ComponentServiceSpec>,
    sqla: Option<&'a SqlaEngineOptionsSpec>,
    gunicorn: Option<&'a GunicornSpec>,
    celery: Option<&'a CeleryWorkerProcessSpec>,
}

fn view(spec: &SupersetSpec, component: Component) -> Option<View<'_>> {
    macro_rules! scalable {
        ($c:expr) => {
            View {
                deployment_template: $c.scalable.deployment_template.as_ref(),
                pod_template: $c.scalable.pod_template.as_deref(),
                replicas: $c.scalable.replicas,
                autoscaling: $c.scalable.autoscaling.as_ref(),
                pod_disruption_budget: $c.scalable.pod_disruption_budget.as_ref(),
                image: $c.image.as_ref(),
                config: None,
                bootstrap_script: None,
                service: None,
                sqla: None,
                gunicorn: None,
                celery: None,
            }
        };
    }
    Some(match component {
        Component::WebServer => {
            let c = spec.web_server.as_ref()?;
            View {
                config: c.config.as_deref(),
                bootstrap_script: c.bootstrap_script.as_deref(),
                service: c.service.as_ref(),
                sqla: c.sqla_engine_options.as_ref(),
                gunicorn: c.gunicorn.as_ref(),
                ..scalable!(c)
            }
        }
        Component::CeleryWorker => {
            let c = spec.celery_worker.as_ref()?;
            View {
                config: c.config.as_deref(),
                bootstrap_script: c.bootstrap_script.as_deref(),
                sqla: c.sqla_engine_options.as_ref(),
                celery: c.celery.as_ref(),
                ..scalable!(c)
            }
        }
        Component::CeleryBeat => {
            let c = spec.celery_beat.as_ref()?;
            View {
                deployment_template: c.deployment_template.as_ref(),
                pod_template: c.pod_template.as_deref(),
                replicas: Some(1),
                autoscaling: None,
                pod_disruption_budget: None,
                image: c.image.as_ref(),
                config: c.config.as_deref(),
                bootstrap_script: c.bootstrap_script.as_deref(),
                service: None,
                sqla: c.sqla_engine_options.as_ref(),
                gunicorn: None,
                celery: None,
            }
        }
        Component::CeleryFlower => {
            let c = spec.celery_flower.as_ref()?;
            View {
                config: c.config.as_deref(),
                bootstrap_script: c.bootstrap_script.as_deref(),
                service: c.service.as_ref(),
                ..scalable!(c)
            }
        }
        Component::McpServer => {
            let c = spec.mcp_server.as_ref()?;
            View {
                config: c.config.as_deref(),
                bootstrap_script: c.bootstrap_script.as_deref(),
                service: c.service.as_ref(),
                sqla: c.sqla_engine_options.as_ref(),
                ..scalable!(c)
            }
        }
        Component::WebsocketServer => {
            let c = spec.websocket_server.as_ref()?;
            View {
                service: c.service.as_ref(),
                ..scalable!(c)
            }
        }
    })
}

/// The Superset image with an override applied.
pub fn image(base: &ImageSpec, over: Option<&ImageOverrideSpec>) -> ImageSpec {
    let over = over.cloned().unwrap_or_default();
    ImageSpec {
        repository: over.repository.unwrap_or_else(|| base.repository.clone()),
        tag: over.tag.unwrap_or_else(|| base.tag.clone()),
        pull_policy: over.pull_policy.unwrap_or(base.pull_policy),
        pull_secrets: base.pull_secrets.clone(),
    }
}

/// `repository:tag`.
pub fn image_ref(image: &ImageSpec) -> String {
    format!("{}:{}", image.repository, image.tag)
}

pub(crate) fn container_image(
    spec: Option<&ContainerImageSpec>,
    repository: &str,
    tag: &str,
) -> ImageSpec {
    let spec = spec.cloned().unwrap_or_default();
    ImageSpec {
        repository: spec.repository.unwrap_or_else(|| repository.to_owned()),
        tag: spec.tag.unwrap_or_else(|| tag.to_owned()),
        pull_policy: spec.pull_policy.unwrap_or_default(),
        pull_secrets: spec.pull_secrets,
    }
}

fn metastore_mode(spec: &SupersetSpec) -> MetastoreMode {
    match &spec.metastore {
        Some(m) if m.uri.is_some() || m.uri_from.is_some() => MetastoreMode::Passthrough,
        Some(m) if m.host.is_some() => {
            let (dialect, driver) = match m.type_ {
                DatabaseType::PostgreSQL => ("postgresql", "psycopg2"),
                DatabaseType::MySQL => ("mysql", "mysqldb"),
            };
            MetastoreMode::Structured {
                scheme: format!("{dialect}+{}", m.driver.as_deref().unwrap_or(driver)),
            }
        }
        _ => MetastoreMode::None,
    }
}

fn python_config<'a>(
    spec: &'a SupersetSpec,
    own: Option<&'a str>,
    web_port: Option<i32>,
    engine: Option<python::EngineOptions>,
) -> PythonConfig<'a> {
    PythonConfig {
        metastore: metastore_mode(spec),
        previous_secret_key: spec.previous_secret_key.is_some()
            || spec.previous_secret_key_from.is_some(),
        web_port,
        engine,
        feature_flags: &spec.feature_flags,
        valkey: spec.valkey.as_ref(),
        base_config: spec.config.as_deref(),
        component_config: own,
    }
}

/// The effective bootstrap script: the component's own (`""` turns the top-level one off).
fn bootstrap<'a>(spec: &'a SupersetSpec, own: Option<&'a str>) -> Option<&'a str> {
    own.or(spec.bootstrap_script.as_deref())
        .filter(|s| !s.trim().is_empty())
}

const BOOTSTRAP_FILE: &str = "superset_bootstrap.sh";
const CONFIG_FILE: &str = "superset_config.py";
const CONFIG_VOLUME: &str = "superset-config";
const WEBSOCKET_CONFIG_PATH: &str = "/home/superset-websocket/config.json";
/// The official images' unprivileged user (`superset`, and `node` in the websocket image).
const IMAGE_USER: i64 = 1000;

/// `command` run after sourcing the bootstrap script; `"$@"` keeps the words intact.
fn with_bootstrap(command: Vec<String>, script: Option<&str>) -> Vec<String> {
    if script.is_none() || command.is_empty() {
        return command;
    }
    let mut wrapped = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        format!(". {CONFIG_DIR}/{BOOTSTRAP_FILE} && exec \"$@\""),
        "--".to_owned(),
    ];
    wrapped.extend(command);
    wrapped
}

fn config_map(
    name: String,
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
    data: BTreeMap<String, String>,
) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name),
            namespace,
            labels: Some(labels),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

fn http_probe(path: String, port: i32, initial_delay: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path),
            port: IntOrString::Int(port),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

fn tcp_probe(port: i32, initial_delay: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(port),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(10),
        timeout_seconds: Some(5),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// Default liveness, readiness and startup probes, aimed at the port the container really uses.
fn default_probes(
    component: Component,
    port: i32,
    flower_prefix: &str,
) -> (Option<Probe>, Option<Probe>, Option<Probe>) {
    match component {
        Component::WebServer => (
            Some(http_probe("/health".into(), port, 15)),
            Some(http_probe("/health".into(), port, 5)),
            Some(Probe {
                failure_threshold: Some(30),
                ..http_probe("/health".into(), port, 15)
            }),
        ),
        Component::CeleryFlower => {
            let path = format!("{}/healthcheck", flower_prefix.trim_end_matches('/'));
            (
                Some(http_probe(path.clone(), port, 15)),
                Some(http_probe(path, port, 5)),
                None,
            )
        }
        Component::WebsocketServer => (
            Some(http_probe("/health".into(), port, 15)),
            Some(http_probe("/health".into(), port, 5)),
            None,
        ),
        Component::McpServer => (Some(tcp_probe(port, 15)), Some(tcp_probe(port, 5)), None),
        Component::CeleryWorker | Component::CeleryBeat => (None, None, None),
    }
}

/// Pod and container settings that satisfy the `restricted` Pod Security Standard, applied
/// where the user set none.
fn secure_defaults(pod: &mut PodTemplate) {
    pod.pod_security_context
        .get_or_insert_with(|| PodSecurityContext {
            fs_group: Some(IMAGE_USER),
            ..restricted_pod_context(IMAGE_USER)
        });
    let container = pod.container.get_or_insert_with(Default::default);
    container
        .security_context
        .get_or_insert_with(restricted_container_context);
}

/// A pod security context of the `restricted` standard, running as `user`.
pub(crate) fn restricted_pod_context(user: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(user),
        run_as_group: Some(user),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A container security context of the `restricted` standard.
pub(crate) fn restricted_container_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What the operator adds to a container after the user's settings, overriding same-named
/// entries.
struct Injection {
    env: Vec<EnvVar>,
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
}

fn inject(pod: &mut PodTemplate, injection: Injection) {
    pod.volumes = merge::by_key(&pod.volumes, &injection.volumes, |v| v.name.clone());
    let container = pod.container.get_or_insert_with(Default::default);
    container.env = merge::by_key(&container.env, &injection.env, |e| e.name.clone());
    container.volume_mounts = merge::mounts(&container.volume_mounts, &injection.mounts);
}

fn config_volume(config_map_name: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: CONFIG_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map_name.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        },
        VolumeMount {
            name: CONFIG_VOLUME.into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        },
    )
}

/// What resolution needs besides the Superset, from the world outside it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolveOptions {
    /// The cron tick (RFC 3339) a scheduled seed belongs to; a new tick re-runs the seed.
    pub seed_tick: Option<String>,
}

/// Resolves every enabled component and lifecycle task of `superset`.
pub fn resolve(superset: &Superset) -> Result<Resolved, ResolveError> {
    resolve_with(superset, &ResolveOptions::default())
}

/// [`resolve`], with inputs from outside the Superset.
pub fn resolve_with(
    superset: &Superset,
    options: &ResolveOptions,
) -> Result<Resolved, ResolveError> {
    let name = superset
        .metadata
        .name
        .clone()
        .ok_or(ResolveError::MissingName)?;
    let namespace = superset.metadata.namespace.clone();
    let spec = &superset.spec;
    let components = Component::ALL
        .into_iter()
        .filter_map(|component| {
            view(spec, component).map(|v| resolve_component(spec, &name, &namespace, component, v))
        })
        .collect();
    let incoming = superset
        .metadata
        .uid
        .clone()
        .unwrap_or_else(|| name.clone());
    let tasks = resolve_tasks(spec, &name, &namespace, &incoming, options);
    let resolved = Resolved { components, tasks };
    if spec.environment != superset_operator_api::superset::Environment::Development {
        refuse_below_baseline(&resolved)?;
    }
    Ok(resolved)
}

/// Refuses pods below the baseline Pod Security Standard, naming each place and field.
fn refuse_below_baseline(resolved: &Resolved) -> Result<(), ResolveError> {
    let components = resolved.components.iter().map(|c| {
        (
            c.component.field().to_owned(),
            c.child.flat().pod_template.as_deref(),
        )
    });
    let tasks = resolved.tasks.iter().map(|t| {
        (
            format!("lifecycle.{}", t.task_type.suffix()),
            t.task.spec.pod_template.as_deref(),
        )
    });
    let found: Vec<String> = components
        .chain(tasks)
        .flat_map(|(place, pod)| {
            let violations = pod.map(crate::pod_security::baseline_violations);
            violations
                .unwrap_or_default()
                .into_iter()
                .map(move |v| format!("{place}: {v}"))
        })
        .collect();
    match found.is_empty() {
        true => Ok(()),
        false => Err(ResolveError::BelowBaseline(found.join(", "))),
    }
}

fn service_account(spec: &SupersetSpec, parent: &str) -> String {
    spec.service_account
        .as_ref()
        .and_then(|sa| sa.name.clone())
        .unwrap_or_else(|| parent.to_owned())
}

/// The merged Deployment template. Beat is a singleton scheduler: a rolling update would run
/// the old and the new pod side by side and send every report twice, so beat replaces its pod
/// (`Recreate`) unless `celeryBeat` itself asks otherwise; the top-level strategy, meant for
/// the scalable components, is not inherited.
fn deployment_template(
    spec: &SupersetSpec,
    component: Component,
    own: Option<&DeploymentTemplate>,
) -> Option<DeploymentTemplate> {
    let mut merged = merge::deployment_template(spec.deployment_template.as_ref(), own);
    if component == Component::CeleryBeat {
        let template = merged.get_or_insert_with(Default::default);
        template.strategy = own.and_then(|t| t.strategy.clone()).or_else(|| {
            Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            })
        });
    }
    merged
}

/// What distinguishes this instance's keys in a Valkey that other instances share: its
/// namespace and name (`/` appears in neither, so no two instances get the same key).
fn instance_key(namespace: &Option<String>, name: &str) -> String {
    match namespace {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

fn resolve_component(
    spec: &SupersetSpec,
    parent: &str,
    namespace: &Option<String>,
    component: Component,
    view: View<'_>,
) -> ResolvedComponent {
    let mut pod = merge::pod_template(spec.pod_template.as_deref(), view.pod_template);
    let user_container = pod.container.clone().unwrap_or_default();

    // The port the container serves on: the user's first port, else the component's default.
    let default_port = component.default_port();
    let port = user_container
        .ports
        .first()
        .map(|p| p.container_port)
        .or(default_port.map(|p| p.port));
    if user_container.ports.is_empty()
        && let Some(default) = default_port
    {
        pod.container.get_or_insert_with(Default::default).ports = vec![ContainerPort {
            name: Some(default.name.into()),
            container_port: default.port,
            protocol: Some("TCP".into()),
            ..Default::default()
        }];
    }
    let flower_prefix = view
        .service
        .and_then(|s| s.gateway_path.clone())
        .unwrap_or_else(|| "/flower".into());

    let gunicorn = (component == Component::WebServer)
        .then(|| tuning::gunicorn(view.gunicorn))
        .flatten();
    let celery = (component == Component::CeleryWorker).then(|| tuning::celery(view.celery));
    let config_map_name = naming::component_config_map(parent, component);
    let mut data = BTreeMap::new();
    let mut env = Vec::new();
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let script = bootstrap(spec, view.bootstrap_script).filter(|_| component.is_python());

    if component.is_python() {
        let pool_user = match component {
            Component::WebServer => PoolUser::WebServer {
                threads: gunicorn.as_ref().map_or(1, |g| g.threads),
            },
            Component::CeleryWorker => {
                let c = celery.as_ref().expect("resolved above");
                PoolUser::CeleryWorker {
                    concurrency: c.concurrency,
                    pool: c.pool,
                }
            }
            Component::CeleryBeat => PoolUser::Unpooled,
            Component::McpServer => PoolUser::McpServer,
            _ => PoolUser::Light,
        };
        // Flower has no engine options of its own: it follows the top level.
        let sqla = view.sqla.or(spec.sqla_engine_options.as_ref());
        let engine = tuning::engine_options(sqla, pool_user);
        let web_port = (component == Component::WebServer)
            .then_some(port)
            .flatten();
        data.insert(
            CONFIG_FILE.to_owned(),
            python::render(&python_config(spec, view.config, web_port, engine)),
        );
        if let Some(script) = script {
            data.insert(BOOTSTRAP_FILE.to_owned(), script.to_owned());
        }
        env.extend(env::superset(spec, &instance_key(namespace, parent)));
        let (volume, mount) = config_volume(&config_map_name);
        volumes.push(volume);
        mounts.push(mount);
    }
    env.extend(env::force_reload(spec));
    match component {
        Component::WebServer => env.extend(env::gunicorn(gunicorn.as_ref(), port.unwrap_or(8088))),
        Component::CeleryFlower => {
            env.push(env::plain(vars::FLOWER_URL_PREFIX, flower_prefix.clone()))
        }
        _ => {}
    }
    if component == Component::WebsocketServer {
        let ws = spec.websocket_server.as_ref().expect("the view exists");
        // With neither, the server is configured through its environment: nothing to mount.
        let source = if let Some(config) = &ws.config {
            data.insert("config.json".to_owned(), config.clone());
            Some(Volume {
                name: CONFIG_VOLUME.into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config_map_name.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            })
        } else {
            ws.config_from.as_ref().map(|secret| Volume {
                name: CONFIG_VOLUME.into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret.name.clone()),
                    items: Some(vec![KeyToPath {
                        key: secret.key.clone(),
                        path: "config.json".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            })
        };
        if let Some(source) = source {
            volumes.push(source);
            mounts.push(VolumeMount {
                name: CONFIG_VOLUME.into(),
                mount_path: WEBSOCKET_CONFIG_PATH.into(),
                sub_path: Some("config.json".into()),
                read_only: Some(true),
                ..Default::default()
            });
        }
    }

    // The default command, unless the user set one for this component.
    if user_container.command.is_empty() {
        let default = match component {
            Component::WebServer => tuning::web_server_command(),
            Component::CeleryWorker => celery.as_ref().expect("resolved above").command.clone(),
            Component::CeleryBeat => tuning::celery_beat_command(),
            Component::CeleryFlower => vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "exec celery --app=superset.tasks.celery_app:app flower --port={} --url_prefix=\"${}\"",
                    port.unwrap_or(5555),
                    vars::FLOWER_URL_PREFIX
                ),
            ],
            Component::McpServer => ["superset", "mcp", "run", "--host", "0.0.0.0", "--port"]
                .map(String::from)
                .into_iter()
                .chain([port.unwrap_or(8088).to_string()])
                .collect(),
            // The websocket image's own entrypoint starts the server.
            Component::WebsocketServer => Vec::new(),
        };
        pod.container.get_or_insert_with(Default::default).command =
            with_bootstrap(default, script);
    }

    if let Some(port) = port {
        let (liveness, readiness, startup) = default_probes(component, port, &flower_prefix);
        let container = pod.container.get_or_insert_with(Default::default);
        container.liveness_probe = container.liveness_probe.take().or(liveness);
        container.readiness_probe = container.readiness_probe.take().or(readiness);
        container.startup_probe = container.startup_probe.take().or(startup);
    }
    inject(
        &mut pod,
        Injection {
            env,
            volumes,
            mounts,
        },
    );
    secure_defaults(&mut pod);

    let config_checksum = (!data.is_empty()).then(|| checksum::of_json(&data));
    pod.labels =
        labels::merge_user_and_operator(&pod.labels, &labels::component(parent, component));
    if let Some(sum) = &config_checksum {
        // Applied after the user's annotations: a user annotation cannot pin the checksum.
        pod.annotations
            .insert(labels::CONFIG_CHECKSUM.to_owned(), sum.clone());
    }

    // Stopped: zero replicas and no autoscaler that would bring pods back.
    let stopped = spec.stop == Some(true);
    let flat = FlatComponentSpec {
        image: image(&spec.image, view.image),
        replicas: if stopped {
            0
        } else {
            view.replicas.or(spec.replicas).unwrap_or(1)
        },
        deployment_template: deployment_template(spec, component, view.deployment_template),
        pod_template: Some(Box::new(pod)),
        service_account_name: Some(service_account(spec, parent)),
        autoscaling: (component.is_scalable() && !stopped)
            .then(|| view.autoscaling.or(spec.autoscaling.as_ref()).cloned())
            .flatten(),
        pod_disruption_budget: component
            .is_scalable()
            .then(|| {
                view.pod_disruption_budget
                    .or(spec.pod_disruption_budget.as_ref())
                    .cloned()
            })
            .flatten(),
        config_checksum,
    };
    let service = default_port.map(|default| {
        let mut service = view.service.cloned().unwrap_or_default();
        service.port.get_or_insert(default.port);
        service
    });
    let metadata = ObjectMeta {
        name: Some(naming::child(parent)),
        namespace: namespace.clone(),
        labels: Some(labels::component(parent, component)),
        ..Default::default()
    };
    let child = match component {
        Component::WebServer => Child::WebServer(SupersetWebServer {
            metadata,
            spec: SupersetWebServerSpec {
                component: flat,
                service,
            },
            status: None,
        }),
        Component::CeleryWorker => Child::CeleryWorker(SupersetCeleryWorker {
            metadata,
            spec: SupersetCeleryWorkerSpec { component: flat },
            status: None,
        }),
        Component::CeleryBeat => Child::CeleryBeat(SupersetCeleryBeat {
            metadata,
            spec: SupersetCeleryBeatSpec { component: flat },
            status: None,
        }),
        Component::CeleryFlower => Child::CeleryFlower(SupersetCeleryFlower {
            metadata,
            spec: SupersetCeleryFlowerSpec {
                component: flat,
                service,
            },
            status: None,
        }),
        Component::McpServer => Child::McpServer(SupersetMcpServer {
            metadata,
            spec: SupersetMcpServerSpec {
                component: flat,
                service,
            },
            status: None,
        }),
        Component::WebsocketServer => Child::WebsocketServer(SupersetWebsocketServer {
            metadata,
            spec: SupersetWebsocketServerSpec {
                component: flat,
                service,
            },
            status: None,
        }),
    };
    let config_map = (!data.is_empty()).then(|| {
        config_map(
            config_map_name,
            namespace.clone(),
            labels::component(parent, component),
            data,
        )
    });
    ResolvedComponent {
        component,
        child,
        config_map,
    }
}

/// The tags of the components that run Superset's code under a tag other than that of
/// `lifecycle_image`, by component field. The tag is the version, which the schema follows: a
/// repository of its own under the same tag (Flower's image, a build with extra drivers) is
/// the same Superset.
fn component_images(
    spec: &SupersetSpec,
    lifecycle_image: &ImageSpec,
) -> BTreeMap<&'static str, String> {
    Component::ALL
        .into_iter()
        .filter(|c| c.is_python())
        .filter_map(|c| {
            let tag = view(spec, c)?.image?.tag.clone()?;
            (tag != lifecycle_image.tag).then_some((c.field(), tag))
        })
        .collect()
}

fn resolve_tasks(
    spec: &SupersetSpec,
    parent: &str,
    namespace: &Option<String>,
    parent_uid: &str,
    options: &ResolveOptions,
) -> Vec<ResolvedTask> {
    let lifecycle = spec.lifecycle.as_deref().cloned().unwrap_or_default();
    let superset_image = image(&spec.image, lifecycle.image.as_ref());
    let mut incoming = parent_uid.to_owned();
    let mut tasks = Vec::new();
    for (task_type, settings) in lifecycle::enabled_tasks(spec) {
        let command = lifecycle::command(spec, task_type, &settings);
        let config_map_name = naming::task_config_map(parent, task_type);
        let mut data = BTreeMap::new();
        let mut env = Vec::new();
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        let (task_image, mut pod, retention) = if task_type == TaskType::Seed {
            let seed = lifecycle.seed.as_ref().expect("seed is enabled");
            let (repository, tag) = match seed.source.type_ {
                DatabaseType::PostgreSQL => ("postgres", "17-alpine"),
                DatabaseType::MySQL => ("mysql", "8.4"),
            };
            let source = &seed.source;
            env.extend(
                env::superset(spec, &instance_key(namespace, parent))
                    .into_iter()
                    .filter(|e| e.name.starts_with("SUPERSET_OPERATOR__DB_")),
            );
            env.push(env::plain(vars::SEED_SRC_HOST, source.host.clone()));
            env.push(env::plain(
                vars::SEED_SRC_PORT,
                source
                    .port
                    .unwrap_or(env::default_port(source.type_))
                    .to_string(),
            ));
            env.push(env::plain(vars::SEED_SRC_DB, source.database.clone()));
            env.push(env::plain(vars::SEED_SRC_USER, source.username.clone()));
            if let Some(password) = &source.password {
                env.push(env::plain(vars::SEED_SRC_PASS, password.clone()));
            } else if let Some(secret) = &source.password_from {
                env.push(env::from_secret(vars::SEED_SRC_PASS, secret));
            }
            let pod =
                merge::pod_template(spec.pod_template.as_deref(), seed.pod_template.as_deref());
            (
                container_image(seed.image.as_ref(), repository, tag),
                pod,
                seed.pod_retention
                    .clone()
                    .or(lifecycle.pod_retention.clone()),
            )
        } else {
            let engine =
                tuning::engine_options(lifecycle.sqla_engine_options.as_ref(), PoolUser::Unpooled);
            data.insert(
                CONFIG_FILE.to_owned(),
                python::render(&python_config(
                    spec,
                    lifecycle.config.as_deref(),
                    None,
                    engine,
                )),
            );
            let script = bootstrap(spec, lifecycle.bootstrap_script.as_deref());
            if let Some(script) = script {
                data.insert(BOOTSTRAP_FILE.to_owned(), script.to_owned());
            }
            if task_type == TaskType::Rotate {
                data.insert(
                    lifecycle::ROTATE_SCRIPT_FILE.to_owned(),
                    lifecycle::ROTATE_SCRIPT.to_owned(),
                );
            }
            env.extend(env::superset(spec, &instance_key(namespace, parent)));
            if task_type == TaskType::Init
                && let Some(admin) = lifecycle.init.as_ref().and_then(|i| i.admin_user.as_ref())
            {
                env.extend([
                    env::plain(vars::ADMIN_USERNAME, admin.username.clone()),
                    env::plain(vars::ADMIN_PASSWORD, admin.password.clone()),
                    env::plain(vars::ADMIN_FIRST_NAME, admin.first_name.clone()),
                    env::plain(vars::ADMIN_LAST_NAME, admin.last_name.clone()),
                    env::plain(vars::ADMIN_EMAIL, admin.email.clone()),
                ]);
            }
            let (volume, mount) = config_volume(&config_map_name);
            volumes.push(volume);
            mounts.push(mount);
            let pod = merge::pod_template(
                spec.pod_template.as_deref(),
                lifecycle.pod_template.as_deref(),
            );
            (superset_image.clone(), pod, lifecycle.pod_retention.clone())
        };
        env.extend(env::force_reload(spec));
        let script = (task_type != TaskType::Seed)
            .then(|| bootstrap(spec, lifecycle.bootstrap_script.as_deref()))
            .flatten();
        let command = with_bootstrap(command, script);
        if task_type == TaskType::Migrate
            && spec
                .metastore
                .as_ref()
                .is_some_and(|m| m.create_database == Some(true))
        {
            let init = create_database_container(spec, &env, pod.container.as_ref());
            pod.init_containers = merge::by_key(&pod.init_containers, &[init], |c| c.name.clone());
        }
        inject(
            &mut pod,
            Injection {
                env: env.clone(),
                volumes,
                mounts,
            },
        );
        secure_defaults(&mut pod);
        pod.labels = labels::merge_user_and_operator(&pod.labels, &labels::task(parent, task_type));
        pod.container.get_or_insert_with(Default::default).command = Vec::new();

        let inputs = match task_type {
            TaskType::Seed => {
                let seed = lifecycle.seed.as_ref().expect("seed is enabled");
                ChainInputs::Seed {
                    source: &seed.source,
                    exclude_tables: &seed.exclude_tables,
                    exclude_table_data: &seed.exclude_table_data,
                    post_seed_sql: &seed.post_seed_sql,
                    image: image_ref(&task_image),
                    superset_image: image_ref(&superset_image),
                    tick: options.seed_tick.as_deref(),
                }
            }
            TaskType::Migrate => ChainInputs::Migrate {
                component_images: component_images(spec, &task_image),
                image: image_ref(&task_image),
                bootstrap: script,
                create_database: spec
                    .metastore
                    .as_ref()
                    .is_some_and(|m| m.create_database == Some(true)),
            },
            TaskType::Rotate => ChainInputs::Rotate {
                image: image_ref(&task_image),
                keys: checksum::of_json(&(
                    &spec.secret_key,
                    &spec.secret_key_from,
                    &spec.previous_secret_key,
                    &spec.previous_secret_key_from,
                )),
            },
            TaskType::Init => {
                // forceReload restarts pods; it is no reason to run init again.
                let read_by_init: Vec<&EnvVar> = env
                    .iter()
                    .filter(|e| e.name != vars::FORCE_RELOAD)
                    .collect();
                ChainInputs::Init {
                    image: image_ref(&task_image),
                    config: checksum::of_json(&(&data, read_by_init)),
                }
            }
        };
        let chain = lifecycle::chain_checksum(&incoming, task_type, &command, &settings, inputs);
        incoming = chain.clone();

        let task = SupersetLifecycleTask {
            metadata: ObjectMeta {
                name: Some(naming::task(parent, task_type)),
                namespace: namespace.clone(),
                labels: Some(labels::task(parent, task_type)),
                ..Default::default()
            },
            spec: SupersetLifecycleTaskSpec {
                type_: task_type,
                command,
                image: task_image,
                pod_template: Some(Box::new(pod)),
                service_account_name: Some(service_account(spec, parent)),
                config_checksum: chain,
                timeout: settings
                    .timeout
                    .or_else(|| lifecycle::default_timeout(spec, task_type)),
                max_retries: settings.max_retries,
                pod_retention: retention,
            },
            status: None,
        };
        let config_map = (!data.is_empty()).then(|| {
            config_map(
                config_map_name,
                namespace.clone(),
                labels::task(parent, task_type),
                data,
            )
        });
        tasks.push(ResolvedTask {
            task_type,
            task,
            config_map,
            requires_drain: settings
                .requires_drain
                .unwrap_or(task_type.drains_by_default()),
        });
    }
    tasks
}

/// An init container that creates the metastore database when it is missing. The name and the
/// credentials come from the task's environment, so no value is spliced into the script. It
/// takes the task container's resources and security context, so quotas and policies that
/// admit the task admit it too.
fn create_database_container(
    spec: &SupersetSpec,
    env: &[EnvVar],
    task_container: Option<&superset_operator_api::template::ContainerTemplate>,
) -> k8s_openapi::api::core::v1::Container {
    let metastore = spec
        .metastore
        .as_ref()
        .expect("createDatabase needs a metastore");
    let (image, image_user, script) = match metastore.type_ {
        DatabaseType::PostgreSQL => (
            "postgres:17-alpine",
            70,
            format!(
                "set -eu\nexport PGPASSWORD=\"${{{pass}:-}}\"\n\
                 set -- -h \"${host}\" -p \"${port}\" -U \"${user}\"\n\
                 if echo \"SELECT 1 FROM pg_database WHERE datname = :'name'\" | psql \"$@\" -d postgres -tA -v name=\"${db}\" | grep -q 1; then\n  \
                 echo \"database exists\"\nelse\n  createdb \"$@\" \"${db}\"\nfi",
                pass = vars::DB_PASS,
                host = vars::DB_HOST,
                port = vars::DB_PORT,
                user = vars::DB_USER,
                db = vars::DB_NAME,
            ),
        ),
        DatabaseType::MySQL => (
            "mysql:8.4",
            999,
            format!(
                "set -eu\ndb=$(printf '%s' \"${db}\" | sed 's/`/``/g')\n\
                 MYSQL_PWD=\"${{{pass}:-}}\" mysql -h \"${host}\" -P \"${port}\" -u \"${user}\" -e \"CREATE DATABASE IF NOT EXISTS \\`$db\\`\"",
                db = vars::DB_NAME,
                pass = vars::DB_PASS,
                host = vars::DB_HOST,
                port = vars::DB_PORT,
                user = vars::DB_USER,
            ),
        ),
    };
    let security_context = task_container
        .and_then(|c| c.security_context.clone())
        .unwrap_or_else(|| SecurityContext {
            // The database image's own unprivileged user: postgres (70) or mysql (999).
            run_as_user: Some(image_user),
            ..restricted_container_context()
        });
    k8s_openapi::api::core::v1::Container {
        name: "create-database".into(),
        image: Some(image.into()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), script]),
        env: Some(
            env.iter()
                .filter(|e| e.name.starts_with("SUPERSET_OPERATOR__DB_"))
                .cloned()
                .collect(),
        ),
        resources: task_container.and_then(|c| c.resources.clone()),
        security_context: Some(security_context),
        ..Default::default()
    }
}

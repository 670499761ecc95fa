//! The lifecycle pipeline: seed, migrate, rotate and init run in this order, before components
//! deploy and again whenever what they depend on changes.

use crate::duration::Timeout;
use k8s_openapi::api::core::v1::SecretKeySelector;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::image::{ContainerImageSpec, ImageOverrideSpec};
use crate::superset::metastore::DatabaseType;
use crate::template::{DeploymentTemplate, PodTemplate};
use crate::tuning::SqlaEngineOptionsSpec;

/// How an image change is rolled out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum UpgradeMode {
    /// Upgrade as soon as the image changes.
    #[default]
    Automatic,
    /// Wait for an approval annotation carrying the token shown in status.
    Supervised,
}

/// The lifecycle pipeline. Migrate and init run even when this block is absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.init) || !has(self.init.command) || size(self.init.command) == 0 || (!has(self.init.adminUser) && !has(self.init.loadExamples))")
    .message("lifecycle.init.command replaces the default init command: remove init.adminUser and init.loadExamples, or the command"))]
pub struct LifecycleSpec {
    /// How image changes are rolled out.
    #[serde(default)]
    pub upgrade_mode: UpgradeMode,

    /// Run no task at all. Task resources and the maintenance page are removed; the image is
    /// still recorded so a later upgrade is detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,

    /// Image of the migrate, rotate and init tasks; overrides `spec.image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOverrideSpec>,

    /// Pod settings of the migrate, rotate and init pods, merged over `spec.podTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// What happens to finished task pods (each task may override it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_retention: Option<PodRetentionSpec>,

    /// Python appended to the tasks' `superset_config.py`, after `spec.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,

    /// Shell sourced before each task command; replaces `spec.bootstrapScript` (`""` runs none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_script: Option<String>,

    /// Engine options of the tasks (a pool-less engine unless the preset is `disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqla_engine_options: Option<SqlaEngineOptionsSpec>,

    /// A maintenance page served by the web server's Service while components are drained.
    /// Present means enabled; it needs `webServer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_page: Option<MaintenancePageSpec>,

    /// Copy a source database into the metastore (Development and Staging only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<SeedTaskSpec>,

    /// `superset db upgrade`. Enabled unless `disabled: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<MigrateTaskSpec>,

    /// Re-encrypts the metastore's secrets (connection passwords, OAuth2 tokens, SSH tunnel
    /// credentials) from the previous secret key to the current one. Present means enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate: Option<RotateTaskSpec>,

    /// `superset init` (roles and permissions). Enabled unless `disabled: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<InitTaskSpec>,
}

/// What happens to a task's pods once they finish.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PodRetentionPolicy {
    /// Delete every finished pod.
    Delete,
    /// Keep every finished pod.
    Retain,
    /// Keep failed pods for inspection, delete succeeded ones.
    #[default]
    RetainOnFailure,
}

/// Retention of finished task pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodRetentionSpec {
    /// The retention policy.
    #[serde(default)]
    pub policy: PodRetentionPolicy,
}

/// Settings every task has.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskSpec {
    /// Replaces the task's default command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,

    /// Any string; changing it runs the task again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,

    /// Stop every component before the task runs (seed, migrate and rotate do by default,
    /// init does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_drain: Option<bool>,

    /// Longest one attempt may run, from `1s` to `168h`, as a duration such as `10m` or `1h30m`
    /// (5m when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,

    /// Attempts before the task is marked Failed.
    #[serde(default = "default_max_retries")]
    #[schemars(range(min = 1))]
    pub max_retries: i32,

    /// Turn this task off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

fn default_max_retries() -> i32 {
    3
}

/// The migrate task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrateTaskSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub task: TaskSpec,
}

/// The rotate task. Needs `previousSecretKey` or `previousSecretKeyFrom`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotateTaskSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub task: TaskSpec,
}

/// The init task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitTaskSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub task: TaskSpec,

    /// Create an admin user (Development only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<AdminUserSpec>,

    /// Load Superset's example dashboards (Development only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_examples: Option<bool>,
}

/// The admin user created by init in Development.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserSpec {
    /// Login name.
    #[serde(default = "default_admin_username")]
    pub username: String,
    /// Password.
    #[serde(default = "default_admin_password")]
    pub password: String,
    /// First name.
    #[serde(default = "default_admin_first_name")]
    pub first_name: String,
    /// Last name.
    #[serde(default = "default_admin_last_name")]
    pub last_name: String,
    /// E-mail address.
    #[serde(default = "default_admin_email")]
    pub email: String,
}

fn default_admin_username() -> String {
    "admin".into()
}
fn default_admin_password() -> String {
    "admin".into()
}
fn default_admin_first_name() -> String {
    "Superset".into()
}
fn default_admin_last_name() -> String {
    "Admin".into()
}
fn default_admin_email() -> String {
    "admin@example.com".into()
}

/// The seed task: copies a source database into the metastore, once or on a schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedTaskSpec {
    #[serde(flatten)]
    #[allow(missing_docs)]
    pub task: TaskSpec,

    /// Re-seed on a cron schedule: five fields (minute hour day month weekday), optionally
    /// with seconds first and a year last, or a descriptor such as `@daily`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 6, max = 256))]
    #[x_kube(validation = Rule::new(r"self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([0-9A-Za-z*/,?#-]+[ ]+){4,6}[0-9A-Za-z*/,?#-]+)$')")
        .message("lifecycle.seed.cronSchedule must have 5 to 7 space-separated cron fields (for example '0 3 * * *') or be a descriptor such as '@daily'"))]
    pub cron_schedule: Option<String>,

    /// The database to copy from.
    pub source: SeedSourceSpec,

    /// Tables not copied at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_tables: Vec<String>,

    /// Tables whose schema is copied but not their rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_table_data: Vec<String>,

    /// SQL statements run on the metastore after the copy (for example to scrub data).
    #[serde(default, skip_serializing_if = "Vec::is_empty", rename = "postSeedSQL")]
    pub post_seed_sql: Vec<String>,

    /// Database client image (`postgres:17-alpine` or `mysql:8.4` by source type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ContainerImageSpec>,

    /// Pod settings of the seed pod, merged over `spec.podTemplate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,

    /// Retention of finished seed pods; overrides `lifecycle.podRetention`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_retention: Option<PodRetentionSpec>,
}

/// The database the seed task copies from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.password) || has(self.passwordFrom)")
        .message("lifecycle.seed.source needs password or passwordFrom"),
    validation = Rule::new("!(has(self.password) && has(self.passwordFrom))")
        .message("set either lifecycle.seed.source.password or passwordFrom, not both"),
)]
pub struct SeedSourceSpec {
    /// Database engine of the source.
    #[serde(default, rename = "type")]
    pub type_: DatabaseType,

    /// Host name of the source.
    #[schemars(length(min = 1))]
    pub host: String,

    /// Port of the source (5432 or 3306 by type when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,

    /// Database name of the source.
    #[schemars(length(min = 1))]
    pub database: String,

    /// User name on the source.
    #[schemars(length(min = 1))]
    pub username: String,

    /// Password, inline. Development only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,

    /// Password, read from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_from: Option<SecretKeySelector>,
}

/// The maintenance page shown while components are drained for a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenancePageSpec {
    /// Page title (HTML-escaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,

    /// Message under the title (HTML-escaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,

    /// A complete HTML document, served as is instead of the built-in page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,

    /// Web server image (`nginx:alpine`, run as a non-root user, when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ContainerImageSpec>,

    /// Replicas of the page.
    #[serde(default = "default_maintenance_replicas")]
    #[schemars(range(min = 1))]
    pub replicas: i32,

    /// Deployment settings of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_template: Option<DeploymentTemplate>,

    /// Pod settings of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Box<PodTemplate>>,
}

fn default_maintenance_replicas() -> i32 {
    1
}

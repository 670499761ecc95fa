//! Typed process tuning: SQLAlchemy connection pools, Gunicorn and Celery workers. Presets give
//! sensible sizes; explicit fields override the preset.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A sizing preset. `disabled` leaves the setting to Superset or the image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Render nothing for this block.
    Disabled,
    /// Small: for light use and small nodes.
    Conservative,
    /// Medium: the default.
    #[default]
    Balanced,
    /// Large: for busy instances on larger nodes.
    Performance,
    /// Largest: for heavy, dedicated nodes.
    Aggressive,
}

/// SQLAlchemy engine options for the metastore connection pool (`SQLALCHEMY_ENGINE_OPTIONS`).
/// A component's block replaces the top-level block whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqlaEngineOptionsSpec {
    /// Sizing preset; the pool size follows the component's worker and thread counts.
    #[serde(default)]
    pub preset: Preset,

    /// Connections kept open per process; overrides the preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub pool_size: Option<i32>,

    /// Connections allowed above the pool size; `-1` means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -1))]
    pub max_overflow: Option<i32>,

    /// Seconds after which a connection is recycled (3600 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub pool_recycle: Option<i32>,

    /// Test each connection before use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_pre_ping: Option<bool>,

    /// Seconds to wait for a free connection; omitted unless greater than zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub pool_timeout: Option<i32>,
}

/// Gunicorn worker class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GunicornWorkerClass {
    /// One request per worker at a time.
    Sync,
    /// Threaded workers (the only class that uses `threads`).
    #[default]
    Gthread,
    /// Cooperative workers on gevent.
    Gevent,
    /// Cooperative workers on eventlet.
    Eventlet,
}

/// Gunicorn log level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GunicornLogLevel {
    /// Everything.
    Debug,
    /// Requests and lifecycle messages.
    #[default]
    Info,
    /// Warnings and errors.
    Warning,
    /// Errors only.
    Error,
    /// Critical errors only.
    Critical,
}

/// The Gunicorn server of the web server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.threads) || self.threads <= 1 || !has(self.workerClass) || self.workerClass == 'gthread'")
    .message("gunicorn.threads greater than 1 needs gunicorn.workerClass gthread (or unset)"))]
pub struct GunicornSpec {
    /// Sizing preset for workers and threads (conservative 1x4, balanced 2x8, performance 4x8,
    /// aggressive 8x16); `disabled` leaves Gunicorn to the image's defaults.
    #[serde(default)]
    pub preset: Preset,

    /// Worker processes; overrides the preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub workers: Option<i32>,

    /// Threads per worker; overrides the preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub threads: Option<i32>,

    /// Worker class (`gthread` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_class: Option<GunicornWorkerClass>,

    /// Seconds a request may take before its worker is restarted (60 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout: Option<i32>,

    /// Seconds an idle keep-alive connection stays open (2 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub keep_alive: Option<i32>,

    /// Requests after which a worker restarts; 0 disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_requests: Option<i32>,

    /// Random spread added to `maxRequests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_requests_jitter: Option<i32>,

    /// Largest request line in bytes; 0 means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub limit_request_line: Option<i32>,

    /// Largest header field in bytes; 0 means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub limit_request_field_size: Option<i32>,

    /// Log level (`info` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<GunicornLogLevel>,
}

/// Celery worker pool implementation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CeleryPool {
    /// Forked child processes.
    #[default]
    Prefork,
    /// Threads in one process.
    Threads,
    /// Greenlets on gevent.
    Gevent,
    /// Greenlets on eventlet.
    Eventlet,
    /// One task at a time, in the main process.
    Solo,
}

/// Celery task distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CeleryOptimization {
    /// Celery's default prefetching.
    Default,
    /// Hand a task only to a process that is free.
    #[default]
    Fair,
}

/// The Celery worker process of the Celery worker component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.maxTasksPerChild) || self.maxTasksPerChild == 0 || !has(self.pool) || self.pool == 'prefork'")
        .message("celery.maxTasksPerChild only works with celery.pool prefork (or unset)"),
    validation = Rule::new("!has(self.maxMemoryPerChild) || self.maxMemoryPerChild == 0 || !has(self.pool) || self.pool == 'prefork'")
        .message("celery.maxMemoryPerChild only works with celery.pool prefork (or unset)"),
)]
pub struct CeleryWorkerProcessSpec {
    /// Sizing preset for concurrency (conservative 2, balanced 4, performance 8, aggressive 16);
    /// `disabled` runs the image's built-in worker command.
    #[serde(default)]
    pub preset: Preset,

    /// Concurrent tasks per worker pod; overrides the preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub concurrency: Option<i32>,

    /// Pool implementation (`prefork` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<CeleryPool>,

    /// Task distribution (`fair` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimization: Option<CeleryOptimization>,

    /// Tasks after which a pool process is replaced; 0 means never. Prefork only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_tasks_per_child: Option<i32>,

    /// Resident memory in KiB after which a pool process is replaced; 0 disables. Prefork only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub max_memory_per_child: Option<i32>,

    /// Messages prefetched per process (4 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub prefetch_multiplier: Option<i32>,

    /// Seconds after which a task gets a soft time-limit exception; 0 disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub soft_time_limit: Option<i32>,

    /// Seconds after which a task's process is killed; 0 disables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub time_limit: Option<i32>,
}

//! Presets turned into numbers: Gunicorn workers and threads, Celery concurrency and command,
//! and the SQLAlchemy pool of each process type.

use superset_operator_api::tuning::{
    CeleryOptimization, CeleryPool, CeleryWorkerProcessSpec, GunicornLogLevel, GunicornSpec,
    GunicornWorkerClass, Preset, SqlaEngineOptionsSpec,
};

use crate::python::EngineOptions;

/// Gunicorn settings of the web server, as [`web_server_command`] reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gunicorn {
    /// Worker processes.
    pub workers: i32,
    /// Threads per worker.
    pub threads: i32,
    /// Worker class.
    pub worker_class: GunicornWorkerClass,
    /// Request timeout in seconds.
    pub timeout: i32,
    /// Keep-alive in seconds.
    pub keep_alive: i32,
    /// Requests before a worker restarts (0: never).
    pub max_requests: i32,
    /// Jitter added to `max_requests`.
    pub max_requests_jitter: i32,
    /// Longest request line (0: unlimited).
    pub limit_request_line: i32,
    /// Largest header field (0: unlimited).
    pub limit_request_field_size: i32,
    /// Log level.
    pub log_level: GunicornLogLevel,
}

/// The web server's Gunicorn settings; `None` when the preset is `disabled` (the image's own
/// defaults apply).
pub fn gunicorn(spec: Option<&GunicornSpec>) -> Option<Gunicorn> {
    let spec = spec.cloned().unwrap_or_default();
    let (workers, threads) = match spec.preset {
        Preset::Disabled => return None,
        Preset::Conservative => (1, 4),
        Preset::Balanced => (2, 8),
        Preset::Performance => (4, 8),
        Preset::Aggressive => (8, 16),
    };
    Some(Gunicorn {
        workers: spec.workers.unwrap_or(workers),
        threads: spec.threads.unwrap_or(threads),
        worker_class: spec.worker_class.unwrap_or_default(),
        timeout: spec.timeout.unwrap_or(60),
        keep_alive: spec.keep_alive.unwrap_or(2),
        max_requests: spec.max_requests.unwrap_or(0),
        max_requests_jitter: spec.max_requests_jitter.unwrap_or(0),
        limit_request_line: spec.limit_request_line.unwrap_or(0),
        limit_request_field_size: spec.limit_request_field_size.unwrap_or(0),
        log_level: spec.log_level.unwrap_or_default(),
    })
}

/// The Celery worker process, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Celery {
    /// Concurrent tasks per pod.
    pub concurrency: i32,
    /// Pool implementation.
    pub pool: CeleryPool,
    /// The worker command.
    pub command: Vec<String>,
}

const CELERY_APP: &str = "--app=superset.tasks.celery_app:app";

/// The Celery worker's settings and command. With the preset `disabled`, the operator's
/// built-in command (prefork, fair, concurrency 4) runs.
pub fn celery(spec: Option<&CeleryWorkerProcessSpec>) -> Celery {
    let spec = spec.cloned().unwrap_or_default();
    let preset_concurrency = match spec.preset {
        Preset::Conservative => 2,
        Preset::Disabled | Preset::Balanced => 4,
        Preset::Performance => 8,
        Preset::Aggressive => 16,
    };
    let tuned = spec.preset != Preset::Disabled;
    let concurrency = if tuned {
        spec.concurrency.unwrap_or(preset_concurrency)
    } else {
        preset_concurrency
    };
    let pool = if tuned {
        spec.pool.unwrap_or_default()
    } else {
        CeleryPool::Prefork
    };
    let optimization = if tuned {
        spec.optimization.unwrap_or_default()
    } else {
        CeleryOptimization::Fair
    };
    let pool_name = match pool {
        CeleryPool::Prefork => "prefork",
        CeleryPool::Threads => "threads",
        CeleryPool::Gevent => "gevent",
        CeleryPool::Eventlet => "eventlet",
        CeleryPool::Solo => "solo",
    };
    let optimization_name = match optimization {
        CeleryOptimization::Default => "default",
        CeleryOptimization::Fair => "fair",
    };
    let mut command: Vec<String> = ["celery", CELERY_APP, "worker", CELERY_LOG_LEVEL]
        .map(String::from)
        .to_vec();
    command.push(format!("--pool={pool_name}"));
    command.extend([
        "-O".to_owned(),
        optimization_name.to_owned(),
        "-c".to_owned(),
        concurrency.to_string(),
    ]);
    if tuned {
        let optional = [
            ("--max-tasks-per-child", spec.max_tasks_per_child),
            ("--max-memory-per-child", spec.max_memory_per_child),
            (
                "--prefetch-multiplier",
                Some(spec.prefetch_multiplier.unwrap_or(4)),
            ),
            ("--soft-time-limit", spec.soft_time_limit),
            ("--time-limit", spec.time_limit),
        ];
        command.extend(
            optional.into_iter().filter_map(|(flag, value)| {
                value.filter(|v| *v > 0).map(|v| format!("{flag}={v}"))
            }),
        );
    }
    Celery {
        concurrency,
        pool,
        command,
    }
}

/// The beat command; its schedule lives in `/tmp` because the root filesystem may be read-only.
pub fn celery_beat_command() -> Vec<String> {
    [
        "celery",
        CELERY_APP,
        "beat",
        CELERY_LOG_LEVEL,
        "--pidfile",
        "/tmp/celerybeat.pid",
        "--schedule",
        "/tmp/celerybeat-schedule",
    ]
    .map(String::from)
    .to_vec()
}

/// Without it a worker or beat logs no task it receives, runs or schedules.
const CELERY_LOG_LEVEL: &str = "--loglevel=INFO";

/// The web server's command: Gunicorn started with `exec`, so that it is the container's first
/// process and receives the SIGTERM of a pod deletion; it then stops accepting connections and
/// lets the requests in flight finish. (The image's `run-server.sh` starts Gunicorn as a child of
/// a shell that ignores SIGTERM, so every request in flight was cut at the grace period.) It reads
/// the same variables as `run-server.sh`, with the same defaults, so that a user's own
/// `SERVER_WORKER_AMOUNT` and friends keep working when the preset is `disabled`.
pub fn web_server_command() -> Vec<String> {
    let script = [
        "exec gunicorn",
        "--bind \"${SUPERSET_BIND_ADDRESS:-0.0.0.0}:${SUPERSET_PORT:-8088}\"",
        "--access-logfile \"${ACCESS_LOG_FILE:--}\"",
        "--error-logfile \"${ERROR_LOG_FILE:--}\"",
        "--log-level \"${GUNICORN_LOGLEVEL:-info}\"",
        "--workers \"${SERVER_WORKER_AMOUNT:-1}\"",
        "--worker-class \"${SERVER_WORKER_CLASS:-gthread}\"",
        "--threads \"${SERVER_THREADS_AMOUNT:-20}\"",
        "--timeout \"${GUNICORN_TIMEOUT:-60}\"",
        "--graceful-timeout \"${GUNICORN_GRACEFUL_TIMEOUT:-25}\"",
        "--keep-alive \"${GUNICORN_KEEPALIVE:-2}\"",
        "--max-requests \"${WORKER_MAX_REQUESTS:-0}\"",
        "--max-requests-jitter \"${WORKER_MAX_REQUESTS_JITTER:-0}\"",
        "--limit-request-line \"${SERVER_LIMIT_REQUEST_LINE:-0}\"",
        "--limit-request-field_size \"${SERVER_LIMIT_REQUEST_FIELD_SIZE:-0}\"",
        "\"${FLASK_APP:-superset.app:create_app()}\"",
    ]
    .join(" ");
    vec!["/bin/sh".into(), "-c".into(), script]
}

/// How a process uses database connections, for sizing its pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolUser {
    /// A Gunicorn worker process: each thread may hold a connection.
    WebServer {
        /// Threads per worker process.
        threads: i32,
    },
    /// A Celery worker: with an in-process pool every slot may hold a connection; a prefork
    /// child handles one task at a time.
    CeleryWorker {
        /// Concurrency.
        concurrency: i32,
        /// Pool implementation.
        pool: CeleryPool,
    },
    /// The MCP server (asynchronous, many concurrent requests per process).
    McpServer,
    /// Flower and anything else with light database use.
    Light,
    /// Beat and lifecycle tasks: short-lived or rare connections, never pooled.
    Unpooled,
}

/// `SQLALCHEMY_ENGINE_OPTIONS` for a process. The pool holds as many connections as the
/// process can use at once (times two for `aggressive`); overflow is unlimited unless set.
/// `conservative`, beat and tasks use no pool. `None` when the preset is `disabled`.
pub fn engine_options(
    spec: Option<&SqlaEngineOptionsSpec>,
    user: PoolUser,
) -> Option<EngineOptions> {
    let spec = spec.cloned().unwrap_or_default();
    let concurrent = match user {
        PoolUser::WebServer { threads } => threads.max(1),
        PoolUser::CeleryWorker {
            concurrency,
            pool: CeleryPool::Threads | CeleryPool::Gevent | CeleryPool::Eventlet,
        } => concurrency.max(1),
        PoolUser::CeleryWorker { .. } | PoolUser::Light => 1,
        PoolUser::McpServer => 5,
        PoolUser::Unpooled => 0,
    };
    let pool_size = match spec.preset {
        Preset::Disabled => return None,
        _ if user == PoolUser::Unpooled => return Some(EngineOptions::NullPool),
        Preset::Conservative => return Some(EngineOptions::NullPool),
        Preset::Balanced | Preset::Performance => concurrent,
        // Saturating: `threads: 2147483647` is admitted, and a pool cannot be larger anyway.
        Preset::Aggressive => concurrent.saturating_mul(2),
    };
    Some(EngineOptions::QueuePool {
        pool_size: spec.pool_size.unwrap_or(pool_size),
        max_overflow: spec.max_overflow.unwrap_or(-1),
        pool_recycle: spec.pool_recycle.unwrap_or(3600),
        pool_pre_ping: spec.pool_pre_ping.unwrap_or(false),
        pool_timeout: spec.pool_timeout.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_presets_and_overrides() {
        assert_eq!(gunicorn(None).map(|g| (g.workers, g.threads)), Some((2, 8)));
        let spec = GunicornSpec {
            preset: Preset::Aggressive,
            threads: Some(4),
            ..Default::default()
        };
        assert_eq!(
            gunicorn(Some(&spec)).map(|g| (g.workers, g.threads)),
            Some((8, 4))
        );
        let disabled = GunicornSpec {
            preset: Preset::Disabled,
            ..Default::default()
        };
        assert_eq!(gunicorn(Some(&disabled)), None);
    }

    #[test]
    fn celery_command_lists_only_set_limits() {
        let spec = CeleryWorkerProcessSpec {
            concurrency: Some(6),
            max_tasks_per_child: Some(50),
            ..Default::default()
        };
        assert_eq!(
            celery(Some(&spec)).command.join(" "),
            "celery --app=superset.tasks.celery_app:app worker --loglevel=INFO --pool=prefork -O fair \
             -c 6 --max-tasks-per-child=50 --prefetch-multiplier=4"
        );
        let disabled = CeleryWorkerProcessSpec {
            preset: Preset::Disabled,
            concurrency: Some(99),
            ..Default::default()
        };
        assert_eq!(
            celery(Some(&disabled)).command.join(" "),
            "celery --app=superset.tasks.celery_app:app worker --loglevel=INFO --pool=prefork -O fair \
             -c 4"
        );
    }

    #[test]
    fn the_largest_admitted_concurrency_does_not_overflow_the_pool() {
        let aggressive = SqlaEngineOptionsSpec {
            preset: Preset::Aggressive,
            ..Default::default()
        };
        let size = |user| match engine_options(Some(&aggressive), user) {
            Some(EngineOptions::QueuePool { pool_size, .. }) => pool_size,
            other => panic!("{other:?}"),
        };
        assert_eq!(size(PoolUser::WebServer { threads: i32::MAX }), i32::MAX);
        let threads = PoolUser::CeleryWorker {
            concurrency: i32::MAX,
            pool: CeleryPool::Threads,
        };
        assert_eq!(size(threads), i32::MAX);
    }

    #[test]
    fn pools_follow_process_concurrency() {
        let size = |spec: Option<&SqlaEngineOptionsSpec>, user| match engine_options(spec, user) {
            Some(EngineOptions::QueuePool { pool_size, .. }) => Some(pool_size),
            _ => None,
        };
        assert_eq!(size(None, PoolUser::WebServer { threads: 8 }), Some(8));
        assert_eq!(
            size(
                None,
                PoolUser::CeleryWorker {
                    concurrency: 8,
                    pool: CeleryPool::Prefork
                }
            ),
            Some(1)
        );
        assert_eq!(
            size(
                None,
                PoolUser::CeleryWorker {
                    concurrency: 8,
                    pool: CeleryPool::Threads
                }
            ),
            Some(8)
        );
        let aggressive = SqlaEngineOptionsSpec {
            preset: Preset::Aggressive,
            ..Default::default()
        };
        assert_eq!(size(Some(&aggressive), PoolUser::McpServer), Some(10));
        assert_eq!(
            engine_options(Some(&aggressive), PoolUser::Unpooled),
            Some(EngineOptions::NullPool)
        );
        let disabled = SqlaEngineOptionsSpec {
            preset: Preset::Disabled,
            ..Default::default()
        };
        assert_eq!(engine_options(Some(&disabled), PoolUser::Unpooled), None);
        let explicit = SqlaEngineOptionsSpec {
            pool_size: Some(3),
            ..Default::default()
        };
        assert_eq!(size(Some(&explicit), PoolUser::Light), Some(3));
    }
}

//! Rendering `superset_config.py`. Secrets never appear in the file: it reads them from the
//! `SUPERSET_OPERATOR__*` environment variables at start-up. Every string that comes from the
//! manifest is written as an escaped Python literal, so no value can break out of it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use superset_operator_api::superset::valkey::{CertRequired, ValkeyCacheSpec, ValkeySpec};

use crate::env::vars;

/// How the metastore URI is obtained.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetastoreMode {
    /// No metastore configured: the user's own config must set the URI.
    None,
    /// The whole URI is in one variable.
    Passthrough,
    /// The URI is assembled from parts at start-up; `scheme` is e.g. `postgresql+psycopg2`.
    Structured {
        /// SQLAlchemy dialect and driver.
        scheme: String,
    },
}

/// `SQLALCHEMY_ENGINE_OPTIONS` of one process type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineOptions {
    /// No pooling: each use opens and closes a connection.
    NullPool,
    /// A connection pool per process.
    QueuePool {
        /// Connections kept open.
        pool_size: i32,
        /// Connections above the pool size; -1 for unlimited.
        max_overflow: i32,
        /// Seconds before a connection is recycled; omitted when 0.
        pool_recycle: i32,
        /// Test connections before use.
        pool_pre_ping: bool,
        /// Seconds to wait for a connection; omitted when 0.
        pool_timeout: i32,
    },
}

/// Everything that goes into one component's or task's `superset_config.py`.
#[derive(Clone, Debug)]
pub struct PythonConfig<'a> {
    /// How the metastore URI is obtained.
    pub metastore: MetastoreMode,
    /// Whether `PREVIOUS_SECRET_KEY` is configured.
    pub previous_secret_key: bool,
    /// The web server's port (web server only).
    pub web_port: Option<i32>,
    /// Engine options, unless the preset is `disabled`.
    pub engine: Option<EngineOptions>,
    /// `FEATURE_FLAGS`.
    pub feature_flags: &'a BTreeMap<String, bool>,
    /// Valkey, if configured.
    pub valkey: Option<&'a ValkeySpec>,
    /// `spec.config`.
    pub base_config: Option<&'a str>,
    /// The component's (or lifecycle's) own `config`.
    pub component_config: Option<&'a str>,
}

/// A Valkey cache block, with its defaults.
struct CacheBlock {
    python_name: &'static str,
    database: i32,
    prefix: &'static str,
    timeout: i32,
    address: CacheAddress,
}

/// How a cache block names its server: the reader of each block accepts only one form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CacheAddress {
    /// `CACHE_REDIS_URL`, read by Flask-Caching.
    Url,
    /// `CACHE_REDIS_HOST`, `_PORT`, `_DB`, `_USER`, `_PASSWORD` and `_SSL*`: Superset's
    /// coordination backend ignores a URL and would lock on localhost without a password.
    Fields,
}

/// Picks one cache's settings out of the Valkey spec.
type CacheSelector = fn(&ValkeySpec) -> Option<&ValkeyCacheSpec>;

const CACHES: [(CacheBlock, CacheSelector); 6] = [
    (
        CacheBlock {
            python_name: "CACHE_CONFIG",
            database: 1,
            prefix: "superset_",
            timeout: 300,
            address: CacheAddress::Url,
        },
        |v| v.cache.as_ref(),
    ),
    (
        CacheBlock {
            python_name: "DATA_CACHE_CONFIG",
            database: 2,
            prefix: "superset_data_",
            timeout: 86400,
            address: CacheAddress::Url,
        },
        |v| v.data_cache.as_ref(),
    ),
    (
        CacheBlock {
            python_name: "FILTER_STATE_CACHE_CONFIG",
            database: 3,
            prefix: "superset_filter_",
            timeout: 3600,
            address: CacheAddress::Url,
        },
        |v| v.filter_state_cache.as_ref(),
    ),
    (
        CacheBlock {
            python_name: "EXPLORE_FORM_DATA_CACHE_CONFIG",
            database: 4,
            prefix: "superset_explore_",
            timeout: 3600,
            address: CacheAddress::Url,
        },
        |v| v.explore_form_data_cache.as_ref(),
    ),
    (
        CacheBlock {
            python_name: "THUMBNAIL_CACHE_CONFIG",
            database: 5,
            prefix: "superset_thumbnail_",
            timeout: 3600,
            address: CacheAddress::Url,
        },
        |v| v.thumbnail_cache.as_ref(),
    ),
    (
        CacheBlock {
            python_name: "DISTRIBUTED_COORDINATION_CONFIG",
            database: 7,
            prefix: "coordination_",
            timeout: 300,
            address: CacheAddress::Fields,
        },
        |v| v.distributed_coordination.as_ref(),
    ),
];
const RESULTS_DATABASE: i32 = 6;
const RESULTS_PREFIX: &str = "superset_results_";
const CELERY_DATABASE: i32 = 0;
const CELERY_PREFIX: &str = "celery_";

/// Renders the file.
pub fn render(config: &PythonConfig<'_>) -> String {
    let valkey = config.valkey;
    let results = valkey.filter(|v| {
        v.results_backend
            .as_ref()
            .is_none_or(|r| r.disabled != Some(true))
    });
    let structured = matches!(config.metastore, MetastoreMode::Structured { .. });

    let mut out = String::from(
        "# Rendered by the Superset operator from the Superset resource; edits here are overwritten.\n",
    );
    out.push_str("import os\n");
    if structured || valkey.is_some() {
        out.push_str("from urllib.parse import quote\n");
    }
    if results.is_some() {
        out.push_str("from cachelib.redis import RedisCache as _CachelibRedis\n");
    }
    if config.engine == Some(EngineOptions::NullPool) {
        out.push_str("from sqlalchemy.pool import NullPool\n");
    }
    let _ = write!(
        out,
        "\n_instance = os.environ.get(\"{instance}\", \"\")\n\n\n\
         def _prefixed(prefix):\n    \
         \"\"\"Cache keys of this instance, so that instances can share one Valkey.\"\"\"\n    \
         return f\"{{_instance}}_{{prefix}}\" if _instance else prefix\n\n\n",
        instance = vars::INSTANCE_NAME,
    );

    render_core(&mut out, config);
    if let Some(engine) = &config.engine {
        render_engine(&mut out, engine);
    }
    if !config.feature_flags.is_empty() {
        out.push_str("FEATURE_FLAGS = {\n");
        for (flag, enabled) in config.feature_flags {
            let _ = writeln!(out, "    {}: {},", py_str(flag), py_bool(*enabled));
        }
        out.push_str("}\n\n");
    }
    if let Some(valkey) = valkey {
        render_valkey(&mut out, valkey, results.is_some());
    }
    for (header, text) in [
        ("Base config (spec.config)", config.base_config),
        ("Component config", config.component_config),
    ] {
        if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
            let _ = writeln!(out, "# {header}");
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
        }
    }
    if valkey.is_some_and(|v| {
        v.distributed_coordination
            .as_ref()
            .is_none_or(|c| c.disabled != Some(true))
    }) {
        out.push_str(PREFIXED_LOCKS);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Superset 6.1 takes its Redis locks (`lock:<namespace>:<key>`: one shared task, one user's
/// OAuth2 token refresh) with the coordination backend's raw client, which ignores
/// `CACHE_KEY_PREFIX`, so two instances sharing a Valkey would hold each other's locks. An
/// app mutator puts the instance's prefix in front. It comes after the user's config and
/// calls a `FLASK_APP_MUTATOR` of theirs too.
const PREFIXED_LOCKS: &str = r#"# Superset's Redis locks with this instance's prefix (they ignore CACHE_KEY_PREFIX)
def _prefix_locks():
    try:
        from superset.commands.distributed_lock.base import BaseDistributedLockCommand as _Lock
    except ImportError:  # before Superset 6.0, no distributed locks
        return
    # Superset 6.0's locks live in the metastore: no Redis key to prefix.
    unprefixed = getattr(getattr(_Lock, "redis_lock_key", None), "fget", None)
    if unprefixed is None or getattr(unprefixed, "instance_prefixed", False):
        return
    prefix = DISTRIBUTED_COORDINATION_CONFIG["CACHE_KEY_PREFIX"]

    def prefixed(self):
        return prefix + unprefixed(self)

    prefixed.instance_prefixed = True
    _Lock.redis_lock_key = property(prefixed)


def _with_prefixed_locks(user_mutator):
    def mutate(app):
        _prefix_locks()
        return user_mutator(app) if user_mutator else None

    return mutate


FLASK_APP_MUTATOR = _with_prefixed_locks(globals().get("FLASK_APP_MUTATOR"))
"#;

fn env_required(name: &str) -> String {
    format!("os.environ[\"{name}\"]")
}

fn render_core(out: &mut String, config: &PythonConfig<'_>) {
    out.push_str("# Secrets and connections, from the operator's environment variables\n");
    let _ = writeln!(out, "SECRET_KEY = {}", env_required(vars::SECRET_KEY));
    if config.previous_secret_key {
        let _ = writeln!(
            out,
            "PREVIOUS_SECRET_KEY = os.environ.get(\"{}\")",
            vars::PREVIOUS_SECRET_KEY
        );
    }
    match &config.metastore {
        MetastoreMode::None => {}
        MetastoreMode::Passthrough => {
            let _ = writeln!(
                out,
                "SQLALCHEMY_DATABASE_URI = {}",
                env_required(vars::DB_URI)
            );
        }
        MetastoreMode::Structured { scheme } => {
            let _ = writeln!(
                out,
                "_db_pass = os.environ.get(\"{}\", \"\")",
                vars::DB_PASS
            );
            // A password-less user (IAM, trust auth) gets no `:` in the URI.
            let _ = writeln!(
                out,
                "_db_cred = quote({}, safe=\"\") + (\":\" + quote(_db_pass, safe=\"\") if _db_pass else \"\")",
                env_required(vars::DB_USER)
            );
            let _ = writeln!(
                out,
                "SQLALCHEMY_DATABASE_URI = {scheme} + \"://\" + _db_cred + \"@\" + {host} + \":\" + {port} + \"/\" + quote({name}, safe=\"\")",
                scheme = py_str(scheme),
                host = env_required(vars::DB_HOST),
                port = env_required(vars::DB_PORT),
                name = env_required(vars::DB_NAME),
            );
        }
    }
    if config.metastore != MetastoreMode::None {
        out.push_str("SQLALCHEMY_EXAMPLES_URI = SQLALCHEMY_DATABASE_URI\n");
    }
    if let Some(port) = config.web_port {
        let _ = writeln!(out, "SUPERSET_WEBSERVER_PORT = {port}");
    }
    out.push('\n');
}

fn render_engine(out: &mut String, engine: &EngineOptions) {
    out.push_str("SQLALCHEMY_ENGINE_OPTIONS = {\n");
    match engine {
        EngineOptions::NullPool => out.push_str("    \"poolclass\": NullPool,\n"),
        EngineOptions::QueuePool {
            pool_size,
            max_overflow,
            pool_recycle,
            pool_pre_ping,
            pool_timeout,
        } => {
            let _ = writeln!(out, "    \"pool_size\": {pool_size},");
            let _ = writeln!(out, "    \"max_overflow\": {max_overflow},");
            if *pool_recycle > 0 {
                let _ = writeln!(out, "    \"pool_recycle\": {pool_recycle},");
            }
            let _ = writeln!(out, "    \"pool_pre_ping\": {},", py_bool(*pool_pre_ping));
            if *pool_timeout > 0 {
                let _ = writeln!(out, "    \"pool_timeout\": {pool_timeout},");
            }
        }
    }
    out.push_str("}\n\n");
}

/// TLS options for redis-py and Celery, whenever TLS is on: Celery's Redis result backend
/// refuses a `rediss://` URL without `ssl_cert_reqs`.
fn ssl_options(valkey: &ValkeySpec) -> Option<Vec<(&'static str, String)>> {
    let ssl = valkey.ssl.as_ref()?;
    let mode = match ssl.cert_required {
        CertRequired::Required => "required",
        CertRequired::Optional => "optional",
        CertRequired::None => "none",
    };
    let files = [
        ("ssl_keyfile", &ssl.key_file),
        ("ssl_certfile", &ssl.cert_file),
        ("ssl_ca_certs", &ssl.ca_cert_file),
    ];
    let mut options = vec![("ssl_cert_reqs", py_str(mode))];
    options.extend(
        files
            .into_iter()
            .filter_map(|(key, path)| path.as_deref().map(|p| (key, py_str(p)))),
    );
    Some(options)
}

fn render_valkey(out: &mut String, valkey: &ValkeySpec, results_backend: bool) {
    out.push_str("# Valkey: caches, Celery and SQL Lab results\n");
    let _ = writeln!(out, "_vk_host = {}", env_required(vars::VALKEY_HOST));
    let _ = writeln!(out, "_vk_port = {}", env_required(vars::VALKEY_PORT));
    let _ = writeln!(
        out,
        "_vk_user = os.environ.get(\"{}\", \"\")",
        vars::VALKEY_USER
    );
    let _ = writeln!(
        out,
        "_vk_pass = os.environ.get(\"{}\", \"\")",
        vars::VALKEY_PASS
    );
    let _ = writeln!(
        out,
        "_vk_scheme = {}",
        py_str(if valkey.ssl.is_some() {
            "rediss"
        } else {
            "redis"
        })
    );
    out.push_str(
        "_vk_auth = (quote(_vk_user, safe=\"\") + \":\" + quote(_vk_pass, safe=\"\") + \"@\") if (_vk_user or _vk_pass) else \"\"\n",
    );
    out.push_str("_vk_base = _vk_scheme + \"://\" + _vk_auth + _vk_host + \":\" + _vk_port\n");
    let ssl = ssl_options(valkey);
    if let Some(options) = &ssl {
        out.push_str("_vk_ssl_opts = {\n");
        for (key, value) in options {
            let _ = writeln!(out, "    \"{key}\": {value},");
        }
        out.push_str("}\n");
    }
    out.push('\n');

    for (block, select) in CACHES {
        let spec = select(valkey).cloned().unwrap_or_default();
        if spec.disabled == Some(true) {
            continue;
        }
        let _ = writeln!(out, "{} = {{", block.python_name);
        out.push_str("    \"CACHE_TYPE\": \"RedisCache\",\n");
        let _ = writeln!(
            out,
            "    \"CACHE_DEFAULT_TIMEOUT\": {},",
            spec.default_timeout.unwrap_or(block.timeout)
        );
        let prefix = spec.key_prefix.as_deref().unwrap_or(block.prefix);
        let _ = writeln!(
            out,
            "    \"CACHE_KEY_PREFIX\": _prefixed({}),",
            py_str(prefix)
        );
        let database = spec.database.unwrap_or(block.database);
        match block.address {
            CacheAddress::Url => render_cache_url(out, database, ssl.is_some()),
            CacheAddress::Fields => render_cache_fields(out, database, ssl.as_deref()),
        }
        out.push_str("}\n\n");
    }

    let celery_db = |spec: &Option<superset_operator_api::superset::valkey::ValkeyCelerySpec>| {
        let spec = spec.clone().unwrap_or_default();
        (spec.disabled != Some(true)).then(|| spec.database.unwrap_or(CELERY_DATABASE))
    };
    let broker = celery_db(&valkey.celery_broker);
    let backend = celery_db(&valkey.celery_result_backend);
    if broker.is_some() || backend.is_some() {
        render_celery(out, broker, backend, ssl.is_some());
    }

    if results_backend {
        let spec = valkey.results_backend.clone().unwrap_or_default();
        out.push_str("RESULTS_BACKEND = _CachelibRedis(\n");
        out.push_str("    host=_vk_host,\n    port=int(_vk_port),\n");
        out.push_str("    username=_vk_user or None,\n    password=_vk_pass or None,\n");
        let _ = writeln!(out, "    db={},", spec.database.unwrap_or(RESULTS_DATABASE));
        let _ = writeln!(
            out,
            "    key_prefix=_prefixed({}),",
            py_str(spec.key_prefix.as_deref().unwrap_or(RESULTS_PREFIX))
        );
        if valkey.ssl.is_some() {
            out.push_str("    ssl=True,\n");
        }
        if ssl.is_some() {
            out.push_str("    **_vk_ssl_opts,\n");
        }
        out.push_str(")\n\n");
    }
}

fn render_cache_url(out: &mut String, database: i32, ssl: bool) {
    let _ = writeln!(out, "    \"CACHE_REDIS_URL\": _vk_base + \"/{database}\",");
    if ssl {
        out.push_str("    \"CACHE_OPTIONS\": _vk_ssl_opts,\n");
    }
}

fn render_cache_fields(out: &mut String, database: i32, ssl: Option<&[(&'static str, String)]>) {
    out.push_str("    \"CACHE_REDIS_HOST\": _vk_host,\n");
    out.push_str("    \"CACHE_REDIS_PORT\": int(_vk_port),\n");
    let _ = writeln!(out, "    \"CACHE_REDIS_DB\": {database},");
    out.push_str("    \"CACHE_REDIS_USER\": _vk_user or None,\n");
    out.push_str("    \"CACHE_REDIS_PASSWORD\": _vk_pass or None,\n");
    if let Some(options) = ssl {
        out.push_str("    \"CACHE_REDIS_SSL\": True,\n");
        for (key, value) in options {
            let field = key.trim_start_matches("ssl_").to_uppercase();
            let _ = writeln!(out, "    \"CACHE_REDIS_SSL_{field}\": {value},");
        }
    }
}

/// Superset's own `CeleryConfig` (its task modules, the Alerts & Reports beat schedule, rate
/// limits) extended with this instance's broker and result backend. Every Celery key and
/// channel carries the instance's prefix, so that instances sharing one Valkey never take
/// each other's tasks or results.
fn render_celery(out: &mut String, broker: Option<i32>, backend: Option<i32>, ssl: bool) {
    out.push_str(
        "try:\n    from superset.config import CeleryConfig as _SupersetCeleryConfig\n\
         except ImportError:  # read outside Superset, e.g. by a config check\n    \
         _SupersetCeleryConfig = object\n\n\n",
    );
    out.push_str("class CeleryConfig(_SupersetCeleryConfig):\n");
    let prefix = format!("_prefixed({})", py_str(CELERY_PREFIX));
    let ends = [
        (
            broker,
            "broker_url",
            "broker_transport_options",
            "broker_use_ssl",
        ),
        (
            backend,
            "result_backend",
            "result_backend_transport_options",
            "redis_backend_use_ssl",
        ),
    ];
    for (database, url, transport_options, ssl_options) in ends {
        let Some(db) = database else { continue };
        let _ = writeln!(out, "    {url} = _vk_base + \"/{db}\"");
        let _ = writeln!(
            out,
            "    {transport_options} = {{\"global_keyprefix\": {prefix}}}"
        );
        if ssl {
            let _ = writeln!(out, "    {ssl_options} = _vk_ssl_opts");
        }
    }
    out.push_str("\n\nCELERY_CONFIG = CeleryConfig\n\n");
}

/// A Python string literal that evaluates to exactly `text`, whatever it contains.
pub fn py_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn py_bool(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

//! Lifecycle tasks: which run, their commands, and the checksum chain that decides when each
//! runs again.

use std::collections::BTreeMap;

use serde::Serialize;
use superset_operator_api::SupersetSpec;
use superset_operator_api::duration::Timeout;
use superset_operator_api::superset::lifecycle::{SeedSourceSpec, SeedTaskSpec, TaskSpec};
use superset_operator_api::superset::metastore::DatabaseType;
use superset_operator_api::task::TaskType;

use crate::checksum;
use crate::env::{CONFIG_DIR, vars};
use crate::shell::quote;

/// The tasks that run, in pipeline order, with their settings.
pub fn enabled_tasks(spec: &SupersetSpec) -> Vec<(TaskType, TaskSpec)> {
    let Some(lifecycle) = spec.lifecycle.as_deref() else {
        return vec![
            (TaskType::Migrate, TaskSpec::default_enabled()),
            (TaskType::Init, TaskSpec::default_enabled()),
        ];
    };
    if lifecycle.disabled == Some(true) {
        return Vec::new();
    }
    let candidates = [
        (
            TaskType::Seed,
            lifecycle.seed.as_ref().map(|s| s.task.clone()),
        ),
        (
            TaskType::Migrate,
            Some(
                lifecycle
                    .migrate
                    .as_ref()
                    .map(|m| m.task.clone())
                    .unwrap_or_else(TaskSpec::default_enabled),
            ),
        ),
        (
            TaskType::Rotate,
            lifecycle.rotate.as_ref().map(|r| r.task.clone()),
        ),
        (
            TaskType::Init,
            Some(
                lifecycle
                    .init
                    .as_ref()
                    .map(|i| i.task.clone())
                    .unwrap_or_else(TaskSpec::default_enabled),
            ),
        ),
    ];
    candidates
        .into_iter()
        .filter_map(|(task, settings)| settings.map(|s| (task, s)))
        .filter(|(_, settings)| settings.disabled != Some(true))
        .collect()
}

trait DefaultEnabled {
    fn default_enabled() -> Self;
}

impl DefaultEnabled for TaskSpec {
    fn default_enabled() -> Self {
        TaskSpec {
            max_retries: 3,
            ..Default::default()
        }
    }
}

/// The rotate task's script, beside its `superset_config.py`: `superset re-encrypt-secrets`
/// of Superset 6.0 and 6.1 re-encrypts nothing (see the script).
pub const ROTATE_SCRIPT_FILE: &str = "superset_rotate_secrets.py";
/// Its text.
pub const ROTATE_SCRIPT: &str = include_str!("rotate_secrets.py");

fn sh(script: String) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script]
}

/// The task's command: the user's when set, else the default.
pub fn command(spec: &SupersetSpec, task: TaskType, settings: &TaskSpec) -> Vec<String> {
    if !settings.command.is_empty() {
        return settings.command.clone();
    }
    match task {
        TaskType::Migrate => sh("superset db upgrade".into()),
        TaskType::Rotate => sh(format!("python {CONFIG_DIR}/{ROTATE_SCRIPT_FILE}")),
        TaskType::Init => sh(init_script(spec)),
        TaskType::Seed => {
            let seed = spec
                .lifecycle
                .as_ref()
                .and_then(|l| l.seed.as_ref())
                .expect("seed is enabled");
            sh(seed_script(seed))
        }
    }
}

/// The attempt timeout of a task whose `timeout` is unset, where the general default (5m)
/// is too short: loading the examples alone takes about five minutes on two cores.
pub fn default_timeout(spec: &SupersetSpec, task: TaskType) -> Option<Timeout> {
    (task == TaskType::Init && loads_examples(spec))
        .then(|| Timeout::new(LOAD_EXAMPLES_TIMEOUT).expect("30m is a valid timeout"))
}

const LOAD_EXAMPLES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

fn loads_examples(spec: &SupersetSpec) -> bool {
    spec.lifecycle
        .as_ref()
        .and_then(|l| l.init.as_ref())
        .is_some_and(|i| i.load_examples == Some(true))
}

fn init_script(spec: &SupersetSpec) -> String {
    let init = spec.lifecycle.as_ref().and_then(|l| l.init.as_ref());
    let mut steps = vec!["superset init".to_owned()];
    if init.is_some_and(|i| i.admin_user.is_some()) {
        // Creating an admin that already exists fails; that is fine on a re-run.
        steps.push(format!(
            "(superset fab create-admin --username \"${}\" --password \"${}\" --firstname \"${}\" \
             --lastname \"${}\" --email \"${}\" || true)",
            vars::ADMIN_USERNAME,
            vars::ADMIN_PASSWORD,
            vars::ADMIN_FIRST_NAME,
            vars::ADMIN_LAST_NAME,
            vars::ADMIN_EMAIL
        ));
    }
    if loads_examples(spec) {
        steps.push("superset load-examples".into());
    }
    steps.join(" && ")
}

/// Copies the seed source into the metastore with the database's own client tools. Hosts,
/// users, passwords and database names come from environment variables; table names and SQL
/// are shell-quoted.
fn seed_script(seed: &SeedTaskSpec) -> String {
    let source = &seed.source;
    // pipefail: a failed dump must fail the task, not leave an empty metastore behind.
    let mut lines = vec!["set -eu".to_owned(), "set -o pipefail".to_owned()];
    match source.type_ {
        DatabaseType::PostgreSQL => {
            let target = format!(
                "-h \"${}\" -p \"${}\" -U \"${}\"",
                vars::DB_HOST,
                vars::DB_PORT,
                vars::DB_USER
            );
            lines.push(format!("export PGPASSWORD=\"${{{}:-}}\"", vars::DB_PASS));
            lines.push(format!(
                "dropdb --if-exists {target} \"${}\"",
                vars::DB_NAME
            ));
            lines.push(format!("createdb {target} \"${}\"", vars::DB_NAME));
            let mut dump = format!(
                "PGPASSWORD=\"${{{pass}:-}}\" pg_dump --no-owner --no-privileges -h \"${host}\" -p \"${port}\" -U \"${user}\"",
                pass = vars::SEED_SRC_PASS,
                host = vars::SEED_SRC_HOST,
                port = vars::SEED_SRC_PORT,
                user = vars::SEED_SRC_USER,
            );
            for table in &seed.exclude_tables {
                dump.push_str(&format!(" --exclude-table={}", quote(table)));
            }
            for table in &seed.exclude_table_data {
                dump.push_str(&format!(" --exclude-table-data={}", quote(table)));
            }
            lines.push(format!(
                "{dump} \"${}\" | psql -v ON_ERROR_STOP=1 -q {target} \"${}\"",
                vars::SEED_SRC_DB,
                vars::DB_NAME
            ));
            for sql in &seed.post_seed_sql {
                lines.push(format!(
                    "psql -v ON_ERROR_STOP=1 {target} \"${}\" -c {}",
                    vars::DB_NAME,
                    quote(sql)
                ));
            }
        }
        DatabaseType::MySQL => {
            let target = format!(
                "-h \"${}\" -P \"${}\" -u \"${}\"",
                vars::DB_HOST,
                vars::DB_PORT,
                vars::DB_USER
            );
            let source_conn = format!(
                "-h \"${}\" -P \"${}\" -u \"${}\"",
                vars::SEED_SRC_HOST,
                vars::SEED_SRC_PORT,
                vars::SEED_SRC_USER
            );
            // Passwords go through MYSQL_PWD, never the command line.
            let as_target = format!("MYSQL_PWD=\"${{{}:-}}\"", vars::DB_PASS);
            let as_source = format!("MYSQL_PWD=\"${{{}:-}}\"", vars::SEED_SRC_PASS);
            lines.push(format!(
                "db=$(printf '%s' \"${}\" | sed 's/`/``/g')",
                vars::DB_NAME
            ));
            lines.push(format!(
                "{as_target} mysql {target} -e \"DROP DATABASE IF EXISTS \\`$db\\`; CREATE DATABASE \\`$db\\`\""
            ));
            let ignored = |tables: &[String]| -> String {
                tables
                    .iter()
                    .map(|t| format!(" --ignore-table=\"${}\".{}", vars::SEED_SRC_DB, quote(t)))
                    .collect()
            };
            let mut excluded = seed.exclude_tables.clone();
            excluded.extend(seed.exclude_table_data.iter().cloned());
            lines.push(format!(
                "{as_source} mysqldump --single-transaction --routines --triggers {source_conn}{} \"${}\" | {as_target} mysql {target} \"${}\"",
                ignored(&excluded),
                vars::SEED_SRC_DB,
                vars::DB_NAME
            ));
            if !seed.exclude_table_data.is_empty() {
                let tables: Vec<String> =
                    seed.exclude_table_data.iter().map(|t| quote(t)).collect();
                lines.push(format!(
                    "{as_source} mysqldump --no-data {source_conn} \"${}\" {} | {as_target} mysql {target} \"${}\"",
                    vars::SEED_SRC_DB,
                    tables.join(" "),
                    vars::DB_NAME
                ));
            }
            for sql in &seed.post_seed_sql {
                lines.push(format!(
                    "{as_target} mysql {target} \"${}\" -e {}",
                    vars::DB_NAME,
                    quote(sql)
                ));
            }
        }
    }
    lines.join("\n")
}

/// One link of the checksum chain: a task runs again when its checksum differs from the one it
/// last completed with. Each link hashes the previous one, so a re-run cascades downstream.
#[derive(Serialize)]
struct Link<'a, E: Serialize> {
    incoming: &'a str,
    task: TaskType,
    command: &'a [String],
    trigger: Option<&'a str>,
    inputs: E,
}

/// What each task's checksum covers besides its command and trigger.
#[derive(Serialize)]
#[serde(untagged)]
pub enum ChainInputs<'a> {
    /// Seed: what is copied and how (not pod settings such as timeouts), the client image,
    /// the Superset image it seeds for, and the cron tick it runs for.
    Seed {
        /// The source database.
        source: &'a SeedSourceSpec,
        /// Tables not copied.
        exclude_tables: &'a [String],
        /// Tables copied without rows.
        exclude_table_data: &'a [String],
        /// SQL run after the copy.
        post_seed_sql: &'a [String],
        /// `repository:tag` of the seed image.
        image: String,
        /// `repository:tag` of the Superset image.
        superset_image: String,
        /// The cron tick this run belongs to (RFC 3339), if scheduled.
        tick: Option<&'a str>,
    },
    /// Migrate: the image (an upgrade re-runs it), the bootstrap script, database creation.
    Migrate {
        /// `repository:tag`.
        image: String,
        /// The tags of components that run Superset's code under a tag of their own
        /// (`<component>.image.tag`, when it differs from the lifecycle image's), by component:
        /// a new one is new code, which must not run before the components are drained and the
        /// schema migrated. Left out when empty, so that checksums without one stay as they were.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        component_images: BTreeMap<&'static str, String>,
        /// The sourced bootstrap script.
        bootstrap: Option<&'a str>,
        /// Whether the database is created first.
        create_database: bool,
    },
    /// Rotate: the image and both keys' sources.
    Rotate {
        /// `repository:tag`.
        image: String,
        /// Hash of the key inputs (references, or inline Development values).
        keys: String,
    },
    /// Init: the image and what init reads (its rendered config and environment), not the
    /// components' tuning, so Gunicorn or Celery changes do not re-run it.
    Init {
        /// `repository:tag`.
        image: String,
        /// Hash of the rendered task config and environment.
        config: String,
    },
}

/// The checksum of one task given the previous link (the parent's UID for the first).
pub fn chain_checksum(
    incoming: &str,
    task: TaskType,
    command: &[String],
    settings: &TaskSpec,
    inputs: ChainInputs<'_>,
) -> String {
    checksum::of_json(&Link {
        incoming,
        task,
        command,
        trigger: settings.trigger.as_deref(),
        inputs,
    })
}

/// The annotation that approves a supervised upgrade.
pub const APPROVE_UPGRADE: &str = "superset.apache.org/approve-upgrade";

/// The token that approves the upgrade from image `from` to image `to` (both
/// `repository:tag`). It is derived from both, so approving one upgrade never approves another.
pub fn approval_token(from: &str, to: &str) -> String {
    let hash = checksum::of_json(&("approve-upgrade", from, to));
    hash.trim_start_matches("sha256:")[..16].to_owned()
}

/// The tag of a `repository:tag` image reference.
pub fn tag_of(image: &str) -> &str {
    image.rsplit_once(':').map_or(image, |(_, tag)| tag)
}

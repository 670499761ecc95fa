//! `superset-operator`: the operator's command line.

#![forbid(unsafe_code)]

mod bundle;
mod install;
mod migrate_helm;
mod preview;
mod run;
mod serve;

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use superset_operator_controller::Tuning;

#[derive(Parser)]
#[command(
    name = "superset-operator",
    version,
    about = "Runs Apache Superset on Kubernetes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controllers until SIGTERM.
    Run {
        /// Watch only this namespace (repeat for several); every namespace when absent.
        #[arg(
            long = "namespace",
            env = "SUPERSET_OPERATOR_NAMESPACES",
            value_delimiter = ','
        )]
        namespaces: Vec<String>,
        /// Log format.
        #[arg(long, env = "SUPERSET_OPERATOR_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
        /// Log filter, as for `RUST_LOG` (for example `info` or `superset_operator_controller=debug`).
        #[arg(long, env = "SUPERSET_OPERATOR_LOG", default_value = "info")]
        log_level: String,
        /// Address of the Prometheus endpoint `/metrics`.
        #[arg(
            long,
            env = "SUPERSET_OPERATOR_METRICS_ADDRESS",
            default_value = "0.0.0.0:8080"
        )]
        metrics_address: SocketAddr,
        /// Address of the probes `/healthz` and `/readyz` (may equal the metrics address).
        #[arg(
            long,
            env = "SUPERSET_OPERATOR_PROBE_ADDRESS",
            default_value = "0.0.0.0:8081"
        )]
        probe_address: SocketAddr,
        /// Hold a Lease before reconciling, so that only one of several replicas acts.
        #[arg(long, env = "SUPERSET_OPERATOR_LEADER_ELECT")]
        leader_elect: bool,
        /// Namespace of the Lease (default: the operator's own namespace).
        #[arg(long, env = "SUPERSET_OPERATOR_LEADER_ELECTION_NAMESPACE")]
        leader_election_namespace: Option<String>,
        /// Name of the Lease.
        #[arg(
            long,
            env = "SUPERSET_OPERATOR_LEADER_ELECTION_ID",
            default_value = "superset-operator"
        )]
        leader_election_id: String,
        /// Seconds the lease stays valid without renewal: a standby takes over within this.
        #[arg(long, env = "SUPERSET_OPERATOR_LEASE_DURATION", default_value_t = 15)]
        lease_duration: u64,
        /// Seconds before expiry the leader renews its lease.
        #[arg(long, env = "SUPERSET_OPERATOR_LEASE_RENEW_GRACE", default_value_t = 5)]
        lease_renew_grace: u64,
        /// Name of the Secret holding the key that secret data is hashed with before it is
        /// published in pod annotations; made with a random key when absent.
        #[arg(
            long,
            env = "SUPERSET_OPERATOR_DATA_KEY_SECRET",
            default_value = superset_operator_controller::data_key::SECRET
        )]
        data_key_secret: String,
        /// Namespace of that Secret (default: the operator's own namespace).
        #[arg(long, env = "SUPERSET_OPERATOR_DATA_KEY_NAMESPACE")]
        data_key_namespace: Option<String>,
        /// Reconciles each controller runs at once (at least 1).
        #[arg(
            long,
            env = "SUPERSET_OPERATOR_MAX_CONCURRENT_RECONCILES",
            default_value_t = Tuning::default().concurrency,
            value_parser = clap::value_parser!(u16).range(1..)
        )]
        max_concurrent_reconciles: u16,
        /// Milliseconds an object's triggers must be quiet before it is reconciled (0: none).
        #[arg(
            long,
            env = "SUPERSET_OPERATOR_RECONCILE_DEBOUNCE_MS",
            default_value_t = Tuning::default().debounce.as_millis() as u64
        )]
        reconcile_debounce_ms: u64,
    },
    /// Print the CustomResourceDefinitions as multi-document YAML (`| kubectl apply -f -`).
    Crd,
    /// Print the install manifest: CRDs, RBAC, the operator's Deployment and metrics Service.
    Install,
    /// Print the operator's version and the Superset versions it supports.
    Version,
    /// Write the generated install artefacts into the repository (`make generate`).
    #[command(hide = true)]
    Generate {
        /// Repository root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Fail, naming them, when checked-in files differ instead of writing.
        #[arg(long)]
        check: bool,
    },
    /// Translate a values file of the Superset Helm chart into a `Superset` manifest, with the
    /// Secrets it reads and every value it could not map as comments at the top.
    MigrateHelm {
        /// The Helm values file (`-` for standard input).
        #[arg(short = 'f', long = "values")]
        file: PathBuf,
        /// Name of the `Superset`.
        #[arg(long, default_value = "superset")]
        name: String,
        /// Namespace written into the manifest.
        #[arg(short, long)]
        namespace: Option<String>,
        /// The Helm release's name, from which the chart named its Secrets (default: --name).
        #[arg(long)]
        release: Option<String>,
        /// Admission strictness of the `Superset`; only Development keeps the admin user and
        /// example data. Credentials are never copied.
        #[arg(long, default_value = "Production", value_parser = ["Development", "Staging", "Production"])]
        environment: String,
    },
    /// Print every child resource and ConfigMap the operator would create for a manifest,
    /// without a cluster. Invalid manifests are reported with the field to fix.
    Render {
        /// The manifest (`-` for standard input); it may hold several Supersets.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// Namespace for Supersets whose manifest names none.
        #[arg(short, long, default_value = "default")]
        namespace: String,
    },
}

/// Worker threads get deep stacks: reconciles hold whole Superset objects, and unoptimised
/// builds keep every async frame on the stack.
const WORKER_STACK: usize = 16 << 20;

/// The namespace the operator runs in: `POD_NAMESPACE`, else the service account's, else
/// `default`.
fn own_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok()
        })
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// This replica's identity: `POD_NAME`, else the host name and process ID.
fn identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "superset-operator".into());
        format!("{host}-{}", std::process::id())
    })
}

/// Reads a file, or standard input for `-`.
fn read_input(file: &std::path::Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    }
}

fn migrate_helm_command(
    file: &std::path::Path,
    name: String,
    namespace: Option<String>,
    release: Option<String>,
    environment: &str,
) -> anyhow::Result<()> {
    let values = read_input(file)?;
    let options = migrate_helm::Options {
        release: release.unwrap_or_else(|| name.clone()),
        name,
        namespace,
        environment: serde_json::from_value(serde_json::json!(environment))
            .context("parsing --environment")?,
    };
    let migration = migrate_helm::migrate(&values, &options)
        .with_context(|| format!("migrating {}", file.display()))?;
    let manifest = migrate_helm::manifest(&migration, &file.display().to_string())?;
    // The same checks `render` and the API server apply: never print a manifest that would be
    // rejected.
    preview::render(&manifest, options.namespace.as_deref().unwrap_or("default")).map_err(
        |error| {
            anyhow::anyhow!(
                "the migrated manifest does not pass validation (please report this): {error}"
            )
        },
    )?;
    print!("{manifest}");
    let to_create = migration.secrets.iter().filter(|s| s.create).count();
    eprintln!(
        "{} values not mapped, {} Secret keys to create: see the comments at the top of the manifest",
        migration.unmapped.len(),
        to_create
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run {
            namespaces,
            log_format,
            log_level,
            metrics_address,
            probe_address,
            leader_elect,
            leader_election_namespace,
            leader_election_id,
            lease_duration,
            lease_renew_grace,
            data_key_secret,
            data_key_namespace,
            max_concurrent_reconciles,
            reconcile_debounce_ms,
        } => {
            let mut filter = tracing_subscriber::EnvFilter::try_new(&log_level)
                .context("parsing --log-level")?;
            // kube's client logs a whole response body it cannot decode as a warning: a
            // Secret's data, or a Superset's inline values. Unless asked for by name, only its
            // errors are logged (each failure still reaches the log through the controllers).
            if !log_level.contains("kube_client") {
                filter = filter.add_directive(
                    "kube_client::client=error"
                        .parse()
                        .expect("a valid directive"),
                );
            }
            let logs = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            if log_format == "json" {
                logs.json().init();
            } else {
                logs.init();
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .thread_stack_size(WORKER_STACK)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let leader_election = leader_elect.then(|| run::LeaderElection {
                namespace: leader_election_namespace.unwrap_or_else(own_namespace),
                lease: leader_election_id,
                identity: identity(),
                duration: lease_duration,
                grace: lease_renew_grace,
            });
            runtime.block_on(run::run(run::Options {
                // OLM's AllNamespaces mode passes an empty list.
                namespaces: namespaces
                    .into_iter()
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect(),
                metrics_address,
                probe_address,
                leader_election,
                data_key: run::DataKeySecret {
                    namespace: data_key_namespace.unwrap_or_else(own_namespace),
                    name: data_key_secret,
                },
                tuning: Tuning {
                    concurrency: max_concurrent_reconciles,
                    debounce: std::time::Duration::from_millis(reconcile_debounce_ms),
                },
            }))?;
        }
        Command::Crd => print!("{}", superset_operator_api::generated::all_crds_yaml()?),
        Command::Install => print!("{}", install::install_manifest()?),
        Command::Version => println!(
            "superset-operator {}\nsupported Superset versions: {} (other tags get VersionSupported=False; annotate custom images with {}: \"true\")",
            env!("CARGO_PKG_VERSION"),
            superset_operator_render::versions::describe_range(),
            superset_operator_render::versions::DECLARED_SUPPORTED,
        ),
        Command::Generate { root, check } => install::generate(&root, check)?,
        Command::MigrateHelm {
            file,
            name,
            namespace,
            release,
            environment,
        } => migrate_helm_command(&file, name, namespace, release, &environment)?,
        Command::Render { file, namespace } => {
            let yaml = read_input(&file)?;
            match preview::render(&yaml, &namespace) {
                Ok(rendered) => print!("{rendered}"),
                Err(error) => {
                    eprintln!("error: {}: {error}", file.display());
                    std::process::exit(1);
                }
            }
        }
    }
    Ok(())
}

//! `superset-operator`: the operator's command line.

#![forbid(unsafe_code)]

mod preview;
mod run;

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

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
    },
    /// Print the CustomResourceDefinitions as multi-document YAML (`| kubectl apply -f -`).
    Crd,
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

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run {
            namespaces,
            log_format,
            log_level,
        } => {
            let filter = tracing_subscriber::EnvFilter::try_new(&log_level)
                .context("parsing --log-level")?;
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
            runtime.block_on(run::run(namespaces.into_iter().collect()))?;
        }
        Command::Crd => print!("{}", superset_operator_api::generated::all_crds_yaml()?),
        Command::Render { file, namespace } => {
            let yaml = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading standard input")?;
                text
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
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

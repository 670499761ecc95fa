//! `superset-operator`: the operator's command line.

#![forbid(unsafe_code)]

mod preview;

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

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
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

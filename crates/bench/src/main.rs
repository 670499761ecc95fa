//! `superset-operator-bench` (`make bench`): how fast and how cheap the operator is at 1 to
//! 1,000 Superset instances.
//!
//! It starts the simulated cluster of the test harness, runs the release-built operator as a
//! separate process behind a counting proxy, and for every size measures convergence time,
//! the operator's API requests by verb, writes once settled and after its watches are forced
//! to resync, its memory and CPU time from `/proc`, and its reconcile latency from its own
//! histogram; then a configuration change and the lifecycle pipeline at one size. The results
//! go to `bench/results.json` and a Markdown table to standard output. See
//! `docs/performance.md`.

mod cluster;
mod operator;
mod prometheus;
mod proxy;
mod report;
mod requests;
mod scenario;
mod tracker;
mod workload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;

use crate::cluster::Cluster;
use crate::proxy::Proxy;
use crate::report::{Machine, Results, round};
use crate::scenario::Bench;

#[derive(Parser)]
#[command(
    name = "superset-operator-bench",
    about = "Benchmarks the Superset operator at several numbers of instances"
)]
struct Args {
    /// Numbers of Supersets to converge, each in a namespace and with an operator process of
    /// its own.
    #[arg(
        long,
        env = "BENCH_SIZES",
        value_delimiter = ',',
        default_value = "1,10,100,1000"
    )]
    sizes: Vec<usize>,
    /// Sizes at which every watch of the operator is then expired (410 Gone) to make it list
    /// everything again; this takes minutes at any size (default: the largest size).
    #[arg(long, env = "BENCH_RELIST_SIZES", value_delimiter = ',')]
    relist_sizes: Option<Vec<usize>>,
    /// Size whose Supersets then all get a configuration change (0: none; skipped when it is
    /// not one of the sizes).
    #[arg(long, env = "BENCH_CHANGE_SIZE", default_value_t = 100)]
    change_size: usize,
    /// Number of Supersets created with their lifecycle pipeline on (0: none).
    #[arg(long, env = "BENCH_LIFECYCLE_SIZE", default_value_t = 100)]
    lifecycle_size: usize,
    /// Seconds of the settled period after convergence.
    #[arg(long, env = "BENCH_SETTLE_SECONDS", default_value_t = 60)]
    settle_seconds: u64,
    /// The operator binary (default: `superset-operator` next to this one, as `cargo build
    /// --release` leaves it).
    #[arg(long)]
    operator: Option<PathBuf>,
    /// The operator's log filter (its logs are kept with the control plane's when a run fails).
    #[arg(long, env = "BENCH_OPERATOR_LOG", default_value = "info")]
    operator_log_level: String,
    /// Where the results are written.
    #[arg(long, default_value = "bench/results.json")]
    output: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let operator_binary = match args.operator.clone() {
        Some(path) => path,
        None => std::env::current_exe()?
            .with_file_name("superset-operator")
            .canonicalize()
            .context("no superset-operator next to this binary: build it with `cargo build --release -p superset-operator`, or pass --operator")?,
    };
    let dir = cluster::run_dir();
    let started = Instant::now();
    let cluster = Cluster::start(&dir, pods_needed(&args)).await?;
    let outcome = run(&args, cluster, operator_binary, started).await;
    match &outcome {
        Ok(_) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Err(_) => eprintln!(
            "bench: failed; the control plane's and the operator's logs are kept in {}",
            dir.join("logs").display()
        ),
    }
    let results = outcome?;
    write_results(&args.output, &results)?;
    print!("{}", tables_of(&results));
    Ok(())
}

/// Pods the fake nodes must take: three per Superset, room for a rollout of the changed
/// ones, and the lifecycle task pods.
fn pods_needed(args: &Args) -> usize {
    let converged: usize = args.sizes.iter().sum();
    3 * converged + 3 * args.change_size + 5 * args.lifecycle_size
}

async fn run(
    args: &Args,
    cluster: Cluster,
    operator_binary: PathBuf,
    started: Instant,
) -> anyhow::Result<Results> {
    let proxy = Proxy::start(cluster.credential_free_client().await?).await?;
    let kubeconfig = cluster.dir().join("operator.kubeconfig");
    cluster
        .operator_kubeconfig(&proxy.url(), &kubeconfig)
        .await?;
    let apiserver_labels = cluster.apiserver_request_labels().await?;
    let kubernetes = cluster.client.apiserver_version().await?.git_version;
    let bench = Bench {
        cluster,
        proxy,
        operator_binary,
        kubeconfig,
        settle: Duration::from_secs(args.settle_seconds),
        operator_log_level: args.operator_log_level.clone(),
    };
    let mut results = Results {
        machine: Machine::this(),
        kubernetes,
        operator_version: env!("CARGO_PKG_VERSION").to_owned(),
        started: k8s_openapi::jiff::Timestamp::now()
            .round(k8s_openapi::jiff::Unit::Second)?
            .to_string(),
        total_seconds: 0.0,
        bench_cpu_seconds: 0.0,
        apiserver_request_total_labels: apiserver_labels,
        sizes: Vec::new(),
        config_change: None,
        lifecycle: None,
    };
    let outcome = measure(args, &bench, &mut results).await;
    bench.cluster.shutdown();
    outcome?;
    results.total_seconds = round(started.elapsed().as_secs_f64(), 1);
    results.bench_cpu_seconds = round(operator::usage_of(std::process::id())?.cpu_seconds, 1);
    Ok(results)
}

async fn measure(args: &Args, bench: &Bench, results: &mut Results) -> anyhow::Result<()> {
    let largest = args.sizes.iter().max().copied();
    let relist_sizes = args
        .relist_sizes
        .clone()
        .unwrap_or_else(|| largest.into_iter().collect());
    for &size in &args.sizes {
        let relist = relist_sizes.contains(&size);
        let (result, change) =
            scenario::size(bench, size, relist, size == args.change_size).await?;
        results.sizes.push(result);
        results.config_change = results.config_change.take().or(change);
    }
    if args.lifecycle_size > 0 {
        results.lifecycle = Some(scenario::lifecycle(bench, args.lifecycle_size).await?);
    }
    Ok(())
}

fn write_results(path: &std::path::Path, results: &Results) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let json = serde_json::to_string_pretty(results)?;
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    let tables = path.with_extension("md");
    std::fs::write(&tables, tables_of(results))
        .with_context(|| format!("writing {}", tables.display()))?;
    eprintln!(
        "bench: results written to {} and {}",
        path.display(),
        tables.display()
    );
    Ok(())
}

/// Every table of the run, in Markdown, with the machine it ran on.
fn tables_of(results: &Results) -> String {
    let machine = &results.machine;
    let mut out = format!(
        "Superset operator {} on Kubernetes {} (simulated cluster), {} cores ({}), {} GiB of memory, {}; the run took {:.0} s.\n\n",
        results.operator_version,
        results.kubernetes,
        machine.cores,
        machine.cpu,
        machine.memory_gib,
        results.started,
        results.total_seconds
    );
    out.push_str(&report::markdown(results));
    if let Some(scenarios) = report::markdown_scenarios(results) {
        out.push('\n');
        out.push_str(&scenarios);
    }
    out.push_str("\nRequests per instance during convergence, by verb and resource:\n\n");
    out.push_str(&report::markdown_requests(results));
    out.push('\n');
    out.push_str(&report::goals(results));
    out
}

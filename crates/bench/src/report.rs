//! The figures of a run, written to `bench/results.json` and printed as Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::operator::Usage;
use crate::requests::{Tally, Verb};
use crate::tracker::Changes;

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub kubernetes: String,
    pub operator_version: String,
    /// When the run started (UTC).
    pub started: String,
    pub total_seconds: f64,
    /// The bench's own CPU time (its watches and checks share the machine with the operator).
    pub bench_cpu_seconds: f64,
    /// Label names of `apiserver_request_total`: none names the client, hence the proxy.
    pub apiserver_request_total_labels: Vec<String>,
    pub sizes: Vec<SizeResult>,
    pub config_change: Option<ChangeResult>,
    pub lifecycle: Option<LifecycleResult>,
}

/// The machine the run ran on (no host name).
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn this() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }
}

/// The operator's requests in one period, and what the watches saw change.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Window {
    pub seconds: f64,
    /// Every request, the rejected ones included.
    pub total: u64,
    /// Requests the API server turned away (429 Too Many Requests or 5xx).
    pub rejected: u64,
    pub get: u64,
    pub list: u64,
    pub watch: u64,
    pub discovery: u64,
    /// Creates, updates, patches and deletes of objects and status that the API server did
    /// not turn away (Events excluded). Other failures (a 409 or 422) are counted here too,
    /// and listed by code in the size's `failed_responses`.
    pub writes: u64,
    /// Writes it turned away.
    pub rejected_writes: u64,
    /// Of `writes`, those of a status subresource.
    pub status_writes: u64,
    /// Events published.
    pub events: u64,
    /// Every request, as `"verb resource" → count`.
    pub by_kind: BTreeMap<String, u64>,
    /// The rejected ones.
    pub rejected_by_kind: BTreeMap<String, u64>,
    /// Changes the bench's watches saw in the period.
    pub changes: Changes,
}

impl Window {
    /// The figures of `tally`, the requests of a period, of which the API server turned away
    /// `rejected`.
    pub fn new(duration: Duration, tally: &Tally, rejected: &Tally, changes: Changes) -> Window {
        let discovery = tally
            .0
            .iter()
            .filter(|(kind, _)| kind.resource == "discovery")
            .map(|(_, n)| n)
            .sum();
        Window {
            seconds: round(duration.as_secs_f64(), 1),
            total: tally.total(),
            rejected: rejected.total(),
            get: tally.verb(Verb::Get).saturating_sub(discovery),
            list: tally.verb(Verb::List),
            watch: tally.verb(Verb::Watch),
            discovery,
            // A request is tallied when it arrives and rejected when answered, so one that
            // spans a mark can count on one side only.
            writes: tally
                .object_writes()
                .saturating_sub(rejected.object_writes()),
            rejected_writes: rejected.object_writes(),
            status_writes: tally
                .status_writes()
                .saturating_sub(rejected.status_writes()),
            events: tally.event_writes().saturating_sub(rejected.event_writes()),
            by_kind: tally.to_map(),
            rejected_by_kind: rejected.to_map(),
            changes,
        }
    }
}

/// The operator's watches ended at once, and what followed until every one was watching
/// again and the operator was quiet.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Resync {
    /// Watches that were ended.
    pub watches: usize,
    /// Of them, those open again (after a close) or listed again (after an expiry) when the
    /// bench stopped waiting.
    pub back: usize,
    /// Until every watch was back, or until the bench gave up waiting.
    pub recovered_seconds: f64,
    pub window: Window,
}

impl Resync {
    /// The recovery time, or how many watches were back when the bench gave up.
    pub fn recovered(&self) -> String {
        if self.back >= self.watches {
            format!("{:.0}", self.recovered_seconds)
        } else {
            format!(
                "over {:.0} ({} of {} back)",
                self.recovered_seconds, self.back, self.watches
            )
        }
    }
}

/// p50 and p99 of a reconcile-duration histogram.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Latency {
    pub reconciles: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// The figures of one size.
#[derive(Debug, Default, Serialize)]
pub struct SizeResult {
    pub instances: usize,
    /// From the first create sent to the last answered.
    pub create_seconds: f64,
    /// From the last create answered until every object matched its rendering.
    pub objects_after_last_create_seconds: f64,
    /// From the last create answered until every Superset reported Running and Available.
    pub available_after_last_create_seconds: f64,
    /// The operator once ready, before the first create (memory; CPU time since start).
    pub usage_started: Usage,
    /// From the last create until both, and the requests in between.
    pub convergence: Window,
    pub reconcile_errors: f64,
    /// Reconcile errors over the whole size, as `"controller category" → count`.
    pub reconcile_errors_by_category: BTreeMap<String, f64>,
    pub reconciles: BTreeMap<String, f64>,
    /// The parent controller's reconciles, and the six component controllers' together.
    pub latency_superset: Latency,
    pub latency_components: Latency,
    pub usage_converged: Usage,
    /// The settled period right after convergence.
    pub settled: Window,
    /// What the Superset status changes of the settled period changed (the latest few).
    pub settled_status_changes: Vec<String>,
    pub usage_settled: Usage,
    /// After every watch was closed (the operator resumes them from its last resource
    /// version).
    pub watch_reconnect: Resync,
    /// After every watch was answered 410 Gone (the operator lists everything again); only at
    /// the sizes asked for, as it takes minutes.
    pub relist: Option<Resync>,
    pub usage_end: Usage,
    /// Responses other than 2xx over the whole size, as `"verb resource code" → count`.
    pub failed_responses: BTreeMap<String, u64>,
    /// Reconcile errors over the whole size (convergence, settled period, resyncs, change).
    pub reconcile_errors_total: f64,
}

/// A configuration change on every Superset of one size.
#[derive(Debug, Serialize)]
pub struct ChangeResult {
    pub instances: usize,
    pub patch_seconds: f64,
    /// From the last patch answered until every Deployment carried the new configuration.
    pub deployments_after_last_patch_seconds: f64,
    /// Until every Superset reported the new generation Available again.
    pub available_after_last_patch_seconds: f64,
    /// Deployments whose pod template checksum changed.
    pub checksums_changed: usize,
    pub deployments: usize,
    pub window: Window,
}

/// Supersets created with their lifecycle pipeline (migrate and init) on.
#[derive(Debug, Serialize)]
pub struct LifecycleResult {
    pub instances: usize,
    /// Per Superset, from its create to lifecycle Complete, Running and Available.
    pub pipeline_p50_seconds: f64,
    pub pipeline_p99_seconds: f64,
    pub pipeline_max_seconds: f64,
    pub complete_after_last_create_seconds: f64,
    pub window: Window,
    pub reconcile_errors: f64,
    pub task_attempts: BTreeMap<String, f64>,
    pub usage: Usage,
}

pub fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// `part` per instance, one decimal.
fn per(part: u64, instances: usize) -> String {
    format!("{:.1}", part as f64 / instances.max(1) as f64)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.1}"))
}

/// The main table: one column per size.
pub fn markdown(results: &Results) -> String {
    let sizes = &results.sizes;
    let mut out = String::new();
    let _ = write!(out, "| |");
    for size in sizes {
        let _ = write!(out, " N = {} |", thousands(size.instances));
    }
    let _ = write!(out, "\n|---|");
    for _ in sizes {
        let _ = write!(out, "---:|");
    }
    out.push('\n');
    let mut row = |label: &str, cell: &dyn Fn(&SizeResult) -> String| {
        let _ = write!(out, "| {label} |");
        for size in sizes {
            let _ = write!(out, " {} |", cell(size));
        }
        out.push('\n');
    };
    row("Creating the Supersets (s)", &|s| {
        format!("{:.1}", s.create_seconds)
    });
    row(
        "Every object as rendered, after the last create (s)",
        &|s| format!("{:.1}", s.objects_after_last_create_seconds),
    );
    row(
        "Every Superset Available, after the last create (s)",
        &|s| format!("{:.1}", s.available_after_last_create_seconds),
    );
    row(
        "Requests per instance, convergence (turned away: 429, 5xx)",
        &|s| {
            format!(
                "{} ({})",
                per(s.convergence.total, s.instances),
                per(s.convergence.rejected, s.instances)
            )
        },
    );
    row("… get / list / watch per instance", &|s| {
        format!(
            "{} / {} / {}",
            per(s.convergence.get, s.instances),
            per(s.convergence.list, s.instances),
            per(s.convergence.watch, s.instances)
        )
    });
    row("Object writes per instance (objects that changed)", &|s| {
        let c = &s.convergence;
        format!(
            "{} ({})",
            per(c.writes - c.status_writes, s.instances),
            per(c.changes.object_changes(), s.instances)
        )
    });
    row("Status writes per instance (statuses that changed)", &|s| {
        let c = &s.convergence;
        format!(
            "{} ({})",
            per(c.status_writes, s.instances),
            per(c.changes.status_changes(), s.instances)
        )
    });
    row("Events per instance", &|s| {
        per(s.convergence.events, s.instances)
    });
    row("Reconcile errors", &|s| {
        format!("{}", s.reconcile_errors_total)
    });
    row("Writes in the settled period", &|s| {
        format!("{} in {:.0} s", s.settled.writes, s.settled.seconds)
    });
    row("Reads in the settled period", &|s| {
        s.settled.total.to_string()
    });
    row("Watches closed: requests until quiet (writes)", &|s| {
        let w = &s.watch_reconnect.window;
        format!("{} ({})", w.total, w.writes)
    });
    row(
        "Watches expired (410): requests per instance (writes)",
        &|s| match &s.relist {
            Some(r) => format!("{} ({})", per(r.window.total, s.instances), r.window.writes),
            None => "–".into(),
        },
    );
    row("… until every watch is back (s)", &|s| match &s.relist {
        Some(r) => r.recovered(),
        None => "–".into(),
    });
    row(
        "Resident memory, peak converging / settled / peak of the whole size (MiB)",
        &|s| {
            format!(
                "{:.1} / {:.1} / {:.1}",
                s.usage_converged.peak_rss_mib, s.usage_settled.rss_mib, s.usage_end.peak_rss_mib
            )
        },
    );
    row("CPU seconds, convergence / whole size", &|s| {
        format!(
            "{:.1} / {:.1}",
            s.usage_converged.cpu_seconds, s.usage_end.cpu_seconds
        )
    });
    row("Superset reconcile p50 / p99 (ms)", &|s| {
        format!(
            "{} / {}",
            ms(s.latency_superset.p50_ms),
            ms(s.latency_superset.p99_ms)
        )
    });
    row("Component reconcile p50 / p99 (ms)", &|s| {
        format!(
            "{} / {}",
            ms(s.latency_components.p50_ms),
            ms(s.latency_components.p99_ms)
        )
    });
    out
}

/// The configuration change and the lifecycle pipeline, as a two-column table.
pub fn markdown_scenarios(results: &Results) -> Option<String> {
    if results.config_change.is_none() && results.lifecycle.is_none() {
        return None;
    }
    let mut out = String::from("| | |\n|---|---:|\n");
    if let Some(change) = &results.config_change {
        let n = change.instances;
        let _ = writeln!(
            out,
            "| Config change on {n} Supersets: every Deployment's checksum changed, after the last patch (s) | {:.1} |",
            change.deployments_after_last_patch_seconds
        );
        let _ = writeln!(
            out,
            "| … every Superset Available again (s) | {:.1} |",
            change.available_after_last_patch_seconds
        );
        let _ = writeln!(
            out,
            "| … object writes / status writes per instance | {} / {} |",
            per(change.window.writes - change.window.status_writes, n),
            per(change.window.status_writes, n)
        );
    }
    if let Some(lifecycle) = &results.lifecycle {
        let n = lifecycle.instances;
        let _ = writeln!(
            out,
            "| Lifecycle pipeline (migrate, init) of {n} new Supersets, per instance p50 / p99 / max (s) | {:.1} / {:.1} / {:.1} |",
            lifecycle.pipeline_p50_seconds,
            lifecycle.pipeline_p99_seconds,
            lifecycle.pipeline_max_seconds
        );
        let _ = writeln!(
            out,
            "| … every one complete and Available, after the last create (s) | {:.1} |",
            lifecycle.complete_after_last_create_seconds
        );
        let _ = writeln!(
            out,
            "| … requests / writes per instance; reconcile errors | {} / {}; {} |",
            per(lifecycle.window.total, n),
            per(lifecycle.window.writes, n),
            lifecycle.reconcile_errors
        );
    }
    Some(out)
}

/// Requests per instance during convergence, by verb and resource, one column per size.
pub fn markdown_requests(results: &Results) -> String {
    let sizes = &results.sizes;
    let kinds: std::collections::BTreeSet<&String> = sizes
        .iter()
        .flat_map(|s| s.convergence.by_kind.keys())
        .collect();
    let mut out = String::from("| Request |");
    for size in sizes {
        let _ = write!(out, " N = {} |", thousands(size.instances));
    }
    out.push_str("\n|---|");
    for _ in sizes {
        out.push_str("---:|");
    }
    out.push('\n');
    for kind in kinds {
        let _ = write!(out, "| {kind} |");
        for size in sizes {
            let count = size.convergence.by_kind.get(kind).copied().unwrap_or(0);
            let _ = write!(out, " {:.2} |", count as f64 / size.instances.max(1) as f64);
        }
        out.push('\n');
    }
    out
}

/// Each goal of the benchmark, met or missed, with the figure that decides.
pub fn goals(results: &Results) -> String {
    let sizes = &results.sizes;
    let mut out = String::from("Goals:\n");
    let errors: f64 = sizes.iter().map(|s| s.reconcile_errors_total).sum::<f64>()
        + results
            .lifecycle
            .as_ref()
            .map_or(0.0, |l| l.reconcile_errors);
    goal(
        &mut out,
        errors == 0.0,
        format!("no reconcile error: {errors}"),
    );
    let settled: Vec<String> = sizes
        .iter()
        .map(|s| format!("{} at N = {}", s.settled.writes, thousands(s.instances)))
        .collect();
    goal(
        &mut out,
        sizes.iter().all(|s| s.settled.writes == 0),
        format!("zero writes once settled: {}", settled.join(", ")),
    );
    let excess: Vec<String> = sizes
        .iter()
        .map(|s| {
            let c = &s.convergence;
            format!(
                "{} object writes for {} object changes and {} status writes for {} status changes at N = {}",
                c.writes - c.status_writes,
                c.changes.object_changes(),
                c.status_writes,
                c.changes.status_changes(),
                thousands(s.instances)
            )
        })
        .collect();
    goal(
        &mut out,
        sizes.iter().all(|s| {
            let c = &s.convergence;
            c.writes - c.status_writes <= c.changes.object_changes()
                && c.status_writes <= c.changes.status_changes()
        }),
        format!("no write that changes nothing: {}", excess.join("; ")),
    );
    if let Some(largest) = sizes.iter().max_by_key(|s| s.instances) {
        // Converging and settled are the operator's steady work; the whole size adds the
        // resyncs, where every watch lists again at once. All three are printed.
        let converging = largest.usage_converged.peak_rss_mib;
        let settled = largest.usage_settled.rss_mib;
        let whole = largest.usage_end.peak_rss_mib;
        goal(
            &mut out,
            largest.instances < 1000 || converging.max(settled) < 100.0,
            format!(
                "under 100 MiB resident at 1,000 instances: peak {converging:.1} MiB converging, \
                 {settled:.1} MiB settled at N = {} (peak {whole:.1} MiB with the resyncs)",
                thousands(largest.instances)
            ),
        );
    }
    let growth: Vec<String> = sizes
        .windows(2)
        .map(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            let per_instance = (b.usage_settled.rss_mib - a.usage_settled.rss_mib)
                / (b.instances as f64 - a.instances as f64)
                * 1024.0;
            format!(
                "{:.0} KiB per instance from {} to {}",
                per_instance,
                thousands(a.instances),
                thousands(b.instances)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "- memory growth (settled resident): {}",
        growth.join(", ")
    );
    let relists: Vec<String> = sizes
        .iter()
        .filter_map(|s| {
            let r = s.relist.as_ref()?;
            Some(format!(
                "{} requests ({} writes) for {} instances, watches back after {} s",
                r.window.total,
                r.window.writes,
                thousands(s.instances),
                r.recovered()
            ))
        })
        .collect();
    goal(
        &mut out,
        sizes
            .iter()
            .filter_map(|s| s.relist.as_ref())
            .all(|r| r.window.writes == 0),
        format!("no write storm after a relist: {}", relists.join(", ")),
    );
    out
}

fn goal(out: &mut String, met: bool, text: String) {
    let _ = writeln!(out, "- [{}] {text}", if met { "x" } else { " " });
}

/// `1000` as `1,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_the_bench_gave_up_on_says_so() {
        let done = Resync {
            watches: 54,
            back: 54,
            recovered_seconds: 3.4,
            ..Resync::default()
        };
        assert_eq!(done.recovered(), "3");
        let given_up = Resync {
            back: 50,
            recovered_seconds: 600.1,
            ..done
        };
        assert_eq!(given_up.recovered(), "over 600 (50 of 54 back)");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(1), "1");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn rounding_keeps_the_asked_decimals() {
        assert_eq!(round(1.2345, 1), 1.2);
        assert_eq!(round(2.5, 0), 3.0);
    }
}

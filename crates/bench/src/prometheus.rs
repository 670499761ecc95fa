//! Just enough of the Prometheus text format to read the operator's counters and histograms,
//! and quantiles estimated from histogram buckets the way PromQL's `histogram_quantile` does.

use std::collections::BTreeMap;

/// One sample: metric name, labels and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of an exposition, comments skipped.
#[derive(Clone, Debug, Default)]
pub struct Exposition(pub Vec<Sample>);

impl Exposition {
    pub fn parse(text: &str) -> Exposition {
        Exposition(
            text.lines()
                .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
                .filter_map(parse_line)
                .collect(),
        )
    }

    /// Sum of the samples named `name` whose labels satisfy `keep`.
    pub fn sum(&self, name: &str, keep: impl Fn(&BTreeMap<String, String>) -> bool) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name && keep(&s.labels))
            .fold(0.0, |sum, s| sum + s.value)
    }

    /// The cumulative buckets of histogram `name` (upper bound → count), summed over the
    /// series whose labels satisfy `keep`.
    pub fn buckets(
        &self,
        name: &str,
        keep: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> Vec<(f64, f64)> {
        let bucket = format!("{name}_bucket");
        let mut by_bound: Vec<(f64, f64)> = Vec::new();
        for sample in self
            .0
            .iter()
            .filter(|s| s.name == bucket && keep(&s.labels))
        {
            let Some(bound) = sample.labels.get("le").and_then(|le| parse_float(le)) else {
                continue;
            };
            match by_bound.iter_mut().find(|(b, _)| *b == bound) {
                Some((_, count)) => *count += sample.value,
                None => by_bound.push((bound, sample.value)),
            }
        }
        by_bound.sort_by(|a, b| a.0.total_cmp(&b.0));
        by_bound
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, rest) = if line.contains('{') {
        let close = line.rfind('}')?;
        (&line[..close + 1], &line[close + 1..])
    } else {
        line.split_once(' ')?
    };
    let value = parse_float(rest.split_whitespace().next()?)?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}')?)),
        None => (series, BTreeMap::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"` (values without escaped quotes, which the operator never writes).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let Some((value, tail)) = after.split_once('"') else {
            break;
        };
        labels.insert(
            key.trim_start_matches(',').trim().to_owned(),
            value.to_owned(),
        );
        rest = tail;
    }
    labels
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// The `q`-quantile of cumulative `buckets` (sorted upper bound → count), interpolated
/// linearly inside the bucket it falls in, as `histogram_quantile` does. `None` without
/// observations. A quantile in the `+Inf` bucket is reported as the highest finite bound.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let in_bucket = count - lower.1;
            let fraction = if in_bucket > 0.0 {
                (rank - lower.1) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * fraction);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP superset_operator_reconciles Reconciles run, per controller.
# TYPE superset_operator_reconciles counter
superset_operator_reconciles_total{controller="superset"} 12
superset_operator_reconciles_total{controller="SupersetWebServer"} 30
superset_operator_reconcile_errors_total{controller="superset",category="conflict"} 2
superset_operator_leader 1
superset_operator_reconcile_duration_seconds_bucket{controller="superset",le="0.001"} 0
superset_operator_reconcile_duration_seconds_bucket{controller="superset",le="0.002"} 4
superset_operator_reconcile_duration_seconds_bucket{controller="superset",le="0.004"} 8
superset_operator_reconcile_duration_seconds_bucket{controller="superset",le="+Inf"} 10
superset_operator_reconcile_duration_seconds_bucket{controller="SupersetWebServer",le="0.001"} 10
superset_operator_reconcile_duration_seconds_bucket{controller="SupersetWebServer",le="0.002"} 10
superset_operator_reconcile_duration_seconds_bucket{controller="SupersetWebServer",le="0.004"} 10
superset_operator_reconcile_duration_seconds_bucket{controller="SupersetWebServer",le="+Inf"} 10
"#;

    #[test]
    fn counters_are_summed_over_matching_series() {
        let exposition = Exposition::parse(TEXT);
        assert_eq!(
            exposition.sum("superset_operator_reconciles_total", |_| true),
            42.0
        );
        assert_eq!(
            exposition.sum("superset_operator_reconciles_total", |l| l
                .get("controller")
                .is_some_and(|c| c == "superset")),
            12.0
        );
        assert_eq!(
            exposition.sum("superset_operator_reconcile_errors_total", |_| true),
            2.0
        );
        assert_eq!(exposition.sum("superset_operator_leader", |_| true), 1.0);
    }

    #[test]
    fn buckets_of_several_series_add_up() {
        let exposition = Exposition::parse(TEXT);
        let buckets = exposition.buckets("superset_operator_reconcile_duration_seconds", |_| true);
        assert_eq!(
            buckets,
            vec![
                (0.001, 10.0),
                (0.002, 14.0),
                (0.004, 18.0),
                (f64::INFINITY, 20.0)
            ]
        );
    }

    #[test]
    fn quantiles_interpolate_inside_their_bucket() {
        let buckets = [
            (0.001, 0.0),
            (0.002, 4.0),
            (0.004, 8.0),
            (f64::INFINITY, 10.0),
        ];
        // Rank 5 of 10 is the first of the 4 observations between 2 and 4 ms.
        let median = quantile(0.5, &buckets).unwrap();
        assert!((median - 0.0025).abs() < 1e-12, "{median}");
        // Rank 2 is halfway through the 4 observations between 1 and 2 ms.
        let p20 = quantile(0.2, &buckets).unwrap();
        assert!((p20 - 0.0015).abs() < 1e-12, "{p20}");
        // Rank 9.9 is past the last finite bound: the bound is the best estimate.
        assert_eq!(quantile(0.99, &buckets), Some(0.004));
    }

    #[test]
    fn the_first_bucket_starts_at_zero_and_empty_histograms_have_no_quantile() {
        assert_eq!(
            quantile(0.5, &[(0.004, 2.0), (f64::INFINITY, 2.0)]),
            Some(0.002)
        );
        assert_eq!(quantile(0.5, &[(0.004, 0.0), (f64::INFINITY, 0.0)]), None);
        assert_eq!(quantile(0.5, &[]), None);
    }
}

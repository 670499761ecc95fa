//! How long a lifecycle task's attempt may run, written as Kubernetes writes durations (`10m`,
//! `1h30m`, `90s`). The API server checks the same syntax and bounds (a pattern and a CEL rule
//! in the CRD) that the operator decodes, so a value is refused by `kubectl apply` rather
//! than admitted and then unreadable to the operator: `300` (no unit), `1d` (no such unit),
//! `0s` (a pod deadline must be positive) and `6000000000000000h` (past any clock) are all
//! refused at admission.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The shortest timeout: a pod's `activeDeadlineSeconds` is a positive whole number.
pub const MIN: Duration = Duration::from_secs(1);
/// The longest timeout, a week: longer than any migration, and far inside every clock.
pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// The syntax, as the CRD's pattern: Go's durations without a sign (one or more numbers, each
/// with a unit).
pub const PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$";
/// The longest text accepted; it bounds the cost of the CEL rule.
pub const MAX_LENGTH: usize = 32;
/// The bounds, as the CRD's CEL rule (CEL's `duration()` reads Go's syntax).
pub const RULE: &str = "duration(self) >= duration('1s') && duration(self) <= duration('168h')";
/// What a user reads when a value is refused.
pub const MESSAGE: &str =
    "must be a duration from 1s to 168h with a unit on every number, such as 90s, 10m or 1h30m";

/// A task attempt's timeout, from [`MIN`] to [`MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeout(Duration);

impl Timeout {
    /// The timeout, when `duration` is within the bounds.
    pub fn new(duration: Duration) -> Result<Self, TimeoutError> {
        if (MIN..=MAX).contains(&duration) {
            Ok(Timeout(duration))
        } else {
            Err(TimeoutError::OutOfBounds)
        }
    }

    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl From<Timeout> for Duration {
    fn from(timeout: Timeout) -> Self {
        timeout.0
    }
}

/// Why a text is not a [`Timeout`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeoutError {
    /// Not Go's syntax with a unit on every number.
    #[error("not a duration: {MESSAGE}")]
    Syntax,
    /// Readable, but shorter than 1s or longer than 168h.
    #[error("out of bounds: {MESSAGE}")]
    OutOfBounds,
}

/// Nanoseconds in one of Go's units.
fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Nanoseconds of `whole.fraction` units, saturating (anything that large is out of bounds).
fn term_nanos(whole: &str, fraction: &str, unit: u128) -> u128 {
    let whole: u128 = whole.parse().unwrap_or(u128::MAX);
    let mut nanos = whole.saturating_mul(unit);
    let mut scale = unit;
    for digit in fraction.bytes() {
        scale /= 10;
        nanos = nanos.saturating_add(u128::from(digit - b'0') * scale);
    }
    nanos
}

impl FromStr for Timeout {
    type Err = TimeoutError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() || text.len() > MAX_LENGTH {
            return Err(TimeoutError::Syntax);
        }
        let mut rest = text;
        let mut nanos: u128 = 0;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (whole, after) = rest.split_at(digits);
            let (fraction, after) = match after.strip_prefix('.') {
                Some(after) => {
                    let digits = after
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(after.len());
                    if digits == 0 {
                        return Err(TimeoutError::Syntax);
                    }
                    after.split_at(digits)
                }
                None => ("", after),
            };
            if whole.is_empty() {
                return Err(TimeoutError::Syntax);
            }
            let letters = after
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(letters);
            let unit = unit_nanos(unit).ok_or(TimeoutError::Syntax)?;
            nanos = nanos.saturating_add(term_nanos(whole, fraction, unit));
            rest = after;
        }
        let max = MAX.as_nanos();
        if nanos > max {
            return Err(TimeoutError::OutOfBounds);
        }
        let nanos = u64::try_from(nanos).map_err(|_| TimeoutError::OutOfBounds)?;
        Timeout::new(Duration::from_nanos(nanos))
    }
}

/// Go's shortest form: `1h30m`, `90s` is `1m30s`, `1.5s`.
impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
        if hours > 0 {
            write!(f, "{hours}h")?;
        }
        if minutes > 0 || (hours > 0 && (seconds > 0 || self.0.subsec_nanos() > 0)) {
            write!(f, "{minutes}m")?;
        }
        match self.0.subsec_nanos() {
            0 if seconds == 0 && secs > 0 => Ok(()),
            0 => write!(f, "{seconds}s"),
            nanos => {
                let fraction = format!("{nanos:09}");
                write!(f, "{seconds}.{}s", fraction.trim_end_matches('0'))
            }
        }
    }
}

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for Timeout {
    fn schema_name() -> Cow<'static, str> {
        "Timeout".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "maxLength": MAX_LENGTH,
            "pattern": PATTERN,
            "x-kubernetes-validations": [{ "rule": RULE, "message": MESSAGE }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Duration, TimeoutError> {
        text.parse::<Timeout>().map(Timeout::get)
    }

    #[test]
    fn reads_gos_syntax() {
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2s500ms"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse("1000000us"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("1000000µs"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("0.5h"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse("168h"), Ok(MAX));
    }

    #[test]
    fn refuses_what_admission_refuses() {
        for text in [
            "", "300", "1d", "banana", "10 m", "-5m", "+5m", ".5h", "5.h", "1h 30m", "m", "1hm",
        ] {
            assert_eq!(parse(text), Err(TimeoutError::Syntax), "{text:?}");
        }
        for text in [
            "0s",
            "999ms",
            "168h1ns",
            "169h",
            "6000000000000000h",
            "99999999999999999999999h",
        ] {
            assert_eq!(parse(text), Err(TimeoutError::OutOfBounds), "{text:?}");
        }
        assert_eq!(parse(&"1s".repeat(17)), Err(TimeoutError::Syntax));
    }

    #[test]
    fn the_pattern_accepts_exactly_what_the_parser_reads() {
        // The API server matches patterns with Go's RE2, whose syntax the regex crate shares.
        let pattern = regex::Regex::new(PATTERN).unwrap();
        for text in [
            "10m",
            "1h30m",
            "1.5s",
            "1000000µs",
            "2s500ms",
            "0s",
            "169h",
            "300",
            "1d",
            ".5h",
            "5.h",
            "-5m",
            "+5m",
            "1h 30m",
            "1hm",
            "h",
            "6000000000000000h",
            "1e3s",
            "0x10s",
        ] {
            let syntax_ok = !matches!(parse(text), Err(TimeoutError::Syntax));
            assert_eq!(pattern.is_match(text), syntax_ok, "{text:?}");
        }
    }

    #[test]
    fn writes_gos_shortest_form_and_reads_it_back() {
        for (duration, text) in [
            (Duration::from_secs(600), "10m"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(3601), "1h0m1s"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(5), "5s"),
        ] {
            let timeout = Timeout::new(duration).unwrap();
            assert_eq!(timeout.to_string(), text);
            assert_eq!(text.parse::<Timeout>(), Ok(timeout));
        }
    }
}

//! The Superset versions the operator supports, and how an image tag is read as one.
//!
//! An instance outside the range is still reconciled; it is flagged so that its owner knows
//! the rendered configuration and lifecycle commands were not made for that version.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A Superset release: major, minor, patch, and a pre-release rank (release candidates and
/// betas sort before the release).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// `Some((kind, n))` for a pre-release (`a`, `b`, `rc`, `dev`), `None` for a release.
    pub pre: Option<(PreRelease, u64)>,
}

/// Kinds of pre-release, in release order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PreRelease {
    /// `.devN`.
    Dev,
    /// `aN`, `alphaN`.
    Alpha,
    /// `bN`, `betaN`.
    Beta,
    /// `rcN`.
    Rc,
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre, other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(&b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some((kind, n)) = self.pre {
            let kind = match kind {
                PreRelease::Dev => "dev",
                PreRelease::Alpha => "a",
                PreRelease::Beta => "b",
                PreRelease::Rc => "rc",
            };
            write!(f, "{kind}{n}")?;
        }
        Ok(())
    }
}

const fn release(major: u64, minor: u64, patch: u64) -> Version {
    Version {
        major,
        minor,
        patch,
        pre: None,
    }
}

/// The supported range, inclusive at the bottom, exclusive at the top.
pub struct SupportedRange {
    /// The oldest supported release.
    pub minimum: Version,
    /// The first release no longer supported.
    pub below: Version,
}

/// The versions the operator supports.
///
/// - Minimum 4.1.0: the oldest release whose CLI (`superset db upgrade`, `superset init`,
///   `superset fab create-admin`), models (what the rotate task re-encrypts) and `superset_config.py`
///   names (cache and Celery settings, `SQLALCHEMY_ENGINE_OPTIONS`, `FEATURE_FLAGS`) match
///   what the operator renders; older lines are past upstream support.
/// - Below 6.2.0: 6.1 is the newest line the rendered configuration is checked against (the
///   tests load every rendered file through apache-superset 6.1.0's own config module). A
///   newer line is supported once that check passes against it.
pub const SUPPORTED: SupportedRange = SupportedRange {
    minimum: release(4, 1, 0),
    below: release(6, 2, 0),
};

/// Annotation that declares an instance's image supported whatever its tag says, for
/// digest-pinned or custom-built images: `superset.apache.org/version-supported: "true"`.
pub const DECLARED_SUPPORTED: &str = "superset.apache.org/version-supported";

/// What an image tag says about support.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// Inside the range.
    Supported(Version),
    /// Declared supported by the annotation.
    Declared,
    /// Older than the minimum.
    BelowMinimum(Version),
    /// At or above the first unsupported release.
    AboveMaximum(Version),
    /// Not a version (`latest`, a branch name, a digest alone).
    Unparseable,
}

static TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-.]?(rc|a|alpha|b|beta|dev)\.?(\d+)?)?(?:-[A-Za-z0-9._-]+)?(?:@sha256:[0-9a-f]{64})?$",
    )
    .expect("valid pattern")
});

/// Reads an image tag as a Superset version: `6.0.0`, `v6.0.0`, `6.0`, `6.1.0rc1`,
/// `6.0.0-py311` (a variant of 6.0.0), `6.0.0@sha256:…`.
pub fn parse_tag(tag: &str) -> Option<Version> {
    let captures = TAG.captures(tag)?;
    let number = |i: usize| -> Option<u64> { captures.get(i).map(|m| m.as_str().parse().ok())? };
    let pre = captures.get(4).map(|kind| {
        let kind = match kind.as_str() {
            "rc" => PreRelease::Rc,
            "a" | "alpha" => PreRelease::Alpha,
            "b" | "beta" => PreRelease::Beta,
            _ => PreRelease::Dev,
        };
        (kind, number(5).unwrap_or(0))
    });
    Some(Version {
        major: number(1)?,
        minor: number(2)?,
        patch: number(3).unwrap_or(0),
        pre,
    })
}

/// Whether `tag` is a supported version; `declared` is the annotation's verdict.
pub fn support(tag: &str, declared: bool) -> Support {
    if declared {
        return Support::Declared;
    }
    match parse_tag(tag) {
        None => Support::Unparseable,
        // A pre-release of the minimum is older than the minimum.
        Some(v) if v < SUPPORTED.minimum => Support::BelowMinimum(v),
        // A pre-release of the first unsupported line is a preview of it.
        Some(v)
            if (v.major, v.minor, v.patch)
                >= (
                    SUPPORTED.below.major,
                    SUPPORTED.below.minor,
                    SUPPORTED.below.patch,
                ) =>
        {
            Support::AboveMaximum(v)
        }
        Some(v) => Support::Supported(v),
    }
}

/// The range as text, for `superset-operator version` and messages.
pub fn describe_range() -> String {
    format!(">= {} and < {}", SUPPORTED.minimum, SUPPORTED.below)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(tag: &str) -> &'static str {
        match support(tag, false) {
            Support::Supported(_) => "supported",
            Support::Declared => "declared",
            Support::BelowMinimum(_) => "below",
            Support::AboveMaximum(_) => "above",
            Support::Unparseable => "unparseable",
        }
    }

    #[test]
    fn tags_inside_below_and_above_the_range() {
        assert_eq!(verdict("6.0.0"), "supported");
        assert_eq!(verdict("4.1.0"), "supported");
        assert_eq!(verdict("6.1.9"), "supported");
        assert_eq!(verdict("v5.0.0"), "supported");
        assert_eq!(verdict("6.0"), "supported");
        assert_eq!(verdict("4.0.2"), "below");
        assert_eq!(verdict("3.1.0"), "below");
        assert_eq!(verdict("6.2.0"), "above");
        assert_eq!(verdict("7.0.0"), "above");
    }

    #[test]
    fn latest_branches_and_bare_digests_are_not_versions() {
        assert_eq!(verdict("latest"), "unparseable");
        assert_eq!(verdict("master"), "unparseable");
        assert_eq!(
            verdict("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            "unparseable"
        );
        assert_eq!(verdict(""), "unparseable");
    }

    #[test]
    fn digests_after_a_version_and_variants_keep_the_version() {
        let digest =
            "6.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(verdict(digest), "supported");
        assert_eq!(verdict("6.0.0-py311"), "supported");
        assert_eq!(verdict("6.0.0-dev"), "supported");
    }

    #[test]
    fn pre_releases_sort_before_their_release() {
        assert_eq!(verdict("6.1.0rc1"), "supported");
        assert_eq!(
            verdict("4.1.0rc2"),
            "below",
            "a preview of the minimum is older than it"
        );
        assert_eq!(
            verdict("6.2.0rc1"),
            "above",
            "a preview of an unsupported line"
        );
        let rc = parse_tag("6.1.0rc1").unwrap();
        let beta = parse_tag("6.1.0b2").unwrap();
        assert!(beta < rc && rc < parse_tag("6.1.0").unwrap());
        assert_eq!(rc.to_string(), "6.1.0rc1");
    }

    #[test]
    fn the_annotation_declares_any_tag_supported() {
        assert_eq!(support("latest", true), Support::Declared);
        assert_eq!(support("3.0.0", true), Support::Declared);
    }
}

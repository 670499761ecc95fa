//! Fuzz targets for the operator's input-facing pure code.
//!
//! Each target is a plain function of a byte string that panics on a defect and returns on
//! anything else, so the same function runs under three drivers:
//!
//! - `cargo test`: the checked-in corpus of each target (`corpus/<target>/`) is replayed, then a
//!   bounded number of generated inputs run through it (tests/generated.rs);
//! - `make fuzz`: a coverage-guided engine (libFuzzer through `cargo bolero`) mutates the
//!   corpus for as long as asked;
//! - by hand: [`run`] with a file's bytes.
//!
//! "Defect" means a panic anywhere below the target, or a broken invariant that the target
//! asserts; errors the code returns on purpose (bad YAML, a field of the wrong shape) are not
//! defects.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Links libFuzzer's runtime into every binary built for `make fuzz` (see Cargo.toml).
#[cfg(fuzzing)]
extern crate bolero as _;

pub mod corpus;
pub mod front_door;
pub mod known;
pub mod merge;
pub mod python;
pub mod redact;
pub mod render;

// The two front doors of the `superset-operator` binary that read user YAML: `render`
// (`preview.rs`) and `migrate-helm` (`migrate_helm/`). That crate is a binary without a
// library, so its modules cannot be imported; they are compiled here from their own files,
// unchanged, at the crate root as there (their code names `crate::preview`), which fuzzes
// exactly the code the binary runs. Should the binary crate gain a library, these become `use`
// lines.
#[path = "../../operator/src/preview.rs"]
#[allow(missing_docs)]
pub mod preview;

#[path = "../../operator/src/migrate_helm/mod.rs"]
#[allow(missing_docs)]
pub mod migrate_helm;

/// A fuzz target: its name (also its corpus directory) and its function.
#[derive(Clone, Copy)]
pub struct Target {
    /// Name, as used by `corpus/<name>/` and `make fuzz FUZZ_TARGET=<name>`.
    pub name: &'static str,
    /// The function: returns on any input the code handles, panics on a defect.
    pub run: fn(&[u8]),
    /// What it feeds and what it asserts, one line.
    pub about: &'static str,
}

/// Every target.
pub const TARGETS: [Target; 6] = [
    Target {
        name: "render",
        run: render::target,
        about: "a Superset as JSON or YAML, resolved and rendered into every child object",
    },
    Target {
        name: "merge",
        run: merge::target,
        about: "pod and Deployment templates merged, checked against the documented rules",
    },
    Target {
        name: "redact",
        run: redact::target,
        about: "task output redacted and truncated: bounded, idempotent, stable",
    },
    Target {
        name: "python_str",
        run: python::target,
        about: "a string quoted as a Python literal that decodes back to itself",
    },
    Target {
        name: "preview",
        run: front_door::preview,
        about: "the YAML `superset-operator render -f` reads",
    },
    Target {
        name: "migrate_helm",
        run: front_door::migrate_helm,
        about: "a Helm values file through `migrate-helm`: its manifest renders, leaks nothing",
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs the target called `name` on `data`; panics when there is no such target.
pub fn run(name: &str, data: &[u8]) {
    let target = target(name).unwrap_or_else(|| panic!("no fuzz target called {name:?}"));
    (target.run)(data)
}

/// The input as text, when it is UTF-8: every YAML front door reads text, and a file that is
/// not UTF-8 is rejected before any of the code under test runs.
pub(crate) fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

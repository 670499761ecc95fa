//! Where the control-plane binaries are. `hack/control-plane.sh` builds them from Go modules
//! at pinned versions and caches them outside the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// Names of the binaries the harness starts.
pub const BINARIES: [&str; 6] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
];

/// The directory holding the control-plane binaries, building them first when they are absent
/// (minutes on a cold Go cache; nothing on later runs). `SUPERSET_OPERATOR_CONTROL_PLANE_BIN`
/// points at an existing directory instead.
pub fn bin_dir() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("SUPERSET_OPERATOR_CONTROL_PLANE_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let script = workspace_root().join("hack/control-plane.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|source| Error::Io {
            what: format!("running {}", script.display()),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Build(format!(
            "{} exited with {}",
            script.display(),
            output.status
        )));
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    match BINARIES.iter().find(|b| !dir.join(b).is_file()) {
        Some(missing) => Err(Error::Build(format!(
            "{missing} is missing from {}",
            dir.display()
        ))),
        None => Ok(dir),
    }
}

/// The repository root, two levels above this crate.
pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

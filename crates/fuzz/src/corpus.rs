//! The checked-in corpora: `corpus/<target>/`, one input per file, and
//! `corpus/known-failures.txt`, the inputs among them that show a [`Defect`] still open.

use std::path::{Path, PathBuf};

use crate::known::Defect;

/// `corpus/` of this crate.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The corpus of the target called `target`, in file-name order (names starting with a dot
/// are left out).
pub fn files(target: &str) -> Vec<PathBuf> {
    let dir = root().join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading the corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .filter(|path| {
            !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    files.sort();
    files
}

/// One line of `known-failures.txt`: a corpus file and the open defect it shows.
#[derive(Clone, Debug)]
pub struct KnownFailure {
    /// The target whose corpus holds the file.
    pub target: String,
    /// The file.
    pub file: PathBuf,
    /// The defect.
    pub defect: Defect,
}

/// Every line of `corpus/known-failures.txt` (`<target>/<file> <defect id>`, `#` comments).
pub fn known_failures() -> Vec<KnownFailure> {
    let list = root().join("known-failures.txt");
    let text = std::fs::read_to_string(&list)
        .unwrap_or_else(|e| panic!("reading {}: {e}", list.display()));
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let (Some(path), Some(id), None) = (words.next(), words.next(), words.next()) else {
                panic!("known-failures.txt: expected `<target>/<file> <defect>`, got {line:?}");
            };
            let (target, _) = path
                .split_once('/')
                .unwrap_or_else(|| panic!("known-failures.txt: {path:?} names no target"));
            KnownFailure {
                target: target.to_owned(),
                file: root().join(path),
                defect: Defect::from_id(id)
                    .unwrap_or_else(|| panic!("known-failures.txt: no open defect called {id:?}")),
            }
        })
        .collect()
}

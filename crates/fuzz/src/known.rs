//! Defects the targets have found that are not fixed yet. A target checks
//! [`tolerated`] before failing on one, so that `cargo test` stays green while the defect is
//! open; the inputs that show it are listed in `corpus/known-failures.txt`, and their replay
//! runs under [`strict`], where nothing is tolerated, and must still fail. Once the code is
//! fixed that replay fails instead, asking for the variant, its checks and its lines to go.

use std::cell::Cell;

/// A defect found by fuzzing, still open: none is. The three the targets found first (mounts
/// keyed by volume name, unnamed ports collapsing, a panic on a websocket server without
/// config) are fixed, and their inputs stay in the corpus as regression tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {}

impl Defect {
    /// Every open defect.
    pub const ALL: [Defect; 0] = [];

    /// The name `corpus/known-failures.txt` uses.
    pub fn id(self) -> &'static str {
        match self {}
    }

    /// The defect called `id`.
    pub fn from_id(id: &str) -> Option<Defect> {
        Defect::ALL.into_iter().find(|d| d.id() == id)
    }
}

thread_local! {
    static STRICT: Cell<bool> = const { Cell::new(false) };
}

/// Whether a target lets `defect` pass: yes, except inside [`strict`].
pub fn tolerated(defect: Defect) -> bool {
    let _ = defect;
    !STRICT.with(Cell::get)
}

/// Runs `f` with no defect tolerated, on this thread.
pub fn strict<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            STRICT.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(STRICT.with(|s| s.replace(true)));
    f()
}

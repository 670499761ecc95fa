//! Defects the targets have found that are not fixed yet. A target checks
//! [`tolerated`] before failing on one, so that `cargo test` stays green while the defect is
//! open; the inputs that show it are listed in `corpus/known-failures.txt`, and their replay
//! runs under [`strict`], where nothing is tolerated, and must still fail. Once the code is
//! fixed that replay fails instead, asking for the variant, its checks and its lines to go.

use std::cell::Cell;

/// A defect found by fuzzing, still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// `merge::pod_template` keys volume mounts by volume name: two mounts of one volume at
    /// different paths (a ConfigMap's keys under two `subPath`s) become one, the last.
    MountsKeyedByVolume,
    /// `merge::pod_template` keys container ports by their optional name: of several unnamed
    /// ports only the last is kept.
    UnnamedPortsCollapse,
    /// `resolve` panics ("admission requires config or configFrom") on a `websocketServer`
    /// with neither: it relies on a CEL rule that a manifest read by `render -f` passes
    /// through first, but the controller's objects may predate the rule.
    WebsocketWithoutConfig,
}

impl Defect {
    /// Every open defect.
    pub const ALL: [Defect; 3] = [
        Defect::MountsKeyedByVolume,
        Defect::UnnamedPortsCollapse,
        Defect::WebsocketWithoutConfig,
    ];

    /// The name `corpus/known-failures.txt` uses.
    pub fn id(self) -> &'static str {
        match self {
            Defect::MountsKeyedByVolume => "mounts-keyed-by-volume",
            Defect::UnnamedPortsCollapse => "unnamed-ports-collapse",
            Defect::WebsocketWithoutConfig => "websocket-without-config",
        }
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

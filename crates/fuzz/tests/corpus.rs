//! Replays every target's checked-in corpus (`corpus/<target>/`): each file must pass, which
//! makes every input once minimised into a corpus a regression test. The inputs listed in
//! `corpus/known-failures.txt` must still show their defect when nothing is tolerated.

use std::panic::{AssertUnwindSafe, catch_unwind};

use superset_operator_fuzz::{TARGETS, corpus, known};

fn replay(target: &str) {
    let files = corpus::files(target);
    assert!(
        files.len() >= 3,
        "the corpus of {target} has {} files; keep a handful",
        files.len()
    );
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let outcome = catch_unwind(|| superset_operator_fuzz::run(target, &data));
        if let Err(panic) = outcome {
            panic!(
                "{target} fails on {}: {}",
                file.display(),
                message(panic.as_ref())
            );
        }
    }
}

fn message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".into())
}

#[test]
fn render() {
    replay("render");
}

#[test]
fn merge() {
    replay("merge");
}

#[test]
fn redact() {
    replay("redact");
}

#[test]
fn python_str() {
    replay("python_str");
}

#[test]
fn preview() {
    replay("preview");
}

#[test]
fn migrate_helm() {
    replay("migrate_helm");
}

#[test]
fn every_target_has_a_corpus_and_a_replay() {
    let here = include_str!("corpus.rs");
    for target in TARGETS {
        assert!(
            corpus::root().join(target.name).is_dir(),
            "no corpus/{}/",
            target.name
        );
        assert!(
            here.contains(&format!(
                "fn {}() {{\n    replay(\"{}\")",
                target.name, target.name
            )),
            "tests/corpus.rs does not replay {}",
            target.name
        );
    }
}

#[test]
fn known_failures_still_fail_when_nothing_is_tolerated() {
    let listed = corpus::known_failures();
    for defect in known::Defect::ALL {
        assert!(
            listed.iter().any(|k| k.defect == defect),
            "no input in known-failures.txt shows {}",
            defect.id()
        );
    }
    for failure in listed {
        let data = std::fs::read(&failure.file)
            .unwrap_or_else(|e| panic!("{}: {e}", failure.file.display()));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            known::strict(|| superset_operator_fuzz::run(&failure.target, &data))
        }));
        assert!(
            outcome.is_err(),
            "{} no longer shows {}: if the defect is fixed, remove its line from \
             corpus/known-failures.txt and the variant from src/known.rs",
            failure.file.display(),
            failure.defect.id()
        );
    }
}

//! The generated artefacts checked in (CRD YAML under `config/crd/`, the validation reference
//! under `docs/reference/`) are exactly what the Rust types generate. Regenerate with
//! `make generate`.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn checked_in_artefacts_match_the_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let generated = superset_operator_api::generated::artefacts().unwrap();
    for (file, contents) in &generated {
        let on_disk = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        assert!(on_disk == *contents, "{file} is stale: run `make generate`");
    }
    let expected: BTreeSet<String> = generated
        .iter()
        .map(|(file, _)| file.clone())
        .filter(|f| f.starts_with("config/crd/"))
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(root.join("config/crd"))
        .unwrap()
        .map(|e| format!("config/crd/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(
        present, expected,
        "config/crd/ holds files the types do not generate"
    );
}

#[test]
fn resources_stay_small_enough_to_handle_on_a_worker_stack() {
    // Large inline structs are copied through every deserialisation frame; a Superset once
    // overflowed a 2 MiB test thread in debug builds. Pod templates are boxed to prevent that.
    assert!(std::mem::size_of::<superset_operator_api::Superset>() < 8 * 1024);
    assert!(std::mem::size_of::<superset_operator_api::SupersetWebServer>() < 2 * 1024);
}

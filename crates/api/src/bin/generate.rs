//! `make generate`: writes every generated artefact (CRD YAML, validation reference) into the
//! repository, from the Rust types.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let artefacts = superset_operator_api::generated::artefacts().expect("generating artefacts");
    for (file, contents) in artefacts {
        let path = root.join(&file);
        std::fs::create_dir_all(path.parent().expect("generated files live in a directory"))
            .unwrap_or_else(|e| panic!("creating the directory of {file}: {e}"));
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {file}: {e}"));
        println!("wrote {file}");
    }
}

//! The CRDs as the YAML files checked in under `config/crd/`.

use crate::crds;

/// Header of every generated file, so nobody edits one by hand.
const HEADER: &str = "# Generated from the Rust types in crates/api by `make crds`. Do not edit.\n";

/// One `(file name, YAML)` pair per CRD, named after the CRD's plural.
pub fn files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    crds()
        .into_iter()
        .map(|crd| {
            let file = format!("{}.yaml", crd.spec.names.plural);
            Ok((file, format!("{HEADER}{}", serde_yaml::to_string(&crd)?)))
        })
        .collect()
}

/// Every CRD in one multi-document YAML stream.
pub fn all() -> Result<String, serde_yaml::Error> {
    let docs = crds()
        .iter()
        .map(serde_yaml::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(docs.iter().map(|d| format!("---\n{d}")).collect())
}

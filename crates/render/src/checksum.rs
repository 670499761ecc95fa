//! Checksums: `sha256:` and 64 lower-case hex digits.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Checksum of raw bytes.
pub fn of_bytes(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Checksum of a value's JSON encoding. Maps are ordered (`BTreeMap`), so the encoding, and
/// so the checksum, is stable.
pub fn of_json<T: Serialize + ?Sized>(value: &T) -> String {
    of_bytes(&serde_json::to_vec(value).expect("operator inputs serialise to JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(
            of_bytes(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

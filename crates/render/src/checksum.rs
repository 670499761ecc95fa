//! Checksums: `sha256:` and 64 lower-case hex digits; keyed ones, of secret data, are
//! `hmac-sha256:` and 64 hex digits.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Checksum of raw bytes.
pub fn of_bytes(bytes: &[u8]) -> String {
    hex("sha256:", &Sha256::digest(bytes))
}

fn hex(prefix: &str, digest: &[u8]) -> String {
    let mut out = String::with_capacity(prefix.len() + 2 * digest.len());
    out.push_str(prefix);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The key of the hashes of secret data that the operator publishes (in pod annotations, child
/// specs and status). A plain hash of a password can be tested against guesses by anyone who
/// reads a Deployment; a keyed one only by whoever holds the key, which the operator keeps in
/// a Secret of its own namespace.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey(Arc<[u8]>);

impl DataKey {
    /// A key of these bytes (at least 32 random ones in production).
    pub fn new(bytes: &[u8]) -> DataKey {
        DataKey(bytes.into())
    }

    /// The keyed checksum of a value's JSON encoding.
    pub fn of_json<T: Serialize + ?Sized>(&self, value: &T) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(&serde_json::to_vec(value).expect("operator inputs serialise to JSON"));
        hex("hmac-sha256:", &mac.finalize().into_bytes())
    }
}

/// Never the key itself.
impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({} bytes)", self.0.len())
    }
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

    #[test]
    fn keyed_checksums_depend_on_the_key_and_never_show_it() {
        let (one, other) = (DataKey::new(b"one key"), DataKey::new(b"another key"));
        let hash = one.of_json("s3cr3t");
        assert!(
            hash.starts_with("hmac-sha256:") && hash.len() == 12 + 64,
            "{hash}"
        );
        assert_eq!(hash, one.of_json("s3cr3t"));
        assert_ne!(hash, other.of_json("s3cr3t"));
        assert_ne!(hash, of_json("s3cr3t").replace("sha256:", "hmac-sha256:"));
        assert_eq!(format!("{one:?}"), "DataKey(7 bytes)");
    }
}

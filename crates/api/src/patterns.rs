//! What the API server checks of strings that the operator passes on to other objects, so that
//! a value the Deployment, Service or Ingress would refuse is refused when the Superset is
//! written, with the field named, not by the API server later on an object the user never
//! wrote. The API server matches patterns with Go's RE2, whose syntax the `regex` crate shares.

/// A name of a namespaced object such as a ServiceAccount (a DNS subdomain, lower case).
pub const DNS_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A host name an Ingress or HTTPRoute answers to: a DNS subdomain, optionally behind one `*.`.
pub const HOSTNAME: &str =
    r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// An image repository without tag or digest: a registry (with an optional port) and a path of
/// lower-case components, as container runtimes read it.
pub const IMAGE_REPOSITORY: &str = r"^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*$";

/// An image tag, as the OCI distribution specification defines it.
pub const IMAGE_TAG: &str = r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$";

/// A resource quantity written as a string (`500m`, `2Gi`, `1e3`), as Kubernetes parses it.
pub const QUANTITY: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, good: &[&str], bad: &[&str]) {
        let regex = regex::Regex::new(pattern).unwrap();
        for text in good {
            assert!(regex.is_match(text), "{pattern} refuses {text:?}");
        }
        for text in bad {
            assert!(!regex.is_match(text), "{pattern} admits {text:?}");
        }
    }

    #[test]
    fn names_and_hosts() {
        check(
            DNS_SUBDOMAIN,
            &["superset", "bi-2", "a.b.c"],
            &["Superset", "-bi", "bi_2", "bi.", "a b", ""],
        );
        check(
            HOSTNAME,
            &["superset.example.com", "*.example.com", "localhost"],
            &["Example.com", "a..b", "*", "http://x", "x/y", "x:80"],
        );
    }

    #[test]
    fn image_references() {
        check(
            IMAGE_REPOSITORY,
            &[
                "apachesuperset.docker.scarf.sh/apache/superset",
                "apache/superset",
                "superset",
                "localhost:5000/team/superset-custom",
                "Registry.Example.com/a__b/c.d-e",
                "superset-flower",
            ],
            &[
                "apache/Superset",
                "apache/superset:6.0.0",
                "a/superset@sha256:x",
                "a b",
                "/x",
                "x/",
            ],
        );
        check(
            IMAGE_TAG,
            &["6.0.0", "6.1.0-dev", "latest", "GHSA_1.2"],
            &["6.0.0\n", "-dev", ".1", "a:b", "", &"x".repeat(129)],
        );
    }

    #[test]
    fn quantities() {
        check(
            QUANTITY,
            &["500m", "2Gi", "1", "0.5", "1e3", "+1", ".5", "128974848"],
            &["banana", "1 Gi", "2GB", "1.5.5", "", "Gi"],
        );
    }
}

//! What a request to the API server is, in the API server's own terms (verb and resource, as
//! in `apiserver_request_total`), and tallies of them.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// The verb of a request, as the API server names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
    /// Anything else (discovery documents are `Get`s of `discovery`).
    Other,
}

impl Verb {
    /// Whether the request changes stored state.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::DeleteCollection
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Other => "other",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's verb and resource (`deployments`, `supersets/status`, or `discovery` for the
/// API discovery documents).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKind {
    pub verb: Verb,
    pub resource: String,
}

impl RequestKind {
    /// Classifies a request from its method, path and query string.
    pub fn of(method: &http::Method, path: &str, query: Option<&str>) -> RequestKind {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let rest = match segments.as_slice() {
            ["api", _version, rest @ ..] => rest,
            ["apis", _group, _version, rest @ ..] => rest,
            _ => &[],
        };
        // After the group and version: [namespaces, ns,] resource [, name [, subresource]].
        let rest = match rest {
            ["namespaces", _namespace, resource, tail @ ..] => {
                let mut named = vec![*resource];
                named.extend_from_slice(tail);
                named
            }
            other => other.to_vec(),
        };
        let Some((resource, named)) = rest.split_first() else {
            return RequestKind {
                verb: if method == http::Method::GET {
                    Verb::Get
                } else {
                    Verb::Other
                },
                resource: "discovery".into(),
            };
        };
        let resource = match named.get(1) {
            Some(subresource) => format!("{resource}/{subresource}"),
            None => (*resource).to_owned(),
        };
        let has_name = !named.is_empty();
        let watching = query.is_some_and(|q| {
            q.split('&')
                .any(|pair| pair == "watch=true" || pair == "watch=1")
        });
        let verb = match *method {
            http::Method::GET if watching => Verb::Watch,
            http::Method::GET if has_name => Verb::Get,
            http::Method::GET => Verb::List,
            http::Method::POST => Verb::Create,
            http::Method::PUT => Verb::Update,
            http::Method::PATCH => Verb::Patch,
            http::Method::DELETE if has_name => Verb::Delete,
            http::Method::DELETE => Verb::DeleteCollection,
            _ => Verb::Other,
        };
        RequestKind { verb, resource }
    }

    /// Whether this is the write of an Event, which the operator publishes on transitions
    /// and which is not a change of any object it manages.
    pub fn is_event(&self) -> bool {
        self.resource == "events"
    }
}

/// Requests counted by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally(pub BTreeMap<RequestKind, u64>);

impl Tally {
    pub fn add(&mut self, kind: &RequestKind, count: u64) {
        *self.0.entry(kind.clone()).or_default() += count;
    }

    /// What was counted since `earlier`.
    pub fn since(&self, earlier: &Tally) -> Tally {
        let mut delta = Tally::default();
        for (kind, &count) in &self.0 {
            let before = earlier.0.get(kind).copied().unwrap_or(0);
            if count > before {
                delta.add(kind, count - before);
            }
        }
        delta
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    fn sum(&self, keep: impl Fn(&RequestKind) -> bool) -> u64 {
        self.0
            .iter()
            .filter(|(kind, _)| keep(kind))
            .map(|(_, count)| count)
            .sum()
    }

    /// Requests of `verb`.
    pub fn verb(&self, verb: Verb) -> u64 {
        self.sum(|kind| kind.verb == verb)
    }

    /// Writes of objects (Events excluded).
    pub fn object_writes(&self) -> u64 {
        self.sum(|kind| kind.verb.is_write() && !kind.is_event())
    }

    /// Writes of status subresources.
    pub fn status_writes(&self) -> u64 {
        self.sum(|kind| kind.verb.is_write() && kind.resource.ends_with("/status"))
    }

    /// Event publications.
    pub fn event_writes(&self) -> u64 {
        self.sum(|kind| kind.verb.is_write() && kind.is_event())
    }

    /// Every kind, as `"verb resource" → count`, for the JSON results.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        self.0
            .iter()
            .map(|(kind, count)| (format!("{} {}", kind.verb, kind.resource), *count))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn kind(method: Method, path: &str, query: Option<&str>) -> (Verb, String) {
        let kind = RequestKind::of(&method, path, query);
        (kind.verb, kind.resource)
    }

    #[test]
    fn reads_are_split_into_get_list_and_watch() {
        assert_eq!(
            kind(
                Method::GET,
                "/apis/apps/v1/namespaces/a/deployments/web",
                None
            ),
            (Verb::Get, "deployments".into())
        );
        assert_eq!(
            kind(
                Method::GET,
                "/apis/apps/v1/namespaces/a/deployments",
                Some("limit=500")
            ),
            (Verb::List, "deployments".into())
        );
        assert_eq!(
            kind(
                Method::GET,
                "/api/v1/namespaces/a/configmaps",
                Some("timeoutSeconds=290&watch=true&resourceVersion=5")
            ),
            (Verb::Watch, "configmaps".into())
        );
    }

    #[test]
    fn subresources_cluster_scoped_kinds_and_discovery_are_named() {
        assert_eq!(
            kind(
                Method::PATCH,
                "/apis/superset.apache.org/v1alpha1/namespaces/a/supersets/x/status",
                Some("fieldManager=superset-operator&force=true")
            ),
            (Verb::Patch, "supersets/status".into())
        );
        assert_eq!(
            kind(
                Method::GET,
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/supersets.superset.apache.org",
                None
            ),
            (Verb::Get, "customresourcedefinitions".into())
        );
        assert_eq!(
            kind(Method::GET, "/apis/gateway.networking.k8s.io/v1", None),
            (Verb::Get, "discovery".into())
        );
        assert_eq!(
            kind(Method::GET, "/api/v1/namespaces/a", None),
            (Verb::Get, "namespaces".into())
        );
    }

    #[test]
    fn writes_are_named_by_method() {
        assert_eq!(
            kind(
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/a/events",
                None
            )
            .0,
            Verb::Create
        );
        assert_eq!(
            kind(Method::DELETE, "/api/v1/namespaces/a/pods/p", None).0,
            Verb::Delete
        );
        assert_eq!(
            kind(Method::DELETE, "/api/v1/namespaces/a/pods", None).0,
            Verb::DeleteCollection
        );
        assert_eq!(
            kind(Method::PUT, "/api/v1/namespaces/a/pods/p", None).0,
            Verb::Update
        );
    }

    #[test]
    fn a_tally_subtracts_an_earlier_one_and_sums_by_class() {
        let patch_status = RequestKind::of(
            &Method::PATCH,
            "/apis/superset.apache.org/v1alpha1/namespaces/a/supersets/x/status",
            None,
        );
        let event = RequestKind::of(
            &Method::POST,
            "/apis/events.k8s.io/v1/namespaces/a/events",
            None,
        );
        let get = RequestKind::of(&Method::GET, "/api/v1/namespaces/a/secrets/s", None);
        let mut before = Tally::default();
        before.add(&get, 4);
        let mut after = before.clone();
        after.add(&get, 3);
        after.add(&patch_status, 2);
        after.add(&event, 1);
        let delta = after.since(&before);
        assert_eq!(delta.total(), 6);
        assert_eq!(delta.object_writes(), 2);
        assert_eq!(delta.status_writes(), 2);
        assert_eq!(delta.event_writes(), 1);
        assert_eq!(delta.verb(Verb::Get), 3);
    }
}

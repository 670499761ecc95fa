//! The permissions the controllers use, in one table: the install manifests and the Helm
//! chart are generated from it, and a test runs the operator with nothing more.
//!
//! Least privilege: no wildcards; the workloads' Secrets are only read (their data is hashed,
//! with the operator's key, so that a rotated password rolls its readers, and nothing else is
//! kept); the one Secret the operator creates is that key's, in its own namespace; CRDs are
//! only read, and only the operator's own, by name.

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// One rule: the verbs on resources of one API group.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Resources, with subresources as `kind/status`.
    pub resources: &'static [&'static str],
    /// Verbs.
    pub verbs: &'static [&'static str],
    /// Why the operator needs it.
    pub why: &'static str,
}

const MANAGE: &[&str] = &["get", "list", "watch", "create", "patch", "delete"];
const READ: &[&str] = &["get", "list", "watch"];

/// Every permission the controllers use in the namespaces they watch.
pub const NAMESPACED_RULES: &[Rule] = &[
    Rule {
        group: "superset.apache.org",
        resources: &["supersets"],
        verbs: &["get", "list", "watch", "patch"],
        why: "watch Supersets; remove a consumed upgrade approval annotation",
    },
    Rule {
        group: "superset.apache.org",
        resources: &[
            "supersetwebservers",
            "supersetceleryworkers",
            "supersetcelerybeats",
            "supersetceleryflowers",
            "supersetwebsocketservers",
            "supersetmcpservers",
            "supersetlifecycletasks",
        ],
        verbs: MANAGE,
        why: "the child resources of every Superset",
    },
    Rule {
        group: "superset.apache.org",
        resources: &[
            "supersets/status",
            "supersetwebservers/status",
            "supersetceleryworkers/status",
            "supersetcelerybeats/status",
            "supersetceleryflowers/status",
            "supersetwebsocketservers/status",
            "supersetmcpservers/status",
            "supersetlifecycletasks/status",
        ],
        verbs: &["get", "patch"],
        why: "report status",
    },
    Rule {
        group: "apps",
        resources: &["deployments"],
        verbs: MANAGE,
        why: "component workloads and the maintenance page",
    },
    Rule {
        group: "",
        resources: &["services", "configmaps", "serviceaccounts"],
        verbs: MANAGE,
        why: "component Services, rendered configuration, the instance's ServiceAccount",
    },
    Rule {
        group: "",
        resources: &["pods"],
        verbs: &["get", "list", "watch", "create", "delete"],
        why: "lifecycle task attempts; the drain counts pods",
    },
    Rule {
        group: "",
        resources: &["secrets"],
        verbs: READ,
        why: "hash the Secrets pods read, so a rotation rolls exactly its readers (read only)",
    },
    Rule {
        group: "autoscaling",
        resources: &["horizontalpodautoscalers"],
        verbs: MANAGE,
        why: "component autoscalers",
    },
    Rule {
        group: "policy",
        resources: &["poddisruptionbudgets"],
        verbs: MANAGE,
        why: "component disruption budgets",
    },
    Rule {
        group: "networking.k8s.io",
        resources: &["ingresses", "networkpolicies"],
        verbs: MANAGE,
        why: "the Ingress and the NetworkPolicies",
    },
    Rule {
        group: "gateway.networking.k8s.io",
        resources: &["httproutes"],
        verbs: MANAGE,
        why: "the HTTPRoute, when the Gateway API is installed",
    },
    Rule {
        group: "monitoring.coreos.com",
        resources: &["servicemonitors"],
        verbs: MANAGE,
        why: "the ServiceMonitor, when the Prometheus Operator is installed",
    },
    Rule {
        group: "events.k8s.io",
        resources: &["events"],
        verbs: &["create", "patch"],
        why: "events on Supersets and their children",
    },
];

/// What the operator uses in its own namespace: the Lease of leader election, and the Secret
/// of the key it hashes secret data with, which the first replica creates.
pub const OWN_NAMESPACE_RULES: &[Rule] = &[
    Rule {
        group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["get", "create", "patch"],
        why: "leader election",
    },
    Rule {
        group: "",
        resources: &["secrets"],
        verbs: &["get", "create"],
        why: "the key secret data is hashed with before it is published (made once, never changed)",
    },
];

/// Names of the operator's CRDs, the only ones it reads.
pub fn crd_names() -> Vec<String> {
    superset_operator_api::crds()
        .into_iter()
        .filter_map(|crd| crd.metadata.name)
        .collect()
}

fn policy(rule: &Rule) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![rule.group.to_owned()]),
        resources: Some(rule.resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: rule.verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..Default::default()
    }
}

fn crd_rule() -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec!["apiextensions.k8s.io".into()]),
        resources: Some(vec!["customresourcedefinitions".into()]),
        resource_names: Some(crd_names()),
        verbs: vec!["get".into()],
        ..Default::default()
    }
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(
            [(
                "app.kubernetes.io/name".to_owned(),
                "superset-operator".to_owned(),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

/// The ClusterRole of an operator that watches every namespace: every namespaced rule, and
/// reading its own CRDs.
pub fn cluster_role(name: &str) -> ClusterRole {
    let mut rules: Vec<PolicyRule> = NAMESPACED_RULES.iter().map(policy).collect();
    rules.push(crd_rule());
    ClusterRole {
        metadata: meta(name, None),
        rules: Some(rules),
        ..Default::default()
    }
}

/// The Role an operator limited to some namespaces gets in each of them.
pub fn namespace_role(name: &str, namespace: &str) -> Role {
    Role {
        metadata: meta(name, Some(namespace)),
        rules: Some(NAMESPACED_RULES.iter().map(policy).collect()),
    }
}

/// The only cluster-wide permission of a namespace-scoped operator: reading its own CRDs.
pub fn crd_reader(name: &str) -> ClusterRole {
    ClusterRole {
        metadata: meta(name, None),
        rules: Some(vec![crd_rule()]),
        ..Default::default()
    }
}

/// The Role in the operator's own namespace: the leader-election Lease and the data key.
pub fn own_namespace_role(name: &str, namespace: &str) -> Role {
    Role {
        metadata: meta(name, Some(namespace)),
        rules: Some(OWN_NAMESPACE_RULES.iter().map(policy).collect()),
    }
}

fn subject(account: &str, namespace: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "ServiceAccount".into(),
        name: account.to_owned(),
        namespace: Some(namespace.to_owned()),
        ..Default::default()
    }]
}

/// Binds a ClusterRole cluster-wide to the operator's ServiceAccount.
pub fn cluster_binding(role: &str, account: &str, namespace: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(role, None),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.to_owned(),
        },
        subjects: Some(subject(account, namespace)),
    }
}

/// Binds a Role in `namespace` to the operator's ServiceAccount living in `account_namespace`.
pub fn role_binding(
    role: &str,
    namespace: &str,
    account: &str,
    account_namespace: &str,
) -> RoleBinding {
    RoleBinding {
        metadata: meta(role, Some(namespace)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: role.to_owned(),
        },
        subjects: Some(subject(account, account_namespace)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_wildcards_anywhere() {
        let role = cluster_role("superset-operator");
        for rule in role.rules.unwrap() {
            let every = rule
                .api_groups
                .iter()
                .flatten()
                .chain(rule.resources.iter().flatten())
                .chain(rule.verbs.iter());
            for item in every {
                assert!(!item.contains('*'), "wildcard in {rule:?}");
            }
        }
    }

    #[test]
    fn secrets_are_only_read_and_crds_only_ours() {
        for rule in NAMESPACED_RULES {
            if rule.resources.contains(&"secrets") {
                assert_eq!(rule.verbs, READ, "Secrets must be read-only");
                assert_eq!(rule.resources, &["secrets"]);
            }
            assert!(!rule.verbs.contains(&"update") || rule.group == "coordination.k8s.io");
        }
        for rule in OWN_NAMESPACE_RULES {
            if rule.resources.contains(&"secrets") {
                assert_eq!(
                    rule.verbs,
                    ["get", "create"],
                    "the data key is made, never changed"
                );
            }
        }
        let crd = crd_rule();
        assert_eq!(crd.verbs, vec!["get"]);
        assert_eq!(crd.resource_names.unwrap().len(), 8);
    }

    #[test]
    fn nothing_cluster_scoped_besides_crds() {
        let cluster_scoped = ["nodes", "namespaces", "clusterroles", "persistentvolumes"];
        for rule in NAMESPACED_RULES {
            for resource in rule.resources {
                assert!(!cluster_scoped.contains(resource), "{resource}");
            }
        }
    }
}

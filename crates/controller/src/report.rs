//! Failures told to the user on the object they concern, where `kubectl describe` shows them:
//! a condition with the (redacted) reason and a Warning event. Each kind of report is written
//! by a field manager of its own, which owns only its condition: the status the reconciles
//! apply never carries it (see [`without_reports`]), and a report is withdrawn by applying
//! nothing under its manager.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use std::fmt::Debug;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Client, Resource, ResourceExt as _};
use serde_json::{Value, json};

use crate::decode::{INVALID_SPEC, Lenient};
use crate::watch::Watched;
use crate::{Error, events};

/// The condition a failed reconcile leaves, until one succeeds.
pub const RECONCILE_ERROR: &str = "ReconcileError";

/// A failure reported on an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// The object does not fit the operator's types ([`INVALID_SPEC`]).
    InvalidSpec,
    /// The last reconcile failed ([`RECONCILE_ERROR`]).
    ReconcileError,
}

impl Report {
    /// Every report.
    pub const ALL: [Report; 2] = [Report::InvalidSpec, Report::ReconcileError];

    /// The condition's type.
    pub fn condition(self) -> &'static str {
        match self {
            Report::InvalidSpec => INVALID_SPEC,
            Report::ReconcileError => RECONCILE_ERROR,
        }
    }

    fn field_manager(self) -> &'static str {
        match self {
            Report::InvalidSpec => "superset-operator-invalid-spec",
            Report::ReconcileError => "superset-operator-reconcile-error",
        }
    }
}

/// The messages of the reports an object's status carries, read as it is decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reported {
    invalid_spec: Option<String>,
    reconcile_error: Option<String>,
}

impl Reported {
    /// What `object` (as JSON) reports in its status.
    pub fn read(object: &Value) -> Self {
        let message = |type_: &str| {
            object["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == type_ && c["status"] == "True")
                .map(|c| c["message"].as_str().unwrap_or_default().to_owned())
        };
        Reported {
            invalid_spec: message(INVALID_SPEC),
            reconcile_error: message(RECONCILE_ERROR),
        }
    }

    /// The message of `report`, when the object carries it.
    pub fn get(&self, report: Report) -> Option<&str> {
        match report {
            Report::InvalidSpec => self.invalid_spec.as_deref(),
            Report::ReconcileError => self.reconcile_error.as_deref(),
        }
    }
}

/// `conditions` without the reports, for a status the reconciles apply: a report belongs to
/// its own field manager, and a status carrying it would keep it after it was withdrawn.
pub fn without_reports(conditions: &[Condition]) -> Vec<Condition> {
    conditions
        .iter()
        .filter(|c| Report::ALL.iter().all(|r| r.condition() != c.type_))
        .cloned()
        .collect()
}

/// Reports `message` on `object` under `report` with `reason`, and publishes it as a Warning
/// event; nothing is written when the object carries that message already.
pub async fn raise<K>(
    client: &Client,
    object: &Lenient<K>,
    report: Report,
    reason: &str,
    message: &str,
) -> Result<(), Error>
where
    K: Watched,
{
    if object.reported().get(report) == Some(message) {
        return Ok(());
    }
    let condition = Condition {
        type_: report.condition().into(),
        status: "True".into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: object.meta().generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
    };
    apply(client, object, report, json!({ "conditions": [condition] })).await?;
    let event = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(message.into()),
        action: report.condition().into(),
        secondary: None,
    };
    events::publish(client, object, event).await;
    Ok(())
}

/// Withdraws `report` from `object`, when it carries it.
pub async fn withdraw<K>(client: &Client, object: &Lenient<K>, report: Report) -> Result<(), Error>
where
    K: Watched,
{
    if object.reported().get(report).is_none() {
        return Ok(());
    }
    apply(client, object, report, json!({})).await
}

/// Applies `status` as the whole of what `report`'s manager owns of `object`.
async fn apply<K>(
    client: &Client,
    object: &Lenient<K>,
    report: Report,
    status: Value,
) -> Result<(), Error>
where
    K: Watched,
{
    let namespace = object.namespace().ok_or(Error::MissingIdentity)?;
    let api: Api<Lenient<K>> = Api::namespaced(client.clone(), &namespace);
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(report.field_manager()).force(),
        &Patch::Apply(patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(type_: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: "True".into(),
            reason: "R".into(),
            message: "m".into(),
            observed_generation: None,
            last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
        }
    }

    #[test]
    fn a_reconciled_status_never_carries_a_report() {
        let conditions = [
            condition("Available"),
            condition(INVALID_SPEC),
            condition(RECONCILE_ERROR),
        ];
        let kept: Vec<_> = without_reports(&conditions)
            .into_iter()
            .map(|c| c.type_)
            .collect();
        assert_eq!(kept, ["Available"]);
    }

    #[test]
    fn only_true_reports_are_read() {
        let object = json!({ "status": { "conditions": [
            { "type": RECONCILE_ERROR, "status": "True", "message": "Deployment is invalid" },
            { "type": INVALID_SPEC, "status": "False", "message": "" },
        ]}});
        let reported = Reported::read(&object);
        assert_eq!(
            reported.get(Report::ReconcileError),
            Some("Deployment is invalid")
        );
        assert_eq!(reported.get(Report::InvalidSpec), None);
        assert_eq!(Reported::read(&json!({})), Reported::default());
    }
}

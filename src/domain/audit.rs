//! Who did what: the actor behind every change (an operator signed in to the
//! console, an API token, or the command line) and what an audit entry records
//! of it. The store appends the entry in the same transaction as the change, so
//! a change without its entry cannot exist.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Outage;

/// Who acts, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub operator_id: Option<i64>,
    pub token_id: Option<i64>,
    /// As the log shows it: the operator's username, `token:NAME` for a token
    /// of no operator, `cli` for the command line.
    pub name: String,
    /// The client's address (after trusted proxies), where there is one.
    pub client: Option<String>,
}

impl Actor {
    /// Someone at the machine, running `herald …`.
    pub fn cli() -> Actor {
        Actor {
            operator_id: None,
            token_id: None,
            name: "cli".into(),
            client: None,
        }
    }
}

/// What an entry says was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    OutageDeclared,
    OutageUpdated,
    OutageRestored,
    OutageCancelled,
    DeadRetried,
    SignedIn,
    SignInFailed,
    SignedOut,
    SignedOutEverywhere,
    OperatorCreated,
    OperatorDisabled,
    PasswordReset,
    TokenCreated,
    TokenRevoked,
    AddressesImported,
    ContactsImported,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::OutageDeclared => "outage.declared",
            Action::OutageUpdated => "outage.updated",
            Action::OutageRestored => "outage.restored",
            Action::OutageCancelled => "outage.cancelled",
            Action::DeadRetried => "deliveries.dead_retried",
            Action::SignedIn => "session.signed_in",
            Action::SignInFailed => "session.sign_in_failed",
            Action::SignedOut => "session.signed_out",
            Action::SignedOutEverywhere => "session.signed_out_everywhere",
            Action::OperatorCreated => "operator.created",
            Action::OperatorDisabled => "operator.disabled",
            Action::PasswordReset => "operator.password_reset",
            Action::TokenCreated => "token.created",
            Action::TokenRevoked => "token.revoked",
            Action::AddressesImported => "addresses.imported",
            Action::ContactsImported => "contacts.imported",
        }
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a Actor,
    pub action: Action,
    /// What it was done to: an outage's reference, an operator's or a token's name.
    pub subject: Option<String>,
    pub details: Value,
}

/// An entry as the log shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Logged {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub details: Value,
    pub client: Option<String>,
}

/// The details of an outage's entry: its state after the change and, for a
/// change, before it (ETR, cause, status, area vertex count, addresses).
pub fn outage_details(before: Option<&Outage>, after: &Outage) -> Value {
    let state = |o: &Outage| {
        json!({
            "status": o.status,
            "etr": o.etr.as_option(),
            "cause": o.cause,
            "area_vertices": vertices(&o.area),
            "affected_addresses": o.affected_addresses,
            "revision": o.revision,
        })
    };
    match before {
        Some(b) => json!({ "before": state(b), "after": state(after) }),
        None => json!({ "after": state(after) }),
    }
}

/// The positions in a GeoJSON geometry's coordinates (rings' closing vertices
/// included).
pub fn vertices(geometry: &Value) -> usize {
    fn count(v: &Value) -> usize {
        match v {
            Value::Array(items) if items.first().is_some_and(Value::is_number) => 1,
            Value::Array(items) => items.iter().map(count).sum(),
            _ => 0,
        }
    }
    geometry.get("coordinates").map_or(0, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertices_are_counted_through_every_part_and_ring() {
        let square = json!([[0, 0], [1, 0], [1, 1], [0, 0]]);
        let hole = json!([[0.2, 0.2], [0.4, 0.2], [0.2, 0.4], [0.2, 0.2]]);
        let area = json!({"type": "MultiPolygon", "coordinates": [[square, hole], [square]]});
        assert_eq!(vertices(&area), 12);
        assert_eq!(vertices(&json!({"type": "Polygon"})), 0);
    }
}

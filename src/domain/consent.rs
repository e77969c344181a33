//! The consent ledger's vocabulary: for each contact, channel and purpose,
//! consent given or withdrawn, how, and from where (GDPR Art. 7(1): the
//! utility must be able to show it). The store appends an event in the same
//! transaction as the change it records, and never updates one.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Channel;

/// What the consent is for. Outage alerts are the only purpose today; the
/// ledger names it so a second purpose cannot be confused with the first.
pub const ALERTS: &str = "outage_alerts";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Given,
    Withdrawn,
    /// The address cannot receive (a permanent bounce): no consent changes,
    /// but nothing goes to it until the resident confirms it again.
    Undeliverable,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Given, Action::Withdrawn, Action::Undeliverable];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Given => "given",
            Action::Withdrawn => "withdrawn",
            Action::Undeliverable => "undeliverable",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// How consent was given or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The status page's sign-up form (its version in the detail), confirmed by
    /// the link it sent.
    ConfirmationLink,
    /// A customer list (the file name in the detail).
    Import,
    /// A text message to Herald's number (the keyword in the detail).
    SmsKeyword,
    /// The unsubscribe page's button.
    UnsubscribeLink,
    /// RFC 8058 one-click unsubscribe from the mail client.
    OneClick,
    /// An operator's action (the operator in the detail).
    Operator,
    /// A spam complaint from the mailbox provider (the feedback type in the
    /// detail).
    Complaint,
    /// A bounce: the receiving system refused the address for good (the
    /// status and diagnostic in the detail).
    Bounce,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::ConfirmationLink,
        Method::Import,
        Method::SmsKeyword,
        Method::UnsubscribeLink,
        Method::OneClick,
        Method::Operator,
        Method::Complaint,
        Method::Bounce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::ConfirmationLink => "confirmation_link",
            Method::Import => "import",
            Method::SmsKeyword => "sms_keyword",
            Method::UnsubscribeLink => "unsubscribe_link",
            Method::OneClick => "one_click",
            Method::Operator => "operator",
            Method::Complaint => "complaint",
            Method::Bounce => "bounce",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How and from where a change of consent came: what its ledger event says
/// besides the contact and the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub method: Method,
    /// The form version, the file name, the keyword, the operator.
    pub detail: String,
    /// The client's address, or the phone number a keyword came from.
    pub source: Option<String>,
}

impl Via {
    pub fn new(method: Method, detail: impl Into<String>, source: Option<String>) -> Via {
        Via {
            method,
            detail: detail.into(),
            source,
        }
    }
}

/// One event of the ledger, as operators read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    pub contact_id: i64,
    pub channel: Channel,
    pub purpose: String,
    pub action: Action,
    pub method: Method,
    pub detail: String,
    pub source: Option<String>,
    pub at: DateTime<Utc>,
}

/// The version of the status page's sign-up form, recorded with every consent
/// it collects: change it whenever the form's wording changes.
pub const SIGN_UP_FORM_VERSION: &str = "sign-up form v1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_name() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.as_str()), Some(m));
        }
        assert_eq!(Method::parse("telepathy"), None);
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
    }
}

//! Delivery and bounce reports: what happened to a message after Herald
//! handed it over.
//!
//! - **SMS delivery reports.** Each SMS asks its gateway to report back:
//!   Kannel's `dlr-url` (a URL of ours carrying the delivery id and a
//!   signature of it by the deployment's key, so a report for one message
//!   cannot be forged or moved to another) and Twilio's `StatusCallback`
//!   (signed by Twilio with the account's auth token, as its inbound webhook
//!   is). A final report marks the delivery `delivered` or `failed` with the
//!   carrier's reason; interim ones (queued at the SMSC) change nothing.
//! - **E-mail bounces and complaints**, posted as the raw message the
//!   receiving system sent back (RFC 3464 DSN, RFC 5965 ARF; read by
//!   [`crate::channels::feedback`]). A permanent bounce marks every contact
//!   with that address undeliverable (nothing more goes to it until the
//!   resident confirms it again) and the delivery it names `failed`; a
//!   complaint opts the address out, as an unsubscribe would, and keeps
//!   imports from adding it back. Both are written to the consent ledger.
//! - A permanent SMTP refusal of the recipient at send time (550, 551, 553,
//!   or an enhanced 5.1.x status) is a bounce too: the worker marks the
//!   address undeliverable the same way ([`refused_at_send`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::ServerKey;
use crate::channels::feedback::{self, Feedback, Parsed};
use crate::coalesce::Coalesce;
use crate::domain::consent::{Method, Via};
use crate::domain::contact::{Destination, Region};
use crate::domain::Channel;
use crate::error::Result;
use crate::store::{DestinationConsent, Receipt, Store};

pub const KANNEL_PATH: &str = "/sms/v1/status/kannel";
pub const TWILIO_PATH: &str = "/sms/v1/status/twilio";

/// The purpose a delivery id is signed for in Kannel's `dlr-url`.
const SIGNED: &str = "sms delivery report";

/// What the worker needs to ask for a report on one SMS.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub delivery_id: i64,
    /// `public_url` without a trailing slash.
    pub public_url: String,
    /// The delivery id signed by the deployment's key.
    pub signature: String,
}

impl ReportRequest {
    pub fn new(delivery_id: i64, public_url: &str, key: &ServerKey) -> ReportRequest {
        ReportRequest {
            delivery_id,
            public_url: public_url.trim_end_matches('/').to_string(),
            signature: key.sign(SIGNED, &delivery_id.to_string()),
        }
    }

    /// Kannel's `dlr-url`: Kannel fills in `%d` (the type) and `%A` (the
    /// SMSC's answer, `id:… stat:UNDELIV err:001 …`).
    pub fn kannel_url(&self) -> String {
        format!(
            "{}{KANNEL_PATH}?id={}&sig={}&type=%d&answer=%A",
            self.public_url, self.delivery_id, self.signature
        )
    }

    /// Twilio's `StatusCallback`; Twilio signs each call.
    pub fn twilio_url(&self) -> String {
        format!("{}{TWILIO_PATH}?id={}", self.public_url, self.delivery_id)
    }
}

/// Whether a Kannel report's signature is the delivery id's.
pub fn kannel_signed(key: &ServerKey, delivery_id: i64, signature: &str) -> bool {
    key.verify(SIGNED, &delivery_id.to_string(), signature)
}

/// A final report: delivered, or failed with the carrier's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    Delivered,
    Failed(String),
}

/// Reads a Kannel report; None for an interim one.
pub fn kannel_report(dlr_type: u32, answer: &str) -> Option<Final> {
    let answer = answer.trim();
    // The SMSC's own words: "stat:UNDELIV err:001", else the whole answer.
    let field = |name: &str| {
        answer
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .filter(|v| !v.is_empty())
    };
    let reason = || match (field("stat:"), field("err:")) {
        (Some(stat), Some(err)) => format!("{stat} (error {err})"),
        (Some(stat), None) => stat.to_string(),
        _ if answer.is_empty() => "not delivered".to_string(),
        _ => answer.chars().take(200).collect(),
    };
    match dlr_type {
        1 => Some(Final::Delivered),
        2 => Some(Final::Failed(reason())),
        16 => Some(Final::Failed(format!("rejected by the SMSC: {}", reason()))),
        _ => None,
    }
}

/// Reads a Twilio status callback; None for an interim status (queued,
/// sending, sent).
pub fn twilio_report(status: &str, error_code: Option<&str>) -> Option<Final> {
    let reason = |what: &str| match error_code.filter(|c| !c.is_empty()) {
        Some(code) => format!("{what} (Twilio error {code}{})", twilio_error_name(code)),
        None => what.to_string(),
    };
    match status {
        "delivered" | "read" => Some(Final::Delivered),
        "undelivered" => Some(Final::Failed(reason("undelivered"))),
        "failed" => Some(Final::Failed(reason("failed"))),
        _ => None,
    }
}

/// Names of the carrier errors operators meet most.
fn twilio_error_name(code: &str) -> &'static str {
    match code {
        "30003" => ": unreachable handset",
        "30004" => ": message blocked",
        "30005" => ": unknown destination handset",
        "30006" => ": landline or unreachable carrier",
        "30007" => ": carrier filtering",
        "30008" => ": unknown error",
        _ => "",
    }
}

/// Reports in one transaction, at most (a few hundred arrive at once in a
/// fan-out; see [`crate::coalesce`]).
const REPORTS_PER_BATCH: usize = 500;

/// An SMS delivery report, as queued for writing.
struct SmsReport {
    delivery_id: i64,
    provider_id: Option<String>,
    report: Final,
    at: DateTime<Utc>,
}

/// Writes SMS delivery reports: those that arrive together, in one
/// transaction (see [`crate::coalesce`]).
pub struct SmsReports(Coalesce<SmsReport, bool>);

impl SmsReports {
    /// Starts the writing task (on the current Tokio runtime).
    pub fn new(store: Store) -> SmsReports {
        SmsReports(Coalesce::new(
            "sms reports",
            REPORTS_PER_BATCH,
            move |reports: Vec<SmsReport>| {
                let store = store.clone();
                async move {
                    let receipts: Vec<Receipt<'_>> = reports
                        .iter()
                        .map(|r| {
                            let (delivered, reason) = match &r.report {
                                Final::Delivered => (true, None),
                                Final::Failed(reason) => (false, Some(reason.as_str())),
                            };
                            Receipt {
                                delivery_id: r.delivery_id,
                                provider_message_id: r.provider_id.as_deref(),
                                delivered,
                                reason,
                                at: r.at,
                            }
                        })
                        .collect();
                    store.record_receipts(&receipts).await
                }
            },
        ))
    }

    /// Records a final report once it is committed; false when no sent
    /// delivery matched.
    pub async fn record(
        &self,
        delivery_id: i64,
        provider_id: Option<&str>,
        report: Final,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.0
            .call(SmsReport {
                delivery_id,
                provider_id: provider_id.map(str::to_string),
                report,
                at: now,
            })
            .await
    }
}

/// What a posted feedback message changed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FeedbackOutcome {
    /// "bounce" or "complaint".
    pub kind: &'static str,
    /// Addresses the report names, as Herald stores them.
    pub recipients: Vec<String>,
    /// Contacts newly marked undeliverable (bounce) or opted out (complaint).
    pub contacts: u64,
    /// The delivery the report is about, when it names one of Herald's.
    pub delivery_id: Option<i64>,
    /// Recipients whose bounce was only temporary (delayed, 4.x.x): nothing
    /// changes for them.
    pub temporary: Vec<String>,
}

/// Applies a parsed bounce or complaint. `source` says where it came from
/// (for the ledger), `region` reads the addresses as imports do.
pub async fn apply_feedback(
    store: &Store,
    key: &ServerKey,
    parsed: &Parsed,
    region: Region,
    now: DateTime<Utc>,
) -> Result<FeedbackOutcome> {
    let delivery_id = parsed
        .original_message_id
        .as_deref()
        .and_then(feedback::herald_delivery_id);
    let stored = |address: &str| {
        Destination::parse(Channel::Email, address, region)
            .ok()
            .map(|d| d.as_str().to_string())
    };
    let mut outcome = FeedbackOutcome {
        delivery_id,
        ..FeedbackOutcome::default()
    };
    match &parsed.feedback {
        Feedback::Bounce(bounces) => {
            outcome.kind = "bounce";
            // The delivery the report names failed: with the first permanent
            // refusal's reason (an alias can expand to several recipients).
            let mut failed: Option<String> = None;
            for b in bounces {
                let Some(address) = stored(&b.recipient) else {
                    continue;
                };
                if !b.permanent {
                    outcome.temporary.push(address);
                    continue;
                }
                let reason = match &b.diagnostic {
                    Some(d) => format!("{} {}", b.status, d),
                    None => b.status.clone(),
                };
                let via = Via::new(Method::Bounce, reason.clone(), Some("dsn".to_string()));
                outcome.contacts += store
                    .mark_undeliverable(Channel::Email, &address, &reason, &via, now)
                    .await?;
                failed.get_or_insert(reason);
                outcome.recipients.push(address);
            }
            if let (Some(id), Some(reason)) = (delivery_id, failed) {
                store
                    .record_receipts(&[Receipt {
                        delivery_id: id,
                        provider_message_id: None,
                        delivered: false,
                        reason: Some(&format!("bounced: {reason}")),
                        at: now,
                    }])
                    .await?;
            }
        }
        Feedback::Complaint(c) => {
            outcome.kind = "complaint";
            let via = Via::new(
                Method::Complaint,
                c.feedback_type.clone(),
                Some("arf".to_string()),
            );
            for r in &c.recipients {
                let Some(address) = stored(r) else {
                    continue;
                };
                let suppression = key.suppression(Channel::Email, &address);
                let changed = store
                    .opt_out_destination(&DestinationConsent {
                        channel: Channel::Email,
                        destination: &address,
                        suppression: &suppression,
                        via: &via,
                        at: now,
                    })
                    .await?;
                outcome.contacts += changed.contacts;
                outcome.recipients.push(address);
            }
        }
    }
    Ok(outcome)
}

/// Whether an SMTP refusal at send time is about the recipient's address
/// itself (no such mailbox, not local, not allowed), so that no later
/// message can reach it either: 550, 551 and 553, or an enhanced status
/// 5.1.x (bad destination address). A full mailbox (552) or a policy
/// refusal (554) is not.
pub fn refused_at_send(error: &str) -> bool {
    let words: Vec<&str> = error
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')'))
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().any(|w| w.starts_with("5.1."))
        || words
            .iter()
            .take(5)
            .any(|w| matches!(*w, "550" | "551" | "553"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kannel_reports_read_the_smsc_answer() {
        assert_eq!(
            kannel_report(1, "id:1 stat:DELIVRD err:000"),
            Some(Final::Delivered)
        );
        assert_eq!(
            kannel_report(2, "id:77 sub:001 dlvrd:000 stat:UNDELIV err:001 text:"),
            Some(Final::Failed("UNDELIV (error 001)".into()))
        );
        assert_eq!(
            kannel_report(16, "NACK/0x0000000b/Invalid Destination Address"),
            Some(Final::Failed(
                "rejected by the SMSC: NACK/0x0000000b/Invalid Destination Address".into()
            ))
        );
        assert_eq!(kannel_report(8, "ACK/"), None);
        assert_eq!(kannel_report(4, ""), None);
        assert_eq!(
            kannel_report(2, ""),
            Some(Final::Failed("not delivered".into()))
        );
    }

    #[test]
    fn twilio_reports_name_the_error() {
        assert_eq!(twilio_report("delivered", None), Some(Final::Delivered));
        assert_eq!(
            twilio_report("undelivered", Some("30005")),
            Some(Final::Failed(
                "undelivered (Twilio error 30005: unknown destination handset)".into()
            ))
        );
        assert_eq!(
            twilio_report("failed", Some("")),
            Some(Final::Failed("failed".into()))
        );
        for interim in ["queued", "sending", "sent", "accepted"] {
            assert_eq!(twilio_report(interim, None), None);
        }
    }

    #[test]
    fn a_report_link_is_signed_for_its_delivery_only() {
        let key = ServerKey::new("k");
        let r = ReportRequest::new(42, "https://status.example/", &key);
        let url = r.kannel_url();
        assert!(url.starts_with("https://status.example/sms/v1/status/kannel?id=42&sig="));
        assert!(url.ends_with("&type=%d&answer=%A"));
        assert!(kannel_signed(&key, 42, &r.signature));
        assert!(!kannel_signed(&key, 43, &r.signature));
        assert!(!kannel_signed(&ServerKey::new("other"), 42, &r.signature));
        assert_eq!(
            r.twilio_url(),
            "https://status.example/sms/v1/status/twilio?id=42"
        );
    }

    #[test]
    fn a_refusal_of_the_address_is_told_from_other_refusals() {
        for yes in [
            "SMTP: permanent error (550): 5.1.1 <a@b.example>: Recipient address rejected: User unknown",
            "SMTP: permanent error (553): mailbox name not allowed",
            "SMTP: permanent error (551): user not local",
            "SMTP: permanent error (554): 5.1.2 bad destination system",
        ] {
            assert!(refused_at_send(yes), "{yes}");
        }
        for no in [
            "SMTP: permanent error (552): 5.2.2 mailbox full",
            "SMTP: permanent error (554): 5.7.1 message rejected as spam",
            "SMTP: permanent error (554): transaction failed",
        ] {
            assert!(!refused_at_send(no), "{no}");
        }
    }
}

//! Feedback about mail Herald sent: bounces (RFC 3464 delivery status
//! notifications) and complaints (RFC 5965 abuse feedback reports), read from
//! the raw RFC 5322 message a mail system sends back.
//!
//! Both kinds are `multipart/report` messages (RFC 6522) with up to three
//! parts: a human-readable explanation (ignored here), a machine-readable part
//! (`message/delivery-status` or `message/feedback-report`), and optionally the
//! original message Herald sent, whole (`message/rfc822`) or its header only
//! (`text/rfc822-headers`). [`parse`] turns that into a [`Parsed`]: what the
//! report says per recipient, plus the original `Message-ID`, from which
//! [`herald_delivery_id`] recovers the delivery the report is about.
//!
//! Decisions:
//! - The MIME layer (boundaries, CRLF or LF, folded headers, case-insensitive
//!   names and parameters, quoted-printable and base64, nested multiparts,
//!   encoded words in the enclosed header) is `mail-parser`'s: it is small, has
//!   no required dependencies, and is far better tested on real-world breakage
//!   than a hand-written subset would be.
//! - The machine-readable parts are read here instead. They are not a message
//!   header but blocks of header-like fields separated by blank lines (a
//!   per-message block, then one per recipient), and their values keep
//!   semantics of their own (the `rfc822;` address type, the `smtp;`
//!   diagnostic type). A few lines of unfolding are clearer than re-parsing
//!   each block as a message header and undoing what that parser decodes.
//! - The report is found as the first `multipart/report` anywhere in the outer
//!   message's MIME tree, so a report wrapped in a `multipart/mixed` (some
//!   forwarding gateways do this) still counts; a report *attached* as a
//!   `message/rfc822` (a forwarded bounce) does not, since it is not about mail
//!   the sender of this message received from Herald.
//! - RFC 6533's internationalized forms (`message/global-delivery-status`,
//!   `message/global-headers`, `message/global`) are read like the classic ones;
//!   their field blocks are UTF-8, which is also how classic ASCII reads.
//! - Being lenient where it costs nothing: a missing `report-type` is inferred
//!   from the machine-readable part present, a missing `Action` from the status
//!   class, a missing `Status` from an enhanced code in the diagnostic (Exim
//!   writes `5.0.0` in `Status` but the real code only in the diagnostic, which
//!   is kept as written). Whatever cannot be recovered is an error with a message
//!   fit for an HTTP 400 body.
//! - The original `Message-ID` comes from the enclosed message first (it is what
//!   was actually delivered), else from an `Original-Message-ID` field of the
//!   report, or Gmail's `X-Original-Message-ID`. It is returned with its angle
//!   brackets, as Herald wrote it.

use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};

/// What a feedback message says about mail Herald sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// RFC 3464 delivery status notification (multipart/report; report-type=delivery-status).
    Bounce(Vec<Bounce>),
    /// RFC 5965 abuse feedback report (multipart/report; report-type=feedback-report).
    Complaint(Complaint),
}

/// One recipient's block of a delivery status notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The recipient address (Final-Recipient, else Original-Recipient), the
    /// `rfc822;` type prefix removed, trimmed, as written: the local part keeps
    /// its case (compare lowercased if need be).
    pub recipient: String,
    /// Action field lowercased: "failed", "delayed", "delivered", "relayed", "expanded".
    pub action: String,
    /// Status field, e.g. "5.1.1".
    pub status: String,
    /// Diagnostic-Code with its type prefix ("smtp; ") removed, if present.
    pub diagnostic: Option<String>,
    /// True when action is "failed" AND the status class is 5 (permanent).
    /// "delayed" or 4.x.x is never permanent.
    pub permanent: bool,
}

/// An abuse feedback report: a recipient marked Herald's mail as spam (or similar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// Feedback-Type lowercased ("abuse", "fraud", "not-spam", "virus", "other", ...).
    pub feedback_type: String,
    /// The complaining recipient(s): Original-Rcpt-To fields of the report; if
    /// none, the To: address(es) of the enclosed original message or headers.
    /// Empty when the reporter redacted both.
    pub recipients: Vec<String>,
}

/// A parsed feedback message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub feedback: Feedback,
    /// The Message-ID of the original message Herald sent, if the report
    /// encloses it (from the message/rfc822 or text/rfc822-headers part, or from
    /// an `Original-Message-ID` field of the report), angle brackets kept, e.g.
    /// "<1234.r2.herald@example.org>".
    pub original_message_id: Option<String>,
}

/// Why a message is not usable feedback. The messages are meant for the body
/// of an HTTP 400 answer to whoever posted the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error("message could not be parsed")]
    Unparseable,
    #[error("not a multipart/report message")]
    NotAReport,
    #[error("report-type '{0}' is neither delivery-status nor feedback-report")]
    UnsupportedReportType(String),
    #[error("multipart/report has no report-type and no delivery-status or feedback-report part")]
    UnknownReport,
    #[error("multipart/report of type {0} has no {0} part")]
    MissingReportPart(&'static str),
    #[error("delivery status has no recipient fields")]
    NoRecipients,
    #[error("feedback report has no Feedback-Type")]
    NoFeedbackType,
}

/// Parses one raw feedback message (a bounce or a complaint).
pub fn parse(raw: &[u8]) -> Result<Parsed, FeedbackError> {
    let message = MessageParser::new()
        .parse(raw)
        .ok_or(FeedbackError::Unparseable)?;
    // `parts` is the outer message's whole MIME tree in document order (parts of
    // an enclosed message/rfc822 live in that message, not here).
    let report = message
        .parts
        .iter()
        .find(|part| part.is_content_type("multipart", "report"))
        .ok_or(FeedbackError::NotAReport)?;
    // A multipart whose boundary never occurs is downgraded to text by
    // mail-parser: the report's structure is lost.
    let children = report.sub_parts().ok_or(FeedbackError::Unparseable)?;

    let mut status_part = None;
    let mut feedback_part = None;
    let mut original = None;
    for part in children
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
    {
        let Some(ct) = part.content_type() else {
            continue;
        };
        match (ct.ctype(), ct.subtype().unwrap_or_default()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                status_part.get_or_insert(part);
            }
            ("message", "feedback-report") => {
                feedback_part.get_or_insert(part);
            }
            ("message", "rfc822" | "global")
            | ("text", "rfc822-headers")
            | ("message", "global-headers")
                if original.is_none() =>
            {
                original = Original::of(part);
            }
            _ => {}
        }
    }
    let original = original.unwrap_or_default();

    let report_type = report
        .content_type()
        .and_then(|ct| ct.attribute("report-type"))
        .map(|t| t.trim().to_ascii_lowercase());
    let kind = match report_type.as_deref() {
        Some("delivery-status" | "global-delivery-status") => Kind::Dsn,
        Some("feedback-report") => Kind::Arf,
        Some(other) => return Err(FeedbackError::UnsupportedReportType(other.to_string())),
        None if status_part.is_some() => Kind::Dsn,
        None if feedback_part.is_some() => Kind::Arf,
        None => return Err(FeedbackError::UnknownReport),
    };

    match kind {
        Kind::Dsn => {
            let part = status_part.ok_or(FeedbackError::MissingReportPart("delivery-status"))?;
            let blocks = field_blocks(part.contents());
            let bounces: Vec<Bounce> = blocks.iter().filter_map(bounce_of).collect();
            if bounces.is_empty() {
                return Err(FeedbackError::NoRecipients);
            }
            let reported_id = blocks.iter().find_map(original_message_id_field);
            Ok(Parsed {
                feedback: Feedback::Bounce(bounces),
                original_message_id: original.message_id.or(reported_id),
            })
        }
        Kind::Arf => {
            let part = feedback_part.ok_or(FeedbackError::MissingReportPart("feedback-report"))?;
            // A feedback report is a single block; flattening tolerates stray
            // blank lines some reporters leave in it.
            let fields = Fields(
                field_blocks(part.contents())
                    .into_iter()
                    .flat_map(|b| b.0)
                    .collect(),
            );
            let feedback_type = fields
                .get("Feedback-Type")
                .map(first_token)
                .filter(|t| !t.is_empty())
                .ok_or(FeedbackError::NoFeedbackType)?
                .to_ascii_lowercase();
            let mut recipients: Vec<String> = fields
                .all("Original-Rcpt-To")
                .map(bare_address)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
            if recipients.is_empty() {
                recipients = original.to;
            }
            Ok(Parsed {
                feedback: Feedback::Complaint(Complaint {
                    feedback_type,
                    recipients,
                }),
                original_message_id: original
                    .message_id
                    .or_else(|| original_message_id_field(&fields)),
            })
        }
    }
}

/// The delivery id in a Message-ID Herald gave an outage notice,
/// `<{delivery_id}.r{revision}.herald@{domain}>` (angle brackets optional).
/// `None` for anything else, including subscription confirmations
/// (`<s{n}.herald@{domain}>`), which belong to no delivery.
pub fn herald_delivery_id(message_id: &str) -> Option<i64> {
    let id = message_id.trim();
    let id = match id.strip_prefix('<') {
        Some(inner) => inner.strip_suffix('>')?,
        None => id,
    };
    let (local, domain) = id.rsplit_once('@')?;
    // Brackets come in pairs; a stray one (or a space) is not an id Herald wrote.
    if domain.is_empty() || domain.contains(['<', '>', ' ', '\t']) {
        return None;
    }
    let (delivery, revision) = local.strip_suffix(".herald")?.split_once(".r")?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(delivery) || !all_digits(revision) {
        return None;
    }
    delivery.parse().ok()
}

enum Kind {
    Dsn,
    Arf,
}

/// What the report encloses of the message Herald sent.
#[derive(Default)]
struct Original {
    message_id: Option<String>,
    to: Vec<String>,
}

impl Original {
    fn of(part: &MessagePart<'_>) -> Option<Original> {
        // mail-parser parses an enclosed message/rfc822 itself; header-only
        // parts (and an enclosed message it could not parse) are bytes to re-read.
        match part.message() {
            Some(message) => Some(Self::from_message(message)),
            None => MessageParser::new()
                .parse_headers(part.contents())
                .map(|message| Self::from_message(&message)),
        }
    }

    fn from_message(message: &Message<'_>) -> Original {
        Original {
            // mail-parser strips the brackets; Herald wrote them, so put them back.
            message_id: message
                .message_id()
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| format!("<{id}>")),
            to: message
                .all_to()
                .flat_map(|address| address.iter())
                .filter_map(|addr| addr.address())
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

/// One block of `Name: value` fields, unfolded, in order.
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first field of that name (names are case-insensitive).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a delivery-status or feedback-report body into its blank-line
/// separated blocks of fields. Continuation lines (starting with a space or a
/// tab) join the previous field with one space, so a folded Diagnostic-Code
/// reads as one line. Lines that are neither a field nor a continuation are
/// skipped rather than failing the whole report.
fn field_blocks(body: &[u8]) -> Vec<Fields> {
    let text = String::from_utf8_lossy(body);
    let mut blocks = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(Fields(std::mem::take(&mut current)));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        blocks.push(Fields(current));
    }
    blocks
}

/// A per-recipient block as a [`Bounce`]; `None` for the per-message block (or
/// any block naming no recipient).
fn bounce_of(block: &Fields) -> Option<Bounce> {
    let recipient = ["Final-Recipient", "Original-Recipient"]
        .iter()
        .filter_map(|name| block.get(name))
        .map(|value| bare_address(typed_value(value)))
        .find(|address| !address.is_empty())?
        .to_string();
    let diagnostic = block
        .get("Diagnostic-Code")
        .map(typed_value)
        .filter(|d| !d.is_empty())
        .map(str::to_string);
    let status = block
        .get("Status")
        .map(first_token)
        .filter(|s| !s.is_empty())
        .or_else(|| diagnostic.as_deref().and_then(enhanced_code))
        .unwrap_or_default()
        .to_string();
    let action = match block.get("Action").map(first_token) {
        Some(action) if !action.is_empty() => action.to_ascii_lowercase(),
        // RFC 3464 requires Action; when a broken MTA leaves it out, the status
        // class says the same thing.
        _ => match status.as_bytes().first() {
            Some(b'5') => "failed",
            Some(b'4') => "delayed",
            Some(b'2') => "delivered",
            _ => "",
        }
        .to_string(),
    };
    let permanent = action == "failed" && status.starts_with("5.");
    Some(Bounce {
        recipient,
        action,
        status,
        diagnostic,
        permanent,
    })
}

fn original_message_id_field(fields: &Fields) -> Option<String> {
    let id = fields
        .get("Original-Message-ID")
        .or_else(|| fields.get("X-Original-Message-ID"))?
        .trim();
    match id {
        "" | "<>" => None,
        id if id.starts_with('<') => Some(id.to_string()),
        id => Some(format!("<{id}>")),
    }
}

/// Drops the type prefix of a typed field (`rfc822; a@b`, `smtp; 550 ...`,
/// `utf-8; ...`). The prefix is an atom, so a value whose text before the
/// first `;` contains spaces has no prefix and is kept whole.
fn typed_value(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.trim().is_empty() && !kind.trim().contains(char::is_whitespace) =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

/// An address without the angle brackets some reporters put around it.
fn bare_address(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .map_or(value, str::trim)
}

/// The value up to the first space or comment (`failed (bad mailbox)` → `failed`).
fn first_token(value: &str) -> &str {
    value
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default()
}

/// The first RFC 3463 enhanced status code (`5.1.1`) in a text.
fn enhanced_code(text: &str) -> Option<&str> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '-' | ';' | ',' | '(' | ')'))
        .find(|token| {
            let mut pieces = token.split('.');
            let class = pieces.next().unwrap_or_default();
            let rest: Vec<&str> = pieces.collect();
            matches!(class, "2" | "4" | "5")
                && rest.len() == 2
                && rest
                    .iter()
                    .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounces(raw: &[u8]) -> (Vec<Bounce>, Option<String>) {
        let parsed = parse(raw).expect("parses");
        match parsed.feedback {
            Feedback::Bounce(bounces) => (bounces, parsed.original_message_id),
            other => panic!("expected a bounce, got {other:?}"),
        }
    }

    fn complaint(raw: &[u8]) -> (Complaint, Option<String>) {
        let parsed = parse(raw).expect("parses");
        match parsed.feedback {
            Feedback::Complaint(complaint) => (complaint, parsed.original_message_id),
            other => panic!("expected a complaint, got {other:?}"),
        }
    }

    #[test]
    fn postfix_hard_bounce() {
        let (bounces, id) = bounces(include_bytes!(
            "../../fixtures/feedback/dsn-hard-bounce.eml"
        ));
        assert_eq!(
            bounces,
            vec![Bounce {
                recipient: "Jan.Kovacs@example.net".into(),
                action: "failed".into(),
                status: "5.1.1".into(),
                diagnostic: Some(
                    "550 5.1.1 <Jan.Kovacs@example.net>: Recipient address rejected: \
                     User unknown in virtual mailbox table"
                        .into()
                ),
                permanent: true,
            }]
        );
        assert_eq!(id.as_deref(), Some("<42.r3.herald@herald.example>"));
        assert_eq!(herald_delivery_id(&id.unwrap()), Some(42));
    }

    #[test]
    fn exim_failed_and_delayed_recipients() {
        let (bounces, id) = bounces(include_bytes!("../../fixtures/feedback/dsn-delayed.eml"));
        assert_eq!(
            bounces,
            vec![
                Bounce {
                    recipient: "kovacs.anna@example.hu".into(),
                    action: "failed".into(),
                    status: "5.0.0".into(),
                    diagnostic: Some("550 5.2.1 <kovacs.anna@example.hu>: mailbox disabled".into()),
                    permanent: true,
                },
                Bounce {
                    recipient: "Kovacs.Bela@freemail.example".into(),
                    action: "delayed".into(),
                    status: "4.0.0".into(),
                    diagnostic: Some("452 4.2.2 Mailbox temporarily over quota".into()),
                    permanent: false,
                },
            ]
        );
        // From the enclosed message/rfc822, a whole multipart message itself.
        assert_eq!(id.as_deref(), Some("<43.r2.herald@herald.example>"));
    }

    #[test]
    fn base64_delivery_status_with_mixed_case_parameters() {
        let (bounces, id) = bounces(include_bytes!("../../fixtures/feedback/dsn-base64.eml"));
        assert_eq!(
            bounces,
            vec![Bounce {
                recipient: "Piotr.Nowak@contoso.example".into(),
                action: "failed".into(),
                status: "5.2.2".into(),
                diagnostic: Some(
                    "554 5.2.2 mailbox full; \
                     STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; \
                     Failed to process message due to a permanent exception"
                        .into()
                ),
                permanent: true,
            }]
        );
        assert_eq!(id.as_deref(), Some("<57.r1.herald@herald.example>"));
    }

    #[test]
    fn global_delivery_status_is_read_like_the_classic_one() {
        let (bounces, id) = bounces(include_bytes!("../../fixtures/feedback/dsn-global.eml"));
        assert_eq!(
            bounces,
            vec![Bounce {
                recipient: "józsef.szabó@példa.example".into(),
                action: "failed".into(),
                status: "5.1.1".into(),
                diagnostic: Some(
                    "550 5.1.1 <józsef.szabó@példa.example>: mailbox unavailable".into()
                ),
                permanent: true,
            }]
        );
        assert_eq!(id.as_deref(), Some("<91.r1.herald@herald.example>"));
    }

    #[test]
    fn arf_abuse_report() {
        let (complaint, id) = complaint(include_bytes!("../../fixtures/feedback/arf-abuse.eml"));
        assert_eq!(
            complaint,
            Complaint {
                feedback_type: "abuse".into(),
                recipients: vec!["kiss.eva@yahoo.example".into()],
            }
        );
        assert_eq!(id.as_deref(), Some("<77.r1.herald@herald.example>"));
        assert_eq!(herald_delivery_id(&id.unwrap()), Some(77));
    }

    #[test]
    fn arf_without_original_rcpt_to_takes_the_enclosed_to() {
        let (complaint, id) = complaint(include_bytes!(
            "../../fixtures/feedback/arf-with-headers-only.eml"
        ));
        assert_eq!(
            complaint,
            Complaint {
                feedback_type: "abuse".into(),
                recipients: vec!["piotr.nowak@poczta.example".into()],
            }
        );
        assert_eq!(id.as_deref(), Some("<88.r4.herald@herald.example>"));
    }

    #[test]
    fn an_auto_reply_is_not_a_report() {
        let err = parse(include_bytes!("../../fixtures/feedback/not-a-report.eml")).unwrap_err();
        assert_eq!(err, FeedbackError::NotAReport);
        assert_eq!(err.to_string(), "not a multipart/report message");
    }

    #[test]
    fn line_endings_do_not_matter() {
        let crlf: &[u8] = include_bytes!("../../fixtures/feedback/dsn-delayed.eml");
        let lf = String::from_utf8(crlf.to_vec())
            .unwrap()
            .replace("\r\n", "\n");
        assert_ne!(lf.as_bytes(), crlf);
        assert_eq!(parse(lf.as_bytes()), parse(crlf));

        let lf: &[u8] = include_bytes!("../../fixtures/feedback/dsn-hard-bounce.eml");
        let crlf = String::from_utf8(lf.to_vec())
            .unwrap()
            .replace('\n', "\r\n");
        assert_eq!(parse(crlf.as_bytes()), parse(lf));
    }

    /// A report wrapped in a multipart/mixed, with a lowercase feedback type to
    /// lowercase, an Original-Message-ID field as the only id, several
    /// Original-Rcpt-To fields and no enclosed message.
    #[test]
    fn nested_report_with_original_message_id_field() {
        let raw = b"From: fbl@isp.example\n\
            To: fbl@herald.example\n\
            Subject: Forwarded complaint\n\
            MIME-Version: 1.0\n\
            Content-Type: multipart/mixed; boundary=outer\n\
            \n\
            --outer\n\
            Content-Type: text/plain\n\
            \n\
            Forwarded by the gateway.\n\
            --outer\n\
            Content-Type: MULTIPART/REPORT; REPORT-TYPE=Feedback-Report; BOUNDARY=\"in ner\"\n\
            \n\
            --in ner\n\
            Content-Type: text/plain\n\
            \n\
            Spam report.\n\
            --in ner\n\
            Content-Type: message/feedback-report\n\
            Content-Transfer-Encoding: quoted-printable\n\
            \n\
            Feedback-Type: Fraud (phishing)\n\
            Version: 1\n\
            Original-Rcpt-To: a@isp.example\n\
            Original-Rcpt-To: <B@isp.example>\n\
            Original-Message-ID: <5.r9.herald@herald=\n\
            .example>\n\
            --in ner--\n\
            --outer--\n";
        let (complaint, id) = complaint(raw);
        assert_eq!(
            complaint,
            Complaint {
                feedback_type: "fraud".into(),
                recipients: vec!["a@isp.example".into(), "B@isp.example".into()],
            }
        );
        assert_eq!(id.as_deref(), Some("<5.r9.herald@herald.example>"));
    }

    /// No report-type, no Action, Status only inside the diagnostic, a comment
    /// after the action of the second block, Original-Recipient only, and an
    /// X-Original-Message-ID in the per-message block as the only id.
    #[test]
    fn lenient_delivery_status() {
        let raw = b"From: MAILER-DAEMON@mx.example\r\n\
            Content-Type: multipart/report; boundary=b\r\n\
            \r\n\
            --b\r\n\
            Content-Type: message/delivery-status\r\n\
            \r\n\
            Reporting-MTA: dns; mx.example\r\n\
            X-Original-Message-ID: 9.r1.herald@herald.example\r\n\
            \r\n\
            \r\n\
            Final-Recipient: rfc822; <x@y.example>\r\n\
            Diagnostic-Code: smtp; 550-5.7.1 blocked\r\n\
            \r\n\
            Original-Recipient: rfc822;z@y.example\r\n\
            Action: Delayed (retrying)\r\n\
            Status: 4.4.1\r\n\
            --b--\r\n";
        let (bounces, id) = bounces(raw);
        assert_eq!(
            bounces,
            vec![
                Bounce {
                    recipient: "x@y.example".into(),
                    action: "failed".into(),
                    status: "5.7.1".into(),
                    diagnostic: Some("550-5.7.1 blocked".into()),
                    permanent: true,
                },
                Bounce {
                    recipient: "z@y.example".into(),
                    action: "delayed".into(),
                    status: "4.4.1".into(),
                    diagnostic: None,
                    permanent: false,
                },
            ]
        );
        assert_eq!(id.as_deref(), Some("<9.r1.herald@herald.example>"));
    }

    /// The id of the message actually enclosed wins over what the reporter
    /// says in the report's fields.
    #[test]
    fn enclosed_message_id_wins_over_the_report_field() {
        let raw = b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n\
            --b\nContent-Type: message/feedback-report\n\n\
            Feedback-Type: abuse\nOriginal-Message-ID: <1.r1.herald@herald.example>\n\
            --b\nContent-Type: text/rfc822-headers\n\n\
            Message-ID: <2.r1.herald@herald.example>\nTo: c@d.example, \"E\" <e@d.example>\n\
            --b--\n";
        let (complaint, id) = complaint(raw);
        assert_eq!(complaint.recipients, ["c@d.example", "e@d.example"]);
        assert_eq!(id.as_deref(), Some("<2.r1.herald@herald.example>"));
    }

    /// A bounce forwarded as an attachment is about someone else's mail.
    #[test]
    fn an_attached_report_is_not_a_report() {
        let bounce: &[u8] = include_bytes!("../../fixtures/feedback/dsn-hard-bounce.eml");
        let mut raw = b"From: postmaster@isp.example\n\
            Subject: Fwd: Undelivered Mail Returned to Sender\n\
            Content-Type: multipart/mixed; boundary=fwd\n\n\
            --fwd\nContent-Type: text/plain\n\nSee attached.\n\
            --fwd\nContent-Type: message/rfc822\n\n"
            .to_vec();
        raw.extend_from_slice(bounce);
        raw.extend_from_slice(b"\n--fwd--\n");
        assert_eq!(parse(&raw), Err(FeedbackError::NotAReport));
    }

    #[test]
    fn failed_with_a_transient_status_is_not_permanent() {
        let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n\
            --b\nContent-Type: message/delivery-status\n\n\
            Reporting-MTA: dns; mx.example\n\n\
            Final-Recipient: rfc822; x@y.example\nAction: failed\nStatus: 4.4.7\n\
            --b--\n";
        let (bounces, id) = bounces(raw);
        assert_eq!(bounces.len(), 1);
        assert_eq!(bounces[0].action, "failed");
        assert!(!bounces[0].permanent);
        assert_eq!(id, None);
    }

    #[test]
    fn errors() {
        let report = |report_type: &str, ct: &str, body: &str| {
            format!(
                "Content-Type: multipart/report; {report_type}boundary=b\n\n\
                 --b\nContent-Type: text/plain\n\nHuman text.\n\
                 --b\nContent-Type: {ct}\n\n{body}\n--b--\n"
            )
        };
        let cases = [
            (String::new(), FeedbackError::Unparseable),
            (
                report("report-type=disposition-notification; ", "message/disposition-notification", "Disposition: manual-action/MDN-sent-manually; displayed"),
                FeedbackError::UnsupportedReportType("disposition-notification".into()),
            ),
            (
                report("", "text/plain", "nothing"),
                FeedbackError::UnknownReport,
            ),
            (
                report("report-type=delivery-status; ", "text/plain", "nothing"),
                FeedbackError::MissingReportPart("delivery-status"),
            ),
            (
                report("report-type=delivery-status; ", "message/delivery-status", "Reporting-MTA: dns; mx.example\n\nAction: failed\nStatus: 5.1.1"),
                FeedbackError::NoRecipients,
            ),
            (
                report("report-type=feedback-report; ", "message/feedback-report", "Version: 1\nUser-Agent: FBL/1.0"),
                FeedbackError::NoFeedbackType,
            ),
            (
                "Content-Type: multipart/report; report-type=delivery-status; boundary=nowhere\n\nno parts\n".to_string(),
                FeedbackError::Unparseable,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse(raw.as_bytes()), Err(expected), "{raw}");
        }
        assert_eq!(
            FeedbackError::UnsupportedReportType("x".into()).to_string(),
            "report-type 'x' is neither delivery-status nor feedback-report"
        );
        assert_eq!(
            FeedbackError::NoRecipients.to_string(),
            "delivery status has no recipient fields"
        );
        assert_eq!(
            FeedbackError::NoFeedbackType.to_string(),
            "feedback report has no Feedback-Type"
        );
        assert_eq!(
            FeedbackError::Unparseable.to_string(),
            "message could not be parsed"
        );
    }

    #[test]
    fn delivery_ids() {
        assert_eq!(
            herald_delivery_id("<42.r3.herald@herald.example>"),
            Some(42)
        );
        assert_eq!(
            herald_delivery_id(" 1234.r2.herald@example.org "),
            Some(1234)
        );
        assert_eq!(
            herald_delivery_id("<9223372036854775807.r1.herald@x.example>"),
            Some(i64::MAX)
        );
        for other in [
            "<s17.herald@herald.example>",
            "<42.r3.herald@>",
            "<42.r3.herald@herald.example",
            "42.r3.herald@herald.example>",
            "<42.r.herald@herald.example>",
            "<.r3.herald@herald.example>",
            "<-4.r3.herald@herald.example>",
            "<4x.r3.herald@herald.example>",
            "<42.r3.notherald@herald.example>",
            "<42.r3.herald.herald.example>",
            "<9223372036854775808.r1.herald@x.example>",
            "<20250114081244.9F3E21C0A5@mail.herald.example>",
            "",
        ] {
            assert_eq!(herald_delivery_id(other), None, "{other}");
        }
    }
}

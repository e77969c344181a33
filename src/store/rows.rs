//! Reading result rows into Herald's types, shared by both backends.
//!
//! Both schemas store the same columns with the same meaning (instants as
//! milliseconds, enums as text), so a row maps the same way whichever database it
//! came from. Each statement selects its columns in the order documented on the
//! [`FromCols`] impl it reads them with; [`Cols`] hides the row type.

use std::str::FromStr;

use sqlx::{FromRow, Row};

use super::sql::{FromCols, Record};
use super::*;
use crate::clock::from_ms;
use crate::domain::outage::Messages;
use crate::domain::Etr;
use crate::error::Error;

/// The columns every row can be read by, by position: either backend's sqlx
/// rows, and the rows of a scan ([`super::sql::Backend::scan`]). A column of
/// another type than asked is a bug in the statement, and panics.
pub(super) trait Scanned {
    fn int(&self, i: usize) -> i64;
    fn float(&self, i: usize) -> f64;
    fn text(&self, i: usize) -> &str;
    fn flag(&self, i: usize) -> bool;
}

/// Typed column access by position, for either backend's rows.
pub(super) trait Cols: Scanned {
    /// The whole row as a [`Record`] (a tuple or a `FromRow` struct).
    fn decode<R: Record>(&self) -> sqlx::Result<R>;
    fn opt_int(&self, i: usize) -> Option<i64>;
    fn opt_text(&self, i: usize) -> Option<&str>;
    /// The four columns of [`ADDRESS_COLUMNS`] from `i` on.
    fn address(&self, i: usize) -> Address {
        Address::stored(
            self.text(i).to_string(),
            self.text(i + 1).to_string(),
            self.text(i + 2).to_string(),
            self.text(i + 3).to_string(),
        )
    }
}

/// An address's parts, in the order [`Cols::address`] reads them, from
/// `addresses` aliased `a`.
pub(super) const ADDRESS_COLUMNS: &str = "a.street, a.house_number, a.postcode, a.settlement";

/// [`ADDRESS_COLUMNS`] of the address whose id is `id`, as scalar subqueries: for
/// an `UPDATE … RETURNING`, which cannot join (SQLite's may name only its table).
pub(super) fn address_columns_of(id: &str) -> String {
    ["street", "house_number", "postcode", "settlement"]
        .map(|c| format!("(SELECT a.{c} FROM addresses a WHERE a.id = {id})"))
        .join(", ")
}

macro_rules! impl_cols {
    ($row:ty) => {
        impl Scanned for $row {
            fn int(&self, i: usize) -> i64 {
                self.get(i)
            }
            fn text(&self, i: usize) -> &str {
                self.get(i)
            }
            fn float(&self, i: usize) -> f64 {
                self.get(i)
            }
            fn flag(&self, i: usize) -> bool {
                self.get(i)
            }
        }
        impl Cols for $row {
            fn decode<R: Record>(&self) -> sqlx::Result<R> {
                R::from_row(self)
            }
            fn opt_int(&self, i: usize) -> Option<i64> {
                self.get(i)
            }
            fn opt_text(&self, i: usize) -> Option<&str> {
                self.get(i)
            }
        }
    };
}
impl_cols!(sqlx::sqlite::SqliteRow);
impl_cols!(sqlx::postgres::PgRow);

pub(super) fn parse<T: FromStr>(s: &str, what: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>()
        .map_err(|e| Error::Internal(anyhow::anyhow!("corrupt {what} '{s}' in database: {e}")))
}

pub(super) const OUTAGE_COLUMNS: &str =
    "id, reference, utility, kind, status, urgency, revision, cause, etr, \
     starts_at, area, messages, affected_addresses, created_at, updated_at, ended_at, held_until";

/// An `outages` row as selected by [`OUTAGE_COLUMNS`].
#[derive(FromRow)]
struct OutageRow {
    id: i64,
    reference: String,
    utility: String,
    kind: String,
    status: String,
    urgency: String,
    revision: i64,
    cause: String,
    etr: Option<i64>,
    starts_at: Option<i64>,
    area: String,
    messages: String,
    affected_addresses: i64,
    created_at: i64,
    updated_at: i64,
    ended_at: Option<i64>,
    held_until: Option<i64>,
}

impl FromCols for Outage {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        let row: OutageRow = r.decode()?;
        let messages: Messages = serde_json::from_str(&row.messages)
            .map_err(|e| Error::Internal(anyhow::anyhow!("corrupt messages: {e}")))?;
        Ok(Outage {
            id: row.id,
            reference: parse(&row.reference, "reference")?,
            utility: parse(&row.utility, "utility")?,
            kind: parse(&row.kind, "kind")?,
            status: parse(&row.status, "status")?,
            urgency: parse(&row.urgency, "urgency")?,
            revision: row.revision,
            cause: row.cause,
            etr: Etr::from_option(row.etr.map(from_ms)),
            starts_at: row.starts_at.map(from_ms),
            area: serde_json::from_str(&row.area)
                .map_err(|e| Error::Internal(anyhow::anyhow!("corrupt area: {e}")))?,
            messages,
            affected_addresses: row.affected_addresses,
            created_at: from_ms(row.created_at),
            updated_at: from_ms(row.updated_at),
            ended_at: row.ended_at.map(from_ms),
            held_until: row.held_until.map(from_ms),
        })
    }
}

/// (channel, count) rows.
pub(super) fn channel_counts(rows: &[(String, i64)]) -> Result<ChannelCounts> {
    let mut counts = ChannelCounts::default();
    for (channel, count) in rows {
        match parse::<Channel>(channel, "channel")? {
            Channel::Email => counts.email = *count,
            Channel::Sms => counts.sms = *count,
        }
    }
    Ok(counts)
}

/// revision, change, changed_fields, status, cause, etr, starts_at,
/// affected_addresses, created_at.
impl FromCols for RevisionRow {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(RevisionRow {
            revision: r.int(0),
            change: parse(r.text(1), "change")?,
            changed_fields: r
                .text(2)
                .split(',')
                .filter(|f| !f.is_empty())
                .map(|f| parse(f, "changed field"))
                .collect::<Result<_>>()?,
            status: parse(r.text(3), "status")?,
            cause: r.text(4).to_string(),
            etr: r.opt_int(5).map(from_ms),
            starts_at: r.opt_int(6).map(from_ms),
            affected_addresses: r.int(7),
            created_at: from_ms(r.int(8)),
        })
    }
}

/// channel, kind, state, count.
impl FromCols for DeliveryCount {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(DeliveryCount {
            channel: parse(r.text(0), "channel")?,
            kind: parse(r.text(1), "kind")?,
            state: parse(r.text(2), "state")?,
            count: r.int(3),
        })
    }
}

/// See [`delivery_columns`].
impl FromCols for DeliveryRow {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(DeliveryRow {
            id: r.int(0),
            outage_id: r.int(1),
            revision: r.int(2),
            kind: parse(r.text(3), "kind")?,
            channel: parse(r.text(4), "channel")?,
            destination: r.text(5).to_string(),
            state: parse(r.text(6), "state")?,
            attempts: r.int(7),
            next_attempt_at: from_ms(r.int(8)),
            sent_revision: r.opt_int(9),
            provider_message_id: r.opt_text(10).map(String::from),
            segments: r.opt_int(11),
            last_error: r.opt_text(12).map(String::from),
            updated_at: from_ms(r.int(13)),
            deferred_until: r.opt_int(14).map(from_ms),
            report: r.opt_text(15).map(String::from),
            reported_at: r.opt_int(16).map(from_ms),
        })
    }
}

/// A contact's window as stored (minutes after midnight, both or neither).
pub(super) fn stored_window(start: Option<i64>, end: Option<i64>) -> Option<Window> {
    let (start, end) = (u16::try_from(start?).ok()?, u16::try_from(end?).ok()?);
    Window::from_minutes(start, end)
}

/// A delivery's state as shown (API, console, metrics): the stored state,
/// except that a pending message held for its contact is `deferred`, and a
/// sent one the carrier (or a bounce) reported on is `delivered` or `failed`.
/// `table` is the deliveries table's name or alias.
pub(super) fn shown_state(table: &str) -> String {
    format!(
        "CASE WHEN {table}.state = 'pending' AND {table}.held_until IS NOT NULL THEN 'deferred' \
         WHEN {table}.state = 'sent' AND {table}.receipt IS NOT NULL THEN {table}.receipt \
         ELSE {table}.state END"
    )
}

/// Deliveries `d` joined with their contacts `c`, for [`delivery`]; the state
/// is the [`shown_state`].
pub(super) fn delivery_columns() -> String {
    format!(
        "d.id, d.outage_id, d.revision, d.kind, d.channel, c.destination, {}, \
         d.attempts, d.next_attempt_at, d.sent_revision, d.provider_message_id, d.segments, \
         d.last_error, d.updated_at, d.held_until, d.receipt_reason, d.receipt_at",
        shown_state("d")
    )
}

/// Deliveries `d` joined with contacts `c` and addresses `a` (the last four are
/// [`ADDRESS_COLUMNS`]), for [`claimed`].
pub(super) const CLAIMED_COLUMNS: &str =
    "d.id, d.outage_id, d.revision, d.kind, d.channel, d.attempts, d.expires_at, \
     c.id, c.destination, c.language, c.opted_out_at IS NOT NULL, c.unsubscribe_token, \
     a.street, a.house_number, a.postcode, a.settlement, d.urgent, d.held_until IS NOT NULL, \
     c.window_start, c.window_end, c.time_zone, c.undeliverable_at IS NOT NULL, \
     COALESCE(c.utilities, 0)";

impl FromCols for ClaimedDelivery {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(ClaimedDelivery {
            id: r.int(0),
            outage_id: r.int(1),
            revision: r.int(2),
            kind: parse(r.text(3), "kind")?,
            channel: parse(r.text(4), "channel")?,
            attempts: r.int(5),
            expires_at: from_ms(r.int(6)),
            contact_id: r.int(7),
            destination: r.text(8).to_string(),
            language: parse(r.text(9), "language")?,
            opted_out: r.flag(10),
            unsubscribe_token: r.text(11).to_string(),
            address: r.address(12),
            urgent: r.flag(16),
            held: r.flag(17),
            window: stored_window(r.opt_int(18), r.opt_int(19)),
            // A zone no longer known (an old tz database) falls back to the utility's.
            time_zone: r.opt_text(20).and_then(|z| z.parse().ok()),
            undeliverable: r.flag(21),
            utilities: u8::try_from(r.int(22)).unwrap_or(0),
        })
    }
}

/// id, external_id, [`ADDRESS_COLUMNS`], lon, lat.
impl FromCols for AddressRow {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(AddressRow {
            id: r.int(0),
            external_id: r.text(1).to_string(),
            address: r.address(2),
            lon: r.float(6),
            lat: r.float(7),
        })
    }
}

/// id, role, expires_at.
/// id, role, expires_at, name, operator id, operator username.
impl FromCols for TokenGrant {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(TokenGrant {
            id: r.int(0),
            role: parse(r.text(1), "token role")?,
            expires_at: r.opt_int(2).map(from_ms),
            name: r.text(3).to_string(),
            operator: r.opt_int(4).zip(r.opt_text(5).map(str::to_string)),
        })
    }
}

/// name, role, created_at, last_used_at, expires_at, revoked_at, operator.
impl FromCols for TokenInfo {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(TokenInfo {
            name: r.text(0).to_string(),
            role: parse(r.text(1), "token role")?,
            created_at: from_ms(r.int(2)),
            last_used_at: r.opt_int(3).map(from_ms),
            expires_at: r.opt_int(4).map(from_ms),
            revoked_at: r.opt_int(5).map(from_ms),
            operator: r.opt_text(6).map(str::to_string),
        })
    }
}

/// username, role, created_at, disabled_at, open sessions.
impl FromCols for OperatorInfo {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(OperatorInfo {
            username: r.text(0).to_string(),
            role: parse(r.text(1), "operator role")?,
            created_at: from_ms(r.int(2)),
            disabled_at: r.opt_int(3).map(from_ms),
            sessions: r.int(4),
        })
    }
}

/// id, username, role, password_hash, disabled.
impl FromCols for OperatorLogin {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(OperatorLogin {
            id: r.int(0),
            username: r.text(1).to_string(),
            role: parse(r.text(2), "operator role")?,
            password_hash: r.text(3).to_string(),
            disabled: r.flag(4),
        })
    }
}

/// operator_id, username, role, disabled, csrf, created_at, seen_at.
impl FromCols for SessionRow {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(SessionRow {
            operator_id: r.int(0),
            username: r.text(1).to_string(),
            role: parse(r.text(2), "operator role")?,
            disabled: r.flag(3),
            csrf: r.text(4).to_string(),
            created_at: from_ms(r.int(5)),
            seen_at: from_ms(r.int(6)),
        })
    }
}

/// failures, last_at, locked_until (0: not locked).
impl FromCols for Failures {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(Failures {
            count: r.int(0),
            last_at: Some(from_ms(r.int(1))),
            locked_until: Some(r.int(2)).filter(|&t| t > 0).map(from_ms),
        })
    }
}

/// id, at, actor, action, subject, details (JSON), client.
impl FromCols for Logged {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(Logged {
            id: r.int(0),
            at: from_ms(r.int(1)),
            actor: r.text(2).to_string(),
            action: r.text(3).to_string(),
            subject: r.opt_text(4).map(str::to_string),
            details: serde_json::from_str(r.text(5))
                .map_err(|e| Error::Internal(anyhow::anyhow!("audit details: {e}")))?,
            client: r.opt_text(6).map(str::to_string),
        })
    }
}

/// id, channel, destination, language, opted out, [`ADDRESS_COLUMNS`].
impl FromCols for ContactSummary {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(ContactSummary {
            id: r.int(0),
            channel: parse(r.text(1), "channel")?,
            destination: r.text(2).to_string(),
            language: parse(r.text(3), "language")?,
            opted_out: r.flag(4),
            address: r.address(5),
        })
    }
}

/// id, token, channel, destination, language, attempts, expires_at, the
/// contact of a manage link (or NULL), [`ADDRESS_COLUMNS`].
impl FromCols for PendingConfirmation {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(PendingConfirmation {
            id: r.int(0),
            token: r.text(1).to_string(),
            channel: parse(r.text(2), "channel")?,
            destination: r.text(3).to_string(),
            language: parse(r.text(4), "language")?,
            attempts: r.int(5),
            expires_at: from_ms(r.int(6)),
            manage_link_for: r.opt_int(7),
            address: r.address(8),
        })
    }
}

/// channel, destination, language, confirmed, expires_at, [`ADDRESS_COLUMNS`].
impl FromCols for SubscriptionView {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(SubscriptionView {
            channel: parse(r.text(0), "channel")?,
            destination: r.text(1).to_string(),
            language: parse(r.text(2), "language")?,
            confirmed: r.flag(3),
            expires_at: from_ms(r.int(4)),
            address: r.address(5),
        })
    }
}

/// (outage, contact) → news, from rows of outage_id, contact_id, newest sent
/// revision (or NULL), whether one is in flight, the ETR of that revision,
/// how many later revisions changed more than the ETR, updates sent in the
/// last day and when the first of them went.
pub(super) type NewsRow = (
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

pub(super) fn news_sent(rows: Vec<NewsRow>) -> HashMap<(i64, i64), NewsSent> {
    rows.into_iter()
        .map(
            |(outage, contact, revision, in_flight, etr, more, updates, first)| {
                let news = NewsSent {
                    revision,
                    in_flight: in_flight.is_some_and(|n| n != 0),
                    etr: Etr::from_option(etr.map(from_ms)),
                    more_than_etr: more.is_some_and(|n| n != 0),
                    updates_today: updates.unwrap_or(0).clamp(0, u32::MAX as i64) as u32,
                    first_update_today: first.map(from_ms),
                };
                ((outage, contact), news)
            },
        )
        .collect()
}

/// SQL condition: outage `outage` covers address `address`. One probe of the
/// primary key (outage_id, first_id): the run that starts at or before the
/// address must also end at or after it.
pub(super) fn covers(outage: &str, address: &str) -> String {
    format!(
        "(SELECT r.last_id FROM outage_ranges r WHERE r.outage_id = {outage} \
         AND r.first_id <= {address} ORDER BY r.first_id DESC LIMIT 1) >= {address}"
    )
}

/// SQL FROM clause: the addresses of outage `$1`'s area joined to `table` (alias
/// `alias`) through its address id column `column`, one range scan per run.
pub(super) fn in_area(table: &str, alias: &str, column: &str) -> String {
    format!(
        "outage_ranges r JOIN {table} {alias} ON {alias}.{column} BETWEEN r.first_id AND r.last_id \
         AND r.outage_id = $1"
    )
}

/// Contacts `c` joined with addresses `a`, for [`PersonContact`].
pub(super) const PERSON_COLUMNS: &str =
    "c.id, c.channel, c.destination, c.language, c.opted_out_at IS NOT NULL, \
     c.undeliverable_at IS NOT NULL, c.window_start, c.window_end, c.time_zone, \
     COALESCE(c.utilities, 0), c.created_at, c.unsubscribe_token, \
     a.street, a.house_number, a.postcode, a.settlement, c.address_id";

impl FromCols for PersonContact {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        let mask = u8::try_from(r.int(9)).unwrap_or(0);
        Ok(PersonContact {
            id: r.int(0),
            channel: parse(r.text(1), "channel")?,
            destination: r.text(2).to_string(),
            language: parse(r.text(3), "language")?,
            opted_out: r.flag(4),
            undeliverable: r.flag(5),
            window: stored_window(r.opt_int(6), r.opt_int(7)),
            time_zone: r.opt_text(8).map(String::from),
            utilities: Utility::ALL
                .iter()
                .copied()
                .filter(|u| mask & u.bit() != 0)
                .collect(),
            created_at: from_ms(r.int(10)),
            unsubscribe_token: r.text(11).to_string(),
            address: r.address(12),
            address_id: r.int(16),
        })
    }
}

/// language, created_at, confirmed_at, [`ADDRESS_COLUMNS`], purpose.
impl FromCols for SubscriptionRecord {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(SubscriptionRecord {
            language: parse(r.text(0), "language")?,
            requested_at: from_ms(r.int(1)),
            confirmed_at: r.opt_int(2).map(from_ms),
            address: r.address(3),
            purpose: r.text(7).to_string(),
        })
    }
}

/// id, outage reference, kind, channel, shown state, created_at, sent_at.
impl FromCols for MessageRecord {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok(MessageRecord {
            id: r.int(0),
            outage: r.text(1).to_string(),
            kind: parse(r.text(2), "kind")?,
            channel: parse(r.text(3), "channel")?,
            state: parse(r.text(4), "state")?,
            queued_at: from_ms(r.int(5)),
            sent_at: r.opt_int(6).map(from_ms),
        })
    }
}

//! Persistence. [`Database`] is the contract: every operation Herald asks of
//! its database, in one place. [`Store`] is the handle the rest of Herald holds.
//! Handlers and workers never see SQL or a backend type.
//!
//! Where the SQL is:
//! - `shared.rs`: every statement that reads the same on SQLite and PostgreSQL,
//!   written once (the outage write path and its fan-out, reads, subscriptions);
//! - `sql.rs`: the statement type and the `sql::Backend` hooks a shared
//!   statement needs (begin a write, lock a row, announce work, bind a list or
//!   a batch of rows);
//! - `sqlite.rs`, `postgres.rs`: opening, migrations, and what truly differs
//!   (claiming, LISTEN, whole-table reads; `pg_copy.rs` reads PostgreSQL's
//!   binary `COPY`);
//! - `rows.rs`: reading rows into Herald's types, and the id-run arithmetic of
//!   outage areas.
//!
//! The delivery guarantees live in the write transactions: an outage change and
//! its fan-out commit together; deliveries are unique per (outage, revision,
//! kind, contact); claims are committed before any provider call.

mod accounts;
mod calls;
mod pg_copy;
mod postgres;
mod reports;
mod residents;
mod rows;
mod shared;
mod sql;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::auth::Role;
use crate::config::Config;
use crate::domain::audit::{Actor, Entry, Logged};
use crate::domain::bucket::{Grant, TokenRequest};
use crate::domain::consent::{self, Via};
use crate::domain::operator::{Failures, Lockout, Username};
use crate::domain::{
    Address, ChangeKind, Channel, DeliveryKind, DeliveryState, Etr, Language, Outage, OutageField,
    OutageKind, OutageStatus, Reference, Urgency, Utility, Window,
};
use crate::error::Result;

use postgres::Postgres;
use shared::SqlStore;
use sqlite::Sqlite;

/// One address as a whole-register read hands it over
/// ([`Database::each_address`]): borrowed from the row being read, so reading
/// 2,000,000 addresses allocates nothing per row.
#[derive(Debug, Clone, Copy)]
pub struct RegisterEntry<'a> {
    pub id: i64,
    pub external_id: &'a str,
    /// Empty when the place has no streets.
    pub street: &'a str,
    pub house_number: &'a str,
    /// Empty when the register has none.
    pub postcode: &'a str,
    pub settlement: &'a str,
    pub lon: f64,
    pub lat: f64,
    /// Utilities served (bit mask); 0 means unknown, i.e. all.
    pub utilities: u8,
}

/// A contact as the in-memory register needs it ([`Database::each_contact`]):
/// the caller map (SMS numbers) and the contact counts per address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContactEntry<'a> {
    pub channel: Channel,
    /// E.164 for SMS, an address for e-mail.
    pub destination: &'a str,
    pub address_id: i64,
    pub language: Language,
    pub opted_out: bool,
}

/// A table an import writes in bulk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkTable {
    Addresses,
    Contacts,
}

impl BulkTable {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkTable::Addresses => "addresses",
            BulkTable::Contacts => "contacts",
        }
    }
}

/// A service address as imported.
#[derive(Debug, Clone)]
pub struct NewAddress {
    pub external_id: String,
    pub address: Address,
    pub lon: f64,
    pub lat: f64,
    pub utilities: u8,
}

/// A contact as imported; the address is named by its external id.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub address_external_id: String,
    pub channel: Channel,
    pub destination: String,
    pub language: Language,
    /// The destination's keyed hash, as suppressions hold it
    /// (`ServerKey::suppression`).
    pub suppression: String,
    /// When the contact accepts normal messages; None leaves a known
    /// contact's window as it is (a new one: any time).
    pub window: Option<Window>,
    /// The contact's own time zone; None leaves it as it is (a new contact:
    /// the utility's).
    pub time_zone: Option<Tz>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    pub inserted: u64,
    pub updated: u64,
}

/// Outcome of importing one batch of contacts: rows whose address is unknown are
/// returned by index so the importer can report their line numbers.
#[derive(Debug, Default)]
pub struct ContactImport {
    pub counts: ImportCounts,
    pub unknown_address: Vec<usize>,
    /// Rows left out because their destination is suppressed (it texted
    /// STOP, or its person deleted their data).
    pub suppressed: Vec<usize>,
}

/// A token to store (the secret itself never reaches the database).
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub token_hash: &'a str,
    /// For a token of no operator; one of an operator acts with the operator's.
    pub role: Role,
    /// The operator the token belongs to.
    pub operator_id: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// What a presented token grants, read on every (uncached) authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub id: i64,
    /// The operator's role when the token belongs to one.
    pub role: Role,
    pub expires_at: Option<DateTime<Utc>>,
    pub name: String,
    /// The operator it belongs to: (id, username).
    pub operator: Option<(i64, String)>,
}

/// A token as `herald token list` shows it: never the secret or its hash.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    /// The operator it belongs to, whose role it acts with.
    pub operator: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An operator account to create.
#[derive(Debug, Clone)]
pub struct NewOperator<'a> {
    pub username: &'a Username,
    pub role: Role,
    pub password_hash: &'a str,
    pub now: DateTime<Utc>,
}

/// What signing in needs of an account.
#[derive(Debug, Clone)]
pub struct OperatorLogin {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
}

/// An operator as `herald operator list` shows it (never the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct OperatorInfo {
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Sessions open now (not yet signed out; expired ones included until
    /// they are next read).
    pub sessions: i64,
}

/// A change to an account. Each ends all of its sessions.
#[derive(Debug, Clone, Copy)]
pub enum AccountChange<'a> {
    Disable,
    /// The new password's hash.
    Password(&'a str),
}

/// A session to store: only the hash of the cookie's id.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub operator_id: i64,
    pub csrf: &'a str,
    pub now: DateTime<Utc>,
}

/// A stored session and its operator, read on every console request.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub operator_id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
}

/// Which sessions to end.
#[derive(Debug, Clone, Copy)]
pub enum EndSessions<'a> {
    /// One, by the hash of its id.
    One(&'a str),
    /// Every session of the operator ("sign out everywhere").
    AllOf(i64),
}

/// Which audit entries to read: newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// Everything needed to write a new outage and its fan-out in one transaction.
#[derive(Debug, Clone)]
pub struct NewOutage {
    pub utility: Utility,
    pub kind: OutageKind,
    pub status: OutageStatus,
    pub urgency: Urgency,
    pub cause: String,
    pub etr: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    /// GeoJSON MultiPolygon, serialized.
    pub area: String,
    /// Messages per language, serialized JSON object.
    pub messages: String,
    /// Addresses inside the area, sorted ascending.
    pub address_ids: Vec<i64>,
    pub now: DateTime<Utc>,
    /// When the fan-out's messages may first be tried: `now`, or the end of
    /// the console's undo window.
    pub first_attempt_at: DateTime<Utc>,
    /// When the fan-out's messages stop being worth sending.
    pub expires_at: DateTime<Utc>,
    /// Who declares it (for the audit log, written in the same transaction).
    pub by: Actor,
}

/// An operator's retry protection: the same key returns the first result.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub token_id: i64,
    pub key: String,
    pub request_hash: String,
}

#[derive(Debug)]
pub enum Declared {
    Created(Outage),
    /// The key was seen before with the same request: this is the outage it made.
    Replayed(Outage),
    /// The key was seen before with a different request.
    KeyReused,
}

/// A new revision of an existing outage.
#[derive(Debug, Clone)]
pub struct OutageChange {
    /// The revision the change was computed from; a concurrent change makes it fail.
    pub expected_revision: i64,
    pub change: ChangeKind,
    pub changed_fields: Vec<OutageField>,
    pub status: OutageStatus,
    pub cause: String,
    pub etr: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub area: String,
    pub messages: String,
    /// The new set of affected addresses when the area changed (sorted ascending).
    pub new_address_ids: Option<Vec<i64>>,
    /// Residents already told get an "updated" message (ETR, cause, message changed).
    pub notify_update: bool,
    /// When it ends: a first message held for a closed window stays queued,
    /// to go as a summary when the window opens (`alerts.ended_outside_window`).
    pub keep_held: bool,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Who changes it (for the audit log, written in the same transaction).
    pub by: Actor,
}

/// Fan-out of one change, per channel.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ChannelCounts {
    pub email: i64,
    pub sms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevisionRow {
    pub revision: i64,
    pub change: ChangeKind,
    pub changed_fields: Vec<OutageField>,
    pub status: OutageStatus,
    pub cause: String,
    pub etr: Option<DateTime<Utc>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub affected_addresses: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryCount {
    pub channel: Channel,
    pub kind: DeliveryKind,
    pub state: DeliveryState,
    pub count: i64,
}

#[derive(Debug, Clone, Default)]
pub struct OutageFilter {
    pub status: Option<OutageStatus>,
    pub utility: Option<Utility>,
    pub reference: Option<Reference>,
    pub limit: i64,
}

/// A delivery claimed by a worker, with what is needed to render and send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub outage_id: i64,
    pub revision: i64,
    pub kind: DeliveryKind,
    pub channel: Channel,
    pub attempts: i64,
    pub expires_at: DateTime<Utc>,
    pub contact_id: i64,
    pub destination: String,
    pub language: Language,
    pub opted_out: bool,
    pub unsubscribe_token: String,
    pub address: Address,
    /// The address bounced for good.
    pub undeliverable: bool,
    /// The services the contact wants alerts about ([`Utility::bit`]s); 0: all.
    pub utilities: u8,
    /// The outage is urgent: windows do not apply.
    pub urgent: bool,
    /// It was held for the contact's window or the daily cap before.
    pub held: bool,
    /// The contact's window for this channel, if it set one.
    pub window: Option<Window>,
    /// The contact's own time zone, if it has one.
    pub time_zone: Option<Tz>,
}

/// The news a contact has had about an outage, checked just before sending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewsSent {
    /// The newest outage revision sent to the contact as news.
    pub revision: Option<i64>,
    /// A news message to the contact is being sent right now.
    pub in_flight: bool,
    /// The ETR that revision carried.
    pub etr: Etr,
    /// Since that revision, the outage changed more than its ETR.
    pub more_than_etr: bool,
    /// Updates sent to the contact about this outage in the last 24 hours,
    /// and when the first of them went.
    pub updates_today: u32,
    pub first_update_today: Option<DateTime<Utc>>,
}

/// Why a claimed message ends unsent: each is a final state, so a `Completion`
/// cannot record a failure as `sent` or `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Its moment passed (`expires_at`).
    Expired,
    /// The contact opted out.
    Suppressed,
    /// A newer state made it pointless (the outage ended, the news was sent).
    Superseded,
    /// It cannot be sent (permanent provider error, template error, gave up).
    Dead,
}

impl Failure {
    pub fn state(self) -> DeliveryState {
        match self {
            Failure::Expired => DeliveryState::Expired,
            Failure::Suppressed => DeliveryState::Suppressed,
            Failure::Superseded => DeliveryState::Superseded,
            Failure::Dead => DeliveryState::Dead,
        }
    }
}

/// What became of a claimed delivery.
#[derive(Debug, Clone)]
pub enum Completion {
    Sent {
        id: i64,
        sent_revision: i64,
        provider_message_id: Option<String>,
        segments: Option<i64>,
    },
    Retry {
        id: i64,
        at: DateTime<Utc>,
        error: String,
    },
    /// Never sent, and never will be.
    Failed {
        id: i64,
        failure: Failure,
        reason: String,
    },
    /// Not attempted after all (the lease was running out, or the worker is
    /// stopping): back to the queue at once, the attempt not counted.
    Release { id: i64, reason: String },
    /// Not attempted yet, on purpose: another message to the same contact must
    /// land first. Back to the queue until `until`; waiting is no failure, so
    /// the attempt is not counted (a follow-up can wait as long as it takes).
    Defer {
        id: i64,
        until: DateTime<Utc>,
        reason: String,
        /// A hold for the contact's window or the daily cap (shown as
        /// `deferred`), with the expiry moved so the wait cannot expire it.
        hold: Option<DateTime<Utc>>,
    },
}

impl Completion {
    /// For the statements that put a claim back unsent (release, defer): when it
    /// is due again, and why it waits.
    pub(crate) fn unsent(&self, now: DateTime<Utc>) -> Option<(i64, DateTime<Utc>, &str)> {
        match self {
            Completion::Release { id, reason } => Some((*id, now, reason)),
            Completion::Defer {
                id, until, reason, ..
            } => Some((*id, *until, reason)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub outage_id: i64,
    pub revision: i64,
    pub kind: DeliveryKind,
    pub channel: Channel,
    pub destination: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_revision: Option<i64>,
    pub provider_message_id: Option<String>,
    pub segments: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// A `deferred` message goes then (the contact's window opens, or the
    /// day's updates allow another).
    pub deferred_until: Option<DateTime<Utc>>,
    /// A `delivered` or `failed` message: the carrier's (or a bounce's)
    /// word, and when it came.
    pub report: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactSummary {
    pub id: i64,
    pub channel: Channel,
    pub destination: String,
    pub language: Language,
    pub opted_out: bool,
    pub address: Address,
}

/// The version of everything residents and the IVR can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub version: i64,
    pub changed_at: DateTime<Utc>,
    /// Moves on every address import (the in-memory register follows it).
    pub addresses_version: i64,
    /// Moves when contacts change as a caller lookup sees them.
    pub contacts_version: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddressRow {
    pub id: i64,
    pub external_id: String,
    #[serde(flatten)]
    pub address: Address,
    pub lon: f64,
    pub lat: f64,
}

/// A resident's request on the status page to get alerts, before they confirm it.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub address_id: i64,
    pub channel: Channel,
    /// Normalised: E.164 phone or lower-cased e-mail.
    pub destination: String,
    pub language: Language,
    /// The secret in the confirmation link.
    pub token: String,
    /// What per-destination limits count by (`Destination::limit_key`).
    pub destination_key: String,
    /// Who asked: a keyed hash of the client's address (its /64 for IPv6), so
    /// per-client limits work without storing anyone's IP address.
    pub client_key: String,
    /// A sign-up to confirm, or a manage link for this contact (whose
    /// address `address_id` is) to send.
    pub manage_link_for: Option<i64>,
}

/// The sign-up form's limits (`[subscribe]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignUpLimits {
    pub per_destination_per_day: u32,
    pub per_client_per_hour: u32,
    pub per_client_per_day: u32,
    /// Confirmation SMS per hour for everybody together.
    pub sms_per_hour: u32,
}

/// Which limit refused a sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpLimit {
    /// This destination has had its confirmations for the day.
    Destination,
    /// This client has signed up too often this hour or day.
    Client,
    /// The hour's confirmation SMS for everybody are spent.
    SmsBudget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    Created(i64),
    /// Refused by `limit` until `retry_at`, when the oldest request it counts
    /// leaves its window.
    Limited {
        limit: SignUpLimit,
        retry_at: DateTime<Utc>,
    },
}

/// A confirmation message to send, claimed under a lease like a delivery.
#[derive(Debug, Clone)]
pub struct PendingConfirmation {
    pub id: i64,
    pub token: String,
    /// A manage link for this contact, not a sign-up confirmation.
    pub manage_link_for: Option<i64>,
    pub channel: Channel,
    pub destination: String,
    pub language: Language,
    pub address: Address,
    pub attempts: i64,
    pub expires_at: DateTime<Utc>,
}

/// A subscription request as its confirmation page shows it.
#[derive(Debug, Clone)]
pub struct SubscriptionView {
    pub channel: Channel,
    pub destination: String,
    pub language: Language,
    pub address: Address,
    pub confirmed: bool,
    pub expires_at: DateTime<Utc>,
}

/// How a subscription was confirmed: its ledger event, and the destination's
/// keyed hash, whose suppression (an earlier STOP, a deletion) the resident's
/// own request lifts.
#[derive(Debug, Clone, Copy)]
pub struct ConfirmedBy<'a> {
    pub via: &'a Via,
    pub suppression: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The resident is a contact now; `queued` messages about outages already
    /// under way at the address are on their way.
    Confirmed {
        contact_id: i64,
        queued: u64,
    },
    AlreadyConfirmed,
    Expired,
    Unknown,
}

/// The rows of a batch that are the last with their key, in order: a batch
/// written as one statement must not name a row twice, and the last row is what
/// applying them one by one would leave.
pub(crate) fn last_of_each<'a, T, K>(rows: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T>
where
    K: std::hash::Hash + Eq,
{
    let mut last = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(key(r), i);
    }
    rows.iter()
        .enumerate()
        .filter(|(i, r)| last[&key(r)] == *i)
        .map(|(_, r)| r)
        .collect()
}

/// What another process changed, as announced by the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Deliveries or confirmations were queued.
    Work,
    /// The published state (outages, register) changed.
    Published,
    /// The notification connection was re-established: anything may have changed.
    Unknown,
}

/// Called for each change another process announces; returning false stops.
pub type OnChange = Box<dyn Fn(Change) -> bool + Send + Sync>;

/// An IVR status request by phone about one outage, to be recorded
/// ([`Calls::record_calls`]). The number is used to find when it was told and
/// is not stored; the caller is its keyed hash.
#[derive(Debug, Clone, Copy)]
pub struct NewCall<'a> {
    pub outage_id: i64,
    pub caller: &'a str,
    /// E.164.
    pub number: &'a str,
    pub at: DateTime<Utc>,
}

/// One caller of an outage: their first call, and the first message sent to
/// their number about it if that was before a call of theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageCaller {
    pub first_call: DateTime<Utc>,
    pub told_at: Option<DateTime<Utc>>,
}

/// A resident's "no supply at my address" report, to be stored
/// ([`Reports::report`]).
#[derive(Debug, Clone, Copy)]
pub struct NewReport<'a> {
    pub address_id: i64,
    pub utility: Utility,
    /// The open outage of that utility covering the address, if any.
    pub outage_id: Option<i64>,
    /// Otherwise, an outage of that utility restored there within a day: the
    /// supply is still out after it (restore verification).
    pub still_out_of: Option<i64>,
    /// `web` (the status page) or `sms` (a text message).
    pub via: &'a str,
    /// A keyed hash of the client's address (see `http::client`).
    pub client_key: &'a str,
    pub at: DateTime<Utc>,
}

/// The limits a report is held to.
#[derive(Debug, Clone, Copy)]
pub struct ReportLimits {
    pub per_client_per_hour: u32,
    pub per_client_per_day: u32,
    /// Over every client: how many a whole hour stores at most.
    pub per_hour: u32,
}

impl From<&crate::config::ReportsConfig> for ReportLimits {
    fn from(c: &crate::config::ReportsConfig) -> ReportLimits {
        ReportLimits {
            per_client_per_hour: c.per_client_per_hour,
            per_client_per_day: c.per_client_per_day,
            per_hour: c.per_hour,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Stored(i64),
    /// The address already reported this utility out within the hour: one
    /// report stands for it.
    Known,
    /// A limit was reached; try again then.
    Limited {
        retry_at: DateTime<Utc>,
    },
}

/// A stored report, where it is.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub id: i64,
    pub address_id: i64,
    pub utility: Utility,
    pub reported_at: DateTime<Utc>,
    pub outage_id: Option<i64>,
    pub lon: f64,
    pub lat: f64,
}

/// Residents' reports (see `http::reports` and `inbound`). Part of the [`Database`]
/// contract, carried out in `reports.rs`.
#[async_trait::async_trait]
pub trait Reports: Send + Sync {
    /// Stores the report unless a limit or an earlier report of the same
    /// address and utility within the hour says otherwise.
    async fn report(&self, report: &NewReport<'_>, limits: &ReportLimits) -> Result<Reported>;
    /// Reports made since `since`, newest first, at most `limit`.
    async fn reports_since(&self, since: DateTime<Utc>, limit: i64) -> Result<Vec<ReportRow>>;
    /// The reports about one outage: inside it while open, and of supply
    /// still out after it was restored.
    async fn outage_reports(&self, outage_id: i64) -> Result<OutageReports>;
}

/// Residents' reports about one outage ([`Reports::outage_reports`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutageReports {
    /// Made inside it while it was open.
    pub inside: i64,
    /// Made within a day after it was restored: the supply is still out there.
    pub still_out: i64,
    /// The latest of those.
    pub last_still_out_at: Option<DateTime<Utc>>,
}

/// A number's SMS consent changed by a keyword it texted
/// ([`Residents::sms_opt_out`], [`Residents::sms_opt_in`]).
#[derive(Debug, Clone, Copy)]
pub struct DestinationConsent<'a> {
    pub channel: Channel,
    /// As stored: E.164, or the normalised e-mail address.
    pub destination: &'a str,
    /// The destination's keyed hash, as [`Residents`]' suppressions hold it.
    pub suppression: &'a str,
    pub via: &'a Via,
    pub at: DateTime<Utc>,
}

/// One of a person's contacts (their destination at one address), as the
/// manage page shows it and "export my data" gives it.
#[derive(Debug, Clone, Serialize)]
pub struct PersonContact {
    pub id: i64,
    #[serde(skip)]
    pub address_id: i64,
    pub channel: Channel,
    pub destination: String,
    pub language: Language,
    pub address: Address,
    pub opted_out: bool,
    pub undeliverable: bool,
    /// None: any time.
    pub window: Option<Window>,
    pub time_zone: Option<String>,
    /// The services wanted, as names; empty: all.
    pub utilities: Vec<Utility>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub unsubscribe_token: String,
}

/// What the manage page's settings form sets on all of a person's contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonSettings {
    pub language: Language,
    /// None: any time.
    pub window: Option<Window>,
    /// A mask of [`Utility::bit`]s; 0: all.
    pub utilities: u8,
}

/// A sign-up request of the person's, for "export my data".
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionRecord {
    /// `sign_up`, or `manage_link` (a link to the manage page asked for).
    pub purpose: String,
    pub address: Address,
    pub language: Language,
    pub requested_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// A message to the person, for "export my data".
#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    pub id: i64,
    pub outage: String,
    pub kind: DeliveryKind,
    pub channel: Channel,
    pub state: DeliveryState,
    pub queued_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Everything Herald holds about one person (one destination).
#[derive(Debug, Clone, Serialize)]
pub struct PersonExport {
    pub contacts: Vec<PersonContact>,
    pub subscriptions: Vec<SubscriptionRecord>,
    pub consent: Vec<consent::Event>,
    pub messages: Vec<MessageRecord>,
}

/// A contact moving to another address (see [`Residents::move_contact`]).
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    pub contact_id: i64,
    pub address_id: i64,
    pub via: &'a Via,
    /// The destination's keyed hash: an earlier STOP is lifted, as a
    /// confirmed sign-up lifts it.
    pub suppression: &'a str,
    pub now: DateTime<Utc>,
    /// When the messages it queues expire.
    pub expires_at: DateTime<Utc>,
}

/// A person to erase: their destination, and its keyed hashes as the
/// tables that never hold the destination itself know it.
#[derive(Debug, Clone)]
pub struct Erasure<'a> {
    pub channel: Channel,
    pub destination: &'a str,
    /// The tombstone: `ServerKey::suppression`.
    pub suppression: &'a str,
    /// For a number: its hash in the inbound log and in the IVR's calls.
    pub sms_sender: Option<&'a str>,
    pub caller: Option<&'a str>,
}

/// A delivery report: the carrier's (or a bounce's) word on one delivery.
#[derive(Debug, Clone, Copy)]
pub struct Receipt<'a> {
    pub delivery_id: i64,
    /// When the report names the provider's id (Twilio's MessageSid), it must
    /// be the delivery's.
    pub provider_message_id: Option<&'a str>,
    pub delivered: bool,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// What an opt-out of a destination (a STOP, a complaint, "stop
/// everything") changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DestinationOptOut {
    /// Contacts of the destination that were opted in.
    pub contacts: u64,
    /// Whether this is the destination's first opt-out since it last opted
    /// in (or ever): a STOP confirms only that one.
    pub first: bool,
}

/// A text message received, and the reply Herald would give
/// ([`Residents::inbound`]).
#[derive(Debug, Clone, Copy)]
pub struct NewInbound<'a> {
    /// A keyed hash of the sender's number.
    pub sender: &'a str,
    /// `twilio` or `kannel`.
    pub gateway: &'a str,
    /// What it was read as ([`crate::domain::keyword::Keyword::as_str`]);
    /// the HELP answer to an `unknown` text goes to a number once a day.
    pub keyword: &'a str,
    pub reply: Option<&'a str>,
    pub language: Language,
    pub at: DateTime<Utc>,
}

/// How many replies go out (each costs an SMS).
#[derive(Debug, Clone, Copy)]
pub struct ReplyLimits {
    pub per_number_per_hour: u32,
    /// Over every number.
    pub per_hour: u32,
}

/// An outage restored recently that covered an address
/// ([`Residents::restored_at`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub outage_id: i64,
    pub reference: Reference,
    pub utility: Utility,
    pub address_id: i64,
}

/// What residents decide themselves: consent and its ledger, the numbers and
/// people no import may add back, the text messages they send. Part of the
/// [`Database`] contract, carried out in `residents.rs`.
#[async_trait::async_trait]
pub trait Residents: Send + Sync {
    /// Opts out every contact of the destination (a number that texted STOP,
    /// an inbox whose owner complained), suppresses their pending messages,
    /// keeps the destination from being imported again, and writes one ledger
    /// event per contact that was opted in.
    async fn opt_out_destination(&self, c: &DestinationConsent<'_>) -> Result<DestinationOptOut>;
    /// Opts the destination's contacts back in (an event each) and lets
    /// imports add it again; how many were opted out.
    async fn opt_in_destination(&self, c: &DestinationConsent<'_>) -> Result<u64>;
    /// Marks every contact of the destination undeliverable (a permanent
    /// bounce), with a ledger event for each not marked before; how many.
    async fn mark_undeliverable(
        &self,
        channel: Channel,
        destination: &str,
        reason: &str,
        via: &Via,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Records what the carrier (or a bounce) said of sent deliveries, in
    /// order, in one transaction; for each, false when no such delivery was
    /// handed over (or its provider id differs).
    async fn record_receipts(&self, receipts: &[Receipt<'_>]) -> Result<Vec<bool>>;
    /// The channel and destination of a contact (whose person a manage link
    /// names).
    async fn contact_destination(&self, contact_id: i64) -> Result<Option<(Channel, String)>>;
    /// Every contact of the destination, oldest first.
    async fn person(&self, channel: Channel, destination: &str) -> Result<Vec<PersonContact>>;
    /// Sets language, window and services on every contact of the
    /// destination; how many.
    async fn set_person(
        &self,
        channel: Channel,
        destination: &str,
        settings: &PersonSettings,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    /// Everything held about the destination.
    async fn export_person(&self, channel: Channel, destination: &str) -> Result<PersonExport>;
    /// Moves a contact to another address (the resident's own request, from
    /// the manage page): a contact there with the same settings (consent
    /// given, `via`), the old one stopped (withdrawn, `via`) with its pending
    /// messages, and outages under way at the new address queued. None when
    /// the contact or the address is unknown.
    async fn move_contact(&self, m: &Move<'_>) -> Result<Option<i64>>;
    /// Deletes the received texts recorded before `before`; how many.
    async fn forget_texts(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Erases the destination's contacts, their messages, ledger and
    /// sign-ups (and, for a number, its texts and calls), leaving the
    /// tombstone that keeps imports from adding it back; how many contacts.
    async fn erase_person(&self, e: &Erasure<'_>, now: DateTime<Utc>) -> Result<u64>;
    /// The contact's ledger, oldest first; `None` for an unknown contact.
    async fn consent_history(&self, contact_id: i64) -> Result<Option<Vec<consent::Event>>>;
    /// Records the message; its reply stands (true) unless a limit holds it
    /// back, in which case it is recorded as not sent.
    async fn inbound(&self, m: &NewInbound<'_>, limits: &ReplyLimits) -> Result<bool>;
    /// Outages restored since `since` covering any of the addresses, newest
    /// first.
    async fn restored_at(&self, address_ids: &[i64], since: DateTime<Utc>)
        -> Result<Vec<Restored>>;
}

/// Who called the IVR about which outage, and whether they had been told
/// (see [`crate::calls`]). Part of the [`Database`] contract, carried out in
/// `calls.rs`.
#[async_trait::async_trait]
pub trait Calls: Send + Sync {
    /// Writes the calls; each row's `told_at` is read from the deliveries in
    /// the same statement: the first message sent to that number about that
    /// outage, at or before the call.
    async fn record_calls(&self, calls: &[NewCall<'_>]) -> Result<()>;
    /// Every distinct caller of the outage.
    async fn outage_callers(&self, outage_id: i64) -> Result<Vec<OutageCaller>>;
    /// Deletes the calls made before `before`; how many.
    async fn forget_calls(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// The console's accounts: operators, their sessions, failed sign-ins, and the
/// audit log of every operator and token action. Part of the [`Database`]
/// contract (its supertrait), carried out in `accounts.rs`.
#[async_trait::async_trait]
pub trait Accounts: Send + Sync {
    /// Conflict when the username is taken.
    async fn create_operator(&self, op: &NewOperator<'_>, by: &Actor) -> Result<i64>;
    async fn operators(&self) -> Result<Vec<OperatorInfo>>;
    async fn operator_login(&self, username: &Username) -> Result<Option<OperatorLogin>>;
    /// Applies `change` and ends the account's sessions; false for an unknown name.
    async fn change_operator(
        &self,
        username: &Username,
        change: AccountChange<'_>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Each key's failed sign-ins, in the order asked (a default when none).
    async fn sign_in_failures(&self, keys: &[&str]) -> Result<Vec<Failures>>;
    /// One more failure for each key, under its lock-out rule.
    async fn sign_in_failed(&self, keys: &[(&str, Lockout)], now: DateTime<Utc>) -> Result<()>;
    async fn sign_in_cleared(&self, key: &str) -> Result<()>;
    /// Stores the session and its "signed in" audit entry.
    async fn create_session(&self, session: &NewSession<'_>, by: &Actor) -> Result<()>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>>;
    async fn session_seen(&self, id_hash: &str, now: DateTime<Utc>) -> Result<()>;
    /// Ends sessions (with an audit entry when `by` is given); how many ended.
    async fn end_sessions(
        &self,
        which: EndSessions<'_>,
        by: Option<&Actor>,
        now: DateTime<Utc>,
    ) -> Result<u64>;
    async fn append_audit(&self, entry: &Entry<'_>) -> Result<()>;
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<Logged>>;
}

/// Everything Herald stores and asks of its database: the one contract both
/// backends fulfil (see `shared.rs`, which carries it out for both, and
/// `sqlite.rs`/`postgres.rs` for what differs). Instants are bound from the
/// caller's clock, never read from the database's.
#[async_trait::async_trait]
pub trait Database: Accounts + Calls + Reports + Residents {
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;
    /// Brings the schema up to date (safe when several processes start at once).
    async fn migrate(&self) -> anyhow::Result<()>;
    async fn ping(&self) -> Result<()>;
    /// Calls `on` for each change another process announces, until it returns
    /// false. PostgreSQL announces them (`LISTEN`/`NOTIFY`); SQLite cannot, and
    /// returns `false`: there, other processes' changes are found by polling alone.
    async fn listen(&self, on: OnChange) -> Result<bool>;

    // The address register.
    async fn upsert_addresses(
        &self,
        rows: &[NewAddress],
        now: DateTime<Utc>,
    ) -> Result<ImportCounts>;
    async fn upsert_contacts(
        &self,
        rows: &[NewContact],
        via: &Via,
        now: DateTime<Utc>,
    ) -> Result<ContactImport>;
    /// Positions of rows whose address external id is not in the register.
    async fn unknown_addresses(&self, rows: &[NewContact]) -> Result<Vec<usize>>;
    /// Called after an import wrote many rows to `table`: brings the planner's
    /// statistics and visibility data up to date now, rather than leaving it to
    /// the next storm.
    async fn after_bulk_load(&self, table: BulkTable) -> Result<()>;
    /// Bumped on every address import; nodes rebuild their index when it moves.
    async fn addresses_version(&self) -> Result<i64>;
    /// Hands every address of the register to `visit`, in no particular order
    /// (an index scan in id order costs PostgreSQL twice a table scan), as it
    /// is read: nothing of the result is held. **Blocking**: call it on a
    /// blocking thread (`tokio::task::spawn_blocking`), as the in-memory
    /// register does.
    fn each_address(&self, visit: &mut dyn FnMut(&RegisterEntry<'_>)) -> Result<()>;
    /// Hands every contact to `visit`, as [`Database::each_address`].
    fn each_contact(&self, visit: &mut dyn FnMut(&ContactEntry<'_>)) -> Result<()>;
    /// (outage id, first address id, last address id) of every open outage's
    /// id runs, by outage then first id.
    async fn open_outage_runs(&self) -> Result<Vec<(i64, i64, i64)>>;
    /// One service address by its id (the status page's chosen address).
    async fn address(&self, id: i64) -> Result<Option<AddressRow>>;

    // API tokens.
    /// Stores a token; a conflict if a token of that name is still in use
    /// (names are what `revoke` takes).
    async fn create_token(&self, token: &NewToken<'_>) -> Result<i64>;
    /// The grant of a token that has not been revoked (expiry is the caller's
    /// to check, against its clock).
    async fn token_grant(&self, token_hash: &str) -> Result<Option<TokenGrant>>;
    /// Every token, newest first.
    async fn tokens(&self) -> Result<Vec<TokenInfo>>;
    /// Revokes the tokens named `name` still in use; how many.
    async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> Result<u64>;
    async fn token_used(&self, id: i64, now: DateTime<Utc>) -> Result<()>;
    /// The deployment's secret named `name`: `candidate` if this is the first
    /// node to ask, otherwise the one stored before.
    async fn server_key(&self, name: &str, candidate: &str) -> Result<String>;

    // Outages.
    /// Writes the outage, its first revision, its affected addresses and its
    /// deliveries in one transaction.
    async fn declare(
        &self,
        outage: &NewOutage,
        idempotency: Option<&IdempotencyKey>,
    ) -> Result<Declared>;
    /// Writes a new revision and its fan-out in one transaction.
    async fn change(&self, id: i64, change: &OutageChange) -> Result<Outage>;
    /// Planned outages whose start has come: scheduled → active.
    async fn start_due_outages(&self, now: DateTime<Utc>) -> Result<Vec<i64>>;
    async fn outage(&self, id: i64) -> Result<Option<Outage>>;
    async fn outage_by_reference(&self, reference: &Reference) -> Result<Option<Outage>>;
    async fn outages(&self, filter: &OutageFilter) -> Result<Vec<Outage>>;
    /// Scheduled and active outages.
    async fn open_outages(&self) -> Result<Vec<Outage>>;
    async fn revisions(&self, outage_id: i64) -> Result<Vec<RevisionRow>>;
    /// The version of everything residents and the IVR can see.
    async fn published(&self) -> Result<Published>;
    /// Up to `limit` address points inside an outage (for its map).
    async fn outage_points(&self, outage_id: i64, limit: i64) -> Result<Vec<(f64, f64)>>;
    /// Distinct (settlement, postcode, street) inside an outage.
    async fn outage_places(&self, outage_id: i64) -> Result<Vec<(String, String, String)>>;

    // Deliveries.
    async fn delivery_counts(&self, outage_id: i64) -> Result<Vec<DeliveryCount>>;
    /// Contacts reached by the revision's fan-out, per channel.
    async fn revision_fanout(&self, outage_id: i64, revision: i64) -> Result<ChannelCounts>;
    /// Contacts an update, a restore or a cancellation of the outage would go
    /// to now: those already told about it, still in its area, not opted out.
    async fn told(&self, outage_id: i64) -> Result<ChannelCounts>;
    /// Puts the outage's dead deliveries back in the queue, due at `now` with
    /// their attempts reset (their expiry still holds), with an audit entry;
    /// how many.
    async fn retry_dead(&self, outage: &Outage, by: &Actor, now: DateTime<Utc>) -> Result<u64>;
    /// One address in the outage's area (its lowest id), for previews.
    async fn sample_address(&self, outage_id: i64) -> Result<Option<AddressRow>>;
    async fn deliveries(
        &self,
        outage_id: i64,
        state: Option<DeliveryState>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>>;
    /// Deliveries by channel and state over all outages (for metrics).
    async fn delivery_totals(&self) -> Result<Vec<(Channel, DeliveryState, i64)>>;
    /// Returns leases that ran out (their worker died) to the queue.
    async fn release_expired_leases(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Claims due deliveries of one channel; the claim is committed on return.
    async fn claim(
        &self,
        channel: Channel,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Records outcomes of deliveries claimed with `lease_until`; a delivery whose
    /// lease has since been taken over by another claim is left alone.
    async fn complete(
        &self,
        results: &[Completion],
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// For each (outage, contact): what news (declared/updated) it has had.
    async fn news_sent(
        &self,
        pairs: &[(i64, i64)],
        now: DateTime<Utc>,
    ) -> Result<HashMap<(i64, i64), NewsSent>>;
    /// Queues the current state of every open outage at the addresses of SMS
    /// contacts with this number who have not opted out, as a `requested`
    /// message, at most once per outage and number; returns how many.
    async fn request_status_sms(
        &self,
        phone: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64>;

    // Residents.
    async fn contact_by_token(&self, token: &str) -> Result<Option<ContactSummary>>;
    /// Every contact of the destination (one per address), by id.
    async fn contacts_of(&self, channel: Channel, destination: &str)
        -> Result<Vec<ContactSummary>>;
    /// Opts the contact out and suppresses its pending messages, with a
    /// ledger event the first time. Idempotent.
    async fn opt_out(&self, token: &str, via: &Via, now: DateTime<Utc>) -> Result<bool>;
    /// Whether each contact has not opted out (false for an unknown contact),
    /// in order: the check a worker makes immediately before handing a
    /// message to the provider, so an opt-out stops even a message already
    /// claimed.
    async fn consents(&self, contact_ids: &[i64]) -> Result<Vec<bool>>;
    /// Records a status-page subscription request unless one of `limits`
    /// refuses it. Sign-ups are serialised across nodes, so the limits are
    /// exact however many arrive at once.
    async fn subscribe(
        &self,
        s: &NewSubscription,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        limits: &SignUpLimits,
    ) -> Result<Subscribed>;
    /// Claims due confirmation messages; the claim is committed on return.
    async fn claim_confirmations(
        &self,
        limit: u32,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<PendingConfirmation>>;
    async fn complete_confirmations(
        &self,
        results: &[Completion],
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    async fn subscription(&self, token: &str) -> Result<Option<SubscriptionView>>;
    /// Makes the requester a contact (clearing any opt-out: this is their own
    /// request) and queues the outages already under way at the address.
    async fn confirm_subscription(
        &self,
        token: &str,
        confirmed: &ConfirmedBy<'_>,
        now: DateTime<Utc>,
        delivery_expires_at: DateTime<Utc>,
    ) -> Result<Confirmation>;

    /// Takes tokens from a rate-limit bucket shared by every process on the database.
    async fn take_tokens(&self, request: &TokenRequest<'_>) -> Result<Grant>;
}

/// The database Herald runs on, chosen by the URL; cheap to clone. Every
/// operation is a method of [`Database`].
#[derive(Clone)]
pub struct Store(Arc<dyn Database>);

impl Store {
    /// Opens (creating if needed) the database named by the configuration. The
    /// schema is brought up to date by [`Database::migrate`].
    pub async fn open(config: &Config) -> anyhow::Result<Store> {
        let url = config.database_url();
        let db: Arc<dyn Database> = if url.starts_with("sqlite:") {
            Arc::new(SqlStore(Sqlite::open(&url, &config.database).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Arc::new(SqlStore(Postgres::open(&url, &config.database).await?))
        } else {
            anyhow::bail!(
                "database_url must start with sqlite:// or postgres:// (got '{}')",
                crate::config::redact_url(&url)
            )
        };
        Ok(Store(db))
    }

    /// The deployment's signing key, the same on every node: made by the first
    /// to ask.
    pub async fn signing_key(&self) -> Result<crate::auth::ServerKey> {
        let secret = self
            .server_key("signing", &crate::domain::token::random_token(32))
            .await?;
        Ok(crate::auth::ServerKey::new(&secret))
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Database;
    fn deref(&self) -> &(dyn Database + 'static) {
        &*self.0
    }
}

//! The operator API (`/api/v1`, JSON, `Authorization: Bearer <token>`), used by
//! dispatchers' tools and outage-management systems.

use std::sync::Arc;

use axum::extract::{Path, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::credentials::{Caller, Needs, ToDispatch, ToRead, ToSupervise};
use super::params::{self, Params};
use super::AppState;
use super::{read_body, JsonBody, State};
use crate::auth::sha256_hex;
use crate::channels::render::outage_url;
use crate::domain::audit::{Action, Entry};
use crate::domain::consent::{Method, Via};
use crate::domain::{DeliveryState, Outage, OutageStatus, Reference, Utility};
use crate::error::{Error, Result};
use crate::import::{self, Mode};
use crate::outages;
use crate::store::{AuditFilter, ChannelCounts, DeliveryRow, IdempotencyKey, OutageFilter};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/outages", post(declare).get(list))
        .route("/api/v1/outages/preview", post(preview))
        .route("/api/v1/outages/{id}", get(show).patch(update))
        .route("/api/v1/outages/{id}/restore", post(restore))
        .route("/api/v1/outages/{id}/cancel", post(cancel))
        .route("/api/v1/outages/{id}/deliveries", get(deliveries))
        .route("/api/v1/outages/{id}/retry-dead", post(retry_dead))
        .route("/api/v1/addresses/import", post(import_addresses))
        .route("/api/v1/contacts/import", post(import_contacts))
        .route("/api/v1/contacts", get(contacts))
        .route("/api/v1/contacts/{id}/consent", get(consent_history))
        .route("/api/v1/contacts/{id}/opt-out", post(operator_opt_out))
        .route("/api/v1/audit", get(audit))
}

/// The outage as the API shows it. The area is left out of lists (it can be large).
pub fn outage_json(state: &AppState, o: &Outage, with_area: bool) -> Value {
    let mut v = json!({
        "id": o.id,
        "reference": o.reference,
        "utility": o.utility,
        "kind": o.kind,
        "status": o.status,
        "urgency": o.urgency,
        "revision": o.revision,
        "cause": o.cause,
        "etr": o.etr.as_option(),
        "etr_assessed": o.etr.as_option().is_some(),
        "starts_at": o.starts_at,
        "message": o.messages,
        "affected_addresses": o.affected_addresses,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
        "ended_at": o.ended_at,
        "url": outage_url(&state.config.public_url(), o),
    });
    if with_area {
        v["area"] = o.area.clone();
    }
    v
}

fn with_fanout(mut v: Value, fanout: &ChannelCounts) -> Value {
    v["contacts"] = json!(fanout);
    v
}

fn idempotency_key(
    headers: &HeaderMap,
    caller: &Caller,
    body: &[u8],
) -> Result<Option<IdempotencyKey>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    // Keys are kept per token; the console's requests carry none.
    let token = caller.token_id.ok_or_else(|| {
        Error::bad_request("Idempotency-Key", "is for requests with an API token")
    })?;
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            Error::bad_request(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(IdempotencyKey {
        token_id: token,
        key: key.to_string(),
        request_hash: sha256_hex(body),
    }))
}

async fn declare(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToDispatch>,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response> {
    let key = idempotency_key(&headers, &caller, &body.bytes)?;
    let (outage, created, fanout) =
        outages::declare(&state.outages(), &body.value, key, &caller.actor).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (
        status,
        Json(with_fanout(outage_json(&state, &outage, false), &fanout)),
    )
        .into_response();
    if let Ok(location) = format!("/api/v1/outages/{}", outage.id).parse() {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    if !created {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

async fn preview(
    axum::extract::State(state): State,
    _op: Needs<ToRead>,
    body: JsonBody,
) -> Result<Json<outages::Reach>> {
    Ok(Json(outages::preview(&state.outages(), &body.value).await?))
}

/// `limit=`: how many rows, 1 to 10000. Given but empty is an error, as any
/// other value that is not such a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(i64);

impl Limit {
    pub fn or(limit: Option<Limit>, default: i64) -> i64 {
        limit.map_or(default, |l| l.0)
    }
}

impl std::str::FromStr for Limit {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Limit, &'static str> {
        s.parse::<i64>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .map(Limit)
            .ok_or("expected a number from 1 to 10000")
    }
}

/// `GET /api/v1/outages?reference=&status=&utility=&limit=` (default 100). An
/// empty `reference`, `status` or `utility` is no filter. Fields are in the order
/// they are checked.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "params::non_empty")]
    pub reference: Option<Reference>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub status: Option<OutageStatus>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub utility: Option<Utility>,
    #[serde(default, deserialize_with = "params::parsed")]
    pub limit: Option<Limit>,
}

async fn list(
    axum::extract::State(state): State,
    _op: Needs<ToRead>,
    Params(q): Params<ListQuery>,
) -> Result<Json<Value>> {
    let filter = OutageFilter {
        status: q.status,
        utility: q.utility,
        reference: q.reference,
        limit: Limit::or(q.limit, 100),
    };
    let outages = state.store.outages(&filter).await?;
    let items: Vec<Value> = outages
        .iter()
        .map(|o| outage_json(&state, o, false))
        .collect();
    Ok(Json(json!({ "outages": items })))
}

async fn show(
    axum::extract::State(state): State,
    _op: Needs<ToRead>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let outage = outages::find(&state.outages(), &id).await?;
    let revisions = state.store.revisions(outage.id).await?;
    let counts = state.store.delivery_counts(outage.id).await?;
    // {"email": {"sent": 10, "pending": 2}, "sms": {...}} plus the detailed rows.
    let mut by_channel = json!({ "email": {}, "sms": {} });
    for c in &counts {
        let slot = &mut by_channel[c.channel.as_str()][c.state.as_str()];
        *slot = json!(slot.as_i64().unwrap_or(0) + c.count);
    }
    let mut v = outage_json(&state, &outage, true);
    v["revisions"] = json!(revisions);
    v["deliveries"] = by_channel;
    v["delivery_counts"] = json!(counts);
    // Who called the IVR about it, and whether they had been told first.
    v["calls"] = json!(
        crate::calls::outage_stats(&state.calls, &state.store, &state.server_key, outage.id)
            .await?
    );
    // Residents' reports: inside it, and of supply still out after its restore.
    v["reports"] = json!(state.store.outage_reports(outage.id).await?);
    Ok(Json(v))
}

async fn update(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToDispatch>,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<Value>> {
    let id = outages::find(&state.outages(), &id).await?.id;
    let (outage, fanout) =
        outages::update(&state.outages(), id, &body.value, &caller.actor).await?;
    let mut v = outage_json(&state, &outage, false);
    v["changed"] = json!(fanout.is_some());
    if let Some(f) = fanout {
        v = with_fanout(v, &f);
    }
    Ok(Json(v))
}

async fn end(
    state: &AppState,
    caller: &Caller,
    id: &str,
    status: OutageStatus,
) -> Result<Json<Value>> {
    let id = outages::find(&state.outages(), id).await?.id;
    let (outage, fanout) = outages::end(&state.outages(), id, status, &caller.actor).await?;
    Ok(Json(with_fanout(
        outage_json(state, &outage, false),
        &fanout,
    )))
}

async fn restore(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToDispatch>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    end(&state, &caller, &id, OutageStatus::Restored).await
}

async fn cancel(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToDispatch>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    end(&state, &caller, &id, OutageStatus::Cancelled).await
}

/// `GET /api/v1/outages/{id}/deliveries?state=&limit=` (default 1000). An empty
/// `state` is no filter.
#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default, deserialize_with = "params::non_empty")]
    pub state: Option<DeliveryState>,
    #[serde(default, deserialize_with = "params::parsed")]
    pub limit: Option<Limit>,
    #[serde(default, deserialize_with = "params::parsed")]
    pub format: Option<Format>,
}

async fn deliveries(
    axum::extract::State(state): State,
    _op: Needs<ToRead>,
    Path(id): Path<String>,
    // An unknown outage is a 404 whatever the query says: it is checked first.
    q: Result<Params<DeliveriesQuery>, Error>,
) -> Result<Response> {
    let outage = outages::find(&state.outages(), &id).await?;
    let Params(q) = q?;
    let rows = state
        .store
        .deliveries(outage.id, q.state, Limit::or(q.limit, 1000))
        .await?;
    if q.format == Some(Format::Csv) {
        return deliveries_csv(&outage, &rows);
    }
    Ok(Json(json!({ "deliveries": rows })).into_response())
}

/// An outage's deliveries as a CSV download (also the console's export).
pub(super) fn deliveries_csv(outage: &Outage, rows: &[DeliveryRow]) -> Result<Response> {
    let header = [
        "id",
        "revision",
        "kind",
        "channel",
        "destination",
        "state",
        "attempts",
        "next_attempt_at",
        "provider_message_id",
        "segments",
        "last_error",
        "updated_at",
        "deferred_until",
        "report",
        "reported_at",
    ];
    let lines = rows.iter().map(|d| {
        vec![
            d.id.to_string(),
            d.revision.to_string(),
            d.kind.as_str().to_string(),
            d.channel.as_str().to_string(),
            d.destination.clone(),
            d.state.as_str().to_string(),
            d.attempts.to_string(),
            d.next_attempt_at.to_rfc3339(),
            d.provider_message_id.clone().unwrap_or_default(),
            d.segments.map(|s| s.to_string()).unwrap_or_default(),
            d.last_error.clone().unwrap_or_default(),
            d.updated_at.to_rfc3339(),
            d.deferred_until.map(|t| t.to_rfc3339()).unwrap_or_default(),
            d.report.clone().unwrap_or_default(),
            d.reported_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ]
    });
    csv_download(
        &format!("{}-deliveries.csv", outage.reference),
        &header,
        lines,
    )
}

/// A CSV download: `header`, then `lines`.
fn csv_download(
    filename: &str,
    header: &[&str],
    lines: impl Iterator<Item = Vec<String>>,
) -> Result<Response> {
    let csv_error = |e: csv::Error| Error::Internal(e.into());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).map_err(csv_error)?;
    for line in lines {
        out.write_record(&line).map_err(csv_error)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| Error::Internal(anyhow::anyhow!("csv: {e}")))?;
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `POST /api/v1/outages/{id}/retry-dead`: the outage's dead deliveries back
/// in the queue.
async fn retry_dead(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToDispatch>,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let outage = outages::find(&state.outages(), &id).await?;
    let retried = retry(&state, &outage, &caller).await?;
    Ok(Json(json!({ "retried": retried })))
}

/// Retries the outage's dead deliveries and wakes the workers.
pub(super) async fn retry(state: &AppState, outage: &Outage, caller: &Caller) -> Result<u64> {
    let retried = state
        .store
        .retry_dead(outage, &caller.actor, state.clock.now())
        .await?;
    if retried > 0 {
        state.wake.all();
    }
    Ok(retried)
}

/// `on_error=reject` (the default: one bad row rejects the file) or `skip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Reject,
    Skip,
}

impl std::str::FromStr for OnError {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<OnError, &'static str> {
        match s {
            "reject" => Ok(OnError::Reject),
            "skip" => Ok(OnError::Skip),
            _ => Err("expected reject or skip"),
        }
    }
}

/// `POST /api/v1/{addresses,contacts}/import?on_error=`; given but empty is an error.
#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    #[serde(default, deserialize_with = "params::parsed")]
    pub on_error: Option<OnError>,
    /// The list's name, recorded in the consent ledger of every contact the
    /// import adds (`API upload` when not given).
    #[serde(default, deserialize_with = "params::non_blank")]
    pub file: Option<FileName>,
}

/// A contact list's name as the ledger records it: up to 200 characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl std::str::FromStr for FileName {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<FileName, &'static str> {
        if s.chars().count() > 200 || s.chars().any(crate::domain::text::is_forbidden) {
            return Err(
                "expected a file name of at most 200 characters, without control characters",
            );
        }
        Ok(FileName(s.to_string()))
    }
}

impl ImportQuery {
    fn mode(&self) -> Mode {
        match self.on_error {
            None | Some(OnError::Reject) => Mode::Strict,
            Some(OnError::Skip) => Mode::Skip,
        }
    }
}

async fn import_addresses(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToSupervise>,
    Params(q): Params<ImportQuery>,
    request: Request,
) -> Result<Json<import::ImportReport>> {
    let mode = q.mode();
    let body = read_body(request, &state).await?;
    let report = import::import_addresses(
        &state.store,
        import::Input::Bytes(&body),
        mode,
        state.clock.now(),
    )
    .await?;
    state.published.touch();
    audited(&state, &caller, Action::AddressesImported, &report).await?;
    Ok(Json(report))
}

async fn import_contacts(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToSupervise>,
    Params(q): Params<ImportQuery>,
    request: Request,
) -> Result<Json<import::ImportReport>> {
    let mode = q.mode();
    let body = read_body(request, &state).await?;
    let region = state.config.region()?;
    let source = import::ListSource {
        name: q.file.as_ref().map_or("API upload", |f| f.0.as_str()),
        key: &state.server_key,
    };
    let report = import::import_contacts(
        &state.store,
        import::Input::Bytes(&body),
        source,
        region,
        mode,
        state.clock.now(),
    )
    .await?;
    state.published.touch();
    audited(&state, &caller, Action::ContactsImported, &report).await?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<T: serde::de::DeserializeOwned>(q: &str) -> Result<T> {
        params::from_uri(&format!("/api/v1/outages?{q}").parse().unwrap())
    }

    fn field(e: Error) -> String {
        match e {
            Error::BadRequest { field, .. } => field,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn limits_are_one_to_ten_thousand() {
        assert_eq!("1".parse(), Ok(Limit(1)));
        assert_eq!("10000".parse(), Ok(Limit(10_000)));
        for bad in ["0", "10001", "-5", "", " 5", "5.0", "lots"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad}");
        }
        assert_eq!(Limit::or(None, 100), 100);
        assert_eq!(Limit::or(Some(Limit(7)), 100), 7);
    }

    #[test]
    fn list_filters() {
        let q: ListQuery = query("status=active&utility=&limit=20&page=2").unwrap();
        assert_eq!(q.status, Some(OutageStatus::Active));
        assert_eq!(
            (q.utility, q.reference, q.limit),
            (None, None, Some(Limit(20)))
        );
        for (bad, expected) in [
            ("status=open", "status"),
            ("utility=wind", "utility"),
            ("reference=AB-12", "reference"),
            ("limit=", "limit"),
        ] {
            assert_eq!(
                field(query::<ListQuery>(bad).unwrap_err()),
                expected,
                "{bad}"
            );
        }
    }

    #[test]
    fn delivery_and_import_parameters() {
        let q: DeliveriesQuery = query("state=dead&limit=3").unwrap();
        assert_eq!(
            (q.state, q.limit),
            (Some(DeliveryState::Dead), Some(Limit(3)))
        );
        assert_eq!(
            field(query::<DeliveriesQuery>("state=gone").unwrap_err()),
            "state"
        );
        let mode = |q: &str| query::<ImportQuery>(q).map(|q| q.mode());
        assert!(matches!(mode(""), Ok(Mode::Strict)));
        assert!(matches!(mode("on_error=reject"), Ok(Mode::Strict)));
        assert!(matches!(mode("on_error=skip"), Ok(Mode::Skip)));
        assert_eq!(field(mode("on_error=").unwrap_err()), "on_error");
    }
}

/// Appends an import's audit entry: who imported, and the counts.
async fn audited(
    state: &AppState,
    caller: &Caller,
    action: Action,
    report: &import::ImportReport,
) -> Result<()> {
    let entry = Entry {
        at: state.clock.now(),
        actor: &caller.actor,
        action,
        subject: None,
        details: json!(report),
    };
    state.store.append_audit(&entry).await
}

/// An instant in a query: RFC 3339 (`2026-11-23T08:00:00Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant(chrono::DateTime<chrono::Utc>);

impl std::str::FromStr for Instant {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Instant, &'static str> {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Instant(t.with_timezone(&chrono::Utc)))
            .map_err(|_| "expected an RFC 3339 time, e.g. 2026-11-23T08:00:00Z")
    }
}

/// `format=json` (the default) or `csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Format, &'static str> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err("expected json or csv"),
        }
    }
}

/// `GET /api/v1/audit?since=&until=&limit=&format=` (newest first, default
/// 1000): supervisors only.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(default, deserialize_with = "params::parsed")]
    pub since: Option<Instant>,
    #[serde(default, deserialize_with = "params::parsed")]
    pub until: Option<Instant>,
    #[serde(default, deserialize_with = "params::parsed")]
    pub limit: Option<Limit>,
    #[serde(default, deserialize_with = "params::parsed")]
    pub format: Option<Format>,
}

async fn audit(
    axum::extract::State(state): State,
    _op: Needs<ToSupervise>,
    Params(q): Params<AuditQuery>,
) -> Result<Response> {
    let filter = AuditFilter {
        since: q.since.map(|t| t.0),
        until: q.until.map(|t| t.0),
        limit: Limit::or(q.limit, 1000),
    };
    let entries = state.store.audit_log(&filter).await?;
    if q.format != Some(Format::Csv) {
        return Ok(Json(json!({ "entries": entries })).into_response());
    }
    let header = [
        "id", "at", "actor", "action", "subject", "details", "client",
    ];
    let lines = entries.iter().map(|e| {
        vec![
            e.id.to_string(),
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.action.clone(),
            e.subject.clone().unwrap_or_default(),
            e.details.to_string(),
            e.client.clone().unwrap_or_default(),
        ]
    });
    csv_download("herald-audit.csv", &header, lines)
}

/// `GET /api/v1/contacts?destination=` (supervisors): the contacts of one
/// e-mail address or phone number, with their ids, for the ledger below.
#[derive(Debug, Deserialize)]
pub struct ContactsQuery {
    #[serde(deserialize_with = "params::trimmed")]
    pub destination: String,
}

async fn contacts(
    axum::extract::State(state): State,
    _op: Needs<ToSupervise>,
    Params(q): Params<ContactsQuery>,
) -> Result<Json<Value>> {
    let region = state.config.region()?;
    let channel = if q.destination.contains('@') {
        crate::domain::Channel::Email
    } else {
        crate::domain::Channel::Sms
    };
    let destination = crate::domain::contact::Destination::parse(channel, &q.destination, region)
        .map_err(|e| Error::bad_request("destination", e.to_string()))?;
    let found = state
        .store
        .contacts_of(channel, destination.as_str())
        .await?;
    Ok(Json(json!({ "contacts": found })))
}

/// `GET /api/v1/contacts/{id}/consent?format=` (supervisors): the contact's
/// consent ledger, oldest first, as JSON or CSV.
#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    #[serde(default, deserialize_with = "params::parsed")]
    pub format: Option<Format>,
}

/// `POST /api/v1/contacts/{id}/opt-out` (`{"note": "…"}`, optional): a
/// supervisor stops a contact's alerts for the resident (who asked by phone,
/// by letter). The ledger names the operator, the note and the client.
async fn operator_opt_out(
    axum::extract::State(state): State,
    Needs(caller, _): Needs<ToSupervise>,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<Value>> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("id", "expected a contact id (a number)"))?;
    let note = match body.value.get("note") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(n)) if n.chars().count() <= 500 => n.trim().to_string(),
        Some(_) => {
            return Err(Error::bad_request(
                "note",
                "expected text of at most 500 characters",
            ))
        }
    };
    let (channel, destination) = state
        .store
        .contact_destination(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no contact {id}")))?;
    let contact = state
        .store
        .person(channel, &destination)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Error::NotFound(format!("no contact {id}")))?;
    let detail = if note.is_empty() {
        caller.actor.name.clone()
    } else {
        format!("{}: {note}", caller.actor.name)
    };
    let via = Via::new(Method::Operator, detail, caller.actor.client.clone());
    let changed = state
        .store
        .opt_out(&contact.unsubscribe_token, &via, state.clock.now())
        .await?;
    Ok(Json(
        json!({ "contact_id": id, "opted_out": true, "changed": changed }),
    ))
}

async fn consent_history(
    axum::extract::State(state): State,
    _op: Needs<ToSupervise>,
    Path(id): Path<String>,
    Params(q): Params<ConsentQuery>,
) -> Result<Response> {
    let id: i64 = id
        .parse()
        .map_err(|_| Error::bad_request("id", "expected a contact id (a number)"))?;
    let events = state
        .store
        .consent_history(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no contact {id}")))?;
    if q.format != Some(Format::Csv) {
        return Ok(Json(json!({ "contact_id": id, "events": events })).into_response());
    }
    let header = [
        "id", "at", "channel", "purpose", "action", "method", "detail", "source",
    ];
    let lines = events.iter().map(|e| {
        vec![
            e.id.to_string(),
            e.at.to_rfc3339(),
            e.channel.to_string(),
            e.purpose.clone(),
            e.action.as_str().to_string(),
            e.method.to_string(),
            e.detail.clone(),
            e.source.clone().unwrap_or_default(),
        ]
    });
    csv_download(&format!("herald-consent-{id}.csv"), &header, lines)
}

//! What a dispatcher can do to an outage: declare (or preview), update, restore,
//! cancel. Each operation validates its input into domain values, finds the
//! affected addresses in the in-memory index, and hands the store one change to
//! write together with its fan-out. Planned work starting on time ([`start_due`])
//! is the one change no dispatcher makes: the workers' housekeeping calls it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::config::{AfterWindow, Config};
use crate::domain::audit::Actor;
use crate::domain::outage::{parse_time, Messages};
use crate::domain::{
    text, ChangeKind, Etr, Language, Outage, OutageField, OutageKind, OutageStatus, Urgency,
    Utility,
};
use crate::error::{Error, Result};
use crate::published::Published;
use crate::register::Register;
use crate::store::{ChannelCounts, Declared, IdempotencyKey, NewOutage, OutageChange, Store};
use crate::wake::Wake;

/// What the outage operations work with, borrowed from the application state:
/// they write through the store, look areas up in the register's index, wake
/// this process's workers and tell its pages and IVR that the view changed.
pub struct Context<'a> {
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    pub config: &'a Config,
    pub register: &'a Register,
    pub wake: &'a Wake,
    pub published: &'a Published,
}

const MAX_CAUSE: usize = 500;
const MAX_MESSAGE: usize = 1000;

/// A validated declaration.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub utility: Utility,
    pub kind: OutageKind,
    pub cause: String,
    pub area: geo::MultiPolygon<f64>,
    pub etr: Etr,
    pub starts_at: Option<DateTime<Utc>>,
    pub messages: Messages,
    pub urgency: Urgency,
}

fn invalid<T>(field: &str, message: impl Into<String>) -> Result<T> {
    Err(Error::invalid(field, message))
}

fn object<'a>(body: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>> {
    let Some(obj) = body.as_object() else {
        return invalid("body", "expected a JSON object");
    };
    if let Some(unknown) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return invalid(
            unknown,
            format!("unknown field; allowed fields: {}", allowed.join(", ")),
        );
    }
    Ok(obj)
}

fn string_field<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => invalid(field, "expected a string"),
    }
}

fn enum_field<T: std::str::FromStr<Err = String>>(
    obj: &Map<String, Value>,
    field: &str,
) -> Result<Option<T>> {
    string_field(obj, field)?
        .map(|s| s.trim().to_ascii_lowercase().parse::<T>())
        .transpose()
        .map_err(|e| Error::invalid(field, e))
}

fn cause(obj: &Map<String, Value>) -> Result<Option<String>> {
    let Some(cause) = string_field(obj, "cause")? else {
        return Ok(None);
    };
    check_cause(cause).map(Some)
}

/// A cause as every way of declaring or changing an outage accepts it: trimmed,
/// 1 to [`MAX_CAUSE`] characters, nothing that is not text.
pub fn check_cause(cause: &str) -> Result<String> {
    let cause = cause.trim();
    if cause.is_empty() {
        return invalid("cause", "must not be empty");
    }
    if cause.chars().count() > MAX_CAUSE {
        return invalid("cause", format!("longer than {MAX_CAUSE} characters"));
    }
    // See `domain::text`: it would make every IVR answer invalid XML.
    if cause.chars().any(text::is_forbidden) {
        return invalid(
            "cause",
            "contains control characters or U+FFFE/U+FFFF (not text)",
        );
    }
    Ok(cause.to_string())
}

/// Checks messages by language (`{"hu": "…", "en": "…"}`) as a declaration's
/// or a change's `message` field is checked.
pub fn check_messages(value: &Value) -> Result<Messages> {
    Ok(message_texts(Some(value))?.unwrap_or_default())
}

fn messages(obj: &Map<String, Value>) -> Result<Option<Messages>> {
    message_texts(obj.get("message"))
}

/// A `message` field's texts by language; absent or null is none given.
fn message_texts(value: Option<&Value>) -> Result<Option<Messages>> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(map) = value.as_object() else {
        return invalid(
            "message",
            "expected an object of texts by language, e.g. {\"hu\": \"…\", \"en\": \"…\"}",
        );
    };
    let mut out = Messages::new();
    for (lang, text) in map {
        let field = format!("message.{lang}");
        let language: Language = lang
            .parse()
            .map_err(|_| Error::invalid(&field, "unsupported language; use hu, pl or en"))?;
        let Some(text) = text.as_str() else {
            return invalid(&field, "expected a string");
        };
        let text = text.trim();
        if text.chars().count() > MAX_MESSAGE {
            return invalid(&field, format!("longer than {MAX_MESSAGE} characters"));
        }
        if text.chars().any(|c| text::is_forbidden(c) && c != '\n') {
            return invalid(
                &field,
                "contains control characters or U+FFFE/U+FFFF (only line breaks are allowed)",
            );
        }
        if !text.is_empty() {
            out.insert(language, text.to_string());
        }
    }
    Ok(Some(out))
}

fn area(ctx: &Context<'_>, obj: &Map<String, Value>) -> Result<Option<geo::MultiPolygon<f64>>> {
    check_area(ctx.config, obj.get("area"))
}

/// Reads an area as a declaration or a change gives it (`area`; absent or
/// null is none given), every rejection naming where the problem is.
pub fn check_area(
    config: &Config,
    value: Option<&Value>,
) -> Result<Option<geo::MultiPolygon<f64>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => crate::geo::parse_area(v, config.max_area_vertices)
            .map(Some)
            .map_err(|e| Error::invalid(e.path, e.message)),
    }
}

/// What a declaration without an area is told.
const AREA_REQUIRED: &str = "required: a GeoJSON Polygon or MultiPolygon";

fn time_field(obj: &Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>> {
    string_field(obj, field)?
        .map(|s| parse_time(s, field))
        .transpose()
        .map_err(|(f, m)| Error::invalid(f, m))
}

fn etr_field(obj: &Map<String, Value>) -> Result<Option<Etr>> {
    obj.get("etr")
        .map(|v| Etr::parse(v, "etr"))
        .transpose()
        .map_err(|(f, m)| Error::invalid(f, m))
}

/// Checks that times make sense together.
pub fn check_times(etr: Etr, starts_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<()> {
    if let Etr::At(t) = etr {
        if t < now - chrono::Duration::minutes(5) {
            return invalid("etr", "is in the past");
        }
        if let Some(s) = starts_at {
            if t <= s {
                return invalid("etr", "must be after starts_at");
            }
        }
    }
    Ok(())
}

const DECLARE_FIELDS: &[&str] = &[
    "utility",
    "kind",
    "cause",
    "area",
    "etr",
    "starts_at",
    "message",
    "urgency",
];

pub fn parse_declaration(ctx: &Context<'_>, body: &Value) -> Result<Declaration> {
    let obj = object(body, DECLARE_FIELDS)?;
    let utility = enum_field::<Utility>(obj, "utility")?.ok_or_else(|| {
        Error::invalid(
            "utility",
            "required (power, water, gas, telecom, heating or sewer)",
        )
    })?;
    let kind = enum_field::<OutageKind>(obj, "kind")?.unwrap_or(OutageKind::Unplanned);
    let cause = cause(obj)?.ok_or_else(|| Error::invalid("cause", "required"))?;
    let area = area(ctx, obj)?.ok_or_else(|| Error::invalid("area", AREA_REQUIRED))?;
    let etr = etr_field(obj)?.unwrap_or(Etr::Unknown);
    let starts_at = time_field(obj, "starts_at")?;
    match (kind, starts_at) {
        (OutageKind::Planned, None) => return invalid("starts_at", "required for planned work"),
        (OutageKind::Unplanned, Some(_)) => {
            return invalid(
                "starts_at",
                "only planned work has a start time; set kind to planned",
            )
        }
        _ => {}
    }
    check_times(etr, starts_at, ctx.clock.now())?;
    Ok(Declaration {
        utility,
        kind,
        cause,
        area,
        etr,
        starts_at,
        messages: messages(obj)?.unwrap_or_default(),
        urgency: enum_field::<Urgency>(obj, "urgency")?.unwrap_or(Urgency::Normal),
    })
}

/// The addresses a declaration reaches, and their contacts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reach {
    pub affected_addresses: usize,
    pub contacts: ChannelCounts,
}

async fn lookup(
    ctx: &Context<'_>,
    area: &geo::MultiPolygon<f64>,
    utility: Utility,
) -> Result<Vec<i64>> {
    let index = ctx.register.address_index().await?;
    let area = area.clone();
    let started = std::time::Instant::now();
    // Large polygons take milliseconds: keep them off the async workers.
    let ids = tokio::task::spawn_blocking(move || {
        let mut ids = index.lookup(&area, utility.bit());
        ids.sort_unstable();
        ids
    })
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("lookup task: {e}")))?;
    metrics::histogram!("herald_geo_lookup_seconds").record(started.elapsed().as_secs_f64());
    Ok(ids)
}

pub async fn preview(ctx: &Context<'_>, body: &Value) -> Result<Reach> {
    let d = parse_declaration(ctx, body)?;
    Ok(reach_of(ctx, &d.area, d.utility).await?.0)
}

/// What an area alone reaches (the console's live preview, while the rest of
/// the declaration is still being written), and the addresses, ascending.
pub async fn reach(ctx: &Context<'_>, area: &Value, utility: Utility) -> Result<(Reach, Vec<i64>)> {
    let area =
        check_area(ctx.config, Some(area))?.ok_or_else(|| Error::invalid("area", AREA_REQUIRED))?;
    reach_of(ctx, &area, utility).await
}

/// What a validated area reaches for `utility`, as the API's preview counts it.
pub async fn reach_of(
    ctx: &Context<'_>,
    area: &geo::MultiPolygon<f64>,
    utility: Utility,
) -> Result<(Reach, Vec<i64>)> {
    let ids = lookup(ctx, area, utility).await?;
    // Counted in memory, for the contacts as they are now (the version moves
    // with every import, opt-out and subscription, on any node).
    let version = ctx.store.published().await?.contacts_version;
    let counts = ctx.register.contact_counts(version).await?;
    let reach = Reach {
        affected_addresses: ids.len(),
        contacts: counts.count(&ids),
    };
    Ok((reach, ids))
}

fn area_json(area: &geo::MultiPolygon<f64>) -> String {
    let geometry = geojson::Geometry::from(area);
    serde_json::to_string(&geometry).expect("geometry serializes")
}

fn messages_json(m: &Messages) -> String {
    serde_json::to_string(m).expect("messages serialize")
}

fn expiry(ctx: &Context<'_>, now: DateTime<Utc>) -> DateTime<Utc> {
    now + ctx.config.delivery.ttl()
}

/// Declares an outage; returns it, whether it was new, and its fan-out.
pub async fn declare(
    ctx: &Context<'_>,
    body: &Value,
    idempotency: Option<IdempotencyKey>,
    by: &Actor,
) -> Result<(Outage, bool, ChannelCounts)> {
    declare_after(ctx, body, idempotency, by, chrono::Duration::zero()).await
}

/// Declares an outage whose messages wait `hold` before the first is tried
/// (the console's undo window: calling it off meanwhile tells nobody).
pub async fn declare_held(
    ctx: &Context<'_>,
    body: &Value,
    hold: chrono::Duration,
    by: &Actor,
) -> Result<(Outage, ChannelCounts)> {
    let (outage, _, fanout) = declare_after(ctx, body, None, by, hold).await?;
    Ok((outage, fanout))
}

async fn declare_after(
    ctx: &Context<'_>,
    body: &Value,
    idempotency: Option<IdempotencyKey>,
    by: &Actor,
    hold: chrono::Duration,
) -> Result<(Outage, bool, ChannelCounts)> {
    let d = parse_declaration(ctx, body)?;
    let ids = lookup(ctx, &d.area, d.utility).await?;
    let now = ctx.clock.now();
    let status = match d.kind {
        OutageKind::Planned if d.starts_at.is_some_and(|s| s > now) => OutageStatus::Scheduled,
        _ => OutageStatus::Active,
    };
    let new = NewOutage {
        utility: d.utility,
        kind: d.kind,
        status,
        urgency: d.urgency,
        cause: d.cause,
        etr: d.etr.as_option(),
        starts_at: d.starts_at,
        area: area_json(&d.area),
        messages: messages_json(&d.messages),
        address_ids: ids,
        now,
        first_attempt_at: now + hold,
        expires_at: expiry(ctx, now + hold),
        by: by.clone(),
    };
    let (outage, created) = match ctx.store.declare(&new, idempotency.as_ref()).await? {
        Declared::Created(o) => (o, true),
        Declared::Replayed(o) => (o, false),
        Declared::KeyReused => {
            return Err(Error::invalid(
                "Idempotency-Key",
                "this key was already used for a different request",
            ))
        }
    };
    if created {
        ctx.wake.all();
        ctx.published.touch();
        tracing::info!(outage_id = outage.id, reference = %outage.reference, affected = outage.affected_addresses, "outage declared");
    }
    let fanout = ctx.store.revision_fanout(outage.id, 1).await?;
    Ok((outage, created, fanout))
}

const UPDATE_FIELDS: &[&str] = &["etr", "cause", "message", "area", "starts_at"];

/// Applies a PATCH. Returns the outage and the fan-out of the new revision, or the
/// unchanged outage when the body changes nothing.
pub async fn update(
    ctx: &Context<'_>,
    id: i64,
    body: &Value,
    by: &Actor,
) -> Result<(Outage, Option<ChannelCounts>)> {
    let obj = object(body, UPDATE_FIELDS)?;
    if obj.is_empty() {
        return invalid(
            "body",
            format!(
                "nothing to change; send one of: {}",
                UPDATE_FIELDS.join(", ")
            ),
        );
    }
    let etr = etr_field(obj)?;
    let cause = cause(obj)?;
    let message = messages(obj)?;
    let new_area = area(ctx, obj)?;
    let starts_at = time_field(obj, "starts_at")?;
    let current = get(ctx, id).await?;
    if !current.status.is_open() {
        return Err(Error::Conflict(format!(
            "outage {} is {} and can no longer change",
            current.reference, current.status
        )));
    }
    if starts_at.is_some() && current.kind != OutageKind::Planned {
        return invalid("starts_at", "only planned work has a start time");
    }
    let mut fields: Vec<OutageField> = Vec::new();
    let next_etr = etr.unwrap_or(current.etr);
    if next_etr != current.etr {
        fields.push(OutageField::Etr);
    }
    let next_cause = cause.unwrap_or_else(|| current.cause.clone());
    if next_cause != current.cause {
        fields.push(OutageField::Cause);
    }
    let next_messages = message.unwrap_or_else(|| current.messages.clone());
    if next_messages != current.messages {
        fields.push(OutageField::Message);
    }
    let next_starts = starts_at.or(current.starts_at);
    if next_starts != current.starts_at {
        fields.push(OutageField::StartsAt);
    }
    let current_area: Option<geo::MultiPolygon<f64>> =
        crate::geo::read_stored_area(&current.area).ok();
    let area_changed = new_area.is_some() && new_area != current_area;
    if area_changed {
        fields.push(OutageField::Area);
    }
    if etr.is_some() {
        check_times(
            next_etr,
            next_starts.filter(|_| current.kind == OutageKind::Planned),
            ctx.clock.now(),
        )?;
    }
    if fields.is_empty() {
        return Ok((current, None));
    }
    let new_ids = match (&new_area, area_changed) {
        (Some(a), true) => Some(lookup(ctx, a, current.utility).await?),
        _ => None,
    };
    let now = ctx.clock.now();
    let status = match (current.status, next_starts) {
        (OutageStatus::Scheduled, Some(s)) if s <= now => OutageStatus::Active,
        (s, _) => s,
    };
    let change = OutageChange {
        expected_revision: current.revision,
        change: ChangeKind::Updated,
        notify_update: fields.iter().any(|f| *f != OutageField::Area),
        changed_fields: fields,
        status,
        cause: next_cause,
        etr: next_etr.as_option(),
        starts_at: next_starts,
        area: match (&new_area, area_changed) {
            (Some(a), true) => area_json(a),
            _ => serde_json::to_string(&current.area).expect("area serializes"),
        },
        messages: messages_json(&next_messages),
        new_address_ids: new_ids,
        keep_held: false,
        now,
        expires_at: expiry(ctx, now),
        by: by.clone(),
    };
    let outage = ctx.store.change(id, &change).await?;
    ctx.wake.all();
    ctx.published.touch();
    let fanout = ctx.store.revision_fanout(id, outage.revision).await?;
    tracing::info!(outage_id = id, revision = outage.revision, fields = ?change.changed_fields, "outage updated");
    Ok((outage, Some(fanout)))
}

/// Restores (`restored`) or cancels (`cancelled`) an outage.
pub async fn end(
    ctx: &Context<'_>,
    id: i64,
    status: OutageStatus,
    by: &Actor,
) -> Result<(Outage, ChannelCounts)> {
    let current = get(ctx, id).await?;
    match (status, current.status) {
        (_, OutageStatus::Restored | OutageStatus::Cancelled) => {
            return Err(Error::Conflict(format!(
                "outage {} is already {}",
                current.reference, current.status
            )))
        }
        (OutageStatus::Restored, OutageStatus::Scheduled) => {
            return Err(Error::Conflict(format!(
                "outage {} has not started; cancel it instead",
                current.reference
            )))
        }
        _ => {}
    }
    let now = ctx.clock.now();
    let change = OutageChange {
        expected_revision: current.revision,
        change: if status == OutageStatus::Restored {
            ChangeKind::Restored
        } else {
            ChangeKind::Cancelled
        },
        changed_fields: vec![OutageField::Status],
        status,
        cause: current.cause.clone(),
        etr: current.etr.as_option(),
        starts_at: current.starts_at,
        area: serde_json::to_string(&current.area).expect("area serializes"),
        messages: messages_json(&current.messages),
        new_address_ids: None,
        notify_update: false,
        keep_held: ctx.config.alerts.after_window(current.utility) == AfterWindow::Summary,
        now,
        expires_at: expiry(ctx, now),
        by: by.clone(),
    };
    let outage = ctx.store.change(id, &change).await?;
    ctx.wake.all();
    ctx.published.touch();
    let fanout = ctx.store.revision_fanout(id, outage.revision).await?;
    tracing::info!(outage_id = id, status = %status, "outage ended");
    Ok((outage, fanout))
}

/// Starts planned outages whose start has come (scheduled → active, a new
/// `started` revision that sends no messages: residents were told the start time
/// when the work was announced). Returns their ids.
///
/// It takes only the store because it runs in the workers (housekeeping, and a
/// drain in tests) as well as anywhere else a process notices the time has come;
/// the change bumps the published version, so every node's view follows.
pub async fn start_due(store: &Store, now: DateTime<Utc>) -> Result<Vec<i64>> {
    let ids = store.start_due_outages(now).await?;
    if !ids.is_empty() {
        tracing::info!(?ids, "planned outages started");
    }
    Ok(ids)
}

/// Finds an outage by numeric id or by reference (typo-checked).
pub async fn get(ctx: &Context<'_>, id: i64) -> Result<Outage> {
    ctx.store
        .outage(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("outage {id}")))
}

pub async fn find(ctx: &Context<'_>, id_or_reference: &str) -> Result<Outage> {
    if let Ok(id) = id_or_reference.parse::<i64>() {
        return get(ctx, id).await;
    }
    let reference = crate::domain::Reference::parse(id_or_reference)
        .map_err(|e| Error::invalid("id", e.to_string()))?;
    ctx.store
        .outage_by_reference(&reference)
        .await?
        .ok_or_else(|| Error::NotFound(format!("outage {reference}")))
}

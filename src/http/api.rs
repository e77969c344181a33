//! The operator API (`/api/v1`, JSON, `Authorization: Bearer <token>`), used by
//! dispatchers' tools and outage-management systems.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::AppState;
use super::{read_body, JsonBody, State};
use crate::auth::{hash_token, sha256_hex};
use crate::channels::render::outage_url;
use crate::domain::{DeliveryState, Outage, OutageStatus, Reference, Utility};
use crate::error::{Error, Result};
use crate::import::{self, Mode};
use crate::outages;
use crate::store::{ChannelCounts, IdempotencyKey, OutageFilter};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/outages", post(declare).get(list))
        .route("/api/v1/outages/preview", post(preview))
        .route("/api/v1/outages/{id}", get(show).patch(update))
        .route("/api/v1/outages/{id}/restore", post(restore))
        .route("/api/v1/outages/{id}/cancel", post(cancel))
        .route("/api/v1/outages/{id}/deliveries", get(deliveries))
        .route("/api/v1/addresses/import", post(import_addresses))
        .route("/api/v1/contacts/import", post(import_contacts))
}

/// An authenticated operator (the id of their token).
pub struct Operator(pub i64);

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Operator> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(Error::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(Error::Unauthorized)?;
        state
            .store
            .token_id(&hash_token(token))
            .await?
            .map(Operator)
            .ok_or(Error::Unauthorized)
    }
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

fn idempotency_key(headers: &HeaderMap, token: i64, body: &[u8]) -> Result<Option<IdempotencyKey>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
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
    Operator(token): Operator,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<Response> {
    let key = idempotency_key(&headers, token, &body.bytes)?;
    let (outage, created, fanout) = outages::declare(&state.outages(), &body.value, key).await?;
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
    _op: Operator,
    body: JsonBody,
) -> Result<Json<outages::Reach>> {
    Ok(Json(outages::preview(&state.outages(), &body.value).await?))
}

fn query_param<T: std::str::FromStr<Err = String>>(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>> {
    q.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<T>().map_err(|e| Error::bad_request(name, e)))
        .transpose()
}

fn limit(q: &HashMap<String, String>, default: i64) -> Result<i64> {
    match q.get("limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| Error::bad_request("limit", "expected a number from 1 to 10000")),
    }
}

async fn list(
    axum::extract::State(state): State,
    _op: Operator,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let reference = q
        .get("reference")
        .filter(|r| !r.is_empty())
        .map(|r| Reference::parse(r).map_err(|e| Error::bad_request("reference", e.to_string())))
        .transpose()?;
    let filter = OutageFilter {
        status: query_param::<OutageStatus>(&q, "status")?,
        utility: query_param::<Utility>(&q, "utility")?,
        reference,
        limit: limit(&q, 100)?,
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
    _op: Operator,
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
    Ok(Json(v))
}

async fn update(
    axum::extract::State(state): State,
    _op: Operator,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<Value>> {
    let id = outages::find(&state.outages(), &id).await?.id;
    let (outage, fanout) = outages::update(&state.outages(), id, &body.value).await?;
    let mut v = outage_json(&state, &outage, false);
    v["changed"] = json!(fanout.is_some());
    if let Some(f) = fanout {
        v = with_fanout(v, &f);
    }
    Ok(Json(v))
}

async fn end(state: &AppState, id: &str, status: OutageStatus) -> Result<Json<Value>> {
    let id = outages::find(&state.outages(), id).await?.id;
    let (outage, fanout) = outages::end(&state.outages(), id, status).await?;
    Ok(Json(with_fanout(
        outage_json(state, &outage, false),
        &fanout,
    )))
}

async fn restore(
    axum::extract::State(state): State,
    _op: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    end(&state, &id, OutageStatus::Restored).await
}

async fn cancel(
    axum::extract::State(state): State,
    _op: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    end(&state, &id, OutageStatus::Cancelled).await
}

async fn deliveries(
    axum::extract::State(state): State,
    _op: Operator,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let outage = outages::find(&state.outages(), &id).await?;
    let state_filter = query_param::<DeliveryState>(&q, "state")?;
    let rows = state
        .store
        .deliveries(outage.id, state_filter, limit(&q, 1000)?)
        .await?;
    Ok(Json(json!({ "deliveries": rows })))
}

fn import_mode(q: &HashMap<String, String>) -> Result<Mode> {
    match q.get("on_error").map(String::as_str) {
        None | Some("reject") => Ok(Mode::Strict),
        Some("skip") => Ok(Mode::Skip),
        Some(_) => Err(Error::bad_request("on_error", "expected reject or skip")),
    }
}

async fn import_addresses(
    axum::extract::State(state): State,
    _op: Operator,
    Query(q): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Json<import::ImportReport>> {
    let mode = import_mode(&q)?;
    let body = read_body(request, &state).await?;
    let report = import::import_addresses(
        &state.store,
        import::Input::Bytes(&body),
        mode,
        state.clock.now(),
    )
    .await?;
    state.published.touch();
    Ok(Json(report))
}

async fn import_contacts(
    axum::extract::State(state): State,
    _op: Operator,
    Query(q): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Json<import::ImportReport>> {
    let mode = import_mode(&q)?;
    let body = read_body(request, &state).await?;
    let region = state.config.region()?;
    let report = import::import_contacts(
        &state.store,
        import::Input::Bytes(&body),
        region,
        mode,
        state.clock.now(),
    )
    .await?;
    state.published.touch();
    Ok(Json(report))
}

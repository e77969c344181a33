//! Delivery reports and bounces posted back to Herald; what they change is
//! [`crate::receipts`]'s.
//!
//! - `GET|POST /sms/v1/status/kannel?id=&sig=&type=&answer=`: the `dlr-url`
//!   each SMS sent through Kannel carries (Kannel fills in `type` (`%d`) and
//!   `answer` (`%A`)), authenticated by `sig`, the delivery id signed with the
//!   deployment's key.
//! - `POST /sms/v1/status/twilio?id=`: the `StatusCallback` of each SMS sent
//!   through Twilio (form fields `MessageSid`, `MessageStatus`, `ErrorCode`),
//!   authenticated by `X-Twilio-Signature` as the inbound webhook is.
//! - `POST /email/v1/feedback`: a bounce (RFC 3464) or complaint (RFC 5965)
//!   as the raw message, with `Authorization: Bearer <email.feedback_secret>`.
//!
//! A request that fails its check gets 403 and changes nothing.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::inbound::{forbidden, same, twilio_signed_form};
use super::params;
use super::{AppState, State};
use crate::channels::feedback;
use crate::error::{Error, Result};
use crate::receipts::{self, Final, KANNEL_PATH, TWILIO_PATH};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(KANNEL_PATH, get(kannel).post(kannel))
        .route(TWILIO_PATH, post(twilio))
        .route("/email/v1/feedback", post(email_feedback))
}

/// The report's own fields (`id` and `sig` are checked before it is read).
#[derive(Debug, Deserialize)]
struct KannelReport {
    #[serde(rename = "type")]
    dlr_type: String,
    #[serde(default)]
    answer: String,
}

#[derive(Debug, Deserialize)]
struct TwilioQuery {
    id: String,
}

#[derive(Debug, Deserialize)]
struct TwilioStatus {
    #[serde(rename = "MessageSid", default)]
    sid: String,
    #[serde(rename = "MessageStatus")]
    status: String,
    #[serde(rename = "ErrorCode", default)]
    error_code: String,
}

fn delivery_id(id: &str) -> Result<i64> {
    id.trim()
        .parse()
        .map_err(|_| Error::bad_request("id", format!("'{id}' is not a delivery id")))
}

/// Records a final report (an interim one changes nothing) and counts it.
async fn record(
    state: &AppState,
    gateway: &'static str,
    id: i64,
    provider_id: Option<&str>,
    report: Option<Final>,
) -> Result<Response> {
    let Some(report) = report else {
        metrics::counter!("herald_delivery_reports_total", "gateway" => gateway, "outcome" => "interim")
            .increment(1);
        return Ok((StatusCode::OK, "interim report ignored").into_response());
    };
    let outcome = match report {
        Final::Delivered => "delivered",
        Final::Failed(_) => "failed",
    };
    let found = state
        .sms_reports
        .record(id, provider_id, report, state.clock.now())
        .await?;
    if !found {
        return Err(Error::NotFound(format!("sent delivery {id}")));
    }
    metrics::counter!("herald_delivery_reports_total", "gateway" => gateway, "outcome" => outcome)
        .increment(1);
    Ok((StatusCode::OK, outcome).into_response())
}

async fn kannel(
    axum::extract::State(state): State,
    OriginalUri(uri): OriginalUri,
) -> Result<Response> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map_err(|e| Error::bad_request("query", e.body_text()))?;
    // The signature first: nothing about a request we did not ask for is read.
    let id = pairs.iter().find(|(k, _)| k == "id").map(|(_, v)| v);
    let sig = pairs.iter().find(|(k, _)| k == "sig").map(|(_, v)| v);
    let (Some(id), Some(sig)) = (id, sig) else {
        return Ok(forbidden("id and sig are required"));
    };
    let Ok(id) = delivery_id(id) else {
        return Ok(forbidden("id is not a delivery id"));
    };
    if !receipts::kannel_signed(&state.server_key, id, sig) {
        return Ok(forbidden("sig does not match"));
    }
    let p: KannelReport = params::from_pairs(pairs)?;
    let dlr_type: u32 = p.dlr_type.trim().parse().map_err(|_| {
        Error::bad_request(
            "type",
            format!("'{}' is not a Kannel DLR type (1, 2, 4, 8, 16)", p.dlr_type),
        )
    })?;
    record(
        &state,
        "kannel",
        id,
        None,
        receipts::kannel_report(dlr_type, &p.answer),
    )
    .await
}

async fn twilio(
    axum::extract::State(state): State,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let pairs = match twilio_signed_form(&state, &uri, &headers, request).await? {
        Ok(pairs) => pairs,
        Err(refused) => return Ok(refused),
    };
    let Query(q) = Query::<TwilioQuery>::try_from_uri(&uri)
        .map_err(|e| Error::bad_request("id", e.body_text()))?;
    let id = delivery_id(&q.id)?;
    let form: TwilioStatus = params::from_pairs(pairs)?;
    let sid = Some(form.sid.as_str()).filter(|s| !s.is_empty());
    let report = receipts::twilio_report(&form.status, Some(form.error_code.as_str()));
    record(&state, "twilio", id, sid, report).await
}

async fn email_feedback(
    axum::extract::State(state): State,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let expected = state.config.email.feedback_secret.expose();
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => return Ok(forbidden("Authorization: Bearer missing")),
        Some(_) if expected.is_empty() => {
            return Ok(forbidden("email.feedback_secret is not configured"))
        }
        Some(g) if !same(g.trim(), expected) => {
            return Ok(forbidden("the bearer secret does not match"))
        }
        Some(_) => {}
    }
    let parsed = feedback::parse(&body).map_err(|e| Error::bad_request("body", e.to_string()))?;
    let region = state
        .config
        .region()
        .map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    let outcome = receipts::apply_feedback(
        &state.store,
        &state.server_key,
        &parsed,
        region,
        state.clock.now(),
    )
    .await?;
    metrics::counter!("herald_email_feedback_total", "kind" => outcome.kind).increment(1);
    tracing::info!(
        kind = outcome.kind,
        contacts = outcome.contacts,
        "e-mail feedback applied"
    );
    Ok(Json(outcome).into_response())
}

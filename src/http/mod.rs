//! HTTP: the operator API (`/api/v1`), the dispatcher console (`/console`),
//! public pages (outage page, unsubscribe), health and metrics. Handlers are thin: they read the request, call `outages` or
//! the store, and shape the answer.
//!
//! Request parameters are typed structs read by [`params::Params`] (query) and
//! [`params::FormParams`] (form body), whose errors name the parameter; every
//! `304 Not Modified` is decided by [`conditional::not_modified`].

pub mod api;
pub mod assets;
pub mod client;
pub mod conditional;
pub mod console;
pub mod credentials;
pub mod dashboard;
pub mod declare;
pub mod health;
pub mod inbound;
pub mod ivr;
pub mod listener;
pub mod manage;
pub mod map;
pub mod params;
pub mod public;
pub mod receipts;
pub mod reports;
mod state;
pub mod subscribe;

pub use state::AppState;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::Error;

pub type State = axum::extract::State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .merge(api::routes())
        .merge(assets::routes())
        .merge(console::routes())
        .merge(declare::routes())
        .merge(public::routes())
        .merge(reports::routes())
        .merge(subscribe::routes())
        .merge(health::routes())
        .merge(ivr::routes())
        .merge(inbound::routes())
        .merge(receipts::routes())
        .merge(manage::routes())
        .layer(axum::middleware::from_fn(record_latency))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn record_latency(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let response = next.run(request).await;
    metrics::histogram!(
        "herald_http_request_duration_seconds",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// A JSON request body whose problems come back as our JSON errors naming the
/// field: 413 for an oversized body, 400 with line and column for broken JSON.
pub struct JsonBody {
    pub value: serde_json::Value,
    pub bytes: Bytes,
}

impl FromRequest<Arc<AppState>> for JsonBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Error> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(Error::bad_request(
                "body",
                "empty body; expected a JSON object",
            ));
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::bad_request(
                "body",
                format!(
                    "invalid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        Ok(JsonBody { value, bytes })
    }
}

/// Reads a whole body within the configured limit.
pub async fn read_body(req: Request, state: &Arc<AppState>) -> Result<Bytes, Error> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge(state.config.max_body_bytes)
        } else {
            Error::bad_request("body", e.body_text())
        }
    })
}

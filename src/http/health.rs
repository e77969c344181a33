//! Liveness, readiness and Prometheus metrics.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

use super::AppState;
use super::State;
use crate::domain::{Channel, DeliveryState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Ready when the database answers, within the 2 s a load balancer's health
/// check can be expected to wait (a pool waiting for a dead server would take
/// longer to give up). The endpoint is public, so the answer says only ready or
/// not; why is in the log, where an operator looks.
async fn readyz(axum::extract::State(state): State) -> impl IntoResponse {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping());
    let why = match ping.await {
        Ok(Ok(())) => return (StatusCode::OK, "ready\n"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 2 s".to_string(),
    };
    tracing::warn!(error = %why, "not ready: the database is unavailable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready: database unavailable\n",
    )
}

async fn metrics(axum::extract::State(state): State) -> impl IntoResponse {
    // Delivery states are read from the database at scrape time, so they count the
    // work of every worker process, not just this one.
    if let Ok(totals) = state.store.delivery_totals().await {
        for channel in [Channel::Email, Channel::Sms] {
            let mut depth = 0;
            for s in DeliveryState::ALL {
                let n = totals
                    .iter()
                    .find(|(c, st, _)| *c == channel && st == s)
                    .map_or(0, |t| t.2);
                if matches!(s, DeliveryState::Pending | DeliveryState::Sending) {
                    depth += n;
                }
                metrics::gauge!("herald_deliveries", "channel" => channel.as_str(), "state" => s.as_str())
                    .set(n as f64);
            }
            metrics::gauge!("herald_queue_depth", "channel" => channel.as_str()).set(depth as f64);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

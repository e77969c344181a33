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

/// How often a scrape may re-count the deliveries table.
const COUNTS_FRESH: std::time::Duration = std::time::Duration::from_secs(5);

async fn metrics(axum::extract::State(state): State) -> impl IntoResponse {
    // Delivery states are read from the database, so they count the work of
    // every worker process, not just this one; but at most every few seconds,
    // whoever scrapes how often: the count is a scan of the deliveries table.
    // One scrape at a time re-counts; the others serve the last count.
    for (part, bytes) in [
        ("page_cache", state.pages.usage().1),
        ("ivr_cache", state.ivr_answers.usage().1),
        ("sentences", state.sentences.usage().1),
        ("feed_cache", state.feed_cache.usage().1),
        ("place_lists", state.places.bytes()),
    ] {
        metrics::gauge!("herald_memory_bytes", "part" => part).set(bytes as f64);
    }
    if let Ok(mut counted) = state.delivery_counts.try_lock() {
        if counted.is_none_or(|at| at.elapsed() >= COUNTS_FRESH) {
            refresh_delivery_gauges(&state).await;
            refresh_call_gauges(&state).await;
            *counted = Some(std::time::Instant::now());
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

async fn refresh_delivery_gauges(state: &AppState) {
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
}

/// Per open outage, who called before being told (see [`crate::calls`]): its
/// callers, those sent a message before their first call, the share, and the
/// median lead time from message to call.
async fn refresh_call_gauges(state: &AppState) {
    let Ok(open) = state.store.open_outages().await else {
        return;
    };
    // Every call this node noted counts, written once for all the outages.
    if state
        .calls
        .flush(&state.store, &state.server_key)
        .await
        .is_err()
    {
        return;
    }
    for o in open {
        let Ok(callers) = state.store.outage_callers(o.id).await else {
            continue;
        };
        let s = crate::calls::CallStats::of(&callers);
        let reference = o.reference.to_string();
        metrics::gauge!("herald_outage_callers", "reference" => reference.clone())
            .set(s.callers as f64);
        metrics::gauge!("herald_outage_callers_told_first", "reference" => reference.clone())
            .set(s.told_first as f64);
        if let Some(share) = s.share_told {
            metrics::gauge!("herald_outage_callers_told_share", "reference" => reference.clone())
                .set(share);
        }
        if let Some(lead) = s.median_lead_seconds {
            metrics::gauge!("herald_outage_call_lead_seconds", "reference" => reference, "quantile" => "0.5")
                .set(lead as f64);
        }
    }
}

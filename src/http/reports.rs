//! Residents' reports: "no supply at my address", from the status page's
//! search results (`POST /report`, form fields `address` and `utility`).
//! Public, so held to limits per client (its address, IPv6 per /64) and over
//! all; a second report of the same address and utility within the hour is
//! answered the same and not stored. The answer says whether a known outage
//! covers the address. The console's map shows the reports of the last day
//! (`GET /console/map/reports`), those outside every open outage of their
//! utility marked: the outage is probably bigger than drawn.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::client::ClientAddr;
use super::console::Console;
use super::params::{self, FormParams};
use super::public::{page, MessagePage, Words};
use super::{AppState, State};
use crate::domain::{AddressForm, Language, Utility};
use crate::error::{Error, Result};
use crate::i18n;
use crate::inbound;
use crate::store::{NewReport, ReportLimits, Reported};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/report", post(report))
        .route("/console/map/reports", get(recent))
}

/// What the report form posts.
#[derive(Debug, Deserialize)]
pub struct ReportForm {
    #[serde(default, deserialize_with = "params::parsed")]
    pub address: Option<i64>,
    #[serde(default, deserialize_with = "params::parsed")]
    pub utility: Option<Utility>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub lang: Option<Language>,
}

/// What signs a client's address for the report limits.
const CLIENT: &str = "report client";

async fn report(
    axum::extract::State(state): State,
    client: ClientAddr,
    FormParams(form): FormParams<ReportForm>,
) -> Result<Response> {
    let address_id = form
        .address
        .ok_or_else(|| Error::invalid("address", "required: choose your address"))?;
    let utility = form
        .utility
        .ok_or_else(|| Error::invalid("utility", "required: which service is out"))?;
    let address = state
        .store
        .address(address_id)
        .await?
        .ok_or_else(|| Error::invalid("address", "no such address"))?;
    let lang = form.lang.unwrap_or(state.config.default_language);
    let w = Words::new(lang);
    let now = state.clock.now();
    let view = state.view().await?;
    let covering = view
        .open
        .covering(&[address_id])
        .into_iter()
        .map(|(open, _)| &open.outage)
        .find(|o| o.utility == utility);
    // Supply still out after a restore here (within the day) is news the
    // dispatcher needs: the restore did not hold, or did not reach everyone.
    let still_out = match covering {
        Some(_) => None,
        None => state
            .store
            .restored_at(&[address_id], now - inbound::RESTORE_VERIFICATION)
            .await?
            .into_iter()
            .find(|r| r.utility == utility),
    };
    let reported = state
        .store
        .report(
            &NewReport {
                address_id,
                utility,
                outage_id: covering.map(|o| o.id),
                still_out_of: still_out.as_ref().map(|r| r.outage_id),
                via: "web",
                client_key: &state.server_key.sign(CLIENT, &client.limit_key()),
                at: now,
            },
            &ReportLimits::from(&state.config.reports),
        )
        .await?;
    let place = i18n::address(lang, &address.address, AddressForm::Postal);
    let (status, text, retry) = match reported {
        Reported::Limited { retry_at } => {
            let seconds = (retry_at - now).num_seconds().max(1);
            let minutes = ((seconds + 59) / 60).to_string();
            (
                StatusCode::TOO_MANY_REQUESTS,
                w.ta("page-report-slow-down", "minutes", &minutes),
                Some(seconds),
            )
        }
        Reported::Stored(_) | Reported::Known => {
            let text = match covering {
                Some(o) => i18n::t_args(
                    lang,
                    "page-report-known",
                    &i18n::args([("place", place), ("reference", o.reference.to_string())]),
                ),
                None => match still_out {
                    Some(r) => i18n::t_args(
                        lang,
                        "page-report-still-out",
                        &i18n::args([("place", place), ("reference", r.reference.to_string())]),
                    ),
                    None => w.ta("page-report-new", "place", &place),
                },
            };
            (StatusCode::OK, text, None)
        }
    };
    let mut response = page(
        status,
        MessagePage {
            title: w.t("page-report-title"),
            text,
            form_action: None,
            button: String::new(),
            w,
        },
    )?;
    if let Some(seconds) = retry {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    Ok(response)
}

/// The last day's reports as GeoJSON points, for the console's map; each says
/// whether an open outage of its utility covers it now.
async fn recent(axum::extract::State(state): State, _console: Console) -> Result<Response> {
    let since = state.clock.now() - chrono::Duration::hours(24);
    let reports = state.store.reports_since(since, 5_000).await?;
    let view = state.view().await?;
    let features: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let covered = view
                .open
                .covering(&[r.address_id])
                .iter()
                .any(|(open, _)| open.outage.utility == r.utility);
            json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {
                    "utility": r.utility,
                    "reported_at": r.reported_at,
                    "covered": covered,
                },
            })
        })
        .collect();
    let mut r = Json(json!({"type": "FeatureCollection", "features": features})).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

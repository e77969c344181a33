//! Public pages residents reach from their messages: the outage page (`/o/{ref}`)
//! and unsubscribing (`/unsubscribe/{token}`, including RFC 8058 one-click POST).
//! Server-rendered with askama; no JavaScript needed.

use std::sync::Arc;

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::State;
use crate::app::AppState;
use crate::domain::{Etr, Language, Reference};
use crate::error::{Error, Result};
use crate::i18n;
use crate::store::ContactSummary;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/o/{reference}", get(outage_page))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
}

/// The page language: `?lang=` wins, then `Accept-Language`, then English.
fn language(headers: &HeaderMap, query: Option<&str>) -> Language {
    query
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")))
        .and_then(|l| l.parse().ok())
        .or_else(|| {
            headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::domain::contact::negotiate)
        })
        .unwrap_or(Language::En)
}

/// Catalogue access for page templates.
pub struct Words {
    pub lang: Language,
}

impl Words {
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }
    pub fn ta(&self, key: &str, name: &'static str, value: &str) -> String {
        i18n::t_args(self.lang, key, &i18n::args([(name, value.to_string())]))
    }
}

struct HistoryRow {
    time: String,
    status: String,
    etr: String,
    cause: String,
}

#[derive(Template)]
#[template(path = "pages/outage.html")]
struct OutagePage {
    w: Words,
    title: String,
    status: String,
    reference: String,
    place_count: String,
    cause: String,
    etr: String,
    starts: Option<String>,
    message: Option<String>,
    updated: String,
    history: Vec<HistoryRow>,
}

#[derive(Template)]
#[template(path = "pages/message.html")]
struct MessagePage {
    w: Words,
    title: String,
    text: String,
    form_action: Option<String>,
    button: String,
}

fn html(status: StatusCode, page: impl Template) -> Result<Response> {
    let body = page
        .render()
        .map_err(|e| Error::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok((status, Html(body)).into_response())
}

fn not_found(lang: Language) -> Result<Response> {
    let w = Words { lang };
    html(
        StatusCode::NOT_FOUND,
        MessagePage {
            title: w.t("page-not-found"),
            text: String::new(),
            form_action: None,
            button: String::new(),
            w,
        },
    )
}

async fn outage_page(
    axum::extract::State(state): State,
    Path(reference): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response> {
    let lang = language(&headers, uri.query());
    let Ok(reference) = Reference::parse(&reference) else {
        return not_found(lang);
    };
    let Some(o) = state.store.outage_by_reference(&reference).await? else {
        return not_found(lang);
    };
    let tz = state.tz;
    let now = state.clock.now();
    let etr_text = |etr: Option<chrono::DateTime<chrono::Utc>>| match etr {
        Some(t) => i18n::when(lang, tz, t, now),
        None => i18n::t(lang, "etr-unknown"),
    };
    let revisions = state.store.revisions(o.id).await?;
    let w = Words { lang };
    let history = revisions
        .iter()
        .rev()
        .map(|r| HistoryRow {
            time: i18n::date_time(lang, tz, r.created_at),
            status: w.t(&format!("page-status-{}", r.status)),
            etr: etr_text(r.etr),
            cause: r.cause.clone(),
        })
        .collect();
    let page = OutagePage {
        title: w.ta("outage-title", "utility", o.utility.as_str()),
        status: w.t(&format!("page-status-{}", o.status)),
        reference: o.reference.to_string(),
        place_count: w.ta(
            "page-affected-addresses",
            "count",
            &o.affected_addresses.to_string(),
        ),
        cause: o.cause.clone(),
        etr: etr_text(match o.etr {
            Etr::At(t) => Some(t),
            Etr::Unknown => None,
        }),
        starts: o.starts_at.map(|t| i18n::when(lang, tz, t, now)),
        message: o.messages.get(&lang).cloned(),
        updated: w.ta(
            "page-last-update",
            "time",
            &i18n::date_time(lang, tz, o.updated_at),
        ),
        history,
        w,
    };
    html(StatusCode::OK, page)
}

/// "You will not receive alerts at … any more."
fn unsubscribed(contact: &ContactSummary) -> MessagePage {
    let w = Words {
        lang: contact.language,
    };
    MessagePage {
        title: w.t("page-unsubscribe-title"),
        text: w.ta("page-unsubscribed", "destination", &contact.destination),
        form_action: None,
        button: String::new(),
        w,
    }
}

async fn unsubscribe_page(
    axum::extract::State(state): State,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let Some(contact) = state.store.contact_by_token(&token).await? else {
        return not_found(language(&headers, None));
    };
    if contact.opted_out {
        return html(StatusCode::OK, unsubscribed(&contact));
    }
    let w = Words {
        lang: contact.language,
    };
    let question = i18n::t_args(
        contact.language,
        "page-unsubscribe-question",
        &i18n::args([
            ("address", contact.address.clone()),
            ("destination", contact.destination.clone()),
        ]),
    );
    let page = MessagePage {
        title: w.t("page-unsubscribe-title"),
        text: question,
        form_action: Some(format!("/unsubscribe/{token}")),
        button: w.t("page-unsubscribe-button"),
        w,
    };
    html(StatusCode::OK, page)
}

/// Opts the contact out. Serves both the page's button and RFC 8058 one-click
/// POSTs from mail clients (body `List-Unsubscribe=One-Click`).
async fn unsubscribe(
    axum::extract::State(state): State,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let Some(contact) = state.store.contact_by_token(&token).await? else {
        return not_found(language(&headers, None));
    };
    state.store.opt_out(&token, state.clock.now()).await?;
    tracing::info!(contact_id = contact.id, "contact opted out");
    html(StatusCode::OK, unsubscribed(&contact))
}

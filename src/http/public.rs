//! The public status site: current outages and planned work (`/`), one outage with
//! its map and history (`/o/{ref}`), "Am I affected?" (`/search`), planned work by
//! date (`/planned`), and unsubscribing (`/unsubscribe/{token}`, including RFC 8058
//! one-click POSTs).
//!
//! Server-rendered with askama, usable without JavaScript. Every word comes from
//! the catalogues; the language is `?lang=` (remembered in a cookie), else the
//! cookie, else `Accept-Language`, else the configured default. Pages are cached
//! per published version and carry an ETag, so storms of visitors cost one render
//! per change and a tiny script can poll cheaply for updates.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::client::ClientAddr;
use super::conditional::{self, Condition};
use super::params::{self, Params};
use super::AppState;
use super::State;
use crate::auth::sha256_hex;
use crate::domain::consent::{Method, Via};
use crate::domain::{AddressForm, Etr, Language, Outage, OutageStatus, Reference, Utility};
use crate::error::{Error, Result};
use crate::i18n;
use crate::store::ContactSummary;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(home))
        .route("/planned", get(planned))
        .route("/search", get(search))
        .route("/o/{reference}", get(outage_page))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
}

/// The chosen language (public pages and the console).
const LANGUAGE_COOKIE: &str = "herald_lang";

/// `?lang=` on every page: hu, pl or en (also `hu-HU`…). A value that is not one
/// is ignored, never refused: a visitor with a mangled link still gets the page,
/// in the language the cookie or the browser asks for.
#[derive(Debug, Default, Deserialize)]
pub struct LangChoice {
    #[serde(default, deserialize_with = "params::lenient")]
    pub lang: Option<Language>,
}

/// The visitor's language, and whether to remember a new choice (`chosen`, from
/// `?lang=`).
pub(super) fn page_language(
    state: &AppState,
    headers: &HeaderMap,
    chosen: Option<Language>,
) -> (Language, bool) {
    if let Some(l) = chosen {
        return (l, true);
    }
    let cookie = super::credentials::cookie(headers, LANGUAGE_COOKIE).and_then(|l| l.parse().ok());
    let lang = cookie
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::domain::contact::negotiate)
        })
        .unwrap_or(state.config.default_language);
    (lang, false)
}

/// Catalogue access and page chrome for templates.
pub struct Words {
    pub lang: Language,
    /// The page's ETag, for the refresh script; None for pages that do not refresh.
    pub etag: Option<String>,
    /// Path and query of this page without `lang`, for the language switcher.
    pub(super) here: String,
}

pub struct LangLink {
    pub code: &'static str,
    pub name: String,
    pub href: String,
    pub current: bool,
}

impl Words {
    pub(super) fn new(lang: Language) -> Words {
        Words {
            lang,
            etag: None,
            here: "/".into(),
        }
    }
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }
    /// A message of the page's language as the templates write it (no copy).
    pub fn text(&self, key: &str) -> std::borrow::Cow<'static, str> {
        i18n::text(self.lang, key)
    }
    pub fn ta(&self, key: &str, name: &'static str, value: &str) -> String {
        i18n::t_args(self.lang, key, &i18n::args([(name, value.to_string())]))
    }
    pub fn switcher(&self) -> Vec<LangLink> {
        let sep = if self.here.contains('?') { '&' } else { '?' };
        Language::ALL
            .iter()
            .map(|l| LangLink {
                code: l.as_str(),
                name: i18n::t(*l, "language-name"),
                href: format!("{}{sep}lang={}", self.here, l.as_str()),
                current: *l == self.lang,
            })
            .collect()
    }
}

/// One outage as a card on the home, planned and search pages.
pub struct Card {
    pub group: usize,
    pub reference: String,
    pub title: String,
    pub status: String,
    pub status_class: &'static str,
    pub cause: String,
    pub starts: Option<String>,
    pub etr: String,
    pub addresses: i64,
    pub updated: String,
}

fn status_class(s: OutageStatus) -> &'static str {
    s.as_str()
}

fn etr_text(w: &Words, state: &AppState, o: &Outage, now: DateTime<Utc>) -> String {
    match o.etr {
        Etr::At(t) => {
            let when = i18n::when(w.lang, state.tz, t, now);
            if t < now && o.status == OutageStatus::Active {
                format!("{when} — {}", w.t("ivr-etr-overdue"))
            } else {
                when
            }
        }
        Etr::Unknown => w.t("etr-unknown"),
    }
}

fn title(w: &Words, o: &Outage) -> String {
    let key = if o.status == OutageStatus::Scheduled {
        "planned-title"
    } else {
        "outage-title"
    };
    w.ta(key, "utility", o.utility.as_str())
}

fn card(w: &Words, state: &AppState, o: &Outage, group: usize, now: DateTime<Utc>) -> Card {
    Card {
        group,
        reference: o.reference.to_string(),
        title: title(w, o),
        status: w.t(&format!("page-status-{}", o.status)),
        status_class: status_class(o.status),
        cause: o.cause.clone(),
        starts: o
            .starts_at
            .filter(|_| o.status == OutageStatus::Scheduled)
            .map(|t| i18n::when(w.lang, state.tz, t, now)),
        etr: etr_text(w, state, o, now),
        addresses: o.affected_addresses,
        updated: i18n::date_time(w.lang, state.tz, o.updated_at),
    }
}

/// Renders a page into this thread's buffer and hands out an exact copy.
///
/// Rendering into a fresh `String` grew it by doubling (a search page of
/// 17 KB: four reallocations, each copying, the last on pages just mapped), and
/// the body kept that capacity: a page cache of 64 MiB of bodies held up to
/// twice that. The buffer keeps its capacity from page to page, so a render
/// allocates once, for a body of its exact size, which is what a cache weighs.
pub(super) fn render(page: impl Template) -> Result<Bytes> {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    /// Beyond this, a buffer is let go after the page (one huge page should
    /// not pin its memory on every runtime thread).
    const KEEP: usize = 256 << 10;
    let rendered = BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            let rendered = page.render_into(&mut *buffer);
            let body = Bytes::copy_from_slice(buffer.as_bytes());
            if buffer.capacity() > KEEP {
                *buffer = String::new();
            }
            rendered.map(|()| body)
        }
        // A page rendered while rendering another: a buffer of its own.
        Err(_) => page.render().map(Bytes::from),
    });
    rendered.map_err(|e| Error::Internal(anyhow::anyhow!("template: {e}")))
}

pub(super) fn html_response(status: StatusCode, body: Bytes) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Serves a cacheable page: 304 when the visitor has it, the cached body when
/// another visitor caused it to be rendered for this version, else renders it.
///
/// `here` is the page's path and the parameters that select its content (for
/// the search page `q`), without `lang`; it keys the cache and the ETag and is
/// where the language switcher points. Parameters the page does not read are not
/// part of it: `/?utm_source=x` is the page `/`, one render and one ETag.
///
/// Only a page that exists (200) carries an ETag, so a visitor who sends this
/// version's tag for this key has seen it exist, and gets the 304 without a
/// render, cached or not. `If-None-Match: *` has no such proof: it is a 304 only
/// once the page is known to exist (RFC 9110 §13.2.1: a 404 ignores preconditions).
async fn cached_page<F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    chosen: Option<Language>,
    here: String,
    render_page: F,
) -> Result<Response>
where
    F: FnOnce(Words) -> Fut,
    Fut: std::future::Future<Output = Result<(StatusCode, Bytes)>>,
{
    let (lang, remember) = page_language(state, headers, chosen);
    let view = state.view().await?;
    let key = format!("{}|{here}", lang.as_str());
    let etag = format!("\"p{}-{}\"", view.tag, &sha256_hex(key.as_bytes())[..12]);
    let condition = conditional::if_none_match(headers, &etag);
    let mut response = if condition == Condition::Tag {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let (status, body) = match state.pages.get(&view.tag, &key) {
            Some(body) => (StatusCode::OK, body),
            None => {
                let words = Words {
                    lang,
                    etag: Some(etag.clone()),
                    here,
                };
                let (status, body) = render_page(words).await?;
                if status == StatusCode::OK {
                    state.pages.put(&view.tag, key, body.clone());
                }
                (status, body)
            }
        };
        if status == StatusCode::OK && condition == Condition::Any {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            html_response(status, body)
        }
    };
    let exists = matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED);
    let h = response.headers_mut();
    if exists {
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=10"),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.as_str()),
    );
    if remember {
        h.insert(header::SET_COOKIE, language_cookie(lang));
    }
    Ok(response)
}

/// The cookie that keeps a chosen language for a year (public pages and the
/// console).
pub(super) fn language_cookie(lang: Language) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{LANGUAGE_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.as_str()
    ))
    .expect("a language code is a cookie value")
}

pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub struct Group {
    pub settlement: String,
    pub utility: String,
    pub cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage {
    w: Words,
    query: String,
    active: Vec<Group>,
    planned: Vec<Group>,
}

/// Groups open outages by (settlement, utility); an outage spanning two
/// settlements appears under both.
async fn groups(
    state: &AppState,
    w: &Words,
    outages: &[Outage],
    now: DateTime<Utc>,
) -> Result<Vec<Group>> {
    let mut by: BTreeMap<(String, String), Vec<&Outage>> = BTreeMap::new();
    for o in outages {
        let places = state.outage_places(o.id).await?;
        let mut settlements: Vec<String> = places.iter().map(|p| p.0.clone()).collect();
        settlements.dedup();
        if settlements.is_empty() {
            settlements.push("—".into());
        }
        for s in settlements {
            by.entry((s, w.ta("outage-title", "utility", o.utility.as_str())))
                .or_default()
                .push(o);
        }
    }
    Ok(by
        .into_iter()
        .enumerate()
        .map(|(g, ((settlement, utility), list))| Group {
            settlement,
            utility,
            cards: list
                .into_iter()
                .map(|o| card(w, state, o, g, now))
                .collect(),
        })
        .collect())
}

async fn home(
    axum::extract::State(state): State,
    Params(choice): Params<LangChoice>,
    headers: HeaderMap,
) -> Result<Response> {
    let st = Arc::clone(&state);
    cached_page(&state, &headers, choice.lang, "/".into(), |w| async move {
        let now = st.clock.now();
        let open = st.store.open_outages().await?;
        let (planned, active): (Vec<Outage>, Vec<Outage>) = open
            .into_iter()
            .partition(|o| o.status == OutageStatus::Scheduled);
        let active = groups(&st, &w, &active, now).await?;
        let planned = groups(&st, &w, &planned, now).await?;
        Ok((
            StatusCode::OK,
            render(HomePage {
                w,
                query: String::new(),
                active,
                planned,
            })?,
        ))
    })
    .await
}

pub struct Day {
    pub date: String,
    pub cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "pages/planned.html")]
struct PlannedPage {
    w: Words,
    days: Vec<Day>,
}

async fn planned(
    axum::extract::State(state): State,
    Params(choice): Params<LangChoice>,
    headers: HeaderMap,
) -> Result<Response> {
    let st = Arc::clone(&state);
    cached_page(
        &state,
        &headers,
        choice.lang,
        "/planned".into(),
        |w| async move {
            let now = st.clock.now();
            let mut scheduled: Vec<Outage> = st
                .store
                .open_outages()
                .await?
                .into_iter()
                .filter(|o| o.status == OutageStatus::Scheduled)
                .collect();
            scheduled.sort_by_key(|o| o.starts_at);
            let mut days: Vec<Day> = Vec::new();
            for (i, o) in scheduled.iter().enumerate() {
                let date = o
                    .starts_at
                    .map(|t| i18n::date(w.lang, st.tz, t))
                    .unwrap_or_default();
                let c = card(&w, &st, o, i, now);
                match days.last_mut() {
                    Some(d) if d.date == date => d.cards.push(c),
                    _ => days.push(Day {
                        date,
                        cards: vec![c],
                    }),
                }
            }
            Ok((StatusCode::OK, render(PlannedPage { w, days })?))
        },
    )
    .await
}

#[derive(Clone)]
pub struct ResultLine {
    pub reference: String,
    pub title: String,
    pub status: String,
    pub status_class: &'static str,
    pub etr: String,
}

pub struct SearchResult {
    pub id: i64,
    pub address: String,
    pub outages: Vec<ResultLine>,
}

#[derive(Template)]
#[template(path = "pages/search.html")]
struct SearchPage {
    w: Words,
    query: String,
    results: Vec<SearchResult>,
    /// The services a report of "no supply" may name.
    utilities: Vec<(&'static str, &'static str)>,
}

/// `GET /search?q=` (and `lang=`, see [`LangChoice`]): free text, an address or a
/// reference.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    pub q: Option<String>,
}

impl SearchQuery {
    /// What is searched for: trimmed, at most 200 characters.
    pub fn text(&self) -> String {
        self.q
            .as_deref()
            .map(|s| s.trim().chars().take(200).collect())
            .unwrap_or_default()
    }
}

async fn search(
    axum::extract::State(state): State,
    Params(q): Params<SearchQuery>,
    Params(choice): Params<LangChoice>,
    headers: HeaderMap,
) -> Result<Response> {
    let text = q.text();
    let view = state.view().await?;
    // A reference goes straight to its outage.
    if crate::domain::reference::looks_like_reference(&text) {
        if let Ok(r) = Reference::parse(&text) {
            let exists = view.open.by_reference(&r).is_some()
                || state.store.outage_by_reference(&r).await?.is_some();
            if exists {
                return Ok(Redirect::to(&format!("/o/{r}")).into_response());
            }
        }
    }
    // The page is the query as typed (so the switcher keeps it exactly).
    let here = match &q.q {
        Some(raw) => format!("/search?q={}", urlencode(raw)),
        None => "/search".into(),
    };
    let st = Arc::clone(&state);
    cached_page(&state, &headers, choice.lang, here, |w| async move {
        let now = st.clock.now();
        let mut results = Vec::new();
        if !text.is_empty() {
            // "Am I affected?" from memory: the search index and the view's
            // open outages.
            let found = st
                .register
                .search(view.addresses_version)
                .await?
                .search(&text, 10);
            // Results near each other share their outages: each outage's
            // line is written once per page.
            let mut written: Vec<(i64, ResultLine)> = Vec::new();
            for f in found {
                let mut lines = Vec::new();
                for (open, _) in view.open.covering(&[f.id]) {
                    let o = &open.outage;
                    let line = match written.iter().find(|(id, _)| *id == o.id) {
                        Some((_, line)) => line.clone(),
                        None => {
                            let line = ResultLine {
                                reference: o.reference.to_string(),
                                title: title(&w, o),
                                status: w.t(&format!("page-status-{}", o.status)),
                                status_class: status_class(o.status),
                                etr: etr_text(&w, &st, o, now),
                            };
                            written.push((o.id, line.clone()));
                            line
                        }
                    };
                    lines.push(line);
                }
                results.push(SearchResult {
                    id: f.id,
                    address: i18n::address(w.lang, &f.address, AddressForm::Postal),
                    outages: lines,
                });
            }
        }
        Ok((
            StatusCode::OK,
            render(SearchPage {
                utilities: Utility::ALL
                    .iter()
                    .map(|u| (u.as_str(), i18n::utility_name(w.lang, *u)))
                    .collect(),
                w,
                query: text,
                results,
            })?,
        ))
    })
    .await
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
    status_class: &'static str,
    reference: String,
    places: String,
    addresses: i64,
    cause: String,
    etr: String,
    starts: Option<String>,
    message: Option<String>,
    updated: String,
    map: String,
    map_caption: String,
    history: Vec<HistoryRow>,
}

#[derive(Template)]
#[template(path = "pages/message.html")]
pub(super) struct MessagePage {
    pub(super) w: Words,
    pub(super) title: String,
    pub(super) text: String,
    pub(super) form_action: Option<String>,
    pub(super) button: String,
}

/// The 404 page in the visitor's language.
pub(super) fn not_found_page(state: &AppState, headers: &HeaderMap) -> Result<Response> {
    let (status, body) = not_found(page_language(state, headers, None).0)?;
    Ok(html_response(status, body))
}

pub(super) fn not_found(lang: Language) -> Result<(StatusCode, Bytes)> {
    let w = Words::new(lang);
    Ok((
        StatusCode::NOT_FOUND,
        render(MessagePage {
            title: w.t("page-not-found"),
            text: String::new(),
            form_action: None,
            button: String::new(),
            w,
        })?,
    ))
}

async fn outage_page(
    axum::extract::State(state): State,
    Path(reference): Path<String>,
    Params(choice): Params<LangChoice>,
    headers: HeaderMap,
) -> Result<Response> {
    let st = Arc::clone(&state);
    let path = format!("/o/{reference}");
    cached_page(&state, &headers, choice.lang, path, |w| async move {
        let Ok(reference) = Reference::parse(&reference) else {
            return not_found(w.lang);
        };
        let Some(o) = st.store.outage_by_reference(&reference).await? else {
            return not_found(w.lang);
        };
        let (lang, tz, now) = (w.lang, st.tz, st.clock.now());
        let places = st.outage_places(o.id).await?;
        let mut settlements: Vec<&str> = places.iter().map(|p| p.0.as_str()).collect();
        settlements.dedup();
        let place_text = streets_by_settlement(&places);
        let points = st.store.outage_points(o.id, 5_000).await?;
        let (map, scale) = super::map::outage_map(&w, &o.area, &points)?;
        let history = st
            .store
            .revisions(o.id)
            .await?
            .iter()
            .rev()
            .map(|r| HistoryRow {
                time: i18n::date_time(lang, tz, r.created_at),
                status: w.t(&format!("page-status-{}", r.status)),
                etr: match r.etr {
                    Some(t) => i18n::when(lang, tz, t, now),
                    None => w.t("etr-unknown"),
                },
                cause: r.cause.clone(),
            })
            .collect();
        let page = OutagePage {
            title: title(&w, &o),
            status: w.t(&format!("page-status-{}", o.status)),
            status_class: status_class(o.status),
            reference: o.reference.to_string(),
            map_caption: i18n::t_args(
                lang,
                "page-map-caption",
                &i18n::args([("places", settlements.join(", ")), ("scale", scale)]),
            ),
            places: place_text,
            addresses: o.affected_addresses,
            cause: o.cause.clone(),
            etr: etr_text(&w, &st, &o, now),
            starts: o.starts_at.map(|t| i18n::when(lang, tz, t, now)),
            message: o.messages.get(&lang).cloned(),
            updated: w.ta(
                "page-last-update",
                "time",
                &i18n::date_time(lang, tz, o.updated_at),
            ),
            map,
            history,
            w,
        };
        Ok((StatusCode::OK, render(page)?))
    })
    .await
}

/// Where an outage is, from its distinct (settlement, postcode, street) places
/// sorted by settlement: "Budapest: Bartók Béla út, Kossuth Lajos utca; Wola".
/// A settlement without streets is named alone, never followed by an empty list.
fn streets_by_settlement(places: &[(String, String, String)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for chunk in places.chunk_by(|a, b| a.0 == b.0) {
        let mut streets: Vec<&str> = chunk
            .iter()
            .map(|p| p.2.as_str())
            .filter(|s| !s.is_empty())
            .collect();
        streets.sort_unstable();
        streets.dedup();
        let settlement = &chunk[0].0;
        parts.push(if streets.is_empty() {
            settlement.clone()
        } else {
            format!("{settlement}: {}", streets.join(", "))
        });
    }
    parts.join("; ")
}

/// "You will not receive alerts at … any more."
fn unsubscribed(contact: &ContactSummary) -> MessagePage {
    let w = Words::new(contact.language);
    MessagePage {
        title: w.t("page-unsubscribe-title"),
        text: w.ta("page-unsubscribed", "destination", &contact.destination),
        form_action: None,
        button: String::new(),
        w,
    }
}

pub(super) fn page(status: StatusCode, page: impl Template) -> Result<Response> {
    Ok(html_response(status, render(page)?))
}

async fn unsubscribe_page(
    axum::extract::State(state): State,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let Some(contact) = state.store.contact_by_token(&token).await? else {
        return not_found_page(&state, &headers);
    };
    if contact.opted_out {
        return page(StatusCode::OK, unsubscribed(&contact));
    }
    let w = Words::new(contact.language);
    let question = i18n::t_args(
        contact.language,
        "page-unsubscribe-question",
        &i18n::args([
            (
                "address",
                i18n::address(contact.language, &contact.address, AddressForm::Full),
            ),
            ("destination", contact.destination.clone()),
        ]),
    );
    page(
        StatusCode::OK,
        MessagePage {
            title: w.t("page-unsubscribe-title"),
            text: question,
            form_action: Some(format!("/unsubscribe/{token}")),
            button: w.t("page-unsubscribe-button"),
            w,
        },
    )
}

const ONE_CLICK: &[u8] = b"List-Unsubscribe=One-Click";

/// Opts the contact out. Serves both the page's button and RFC 8058 one-click
/// POSTs from mail clients (body `List-Unsubscribe=One-Click`).
async fn unsubscribe(
    axum::extract::State(state): State,
    Path(token): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response> {
    let Some(contact) = state.store.contact_by_token(&token).await? else {
        return not_found_page(&state, &headers);
    };
    // RFC 8058: the mail client's one-click POST says so in its body.
    let one_click = body
        .windows(ONE_CLICK.len())
        .any(|w| w.eq_ignore_ascii_case(ONE_CLICK));
    let (method, detail) = if one_click {
        (Method::OneClick, "List-Unsubscribe-Post")
    } else {
        (Method::UnsubscribeLink, "unsubscribe page")
    };
    let via = Via::new(method, detail, Some(client.0.to_string()));
    state.store.opt_out(&token, &via, state.clock.now()).await?;
    tracing::info!(contact_id = contact.id, "contact opted out");
    page(StatusCode::OK, unsubscribed(&contact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_name_settlements_without_streets_alone() {
        let place = |s: &str, p: &str, st: &str| (s.to_string(), p.to_string(), st.to_string());
        let places = [
            place("Budapest", "1114", "Bartók Béla út"),
            place("Budapest", "1119", "Kossuth Lajos utca"),
            place("Budapest", "1114", "Bartók Béla út"),
            place("Kisfalu", "", ""),
            place("Kisfalu", "", "Petőfi Sándor utca"),
            place("Wola Zaradzyńska", "", ""),
        ];
        assert_eq!(
            streets_by_settlement(&places),
            "Budapest: Bartók Béla út, Kossuth Lajos utca; Kisfalu: Petőfi Sándor utca; \
             Wola Zaradzyńska"
        );
        assert_eq!(streets_by_settlement(&[]), "");
    }
}

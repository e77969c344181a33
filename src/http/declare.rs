//! Declaring an outage from the console: the map page, its live preview, the
//! review of what will be sent, and the undo window.
//!
//! `GET /console/new` draws the area on a map (`static/console-map.js`, with
//! the vendored Leaflet and Geoman) or takes it as GeoJSON text or a file;
//! `POST /console/new/preview` answers the map's debounced question "what does
//! this area reach" (addresses, contacts per channel, settlements and streets)
//! with the same lookup the API's preview uses; `POST /console/new/review`
//! shows the messages each language will read, rendered by the code that sends
//! them, and how many people get them; `POST /console/new/apply` declares the
//! outage with its fan-out held for `console.undo_seconds`, during which
//! `POST /console/o/{ref}/undo` calls it off before anyone is told.
//!
//! An open outage's area is redrawn on the same map (`GET /console/o/{ref}/area`)
//! or extended over the residents' reports just outside it (`POST
//! /console/o/{ref}/extend`); both are reviewed as an area change on the
//! outage page's review.
//!
//! The map's layers come from memory: `GET /console/map/points` (address
//! points, or counts per cell when too many are in view), `…/labels`
//! (settlements) and `…/outages` (open outages' areas as GeoJSON); the
//! reports' layer is `http::reports`'.

use std::sync::Arc;

use askama::Template;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::console::{console_words, private, Choice, Chrome, Console, CsrfForm};
use super::credentials::check_csrf;
use super::params::{self, FormParams, Params};
use super::public::Words;
use super::{AppState, State};
use crate::auth::Access;
use crate::channels::preview::{samples, Sample};
use crate::domain::{
    DeliveryKind, Etr, Language, Outage, OutageKind, OutageStatus, Reference, Urgency, Utility,
};
use crate::error::{Error, Result};
use crate::geo::MapPoints;
use crate::i18n;
use crate::outages;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/new", get(new_page))
        .route("/console/new/preview", post(preview))
        .route("/console/new/review", post(review))
        .route("/console/new/apply", post(apply))
        .route("/console/o/{reference}/undo", post(undo))
        .route("/console/o/{reference}/area", get(area_page))
        .route("/console/o/{reference}/extend", post(extend))
        .route("/console/map/points", get(points))
        .route("/console/map/labels", get(labels))
        .route("/console/map/outages", get(open_areas))
        .layer(axum::middleware::from_fn(super::console::remember_language))
}

/// The declaration form's fields (the new page, review and apply all take
/// them). Times are `datetime-local` values in the utility's time zone.
#[derive(Debug, Default, Deserialize)]
pub struct DeclareForm {
    #[serde(default)]
    pub csrf: Option<String>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub utility: Option<Utility>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub kind: Option<OutageKind>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub starts_at_local: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    /// Empty: not yet assessed.
    #[serde(default, deserialize_with = "params::non_empty")]
    pub etr_local: Option<String>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub urgent: Option<String>,
    #[serde(flatten)]
    pub messages: MessageFields,
    /// GeoJSON, as text.
    #[serde(default)]
    pub area: Option<String>,
}

/// The extra message's form fields, one per language (`message_hu`,
/// `message_pl`, `message_en`; empty: none in that language), in the
/// declaration form and the outage page's message change.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MessageFields {
    #[serde(default)]
    pub message_hu: Option<String>,
    #[serde(default)]
    pub message_pl: Option<String>,
    #[serde(default)]
    pub message_en: Option<String>,
}

impl MessageFields {
    pub fn text(&self, lang: Language) -> &str {
        match lang {
            Language::Hu => self.message_hu.as_deref(),
            Language::Pl => self.message_pl.as_deref(),
            Language::En => self.message_en.as_deref(),
        }
        .unwrap_or("")
    }

    /// The field's name for `lang`.
    pub fn name(lang: Language) -> &'static str {
        match lang {
            Language::Hu => "message_hu",
            Language::Pl => "message_pl",
            Language::En => "message_en",
        }
    }

    /// The API's `message` object: every language, empty where there is none
    /// (the API reads an empty text as no message).
    pub fn value(&self) -> Value {
        Value::Object(
            Language::ALL
                .iter()
                .map(|l| (l.as_str().to_string(), json!(self.text(*l))))
                .collect(),
        )
    }

    /// (field, text) of each language, to carry through a review.
    pub fn carried(&self) -> Vec<(&'static str, String)> {
        Language::ALL
            .iter()
            .map(|l| (Self::name(*l), self.text(*l).to_string()))
            .collect()
    }

    /// The form's fields, labelled, for a page.
    pub fn fields(&self) -> Vec<MessageField> {
        Language::ALL
            .iter()
            .map(|l| MessageField {
                lang: l.as_str(),
                label: i18n::t(*l, "language-name"),
                text: self.text(*l).to_string(),
            })
            .collect()
    }
}

impl DeclareForm {
    /// The API's declaration body this form asks for; every field checked
    /// again by [`outages::parse_declaration`], with the API's messages.
    fn body(&self, state: &AppState) -> Result<Value> {
        let mut body = Map::new();
        if let Some(u) = self.utility {
            body.insert("utility".into(), json!(u));
        }
        let kind = self.kind.unwrap_or(OutageKind::Unplanned);
        body.insert("kind".into(), json!(kind));
        if kind == OutageKind::Planned {
            if let Some(s) = &self.starts_at_local {
                body.insert(
                    "starts_at".into(),
                    json!(local_time(state, s, "starts_at_local")?),
                );
            }
        }
        body.insert("cause".into(), json!(self.cause.as_deref().unwrap_or("")));
        let etr = match &self.etr_local {
            Some(t) => json!(local_time(state, t, "etr_local")?),
            None => Value::Null,
        };
        body.insert("etr".into(), etr);
        if self.urgent.is_some() {
            body.insert("urgency".into(), json!(Urgency::Urgent));
        }
        body.insert("message".into(), self.messages.value());
        body.insert("area".into(), area_value(self.area.as_deref())?);
        Ok(Value::Object(body))
    }
}

/// The area field's text as JSON (absent when blank: the declaration says
/// it is required).
pub(super) fn area_value(text: Option<&str>) -> Result<Value> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Value::Null),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            Error::invalid(
                "area",
                format!("not GeoJSON: {e} (draw it, upload a file, or paste it)"),
            )
        }),
    }
}

/// A `datetime-local` value in the utility's time zone.
pub(super) fn local_time(state: &AppState, local: &str, field: &str) -> Result<DateTime<Utc>> {
    let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
        .map_err(|_| Error::invalid(field, "expected YYYY-MM-DDTHH:MM"))?;
    naive
        .and_local_timezone(state.tz)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Error::invalid(field, "that time does not exist here (a clock change)"))
}

fn local_value(state: &AppState, t: DateTime<Utc>) -> String {
    t.with_timezone(&state.tz)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

pub struct MessageField {
    pub lang: &'static str,
    pub label: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "console/new.html")]
struct NewPage {
    w: Words,
    c: Chrome,
    error: Option<String>,
    utilities: Vec<Choice>,
    planned: bool,
    starts_at_local: String,
    cause: String,
    etr_local: String,
    urgent: bool,
    messages: Vec<MessageField>,
    area: String,
    /// The register's extent, `west,south,east,north`, for the map's first view.
    view: String,
    tile_url: String,
    tile_attribution: String,
    large_warning: String,
}

fn new_page_of(
    state: &AppState,
    console: &Console,
    w: Words,
    form: &DeclareForm,
    error: Option<String>,
    view: String,
) -> NewPage {
    let chosen = form.utility.unwrap_or(Utility::Power);
    let now = state.clock.now();
    NewPage {
        c: Chrome::of(console, &w),
        error,
        utilities: Utility::ALL
            .iter()
            .map(|u| Choice {
                value: u.as_str(),
                label: w.ta("utility-name", "utility", u.as_str()),
                selected: *u == chosen,
            })
            .collect(),
        planned: form.kind == Some(OutageKind::Planned),
        starts_at_local: form.starts_at_local.clone().unwrap_or_default(),
        cause: form.cause.clone().unwrap_or_default(),
        etr_local: form
            .etr_local
            .clone()
            .unwrap_or_else(|| local_value(state, now + chrono::Duration::hours(2))),
        urgent: form.urgent.is_some(),
        messages: form.messages.fields(),
        area: form.area.clone().unwrap_or_default(),
        view,
        tile_url: state.config.console.tile_url.clone(),
        tile_attribution: state.config.console.tile_attribution.clone(),
        large_warning: w.ta(
            "console-preview-large",
            "count",
            &state.config.console.large_area_addresses.to_string(),
        ),
        w,
    }
}

/// The register's extent as the map's first view.
pub(super) async fn register_view(state: &AppState) -> Result<String> {
    let index = state.register.address_index().await?;
    Ok(match index.extent() {
        Some(r) => format!("{},{},{},{}", r.min().x, r.min().y, r.max().x, r.max().y),
        None => String::new(),
    })
}

/// `GET /console/new`: the map and the form. Fields may be given in the query
/// (a form sent back for correction).
async fn new_page(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    Params(form): Params<DeclareForm>,
) -> Result<Response> {
    console.caller.require(Access::Dispatch)?;
    let w = console_words(&state, &headers, console.lang, "/console/new");
    let view = register_view(&state).await?;
    private(
        StatusCode::OK,
        new_page_of(&state, &console, w, &form, None, view),
    )
}

#[derive(Template)]
#[template(path = "console/area.html")]
struct AreaPage {
    w: Words,
    c: Chrome,
    o: super::console::OutageRow,
    utility: &'static str,
    /// The current area, as GeoJSON text: what the map starts from.
    area: String,
    view: String,
    tile_url: String,
    tile_attribution: String,
    large_warning: String,
}

/// `GET /console/o/{ref}/area`: the outage's area on the map, to redraw;
/// reviewed like every change (`…/review` with `change=area`).
async fn area_page(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Response> {
    console.caller.require(Access::Dispatch)?;
    let outage = outages::find(&state.outages(), &reference).await?;
    if !outage.status.is_open() {
        return Err(Error::Conflict(format!(
            "outage {} is {} and can no longer change",
            outage.reference, outage.status
        )));
    }
    let w = console_words(
        &state,
        &headers,
        console.lang,
        &format!("/console/o/{}/area", outage.reference),
    );
    let page = AreaPage {
        c: Chrome::of(&console, &w),
        o: super::console::outage_row(&state, &w, &outage, state.clock.now()),
        utility: outage.utility.as_str(),
        area: outage.area.to_string(),
        view: register_view(&state).await?,
        tile_url: state.config.console.tile_url.clone(),
        tile_attribution: state.config.console.tile_attribution.clone(),
        large_warning: w.ta(
            "console-preview-large",
            "count",
            &state.config.console.large_area_addresses.to_string(),
        ),
        w,
    };
    private(StatusCode::OK, page)
}

/// How far outside an outage's area a report still counts as "just outside"
/// (degrees of latitude, ~1 km), and the square each report adds when the
/// area is extended over it (half its side, ~30 m).
const NEARBY: f64 = 0.01;
const REPORT_SQUARE: f64 = 0.0003;

/// The last day's reports of the outage's service near its area (within
/// [`NEARBY`] of its bounding box) that no open outage of that service covers.
pub(super) async fn reports_outside(
    state: &AppState,
    outage: &Outage,
) -> Result<Vec<crate::store::ReportRow>> {
    use geo::BoundingRect;
    let Some(bbox) = crate::geo::read_stored_area(&outage.area)
        .ok()
        .and_then(|a| a.bounding_rect())
    else {
        return Ok(Vec::new());
    };
    let since = state.clock.now() - chrono::Duration::hours(24);
    let view = state.view().await?;
    let reports = state.store.reports_since(since, 5_000).await?;
    Ok(reports
        .into_iter()
        .filter(|r| r.utility == outage.utility)
        .filter(|r| {
            let kx = NEARBY / r.lat.to_radians().cos().max(0.1);
            r.lon >= bbox.min().x - kx
                && r.lon <= bbox.max().x + kx
                && r.lat >= bbox.min().y - NEARBY
                && r.lat <= bbox.max().y + NEARBY
        })
        .filter(|r| {
            !view
                .open
                .covering(&[r.address_id])
                .iter()
                .any(|(open, _)| open.outage.utility == r.utility)
        })
        .collect())
}

/// `POST /console/o/{ref}/extend`: the area grown over the reports just
/// outside it (a small square around each, joined to the area), shown as an
/// area change's review; nothing changes until that is confirmed.
async fn extend(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    Path(reference): Path<String>,
    FormParams(form): FormParams<CsrfForm>,
) -> Result<Response> {
    use geo::BooleanOps;
    check_csrf(&console.session, form.csrf.as_deref())?;
    console.caller.require(Access::Dispatch)?;
    let outage = outages::find(&state.outages(), &reference).await?;
    let reports = reports_outside(&state, &outage).await?;
    if reports.is_empty() {
        return Err(Error::Conflict(format!(
            "no report of no supply lies just outside outage {}",
            outage.reference
        )));
    }
    let mut area = crate::geo::read_stored_area(&outage.area)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored area: {e}")))?;
    for r in &reports {
        let dx = REPORT_SQUARE / r.lat.to_radians().cos().max(0.1);
        let square = geo::Rect::new(
            geo::coord! { x: r.lon - dx, y: r.lat - REPORT_SQUARE },
            geo::coord! { x: r.lon + dx, y: r.lat + REPORT_SQUARE },
        )
        .to_polygon();
        area = area.union(&geo::MultiPolygon(vec![square]));
    }
    let text = serde_json::to_string(&geojson::Geometry::from(&area))
        .map_err(|e| Error::Internal(e.into()))?;
    let change = super::console::ChangeForm {
        csrf: form.csrf,
        change: super::console::ChangeAction::Area,
        etr: None,
        etr_local: None,
        cause: None,
        messages: MessageFields::default(),
        area: Some(text),
        revision: None,
    };
    super::console::review_change(&state, &console, &headers, outage, &change).await
}

/// An area change in words, for its review: the addresses before and after,
/// how many it adds and leaves out, and the contacts at the added ones (told
/// of the outage when it is made).
pub(super) async fn area_change(
    state: &AppState,
    w: &Words,
    outage: &Outage,
    area: &geo::MultiPolygon<f64>,
) -> Result<(String, String)> {
    let (reach, new_ids) = outages::reach_of(&state.outages(), area, outage.utility).await?;
    let view = state.view().await?;
    let old_ids = view
        .open
        .all()
        .iter()
        .find(|o| o.outage.id == outage.id)
        .map(|o| crate::domain::runs::expand_runs(&o.runs))
        .unwrap_or_default();
    let (added, removed) = crate::domain::runs::sorted_diff(&old_ids, &new_ids);
    let counts = state
        .register
        .contact_counts(view.contacts_version)
        .await?
        .count(&added);
    let summary = i18n::t_args(
        w.lang,
        "console-review-area",
        &i18n::args([
            ("before", old_ids.len().to_string()),
            ("after", reach.affected_addresses.to_string()),
            ("added", added.len().to_string()),
            ("removed", removed.len().to_string()),
        ]),
    );
    let reach = i18n::t_args(
        w.lang,
        "console-review-area-reach",
        &i18n::args([
            ("email", counts.email.to_string()),
            ("sms", counts.sms.to_string()),
            ("removed", removed.len().to_string()),
        ]),
    );
    Ok((summary, reach))
}

/// What the map's preview posts: the area (GeoJSON, as text or as JSON) and
/// the utility.
#[derive(Debug, Deserialize)]
pub struct PreviewBody {
    #[serde(default)]
    pub utility: Option<Utility>,
    #[serde(default)]
    pub area: Option<Value>,
}

/// `POST /console/new/preview` (JSON, with `X-CSRF-Token`): what the area
/// reaches, as the API's preview counts it, and where.
async fn preview(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>> {
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    check_csrf(&console.session, sent)?;
    console.caller.require(Access::Dispatch)?;
    let body: PreviewBody = serde_json::from_slice(&body)
        .map_err(|e| Error::invalid("body", format!("expected {{\"utility\", \"area\"}}: {e}")))?;
    let area = match body.area {
        Some(Value::String(text)) => area_value(Some(&text))?,
        Some(v) => v,
        None => Value::Null,
    };
    let utility = body.utility.unwrap_or(Utility::Power);
    let (reach, ids) = outages::reach(&state.outages(), &area, utility).await?;
    let view = state.view().await?;
    let book = state.register.book(view.addresses_version).await?;
    let (settlements, streets) = book.spread(&ids);
    let mut warnings = Vec::new();
    if reach.affected_addresses == 0 {
        warnings.push("empty");
    }
    if reach.affected_addresses > state.config.console.large_area_addresses {
        warnings.push("large");
    }
    Ok(Json(json!({
        "affected_addresses": reach.affected_addresses,
        "contacts": reach.contacts,
        "settlements": settlements,
        "streets": streets,
        "warnings": warnings,
    })))
}

#[derive(Template)]
#[template(path = "console/declare-review.html")]
struct ReviewPage {
    w: Words,
    c: Chrome,
    title: String,
    facts: Vec<(String, String)>,
    addresses: usize,
    email: i64,
    sms: i64,
    undo_seconds: u32,
    samples: Vec<Sample>,
    /// The form's fields, carried to the confirm step.
    fields: Vec<(&'static str, String)>,
}

/// The form's fields as (name, value), to carry through the review.
fn carried(form: &DeclareForm) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (
            "utility",
            form.utility
                .map(|u| u.as_str().to_string())
                .unwrap_or_default(),
        ),
        (
            "kind",
            form.kind
                .map(|k| k.as_str().to_string())
                .unwrap_or_default(),
        ),
        (
            "starts_at_local",
            form.starts_at_local.clone().unwrap_or_default(),
        ),
        ("cause", form.cause.clone().unwrap_or_default()),
        ("etr_local", form.etr_local.clone().unwrap_or_default()),
        ("urgent", form.urgent.clone().unwrap_or_default()),
        ("area", form.area.clone().unwrap_or_default()),
    ];
    out.extend(form.messages.carried());
    out
}

/// `POST /console/new/review`: the declaration checked, what it reaches, and
/// every message it sends, before anything is stored. A form that does not
/// check out comes back with the error and what was typed.
async fn review(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    FormParams(form): FormParams<DeclareForm>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    console.caller.require(Access::Dispatch)?;
    let w = console_words(&state, &headers, console.lang, "/console/new");
    let ctx = state.outages();
    let checked = form
        .body(&state)
        .and_then(|body| outages::parse_declaration(&ctx, &body).map(|d| (body, d)));
    let (_, d) = match checked {
        Ok(ok) => ok,
        Err(Error::Invalid { field, message }) => {
            let view = register_view(&state).await?;
            let error = format!("{field}: {message}");
            let page = new_page_of(&state, &console, w, &form, Some(error), view);
            return private(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
        Err(e) => return Err(e),
    };
    let (reach, ids) = outages::reach_of(&ctx, &d.area, d.utility).await?;
    let now = state.clock.now();
    // The outage as it will read; its reference is drawn when it is stored,
    // one of the same length, so the SMS counts hold.
    let sample = Outage {
        id: 0,
        reference: Reference::generate(d.utility.reference_prefix(), &mut rand::rng()),
        utility: d.utility,
        kind: d.kind,
        status: match d.starts_at {
            Some(s) if s > now => OutageStatus::Scheduled,
            _ => OutageStatus::Active,
        },
        urgency: d.urgency,
        revision: 1,
        cause: d.cause.clone(),
        etr: d.etr,
        starts_at: d.starts_at,
        area: Value::Null,
        messages: d.messages.clone(),
        affected_addresses: ids.len() as i64,
        created_at: now,
        updated_at: now,
        ended_at: None,
        held_until: None,
    };
    let samples = match ids.first() {
        Some(&id) => match state.store.address(id).await? {
            Some(a) => samples(
                &sample,
                DeliveryKind::Declared,
                &a.address,
                state.tz,
                &state.config.public_url(),
                state.config.sms.unicode,
                now,
            )
            .map_err(|e| Error::Internal(anyhow::anyhow!("template: {e}")))?,
            None => Vec::new(),
        },
        None => Vec::new(),
    };
    let etr = match d.etr {
        Etr::At(t) => i18n::when(w.lang, state.tz, t, now),
        Etr::Unknown => w.t("etr-unknown"),
    };
    let mut facts = vec![
        (
            w.t("console-utility"),
            w.ta("utility-name", "utility", d.utility.as_str()),
        ),
        (
            w.t("console-kind"),
            w.t(&format!("console-kind-{}", d.kind.as_str())),
        ),
        (w.t("console-cause"), d.cause.clone()),
        (w.t("console-etr"), etr),
    ];
    if let Some(s) = d.starts_at {
        facts.push((
            w.t("console-starts-at"),
            i18n::date_time(w.lang, state.tz, s),
        ));
    }
    if d.urgency == Urgency::Urgent {
        facts.push((w.t("console-urgency"), w.t("console-urgent")));
    }
    let page = ReviewPage {
        title: w.t("console-review-title"),
        facts,
        addresses: reach.affected_addresses,
        email: reach.contacts.email,
        sms: reach.contacts.sms,
        undo_seconds: state.config.console.undo_seconds,
        samples,
        fields: carried(&form),
        c: Chrome::of(&console, &w),
        w,
    };
    private(StatusCode::OK, page)
}

/// `POST /console/new/apply`: declares the outage as reviewed, its messages
/// held for the undo window, and opens its page.
async fn apply(
    axum::extract::State(state): State,
    console: Console,
    FormParams(form): FormParams<DeclareForm>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    console.caller.require(Access::Dispatch)?;
    let body = form.body(&state)?;
    let hold = chrono::Duration::seconds(i64::from(state.config.console.undo_seconds));
    let (outage, _) =
        outages::declare_held(&state.outages(), &body, hold, &console.caller.actor).await?;
    Ok(Redirect::to(&format!("/console/o/{}?declared=1", outage.reference)).into_response())
}

/// Until when a just-declared outage can be undone: its first revision's
/// messages are held that long. None once anyone may have been told, and for
/// outages not declared from the console (theirs go at once).
pub fn undo_until(state: &AppState, outage: &Outage) -> Option<DateTime<Utc>> {
    let now = state.clock.now();
    outage
        .held_until
        .filter(|until| outage.revision == 1 && outage.status.is_open() && now < *until)
}

/// `POST /console/o/{ref}/undo`: calls off an outage in its undo window. Its
/// held messages are superseded unsent; the cancellation goes to nobody, as
/// nobody was told; the audit log keeps both.
async fn undo(
    axum::extract::State(state): State,
    console: Console,
    Path(reference): Path<String>,
    FormParams(form): FormParams<CsrfForm>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    console.caller.require(Access::Dispatch)?;
    let ctx = state.outages();
    let outage = outages::find(&ctx, &reference).await?;
    if undo_until(&state, &outage).is_none() {
        return Err(Error::Conflict(format!(
            "outage {} can no longer be undone: its messages are going out; cancel it instead",
            outage.reference
        )));
    }
    outages::end(
        &ctx,
        outage.id,
        OutageStatus::Cancelled,
        &console.caller.actor,
    )
    .await?;
    Ok(Redirect::to(&format!("/console/o/{}?undone=1", outage.reference)).into_response())
}

/// `GET /console/map/points?bbox=west,south,east,north`: the address points in
/// view, or counts per cell when there are more than the map draws smoothly
/// (the grid follows the view, so the map's zoom needs no parameter of its own;
/// other parameters are ignored).
#[derive(Debug, Deserialize)]
pub struct PointsQuery {
    pub bbox: String,
}

/// Points a map draws one by one at most; beyond, a grid of counts.
const MAP_POINTS: usize = 4_000;
const MAP_GRID: u32 = 48;

async fn points(
    axum::extract::State(state): State,
    _console: Console,
    Params(q): Params<PointsQuery>,
) -> Result<Response> {
    let v: Vec<f64> = q
        .bbox
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::bad_request("bbox", "expected west,south,east,north in degrees"))?;
    let [west, south, east, north] = v[..] else {
        return Err(Error::bad_request(
            "bbox",
            "expected four numbers: west,south,east,north",
        ));
    };
    if !(west.is_finite() && east.is_finite() && south.is_finite() && north.is_finite())
        || west > east
        || south > north
    {
        return Err(Error::bad_request(
            "bbox",
            "expected west ≤ east and south ≤ north",
        ));
    }
    let index = state.register.address_index().await?;
    let view = geo::Rect::new(
        geo::coord! { x: west, y: south },
        geo::coord! { x: east, y: north },
    );
    let shown: MapPoints =
        tokio::task::spawn_blocking(move || index.map_points(view, MAP_POINTS, MAP_GRID))
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("map points: {e}")))?;
    Ok(private_json(&shown))
}

async fn labels(axum::extract::State(state): State, _console: Console) -> Result<Response> {
    let view = state.view().await?;
    let labels = state.register.labels(view.addresses_version).await?;
    Ok(private_json(&*labels))
}

/// The open outages' areas, as a GeoJSON FeatureCollection.
async fn open_areas(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
) -> Result<Response> {
    let w = console_words(&state, &headers, console.lang, "/console/new");
    let view = state.view().await?;
    let features: Vec<Value> = view
        .open
        .all()
        .iter()
        .map(|o| {
            let o = &o.outage;
            json!({
                "type": "Feature",
                "geometry": o.area,
                "properties": {
                    "reference": o.reference,
                    "status": o.status,
                    "title": w.ta("outage-title", "utility", o.utility.as_str()),
                },
            })
        })
        .collect();
    Ok(private_json(
        &json!({"type": "FeatureCollection", "features": features}),
    ))
}

fn private_json(value: &impl serde::Serialize) -> Response {
    let mut r = Json(value).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

//! The dispatcher console (`/console`): signing in and out, the outage list,
//! one outage with its deliveries and history and its changes (ETR quick
//! buttons, cause, restore, cancel), each reviewed before it is made (what it
//! sends, in every language, to how many people), and, for supervisors, the
//! audit log. Server-rendered and usable without
//! JavaScript; every word from the catalogues.
//!
//! Sessions live in the database (see `credentials`); the cookie is
//! `HttpOnly`, `SameSite=Strict`, and `Secure` behind TLS. Every form that
//! changes something carries the session's CSRF token in its `csrf` field.
//! The sign-in form, posted before there is a session, carries a token that
//! must equal its `herald_login` cookie (double submit), so another site cannot
//! sign a browser in to an account of its choosing.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::client::ClientAddr;
use super::credentials::{self, check_csrf, Caller, Session, SESSION_COOKIE};
use super::dashboard::Dashboard;
use super::declare::MessageFields;
use super::params::{self, FormParams, Params};
use super::public::{page_language, render, Words};
use super::{AppState, State};
use crate::auth::Access;
use crate::channels::preview::{samples, Sample};
use crate::domain::outage::parse_time;
use crate::domain::{DeliveryKind, DeliveryState, Etr, Language, Outage, OutageStatus, Utility};
use crate::error::{Error, Result};
use crate::i18n;
use crate::operators;
use crate::outages;
use crate::store::{AuditFilter, EndSessions, OutageFilter};

/// The sign-in form's double-submit cookie.
const LOGIN_COOKIE: &str = "herald_login";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/logout-everywhere", post(logout_everywhere))
        .route("/console/audit", get(audit_page))
        .route("/console/o/{reference}", get(outage_page))
        .route("/console/o/{reference}/review", post(review))
        .route("/console/o/{reference}/apply", post(apply))
        .route("/console/o/{reference}/live", get(live))
        .route("/console/o/{reference}/deliveries.csv", get(deliveries_csv))
        .route("/console/o/{reference}/retry-dead", post(retry_dead))
        .layer(axum::middleware::from_fn(remember_language))
}

/// A signed-in operator on a console page; without a session, the browser is
/// sent to the sign-in page (and back here afterwards).
pub struct Console {
    pub(super) caller: Caller,
    pub(super) session: Session,
    /// The language the page's `?lang=` asks for, if any (it then sticks:
    /// see [`remember_language`]).
    pub(super) lang: Option<Language>,
}

/// `lang=hu|pl|en` in a query string.
fn query_language(query: Option<&str>) -> Option<Language> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("lang="))
        .and_then(|l| l.parse().ok())
}

/// A console page asked for with `?lang=` answers in that language and sets
/// the language cookie the public pages use, so the next page keeps it.
pub(super) async fn remember_language(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let chosen = query_language(request.uri().query());
    let mut response = next.run(request).await;
    if let Some(lang) = chosen {
        response
            .headers_mut()
            .append(header::SET_COOKIE, super::public::language_cookie(lang));
    }
    response
}

impl FromRequestParts<Arc<AppState>> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> std::result::Result<Console, Response> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/console", |p| p.as_str());
            let next: String = next
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            Redirect::to(&format!("/console/login?next={next}")).into_response()
        };
        // Forms are checked by their handlers (the token is in the body).
        match Caller::of(state, parts, true).await {
            Ok(caller) => match caller.session.clone() {
                Some(session) => Ok(Console {
                    caller,
                    session,
                    lang: query_language(parts.uri.query()),
                }),
                None => Err(to_login()),
            },
            Err(Error::Unauthorized) => Err(to_login()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The console's page chrome: who is signed in, the CSRF token for forms.
pub struct Chrome {
    pub username: String,
    pub role: String,
    pub csrf: String,
    pub supervisor: bool,
    /// May declare and change outages.
    pub dispatcher: bool,
}

impl Chrome {
    pub(super) fn of(console: &Console, w: &Words) -> Chrome {
        Chrome {
            username: console.session.username.clone(),
            role: w.t(&format!("console-role-{}", console.caller.role)),
            csrf: console.session.csrf.clone(),
            supervisor: console.caller.role.grants(Access::Supervise),
            dispatcher: console.caller.role.grants(Access::Dispatch),
        }
    }
}

/// Console pages are never stored by a browser or a proxy.
pub(super) fn private(status: StatusCode, page: impl Template) -> Result<Response> {
    let mut r = super::public::html_response(status, render(page)?);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

pub(super) fn console_words(
    state: &AppState,
    headers: &HeaderMap,
    chosen: Option<Language>,
    here: &str,
) -> Words {
    let (lang, _) = page_language(state, headers, chosen);
    let mut w = Words::new(lang);
    w.here = here.to_string();
    w
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    w: Words,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub lang: Option<Language>,
}

/// Only a console path: never another site (an open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console")
                && !n.starts_with("/console/login")
                && !n.contains("//")
                && !n.contains('\\') =>
        {
            n.to_string()
        }
        _ => "/console".into(),
    }
}

fn cookie(name: &str, value: &str, state: &AppState, max_age: Option<i64>) -> HeaderValue {
    let secure = state
        .config
        .console
        .secure_cookie
        .unwrap_or_else(|| state.config.public_url().starts_with("https://"));
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are tokens")
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    username: String,
    error: Option<String>,
    lang: Option<Language>,
) -> Result<Response> {
    let csrf = crate::auth::random_token(32);
    let w = console_words(state, headers, lang, "/console/login");
    let mut r = private(
        status,
        LoginPage {
            w,
            csrf: csrf.clone(),
            next,
            username,
            error,
        },
    )?;
    r.headers_mut().append(
        header::SET_COOKIE,
        cookie(LOGIN_COOKIE, &csrf, state, Some(3600)),
    );
    Ok(r)
}

async fn login_page(
    axum::extract::State(state): State,
    headers: HeaderMap,
    Params(q): Params<LoginQuery>,
) -> Result<Response> {
    let next = safe_next(q.next.as_deref());
    if credentials::current_session(&state, &headers)
        .await?
        .is_some()
    {
        return Ok(Redirect::to(&next).into_response());
    }
    login_form(
        &state,
        &headers,
        StatusCode::OK,
        next,
        String::new(),
        None,
        q.lang,
    )
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub next: Option<String>,
}

async fn login(
    axum::extract::State(state): State,
    client: ClientAddr,
    headers: HeaderMap,
    FormParams(form): FormParams<LoginForm>,
) -> Result<Response> {
    let next = safe_next(form.next.as_deref());
    let w = console_words(&state, &headers, None, "/console/login");
    let expected = credentials::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || expected != form.csrf {
        let error = Some(w.t("console-login-expired"));
        return login_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            next,
            form.username,
            error,
            None,
        );
    }
    let now = state.clock.now();
    let signed_in = operators::sign_in(
        &state.store,
        &state.server_key,
        &form.username,
        &form.password,
        Some(client.limit_key()),
        now,
    )
    .await;
    match signed_in {
        Ok(s) => {
            let max_age = i64::from(state.config.console.session_max_hours) * 3600;
            let mut r = Redirect::to(&next).into_response();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                cookie(SESSION_COOKIE, &s.session_id, &state, Some(max_age)),
            );
            h.append(
                header::SET_COOKIE,
                cookie(LOGIN_COOKIE, "", &state, Some(0)),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(r)
        }
        Err(Error::Unauthorized) => {
            let error = Some(w.t("console-login-refused"));
            login_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                next,
                form.username,
                error,
                None,
            )
        }
        Err(e) => Err(e),
    }
}

/// A console form that changes something: only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: Option<String>,
}

fn signed_out(state: &AppState) -> Response {
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        cookie(SESSION_COOKIE, "", state, Some(0)),
    );
    r
}

async fn logout(
    axum::extract::State(state): State,
    console: Console,
    FormParams(form): FormParams<CsrfForm>,
) -> Result<Response> {
    let which = EndSessions::One(&console.session.id_hash);
    end_sessions(&state, &console, &form, which).await
}

async fn logout_everywhere(
    axum::extract::State(state): State,
    console: Console,
    FormParams(form): FormParams<CsrfForm>,
) -> Result<Response> {
    let which = EndSessions::AllOf(console.session.operator_id);
    end_sessions(&state, &console, &form, which).await
}

/// Ends `which` sessions (audited) and sends the browser to the sign-in page.
async fn end_sessions(
    state: &AppState,
    console: &Console,
    form: &CsrfForm,
    which: EndSessions<'_>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    let (by, now) = (Some(&console.caller.actor), state.clock.now());
    state.store.end_sessions(which, by, now).await?;
    Ok(signed_out(state))
}

/// One outage as a row of the console's list.
pub struct OutageRow {
    pub reference: String,
    /// "Water outage".
    pub title: String,
    pub utility: String,
    pub status: String,
    pub status_class: &'static str,
    pub cause: String,
    pub etr: String,
    pub addresses: i64,
    pub updated: String,
}

pub struct Choice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    w: Words,
    c: Chrome,
    statuses: Vec<Choice>,
    utilities: Vec<Choice>,
    outages: Vec<OutageRow>,
}

/// `GET /console?status=&utility=`: empty is no filter.
#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    #[serde(default, deserialize_with = "params::non_empty")]
    pub status: Option<OutageStatus>,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub utility: Option<Utility>,
}

async fn home(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    Params(q): Params<HomeQuery>,
) -> Result<Response> {
    let w = console_words(&state, &headers, console.lang, "/console");
    let filter = OutageFilter {
        status: q.status,
        utility: q.utility,
        reference: None,
        limit: 500,
    };
    let now = state.clock.now();
    let outages = state
        .store
        .outages(&filter)
        .await?
        .iter()
        .map(|o| outage_row(&state, &w, o, now))
        .collect();
    let statuses = OutageStatus::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str(),
            label: w.t(&format!("page-status-{s}")),
            selected: q.status == Some(*s),
        })
        .collect();
    let utilities = Utility::ALL
        .iter()
        .map(|u| Choice {
            value: u.as_str(),
            label: w.ta("utility-name", "utility", u.as_str()),
            selected: q.utility == Some(*u),
        })
        .collect();
    let c = Chrome::of(&console, &w);
    private(
        StatusCode::OK,
        HomePage {
            w,
            c,
            statuses,
            utilities,
            outages,
        },
    )
}

pub struct AuditRow {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
    pub client: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    w: Words,
    c: Chrome,
    rows: Vec<AuditRow>,
}

async fn audit_page(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
) -> Result<Response> {
    console.caller.require(Access::Supervise)?;
    let w = console_words(&state, &headers, console.lang, "/console/audit");
    let filter = AuditFilter {
        limit: 500,
        ..AuditFilter::default()
    };
    let rows = state
        .store
        .audit_log(&filter)
        .await?
        .into_iter()
        .map(|e| AuditRow {
            time: i18n::date_time(w.lang, state.tz, e.at),
            actor: e.actor,
            action: e.action,
            subject: e.subject.unwrap_or_default(),
            details: e.details.to_string(),
            client: e.client.unwrap_or_default(),
        })
        .collect();
    let c = Chrome::of(&console, &w);
    private(StatusCode::OK, AuditPage { w, c, rows })
}

pub struct RevisionLine {
    pub revision: i64,
    pub time: String,
    pub change: String,
    pub etr: String,
    pub cause: String,
}

/// A delivery that failed for good.
pub struct FailureLine {
    pub channel: String,
    pub destination: String,
    pub kind: String,
    pub attempts: i64,
    pub reason: String,
    pub time: String,
}

/// An ETR quick button: its label and the time it sets (RFC 3339).
pub struct EtrButton {
    pub label: String,
    pub etr: String,
}

#[derive(Template)]
#[template(path = "console/outage.html")]
struct OutagePage {
    w: Words,
    c: Chrome,
    o: OutageRow,
    kind: String,
    /// The extra message per language, for its change form.
    messages: Vec<super::declare::MessageField>,
    /// Residents' reports of the last day just outside the area, in no open
    /// outage of its service.
    reports_outside: usize,
    can_change: bool,
    /// Dispatchers may retry dead deliveries, of an ended outage too (its
    /// "restored" message).
    can_retry: bool,
    /// Deliveries by channel and state, and the IVR's callers (kept current
    /// by `console.js` from `…/live`).
    d: Dashboard,
    revision: i64,
    revisions: Vec<RevisionLine>,
    buttons: Vec<EtrButton>,
    /// Deliveries that failed for good, newest first, with their reasons.
    failures: Vec<FailureLine>,
    /// The custom ETR field's value, in the utility's time zone.
    etr_local: String,
    done: bool,
    /// Just declared from the map (`?declared=1`), or undone (`?undone=1`).
    declared: bool,
    undone: bool,
    /// While the declaration can be undone: until when.
    undo: Option<UndoWindow>,
}

/// A declaration's undo window, for the outage page.
pub struct UndoWindow {
    /// Seconds left, for the page's countdown (the browser's clock need not
    /// agree with the server's).
    pub seconds: i64,
    /// "The messages start going out at 14:02:10."
    pub text: String,
}

/// `?done=1` after a change was applied.
#[derive(Debug, Default, Deserialize)]
pub struct OutageQuery {
    #[serde(default)]
    pub done: Option<String>,
    #[serde(default)]
    pub declared: Option<String>,
    #[serde(default)]
    pub undone: Option<String>,
}

pub(super) fn outage_row(state: &AppState, w: &Words, o: &Outage, now: DateTime<Utc>) -> OutageRow {
    OutageRow {
        reference: o.reference.to_string(),
        title: w.ta("outage-title", "utility", o.utility.as_str()),
        utility: w.ta("utility-name", "utility", o.utility.as_str()),
        status: w.t(&format!("page-status-{}", o.status)),
        status_class: o.status.as_str(),
        cause: o.cause.clone(),
        etr: etr_words(state, w, o.etr.as_option(), now),
        addresses: o.affected_addresses,
        updated: i18n::date_time(w.lang, state.tz, o.updated_at),
    }
}

fn etr_words(
    state: &AppState,
    w: &Words,
    etr: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> String {
    match etr {
        Some(t) => i18n::when(w.lang, state.tz, t, now),
        None => w.t("etr-unknown"),
    }
}

async fn outage_page(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    Path(reference): Path<String>,
    Params(q): Params<OutageQuery>,
) -> Result<Response> {
    let outage = outages::find(&state.outages(), &reference).await?;
    let here = format!("/console/o/{}", outage.reference);
    let w = console_words(&state, &headers, console.lang, &here);
    let now = state.clock.now();
    let d = Dashboard::of(&state, &w, &outage).await?;
    let revisions = state
        .store
        .revisions(outage.id)
        .await?
        .iter()
        .rev()
        .map(|r| RevisionLine {
            revision: r.revision,
            time: i18n::date_time(w.lang, state.tz, r.created_at),
            change: w.t(&format!("console-change-{}", r.change.as_str())),
            etr: etr_words(&state, &w, r.etr, now),
            cause: r.cause.clone(),
        })
        .collect();
    // Quick buttons move the ETR on from what it is, or from now when it is
    // not assessed or already passed.
    let base = outage.etr.as_option().filter(|t| *t > now).unwrap_or(now);
    let buttons = [
        (30, "console-etr-plus-30m"),
        (60, "console-etr-plus-1h"),
        (120, "console-etr-plus-2h"),
    ]
    .into_iter()
    .map(|(minutes, key)| EtrButton {
        label: w.t(key),
        etr: (base + chrono::Duration::minutes(minutes)).to_rfc3339(),
    })
    .collect();
    let etr_local = base
        .with_timezone(&state.tz)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let failures = state
        .store
        .deliveries(outage.id, Some(DeliveryState::Dead), 200)
        .await?
        .into_iter()
        .rev()
        .map(|d| FailureLine {
            channel: w.t(&format!("console-channel-{}", d.channel.as_str())),
            destination: d.destination,
            kind: d.kind.as_str().to_string(),
            attempts: d.attempts,
            reason: d.last_error.unwrap_or_default(),
            time: i18n::date_time(w.lang, state.tz, d.updated_at),
        })
        .collect();
    let open = outage.status.is_open();
    let reports_outside = if open {
        super::declare::reports_outside(&state, &outage)
            .await?
            .len()
    } else {
        0
    };
    let page = OutagePage {
        reports_outside,
        failures,
        o: outage_row(&state, &w, &outage, now),
        kind: w.t(&format!("console-kind-{}", outage.kind.as_str())),
        messages: MessageFields {
            message_hu: outage.messages.get(&Language::Hu).cloned(),
            message_pl: outage.messages.get(&Language::Pl).cloned(),
            message_en: outage.messages.get(&Language::En).cloned(),
        }
        .fields(),
        can_change: open && console.caller.role.grants(Access::Dispatch),
        can_retry: console.caller.role.grants(Access::Dispatch),
        d,
        revision: outage.revision,
        revisions,
        buttons,
        etr_local,
        done: q.done.is_some(),
        declared: q.declared.is_some(),
        undone: q.undone.is_some(),
        undo: super::declare::undo_until(&state, &outage)
            .filter(|_| console.caller.role.grants(Access::Dispatch))
            .map(|t| UndoWindow {
                seconds: (t - now).num_seconds().max(0) + 1,
                text: w.ta(
                    "console-undo-until",
                    "time",
                    &t.with_timezone(&state.tz).format("%H:%M:%S").to_string(),
                ),
            }),
        c: Chrome::of(&console, &w),
        w,
    };
    private(StatusCode::OK, page)
}

/// The outage page's live figures, as JSON (see [`Dashboard::live`]).
async fn live(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Result<Response> {
    let outage = outages::find(&state.outages(), &reference).await?;
    let w = console_words(
        &state,
        &headers,
        console.lang,
        &format!("/console/o/{}", outage.reference),
    );
    let d = Dashboard::of(&state, &w, &outage).await?;
    let mut live = d.live(&outage);
    // Once the undo window has closed (by the server's clock), the page's
    // offer goes.
    live["undo"] = json!(super::declare::undo_until(&state, &outage).is_some());
    let mut r = axum::Json(live).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// The outage's deliveries as CSV (all of them, up to 1,000,000).
async fn deliveries_csv(
    axum::extract::State(state): State,
    _console: Console,
    Path(reference): Path<String>,
) -> Result<Response> {
    let outage = outages::find(&state.outages(), &reference).await?;
    let rows = state.store.deliveries(outage.id, None, 1_000_000).await?;
    super::api::deliveries_csv(&outage, &rows)
}

/// "Retry dead": the outage's dead deliveries back in the queue.
async fn retry_dead(
    axum::extract::State(state): State,
    console: Console,
    Path(reference): Path<String>,
    FormParams(form): FormParams<CsrfForm>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    console.caller.require(Access::Dispatch)?;
    let outage = outages::find(&state.outages(), &reference).await?;
    super::api::retry(&state, &outage, &console.caller).await?;
    Ok(Redirect::to(&format!("/console/o/{}?done=1", outage.reference)).into_response())
}

/// What a console change form asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// A new ETR: `etr` (RFC 3339, from a quick button) or `etr_local`.
    Etr,
    /// The ETR is no longer known.
    EtrUnknown,
    Cause,
    /// The extra message, per language (`message_hu`, `message_pl`,
    /// `message_en`; empty: none in that language).
    Message,
    /// A new area (`area`, GeoJSON text, drawn on `…/area`).
    Area,
    Restore,
    Cancel,
}

/// The fields of the change, review and apply forms.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    pub csrf: Option<String>,
    pub change: ChangeAction,
    #[serde(default, deserialize_with = "params::non_empty")]
    pub etr: Option<String>,
    /// `YYYY-MM-DDTHH:MM` in the utility's time zone (a `datetime-local` field).
    #[serde(default, deserialize_with = "params::non_empty")]
    pub etr_local: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(flatten)]
    pub messages: MessageFields,
    /// GeoJSON, as text (an area change).
    #[serde(default)]
    pub area: Option<String>,
    /// The revision the review was made from (apply only).
    #[serde(default, deserialize_with = "params::non_empty")]
    pub revision: Option<i64>,
}

/// A change, checked: the API body it makes, the outage as it will read, and
/// the message it sends.
struct Planned {
    body: Value,
    after: Outage,
    kind: DeliveryKind,
    /// What the form carries on to the confirm step.
    etr: String,
    cause: String,
    /// (field, text) of a message change.
    messages: Vec<(&'static str, String)>,
    /// The new area of an area change, as GeoJSON text, and read.
    area: String,
    new_area: Option<geo::MultiPolygon<f64>>,
}

fn plan(state: &AppState, outage: &Outage, form: &ChangeForm) -> Result<Planned> {
    let mut after = outage.clone();
    let (mut etr, mut cause) = (String::new(), String::new());
    let mut messages = Vec::new();
    let mut area = String::new();
    let mut new_area = None;
    let (body, kind) = match form.change {
        ChangeAction::Etr => {
            let at = match (&form.etr, &form.etr_local) {
                (Some(rfc), _) => parse_time(rfc, "etr").map_err(|(f, e)| Error::invalid(f, e))?,
                (None, Some(local)) => super::declare::local_time(state, local, "etr_local")?,
                (None, None) => {
                    return Err(Error::invalid("etr", "choose a time"));
                }
            };
            // The console asks for a time still to come (the API allows a few
            // minutes' slack for clocks); then the operation's own rules.
            if at <= state.clock.now() {
                return Err(Error::invalid(
                    "etr",
                    "the expected fix time must be in the future",
                ));
            }
            outages::check_times(Etr::At(at), outage.starts_at, state.clock.now())?;
            after.etr = Etr::At(at);
            etr = at.to_rfc3339();
            (json!({ "etr": etr }), DeliveryKind::Updated)
        }
        ChangeAction::EtrUnknown => {
            after.etr = Etr::Unknown;
            (json!({ "etr": null }), DeliveryKind::Updated)
        }
        ChangeAction::Cause => {
            let text = outages::check_cause(form.cause.as_deref().unwrap_or(""))?;
            after.cause = text.clone();
            cause = text;
            (json!({ "cause": cause }), DeliveryKind::Updated)
        }
        ChangeAction::Message => {
            let value = form.messages.value();
            after.messages = outages::check_messages(&value)?;
            if after.messages == outage.messages {
                return Err(Error::invalid(
                    "message",
                    "this is the message it has already",
                ));
            }
            messages = form.messages.carried();
            (json!({ "message": value }), DeliveryKind::Updated)
        }
        ChangeAction::Area => {
            let value = super::declare::area_value(form.area.as_deref())?;
            new_area = outages::check_area(&state.config, Some(&value))?;
            if new_area.is_none() {
                return Err(Error::invalid("area", "draw the new area first"));
            }
            area = value.to_string();
            after.area = value.clone();
            (json!({ "area": value }), DeliveryKind::Updated)
        }
        ChangeAction::Restore => {
            after.status = OutageStatus::Restored;
            (json!({}), DeliveryKind::Restored)
        }
        ChangeAction::Cancel => {
            after.status = OutageStatus::Cancelled;
            (json!({}), DeliveryKind::Cancelled)
        }
    };
    after.revision += 1;
    Ok(Planned {
        body,
        after,
        kind,
        etr,
        cause,
        messages,
        area,
        new_area,
    })
}

/// A `datetime-local` value read in the utility's time zone.
#[derive(Template)]
#[template(path = "console/review.html")]
struct ReviewPage {
    w: Words,
    c: Chrome,
    o: OutageRow,
    /// "ETR: 14:00 → 16:00", in words.
    summary: String,
    change: &'static str,
    etr: String,
    cause: String,
    messages: Vec<(&'static str, String)>,
    area: String,
    /// For an area change: who the new part reaches.
    area_reach: Option<String>,
    revision: i64,
    email: i64,
    sms: i64,
    queued: i64,
    samples: Vec<Sample>,
}

impl ChangeAction {
    fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Etr => "etr",
            ChangeAction::EtrUnknown => "etr_unknown",
            ChangeAction::Cause => "cause",
            ChangeAction::Message => "message",
            ChangeAction::Area => "area",
            ChangeAction::Restore => "restore",
            ChangeAction::Cancel => "cancel",
        }
    }
}

/// `POST /console/o/{reference}/review`: what the change will send, to how
/// many people, before it is confirmed. Changes nothing.
async fn review(
    axum::extract::State(state): State,
    console: Console,
    headers: HeaderMap,
    Path(reference): Path<String>,
    FormParams(form): FormParams<ChangeForm>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    console.caller.require(Access::Dispatch)?;
    let outage = outages::find(&state.outages(), &reference).await?;
    review_change(&state, &console, &headers, outage, &form).await
}

/// The review page of `form`'s change to `outage` (also the map's "extend
/// the area over the reports", which computes its area change).
pub(super) async fn review_change(
    state: &AppState,
    console: &Console,
    headers: &HeaderMap,
    outage: Outage,
    form: &ChangeForm,
) -> Result<Response> {
    if !outage.status.is_open() {
        return Err(Error::Conflict(format!(
            "outage {} is {} and can no longer change",
            outage.reference, outage.status
        )));
    }
    let planned = plan(state, &outage, form)?;
    let now = state.clock.now();
    let w = console_words(
        state,
        headers,
        console.lang,
        &format!("/console/o/{}", outage.reference),
    );
    let told = state.store.told(outage.id).await?;
    let queued = state
        .store
        .delivery_counts(outage.id)
        .await?
        .iter()
        .filter(|c| DeliveryState::QUEUED.contains(&c.state))
        .map(|c| c.count)
        .sum();
    let samples = match state.store.sample_address(outage.id).await? {
        Some(a) => samples(
            &planned.after,
            planned.kind,
            &a.address,
            state.tz,
            &state.config.public_url(),
            state.config.sms.unicode,
            now,
        )
        .map_err(|e| Error::Internal(anyhow::anyhow!("template: {e}")))?,
        None => Vec::new(),
    };
    let (summary, area_reach) = match form.change {
        ChangeAction::Etr | ChangeAction::EtrUnknown => (
            format!(
                "{}: {} → {}",
                w.t("console-etr"),
                etr_words(state, &w, outage.etr.as_option(), now),
                etr_words(state, &w, planned.after.etr.as_option(), now)
            ),
            None,
        ),
        ChangeAction::Cause => (
            format!(
                "{}: {} → {}",
                w.t("console-cause"),
                outage.cause,
                planned.after.cause
            ),
            None,
        ),
        ChangeAction::Message => (w.t("console-review-message"), None),
        ChangeAction::Area => {
            let area = planned
                .new_area
                .as_ref()
                .expect("an area change reads its area");
            let (summary, reach) = super::declare::area_change(state, &w, &outage, area).await?;
            (summary, Some(reach))
        }
        ChangeAction::Restore => (w.t("console-review-restore"), None),
        ChangeAction::Cancel => (w.t("console-review-cancel"), None),
    };
    let page = ReviewPage {
        o: outage_row(state, &w, &outage, now),
        summary,
        change: form.change.as_str(),
        etr: planned.etr,
        cause: planned.cause,
        messages: planned.messages,
        area: planned.area,
        area_reach,
        revision: outage.revision,
        email: told.email,
        sms: told.sms,
        queued,
        samples,
        c: Chrome::of(console, &w),
        w,
    };
    private(StatusCode::OK, page)
}

/// `POST /console/o/{reference}/apply`: the reviewed change, if the outage is
/// still at the revision it was reviewed at.
async fn apply(
    axum::extract::State(state): State,
    console: Console,
    Path(reference): Path<String>,
    FormParams(form): FormParams<ChangeForm>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    console.caller.require(Access::Dispatch)?;
    let ctx = state.outages();
    let outage = outages::find(&ctx, &reference).await?;
    let reviewed = form
        .revision
        .ok_or_else(|| Error::invalid("revision", "review the change first"))?;
    if reviewed != outage.revision {
        return Err(Error::Conflict(format!(
            "outage {} changed after you reviewed this (now at revision {}); review it again",
            outage.reference, outage.revision
        )));
    }
    let planned = plan(&state, &outage, &form)?;
    let by = &console.caller.actor;
    match form.change {
        ChangeAction::Restore => {
            outages::end(&ctx, outage.id, OutageStatus::Restored, by).await?;
        }
        ChangeAction::Cancel => {
            outages::end(&ctx, outage.id, OutageStatus::Cancelled, by).await?;
        }
        _ => {
            outages::update(&ctx, outage.id, &planned.body, by).await?;
        }
    }
    Ok(Redirect::to(&format!("/console/o/{}?done=1", outage.reference)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/console/audit")), "/console/audit");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/console//evil.example",
            "/\\evil",
            "/console/login?next=x",
            "/",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console", "{bad}");
        }
        assert_eq!(safe_next(None), "/console");
    }
}

//! The dispatcher console (`/console`): signing in and out, the outage list,
//! and, for supervisors, the audit log. Server-rendered and usable without
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
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::client::ClientAddr;
use super::credentials::{self, check_csrf, Caller, Session, SESSION_COOKIE};
use super::params::{self, FormParams, Params};
use super::public::{page_language, render, Words};
use super::{AppState, State};
use crate::auth::Access;
use crate::domain::{OutageStatus, Utility};
use crate::error::{Error, Result};
use crate::i18n;
use crate::operators;
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
}

/// A signed-in operator on a console page; without a session, the browser is
/// sent to the sign-in page (and back here afterwards).
pub struct Console {
    caller: Caller,
    session: Session,
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
                Some(session) => Ok(Console { caller, session }),
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
}

impl Chrome {
    fn of(console: &Console, w: &Words) -> Chrome {
        Chrome {
            username: console.session.username.clone(),
            role: w.t(&format!("console-role-{}", console.caller.role)),
            csrf: console.session.csrf.clone(),
            supervisor: console.caller.role.grants(Access::Supervise),
        }
    }
}

/// Console pages are never stored by a browser or a proxy.
fn private(status: StatusCode, page: impl Template) -> Result<Response> {
    let mut r = super::public::html_response(status, render(page)?);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

fn console_words(state: &AppState, headers: &HeaderMap, here: &str) -> Words {
    let (lang, _) = page_language(state, headers, None);
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
) -> Result<Response> {
    let csrf = crate::auth::random_token(32);
    let w = console_words(state, headers, "/console/login");
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
    login_form(&state, &headers, StatusCode::OK, next, String::new(), None)
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
    let w = console_words(&state, &headers, "/console/login");
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
    check_csrf(&console.session, form.csrf.as_deref())?;
    let which = EndSessions::One(&console.session.id_hash);
    let now = state.clock.now();
    state
        .store
        .end_sessions(which, Some(&console.caller.actor), now)
        .await?;
    Ok(signed_out(&state))
}

async fn logout_everywhere(
    axum::extract::State(state): State,
    console: Console,
    FormParams(form): FormParams<CsrfForm>,
) -> Result<Response> {
    check_csrf(&console.session, form.csrf.as_deref())?;
    let which = EndSessions::AllOf(console.session.operator_id);
    let now = state.clock.now();
    state
        .store
        .end_sessions(which, Some(&console.caller.actor), now)
        .await?;
    Ok(signed_out(&state))
}

/// One outage as a row of the console's list.
pub struct OutageRow {
    pub reference: String,
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
    let w = console_words(&state, &headers, "/console");
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
        .map(|o| OutageRow {
            reference: o.reference.to_string(),
            utility: w.ta("utility-name", "utility", o.utility.as_str()),
            status: w.t(&format!("page-status-{}", o.status)),
            status_class: o.status.as_str(),
            cause: o.cause.clone(),
            etr: match o.etr.as_option() {
                Some(t) => i18n::when(w.lang, state.tz, t, now),
                None => w.t("etr-unknown"),
            },
            addresses: o.affected_addresses,
            updated: i18n::date_time(w.lang, state.tz, o.updated_at),
        })
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
    let w = console_words(&state, &headers, "/console/audit");
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

//! The resident's manage page, opened by the signed link in every alert
//! e-mail (and the SMS HELP reply); the operations are [`crate::manage`]'s.
//!
//! - `GET /manage`, `POST /manage` (`destination`): the status page's way to
//!   a link: it goes, through the confirmation queue and under the sign-up
//!   limits, to the e-mail address or number entered, if Herald knows it.
//!   The answer is the same either way, so nobody learns who is registered.
//! - `GET /manage/{link}`: addresses, settings (language, window, services),
//!   export, stop everything, delete. `?lang=` switches the page's language.
//! - `POST /manage/{link}` (`language`, `window`, `utility`…): saves the settings.
//! - `GET /manage/{link}?q=`: the addresses to move to; `POST
//!   /manage/{link}/move` (`contact`, `address`): moves one address's alerts
//!   to another.
//! - `POST /manage/{link}/stop-address` (`contact`): stops one address.
//! - `POST /manage/{link}/stop`: stops everything.
//! - `GET /manage/{link}/export`: everything held, as a JSON download.
//! - `POST /manage/{link}/delete` (`confirm=yes`): erases the person.
//!
//! The link is the credential: every answer is `Cache-Control: no-store` and
//! `Referrer-Policy: no-referrer`, so it is neither cached nor passed on. An
//! expired link gets 410, a forged or erased one 404; neither says whose it
//! was. No JavaScript is needed.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};

use super::client::ClientAddr;
use super::public::{
    html_response, page_language, render, LangChoice, MessagePage, SearchQuery, Words,
};
use super::subscribe::{
    address_choices, client_key, label, languages, sign_up_limits, Choice, FieldError,
    LanguageOption,
};
use super::{AppState, State};
use crate::domain::consent::{Method, Via};
use crate::domain::contact::Destination;
use crate::domain::{Channel, Language, Utility};
use crate::error::{Error, Result};
use crate::i18n;
use crate::manage::{self, LinkProblem, ManageLink, Person};
use crate::store::{NewSubscription, PersonContact, Subscribed};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/manage", get(request_page).post(request_link))
        .route("/manage/{link}", get(show).post(save))
        .route("/manage/{link}/stop-address", post(stop_address))
        .route("/manage/{link}/move", post(move_address))
        .route("/manage/{link}/stop", post(stop))
        .route("/manage/{link}/export", get(export))
        .route("/manage/{link}/delete", post(delete))
}

#[derive(Clone)]
struct ContactLine {
    id: i64,
    label: String,
    stopped: bool,
    undeliverable: bool,
}

struct UtilityOption {
    code: &'static str,
    name: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "pages/manage.html")]
struct ManagePage {
    w: Words,
    base: String,
    destination: String,
    contacts: Vec<ContactLine>,
    /// The addresses still receiving alerts: what a move can replace.
    active: Vec<ContactLine>,
    /// A search for the address to move to, and what it found.
    query: String,
    choices: Vec<Choice>,
    languages: Vec<LanguageOption>,
    window: String,
    utilities: Vec<UtilityOption>,
    all_stopped: bool,
    notice: Option<String>,
    errors: Vec<FieldError>,
}

impl ManagePage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// Adds the headers that keep the link private.
fn private(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

fn message(status: StatusCode, lang: Language, title: &str, text: &str) -> Result<Response> {
    let w = Words::new(lang);
    let page = MessagePage {
        title: w.t(title),
        text: w.t(text),
        form_action: None,
        button: String::new(),
        w,
    };
    Ok(private(html_response(status, render(page)?)))
}

/// The person behind the link, or the page that says why there is none.
async fn open(
    state: &AppState,
    link: &str,
    lang: Option<Language>,
) -> Result<std::result::Result<Person, Response>> {
    let fallback = lang.unwrap_or(state.config.default_language);
    let invalid = |lang| {
        message(
            StatusCode::NOT_FOUND,
            lang,
            "page-manage-invalid-title",
            "page-manage-invalid",
        )
    };
    let link = match ManageLink::read(link, &state.server_key, state.clock.now()) {
        Ok(link) => link,
        Err(LinkProblem::Expired(contact_id)) => {
            // The signature held: the page may speak the contact's language.
            let lang = match (lang, state.store.contact_destination(contact_id).await?) {
                (Some(l), _) => l,
                (None, Some((channel, destination))) => state
                    .store
                    .person(channel, &destination)
                    .await?
                    .first()
                    .map_or(fallback, |c| c.language),
                (None, None) => fallback,
            };
            return message(
                StatusCode::GONE,
                lang,
                "page-manage-expired-title",
                "page-manage-expired",
            )
            .map(Err);
        }
        Err(LinkProblem::Invalid) => return invalid(fallback).map(Err),
    };
    match manage::person(&state.store, &link).await? {
        Some(person) if !person.contacts.is_empty() => Ok(Ok(person)),
        _ => invalid(fallback).map(Err),
    }
}

fn page(
    link: &str,
    person: &Person,
    lang: Language,
    notice: Option<String>,
    errors: Vec<FieldError>,
    form: Option<(&str, &str, &[String])>,
) -> ManagePage {
    let mut w = Words::new(lang);
    w.here = format!("/manage/{link}");
    let first = &person.contacts[0];
    let (language, window, wanted): (Language, String, Vec<Utility>) = match form {
        // A form with errors is shown as it was sent.
        Some((l, win, us)) => (
            l.parse().unwrap_or(first.language),
            win.to_string(),
            us.iter().filter_map(|u| u.parse().ok()).collect(),
        ),
        None => (
            first.language,
            first.window.map(|w| w.to_string()).unwrap_or_default(),
            first.utilities.clone(),
        ),
    };
    let contacts: Vec<ContactLine> = person
        .contacts
        .iter()
        .map(|c| ContactLine {
            id: c.id,
            label: label(lang, &c.address),
            stopped: c.opted_out,
            undeliverable: c.undeliverable,
        })
        .collect();
    ManagePage {
        base: format!("/manage/{link}"),
        destination: person.destination.clone(),
        active: contacts.iter().filter(|c| !c.stopped).cloned().collect(),
        contacts,
        query: String::new(),
        choices: Vec::new(),
        languages: languages(language),
        window,
        utilities: Utility::ALL
            .iter()
            .map(|u| UtilityOption {
                code: u.as_str(),
                name: i18n::t_args(
                    lang,
                    "utility-name",
                    &i18n::args([("utility", u.as_str().to_string())]),
                ),
                selected: wanted.contains(u),
            })
            .collect(),
        all_stopped: person.stopped(),
        notice,
        errors,
        w,
    }
}

fn respond(status: StatusCode, page: ManagePage) -> Result<Response> {
    Ok(private(html_response(status, render(page)?)))
}

async fn show(
    axum::extract::State(state): State,
    Path(link): Path<String>,
    Query(choice): Query<LangChoice>,
    Query(search): Query<SearchQuery>,
) -> Result<Response> {
    let person = match open(&state, &link, choice.lang).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let lang = choice
        .lang
        .or(person.language())
        .unwrap_or(state.config.default_language);
    let mut shown = page(&link, &person, lang, None, Vec::new(), None);
    shown.query = search.text();
    shown.choices = address_choices(&state, lang, &shown.query).await?;
    respond(StatusCode::OK, shown)
}

/// Moves one of the person's addresses to the one chosen from the search.
async fn move_address(
    axum::extract::State(state): State,
    Path(link): Path<String>,
    client: ClientAddr,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let person = match open(&state, &link, None).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let contact = own_contact(&person, &form, true)?.id;
    let address: i64 = field(&form, "address")
        .parse()
        .map_err(|_| Error::bad_request("address", "choose an address from the list"))?;
    let now = state.clock.now();
    let moved = manage::move_to(
        &state.store,
        &state.server_key,
        &person,
        contact,
        address,
        Some(client.0.to_string()),
        now,
        now + state.config.delivery.ttl(),
    )
    .await?;
    if moved.is_none() {
        return Err(Error::bad_request(
            "address",
            "choose an address from the list",
        ));
    }
    state.wake.all();
    changed(&state, &link, &person, |p, lang| {
        let label = p
            .contacts
            .iter()
            .find(|c| Some(c.id) == moved)
            .map(|c| label(lang, &c.address))
            .unwrap_or_default();
        i18n::t_args(lang, "page-manage-moved", &i18n::args([("address", label)]))
    })
    .await
}

/// The form's fields, `utility` repeated.
fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

async fn save(
    axum::extract::State(state): State,
    Path(link): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let person = match open(&state, &link, None).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let utilities: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "utility")
        .map(|(_, v)| v.clone())
        .collect();
    let (language, window) = (field(&form, "language"), field(&form, "window"));
    let lang = person.language().unwrap_or(state.config.default_language);
    match manage::settings(language, window, &utilities) {
        Ok(settings) => {
            state
                .store
                .set_person(
                    person.channel,
                    &person.destination,
                    &settings,
                    state.clock.now(),
                )
                .await?;
            let person = reread(&state, &person).await?;
            let lang = settings.language;
            let notice = Some(i18n::t(lang, "page-manage-saved"));
            respond(
                StatusCode::OK,
                page(&link, &person, lang, notice, Vec::new(), None),
            )
        }
        Err((field, technical)) => {
            let message = if field == "window" {
                i18n::t(lang, "page-manage-window-invalid")
            } else {
                technical
            };
            let errors = vec![FieldError { field, message }];
            let sent = Some((language, window, utilities.as_slice()));
            respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                page(&link, &person, lang, None, errors, sent),
            )
        }
    }
}

/// The form's `contact`, which must be one of the person's (the id alone is
/// no credential), and still receiving alerts when `receiving`.
fn own_contact<'a>(
    person: &'a Person,
    form: &[(String, String)],
    receiving: bool,
) -> Result<&'a PersonContact> {
    let refused = || {
        Error::bad_request(
            "contact",
            "not one of this page's addresses receiving alerts",
        )
    };
    let id: i64 = field(form, "contact").parse().map_err(|_| refused())?;
    person
        .contacts
        .iter()
        .find(|c| c.id == id && !(receiving && c.opted_out))
        .ok_or_else(refused)
}

/// The page after a change: the person read again, with `notice` (made in
/// their language) on top.
async fn changed(
    state: &AppState,
    link: &str,
    person: &Person,
    notice: impl FnOnce(&Person, Language) -> String,
) -> Result<Response> {
    let person = reread(state, person).await?;
    let lang = person.language().unwrap_or(state.config.default_language);
    let notice = Some(notice(&person, lang));
    respond(
        StatusCode::OK,
        page(link, &person, lang, notice, Vec::new(), None),
    )
}

async fn reread(state: &AppState, person: &Person) -> Result<Person> {
    Ok(Person {
        contacts: state
            .store
            .person(person.channel, &person.destination)
            .await?,
        ..person.clone()
    })
}

async fn stop_address(
    axum::extract::State(state): State,
    Path(link): Path<String>,
    client: ClientAddr,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let person = match open(&state, &link, None).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let contact = own_contact(&person, &form, false)?;
    let via = Via::new(
        Method::UnsubscribeLink,
        "manage page",
        Some(client.0.to_string()),
    );
    state
        .store
        .opt_out(&contact.unsubscribe_token, &via, state.clock.now())
        .await?;
    changed(&state, &link, &person, |_, lang| {
        i18n::t(lang, "page-manage-saved")
    })
    .await
}

async fn stop(
    axum::extract::State(state): State,
    Path(link): Path<String>,
    client: ClientAddr,
) -> Result<Response> {
    let person = match open(&state, &link, None).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    manage::stop_everything(
        &state.store,
        &state.server_key,
        &person,
        Some(client.0.to_string()),
        state.clock.now(),
    )
    .await?;
    changed(&state, &link, &person, |p, lang| {
        i18n::t_args(
            lang,
            "page-manage-stopped-all",
            &i18n::args([("destination", p.destination.clone())]),
        )
    })
    .await
}

async fn export(axum::extract::State(state): State, Path(link): Path<String>) -> Result<Response> {
    let person = match open(&state, &link, None).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let data = state
        .store
        .export_person(person.channel, &person.destination)
        .await?;
    let body = serde_json::to_vec_pretty(&serde_json::json!({
        "exported_at": state.clock.now(),
        "channel": person.channel,
        "destination": person.destination,
        "contacts": data.contacts,
        "subscriptions": data.subscriptions,
        "consent": data.consent,
        "messages": data.messages,
    }))
    .map_err(|e| Error::Internal(e.into()))?;
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"herald-my-data.json\""),
    );
    Ok(private(r))
}

async fn delete(
    axum::extract::State(state): State,
    Path(link): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let person = match open(&state, &link, None).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let lang = person.language().unwrap_or(state.config.default_language);
    if field(&form, "confirm") != "yes" {
        let errors = vec![FieldError {
            field: "confirm",
            message: i18n::t(lang, "page-manage-delete-unconfirmed"),
        }];
        return respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&link, &person, lang, None, errors, None),
        );
    }
    // Calls this node noted and has not written would be written after the
    // erasure.
    state.calls.forget_number(&person.destination);
    let erased = manage::erase(&state.store, &state.server_key, &person, state.clock.now()).await?;
    tracing::info!(contacts = erased, "a resident erased their data");
    message(
        StatusCode::OK,
        lang,
        "page-manage-deleted-title",
        "page-manage-deleted",
    )
}

#[derive(Template)]
#[template(path = "pages/manage_request.html")]
struct RequestPage {
    w: Words,
    destination: String,
    error: Option<String>,
    sent: Option<String>,
}

async fn request_page(
    axum::extract::State(state): State,
    headers: axum::http::HeaderMap,
    Query(choice): Query<LangChoice>,
) -> Result<Response> {
    let (lang, _) = page_language(&state, &headers, choice.lang);
    let mut w = Words::new(lang);
    w.here = "/manage".into();
    let page = RequestPage {
        w,
        destination: String::new(),
        error: None,
        sent: None,
    };
    Ok(html_response(StatusCode::OK, render(page)?))
}

/// How long a requested link waits in the queue before it is not worth
/// sending.
const REQUEST_SEND_WITHIN: chrono::Duration = chrono::Duration::hours(1);

async fn request_link(
    axum::extract::State(state): State,
    client: ClientAddr,
    headers: axum::http::HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let lang = field(&form, "ui")
        .parse()
        .unwrap_or_else(|_| page_language(&state, &headers, None).0);
    let mut w = Words::new(lang);
    w.here = "/manage".into();
    let typed = field(&form, "destination").trim();
    let channel = if typed.contains('@') {
        Channel::Email
    } else {
        Channel::Sms
    };
    let region = state
        .config
        .region()
        .map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    let Ok(destination) = Destination::parse(channel, typed, region) else {
        let page = RequestPage {
            error: Some(w.t("page-manage-request-invalid")),
            destination: typed.chars().take(200).collect(),
            sent: None,
            w,
        };
        return Ok(html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            render(page)?,
        ));
    };
    let countries = state.config.subscribe_countries()?;
    // SMS abroad costs more and is where SMS pumping makes its money.
    let sendable = match &destination {
        Destination::Sms(phone) => phone.region().is_some_and(|r| countries.contains(&r)),
        Destination::Email(_) => true,
    };
    let mut person = state.store.person(channel, destination.as_str()).await?;
    // Mailboxes are case-insensitive in practice: `Anna@…` finds `anna@…`.
    let lower = destination.as_str().to_lowercase();
    if person.is_empty() && lower != destination.as_str() {
        person = state.store.person(channel, &lower).await?;
    }
    if let (true, Some(first)) = (sendable, person.first()) {
        let now = state.clock.now();
        let request = NewSubscription {
            address_id: first.address_id,
            channel,
            destination: first.destination.clone(),
            language: first.language,
            token: crate::auth::random_token(20),
            destination_key: destination.limit_key(),
            client_key: client_key(&state, &client),
            manage_link_for: Some(first.id),
        };
        match state
            .store
            .subscribe(
                &request,
                now,
                now + REQUEST_SEND_WITHIN,
                &sign_up_limits(&state),
            )
            .await?
        {
            Subscribed::Created(id) => {
                tracing::info!(subscription_id = id, %channel, "manage link requested");
                state.wake.all();
            }
            // Said the same way: a limit reached would tell who is registered.
            Subscribed::Limited { limit, .. } => {
                tracing::info!(?limit, %channel, "manage link request held back by a limit")
            }
        }
    }
    let page = RequestPage {
        sent: Some(i18n::t_args(
            lang,
            "page-manage-request-sent",
            &i18n::args([
                ("destination", destination.as_str().to_string()),
                (
                    "times",
                    state.config.subscribe.per_destination_per_day.to_string(),
                ),
            ]),
        )),
        destination: String::new(),
        error: None,
        w,
    };
    Ok(html_response(StatusCode::OK, render(page)?))
}

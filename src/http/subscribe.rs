//! Subscribing on the status page, with double opt-in.
//!
//! `GET /subscribe` finds the resident's address (or takes `?address=ID` from a
//! search result) and shows the form; `POST /subscribe` validates it and records a
//! request whose confirmation link goes out by the chosen channel; the link's page
//! (`GET /subscribe/confirm/{token}`) asks once more and its button
//! (`POST`) makes the resident a contact. The GET never changes anything, so mail
//! scanners that open links cannot subscribe anybody.
//!
//! The form is public and every post sends a message, so it is limited
//! (`[subscribe]`): SMS only to numbers of the configured countries; so many
//! confirmations per destination a day (an inbox counted however it is
//! spelled); so many sign-ups per client address an hour and a day; and a
//! budget of confirmation SMS per hour for everybody, after which sign-ups by
//! SMS are refused while sign-ups by e-mail go on. A refusal is a 429 with
//! `Retry-After`. Confirmations have their own rate bucket in the workers, so
//! a flood of sign-ups never delays an outage alert.

use std::sync::Arc;

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::client::ClientAddr;
use super::params::{self, FormParams, Params};
use super::public::{
    html_response, not_found, not_found_page, page, page_language, render, LangChoice, MessagePage,
    SearchQuery, Words,
};
use super::AppState;
use super::State;
use crate::domain::consent::{Method, Via, SIGN_UP_FORM_VERSION};
use crate::domain::contact::Destination;
use crate::domain::{Address, AddressForm, Channel, Language};
use crate::error::Result;
use crate::i18n;
use crate::store::{
    AddressRow, Confirmation, ConfirmedBy, NewSubscription, SignUpLimit, SignUpLimits, Subscribed,
};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/subscribe", get(form_page).post(submit))
        .route(
            "/subscribe/confirm/{token}",
            get(confirm_page).post(confirm),
        )
}

/// How long a confirmation link works.
const LINK_HOURS: i64 = 24;

pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

pub struct Choice {
    pub id: i64,
    pub label: String,
}

pub struct LanguageOption {
    pub code: &'static str,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "pages/subscribe.html")]
struct SubscribePage {
    w: Words,
    /// The chosen address, when there is one.
    address: Option<Choice>,
    /// Search for an address: the query and what it found.
    query: String,
    choices: Vec<Choice>,
    channel: String,
    destination: String,
    languages: Vec<LanguageOption>,
    errors: Vec<FieldError>,
}

impl SubscribePage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// An address as the form offers it: with its postcode, where there is one.
pub(super) fn label(lang: Language, a: &Address) -> String {
    i18n::address(lang, a, AddressForm::Postal)
}

async fn address(state: &AppState, id: Option<i64>) -> Result<Option<AddressRow>> {
    let Some(id) = id else {
        return Ok(None);
    };
    state.store.address(id).await
}

pub(super) fn languages(selected: Language) -> Vec<LanguageOption> {
    Language::ALL
        .iter()
        .map(|l| LanguageOption {
            code: l.as_str(),
            name: i18n::t(*l, "language-name"),
            selected: *l == selected,
        })
        .collect()
}

fn words(lang: Language, here: String) -> Words {
    let mut w = Words::new(lang);
    w.here = here;
    w
}

/// `GET /subscribe?address=` (and `q=` as on the search page, `lang=`, see
/// [`SearchQuery`] and [`LangChoice`]): the address chosen from a search result.
/// One that is not a number is no choice: the form then asks for the address.
#[derive(Debug, Deserialize)]
pub struct FormQuery {
    #[serde(default, deserialize_with = "params::lenient")]
    pub address: Option<i64>,
}

/// The addresses a search for `query` offers (none for an empty one), as
/// the sign-up form and the manage page's move list them.
pub(super) async fn address_choices(
    state: &AppState,
    lang: Language,
    query: &str,
) -> Result<Vec<Choice>> {
    if query.is_empty() {
        return Ok(Vec::new());
    }
    Ok(state
        .register
        .search(state.view().await?.addresses_version)
        .await?
        .search(query, 10)
        .into_iter()
        .map(|f| Choice {
            id: f.id,
            label: label(lang, &f.address),
        })
        .collect())
}

async fn form_page(
    axum::extract::State(state): State,
    Params(q): Params<FormQuery>,
    Params(search): Params<SearchQuery>,
    Params(choice): Params<LangChoice>,
    headers: HeaderMap,
) -> Result<Response> {
    let (lang, _) = page_language(&state, &headers, choice.lang);
    let chosen = address(&state, q.address).await?;
    let query = search.text();
    let choices = if chosen.is_none() {
        address_choices(&state, lang, &query).await?
    } else {
        Vec::new()
    };
    let here = match &chosen {
        Some(a) => format!("/subscribe?address={}", a.id),
        None if !query.is_empty() => format!("/subscribe?q={}", super::public::urlencode(&query)),
        None => "/subscribe".into(),
    };
    let w = words(lang, here);
    let body = render(SubscribePage {
        languages: languages(lang),
        address: chosen.as_ref().map(|a| Choice {
            id: a.id,
            label: label(lang, &a.address),
        }),
        query,
        choices,
        channel: "email".into(),
        destination: String::new(),
        errors: Vec::new(),
        w,
    })?;
    Ok(html_response(StatusCode::OK, body))
}

/// `POST /subscribe`, the form's fields. None of them is refused with a 4xx of
/// its own: what does not parse is absent, and the form comes back (422) with
/// the problem shown next to the field, in the language the form was shown in
/// (`ui`).
#[derive(Debug, Deserialize)]
pub struct SubscribeForm {
    #[serde(default, deserialize_with = "params::lenient")]
    pub ui: Option<Language>,
    #[serde(default, deserialize_with = "params::lenient")]
    pub address: Option<i64>,
    #[serde(default, deserialize_with = "params::lenient")]
    pub channel: Option<Channel>,
    /// Kept as typed (trimmed): how it is read depends on the channel, and a
    /// bad one is shown again for correcting.
    #[serde(default, deserialize_with = "params::trimmed")]
    pub destination: String,
    #[serde(default, deserialize_with = "params::lenient")]
    pub language: Option<Language>,
}

/// The sign-up limits' key for a client: a keyed hash of its address (its
/// /64 for IPv6), shared by the manage-link form, whose messages count in the
/// same limits.
pub(super) fn client_key(state: &AppState, client: &ClientAddr) -> String {
    state.server_key.sign("sign-up client", &client.limit_key())
}

/// The sign-up limits from the configuration.
pub(super) fn sign_up_limits(state: &AppState) -> SignUpLimits {
    let limits = &state.config.subscribe;
    SignUpLimits {
        per_destination_per_day: limits.per_destination_per_day,
        per_client_per_hour: limits.per_client_per_hour,
        per_client_per_day: limits.per_client_per_day,
        sms_per_hour: limits.sms_confirmations_per_hour,
    }
}

async fn submit(
    axum::extract::State(state): State,
    client: ClientAddr,
    headers: HeaderMap,
    FormParams(form): FormParams<SubscribeForm>,
) -> Result<Response> {
    // Errors come back in the language the form was shown in.
    let lang = match form.ui {
        Some(l) => l,
        None => page_language(&state, &headers, None).0,
    };
    let w = Words::new(lang);
    let mut errors = Vec::new();
    let chosen = address(&state, form.address).await?;
    if chosen.is_none() {
        errors.push(FieldError {
            field: "address",
            message: w.t("page-error-address"),
        });
    }
    let channel = form.channel;
    if channel.is_none() {
        errors.push(FieldError {
            field: "channel",
            message: w.t("page-error-channel"),
        });
    }
    let countries = state.config.subscribe_countries()?;
    let destination = channel.and_then(|c| {
        let parsed = Destination::parse(c, &form.destination, state.config.region().ok()?);
        let message = match &parsed {
            Err(_) => w.t(match c {
                Channel::Email => "page-error-email",
                Channel::Sms => "page-error-phone",
            }),
            // SMS abroad costs more and is where SMS pumping makes its money.
            Ok(Destination::Sms(phone))
                if !phone.region().is_some_and(|r| countries.contains(&r)) =>
            {
                let names: Vec<String> = countries.iter().map(|r| format!("{r:?}")).collect();
                i18n::t_args(
                    lang,
                    "page-error-phone-country",
                    &i18n::args([("countries", names.join(", "))]),
                )
            }
            Ok(_) => return parsed.ok(),
        };
        errors.push(FieldError {
            field: "destination",
            message,
        });
        None
    });
    let language = form.language;
    if language.is_none() {
        errors.push(FieldError {
            field: "language",
            message: w.t("page-error-language"),
        });
    }
    let (Some(a), Some(channel), Some(destination), Some(language), true) = (
        chosen.as_ref(),
        channel,
        destination,
        language,
        errors.is_empty(),
    ) else {
        let here = chosen.as_ref().map_or("/subscribe".into(), |a| {
            format!("/subscribe?address={}", a.id)
        });
        let w = words(lang, here);
        let body = render(SubscribePage {
            languages: languages(language.unwrap_or(lang)),
            address: chosen.as_ref().map(|a| Choice {
                id: a.id,
                label: label(lang, &a.address),
            }),
            query: String::new(),
            choices: Vec::new(),
            // The template only checks for "sms": an unreadable channel shows
            // as email, the default, as the raw text always did.
            channel: channel.map_or("", Channel::as_str).to_string(),
            destination: form.destination.chars().take(200).collect(),
            errors,
            w,
        })?;
        return Ok(html_response(StatusCode::UNPROCESSABLE_ENTITY, body));
    };
    let now = state.clock.now();
    let request = NewSubscription {
        address_id: a.id,
        channel,
        destination: destination.as_str().to_string(),
        language,
        token: crate::auth::random_token(20),
        destination_key: destination.limit_key(),
        client_key: client_key(&state, &client),
        manage_link_for: None,
    };
    let outcome = state
        .store
        .subscribe(
            &request,
            now,
            now + chrono::Duration::hours(LINK_HOURS),
            &sign_up_limits(&state),
        )
        .await?;
    // The answer is in the language the alerts will be in: the one just chosen.
    let w = Words::new(language);
    let args = i18n::args([
        ("destination", request.destination.clone()),
        ("address", label(language, &a.address)),
    ]);
    let (title, text, retry_after) = match outcome {
        Subscribed::Created(id) => {
            tracing::info!(subscription_id = id, %channel, "subscription requested");
            state.wake.all();
            (
                w.t("page-subscribe-sent-title"),
                i18n::t_args(language, "page-subscribe-sent", &args),
                None,
            )
        }
        Subscribed::Limited { limit, retry_at } => {
            let seconds = (retry_at - now).num_seconds().max(1);
            let minutes = i18n::args([("minutes", ((seconds + 59) / 60).to_string())]);
            tracing::info!(?limit, seconds, %channel, "sign-up refused by a limit");
            let text = match limit {
                SignUpLimit::Destination => {
                    i18n::t_args(language, "page-subscribe-too-many", &args)
                }
                SignUpLimit::Client => i18n::t_args(language, "page-subscribe-slow-down", &minutes),
                SignUpLimit::SmsBudget => {
                    i18n::t_args(language, "page-subscribe-sms-busy", &minutes)
                }
            };
            (w.t("page-subscribe-title"), text, Some(seconds))
        }
    };
    let status = match retry_after {
        None => StatusCode::OK,
        Some(_) => StatusCode::TOO_MANY_REQUESTS,
    };
    let mut response = page(
        status,
        MessagePage {
            w,
            title,
            text,
            form_action: None,
            button: String::new(),
        },
    )?;
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(seconds),
        );
    }
    Ok(response)
}

fn message(w: Words, title: String, text: String) -> MessagePage {
    MessagePage {
        w,
        title,
        text,
        form_action: None,
        button: String::new(),
    }
}

async fn confirm_page(
    axum::extract::State(state): State,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let Some(s) = state.store.subscription(&token).await? else {
        return not_found_page(&state, &headers);
    };
    let w = Words::new(s.language);
    let title = w.t("page-confirm-title");
    if s.confirmed {
        let text = w.t("page-confirm-already");
        return page(StatusCode::OK, message(w, title, text));
    }
    if s.expires_at < state.clock.now() {
        let text = w.t("page-confirm-expired");
        return page(StatusCode::GONE, message(w, title, text));
    }
    let text = i18n::t_args(
        s.language,
        "page-confirm-question",
        &i18n::args([
            ("address", label(s.language, &s.address)),
            ("destination", s.destination),
        ]),
    );
    let button = w.t("page-confirm-button");
    page(
        StatusCode::OK,
        MessagePage {
            w,
            title,
            text,
            form_action: Some(format!("/subscribe/confirm/{token}")),
            button,
        },
    )
}

async fn confirm(
    axum::extract::State(state): State,
    Path(token): Path<String>,
    client: ClientAddr,
    headers: HeaderMap,
) -> Result<Response> {
    let Some(s) = state.store.subscription(&token).await? else {
        return not_found_page(&state, &headers);
    };
    let now = state.clock.now();
    let ttl = state.config.delivery.ttl();
    let via = Via::new(
        Method::ConfirmationLink,
        SIGN_UP_FORM_VERSION,
        Some(client.0.to_string()),
    );
    let confirmed = ConfirmedBy {
        via: &via,
        suppression: &state.server_key.suppression(s.channel, &s.destination),
    };
    let outcome = state
        .store
        .confirm_subscription(&token, &confirmed, now, now + ttl)
        .await?;
    let w = Words::new(s.language);
    let title = w.t("page-confirm-title");
    let (status, text) = match outcome {
        Confirmation::Confirmed { contact_id, queued } => {
            tracing::info!(contact_id, queued, "subscription confirmed");
            state.published.touch();
            let mut text = i18n::t_args(
                s.language,
                "page-confirmed",
                &i18n::args([
                    ("address", label(s.language, &s.address)),
                    ("destination", s.destination),
                ]),
            );
            if queued > 0 {
                state.wake.all();
                text = format!("{text} {}", w.t("page-confirmed-queued"));
            }
            (StatusCode::OK, text)
        }
        Confirmation::AlreadyConfirmed => (StatusCode::OK, w.t("page-confirm-already")),
        Confirmation::Expired => (StatusCode::GONE, w.t("page-confirm-expired")),
        Confirmation::Unknown => return not_found(s.language).map(|(st, b)| html_response(st, b)),
    };
    page(status, message(w, title, text))
}

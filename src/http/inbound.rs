//! Webhooks for text messages to Herald's number, one per gateway Herald
//! sends through; what a message does and the reply are [`crate::inbound`]'s.
//!
//! - `POST /sms/v1/inbound/twilio`: Twilio's messaging webhook (form fields
//!   `From`, `To`, `Body`), authenticated by `X-Twilio-Signature`: base64 of
//!   HMAC-SHA1, keyed with `sms.twilio.auth_token`, over the URL Twilio called
//!   (`public_url` + path and query) followed by every POST parameter's name
//!   and value, sorted by name. The reply is TwiML
//!   (`<Response><Message>…</Message></Response>`; `<Response/>` for none).
//! - `GET|POST /sms/v1/inbound/kannel`: Kannel's `sms-service` with
//!   `get-url = "…/sms/v1/inbound/kannel?secret=…&from=%p&text=%a"`,
//!   authenticated by the shared secret `sms.inbound_secret` (parameters from
//!   the query, or from a form body). The reply is `text/plain`, which Kannel
//!   sends back; empty for none (set `omit-empty = true` in the service).
//!
//! A request that fails its check gets 403 before anything is read or changed;
//! with no token or secret configured, every request fails it.

use std::sync::Arc;

use axum::extract::{FromRequest, OriginalUri, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::params;
use super::AppState;
use super::State;
use crate::domain::Phone;
use crate::error::{Error, Result};
use crate::inbound::{self, Context, Message};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/sms/v1/inbound/twilio", post(twilio))
        .route("/sms/v1/inbound/kannel", get(kannel).post(kannel))
}

/// The longest message read: a concatenated SMS of ten parts, and room.
const MAX_TEXT: usize = 2_000;

/// What both gateways hand over, under their own names.
#[derive(Debug, Deserialize)]
struct TwilioForm {
    #[serde(rename = "From")]
    from: String,
    #[serde(rename = "Body", default)]
    body: String,
}

#[derive(Debug, Deserialize)]
struct KannelParams {
    from: String,
    #[serde(default)]
    text: String,
}

pub(super) fn forbidden(why: &'static str) -> Response {
    tracing::warn!(why, "SMS webhook refused");
    (StatusCode::FORBIDDEN, why).into_response()
}

/// Twilio's signature of a request: see the module docs.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The POST parameters of a request Twilio signed, or the 403 for one it did
/// not (see the module docs); also the status callbacks' check.
pub(super) async fn twilio_signed_form(
    state: &Arc<AppState>,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    request: Request,
) -> Result<std::result::Result<Vec<(String, String)>, Response>> {
    let token = state.config.sms.twilio.auth_token.expose();
    let Some(signature) = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(Err(forbidden("X-Twilio-Signature missing")));
    };
    if token.is_empty() {
        return Ok(Err(forbidden("sms.twilio.auth_token is not configured")));
    }
    let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(request, state)
        .await
        .map_err(|e| Error::bad_request("body", e.body_text()))?;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{}{path}", state.config.public_url());
    if !same(&twilio_signature(token, &url, &pairs), signature) {
        return Ok(Err(forbidden("X-Twilio-Signature does not match")));
    }
    Ok(Ok(pairs))
}

async fn twilio(
    axum::extract::State(state): State,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let pairs = match twilio_signed_form(&state, &uri, &headers, request).await? {
        Ok(pairs) => pairs,
        Err(refused) => return Ok(refused),
    };
    let form: TwilioForm = params::from_pairs(pairs)?;
    let reply = receive(&state, "twilio", ("From", &form.from), ("Body", &form.body)).await?;
    let twiml = match reply {
        Some(text) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Message>{}</Message></Response>\n",
            xml_text(&text)
        ),
        None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n".to_string(),
    };
    Ok(([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], twiml).into_response())
}

async fn kannel(
    axum::extract::State(state): State,
    method: Method,
    OriginalUri(uri): OriginalUri,
    request: Request,
) -> Result<Response> {
    let axum::extract::Query(mut pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
            .map_err(|e| Error::bad_request("query", e.body_text()))?;
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if method == Method::POST && is_form {
        let axum::Form(body) = axum::Form::<Vec<(String, String)>>::from_request(request, &state)
            .await
            .map_err(|e| Error::bad_request("body", e.body_text()))?;
        pairs.extend(body);
    }
    let expected = state.config.sms.inbound_secret.expose();
    let given = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.as_str());
    match given {
        None => return Ok(forbidden("secret missing")),
        Some(_) if expected.is_empty() => {
            return Ok(forbidden("sms.inbound_secret is not configured"))
        }
        Some(g) if !same(g, expected) => return Ok(forbidden("secret does not match")),
        Some(_) => {}
    }
    pairs.retain(|(k, _)| k != "secret");
    let p: KannelParams = params::from_pairs(pairs)?;
    let reply = receive(&state, "kannel", ("from", &p.from), ("text", &p.text)).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        reply.unwrap_or_default(),
    )
        .into_response())
}

/// Reads the sender and the text (each named as its gateway names it, for
/// errors), and hands the message to [`inbound::receive`].
async fn receive(
    state: &AppState,
    gateway: &'static str,
    (from_field, from): (&str, &str),
    (text_field, text): (&str, &str),
) -> Result<Option<String>> {
    if text.chars().count() > MAX_TEXT {
        return Err(Error::bad_request(
            text_field,
            format!("is longer than {MAX_TEXT} characters"),
        ));
    }
    // A '+' Kannel did not escape arrives as a space.
    let from = match from.strip_prefix(' ') {
        Some(rest) if rest.bytes().all(|b| b.is_ascii_digit()) => format!("+{rest}"),
        _ => from.to_string(),
    };
    let phone = Phone::parse(&from, state.config.region()?)
        .map_err(|e| Error::bad_request(from_field, e.to_string()))?;
    let view = state.view().await?;
    let book = state.register.book(view.addresses_version).await?;
    let callers = state.register.callers(view.contacts_version).await?;
    let ctx = Context {
        store: &state.store,
        view: &view,
        book: &book,
        callers: &callers,
        places: &state.places,
        config: &state.config,
        key: &state.server_key,
        tz: state.tz,
        now: state.clock.now(),
    };
    let outcome = inbound::receive(
        &ctx,
        &Message {
            from: &phone,
            text,
            gateway,
        },
    )
    .await?;
    if outcome.consent_changed {
        state.published.touch();
    }
    metrics::counter!(
        "herald_sms_inbound_total",
        "keyword" => outcome.keyword,
        "replied" => if outcome.reply.is_some() { "true" } else { "false" }
    )
    .increment(1);
    tracing::info!(
        gateway,
        keyword = outcome.keyword,
        replied = outcome.reply.is_some(),
        "text message received"
    );
    Ok(outcome.reply)
}

/// Text as XML character data.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if crate::domain::text::is_forbidden(c) => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Twilio's documentation ("Validating requests").
    #[test]
    fn twilio_signature_matches_twilios_own_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675310"),
            ("Digits", "1234"),
            ("From", "+14158675310"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
    }

    #[test]
    fn replies_are_escaped_for_twiml() {
        assert_eq!(xml_text("a<b & c>\u{7}"), "a&lt;b &amp; c&gt; ");
    }
}

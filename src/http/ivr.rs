//! The IVR feed: what the utility's phone system says to a caller.
//!
//! `GET /ivr/v1/status` answers for a caller's number, a postcode, an address, a
//! reference or a point, as JSON, SSML, VoiceXML (with a "press 1 to repeat, press
//! 2 for an SMS" menu) or plain text. Answers carry a strong `ETag` derived from the
//! published outage state, so a polling IVR gets `304 Not Modified` until something
//! changes. `POST /ivr/v1/sms` queues the current status as an SMS to the caller.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::params::{self, Params};
use super::AppState;
use super::{conditional, State};
use crate::auth::Access;
use crate::domain::contact::MAX_PHONE_INPUT;
use crate::domain::{Language, Phone, Reference};
use crate::error::{Error, Result};
use crate::i18n;
use crate::published::View;
use crate::status::{self, Answer, Place};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ivr/v1/status", get(status_handler))
        .route("/ivr/v1/sms", get(request_sms).post(request_sms))
        .route("/ivr/v1/feed", get(feed))
}

/// Who may keep a copy of an answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Any cache: the answer holds nothing personal.
    Public,
    /// Only the client that asked (an answer by a caller's number).
    Caller,
}

/// Sets the validators every IVR answer carries.
fn cache_headers(
    response: &mut Response,
    tag: &str,
    changed_at: chrono::DateTime<chrono::Utc>,
    audience: Audience,
) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(match audience {
            Audience::Public => "public, max-age=5",
            Audience::Caller => "private, max-age=5",
        }),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Language"),
    );
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(changed_at.into())) {
        h.insert(header::LAST_MODIFIED, v);
    }
}

/// Every open outage with where it is and what to say, in every language: for
/// IVR platforms that cache the lot and answer callers themselves. Built once
/// per published version.
async fn feed(axum::extract::State(state): State, headers: HeaderMap) -> Result<Response> {
    let published = state.view().await?;
    let tag = format!("\"feed-v{}\"", published.tag);
    if conditional::not_modified(&headers, &tag) {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        cache_headers(&mut r, &tag, published.changed_at, Audience::Public);
        return Ok(r);
    }
    let body = match state.feed_cache.get(&published.tag, "") {
        Some(body) => body,
        None => {
            let body = build_feed(&state, &published).await?;
            state
                .feed_cache
                .put(&published.tag, String::new(), body.clone());
            body
        }
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    cache_headers(&mut r, &tag, published.changed_at, Audience::Public);
    Ok(r)
}

async fn build_feed(state: &AppState, view: &View) -> Result<axum::body::Bytes> {
    let now = state.clock.now();
    let book = state.register.book(view.addresses_version).await?;
    let mut items = Vec::new();
    for open in view.open.all() {
        let o = &open.outage;
        let places = state.places.get(&state.store, view, &book, o.id).await?;
        let mut settlements: Vec<&str> = places.iter().map(|p| p.0.as_str()).collect();
        settlements.dedup();
        // Addresses without a postcode add none.
        let mut postcodes: Vec<&str> = places
            .iter()
            .map(|p| p.1.as_str())
            .filter(|p| !p.is_empty())
            .collect();
        postcodes.sort_unstable();
        postcodes.dedup();
        let streets: Vec<serde_json::Value> = places
            .iter()
            .map(|(settlement, postcode, street)| {
                serde_json::json!({"settlement": settlement, "postcode": postcode, "street": street})
            })
            .collect();
        let label = settlements.join(", ");
        let sentences: serde_json::Map<String, serde_json::Value> = Language::ALL
            .iter()
            .map(|l| {
                let s = status::sentence(state.tz, o, &label, *l, now);
                (l.as_str().to_string(), serde_json::Value::String(s))
            })
            .collect();
        items.push(serde_json::json!({
            "reference": o.reference,
            "utility": o.utility,
            "kind": o.kind,
            "status": o.status,
            "cause": o.cause,
            "etr": o.etr.as_option(),
            "etr_state": status::etr_state(o, now),
            "starts_at": o.starts_at,
            "updated_at": o.updated_at,
            "affected_addresses": o.affected_addresses,
            "settlements": settlements,
            "postcodes": postcodes,
            "streets": streets,
            "sentences": sentences,
        }));
    }
    let body = serde_json::json!({
        "version": view.version,
        "generated_at": now,
        "outages": items,
    });
    Ok(axum::body::Bytes::from(body.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Ssml,
    Vxml,
    Text,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ssml => "application/ssml+xml; charset=utf-8",
            Format::Vxml => "application/voicexml+xml; charset=utf-8",
            Format::Text => "text/plain; charset=utf-8",
        }
    }

    /// `format=` wins; otherwise the first type in `Accept` we can produce.
    fn negotiate(format: Option<Format>, headers: &HeaderMap) -> Format {
        if let Some(f) = format {
            return f;
        }
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for part in accept.split(',') {
            let media = part.split(';').next().unwrap_or("").trim();
            match media {
                "application/ssml+xml" => return Format::Ssml,
                "application/voicexml+xml" => return Format::Vxml,
                "text/plain" => return Format::Text,
                "application/json" => return Format::Json,
                _ => {}
            }
        }
        Format::Json
    }
}

impl std::str::FromStr for Format {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Format, &'static str> {
        match s {
            "json" => Ok(Format::Json),
            "ssml" => Ok(Format::Ssml),
            "vxml" | "voicexml" => Ok(Format::Vxml),
            "text" | "txt" => Ok(Format::Text),
            _ => Err("expected json, ssml, vxml or text"),
        }
    }
}

/// `GET /ivr/v1/status?format=&phone=&postcode=&address_id=&reference=&lat=&lon=`
/// (and `lang=`, see [`LangQuery`]). `format` given but empty is an error.
///
/// The place parameters are kept as given (trimmed; blank is absent) and read by
/// [`StatusQuery::lookup`] in order of precedence, so one that is not used is
/// never validated: `?phone=…&reference=junk` answers for the phone, as always.
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    #[serde(default, deserialize_with = "params::parsed")]
    format: Option<Format>,
    #[serde(default, deserialize_with = "params::non_blank")]
    phone: Option<String>,
    #[serde(default, deserialize_with = "params::non_blank")]
    postcode: Option<String>,
    #[serde(default, deserialize_with = "params::non_blank")]
    address_id: Option<String>,
    #[serde(default, deserialize_with = "params::non_blank")]
    reference: Option<String>,
    #[serde(default, deserialize_with = "params::non_blank")]
    lat: Option<String>,
    #[serde(default, deserialize_with = "params::non_blank")]
    lon: Option<String>,
}

/// What the caller asked about, validated; a phone number is resolved later
/// (through the caller-id cache), since an unreadable one is not an error.
#[derive(Debug, Clone, PartialEq)]
enum Lookup {
    Phone(String),
    Postcode(String),
    Address(String),
    Reference(Reference),
    Point { lon: f64, lat: f64 },
}

impl StatusQuery {
    /// The one place the query names: the first of phone, postcode, address_id,
    /// reference, lat and lon.
    fn lookup(&self) -> Result<Lookup> {
        if let Some(phone) = &self.phone {
            // A caller id the platform could not read ("anonymous") is an
            // unknown caller; a string longer than any number is no caller id
            // at all, and is refused before it reaches a cache or a parser.
            if phone.chars().count() > MAX_PHONE_INPUT {
                return Err(Error::bad_request(
                    "phone",
                    format!("longer than any phone number ({MAX_PHONE_INPUT} characters at most)"),
                ));
            }
            return Ok(Lookup::Phone(phone.clone()));
        }
        if let Some(pc) = &self.postcode {
            let pc: String = pc.chars().filter(|c| !c.is_whitespace()).collect();
            if pc.is_empty()
                || pc.len() > 12
                || !pc.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(Error::bad_request(
                    "postcode",
                    "expected a postcode such as 1114 or 80-244",
                ));
            }
            return Ok(Lookup::Postcode(pc));
        }
        if let Some(id) = &self.address_id {
            return Ok(Lookup::Address(id.clone()));
        }
        if let Some(r) = &self.reference {
            return Reference::parse(r)
                .map(Lookup::Reference)
                .map_err(|e| Error::bad_request("reference", e.to_string()));
        }
        match (&self.lat, &self.lon) {
            (Some(lat), Some(lon)) => {
                let parse = |v: &str, field: &str, limit: f64| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && x.abs() <= limit)
                        .ok_or_else(|| {
                            Error::bad_request(field, format!("expected a number within ±{limit}"))
                        })
                };
                let (lat, lon) = (parse(lat, "lat", 90.0)?, parse(lon, "lon", 180.0)?);
                Ok(Lookup::Point { lon, lat })
            }
            (Some(_), None) => Err(Error::bad_request("lon", "lat needs lon")),
            (None, Some(_)) => Err(Error::bad_request("lat", "lon needs lat")),
            (None, None) => Err(Error::bad_request(
                "query",
                "give one of phone, postcode, address_id, reference, or lat and lon",
            )),
        }
    }
}

/// `lang=` on the IVR's endpoints: hu, pl or en (also `hu-HU`…); empty is absent.
/// Its own struct because both endpoints check it last, after the place or the
/// phone, and take it as `Result<Params<LangQuery>, Error>` to do so.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    #[serde(default, deserialize_with = "params::non_empty")]
    lang: Option<IvrLanguage>,
}

/// A [`Language`] with the IVR's message for a bad one.
#[derive(Debug, Clone, Copy)]
struct IvrLanguage(Language);

impl std::str::FromStr for IvrLanguage {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<IvrLanguage, &'static str> {
        s.parse()
            .map(IvrLanguage)
            .map_err(|_| "expected hu, pl or en")
    }
}

/// The place to answer for and its canonical form (also part of the ETag).
/// A caller id is read through `callers` (the view's caller map) first.
fn place(
    lookup: Lookup,
    state: &AppState,
    callers: Option<&crate::register::CallerMap>,
) -> Result<(Place, String)> {
    let region = state.config.region()?;
    Ok(match lookup {
        // An unreadable caller id ("anonymous", a short code) is an unknown caller,
        // not an error: the IVR must still have something to say.
        Lookup::Phone(phone) => match callers
            .and_then(|c| c.registered(&phone))
            .or_else(|| state.caller_ids.parse(&phone, region))
        {
            Some(p) => {
                let key = format!("phone={}", p.as_str());
                (Place::Phone(p), key)
            }
            None => (Place::UnknownCaller, "phone=?".into()),
        },
        Lookup::Postcode(pc) => {
            let key = format!("postcode={pc}");
            (Place::Postcode(pc), key)
        }
        Lookup::Address(id) => {
            let key = format!("address_id={id}");
            (Place::Address(id), key)
        }
        Lookup::Reference(r) => {
            let key = format!("reference={r}");
            (Place::Reference(r), key)
        }
        Lookup::Point { lon, lat } => (Place::Point { lon, lat }, format!("point={lon},{lat}")),
    })
}

/// `lang=`, else `Accept-Language`, else the configured default.
fn language(q: &LangQuery, headers: &HeaderMap, state: &AppState) -> Language {
    if let Some(IvrLanguage(l)) = q.lang {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::domain::contact::negotiate)
        .unwrap_or(state.config.default_language)
}

fn locale(lang: Language) -> &'static str {
    match lang {
        Language::Hu => "hu-HU",
        Language::Pl => "pl-PL",
        Language::En => "en-GB",
    }
}

#[derive(Template)]
#[template(path = "ivr/status.ssml", escape = "html")]
struct Ssml<'a> {
    locale: &'a str,
    sentences: Vec<&'a str>,
}

#[derive(Template)]
#[template(path = "ivr/status.vxml", escape = "html")]
struct Vxml<'a> {
    locale: &'a str,
    sentences: Vec<&'a str>,
    repeat: String,
    sms_offer: Option<String>,
    sms_url: Option<String>,
}

#[derive(Template)]
#[template(path = "ivr/goodbye.vxml", escape = "html")]
struct Goodbye<'a> {
    locale: &'a str,
    text: &'a str,
}

/// The JSON answer: the answer's fields, then what was asked and the view's
/// version.
#[derive(serde::Serialize)]
struct JsonAnswer<'a> {
    #[serde(flatten)]
    answer: &'a Answer,
    query: &'a str,
    version: i64,
}

fn sentences(a: &Answer) -> Vec<&str> {
    if a.outages.is_empty() {
        vec![a.sentence.as_str()]
    } else {
        a.outages.iter().map(|o| o.sentence.as_str()).collect()
    }
}

fn render(
    format: Format,
    answer: &Answer,
    query: &str,
    version: i64,
    sms_url: Option<String>,
) -> Result<String> {
    let lang = answer.language;
    let template_error = |e: askama::Error| Error::Internal(anyhow::anyhow!("IVR template: {e}"));
    Ok(match format {
        // Written straight from the answer: no `Value` tree of copies per call.
        Format::Json => serde_json::to_string(&JsonAnswer {
            answer,
            query,
            version,
        })
        .map_err(|e| Error::Internal(e.into()))?,
        Format::Text => format!("{}\n", answer.sentence),
        Format::Ssml => Ssml {
            locale: locale(lang),
            sentences: sentences(answer),
        }
        .render()
        .map_err(template_error)?,
        Format::Vxml => Vxml {
            locale: locale(lang),
            sentences: sentences(answer),
            repeat: i18n::t(lang, "ivr-menu-repeat"),
            sms_offer: sms_url.as_ref().map(|_| i18n::t(lang, "ivr-menu-sms")),
            sms_url,
        }
        .render()
        .map_err(template_error)?,
    })
}

/// The answer's tag: the view's, and 64 bits of a digest of what else the
/// answer depends on (a number stays out of the header). Hashed piece by piece
/// and only the part used written out: every request by phone computes one.
fn etag(view: &str, query: &str, lang: Language, format: Format) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(query)
        .chain_update(b"|")
        .chain_update(lang.as_str())
        .chain_update(b"|")
        .chain_update(format.content_type())
        .finalize();
    format!("\"v{view}-{}\"", hex::encode(&digest[..8]))
}

/// Caller ids already read with libphonenumber's rules (~19 µs each): those
/// not written exactly as a registered number (see
/// [`crate::register::CallerMap::registered`]), such as a national spelling or
/// an unregistered number polled over and over. A lookup here is well under a
/// microsecond. Emptied when full, so it stays bounded.
#[derive(Default)]
pub struct CallerIds(std::sync::Mutex<HashMap<String, Option<Phone>>>);

const CALLER_IDS: usize = 100_000;

impl CallerIds {
    fn parse(&self, raw: &str, region: crate::domain::contact::Region) -> Option<Phone> {
        if let Some(known) = self.0.lock().expect("caller ids").get(raw) {
            return known.clone();
        }
        let parsed = Phone::parse(raw, region).ok();
        let mut map = self.0.lock().expect("caller ids");
        if map.len() >= CALLER_IDS {
            map.clear();
        }
        map.insert(raw.to_string(), parsed.clone());
        parsed
    }
}

/// A rendered IVR answer, kept for the rest of its view.
#[derive(Clone)]
pub struct CachedAnswer {
    body: axum::body::Bytes,
    content_type: &'static str,
    language: Language,
    /// The outages the answer names (a call by phone is recorded for them).
    heard: Arc<[i64]>,
}

impl crate::published::Weigh for CachedAnswer {
    fn weight(&self) -> usize {
        self.body.len() + std::mem::size_of_val(&*self.heard)
    }
}

async fn status_handler(
    axum::extract::State(state): State,
    Params(q): Params<StatusQuery>,
    // Checked after the place, as it always was.
    lang: Result<Params<LangQuery>, Error>,
    headers: HeaderMap,
) -> Result<Response> {
    let format = Format::negotiate(q.format, &headers);
    let lookup = q.lookup()?;
    // A number is personal data: who lives where. Only the phone platform (or
    // an operator) may ask by number; every other place is public and says
    // nothing about contacts.
    let audience = match lookup {
        Lookup::Phone(_) => {
            state
                .credentials
                .check(&state, &headers, Access::Ivr)
                .await?;
            Audience::Caller
        }
        _ => Audience::Public,
    };
    let published = state.view().await?;
    let callers = match lookup {
        Lookup::Phone(_) => Some(state.register.callers(published.contacts_version).await?),
        _ => None,
    };
    let (place, query) = place(lookup, &state, callers.as_deref())?;
    let lang = language(&lang?.0, &headers, &state);
    // An answer by number also depends on the contacts (a new registration,
    // an opt-out withdrawing the SMS offer): their version is part of its tag.
    let scope = match place {
        Place::Phone(_) => format!("{query}|contacts {}", published.contacts_version),
        _ => query.clone(),
    };
    let tag = etag(&published.tag, &scope, lang, format);
    let not_modified = conditional::not_modified(&headers, &tag);
    // Every valid query has an answer (if only "we could not find…"), so a
    // representation always exists and `*` may match. A call by phone is
    // recorded with the outages its answer names, so its answer is read even
    // when the IVR already has it.
    let cached = match (&place, not_modified) {
        (Place::Phone(_), _) | (_, false) => {
            Some(match state.ivr_answers.get(&published.tag, &tag) {
                Some(c) => c,
                None => {
                    let c = answer(&state, &place, lang, format, &query, &published).await?;
                    state
                        .ivr_answers
                        .put(&published.tag, tag.clone(), c.clone());
                    c
                }
            })
        }
        _ => None,
    };
    if let (Place::Phone(number), Some(c)) = (&place, &cached) {
        state.calls.record(number, state.clock.now(), &c.heard);
    }
    let mut response = match cached {
        Some(cached) if !not_modified => {
            let mut r = (StatusCode::OK, cached.body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(cached.content_type),
            );
            h.insert(
                header::CONTENT_LANGUAGE,
                HeaderValue::from_static(cached.language.as_str()),
            );
            r
        }
        _ => StatusCode::NOT_MODIFIED.into_response(),
    };
    cache_headers(&mut response, &tag, published.changed_at, audience);
    Ok(response)
}

/// Looks up and renders one answer.
async fn answer(
    state: &AppState,
    place: &Place,
    lang: Language,
    format: Format,
    query: &str,
    view: &View,
) -> Result<CachedAnswer> {
    let book = state.register.book(view.addresses_version).await?;
    let callers = state.register.callers(view.contacts_version).await?;
    let ask = status::Ask {
        store: &state.store,
        view,
        book: &book,
        callers: &callers,
        places: &state.places,
        tz: state.tz,
        now: state.clock.now(),
        sentences: &state.sentences,
        speak_address: state.config.ivr.speak_address,
    };
    let answer = status::answer(&ask, place, lang).await?;
    // The link carries its own credential: the VoiceXML browser that follows
    // it sends none of ours.
    let sms_url = match (place, answer.may_text) {
        (Place::Phone(p), true) => Some(format!(
            "{}/ivr/v1/sms?phone={}&lang={}&sig={}",
            state.config.public_url(),
            p.as_str().replace('+', "%2B"),
            answer.language.as_str(),
            state.server_key.sign(SMS_LINK, p.as_str()),
        )),
        _ => None,
    };
    let body = render(format, &answer, query, view.version, sms_url)?;
    Ok(CachedAnswer {
        // An exact copy: the rendered `String` has room to spare, which a
        // cached body would keep, beyond what the cache weighs.
        body: axum::body::Bytes::copy_from_slice(body.as_bytes()),
        content_type: format.content_type(),
        language: answer.language,
        heard: answer.outages.iter().map(|o| o.id).collect(),
    })
}

/// What the "press 2" link's signature is for (see [`crate::auth::ServerKey`]).
const SMS_LINK: &str = "ivr-sms";

/// `GET|POST /ivr/v1/sms?phone=` (required; and `lang=`, see [`LangQuery`]),
/// with an `ivr` token or the `sig=` of the link an IVR answer offered. The
/// number is read with the configured region, so in the handler.
#[derive(Debug, Deserialize)]
pub struct SmsQuery {
    phone: String,
    #[serde(default, deserialize_with = "params::non_blank")]
    sig: Option<String>,
}

/// "Press 2": queue the current status as an SMS to the caller's registered
/// number: only a contact who has not opted out, once per outage and number.
/// The answer is the same whether or not anything was queued.
async fn request_sms(
    axum::extract::State(state): State,
    Params(q): Params<SmsQuery>,
    // Checked after the phone number, as it always was.
    lang: Result<Params<LangQuery>, Error>,
    headers: HeaderMap,
) -> Result<Response> {
    if q.phone.chars().count() > MAX_PHONE_INPUT {
        return Err(Error::bad_request(
            "phone",
            format!("longer than any phone number ({MAX_PHONE_INPUT} characters at most)"),
        ));
    }
    let region = state.config.region()?;
    let phone =
        Phone::parse(&q.phone, region).map_err(|e| Error::bad_request("phone", e.to_string()))?;
    let signed = q
        .sig
        .as_deref()
        .is_some_and(|sig| state.server_key.verify(SMS_LINK, phone.as_str(), sig));
    if !signed {
        state
            .credentials
            .check(&state, &headers, Access::Ivr)
            .await?;
    }
    let lang = language(&lang?.0, &headers, &state);
    let now = state.clock.now();
    let expires = now + state.config.delivery.ttl();
    let queued = state
        .store
        .request_status_sms(phone.as_str(), now, expires)
        .await?;
    if queued > 0 {
        state.wake.all();
    }
    tracing::info!(queued, "IVR caller asked for the status by SMS");
    let text = i18n::t(lang, "ivr-sms-sent");
    let body = Goodbye {
        locale: locale(lang),
        text: &text,
    }
    .render()
    .map_err(|e| Error::Internal(anyhow::anyhow!("IVR template: {e}")))?;
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/voicexml+xml; charset=utf-8"),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query<T: serde::de::DeserializeOwned>(q: &str) -> Result<T> {
        params::from_uri(&format!("/ivr/v1/status?{q}").parse().unwrap())
    }

    fn lookup(q: &str) -> Result<Lookup> {
        query::<StatusQuery>(q)?.lookup()
    }

    fn field(e: Error) -> String {
        match e {
            Error::BadRequest { field, .. } => field,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn the_first_place_given_wins_and_the_rest_is_not_read() {
        assert_eq!(
            lookup("reference=junk&lat=x&postcode=%201111%20&phone=+anonymous+").unwrap(),
            Lookup::Phone("anonymous".into())
        );
        assert_eq!(
            lookup("phone=&postcode=11%2014&lat=x").unwrap(),
            Lookup::Postcode("1114".into())
        );
        assert_eq!(
            lookup("postcode=%20&address_id=T7&reference=junk").unwrap(),
            Lookup::Address("T7".into())
        );
        assert_eq!(
            lookup("lat=47.5&lon=19.04").unwrap(),
            Lookup::Point {
                lon: 19.04,
                lat: 47.5
            }
        );
    }

    #[test]
    fn bad_places_name_their_parameter() {
        for (q, expected) in [
            ("", "query"),
            ("phone=%20&postcode=", "query"),
            ("postcode=1114!", "postcode"),
            ("reference=PW-1234", "reference"),
            ("lat=90.5&lon=0", "lat"),
            ("lat=0&lon=-180.5", "lon"),
            ("lat=0&lon=inf", "lon"),
            ("lat=0", "lon"),
            ("lon=0", "lat"),
        ] {
            assert_eq!(field(lookup(q).unwrap_err()), expected, "{q}");
        }
    }

    #[test]
    fn format_and_language() {
        let q: StatusQuery = query("format=voicexml").unwrap();
        assert_eq!(Format::negotiate(q.format, &HeaderMap::new()), Format::Vxml);
        let q: StatusQuery = query("x=1").unwrap();
        let mut accept = HeaderMap::new();
        accept.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, text/plain;q=0.5"),
        );
        assert_eq!(Format::negotiate(q.format, &accept), Format::Text);
        assert_eq!(
            field(query::<StatusQuery>("format=").unwrap_err()),
            "format"
        );
        assert_eq!(
            field(query::<StatusQuery>("format=JSON").unwrap_err()),
            "format"
        );

        let l: LangQuery = query("lang=pl-PL").unwrap();
        assert!(matches!(l.lang, Some(IvrLanguage(Language::Pl))));
        let l: LangQuery = query("lang=").unwrap();
        assert!(l.lang.is_none());
        match query::<LangQuery>("lang=de").unwrap_err() {
            Error::BadRequest { field, message } => {
                assert_eq!(
                    (field.as_str(), message.as_str()),
                    ("lang", "expected hu, pl or en")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_sms_request_needs_a_phone() {
        match query::<SmsQuery>("lang=en").unwrap_err() {
            Error::BadRequest { field, message } => {
                assert_eq!((field.as_str(), message.as_str()), ("phone", "required"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            query::<SmsQuery>("phone=%2B36301000000").unwrap().phone,
            "+36301000000"
        );
    }
}

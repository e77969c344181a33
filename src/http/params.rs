//! Request parameters as typed structs.
//!
//! Every endpoint declares what it reads from the query string (or a form body) as
//! a `#[derive(Deserialize)]` struct; [`Params`] and [`FormParams`] fill it. A value
//! that does not parse becomes our JSON [`Error`] naming the parameter:
//! `{"error": {"status": 400, "field": "limit", "message": "expected a number from 1 to 10000"}}`.
//!
//! Why not axum's `Query`/`Form`: their rejection is a plain-text 400 such as
//! "Failed to deserialize query string: invalid digit found in string", and no
//! field can be recovered from it, because `serde_urlencoded`'s errors do not
//! carry the key. Here the deserializer over the decoded pairs is our own, so it
//! knows which key a failing value belongs to, and `missing_field` names itself.
//!
//! The same rules on every endpoint, matching what the `HashMap<String, String>`
//! extraction this replaced did:
//! - unknown parameters are ignored (caches and clients add `?_=…`; no
//!   `deny_unknown_fields`);
//! - a repeated parameter: the last value wins;
//! - percent-decoding is axum's (lossy for invalid UTF-8), so it never fails.
//!
//! And one rule it adds: values are deserialized in the order the struct declares
//! its fields, not the order the client wrote them, so when several are bad the
//! same one is reported every time. Handlers that must check something *before* a
//! parameter (that the outage exists, which place the IVR was asked about) take
//! `Result<Params<T>, Error>` and apply it when the old code did.
//!
//! Parameters several endpoints share (`lang`, the search box's `q`) are structs
//! of their own, extracted next to the endpoint's: unknown keys being ignored,
//! any number of structs can read one query string. (`#[serde(flatten)]` would
//! work too, but serde buffers flattened values and their errors lose the key.)
//!
//! What "empty" means differs per parameter, so the helpers for
//! `#[serde(default, deserialize_with = "…")]` say it explicitly: [`non_empty`]
//! (`?status=` is absent), [`parsed`] (`?limit=` is an error), [`non_blank`]
//! (trimmed, blank is absent), [`lenient`] (a value that does not parse is absent:
//! the public pages never refuse a visitor over `?lang=xx`) and [`trimmed`].

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::Error;

/// The query string as a `T`; a bad value is a 400 naming its parameter.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Error> {
        from_uri(&parts.uri).map(Params)
    }
}

/// An `application/x-www-form-urlencoded` body as a `T`, with the same rules as
/// [`Params`]. Reading the body (its `Content-Type`, its size) is left to axum's
/// `Form` and its rejections (415, 413) are passed on unchanged: those are about
/// the request, not about any one parameter.
#[derive(Debug)]
pub struct FormParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for FormParams<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        from_pairs(pairs)
            .map(FormParams)
            .map_err(IntoResponse::into_response)
    }
}

/// Reads a `T` from a URI's query string.
pub fn from_uri<T: DeserializeOwned>(uri: &Uri) -> Result<T, Error> {
    // Decoding into pairs of strings cannot fail (invalid UTF-8 is replaced), but
    // should a future axum disagree, the answer still names what it is about.
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| Error::bad_request("query", e.body_text()))?;
    from_pairs(pairs)
}

/// Reads a `T` from decoded `(key, value)` pairs.
pub fn from_pairs<T: DeserializeOwned>(pairs: Vec<(String, String)>) -> Result<T, Error> {
    T::deserialize(Pairs(pairs)).map_err(|e| {
        // Every error a value or a missing field raises carries its key; one
        // without (a struct-level `try_from`, say) is about the query as a whole.
        Error::bad_request(e.field.unwrap_or_else(|| "query".into()), e.message)
    })
}

/// `?status=` is the same as no `status`; any other value must parse.
pub fn non_empty<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(de::Error::custom)
}

/// Any value given must parse, the empty one included (`?limit=` is an error).
pub fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(de::Error::custom)
}

/// Surrounding whitespace is dropped and a blank value is absent; the rest must parse.
pub fn non_blank<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let s = String::deserialize(d)?;
    match s.trim() {
        "" => Ok(None),
        v => v.parse().map(Some).map_err(de::Error::custom),
    }
}

/// The trimmed value if it parses, else nothing: for parameters whose bad values
/// are ignored rather than refused.
pub fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    Ok(String::deserialize(d)?.trim().parse().ok())
}

/// The value without surrounding whitespace.
pub fn trimmed<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.trim().to_string())
}

/// What went wrong, and with which parameter when that is known.
#[derive(Debug)]
struct ParamError {
    field: Option<String>,
    message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParamError {}

impl de::Error for ParamError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        ParamError {
            field: None,
            message: message.to_string(),
        }
    }

    // The derive calls this for a required field nobody sent; serde's default
    // message ("missing field `phone`") would leave `field` empty.
    fn missing_field(field: &'static str) -> Self {
        ParamError {
            field: Some(field.to_string()),
            message: "required".into(),
        }
    }
}

/// The decoded pairs of a query string or form, as a map.
struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// The pairs with only the last value of a repeated key, in order of last
    /// occurrence.
    fn last_wins(self) -> Vec<(String, String)> {
        let mut seen = HashSet::new();
        let mut kept: Vec<(String, String)> = self
            .0
            .into_iter()
            .rev()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
        kept.reverse();
        kept
    }
}

impl<'de> Deserializer<'de> for Pairs {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_map(Entries::new(self.last_wins()))
    }

    /// The declared fields first, in declaration order, so that the first bad one
    /// in the struct is the one reported; then whatever else was sent (which the
    /// derive ignores, unless it is an alias).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        let mut rest = self.last_wins();
        let mut entries = Vec::with_capacity(rest.len());
        for field in fields {
            if let Some(i) = rest.iter().position(|(k, _)| k == field) {
                entries.push(rest.remove(i));
            }
        }
        entries.append(&mut rest);
        visitor.visit_map(Entries::new(entries))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

struct Entries {
    iter: std::vec::IntoIter<(String, String)>,
    /// The key just handed out and its value, until the value is asked for.
    pending: Option<(String, String)>,
}

impl Entries {
    fn new(entries: Vec<(String, String)>) -> Entries {
        Entries {
            iter: entries.into_iter(),
            pending: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries {
    type Error = ParamError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamError> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        let k: StringDeserializer<ParamError> = key.clone().into_deserializer();
        self.pending = Some((key, value));
        seed.deserialize(k).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamError> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        // The one place that knows which parameter a failing value belongs to.
        seed.deserialize(Value(value)).map_err(|mut e| {
            e.field.get_or_insert(key);
            e
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// One parameter's value: a string, which numbers and booleans are parsed from.
struct Value(String);

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty, $expected:literal;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
                match self.0.parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(de::Error::custom($expected)),
                }
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Value {
    type Error = ParamError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_string(self.0)
    }

    /// A parameter that is there is `Some`, even when empty: what empty means is
    /// for the field's type or its `deserialize_with` helper to say.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        visitor.visit_newtype_struct(self)
    }

    /// Unit variants by name, as `#[derive(Deserialize)]` enums expect.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamError> {
        let s: StringDeserializer<ParamError> = self.0.into_deserializer();
        s.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamError> {
        match self.0.as_str() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(de::Error::custom("expected true or false")),
        }
    }

    parse_number! {
        deserialize_i8 => visit_i8: i8, "expected an integer";
        deserialize_i16 => visit_i16: i16, "expected an integer";
        deserialize_i32 => visit_i32: i32, "expected an integer";
        deserialize_i64 => visit_i64: i64, "expected an integer";
        deserialize_u8 => visit_u8: u8, "expected a non-negative integer";
        deserialize_u16 => visit_u16: u16, "expected a non-negative integer";
        deserialize_u32 => visit_u32: u32, "expected a non-negative integer";
        deserialize_u64 => visit_u64: u64, "expected a non-negative integer";
        deserialize_f32 => visit_f32: f32, "expected a number";
        deserialize_f64 => visit_f64: f64, "expected a number";
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        #[serde(default, deserialize_with = "non_empty")]
        language: Option<crate::domain::Language>,
        #[serde(default, deserialize_with = "parsed")]
        size: Option<u8>,
        count: Option<i64>,
        #[serde(default, deserialize_with = "lenient")]
        loose: Option<i64>,
        #[serde(default, deserialize_with = "non_blank")]
        name: Option<String>,
        #[serde(default, deserialize_with = "trimmed")]
        text: String,
        flag: Option<bool>,
    }

    fn read<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
        from_uri(&format!("/x?{query}").parse::<Uri>().unwrap())
    }

    fn field_of(e: Error) -> (StatusCode, String, String) {
        match e {
            Error::BadRequest { field, message } => (StatusCode::BAD_REQUEST, field, message),
            other => panic!("not a bad request: {other:?}"),
        }
    }

    #[test]
    fn absent_and_unknown_parameters() {
        let s: Sample = read("utm_source=x&_=123").unwrap();
        assert_eq!(
            s,
            Sample {
                language: None,
                size: None,
                count: None,
                loose: None,
                name: None,
                text: String::new(),
                flag: None,
            }
        );
        let s: Sample = from_uri(&"/x".parse::<Uri>().unwrap()).unwrap();
        assert_eq!(s.count, None);
    }

    #[test]
    fn values_are_decoded_and_typed() {
        let s: Sample =
            read("language=pl&size=7&count=-3&loose=%2042&name=+Anna+&text=%20a%20b%20&flag=true")
                .unwrap();
        assert_eq!(s.language, Some(crate::domain::Language::Pl));
        assert_eq!(s.size, Some(7));
        assert_eq!(s.count, Some(-3));
        assert_eq!(s.loose, Some(42));
        assert_eq!(s.name.as_deref(), Some("Anna"));
        assert_eq!(s.text, "a b");
        assert_eq!(s.flag, Some(true));
    }

    #[test]
    fn empty_values_mean_what_each_helper_says() {
        let s: Sample = read("language=&name=%20%20&loose=").unwrap();
        assert_eq!((s.language, s.name, s.loose), (None, None, None));
        // `parsed`: an empty value must still parse.
        let (_, field, _) = field_of(read::<Sample>("size=").unwrap_err());
        assert_eq!(field, "size");
        // A plain `Option<i64>` that is there but empty is not a number.
        let (_, field, message) = field_of(read::<Sample>("count=").unwrap_err());
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("count", "expected an integer")
        );
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        for (query, expected) in [
            ("language=de", "language"),
            ("size=300", "size"),
            ("size=-1", "size"),
            ("count=ten", "count"),
            ("flag=yes", "flag"),
        ] {
            let (status, field, message) = field_of(read::<Sample>(query).unwrap_err());
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(field, expected, "{query}");
            assert!(!message.is_empty(), "{query}");
        }
        let (_, _, message) = field_of(read::<Sample>("language=de").unwrap_err());
        assert!(
            message.contains("'de'"),
            "the domain type's own message: {message}"
        );
    }

    #[test]
    fn lenient_values_that_do_not_parse_are_absent() {
        let s: Sample = read("loose=many").unwrap();
        assert_eq!(s.loose, None);
    }

    #[test]
    fn the_last_of_a_repeated_parameter_wins() {
        let s: Sample = read("count=abc&count=5").unwrap();
        assert_eq!(s.count, Some(5));
        let (_, field, _) = field_of(read::<Sample>("count=5&count=abc").unwrap_err());
        assert_eq!(field, "count");
    }

    #[test]
    fn the_first_bad_field_in_declaration_order_is_reported() {
        // `size` is declared before `count`, whichever the client wrote first.
        for query in ["count=x&size=x", "size=x&count=x"] {
            let (_, field, _) = field_of(read::<Sample>(query).unwrap_err());
            assert_eq!(field, "size", "{query}");
        }
    }

    #[derive(Debug, Deserialize)]
    struct Required {
        phone: String,
    }

    #[test]
    fn a_missing_required_parameter_is_named() {
        let (_, field, message) = field_of(read::<Required>("lang=en").unwrap_err());
        assert_eq!((field.as_str(), message.as_str()), ("phone", "required"));
        assert_eq!(read::<Required>("phone=").unwrap().phone, "");
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Debug, Deserialize)]
    struct Modes {
        mode: Option<Mode>,
        #[serde(default)]
        depth: Depth,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    struct Depth(u32);

    #[test]
    fn enums_and_newtypes_deserialize_from_the_value() {
        let m: Modes = read("mode=slow&depth=3").unwrap();
        assert_eq!((m.mode, m.depth), (Some(Mode::Slow), Depth(3)));
        let (_, field, message) = field_of(read::<Modes>("mode=medium").unwrap_err());
        assert_eq!(field, "mode");
        assert!(message.contains("fast"), "{message}");
    }

    #[test]
    fn a_map_takes_every_parameter() {
        let m: std::collections::BTreeMap<String, String> = read("b=2&a=1&b=3&c=").unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("a", "1"), ("b", "3"), ("c", "")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
    }

    #[test]
    fn undecodable_bytes_do_not_fail() {
        let s: Sample = read("name=%FF%FE&text=%E0%A4").unwrap();
        assert!(s.name.unwrap().contains('\u{fffd}'));
    }

    #[tokio::test]
    async fn errors_answer_in_our_json_shape() {
        let response = read::<Sample>("count=x").unwrap_err().into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["status"], 400);
        assert_eq!(v["error"]["field"], "count");
        assert_eq!(v["error"]["message"], "expected an integer");
    }
}

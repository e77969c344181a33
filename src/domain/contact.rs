//! Contact destinations and languages, validated on construction.
//!
//! Phones are stored in E.164 (`+36301234567`) whatever way they were written
//! (`06 30 123 4567`, `0036…`, `(30) 123-4567`), read with a configurable default
//! region. E-mail validation is pragmatic: it catches typos and garbage, and leaves
//! the final word to the receiving server.

use std::fmt;
use std::str::FromStr;

pub use phonenumber::country::Id as Region;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct ContactError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            _ => Err(format!("unknown channel '{s}'; expected email or sms")),
        }
    }
}

/// Languages residents read. Hungarian, Polish and English from day one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Hu,
    Pl,
    En,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Hu, Language::Pl, Language::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Hu => "hu",
            Language::Pl => "pl",
            Language::En => "en",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = String;
    /// Accepts `hu`, `HU`, `hu-HU`, `pl_PL`, `en-GB`…
    fn from_str(s: &str) -> Result<Self, String> {
        let primary = s
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "hu" => Ok(Language::Hu),
            "pl" => Ok(Language::Pl),
            "en" => Ok(Language::En),
            _ => Err(format!("unsupported language '{s}'; expected hu, pl or en")),
        }
    }
}

/// The best supported language in an `Accept-Language` header, by q-value.
pub fn negotiate(accept_language: &str) -> Option<Language> {
    let mut best: Option<(f32, Language)> = None;
    for part in accept_language.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if let Ok(lang) = tag.parse::<Language>() {
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
    }
    best.map(|(_, l)| l)
}

/// Reads a region code such as `HU` or `pl` (for the default phone region).
pub fn parse_region(code: &str) -> Result<Region, ContactError> {
    code.trim()
        .to_ascii_uppercase()
        .parse::<Region>()
        .map_err(|_| ContactError(format!("'{code}' is not an ISO 3166 region code")))
}

/// The longest input read as a phone number: 15 digits with room for spaces,
/// dashes, brackets and a `tel:` or `00` prefix.
pub const MAX_PHONE_INPUT: usize = 32;

/// A phone number in E.164.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Phone(String);

impl Phone {
    pub fn parse(input: &str, default_region: Region) -> Result<Phone, ContactError> {
        let raw = input.trim();
        // No number is longer (E.164: 15 digits) even with spaces and a prefix;
        // refused before any parse, and without echoing what was sent.
        if raw.chars().count() > MAX_PHONE_INPUT {
            return Err(ContactError(format!(
                "is longer than any phone number ({MAX_PHONE_INPUT} characters at most)"
            )));
        }
        let raw = raw.strip_prefix("tel:").unwrap_or(raw);
        let bad = || ContactError(format!("'{input}' is not a valid phone number"));
        if raw.is_empty()
            || !raw
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().\u{a0}/".contains(c))
            || raw.chars().filter(char::is_ascii_digit).count() < 6
        {
            return Err(bad());
        }
        // "00" is the international prefix in Hungary and Poland alike.
        let normalised = match raw.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => raw.to_string(),
        };
        let number = phonenumber::parse(Some(default_region), &normalised).map_err(|_| bad())?;
        if !phonenumber::is_valid(&number) {
            return Err(ContactError(format!(
                "'{input}' is not a valid phone number (read with default region {default_region:?})"
            )));
        }
        Ok(Phone(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// A number as Herald stored it, which [`Phone::parse`] made: for the
    /// caller map ([`crate::register::CallerMap::registered`]), which checks
    /// that `e164` is one.
    pub(crate) fn from_stored(e164: &str) -> Phone {
        Phone(e164.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country the number belongs to (for a number valid in one region).
    pub fn region(&self) -> Option<Region> {
        phonenumber::parse(None, &self.0)
            .ok()
            .and_then(|n| n.country().id())
    }
}

/// An e-mail address; the domain is lower-cased, the local part kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, ContactError> {
        let s = input.trim();
        let bad = |why: &str| ContactError(format!("email '{input}' {why}"));
        if s.len() > 254 {
            return Err(bad("is longer than 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains spaces or control characters"));
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| bad("has no @"))?;
        if domain.contains('@') {
            return Err(bad("has more than one @"));
        }
        if local.is_empty() || local.len() > 64 {
            return Err(bad("has an empty or over-long local part"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(bad("has a misplaced dot before the @"));
        }
        if local.chars().any(|c| "()<>[]\\,;:\"".contains(c)) {
            return Err(bad("contains characters not allowed before the @"));
        }
        if domain.is_empty() {
            return Err(bad("has no domain"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(bad("has no dot in its domain"));
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-');
            if !ok {
                return Err(bad("has an invalid domain"));
            }
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Where a contact is reached: validated for its channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Email(Email),
    Sms(Phone),
}

impl Destination {
    pub fn parse(channel: Channel, raw: &str, region: Region) -> Result<Destination, ContactError> {
        match channel {
            Channel::Email => Email::parse(raw).map(Destination::Email),
            Channel::Sms => Phone::parse(raw, region).map(Destination::Sms),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Destination::Email(e) => e.as_str(),
            Destination::Sms(p) => p.as_str(),
        }
    }

    /// What limits per destination count by: the inbox or phone a message
    /// reaches, however it was spelled. A phone number is its E.164 form; an
    /// address is lower-cased whole (the domain is case-insensitive by the
    /// RFCs, the local part by every provider people use) and loses a
    /// `+tag`, which most providers deliver to the same inbox.
    pub fn limit_key(&self) -> String {
        match self {
            Destination::Sms(p) => p.as_str().to_string(),
            Destination::Email(e) => {
                let lower = e.as_str().to_lowercase();
                match lower.rsplit_once('@') {
                    Some((local, domain)) => {
                        let local = local.split_once('+').map_or(local, |(base, _)| base);
                        let local = if local.is_empty() { "+" } else { local };
                        format!("{local}@{domain}")
                    }
                    None => lower,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_keys_ignore_case_and_tags() {
        let key = |s: &str| {
            Destination::parse(Channel::Email, s, Region::HU)
                .unwrap()
                .limit_key()
        };
        assert_eq!(key("Victim@X.org"), "victim@x.org");
        assert_eq!(key("vIctim@x.ORG"), "victim@x.org");
        assert_eq!(key("victim+herald@x.org"), "victim@x.org");
        assert_eq!(key("+only@x.org"), "+@x.org");
        let phone = Destination::parse(Channel::Sms, "06 30 123 4567", Region::HU).unwrap();
        assert_eq!(phone.limit_key(), "+36301234567");
    }

    #[test]
    fn a_number_knows_its_country() {
        let hu = Phone::parse("06 30 123 4567", Region::HU).unwrap();
        assert_eq!(hu.region(), Some(Region::HU));
        let pl = Phone::parse("+48 512 345 678", Region::HU).unwrap();
        assert_eq!(pl.region(), Some(Region::PL));
        let uk = Phone::parse("+44 7400 123456", Region::HU).unwrap();
        assert_eq!(uk.region(), Some(Region::GB));
    }

    #[test]
    fn phones_normalise_to_e164() {
        let hu = parse_region("hu").unwrap();
        let pl = parse_region("PL").unwrap();
        for raw in [
            "+36 30 123 4567",
            "06 30 123 4567",
            "0036301234567",
            "(30) 123-4567",
            "tel:+36301234567",
            "06-30-123-4567",
        ] {
            assert_eq!(
                Phone::parse(raw, hu).unwrap().as_str(),
                "+36301234567",
                "{raw}"
            );
        }
        assert_eq!(
            Phone::parse("+48 512 345 678", hu).unwrap().as_str(),
            "+48512345678"
        );
        assert_eq!(
            Phone::parse("512345678", pl).unwrap().as_str(),
            "+48512345678"
        );
        for raw in [
            "",
            "call me",
            "06 30 12",
            "+36 30 123 4567 8901 2",
            "123",
            "+999 1234567",
        ] {
            assert!(Phone::parse(raw, hu).is_err(), "{raw}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Anna.K@Example.COM ").unwrap().as_str(),
            "Anna.K@example.com"
        );
        assert!(Email::parse("jános@példa.hu").is_ok());
        for bad in [
            "anna",
            "anna@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
            "a@-x.com",
            "a..b@example.com",
            "a@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn languages_and_negotiation() {
        assert_eq!("hu-HU".parse::<Language>().unwrap(), Language::Hu);
        assert_eq!("pl_PL".parse::<Language>().unwrap(), Language::Pl);
        assert!("de".parse::<Language>().is_err());
        assert_eq!(
            negotiate("de-DE,de;q=0.9,pl;q=0.8,en;q=0.5"),
            Some(Language::Pl)
        );
        assert_eq!(negotiate("en-GB,hu;q=0.9"), Some(Language::En));
        assert_eq!(negotiate("de, fr"), None);
        assert_eq!(negotiate("hu;q=0, en;q=0.1"), Some(Language::En));
    }
}

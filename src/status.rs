//! "Is there an outage here, and when will it be fixed?" — the answer for a place,
//! built from the same outage records as every e-mail and SMS, so the phone line,
//! the web and the messages never disagree.
//!
//! A place is a caller's phone number (their registered addresses), a postcode, a
//! service address, an outage reference or a point. The answer lists the open
//! outages there, each with a ready-to-speak sentence in the caller's language.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use geo::Intersects;
use serde::Serialize;

use crate::domain::{Etr, Language, Outage, OutageKind, OutageStatus, Phone, Reference};
use crate::error::Result;
use crate::i18n;
use crate::store::{AddressQuery, AddressRow, Store};

/// What the caller asked about.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Phone(Phone),
    Postcode(String),
    /// An address by external id (or internal numeric id).
    Address(String),
    Reference(Reference),
    Point {
        lon: f64,
        lat: f64,
    },
    /// A caller id we cannot read (withheld, a short code).
    UnknownCaller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EtrState {
    Set,
    NotAssessed,
    /// The ETR has passed and the outage is still on.
    Overdue,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutageLine {
    pub reference: String,
    pub utility: String,
    pub kind: String,
    pub status: OutageStatus,
    pub cause: String,
    pub etr: Option<DateTime<Utc>>,
    pub etr_state: EtrState,
    pub starts_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Addresses of the caller's place inside this outage (0 for reference/point queries).
    pub addresses_here: usize,
    pub sentence: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub language: Language,
    /// Whether the place was found at all (a known caller, an existing postcode…).
    pub known: bool,
    pub place: String,
    pub affected: bool,
    pub outages: Vec<OutageLine>,
    /// Everything to say, in order.
    pub sentence: String,
    /// For an unknown caller: what they can do instead.
    pub hint: Option<String>,
}

/// How many addresses a postcode query considers at most.
const POSTCODE_LIMIT: i64 = 100_000;

fn place_of(a: &AddressRow) -> String {
    format!("{} {}, {}", a.street, a.house_number, a.settlement)
}

pub fn etr_state(o: &Outage, now: DateTime<Utc>) -> EtrState {
    match o.etr {
        Etr::Unknown => EtrState::NotAssessed,
        Etr::At(t) if t < now && o.status == OutageStatus::Active => EtrState::Overdue,
        Etr::At(_) => EtrState::Set,
    }
}

/// The spoken sentence for one outage at `place`.
pub fn sentence(tz: Tz, o: &Outage, place: &str, lang: Language, now: DateTime<Utc>) -> String {
    let utility = o.utility.as_str().to_string();
    let planned = o.status == OutageStatus::Scheduled && o.kind == OutageKind::Planned;
    let title_key = if planned {
        "planned-title"
    } else {
        "outage-title"
    };
    let title = i18n::t_args(lang, title_key, &i18n::args([("utility", utility)]));
    let when = o
        .etr
        .as_option()
        .map(|t| i18n::spoken_when(lang, tz, t, now));
    let reference = o.reference.spoken();
    if planned {
        let starts = o
            .starts_at
            .map(|t| i18n::spoken_when(lang, tz, t, now))
            .unwrap_or_default();
        let when = when.unwrap_or_else(|| i18n::t(lang, "etr-unknown"));
        return i18n::t_args(
            lang,
            "ivr-planned",
            &i18n::args([
                ("title", title),
                ("place", place.to_string()),
                ("starts", starts),
                ("when", when),
                ("reference", reference),
            ]),
        );
    }
    let etr_sentence = match (etr_state(o, now), when) {
        (EtrState::Set, Some(when)) => {
            i18n::t_args(lang, "ivr-etr-at", &i18n::args([("when", when)]))
        }
        (EtrState::Overdue, _) => i18n::t(lang, "ivr-etr-overdue"),
        _ => i18n::t(lang, "ivr-etr-unknown"),
    };
    i18n::t_args(
        lang,
        "ivr-outage",
        &i18n::args([
            ("title", title),
            ("place", place.to_string()),
            ("etr-sentence", etr_sentence),
            ("reference", reference),
        ]),
    )
}

fn line(
    tz: Tz,
    o: &Outage,
    place: &str,
    here: usize,
    lang: Language,
    now: DateTime<Utc>,
) -> OutageLine {
    OutageLine {
        reference: o.reference.to_string(),
        utility: o.utility.as_str().into(),
        kind: o.kind.as_str().into(),
        status: o.status,
        cause: o.cause.clone(),
        etr: o.etr.as_option(),
        etr_state: etr_state(o, now),
        starts_at: o.starts_at,
        updated_at: o.updated_at,
        addresses_here: here,
        sentence: sentence(tz, o, place, lang, now),
    }
}

/// The answer for `place`; `lang` is the caller's language unless the place
/// itself tells it (a known phone speaks its contact's language).
pub async fn answer(
    store: &Store,
    tz: Tz,
    now: DateTime<Utc>,
    place: &Place,
    lang: Language,
) -> Result<Answer> {
    let (addresses, lang) = match place {
        Place::Phone(p) => {
            let rows = store
                .addresses_where(AddressQuery::Destination(p.as_str()), 50)
                .await?;
            let lang = rows.iter().find_map(|a| a.contact_language).unwrap_or(lang);
            (Some(rows), lang)
        }
        Place::Postcode(pc) => (
            Some(
                store
                    .addresses_where(AddressQuery::Postcode(pc), POSTCODE_LIMIT)
                    .await?,
            ),
            lang,
        ),
        Place::Address(id) => {
            let mut rows = store
                .addresses_where(AddressQuery::ExternalId(id), 1)
                .await?;
            if rows.is_empty() {
                if let Ok(n) = id.parse::<i64>() {
                    rows = store.addresses_where(AddressQuery::Id(n), 1).await?;
                }
            }
            (Some(rows), lang)
        }
        Place::Reference(_) | Place::Point { .. } | Place::UnknownCaller => (None, lang),
    };
    let mut lines = Vec::new();
    let (known, place_text) = match (place, addresses) {
        (_, Some(rows)) => {
            let label = match place {
                Place::Postcode(pc) => {
                    // Digits one by one, so speech engines do not read "eleven fourteen".
                    let spelled = pc.chars().map(String::from).collect::<Vec<_>>().join(" ");
                    i18n::t_args(
                        lang,
                        "ivr-place-postcode",
                        &i18n::args([("postcode", spelled)]),
                    )
                }
                _ => rows.first().map(place_of).unwrap_or_default(),
            };
            let ids: Vec<i64> = rows.iter().map(|a| a.id).collect();
            let hits = if ids.is_empty() {
                Vec::new()
            } else {
                store.open_outages_at(&ids).await?
            };
            let mut by_outage: Vec<(i64, usize)> = Vec::new();
            for (outage_id, _) in hits {
                match by_outage.last_mut() {
                    Some((id, n)) if *id == outage_id => *n += 1,
                    _ => by_outage.push((outage_id, 1)),
                }
            }
            for (outage_id, here) in by_outage {
                if let Some(o) = store.outage(outage_id).await? {
                    lines.push(line(tz, &o, &label, here, lang, now));
                }
            }
            (!rows.is_empty(), label)
        }
        (Place::Reference(r), None) => match store.outage_by_reference(r).await? {
            Some(o) => {
                let places = store.outage_places(o.id).await?;
                let mut settlements: Vec<&str> = places.iter().map(|p| p.0.as_str()).collect();
                settlements.dedup();
                let label = settlements.join(", ");
                if o.status.is_open() {
                    lines.push(line(tz, &o, &label, 0, lang, now));
                }
                (true, label)
            }
            None => (false, r.to_string()),
        },
        (Place::Point { lon, lat }, None) => {
            let label = i18n::t(lang, "ivr-place-here");
            let point = geo::Point::new(*lon, *lat);
            for o in store.open_outages().await? {
                let inside = crate::geo::read_stored_area(&o.area)
                    .map(|area| area.intersects(&point))
                    .unwrap_or(false);
                if inside {
                    lines.push(line(tz, &o, &label, 0, lang, now));
                }
            }
            (true, label)
        }
        _ => (false, String::new()),
    };
    let (sentence, hint) = if !known {
        let hint = i18n::t(lang, "ivr-hint");
        (
            format!("{} {hint}", i18n::t(lang, "ivr-unknown")),
            Some(hint),
        )
    } else if lines.is_empty() {
        let none = i18n::t_args(
            lang,
            "ivr-none",
            &i18n::args([("place", place_text.clone())]),
        );
        (none, None)
    } else {
        (
            lines
                .iter()
                .map(|l| l.sentence.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            None,
        )
    };
    Ok(Answer {
        language: lang,
        known,
        affected: !lines.is_empty(),
        place: place_text,
        outages: lines,
        sentence,
        hint,
    })
}

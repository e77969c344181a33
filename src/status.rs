//! "Is there an outage here, and when will it be fixed?" — the answer for a place,
//! built from the same outage records as every e-mail and SMS, so the phone line,
//! the web and the messages never disagree.
//!
//! A place is a caller's phone number (their registered addresses), a postcode, a
//! service address, an outage reference or a point. The answer lists the open
//! outages there, each with a ready-to-speak sentence in the caller's language.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::{
    AddressForm, Etr, Language, Outage, OutageKind, OutageStatus, Phone, Reference,
};
use crate::error::Result;
use crate::i18n;
use crate::published::{PlaceLists, TagCache, View};
use crate::register::book::Slot;
use crate::register::{AddressBook, CallerMap};
use crate::store::Store;

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
    #[serde(skip)]
    pub id: i64,
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
    /// A caller who may be offered the status by SMS: affected, and a contact
    /// who has not opted out.
    #[serde(skip)]
    pub may_text: bool,
}

/// How many addresses a postcode query considers at most.
const POSTCODE_LIMIT: usize = 100_000;

pub fn etr_state(o: &Outage, now: DateTime<Utc>) -> EtrState {
    match o.etr {
        Etr::Unknown => EtrState::NotAssessed,
        Etr::At(t) if t < now && o.status == OutageStatus::Active => EtrState::Overdue,
        Etr::At(_) => EtrState::Set,
    }
}

/// The settlements of an outage's place list (sorted by settlement), each once:
/// how an answer about an outage named by its reference names its place.
pub fn settlements(places: &[(String, String, String)]) -> String {
    let mut names: Vec<&str> = places.iter().map(|p| p.0.as_str()).collect();
    names.dedup();
    names.join(", ")
}

/// Planned work that has not started yet: told with its start, not its ETR.
pub fn is_upcoming(o: &Outage) -> bool {
    o.status == OutageStatus::Scheduled && o.kind == OutageKind::Planned
}

/// "Water outage", "Planned power cut"…: what the outage is called.
pub fn title(lang: Language, o: &Outage) -> String {
    let key = if is_upcoming(o) {
        "planned-title"
    } else {
        "outage-title"
    };
    i18n::t_args(
        lang,
        key,
        &i18n::args([("utility", o.utility.as_str().to_string())]),
    )
}

/// The spoken sentence for one outage at `place`.
pub fn sentence(tz: Tz, o: &Outage, place: &str, lang: Language, now: DateTime<Utc>) -> String {
    let planned = is_upcoming(o);
    let title = title(lang, o);
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

fn line(o: &Outage, here: usize, sentence: String, now: DateTime<Utc>) -> OutageLine {
    OutageLine {
        id: o.id,
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
        sentence,
    }
}

/// Spoken sentences of one view, by outage, language and place (a
/// settlement, a postcode, "here"). A storm's callers share a few hundred
/// (one per settlement and language), and each is about ten message formats
/// to build. The view's tag moves whenever one would read differently (an
/// ETR passes, midnight), so the tag and the key decide the sentence.
pub type Sentences = TagCache<String>;

impl Ask<'_> {
    /// [`sentence`] for an outage of the view, built once per view.
    fn sentence(&self, o: &Outage, place: &str, lang: Language) -> String {
        let key = format!("{}|{}|{place}", o.id, lang.as_str());
        if let Some(s) = self.sentences.get(&self.view.tag, &key) {
            return s;
        }
        let s = sentence(self.tz, o, place, lang, self.now);
        self.sentences.put(&self.view.tag, key, s.clone());
        s
    }
}

/// What an answer is built from: the published view and the in-memory
/// register, so no answer about an open outage reads the database. Only a
/// reference to an outage that has ended is looked up in the store.
pub struct Ask<'a> {
    pub store: &'a Store,
    pub view: &'a View,
    pub book: &'a AddressBook,
    pub callers: &'a CallerMap,
    /// Outages' place lists, for the view.
    pub places: &'a PlaceLists,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    pub sentences: &'a Sentences,
    /// For a phone, speak the caller's street address, not only the settlement.
    pub speak_address: bool,
}

/// The answer for `place`; `lang` is the caller's language unless the place
/// itself tells it (a known phone speaks its contact's language). For a phone,
/// the place spoken is the caller's settlement unless `speak_address`.
pub async fn answer(ask: &Ask<'_>, place: &Place, lang: Language) -> Result<Answer> {
    let (book, tz, now) = (ask.book, ask.tz, ask.now);
    let mut may_text = false;
    let (slots, lang): (Option<Vec<Slot>>, Language) = match place {
        Place::Phone(p) => {
            let entries = ask.callers.lookup(p.as_str());
            // Calling is a request: an opted-out contact hears the status too,
            // but is offered no SMS.
            may_text = entries.iter().any(|c| !c.opted_out);
            let slots = entries
                .iter()
                .filter_map(|c| book.slot(c.address_id))
                .take(50)
                .collect();
            let lang = entries.first().map_or(lang, |c| c.language);
            (Some(slots), lang)
        }
        Place::Postcode(pc) => (
            Some(
                book.postcode(pc)
                    .iter()
                    .take(POSTCODE_LIMIT)
                    .copied()
                    .collect(),
            ),
            lang,
        ),
        Place::Address(id) => {
            let slot = book
                .by_external_id(id)
                .or_else(|| id.parse::<i64>().ok().and_then(|n| book.slot(n)));
            (Some(slot.into_iter().collect()), lang)
        }
        Place::Reference(_) | Place::Point { .. } | Place::UnknownCaller => (None, lang),
    };
    let mut lines = Vec::new();
    let (known, place_text) = match (place, slots) {
        (_, Some(slots)) => {
            let label = match (place, slots.first()) {
                (Place::Postcode(pc), _) => {
                    // Digits one by one, so speech engines do not read "eleven fourteen".
                    let spelled = pc.chars().map(String::from).collect::<Vec<_>>().join(" ");
                    i18n::t_args(
                        lang,
                        "ivr-place-postcode",
                        &i18n::args([("postcode", spelled)]),
                    )
                }
                (Place::Phone(_), Some(&slot)) if !ask.speak_address => i18n::t_args(
                    lang,
                    "ivr-place-caller",
                    &i18n::args([("settlement", book.settlement(slot).to_string())]),
                ),
                (_, Some(&slot)) => i18n::address(lang, &book.address(slot), AddressForm::Full),
                (_, None) => String::new(),
            };
            let mut ids: Vec<i64> = slots.iter().map(|s| book.id(*s)).collect();
            ids.sort_unstable();
            // A settlement or a postcode is said to many callers; an address
            // to one, so its sentence is not kept.
            let shared = match place {
                Place::Phone(_) => !ask.speak_address,
                Place::Address(_) => false,
                _ => true,
            };
            for (o, here) in ask.view.open.covering(&ids) {
                let said = match shared {
                    true => ask.sentence(&o.outage, &label, lang),
                    false => sentence(tz, &o.outage, &label, lang, now),
                };
                lines.push(line(&o.outage, here, said, now));
            }
            (!slots.is_empty(), label)
        }
        (Place::Reference(r), None) => {
            let open = ask.view.open.by_reference(r);
            let ended = match open {
                Some(_) => None,
                None => ask.store.outage_by_reference(r).await?,
            };
            match open.map(|o| &o.outage).or(ended.as_ref()) {
                Some(o) => {
                    let places = ask.places.get(ask.store, ask.view, book, o.id).await?;
                    let label = settlements(&places);
                    // Not through the view's sentences: an outage read from
                    // the store may be newer than the view.
                    if o.status.is_open() {
                        lines.push(line(o, 0, sentence(tz, o, &label, lang, now), now));
                    }
                    (true, label)
                }
                None => (false, r.to_string()),
            }
        }
        (Place::Point { lon, lat }, None) => {
            let label = i18n::t(lang, "ivr-place-here");
            for o in ask.view.open.at_point(*lon, *lat) {
                let said = ask.sentence(&o.outage, &label, lang);
                lines.push(line(&o.outage, 0, said, now));
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
        may_text: may_text && !lines.is_empty(),
        affected: !lines.is_empty(),
        place: place_text,
        outages: lines,
        sentence,
        hint,
    })
}

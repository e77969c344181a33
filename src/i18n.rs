//! Message catalogues (Fluent, `templates/i18n/<lang>/*.ftl`) and the date and time
//! formats residents read. Every word a resident sees comes from a catalogue; code
//! only chooses the key and supplies the values.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};

use crate::domain::{Address, AddressForm, Language, Utility};

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./templates/i18n",
        fallback_language: "en",
        // Bidi isolation marks would end up inside SMS and e-mail subjects.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

fn langid(lang: Language) -> &'static LanguageIdentifier {
    use std::sync::LazyLock;
    static IDS: LazyLock<[LanguageIdentifier; 3]> = LazyLock::new(|| {
        [
            "hu".parse().expect("hu"),
            "pl".parse().expect("pl"),
            "en".parse().expect("en"),
        ]
    });
    &IDS[slot(lang)]
}

/// The language's place in per-language tables.
fn slot(lang: Language) -> usize {
    match lang {
        Language::Hu => 0,
        Language::Pl => 1,
        Language::En => 2,
    }
}

/// Arguments for a catalogue lookup.
pub type Args = HashMap<Cow<'static, str>, FluentValue<'static>>;

pub fn args<const N: usize>(pairs: [(&'static str, String); N]) -> Args {
    pairs
        .into_iter()
        .map(|(k, v)| (Cow::Borrowed(k), FluentValue::from(v)))
        .collect()
}

/// The text for `key` in `lang` (falling back to English, then to fluent's
/// "unknown localization key", which a test catches).
pub fn t(lang: Language, key: &str) -> String {
    text(lang, key).into_owned()
}

/// [`t`] without a copy: a page asks for a few dozen messages (its header,
/// labels, footer, a search result's card), and the templates only write them.
///
/// A message without arguments reads the same every time, so every message
/// of the catalogues is formatted once per language, at first use, into a map
/// that is never written again: a lookup takes no lock (with a lock, the
/// threads answering pages took turns at it) and copies nothing. A key the
/// map does not hold (none the code asks for, unless a catalogue file is
/// added without being listed in [`CATALOGUES`]) is formatted by fluent.
pub fn text(lang: Language, key: &str) -> Cow<'static, str> {
    use std::sync::LazyLock;
    type Plain = rustc_hash::FxHashMap<&'static str, Box<str>>;
    static PLAIN: LazyLock<[Plain; 3]> = LazyLock::new(|| {
        let ids: std::collections::BTreeSet<&'static str> =
            CATALOGUES.iter().flat_map(|c| message_ids(c)).collect();
        Language::ALL.map(|lang| {
            ids.iter()
                .map(|id| (*id, LOCALES.lookup(langid(lang), id).into_boxed_str()))
                .collect()
        })
    });
    match PLAIN[slot(lang)].get(key) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(LOCALES.lookup(langid(lang), key)),
    }
}

/// The service's name as a sentence uses it ("utility-name", a selector on
/// the utility), formatted once per language and utility: the search page
/// lists every service in each result's report form.
pub fn utility_name(lang: Language, utility: Utility) -> &'static str {
    use std::sync::LazyLock;
    static NAMES: LazyLock<[Vec<Box<str>>; 3]> = LazyLock::new(|| {
        Language::ALL.map(|lang| {
            Utility::ALL
                .iter()
                .map(|u| {
                    t_args(
                        lang,
                        "utility-name",
                        &args([("utility", u.as_str().into())]),
                    )
                    .into_boxed_str()
                })
                .collect()
        })
    });
    let index = Utility::ALL.iter().position(|u| *u == utility);
    &NAMES[slot(lang)][index.expect("every utility is in Utility::ALL")]
}

/// The catalogues the loader reads, for the ids of their messages.
const CATALOGUES: [&str; 3] = [
    include_str!("../templates/i18n/hu/main.ftl"),
    include_str!("../templates/i18n/pl/main.ftl"),
    include_str!("../templates/i18n/en/main.ftl"),
];

/// The ids of a catalogue's messages: in Fluent a message starts a line with
/// its identifier and `=` (terms start with `-`, comments with `#`, and the
/// lines of a multi-line value are indented).
fn message_ids(catalogue: &'static str) -> impl Iterator<Item = &'static str> {
    catalogue.lines().filter_map(|line| {
        let (id, _) = line.split_once('=')?;
        let id = id.trim_end();
        let mut chars = id.chars();
        (chars.next()?.is_ascii_alphabetic()
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .then_some(id)
    })
}

pub fn t_args(lang: Language, key: &str, args: &Args) -> String {
    LOCALES.lookup_with_args(langid(lang), key, args)
}

/// [`t_args`] for a message whose arguments are all plain placeables (`{ $street }
/// { $number }`: no selector, no function), with `values` for `names` in order.
///
/// Such a message reads as its literal text with each value put in, so fluent
/// formats it once per language, with a marker for each argument, and the
/// pieces between the markers are kept; formatting is then concatenation. An
/// address is written for every search result and most spoken answers, and
/// through fluent each cost four `String`s, a map and a walk of the pattern.
/// Only the messages named in code use this; a test checks each of them, in
/// every language, gives what fluent gives (so a selector added to one of
/// them fails it rather than being read wrong).
pub fn fill(lang: Language, key: &'static str, names: &[&'static str], values: &[&str]) -> String {
    use std::sync::{Arc, LazyLock, RwLock};
    type Memo = RwLock<HashMap<&'static str, Arc<[Piece]>>>;
    static FILLED: LazyLock<[Memo; 3]> = LazyLock::new(Default::default);
    debug_assert_eq!(names.len(), values.len(), "{key}");
    let memo = &FILLED[slot(lang)];
    let cached = memo.read().expect("i18n memo").get(key).cloned();
    let pieces = cached.unwrap_or_else(|| {
        let pieces = pieces(lang, key, names);
        memo.write()
            .expect("i18n memo")
            .insert(key, Arc::clone(&pieces));
        pieces
    });
    let mut out = String::with_capacity(
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.len(),
                Piece::Value(i) => values[*i].len(),
            })
            .sum(),
    );
    for p in pieces.iter() {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Value(i) => out.push_str(values[*i]),
        }
    }
    out
}

/// A part of a message kept by [`fill`]: literal text, or the value of an
/// argument (its place in `names`).
enum Piece {
    Text(Box<str>),
    Value(usize),
}

/// The first private-use character: argument `i`'s marker is the `i`th after it.
const MARKER: u32 = 0xE000;

fn pieces(lang: Language, key: &str, names: &[&'static str]) -> std::sync::Arc<[Piece]> {
    let marked: Args = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let marker = char::from_u32(MARKER + i as u32).expect("a private-use character");
            (Cow::Borrowed(*name), FluentValue::from(marker.to_string()))
        })
        .collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    for c in t_args(lang, key, &marked).chars() {
        match (c as u32).checked_sub(MARKER) {
            Some(i) if (i as usize) < names.len() => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text).into()));
                }
                pieces.push(Piece::Value(i as usize));
            }
            _ => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text.into()));
    }
    // Every message the tests reach is checked against fluent itself.
    debug_assert!(
        {
            let values: Vec<String> = (0..names.len()).map(|i| format!("v{i}")).collect();
            let sample: Args = names
                .iter()
                .zip(&values)
                .map(|(n, v)| (Cow::Borrowed(*n), FluentValue::from(v.clone())))
                .collect();
            let filled: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t,
                    Piece::Value(i) => values[*i].as_str(),
                })
                .collect();
            filled == t_args(lang, key, &sample)
        },
        "{key} in {lang:?} is not only plain placeables: format it with t_args"
    );
    pieces.into()
}

/// The arguments of the address messages, in the order of [`Address::columns`].
const ADDRESS_PARTS: [&str; 4] = ["street", "number", "postcode", "settlement"];

/// How `address` reads in `lang`: the one place an address becomes text, for
/// every message, page and spoken sentence. Only the parts the address has are
/// written, so a place without streets reads "Wola 12" and an address without a
/// postcode has no empty gap where it would be.
pub fn address(lang: Language, address: &Address, form: AddressForm) -> String {
    let key = match (address.street(), form, address.postcode()) {
        (Some(_), AddressForm::Short, _) => "address-street-short",
        (Some(_), AddressForm::Postal, Some(_)) => "address-street-postal",
        (Some(_), _, _) => "address-street",
        (None, AddressForm::Postal, Some(_)) => "address-village-postal",
        (None, _, _) => "address-village",
    };
    fill(lang, key, &ADDRESS_PARTS, &address.columns())
}

/// "today at 18:30", "holnap 9:05-kor", "23 listopada o 18:30": an instant as
/// people say it, in the utility's time zone, relative to `now`.
pub fn when(lang: Language, tz: Tz, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    let today = now.with_timezone(&tz).date_naive();
    let time = format!("{}:{:02}", local.hour(), local.minute());
    let key = match (local.date_naive() - today).num_days() {
        0 => "time-today",
        1 => "time-tomorrow",
        -1 => "time-yesterday",
        _ => "time-date",
    };
    let date = date(lang, tz, at);
    fill(lang, key, &["time", "date"], &[&time, &date])
}

/// An instant for text-to-speech, the way people say it: "today at 6:30 pm",
/// "ma 18 óra 30 perckor", "dziś o 18:30".
pub fn spoken_when(lang: Language, tz: Tz, at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    let (hour, minute) = (local.hour(), local.minute());
    let mut clock_args: Args = HashMap::new();
    clock_args.insert(Cow::Borrowed("hour"), FluentValue::from(hour));
    clock_args.insert(Cow::Borrowed("minute"), FluentValue::from(minute));
    clock_args.insert(
        Cow::Borrowed("minute2"),
        FluentValue::from(format!("{minute:02}")),
    );
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    clock_args.insert(Cow::Borrowed("hour12"), FluentValue::from(hour12));
    clock_args.insert(
        Cow::Borrowed("ampm"),
        FluentValue::from(if hour < 12 { "am" } else { "pm" }),
    );
    let clock = t_args(lang, "spoken-clock", &clock_args);
    let key = match (local.date_naive() - now.with_timezone(&tz).date_naive()).num_days() {
        0 => "spoken-today",
        1 => "spoken-tomorrow",
        -1 => "spoken-yesterday",
        _ => "spoken-date",
    };
    let date = date(lang, tz, at);
    t_args(lang, key, &args([("clock", clock), ("date", date)]))
}

/// "23 November 2026" in the language's own form.
pub fn date(lang: Language, tz: Tz, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    let month = t(lang, &format!("month-{}", local.month()));
    fill(
        lang,
        "date-format",
        &["day", "month", "year"],
        &[&local.day().to_string(), &month, &local.year().to_string()],
    )
}

/// Date and clock time, for histories and timestamps ("23 November 2026, 18:30").
pub fn date_time(lang: Language, tz: Tz, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    let time = format!("{}:{:02}", local.hour(), local.minute());
    let date = date(lang, tz, at);
    fill(lang, "date-time-format", &["date", "time"], &[&date, &time])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, day: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Budapest
            .with_ymd_and_hms(2026, 11, day, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn relative_times_in_each_language() {
        let tz = chrono_tz::Europe::Budapest;
        let now = at(10, 0, 23);
        assert_eq!(
            when(Language::En, tz, at(18, 30, 23), now),
            "today at 18:30"
        );
        assert_eq!(when(Language::Hu, tz, at(18, 30, 23), now), "ma 18:30-kor");
        assert_eq!(when(Language::Pl, tz, at(18, 30, 23), now), "dziś o 18:30");
        assert_eq!(
            when(Language::En, tz, at(9, 5, 24), now),
            "tomorrow at 9:05"
        );
        assert_eq!(
            when(Language::Pl, tz, at(9, 5, 26), now),
            "26 listopada 2026 o 9:05"
        );
        assert_eq!(
            when(Language::Hu, tz, at(9, 5, 26), now),
            "2026. november 26. 9:05-kor"
        );
    }

    #[test]
    fn every_message_is_kept_as_fluent_formats_it() {
        let ids: Vec<&str> = CATALOGUES.iter().flat_map(|c| message_ids(c)).collect();
        assert!(ids.len() > 100, "{}", ids.len());
        assert!(ids.contains(&"etr-unknown") && ids.contains(&"address-street-postal"));
        assert!(!ids.iter().any(|id| id.starts_with('-') || id.contains(' ')));
        for lang in Language::ALL {
            for id in &ids {
                let kept = text(lang, id);
                assert!(matches!(kept, Cow::Borrowed(_)), "{id}");
                assert_eq!(kept, LOCALES.lookup(langid(lang), id), "{id} {lang:?}");
            }
        }
        // A key no catalogue has reads as fluent reads it.
        assert_eq!(
            text(Language::En, "no-such-message"),
            LOCALES.lookup(langid(Language::En), "no-such-message")
        );
    }

    #[test]
    fn filled_messages_read_as_fluent_formats_them() {
        let filled: [(&'static str, &[&'static str]); 11] = [
            ("address-street-short", &ADDRESS_PARTS),
            ("address-street", &ADDRESS_PARTS),
            ("address-street-postal", &ADDRESS_PARTS),
            ("address-village", &ADDRESS_PARTS),
            ("address-village-postal", &ADDRESS_PARTS),
            ("time-today", &["time", "date"]),
            ("time-tomorrow", &["time", "date"]),
            ("time-yesterday", &["time", "date"]),
            ("time-date", &["time", "date"]),
            ("date-format", &["day", "month", "year"]),
            ("date-time-format", &["date", "time"]),
        ];
        let values = ["Kossuth Lajos utca", "12/A", "1119", "Budapest"];
        for lang in [Language::Hu, Language::Pl, Language::En] {
            for (key, names) in filled {
                let values = &values[..names.len()];
                let fluent: Args = names
                    .iter()
                    .zip(values)
                    .map(|(n, v)| (Cow::Borrowed(*n), FluentValue::from(v.to_string())))
                    .collect();
                assert_eq!(
                    fill(lang, key, names, values),
                    t_args(lang, key, &fluent),
                    "{key} {lang:?}"
                );
            }
        }
        // Without its arguments' markers a message is its text.
        assert_eq!(
            fill(Language::En, "etr-unknown", &[], &[]),
            t(Language::En, "etr-unknown")
        );
    }

    #[test]
    fn spoken_times_as_people_say_them() {
        let tz = chrono_tz::Europe::Budapest;
        let now = at(10, 0, 23);
        assert_eq!(
            spoken_when(Language::Hu, tz, at(18, 30, 23), now),
            "ma 18 óra 30 perckor"
        );
        assert_eq!(
            spoken_when(Language::Hu, tz, at(18, 0, 24), now),
            "holnap 18 órakor"
        );
        assert_eq!(
            spoken_when(Language::Pl, tz, at(18, 30, 23), now),
            "dziś o 18:30"
        );
        assert_eq!(
            spoken_when(Language::En, tz, at(18, 30, 23), now),
            "today at 6:30 pm"
        );
        assert_eq!(
            spoken_when(Language::En, tz, at(0, 5, 24), now),
            "tomorrow at 12:05 am"
        );
        assert_eq!(
            spoken_when(Language::En, tz, at(9, 0, 26), now),
            "on 26 November 2026 at 9 am"
        );
    }

    fn keys(lang: &str) -> std::collections::BTreeSet<String> {
        let text = std::fs::read_to_string(format!("templates/i18n/{lang}/main.ftl")).unwrap();
        text.lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()) && l.contains(" ="))
            .map(|l| l.split(" =").next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_language_has_the_same_keys() {
        let en = keys("en");
        assert!(en.len() > 50, "{}", en.len());
        for lang in ["hu", "pl"] {
            assert_eq!(keys(lang), en, "{lang} differs from en");
        }
        // And each one resolves (no fallback to the key itself).
        let all = args([
            ("time", "9:00".into()),
            ("date", "d".into()),
            ("day", "1".into()),
            ("month", "m".into()),
            ("year", "2026".into()),
            ("utility", "power".into()),
            ("utility-name", "u".into()),
            ("title", "t".into()),
            ("place", "p".into()),
            ("cause", "c".into()),
            ("etr", "e".into()),
            ("starts", "s".into()),
            ("reference", "r".into()),
            ("url", "u".into()),
            ("address", "a".into()),
            ("destination", "d".into()),
            ("count", "3".into()),
            ("street", "s".into()),
            ("number", "1".into()),
            ("postcode", "1".into()),
            ("settlement", "s".into()),
        ]);
        for lang in Language::ALL {
            for key in &en {
                let text = t_args(lang, key, &all);
                assert!(!text.is_empty() && text != *key, "{key} in {lang}");
            }
        }
    }

    #[test]
    fn addresses_read_with_only_the_parts_they_have() {
        use AddressForm::*;
        let street = Address::new("Bartók Béla út", "12/A", "1114", "Budapest").unwrap();
        let no_postcode = Address::new("Petőfi Sándor utca", "3-5", "", "Kisfalu").unwrap();
        let village = Address::new("", "12", "", "Wola Zaradzyńska").unwrap();
        let village_pc = Address::new("", "hrsz. 0123/4", "6065", "Lakitelek").unwrap();
        let read = |lang, a: &Address, form| address(lang, a, form);
        for lang in Language::ALL {
            assert_eq!(read(lang, &street, Short), "Bartók Béla út 12/A");
            assert_eq!(read(lang, &street, Full), "Bartók Béla út 12/A, Budapest");
            assert_eq!(
                read(lang, &street, Postal),
                "Bartók Béla út 12/A, 1114 Budapest"
            );
            for form in [Full, Postal] {
                assert_eq!(
                    read(lang, &no_postcode, form),
                    "Petőfi Sándor utca 3-5, Kisfalu"
                );
            }
            for form in [Short, Full, Postal] {
                assert_eq!(read(lang, &village, form), "Wola Zaradzyńska 12");
            }
            assert_eq!(read(lang, &village_pc, Full), "Lakitelek hrsz. 0123/4");
        }
        assert_eq!(
            read(Language::Hu, &village_pc, Postal),
            "6065 Lakitelek hrsz. 0123/4"
        );
        assert_eq!(
            read(Language::Pl, &village_pc, Postal),
            "Lakitelek hrsz. 0123/4, 6065"
        );
    }
}

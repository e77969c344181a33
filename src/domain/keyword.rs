//! What a text message to Herald's number asks for. The first word decides,
//! read without regard to case or accents (`leiratkozás`, `LEIRATKOZAS` and
//! `Leiratkozás!` are one word), except that a whole message that is a
//! reference number (`WA-4821-K`, `wa 4821 k`) asks for that outage.
//! No keyword has a utility's reference prefix (`PW`, `WA`, `GA`, `TC`, `HT`,
//! `SW`), so the two never meet.
//!
//! The words are the carriers' standard ones (STOP, START, HELP…) and their
//! Hungarian and Polish equivalents; a word used only in one of those
//! languages also tells which language to answer in (STOP, START, HELP, INFO
//! and STATUS are everybody's, and tell nothing).

use unicode_normalization::UnicodeNormalization;

use super::reference::{looks_like_reference, Reference};
use super::{Language, Utility};

/// What the message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyword {
    /// No more SMS to this number.
    Stop,
    /// SMS to this number again.
    Start,
    /// Who sends this, how to stop, where the status page is.
    Help,
    /// The status at the sender's address.
    Status,
    /// "No supply at my address", with the service if the message names it.
    Out(Option<Utility>),
    /// An outage's status by its reference.
    Reference(Reference),
    /// Looks like a reference but fails its check: a typo to correct.
    MistypedReference(String),
    /// Anything else: answered as HELP, at most once a day.
    Unknown,
}

impl Keyword {
    /// How the ledger and the inbound log name it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Keyword::Stop => "stop",
            Keyword::Start => "start",
            Keyword::Help => "help",
            Keyword::Status => "status",
            Keyword::Out(_) => "out",
            Keyword::Reference(_) | Keyword::MistypedReference(_) => "reference",
            Keyword::Unknown => "unknown",
        }
    }
}

/// A message read: what it asks, the word as folded, and the language the
/// word gives away (none for words common to all three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub keyword: Keyword,
    pub word: String,
    pub language: Option<Language>,
}

/// Upper case without accents: `Zakończ` → `ZAKONCZ`, `łódź` → `LODZ`.
pub fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'ł' | 'Ł' => 'L',
            'ß' => 'S',
            other => other,
        })
        .flat_map(char::to_uppercase)
        .collect()
}

const WORDS: &[(&str, Keyword, Option<Language>)] = &[
    ("STOP", Keyword::Stop, None),
    ("STOPALL", Keyword::Stop, None),
    ("UNSUBSCRIBE", Keyword::Stop, Some(Language::En)),
    ("CANCEL", Keyword::Stop, Some(Language::En)),
    ("END", Keyword::Stop, Some(Language::En)),
    ("QUIT", Keyword::Stop, Some(Language::En)),
    ("REVOKE", Keyword::Stop, Some(Language::En)),
    ("OPTOUT", Keyword::Stop, Some(Language::En)),
    ("LEIRATKOZAS", Keyword::Stop, Some(Language::Hu)),
    ("LEIRATKOZOM", Keyword::Stop, Some(Language::Hu)),
    ("NIE", Keyword::Stop, Some(Language::Pl)),
    ("REZYGNACJA", Keyword::Stop, Some(Language::Pl)),
    ("ZAKONCZ", Keyword::Stop, Some(Language::Pl)),
    ("WYPISZ", Keyword::Stop, Some(Language::Pl)),
    ("START", Keyword::Start, None),
    ("UNSTOP", Keyword::Start, Some(Language::En)),
    ("YES", Keyword::Start, Some(Language::En)),
    ("IGEN", Keyword::Start, Some(Language::Hu)),
    ("TAK", Keyword::Start, Some(Language::Pl)),
    ("HELP", Keyword::Help, None),
    ("INFO", Keyword::Help, None),
    ("SEGITSEG", Keyword::Help, Some(Language::Hu)),
    ("POMOC", Keyword::Help, Some(Language::Pl)),
    ("STATUS", Keyword::Status, None),
    ("ALLAPOT", Keyword::Status, Some(Language::Hu)),
    ("STAN", Keyword::Status, Some(Language::Pl)),
    ("OUT", Keyword::Out(None), Some(Language::En)),
    ("NINCS", Keyword::Out(None), Some(Language::Hu)),
    ("BRAK", Keyword::Out(None), Some(Language::Pl)),
];

/// A service named after OUT / NINCS / BRAK (`BRAK WODY`, `NINCS ÁRAM`).
const SERVICES: &[(&str, Utility)] = &[
    ("POWER", Utility::Power),
    ("ELECTRICITY", Utility::Power),
    ("ARAM", Utility::Power),
    ("VILLANY", Utility::Power),
    ("PRAD", Utility::Power),
    ("PRADU", Utility::Power),
    ("WATER", Utility::Water),
    ("VIZ", Utility::Water),
    ("WODA", Utility::Water),
    ("WODY", Utility::Water),
    ("GAS", Utility::Gas),
    ("GAZ", Utility::Gas),
    ("GAZU", Utility::Gas),
    ("PHONE", Utility::Telecom),
    ("INTERNET", Utility::Telecom),
    ("TELEFON", Utility::Telecom),
    ("TELEFONU", Utility::Telecom),
    ("HEATING", Utility::Heating),
    ("HEAT", Utility::Heating),
    ("FUTES", Utility::Heating),
    ("TAVFUTES", Utility::Heating),
    ("OGRZEWANIE", Utility::Heating),
    ("OGRZEWANIA", Utility::Heating),
    ("SEWER", Utility::Sewer),
    ("CSATORNA", Utility::Sewer),
    ("KANALIZACJA", Utility::Sewer),
    ("KANALIZACJI", Utility::Sewer),
];

/// The words of a message, folded, without the punctuation around them.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace()
        .map(|w| fold(w.trim_matches(|c: char| !c.is_alphanumeric())))
        .filter(|w| !w.is_empty())
}

/// Whether the whole message is a reference of one of Herald's utilities
/// (a prefix such as `WA`, then the rest of a reference's shape). Without the
/// prefix, Crockford's reading (`O` is `0`, `L` is `1`) makes many
/// seven-letter words look like one.
fn is_reference(text: &str) -> bool {
    let prefix: String = text
        .chars()
        .take(2)
        .collect::<String>()
        .to_ascii_uppercase();
    looks_like_reference(text) && Utility::ALL.iter().any(|u| u.reference_prefix() == prefix)
}

/// Reads a message.
pub fn read(text: &str) -> Read {
    let trimmed = text.trim();
    if is_reference(trimmed) {
        let keyword = match Reference::parse(trimmed) {
            Ok(r) => Keyword::Reference(r),
            Err(_) => Keyword::MistypedReference(trimmed.to_string()),
        };
        return Read {
            keyword,
            word: fold(trimmed),
            language: None,
        };
    }
    let mut words = words(trimmed);
    let Some(first) = words.next() else {
        return Read {
            keyword: Keyword::Unknown,
            word: String::new(),
            language: None,
        };
    };
    match WORDS.iter().find(|(w, _, _)| *w == first) {
        Some((_, Keyword::Out(_), language)) => {
            let service = words.find_map(|w| {
                SERVICES
                    .iter()
                    .find(|(name, _)| *name == w)
                    .map(|(_, u)| *u)
            });
            Read {
                keyword: Keyword::Out(service),
                word: first,
                language: *language,
            }
        }
        Some((_, keyword, language)) => Read {
            keyword: keyword.clone(),
            word: first,
            language: *language,
        },
        None => Read {
            keyword: Keyword::Unknown,
            word: first,
            language: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(text: &str) -> Keyword {
        read(text).keyword
    }

    #[test]
    fn every_stop_word_in_every_language_in_any_case_and_accent() {
        for w in [
            "STOP",
            "stop",
            "Stop!",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "end",
            "QUIT",
            "revoke",
            "OptOut",
            "LEIRATKOZÁS",
            "leiratkozás",
            "leiratkozas",
            "Leiratkozom",
            "NIE",
            "nie",
            "Rezygnacja",
            "ZAKOŃCZ",
            "zakończ",
            "zakoncz",
            "WYPISZ",
        ] {
            assert_eq!(kw(w), Keyword::Stop, "{w}");
            assert_eq!(kw(&format!("  {w} please, no more")), Keyword::Stop, "{w}");
        }
    }

    #[test]
    fn start_help_status_and_their_languages() {
        for w in ["START", "unstop", "Yes", "IGEN", "igen", "TAK", "tak"] {
            assert_eq!(kw(w), Keyword::Start, "{w}");
        }
        for w in [
            "HELP",
            "help",
            "INFO",
            "SEGÍTSÉG",
            "segitseg",
            "Segítség",
            "POMOC",
        ] {
            assert_eq!(kw(w), Keyword::Help, "{w}");
        }
        for w in [
            "STATUS", "status?", "ÁLLAPOT", "állapot", "allapot", "STAN", "stan",
        ] {
            assert_eq!(kw(w), Keyword::Status, "{w}");
        }
        assert_eq!(read("állapot").language, Some(Language::Hu));
        assert_eq!(read("Zakończ").language, Some(Language::Pl));
        assert_eq!(read("STOP").language, None);
        assert_eq!(read("help").language, None);
        assert_eq!(read("unsubscribe").language, Some(Language::En));
    }

    #[test]
    fn out_with_and_without_the_service() {
        assert_eq!(kw("OUT"), Keyword::Out(None));
        assert_eq!(kw("out of water"), Keyword::Out(Some(Utility::Water)));
        assert_eq!(kw("Nincs áram"), Keyword::Out(Some(Utility::Power)));
        assert_eq!(kw("nincs viz"), Keyword::Out(Some(Utility::Water)));
        assert_eq!(kw("BRAK WODY"), Keyword::Out(Some(Utility::Water)));
        assert_eq!(kw("brak prądu od rana"), Keyword::Out(Some(Utility::Power)));
        assert_eq!(read("brak").language, Some(Language::Pl));
    }

    #[test]
    fn references_correct_and_mistyped() {
        let r = Reference::generate("WA", &mut rand::rng());
        assert_eq!(kw(r.as_str()), Keyword::Reference(r.clone()));
        let spaced = r.as_str().replace('-', " ").to_lowercase();
        assert_eq!(kw(&spaced), Keyword::Reference(r.clone()));
        let mut typo: Vec<char> = r.as_str().chars().collect();
        typo[4] = if typo[4] == '5' { '6' } else { '5' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(kw(&typo), Keyword::MistypedReference(typo.clone()));
    }

    #[test]
    fn anything_else_is_unknown() {
        for w in [
            "",
            "   ",
            "hello",
            "hello12",
            "stopp",
            "when is the water back?",
            "🙂",
        ] {
            assert_eq!(kw(w), Keyword::Unknown, "{w}");
        }
        // The first word decides.
        assert_eq!(kw("please stop"), Keyword::Unknown);
    }
}

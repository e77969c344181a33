//! Who is calling: every SMS contact's number with its address and language,
//! in memory, so an IVR answer by caller number needs no database read.
//!
//! One sorted array of 24-byte entries (the number as its E.164 digits in a
//! `u64`), looked up by binary search: 1,000,000 contacts take 24 MiB.

use crate::domain::{Channel, Language, Phone};
use crate::store::ContactEntry;

/// One contact of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    number: u64,
    pub address_id: i64,
    pub language: Language,
    /// Opted out of messages: still hears the status when calling (a call is
    /// a request), but is not offered an SMS.
    pub opted_out: bool,
}

#[derive(Default)]
pub struct CallerMap {
    entries: Vec<Caller>,
}

/// An E.164 number's digits as a number (`+36201234567` → 36201234567).
fn digits(e164: &str) -> Option<u64> {
    let d = e164.strip_prefix('+')?;
    (!d.is_empty() && d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()))
        .then(|| d.parse().ok())
        .flatten()
}

/// Collects a map's entries as the contacts are read (see
/// [`crate::store::Database::each_contact`]): 24 bytes each, nothing else held.
#[derive(Default)]
pub struct Builder {
    entries: Vec<Caller>,
}

impl Builder {
    /// Adds an SMS contact (others are not callers); one whose number is not
    /// E.164 digits is left out.
    pub fn push(&mut self, c: &ContactEntry<'_>) {
        if c.channel != Channel::Sms {
            return;
        }
        if let Some(number) = digits(c.destination) {
            self.entries.push(Caller {
                number,
                address_id: c.address_id,
                language: c.language,
                opted_out: c.opted_out,
            });
        }
    }

    pub fn finish(self) -> CallerMap {
        let mut entries = self.entries;
        entries.sort_unstable_by_key(|c| (c.number, c.address_id));
        entries.dedup_by_key(|c| (c.number, c.address_id));
        entries.shrink_to_fit();
        CallerMap { entries }
    }
}

impl CallerMap {
    pub fn build<'a>(contacts: impl IntoIterator<Item = ContactEntry<'a>>) -> CallerMap {
        let mut builder = Builder::default();
        for c in contacts {
            builder.push(&c);
        }
        builder.finish()
    }

    /// The contacts registered with this number (E.164), by address id.
    pub fn lookup(&self, e164: &str) -> &[Caller] {
        let Some(n) = digits(e164) else {
            return &[];
        };
        let start = self.entries.partition_point(|c| c.number < n);
        let end = start + self.entries[start..].partition_point(|c| c.number == n);
        &self.entries[start..end]
    }

    /// `raw` as a [`Phone`] without libphonenumber, when it is written exactly
    /// as a registered number is stored (`+`, digits, no leading zero): the
    /// stored form is what [`Phone::parse`] made of it at import, and reading
    /// that form again gives it back unchanged. An IVR sends caller ids in
    /// E.164, so in a storm of new numbers this is nearly every call; anything
    /// else (another spelling, an unregistered number) is `None` and is read
    /// in full.
    pub fn registered(&self, raw: &str) -> Option<Phone> {
        let first = raw.strip_prefix('+')?.bytes().next()?;
        if first == b'0' || self.lookup(raw).is_empty() {
            return None;
        }
        Some(Phone::from_stored(raw))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Caller>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: &str, address_id: i64, language: Language, opted_out: bool) -> ContactEntry<'_> {
        ContactEntry {
            channel: Channel::Sms,
            destination: n,
            address_id,
            language,
            opted_out,
        }
    }

    #[test]
    fn a_number_finds_all_its_addresses() {
        let map = CallerMap::build(vec![
            row("+36301000002", 7, Language::En, false),
            row("+36301000000", 9, Language::Hu, true),
            row("+36301000000", 3, Language::Hu, false),
            row("+36301000000", 3, Language::Hu, false),
            row("not a number", 1, Language::Hu, false),
        ]);
        assert_eq!(map.len(), 3);
        let found = map.lookup("+36301000000");
        assert_eq!(
            found
                .iter()
                .map(|c| (c.address_id, c.opted_out))
                .collect::<Vec<_>>(),
            vec![(3, false), (9, true)]
        );
        assert_eq!(map.lookup("+36301000002")[0].language, Language::En);
        assert!(map.lookup("+36301000001").is_empty());
        assert!(map.lookup("+3630100000199999").is_empty());
        assert_eq!(std::mem::size_of::<Caller>(), 24);
    }

    #[test]
    fn only_a_registered_number_as_stored_skips_the_parser() {
        let map = CallerMap::build(vec![row("+36301000000", 3, Language::Hu, false)]);
        let read = |raw: &str| map.registered(raw).map(|p| p.as_str().to_string());
        assert_eq!(read("+36301000000").as_deref(), Some("+36301000000"));
        // The same number spelled otherwise, or one not registered: the parser's.
        for raw in [
            "36301000000",
            "+036301000000",
            "+36 30 100 0000",
            "+36301000001",
            "+",
            "",
        ] {
            assert_eq!(read(raw), None, "{raw}");
        }
        // And what the parser makes of the stored form is the stored form.
        assert_eq!(
            Phone::parse("+36301000000", crate::domain::contact::Region::PL)
                .unwrap()
                .as_str(),
            "+36301000000"
        );
    }
}

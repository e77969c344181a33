//! The address register in memory, compactly: every address by id, by external
//! id and by postcode, so the IVR and the status page answer "which addresses"
//! without the database.
//!
//! Columns, not structs: the strings that repeat (streets, postcodes,
//! settlements, house numbers) are interned once and each address holds four
//! `u32`s; external ids (unique) live in one arena. At 2,000,000 addresses that
//! is about 75 MiB where a `Vec` of four `String`s each would be over 250 MiB.

use std::collections::HashMap;

use crate::domain::Address;
use crate::interned::Strings;
use crate::search::StreetHouses;
use crate::store::RegisterEntry;

/// One address's parts, as indexes into the interned strings.
#[derive(Clone, Copy)]
struct Parts {
    street: u32,
    house: u32,
    postcode: u32,
    settlement: u32,
}

/// A position in the book (0..len), not a database id.
pub type Slot = u32;

pub struct AddressBook {
    /// Database ids, ascending; a slot is a position here.
    ids: Vec<i64>,
    parts: Vec<Parts>,
    strings: Strings,
    /// External ids, concatenated; slot `i` is `external[ends[i-1]..ends[i]]`.
    external: String,
    external_ends: Vec<u32>,
    /// Slots sorted by external id, for lookups by it.
    by_external: Vec<Slot>,
    /// Slots by postcode: postcode → `postcode_slots[start..end]`.
    postcode_ranges: HashMap<Box<str>, (u32, u32)>,
    postcode_slots: Vec<Slot>,
}

/// Collects the book's columns as the register is read (see
/// [`crate::store::Database::each_address`]), interning as it goes, so the
/// register is never held as rows.
#[derive(Default)]
pub struct Builder {
    ids: Vec<i64>,
    parts: Vec<Parts>,
    strings: Strings,
    external: String,
    external_ends: Vec<u32>,
    /// Whether an id came after a larger or equal one (SQLite reads in id
    /// order, PostgreSQL mostly; `finish` puts the rest in order).
    out_of_order: bool,
}

impl Builder {
    pub fn push(&mut self, a: &RegisterEntry<'_>) {
        if self.ids.last().is_some_and(|last| *last >= a.id) {
            self.out_of_order = true;
        }
        self.ids.push(a.id);
        let strings = &mut self.strings;
        self.parts.push(Parts {
            street: strings.intern(a.street),
            house: strings.intern(a.house_number),
            postcode: strings.intern(a.postcode),
            settlement: strings.intern(a.settlement),
        });
        self.external.push_str(a.external_id);
        self.external_ends.push(self.external.len() as u32);
    }

    pub fn finish(mut self) -> AddressBook {
        if self.out_of_order {
            self.put_in_order();
        }
        self.strings.freeze();
        self.ids.shrink_to_fit();
        self.parts.shrink_to_fit();
        self.external.shrink_to_fit();
        self.external_ends.shrink_to_fit();
        let mut book = AddressBook {
            ids: self.ids,
            parts: self.parts,
            strings: self.strings,
            external: self.external,
            external_ends: self.external_ends,
            by_external: Vec::new(),
            postcode_ranges: HashMap::new(),
            postcode_slots: Vec::new(),
        };
        book.index();
        book
    }

    /// Sorts by id, keeping the first of each id.
    fn put_in_order(&mut self) {
        let external_id = |s: usize| {
            let start = if s == 0 {
                0
            } else {
                self.external_ends[s - 1] as usize
            };
            &self.external[start..self.external_ends[s] as usize]
        };
        let mut order: Vec<usize> = (0..self.ids.len()).collect();
        order.sort_by_key(|&s| self.ids[s]);
        order.dedup_by_key(|s| self.ids[*s]);
        let mut external = String::with_capacity(self.external.len());
        let mut ends = Vec::with_capacity(order.len());
        for &s in &order {
            external.push_str(external_id(s));
            ends.push(external.len() as u32);
        }
        self.ids = order.iter().map(|&s| self.ids[s]).collect();
        self.parts = order.iter().map(|&s| self.parts[s]).collect();
        (self.external, self.external_ends) = (external, ends);
    }
}

impl AddressBook {
    /// Builds the book from the register's entries, in any order.
    pub fn build<'a>(entries: impl IntoIterator<Item = RegisterEntry<'a>>) -> AddressBook {
        let mut builder = Builder::default();
        for a in entries {
            builder.push(&a);
        }
        builder.finish()
    }

    /// The lookups by external id and by postcode, over the columns.
    fn index(&mut self) {
        let mut by_external: Vec<Slot> = (0..self.ids.len() as Slot).collect();
        by_external.sort_unstable_by(|a, b| self.external_id(*a).cmp(self.external_id(*b)));
        self.by_external = by_external;
        let mut by_postcode: Vec<Slot> = (0..self.ids.len() as Slot)
            .filter(|s| {
                !self
                    .strings
                    .get(self.parts[*s as usize].postcode)
                    .is_empty()
            })
            .collect();
        // Slots ascend within a postcode (stable sort), so ids do too.
        by_postcode.sort_by_key(|s| self.parts[*s as usize].postcode);
        let mut start = 0;
        while start < by_postcode.len() {
            let pc = self.parts[by_postcode[start] as usize].postcode;
            let mut end = start;
            while end < by_postcode.len() && self.parts[by_postcode[end] as usize].postcode == pc {
                end += 1;
            }
            self.postcode_ranges
                .insert(self.strings.get(pc).into(), (start as u32, end as u32));
            start = end;
        }
        self.postcode_slots = by_postcode;
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn id(&self, slot: Slot) -> i64 {
        self.ids[slot as usize]
    }

    /// The slot of a database id.
    pub fn slot(&self, id: i64) -> Option<Slot> {
        self.ids.binary_search(&id).ok().map(|i| i as Slot)
    }

    pub fn external_id(&self, slot: Slot) -> &str {
        let end = self.external_ends[slot as usize] as usize;
        let start = match slot {
            0 => 0,
            s => self.external_ends[s as usize - 1] as usize,
        };
        &self.external[start..end]
    }

    pub fn by_external_id(&self, external_id: &str) -> Option<Slot> {
        self.by_external
            .binary_search_by(|s| self.external_id(*s).cmp(external_id))
            .ok()
            .map(|i| self.by_external[i])
    }

    /// The slots of a postcode's addresses, in id order (empty if unknown).
    /// The postcode is compared as written in the register.
    pub fn postcode(&self, postcode: &str) -> &[Slot] {
        match self.postcode_ranges.get(postcode) {
            Some(&(start, end)) => &self.postcode_slots[start as usize..end as usize],
            None => &[],
        }
    }

    pub fn settlement(&self, slot: Slot) -> &str {
        self.strings.get(self.parts[slot as usize].settlement)
    }

    /// (settlement, postcode, street) of a slot; empty strings for absent parts.
    pub fn place(&self, slot: Slot) -> (&str, &str, &str) {
        let p = self.parts[slot as usize];
        (
            self.strings.get(p.settlement),
            self.strings.get(p.postcode),
            self.strings.get(p.street),
        )
    }

    pub fn address(&self, slot: Slot) -> Address {
        let p = self.parts[slot as usize];
        let s = |i| self.strings.get(i).to_string();
        Address::stored(s(p.street), s(p.house), s(p.postcode), s(p.settlement))
    }

    /// The distinct (settlement, postcode, street) of the addresses whose ids
    /// fall in `runs` (inclusive, ascending), sorted.
    pub fn places(&self, runs: &[(i64, i64)]) -> Vec<(String, String, String)> {
        let mut seen: std::collections::BTreeSet<(u32, u32, u32)> = Default::default();
        let mut out = std::collections::BTreeSet::new();
        for &(first, last) in runs {
            let start = self.ids.partition_point(|id| *id < first);
            let end = self.ids.partition_point(|id| *id <= last);
            for slot in start..end {
                let p = self.parts[slot];
                if seen.insert((p.settlement, p.postcode, p.street)) {
                    let (a, b, c) = self.place(slot as Slot);
                    out.insert((a.to_string(), b.to_string(), c.to_string()));
                }
            }
        }
        out.into_iter().collect()
    }

    /// How many distinct settlements and streets the addresses `ids`
    /// (ascending; unknown ids are skipped) lie in: the console's preview.
    /// Each id is found by galloping from the last one, so an area of 500,000
    /// neighbouring addresses costs a few steps per address, not a search.
    pub fn spread(&self, ids: &[i64]) -> (usize, usize) {
        let mut settlements: std::collections::HashSet<u32> = Default::default();
        let mut streets: std::collections::HashSet<(u32, u32)> = Default::default();
        let mut last = None;
        let mut at = 0;
        for &id in ids {
            at = crate::domain::runs::gallop(&self.ids, at, id);
            if at >= self.ids.len() {
                break;
            }
            if self.ids[at] != id {
                continue;
            }
            let p = self.parts[at];
            if last == Some((p.settlement, p.street)) {
                continue;
            }
            last = Some((p.settlement, p.street));
            settlements.insert(p.settlement);
            if !self.strings.get(p.street).is_empty() {
                streets.insert((p.settlement, p.street));
            }
        }
        (settlements.len(), streets.len())
    }

    /// Every street (settlement, street, postcode) with its houses in id
    /// order, to build the search index from: grouped by the interned parts,
    /// so nothing is allocated per address.
    pub fn streets(&self) -> impl Iterator<Item = StreetHouses<'_>> + '_ {
        let key = |s: Slot| {
            let p = self.parts[s as usize];
            (p.settlement, p.street, p.postcode)
        };
        let mut slots: Vec<Slot> = (0..self.ids.len() as Slot).collect();
        slots.sort_by_key(|s| key(*s)); // stable: id order within a street
        let mut start = 0;
        std::iter::from_fn(move || {
            let first = *slots.get(start)?;
            let end = start + slots[start..].partition_point(|s| key(*s) == key(first));
            let houses = slots[start..end]
                .iter()
                .map(|&s| (self.strings.get(self.parts[s as usize].house), self.id(s)))
                .collect();
            start = end;
            let (settlement, postcode, street) = self.place(first);
            Some(StreetHouses {
                settlement,
                street,
                postcode,
                houses,
            })
        })
    }

    /// Heap bytes held, for the memory report.
    pub fn bytes(&self) -> usize {
        self.ids.capacity() * 8
            + self.parts.capacity() * std::mem::size_of::<Parts>()
            + self.strings.bytes()
            + self.external.capacity()
            + self.external_ends.capacity() * 4
            + self.by_external.capacity() * 4
            + self.postcode_slots.capacity() * 4
            + self
                .postcode_ranges
                .keys()
                .map(|k| k.len() + 40)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        id: i64,
        external_id: &'a str,
        street: &'a str,
        house_number: &'a str,
        postcode: &'a str,
        settlement: &'a str,
    ) -> RegisterEntry<'a> {
        RegisterEntry {
            id,
            external_id,
            street,
            house_number,
            postcode,
            settlement,
            lon: 19.0,
            lat: 47.5,
            utilities: 0,
        }
    }

    /// Out of id order, and one id twice (the first is kept).
    fn book() -> AddressBook {
        AddressBook::build(vec![
            row(30, "T2", "Fő utca", "3", "1111", "Budapest"),
            row(30, "T2-again", "Fő utca", "3", "1111", "Budapest"),
            row(10, "T0", "Fő utca", "1", "1111", "Budapest"),
            row(20, "T1", "Fő utca", "2", "1112", "Budapest"),
            row(40, "W1", "", "12/A", "", "Wola"),
        ])
    }

    #[test]
    fn spread_counts_settlements_and_streets_of_ids() {
        let b = book();
        assert_eq!(b.spread(&[]), (0, 0));
        assert_eq!(b.spread(&[10, 20, 30]), (1, 1));
        // A place without streets adds a settlement, no street; unknown ids
        // (before, between and after) are skipped.
        assert_eq!(b.spread(&[1, 10, 25, 40, 99]), (2, 1));
        assert_eq!(b.spread(&[40]), (1, 0));
    }

    #[test]
    fn finds_by_id_external_id_and_postcode() {
        let b = book();
        assert_eq!(b.len(), 4);
        let t1 = b.by_external_id("T1").unwrap();
        assert_eq!((b.id(t1), b.external_id(t1)), (20, "T1"));
        assert_eq!(b.slot(30), Some(2));
        assert_eq!(b.slot(31), None);
        assert_eq!(b.by_external_id("T9"), None);
        let ids: Vec<i64> = b.postcode("1111").iter().map(|s| b.id(*s)).collect();
        assert_eq!(ids, vec![10, 30]);
        assert!(b.postcode("").is_empty() && b.postcode("9999").is_empty());
        let w = b.slot(40).unwrap();
        assert_eq!(b.address(w).street(), None);
        assert_eq!(b.address(w).house_number(), "12/A");
        assert_eq!(b.place(w), ("Wola", "", ""));
    }

    #[test]
    fn slots_give_back_what_was_built_in_id_order() {
        let b = book();
        assert_eq!(b.len(), 4);
        assert_eq!((b.id(0), b.external_id(0)), (10, "T0"));
        assert_eq!(
            b.address(0),
            Address::new("Fő utca", "1", "1111", "Budapest").unwrap()
        );
        assert_eq!(b.address(3), Address::new("", "12/A", "", "Wola").unwrap());
    }

    #[test]
    fn streets_hold_their_houses_in_id_order() {
        let b = book();
        let mut streets: Vec<_> = b
            .streets()
            .map(|s| (s.settlement, s.street, s.postcode, s.houses))
            .collect();
        streets.sort();
        assert_eq!(
            streets,
            vec![
                ("Budapest", "Fő utca", "1111", vec![("1", 10), ("3", 30)]),
                ("Budapest", "Fő utca", "1112", vec![("2", 20)]),
                ("Wola", "", "", vec![("12/A", 40)]),
            ]
        );
    }

    #[test]
    fn places_of_runs_are_distinct_and_sorted() {
        let b = book();
        assert_eq!(
            b.places(&[(10, 20), (40, 40)]),
            vec![
                ("Budapest".into(), "1111".into(), "Fő utca".into()),
                ("Budapest".into(), "1112".into(), "Fő utca".into()),
                ("Wola".into(), "".into(), "".into()),
            ]
        );
    }
}

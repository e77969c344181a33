//! "Am I affected?" address search, forgiving the way people type addresses:
//! any case, with or without accents, abbreviated street types and given names,
//! any word order — "Kossuth Lajos utca 12, Budapest", "kossuth l. u. 12",
//! "ul. Długa 5 Gdańsk", "dluga 5"; and places without streets, by settlement and
//! house number — "Wola Zaradzyńska 12", "wola zaradzynska 12 gmina chmielnik".
//!
//! Addresses are grouped by (settlement, street, postcode). A query's words must
//! all match words of one entry (its name, settlement or postcode; a single letter
//! matches a word it begins, abbreviations match their full form) and at least one
//! must match the entry's name: the street's, or for a place without streets the
//! settlement's. Its numbers are the entry's postcode or one of its house numbers.
//! Words naming the administrative unit around a place ("gmina Chmielnik", "Pest
//! megye") narrow the results when they match and are ignored when they do not:
//! registers rarely carry them.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::domain::Address;
use crate::interned::Strings;

/// Lower-case, accents stripped, punctuation to spaces; `/` is kept, and so is a
/// `-` between digits (a range of houses "3-5", a postcode "80-827").
pub fn fold(s: &str) -> String {
    // Each character decomposed on its own (NFD's decomposition without its
    // reordering of combining marks, which are all dropped here anyway), and
    // ASCII as it is: a query is folded on every search, and the iterator of
    // a whole-string NFD cost more than the rest of the folding.
    let mut chars: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            chars.push(c);
        } else {
            unicode_normalization::char::decompose_canonical(c, |d| {
                if !unicode_normalization::char::is_combining_mark(d) {
                    chars.push(d);
                }
            });
        }
    }
    let digit = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(char::is_ascii_digit)
    };
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            'ł' | 'Ł' => out.push('l'),
            'ß' => out.push_str("ss"),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' => out.push('d'),
            '-' if digit(i.checked_sub(1)) && digit(Some(i + 1)) => out.push('-'),
            c if c.is_alphanumeric() || c == '/' => out.extend(c.to_lowercase()),
            _ => out.push(' '),
        }
    }
    out
}

/// Street-type and other words written in several ways, mapped to one form.
fn canonical(word: &str) -> &str {
    match word {
        "u" | "utca" => "utca",
        "ut" | "utja" => "ut",
        "krt" | "korut" => "korut",
        "ter" | "tere" => "ter",
        "rkp" | "rakpart" => "rakpart",
        "sgt" | "sugarut" => "sugarut",
        "ktr" | "korter" => "korter",
        "ul" | "ulica" => "ulica",
        "al" | "aleja" | "aleje" => "aleja",
        "pl" | "plac" => "plac",
        "os" | "osiedle" => "osiedle",
        "st" | "street" => "street",
        "rd" | "road" => "road",
        "ave" | "avenue" => "avenue",
        other => other,
    }
}

/// Words people add or leave out without changing the place (and the words
/// before a Hungarian lot or farmstead number: "hrsz. 0123/4", "tanya 412").
fn optional(word: &str) -> bool {
    matches!(
        word,
        "ulica" | "utca" | "street" | "hrsz" | "tanya" | "nr" | "no"
    )
}

/// Where the name of an administrative unit stands next to the word for it.
#[derive(Clone, Copy)]
enum Unit {
    /// "gmina Chmielnik", "powiat kielecki": the name follows.
    NameAfter,
    /// "Pest megye", "Kecskeméti járás": the name precedes.
    NameBefore,
}

fn unit(word: &str) -> Option<Unit> {
    match word {
        "gmina" | "gminy" | "gm" | "powiat" | "pow" | "wojewodztwo" | "woj" | "municipality"
        | "commune" => Some(Unit::NameAfter),
        "megye" | "jaras" | "county" | "district" => Some(Unit::NameBefore),
        _ => None,
    }
}

fn words(s: &str) -> Vec<String> {
    fold(s)
        .split_whitespace()
        .map(|w| canonical(w).to_string())
        .collect()
}

fn is_number(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit())
}

/// A number shaped as a postcode ("80-827", or five or six digits), and so
/// more likely one than a house number.
fn looks_like_postcode(word: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match word.split_once('-') {
        Some((a, b)) => digits(a, 2) && digits(b, 3),
        None => (5..=6).contains(&word.len()) && digits(word, word.len()),
    }
}

/// "12/A", "12 a", "12a" → "12a"; "hrsz. 0123/4" → "0123/4" (a `/` between
/// digits stays, so 12/3 is not house 123); "43-47" stays a range.
fn house_key(s: &str) -> String {
    let joined: Vec<char> = words(s)
        .iter()
        .filter(|w| !optional(w))
        .flat_map(|w| w.chars())
        .collect();
    let digit = |i: Option<usize>| {
        i.and_then(|i| joined.get(i))
            .is_some_and(char::is_ascii_digit)
    };
    joined
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            c.is_alphanumeric()
                || c == '-'
                || (c == '/' && digit(i.checked_sub(1)) && digit(Some(i + 1)))
        })
        .map(|(_, &c)| c)
        .collect()
}

/// One street of a settlement, or a settlement's houses without a street.
struct Street {
    settlement: String,
    /// Empty for houses without a street.
    street: String,
    postcode: String,
    /// Its words as ids of [`AddressSearch::words`] (sorted, so a word's id
    /// range is every word it begins): first the `names` words of its name
    /// (the street's; a place without streets is named by its settlement),
    /// then where it is (the settlement's and the postcode's words; for a
    /// place without streets, the postcode's). Ids held in the entry, not
    /// strings: a query word is looked up once, not compared as text with
    /// every candidate's words, and the index is 5 MiB smaller at 2,000,000
    /// addresses (`benches/search.rs`).
    words: SmallVec<[u32; 8]>,
    names: usize,
    /// The street's houses (2,000,000 of them in a large register, so each
    /// is three small numbers: its texts are in [`AddressSearch::texts`]).
    houses: Vec<House>,
}

/// A house: its number as written and its [`house_key`] (indexes into the
/// interned texts), and its address id.
#[derive(Clone, Copy)]
struct House {
    number: u32,
    key: u32,
    id: i64,
}

impl Street {
    fn name_words(&self) -> &[u32] {
        &self.words[..self.names]
    }

    fn place_words(&self) -> &[u32] {
        &self.words[self.names..]
    }

    /// Whether the query word is a word of this entry, and whether of its name.
    /// A word matches one it begins (an initial "l.", an abbreviation "zs.",
    /// an unfinished "kossu") on the name; on the place, only exactly or from
    /// three letters on (so "1" is not "1119").
    fn has(&self, w: &Term) -> (bool, bool) {
        if self.name_words().iter().any(|id| w.begins.contains(id)) {
            return (true, true);
        }
        let on_place = self.place_words().iter().any(|&id| match w.long {
            true => w.begins.contains(&id),
            false => Some(id) == w.exact,
        });
        (on_place, false)
    }

    /// What the query's numbers ask of this entry: `None` if they cannot be
    /// read here, else the house number's key, if they name one.
    /// (Without allocating: it runs for every candidate entry.)
    fn house<'q>(&self, numbers: &[Number<'q>]) -> Option<Option<&'q str>> {
        // Numbers that are words of the place (its postcode, a number in its
        // settlement's name) are read as such.
        let place = self.place_words();
        let rest = || {
            numbers
                .iter()
                .filter(|n| n.id.is_none_or(|id| !place.contains(&id)))
        };
        let any_house = rest().any(|n| !n.postcode_shaped);
        if any_house && rest().any(|n| n.postcode_shaped) && !self.postcode.is_empty() {
            return None; // another postcode
        } // (a register without postcodes cannot check a typed one: it passes)
          // The house numbers; "98-100" is a range of houses as well as a Polish
          // postcode, so postcode-shaped numbers are houses when nothing else is.
        let houses = || {
            rest()
                .filter(move |n| n.postcode_shaped != any_house)
                .map(|n| n.key)
        };
        let mut all = houses();
        let Some(first) = all.next() else {
            return Some(None);
        };
        if all.next().is_none() {
            return Some(Some(first));
        }
        if !self.postcode.is_empty() {
            return None;
        }
        // "Kisfalu 12 6065": without a postcode to match, a four-digit one
        // typed after the house number reads as a postcode.
        let four_digits = |n: &str| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit());
        let mut kept = houses().filter(|n| !four_digits(n));
        match (kept.next(), kept.next()) {
            (None, _) => Some(Some(first)),
            (Some(house), None) => Some(Some(house)),
            _ => None,
        }
    }
}

/// One address found by a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: i64,
    pub address: Address,
}

pub struct AddressSearch {
    streets: Vec<Street>,
    /// Every distinct word of every entry (name and place words), sorted, with
    /// the entries (indexes into `streets`, ascending) it belongs to. A query
    /// word can only match an entry that has a word it begins, so a search
    /// looks only at entries that every word's postings share (see
    /// [`AddressSearch::candidates`]), not at all of them.
    words: Vec<(Box<str>, Vec<u32>)>,
    /// House numbers and their keys, each distinct text once ("1" … "300"
    /// repeat in every street).
    texts: Strings,
    /// The entries without a postcode, ascending (see [`AddressSearch::candidates`]).
    without_postcode: Vec<u32>,
    /// Each distinct [`house_key`] and its id in `texts`, so a search compares
    /// a house's key as a number, not as text behind a pointer.
    keys: FxHashMap<Box<str>, u32>,
    /// The keys that are ranges of houses ("43-47"): (first, last, key id),
    /// by first.
    ranges: Vec<(u32, u32, u32)>,
}

/// An address as the search index is built from it, in id order.
#[derive(Debug, Clone)]
pub struct SearchAddress {
    pub id: i64,
    pub external_id: String,
    pub address: Address,
}

/// A word of a query, looked up in the index once.
struct Term {
    /// The ids of the index words it begins.
    begins: std::ops::Range<u32>,
    /// Its own id, if it is an index word.
    exact: Option<u32>,
    /// Three letters or more (matches a place word it begins).
    long: bool,
    /// More than one letter (an initial alone does not make a match on the name).
    counts: bool,
}

/// A number of a query: its [`house_key`], its id as an index word, and
/// whether it is shaped as a postcode.
struct Number<'q> {
    key: &'q str,
    id: Option<u32>,
    postcode_shaped: bool,
}

/// A query read into its parts.
struct Query {
    /// Words every match must have.
    required: Vec<String>,
    /// Names of administrative units: they rank, they do not filter.
    units: Vec<String>,
    /// House numbers and postcodes, as [`house_key`]s.
    numbers: Vec<String>,
}

impl Query {
    fn parse(query: &str) -> Query {
        // "12 a" is house number 12/A, not a word of the street.
        let mut all: Vec<String> = Vec::new();
        for w in words(query) {
            let joins = w.chars().count() == 1
                && w.chars().all(char::is_alphabetic)
                && all
                    .last()
                    .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
            match all.last_mut() {
                Some(prev) if joins => prev.push_str(&w),
                _ => all.push(w),
            }
        }
        let mut numbers = Vec::new();
        // (word, names a unit)
        let mut text: Vec<(String, bool)> = Vec::new();
        // Where the words since the last number or unit word begin, and whether
        // they follow a unit word that names what comes after it.
        let (mut segment, mut unit_name) = (0, false);
        for w in all {
            if is_number(&w) {
                numbers.push(house_key(&w));
                (segment, unit_name) = (text.len(), false);
                continue;
            }
            match unit(&w) {
                Some(Unit::NameAfter) => {
                    (segment, unit_name) = (text.len(), true);
                    continue;
                }
                Some(Unit::NameBefore) => {
                    for t in &mut text[segment..] {
                        t.1 = true;
                    }
                    (segment, unit_name) = (text.len(), false);
                    continue;
                }
                None if optional(&w) => continue,
                None => text.push((w, unit_name)),
            }
        }
        let (units, required): (Vec<_>, Vec<_>) = text.into_iter().partition(|t| t.1);
        Query {
            required: required.into_iter().map(|t| t.0).collect(),
            units: units.into_iter().map(|t| t.0).collect(),
            numbers,
        }
    }
}

/// How many times longer than the entries left a filter may be and still be
/// intersected with them (see [`AddressSearch::candidates`]).
const LONGER: usize = 16;

/// The ascending union of ascending lists (borrowed when there is one),
/// merged pairwise: a pass per level, no sort.
fn union<'a>(lists: &[&'a [u32]]) -> std::borrow::Cow<'a, [u32]> {
    match lists {
        [] => std::borrow::Cow::Borrowed(&[]),
        [one] => std::borrow::Cow::Borrowed(one),
        many => {
            let mid = many.len() / 2;
            std::borrow::Cow::Owned(merge(&union(&many[..mid]), &union(&many[mid..])))
        }
    }
}

/// Two ascending lists as one, each entry once.
fn merge(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        out.push(x.min(y));
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The entries in both `a` and `b` (both ascending), walking the shorter and
/// galloping through the longer: a short list against a long one costs a few
/// steps per entry of the short one (a filter list of a few entries against
/// thousands of candidates), two lists of the same length one pass.
fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(a.len());
    let mut rest = b;
    for &x in a {
        let mut step = 1;
        while step < rest.len() && rest[step] < x {
            step *= 2;
        }
        let end = (step + 1).min(rest.len());
        rest = &rest[rest[..end].partition_point(|&y| y < x)..];
        match rest.first() {
            None => break,
            Some(&y) if y == x => {
                out.push(x);
                rest = &rest[1..];
            }
            Some(_) => {}
        }
    }
    out
}

/// One street's houses, as the index is built from them (see
/// [`crate::register::AddressBook::streets`]): a place without streets has
/// an empty `street`.
pub struct StreetHouses<'a> {
    pub settlement: &'a str,
    pub street: &'a str,
    pub postcode: &'a str,
    /// (house number as written, address id).
    pub houses: Vec<(&'a str, i64)>,
}

impl AddressSearch {
    /// Builds the index from addresses (in any order); the register's own
    /// build goes through [`AddressSearch::from_streets`].
    pub fn build(addresses: impl IntoIterator<Item = SearchAddress>) -> AddressSearch {
        let addresses: Vec<SearchAddress> = addresses.into_iter().collect();
        let mut by_street: HashMap<[&str; 3], Vec<(&str, i64)>> = HashMap::new();
        for a in &addresses {
            let [street, house_number, postcode, settlement] = a.address.columns();
            by_street
                .entry([settlement, street, postcode])
                .or_default()
                .push((house_number, a.id));
        }
        AddressSearch::from_streets(by_street.into_iter().map(
            |([settlement, street, postcode], houses)| StreetHouses {
                settlement,
                street,
                postcode,
                houses,
            },
        ))
    }

    /// Builds the index from each street's houses (in any order). The work is
    /// per street, and per distinct house number (the same "1" … "300" recur
    /// in every street), not per address.
    pub fn from_streets<'a>(streets: impl IntoIterator<Item = StreetHouses<'a>>) -> AddressSearch {
        let mut texts = Strings::default();
        // house number as written → (its text, its key), both interned
        // (Fx hashing throughout: the keys are the register's own words and
        // numbers, built once, never an attacker's.)
        let mut numbers: FxHashMap<&'a str, (u32, u32)> = FxHashMap::default();
        // Each street with its words as text, until the words have ids.
        let mut streets: Vec<(Street, Vec<String>)> = streets
            .into_iter()
            .map(|s| {
                let houses = s
                    .houses
                    .iter()
                    .map(|&(number, id)| {
                        let (number, key) = *numbers.entry(number).or_insert_with(|| {
                            (texts.intern(number), texts.intern(&house_key(number)))
                        });
                        House { number, key, id }
                    })
                    .collect();
                let (mut text, place) = if s.street.is_empty() {
                    (words(s.settlement), words(s.postcode))
                } else {
                    (
                        words(s.street),
                        words(&format!("{} {}", s.settlement, s.postcode)),
                    )
                };
                let names = text.len();
                text.extend(place);
                let street = Street {
                    words: SmallVec::new(),
                    names,
                    settlement: s.settlement.to_string(),
                    street: s.street.to_string(),
                    postcode: s.postcode.to_string(),
                    houses,
                };
                (street, text)
            })
            .collect();
        streets.sort_by(|(a, _), (b, _)| {
            (&a.settlement, &a.street, &a.postcode).cmp(&(&b.settlement, &b.street, &b.postcode))
        });
        let mut postings: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        for (i, (_, text)) in streets.iter().enumerate() {
            for w in text {
                let list = postings.entry(w.as_str()).or_default();
                if list.last() != Some(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
        let mut words: Vec<(Box<str>, Vec<u32>)> = postings
            .into_iter()
            .map(|(w, mut list)| {
                list.dedup();
                list.shrink_to_fit();
                (w.into(), list)
            })
            .collect();
        words.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let ids: FxHashMap<&str, u32> = words
            .iter()
            .enumerate()
            .map(|(i, (w, _))| (&**w, i as u32))
            .collect();
        let streets: Vec<Street> = streets
            .into_iter()
            .map(|(street, text)| Street {
                words: text.iter().map(|w| ids[w.as_str()]).collect(),
                ..street
            })
            .collect();
        let without_postcode = (0..streets.len() as u32)
            .filter(|&i| streets[i as usize].postcode.is_empty())
            .collect();
        let keys: FxHashMap<Box<str>, u32> = numbers
            .values()
            .map(|&(_, key)| (texts.get(key).into(), key))
            .collect();
        let mut ranges: Vec<(u32, u32, u32)> = keys
            .iter()
            .filter_map(|(text, &id)| {
                let (a, b) = text.split_once('-')?;
                Some((a.parse().ok()?, b.parse().ok()?, id))
            })
            .collect();
        ranges.sort_unstable();
        texts.freeze();
        AddressSearch {
            streets,
            words,
            texts,
            without_postcode,
            keys,
            ranges,
        }
    }

    /// The index words that `prefix` begins (a range of `words`).
    fn with_prefix(&self, prefix: &str) -> std::ops::Range<u32> {
        let start = self.words.partition_point(|(w, _)| &**w < prefix);
        let end = start + self.words[start..].partition_point(|(w, _)| w.starts_with(prefix));
        start as u32..end as u32
    }

    /// The id of the index word `word` (index words are distinct).
    fn word_id(&self, word: &str) -> Option<u32> {
        self.words
            .binary_search_by(|(w, _)| (**w).cmp(word))
            .ok()
            .map(|i| i as u32)
    }

    fn term(&self, word: &str) -> Term {
        let begins = self.with_prefix(word);
        // A word sorts before every longer word it begins, so if it is an
        // index word it is the first of its range: no second search.
        let first = self.words.get(begins.start as usize);
        let exact = (begins.start < begins.end && first.is_some_and(|(w, _)| &**w == word))
            .then_some(begins.start);
        Term {
            begins,
            exact,
            long: word.len() >= 3,
            counts: word.chars().count() > 1,
        }
    }

    /// The entries the query can match, ascending: a superset, each still to
    /// be checked, but small. Every required word must begin a word of the
    /// entry, so each one's postings (under its prefix) hold every match. So
    /// does, for a query with two or more numbers, the union of the numbers'
    /// own postings and the entries without a postcode: an entry with a
    /// postcode reads at most one number as its house (see [`Street::house`]),
    /// so the others are words of its place ("Település 1", a postcode).
    /// They are intersected smallest first; `None` when the query gives no
    /// such list.
    fn candidates(&self, required: &[Term], numbers: &[Number<'_>]) -> Option<Vec<u32>> {
        let lists = |r: &std::ops::Range<u32>| {
            self.words[r.start as usize..r.end as usize]
                .iter()
                .map(|(_, l)| l.as_slice())
        };
        let mut filters: Vec<Vec<&[u32]>> = required
            .iter()
            .map(|w| lists(&w.begins).collect())
            .collect();
        if numbers.len() >= 2 {
            let mut f: Vec<&[u32]> = numbers
                .iter()
                .filter_map(|n| n.id.map(|id| self.words[id as usize].1.as_slice()))
                .collect();
            f.push(&self.without_postcode);
            filters.push(f);
        }
        let size = |f: &Vec<&[u32]>| f.iter().map(|l| l.len()).sum::<usize>();
        filters.sort_by_key(size);
        let (first, rest) = filters.split_first()?;
        let mut out = union(first).into_owned();
        // A filter of many words (a short prefix) costs more to read out than
        // the check it would save; so does one far longer than the entries
        // left: galloping through it is a few cache misses per entry, the
        // check of an entry's own words about one.
        for f in rest.iter().filter(|f| f.len() <= 16) {
            if out.is_empty() || size(f) > LONGER * out.len() {
                break;
            }
            // Against each of the filter's lists (a short list against long
            // ones), then the matches merged.
            let found: Vec<Vec<u32>> = f.iter().map(|l| intersect(&out, l)).collect();
            let found: Vec<&[u32]> = found.iter().map(Vec::as_slice).collect();
            out = union(&found).into_owned();
        }
        Some(out)
    }

    /// The ids of the house keys that house number `want` (a [`house_key`])
    /// matches: itself, and the ranges ("43-47") that hold it.
    fn house_keys(&self, want: &str) -> SmallVec<[u32; 4]> {
        let mut keys: SmallVec<[u32; 4]> = self.keys.get(want).copied().into_iter().collect();
        if let Ok(n) = want.parse::<u32>() {
            let starting = self.ranges.partition_point(|&(first, _, _)| first <= n);
            keys.extend(
                self.ranges[..starting]
                    .iter()
                    .filter(|&&(_, last, _)| n <= last)
                    .map(|&(_, _, id)| id),
            );
        }
        keys
    }

    fn text(&self, i: u32) -> &str {
        self.texts.get(i)
    }

    /// Heap bytes held (approximately), for the memory report.
    pub fn bytes(&self) -> usize {
        self.streets
            .iter()
            .map(|s| {
                std::mem::size_of::<Street>()
                    + s.settlement.len()
                    + s.street.len()
                    + s.postcode.len()
                    + if s.words.spilled() {
                        s.words.capacity() * 4
                    } else {
                        0
                    }
                    + s.houses.capacity() * std::mem::size_of::<House>()
            })
            .sum::<usize>()
            + self.texts.bytes()
            + self
                .words
                .iter()
                .map(|(w, list)| w.len() + 40 + list.capacity() * 4)
                .sum::<usize>()
            + self.keys.keys().map(|k| k.len() + 24).sum::<usize>()
            + self.ranges.capacity() * 12
    }

    /// Up to `limit` addresses matching `query`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Found> {
        self.search_among(query, limit, false)
    }

    /// [`AddressSearch::search`], looking at every entry when `scan_all` (what
    /// the word index must agree with).
    fn search_among(&self, query: &str, limit: usize, scan_all: bool) -> Vec<Found> {
        let q = Query::parse(query);
        if q.required.is_empty() && q.units.is_empty() {
            return Vec::new();
        }
        let required: Vec<Term> = q.required.iter().map(|w| self.term(w)).collect();
        let units: Vec<Term> = q.units.iter().map(|w| self.term(w)).collect();
        let numbers: Vec<Number> = q
            .numbers
            .iter()
            .map(|n| Number {
                key: n,
                id: self.word_id(n),
                postcode_shaped: looks_like_postcode(n),
            })
            .collect();
        let entries: Box<dyn Iterator<Item = &Street>> = match self.candidates(&required, &numbers)
        {
            Some(list) if !scan_all => {
                Box::new(list.into_iter().map(|i| &self.streets[i as usize]))
            }
            _ => Box::new(self.streets.iter()),
        };
        // (entry, house key, unit words it matches)
        let mut candidates: Vec<(&Street, Option<&str>, usize)> = Vec::new();
        for s in entries {
            let Some(house) = s.house(&numbers) else {
                continue;
            };
            let mut on_name = false;
            let mut matches = |word: &Term| {
                let (found, named) = s.has(word);
                on_name |= named && word.counts;
                found
            };
            if !required.iter().all(&mut matches) {
                continue;
            }
            let units = units.iter().filter(|u| matches(u)).count();
            if on_name {
                candidates.push((s, house, units));
            }
        }
        // Unit names that match narrow the results; when none do, they are ignored.
        let best = candidates.iter().map(|c| c.2).max().unwrap_or(0);
        let mut out = Vec::new();
        for (s, house, _) in candidates.into_iter().filter(|c| c.2 == best) {
            let wanted = house.map(|want| self.house_keys(want));
            let mut houses: Vec<(&str, i64)> = s
                .houses
                .iter()
                .filter(|h| wanted.as_ref().is_none_or(|keys| keys.contains(&h.key)))
                .map(|h| (self.text(h.number), h.id))
                .collect();
            houses.sort_by_key(|(n, _)| (n.len(), *n));
            for (number, id) in houses {
                out.push(Found {
                    id,
                    address: Address::stored(
                        s.street.clone(),
                        number.to_string(),
                        s.postcode.clone(),
                        s.settlement.clone(),
                    ),
                });
                if out.len() >= limit {
                    return out;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> AddressSearch {
        let rows = [
            (1, "Kossuth Lajos utca", "12", "1119", "Budapest"),
            (2, "Kossuth Lajos utca", "14", "1119", "Budapest"),
            (3, "Bartók Béla út", "43-47", "1114", "Budapest"),
            (4, "Bartók Béla út", "12/A", "1114", "Budapest"),
            (5, "Długa", "5", "80-827", "Gdańsk"),
            (6, "aleja Grunwaldzka", "110", "80-244", "Gdańsk"),
            (7, "Móricz Zsigmond körtér", "3", "1114", "Budapest"),
            (8, "Kossuth Lajos utca", "12", "6000", "Kecskemét"),
            (9, "Piłsudskiego", "5", "00-001", "Łódź"),
            // Places without streets, and registers without postcodes.
            (10, "", "12", "", "Wola"),
            (11, "", "12/A", "", "Wola"),
            (12, "", "3-5", "", "Wola"),
            (13, "", "12", "", "Wola Zaradzyńska"),
            (14, "Polna", "12", "", "Wola"),
            (15, "", "hrsz. 0123/4", "", "Kisfalu"),
            (16, "Petőfi Sándor utca", "7", "", "Kisfalu"),
            (17, "", "4", "26-020", "Zalesie"),
            (18, "", "12/3", "", "Wola"),
            (19, "", "123", "", "Wola"),
            (20, "", "98-100", "", "Wola"),
        ];
        AddressSearch::build(rows.iter().map(|(id, street, n, pc, town)| SearchAddress {
            id: *id,
            external_id: format!("S{id}"),
            address: Address::new(street, n, pc, town).unwrap(),
        }))
    }

    fn ids(q: &str) -> Vec<i64> {
        let mut v: Vec<i64> = index().search(q, 10).into_iter().map(|f| f.id).collect();
        v.sort();
        v
    }

    #[test]
    fn the_word_index_finds_what_a_scan_of_every_entry_finds() {
        let index = index();
        let words = [
            "kossuth",
            "k",
            "l",
            "lajos",
            "u",
            "12",
            "14",
            "budapest",
            "bud",
            "bartok",
            "b",
            "43",
            "45",
            "dluga",
            "5",
            "gdansk",
            "aleja",
            "grunwaldzka",
            "moricz",
            "zs",
            "korter",
            "kecskemet",
            "lodz",
            "pilsudskiego",
            "wola",
            "zaradzynska",
            "12/a",
            "3-5",
            "polna",
            "kisfalu",
            "hrsz",
            "0123/4",
            "petofi",
            "zalesie",
            "26-020",
            "98-100",
            "gmina",
            "x",
            "1114",
            "80-827",
            "megye",
            "pest",
            "ul",
            "ut",
        ];
        let mut queries = 0;
        for a in words {
            for b in words {
                for q in [
                    a.to_string(),
                    format!("{a} {b}"),
                    format!("{b} {a} 12"),
                    format!("{a} 3 {b} 12"),
                ] {
                    assert_eq!(
                        index.search_among(&q, 50, false),
                        index.search_among(&q, 50, true),
                        "{q}"
                    );
                    queries += 1;
                }
            }
        }
        assert!(queries > 5_000);
    }

    #[test]
    fn intersections_gallop_to_the_same_answer() {
        let long: Vec<u32> = (0..1000).map(|i| i * 3).collect();
        let short = [0, 4, 9, 10, 2997, 3000];
        assert_eq!(intersect(&short, &long), vec![0, 9, 2997]);
        assert_eq!(intersect(&long, &short), vec![0, 9, 2997]);
        assert_eq!(intersect(&long, &long), long);
        assert!(intersect(&[], &long).is_empty() && intersect(&long, &[]).is_empty());
        assert_eq!(union(&[&[1, 5], &[2, 5, 9]]).as_ref(), &[1, 2, 5, 9]);
        assert_eq!(
            union(&[&[7], &[1, 5], &[], &[2, 5, 9]]).as_ref(),
            &[1, 2, 5, 7, 9]
        );
    }

    #[test]
    fn folding_each_character_agrees_with_a_whole_string_nfd() {
        use unicode_normalization::UnicodeNormalization;
        let whole = |s: &str| -> String {
            let chars: Vec<char> = s
                .nfd()
                .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
                .collect();
            fold(&chars.iter().collect::<String>())
        };
        for s in [
            "Kossuth Lajos utca 12/A, Budapest",
            "ÁRVÍZTŰRŐ tükörfúrógép",
            "ul. Długa 5 Gdańsk, Żółć Ęą Śń Źź",
            "Straße 3-5, Ørsted Đakovo",
            "e\u{301}le\u{308}t 80-827", // already decomposed
            "한국 Ǆ ﬁ Å Ω",
        ] {
            assert_eq!(fold(s), whole(s), "{s}");
        }
    }

    #[test]
    fn forgiving_spellings_match() {
        for (q, want) in [
            ("Kossuth Lajos utca 12, Budapest", vec![1]),
            ("kossuth l. u. 12 budapest", vec![1]),
            ("KOSSUTH LAJOS U 12 BUDAPEST", vec![1]),
            ("budapest kossuth lajos 12", vec![1]),
            ("Kossuth Lajos utca 12", vec![1, 8]),
            ("kossuth 12 1119", vec![1]),
            ("kossuth 1119 12", vec![1]),
            ("ul. Długa 5 Gdańsk", vec![5]),
            ("dluga 5", vec![5]),
            ("DŁUGA 5, GDANSK", vec![5]),
            ("Długa 5, 80-827 Gdańsk", vec![5]),
            ("al. Grunwaldzka 110", vec![6]),
            ("grunwaldzka 110 gdansk", vec![6]),
            ("Bartok Bela ut 45", vec![3]),
            ("Bartók Béla út 43-47", vec![3]),
            ("bartók béla út 12/a", vec![4]),
            ("bartok b. 12 a", vec![4]),
            ("moricz zsigmond krt 3", vec![]), // körút is not körtér
            ("Móricz Zsigmond körtér 3", vec![7]),
            ("moricz zs 3", vec![7]),
            ("pilsudskiego 5 lodz", vec![9]),
        ] {
            assert_eq!(ids(q), want, "{q}");
        }
    }

    #[test]
    fn places_without_streets_by_settlement_and_number() {
        for (q, want) in [
            ("Wola 12", vec![10, 13]),
            ("wola zaradzynska 12", vec![13]),
            ("Wola 12/A", vec![11]),
            ("wola 12 a", vec![11]),
            ("wola 4", vec![12]), // inside 3-5
            ("Wola 3-5", vec![12]),
            ("wola 12/3", vec![18]),
            ("wola 123", vec![19]),
            ("Polna 12 Wola", vec![14]),
            ("Kisfalu hrsz. 0123/4", vec![15]),
            ("kisfalu 0123/4", vec![15]),
            ("0123/4 hrsz kisfalu", vec![15]),
            ("Petőfi Sándor utca 7, Kisfalu", vec![16]),
            // A postcode the register does not have cannot be checked: it passes.
            ("Kisfalu 0123/4 6065", vec![15]),
            ("Wola Zaradzyńska 12, 26-020", vec![13]),
            ("Zalesie 4, 26-020", vec![17]),
            ("Zalesie 4", vec![17]),
            // A range of houses may look like a Polish postcode.
            ("Wola 98-100", vec![20]),
            ("wola 99", vec![20]),
        ] {
            assert_eq!(ids(q), want, "{q}");
        }
        for q in ["Zalesie 4, 80-827", "wola 199", "polna 13", "zalesie"] {
            let want: Vec<i64> = if q == "zalesie" { vec![17] } else { vec![] };
            assert_eq!(ids(q), want, "{q}");
        }
    }

    #[test]
    fn unit_names_narrow_when_they_match_and_are_ignored_when_not() {
        for (q, want) in [
            ("wola 12 gmina x", vec![10, 13]),
            ("Wola 12, gm. Nowa Wieś", vec![10, 13]),
            ("gmina Chmielnik, Wola Zaradzyńska 12", vec![13]),
            ("kisfalu hrsz 0123/4 Bács-Kiskun megye", vec![15]),
            ("Kossuth Lajos utca 12, gmina Budapest", vec![1]),
            ("Kossuth Lajos utca 12 Bács-Kiskun megye", vec![1, 8]),
        ] {
            assert_eq!(ids(q), want, "{q}");
        }
        assert_eq!(ids("gmina wola"), vec![10, 11, 12, 13, 18, 19, 20]);
        assert_eq!(ids("gmina x 12"), Vec::<i64>::new());
    }

    #[test]
    fn wrong_places_do_not_match() {
        for q in [
            "Kossuth Lajos utca 99",
            "kossuth 12 gdansk",
            "kossuth 12 1234",
            "Długa 5, 80-828",
            "dluga 7",
            "Petőfi utca 12",
            "utca 12",
            "12",
            "budapest 12",
            "",
        ] {
            assert_eq!(ids(q), Vec::<i64>::new(), "{q}");
        }
    }

    #[test]
    fn street_without_number_lists_its_houses() {
        assert_eq!(ids("kossuth lajos utca budapest"), vec![1, 2]);
    }

    #[test]
    fn found_addresses_keep_their_parts() {
        let found = index().search("kisfalu 0123/4", 10);
        assert_eq!(
            found[0].address,
            Address::new("", "hrsz. 0123/4", "", "Kisfalu").unwrap()
        );
    }
}

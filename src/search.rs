//! "Am I affected?" address search, forgiving the way people type addresses:
//! any case, with or without accents, abbreviated street types and given names,
//! any word order — "Kossuth Lajos utca 12, Budapest", "kossuth l. u. 12",
//! "ul. Długa 5 Gdańsk", "dluga 5".
//!
//! Addresses are grouped by (settlement, street). A query's words must all match
//! words of one street entry (its street name, settlement or postcode; a single
//! letter matches a word it begins, abbreviations match their full form) and at
//! least one must match the street's own name; a number must then match one of the
//! street's house numbers.

use std::collections::HashMap;

use unicode_normalization::UnicodeNormalization;

use crate::domain::Address;

/// Lower-case, accents stripped, punctuation to spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        match c {
            'ł' | 'Ł' => out.push('l'),
            'ß' => out.push_str("ss"),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' => out.push('d'),
            c if unicode_normalization::char::is_combining_mark(c) => {}
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

/// Words people add or leave out without changing the place.
fn optional(word: &str) -> bool {
    matches!(word, "ulica" | "utca" | "street" | "hrsz" | "nr" | "no")
}

fn words(s: &str) -> Vec<String> {
    fold(s)
        .split_whitespace()
        .map(|w| canonical(w).to_string())
        .collect()
}

/// "12/A", "12 a", "12a" → "12a"; "43-47" stays a range.
fn house_key(s: &str) -> String {
    s.nfd()
        .filter(|c| c.is_alphanumeric() || *c == '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn house_matches(query: &str, house: &str) -> bool {
    let h = house_key(house);
    if h == query {
        return true;
    }
    // A range "43-47" holds the numbers between.
    if let (Some((a, b)), Ok(q)) = (h.split_once('-'), query.parse::<u32>()) {
        if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
            return (a..=b).contains(&q);
        }
    }
    false
}

/// Exact, or a typed beginning: an initial ("l."), a Hungarian abbreviation
/// ("zs.", "gy."), or an unfinished word ("kossu").
fn word_matches(query: &str, candidate: &str) -> bool {
    candidate.starts_with(query)
}

struct Street {
    settlement: String,
    street: String,
    postcode: String,
    name_words: Vec<String>,
    place_words: Vec<String>,
    /// (house number as written, address id)
    houses: Vec<(String, i64)>,
}

/// One address found by a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: i64,
    pub address: Address,
}

pub struct AddressSearch {
    streets: Vec<Street>,
}

pub use crate::store::SearchAddress;

impl AddressSearch {
    pub fn build(addresses: impl IntoIterator<Item = SearchAddress>) -> AddressSearch {
        let mut by_street: HashMap<(String, String, String), Vec<(String, i64)>> = HashMap::new();
        for a in addresses {
            let [street, house_number, postcode, settlement] = a.address.columns();
            by_street
                .entry((settlement.into(), street.into(), postcode.into()))
                .or_default()
                .push((house_number.into(), a.id));
        }
        let mut streets: Vec<Street> = by_street
            .into_iter()
            .map(|((settlement, street, postcode), houses)| Street {
                name_words: words(&street),
                place_words: words(&format!("{settlement} {postcode}")),
                settlement,
                street,
                postcode,
                houses,
            })
            .collect();
        streets.sort_by(|a, b| {
            (&a.settlement, &a.street, &a.postcode).cmp(&(&b.settlement, &b.street, &b.postcode))
        });
        AddressSearch { streets }
    }

    /// Up to `limit` addresses matching `query`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Found> {
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
        let (numbers, text): (Vec<&String>, Vec<&String>) = all
            .iter()
            .partition(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()));
        // A postcode looks like a number too: keep 4–6 digit groups as place words.
        let house = numbers
            .iter()
            .find(|n| n.len() <= 4 || n.chars().any(|c| !c.is_ascii_digit()))
            .map(|n| house_key(n));
        let text: Vec<&str> = text
            .iter()
            .map(|w| w.as_str())
            .filter(|w| !optional(w))
            .chain(
                numbers
                    .iter()
                    .filter(|n| Some(house_key(n)) != house)
                    .map(|n| n.as_str()),
            )
            .collect();
        if text.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for s in &self.streets {
            let mut on_name = false;
            let all_match = text.iter().all(|q| {
                if s.name_words.iter().any(|w| word_matches(q, w)) {
                    on_name |= q.chars().count() > 1;
                    true
                } else {
                    s.place_words
                        .iter()
                        .any(|w| w == q || (q.len() >= 3 && w.starts_with(q)))
                }
            });
            if !all_match || !on_name {
                continue;
            }
            let mut houses: Vec<&(String, i64)> = match &house {
                Some(h) => s
                    .houses
                    .iter()
                    .filter(|(n, _)| house_matches(h, n))
                    .collect(),
                None => s.houses.iter().collect(),
            };
            houses.sort_by_key(|(n, _)| (n.len(), n.clone()));
            for (number, id) in houses {
                out.push(Found {
                    id: *id,
                    address: Address::stored(
                        s.street.clone(),
                        number.clone(),
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
        ];
        AddressSearch::build(rows.iter().map(|(id, street, n, pc, town)| SearchAddress {
            id: *id,
            address: Address::new(street, n, pc, town).unwrap(),
        }))
    }

    fn ids(q: &str) -> Vec<i64> {
        let mut v: Vec<i64> = index().search(q, 10).into_iter().map(|f| f.id).collect();
        v.sort();
        v
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
            ("ul. Długa 5 Gdańsk", vec![5]),
            ("dluga 5", vec![5]),
            ("DŁUGA 5, GDANSK", vec![5]),
            ("al. Grunwaldzka 110", vec![6]),
            ("grunwaldzka 110 gdansk", vec![6]),
            ("Bartok Bela ut 45", vec![3]),
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
    fn wrong_places_do_not_match() {
        for q in [
            "Kossuth Lajos utca 99",
            "kossuth 12 gdansk",
            "dluga 7",
            "Petőfi utca 12",
            "utca 12",
            "12",
            "",
        ] {
            assert_eq!(ids(q), Vec::<i64>::new(), "{q}");
        }
    }

    #[test]
    fn street_without_number_lists_its_houses() {
        assert_eq!(ids("kossuth lajos utca budapest"), vec![1, 2]);
    }
}

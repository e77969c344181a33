//! Outage reference numbers: short, speakable, typo-checked — `PW-4821-K`.
//!
//! Layout: a two-letter utility prefix, four body characters, one check character.
//! The alphabet is Crockford's base 32 without `Z` (too close to `2` on paper and
//! on the phone): 31 symbols, no `I L O U`. Readers are tolerant the way Crockford
//! intends: case, spaces and dashes are ignored, `I`/`L` read as `1` and `O` as `0`.
//!
//! The check character is `Σ (i+1)·v_i mod 31` over the six characters before it.
//! With a prime modulus larger than every weight and every symbol difference, a
//! single wrong character changes the sum by `w·Δ ≢ 0`, and swapping neighbours
//! changes it by `±Δ ≢ 0`: every single substitution and every adjacent
//! transposition is caught (the tests check all of them exhaustively).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKMNPQRSTVWXY";

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("'{0}' is not a reference; references look like PW-4821-K")]
    Format(String),
    #[error("'{0}' contains '{1}', which never appears in a reference")]
    Character(String, char),
    #[error("reference {0} failed its check character; please check for a typo")]
    Check(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reference(String);

fn value(c: char) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|a| *a as char == c)
        .map(|p| p as u32)
}

fn check(values: &[u32]) -> u32 {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u32 + 1) * v)
        .sum::<u32>()
        % 31
}

impl Reference {
    /// A random reference with the given two-letter prefix.
    pub fn generate(prefix: &str, rng: &mut impl rand::Rng) -> Reference {
        assert!(
            prefix.len() == 2 && prefix.chars().all(|c| value(c).is_some_and(|v| v >= 10)),
            "reference prefix must be two letters of the alphabet"
        );
        let mut body = String::with_capacity(4);
        for _ in 0..4 {
            body.push(ALPHABET[rng.random_range(0..31)] as char);
        }
        let values: Vec<u32> = prefix
            .chars()
            .chain(body.chars())
            .filter_map(value)
            .collect();
        let c = ALPHABET[check(&values) as usize] as char;
        Reference(format!("{prefix}-{body}-{c}"))
    }

    /// Reads a reference as a person may have typed or spoken it.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '_' | '\u{a0}'))
            .collect();
        if compact.chars().count() != 7 {
            return Err(ReferenceError::Format(input.to_string()));
        }
        let mut values = Vec::with_capacity(7);
        for c in compact.chars() {
            match value(c) {
                Some(v) => values.push(v),
                None => return Err(ReferenceError::Character(input.to_string(), c)),
            }
        }
        if values[..2].iter().any(|v| *v < 10) {
            return Err(ReferenceError::Format(input.to_string()));
        }
        let canonical: String = values
            .iter()
            .map(|v| ALPHABET[*v as usize] as char)
            .collect();
        let canonical = format!(
            "{}-{}-{}",
            &canonical[..2],
            &canonical[2..6],
            &canonical[6..]
        );
        if check(&values[..6]) != values[6] {
            return Err(ReferenceError::Check(canonical));
        }
        Ok(Reference(canonical))
    }

    /// The references one typo away from `input` (one character wrong, or
    /// two neighbours swapped) that pass their check: what a person who
    /// mistyped a reference probably meant. The check character catches every
    /// such typo, so the input itself, when valid, is never among them.
    pub fn corrections(input: &str) -> Vec<Reference> {
        let compact: Vec<char> = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '_' | '\u{a0}'))
            .collect();
        let Some(values) = compact
            .iter()
            .map(|c| value(*c))
            .collect::<Option<Vec<u32>>>()
            .filter(|v| v.len() == 7)
        else {
            return Vec::new();
        };
        let mut found: Vec<Reference> = Vec::new();
        let mut consider = |v: &[u32]| {
            if v[..2].iter().all(|x| *x >= 10) && check(&v[..6]) == v[6] && v != &values[..] {
                let s: String = v.iter().map(|x| ALPHABET[*x as usize] as char).collect();
                let r = Reference(format!("{}-{}-{}", &s[..2], &s[2..6], &s[6..]));
                if !found.contains(&r) {
                    found.push(r);
                }
            }
        };
        for i in 0..7 {
            for x in 0..31 {
                let mut v = values.clone();
                v[i] = x;
                consider(&v);
            }
        }
        for i in 0..6 {
            let mut v = values.clone();
            v.swap(i, i + 1);
            consider(&v);
        }
        found
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn prefix(&self) -> &str {
        &self.0[..2]
    }

    /// Spaced for text-to-speech: "P W, 4 8 2 1, K".
    pub fn spoken(&self) -> String {
        self.0
            .split('-')
            .map(|part| part.chars().map(String::from).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Cheap test for search boxes: could this text be a reference at all?
pub fn looks_like_reference(s: &str) -> bool {
    let compact: Vec<char> = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '_'))
        .collect();
    compact.len() == 7
        && compact[..2].iter().all(|c| c.is_ascii_alphabetic())
        && compact.iter().all(|c| value(*c).is_some())
}

impl TryFrom<String> for Reference {
    type Error = ReferenceError;
    fn try_from(s: String) -> Result<Self, ReferenceError> {
        Reference::parse(&s)
    }
}

impl From<Reference> for String {
    fn from(r: Reference) -> String {
        r.0
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_reference_is_corrected_to_the_references_one_typo_away() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let r = Reference::generate("WA", &mut rng);
            let mut typed: Vec<char> = r.as_str().chars().collect();
            // One wrong body character…
            typed[3] = if typed[3] == '7' { '8' } else { '7' };
            let typed: String = typed.into_iter().collect();
            assert!(Reference::parse(&typed).is_err());
            let fixes = Reference::corrections(&typed);
            assert!(fixes.contains(&r), "{typed} → {fixes:?}");
            // …a handful of candidates, every one valid.
            assert!(fixes.len() <= 13, "{fixes:?}");
            assert!(fixes.iter().all(|f| Reference::parse(f.as_str()).is_ok()));
        }
        // Swapped neighbours, lower case, no dashes.
        let r = Reference::parse(&Reference::generate("PW", &mut rng).to_string()).unwrap();
        let s: String = r.as_str().replace('-', "").to_lowercase();
        let mut c: Vec<char> = s.chars().collect();
        if c[2] != c[3] {
            c.swap(2, 3);
            let swapped: String = c.into_iter().collect();
            assert!(Reference::corrections(&swapped).contains(&r));
        }
        assert!(Reference::corrections("hello").is_empty());
        assert!(!Reference::corrections(r.as_str()).contains(&r));
    }

    #[test]
    fn generated_references_parse_back_in_any_spelling() {
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let r = Reference::generate("PW", &mut rng);
            assert_eq!(Reference::parse(r.as_str()).unwrap(), r);
            assert_eq!(
                Reference::parse(&r.as_str().to_lowercase().replace('-', " ")).unwrap(),
                r
            );
            assert!(looks_like_reference(r.as_str()));
        }
    }

    #[test]
    fn crockford_confusables_read_as_digits() {
        let r = Reference::generate("WA", &mut rand::rng());
        let typed = r.as_str().replace('1', "l").replace('0', "o");
        assert_eq!(Reference::parse(&typed).unwrap(), r);
    }

    #[test]
    fn every_single_typo_and_adjacent_swap_is_caught() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let r = Reference::generate("GA", &mut rng);
            let chars: Vec<char> = r.as_str().chars().filter(|c| *c != '-').collect();
            for i in 0..7 {
                for a in ALPHABET.iter().map(|a| *a as char) {
                    if a == chars[i] || (i < 2 && a.is_ascii_digit()) {
                        continue;
                    }
                    let mut typo = chars.clone();
                    typo[i] = a;
                    let s: String = typo.iter().collect();
                    assert!(Reference::parse(&s).is_err(), "{s} accepted for {r}");
                }
            }
            for i in 0..6 {
                if chars[i] == chars[i + 1] {
                    continue;
                }
                let mut swapped = chars.clone();
                swapped.swap(i, i + 1);
                let s: String = swapped.iter().collect();
                assert!(Reference::parse(&s).is_err(), "{s} accepted for {r}");
            }
        }
    }

    #[test]
    fn errors_explain_themselves() {
        assert!(matches!(
            Reference::parse("PW-48"),
            Err(ReferenceError::Format(_))
        ));
        assert!(matches!(
            Reference::parse("PW-48U1-K"),
            Err(ReferenceError::Character(_, 'U'))
        ));
        let r = Reference::generate("TC", &mut rand::rng());
        let s = r.as_str();
        let last = s.chars().last().unwrap();
        let wrong = if last == 'A' { 'B' } else { 'A' };
        let bad = format!("{}{}", &s[..s.len() - 1], wrong);
        let e = Reference::parse(&bad).unwrap_err();
        assert!(e.to_string().contains("typo"), "{e}");
        // Exactly one check character makes PW-4821 valid.
        let valid: Vec<Reference> = ALPHABET
            .iter()
            .filter_map(|c| Reference::parse(&format!("pw 4821 {}", *c as char)).ok())
            .collect();
        assert_eq!(valid.len(), 1);
        assert_eq!(valid[0].prefix(), "PW");
        let check = valid[0].as_str().chars().last().unwrap();
        assert_eq!(valid[0].spoken(), format!("P W, 4 8 2 1, {check}"));
    }
}

//! SMS encoding: GSM 03.38 (7-bit) versus UCS-2, segment counting, and fitting a
//! text into as few segments as possible.
//!
//! Hungarian needs `á í ó ő ú ű` and Polish `ą ć ę ł ń ó ś ź ż`, none of which are
//! in GSM-7; one such letter switches the whole message to UCS-2 and cuts a segment
//! from 160 to 70 characters. The `auto` policy keeps the letters when that costs
//! no extra segment and otherwise sends a transliteration (`ő`→`o`, `ł`→`l`), which
//! every reader understands and which arrives as one message instead of three.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// GSM 03.38 basic character set.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Extension table: each costs an escape plus the character (2 septets).
const EXTENDED: &str = "^{}\\[~]|€\u{c}";

use crate::config::UnicodePolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsEncoding {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: u32,
}

fn septets_of(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

pub fn is_gsm7(text: &str) -> bool {
    text.chars().all(|c| septets_of(c).is_some())
}

pub fn gsm7_septets(text: &str) -> Option<usize> {
    text.chars().map(septets_of).sum()
}

/// Splits `sizes` (per-character unit counts, never split) into segments of at
/// most `single` units, or `multi` units each when more than one is needed.
fn count_segments(sizes: impl Iterator<Item = usize> + Clone, single: usize, multi: usize) -> u32 {
    let total: usize = sizes.clone().sum();
    if total <= single {
        return 1;
    }
    let (mut segments, mut used) = (1u32, 0usize);
    for size in sizes {
        if used + size > multi {
            segments += 1;
            used = 0;
        }
        used += size;
    }
    segments
}

pub fn segments(text: &str) -> SmsEncoding {
    if is_gsm7(text) {
        let sizes = text.chars().map(|c| septets_of(c).unwrap_or(1));
        SmsEncoding {
            encoding: Encoding::Gsm7,
            units: sizes.clone().sum(),
            segments: count_segments(sizes, 160, 153),
        }
    } else {
        let sizes = text.chars().map(char::len_utf16);
        SmsEncoding {
            encoding: Encoding::Ucs2,
            units: sizes.clone().sum(),
            segments: count_segments(sizes, 70, 67),
        }
    }
}

fn transliterate_char(c: char, out: &mut String) {
    if septets_of(c).is_some() {
        out.push(c);
        return;
    }
    let mapped = match c {
        'á' => "a",
        'Á' => "A",
        'í' => "i",
        'Í' => "I",
        'ó' => "o",
        'Ó' => "O",
        'ő' => "ö",
        'Ő' => "Ö",
        'ú' => "u",
        'Ú' => "U",
        'ű' => "ü",
        'Ű' => "Ü",
        'ą' => "a",
        'Ą' => "A",
        'ć' => "c",
        'Ć' => "C",
        'ę' => "e",
        'Ę' => "E",
        'ł' => "l",
        'Ł' => "L",
        'ń' => "n",
        'Ń' => "N",
        'ś' => "s",
        'Ś' => "S",
        'ź' | 'ż' => "z",
        'Ź' | 'Ż' => "Z",
        '–' | '—' | '‑' => "-",
        '‘' | '’' | '‚' => "'",
        '“' | '”' | '„' => "\"",
        '…' => "...",
        '\u{a0}' | '\u{2009}' | '\u{202f}' => " ",
        '•' => "-",
        _ => "",
    };
    if !mapped.is_empty() {
        out.push_str(mapped);
        return;
    }
    // Other accented Latin letters: drop the accents.
    let base: String = c
        .to_string()
        .nfd()
        .filter(|ch| septets_of(*ch).is_some())
        .collect();
    if base.is_empty() {
        out.push('?');
    } else {
        out.push_str(&base);
    }
}

/// The text in GSM-7 only. Hungarian `ő ű` become `ö ü`, which GSM-7 has.
pub fn transliterate_to_gsm7(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        transliterate_char(c, &mut out);
    }
    out
}

/// Chooses the form to send under `policy`.
pub fn fit(text: &str, policy: UnicodePolicy) -> (String, SmsEncoding) {
    let original = segments(text);
    if original.encoding == Encoding::Gsm7 || policy == UnicodePolicy::Always {
        return (text.to_string(), original);
    }
    let plain = transliterate_to_gsm7(text);
    let plain_enc = segments(&plain);
    match policy {
        UnicodePolicy::Auto if original.segments <= plain_enc.segments => {
            (text.to_string(), original)
        }
        _ => (plain, plain_enc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_detection_and_extension_costs() {
        assert!(is_gsm7("Viz ok? @ 18:30 € és"));
        assert!(!is_gsm7("Vízhiány"));
        assert_eq!(gsm7_septets("a€b"), Some(4));
        assert!(!is_gsm7("Przerwa w dostawie prądu"));
        assert!(is_gsm7("Überprüfung ö ü é"));
    }

    #[test]
    fn segment_boundaries() {
        assert_eq!(segments(&"a".repeat(160)).segments, 1);
        assert_eq!(segments(&"a".repeat(161)).segments, 2);
        assert_eq!(segments(&"a".repeat(306)).segments, 2);
        assert_eq!(segments(&"a".repeat(307)).segments, 3);
        assert_eq!(segments(&"ő".repeat(70)).segments, 1);
        assert_eq!(segments(&"ő".repeat(71)).segments, 2);
        assert_eq!(segments(&"ő".repeat(134)).segments, 2);
        // An escape pair is never split: 152 plain + "€" needs a new segment in multi-part.
        let s = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(segments(&s).units, 164);
        assert_eq!(segments(&s).segments, 2);
        // Emoji are surrogate pairs (2 units) and are not split either.
        assert_eq!(segments("🙂").units, 2);
        let e = format!("{}🙂", "ő".repeat(69));
        assert_eq!(segments(&e).segments, 2);
    }

    #[test]
    fn transliteration() {
        assert_eq!(
            transliterate_to_gsm7("Árvíztűrő tükörfúrógép"),
            "Arviztürö tükörfurogép"
        );
        assert_eq!(
            transliterate_to_gsm7("Zażółć gęślą jaźń – „ok”…"),
            "Zazolc gesla jazn - \"ok\"..."
        );
        assert_eq!(transliterate_to_gsm7("Čačak"), "Cacak");
        assert!(is_gsm7(&transliterate_to_gsm7("Łódź ✓ 中")));
    }

    #[test]
    fn fit_prefers_fewer_segments() {
        let short = "Vízhiány: Bartók Béla út 12.";
        let (t, e) = fit(short, UnicodePolicy::Auto);
        assert_eq!((t.as_str(), e.encoding), (short, Encoding::Ucs2));
        let long = format!(
            "Vízhiány: Bartók Béla út 12. {}",
            "Várható helyreállítás holnap. ".repeat(3)
        );
        let (t, e) = fit(&long, UnicodePolicy::Auto);
        assert_eq!(e.encoding, Encoding::Gsm7);
        assert_eq!(e.segments, 1);
        assert!(t.starts_with("Vizhiany"));
        assert_eq!(fit(&long, UnicodePolicy::Always).1.segments, 2);
        assert_eq!(fit(short, UnicodePolicy::Never).1.encoding, Encoding::Gsm7);
    }
}

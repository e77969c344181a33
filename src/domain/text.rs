//! Free text from operators (causes, messages, imported addresses): which
//! characters it may not hold.
//!
//! Such text ends up in every SSML and VoiceXML answer, SMS and page about an
//! outage. XML 1.0 cannot carry control characters other than tab and line
//! breaks, nor U+FFFE and U+FFFF, so one of them would make every IVR answer
//! invalid; and none of them means anything in an SMS or on a page.

/// Whether `c` may not appear in operator text. Line breaks are refused too;
/// callers that allow them (messages) let `'\n'` through themselves.
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_the_two_non_xml_characters_are_forbidden() {
        for c in [
            '\0', '\u{7}', '\n', '\u{1b}', '\u{7f}', '\u{85}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(is_forbidden(c), "{:?}", c);
        }
        for c in [
            'a',
            'ő',
            '<',
            '&',
            '\u{202E}',
            '\u{200F}',
            '\u{FFFD}',
            '💧',
            '\u{10FFFF}',
        ] {
            assert!(!is_forbidden(c), "{:?}", c);
        }
    }
}

//! A service address as a register names it: street, house number, postcode and
//! settlement.
//!
//! Real registers leave parts out. A village without streets addresses its houses
//! by settlement and house number ("Wola Zaradzyńska 12"), and many registers carry
//! no postcodes at all; so the street and the postcode may be absent, while the
//! settlement and the house number are always there. House numbers are kept as
//! written (`12/A`, `3-5`, `hrsz. 0123/4`): they are names, not numbers.
//!
//! How an address reads in a given language (the words and the punctuation around
//! the parts) is the catalogues' business (`crate::i18n::address`); this type says
//! which parts there are, so no text ever shows an empty part.

use serde::Serialize;

/// Why a part of an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct AddressError {
    pub field: &'static str,
    pub reason: String,
}

/// How much of an address a text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressForm {
    /// Where in the settlement: "Bartók Béla út 12/A"; "Wola 12" (an SMS, where
    /// every character counts).
    Short,
    /// "Bartók Béla út 12/A, Budapest"; "Wola 12" (messages, spoken sentences).
    Full,
    /// With the postcode where there is one: "Bartók Béla út 12/A, 1114 Budapest"
    /// (search results, subscriptions: where two places could share a name).
    Postal,
}

/// Street, house number, postcode and settlement; the street and the postcode may
/// be absent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Address {
    /// Empty when the place has no streets.
    street: String,
    house_number: String,
    /// Empty when the register has none.
    postcode: String,
    settlement: String,
}

pub const MAX_STREET: usize = 200;
pub const MAX_HOUSE_NUMBER: usize = 30;
pub const MAX_POSTCODE: usize = 20;
pub const MAX_SETTLEMENT: usize = 100;

/// Street-type words that name no street on their own: a register that exports
/// the type and the name in separate columns writes "utca" or "ul." for a place
/// whose name column is empty.
const BARE_STREET_TYPES: &[&str] = &[
    "utca", "u", "út", "ut", "tér", "ter", "köz", "koz", "ulica", "ul", "aleja", "al", "plac",
    "pl", "osiedle", "os", "street", "st", "road", "rd",
];

/// A text column of a register row, trimmed: refused when empty (if `required`),
/// when it holds control characters, or when longer than `max` characters.
pub fn register_text(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, AddressError> {
    let v = value.trim();
    let refuse = |reason: String| Err(AddressError { field, reason });
    if v.is_empty() && required {
        refuse("is empty".into())
    } else if v.chars().any(super::text::is_forbidden) {
        // They would end up in every SSML/VoiceXML answer and SMS about it.
        refuse("contains control characters or U+FFFE/U+FFFF (not text)".into())
    } else if v.chars().count() > max {
        refuse(format!("longer than {max} characters"))
    } else {
        Ok(v.to_string())
    }
}

impl Address {
    /// Validates the parts as a register gives them (trimmed; the street and the
    /// postcode may be empty).
    pub fn new(
        street: &str,
        house_number: &str,
        postcode: &str,
        settlement: &str,
    ) -> Result<Address, AddressError> {
        let mut street = register_text("street", street, MAX_STREET, false)?;
        let bare = street.trim_end_matches('.').to_lowercase();
        if BARE_STREET_TYPES.contains(&bare.as_str()) {
            street.clear();
        }
        Ok(Address {
            street,
            house_number: register_text("house_number", house_number, MAX_HOUSE_NUMBER, true)?,
            postcode: register_text("postcode", postcode, MAX_POSTCODE, false)?,
            settlement: register_text("settlement", settlement, MAX_SETTLEMENT, true)?,
        })
    }

    /// An address as the register stores it: validated by [`Address::new`] when it
    /// was imported, so it is taken as it is (an empty part is an absent one).
    pub fn stored(
        street: String,
        house_number: String,
        postcode: String,
        settlement: String,
    ) -> Address {
        Address {
            street,
            house_number,
            postcode,
            settlement,
        }
    }

    /// The street's name with its type ("Bartók Béla út", "ul. Długa"), if the
    /// place has streets.
    pub fn street(&self) -> Option<&str> {
        Some(self.street.as_str()).filter(|s| !s.is_empty())
    }

    /// As written: "12", "12/A", "3-5", "hrsz. 0123/4".
    pub fn house_number(&self) -> &str {
        &self.house_number
    }

    pub fn postcode(&self) -> Option<&str> {
        Some(self.postcode.as_str()).filter(|s| !s.is_empty())
    }

    pub fn settlement(&self) -> &str {
        &self.settlement
    }

    /// The parts as the register's columns hold them (an absent part is empty).
    pub fn columns(&self) -> [&str; 4] {
        [
            &self.street,
            &self.house_number,
            &self.postcode,
            &self.settlement,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn street_and_postcode_may_be_absent() {
        let a = Address::new("", " 12/A ", "", "Wola Zaradzyńska").unwrap();
        assert_eq!(
            (a.street(), a.house_number(), a.postcode(), a.settlement()),
            (None, "12/A", None, "Wola Zaradzyńska")
        );
        let a = Address::new("Bartók Béla út", "hrsz. 0123/4", "1114", "Budapest").unwrap();
        assert_eq!(a.street(), Some("Bartók Béla út"));
        assert_eq!(a.house_number(), "hrsz. 0123/4", "kept as written");
        assert_eq!(a.postcode(), Some("1114"));
        assert_eq!(
            a.columns(),
            ["Bartók Béla út", "hrsz. 0123/4", "1114", "Budapest"]
        );
    }

    #[test]
    fn a_bare_street_type_is_no_street() {
        for bare in ["utca", "Ul.", "ulica", "út"] {
            let a = Address::new(bare, "3-5", "", "Kisfalu").unwrap();
            assert_eq!(a.street(), None, "{bare}");
        }
        let a = Address::new("Fő utca", "3-5", "", "Kisfalu").unwrap();
        assert_eq!(a.street(), Some("Fő utca"));
    }

    #[test]
    fn settlement_and_house_number_are_required() {
        let field = |r: Result<Address, AddressError>| r.unwrap_err().field;
        assert_eq!(
            field(Address::new("Fő utca", " ", "", "Kisfalu")),
            "house_number"
        );
        assert_eq!(field(Address::new("Fő utca", "1", "", "")), "settlement");
        assert_eq!(
            field(Address::new("Fő\u{8}utca", "1", "", "Kisfalu")),
            "street"
        );
        assert_eq!(field(Address::new("", "1", "1\n2", "Kisfalu")), "postcode");
        let long = "x".repeat(MAX_HOUSE_NUMBER + 1);
        let e = Address::new("", &long, "", "Kisfalu").unwrap_err();
        assert_eq!(
            e.reason,
            format!("longer than {MAX_HOUSE_NUMBER} characters")
        );
    }
}

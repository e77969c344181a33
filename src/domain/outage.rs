//! Outages and their vocabulary: utilities, statuses, revisions, deliveries.
//!
//! Every enum is stored as TEXT with a CHECK constraint, so `as_str`/`FromStr` here
//! and the migrations must agree; the `ALL` lists make that testable.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::contact::Language;
use super::reference::Reference;

/// Declares a string-backed enum with `as_str`, `FromStr`, `Display`, `ALL` and serde.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown value '{}'; expected one of: {}",
                        s,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

text_enum!(
    /// What is out. District heating and sewerage are common in Hungarian and Polish towns.
    Utility {
        Power => "power",
        Water => "water",
        Gas => "gas",
        Telecom => "telecom",
        Heating => "heating",
        Sewer => "sewer",
    }
);

impl Utility {
    /// Prefix of the outage reference (`PW-4821-K`).
    pub fn reference_prefix(self) -> &'static str {
        match self {
            Utility::Power => "PW",
            Utility::Water => "WA",
            Utility::Gas => "GA",
            Utility::Telecom => "TC",
            Utility::Heating => "HT",
            Utility::Sewer => "SW",
        }
    }

    /// Bit in an address's "utilities served" mask (0 there means "all").
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Mask for a `;`-separated list such as `power;water`; empty means all (0).
    pub fn parse_mask(list: &str) -> Result<u8, String> {
        let mut mask = 0u8;
        for part in list
            .split([';', ',', '|'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            mask |= part.to_ascii_lowercase().parse::<Utility>()?.bit();
        }
        Ok(mask)
    }

    pub fn mask_to_string(mask: u8) -> String {
        Utility::ALL
            .iter()
            .filter(|u| mask & u.bit() != 0)
            .map(|u| u.as_str())
            .collect::<Vec<_>>()
            .join(";")
    }
}

text_enum!(OutageKind { Unplanned => "unplanned", Planned => "planned" });

text_enum!(
    /// `scheduled` is planned work that has not started yet.
    OutageStatus {
        Scheduled => "scheduled",
        Active => "active",
        Restored => "restored",
        Cancelled => "cancelled",
    }
);

impl OutageStatus {
    pub fn is_open(self) -> bool {
        matches!(self, OutageStatus::Scheduled | OutageStatus::Active)
    }
}

text_enum!(
    /// Urgent messages (safety) ignore contact windows.
    Urgency { Normal => "normal", Urgent => "urgent" }
);

text_enum!(
    /// What a revision did to the outage.
    ChangeKind {
        Declared => "declared",
        Updated => "updated",
        Started => "started",
        Restored => "restored",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// What a message tells its reader. `withdrawn`: the outage no longer concerns
    /// your address (the area shrank). `requested`: the current state, asked for by
    /// the resident (e.g. pressing 2 in the phone menu).
    DeliveryKind {
        Declared => "declared",
        Updated => "updated",
        Restored => "restored",
        Cancelled => "cancelled",
        Withdrawn => "withdrawn",
        Requested => "requested",
    }
);

impl DeliveryKind {
    /// Kinds that tell a resident the outage is (still) on: the first message and
    /// its updates. What follows ("it's over") goes only to those who had news.
    pub const NEWS: &'static [DeliveryKind] = &[DeliveryKind::Declared, DeliveryKind::Updated];
}

text_enum!(
    /// What an update changed, as listed in the revision history.
    OutageField {
        Etr => "etr",
        Cause => "cause",
        Message => "message",
        StartsAt => "starts_at",
        Area => "area",
        Status => "status",
    }
);

text_enum!(
    /// Life of one message. `superseded`: replaced by newer news before it was sent;
    /// `suppressed`: the contact opted out; `expired`: too old to be worth sending;
    /// `deferred`: pending, held for the contact's window or the daily cap of
    /// updates (shown, never stored: the row is `pending` with a `held_until`);
    /// `delivered`/`failed`: sent, and the carrier (or a bounce) said so
    /// (shown, never stored: the row is `sent` with a `receipt`).
    DeliveryState {
        Pending => "pending",
        Deferred => "deferred",
        Sending => "sending",
        Sent => "sent",
        Delivered => "delivered",
        Failed => "failed",
        Dead => "dead",
        Suppressed => "suppressed",
        Superseded => "superseded",
        Expired => "expired",
    }
);

impl DeliveryState {
    /// Still to go: waiting, held for the contact, or being sent.
    pub const QUEUED: &'static [DeliveryState] = &[
        DeliveryState::Pending,
        DeliveryState::Deferred,
        DeliveryState::Sending,
    ];
}

/// Estimated time of restoration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Etr {
    At(DateTime<Utc>),
    /// "Not yet assessed": crews have not seen the fault yet.
    #[default]
    Unknown,
}

impl Etr {
    pub fn from_option(t: Option<DateTime<Utc>>) -> Etr {
        t.map_or(Etr::Unknown, Etr::At)
    }
    pub fn as_option(self) -> Option<DateTime<Utc>> {
        match self {
            Etr::At(t) => Some(t),
            Etr::Unknown => None,
        }
    }
    /// Parses the API form: an RFC 3339 string or JSON null.
    pub fn parse(value: &serde_json::Value, field: &str) -> Result<Etr, (String, String)> {
        match value {
            serde_json::Value::Null => Ok(Etr::Unknown),
            serde_json::Value::String(s) => parse_time(s, field).map(Etr::At),
            _ => Err((
                field.to_string(),
                "expected an RFC 3339 timestamp such as 2026-11-23T18:30:00+01:00, or null for \"not yet assessed\"".into(),
            )),
        }
    }
}

pub fn parse_time(s: &str, field: &str) -> Result<DateTime<Utc>, (String, String)> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            (
                field.to_string(),
                format!(
                    "'{s}' is not an RFC 3339 timestamp such as 2026-11-23T18:30:00+01:00 ({e})"
                ),
            )
        })
}

/// Public text per language, as the dispatcher wrote it.
pub type Messages = BTreeMap<Language, String>;

/// The current state of an outage (its latest revision).
#[derive(Debug, Clone, Serialize)]
pub struct Outage {
    pub id: i64,
    pub reference: Reference,
    pub utility: Utility,
    pub kind: OutageKind,
    pub status: OutageStatus,
    pub urgency: Urgency,
    pub revision: i64,
    pub cause: String,
    #[serde(serialize_with = "ser_etr")]
    pub etr: Etr,
    pub starts_at: Option<DateTime<Utc>>,
    /// GeoJSON MultiPolygon.
    pub area: serde_json::Value,
    pub messages: Messages,
    pub affected_addresses: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Declared from the console: its first messages wait until then (the
    /// undo window).
    pub held_until: Option<DateTime<Utc>>,
}

fn ser_etr<S: serde::Serializer>(etr: &Etr, s: S) -> Result<S::Ok, S::Error> {
    etr.as_option().serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for u in Utility::ALL {
            assert_eq!(u.as_str().parse::<Utility>().unwrap(), *u);
        }
        for s in DeliveryState::ALL {
            assert_eq!(s.as_str().parse::<DeliveryState>().unwrap(), *s);
        }
        assert!("electricity"
            .parse::<Utility>()
            .unwrap_err()
            .contains("power, water"));
    }

    #[test]
    fn utility_masks() {
        let m = Utility::parse_mask("power; water").unwrap();
        assert_eq!(m, Utility::Power.bit() | Utility::Water.bit());
        assert_eq!(Utility::mask_to_string(m), "power;water");
        assert_eq!(Utility::parse_mask("").unwrap(), 0);
        assert!(Utility::parse_mask("power;steam").is_err());
    }

    #[test]
    fn etr_parsing() {
        assert_eq!(
            Etr::parse(&serde_json::Value::Null, "etr").unwrap(),
            Etr::Unknown
        );
        let t = Etr::parse(&serde_json::json!("2026-11-23T18:30:00+01:00"), "etr").unwrap();
        assert_eq!(
            t.as_option().unwrap().to_rfc3339(),
            "2026-11-23T17:30:00+00:00"
        );
        assert_eq!(
            Etr::parse(&serde_json::json!("tomorrow"), "etr")
                .unwrap_err()
                .0,
            "etr"
        );
        assert!(Etr::parse(&serde_json::json!(5), "etr").is_err());
    }
}

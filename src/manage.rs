//! The manage page's operations: a signed, expiring link names a contact,
//! and through it its person (every contact with the same destination, one
//! per address), who may change language, window and services, stop alerts
//! at one address or everywhere, export what Herald holds, or erase it.
//!
//! The link is `/manage/{contact id}.{expiry}.{signature}` (hex): the
//! signature, by the deployment's key over the id and expiry, is the only
//! credential, so the page shows nothing without it and a changed id or
//! expiry fails it. It names no personal data (a contact id) and is short
//! enough for an SMS. E-mails carry one valid for `manage.link_days`; the
//! SMS HELP reply one valid for `manage.sms_link_hours`.
//!
//! Erasing keeps a tombstone, the destination's keyed hash with reason
//! `deleted`, so a later customer-list import cannot add the person back.

use chrono::{DateTime, Duration, Utc};
use subtle::ConstantTimeEq;

use crate::auth::ServerKey;
use crate::domain::consent::{Method, Via};
use crate::domain::{Channel, Language, Utility, Window};
use crate::error::{Error, Result};
use crate::store::{DestinationConsent, Erasure, Move, PersonContact, PersonSettings, Store};

const PURPOSE: &str = "manage link";
/// Hex digits of the signature kept: 80 bits, with room in an SMS.
const SIGNATURE_HEX: usize = 20;

/// A link to one contact's manage page, valid until `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManageLink {
    pub contact_id: i64,
    pub expires: DateTime<Utc>,
}

/// Why a link does not open the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Not a link Herald made (or changed since).
    Invalid,
    /// A link Herald made for this contact, too old now.
    Expired(i64),
}

impl ManageLink {
    pub fn new(contact_id: i64, now: DateTime<Utc>, valid: Duration) -> ManageLink {
        ManageLink {
            contact_id,
            // Whole minutes: the token carries minutes.
            expires: DateTime::from_timestamp((now + valid).timestamp() / 60 * 60, 0)
                .unwrap_or(now + valid),
        }
    }

    fn subject(contact_id: i64, minutes: i64) -> String {
        format!("{contact_id:x}.{minutes:x}")
    }

    pub fn token(&self, key: &ServerKey) -> String {
        let subject = Self::subject(self.contact_id, self.expires.timestamp() / 60);
        let signature = key.sign(PURPOSE, &subject);
        format!("{subject}.{}", &signature[..SIGNATURE_HEX])
    }

    pub fn url(&self, public_url: &str, key: &ServerKey) -> String {
        format!("{public_url}/manage/{}", self.token(key))
    }

    /// Reads and checks a token: its signature first (in constant time),
    /// then its expiry.
    pub fn read(
        token: &str,
        key: &ServerKey,
        now: DateTime<Utc>,
    ) -> std::result::Result<ManageLink, LinkProblem> {
        let mut parts = token.split('.');
        let (Some(id), Some(minutes), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkProblem::Invalid);
        };
        let (Ok(contact_id), Ok(minutes)) = (
            i64::from_str_radix(id, 16),
            i64::from_str_radix(minutes, 16),
        ) else {
            return Err(LinkProblem::Invalid);
        };
        let expected = key.sign(PURPOSE, &Self::subject(contact_id, minutes));
        let expected = &expected.as_bytes()[..SIGNATURE_HEX];
        if signature.len() != SIGNATURE_HEX || !bool::from(expected.ct_eq(signature.as_bytes())) {
            return Err(LinkProblem::Invalid);
        }
        let expires =
            DateTime::from_timestamp(minutes.saturating_mul(60), 0).ok_or(LinkProblem::Invalid)?;
        if now > expires {
            return Err(LinkProblem::Expired(contact_id));
        }
        Ok(ManageLink {
            contact_id,
            expires,
        })
    }
}

/// The person a link names: their destination and contacts.
#[derive(Debug, Clone)]
pub struct Person {
    pub channel: Channel,
    pub destination: String,
    pub contacts: Vec<PersonContact>,
}

impl Person {
    /// The language the page speaks: the first contact's.
    pub fn language(&self) -> Option<Language> {
        self.contacts.first().map(|c| c.language)
    }

    /// Whether every contact has stopped alerts.
    pub fn stopped(&self) -> bool {
        self.contacts.iter().all(|c| c.opted_out)
    }
}

/// The person behind a checked link; None when its contact is gone (erased).
pub async fn person(store: &Store, link: &ManageLink) -> Result<Option<Person>> {
    let Some((channel, destination)) = store.contact_destination(link.contact_id).await? else {
        return Ok(None);
    };
    let contacts = store.person(channel, &destination).await?;
    Ok(Some(Person {
        channel,
        destination,
        contacts,
    }))
}

/// Reads the settings form: `language`, `window` (`07:00-21:00`, or empty /
/// `any`) and the ticked `utility` boxes (none ticked: all).
pub fn settings(
    language: &str,
    window: &str,
    utilities: &[String],
) -> std::result::Result<PersonSettings, (&'static str, String)> {
    let language: Language = language
        .parse()
        .map_err(|_| ("language", format!("'{language}' is not one of hu, pl, en")))?;
    let window = match window.trim() {
        "" => None,
        w => Some(Window::parse(w).map_err(|e| ("window", e))?).filter(|w| !w.is_any()),
    };
    let mut mask = 0;
    for u in utilities {
        let u: Utility = u
            .parse()
            .map_err(|_| ("utility", format!("'{u}' is not a service Herald knows")))?;
        mask |= u.bit();
    }
    // Every service ticked is the same as none: all.
    if Utility::ALL.iter().all(|u| mask & u.bit() != 0) {
        mask = 0;
    }
    Ok(PersonSettings {
        language,
        window,
        utilities: mask,
    })
}

/// Stops alerts to the person everywhere, as an unsubscribe link would, and
/// keeps imports from adding the destination back.
pub async fn stop_everything(
    store: &Store,
    key: &ServerKey,
    person: &Person,
    client: Option<String>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let via = Via::new(Method::UnsubscribeLink, "manage page", client);
    let suppression = key.suppression(person.channel, &person.destination);
    let changed = store
        .opt_out_destination(&DestinationConsent {
            channel: person.channel,
            destination: &person.destination,
            suppression: &suppression,
            via: &via,
            at: now,
        })
        .await?;
    Ok(changed.contacts)
}

/// Moves one of the person's contacts to another address (the resident has
/// moved house): the new contact id, or None for an unknown address.
#[allow(clippy::too_many_arguments)]
pub async fn move_to(
    store: &Store,
    key: &ServerKey,
    person: &Person,
    contact_id: i64,
    address_id: i64,
    client: Option<String>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Option<i64>> {
    let via = Via::new(
        Method::ConfirmationLink,
        "manage page: moved address",
        client,
    );
    let suppression = key.suppression(person.channel, &person.destination);
    store
        .move_contact(&Move {
            contact_id,
            address_id,
            via: &via,
            suppression: &suppression,
            now,
            expires_at,
        })
        .await
}

/// Erases the person (see the module docs).
pub async fn erase(
    store: &Store,
    key: &ServerKey,
    person: &Person,
    now: DateTime<Utc>,
) -> Result<u64> {
    let suppression = key.suppression(person.channel, &person.destination);
    let (sender, caller) = match person.channel {
        Channel::Sms => (
            Some(key.sms_sender(&person.destination)),
            Some(crate::calls::caller_hash(key, &person.destination)),
        ),
        Channel::Email => (None, None),
    };
    let erased = store
        .erase_person(
            &Erasure {
                channel: person.channel,
                destination: &person.destination,
                suppression: &suppression,
                sms_sender: sender.as_deref(),
                caller: caller.as_deref(),
            },
            now,
        )
        .await?;
    if erased == 0 {
        return Err(Error::NotFound("contact".into()));
    }
    Ok(erased)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap()
    }

    #[test]
    fn a_link_opens_until_it_expires_and_not_once_changed() {
        let key = ServerKey::new("k");
        let link = ManageLink::new(42, now(), Duration::days(30));
        let token = link.token(&key);
        assert!(token.len() < 40, "{token}");
        assert_eq!(ManageLink::read(&token, &key, now()), Ok(link));
        assert_eq!(
            ManageLink::read(&token, &key, link.expires + Duration::minutes(1)),
            Err(LinkProblem::Expired(42))
        );
        // Another contact, a later expiry, another key, a cut signature.
        let (id, rest) = token.split_once('.').unwrap();
        let (minutes, signature) = rest.split_once('.').unwrap();
        for forged in [
            format!("2b.{minutes}.{signature}"),
            format!(
                "{id}.{:x}.{signature}",
                i64::from_str_radix(minutes, 16).unwrap() + 1
            ),
            format!("{id}.{minutes}.{}", &signature[..19]),
            format!("{token}.x"),
            "".to_string(),
            "zz.zz.zz".to_string(),
        ] {
            assert_eq!(
                ManageLink::read(&forged, &key, now()),
                Err(LinkProblem::Invalid),
                "{forged}"
            );
        }
        assert_eq!(
            ManageLink::read(&token, &ServerKey::new("other"), now()),
            Err(LinkProblem::Invalid)
        );
    }

    #[test]
    fn settings_are_read_and_checked() {
        let s = settings("pl", "07:00-21:00", &["water".into(), "gas".into()]).unwrap();
        assert_eq!(s.language, Language::Pl);
        assert_eq!(s.window.unwrap().to_string(), "07:00-21:00");
        assert_eq!(s.utilities, Utility::Water.bit() | Utility::Gas.bit());
        let all: Vec<String> = Utility::ALL
            .iter()
            .map(|u| u.as_str().to_string())
            .collect();
        let s = settings("hu", "any", &all).unwrap();
        assert_eq!((s.window, s.utilities), (None, 0));
        assert_eq!(settings("xx", "", &[]).unwrap_err().0, "language");
        assert_eq!(settings("en", "7-21", &[]).unwrap_err().0, "window");
        assert_eq!(
            settings("en", "", &["steam".into()]).unwrap_err().0,
            "utility"
        );
    }
}

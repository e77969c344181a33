//! What a resident will read, before it is sent: the dispatcher console's
//! preview of a declaration or a change. Rendered by the same functions the
//! workers send with ([`render_sms`], [`render_email`], [`status::sentence`]),
//! for one real address of the area, in every language.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::render::{render_email, render_sms, MessageView, Recipient, RenderContext};
use super::sms_text::Encoding;
use crate::config::UnicodePolicy;
use crate::domain::{Address, AddressForm, DeliveryKind, Language, Outage};
use crate::i18n;
use crate::status;

/// One language's texts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sample {
    pub language: Language,
    pub sms: String,
    /// Characters as the SMS encoding counts them (GSM-7 septets or UTF-16 units).
    pub sms_units: usize,
    pub sms_segments: u32,
    /// `gsm7` or `ucs2`.
    pub sms_encoding: &'static str,
    pub email_subject: String,
    pub email_text: String,
    /// What the phone system says for the address.
    pub ivr: String,
}

/// Renders `kind` for `outage` (as it will be after the change) to a resident
/// of `address`, in each language.
pub fn samples(
    outage: &Outage,
    kind: DeliveryKind,
    address: &Address,
    tz: Tz,
    public_url: &str,
    policy: UnicodePolicy,
    now: DateTime<Utc>,
) -> Result<Vec<Sample>, askama::Error> {
    let ctx = RenderContext {
        tz,
        public_url,
        now,
    };
    Language::ALL
        .iter()
        .map(|&language| {
            let recipient = Recipient {
                language,
                address,
                unsubscribe_token: "preview",
                manage_url: None,
            };
            let email = render_email(
                kind,
                &MessageView::new(&ctx, outage, kind, &recipient, false),
            )?;
            let mut view = MessageView::new(&ctx, outage, kind, &recipient, true);
            let (sms, encoding) = render_sms(kind, &mut view, policy)?;
            let place = i18n::address(language, address, AddressForm::Full);
            Ok(Sample {
                language,
                sms_units: encoding.units,
                sms_segments: encoding.segments,
                sms_encoding: match encoding.encoding {
                    Encoding::Gsm7 => "gsm7",
                    Encoding::Ucs2 => "ucs2",
                },
                sms,
                email_subject: email.subject,
                email_text: email.text,
                ivr: status::sentence(tz, outage, &place, language, now),
            })
        })
        .collect()
}

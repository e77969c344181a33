//! Turns an outage and a delivery into the words a resident reads.
//!
//! Content is always rendered from the outage's *current* revision when the message
//! goes out, not from the revision that queued it: a message that waited in the
//! queue while the ETR changed tells the newest ETR (one message, not two).
//! Templates live in `templates/email/<kind>/` and `templates/sms/<kind>.txt`; their
//! words come from the catalogues (`crate::i18n`).

use askama::Template;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::sms_text::{fit, SmsEncoding};
use crate::config::UnicodePolicy;
use crate::domain::{Address, AddressForm, DeliveryKind, Etr, Language, Outage, OutageKind};
use crate::i18n::{self, Args};

/// Everything a template may show, already localised.
pub struct MessageView {
    pub language: Language,
    pub lang: &'static str,
    pub title: String,
    /// "Bartók Béla út 12, Budapest" (e-mail) or "Bartók Béla út 12" (SMS); a
    /// place without streets: "Wola 12" (see [`i18n::address`]).
    pub place: String,
    pub cause: String,
    pub etr: String,
    pub starts: Option<String>,
    pub reference: String,
    pub url: String,
    pub unsubscribe_url: String,
    pub manage_url: Option<String>,
    pub message: Option<String>,
    pub planned: bool,
    /// SMS only: leave out what can be left out (the cause) to save a segment.
    pub short: bool,
    args: Args,
}

impl MessageView {
    /// The catalogue text for `key`, with every field above available as a variable.
    pub fn t(&self, key: &str) -> String {
        i18n::t_args(self.language, key, &self.args)
    }
}

/// Where a message is going, as far as its words are concerned.
pub struct Recipient<'a> {
    pub language: Language,
    pub address: &'a Address,
    pub unsubscribe_token: &'a str,
    /// The resident's manage page (a signed link); None where there is none
    /// (previews).
    pub manage_url: Option<&'a str>,
}

pub struct RenderContext<'a> {
    pub tz: Tz,
    pub public_url: &'a str,
    pub now: DateTime<Utc>,
}

pub fn outage_url(public_url: &str, outage: &Outage) -> String {
    format!("{public_url}/o/{}", outage.reference)
}

pub fn unsubscribe_url(public_url: &str, token: &str) -> String {
    format!("{public_url}/unsubscribe/{token}")
}

impl MessageView {
    pub fn new(
        ctx: &RenderContext<'_>,
        outage: &Outage,
        kind: DeliveryKind,
        to: &Recipient<'_>,
        short_place: bool,
    ) -> MessageView {
        let lang = to.language;
        let utility = outage.utility.as_str().to_string();
        let planned = outage.kind == OutageKind::Planned;
        let title_key = if planned && kind == DeliveryKind::Declared {
            "planned-title"
        } else {
            "outage-title"
        };
        let title = i18n::t_args(lang, title_key, &i18n::args([("utility", utility.clone())]));
        let utility_name = i18n::t_args(
            lang,
            "utility-name",
            &i18n::args([("utility", utility.clone())]),
        );
        let form = if short_place {
            AddressForm::Short
        } else {
            AddressForm::Full
        };
        let place = i18n::address(lang, to.address, form);
        let etr = match outage.etr {
            Etr::At(t) => i18n::when(lang, ctx.tz, t, ctx.now),
            Etr::Unknown => i18n::t(lang, "etr-unknown"),
        };
        let starts = outage
            .starts_at
            .filter(|_| planned)
            .map(|t| i18n::when(lang, ctx.tz, t, ctx.now));
        let url = outage_url(ctx.public_url, outage);
        let message = outage.messages.get(&lang).cloned();
        let args = i18n::args([
            ("utility", utility),
            ("utility-name", utility_name),
            ("title", title.clone()),
            ("place", place.clone()),
            ("cause", outage.cause.clone()),
            ("etr", etr.clone()),
            ("starts", starts.clone().unwrap_or_default()),
            ("reference", outage.reference.to_string()),
            ("url", url.clone()),
        ]);
        MessageView {
            language: lang,
            lang: lang.as_str(),
            title,
            place,
            cause: outage.cause.clone(),
            etr,
            starts,
            reference: outage.reference.to_string(),
            url,
            unsubscribe_url: unsubscribe_url(ctx.public_url, to.unsubscribe_token),
            manage_url: to.manage_url.map(String::from),
            message,
            planned,
            short: false,
            args,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Declares the template structs of each kind and a dispatcher over them.
macro_rules! kind_templates {
    ($($kind:ident => $subject:ident $sp:tt, $text:ident $tp:tt, $html:ident $hp:tt, $sms:ident $smp:tt;)*) => {
        $(
            #[derive(Template)]
            #[template(path = $sp)]
            struct $subject<'a> { m: &'a MessageView }
            #[derive(Template)]
            #[template(path = $tp)]
            struct $text<'a> { m: &'a MessageView }
            #[derive(Template)]
            #[template(path = $hp)]
            struct $html<'a> { m: &'a MessageView }
            #[derive(Template)]
            #[template(path = $smp)]
            struct $sms<'a> { m: &'a MessageView }
        )*

        pub fn render_email(kind: DeliveryKind, m: &MessageView) -> askama::Result<RenderedEmail> {
            match requested_as_declared(kind) {
                DeliveryKind::Requested => unreachable!("mapped to declared"),
                $(DeliveryKind::$kind => Ok(RenderedEmail {
                    subject: one_line(&$subject { m }.render()?),
                    text: tidy_text(&$text { m }.render()?),
                    html: $html { m }.render()?,
                }),)*
            }
        }

        fn render_sms_text(kind: DeliveryKind, m: &MessageView) -> askama::Result<String> {
            match requested_as_declared(kind) {
                DeliveryKind::Requested => unreachable!("mapped to declared"),
                $(DeliveryKind::$kind => Ok(one_line(&$sms { m }.render()?)),)*
            }
        }
    };
}

kind_templates! {
    Declared => DeclaredSubject "email/declared/subject.txt", DeclaredText "email/declared/body.txt", DeclaredHtml "email/declared/body.html", DeclaredSms "sms/declared.txt";
    Updated => UpdatedSubject "email/updated/subject.txt", UpdatedText "email/updated/body.txt", UpdatedHtml "email/updated/body.html", UpdatedSms "sms/updated.txt";
    Restored => RestoredSubject "email/restored/subject.txt", RestoredText "email/restored/body.txt", RestoredHtml "email/restored/body.html", RestoredSms "sms/restored.txt";
    Cancelled => CancelledSubject "email/cancelled/subject.txt", CancelledText "email/cancelled/body.txt", CancelledHtml "email/cancelled/body.html", CancelledSms "sms/cancelled.txt";
    Withdrawn => WithdrawnSubject "email/withdrawn/subject.txt", WithdrawnText "email/withdrawn/body.txt", WithdrawnHtml "email/withdrawn/body.html", WithdrawnSms "sms/withdrawn.txt";
}

/// What a message from the confirmation queue links to.
pub enum ConfirmLink<'a> {
    /// "Open this link to get alerts for <address>": the sign-up's token.
    SignUp { token: &'a str },
    /// "Here is the link to manage your alerts", asked for on the status page.
    Manage { url: String },
}

/// A message from the confirmation queue: a sign-up confirmation, or a
/// manage link. Both share their templates; the words come from the
/// catalogue's `confirm-…` or `manage-link-…` keys ([`ConfirmView::k`]).
pub struct ConfirmView {
    pub language: Language,
    pub lang: &'static str,
    pub address: String,
    pub url: String,
    prefix: &'static str,
    args: Args,
}

impl ConfirmView {
    pub fn new(
        public_url: &str,
        language: Language,
        channel: crate::domain::Channel,
        address: &Address,
        link: ConfirmLink<'_>,
    ) -> ConfirmView {
        let (url, prefix) = match link {
            ConfirmLink::SignUp { token } => {
                (format!("{public_url}/subscribe/confirm/{token}"), "confirm")
            }
            ConfirmLink::Manage { url } => (url, "manage-link"),
        };
        // With the postcode: the resident checks it is the place they chose.
        let address = i18n::address(language, address, AddressForm::Postal);
        let channel_name = i18n::t(language, &format!("channel-{channel}"));
        ConfirmView {
            language,
            lang: language.as_str(),
            args: i18n::args([
                ("address", address.clone()),
                ("url", url.clone()),
                ("channel", channel_name),
            ]),
            address,
            url,
            prefix,
        }
    }

    pub fn t(&self, key: &str) -> String {
        i18n::t_args(self.language, key, &self.args)
    }

    /// This message's words for `part` (`subject`, `intro`, `sms`, …).
    pub fn k(&self, part: &str) -> String {
        self.t(&format!("{}-{part}", self.prefix))
    }
}

#[derive(Template)]
#[template(path = "email/confirm/subject.txt")]
struct ConfirmSubject<'a> {
    m: &'a ConfirmView,
}
#[derive(Template)]
#[template(path = "email/confirm/body.txt")]
struct ConfirmText<'a> {
    m: &'a ConfirmView,
}
#[derive(Template)]
#[template(path = "email/confirm/body.html")]
struct ConfirmHtml<'a> {
    m: &'a ConfirmView,
}
#[derive(Template)]
#[template(path = "sms/confirm.txt")]
struct ConfirmSms<'a> {
    m: &'a ConfirmView,
}

pub fn render_confirm_email(m: &ConfirmView) -> askama::Result<RenderedEmail> {
    Ok(RenderedEmail {
        subject: one_line(&ConfirmSubject { m }.render()?),
        text: tidy_text(&ConfirmText { m }.render()?),
        html: ConfirmHtml { m }.render()?,
    })
}

pub fn render_confirm_sms(
    m: &ConfirmView,
    policy: UnicodePolicy,
) -> askama::Result<(String, SmsEncoding)> {
    Ok(fit(&one_line(&ConfirmSms { m }.render()?), policy))
}

/// The SMS for `kind`, fitted to its encoding: when the full text needs more than
/// one segment, the short variant is tried and the one with fewer segments wins.
pub fn render_sms(
    kind: DeliveryKind,
    m: &mut MessageView,
    policy: UnicodePolicy,
) -> askama::Result<(String, SmsEncoding)> {
    m.short = false;
    let full = fit(&render_sms_text(kind, m)?, policy);
    if full.1.segments <= 1 {
        return Ok(full);
    }
    m.short = true;
    let short = fit(&render_sms_text(kind, m)?, policy);
    m.short = false;
    Ok(if short.1.segments < full.1.segments {
        short
    } else {
        full
    })
}

/// A requested message states the outage as a declaration does.
fn requested_as_declared(kind: DeliveryKind) -> DeliveryKind {
    match kind {
        DeliveryKind::Requested => DeliveryKind::Declared,
        other => other,
    }
}

/// Subjects and SMS are one line; dispatcher text may contain newlines.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Trims trailing spaces and collapses runs of blank lines left by template blocks.
fn tidy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OutageStatus, Reference, Urgency, Utility};
    use chrono::TimeZone;

    fn outage(cause: &str) -> Outage {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        Outage {
            id: 1,
            reference: Reference::generate("WA", &mut rand::rng()),
            utility: Utility::Water,
            kind: OutageKind::Unplanned,
            status: OutageStatus::Active,
            urgency: Urgency::Normal,
            revision: 1,
            cause: cause.into(),
            etr: Etr::At(now + chrono::Duration::hours(8)),
            starts_at: None,
            area: serde_json::Value::Null,
            messages: [(Language::Hu, "Lajtos kocsi <b>itt</b>".to_string())].into(),
            affected_addresses: 10,
            created_at: now,
            updated_at: now,
            ended_at: None,
            held_until: None,
        }
    }

    fn ctx() -> RenderContext<'static> {
        RenderContext {
            tz: chrono_tz::Europe::Budapest,
            public_url: "https://status.example",
            now: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        }
    }

    fn to(language: Language) -> Recipient<'static> {
        use std::sync::LazyLock;
        static ADDRESS: LazyLock<Address> =
            LazyLock::new(|| Address::new("Bartók Béla út", "12/A", "1114", "Budapest").unwrap());
        Recipient {
            language,
            address: &ADDRESS,
            manage_url: Some("https://status.example/manage/2a.1c2d3e4.0123456789abcdef0123"),
            unsubscribe_token: "tok",
        }
    }

    #[test]
    fn every_kind_renders_in_every_language() {
        let o = outage("Burst main");
        for lang in Language::ALL {
            for kind in DeliveryKind::ALL {
                let mut m = MessageView::new(&ctx(), &o, *kind, &to(lang), false);
                let email = render_email(*kind, &m).unwrap();
                assert!(
                    email.subject.contains(o.reference.as_str()),
                    "{lang} {kind}: {}",
                    email.subject
                );
                assert!(
                    !email.subject.contains('{') && !email.text.contains("{ $"),
                    "{email:?}"
                );
                assert!(email
                    .text
                    .contains("https://status.example/unsubscribe/tok"));
                assert!(email.html.contains(&format!("lang=\"{}\"", lang.as_str())));
                let (sms, _) = render_sms(*kind, &mut m, UnicodePolicy::Auto).unwrap();
                assert!(sms.contains(o.reference.as_str()), "{lang} {kind}: {sms}");
            }
        }
        let m = MessageView::new(&ctx(), &o, DeliveryKind::Declared, &to(Language::Hu), false);
        let email = render_email(DeliveryKind::Declared, &m).unwrap();
        assert!(email.text.contains("ma 18:00-kor"), "{}", email.text);
        assert!(
            email.text.contains("Lajtos kocsi <b>itt</b>"),
            "text part is not escaped"
        );
        assert!(!email.html.contains("<b>itt</b>"), "html part is escaped");
    }

    #[test]
    fn sms_drops_the_cause_to_stay_in_one_segment() {
        let long_cause = "Burst water main under the junction, excavation and repair in progress";
        let o = outage(long_cause);
        let mut m = MessageView::new(&ctx(), &o, DeliveryKind::Declared, &to(Language::En), true);
        let (text, enc) = render_sms(DeliveryKind::Declared, &mut m, UnicodePolicy::Auto).unwrap();
        assert_eq!(enc.segments, 1, "{text}");
        assert!(!text.contains("excavation"), "{text}");
        assert!(text.contains("today at 18:00"), "{text}");
        let o = outage("Burst main");
        let mut m = MessageView::new(&ctx(), &o, DeliveryKind::Declared, &to(Language::En), true);
        let (text, _) = render_sms(DeliveryKind::Declared, &mut m, UnicodePolicy::Auto).unwrap();
        assert!(
            text.contains("Cause: Burst main"),
            "a short cause stays: {text}"
        );
    }
}

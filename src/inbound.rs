//! Text messages to Herald's number, and the reply to each: STOP and START
//! change the number's consent (with a ledger event), HELP says who sends
//! alerts and how to stop them, STATUS and a reference number tell an
//! outage's status, OUT reports no supply at the sender's address. What a
//! message asks is read by [`crate::domain::keyword`]; the webhooks that
//! receive them are `http::inbound`.
//!
//! The reply is given in the answer to the gateway's webhook call, which is
//! how both gateways are built to reply (Kannel sends the body of its
//! `get-url` answer back; Twilio sends the TwiML `<Message>`): no second
//! request, and nothing to retry while the gateway holds the conversation.
//! Each reply costs an SMS, so it is recorded and limited like the rest: per
//! number and over every number per hour ([`ReplyLimits`]), the HELP answer to
//! text Herald does not understand at most once a day per number, and no
//! second confirmation of a STOP. Replies are in the sender's language: the
//! one their keyword is in, else their contact's, else their country's.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::auth::ServerKey;
use crate::channels::sms_text::fit;
use crate::config::Config;
use crate::domain::consent::{Method, Via};
use crate::domain::keyword::{self, Keyword};
use crate::domain::{AddressForm, Channel, Etr, Language, Outage, Phone, Reference, Utility};
use crate::error::Result;
use crate::i18n;
use crate::manage::ManageLink;
use crate::published::{PlaceLists, View};
use crate::register::{AddressBook, CallerMap};
use crate::status;
use crate::store::{
    DestinationConsent, NewInbound, NewReport, ReplyLimits, ReportLimits, Reported, Store,
};

/// How long after a restore a report of no supply is taken as "still out".
pub const RESTORE_VERIFICATION: Duration = Duration::hours(24);

/// What the operation needs: the store, the published view and the in-memory
/// register (so STATUS reads no database), the configuration and the key that
/// hashes numbers.
pub struct Context<'a> {
    pub store: &'a Store,
    pub view: &'a View,
    pub book: &'a AddressBook,
    pub callers: &'a CallerMap,
    /// Outages' place lists, for the view.
    pub places: &'a PlaceLists,
    pub config: &'a Config,
    pub key: &'a ServerKey,
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

/// A text message as a gateway handed it over.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub from: &'a Phone,
    pub text: &'a str,
    /// `twilio` or `kannel`.
    pub gateway: &'static str,
}

/// What came of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The reply to send, unless a limit (or a repeated STOP) holds it back.
    pub reply: Option<String>,
    /// What it was read as.
    pub keyword: &'static str,
    /// Contacts' consent changed: the published view moves.
    pub consent_changed: bool,
    /// A report was stored.
    pub reported: bool,
}

/// HELP, and for a number Herald knows, a link to its manage page (valid
/// for `manage.sms_link_hours`): the short way to settings, export and
/// deletion from a phone.
async fn help_with_link(ctx: &Context<'_>, w: &Words, number: &str) -> Result<String> {
    let help = w.t("sms-reply-help");
    let contacts = ctx.store.contacts_of(Channel::Sms, number).await?;
    let Some(first) = contacts.first() else {
        return Ok(help);
    };
    let valid = chrono::Duration::hours(i64::from(ctx.config.manage.sms_link_hours));
    let url = ManageLink::new(first.id, ctx.now, valid).url(&ctx.config.public_url(), ctx.key);
    let link = i18n::t_args(w.lang, "sms-reply-manage", &i18n::args([("url", url)]));
    Ok(format!("{help} {link}"))
}

/// Reads the message, does what it asks, and decides the reply.
pub async fn receive(ctx: &Context<'_>, m: &Message<'_>) -> Result<Outcome> {
    let read = keyword::read(m.text);
    let number = m.from.as_str();
    let contacts = ctx.callers.lookup(number);
    let language = read
        .language
        .or_else(|| contacts.first().map(|c| c.language))
        .or_else(|| country_language(m.from))
        .unwrap_or(ctx.config.default_language);
    let w = Words {
        lang: language,
        sender: ctx.config.sms.from.clone(),
        url: ctx.config.public_url(),
    };
    let mut outcome = Outcome {
        reply: None,
        keyword: read.keyword.as_str(),
        consent_changed: false,
        reported: false,
    };
    let suppression = ctx.key.suppression(Channel::Sms, number);
    let via = Via::new(
        Method::SmsKeyword,
        read.word.clone(),
        Some(number.to_string()),
    );
    let consent = DestinationConsent {
        channel: Channel::Sms,
        destination: number,
        suppression: &suppression,
        via: &via,
        at: ctx.now,
    };
    let addresses: Vec<i64> = contacts.iter().map(|c| c.address_id).collect();
    let reply = match &read.keyword {
        Keyword::Stop => {
            let changed = ctx.store.opt_out_destination(&consent).await?;
            outcome.consent_changed = changed.contacts > 0;
            // One confirmation: a STOP repeated gets none.
            changed.first.then(|| w.t("sms-reply-stopped"))
        }
        Keyword::Start => {
            let changed = ctx.store.opt_in_destination(&consent).await?;
            outcome.consent_changed = changed > 0;
            Some(if contacts.is_empty() {
                w.t("sms-reply-started-unknown")
            } else {
                w.t("sms-reply-started")
            })
        }
        Keyword::Help => Some(help_with_link(ctx, &w, number).await?),
        Keyword::Unknown => Some(w.t("sms-reply-help")),
        Keyword::Status => Some(status_reply(ctx, &w, &addresses)),
        Keyword::Reference(r) => Some(reference_reply(ctx, &w, r).await?),
        Keyword::MistypedReference(typed) => Some(correction_reply(ctx, &w, typed).await?),
        Keyword::Out(service) => {
            let (text, stored) = report(ctx, &w, &addresses, *service, number).await?;
            outcome.reported = stored;
            Some(text)
        }
    };
    let reply = reply.map(|text| fit(&text, ctx.config.sms.unicode).0);
    let stands = ctx
        .store
        .inbound(
            &NewInbound {
                sender: &ctx.key.sms_sender(number),
                gateway: m.gateway,
                keyword: outcome.keyword,
                reply: reply.as_deref(),
                language,
                at: ctx.now,
            },
            &ReplyLimits {
                per_number_per_hour: ctx.config.sms.replies_per_number_per_hour,
                per_hour: ctx.config.sms.replies_per_hour,
            },
        )
        .await?;
    outcome.reply = reply.filter(|_| stands);
    Ok(outcome)
}

/// The language of a number's country, where Herald speaks it.
fn country_language(phone: &Phone) -> Option<Language> {
    let n = phone.as_str();
    if n.starts_with("+36") {
        Some(Language::Hu)
    } else if n.starts_with("+48") {
        Some(Language::Pl)
    } else if n.starts_with("+44") || n.starts_with("+353") || n.starts_with("+1") {
        Some(Language::En)
    } else {
        None
    }
}

/// The catalogue in the reply's language, with the sender and the status
/// page every reply may name.
struct Words {
    lang: Language,
    sender: String,
    url: String,
}

impl Words {
    fn t(&self, key: &str) -> String {
        i18n::t_args(
            self.lang,
            key,
            &i18n::args([("sender", self.sender.clone()), ("url", self.url.clone())]),
        )
    }

    fn with(&self, key: &str, args: &i18n::Args) -> String {
        i18n::t_args(self.lang, key, args)
    }
}

/// One outage's status as a line of a reply.
fn line(ctx: &Context<'_>, w: &Words, o: &Outage, place: &str) -> String {
    let lang = w.lang;
    let planned = status::is_upcoming(o);
    let title = status::title(lang, o);
    let etr = match o.etr {
        Etr::At(t) => i18n::when(lang, ctx.tz, t, ctx.now),
        Etr::Unknown => i18n::t(lang, "etr-unknown"),
    };
    let mut args = i18n::args([
        ("title", title),
        ("place", place.to_string()),
        ("etr", etr),
        ("reference", o.reference.to_string()),
    ]);
    if planned {
        let starts = o
            .starts_at
            .map(|t| i18n::when(lang, ctx.tz, t, ctx.now))
            .unwrap_or_default();
        args.insert("starts".into(), starts.into());
        return w.with("sms-reply-line-planned", &args);
    }
    w.with("sms-reply-line", &args)
}

/// How an address reads in a reply.
fn place(ctx: &Context<'_>, w: &Words, address_id: i64) -> String {
    ctx.book
        .slot(address_id)
        .map(|s| i18n::address(w.lang, &ctx.book.address(s), AddressForm::Full))
        .unwrap_or_default()
}

/// The open outages at the sender's addresses, each with the first of their
/// addresses it covers: from memory.
fn open_at<'v>(ctx: &'v Context<'_>, addresses: &[i64]) -> Vec<(&'v Outage, i64)> {
    let mut ids = addresses.to_vec();
    ids.sort_unstable();
    ctx.view
        .open
        .covering(&ids)
        .into_iter()
        .filter_map(|(o, _)| {
            ids.iter()
                .find(|id| crate::domain::runs::count_covered(&o.runs, &[**id]) > 0)
                .map(|id| (&o.outage, *id))
        })
        .collect()
}

fn status_reply(ctx: &Context<'_>, w: &Words, addresses: &[i64]) -> String {
    let Some(&first) = addresses.first() else {
        return w.t("sms-reply-unknown-number");
    };
    let open = open_at(ctx, addresses);
    if open.is_empty() {
        return w.with(
            "sms-reply-none",
            &i18n::args([("place", place(ctx, w, first))]),
        );
    }
    open.iter()
        .map(|(o, id)| line(ctx, w, o, &place(ctx, w, *id)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The outage's status (an open one from memory), or that it is over, or
/// unknown.
async fn reference_reply(ctx: &Context<'_>, w: &Words, r: &Reference) -> Result<String> {
    Ok(match find(ctx, r).await? {
        Some(o) => about(ctx, w, &o).await?,
        None => w.with(
            "sms-reply-no-reference",
            &i18n::args([("reference", r.to_string())]),
        ),
    })
}

async fn find(ctx: &Context<'_>, r: &Reference) -> Result<Option<Outage>> {
    match ctx.view.open.by_reference(r) {
        Some(o) => Ok(Some(o.outage.clone())),
        None => ctx.store.outage_by_reference(r).await,
    }
}

/// What a reply says of an outage named by its reference.
async fn about(ctx: &Context<'_>, w: &Words, o: &Outage) -> Result<String> {
    if !o.status.is_open() {
        return Ok(w.with(
            "sms-reply-ended",
            &i18n::args([
                ("status", o.status.as_str().to_string()),
                ("reference", o.reference.to_string()),
            ]),
        ));
    }
    let places = ctx.places.get(ctx.store, ctx.view, ctx.book, o.id).await?;
    Ok(line(ctx, w, o, &status::settlements(&places)))
}

/// A reference that failed its check: the outage one typo away, when exactly
/// one exists.
async fn correction_reply(ctx: &Context<'_>, w: &Words, typed: &str) -> Result<String> {
    let mut found = Vec::new();
    for candidate in Reference::corrections(typed) {
        if let Some(o) = find(ctx, &candidate).await? {
            found.push(o);
        }
    }
    // Open outages first: that is what a resident asks about.
    found.sort_by_key(|o| !o.status.is_open());
    match found.first() {
        Some(o) if found.len() == 1 || found[1].status.is_open() != o.status.is_open() => {
            let asked = w.with(
                "sms-reply-did-you-mean",
                &i18n::args([("reference", o.reference.to_string())]),
            );
            Ok(format!("{asked} {}", about(ctx, w, o).await?))
        }
        _ => Ok(w.with(
            "sms-reply-no-reference",
            &i18n::args([("reference", keyword::fold(typed))]),
        )),
    }
}

/// OUT: a report of no supply at the sender's address, for the service the
/// message names, else the one an open outage there is about, else the one
/// restored there within a day.
async fn report(
    ctx: &Context<'_>,
    w: &Words,
    addresses: &[i64],
    service: Option<Utility>,
    number: &str,
) -> Result<(String, bool)> {
    if addresses.is_empty() {
        return Ok((w.t("sms-reply-unknown-number"), false));
    }
    let open = open_at(ctx, addresses);
    let restored = ctx
        .store
        .restored_at(addresses, ctx.now - RESTORE_VERIFICATION)
        .await?;
    let Some(utility) = service
        .or_else(|| open.first().map(|(o, _)| o.utility))
        .or_else(|| restored.first().map(|r| r.utility))
    else {
        return Ok((w.t("sms-reply-which-service"), false));
    };
    let covering = open.iter().find(|(o, _)| o.utility == utility);
    let still_out = restored.iter().find(|r| r.utility == utility);
    let address_id = covering
        .map(|(_, id)| *id)
        .or(still_out.map(|r| r.address_id))
        .unwrap_or(addresses[0]);
    let reported = ctx
        .store
        .report(
            &NewReport {
                address_id,
                utility,
                outage_id: covering.map(|(o, _)| o.id),
                still_out_of: still_out
                    .filter(|_| covering.is_none())
                    .map(|r| r.outage_id),
                client_key: &ctx.key.sms_sender(number),
                via: "sms",
                at: ctx.now,
            },
            &ReportLimits::from(&ctx.config.reports),
        )
        .await?;
    let here = place(ctx, w, address_id);
    let text = match (covering, still_out) {
        (Some((o, _)), _) => w.with(
            "sms-reply-report-known",
            &i18n::args([("line", line(ctx, w, o, &here))]),
        ),
        (None, Some(r)) => {
            let reference = r.reference.to_string();
            w.with(
                "sms-reply-report-still-out",
                &i18n::args([
                    (
                        "utility-name",
                        i18n::t_args(
                            w.lang,
                            "utility-name",
                            &i18n::args([("utility", utility.as_str().to_string())]),
                        ),
                    ),
                    ("place", here),
                    ("reference", reference),
                ]),
            )
        }
        (None, None) => w.with("sms-reply-report-new", &i18n::args([("place", here)])),
    };
    Ok((text, matches!(reported, Reported::Stored(_))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_speaks_its_countrys_language() {
        let hu = crate::domain::contact::parse_region("HU").unwrap();
        let p = |s: &str| Phone::parse(s, hu).unwrap();
        assert_eq!(country_language(&p("+36301234567")), Some(Language::Hu));
        assert_eq!(country_language(&p("+48601234567")), Some(Language::Pl));
        assert_eq!(country_language(&p("+447911123456")), Some(Language::En));
        assert_eq!(country_language(&p("+4915112345678")), None);
    }
}

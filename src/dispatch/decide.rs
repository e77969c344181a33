//! Whether a claimed delivery goes out: the eligibility table, as a pure function.
//!
//! The worker claims a delivery, loads its outage and what the contact has already
//! been told, and asks [`decide`]. The answer is one of three: send it now (the
//! worker then renders the outage's *current* state, so a queued message never
//! carries a stale one), try again later (another message to the same contact must
//! land first, the contact's window is closed, or the day's updates are used up),
//! or drop it for good with the final state it ends in. No I/O and no clock reads
//! happen here: everything the decision depends on is an argument, so every row of
//! the table is a unit test below.
//!
//! The rows, first match wins:
//!
//! | claim                           | outage / told                               | decision                                  |
//! |---------------------------------|---------------------------------------------|-------------------------------------------|
//! | `now` after `expires_at`        | any                                         | drop, expired                             |
//! | opted out                       | any                                         | drop, suppressed                          |
//! | address undeliverable (bounced) | any                                         | drop, suppressed                          |
//! | the contact chose other services | any                                        | drop, suppressed                          |
//! | any                             | outage missing                              | drop, dead                                |
//! | declared, held for its window   | ended, never told, utility sends a summary  | send, as "restored"/"cancelled"           |
//! | declared, updated, requested    | outage restored or cancelled                | drop, superseded ("outage … before …")    |
//! | updated                         | told this revision or a newer one           | drop, superseded (revision already sent)  |
//! | updated, restored, cancelled, withdrawn | never told, first message in flight | defer 1 s                                 |
//! | updated                         | never told, nothing in flight               | drop, superseded (first message carries it) |
//! | restored, cancelled, withdrawn  | never told, nothing in flight               | drop, superseded (never told)             |
//! | updated                         | only the ETR changed since told, by less than the threshold | drop, superseded (ETR moved little) |
//! | not urgent, not requested       | the contact's window is closed              | hold until it opens                       |
//! | updated                         | the day's updates are used up               | hold until the oldest is a day old        |
//! | anything else                   |                                             | send                                      |
//!
//! An opt-out stops every kind, `requested` too: "press 2" is only offered to
//! contacts who have not opted out, and one who opts out after asking gets
//! nothing more. A `requested` message was asked for just now, so no window
//! holds it; an urgent outage (a gas leak) ignores windows too.
//!
//! Holding coalesces: while a contact has a message pending about an outage, a
//! change queues nothing more for them (the store's rule), and the held message
//! renders the state current when it goes, so a night of changes becomes one
//! morning message. An outage that began and ended while the window was closed
//! sends nothing by default: its held first message is superseded when it ends
//! (the store's rule), unless the utility asks for a summary, which is the held
//! first message sent as the ending.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::config::{AfterWindow, AlertsConfig};
use crate::domain::{DeliveryKind, Etr, Outage, OutageStatus, Utility, Window};
use crate::store::{ClaimedDelivery, Failure, NewsSent};

/// How long a message waits for the same contact's first message to finish
/// sending before it is looked at again.
pub const FIRST_MESSAGE_WAIT: Duration = Duration::seconds(1);

/// The fields of a claimed delivery the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub kind: DeliveryKind,
    pub opted_out: bool,
    /// The address bounced for good.
    pub undeliverable: bool,
    /// The services the contact wants alerts about (a mask of
    /// [`Utility::bit`]); 0: all.
    pub utilities: u8,
    pub expires_at: DateTime<Utc>,
    pub urgent: bool,
    /// Held before for the contact's window or the daily cap.
    pub held: bool,
    /// The contact's window for the channel, in `time_zone`.
    pub window: Option<Window>,
    pub time_zone: Tz,
}

impl Claim {
    /// The claim's fields; the window is read in the contact's time zone, else
    /// the utility's.
    pub fn of(d: &ClaimedDelivery, utility_zone: Tz) -> Claim {
        Claim {
            kind: d.kind,
            opted_out: d.opted_out,
            undeliverable: d.undeliverable,
            utilities: d.utilities,
            expires_at: d.expires_at,
            urgent: d.urgent,
            held: d.held,
            window: d.window,
            time_zone: d.time_zone.unwrap_or(utility_zone),
        }
    }
}

/// The fields of the outage the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageState {
    pub utility: Utility,
    pub status: OutageStatus,
    pub revision: i64,
    pub etr: Etr,
    /// What its utility sends to a contact whose window was closed all along.
    pub after_window: AfterWindow,
}

impl OutageState {
    pub fn of(o: &Outage, alerts: &AlertsConfig) -> OutageState {
        OutageState {
            utility: o.utility,
            status: o.status,
            revision: o.revision,
            etr: o.etr,
            after_window: alerts.after_window(o.utility),
        }
    }
}

/// The pacing rules from the configuration (`[alerts]`, `delivery.ttl_minutes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// An ETR-only change smaller than this is not sent.
    pub etr_threshold: Duration,
    /// Updates per outage and contact in 24 hours; 0: no cap.
    pub updates_per_day: u32,
    /// A held message's expiry is moved to its release plus this.
    pub ttl: Duration,
}

impl Pacing {
    pub fn new(alerts: &AlertsConfig, ttl: Duration) -> Pacing {
        Pacing {
            etr_threshold: Duration::minutes(i64::from(alerts.etr_threshold_minutes)),
            updates_per_day: alerts.updates_per_day,
            ttl,
        }
    }
}

/// Why a delivery is not sent now. `Display` is the delivery's `last_error`, which
/// operators and API consumers read: the texts must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Expired,
    OptedOut,
    Undeliverable,
    /// The contact chose not to hear about this service.
    NotWanted(Utility),
    OutageGone,
    /// The outage was restored or cancelled before this message went out.
    OutageEnded(OutageStatus),
    /// The contact already had this revision (of the outage's current revision).
    RevisionAlreadySent(i64),
    WaitingForFirstMessage,
    FirstMessageCarriesUpdate,
    NeverTold,
    /// Only the ETR changed since the contact's last message, by this many
    /// minutes, under the threshold.
    EtrMovedLittle {
        minutes: i64,
        threshold: i64,
    },
    /// The contact's window is closed.
    OutsideWindow(Window),
    /// This many updates went in the last 24 hours.
    DailyCap(u32),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Expired => f.write_str("expired before it could be sent"),
            Skip::OptedOut => f.write_str("contact opted out"),
            Skip::Undeliverable => {
                f.write_str("the address is undeliverable (it bounced); waiting for it to be confirmed again")
            }
            Skip::NotWanted(utility) => {
                write!(f, "the contact chose not to receive {utility} alerts")
            }
            Skip::OutageGone => f.write_str("outage not found"),
            Skip::OutageEnded(status) => write!(f, "outage {status} before this message was sent"),
            Skip::RevisionAlreadySent(revision) => {
                write!(f, "revision {revision} was already sent to this contact")
            }
            Skip::WaitingForFirstMessage => {
                f.write_str("waiting for this contact's first message to finish")
            }
            Skip::FirstMessageCarriesUpdate => {
                f.write_str("the contact's first message, not yet sent, carries this update")
            }
            Skip::NeverTold => f.write_str("the contact was never told about this outage"),
            Skip::EtrMovedLittle { minutes, threshold } => write!(
                f,
                "the ETR moved {minutes} min from the one this contact was told, under the {threshold} min threshold"
            ),
            Skip::OutsideWindow(window) => {
                write!(f, "held for the contact's window ({window})")
            }
            Skip::DailyCap(n) => write!(
                f,
                "held: {n} updates went to this contact in the last 24 hours; this one will carry the latest state"
            ),
        }
    }
}

/// What to do with a claimed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Render the outage's current state as a message of kind `render` (the
    /// claim's own kind, except for a summary) and send it.
    Send { render: DeliveryKind },
    /// Back to the queue until `until`; waiting is no failure, so the attempt is
    /// not counted. `hold`: held for the contact (window, cap), shown as
    /// deferred, with the expiry moved to this.
    Defer {
        until: DateTime<Utc>,
        reason: Skip,
        hold: Option<DateTime<Utc>>,
    },
    /// Never sent: the delivery ends in `failure`'s state.
    Drop { failure: Failure, reason: Skip },
}

/// The message that says an outage is over, by how it ended.
fn ending(status: OutageStatus) -> DeliveryKind {
    if status == OutageStatus::Cancelled {
        DeliveryKind::Cancelled
    } else {
        DeliveryKind::Restored
    }
}

/// Decides a claimed delivery (see the module docs for the table).
pub fn decide(
    claim: Claim,
    outage: Option<OutageState>,
    told: NewsSent,
    pacing: Pacing,
    now: DateTime<Utc>,
) -> Decision {
    use DeliveryKind::*;
    let drop = |failure, reason| Decision::Drop { failure, reason };
    let hold = |until: DateTime<Utc>, reason| Decision::Defer {
        until,
        reason,
        hold: Some(claim.expires_at.max(until + pacing.ttl)),
    };
    if now > claim.expires_at {
        return drop(Failure::Expired, Skip::Expired);
    }
    if claim.opted_out {
        return drop(Failure::Suppressed, Skip::OptedOut);
    }
    if claim.undeliverable {
        return drop(Failure::Suppressed, Skip::Undeliverable);
    }
    let Some(outage) = outage else {
        return drop(Failure::Dead, Skip::OutageGone);
    };
    if claim.utilities != 0 && claim.utilities & outage.utility.bit() == 0 {
        return drop(Failure::Suppressed, Skip::NotWanted(outage.utility));
    }
    let never_told = told.revision.is_none();
    if matches!(claim.kind, Declared | Updated | Requested) && !outage.status.is_open() {
        // Began and ended while the contact's window was closed, and the
        // utility wants them to hear of it.
        if claim.kind == Declared
            && claim.held
            && never_told
            && outage.after_window == AfterWindow::Summary
        {
            return Decision::Send {
                render: ending(outage.status),
            };
        }
        return drop(Failure::Superseded, Skip::OutageEnded(outage.status));
    }
    match claim.kind {
        // One message per state: a declaration rendered after the ETR changed
        // already carried the update this delivery was queued for.
        Updated if told.revision.is_some_and(|r| r >= outage.revision) => {
            return drop(
                Failure::Superseded,
                Skip::RevisionAlreadySent(outage.revision),
            )
        }
        // Whatever follows the first message waits while that is on its way.
        Updated | Restored | Cancelled | Withdrawn if never_told && told.in_flight => {
            return Decision::Defer {
                until: now + FIRST_MESSAGE_WAIT,
                reason: Skip::WaitingForFirstMessage,
                hold: None,
            }
        }
        // An update is news only to those who had the first message. If theirs is
        // still queued (it was claimed when the change came, then released or
        // retried), it renders the newest state itself.
        Updated if never_told => return drop(Failure::Superseded, Skip::FirstMessageCarriesUpdate),
        // "It's over" only to those who heard it began.
        Restored | Cancelled | Withdrawn if never_told => {
            return drop(Failure::Superseded, Skip::NeverTold)
        }
        _ => {}
    }
    // A nudge of the ETR is not news: measured from the time the contact was
    // told, so small steps that add up to a real move are sent when they do.
    if claim.kind == Updated && !told.more_than_etr {
        if let (Etr::At(was), Etr::At(is)) = (told.etr, outage.etr) {
            let moved = (is - was).abs();
            if moved < pacing.etr_threshold {
                return drop(
                    Failure::Superseded,
                    Skip::EtrMovedLittle {
                        minutes: moved.num_minutes(),
                        threshold: pacing.etr_threshold.num_minutes(),
                    },
                );
            }
        }
    }
    if !claim.urgent && claim.kind != Requested {
        if let Some(window) = claim.window {
            if let Some(opens) = window.next_opening(now, claim.time_zone) {
                return hold(opens, Skip::OutsideWindow(window));
            }
        }
    }
    if claim.kind == Updated
        && pacing.updates_per_day > 0
        && told.updates_today >= pacing.updates_per_day
    {
        if let Some(first) = told.first_update_today {
            return hold(
                first + Duration::days(1),
                Skip::DailyCap(told.updates_today),
            );
        }
    }
    Decision::Send { render: claim.kind }
}

#[cfg(test)]
mod tests {
    //! The table as a specification: every combination of kind × opted out ×
    //! outage (open, ended, missing) × what the contact was told × expired ×
    //! urgent × window (none, open, closed) × held before × how the outage
    //! changed since told × updates today × the utility's after-window rule is
    //! decided, and checked against the first matching row below. Every row
    //! must be reached by at least one combination, so a row that can never
    //! apply is caught too.

    use super::*;
    use chrono::TimeZone;
    use DeliveryKind::*;

    const REVISION: i64 = 3;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()
    }

    fn pacing() -> Pacing {
        Pacing {
            etr_threshold: Duration::minutes(30),
            updates_per_day: 3,
            ttl: Duration::hours(12),
        }
    }

    /// The ETR the outage has now.
    fn etr_now() -> DateTime<Utc> {
        now() + Duration::hours(3)
    }

    /// How the outage changed since the revision the contact was told.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Since {
        /// Only the ETR, by 10 minutes.
        EtrNudged,
        /// Only the ETR, by 45 minutes.
        EtrMoved,
        /// Only the ETR, from "not yet assessed" to a time.
        EtrAssessed,
        /// The ETR by 10 minutes and something else (the cause).
        More,
    }

    #[derive(Debug, Clone, Copy)]
    struct Case {
        kind: DeliveryKind,
        opted_out: bool,
        undeliverable: bool,
        /// The contact's services: 0 (all), water, or power only.
        utilities: u8,
        outage: Option<OutageStatus>,
        /// (revision told, a message in flight)
        told: (Option<i64>, bool),
        expired: bool,
        urgent: bool,
        window: Option<Window>,
        held: bool,
        since: Since,
        capped: bool,
        summary: bool,
    }

    /// 09:00-21:00 (UTC in these cases) is closed at 08:00; 07:00-21:00 open.
    fn closed() -> Window {
        Window::parse("09:00-21:00").unwrap()
    }

    fn opens() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn first_update() -> DateTime<Utc> {
        now() - Duration::hours(20)
    }

    impl Case {
        fn decide(&self) -> Decision {
            let expires_at = if self.expired {
                now() - Duration::milliseconds(1)
            } else {
                // Expiring exactly now still counts as in time.
                now()
            };
            let claim = Claim {
                kind: self.kind,
                opted_out: self.opted_out,
                undeliverable: self.undeliverable,
                utilities: self.utilities,
                expires_at,
                urgent: self.urgent,
                held: self.held,
                window: self.window,
                time_zone: Tz::UTC,
            };
            let outage = self.outage.map(|status| OutageState {
                utility: Utility::Water,
                status,
                revision: REVISION,
                etr: Etr::At(etr_now()),
                after_window: if self.summary {
                    AfterWindow::Summary
                } else {
                    AfterWindow::Nothing
                },
            });
            let told_etr = match self.since {
                Since::EtrNudged | Since::More => Etr::At(etr_now() - Duration::minutes(10)),
                Since::EtrMoved => Etr::At(etr_now() + Duration::minutes(45)),
                Since::EtrAssessed => Etr::Unknown,
            };
            let told = NewsSent {
                revision: self.told.0,
                in_flight: self.told.1,
                etr: told_etr,
                more_than_etr: self.since == Since::More,
                updates_today: if self.capped { 3 } else { 2 },
                first_update_today: Some(first_update()),
            };
            decide(claim, outage, told, pacing(), now())
        }
        fn open(&self) -> bool {
            self.outage.is_some_and(OutageStatus::is_open)
        }
        fn never_told(&self) -> bool {
            self.told.0.is_none()
        }
        fn window_closed(&self) -> bool {
            self.window == Some(closed())
        }
    }

    fn all_cases() -> Vec<Case> {
        let outages = [
            Some(OutageStatus::Scheduled),
            Some(OutageStatus::Active),
            Some(OutageStatus::Restored),
            Some(OutageStatus::Cancelled),
            None,
        ];
        let told = [
            // Never told, nothing on its way; never told, the first message is
            // being sent.
            (None, false),
            (None, true),
            // Told an older revision (with and without another message in flight).
            (Some(REVISION - 1), false),
            (Some(REVISION - 1), true),
            // Told the current revision, and one newer than the one loaded.
            (Some(REVISION), false),
            (Some(REVISION + 1), true),
        ];
        let windows = [
            None,
            Some(Window::parse("07:00-21:00").unwrap()),
            Some(closed()),
        ];
        let since = [
            Since::EtrNudged,
            Since::EtrMoved,
            Since::EtrAssessed,
            Since::More,
        ];
        let mut cases = Vec::new();
        for &kind in DeliveryKind::ALL {
            for (opted_out, undeliverable, utilities) in [
                (false, false, 0),
                (true, false, 0),
                (false, true, 0),
                (false, false, Utility::Water.bit()),
                (false, false, Utility::Power.bit()),
            ] {
                for outage in outages {
                    for told in told {
                        for expired in [false, true] {
                            for urgent in [false, true] {
                                for window in windows {
                                    for held in [false, true] {
                                        for since in since {
                                            for capped in [false, true] {
                                                for summary in [false, true] {
                                                    cases.push(Case {
                                                        kind,
                                                        opted_out,
                                                        undeliverable,
                                                        utilities,
                                                        outage,
                                                        told,
                                                        expired,
                                                        urgent,
                                                        window,
                                                        held,
                                                        since,
                                                        capped,
                                                        summary,
                                                    });
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        cases
    }

    type Rule = (&'static str, fn(&Case) -> bool, fn(&Case) -> Decision);

    fn dropped(failure: Failure, reason: Skip) -> Decision {
        Decision::Drop { failure, reason }
    }

    fn held(until: DateTime<Utc>, reason: Skip) -> Decision {
        Decision::Defer {
            until,
            reason,
            hold: Some(until + pacing().ttl),
        }
    }

    /// The table, first match wins.
    const TABLE: &[Rule] = &[
        (
            "expired",
            |c| c.expired,
            |_| dropped(Failure::Expired, Skip::Expired),
        ),
        (
            "opted out",
            |c| c.opted_out,
            |_| dropped(Failure::Suppressed, Skip::OptedOut),
        ),
        (
            "address undeliverable",
            |c| c.undeliverable,
            |_| dropped(Failure::Suppressed, Skip::Undeliverable),
        ),
        (
            "outage missing",
            |c| c.outage.is_none(),
            |_| dropped(Failure::Dead, Skip::OutageGone),
        ),
        (
            "a service the contact does not want",
            |c| c.utilities == Utility::Power.bit(),
            |_| dropped(Failure::Suppressed, Skip::NotWanted(Utility::Water)),
        ),
        (
            "a held first message about an outage that ended, as a summary",
            |c| c.kind == Declared && !c.open() && c.held && c.never_told() && c.summary,
            |c| Decision::Send {
                render: if c.outage == Some(OutageStatus::Cancelled) {
                    Cancelled
                } else {
                    Restored
                },
            },
        ),
        (
            "news or requested about an ended outage",
            |c| matches!(c.kind, Declared | Updated | Requested) && !c.open(),
            |c| {
                dropped(
                    Failure::Superseded,
                    Skip::OutageEnded(c.outage.expect("present")),
                )
            },
        ),
        (
            "update already sent",
            |c| c.kind == Updated && c.told.0.is_some_and(|r| r >= REVISION),
            |_| dropped(Failure::Superseded, Skip::RevisionAlreadySent(REVISION)),
        ),
        (
            "follow-up while the first message is in flight",
            |c| {
                matches!(c.kind, Updated | Restored | Cancelled | Withdrawn)
                    && c.never_told()
                    && c.told.1
            },
            |_| Decision::Defer {
                until: now() + Duration::seconds(1),
                reason: Skip::WaitingForFirstMessage,
                hold: None,
            },
        ),
        (
            "update before the first message",
            |c| c.kind == Updated && c.never_told(),
            |_| dropped(Failure::Superseded, Skip::FirstMessageCarriesUpdate),
        ),
        (
            "it's over, to someone never told",
            |c| matches!(c.kind, Restored | Cancelled | Withdrawn) && c.never_told(),
            |_| dropped(Failure::Superseded, Skip::NeverTold),
        ),
        (
            "an ETR nudge alone",
            |c| c.kind == Updated && c.since == Since::EtrNudged,
            |_| {
                dropped(
                    Failure::Superseded,
                    Skip::EtrMovedLittle {
                        minutes: 10,
                        threshold: 30,
                    },
                )
            },
        ),
        (
            "a normal message outside the contact's window",
            |c| !c.urgent && c.kind != Requested && c.window_closed(),
            |_| held(opens(), Skip::OutsideWindow(closed())),
        ),
        (
            "the day's updates used up",
            |c| c.kind == Updated && c.capped,
            |_| held(first_update() + Duration::days(1), Skip::DailyCap(3)),
        ),
        ("send", |_| true, |c| Decision::Send { render: c.kind }),
    ];

    #[test]
    fn every_combination_follows_the_first_matching_row_and_every_row_is_reached() {
        let mut reached = vec![0usize; TABLE.len()];
        for case in all_cases() {
            let (row, (name, _, expected)) = TABLE
                .iter()
                .enumerate()
                .find(|(_, (_, applies, _))| applies(&case))
                .expect("the last row matches everything");
            reached[row] += 1;
            assert_eq!(case.decide(), expected(&case), "row '{name}': {case:?}");
        }
        for ((name, _, _), n) in TABLE.iter().zip(&reached) {
            assert!(*n > 0, "row '{name}' is never reached");
        }
    }

    fn plain(kind: DeliveryKind, outage: Option<OutageStatus>, told: (Option<i64>, bool)) -> Case {
        Case {
            kind,
            opted_out: false,
            undeliverable: false,
            utilities: 0,
            outage,
            told,
            expired: false,
            urgent: false,
            window: None,
            held: false,
            since: Since::More,
            capped: false,
            summary: false,
        }
    }

    #[test]
    fn what_is_sent() {
        let active = Some(OutageStatus::Active);
        for c in [
            // The first message, however many revisions it is late.
            plain(Declared, active, (None, false)),
            plain(Declared, Some(OutageStatus::Scheduled), (None, true)),
            // An update to someone told an older revision.
            plain(Updated, active, (Some(REVISION - 1), false)),
            // "It's over" to someone told it began, even after it ended.
            plain(Restored, Some(OutageStatus::Restored), (Some(1), false)),
            plain(Cancelled, Some(OutageStatus::Cancelled), (Some(1), true)),
            plain(Withdrawn, active, (Some(REVISION), false)),
            // Asked for by the resident ("press 2"), never told before.
            plain(Requested, active, (None, false)),
        ] {
            assert_eq!(c.decide(), Decision::Send { render: c.kind }, "{c:?}");
        }
    }

    #[test]
    fn pacing_lets_real_news_through() {
        let active = Some(OutageStatus::Active);
        let update = plain(Updated, active, (Some(REVISION - 1), false));
        let send = Decision::Send { render: Updated };
        // A 45-minute move, and a first assessment, are news.
        for since in [Since::EtrMoved, Since::EtrAssessed] {
            assert_eq!(Case { since, ..update }.decide(), send);
        }
        // An urgent outage ignores the window; a requested message too.
        let closed = Some(closed());
        assert_eq!(
            Case {
                urgent: true,
                window: closed,
                ..update
            }
            .decide(),
            send
        );
        let requested = plain(Requested, active, (None, false));
        assert_eq!(
            Case {
                window: closed,
                ..requested
            }
            .decide(),
            Decision::Send { render: Requested }
        );
        // Urgent or not, the daily cap holds updates (safety news goes in
        // declarations and endings, which are never capped).
        assert!(matches!(
            Case {
                urgent: true,
                capped: true,
                ..update
            }
            .decide(),
            Decision::Defer {
                reason: Skip::DailyCap(3),
                ..
            }
        ));
        let restored = plain(Restored, Some(OutageStatus::Restored), (Some(1), false));
        assert_eq!(
            Case {
                capped: true,
                ..restored
            }
            .decide(),
            Decision::Send { render: Restored }
        );
    }

    #[test]
    fn a_hold_moves_the_expiry_past_its_release() {
        let late = Case {
            window: Some(closed()),
            ..plain(Declared, Some(OutageStatus::Active), (None, false))
        };
        let Decision::Defer {
            until,
            hold: Some(expires),
            ..
        } = late.decide()
        else {
            panic!("held")
        };
        assert_eq!(until, opens());
        assert_eq!(expires, opens() + Duration::hours(12));
    }

    #[test]
    fn reasons_read_as_the_last_error_always_has() {
        for (skip, text) in [
            (Skip::Expired, "expired before it could be sent"),
            (Skip::OptedOut, "contact opted out"),
            (
                Skip::Undeliverable,
                "the address is undeliverable (it bounced); waiting for it to be confirmed again",
            ),
            (
                Skip::NotWanted(Utility::Gas),
                "the contact chose not to receive gas alerts",
            ),
            (Skip::OutageGone, "outage not found"),
            (
                Skip::OutageEnded(OutageStatus::Restored),
                "outage restored before this message was sent",
            ),
            (
                Skip::OutageEnded(OutageStatus::Cancelled),
                "outage cancelled before this message was sent",
            ),
            (
                Skip::RevisionAlreadySent(4),
                "revision 4 was already sent to this contact",
            ),
            (
                Skip::WaitingForFirstMessage,
                "waiting for this contact's first message to finish",
            ),
            (
                Skip::FirstMessageCarriesUpdate,
                "the contact's first message, not yet sent, carries this update",
            ),
            (
                Skip::NeverTold,
                "the contact was never told about this outage",
            ),
            (
                Skip::EtrMovedLittle {
                    minutes: 10,
                    threshold: 30,
                },
                "the ETR moved 10 min from the one this contact was told, under the 30 min threshold",
            ),
            (
                Skip::OutsideWindow(closed()),
                "held for the contact's window (09:00-21:00)",
            ),
            (
                Skip::DailyCap(3),
                "held: 3 updates went to this contact in the last 24 hours; this one will carry the latest state",
            ),
        ] {
            assert_eq!(skip.to_string(), text);
        }
    }
}

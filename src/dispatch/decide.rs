//! Whether a claimed delivery goes out: the eligibility table, as a pure function.
//!
//! The worker claims a delivery, loads its outage and what the contact has already
//! been told, and asks [`decide`]. The answer is one of three: send it now (the
//! worker then renders the outage's *current* state, so a queued message never
//! carries a stale one), try again later (another message to the same contact must
//! land first), or drop it for good with the final state it ends in. No I/O and no
//! clock reads happen here: everything the decision depends on is an argument, so
//! every row of the table is a unit test below.
//!
//! The rows, first match wins:
//!
//! | claim                           | outage / told                               | decision                                  |
//! |---------------------------------|---------------------------------------------|-------------------------------------------|
//! | `now` after `expires_at`        | any                                         | drop, expired                             |
//! | opted out                       | any                                         | drop, suppressed                          |
//! | any                             | outage missing                              | drop, dead                                |
//! | declared, updated, requested    | outage restored or cancelled                | drop, superseded ("outage … before …")    |
//! | updated                         | told this revision or a newer one           | drop, superseded (revision already sent)  |
//! | updated, restored, cancelled, withdrawn | never told, first message in flight | defer 1 s                                 |
//! | updated                         | never told, nothing in flight               | drop, superseded (first message carries it) |
//! | restored, cancelled, withdrawn  | never told, nothing in flight               | drop, superseded (never told)             |
//! | anything else                   |                                             | send                                      |
//!
//! An opt-out stops every kind, `requested` too: "press 2" is only offered to
//! contacts who have not opted out, and one who opts out after asking gets
//! nothing more.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::{DeliveryKind, Outage, OutageStatus};
use crate::store::{ClaimedDelivery, Failure, NewsSent};

/// How long a message waits for the same contact's first message to finish
/// sending before it is looked at again.
pub const FIRST_MESSAGE_WAIT: chrono::Duration = chrono::Duration::seconds(1);

/// The fields of a claimed delivery the decision reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub kind: DeliveryKind,
    pub opted_out: bool,
    pub expires_at: DateTime<Utc>,
}

impl From<&ClaimedDelivery> for Claim {
    fn from(d: &ClaimedDelivery) -> Claim {
        Claim {
            kind: d.kind,
            opted_out: d.opted_out,
            expires_at: d.expires_at,
        }
    }
}

/// The fields of the outage the decision reads: its status and current revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageState {
    pub status: OutageStatus,
    pub revision: i64,
}

impl From<&Outage> for OutageState {
    fn from(o: &Outage) -> OutageState {
        OutageState {
            status: o.status,
            revision: o.revision,
        }
    }
}

/// Why a delivery is not sent now. `Display` is the delivery's `last_error`, which
/// operators and API consumers read: the texts must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Expired,
    OptedOut,
    OutageGone,
    /// The outage was restored or cancelled before this message went out.
    OutageEnded(OutageStatus),
    /// The contact already had this revision (of the outage's current revision).
    RevisionAlreadySent(i64),
    WaitingForFirstMessage,
    FirstMessageCarriesUpdate,
    NeverTold,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Expired => f.write_str("expired before it could be sent"),
            Skip::OptedOut => f.write_str("contact opted out"),
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
        }
    }
}

/// What to do with a claimed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Render the outage's current state and send it.
    Send,
    /// Back to the queue until `until`; waiting is no failure, so the attempt is
    /// not counted.
    Defer { until: DateTime<Utc>, reason: Skip },
    /// Never sent: the delivery ends in `failure`'s state.
    Drop { failure: Failure, reason: Skip },
}

/// Decides a claimed delivery (see the module docs for the table).
pub fn decide(
    claim: Claim,
    outage: Option<OutageState>,
    told: NewsSent,
    now: DateTime<Utc>,
) -> Decision {
    use DeliveryKind::*;
    let drop = |failure, reason| Decision::Drop { failure, reason };
    if now > claim.expires_at {
        return drop(Failure::Expired, Skip::Expired);
    }
    if claim.opted_out {
        return drop(Failure::Suppressed, Skip::OptedOut);
    }
    let Some(outage) = outage else {
        return drop(Failure::Dead, Skip::OutageGone);
    };
    if matches!(claim.kind, Declared | Updated | Requested) && !outage.status.is_open() {
        return drop(Failure::Superseded, Skip::OutageEnded(outage.status));
    }
    let never_told = told.revision.is_none();
    match claim.kind {
        // One message per state: a declaration rendered after the ETR changed
        // already carried the update this delivery was queued for.
        Updated if told.revision.is_some_and(|r| r >= outage.revision) => drop(
            Failure::Superseded,
            Skip::RevisionAlreadySent(outage.revision),
        ),
        // Whatever follows the first message waits while that is on its way.
        Updated | Restored | Cancelled | Withdrawn if never_told && told.in_flight => {
            Decision::Defer {
                until: now + FIRST_MESSAGE_WAIT,
                reason: Skip::WaitingForFirstMessage,
            }
        }
        // An update is news only to those who had the first message. If theirs is
        // still queued (it was claimed when the change came, then released or
        // retried), it renders the newest state itself.
        Updated if never_told => drop(Failure::Superseded, Skip::FirstMessageCarriesUpdate),
        // "It's over" only to those who heard it began.
        Restored | Cancelled | Withdrawn if never_told => {
            drop(Failure::Superseded, Skip::NeverTold)
        }
        _ => Decision::Send,
    }
}

#[cfg(test)]
mod tests {
    //! The table as a specification: every combination of kind × opted out ×
    //! outage (open, ended, missing) × what the contact was told × expired is
    //! decided, and checked against the first matching row below. Every row must
    //! be reached by at least one combination, so a row that can never apply is
    //! caught too.

    use super::*;
    use chrono::TimeZone;
    use DeliveryKind::*;

    const REVISION: i64 = 3;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()
    }

    #[derive(Debug, Clone, Copy)]
    struct Case {
        kind: DeliveryKind,
        opted_out: bool,
        outage: Option<OutageStatus>,
        told: NewsSent,
        expired: bool,
    }

    impl Case {
        fn decide(&self) -> Decision {
            let expires_at = if self.expired {
                now() - chrono::Duration::milliseconds(1)
            } else {
                // Expiring exactly now still counts as in time.
                now()
            };
            let claim = Claim {
                kind: self.kind,
                opted_out: self.opted_out,
                expires_at,
            };
            let outage = self.outage.map(|status| OutageState {
                status,
                revision: REVISION,
            });
            decide(claim, outage, self.told, now())
        }
        fn open(&self) -> bool {
            self.outage.is_some_and(OutageStatus::is_open)
        }
        fn never_told(&self) -> bool {
            self.told.revision.is_none()
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
            // Never told, nothing on its way.
            NewsSent {
                revision: None,
                in_flight: false,
            },
            // Never told, the first message is being sent.
            NewsSent {
                revision: None,
                in_flight: true,
            },
            // Told an older revision (with and without another message in flight).
            NewsSent {
                revision: Some(REVISION - 1),
                in_flight: false,
            },
            NewsSent {
                revision: Some(REVISION - 1),
                in_flight: true,
            },
            // Told the current revision, and one newer than the one loaded.
            NewsSent {
                revision: Some(REVISION),
                in_flight: false,
            },
            NewsSent {
                revision: Some(REVISION + 1),
                in_flight: true,
            },
        ];
        let mut cases = Vec::new();
        for &kind in DeliveryKind::ALL {
            for opted_out in [false, true] {
                for outage in outages {
                    for told in told {
                        for expired in [false, true] {
                            cases.push(Case {
                                kind,
                                opted_out,
                                outage,
                                told,
                                expired,
                            });
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
            "outage missing",
            |c| c.outage.is_none(),
            |_| dropped(Failure::Dead, Skip::OutageGone),
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
            |c| c.kind == Updated && c.told.revision.is_some_and(|r| r >= REVISION),
            |_| dropped(Failure::Superseded, Skip::RevisionAlreadySent(REVISION)),
        ),
        (
            "follow-up while the first message is in flight",
            |c| {
                matches!(c.kind, Updated | Restored | Cancelled | Withdrawn)
                    && c.never_told()
                    && c.told.in_flight
            },
            |_| Decision::Defer {
                until: now() + chrono::Duration::seconds(1),
                reason: Skip::WaitingForFirstMessage,
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
        ("send", |_| true, |_| Decision::Send),
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

    #[test]
    fn what_is_sent() {
        let told = |revision, in_flight| NewsSent {
            revision,
            in_flight,
        };
        let active = Some(OutageStatus::Active);
        let case = |kind, opted_out, outage, told| Case {
            kind,
            opted_out,
            outage,
            told,
            expired: false,
        };
        for c in [
            // The first message, however many revisions it is late.
            case(Declared, false, active, told(None, false)),
            case(
                Declared,
                false,
                Some(OutageStatus::Scheduled),
                told(None, true),
            ),
            // An update to someone told an older revision.
            case(Updated, false, active, told(Some(REVISION - 1), false)),
            // "It's over" to someone told it began, even after it ended.
            case(
                Restored,
                false,
                Some(OutageStatus::Restored),
                told(Some(1), false),
            ),
            case(
                Cancelled,
                false,
                Some(OutageStatus::Cancelled),
                told(Some(1), true),
            ),
            case(Withdrawn, false, active, told(Some(REVISION), false)),
            // Asked for by the resident ("press 2"), never told before.
            case(Requested, false, active, told(None, false)),
        ] {
            assert_eq!(c.decide(), Decision::Send, "{c:?}");
        }
    }

    #[test]
    fn reasons_read_as_the_last_error_always_has() {
        for (skip, text) in [
            (Skip::Expired, "expired before it could be sent"),
            (Skip::OptedOut, "contact opted out"),
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
        ] {
            assert_eq!(skip.to_string(), text);
        }
    }
}

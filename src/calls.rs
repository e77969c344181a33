//! Who called before being told: the figure that says whether proactive alerts
//! work. Every IVR status request by phone that hears about an outage is a
//! call; per outage Herald reports how many distinct callers there were, how
//! many of them had already been sent a message about it when they first
//! called, the share, and the median lead time from that message to the call.
//!
//! The IVR's answer path must stay free of database writes in a storm, so a
//! call is only noted in memory here ([`CallLog::record`]); the node writes
//! what it noted in batches ([`CallLog::flush`], every second and before any
//! figure is read), and the batch's statement looks up, per call, when the
//! number was first sent a message about the outage. A number is stored only
//! as a keyed hash (the deployment's signing key), so the table says who called
//! twice but not who called.
//!
//! The figures depend only on each caller's *first* call about an outage (when
//! it was, and whether a message had gone before it), so a node notes a
//! number's call about an outage once and lets its repeats pass: in a storm
//! people redial, and writing every redial (with a look-up per row) cost the
//! database more than the fan-out itself. What a node has noted is forgotten
//! when the set is full and every hour ([`CallLog::forget_seen`], with the
//! retention purge), so a repeat after that, or on another node, is written
//! again; the figures group by caller and take the earliest, so an extra row
//! never changes them. The keyed hash is computed when writing, off the
//! answer path.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::ServerKey;
use crate::domain::Phone;
use crate::error::Result;
use crate::store::{NewCall, OutageCaller, Store};

/// What a caller's number is hashed for (see [`ServerKey::sign`]).
const CALLER: &str = "ivr-caller";

/// A caller's number as the calls are stored: its keyed hash.
pub fn caller_hash(key: &ServerKey, number: &str) -> String {
    key.sign(CALLER, number)
}

/// Calls noted and not yet written, at most; beyond (the database has been
/// unreachable for a long storm), new calls are counted and dropped rather
/// than let memory grow.
const MAX_PENDING: usize = 200_000;

/// (outage, number) pairs a node remembers having noted, at most (16 bytes
/// each, about 16 MiB with the set's overhead); when full the set starts
/// again, which only lets a few repeats be written.
const MAX_SEEN: usize = 500_000;

/// Rows per statement when writing.
const BATCH: usize = 5_000;

struct Pending {
    number: String,
    at: DateTime<Utc>,
    /// The outages this call is the first (on this node) to be noted for.
    outages: Arc<[i64]>,
}

#[derive(Default)]
struct Noted {
    pending: Vec<Pending>,
    /// Which number has been noted for which outage (see the module docs).
    seen: HashSet<(i64, u64)>,
}

/// Calls this node answered and has not written yet.
#[derive(Default)]
pub struct CallLog {
    noted: Mutex<Noted>,
    /// One flush at a time, so calls are written in the order noted.
    writing: tokio::sync::Mutex<()>,
}

/// A number as the set of noted calls keys it: an E.164 number's digits (at
/// most 15, and never a leading zero, so distinct numbers are distinct
/// integers).
fn number_key(number: &Phone) -> u64 {
    let digits = number.as_str().trim_start_matches('+');
    digits.parse().unwrap_or_else(|_| {
        // Not reachable for a parsed `Phone`; a hash keeps the set correct
        // for anything else.
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(digits)
    })
}

impl CallLog {
    /// Notes a call from `number` that heard about `outages` (none: nothing is
    /// noted, as there is no outage to count it for; a repeat of a call
    /// already noted about every one of them: nothing either).
    pub fn record(&self, number: &Phone, at: DateTime<Utc>, outages: &Arc<[i64]>) {
        let heard = if outages.is_empty() {
            "nothing"
        } else {
            "outage"
        };
        metrics::counter!("herald_ivr_calls_total", "heard" => heard).increment(1);
        if outages.is_empty() {
            return;
        }
        let key = number_key(number);
        let mut noted = self.noted.lock().expect("call log");
        let fresh = |seen: &HashSet<(i64, u64)>, id: &i64| !seen.contains(&(*id, key));
        let first: Arc<[i64]> = if outages.iter().all(|id| fresh(&noted.seen, id)) {
            Arc::clone(outages)
        } else {
            let some: Vec<i64> = outages
                .iter()
                .filter(|id| fresh(&noted.seen, id))
                .copied()
                .collect();
            if some.is_empty() {
                return;
            }
            some.into()
        };
        if noted.pending.len() >= MAX_PENDING {
            drop(noted);
            metrics::counter!("herald_ivr_calls_dropped_total").increment(1);
            return;
        }
        if noted.seen.len() + first.len() > MAX_SEEN {
            noted.seen.clear();
        }
        noted.seen.extend(first.iter().map(|&id| (id, key)));
        noted.pending.push(Pending {
            number: number.as_str().to_string(),
            at,
            outages: first,
        });
    }

    /// Drops this number's calls not written yet, and lets its next call be
    /// noted again: the person is being erased.
    pub fn forget_number(&self, number: &str) {
        let mut noted = self.noted.lock().expect("call log");
        noted.pending.retain(|c| c.number != number);
        noted.seen = HashSet::new();
    }

    /// Lets every number's next call be noted again (see the module docs).
    pub fn forget_seen(&self) {
        let mut noted = self.noted.lock().expect("call log");
        noted.seen = HashSet::new();
    }

    /// Writes every call noted so far, numbers hashed by `key`; how many
    /// calls. On a database error the calls not written are kept for the next
    /// flush.
    pub async fn flush(&self, store: &Store, key: &ServerKey) -> Result<usize> {
        let _one = self.writing.lock().await;
        let calls = std::mem::take(&mut self.noted.lock().expect("call log").pending);
        let mut written = 0;
        let mut failed = None;
        for chunk in calls.chunks(BATCH) {
            let callers: Vec<String> = chunk.iter().map(|c| caller_hash(key, &c.number)).collect();
            let rows: Vec<NewCall<'_>> = chunk
                .iter()
                .zip(&callers)
                .flat_map(|(c, caller)| {
                    c.outages.iter().map(move |&outage_id| NewCall {
                        outage_id,
                        caller,
                        number: &c.number,
                        at: c.at,
                    })
                })
                .collect();
            if let Err(e) = store.record_calls(&rows).await {
                failed = Some(e);
                break;
            }
            written += chunk.len();
        }
        if let Some(e) = failed {
            let mut noted = self.noted.lock().expect("call log");
            let room = MAX_PENDING.saturating_sub(noted.pending.len());
            let mut back: Vec<Pending> = calls.into_iter().skip(written).take(room).collect();
            back.append(&mut noted.pending);
            noted.pending = back;
            return Err(e);
        }
        Ok(written)
    }

    /// Calls noted and not yet written.
    pub fn pending(&self) -> usize {
        self.noted.lock().expect("call log").pending.len()
    }
}

/// An outage's callers, and how many had been told first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CallStats {
    /// Distinct numbers that called and heard about the outage (callers from
    /// affected addresses: the IVR names an outage to a caller only when it
    /// covers their address).
    pub callers: u64,
    /// Of those, how many had been sent a message about the outage before
    /// their first call.
    pub told_first: u64,
    /// `told_first / callers`, when there were callers.
    pub share_told: Option<f64>,
    /// The median time from the message to the first call, in seconds, of
    /// those told first.
    pub median_lead_seconds: Option<i64>,
}

impl CallStats {
    /// The figures of these callers (a pure function of them).
    pub fn of(callers: &[OutageCaller]) -> CallStats {
        let mut leads: Vec<i64> = callers
            .iter()
            .filter_map(|c| c.told_at.map(|t| (c.first_call - t).num_seconds()))
            .collect();
        leads.sort_unstable();
        let n = callers.len() as u64;
        CallStats {
            callers: n,
            told_first: leads.len() as u64,
            share_told: (n > 0).then(|| leads.len() as f64 / n as f64),
            median_lead_seconds: median(&leads),
        }
    }
}

/// The median of sorted values (the mean of the middle two for an even count,
/// rounded down).
fn median(sorted: &[i64]) -> Option<i64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]).div_euclid(2)),
    }
}

/// The outage's figures, counting every call this node has noted.
pub async fn outage_stats(
    log: &CallLog,
    store: &Store,
    key: &ServerKey,
    outage_id: i64,
) -> Result<CallStats> {
    log.flush(store, key).await?;
    Ok(CallStats::of(&store.outage_callers(outage_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 8, minute, 0).unwrap()
    }

    fn caller(first_call: u32, told: Option<u32>) -> OutageCaller {
        OutageCaller {
            first_call: at(first_call),
            told_at: told.map(at),
        }
    }

    fn phone(s: &str) -> Phone {
        Phone::parse(s, crate::domain::contact::Region::HU).unwrap()
    }

    fn pending_outages(log: &CallLog) -> Vec<(String, Vec<i64>)> {
        let noted = log.noted.lock().unwrap();
        noted
            .pending
            .iter()
            .map(|c| (c.number.clone(), c.outages.to_vec()))
            .collect()
    }

    #[test]
    fn a_redial_about_the_same_outages_is_noted_once() {
        let log = CallLog::default();
        let a = phone("+36701234567");
        let b = phone("+36701234568");
        let two: Arc<[i64]> = vec![1, 2].into();
        log.record(&a, at(1), &two);
        log.record(&a, at(2), &two);
        log.record(&b, at(3), &two);
        // A third outage since: the redial is noted for it alone.
        let three: Arc<[i64]> = vec![1, 2, 3].into();
        log.record(&a, at(4), &three);
        log.record(&a, at(5), &vec![].into());
        assert_eq!(
            pending_outages(&log),
            vec![
                ("+36701234567".to_string(), vec![1, 2]),
                ("+36701234568".to_string(), vec![1, 2]),
                ("+36701234567".to_string(), vec![3]),
            ]
        );
        log.forget_seen();
        log.record(&a, at(6), &two);
        assert_eq!(log.pending(), 4, "noted again once forgotten");
    }

    #[test]
    fn forgetting_a_number_drops_its_calls_not_written() {
        let log = CallLog::default();
        let a = phone("+36701234567");
        let b = phone("+48501234567");
        let one: Arc<[i64]> = vec![1].into();
        log.record(&a, at(1), &one);
        log.record(&b, at(1), &one);
        log.forget_number(a.as_str());
        assert_eq!(
            pending_outages(&log),
            vec![("+48501234567".to_string(), vec![1])]
        );
        log.record(&a, at(2), &one);
        assert_eq!(log.pending(), 2, "a later call is a new first call");
    }

    #[test]
    fn numbers_key_by_their_digits() {
        assert_eq!(number_key(&phone("+36 1 234 5678")), 3612345678);
        assert_eq!(number_key(&phone("06 30 123 4567")), 36301234567);
    }

    #[test]
    fn no_callers_have_no_share_and_no_median() {
        let s = CallStats::of(&[]);
        assert_eq!(s.callers, 0);
        assert_eq!(s.told_first, 0);
        assert_eq!(s.share_told, None);
        assert_eq!(s.median_lead_seconds, None);
    }

    #[test]
    fn callers_never_told_count_but_have_no_lead_time() {
        let s = CallStats::of(&[caller(10, None), caller(12, None)]);
        assert_eq!((s.callers, s.told_first), (2, 0));
        assert_eq!(s.share_told, Some(0.0));
        assert_eq!(s.median_lead_seconds, None);
    }

    #[test]
    fn the_median_lead_is_over_those_told_first() {
        // Told 5, 10 and 30 minutes before calling; one caller was not told.
        let s = CallStats::of(&[
            caller(15, Some(10)),
            caller(20, Some(10)),
            caller(40, Some(10)),
            caller(41, None),
        ]);
        assert_eq!((s.callers, s.told_first), (4, 3));
        assert_eq!(s.share_told, Some(0.75));
        assert_eq!(s.median_lead_seconds, Some(600));
    }

    #[test]
    fn an_even_count_takes_the_middle_two() {
        let s = CallStats::of(&[caller(11, Some(10)), caller(14, Some(10))]);
        assert_eq!(s.median_lead_seconds, Some(150));
        assert_eq!(median(&[1, 2]), Some(1));
        assert_eq!(median(&[-3, 0]), Some(-2));
    }
}

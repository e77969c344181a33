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

/// Rows per statement when writing.
const BATCH: usize = 5_000;

struct Pending {
    caller: String,
    number: String,
    at: DateTime<Utc>,
    outages: Arc<[i64]>,
}

/// Calls this node answered and has not written yet.
#[derive(Default)]
pub struct CallLog {
    pending: Mutex<Vec<Pending>>,
    /// One flush at a time, so calls are written in the order noted.
    writing: tokio::sync::Mutex<()>,
}

impl CallLog {
    /// Notes a call from `number` that heard about `outages` (none: nothing is
    /// noted, as there is no outage to count it for).
    pub fn record(&self, key: &ServerKey, number: &Phone, at: DateTime<Utc>, outages: &Arc<[i64]>) {
        let heard = if outages.is_empty() {
            "nothing"
        } else {
            "outage"
        };
        metrics::counter!("herald_ivr_calls_total", "heard" => heard).increment(1);
        if outages.is_empty() {
            return;
        }
        let mut pending = self.pending.lock().expect("call log");
        if pending.len() >= MAX_PENDING {
            drop(pending);
            metrics::counter!("herald_ivr_calls_dropped_total").increment(1);
            return;
        }
        pending.push(Pending {
            caller: caller_hash(key, number.as_str()),
            number: number.as_str().to_string(),
            at,
            outages: Arc::clone(outages),
        });
    }

    /// Writes every call noted so far; how many calls. On a database error the
    /// calls not written are kept for the next flush.
    pub async fn flush(&self, store: &Store) -> Result<usize> {
        let _one = self.writing.lock().await;
        let calls = std::mem::take(&mut *self.pending.lock().expect("call log"));
        let mut written = 0;
        let mut failed = None;
        for chunk in calls.chunks(BATCH) {
            let rows: Vec<NewCall<'_>> = chunk
                .iter()
                .flat_map(|c| {
                    c.outages.iter().map(|&outage_id| NewCall {
                        outage_id,
                        caller: &c.caller,
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
            let mut pending = self.pending.lock().expect("call log");
            let room = MAX_PENDING.saturating_sub(pending.len());
            let mut back: Vec<Pending> = calls.into_iter().skip(written).take(room).collect();
            back.append(&mut pending);
            *pending = back;
            return Err(e);
        }
        Ok(written)
    }

    /// Calls noted and not yet written.
    pub fn pending(&self) -> usize {
        self.pending.lock().expect("call log").len()
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
pub async fn outage_stats(log: &CallLog, store: &Store, outage_id: i64) -> Result<CallStats> {
    log.flush(store).await?;
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

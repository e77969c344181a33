//! Provider rate limits that hold for the sum of all worker processes.
//!
//! A provider's limit (say 100 SMS/s on a short code) is a property of the
//! account, not of one process, so the bucket lives in the database
//! (`rate_limits`, see `store`) and every worker takes tokens from it. To keep
//! that cheap, a worker takes a handful at a time (a tenth of a second's worth)
//! and hands them out locally; tokens it does not use within a second are
//! dropped, so an idle worker cannot save up a burst.
//!
//! Rate limits are about real time, so this reads the wall clock, not the
//! injectable business clock the rest of the worker uses.

use std::time::{Duration, Instant};

use crate::domain::bucket::TokenRequest;
use crate::store::Store;

/// Unused local tokens expire after this long.
const LOCAL_TTL: Duration = Duration::from_secs(1);

pub struct SharedLimiter {
    store: Store,
    bucket: &'static str,
    rate_per_sec: u32,
    burst: u32,
    /// Tokens granted to this process and not yet used, and when.
    local: tokio::sync::Mutex<(u32, Instant)>,
}

impl SharedLimiter {
    /// `None` when `rate_per_sec` is 0 (no limit).
    pub fn new(store: Store, bucket: &'static str, rate_per_sec: u32) -> Option<SharedLimiter> {
        (rate_per_sec > 0).then(|| SharedLimiter {
            store,
            bucket,
            rate_per_sec,
            // A tenth of a second's worth keeps the rate even within each second.
            burst: (rate_per_sec / 10).max(1),
            local: tokio::sync::Mutex::new((0, Instant::now())),
        })
    }

    /// Waits until one message may be sent. Concurrent callers in this process
    /// queue here; processes compete through the database.
    pub async fn until_ready(&self) {
        let mut local = self.local.lock().await;
        loop {
            if local.0 > 0 && local.1.elapsed() < LOCAL_TTL {
                local.0 -= 1;
                return;
            }
            let request = TokenRequest {
                bucket: self.bucket,
                want: self.burst,
                rate_per_sec: self.rate_per_sec,
                burst: self.burst,
                now_ms: chrono::Utc::now().timestamp_millis(),
            };
            let wait = match self.store.take_tokens(&request).await {
                Ok(grant) if grant.granted > 0 => {
                    *local = (grant.granted, Instant::now());
                    continue;
                }
                // Until the next whole token has accrued.
                Ok(grant) => Duration::from_secs_f64(
                    ((1.0 - grant.tokens) / self.rate_per_sec as f64).max(0.002),
                ),
                Err(e) => {
                    // Without the shared bucket, sending could exceed the
                    // provider's limit for all workers together; wait instead.
                    tracing::warn!(error = %e, bucket = self.bucket, "rate limit unavailable; waiting");
                    Duration::from_secs(1)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

//! When to try again.
//!
//! Exponential backoff with "equal jitter" (half the delay fixed, half random), so
//! a burst of failures does not come back as a burst of retries; a provider's
//! `Retry-After` wins when it asks for longer. After `max_attempts` the delivery is
//! `dead`; a retry that would land after the message's expiry is pointless, so the
//! delivery is `expired` instead.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::config::DeliveryConfig;

use crate::store::{Completion, Failure};

/// The delay before attempt `attempt + 1`, after `attempt` failures (1-based).
pub fn backoff(attempt: u32, config: &DeliveryConfig, rng: &mut impl Rng) -> Duration {
    let exp = config
        .retry_base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
        .min(config.retry_max_ms);
    let half = exp / 2;
    let jitter = if half == 0 {
        0
    } else {
        rng.random_range(0..=half)
    };
    Duration::from_millis(exp - half + jitter)
}

/// The completion for a transient failure.
pub fn after_transient_failure(
    id: i64,
    attempts: i64,
    expires_at: DateTime<Utc>,
    error: String,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    config: &DeliveryConfig,
) -> Completion {
    if attempts >= config.max_attempts as i64 {
        return Completion::Failed {
            id,
            failure: Failure::Dead,
            reason: format!("gave up after {attempts} attempts; last error: {error}"),
        };
    }
    let mut delay = backoff(attempts as u32, config, &mut rand::rng());
    if let Some(asked) = retry_after {
        delay = delay.max(asked);
    }
    let at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
    if at > expires_at {
        return Completion::Failed {
            id,
            failure: Failure::Expired,
            reason: format!("next attempt would be after the message expires; last error: {error}"),
        };
    }
    Completion::Retry { id, at, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DeliveryConfig {
        DeliveryConfig {
            retry_base_ms: 1_000,
            retry_max_ms: 60_000,
            max_attempts: 5,
            ..DeliveryConfig::default()
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let c = config();
        let mut rng = rand::rng();
        for attempt in 1..=10u32 {
            let exp = (1_000u64 << (attempt - 1)).min(60_000);
            for _ in 0..50 {
                let d = backoff(attempt, &c, &mut rng).as_millis() as u64;
                assert!(
                    d >= exp / 2 && d <= exp,
                    "attempt {attempt}: {d} not in [{}, {exp}]",
                    exp / 2
                );
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_and_attempts_run_out() {
        let c = config();
        let now = Utc::now();
        let far = now + chrono::Duration::hours(1);
        match after_transient_failure(
            1,
            1,
            far,
            "x".into(),
            Some(Duration::from_secs(120)),
            now,
            &c,
        ) {
            Completion::Retry { at, .. } => assert!(at >= now + chrono::Duration::seconds(120)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            after_transient_failure(1, 5, far, "x".into(), None, now, &c),
            Completion::Failed {
                failure: Failure::Dead,
                ..
            }
        ));
        assert!(matches!(
            after_transient_failure(
                1,
                1,
                now,
                "x".into(),
                Some(Duration::from_secs(60)),
                now,
                &c
            ),
            Completion::Failed {
                failure: Failure::Expired,
                ..
            }
        ));
    }
}

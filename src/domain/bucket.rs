//! The token-bucket arithmetic behind Herald's shared rate limits: a bucket
//! refills at a steady rate up to its burst, and a take is granted whole tokens
//! only. The store keeps each bucket's row (and locks it around a take, so every
//! worker process shares one limit); this is what happens inside the lock.

/// A request for tokens from a shared rate-limit bucket.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    pub bucket: &'a str,
    pub want: u32,
    pub rate_per_sec: u32,
    /// The most tokens the bucket holds (and so the longest burst).
    pub burst: u32,
    /// Wall-clock milliseconds.
    pub now_ms: i64,
}

/// What a bucket holds after a take, and how many tokens were granted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grant {
    pub granted: u32,
    pub tokens: f64,
    pub refilled_at: i64,
}

impl TokenRequest<'_> {
    /// Refills a bucket that held `tokens` at `refilled_at` up to now, then takes
    /// up to `want` whole tokens. The store runs it under the bucket's row lock.
    pub fn apply(&self, tokens: f64, refilled_at: i64) -> Grant {
        let elapsed = (self.now_ms - refilled_at).max(0) as f64 / 1000.0;
        let available = (tokens + elapsed * self.rate_per_sec as f64).min(self.burst as f64);
        let granted = (self.want as f64).min(available.floor()).max(0.0) as u32;
        Grant {
            granted,
            tokens: available - granted as f64,
            refilled_at: refilled_at.max(self.now_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TokenRequest;

    #[test]
    fn token_bucket_refills_at_the_rate_and_caps_at_the_burst() {
        let r = |want, now_ms| TokenRequest {
            bucket: "sms",
            want,
            rate_per_sec: 100,
            burst: 10,
            now_ms,
        };
        // Full after a long pause: the burst, not more.
        let g = r(50, 60_000).apply(0.0, 0);
        assert_eq!((g.granted, g.tokens, g.refilled_at), (10, 0.0, 60_000));
        // 25 ms at 100/s is 2.5 tokens: 2 granted, half a token kept.
        let g = r(5, 60_025).apply(0.0, 60_000);
        assert_eq!((g.granted, g.tokens), (2, 0.5));
        // Nothing whole yet: nothing granted, nothing lost.
        let g = r(5, 60_030).apply(0.5, 60_025);
        assert_eq!((g.granted, g.tokens), (1, 0.0));
        let g = r(5, 60_031).apply(0.0, 60_030);
        assert_eq!(g.granted, 0);
        assert!((g.tokens - 0.1).abs() < 1e-9);
        // A clock behind the bucket's (another node) never refills backwards.
        let g = r(5, 59_000).apply(3.0, 60_000);
        assert_eq!((g.granted, g.tokens, g.refilled_at), (3, 0.0, 60_000));
    }
}

//! Operator accounts: the username rule and the lock-out that slows down
//! password guessing, per account and per client address.

use chrono::{DateTime, Duration, Utc};

/// An operator's username: 1 to 64 characters of letters, digits, `.`, `_`,
/// `-` and `@`, kept as typed and compared as lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, String> {
        let name = raw.trim();
        let ok = (1..=64).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !ok {
            return Err("a username is 1 to 64 letters, digits, '.', '_', '-' or '@'".to_string());
        }
        Ok(Username(name.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How failed sign-ins lock a key (an account or a client address) out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Failures allowed before the first lock.
    pub free: i64,
    /// The first lock; each further failure doubles it.
    pub first: Duration,
    pub longest: Duration,
    /// Failures older than this are forgotten.
    pub forget_after: Duration,
}

/// Five tries per account, then 1, 2, 4 … minutes, at most an hour.
pub const ACCOUNT: Lockout = Lockout {
    free: 5,
    first: Duration::minutes(1),
    longest: Duration::hours(1),
    forget_after: Duration::hours(24),
};

/// Twenty per client address (an office behind one address has several
/// dispatchers), then the same back-off.
pub const CLIENT: Lockout = Lockout {
    free: 20,
    first: Duration::minutes(1),
    longest: Duration::hours(1),
    forget_after: Duration::hours(1),
};

/// A key's failed sign-ins, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    pub count: i64,
    pub last_at: Option<DateTime<Utc>>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Lockout {
    /// The key's record after one more failure at `now`.
    pub fn fail(&self, before: Failures, now: DateTime<Utc>) -> Failures {
        let stale = before.last_at.is_none_or(|t| now - t > self.forget_after);
        let count = if stale { 1 } else { before.count + 1 };
        let locked_until = (count > self.free).then(|| {
            let doublings = (count - self.free - 1).min(20) as u32;
            let lock = (self.first * 2i32.pow(doublings.min(30))).min(self.longest);
            now + lock
        });
        Failures {
            count,
            last_at: Some(now),
            locked_until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn usernames_are_compared_lowercase_and_limited() {
        assert_eq!(Username::parse(" Anna.K ").unwrap().as_str(), "anna.k");
        assert_eq!(Username::parse("józsef").unwrap().as_str(), "józsef");
        for bad in ["", "a b", "x'--", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_lock_starts_after_the_free_tries_doubles_and_is_capped() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        let mut f = Failures::default();
        let mut locks = Vec::new();
        for _ in 0..13 {
            f = ACCOUNT.fail(f, t0);
            locks.push(f.locked_until.map(|u| (u - t0).num_minutes()));
        }
        assert_eq!(
            locks,
            [
                None,
                None,
                None,
                None,
                None,
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(60),
                Some(60)
            ]
        );
        // A day later the count starts again.
        let later = ACCOUNT.fail(f, t0 + Duration::hours(25));
        assert_eq!((later.count, later.locked_until), (1, None));
    }
}

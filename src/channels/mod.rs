//! The outside world's doors: e-mail (SMTP or a file outbox) and SMS (Kannel,
//! a Twilio-style REST API, or a file outbox), plus rendering of what goes through.
//!
//! Every provider answers with a [`SendOutcome`] that separates permanent refusals
//! (an invalid number, a 5xx SMTP reply: retrying cannot help) from transient ones
//! (the server is down, throttling with `Retry-After`).

pub mod email;
pub mod feedback;
pub mod preview;
pub mod render;
pub mod sms;
pub mod sms_text;

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent {
        provider_id: Option<String>,
    },
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    Permanent {
        error: String,
    },
}

/// Reads a `Retry-After` header: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}

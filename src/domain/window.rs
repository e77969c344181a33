//! Contact windows: the hours of the day a contact accepts normal-urgency
//! messages, such as SMS from 07:00 to 21:00.
//!
//! A window is local time in a time zone: the contact's own if it has one, else
//! the utility's. It may wrap past midnight (`22:00-06:00` for someone who works
//! nights), and `00:00-24:00` (written `any` too) is the whole day. Outside it a
//! message waits for the next opening ([`Window::next_opening`]); urgent outages
//! ignore windows altogether (that rule is the dispatcher's, in
//! `dispatch::decide`).

use std::fmt;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

const DAY: u16 = 24 * 60;

/// From `start` to `end`, minutes after local midnight; `end` may be 1440
/// (midnight at the end of the day), and `end < start` wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start: u16,
    end: u16,
}

impl Window {
    /// The whole day.
    pub const ANY: Window = Window { start: 0, end: DAY };

    /// Reads `HH:MM-HH:MM` (spaces allowed around the dash; `24:00` only as the
    /// end), or `any`. An empty window (`08:00-08:00`) is refused: a contact who
    /// wants no messages unsubscribes.
    pub fn parse(s: &str) -> Result<Window, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("any") {
            return Ok(Window::ANY);
        }
        let expected = || format!("'{s}' is not a window such as 07:00-21:00 (or 'any')");
        let (start, end) = s.split_once('-').ok_or_else(expected)?;
        let start = minute_of_day(start.trim(), false).ok_or_else(expected)?;
        let end = minute_of_day(end.trim(), true).ok_or_else(expected)?;
        Window::from_minutes(start, end).ok_or_else(|| format!("'{s}' is an empty window"))
    }

    /// As stored: minutes after midnight. None for an empty window or minutes
    /// out of range.
    pub fn from_minutes(start: u16, end: u16) -> Option<Window> {
        (start < DAY && end <= DAY && start != end && !(start == 0 && end == 0))
            .then_some(Window { start, end })
    }

    pub fn start_minute(self) -> u16 {
        self.start
    }

    pub fn end_minute(self) -> u16 {
        self.end
    }

    pub fn is_any(self) -> bool {
        self.start == 0 && self.end == DAY
    }

    fn contains_minute(self, m: u16) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }

    /// None when `now` is inside the window; otherwise the instant it next
    /// opens. A window whose opening falls in a daylight-saving gap (02:30 on
    /// the spring night) opens an hour later on the clock (03:30).
    pub fn next_opening(self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        let minute = (local.hour() * 60 + local.minute()) as u16;
        if self.is_any() || self.contains_minute(minute) {
            return None;
        }
        let start = NaiveTime::from_num_seconds_from_midnight_opt(u32::from(self.start) * 60, 0)
            .expect("start is below 24:00");
        // Closed now, so the next opening is today's if it is still ahead, else
        // tomorrow's.
        let day = if minute < self.start {
            local.date_naive()
        } else {
            local.date_naive() + Duration::days(1)
        };
        let opening = day.and_time(start);
        let at = tz
            .from_local_datetime(&opening)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(opening + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now + Duration::hours(1));
        Some(at.max(now))
    }
}

/// `HH:MM` as minutes after midnight; `24:00` only when `end`.
fn minute_of_day(s: &str, end: bool) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    let total = h.checked_mul(60)?.checked_add(m)?;
    (m < 60 && (total < DAY || (end && total == DAY))).then_some(total)
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

impl serde::Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Budapest;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn parses_and_prints() {
        let w = Window::parse(" 07:00 - 21:00 ").unwrap();
        assert_eq!((w.start_minute(), w.end_minute()), (420, 1260));
        assert_eq!(w.to_string(), "07:00-21:00");
        assert_eq!(
            Window::parse("7:30-24:00").unwrap().to_string(),
            "07:30-24:00"
        );
        assert_eq!(Window::parse("ANY").unwrap(), Window::ANY);
        assert_eq!(Window::parse("00:00-24:00").unwrap(), Window::ANY);
        assert_eq!(
            Window::parse("22:00-06:00").unwrap().to_string(),
            "22:00-06:00"
        );
        for bad in [
            "",
            "7-21",
            "07:00",
            "24:00-06:00",
            "07:60-21:00",
            "08:00-08:00",
            "07:00-25:00",
            "a:bc-21:00",
            "007:00-21:00",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
        assert!(Window::parse("08:00-08:00").unwrap_err().contains("empty"));
    }

    #[test]
    fn opens_today_or_tomorrow_in_local_time() {
        let w = Window::parse("07:00-21:00").unwrap();
        // 12:00 in Budapest (winter, UTC+1): open.
        assert_eq!(w.next_opening(at("2026-12-02T11:00:00Z"), Budapest), None);
        // 21:00 local is closed (the end is exclusive); opens 07:00 local tomorrow.
        assert_eq!(
            w.next_opening(at("2026-12-02T20:00:00Z"), Budapest),
            Some(at("2026-12-03T06:00:00Z"))
        );
        // 03:00 local: opens the same morning.
        assert_eq!(
            w.next_opening(at("2026-12-02T02:00:00Z"), Budapest),
            Some(at("2026-12-02T06:00:00Z"))
        );
        // Summer time (UTC+2).
        assert_eq!(
            w.next_opening(at("2026-07-01T01:00:00Z"), Budapest),
            Some(at("2026-07-01T05:00:00Z"))
        );
        assert_eq!(
            Window::ANY.next_opening(at("2026-12-02T02:00:00Z"), Budapest),
            None
        );
    }

    #[test]
    fn a_night_window_wraps_past_midnight() {
        let w = Window::parse("22:00-06:00").unwrap();
        assert_eq!(w.next_opening(at("2026-12-02T23:30:00Z"), Budapest), None);
        assert_eq!(w.next_opening(at("2026-12-02T04:00:00Z"), Budapest), None);
        // 12:00 local: opens at 22:00 local.
        assert_eq!(
            w.next_opening(at("2026-12-02T11:00:00Z"), Budapest),
            Some(at("2026-12-02T21:00:00Z"))
        );
    }

    #[test]
    fn an_opening_in_the_spring_gap_is_an_hour_later() {
        // 29 March 2026: Budapest goes from 02:00 to 03:00.
        let w = Window::parse("02:30-05:00").unwrap();
        let opening = w
            .next_opening(at("2026-03-28T23:00:00Z"), Budapest)
            .unwrap();
        // 03:30 CEST = 01:30 UTC.
        assert_eq!(opening, at("2026-03-29T01:30:00Z"));
    }
}

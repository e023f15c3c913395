//! Time in UTC at second precision, over `chrono` (already in every function's tree through the
//! Lambda event types): instants are seconds since the Unix epoch, as the ledger and the SageMaker
//! events carry them; [`Date`] is a calendar day for the cost report's days and months.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Utc};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

/// Seconds since the Unix epoch, now; a clock set before 1970 reads as 0 rather than failing an
/// event.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A calendar day in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(NaiveDate);

impl Date {
    /// The day that contains the instant `t` (clamped to chrono's range, some 262,000 years
    /// either side of 1970, far beyond any time the ledger holds).
    pub fn of(t: i64) -> Date {
        let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or(if t < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        });
        Date(at.date_naive())
    }

    /// Midnight at the start of the day.
    pub fn start(self) -> i64 {
        self.0
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp()
    }

    /// The next day.
    pub fn next(self) -> Date {
        Date(self.0.succ_opt().unwrap_or(self.0))
    }

    /// Midnight at the start of the day's month.
    pub fn month_start(self) -> i64 {
        Date(self.0.with_day(1).unwrap_or(self.0)).start()
    }

    /// Days in the day's month (29 in a leap February).
    pub fn days_in_month(self) -> u32 {
        u32::from(self.0.num_days_in_month())
    }

    /// `YYYY-MM`.
    pub fn month_label(self) -> String {
        self.0.format("%Y-%m").to_string()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// Parses an RFC 3339 time (`2026-11-27T08:30:00Z`, `…00.123+01:00`); fractions of a second are
/// dropped. `None` for anything else, including a time without its offset.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_rfc3339(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("@{t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        Date::of(parse_rfc3339(&format!("{text}T12:00:00Z")).expect(text))
    }

    #[test]
    fn days_follow_each_other_across_leap_days_and_centuries() {
        assert_eq!(day("2000-02-28").next().next(), day("2000-03-01"));
        assert_eq!(day("2100-02-28").next(), day("2100-03-01"));
        assert_eq!(day("2026-12-31").next(), day("2027-01-01"));
        assert_eq!(Date::of(0).start(), 0);
        assert_eq!(Date::of(-1).to_string(), "1969-12-31");
        assert_eq!(Date::of(DAY - 1), Date::of(0));
        assert_eq!(Date::of(DAY), Date::of(0).next());
    }

    #[test]
    fn months_have_their_lengths() {
        for (date, days) in [
            ("2028-02-10", 29),
            ("2027-02-10", 28),
            ("2000-02-10", 29),
            ("1900-02-10", 28),
            ("2026-11-10", 30),
            ("2026-12-10", 31),
        ] {
            assert_eq!(day(date).days_in_month(), days, "{date}");
        }
    }

    #[test]
    fn rfc3339_parses_zones_and_fractions_and_refuses_the_rest() {
        let t = parse_rfc3339("2028-02-29T12:00:00Z").expect("leap day");
        assert_eq!(format_rfc3339(t), "2028-02-29T12:00:00Z");
        assert_eq!(parse_rfc3339("2028-02-29T13:30:00.250+01:30"), Some(t));
        assert_eq!(parse_rfc3339("2028-02-29T10:00:00-02:00"), Some(t));
        assert_eq!(parse_rfc3339(" 2028-02-29t12:00:00z "), Some(t));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "2027-02-29T12:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-27 08:30",
            "2026-11-27T08:30:00",
            "2026-11-27T08:30:00.Z",
            "yesterday",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_date_knows_its_month() {
        let t = parse_rfc3339("2028-02-29T23:59:59Z").expect("time");
        let date = Date::of(t);
        assert_eq!(date.to_string(), "2028-02-29");
        assert_eq!(date.days_in_month(), 29);
        assert_eq!(format_rfc3339(date.month_start()), "2028-02-01T00:00:00Z");
        assert_eq!(format_rfc3339(date.start()), "2028-02-29T00:00:00Z");
        assert_eq!(date.next().to_string(), "2028-03-01");
        assert_eq!(date.month_label(), "2028-02");
    }

    #[test]
    fn the_clock_reads_after_2026() {
        assert!(now() > 1_767_225_600, "{}", now());
    }

    #[test]
    fn instants_round_trip_through_text() {
        for t in [
            0,
            1,
            1_764_000_000,
            1_764_000_000 + 59,
            4_102_444_800,
            -86_401,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t), "{t}");
        }
    }
}

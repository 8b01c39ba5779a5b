//! From the sequencer's timestamp to the theatres' "today".
//!
//! Replicas never read a clock: every ordered request carries the sequencer's timestamp
//! (Unix milliseconds), and "today" is that instant's civil date in the theatres' time
//! zone. The zone comes from jiff's **bundled** tz database (feature
//! `tzdb-bundle-always`, no system tzdb), so replicas on hosts with different system
//! databases still agree on every date.
//!
//! This module deliberately has no notion of a current time and no configuration source;
//! the caller passes the zone.

use crate::ids::Date;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::sync::LazyLock;

/// The IANA name of the theatres' default zone (Montreal keeps Toronto's rules).
pub const MONTREAL_ZONE_NAME: &str = "America/Toronto";

static MONTREAL: LazyLock<TimeZone> = LazyLock::new(|| {
    TimeZone::get(MONTREAL_ZONE_NAME).expect("jiff's bundled tz database must contain America/Toronto")
});

/// America/Toronto from jiff's bundled database (cheap: a shared handle).
pub fn montreal() -> TimeZone {
    MONTREAL.clone()
}

/// The civil date of `timestamp_ms` (Unix milliseconds) in `zone`.
///
/// Timestamps beyond jiff's supported range (about ±9999 years) are clamped to it, so
/// no input panics. The result can be any date; only movie IDs are limited to 2000–2099.
pub fn today(timestamp_ms: i64, zone: &TimeZone) -> Date {
    let timestamp = Timestamp::from_millisecond(timestamp_ms).unwrap_or(if timestamp_ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    Date(zone.to_datetime(timestamp).date())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i16, month: i8, day: i8) -> Date {
        Date(jiff::civil::date(year, month, day))
    }

    fn utc_ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn utc_tomorrow_is_still_today_in_montreal() {
        // 02:30 UTC on 28 Nov 2026 is 21:30 on 27 Nov in Montreal (EST, UTC-5).
        let ms = utc_ms("2026-11-28T02:30:00Z");
        assert_eq!(today(ms, &TimeZone::UTC), date(2026, 11, 28));
        assert_eq!(today(ms, &montreal()), date(2026, 11, 27));
        // Summer time is UTC-4: 03:59:59 UTC is still the previous day, 04:00 is not.
        assert_eq!(today(utc_ms("2026-07-02T03:59:59Z"), &montreal()), date(2026, 7, 1));
        assert_eq!(today(utc_ms("2026-07-02T04:00:00Z"), &montreal()), date(2026, 7, 2));
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        let zone = montreal();
        assert!(today(i64::MAX, &zone) > today(0, &zone));
        assert!(today(i64::MIN, &zone) < today(0, &zone));
        assert_eq!(today(0, &zone), date(1969, 12, 31));
    }
}

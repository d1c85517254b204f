//! `--at DATE`: a day (its end), a civil time, or an RFC 3339 instant, read in the
//! configured timezone.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The instant `--at TEXT` means: `2026-11-20` the last moment of that day (a restore
/// "as of the 20th" takes that day's backups), `2026-11-20T10:00[:SS]` that civil time,
/// or an RFC 3339 instant with its offset.
pub fn parse(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    let has_time = text.contains(['T', 't', ' ']);
    let civil = if let (false, Ok(day)) = (has_time, text.parse::<Date>()) {
        day.tomorrow()
            .map(|d| d.at(0, 0, 0, 0))
            .map_err(|e| e.to_string())
            .and_then(|next| {
                let end = tz.to_timestamp(next).map_err(|e| e.to_string())?;
                end.checked_sub(jiff::SignedDuration::from_nanos(1))
                    .map_err(|e| e.to_string())
            })
    } else if let Ok(time) = text.parse::<DateTime>() {
        tz.to_timestamp(time).map_err(|e| e.to_string())
    } else {
        Err(String::new())
    };
    civil.map_err(|why| {
        let why = if why.is_empty() { String::new() } else { format!(": {why}") };
        format!("--at `{text}` is not a date: give 2026-11-20, 2026-11-20T10:00 or an RFC 3339 time{why}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn a_day_means_its_last_moment_in_the_timezone() {
        let at = parse("2026-11-20", &berlin()).unwrap();
        assert_eq!(at.to_string(), "2026-11-20T22:59:59.999999999Z");
        let at = parse("2026-11-20", &TimeZone::UTC).unwrap();
        assert_eq!(at.to_string(), "2026-11-20T23:59:59.999999999Z");
    }

    #[test]
    fn a_civil_time_is_read_in_the_timezone_and_an_instant_keeps_its_offset() {
        let at = parse("2026-11-20T10:00", &berlin()).unwrap();
        assert_eq!(at.to_string(), "2026-11-20T09:00:00Z");
        let at = parse("2026-11-20T10:00:00+02:00", &berlin()).unwrap();
        assert_eq!(at.to_string(), "2026-11-20T08:00:00Z");
    }

    #[test]
    fn anything_else_is_a_usage_error_showing_the_forms() {
        let e = parse("yesterday", &TimeZone::UTC).unwrap_err();
        assert!(e.contains("2026-11-20T10:00"), "{e}");
    }
}

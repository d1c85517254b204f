use super::*;
use jiff::civil::date;

fn utc(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("zone")
}

/// The next `n` times after `from`, as RFC 3339 in UTC.
fn next_n(expr: &str, from: &str, tz: &TimeZone, n: usize) -> Vec<String> {
    let schedule = Schedule::cron(expr).expect("parses");
    let mut at = utc(from);
    let mut out = Vec::new();
    for _ in 0..n {
        at = schedule.next_after(at, tz).expect("matches");
        out.push(at.to_string());
    }
    out
}

#[test]
fn five_fields_daily_at_one() {
    assert_eq!(
        next_n("0 1 * * *", "2026-03-01T00:59:59Z", &TimeZone::UTC, 3),
        [
            "2026-03-01T01:00:00Z",
            "2026-03-02T01:00:00Z",
            "2026-03-03T01:00:00Z"
        ]
    );
}

#[test]
fn strictly_after_the_given_time() {
    assert_eq!(
        next_n("0 1 * * *", "2026-03-01T01:00:00Z", &TimeZone::UTC, 1),
        ["2026-03-02T01:00:00Z"]
    );
}

#[test]
fn six_fields_have_seconds_first() {
    assert_eq!(
        next_n("*/5 * * * * *", "2026-03-01T00:00:03Z", &TimeZone::UTC, 3),
        [
            "2026-03-01T00:00:05Z",
            "2026-03-01T00:00:10Z",
            "2026-03-01T00:00:15Z"
        ]
    );
}

#[test]
fn lists_ranges_steps_and_names() {
    assert_eq!(
        next_n(
            "30 9-17/4 * * mon-fri",
            "2026-12-04T14:00:00Z",
            &TimeZone::UTC,
            4
        ),
        // Friday 4 Dec 2026: 17:30; then Monday 7 Dec: 09:30, 13:30, 17:30
        [
            "2026-12-04T17:30:00Z",
            "2026-12-07T09:30:00Z",
            "2026-12-07T13:30:00Z",
            "2026-12-07T17:30:00Z"
        ]
    );
    assert_eq!(
        next_n("0 0 1 jan,JUL *", "2026-02-01T00:00:00Z", &TimeZone::UTC, 2),
        ["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"]
    );
}

#[test]
fn sunday_is_zero_and_seven() {
    let zero = next_n("0 3 * * 0", "2026-12-01T00:00:00Z", &TimeZone::UTC, 2);
    let seven = next_n("0 3 * * 7", "2026-12-01T00:00:00Z", &TimeZone::UTC, 2);
    assert_eq!(zero, ["2026-12-06T03:00:00Z", "2026-12-13T03:00:00Z"]);
    assert_eq!(zero, seven);
}

#[test]
fn day_of_month_or_day_of_week_when_both_are_given() {
    // Vixie cron: the 13th of each month and every Friday.
    assert_eq!(
        next_n("0 0 13 * fri", "2026-11-01T00:00:00Z", &TimeZone::UTC, 4),
        [
            "2026-11-06T00:00:00Z",
            "2026-11-13T00:00:00Z",
            "2026-11-20T00:00:00Z",
            "2026-11-27T00:00:00Z"
        ]
    );
}

#[test]
fn leap_day_waits_for_a_leap_year() {
    assert_eq!(
        next_n("0 12 29 2 *", "2025-01-01T00:00:00Z", &TimeZone::UTC, 2),
        ["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]
    );
}

#[test]
fn never_matching_expression_has_no_next_time() {
    let never = Schedule::cron("0 0 30 2 *").expect("parses");
    assert_eq!(
        never.next_after(utc("2026-01-01T00:00:00Z"), &TimeZone::UTC),
        None
    );
}

#[test]
fn evaluated_in_the_configured_zone() {
    // 01:00 in Berlin is 00:00 UTC in winter and 23:00 UTC the day before in summer.
    let berlin = zone("Europe/Berlin");
    assert_eq!(
        next_n("0 1 * * *", "2026-01-10T12:00:00Z", &berlin, 1),
        ["2026-01-11T00:00:00Z"]
    );
    assert_eq!(
        next_n("0 1 * * *", "2026-07-10T12:00:00Z", &berlin, 1),
        ["2026-07-10T23:00:00Z"]
    );
}

#[test]
fn a_time_skipped_by_dst_runs_just_after_the_change() {
    // Berlin, 29 March 2026: 02:00 → 03:00; 02:30 does not exist that night.
    let berlin = zone("Europe/Berlin");
    assert_eq!(
        next_n("30 2 * * *", "2026-03-28T12:00:00Z", &berlin, 2),
        // 03:30 CEST = 01:30 UTC; the next night 02:30 CEST = 00:30 UTC
        ["2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"]
    );
}

#[test]
fn a_time_repeated_by_dst_runs_once() {
    // Berlin, 25 October 2026: 03:00 → 02:00; 02:30 happens twice.
    let berlin = zone("Europe/Berlin");
    assert_eq!(
        next_n("30 2 * * *", "2026-10-24T12:00:00Z", &berlin, 2),
        // the first 02:30 (CEST, 00:30 UTC), then the next night's (CET, 01:30 UTC)
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
}

#[test]
fn hourly_job_runs_each_civil_time_once_through_the_repeated_hour() {
    // Each civil time runs once: the second pass of 02:00 (CET) is not run again,
    // so an hourly job waits two real hours once a year, never runs twice.
    let berlin = zone("Europe/Berlin");
    assert_eq!(
        next_n("0 * * * *", "2026-10-24T23:30:00Z", &berlin, 3),
        // 02:00 CEST, 03:00 CET, 04:00 CET
        [
            "2026-10-25T00:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T03:00:00Z"
        ]
    );
}

#[test]
fn shortcuts() {
    assert_eq!(
        next_n("@daily", "2026-03-01T10:00:00Z", &TimeZone::UTC, 1),
        ["2026-03-02T00:00:00Z"]
    );
    assert_eq!(
        next_n("@weekly", "2026-12-01T10:00:00Z", &TimeZone::UTC, 1),
        ["2026-12-06T00:00:00Z"]
    );
}

#[test]
fn errors_name_the_field_and_where_it_starts() {
    let cases = [
        ("0 1 * *", 0, "5 fields"),
        ("61 * * * *", 0, "minute 61 is out of range 0-59"),
        ("0 25 * * *", 2, "hour 25 is out of range 0-23"),
        ("0 0 0 * *", 4, "day of month 0 is out of range 1-31"),
        ("0 0 * 13 *", 6, "month 13"),
        ("0 0 * * 8", 8, "day of week 8"),
        ("0 0 * foo *", 6, "`foo` is not a valid month"),
        ("*/0 * * * *", 0, "step"),
        ("0 5-2 * * *", 2, "runs backwards"),
        ("@often", 0, "unknown shortcut"),
    ];
    for (expr, offset, message) in cases {
        let err = Schedule::cron(expr).expect_err(expr);
        assert_eq!(err.offset, offset, "{expr}: {err}");
        assert!(err.message.contains(message), "{expr}: {err}");
    }
}

#[test]
fn period_of_a_daily_cron_is_a_day_and_of_an_interval_the_interval() {
    let daily = Schedule::cron("0 1 * * *").expect("parses");
    assert_eq!(
        daily.period(utc("2026-03-01T12:00:00Z"), &TimeZone::UTC),
        Some(SignedDuration::from_hours(24))
    );
    let every = Schedule::every("6h", 6 * 3600).expect("positive");
    assert_eq!(
        every.period(utc("2026-03-01T12:00:00Z"), &TimeZone::UTC),
        Some(SignedDuration::from_hours(6))
    );
    assert_eq!(
        every.next_after(utc("2026-03-01T12:00:00Z"), &TimeZone::UTC),
        Some(utc("2026-03-01T18:00:00Z"))
    );
    assert!(Schedule::every("0s", 0).is_none());
}

#[test]
fn matches_checks_every_field() {
    let cron = Cron::parse("15 10 * * *").expect("parses");
    assert!(cron.matches(date(2026, 5, 5).at(10, 15, 0, 0)));
    assert!(!cron.matches(date(2026, 5, 5).at(10, 15, 1, 0)));
    assert!(!cron.matches(date(2026, 5, 5).at(11, 15, 0, 0)));
}

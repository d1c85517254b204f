//! Retention at chosen dates: month ends, leap days, Sundays that are month ends,
//! ISO weeks over a new year, and the DST changes of Europe/Berlin in 2026.

use super::tests::{at, backups, custom, daily_times, kept, reason, t, utc, zone};
use super::*;

fn now() -> Timestamp {
    t("2026-12-01T00:00")
}

/// Each id's reason with a rolling policy that keeps everything: the class.
fn rolling_classes(days: &[&str], tz: &TimeZone) -> Vec<(String, String)> {
    let snaps: Vec<Candidate> = days
        .iter()
        .map(|d| Candidate::new(*d, at(tz, &format!("{d}T12:00")), Role::Backup))
        .collect();
    let all = RetentionPolicy::Rolling {
        daily: 1000,
        weekly: 1000,
        monthly: 1000,
    };
    let mut out: Vec<(String, String)> = plan(&snaps, &all.into(), now(), tz)
        .into_iter()
        .map(|d| {
            let class = d.reason.split(' ').next().unwrap_or_default().to_string();
            (d.id, class)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn rolling_classifies_month_ends_leap_days_and_sundays() {
    let days = [
        ("2024-02-28", "daily"),   // Wednesday, February of a leap year
        ("2024-02-29", "monthly"), // the leap day ends February
        ("2024-12-31", "monthly"),
        ("2025-08-31", "monthly"), // a Sunday and a month end: monthly wins
        ("2026-01-30", "daily"),
        ("2026-01-31", "monthly"), // 31-day month
        ("2026-02-27", "daily"),
        ("2026-02-28", "monthly"), // February, not a leap year (a Saturday)
        ("2026-03-01", "weekly"),  // Sunday
        ("2026-04-29", "daily"),
        ("2026-04-30", "monthly"), // 30-day month
        ("2026-05-31", "monthly"), // a Sunday and a month end
    ];
    let want: Vec<(String, String)> = days
        .iter()
        .map(|(d, c)| (d.to_string(), c.to_string()))
        .collect();
    assert_eq!(rolling_classes(&days.map(|(d, _)| d), &utc()), want);
    assert_eq!(rolling::class(jiff::civil::date(2024, 2, 29)), 2);
}

#[test]
fn rolling_keeps_the_newest_of_each_class() {
    // One backup a day from 2026-04-01 to 2026-06-10 (a Wednesday).
    let snaps = backups(&daily_times("2026-04-01T03:00", 71));
    let d = plan(&snaps, &RetentionPolicy::rolling().into(), now(), &utc());
    let id = |day: &str| {
        let when = t(&format!("{day}T03:00"));
        snaps
            .iter()
            .find(|c| c.time == when)
            .map(|c| c.id.clone())
            .unwrap_or_default()
    };
    let kept_days: Vec<&str> = [
        "2026-06-10",
        "2026-06-09",
        "2026-06-08",
        "2026-06-07",
        "2026-06-06",
        "2026-06-05",
        "2026-06-04",
        "2026-05-31",
        "2026-05-24",
        "2026-05-17",
        "2026-05-10",
    ]
    .to_vec();
    let want: Vec<String> = kept_days.iter().map(|d| id(d)).collect();
    assert_eq!(kept(&d), want);
    assert_eq!(reason(&d, &id("2026-06-04")), (true, "daily #6"));
    assert_eq!(reason(&d, &id("2026-06-07")), (true, "weekly #1"));
    // 2026-05-31 is a Sunday and a month end: monthly, not counted as weekly.
    assert_eq!(reason(&d, &id("2026-05-31")), (true, "monthly #1"));
    assert_eq!(reason(&d, &id("2026-05-10")), (true, "weekly #4"));
    assert_eq!(reason(&d, &id("2026-05-03")), (false, "weekly #5, keeps 4"));
    assert_eq!(
        reason(&d, &id("2026-04-30")),
        (false, "monthly #2, keeps 1")
    );
    assert_eq!(reason(&d, &id("2026-06-03")), (false, "daily #7, keeps 6"));
}

#[test]
fn rolling_uses_the_configured_time_zones_date() {
    let berlin = zone("Europe/Berlin");
    let snaps = [
        // Saturday 31 January in UTC, Sunday 1 February in Berlin
        Candidate::new("jan31", t("2026-01-31T23:30"), Role::Backup),
        // Thursday 30 April in UTC, Friday 1 May in Berlin
        Candidate::new("apr30", t("2026-04-30T22:30"), Role::Backup),
        // the night of the DST changes: Saturday in UTC, Sunday 00:30 in Berlin
        Candidate::new("mar29", at(&berlin, "2026-03-29T00:30"), Role::Backup),
        Candidate::new("oct25", at(&berlin, "2026-10-25T00:30"), Role::Backup),
    ];
    let all = Retention::from(RetentionPolicy::Rolling {
        daily: 9,
        weekly: 9,
        monthly: 9,
    });
    let class = |tz: &TimeZone, id: &str| {
        let d = plan(&snaps, &all, now(), tz);
        let (_, why) = reason(&d, id);
        why.split(' ').next().unwrap_or_default().to_string()
    };
    assert_eq!(snaps[2].time, t("2026-03-28T23:30"));
    assert_eq!(snaps[3].time, t("2026-10-24T22:30"));
    for (id, in_utc, in_berlin) in [
        ("jan31", "monthly", "weekly"),
        ("apr30", "monthly", "daily"),
        ("mar29", "daily", "weekly"),
        ("oct25", "daily", "weekly"),
    ] {
        assert_eq!(class(&utc(), id), in_utc, "{id} in UTC");
        assert_eq!(class(&berlin, id), in_berlin, "{id} in Berlin");
    }
}

#[test]
fn custom_buckets_leap_days_and_month_ends() {
    let monthly = custom(|c, _| c[4] = 2);
    let leap = backups(&daily_times("2024-02-20T03:00", 12)); // to 2024-03-02
    let d = plan(&leap, &monthly, now(), &utc());
    assert_eq!(kept(&d), ["b11", "b9"]);
    assert_eq!(d[2].time, t("2024-02-29T03:00"));
    assert_eq!(reason(&d, "b9"), (true, "monthly #2"));
    let plain = backups(&daily_times("2025-02-20T03:00", 12)); // to 2025-03-03
    let d = plan(&plain, &monthly, now(), &utc());
    assert_eq!(kept(&d), ["b11", "b8"]);
    assert_eq!(d[3].time, t("2025-02-28T03:00"));
}

#[test]
fn custom_weeks_are_iso_weeks_and_years_calendar_years() {
    let snaps = backups(&[
        t("2024-12-29T12:00"), // Sunday, 2024-W52
        t("2024-12-30T12:00"), // Monday, 2025-W01, but the year 2024
        t("2025-01-05T12:00"), // Sunday, 2025-W01
        t("2025-01-06T12:00"), // Monday, 2025-W02
    ]);
    let weekly = custom(|c, _| c[3] = 10);
    assert_eq!(
        kept(&plan(&snaps, &weekly, now(), &utc())),
        ["b3", "b2", "b0"]
    );
    let yearly = custom(|c, _| c[5] = 10);
    assert_eq!(kept(&plan(&snaps, &yearly, now(), &utc())), ["b3", "b1"]);
}

#[test]
fn keep_within_over_leap_days_subtracts_like_go() {
    let month = custom(|_, w| *w = Some("1m".parse().expect("duration")));
    // 2024-03-29 minus a month is 2024-02-29 (it exists): strictly after it is kept.
    let snaps = backups(&[
        t("2024-02-29T12:00"),
        t("2024-02-29T12:00:01"),
        t("2024-03-29T12:00"),
    ]);
    assert_eq!(kept(&plan(&snaps, &month, now(), &utc())), ["b2", "b1"]);
    // 2025-03-29 minus a month is "2025-02-29", that is 2025-03-01.
    let snaps = backups(&[
        t("2025-02-28T23:00"),
        t("2025-03-01T12:00"),
        t("2025-03-01T12:00:01"),
        t("2025-03-29T12:00"),
    ]);
    assert_eq!(kept(&plan(&snaps, &month, now(), &utc())), ["b3", "b2"]);
    // A year before the leap day is "2023-02-29", that is 2023-03-01.
    let year = custom(|_, w| *w = Some("1y".parse().expect("duration")));
    let snaps = backups(&[
        t("2023-03-01T11:00"),
        t("2023-03-01T13:00"),
        t("2024-02-29T12:00"),
    ]);
    assert_eq!(kept(&plan(&snaps, &year, now(), &utc())), ["b2", "b1"]);
}

#[test]
fn custom_days_follow_the_zone_across_the_spring_dst_change() {
    let berlin = zone("Europe/Berlin");
    let snaps = backups(&[
        at(&berlin, "2026-03-28T22:00"), // 21:00 UTC on the 28th
        at(&berlin, "2026-03-29T00:30"), // 23:30 UTC on the 28th
        at(&berlin, "2026-03-29T03:30"), // CEST already: 01:30 UTC on the 29th
    ]);
    assert_eq!(snaps[2].time, t("2026-03-29T01:30"));
    let daily = custom(|c, _| c[2] = 3);
    assert_eq!(kept(&plan(&snaps, &daily, now(), &berlin)), ["b2", "b0"]);
    assert_eq!(kept(&plan(&snaps, &daily, now(), &utc())), ["b2", "b1"]);
}

#[test]
fn the_repeated_autumn_hour_is_one_local_hour() {
    let berlin = zone("Europe/Berlin");
    // 02:30 CEST and, an hour later, 02:30 CET again.
    let snaps = backups(&[t("2026-10-25T00:30"), t("2026-10-25T01:30")]);
    let hourly = custom(|c, _| c[1] = 10);
    assert_eq!(kept(&plan(&snaps, &hourly, now(), &berlin)), ["b1"]);
    assert_eq!(kept(&plan(&snaps, &hourly, now(), &utc())), ["b1", "b0"]);
}

#[test]
fn keep_within_days_are_calendar_days_of_the_zone() {
    let berlin = zone("Europe/Berlin");
    let day = custom(|_, w| *w = Some("1d".parse().expect("duration")));
    // Spring: from 2026-03-29 12:00 CEST a day back is 2026-03-28 12:00 CET, 23 h.
    let snaps = backups(&[t("2026-03-28T10:30"), at(&berlin, "2026-03-29T12:00")]);
    assert_eq!(kept(&plan(&snaps, &day, now(), &berlin)), ["b1"]);
    assert_eq!(kept(&plan(&snaps, &day, now(), &utc())), ["b1", "b0"]);
    // Autumn: from 2026-10-25 12:00 CET a day back is 2026-10-24 12:00 CEST, 25 h.
    let snaps = backups(&[t("2026-10-24T10:30"), at(&berlin, "2026-10-25T12:00")]);
    assert_eq!(kept(&plan(&snaps, &day, now(), &berlin)), ["b1", "b0"]);
    assert_eq!(kept(&plan(&snaps, &day, now(), &utc())), ["b1"]);
}

#[test]
fn keep_within_landing_in_a_dst_gap_or_overlap_resolves_like_go() {
    let berlin = zone("Europe/Berlin");
    let day = custom(|_, w| *w = Some("1d".parse().expect("duration")));
    // 2026-03-30 02:30 CEST minus a day is 2026-03-29 02:30, which does not exist in
    // Berlin; Go reads it as 03:30 CEST (01:30 UTC).
    let newest = at(&berlin, "2026-03-30T02:30");
    let snaps = backups(&[t("2026-03-29T01:30"), t("2026-03-29T01:31"), newest]);
    assert_eq!(kept(&plan(&snaps, &day, now(), &berlin)), ["b2", "b1"]);
    // 2026-10-26 02:30 CET minus a day is 2026-10-25 02:30, which happens twice; Go
    // picks the second (CET, 01:30 UTC).
    let newest = at(&berlin, "2026-10-26T02:30");
    let snaps = backups(&[t("2026-10-25T01:15"), t("2026-10-25T01:45"), newest]);
    assert_eq!(kept(&plan(&snaps, &day, now(), &berlin)), ["b2", "b1"]);
}

//! Retention's rules that do not depend on the calendar: the strategies' counts, the
//! newest backup, safety backups, verification records, `keep_within` syntax, output.

use super::*;
use jiff::civil::DateTime;

pub(super) fn utc() -> TimeZone {
    TimeZone::UTC
}

pub(super) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("time zone in the system's database")
}

/// The instant of wall clock `civil` (`2026-03-29T00:30`) in `tz`.
pub(super) fn at(tz: &TimeZone, civil: &str) -> Timestamp {
    let dt: DateTime = civil.parse().expect("civil date-time");
    dt.to_zoned(tz.clone()).expect("in range").timestamp()
}

pub(super) fn t(civil: &str) -> Timestamp {
    at(&utc(), civil)
}

/// Regular backups `b0`, `b1`, … at the given times.
pub(super) fn backups(times: &[Timestamp]) -> Vec<Candidate> {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| Candidate::new(format!("b{i}"), *t, Role::Backup))
        .collect()
}

pub(super) fn kept(decisions: &[Decision]) -> Vec<&str> {
    decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.id.as_str())
        .collect()
}

pub(super) fn reason<'d>(decisions: &'d [Decision], id: &str) -> (bool, &'d str) {
    let d = decisions
        .iter()
        .find(|d| d.id == id)
        .expect("a decision for every snapshot");
    (d.keep, d.reason.as_str())
}

/// One backup a day at 03:00 UTC, from `first` on, `n` days.
pub(super) fn daily_times(first: &str, n: i64) -> Vec<Timestamp> {
    let start = t(first);
    (0..n)
        .map(|i| start + SignedDuration::from_hours(24 * i))
        .collect()
}

pub(super) fn custom(f: impl FnOnce(&mut [u32; 6], &mut Option<KeepWithin>)) -> Retention {
    let mut counts = [0u32; 6];
    let mut within = None;
    f(&mut counts, &mut within);
    let [keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly] = counts;
    Retention::from(RetentionPolicy::Custom {
        keep_last,
        keep_hourly,
        keep_daily,
        keep_weekly,
        keep_monthly,
        keep_yearly,
        keep_within: within,
    })
}

fn now() -> Timestamp {
    t("2026-06-15T12:00")
}

#[test]
fn defaults_are_the_specs() {
    let r = Retention::default();
    assert_eq!(r.policy, RetentionPolicy::Daily { keep: 31 });
    assert_eq!(r.pre_restore_max_age, SignedDuration::from_hours(720));
    assert_eq!(
        RetentionPolicy::rolling(),
        RetentionPolicy::Rolling {
            daily: 6,
            weekly: 4,
            monthly: 1
        }
    );
}

#[test]
fn empty_input_decides_nothing() {
    assert!(plan(&[], &Retention::default(), now(), &utc()).is_empty());
}

#[test]
fn daily_keeps_the_newest_n_newest_first() {
    let snaps = backups(&daily_times("2026-05-01T03:00", 40));
    let d = plan(&snaps, &Retention::default(), now(), &utc());
    assert_eq!(d.len(), 40);
    assert_eq!(d[0].id, "b39", "newest first");
    assert_eq!(kept(&d).len(), 31);
    assert_eq!(reason(&d, "b39"), (true, "daily #1"));
    assert_eq!(reason(&d, "b9"), (true, "daily #31"));
    assert_eq!(reason(&d, "b8"), (false, "daily #32, keeps 31"));
    assert!(d.windows(2).all(|w| w[0].time >= w[1].time));
}

#[test]
fn input_order_does_not_matter() {
    let mut snaps = backups(&daily_times("2026-05-01T03:00", 20));
    let policy = Retention::from(RetentionPolicy::rolling());
    let a = plan(&snaps, &policy, now(), &utc());
    snaps.reverse();
    snaps.swap(3, 11);
    assert_eq!(plan(&snaps, &policy, now(), &utc()), a);
}

#[test]
fn the_newest_backup_is_never_removed() {
    let snaps = backups(&daily_times("2026-05-01T03:00", 5));
    for policy in [
        RetentionPolicy::Daily { keep: 0 },
        RetentionPolicy::Rolling {
            daily: 0,
            weekly: 0,
            monthly: 0,
        },
        RetentionPolicy::custom(),
    ] {
        let d = plan(&snaps, &policy.clone().into(), now(), &utc());
        assert_eq!(kept(&d), ["b4"], "{policy:?}");
        assert_eq!(reason(&d, "b4"), (true, "newest successful"));
    }
    // A rule that keeps it anyway is the one named.
    let d = plan(&snaps, &Retention::default(), now(), &utc());
    assert_eq!(reason(&d, "b4"), (true, "daily #1"));
}

#[test]
fn the_newest_backup_is_a_regular_one_not_a_safety_copy() {
    let mut snaps = backups(&daily_times("2026-05-01T03:00", 3));
    snaps.push(Candidate::new(
        "safety",
        t("2026-06-01T00:00"),
        Role::PreRestore,
    ));
    let d = plan(
        &snaps,
        &RetentionPolicy::Daily { keep: 0 }.into(),
        now(),
        &utc(),
    );
    assert_eq!(kept(&d), ["safety", "b2"]);
    assert_eq!(reason(&d, "b2"), (true, "newest successful"));
}

#[test]
fn pre_restore_backups_go_after_30_days_and_are_not_counted() {
    let n = now();
    let day = SignedDuration::from_hours(24);
    let mut snaps = backups(&[n - day * 40, n - day * 35, n - day * 2]);
    snaps.extend([
        Candidate::new("p29", n - day * 29, Role::PreRestore),
        Candidate::new("p30", n - day * 30, Role::PreRestore),
        Candidate::new("p31", n - day * 31, Role::PreRestore),
        Candidate::new("p-new", n - SignedDuration::from_secs(1), Role::PreRestore),
    ]);
    let d = plan(
        &snaps,
        &RetentionPolicy::Daily { keep: 2 }.into(),
        n,
        &utc(),
    );
    assert_eq!(reason(&d, "p29"), (true, "pre-restore < 30 d"));
    assert_eq!(reason(&d, "p-new"), (true, "pre-restore < 30 d"));
    assert_eq!(reason(&d, "p30"), (false, "pre-restore ≥ 30 d"));
    assert_eq!(reason(&d, "p31"), (false, "pre-restore ≥ 30 d"));
    // The safety backups, newer than b1 and b0, do not use up `keep = 2`.
    assert_eq!(reason(&d, "b2"), (true, "daily #1"));
    assert_eq!(reason(&d, "b1"), (true, "daily #2"));
    assert_eq!(reason(&d, "b0"), (false, "daily #3, keeps 2"));
}

#[test]
fn pre_restore_age_is_configurable() {
    let n = now();
    let hour = SignedDuration::from_hours(1);
    let snaps = [
        Candidate::new("b", n - hour * 100, Role::Backup),
        Candidate::new("p6d", n - hour * 24 * 6, Role::PreRestore),
        Candidate::new("p8d", n - hour * 24 * 8, Role::PreRestore),
    ];
    let r = Retention {
        pre_restore_max_age: hour * 24 * 7,
        ..Retention::default()
    };
    let d = plan(&snaps, &r, n, &utc());
    assert_eq!(reason(&d, "p6d"), (true, "pre-restore < 7 d"));
    assert_eq!(reason(&d, "p8d"), (false, "pre-restore ≥ 7 d"));
    let r = Retention {
        pre_restore_max_age: hour * 36,
        ..Retention::default()
    };
    assert_eq!(
        reason(&plan(&snaps, &r, n, &utc()), "p6d").1,
        "pre-restore ≥ 36 h"
    );
}

#[test]
fn verification_records_follow_their_backup() {
    let times = daily_times("2026-05-01T03:00", 4);
    let mut snaps = backups(&times);
    let hour = SignedDuration::from_hours(1);
    let verifies = |id: &str, of: &str, t: Timestamp| {
        Candidate::new(id, t, Role::Verification { of: of.into() })
    };
    snaps.extend([
        // newer than every backup: not the newest backup, not counted by `keep`
        verifies("v3", "b3", times[3] + hour),
        verifies("v3-again", "b3", times[3] + hour * 2),
        verifies("v0", "b0", times[0] + hour),
        verifies("v-gone", "b-deleted-earlier", times[1] + hour),
        Candidate::new("p", times[2], Role::PreRestore),
        verifies("vp", "p", times[2] + hour),
    ]);
    let n = t("2026-05-05T00:00");
    let d = plan(
        &snaps,
        &RetentionPolicy::Daily { keep: 2 }.into(),
        n,
        &utc(),
    );
    assert_eq!(kept(&d), ["v3-again", "v3", "b3", "vp", "b2", "p"]);
    assert_eq!(reason(&d, "v3"), (true, "verification of a kept backup"));
    assert_eq!(
        reason(&d, "v0"),
        (false, "verification of a removed backup")
    );
    assert_eq!(
        reason(&d, "v-gone"),
        (false, "verification of a missing backup")
    );
    assert_eq!(reason(&d, "b3"), (true, "daily #1"));
    assert_eq!(reason(&d, "b2"), (true, "daily #2"));
    // The safety backup is too old: its record goes with it.
    let later = n + SignedDuration::from_hours(24 * 60);
    let d = plan(
        &snaps,
        &RetentionPolicy::Daily { keep: 2 }.into(),
        later,
        &utc(),
    );
    assert_eq!(
        reason(&d, "vp"),
        (false, "verification of a removed backup")
    );
}

#[test]
fn a_policy_change_shrinks_the_kept_set() {
    let snaps = backups(&daily_times("2025-01-01T03:00", 400));
    let shrink = |wide: Retention, narrow: Retention| {
        let wide = plan(&snaps, &wide, now(), &utc());
        let narrow = plan(&snaps, &narrow, now(), &utc());
        let (wide, narrow) = (kept(&wide), kept(&narrow));
        assert!(
            narrow.len() < wide.len(),
            "{} < {}",
            narrow.len(),
            wide.len()
        );
        assert!(
            narrow.iter().all(|id| wide.contains(id)),
            "{narrow:?} ⊄ {wide:?}"
        );
        narrow.len()
    };
    assert_eq!(
        shrink(
            Retention::default(),
            RetentionPolicy::Daily { keep: 7 }.into()
        ),
        7
    );
    let small_rolling = RetentionPolicy::Rolling {
        daily: 2,
        weekly: 1,
        monthly: 1,
    };
    assert_eq!(
        shrink(RetentionPolicy::rolling().into(), small_rolling.into()),
        4
    );
    let wide = custom(|c, w| {
        c[2] = 14;
        c[3] = 8;
        c[4] = 12;
        *w = Some(KeepWithin {
            days: 10,
            ..KeepWithin::default()
        });
    });
    let narrow = custom(|c, _| {
        c[2] = 7;
        c[3] = 4;
        c[4] = 3;
    });
    // The newest, 2026-02-04 (Wednesday): 7 days back to 01-29, the weeks' newest
    // 02-01 (already kept), 01-25 and 01-18, the months' newest 01-31 (kept) and 12-31.
    assert_eq!(shrink(wide, narrow), 10);
}

#[test]
fn custom_counts_a_snapshot_for_every_rule_it_satisfies() {
    // Three a day at 01:00, 09:00, 17:00 UTC for 10 days: 2026-05-22 .. 2026-05-31.
    let times: Vec<Timestamp> = daily_times("2026-05-22T01:00", 10)
        .into_iter()
        .flat_map(|t| (0..3).map(move |i| t + SignedDuration::from_hours(8 * i)))
        .collect();
    let snaps = backups(&times);
    let r = custom(|c, _| {
        c[0] = 2; // last
        c[1] = 4; // hourly
        c[2] = 3; // daily
        c[3] = 2; // weekly
        c[4] = 2; // monthly
        c[5] = 1; // yearly
    });
    let d = plan(&snaps, &r, now(), &utc());
    let newest = format!("b{}", times.len() - 1);
    assert_eq!(
        reason(&d, &newest),
        (
            true,
            "last #1, hourly #1, daily #1, weekly #1, monthly #1, yearly #1"
        )
    );
    assert_eq!(reason(&d, "b28"), (true, "last #2, hourly #2"));
    assert_eq!(reason(&d, "b27"), (true, "hourly #3"));
    assert_eq!(reason(&d, "b26"), (true, "hourly #4, daily #2"));
    assert_eq!(reason(&d, "b25"), (false, "no rule keeps it"));
    assert_eq!(reason(&d, "b23"), (true, "daily #3"));
    // 2026-05-24 (Sunday) 17:00 is the newest of ISO week 21.
    assert_eq!(reason(&d, "b8"), (true, "weekly #2"));
    assert_eq!(kept(&d).len(), 6);
}

#[test]
fn keep_within_is_relative_to_the_newest_snapshot_not_now() {
    let times = daily_times("2025-01-01T03:00", 30);
    let mut snaps = backups(&times);
    // A snapshot dated in the future does not move the reference.
    snaps.push(Candidate::new(
        "future",
        t("2030-01-01T00:00"),
        Role::Backup,
    ));
    let r = custom(|_, w| *w = Some("7d".parse().expect("duration")));
    let d = plan(&snaps, &r, now(), &utc());
    // newest not in the future: b29 (2025-01-30 03:00); kept: strictly after 01-23 03:00
    assert_eq!(
        kept(&d),
        ["future", "b29", "b28", "b27", "b26", "b25", "b24", "b23"]
    );
    assert_eq!(reason(&d, "b23"), (true, "within 7d"));
    assert_eq!(reason(&d, "b22"), (false, "no rule keeps it"));
    assert_eq!(reason(&d, "future"), (true, "within 7d"));
    // When every snapshot is in the future, restic measures from year 1: all kept.
    let d = plan(&snaps, &r, t("2020-01-01T00:00"), &utc());
    assert_eq!(kept(&d).len(), snaps.len());
}

#[test]
fn keep_within_subtracts_months_as_go_does() {
    // 2025-03-31 minus one month is "2025-02-31", which Go normalises to 2025-03-03.
    let snaps = backups(&[
        t("2025-03-01T12:00"),
        t("2025-03-03T12:00"),
        t("2025-03-03T12:00:01"),
        t("2025-03-31T12:00"),
    ]);
    let r = custom(|_, w| *w = Some("1m".parse().expect("duration")));
    let d = plan(&snaps, &r, now(), &utc());
    assert_eq!(kept(&d), ["b3", "b2"]);
    // Hours are clock hours after the calendar step: 2h1m reaches 03-03 10:00.
    let r = custom(|_, w| *w = Some("2h1m".parse().expect("duration")));
    assert_eq!(kept(&plan(&snaps, &r, now(), &utc())), ["b3", "b2", "b1"]);
}

#[test]
fn keep_within_syntax_is_restics() {
    let w: KeepWithin = "1y5m7d2h".parse().expect("duration");
    assert_eq!(
        w,
        KeepWithin {
            years: 1,
            months: 5,
            days: 7,
            hours: 2
        }
    );
    assert_eq!(w.to_string(), "1y5m7d2h");
    assert_eq!(
        "2h7d".parse::<KeepWithin>().map(|w| w.to_string()),
        Ok("7d2h".into())
    );
    assert_eq!(" 30d ".parse::<KeepWithin>().map(|w| w.days), Ok(30));
    assert!("0d".parse::<KeepWithin>().is_ok_and(|w| w.is_zero()));
    for bad in ["", "7", "d", "7w", "1d2d", "-1d", "1.5d", "99999999999d"] {
        let e = bad.parse::<KeepWithin>().expect_err(bad);
        assert!(e.to_string().contains("y years, m months"), "{e}");
    }
}

#[test]
fn a_zero_keep_within_is_no_rule() {
    let snaps = backups(&daily_times("2025-01-01T03:00", 5));
    let r = custom(|_, w| *w = Some(KeepWithin::default()));
    assert_eq!(kept(&plan(&snaps, &r, now(), &utc())), ["b4"]);
}

#[test]
fn roles_come_from_lifeboats_tags() {
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let when = t("2026-01-01T00:00");
    let backup = crate::layout::tags("esp", "db", "postgres", "r1");
    assert_eq!(Candidate::from_tags("a", when, &backup).role, Role::Backup);
    let safety = crate::layout::safety_tags("esp", "db", "postgres", "r1");
    assert_eq!(
        Candidate::from_tags("a", when, &safety).role,
        Role::PreRestore
    );
    let record = tags(&[
        "lifeboat-verify",
        "source=db",
        "verifies=abc",
        "purpose=verify",
    ]);
    assert_eq!(
        Candidate::from_tags("a", when, &record).role,
        Role::Verification { of: "abc".into() }
    );
    let info = SnapshotInfo {
        id: "f".repeat(64),
        time: "2026-01-01T00:00:00Z".into(),
        timestamp: when,
        hostname: "h".into(),
        app: "esp".into(),
        source: "db".into(),
        kind: "postgres".into(),
        run_id: "r1".into(),
        pre_restore: true,
        size: 0,
        added: 0,
        verified: None,
        tags: tags(&["lifeboat"]),
    };
    let c = Candidate::from(&info);
    assert_eq!((c.id.len(), c.time, c.role), (64, when, Role::PreRestore));
}

#[test]
fn the_plan_prints_and_serialises() {
    let mut snaps = backups(&[t("2026-05-30T03:00"), t("2026-05-31T03:00")]);
    snaps[1].id = "0123456789abcdef".into();
    snaps.push(Candidate::new("p", t("2026-06-01T03:00"), Role::PreRestore));
    let d = plan(
        &snaps,
        &RetentionPolicy::Daily { keep: 1 }.into(),
        now(),
        &utc(),
    );
    assert_eq!(
        render_plan(&d, &zone("Europe/Berlin")),
        "keep    2026-06-01 05:00:00 CEST  p (pre-restore)  pre-restore < 30 d\n\
         keep    2026-05-31 05:00:00 CEST  01234567  daily #1\n\
         remove  2026-05-30 05:00:00 CEST  b0  daily #2, keeps 1\n"
    );
    let json = serde_json::to_value(&d[0]).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "id": "p", "time": "2026-06-01T03:00:00Z", "role": {"kind": "pre-restore"},
            "keep": true, "reason": "pre-restore < 30 d"
        })
    );
}

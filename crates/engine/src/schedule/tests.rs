use super::*;
use lifeboat_core::{AppSpec, DaemonSpec, RepositorySpec, Retention, RetentionPolicy, Secret};
use lifeboat_testkit::app_spec;

fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn cron(text: &str) -> Option<Schedule> {
    Some(Schedule::cron(text).expect("cron"))
}

fn app(name: &str, backup: &str) -> AppSpec {
    let mut app = app_spec(name, &["db"]);
    app.schedules.backup = cron(backup);
    app
}

fn config(apps: Vec<AppSpec>, max_parallel: usize) -> Config {
    Config {
        repository: RepositorySpec {
            url: "/tmp/unused".into(),
            password: Secret::new("x".into()),
            options: Vec::new(),
            lock_wait_secs: 1,
        },
        apps,
        timezone: "UTC".into(),
        daemon: DaemonSpec {
            max_parallel,
            ..DaemonSpec::default()
        },
        notify: Vec::new(),
        copy_to: Vec::new(),
    }
}

/// Every backup happened a minute ago: nothing to catch up.
fn recent(now: Timestamp) -> impl Fn(&JobKey) -> Option<Timestamp> {
    move |_| Some(now - jiff::SignedDuration::from_mins(1))
}

fn key(app: &str, work: Work) -> JobKey {
    JobKey {
        app: app.into(),
        source: None,
        work,
    }
}

fn started(steps: &[Step]) -> Vec<JobKey> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Start(k) => Some(k.clone()),
            Step::Skip { .. } => None,
        })
        .collect()
}

#[test]
fn backup_starts_at_its_cron_time_and_then_waits_a_day() {
    let now = at("2026-03-01T00:00:00Z");
    let mut plan = Plan::new(
        &config(vec![app("shop", "0 1 * * *")], 2),
        now,
        true,
        &recent(now),
    );
    assert_eq!(plan.next_due(), Some(at("2026-03-01T01:00:00Z")));
    assert!(plan.tick(at("2026-03-01T00:30:00Z")).is_empty());
    assert_eq!(
        plan.tick(at("2026-03-01T01:00:00Z")),
        [Step::Start(key("shop", Work::Backup))]
    );
    assert_eq!(plan.next_due(), Some(at("2026-03-02T01:00:00Z")));
}

#[test]
fn a_run_still_going_at_its_next_time_is_skipped_not_started_twice() {
    let now = at("2026-03-01T00:00:00Z");
    let mut plan = Plan::new(
        &config(vec![app("shop", "* * * * *")], 2),
        now,
        true,
        &recent(now),
    );
    assert_eq!(started(&plan.tick(at("2026-03-01T00:01:00Z"))).len(), 1);
    let steps = plan.tick(at("2026-03-01T00:02:00Z"));
    assert_eq!(
        steps,
        [Step::Skip {
            key: key("shop", Work::Backup),
            why: "the previous run is still going"
        }]
    );
    assert!(plan.finished(&key("shop", Work::Backup), true).is_empty());
    assert!(plan.is_idle());
    assert_eq!(started(&plan.tick(at("2026-03-01T00:03:00Z"))).len(), 1);
}

#[test]
fn at_most_max_parallel_apps_run_and_the_next_starts_when_one_finishes() {
    let now = at("2026-03-01T00:00:00Z");
    let apps = vec![
        app("a", "0 1 * * *"),
        app("b", "0 1 * * *"),
        app("c", "0 1 * * *"),
    ];
    let mut plan = Plan::new(&config(apps, 2), now, true, &recent(now));
    let first = started(&plan.tick(at("2026-03-01T01:00:00Z")));
    assert_eq!(first, [key("a", Work::Backup), key("b", Work::Backup)]);
    assert_eq!(
        plan.finished(&key("b", Work::Backup), true),
        [key("c", Work::Backup)]
    );
}

#[test]
fn one_run_per_app_at_a_time_verify_waits_for_the_backup() {
    let now = at("2026-03-01T00:00:00Z");
    let mut shop = app("shop", "0 1 * * *");
    shop.schedules.verify = cron("0 1 * * *");
    let mut plan = Plan::new(&config(vec![shop], 4), now, true, &recent(now));
    assert_eq!(
        started(&plan.tick(at("2026-03-01T01:00:00Z"))),
        [key("shop", Work::Backup)]
    );
    assert_eq!(
        plan.finished(&key("shop", Work::Backup), true),
        [key("shop", Work::Verify)]
    );
}

#[test]
fn a_prune_runs_alone_and_holds_back_what_comes_after_it() {
    let now = at("2026-03-01T00:00:00Z");
    let mut b = app("b", "0 5 * * *");
    b.schedules.prune = cron("0 2 * * *");
    let apps = vec![app("a", "0 1 * * *"), b, app("c", "30 2 * * *")];
    let mut plan = Plan::new(&config(apps, 4), now, true, &recent(now));
    assert_eq!(
        started(&plan.tick(at("2026-03-01T01:00:00Z"))),
        [key("a", Work::Backup)]
    );
    // a still runs: b's prune waits, and c's backup behind it waits too.
    assert!(started(&plan.tick(at("2026-03-01T02:00:00Z"))).is_empty());
    assert!(started(&plan.tick(at("2026-03-01T02:30:00Z"))).is_empty());
    assert_eq!(
        plan.finished(&key("a", Work::Backup), true),
        [key("b", Work::Prune)]
    );
    assert_eq!(
        plan.finished(&key("b", Work::Prune), true),
        [key("c", Work::Backup)]
    );
}

#[test]
fn retention_follows_a_backup_that_stored_something_when_there_is_no_prune_schedule() {
    let now = at("2026-03-01T00:00:00Z");
    let mut shop = app("shop", "0 1 * * *");
    shop.sources[0].retention = Some(Retention::from(RetentionPolicy::Daily { keep: 3 }));
    let mut plan = Plan::new(
        &config(vec![shop, app("other", "0 9 1 1 *")], 2),
        now,
        true,
        &recent(now),
    );
    assert!(plan.retains_after_backup("shop"));
    assert!(!plan.retains_after_backup("other"));
    plan.tick(at("2026-03-01T01:00:00Z"));
    assert!(plan.finished(&key("shop", Work::Backup), false).is_empty());
    plan.tick(at("2026-03-02T01:00:00Z"));
    assert_eq!(
        plan.finished(&key("shop", Work::Backup), true),
        [key("shop", Work::Retain)]
    );
}

#[test]
fn the_retentions_waiting_for_the_backups_to_drain_start_together() {
    let now = at("2026-03-01T00:00:00Z");
    let apps: Vec<AppSpec> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let mut app = app(name, "0 1 * * *");
            app.sources[0].retention = Some(Retention::from(RetentionPolicy::Daily { keep: 3 }));
            app
        })
        .collect();
    let mut plan = Plan::new(&config(apps, 2), now, true, &recent(now));
    let first = started(&plan.tick(at("2026-03-01T01:00:00Z")));
    assert_eq!(first, [key("a", Work::Backup), key("b", Work::Backup)]);
    // a's retention waits behind c's backup, b's behind a's retention.
    assert_eq!(
        plan.finished(&key("a", Work::Backup), true),
        [key("c", Work::Backup)]
    );
    assert!(plan.finished(&key("b", Work::Backup), true).is_empty());
    // The last backup done: the three retentions start at once, not one drain each.
    assert_eq!(
        plan.finished(&key("c", Work::Backup), true),
        [
            key("a", Work::Retain),
            key("b", Work::Retain),
            key("c", Work::Retain)
        ]
    );
    assert_eq!(plan.running().len(), 3);
    for app in ["a", "b"] {
        assert!(plan.finished(&key(app, Work::Retain), false).is_empty());
    }
    assert!(plan.finished(&key("c", Work::Retain), false).is_empty());
    assert!(plan.is_idle());
}

#[test]
fn catch_up_runs_a_missed_backup_once_at_start() {
    let now = at("2026-03-10T12:00:00Z");
    let cfg = config(vec![app("shop", "0 1 * * *")], 2);
    let two_days_ago = |_: &JobKey| Some(at("2026-03-08T01:00:00Z"));
    let this_night = |_: &JobKey| Some(at("2026-03-10T01:00:00Z"));
    let never = |_: &JobKey| None;
    assert_eq!(
        Plan::new(&cfg, now, true, &two_days_ago).next_due(),
        Some(now)
    );
    assert_eq!(Plan::new(&cfg, now, true, &never).next_due(), Some(now));
    let tomorrow = Some(at("2026-03-11T01:00:00Z"));
    assert_eq!(Plan::new(&cfg, now, true, &this_night).next_due(), tomorrow);
    assert_eq!(
        Plan::new(&cfg, now, false, &two_days_ago).next_due(),
        tomorrow
    );
}

#[test]
fn many_missed_times_run_once_and_the_next_is_in_the_future() {
    let now = at("2026-03-01T00:00:00Z");
    let mut plan = Plan::new(
        &config(vec![app("shop", "*/5 * * * *")], 2),
        now,
        true,
        &recent(now),
    );
    let late = at("2026-03-01T03:02:00Z");
    assert_eq!(started(&plan.tick(late)).len(), 1);
    assert_eq!(plan.next_due(), Some(at("2026-03-01T03:05:00Z")));
}

#[test]
fn an_interval_keeps_its_cadence_across_restarts() {
    let now = at("2026-03-01T12:00:00Z");
    let mut shop = app_spec("shop", &["db"]);
    shop.schedules.backup = Schedule::every("6h", 6 * 3600);
    let cfg = config(vec![shop], 2);
    let two_hours_ago = |_: &JobKey| Some(at("2026-03-01T10:00:00Z"));
    assert_eq!(
        Plan::new(&cfg, now, true, &two_hours_ago).next_due(),
        Some(at("2026-03-01T16:00:00Z"))
    );
}

#[test]
fn a_source_with_its_own_schedule_is_its_own_job() {
    let now = at("2026-03-01T00:00:00Z");
    let mut shop = app_spec("shop", &["db", "files"]);
    shop.schedules.backup = cron("0 1 * * *");
    shop.sources[1].schedule = cron("0 */6 * * *");
    let plan = Plan::new(&config(vec![shop], 2), now, true, &recent(now));
    let jobs: Vec<(Option<String>, String)> = plan
        .next_runs()
        .into_iter()
        .map(|n| (n.key.source, n.schedule))
        .collect();
    assert_eq!(
        jobs,
        [
            (None, "0 1 * * *".to_string()),
            (Some("files".to_string()), "0 */6 * * *".to_string())
        ]
    );
    let mut all_own = app_spec("solo", &["db"]);
    all_own.schedules.backup = cron("0 1 * * *");
    all_own.sources[0].schedule = cron("0 3 * * *");
    let plan = Plan::new(&config(vec![all_own], 2), now, true, &recent(now));
    assert_eq!(plan.next_runs().len(), 1, "no app job without app sources");
}

#[test]
fn a_reloaded_plan_keeps_what_runs() {
    let now = at("2026-03-01T00:00:00Z");
    let cfg = config(vec![app("shop", "* * * * *")], 2);
    let mut plan = Plan::new(&cfg, now, true, &recent(now));
    plan.tick(at("2026-03-01T00:01:00Z"));
    let mut plan = plan.reloaded(Plan::new(&cfg, now, false, &recent(now)));
    assert_eq!(plan.running(), [key("shop", Work::Backup)]);
    assert!(matches!(
        plan.tick(at("2026-03-01T00:02:00Z"))[..],
        [Step::Skip { .. }]
    ));
}

#[test]
fn after_stop_nothing_starts_and_waiting_jobs_are_dropped() {
    let now = at("2026-03-01T00:00:00Z");
    let apps = vec![app("a", "0 1 * * *"), app("b", "0 1 * * *")];
    let mut plan = Plan::new(&config(apps, 1), now, true, &recent(now));
    assert_eq!(
        started(&plan.tick(at("2026-03-01T01:00:00Z"))),
        [key("a", Work::Backup)]
    );
    assert_eq!(plan.stop(), [key("b", Work::Backup)]);
    assert!(plan.finished(&key("a", Work::Backup), true).is_empty());
    assert!(plan.is_idle());
    assert!(started(&plan.tick(at("2026-03-02T01:00:00Z"))).is_empty());
}

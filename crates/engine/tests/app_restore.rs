//! Whole-app restores over fake ports: set choice, order, hooks, the safety set, the
//! stop at the first failure and what the report says.

use lifeboat_core::{AppSpec, RestoreOptions};
use lifeboat_engine::{AppRestoreOptions, AppRestoreReport, Engine, SourceStatus};
use lifeboat_testkit::{
    app_spec, Behaviour, FakeClock, FakeSources, MemRepository, RecordingHooks,
};
use std::sync::Arc;

struct Kit {
    sources: FakeSources,
    hooks: Arc<RecordingHooks>,
    clock: Arc<FakeClock>,
    engine: Engine,
    repo: MemRepository,
}

fn kit() -> Kit {
    let sources = FakeSources::new()
        .with("secrets", Behaviour::Good, b"secret objects")
        .with("db", Behaviour::Good, b"rows")
        .with("cache", Behaviour::Good, b"keys");
    let hooks = Arc::new(RecordingHooks::default());
    let clock = Arc::new(FakeClock::at("2026-11-20T01:00:00+00:00[UTC]"));
    let engine = Engine::new(Arc::new(sources.clone()), hooks.clone()).with_clock(clock.clone());
    Kit {
        sources,
        hooks,
        clock,
        engine,
        repo: MemRepository::new(),
    }
}

/// The seed-001 shape: the cache after the db, the db after the secrets.
fn shop() -> AppSpec {
    let mut app = app_spec("shop", &["cache", "db", "secrets"]);
    app.sources[0].restore_after = vec!["db".into()];
    app.sources[1].restore_after = vec!["secrets".into()];
    app.before_restore = vec!["stop web".into()];
    app.after_restore = vec!["start web".into()];
    app
}

fn backup(k: &mut Kit, app: &AppSpec, names: &[&str]) -> String {
    let (run_id, now) = k.engine.new_run();
    let sources: Vec<_> = app
        .sources
        .iter()
        .filter(|s| names.contains(&s.name.as_str()))
        .collect();
    let report = k
        .engine
        .run_backup(&mut k.repo, &[(app, sources)], &run_id, &now)
        .expect("backup");
    assert!(report.ok(), "{report:?}");
    k.clock.advance(jiff::SignedDuration::from_hours(24));
    run_id
}

fn restore(k: &mut Kit, app: &AppSpec, opts: &AppRestoreOptions) -> AppRestoreReport {
    let (run_id, now) = k.engine.new_run();
    k.engine
        .restore_app(&mut k.repo, app, opts, &run_id, &now)
        .expect("restore")
}

fn opts(force: bool) -> AppRestoreOptions {
    AppRestoreOptions {
        base: RestoreOptions {
            snapshot: "latest".into(),
            force,
            ..RestoreOptions::default()
        },
        ..AppRestoreOptions::default()
    }
}

fn wipe(k: &Kit) {
    for name in ["secrets", "db", "cache"] {
        k.sources.set_data(name, b"");
    }
}

fn statuses(report: &AppRestoreReport) -> Vec<(String, SourceStatus)> {
    report
        .sources
        .iter()
        .map(|s| (s.source.clone(), s.status))
        .collect()
}

#[test]
fn an_app_restores_in_restore_after_order_between_its_hooks() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    wipe(&k);
    let report = restore(&mut k, &app, &opts(false));
    assert!(report.ok(), "{report:?}");
    let restored: Vec<String> = k
        .sources
        .log()
        .into_iter()
        .filter(|l| l.starts_with("restore"))
        .collect();
    assert_eq!(restored, ["restore secrets", "restore db", "restore cache"]);
    assert_eq!(k.sources.data("db"), b"rows");
    assert_eq!(k.sources.data("secrets"), b"secret objects");
    let hooks = k.hooks.ran();
    assert_eq!(
        hooks[hooks.len() - 2..],
        ["before_restore shop", "after_restore shop ok"]
    );
    assert!(report.after_restore_ran);
    assert_eq!(
        report.safety_set(),
        None,
        "empty targets need no safety backup"
    );
}

#[test]
fn the_latest_complete_set_is_taken_over_a_newer_incomplete_one() {
    let mut k = kit();
    let app = shop();
    let complete = backup(&mut k, &app, &["cache", "db", "secrets"]);
    k.sources.set_data("db", b"newer rows");
    backup(&mut k, &app, &["db"]);
    wipe(&k);
    let report = restore(&mut k, &app, &opts(false));
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.set, complete);
    assert_eq!(k.sources.data("db"), b"rows");
}

#[test]
fn at_picks_the_newest_complete_set_at_or_before_the_time() {
    let mut k = kit();
    let app = shop();
    let first = backup(&mut k, &app, &["cache", "db", "secrets"]); // 2026-11-20 01:00
    k.sources.set_data("db", b"newer rows");
    backup(&mut k, &app, &["cache", "db", "secrets"]); // 2026-11-21 01:00
    wipe(&k);
    let mut o = opts(false);
    o.base.at = Some("2026-11-20T23:59:59Z".parse().unwrap());
    let report = restore(&mut k, &app, &o);
    assert_eq!(report.set, first);
    assert_eq!(k.sources.data("db"), b"rows");
}

#[test]
fn a_named_set_that_lacks_a_source_is_refused_and_skip_restores_the_rest() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    let partial = backup(&mut k, &app, &["db", "secrets"]);
    let mut o = opts(true);
    o.base.snapshot = partial.clone();
    let (run_id, now) = k.engine.new_run();
    let refused = k
        .engine
        .restore_app(&mut k.repo, &app, &o, &run_id, &now)
        .expect_err("incomplete");
    let msg = refused.to_string();
    assert!(
        msg.contains("has no backup of cache") && msg.contains("--skip cache"),
        "{msg}"
    );
    o.skip = vec!["cache".into()];
    let report = restore(&mut k, &app, &o);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.skipped, ["cache"]);
    assert_eq!(report.set, partial);
}

#[test]
fn targets_holding_data_refuse_the_whole_restore_without_force_and_nothing_runs() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    k.sources.set_data("secrets", b"");
    let before = k.hooks.ran().len();
    let report = restore(&mut k, &app, &opts(false));
    let error = report.error.clone().unwrap_or_default();
    assert!(
        error.contains("db (fake:db), cache (fake:cache) hold data"),
        "{error}"
    );
    assert_eq!(k.hooks.ran().len(), before, "no hook ran");
    assert!(!k.sources.log().iter().any(|l| l.starts_with("restore")));
    assert!(statuses(&report)
        .iter()
        .all(|(_, s)| *s == SourceStatus::NotAttempted));
}

#[test]
fn with_force_every_target_holding_data_is_backed_up_first_as_one_safety_set() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    k.sources.set_data("secrets", b"");
    k.sources.set_data("db", b"rows written since");
    k.sources.set_data("cache", b"keys written since");
    let report = restore(&mut k, &app, &opts(true));
    assert!(report.ok(), "{report:?}");
    let safety = report.safety_set().expect("a safety set");
    let log = k.sources.log();
    let first_restore = log.iter().position(|l| l.starts_with("restore")).unwrap();
    let safety_backups = log.iter().filter(|l| l.starts_with("backup")).count();
    assert_eq!(
        safety_backups,
        3 + 2,
        "the three backups, then two safety backups"
    );
    assert!(
        log[..first_restore]
            .iter()
            .filter(|l| l.starts_with("backup"))
            .count()
            == 5
    );
    // The safety set restores as a set: the state before the restore comes back.
    let mut back = opts(true);
    back.base.snapshot = safety.to_string();
    back.skip = vec!["secrets".into()];
    let again = restore(&mut k, &app, &back);
    assert!(again.ok(), "{again:?}");
    assert!(again.set_pre_restore);
    assert_eq!(k.sources.data("db"), b"rows written since");
    assert_eq!(k.sources.data("cache"), b"keys written since");
}

#[test]
fn a_failure_mid_restore_stops_it_and_after_restore_does_not_run() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    wipe(&k);
    k.sources.set_behaviour("db", Behaviour::RestoreFails);
    let report = restore(&mut k, &app, &opts(false));
    assert!(!report.ok());
    assert_eq!(
        statuses(&report),
        [
            ("secrets".to_string(), SourceStatus::Restored),
            ("db".to_string(), SourceStatus::Failed),
            ("cache".to_string(), SourceStatus::NotAttempted),
        ]
    );
    let error = report.sources[1].error.clone().unwrap_or_default();
    assert!(error.contains("server closed the connection"), "{error}");
    assert!(!report.after_restore_ran);
    assert!(!k.hooks.ran().iter().any(|h| h.starts_with("after_restore")));
    let resume = report.resume.clone().unwrap_or_default();
    assert!(
        resume.contains(&format!(
            "--snapshot {} --only db,cache --force",
            report.set
        )),
        "{resume}"
    );
    assert_eq!(k.sources.data("cache"), b"", "not attempted, untouched");
}

#[test]
fn a_failing_before_restore_hook_restores_nothing() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    wipe(&k);
    k.hooks.fail("before_restore");
    let report = restore(&mut k, &app, &opts(false));
    assert!(report
        .error
        .clone()
        .unwrap_or_default()
        .contains("before_restore"));
    assert!(!k.sources.log().iter().any(|l| l.starts_with("restore")));
    assert!(!report.after_restore_ran);
}

#[test]
fn a_plan_changes_nothing_and_lists_the_order_the_targets_and_the_hooks() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    k.sources.set_data("db", b"rows written since");
    let mut o = opts(true);
    o.base.plan_only = true;
    let before = k.sources.log().len();
    let report = restore(&mut k, &app, &o);
    assert!(report.ok(), "{report:?}");
    assert_eq!(k.sources.log().len(), before, "nothing ran");
    assert!(k.hooks.ran().iter().all(|h| !h.contains("restore")));
    let order: Vec<&str> = report.sources.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(order, ["secrets", "db", "cache"]);
    assert!(report.sources[1].steps[0].contains("back up fake:db as it is now"));
    assert_eq!(report.before_restore, ["stop web"]);
    assert!(statuses(&report)
        .iter()
        .all(|(_, s)| *s == SourceStatus::Planned));
}

#[test]
fn only_and_skip_name_real_sources() {
    let mut k = kit();
    let app = shop();
    backup(&mut k, &app, &["cache", "db", "secrets"]);
    let mut o = opts(false);
    o.only = vec!["dbx".into()];
    let (run_id, now) = k.engine.new_run();
    let e = k
        .engine
        .restore_app(&mut k.repo, &app, &o, &run_id, &now)
        .expect_err("unknown");
    assert!(e.to_string().contains("no source named `dbx`"), "{e}");
}

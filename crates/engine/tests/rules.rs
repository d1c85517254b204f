//! The engine's rules over fake ports: no servers, milliseconds each.

use lifeboat_core::ports::Repository;
use lifeboat_core::ports::{Event, RecordedEvents};
use lifeboat_core::{ErrorKind, RestoreOptions};
use lifeboat_engine::Engine;
use lifeboat_testkit::{
    app_spec, Behaviour, FakeClock, FakeSources, MemRepository, RecordingHooks,
};
use std::sync::Arc;

struct Kit {
    sources: FakeSources,
    hooks: Arc<RecordingHooks>,
    events: Arc<RecordedEvents>,
    engine: Engine,
    repo: MemRepository,
}

fn kit(sources: FakeSources) -> Kit {
    let hooks = Arc::new(RecordingHooks::default());
    let events = Arc::new(RecordedEvents::default());
    let engine = Engine::new(Arc::new(sources.clone()), hooks.clone())
        .with_events(events.clone())
        .with_clock(Arc::new(FakeClock::at("2026-11-30T01:00:00+00:00[UTC]")));
    Kit {
        sources,
        hooks,
        events,
        engine,
        repo: MemRepository::new(),
    }
}

fn three() -> FakeSources {
    FakeSources::new()
        .with("db", Behaviour::Good, b"rows")
        .with("cache", Behaviour::FailAt(2), b"keys and values")
        .with("files", Behaviour::Good, b"tree")
}

fn backup(k: &mut Kit, app: &lifeboat_core::AppSpec) -> lifeboat_engine::BackupReport {
    let (run_id, now) = k.engine.new_run();
    let sources: Vec<_> = app.sources.iter().collect();
    k.engine
        .run_backup(&mut k.repo, &[(app, sources)], &run_id, &now)
        .expect("run")
}

#[test]
fn one_source_of_three_fails_the_other_two_are_saved_and_the_report_says_which() {
    let mut k = kit(three());
    let app = app_spec("esp", &["db", "cache", "files"]);
    let report = backup(&mut k, &app);
    assert!(!report.ok());
    let failed: Vec<_> = report
        .sources
        .iter()
        .filter(|s| !s.ok)
        .map(|s| s.source.as_str())
        .collect();
    assert_eq!(failed, ["cache"]);
    let error = report.sources[1].error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("esp/cache: ") && error.contains("connection reset"),
        "{error}"
    );
    let saved: Vec<_> = k.repo.saved().into_iter().map(|s| s.info.source).collect();
    assert_eq!(saved, ["db", "files"]);
    assert_eq!(k.repo.saved()[0].files["db.out"], b"rows");
}

#[test]
fn a_failing_before_backup_hook_means_no_dump_and_after_backup_still_runs() {
    let mut k = kit(three());
    k.hooks.fail("before_backup");
    let app = app_spec("esp", &["db", "files"]);
    let report = backup(&mut k, &app);
    assert!(!report.ok());
    assert!(k.sources.log().is_empty(), "dumped: {:?}", k.sources.log());
    assert!(k.repo.saved().is_empty());
    assert_eq!(
        k.hooks.ran(),
        ["before_backup esp", "after_backup esp failed"]
    );
    assert!(
        report.errors[0].contains("before_backup hook"),
        "{:?}",
        report.errors
    );
    assert!(report
        .sources
        .iter()
        .all(|s| s.error.as_deref() == Some("skipped: before_backup hook failed")));
}

#[test]
fn a_dump_that_exits_non_zero_after_its_output_saves_nothing() {
    let mut k = kit(FakeSources::new().with("db", Behaviour::ExitNonZero, b"all the rows"));
    let report = backup(&mut k, &app_spec("esp", &["db"]));
    assert!(!report.ok());
    assert!(k.repo.saved().is_empty());
    let error = report.sources[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("esp/db") && error.contains("exit status: 1"),
        "{error}"
    );
}

#[test]
fn a_source_that_cannot_start_is_a_retryable_source_failure() {
    let k = kit(FakeSources::new().with("db", Behaviour::FailToStart, b""));
    let app = app_spec("esp", &["db"]);
    let (run_id, now) = k.engine.new_run();
    let mut repo = MemRepository::new();
    let err = k
        .engine
        .backup_source(
            &mut repo,
            &app,
            &app.sources[0],
            &run_id,
            &now,
            lifeboat_core::ports::Purpose::Backup,
        )
        .expect_err("must fail");
    assert_eq!(err.kind(), ErrorKind::Source);
    assert!(err.is_retryable());
    assert_eq!(err.to_string(), "esp/db: fake: connection refused");
}

#[test]
fn a_repository_problem_stops_the_run_after_the_after_backup_hooks() {
    let mut k = kit(three());
    k.repo.fail_stores = Some(ErrorKind::Repository);
    let app = app_spec("esp", &["db", "files"]);
    let (run_id, now) = k.engine.new_run();
    let err = k
        .engine
        .run_backup(
            &mut k.repo,
            &[(&app, app.sources.iter().collect())],
            &run_id,
            &now,
        )
        .expect_err("a full repository stops the run");
    assert_eq!(err.kind(), ErrorKind::Repository);
    assert_eq!(
        k.sources.log(),
        ["backup db"],
        "the second source must not start"
    );
    assert_eq!(
        k.hooks.ran(),
        ["before_backup esp", "after_backup esp failed"]
    );
}

#[test]
fn cancelling_a_stalled_dump_saves_nothing_skips_the_rest_and_runs_after_backup() {
    let mut k = kit(FakeSources::new()
        .with("db", Behaviour::StallUntilCancelled, b"never")
        .with("files", Behaviour::Good, b"tree"));
    let cancel = k.engine.cancel.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(30));
        cancel.cancel();
    });
    let report = backup(&mut k, &app_spec("esp", &["db", "files"]));
    stopper.join().expect("stopper");
    assert!(report.cancelled && !report.ok());
    assert!(k.repo.saved().is_empty());
    assert_eq!(
        report.sources[1].error.as_deref(),
        Some("skipped: the run was interrupted")
    );
    assert_eq!(
        k.hooks.ran(),
        ["before_backup esp", "after_backup esp cancelled"]
    );
}

#[test]
fn events_tell_the_run_in_order() {
    let mut k = kit(three());
    backup(&mut k, &app_spec("esp", &["db", "cache"]));
    let names: Vec<String> = k
        .events
        .taken()
        .iter()
        .filter(|e| !matches!(e, Event::BytesRead { .. }))
        .map(|e| match e {
            Event::RunStarted { sources, .. } => format!("run {sources}"),
            Event::SourceStarted { source, .. } => format!("start {source}"),
            Event::SourceDone { source, ok, .. } => format!("done {source} {ok}"),
            Event::RunDone { ok, .. } => format!("end {ok}"),
            Event::BytesRead { .. } => String::new(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "run 2",
            "start db",
            "done db true",
            "start cache",
            "done cache false",
            "end false"
        ]
    );
}

fn restore_opts(force: bool) -> RestoreOptions {
    RestoreOptions {
        snapshot: "latest".into(),
        force,
        ..RestoreOptions::default()
    }
}

/// Restores the app's first source.
fn restore_first(
    k: &mut Kit,
    app: &lifeboat_core::AppSpec,
    opts: &RestoreOptions,
    run_id: &str,
    now: &jiff::Zoned,
) -> Result<lifeboat_engine::RestoreReport, lifeboat_core::Error> {
    k.engine
        .restore_source(&mut k.repo, app, &app.sources[0], opts, run_id, now)
}

#[test]
fn a_restore_over_data_is_refused_without_force_and_takes_a_safety_backup_with_it() {
    let mut k = kit(FakeSources::new().with("db", Behaviour::Good, b"version 1"));
    let app = app_spec("esp", &["db"]);
    backup(&mut k, &app);
    k.sources.set_data("db", b"version 2");
    let (run_id, now) = k.engine.new_run();
    let refused =
        restore_first(&mut k, &app, &restore_opts(false), &run_id, &now).expect_err("refused");
    assert!(refused.to_string().contains("holds data"), "{refused}");
    assert_eq!(k.sources.data("db"), b"version 2", "nothing changed");
    let report = restore_first(&mut k, &app, &restore_opts(true), &run_id, &now).expect("restored");
    assert!(report.done);
    assert_eq!(k.sources.data("db"), b"version 1");
    let safety = report.safety_snapshot.expect("safety backup");
    let stored = k
        .repo
        .saved()
        .into_iter()
        .find(|s| s.info.id == safety)
        .expect("stored");
    assert!(stored.info.pre_restore);
    assert_eq!(stored.files["db.out"], b"version 2");
}

#[test]
fn a_restore_whose_safety_backup_fails_changes_nothing() {
    let mut k = kit(FakeSources::new().with("db", Behaviour::Good, b"version 1"));
    let app = app_spec("esp", &["db"]);
    backup(&mut k, &app);
    k.sources.set_data("db", b"version 2");
    k.sources.set_behaviour("db", Behaviour::ExitNonZero);
    let (run_id, now) = k.engine.new_run();
    let err = restore_first(&mut k, &app, &restore_opts(true), &run_id, &now)
        .expect_err("no restore without its safety backup");
    assert!(
        err.to_string()
            .contains("safety backup of fake:db failed, nothing was changed"),
        "{err}"
    );
    assert_eq!(k.sources.data("db"), b"version 2");
    assert!(!k.sources.log().contains(&"restore db".to_string()));
}

#[test]
fn verify_records_a_result_per_backup_and_an_interrupted_one_records_nothing() {
    let mut k = kit(FakeSources::new().with("db", Behaviour::Good, b"rows"));
    let app = app_spec("esp", &["db"]);
    backup(&mut k, &app);
    let mut seen = 0;
    let run = k
        .engine
        .verify_all(
            &mut k.repo,
            &[(&app, &app.sources[0])],
            "latest",
            &mut |_| seen += 1,
        )
        .expect("verify");
    assert!(run.ok() && seen == 1, "{run:?}");
    assert_eq!(k.repo.list().map(|l| l[0].verified).ok(), Some(Some(true)));
    let records = k.repo.saved().len();
    k.engine.cancel.cancel();
    let err = k
        .engine
        .verify_all(
            &mut k.repo,
            &[(&app, &app.sources[0])],
            "latest",
            &mut |_| {},
        )
        .expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(
        k.repo.saved().len(),
        records,
        "a cancelled verification was recorded"
    );
}

#[test]
fn retention_forgets_per_source_and_a_dry_run_forgets_nothing() {
    let sources = FakeSources::new()
        .with("db", Behaviour::Good, b"rows")
        .with("db2", Behaviour::Good, b"more rows");
    let clock = Arc::new(FakeClock::at("2026-11-20T01:00:00+00:00[UTC]"));
    let mut k = kit(sources);
    k.engine = k.engine.clone().with_clock(clock.clone());
    let mut app = app_spec("shop", &["db", "db2"]);
    app.sources[0].retention = Some(lifeboat_core::RetentionPolicy::Daily { keep: 2 }.into());
    for _ in 0..4 {
        backup(&mut k, &app);
        clock.advance(jiff::SignedDuration::from_hours(24));
    }
    let pairs: Vec<_> = app.sources.iter().map(|s| (&app, s)).collect();
    let dry = k.engine.prune(&mut k.repo, &pairs, true).expect("dry run");
    assert_eq!(dry.forgotten.len(), 2);
    assert!(dry.reclaimed.is_none());
    assert_eq!(k.repo.saved().len(), 8, "a dry run forgot something");
    let report = k.engine.prune(&mut k.repo, &pairs, false).expect("prune");
    assert_eq!(report.forgotten, dry.forgotten);
    let left = |source: &str| {
        k.repo
            .saved()
            .iter()
            .filter(|s| s.info.source == source)
            .count()
    };
    assert_eq!(
        (left("db"), left("db2")),
        (2, 4),
        "db's retention touched db2"
    );
    let reasons: Vec<_> = report.sources[0]
        .decisions
        .iter()
        .map(|d| d.reason.as_str())
        .collect();
    assert_eq!(reasons[..2], ["daily #1", "daily #2"], "{reasons:?}");
    assert!(report.sources[1].note.is_some(), "db2 has no retention");
}

#[test]
fn parallel_sources_are_all_saved_and_reported_in_config_order() {
    let mut k = kit(three());
    let mut app = app_spec("esp", &["db", "cache", "files"]);
    app.max_parallel = 2;
    let report = backup(&mut k, &app);
    let order: Vec<_> = report.sources.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(order, ["db", "cache", "files"]);
    let ok: Vec<_> = report.sources.iter().map(|s| s.ok).collect();
    assert_eq!(ok, [true, false, true], "{report:?}");
    let mut saved: Vec<_> = k
        .repo
        .saved()
        .iter()
        .map(|s| s.info.source.clone())
        .collect();
    saved.sort();
    assert_eq!(saved, ["db", "files"], "stored through the forked handles");
    assert_eq!(
        k.hooks.ran(),
        ["before_backup esp", "after_backup esp failed"]
    );
}

#[test]
fn a_repository_problem_in_a_parallel_run_stops_it_after_the_after_backup_hooks() {
    let mut k = kit(three());
    k.repo.fail_stores = Some(ErrorKind::Repository);
    let mut app = app_spec("esp", &["db", "files"]);
    app.max_parallel = 2;
    let (run_id, now) = k.engine.new_run();
    let err = k
        .engine
        .run_backup(
            &mut k.repo,
            &[(&app, app.sources.iter().collect())],
            &run_id,
            &now,
        )
        .expect_err("a full repository stops the run");
    assert_eq!(err.kind(), ErrorKind::Repository);
    assert!(k.repo.saved().is_empty());
    assert_eq!(
        k.hooks.ran(),
        ["before_backup esp", "after_backup esp failed"]
    );
}

fn plan_opts() -> RestoreOptions {
    RestoreOptions {
        plan_only: true,
        ..restore_opts(true)
    }
}

#[test]
fn backups_whose_tree_cannot_be_read_are_named_not_called_missing() {
    let mut k = kit(FakeSources::new().with("db", Behaviour::Good, b"version 1"));
    let app = app_spec("esp", &["db"]);
    let clock = Arc::new(FakeClock::at("2026-11-20T01:00:00+00:00[UTC]"));
    k.engine = k.engine.clone().with_clock(clock.clone());
    backup(&mut k, &app);
    clock.advance(jiff::SignedDuration::from_hours(24));
    backup(&mut k, &app);
    let ids: Vec<String> = k.repo.saved().iter().map(|s| s.info.id.clone()).collect();
    let (run_id, now) = k.engine.new_run();

    // The newer one unreadable: the plan says the restore takes the older one.
    k.repo.unreadable = vec![ids[1].clone()];
    let plan = restore_first(&mut k, &app, &plan_opts(), &run_id, &now).expect("plan");
    assert_eq!(plan.snapshot, ids[0]);
    let warning = &plan.steps[0];
    assert!(
        warning.starts_with("warning: a newer backup of esp/db")
            && warning.contains(&ids[1][..8])
            && warning.contains(&format!("restores the older {}", &ids[0][..8])),
        "{warning}"
    );

    // Both unreadable: not "no backup found", but what is wrong, for restore and verify.
    k.repo.unreadable = ids.clone();
    let err =
        restore_first(&mut k, &app, &plan_opts(), &run_id, &now).expect_err("nothing readable");
    let text = err.to_string();
    assert!(
        text.contains("no readable backup: 2 backup(s) of it cannot be read")
            && text.contains(&ids[1][..8])
            && !text.contains("no backup found"),
        "{text}"
    );
    let err = k
        .engine
        .verify_source(&mut k.repo, &app, &app.sources[0], "latest", &run_id, &now)
        .expect_err("nothing readable");
    assert!(err.to_string().contains("no readable backup"), "{err}");
}

//! One app's backup set through the binary: its sources dumped in parallel up to
//! `max_parallel` (the window is the slowest source, not the sum), one run id for all,
//! and `max_parallel = 1` for one at a time.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};
use support::Workspace;

/// How long each slow source sleeps. Long beside a backup's own fixed costs (key
/// derivation, opening the repository), which grow on a slow or loaded machine: the
/// parallel bound below leaves them a whole second less than the sequential minimum.
const SLOW_SECS: u64 = 4;

fn two_slow_sources(max_parallel: u32) -> String {
    let source = |name: &str| {
        format!(
            "\n[[app.source]]\nname = \"{name}\"\nkind = \"command\"\nbackup_command = \"sleep {SLOW_SECS}; echo {name}\"\nfilename = \"{name}.txt\"\n"
        )
    };
    format!(
        "[[app]]\nname = \"shop\"\nmax_parallel = {max_parallel}\n{}{}",
        source("one"),
        source("two")
    )
}

fn timed_backup(ws: &Workspace) -> Duration {
    let started = Instant::now();
    ws.run(&["backup"]).assert_ok();
    started.elapsed()
}

#[test]
fn two_slow_sources_of_one_app_finish_in_about_the_time_of_the_slower() {
    let ws = Workspace::new();
    ws.config(&two_slow_sources(2));
    ws.run(&["init"]).assert_ok();
    let took = timed_backup(&ws);
    assert!(
        took < Duration::from_secs(2 * SLOW_SECS - 1),
        "parallel: {took:?}"
    );
    let list = ws.list();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0]["run_id"], list[1]["run_id"],
        "one run id for the set"
    );
    let restic = ws.restic(&["check", "--read-data"]);
    assert!(
        restic.status.success(),
        "{}",
        String::from_utf8_lossy(&restic.stderr)
    );
}

#[test]
fn max_parallel_one_dumps_one_source_at_a_time() {
    let ws = Workspace::new();
    ws.config(&two_slow_sources(1));
    ws.run(&["init"]).assert_ok();
    let took = timed_backup(&ws);
    assert!(
        took >= Duration::from_secs(2 * SLOW_SECS),
        "sequential: {took:?}"
    );
}

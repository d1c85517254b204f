//! The patched rustic_core archiver (vendor/rustic_core) in use: a backup of an
//! unchanged tree does not pay thread hand-offs per file.
//!
//! Alone in its test binary because it counts the context switches of every child this
//! process has reaped.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use nix::sys::resource::{getrusage, UsageWho};
use support::Workspace;

const DIRS: usize = 60;
const FILES_PER_DIR: usize = 100;

fn children_voluntary_switches() -> i64 {
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .voluntary_context_switches()
}

/// With pariter's defaults (a rendezvous hand-off and 2 items per worker in flight) the
/// second backup of 6000 unchanged files made ~9000 voluntary context switches; with
/// 256 items in flight, ~450.
#[test]
fn unchanged_tree_backup_does_not_switch_threads_per_file() {
    let ws = Workspace::new();
    for d in 0..DIRS {
        let dir = ws.path(&format!("tree/d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            std::fs::write(
                dir.join(format!("f{f}.txt")),
                format!("{d} {f}\n").repeat(f % 7 + 1),
            )
            .unwrap();
        }
    }
    ws.config(&format!(
        "[[app]]\nname = \"a\"\n\n[[app.source]]\nname = \"tree\"\nkind = \"files\"\npath = \"{}\"\n",
        ws.path("tree").display()
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();

    let before = children_voluntary_switches();
    ws.run(&["backup"]).assert_ok();
    let switches = children_voluntary_switches() - before;

    let files = (DIRS * FILES_PER_DIR) as i64;
    assert!(
        switches < files / 4,
        "the second backup of {files} unchanged files made {switches} voluntary context \
         switches: is vendor/rustic_core's archiver patch still in use?"
    );
    assert_eq!(ws.list().len(), 2, "both backups are snapshots");
}

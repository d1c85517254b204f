//! The fault suite: crashes, storage faults, corruption, concurrency, producer faults
//! and secrets, each injected into real lifeboat runs against real servers. It is its
//! own harness (`harness = false`): it runs every fault (two at a time), then prints a
//! table of fault × outcome, and fails when any fault did.
//!
//! `cargo test --release -p lifeboat --test faults -- WORD…` runs the faults whose
//! name holds a WORD. `LIFEBOAT_FAULT_SEED` replays the random kill points of a run
//! (every run prints its seed); `LIFEBOAT_FAULT_POINTS` sets their number per source.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "../support/mod.rs"]
mod support;

mod common;
mod concurrency;
mod corruption;
mod crash;
mod daemon_load;
mod hostile;
mod producers;
mod secrets;
mod storage;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What a fault saw: short facts for the table ("10 kills, 0 partial snapshots").
#[derive(Default)]
pub struct Log {
    facts: Vec<String>,
}

impl Log {
    pub fn fact(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("  · {text}");
        self.facts.push(text);
    }
}

type Fault = (&'static str, fn(&mut Log));

const FAULTS: &[Fault] = &[
    (
        "crash mid-backup: postgres dump",
        crash::mid_backup_postgres,
    ),
    ("crash mid-backup: files tree", crash::mid_backup_files),
    ("crash mid-restore (--force)", crash::mid_restore),
    ("crash mid-prune", crash::mid_prune),
    ("crash mid-copy", crash::mid_copy),
    (
        "producer: pg_dump killed mid-stream",
        producers::pg_dump_killed,
    ),
    (
        "producer: postgres stopped mid-dump",
        producers::postgres_stopped,
    ),
    (
        "producer: mariadb-dump killed mid-stream",
        producers::mariadb_dump_killed,
    ),
    (
        "producer: redis closes the stream early",
        producers::redis_closes_early,
    ),
    (
        "producer: command prints data then exits 1",
        producers::command_exits_1,
    ),
    (
        "producer: hook hangs past its timeout",
        producers::hook_hangs,
    ),
    (
        "storage: repository made read-only mid-run",
        storage::read_only_mid_run,
    ),
    ("storage: disk full", storage::disk_full),
    (
        "storage: S3 killed mid-backup",
        storage::s3_killed_mid_backup,
    ),
    ("storage: S3 killed mid-copy", storage::s3_killed_mid_copy),
    (
        "corruption: flipped byte in a pack",
        corruption::flipped_byte,
    ),
    ("corruption: deleted index file", corruption::deleted_index),
    (
        "corruption: truncated snapshot file",
        corruption::truncated_snapshot,
    ),
    ("corruption: missing key file", corruption::missing_key),
    (
        "concurrency: two backups of one app",
        concurrency::two_backups,
    ),
    (
        "concurrency: prune during a backup",
        concurrency::prune_during_backup,
    ),
    (
        "concurrency: daemon and a manual backup",
        concurrency::daemon_and_manual,
    ),
    (
        "secrets: children's argv and environment, outputs",
        secrets::children,
    ),
    ("daemon under load: 50 apps", daemon_load::fifty_apps),
    (
        "hostile: symlinks out of a files tree",
        hostile::symlinks_out_of_the_tree,
    ),
];

struct Outcome {
    name: &'static str,
    passed: bool,
    took: Duration,
    facts: Vec<String>,
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let chosen: Vec<Fault> = FAULTS
        .iter()
        .copied()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    eprintln!(
        "fault suite: {} faults, seed {} (replay with LIFEBOAT_FAULT_SEED={})",
        chosen.len(),
        common::seed(),
        common::seed()
    );
    let outcomes = run_all(chosen, jobs());
    print_table(&outcomes);
    if outcomes.iter().any(|o| !o.passed) {
        std::process::exit(1);
    }
}

fn jobs() -> usize {
    std::env::var("LIFEBOAT_FAULT_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(2)
}

/// Runs the faults on `jobs` threads; outcomes in the order of `faults`.
fn run_all(faults: Vec<Fault>, jobs: usize) -> Vec<Outcome> {
    let queue = Arc::new(Mutex::new(
        faults.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let done = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..jobs.max(1))
        .map(|_| {
            let (queue, done) = (queue.clone(), done.clone());
            std::thread::spawn(move || loop {
                let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
                let Some((index, (name, fault))) = next else {
                    break;
                };
                let outcome = run_one(name, fault);
                done.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((index, outcome));
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut outcomes = std::mem::take(&mut *done.lock().unwrap_or_else(PoisonError::into_inner));
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

fn run_one(name: &'static str, fault: fn(&mut Log)) -> Outcome {
    eprintln!("fault: {name} …");
    let started = Instant::now();
    let mut log = Log::default();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| fault(&mut log)));
    let took = started.elapsed();
    let passed = result.is_ok();
    if let Err(panic) = result {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        log.facts
            .push(format!("FAILED: {}", why.lines().next().unwrap_or("")));
    }
    eprintln!(
        "fault: {name}: {} in {took:.1?}",
        if passed { "ok" } else { "FAILED" }
    );
    Outcome {
        name,
        passed,
        took,
        facts: log.facts,
    }
}

fn print_table(outcomes: &[Outcome]) {
    println!("\n| fault | outcome | time | what was seen |");
    println!("|---|---|---|---|");
    for o in outcomes {
        println!(
            "| {} | {} | {:.0} s | {} |",
            o.name,
            if o.passed { "pass" } else { "**FAIL**" },
            o.took.as_secs_f64(),
            o.facts
                .iter()
                .map(|f| short(f))
                .collect::<Vec<_>>()
                .join("; ")
                .replace('|', "\\|")
        );
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    println!(
        "\nfault suite: {} passed, {failed} failed",
        outcomes.len() - failed
    );
}

/// A fact cut to 300 characters for the table (error lines can be long).
fn short(fact: &str) -> String {
    match fact.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &fact[..at]),
        None => fact.to_string(),
    }
}

//! Bench helper (BENCHMARKS.md B8/B9): fills a repository with many lifeboat
//! snapshots quickly, by copying the ones real `lifeboat backup` runs stored.
//!
//! `bench_fill REPO DAYS` (password in `LIFEBOAT_PASSWORD`): every lifeboat backup in
//! REPO gets DAYS-1 copies, copy k taken k days earlier, with the same tree and tags
//! except `run=`, which names a run of that day as lifeboat's run ids do (the copies
//! of one original run form one run per day). A `lifeboat backup` per copy would cost
//! a key derivation and a process each; a copy is one small snapshot file.

use jiff::{SignedDuration, Zoned};
use lifeboat_core::layout::{run_id, tag_value, TAG_LIFEBOAT, TAG_VERIFY};
use rustic_core::repofile::{SnapshotFile, StringList};
use rustic_core::{Credentials, Repository, RepositoryOptions};
use std::process::ExitCode;

type Failure = Box<dyn std::error::Error>;

fn run_tag(time: &Zoned, original_run: &str) -> String {
    // lifeboat's run ids: the run's start in UTC, compact, and 16 random bits; the
    // copies keep the original's bits so that one day's copies form one run.
    let entropy = original_run
        .rsplit_once('-')
        .and_then(|(_, bits)| u16::from_str_radix(bits, 16).ok())
        .unwrap_or(0);
    let compact = time
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    format!("run={}", run_id(&compact, entropy))
}

fn copy(snap: &SnapshotFile, days_back: i64) -> Result<SnapshotFile, Failure> {
    let mut copy = snap.clone();
    copy.time = snap
        .time
        .checked_sub(SignedDuration::from_hours(24 * days_back))?;
    copy.parent = None;
    copy.original = None;
    let tags: Vec<String> = snap.tags.iter().cloned().collect();
    let original_run = tag_value(&tags, "run").unwrap_or_default();
    let old: StringList = format!("run={original_run}").parse()?;
    copy.tags.remove_all(&[old]);
    copy.tags.add(run_tag(&copy.time, original_run));
    Ok(copy)
}

fn fill(repo_path: &str, days: i64) -> Result<usize, Failure> {
    let password = std::env::var("LIFEBOAT_PASSWORD")
        .map_err(|_| "LIFEBOAT_PASSWORD must hold the repository's password")?;
    let backends = rustic_backend::BackendOptions::default()
        .repository(repo_path)
        .to_backends()?;
    let mut opts = RepositoryOptions::default();
    opts.no_cache = true;
    let repo = Repository::new(&opts, &backends)?.open(&Credentials::password(password))?;
    let originals = repo.get_matching_snapshots(|s| {
        s.tags.contains(TAG_LIFEBOAT) && !s.tags.contains(TAG_VERIFY)
    })?;
    if originals.is_empty() {
        return Err("no lifeboat backups to copy: run `lifeboat backup` first".into());
    }
    let mut copies = Vec::new();
    for snap in &originals {
        for k in 1..days {
            copies.push(copy(snap, k)?);
        }
    }
    let n = copies.len();
    repo.save_snapshots(copies)?;
    Ok(n)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (repo, days) = match args.as_slice() {
        [repo, days] => match days.parse::<i64>() {
            Ok(d) if d >= 1 => (repo.clone(), d),
            _ => {
                eprintln!("bench_fill: DAYS must be a whole number ≥ 1, not {days}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: bench_fill REPO DAYS   (password in LIFEBOAT_PASSWORD)");
            return ExitCode::from(2);
        }
    };
    match fill(&repo, days) {
        Ok(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_fill: {e}");
            ExitCode::FAILURE
        }
    }
}

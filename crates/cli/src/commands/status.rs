//! `lifeboat status [--json]`: per source the last backup, the last verification, the
//! next scheduled backup, verification and prune, and the repository's size. Works
//! without the daemon: from one listing of the repository and the configuration.

use crate::output::bytes;
use crate::Ctx;
use jiff::Timestamp;
use lifeboat_engine::schedule::{last_backup, newest_backups};
use lifeboat_engine::status::{status, Next, SourceStatus};
use lifeboat_engine::Plan;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Serialize)]
struct Status {
    repository: RepositoryStatus,
    sources: Vec<SourceStatus>,
}

#[derive(Serialize)]
struct RepositoryStatus {
    url: String,
    size_bytes: u64,
    snapshots: usize,
}

pub fn run(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    let config = &loaded.config;
    let mut repo = super::open_repo(config)?;
    let facts = crate::daemon::state::RepoFacts::read(&mut repo, &config.repository.url)?;
    let (backups, records) = (&facts.backups, &facts.records);
    let now = Timestamp::now();
    let newest = newest_backups(backups);
    let plan = Plan::new(config, now, false, &|k| last_backup(config, &newest, k));
    let status = Status {
        repository: RepositoryStatus {
            url: facts.url.clone(),
            size_bytes: facts.size_bytes,
            snapshots: backups.len() + records.len(),
        },
        sources: status(config, backups, records, &plan, now),
    };
    if ctx.json {
        crate::output::json(&status)?;
    } else {
        print(&status, &config.time_zone(), now);
    }
    Ok(ExitCode::SUCCESS)
}

const HEADER: [&str; 7] = [
    "APP/SOURCE",
    "LAST BACKUP",
    "SIZE",
    "ADDED",
    "VERIFIED",
    "NEXT BACKUP",
    "NEXT PRUNE",
];

fn print(status: &Status, tz: &jiff::tz::TimeZone, now: Timestamp) {
    let when = |t: Timestamp| {
        t.to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    };
    let rows: Vec<Vec<String>> = status
        .sources
        .iter()
        .map(|s| {
            let last = match &s.last_backup {
                Some(b) => format!("{} ({} ago)", when(b.time), age(now, b.time)),
                None => "never".into(),
            };
            let verified = match &s.last_verification {
                Some(v) => format!("{} {}", if v.ok { "✓" } else { "✗" }, when(v.time)),
                None => "–".into(),
            };
            let next = |n: &Next| match n {
                Next::At { time, .. } => when(*time),
                Next::AfterEachBackup => "after each backup".into(),
                Next::Never => "–".into(),
            };
            let flag = if s.overdue { "  OVERDUE" } else { "" };
            vec![
                format!("{}/{}", s.app, s.source),
                format!("{last}{flag}"),
                s.last_backup.as_ref().map_or("–".into(), |b| bytes(b.size)),
                s.last_backup
                    .as_ref()
                    .map_or("–".into(), |b| bytes(b.added)),
                verified,
                next(&s.next_backup),
                next(&s.next_prune),
            ]
        })
        .collect();
    crate::output::table(&HEADER, &rows);
    let r = &status.repository;
    println!(
        "repository {}: {} snapshot(s), {}",
        r.url,
        r.snapshots,
        bytes(r.size_bytes)
    );
}

/// `3h`, `2d`: how long ago, roughly.
fn age(now: Timestamp, then: Timestamp) -> String {
    let secs = now.duration_since(then).as_secs().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

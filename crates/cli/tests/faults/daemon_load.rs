//! The daemon under load: 50 apps with small sources on a 15-second schedule for two
//! minutes. No job starts while its previous run goes on, every due run either starts
//! or is logged as skipped, the daemon's memory stays flat (RSS at the end within 20 %
//! of after the first minute), and SIGTERM ends it within its grace period.

use crate::support::daemon::Daemon;
use crate::support::Workspace;
use crate::Log;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const APPS: usize = 50;
const EVERY: u64 = 15;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn minutes() -> f64 {
    std::env::var("LIFEBOAT_FAULT_DAEMON_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(2.0)
}

pub fn fifty_apps(log: &mut Log) {
    let ws = Workspace::new();
    let mut text = "[daemon]\nshutdown_grace = \"10s\"\n\n".to_string();
    for i in 0..APPS {
        text.push_str(&format!(
            "[[app]]\nname = \"app{i:02}\"\nschedule = \"*/{EVERY} * * * * *\"\nretention = {{ strategy = \"daily\", keep = 3 }}\n\n\
             [[app.source]]\nname = \"state\"\nkind = \"command\"\nbackup_command = \"echo app{i:02}; date +%s%N; seq 1 2000\"\nfilename = \"state.txt\"\n\n"
        ));
    }
    ws.config(&text);
    ws.run(&["init"]).assert_ok();
    let daemon = Daemon::start(&ws);
    let started = Instant::now();
    let total = Duration::from_secs_f64(minutes() * 60.0);
    // Peaks, since RSS follows how many jobs run at the moment: the highest of the
    // first minute against the highest of the last half minute.
    let first_minute = Duration::from_secs(60).min(total / 2);
    let (mut rss_first, mut rss_end) = (0, 0);
    while started.elapsed() < total {
        let rss = rss_kib(daemon.pid());
        if started.elapsed() <= first_minute {
            rss_first = rss_first.max(rss);
        } else if started.elapsed() + Duration::from_secs(30) >= total {
            rss_end = rss_end.max(rss);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let ran_for = started.elapsed();
    let stopping = Instant::now();
    daemon.signal("TERM");
    let lines_before = daemon.lines();
    let (exit, _) = daemon.wait(Duration::from_secs(30));
    let stop_took = stopping.elapsed();
    assert_eq!(exit, Some(0), "SIGTERM: exit 0");
    assert!(
        stop_took < Duration::from_secs(15),
        "stopped within the 10 s grace (+5 s): {stop_took:?}"
    );

    // Per job: never started while running; runs + skips cover the due times.
    let mut running: HashMap<String, bool> = HashMap::new();
    let (mut starts, mut skips, mut failures, mut batches) = (
        HashMap::<String, u64>::new(),
        HashMap::<String, u64>::new(),
        0,
        0,
    );
    for line in &lines_before {
        let job = line["job"].as_str().unwrap_or("").to_string();
        match line["message"].as_str().unwrap_or("") {
            "job started" => {
                assert!(
                    !running.get(&job).copied().unwrap_or(false),
                    "{job} started twice: {line}"
                );
                running.insert(job.clone(), true);
                *starts.entry(job).or_default() += 1;
            }
            "job done" => {
                running.insert(job.clone(), false);
                if line["ok"] != true {
                    failures += 1;
                }
            }
            m if m.starts_with("skipped") => *skips.entry(job).or_default() += 1,
            "retention applied" => batches += 1,
            _ => {}
        }
    }
    let due = ran_for.as_secs() / EVERY;
    let backups: Vec<&String> = starts.keys().filter(|k| k.contains("backup")).collect();
    assert_eq!(
        backups.len(),
        APPS,
        "every app's backup job ran: {:?}",
        starts.keys().collect::<Vec<_>>()
    );
    for job in &backups {
        let covered = starts[*job] + skips.get(*job).copied().unwrap_or(0);
        assert!(
            covered + 1 >= due,
            "{job}: {covered} runs or skips logged of {due} due"
        );
    }
    assert_eq!(failures, 0, "no job failed");
    let grew = rss_end as f64 / rss_first.max(1) as f64;
    assert!(
        grew < 1.2,
        "RSS {rss_first} KiB after the first minute, {rss_end} KiB at the end"
    );
    // Retention (keep the newest 3) reached every app, though retentions run in
    // batches: each app backed up five times or more keeps fewer than it made.
    let mut kept: HashMap<String, u64> = HashMap::new();
    for backup in ws.list() {
        *kept
            .entry(backup["app"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    for job in &backups {
        let app = job.trim_start_matches("backup of ").to_string();
        let made = starts[*job];
        let left = kept.get(&app).copied().unwrap_or(0);
        assert!(
            made < 5 || left < made,
            "{app}: {left} backups kept of {made} made: its retention never ran"
        );
    }
    let backup_runs: u64 = backups.iter().map(|k| starts[*k]).sum();
    let retentions: u64 = starts.values().sum::<u64>() - backup_runs;
    let skipped: u64 = skips.values().sum();
    log.fact(format!(
        "{APPS} apps every {EVERY} s for {ran_for:.0?}: {backup_runs} backups of {} due, {retentions} retentions in {batches} batches, {skipped} logged skips, 0 started twice, 0 failed",
        due * APPS as u64
    ));
    log.fact(format!(
        "peak RSS {} MiB in the first minute, {} MiB in the last 30 s ({:+.0} %)",
        rss_first / 1024,
        rss_end / 1024,
        (grew - 1.0) * 100.0
    ));
    log.fact(format!(
        "SIGTERM: exit 0 after {stop_took:.1?} (grace 10 s)"
    ));
}

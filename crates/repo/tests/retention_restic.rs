//! restic as the oracle for lifeboat's retention: for a set of custom policies over a
//! few hundred snapshots spread over two years, `lifeboat_core::retention::plan` keeps
//! exactly the snapshots that the stock `restic forget --dry-run` keeps.
//!
//! The repositories are real restic repositories: restic creates them and takes the
//! first backups (`restic backup --time`); the other snapshots are written with their
//! times through rustic_core (a `restic backup` costs a key derivation, ~0.7 s, per
//! snapshot), and restic reads them all back. This test lives in `lifeboat-repo`
//! because that is the crate allowed to use rustic_core.
//!
//! restic buckets by each snapshot's stored offset (Go keeps the offset it parses), so
//! the UTC repository is written with UTC times and compared with lifeboat in UTC, and
//! the Berlin one is written the way `TZ=Europe/Berlin restic backup` writes and
//! compared, under `TZ=Europe/Berlin`, with lifeboat in Europe/Berlin.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use lifeboat_core::retention::{plan, Candidate, KeepWithin, Retention, RetentionPolicy, Role};
use rustic_core::{Credentials, Repository, RepositoryOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PASSWORD: &str = "restic-is-the-oracle";
const RESTIC: &str = "restic";
/// Snapshots taken by `restic backup` itself; the rest are written with rustic_core.
const RESTIC_BACKUPS: usize = 3;

/// A restic repository driven through the `restic` binary, in time zone `tz`.
struct Restic {
    repo: PathBuf,
    tz: &'static str,
}

impl Restic {
    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(RESTIC)
            .arg("--no-cache")
            .args(args)
            .env("RESTIC_REPOSITORY", &self.repo)
            .env("RESTIC_PASSWORD", PASSWORD)
            .env("TZ", self.tz)
            .env_remove("RESTIC_PASSWORD_FILE")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .env_remove("RESTIC_REPOSITORY_FILE")
            .output();
        let out = out.unwrap_or_else(|e| missing(e));
        assert!(
            out.status.success(),
            "restic {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Every snapshot as (id, time), as `restic snapshots` lists them.
    fn snapshots(&self) -> Vec<(String, Timestamp)> {
        let list: serde_json::Value =
            serde_json::from_slice(&self.run(&["snapshots", "--json", "--no-lock"]))
                .expect("restic snapshots --json");
        list.as_array()
            .expect("an array of snapshots")
            .iter()
            .map(id_and_time)
            .collect()
    }

    /// The ids `restic forget --dry-run` keeps with these `--keep-*` arguments.
    fn kept(&self, keep: &[String]) -> BTreeSet<String> {
        let mut args = vec![
            "forget",
            "--dry-run",
            "--json",
            "--no-lock",
            "--group-by",
            "",
        ];
        args.extend(keep.iter().map(String::as_str));
        let groups: serde_json::Value =
            serde_json::from_slice(&self.run(&args)).expect("restic forget --json");
        let groups = groups.as_array().expect("an array of groups");
        assert_eq!(groups.len(), 1, "one group: {groups:?}");
        groups[0]["keep"]
            .as_array()
            .expect("kept snapshots")
            .iter()
            .map(|s| id_and_time(s).0)
            .collect()
    }
}

/// The test fails, never skips, without restic.
fn missing(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::NotFound {
        panic!("no `{RESTIC}` binary on PATH: install restic (apt-get install -y restic)")
    }
    panic!("running {RESTIC}: {e}")
}

fn id_and_time(snapshot: &serde_json::Value) -> (String, Timestamp) {
    let id = snapshot["id"].as_str().expect("snapshot id").to_string();
    let time = snapshot["time"]
        .as_str()
        .expect("snapshot time")
        .parse()
        .expect("RFC 3339 time");
    (id, time)
}

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

/// ~300 distinct instants from 2024-01-01 to 2025-12-31: clusters minutes apart,
/// gaps of hours and of days, plus chosen ones (leap day, month and year ends, the
/// nights of Europe/Berlin's DST changes). Deterministic.
fn schedule() -> Vec<Timestamp> {
    let mut state = 0x5eed_1f0e_u64;
    let mut random = move || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let end = ts("2025-12-31T12:00:00Z");
    let mut t = ts("2024-01-01T00:17:00Z");
    let mut out = Vec::new();
    while t < end {
        out.push(t);
        let r = random();
        let minutes = match r % 10 {
            0..=2 => 1 + (r >> 8) % 90,
            3..=6 => 180 + (r >> 8) % 1620,
            _ => 1800 + (r >> 8) % 18000,
        };
        let minutes = i64::try_from(minutes).expect("small");
        let seconds = i64::try_from((r >> 40) % 60).expect("small");
        t = t + SignedDuration::from_mins(minutes) + SignedDuration::from_secs(seconds);
    }
    out.extend(
        [
            "2024-02-28T23:30:00Z",
            "2024-02-29T12:00:00Z",
            "2024-02-29T23:59:59Z",
            "2024-03-01T00:00:00Z",
            "2024-03-30T23:30:00Z", // 00:30 CET on Berlin's DST day
            "2024-03-31T00:30:00Z", // 01:30 CET
            "2024-03-31T01:30:00Z", // 03:30 CEST
            "2024-10-27T00:30:00Z", // 02:30 CEST
            "2024-10-27T01:30:00Z", // 02:30 CET, the same local hour
            "2024-11-30T23:30:00Z", // 1 December in Berlin
            "2024-12-31T23:59:59Z",
            "2025-01-01T00:00:00Z",
            "2025-03-30T00:30:00Z",
            "2025-05-31T22:30:00Z", // 1 June in Berlin
            "2025-10-26T00:30:00Z",
            "2025-10-26T01:30:00Z",
            // The newest, on a 31st: `--keep-within 10m` reaches back to "2025-02-31",
            // which Go makes 2025-03-03 (not 02-28), and `1m` to "2025-11-31", 12-01.
            "2025-03-01T12:00:00Z",
            "2025-03-02T12:00:00Z",
            "2025-12-01T12:00:00Z",
            "2025-12-31T21:30:00Z",
        ]
        .map(ts),
    );
    out.sort();
    out.dedup();
    out
}

/// A custom policy, as restic's arguments and as lifeboat's policy.
#[derive(Clone, Copy, Default)]
struct Keep {
    last: u32,
    hourly: u32,
    daily: u32,
    weekly: u32,
    monthly: u32,
    yearly: u32,
    within: Option<&'static str>,
}

impl Keep {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (flag, n) in [
            ("--keep-last", self.last),
            ("--keep-hourly", self.hourly),
            ("--keep-daily", self.daily),
            ("--keep-weekly", self.weekly),
            ("--keep-monthly", self.monthly),
            ("--keep-yearly", self.yearly),
        ] {
            if n > 0 {
                args.extend([flag.to_string(), n.to_string()]);
            }
        }
        if let Some(w) = self.within {
            args.extend(["--keep-within".to_string(), w.to_string()]);
        }
        args
    }

    fn retention(&self) -> Retention {
        Retention::from(RetentionPolicy::Custom {
            keep_last: self.last,
            keep_hourly: self.hourly,
            keep_daily: self.daily,
            keep_weekly: self.weekly,
            keep_monthly: self.monthly,
            keep_yearly: self.yearly,
            keep_within: self
                .within
                .map(|w| w.parse::<KeepWithin>().expect("keep_within")),
        })
    }
}

/// A restic repository holding a snapshot at each of `times`, written in zone `tz`.
fn repository(dir: &Path, tz_name: &'static str, times: &[Timestamp]) -> Restic {
    let name = tz_name.replace('/', "-");
    let restic = Restic {
        repo: dir.join(format!("repo-{name}")),
        tz: tz_name,
    };
    let tz = TimeZone::get(tz_name).expect("time zone");
    let file = dir.join(format!("tiny-{name}.txt"));
    std::fs::write(&file, b"tiny\n").expect("write the tiny file");
    let file = file.to_str().expect("UTF-8 path");
    restic.run(&["init", "-q"]);
    for t in &times[..RESTIC_BACKUPS] {
        // restic reads --time as local time, in TZ.
        let wall = t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string();
        restic.run(&["backup", "-q", "--time", &wall, "--tag", "oracle", file]);
    }

    let backends = rustic_backend::BackendOptions::default()
        .repository(restic.repo.to_str().expect("UTF-8 path"))
        .to_backends()
        .expect("backends");
    let mut opts = RepositoryOptions::default();
    opts.no_cache = true;
    let repo = Repository::new(&opts, &backends)
        .expect("repository")
        .open(&Credentials::password(PASSWORD))
        .expect("open");
    let template = repo
        .get_all_snapshots()
        .expect("snapshots")
        .into_iter()
        .next()
        .expect("restic's own backups");
    let forged = times[RESTIC_BACKUPS..]
        .iter()
        .map(|t| {
            let mut snap = template.clone();
            snap.time = t.to_zoned(tz.clone());
            snap.parent = None;
            snap
        })
        .collect();
    repo.save_snapshots(forged).expect("save snapshots");
    restic
}

/// Runs every policy through restic (in parallel) and lifeboat and compares the sets.
/// Returns lifeboat's kept sets in zone `other`, for the caller to compare.
fn compare(
    restic: &Restic,
    policies: &[Keep],
    tz: &TimeZone,
    other: &TimeZone,
) -> Vec<(BTreeSet<String>, BTreeSet<String>)> {
    let snapshots = restic.snapshots();
    let candidates: Vec<Candidate> = snapshots
        .iter()
        .map(|(id, t)| Candidate::new(id.clone(), *t, Role::Backup))
        .collect();
    let time_of = |id: &str| {
        snapshots
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, t)| t.to_zoned(tz.clone()).to_string())
            .unwrap_or_default()
    };
    let now = Timestamp::now();
    let oracle: Vec<BTreeSet<String>> = std::thread::scope(|s| {
        let runs: Vec<_> = policies
            .iter()
            .map(|p| s.spawn(move || restic.kept(&p.args())))
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("restic forget"))
            .collect()
    });
    let mut out = Vec::new();
    for (policy, restic_kept) in policies.iter().zip(oracle) {
        let decisions = plan(&candidates, &policy.retention(), now, tz);
        let ours: BTreeSet<String> = decisions
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.id.clone())
            .collect();
        let only_ours: Vec<String> = ours
            .difference(&restic_kept)
            .map(|id| {
                let why = decisions.iter().find(|d| &d.id == id).map(|d| &d.reason);
                format!("{} ({why:?})", time_of(id))
            })
            .collect();
        let only_restic: Vec<String> = restic_kept
            .difference(&ours)
            .map(|id| time_of(id))
            .collect();
        assert!(
            only_ours.is_empty() && only_restic.is_empty(),
            "{} with {:?}: kept only by lifeboat {only_ours:?}, only by restic {only_restic:?}",
            restic.tz,
            policy.args()
        );
        assert!(
            ours.len() < candidates.len(),
            "{:?} removes some",
            policy.args()
        );
        let elsewhere = plan(&candidates, &policy.retention(), now, other)
            .into_iter()
            .filter(|d| d.keep)
            .map(|d| d.id)
            .collect();
        out.push((ours, elsewhere));
    }
    out
}

fn policies() -> Vec<Keep> {
    let k = Keep::default();
    vec![
        Keep { last: 7, ..k },
        Keep { hourly: 40, ..k },
        Keep { daily: 30, ..k },
        Keep { weekly: 20, ..k },
        Keep { monthly: 15, ..k },
        Keep { yearly: 1, ..k },
        Keep {
            daily: 7,
            weekly: 5,
            monthly: 12,
            yearly: 3,
            ..k
        },
        Keep {
            last: 3,
            hourly: 12,
            daily: 10,
            weekly: 6,
            monthly: 6,
            ..k
        },
        Keep {
            within: Some("30d"),
            ..k
        },
        Keep {
            within: Some("1y2m3d4h"),
            ..k
        },
        Keep {
            within: Some("2m"),
            daily: 5,
            monthly: 6,
            ..k
        },
        Keep {
            within: Some("10m"),
            ..k
        },
        Keep {
            within: Some("1m"),
            weekly: 8,
            ..k
        },
        Keep {
            within: Some("10d12h"),
            hourly: 20,
            weekly: 30,
            ..k
        },
    ]
}

#[test]
fn lifeboat_keeps_what_restic_forget_keeps() {
    let started = Instant::now();
    let version = Command::new(RESTIC)
        .arg("version")
        .output()
        .unwrap_or_else(|e| missing(e));
    eprintln!(
        "oracle: {}",
        String::from_utf8_lossy(&version.stdout).trim()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let times = schedule();
    assert!(
        (250..=400).contains(&times.len()),
        "{} snapshots",
        times.len()
    );

    let utc = TimeZone::UTC;
    let berlin = TimeZone::get("Europe/Berlin").expect("time zone");
    let k = Keep::default();
    let zoned = [
        Keep { hourly: 60, ..k },
        Keep {
            daily: 40,
            weekly: 12,
            ..k
        },
        Keep {
            monthly: 24,
            yearly: 2,
            ..k
        },
        Keep {
            within: Some("5m1d"),
            ..k
        },
        Keep {
            within: Some("10m"),
            ..k
        },
    ];
    // The two repositories are built and checked side by side (restic's key
    // derivation is most of the time).
    std::thread::scope(|s| {
        let in_utc = s.spawn(|| {
            let restic = repository(dir.path(), "UTC", &times);
            let listed: BTreeSet<Timestamp> =
                restic.snapshots().into_iter().map(|(_, t)| t).collect();
            assert_eq!(
                listed,
                times.iter().copied().collect(),
                "restic lists them all"
            );
            compare(&restic, &policies(), &utc, &berlin);
        });
        let in_berlin = s.spawn(|| {
            let restic = repository(dir.path(), "Europe/Berlin", &times);
            let results = compare(&restic, &zoned, &berlin, &utc);
            // The zone matters: in UTC lifeboat would keep other snapshots than restic.
            assert!(
                results.iter().any(|(berlin, utc)| berlin != utc),
                "the Berlin policies must tell the zones apart"
            );
        });
        in_utc.join().expect("the UTC repository agrees");
        in_berlin.join().expect("the Berlin repository agrees");
    });
    eprintln!(
        "{} snapshots, {} + {} policies: {:.1} s",
        times.len(),
        policies().len(),
        zoned.len(),
        started.elapsed().as_secs_f64()
    );
}

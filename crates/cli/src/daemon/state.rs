//! The daemon's in-memory state, which HTTP serves: the repository's backups and
//! verification records (read at start and again after each job, never per request),
//! per source the last attempt and the counters of this process, the last
//! verification's measured time and findings, and the plan's next runs.

use jiff::Timestamp;
use lifeboat_core::ports::SnapshotInfo;
use lifeboat_core::{Config, VerifyReport};
use lifeboat_engine::status::{status, SourceStatus};
use lifeboat_engine::{BackupReport, Plan};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

type Key = (String, String);

/// What this process saw of a source's backups.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attempts {
    pub last_attempt: Option<Timestamp>,
    pub last_ok: Option<bool>,
    pub last_error: Option<String>,
    pub last_duration_ms: u64,
    pub last_size: u64,
    pub last_added: u64,
    pub last_success: Option<Timestamp>,
    pub backups_total: u64,
    pub failures_total: u64,
}

/// The last verification this process ran of a source.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub time: Timestamp,
    pub ok: bool,
    /// Restore plus checks: the restore time a user can expect (RTO).
    pub duration_ms: u64,
    pub problems: Vec<String>,
}

/// The repository as last read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RepoFacts {
    pub url: String,
    pub size_bytes: u64,
    pub backups: Vec<SnapshotInfo>,
    pub records: Vec<SnapshotInfo>,
    pub last_prune: Option<Timestamp>,
}

impl RepoFacts {
    /// One snapshot listing and one pack listing (what `status` and the daemon show).
    pub fn read(repo: &mut lifeboat_repo::Repo, url: &str) -> anyhow::Result<RepoFacts> {
        let listing = repo.listing()?;
        Ok(RepoFacts {
            url: url.to_string(),
            backups: listing.backups,
            records: listing.verifications,
            size_bytes: repo.data_size()?,
            last_prune: None,
        })
    }
}

#[derive(Debug)]
struct Inner {
    config: Arc<Config>,
    plan: Plan,
    repo: RepoFacts,
    attempts: HashMap<Key, Attempts>,
    verified: HashMap<Key, Verified>,
    /// The scheduler loop's last turn (for /healthz).
    heartbeat: std::time::Instant,
}

/// Shared between the scheduler loop, the job threads and the HTTP server.
#[derive(Debug, Clone)]
pub struct State(Arc<RwLock<Inner>>);

/// One source as the API and the dashboard show it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    #[serde(flatten)]
    pub status: SourceStatus,
    pub attempts: Attempts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
    /// Red on the dashboard: the last attempt failed, or the backup is overdue.
    pub failing: bool,
}

/// `GET /api/status`: `lifeboat status --json` plus what the daemon saw.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub repository: RepositoryView,
    pub sources: Vec<SourceView>,
    pub running: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepositoryView {
    pub url: String,
    pub size_bytes: u64,
    pub snapshots: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_prune: Option<Timestamp>,
}

impl State {
    pub fn new(config: Arc<Config>, plan: Plan, repo: RepoFacts) -> State {
        State(Arc::new(RwLock::new(Inner {
            config,
            plan,
            repo,
            attempts: HashMap::new(),
            verified: HashMap::new(),
            heartbeat: std::time::Instant::now(),
        })))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The loop's turn: its plan now (next runs, what runs).
    pub fn beat(&self, plan: &Plan) {
        let mut inner = self.write();
        inner.plan = plan.clone();
        inner.heartbeat = std::time::Instant::now();
    }

    pub fn reconfigure(&self, config: Arc<Config>) {
        self.write().config = config;
    }

    /// How long ago the loop last turned.
    pub fn since_heartbeat(&self) -> std::time::Duration {
        self.read().heartbeat.elapsed()
    }

    /// A fresh read of the repository (after each job).
    pub fn repository_read(&self, facts: RepoFacts) {
        let mut inner = self.write();
        let last_prune = inner.repo.last_prune;
        inner.repo = RepoFacts {
            last_prune,
            ..facts
        };
    }

    pub fn backup_done(&self, report: &BackupReport, started: Timestamp) {
        let mut inner = self.write();
        for s in &report.sources {
            let entry = inner
                .attempts
                .entry((s.app.clone(), s.source.clone()))
                .or_default();
            entry.last_attempt = Some(started);
            entry.last_ok = Some(s.ok);
            entry.last_error = s.error.clone();
            entry.last_duration_ms = s.duration_ms;
            if s.ok {
                entry.backups_total += 1;
                entry.last_size = s.size;
                entry.last_added = s.added;
                entry.last_success = Some(started);
            } else {
                entry.failures_total += 1;
            }
        }
    }

    pub fn verify_done(&self, report: &VerifyReport, at: Timestamp) {
        self.write().verified.insert(
            (report.app.clone(), report.source.clone()),
            Verified {
                time: at,
                ok: report.ok,
                duration_ms: report.duration_ms,
                problems: report.problems.clone(),
            },
        );
    }

    pub fn pruned(&self, at: Timestamp) {
        self.write().repo.last_prune = Some(at);
    }

    /// Everything the API, the metrics and the dashboard show.
    pub fn view(&self, now: Timestamp) -> StatusView {
        let inner = self.read();
        let statuses = status(
            &inner.config,
            &inner.repo.backups,
            &inner.repo.records,
            &inner.plan,
            now,
        );
        let sources = statuses
            .into_iter()
            .map(|status| {
                let key = (status.app.clone(), status.source.clone());
                let attempts = inner.attempts.get(&key).cloned().unwrap_or_default();
                let failing = status.overdue || attempts.last_ok == Some(false);
                SourceView {
                    verified: inner.verified.get(&key).cloned(),
                    status,
                    attempts,
                    failing,
                }
            })
            .collect();
        StatusView {
            repository: RepositoryView {
                url: inner.repo.url.clone(),
                size_bytes: inner.repo.size_bytes,
                snapshots: inner.repo.backups.len() + inner.repo.records.len(),
                last_prune: inner.repo.last_prune,
            },
            sources,
            running: inner
                .plan
                .running()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// Every backup (oldest first) for the dashboard's history and chart.
    pub fn backups(&self) -> Vec<SnapshotInfo> {
        self.read().repo.backups.clone()
    }
}

//! The daemon's plan: which work (backup, verify, prune) of which app is due when,
//! what may start now and what is skipped. The rules: one run per app at a time, at
//! most `max_parallel` runs, a prune (or retention after a backup) runs alone since
//! it needs the repository's exclusive lock, a run still going when its next time
//! comes is skipped, and a backup missed while the daemon was down runs once at start.
//! Pure: time is an argument; the daemon's loop does the work.

#[cfg(test)]
mod tests;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use lifeboat_core::ports::SnapshotInfo;
use lifeboat_core::{AppSpec, Config, Schedule, SourceSpec};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    Backup,
    Verify,
    /// Retention and space reclaim on `prune_schedule`.
    Prune,
    /// Retention (and reclaim) right after a backup, when there is no `prune_schedule`.
    Retain,
}

impl Work {
    /// Needs the repository's exclusive lock, so it runs with nothing else.
    pub fn is_exclusive(self) -> bool {
        matches!(self, Work::Prune | Work::Retain)
    }

    pub fn name(self) -> &'static str {
        match self {
            Work::Backup => "backup",
            Work::Verify => "verify",
            Work::Prune => "prune",
            Work::Retain => "retention",
        }
    }
}

/// One job: an app's work, or the backup of one source with its own schedule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct JobKey {
    pub app: String,
    /// A source with its own `schedule`; `None` is the app's (its other sources).
    pub source: Option<String>,
    pub work: Work,
}

impl JobKey {
    /// The app and the sources this job covers: a backup covers the app's sources
    /// without their own schedule (or that one source), retention those with a
    /// policy, verify and prune all of them.
    pub fn sources<'c>(&self, config: &'c Config) -> Option<(&'c AppSpec, Vec<&'c SourceSpec>)> {
        let app = config.app(&self.app)?;
        let sources = app
            .sources
            .iter()
            .filter(|s| match (&self.source, self.work) {
                (Some(name), _) => &s.name == name,
                (None, Work::Backup) => s.schedule.is_none(),
                (None, Work::Retain) => s.retention.is_some(),
                (None, Work::Verify | Work::Prune) => true,
            })
            .collect();
        Some((app, sources))
    }
}

/// The newest successful backup of each (app, source) (safety backups do not count).
pub type NewestBackups = HashMap<(String, String), Timestamp>;

pub fn newest_backups(backups: &[SnapshotInfo]) -> NewestBackups {
    let mut newest = NewestBackups::new();
    for info in backups.iter().filter(|i| !i.pre_restore) {
        let entry = newest
            .entry((info.app.clone(), info.source.clone()))
            .or_insert(info.timestamp);
        *entry = (*entry).max(info.timestamp);
    }
    newest
}

/// The oldest of the newest backups of a job's sources; `None` if one has none.
pub fn last_backup(config: &Config, newest: &NewestBackups, key: &JobKey) -> Option<Timestamp> {
    let (app, sources) = key.sources(config)?;
    sources
        .iter()
        .map(|s| newest.get(&(app.name.clone(), s.name.clone())).copied())
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .min()
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{} of {}/{source}", self.work.name(), self.app),
            None => write!(f, "{} of {}", self.work.name(), self.app),
        }
    }
}

#[derive(Debug, Clone)]
struct Job {
    key: JobKey,
    schedule: Schedule,
    next: Option<Timestamp>,
}

/// What the daemon should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Start(JobKey),
    /// Due, but not started: the same job is still running or already waiting.
    Skip {
        key: JobKey,
        why: &'static str,
    },
}

/// When a job runs next, for `status` and the logs.
#[derive(Debug, Clone, Serialize)]
pub struct NextRun {
    pub key: JobKey,
    pub schedule: String,
    pub next: Option<Timestamp>,
}

/// The schedules of a configuration and the state of their runs.
#[derive(Debug, Clone)]
pub struct Plan {
    jobs: Vec<Job>,
    /// Apps whose backups are followed by retention (they have one but no prune_schedule).
    retain_after_backup: Vec<String>,
    waiting: VecDeque<JobKey>,
    running: Vec<JobKey>,
    max_parallel: usize,
    tz: TimeZone,
    /// Shutting down: nothing starts any more.
    stopping: bool,
}

/// The newest successful backup time of what a backup job covers (the oldest of its
/// sources' newest, `None` when one has none): decides catch-up.
pub type LastBackup<'a> = &'a dyn Fn(&JobKey) -> Option<Timestamp>;

impl Plan {
    /// The jobs of `config` at `now`. With `catch_up`, a backup job whose last
    /// successful backup is older than one period (or missing) is due at once.
    pub fn new(config: &Config, now: Timestamp, catch_up: bool, last: LastBackup<'_>) -> Plan {
        let tz = config.time_zone();
        let mut jobs = Vec::new();
        let mut retain_after_backup = Vec::new();
        for app in &config.apps {
            let key = |source: Option<&str>, work| JobKey {
                app: app.name.clone(),
                source: source.map(str::to_string),
                work,
            };
            let app_sources = app.sources.iter().any(|s| s.schedule.is_none());
            if let (Some(schedule), true) = (&app.schedules.backup, app_sources) {
                jobs.push(Job::new(
                    key(None, Work::Backup),
                    schedule,
                    now,
                    &tz,
                    catch_up,
                    last,
                ));
            }
            for source in &app.sources {
                if let Some(schedule) = &source.schedule {
                    let k = key(Some(&source.name), Work::Backup);
                    jobs.push(Job::new(k, schedule, now, &tz, catch_up, last));
                }
            }
            if let Some(schedule) = &app.schedules.verify {
                jobs.push(Job::new(
                    key(None, Work::Verify),
                    schedule,
                    now,
                    &tz,
                    false,
                    last,
                ));
            }
            match &app.schedules.prune {
                Some(schedule) => jobs.push(Job::new(
                    key(None, Work::Prune),
                    schedule,
                    now,
                    &tz,
                    false,
                    last,
                )),
                None if app.sources.iter().any(|s| s.retention.is_some()) => {
                    retain_after_backup.push(app.name.clone())
                }
                None => {}
            }
        }
        Plan {
            jobs,
            retain_after_backup,
            waiting: VecDeque::new(),
            running: Vec::new(),
            max_parallel: config.daemon.max_parallel.max(1),
            tz,
            stopping: false,
        }
    }

    /// A plan for a reloaded configuration that keeps what runs and waits now.
    pub fn reloaded(self, mut new: Plan) -> Plan {
        new.running = self.running;
        new.waiting = self.waiting.into_iter().filter(|k| new.knows(k)).collect();
        new
    }

    fn knows(&self, key: &JobKey) -> bool {
        key.work == Work::Retain && self.retain_after_backup.contains(&key.app)
            || self.jobs.iter().any(|j| &j.key == key)
    }

    /// The earliest time a scheduled job is due (the loop sleeps until then).
    pub fn next_due(&self) -> Option<Timestamp> {
        self.jobs.iter().filter_map(|j| j.next).min()
    }

    /// Moves every job due at `now` to the waiting line (or skips it when it is
    /// running or waiting already), then starts what the rules allow.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Step> {
        let mut steps = Vec::new();
        for i in 0..self.jobs.len() {
            let Some(due) = self.jobs[i].next.filter(|t| *t <= now) else {
                continue;
            };
            self.jobs[i].advance(due, now, &self.tz);
            let key = self.jobs[i].key.clone();
            if let Some(why) = self.why_not_queued(&key) {
                steps.push(Step::Skip { key, why });
            } else {
                self.waiting.push_back(key);
            }
        }
        steps.extend(self.start_what_may().into_iter().map(Step::Start));
        steps
    }

    fn why_not_queued(&self, key: &JobKey) -> Option<&'static str> {
        if self.running.contains(key) {
            Some("the previous run is still going")
        } else if self.waiting.contains(key) {
            Some("already waiting for a free slot")
        } else {
            None
        }
    }

    /// Starts waiting jobs in order: an exclusive one waits for everything to finish
    /// and holds back the jobs behind it, so that backups cannot starve a prune.
    fn start_what_may(&mut self) -> Vec<JobKey> {
        let mut started = Vec::new();
        if self.stopping {
            return started;
        }
        let mut i = 0;
        while i < self.waiting.len() {
            let key = &self.waiting[i];
            let exclusive_running = self.running.iter().any(|k| k.work.is_exclusive());
            let full = self.running.len() >= self.max_parallel;
            let app_busy = self.running.iter().any(|k| k.app == key.app);
            if key.work.is_exclusive() && !self.running.is_empty() || exclusive_running || full {
                break;
            }
            if app_busy {
                i += 1;
                continue;
            }
            if let Some(key) = self.waiting.remove(i) {
                let retain = key.work == Work::Retain;
                self.running.push(key.clone());
                started.push(key);
                if retain {
                    started.extend(self.start_other_retentions());
                    break;
                }
            }
        }
        started
    }

    /// An exclusive job first waits for the running ones to drain: once the first
    /// retention may start, every other waiting retention starts with it (the daemon
    /// runs them as one job under one lock), instead of a drain for each app.
    fn start_other_retentions(&mut self) -> Vec<JobKey> {
        let (retentions, rest): (VecDeque<JobKey>, VecDeque<JobKey>) =
            self.waiting.drain(..).partition(|k| k.work == Work::Retain);
        self.waiting = rest;
        self.running.extend(retentions.iter().cloned());
        retentions.into()
    }

    /// A job finished. After a backup that stored something, an app with retention
    /// but no `prune_schedule` gets its retention run. Returns what may start now.
    pub fn finished(&mut self, key: &JobKey, stored: bool) -> Vec<JobKey> {
        self.running.retain(|k| k != key);
        if key.work == Work::Backup && stored && self.retain_after_backup.contains(&key.app) {
            let retain = JobKey {
                app: key.app.clone(),
                source: None,
                work: Work::Retain,
            };
            if self.why_not_queued(&retain).is_none() {
                self.waiting.push_back(retain);
            }
        }
        self.start_what_may()
    }

    /// Shutting down: nothing starts from now on. Returns the jobs that were waiting.
    pub fn stop(&mut self) -> Vec<JobKey> {
        self.stopping = true;
        self.waiting.drain(..).collect()
    }

    pub fn running(&self) -> &[JobKey] {
        &self.running
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// Every scheduled job with its next time.
    pub fn next_runs(&self) -> Vec<NextRun> {
        self.jobs
            .iter()
            .map(|j| NextRun {
                key: j.key.clone(),
                schedule: j.schedule.text().to_string(),
                next: j.next,
            })
            .collect()
    }

    /// Whether `app` applies retention after each backup (no `prune_schedule`).
    pub fn retains_after_backup(&self, app: &str) -> bool {
        self.retain_after_backup.iter().any(|a| a == app)
    }
}

impl Job {
    fn new(
        key: JobKey,
        schedule: &Schedule,
        now: Timestamp,
        tz: &TimeZone,
        catch_up: bool,
        last: LastBackup<'_>,
    ) -> Job {
        let mut next = schedule.next_after(now, tz);
        if key.work == Work::Backup {
            let last = last(&key);
            let missed = match (last, schedule.period(now, tz)) {
                (None, _) => true,
                (Some(last), Some(period)) => now.duration_since(last) > period,
                (Some(_), None) => false,
            };
            if catch_up && missed {
                next = Some(now);
            } else if let (true, Some(last)) = (schedule.is_interval(), last) {
                // An interval keeps its cadence across restarts.
                next = schedule.next_after(last, tz).filter(|t| *t > now).or(next);
            }
        }
        Job {
            key,
            schedule: schedule.clone(),
            next,
        }
    }

    /// The next time after a run due at `due` started at `now`: however many times
    /// were missed meanwhile, it runs once.
    fn advance(&mut self, due: Timestamp, now: Timestamp, tz: &TimeZone) {
        self.next = self
            .schedule
            .next_after(due, tz)
            .filter(|t| *t > now)
            .or_else(|| self.schedule.next_after(now, tz));
    }
}

//! `lifeboat daemon`: runs the configured schedules until SIGTERM/SIGINT. The plan
//! (`lifeboat_engine::schedule`) says what starts when; this loop sleeps until the next
//! due time or message, starts each job on its own thread, and handles signals:
//! SIGTERM/SIGINT take no new work and give running jobs `shutdown_grace` before they
//! are cancelled (no partial snapshot; after-hooks run), then exit 0; a second one
//! cancels at once. SIGHUP reloads the configuration, keeping the old one if the new
//! one is invalid.

mod http;
mod jobs;
pub mod log;
mod metrics;
pub(crate) mod state;

use crate::Ctx;
use jiff::Timestamp;
use lifeboat_core::Config;
use lifeboat_engine::schedule::{last_backup, newest_backups};
use lifeboat_engine::{JobKey, Plan, Step, Work};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use log::LogFormat;

enum Msg {
    Stop(i32),
    Reload,
    Finished(JobKey, jobs::Outcome),
}

/// `--listen`'s default: loopback only; other hosts only when asked.
const DEFAULT_LISTEN: &str = "127.0.0.1:9187";

/// The longest the loop sleeps without looking at the clock (a suspended host, a
/// clock step).
const MAX_SLEEP: Duration = Duration::from_secs(30);

struct Daemon {
    ctx: Ctx,
    config: Arc<Config>,
    plan: Plan,
    state: state::State,
    /// Replaced on reload; a job keeps the one it started with until it ends.
    notifier: Arc<crate::notify::Notifier>,
    /// One open handle (no lock) to re-read the repository after each job.
    reader: Reader,
    tx: Sender<Msg>,
    /// Set at the first SIGTERM: when running jobs get cancelled.
    deadline: Option<Instant>,
}

/// The repository handle the daemon reads with (opened once: opening derives the key).
type Reader = Arc<std::sync::Mutex<lifeboat_repo::Repo>>;

pub fn run(ctx: &Ctx, args: &crate::commands::daemon::DaemonArgs) -> anyhow::Result<ExitCode> {
    let loaded = crate::commands::load_config(ctx)?;
    let (tx, rx) = mpsc::channel();
    forward_signals(tx.clone())?;
    let config = Arc::new(loaded.config);
    let token = bearer_token(&config, &ctx.config_path)?;
    let reader: Reader = Arc::new(std::sync::Mutex::new(crate::commands::open_repo(&config)?));
    let facts = read_repository(&reader, &config)?;
    let newest = newest_backups(&facts.backups);
    let now = Timestamp::now();
    let catch_up = config.daemon.catch_up;
    let plan = Plan::new(&config, now, catch_up, &|k| {
        last_backup(&config, &newest, k)
    });
    let state = state::State::new(Arc::clone(&config), plan.clone(), facts);
    let listen = args
        .listen
        .clone()
        .or_else(|| config.daemon.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr: std::net::SocketAddr = listen.parse().map_err(|_| {
        anyhow::anyhow!("--listen {listen}: not an address and port such as 127.0.0.1:9187")
    })?;
    let bound = http::serve(addr, state.clone(), token)?;
    tracing::info!(listen = %bound, "serving /healthz, /metrics, /api/status and the dashboard");
    let mut daemon = Daemon {
        ctx: Ctx {
            cancel: lifeboat_core::CancelToken::new(),
            ..ctx.clone()
        },
        notifier: Arc::new(crate::notify::Notifier::new(&config)),
        config,
        plan,
        state,
        reader,
        tx,
        deadline: None,
    };
    daemon.log_plan("started");
    daemon.run_loop(&rx);
    let lost = daemon.notifier.flush_before_exit();
    tracing::info!(undelivered_notifications = lost, "stopped");
    Ok(ExitCode::SUCCESS)
}

impl Daemon {
    fn run_loop(&mut self, rx: &Receiver<Msg>) {
        loop {
            if self.deadline.is_none() {
                let steps = self.plan.tick(Timestamp::now());
                self.apply(steps);
            } else if self.plan.is_idle() {
                return;
            }
            self.state.beat(&self.plan);
            match rx.recv_timeout(self.sleep()) {
                Ok(Msg::Finished(key, outcome)) => {
                    let ok = outcome.ok;
                    tracing::info!(job = %key, ok, "job done");
                    let started = self.plan.finished(&key, outcome.stored);
                    self.apply(started.into_iter().map(Step::Start).collect());
                }
                Ok(Msg::Stop(signal)) => self.stop(signal),
                Ok(Msg::Reload) => self.reload(),
                Err(RecvTimeoutError::Timeout) => self.cancel_after_grace(),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn sleep(&self) -> Duration {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            return left.clamp(Duration::from_millis(100), MAX_SLEEP);
        }
        let Some(next) = self.plan.next_due() else {
            return MAX_SLEEP;
        };
        let left = next.duration_since(Timestamp::now());
        Duration::try_from(left)
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP)
    }

    fn apply(&mut self, steps: Vec<Step>) {
        let mut retentions = Vec::new();
        for step in steps {
            match step {
                Step::Start(key) if key.work == Work::Retain => retentions.push(key),
                Step::Start(key) => self.spawn(vec![key]),
                Step::Skip { key, why } => tracing::warn!(job = %key, "skipped: {why}"),
            }
        }
        // Retentions started together run as one job (one lock, one prune).
        if !retentions.is_empty() {
            self.spawn(retentions);
        }
    }

    /// Runs `keys` on a thread of their own: one job, or retentions started together.
    fn spawn(&self, keys: Vec<JobKey>) {
        for key in &keys {
            tracing::info!(job = %key, "job started");
        }
        let (ctx, config, tx) = (self.ctx.clone(), Arc::clone(&self.config), self.tx.clone());
        let (state, reader) = (self.state.clone(), Arc::clone(&self.reader));
        let notifier = Arc::clone(&self.notifier);
        std::thread::spawn(move || {
            let engine = crate::wire::engine_with(&ctx, &config, Arc::new(log::LogEvents));
            let with = jobs::Services {
                state: &state,
                notifier: &notifier,
            };
            let outcome = match keys.as_slice() {
                [key] => jobs::run(&ctx, &config, &engine, key, &with),
                _ => jobs::retain_together(&ctx, &config, &engine, &keys, &with),
            };
            match read_repository(&reader, &config) {
                Ok(facts) => state.repository_read(facts),
                Err(e) => tracing::warn!(error = %e, "could not re-read the repository"),
            }
            // The loop is gone only when the daemon is exiting.
            for key in keys {
                let _ = tx.send(Msg::Finished(key, outcome.clone()));
            }
        });
    }

    /// The first SIGTERM: no new work, a grace period for what runs; the second:
    /// cancel now.
    fn stop(&mut self, signal: i32) {
        let name = if signal == signal_hook::consts::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        if self.deadline.is_some() {
            tracing::warn!(
                signal = name,
                "second signal: cancelling the running jobs now"
            );
            self.cancel_now();
            return;
        }
        let grace = Duration::from_secs(self.config.daemon.shutdown_grace_secs);
        self.deadline = Some(Instant::now() + grace);
        for key in self.plan.stop() {
            tracing::info!(job = %key, "not started: shutting down");
        }
        let running = self.plan.running().len();
        tracing::info!(
            signal = name,
            signo = signal,
            running,
            grace_secs = grace.as_secs(),
            "shutting down: no new work; running jobs may finish within the grace period"
        );
    }

    fn cancel_after_grace(&mut self) {
        let expired = self.deadline.is_some_and(|d| Instant::now() >= d);
        if expired && !self.ctx.cancel.is_cancelled() {
            tracing::warn!(
                "grace period over: cancelling the running jobs (nothing partial is saved)"
            );
            self.cancel_now();
        }
    }

    fn cancel_now(&mut self) {
        self.ctx.cancel.cancel();
        let stopped = lifeboat_sources::process::stop_running_children(Duration::from_millis(200));
        tracing::info!(stopped, "child processes stopped");
    }

    /// SIGHUP: a new plan from the new configuration, or the old one kept.
    fn reload(&mut self) {
        match crate::config::load(&self.ctx.config_path) {
            Ok(loaded) => {
                let config = Arc::new(loaded.config);
                let newest = match read_repository(&self.reader, &config) {
                    Ok(facts) => newest_backups(&facts.backups),
                    Err(_) => Default::default(),
                };
                let fresh = Plan::new(&config, Timestamp::now(), false, &|k| {
                    last_backup(&config, &newest, k)
                });
                let old = std::mem::replace(&mut self.plan, fresh.clone());
                self.plan = old.reloaded(fresh);
                self.state.reconfigure(Arc::clone(&config));
                self.notifier = Arc::new(crate::notify::Notifier::new(&config));
                self.config = config;
                self.log_plan("configuration reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration NOT reloaded, the previous one stays in force")
            }
        }
    }

    fn log_plan(&self, what: &str) {
        let runs = self.plan.next_runs();
        tracing::info!(
            jobs = runs.len(),
            max_parallel = self.config.daemon.max_parallel,
            "{what}"
        );
        for run in runs {
            let next = run
                .next
                .map_or_else(|| "never".to_string(), |t| t.to_string());
            tracing::info!(job = %run.key, schedule = %run.schedule, next = %next, "scheduled");
        }
    }
}

/// SIGTERM and SIGINT stop, SIGHUP reloads: as messages to the loop.
fn forward_signals(tx: Sender<Msg>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let msg = if signal == SIGHUP {
                Msg::Reload
            } else {
                Msg::Stop(signal)
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// What the state shows of the repository, through the daemon's one handle.
fn read_repository(reader: &Reader, config: &Config) -> anyhow::Result<state::RepoFacts> {
    let mut repo = reader
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    state::RepoFacts::read(&mut repo, &config.repository.url)
}

/// `[daemon] token_env`: the token, which must be set when the key is.
fn bearer_token(
    config: &Config,
    path: &std::path::Path,
) -> anyhow::Result<Option<lifeboat_core::Secret<String>>> {
    let Some(var) = &config.daemon.token_env else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(token) if !token.is_empty() => Ok(Some(lifeboat_core::Secret::new(token))),
        _ => Err(crate::config::ConfigError(vec![format!(
            "{}: key `daemon.token_env`: environment variable {var} is not set",
            path.display()
        )])
        .into()),
    }
}

//! One app's sources dumped in parallel, up to the app's `max_parallel` at a time, so
//! that the backup window is the slowest source rather than the sum. Each worker stores
//! through its own handle on the repository (`Repository::fork`), under the run's one
//! lock; the reports come back in the configuration's order. With one worker (one
//! source, or `max_parallel = 1`) the run's own handle is used, so that the first dump
//! starts while the repository is still opening.

use crate::backup::{skipped, SourceReport};
use crate::Engine;
use lifeboat_core::ports::Repository;
use lifeboat_core::{AppSpec, Error, SourceSpec};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The reports made before a repository problem stopped the run, and the problem.
pub type Stopped = (Vec<SourceReport>, Error);

impl Engine {
    /// Dumps `sources` (all skipped when `before_failed`). A repository problem stops
    /// what has not started; the sources that ran keep their reports.
    pub(crate) fn dump_sources(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        sources: &[&SourceSpec],
        run_id: &str,
        now: &jiff::Zoned,
        before_failed: bool,
    ) -> Result<Vec<SourceReport>, Stopped> {
        if before_failed {
            let why = "skipped: before_backup hook failed";
            return Ok(sources.iter().map(|s| skipped(app, s, why)).collect());
        }
        let workers = app.max_parallel.clamp(1, sources.len().max(1));
        if workers == 1 {
            return self.dump_in_turn(repo, app, sources, run_id, now);
        }
        let handles = match fork_all(repo, workers) {
            Ok(handles) => handles,
            Err(e) => return Err((Vec::new(), e)),
        };
        self.dump_in_parallel(handles, app, sources, run_id, now)
    }

    fn dump_in_turn(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        sources: &[&SourceSpec],
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<Vec<SourceReport>, Stopped> {
        let mut done = Vec::new();
        for source in sources {
            if self.cancel.is_cancelled() {
                done.push(skipped(app, source, INTERRUPTED));
                continue;
            }
            match self.dump_one(repo, app, source, run_id, now) {
                Ok(report) => done.push(report),
                Err(e) => return Err((done, e)),
            }
        }
        Ok(done)
    }

    fn dump_in_parallel(
        &self,
        handles: Vec<Box<dyn Repository + Send>>,
        app: &AppSpec,
        sources: &[&SourceSpec],
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<Vec<SourceReport>, Stopped> {
        let next = AtomicUsize::new(0);
        let stopped = AtomicBool::new(false);
        let reports: Mutex<Vec<Option<SourceReport>>> = Mutex::new(vec![None; sources.len()]);
        let problem: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for mut handle in handles {
                let (next, stopped, reports, problem) = (&next, &stopped, &reports, &problem);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(source) = sources.get(i) else {
                        return;
                    };
                    // A repository problem stops the run: what has not started never does.
                    if stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    let report = if self.cancel.is_cancelled() {
                        Ok(skipped(app, source, INTERRUPTED))
                    } else {
                        self.dump_one(handle.as_mut(), app, source, run_id, now)
                    };
                    match report {
                        Ok(report) => lock(reports)[i] = Some(report),
                        Err(e) => {
                            stopped.store(true, Ordering::SeqCst);
                            lock(problem).get_or_insert(e);
                            return;
                        }
                    }
                });
            }
        });
        let done: Vec<SourceReport> = lock(&reports).drain(..).flatten().collect();
        let problem = lock(&problem).take();
        match problem {
            Some(e) => Err((done, e)),
            None => Ok(done),
        }
    }
}

const INTERRUPTED: &str = "skipped: the run was interrupted";

/// `n` handles on the repository, for `n` workers (the run's own keeps the lock).
fn fork_all(repo: &mut dyn Repository, n: usize) -> Result<Vec<Box<dyn Repository + Send>>, Error> {
    (0..n).map(|_| repo.fork()).collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

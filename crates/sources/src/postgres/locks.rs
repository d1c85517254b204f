//! Keeping a restore from waiting forever on a lock another session holds. pg_restore
//! runs `SET lock_timeout = 0` itself (every archive starts so), so PGOPTIONS cannot
//! bound its waits: a watcher polls `pg_stat_activity` for our pg_restore sessions
//! (known by their application name) waiting on a lock, and after `lock_timeout`
//! seconds describes the wait and its blockers and cancels the waiting statement.

use super::conn::{describe, PgTarget};
use crate::SourceError;
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The application name of this process's pg_restore sessions.
pub(super) fn application_name() -> String {
    format!("lifeboat-restore-{}", std::process::id())
}

/// Names pg_restore's sessions so the watcher finds them.
pub(super) fn tag(cmd: &mut Command) {
    cmd.env("PGAPPNAME", application_name());
}

/// A watcher running while pg_restore does.
pub struct LockWatch {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Option<String>>>,
}

impl LockWatch {
    /// Starts watching restores into `target` (no watcher with `lock_timeout` 0).
    pub fn start(target: &PgTarget, lock_timeout: u32) -> LockWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = (lock_timeout > 0).then(|| {
            let (target, stop) = (target.clone(), stop.clone());
            std::thread::spawn(move || {
                watch(&target, lock_timeout, &stop).unwrap_or_else(|e| {
                    tracing::warn!("watching the restore for lock waits stopped: {e}");
                    None
                })
            })
        });
        LockWatch { stop, handle }
    }

    /// Stops the watcher; a failed restore whose wait it cancelled gets the reason.
    pub fn judge(mut self, result: Result<(), SourceError>) -> Result<(), SourceError> {
        let fired = self.stop_watch();
        match (result, fired) {
            (Err(err), Some(why)) => Err(SourceError::Invalid(format!("{why}. {err}"))),
            (result, _) => result,
        }
    }

    fn stop_watch(&mut self) -> Option<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok().flatten())
    }
}

impl Drop for LockWatch {
    fn drop(&mut self) {
        self.stop_watch();
    }
}

const WAITING_SQL: &str = "SELECT pid, coalesce(query_start::text, '') FROM pg_stat_activity \
    WHERE application_name = $1 AND wait_event_type = 'Lock'";

/// Polls until stopped; returns the description of a wait it cancelled.
fn watch(
    target: &PgTarget,
    lock_timeout: u32,
    stop: &AtomicBool,
) -> Result<Option<String>, SourceError> {
    let q = |e: postgres::Error| SourceError::Query(describe(&e));
    let mut client = target.connect()?;
    // Relation names come out schema-qualified.
    client
        .batch_execute("SET search_path = pg_catalog")
        .map_err(q)?;
    let app = application_name();
    let limit = Duration::from_secs(u64::from(lock_timeout));
    let mut since: HashMap<(i32, String), Instant> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let rows = client.query(WAITING_SQL, &[&app]).map_err(q)?;
        let now = Instant::now();
        let waiting: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        since.retain(|k, _| waiting.contains(k));
        for key in waiting {
            let first = *since.entry(key.clone()).or_insert(now);
            if now.duration_since(first) >= limit {
                let why = describe_wait(&mut client, key.0, lock_timeout).map_err(q)?;
                client
                    .execute("SELECT pg_cancel_backend($1)", &[&key.0])
                    .map_err(q)?;
                return Ok(Some(why));
            }
        }
    }
    Ok(None)
}

/// Sessions blocking `pid`, as `pid N (application `A`, user U, from H, transaction
/// since T, STATE; last query `Q`)`.
const BLOCKERS_SQL: &str = "SELECT pid, coalesce(application_name, ''), coalesce(usename::text, ''), \
    coalesce(host(client_addr), 'local socket'), coalesce(xact_start::text, backend_start::text, ''), \
    coalesce(state, ''), left(coalesce(query, ''), 200) \
    FROM pg_stat_activity WHERE pid = ANY(pg_blocking_pids($1)) ORDER BY pid";

fn describe_wait(
    client: &mut postgres::Client,
    pid: i32,
    lock_timeout: u32,
) -> Result<String, postgres::Error> {
    let row = client.query_one(
        "SELECT left(coalesce(a.query, ''), 200), coalesce((SELECT string_agg(DISTINCT \
         coalesce(l.relation::regclass::text, l.locktype), ', ') FROM pg_locks l \
         WHERE l.pid = a.pid AND NOT l.granted), '') FROM pg_stat_activity a WHERE a.pid = $1",
        &[&pid],
    )?;
    let (query, on): (String, String) = (row.get(0), row.get(1));
    let blockers: Vec<String> = client
        .query(BLOCKERS_SQL, &[&pid])?
        .iter()
        .map(|r| {
            let pid: i32 = r.get(0);
            let text = |i: usize| -> String { r.get(i) };
            format!(
                "pid {pid} (application `{}`, user {}, from {}, transaction since {}, {}; last query `{}`)",
                text(1),
                text(2),
                text(3),
                text(4),
                text(5),
                text(6).trim()
            )
        })
        .collect();
    let held_by = if blockers.is_empty() {
        "a session that has ended since".to_string()
    } else {
        blockers.join(", ")
    };
    Ok(format!(
        "pg_restore waited {lock_timeout} s (lock_timeout) for a lock on {on} (`{}`) held by {held_by}, \
         and was cancelled; end that session or let it finish, then restore again",
        query.trim()
    ))
}

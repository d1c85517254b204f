//! Choosing which stored backup a command works on.

use crate::error::failed;
use lifeboat_core::ports::repository::display_time;
use lifeboat_core::ports::{Repository, SnapshotInfo};
use lifeboat_core::{Error, ErrorKind, RestoreOptions};

/// The backup of `app/source` named by `wanted` (`latest`, or an id prefix). `latest`
/// never picks a safety backup; an explicit id may.
pub fn pick<'a>(
    snapshots: &'a [SnapshotInfo],
    app: &str,
    source: &str,
    wanted: &str,
) -> Result<&'a SnapshotInfo, Error> {
    let spec = format!("{app}/{source}");
    let mine = snapshots
        .iter()
        .filter(|s| s.app == app && s.source == source);
    let found = if wanted == "latest" {
        mine.filter(|s| !s.pre_restore).max_by_key(|s| s.timestamp)
    } else {
        let matches: Vec<_> = mine.filter(|s| s.id.starts_with(wanted)).collect();
        if matches.len() > 1 {
            return Err(Error::usage(format!(
                "snapshot id `{wanted}` is ambiguous for {spec}"
            )));
        }
        matches.into_iter().next()
    };
    found.ok_or_else(|| match wanted {
        "latest" => failed(&spec, "no backup found; run `lifeboat backup` first"),
        id => failed(&spec, format!("no backup with id {id}")),
    })
}

/// The backups of `app/source` the last listing left out because their tree cannot
/// be read.
pub fn unreadable_of(repo: &mut dyn Repository, app: &str, source: &str) -> Vec<SnapshotInfo> {
    repo.unreadable()
        .into_iter()
        .filter(|s| s.app == app && s.source == source)
        .collect()
}

/// `picked` (a choice among `app/source`'s listed backups) failed: when the listing
/// left backups of it out because their tree cannot be read, the error says so
/// instead of "no backup found".
pub fn or_unreadable<T>(
    picked: Result<T, Error>,
    repo: &mut dyn Repository,
    app: &str,
    source: &str,
) -> Result<T, Error> {
    let err = match picked {
        Ok(chosen) => return Ok(chosen),
        Err(e) if e.kind() != ErrorKind::Failed => return Err(e),
        Err(e) => e,
    };
    let hidden = unreadable_of(repo, app, source);
    let Some(newest) = hidden.iter().max_by_key(|s| s.timestamp) else {
        return Err(err);
    };
    Err(failed(
        &format!("{app}/{source}"),
        format!(
            "no readable backup: {} backup(s) of it cannot be read, the newest {} of {} \
             (a lost index file or a damaged pack?); `lifeboat check` names the damage and \
             README, Reliability, how to repair it",
            hidden.len(),
            newest.short_id(),
            newest.display_time()
        ),
    ))
}

/// Like [`pick`], but refuses a backup whose `kind=` tag differs from the configured
/// kind: restoring a `files` tree with `pg_restore` (or the reverse) cannot be right.
pub fn pick_of_kind<'a>(
    snapshots: &'a [SnapshotInfo],
    app: &str,
    source: &str,
    kind: &str,
    wanted: &str,
) -> Result<&'a SnapshotInfo, Error> {
    let chosen = pick(snapshots, app, source, wanted)?;
    if chosen.kind == kind {
        return Ok(chosen);
    }
    Err(failed(
        &format!("{app}/{source}"),
        format!(
            "snapshot {} is a `{}` backup, but {app}/{source} is configured as `{kind}`; \
             pick another snapshot or restore it with a configuration of that kind",
            chosen.short_id(),
            chosen.kind
        ),
    ))
}

/// Which backup (or backup set) the user asked for: `--snapshot`, `--at`, `--filter`.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    /// `latest`, or an id (prefix): a snapshot id, or for a set a run id.
    pub id: &'a str,
    pub at: Option<jiff::Timestamp>,
    pub filter: Option<&'a str>,
}

impl<'a> Wanted<'a> {
    pub fn of(opts: &'a RestoreOptions) -> Self {
        Self {
            id: &opts.snapshot,
            at: opts.at,
            filter: opts.filter.as_deref(),
        }
    }

    /// Whether `s` is allowed by `--at` and `--filter`.
    fn admits(&self, s: &SnapshotInfo) -> bool {
        self.at.is_none_or(|at| s.timestamp <= at) && self.filter.is_none_or(|f| mentions(s, f))
    }

    /// `--at`/`--filter` in words, for "no backup …" messages.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(at) = self.at {
            parts.push(format!("at or before {}", display_time(at)));
        }
        if let Some(f) = self.filter {
            parts.push(format!("matching `{f}`"));
        }
        parts.join(" and ")
    }
}

/// Whether `text` is in the snapshot's id, run id, host, time or one of its tags.
fn mentions(s: &SnapshotInfo, text: &str) -> bool {
    [&s.id, &s.run_id, &s.hostname, &s.time]
        .into_iter()
        .chain(&s.tags)
        .any(|field| field.contains(text))
}

/// Like [`pick_of_kind`], honouring `--at` and `--filter`: with either, the newest
/// regular backup they admit (`--snapshot` must then be `latest`).
pub fn pick_wanted<'a>(
    snapshots: &'a [SnapshotInfo],
    app: &str,
    source: &str,
    kind: &str,
    wanted: Wanted<'_>,
) -> Result<&'a SnapshotInfo, Error> {
    if wanted.at.is_none() && wanted.filter.is_none() {
        return pick_of_kind(snapshots, app, source, kind, wanted.id);
    }
    if wanted.id != "latest" {
        return Err(Error::usage("give --snapshot, or --at/--filter, not both"));
    }
    let spec = format!("{app}/{source}");
    let chosen = snapshots
        .iter()
        .filter(|s| s.app == app && s.source == source && !s.pre_restore && wanted.admits(s))
        .max_by_key(|s| s.timestamp)
        .ok_or_else(|| failed(&spec, format!("no backup {}", wanted.describe())))?;
    let admitted = std::slice::from_ref(chosen);
    pick_of_kind(admitted, app, source, kind, &chosen.id)
}

/// The backups of one run of an app: a backup set (or a safety set, taken before a
/// restore).
#[derive(Debug, Clone)]
pub struct BackupSet<'a> {
    pub run_id: String,
    /// Its newest backup's time.
    pub timestamp: jiff::Timestamp,
    /// Safety backups taken before a restore, not regular backups.
    pub pre_restore: bool,
    pub members: Vec<&'a SnapshotInfo>,
}

impl<'a> BackupSet<'a> {
    /// The backup of `source` in this set (the newest, should a run hold two).
    pub fn member(&self, source: &str) -> Option<&'a SnapshotInfo> {
        let mine = self.members.iter().filter(|s| s.source == source);
        mine.max_by_key(|s| s.timestamp).copied()
    }

    /// Which of `sources` have no backup in this set.
    pub fn missing<'n>(&self, sources: &[&'n str]) -> Vec<&'n str> {
        let absent = |name: &&str| self.member(name).is_none();
        sources.iter().copied().filter(absent).collect()
    }

    pub fn display_time(&self) -> String {
        display_time(self.timestamp)
    }
}

/// The runs of `app`, newest first.
pub fn backup_sets<'a>(snapshots: &'a [SnapshotInfo], app: &str) -> Vec<BackupSet<'a>> {
    let mut sets: Vec<BackupSet<'a>> = Vec::new();
    for s in snapshots.iter().filter(|s| s.app == app) {
        match sets.iter_mut().find(|set| set.run_id == s.run_id) {
            Some(set) => {
                set.timestamp = set.timestamp.max(s.timestamp);
                set.members.push(s);
            }
            None => sets.push(BackupSet {
                run_id: s.run_id.clone(),
                timestamp: s.timestamp,
                pre_restore: s.pre_restore,
                members: vec![s],
            }),
        }
    }
    sets.sort_by_key(|s| std::cmp::Reverse(s.timestamp));
    sets
}

/// The backup set of `app` a whole-app restore takes, complete for `sources`: the
/// newest complete regular set (admitted by `--at`/`--filter`), or the one whose run id
/// (or one of whose snapshot ids) `wanted.id` starts with.
pub fn pick_set<'a>(
    snapshots: &'a [SnapshotInfo],
    app: &str,
    sources: &[&str],
    wanted: Wanted<'_>,
) -> Result<BackupSet<'a>, Error> {
    let sets = backup_sets(snapshots, app);
    if wanted.id != "latest" {
        if wanted.at.is_some() || wanted.filter.is_some() {
            return Err(Error::usage("give --snapshot, or --at/--filter, not both"));
        }
        return named_set(sets, app, sources, wanted.id);
    }
    let admitted: Vec<BackupSet<'a>> = sets
        .into_iter()
        .filter(|set| !set.pre_restore && set_admitted(set, wanted))
        .collect();
    let newest = admitted.first().cloned();
    if let Some(set) = admitted
        .into_iter()
        .find(|set| set.missing(sources).is_empty())
    {
        return Ok(set);
    }
    let which = match wanted.describe() {
        d if d.is_empty() => String::new(),
        d => format!(" {d}"),
    };
    Err(match newest {
        None => failed(
            app,
            format!("no backup set{which}; run `lifeboat backup {app}` first"),
        ),
        Some(set) => failed(
            app,
            format!(
                "no complete backup set{which}: the newest, run {} ({}), has no backup of {}; \
                 restore it with --snapshot {} --skip {}, or restore those sources one by one",
                set.run_id,
                set.display_time(),
                set.missing(sources).join(", "),
                set.run_id,
                set.missing(sources).join(",")
            ),
        ),
    })
}

/// `--at`: the whole set was taken by then; `--filter`: one of its backups matches.
fn set_admitted(set: &BackupSet<'_>, wanted: Wanted<'_>) -> bool {
    wanted.at.is_none_or(|at| set.timestamp <= at)
        && wanted
            .filter
            .is_none_or(|f| set.members.iter().any(|s| mentions(s, f)))
}

/// The set `id` names (a run id prefix, or a snapshot id prefix of one of its backups),
/// refused when it lacks one of `sources`.
fn named_set<'a>(
    sets: Vec<BackupSet<'a>>,
    app: &str,
    sources: &[&str],
    id: &str,
) -> Result<BackupSet<'a>, Error> {
    let by_run: Vec<&BackupSet<'a>> = sets.iter().filter(|s| s.run_id.starts_with(id)).collect();
    let found: Vec<&BackupSet<'a>> = if by_run.is_empty() {
        let holds = |set: &&BackupSet<'a>| set.members.iter().any(|s| s.id.starts_with(id));
        sets.iter().filter(holds).collect()
    } else {
        by_run
    };
    let set = match found.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(failed(
                app,
                format!("no backup set with run id (or snapshot id) {id}"),
            ))
        }
        _ => {
            return Err(Error::usage(format!(
                "`{id}` names several backup sets of {app}; give more of the run id"
            )))
        }
    };
    let missing = set.missing(sources);
    if missing.is_empty() {
        return Ok(set);
    }
    let why = if set.pre_restore {
        " (a safety set holds only the targets that held data)"
    } else {
        ""
    };
    Err(failed(
        app,
        format!(
            "backup set {} has no backup of {}{why}; give --skip {} to restore the rest",
            set.run_id,
            missing.join(", "),
            missing.join(",")
        ),
    ))
}

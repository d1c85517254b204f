//! Choosing which stored backup a command works on.

use crate::error::failed;
use lifeboat_core::ports::SnapshotInfo;
use lifeboat_core::Error;

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

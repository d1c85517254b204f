//! Choosing which stored backup a command works on.

use crate::EngineError;
use lifeboat_repo::SnapshotInfo;

/// The backup of `app/source` named by `wanted` (`latest`, or an id prefix). `latest`
/// never picks a safety backup; an explicit id may.
pub fn pick<'a>(
    snapshots: &'a [SnapshotInfo],
    app: &str,
    source: &str,
    wanted: &str,
) -> Result<&'a SnapshotInfo, EngineError> {
    let spec = format!("{app}/{source}");
    let mine = snapshots
        .iter()
        .filter(|s| s.app == app && s.source == source);
    let found = if wanted == "latest" {
        mine.filter(|s| !s.pre_restore).max_by_key(|s| s.timestamp)
    } else {
        let matches: Vec<_> = mine.filter(|s| s.id.starts_with(wanted)).collect();
        if matches.len() > 1 {
            return Err(EngineError::Usage(format!(
                "snapshot id `{wanted}` is ambiguous for {spec}"
            )));
        }
        matches.into_iter().next()
    };
    found.ok_or_else(|| match wanted {
        "latest" => EngineError::failed(&spec, "no backup found; run `lifeboat backup` first"),
        id => EngineError::failed(&spec, format!("no backup with id {id}")),
    })
}

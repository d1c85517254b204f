//! How lifeboat lays out a backup inside a restic snapshot: paths and tags.
//!
//! A snapshot of source `SOURCE` of app `APP` holds its payload under `/APP/SOURCE/`
//! (a dump file, or the directory tree of a `files` source) and the manifest at
//! [`MANIFEST_PATH`]. The manifest sorts after every payload path, so the archiver
//! reads it last: it is written only once the payload is known to be complete, and a
//! snapshot without it is not a backup.

/// Where the manifest lives in every lifeboat snapshot. `~` sorts after every
/// character allowed in app names, so the manifest is the last entry archived.
pub const MANIFEST_PATH: &str = "/~lifeboat/manifest.json";

/// Tag every lifeboat snapshot carries.
pub const TAG_LIFEBOAT: &str = "lifeboat";
/// Tag of a snapshot that records a verification result (not a backup).
pub const TAG_VERIFY: &str = "lifeboat-verify";
/// Tag of a safety backup taken just before a restore overwrote a target.
pub const TAG_PRE_RESTORE: &str = "pre-restore";
/// Why a snapshot exists, as a tag that restic can filter on (`--tag
/// source=db,purpose=backup`): restic has no way to exclude a tag, so regular backups
/// carry one that safety copies and verification records do not.
pub const PURPOSE_BACKUP: &str = "purpose=backup";
/// The purpose tag of a safety backup (beside [`TAG_PRE_RESTORE`]).
pub const PURPOSE_PRE_RESTORE: &str = "purpose=pre-restore";
/// The purpose tag of a verification record (beside [`TAG_VERIFY`]).
pub const PURPOSE_VERIFY: &str = "purpose=verify";

/// Directory in the snapshot tree that holds the payload of `app/source`.
pub fn payload_root(app: &str, source: &str) -> String {
    format!("/{app}/{source}")
}

/// The tags of a regular backup of `app/source` taken in run `run_id`.
pub fn tags(app: &str, source: &str, kind: &str, run_id: &str) -> Vec<String> {
    vec![
        TAG_LIFEBOAT.to_string(),
        format!("app={app}"),
        format!("source={source}"),
        format!("kind={kind}"),
        format!("run={run_id}"),
        PURPOSE_BACKUP.to_string(),
    ]
}

/// The tags of the safety backup of `app/source`'s restore target.
pub fn safety_tags(app: &str, source: &str, kind: &str, run_id: &str) -> Vec<String> {
    let mut tags = tags(app, source, kind, run_id);
    tags.retain(|t| t != PURPOSE_BACKUP);
    tags.push(TAG_PRE_RESTORE.to_string());
    tags.push(PURPOSE_PRE_RESTORE.to_string());
    tags
}

/// The value of a `key=value` tag, if present.
pub fn tag_value<'t>(tags: &'t [String], key: &str) -> Option<&'t str> {
    tags.iter()
        .filter_map(|t| t.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Whether a name may be used for an app or a source: it becomes a path component
/// and a tag value, and must sort before `~` (see [`MANIFEST_PATH`]).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A run id from the run's start time (UTC, `YYYYMMDDTHHMMSSZ`) and a few random bits,
/// so runs from several hosts in the same second stay distinct.
pub fn run_id(utc_compact: &str, entropy: u16) -> String {
    format!("{utc_compact}-{entropy:04x}")
}

/// A file name for `text` that makes none itself (a path, a URL): 16 hex digits of
/// FNV-1a, the same on every host and in every version, since files named by it are
/// found again by later runs.
pub fn file_name_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_before_manifest() {
        for name in ["esp", "3scale", "Z", "a.b-c_d"] {
            assert!(is_valid_name(name));
            assert!(format!("/{name}").as_str() < "/~lifeboat");
        }
        for bad in ["", "-x", "a/b", "a b", "~x", "ü"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags_round_trip() {
        let tags = tags("esp", "db", "postgres", "r1");
        assert_eq!(tag_value(&tags, "app"), Some("esp"));
        assert_eq!(tag_value(&tags, "run"), Some("r1"));
        assert_eq!(tag_value(&tags, "nope"), None);
        assert_eq!(tag_value(&tags, "purpose"), Some("backup"));
        let safety = safety_tags("esp", "db", "postgres", "r1");
        assert_eq!(tag_value(&safety, "purpose"), Some("pre-restore"));
        assert!(safety.iter().any(|t| t == TAG_PRE_RESTORE));
    }

    #[test]
    fn file_names_hash_as_fnv1a_so_earlier_runs_files_are_found() {
        assert_eq!(file_name_hash(""), "cbf29ce484222325");
        assert_eq!(file_name_hash("a"), "af63dc4c8601ec8c");
    }
}

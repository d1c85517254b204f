//! The `bucket` kind: every object under a prefix of an S3-compatible bucket (AWS,
//! MinIO, Garage, …), backed up as one stream per object (named by its key relative
//! to the prefix) plus a metadata document with their content types (outside the
//! payload root); restored by uploading each object into the same or another
//! bucket/prefix.

pub mod adapter;
mod backup;
mod client;
mod metadata;
mod restore;
mod target;

pub use backup::{dumps_for, list_objects, start_backup};
pub use metadata::{metadata_json, parse_metadata};
pub use restore::{delete_prefix, holds_data, put_object};
pub use target::BucketTarget;

/// Where the engine stores the metadata document: in lifeboat's own directory beside
/// the payload root, outside the objects' namespace, so that no object key collides
/// with it (it sorts before the manifest, which must come last).
pub const METADATA_PATH: &str = "/~lifeboat/bucket-objects.json";

/// Where snapshots of earlier versions kept it: among the objects, which made an
/// object named `~objects.json` unrestorable.
pub const LEGACY_METADATA_NAME: &str = "~objects.json";

/// Whether payload file `file` of a snapshot holding `files` is the metadata document
/// rather than an object.
pub fn is_metadata(files: &[String], file: &str) -> bool {
    file == METADATA_PATH
        || (file == LEGACY_METADATA_NAME && !files.iter().any(|f| f == METADATA_PATH))
}

/// One object under the prefix, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the prefix; may contain `/`.
    pub key: String,
    pub size: u64,
    pub content_type: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_named_like_the_metadata_is_an_object_in_new_snapshots() {
        let new = [
            METADATA_PATH.to_string(),
            "a".to_string(),
            LEGACY_METADATA_NAME.to_string(),
        ];
        assert!(is_metadata(&new, METADATA_PATH));
        assert!(!is_metadata(&new, LEGACY_METADATA_NAME));
        let old = ["a".to_string(), LEGACY_METADATA_NAME.to_string()];
        assert!(is_metadata(&old, LEGACY_METADATA_NAME));
        assert!(!is_metadata(&old, "a"));
    }
}

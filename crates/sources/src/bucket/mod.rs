//! The `bucket` kind: every object under a prefix of an S3-compatible bucket (AWS,
//! MinIO, Garage, …), backed up as one stream per object (named by its key relative
//! to the prefix) plus `~objects.json` with their content types; restored by uploading
//! each object into the same or another bucket/prefix.

mod backup;
mod client;
mod metadata;
mod restore;
mod target;

pub use backup::{dumps_for, list_objects, start_backup};
pub use metadata::{metadata_json, parse_metadata};
pub use restore::{delete_prefix, holds_data, put_object};
pub use target::BucketTarget;

/// Name of the metadata document the engine stores beside the objects.
pub const METADATA_NAME: &str = "~objects.json";

/// One object under the prefix, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the prefix; may contain `/`.
    pub key: String,
    pub size: u64,
    pub content_type: Option<String>,
}

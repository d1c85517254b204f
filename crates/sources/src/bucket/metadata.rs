//! The bucket metadata document: what S3 knows of each object besides its bytes (content type,
//! size), stored beside the objects so a restore can put them back as they were.

use super::target::is_clean_path;
use super::ObjectInfo;
use crate::SourceError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the document's layout; bumped on incompatible changes.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Document {
    format: u32,
    /// Key (relative to the prefix) → what else we know of the object; sorted by key so
    /// that the same bucket gives the same bytes (and dedups).
    objects: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
}

/// The document for `objects`.
pub fn metadata_json(objects: &[ObjectInfo]) -> Vec<u8> {
    let document = Document {
        format: FORMAT,
        objects: objects
            .iter()
            .map(|o| {
                let entry = Entry {
                    size: o.size,
                    content_type: o.content_type.clone(),
                };
                (o.key.clone(), entry)
            })
            .collect(),
    };
    // Serialising string keys, numbers and strings cannot fail.
    let mut bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The objects a stored document lists, sorted by key.
pub fn parse_metadata(bytes: &[u8]) -> Result<Vec<ObjectInfo>, SourceError> {
    let invalid =
        |why: String| SourceError::Invalid(format!("invalid bucket metadata document: {why}"));
    let document: Document = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    if document.format != FORMAT {
        return Err(invalid(format!(
            "format {} is not supported (this lifeboat reads format {FORMAT})",
            document.format
        )));
    }
    document
        .objects
        .into_iter()
        .map(|(key, entry)| {
            if !is_clean_path(&key) {
                return Err(invalid(format!("bad object key {key:?}")));
            }
            Ok(ObjectInfo {
                key,
                size: entry.size,
                content_type: entry.content_type,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn object(key: &str, size: u64, content_type: Option<&str>) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size,
            content_type: content_type.map(str::to_string),
        }
    }

    #[test]
    fn round_trips_sorted() {
        let objects = [
            object("b/x.png", 7, Some("image/png")),
            object("a.txt", 0, None),
        ];
        let json = metadata_json(&objects);
        let parsed = parse_metadata(&json).unwrap();
        assert_eq!(parsed, vec![objects[1].clone(), objects[0].clone()]);
        assert_eq!(json, metadata_json(&parsed));
    }

    #[test]
    fn refuses_bad_documents() {
        assert!(parse_metadata(b"not json").is_err());
        assert!(parse_metadata(br#"{"format":2,"objects":{}}"#).is_err());
        assert!(parse_metadata(br#"{"format":1,"objects":{"../x":{"size":1}}}"#).is_err());
    }
}

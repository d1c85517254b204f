//! Maps lifeboat's repository URLs (`/path`, `s3://BUCKET/PREFIX`,
//! `sftp://USER@HOST[:PORT]/PATH`, `ftp://…`) onto rustic backend options.

use crate::RepoError;
use std::collections::BTreeMap;

/// A repository location as rustic_backend wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub repository: String,
    pub options: BTreeMap<String, String>,
}

impl Location {
    /// `options` are the user's `[repository.options]`; they win over what the URL implies.
    pub fn parse(url: &str, options: &BTreeMap<String, String>) -> Result<Self, RepoError> {
        let (repository, mut derived) = match url.split_once("://") {
            None => (local_path(url), BTreeMap::new()),
            Some(("s3", rest)) => ("opendal:s3".to_string(), bucket_and_root(url, rest)?),
            Some((scheme @ ("sftp" | "ftp"), rest)) => (
                "opendal:".to_string() + scheme,
                host_and_root(url, scheme, rest)?,
            ),
            Some((scheme, _)) => {
                return Err(RepoError::Location {
                    url: url.to_string(),
                    reason: format!(
                        "unsupported scheme `{scheme}` (use a path, s3://, sftp:// or ftp://)"
                    ),
                })
            }
        };
        derived.extend(options.clone());
        Ok(Self {
            repository,
            options: derived,
        })
    }

    pub fn is_local(&self) -> bool {
        !self.repository.starts_with("opendal:")
    }
}

fn local_path(url: &str) -> String {
    // rustic treats `name:` prefixes as backend types; an explicit local: keeps a
    // path such as `/backups/a:b` a path.
    format!("local:{url}")
}

fn bucket_and_root(url: &str, rest: &str) -> Result<BTreeMap<String, String>, RepoError> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(RepoError::Location {
            url: url.to_string(),
            reason: "missing bucket name (s3://BUCKET/PREFIX)".into(),
        });
    }
    Ok(BTreeMap::from([
        ("bucket".to_string(), bucket.to_string()),
        ("root".to_string(), format!("/{prefix}")),
    ]))
}

fn host_and_root(
    url: &str,
    scheme: &str,
    rest: &str,
) -> Result<BTreeMap<String, String>, RepoError> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(RepoError::Location {
            url: url.to_string(),
            reason: format!("missing host ({scheme}://USER@HOST[:PORT]/PATH)"),
        });
    }
    let endpoint_scheme = if scheme == "sftp" { "ssh" } else { "ftp" };
    let mut opts = BTreeMap::from([
        (
            "endpoint".to_string(),
            format!("{endpoint_scheme}://{authority}"),
        ),
        ("root".to_string(), format!("/{path}")),
    ]);
    if let Some((user, _)) = authority.split_once('@') {
        opts.insert("user".to_string(), user.to_string());
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_urls_to_backends() {
        let none = BTreeMap::new();
        assert_eq!(
            Location::parse("/var/b", &none).unwrap().repository,
            "local:/var/b"
        );
        let s3 = Location::parse("s3://bk/lifeboat/x", &none).unwrap();
        assert_eq!(s3.repository, "opendal:s3");
        assert_eq!(s3.options["bucket"], "bk");
        assert_eq!(s3.options["root"], "/lifeboat/x");
        let sftp = Location::parse("sftp://u@h:2222/srv/r", &none).unwrap();
        assert_eq!(sftp.options["endpoint"], "ssh://u@h:2222");
        assert_eq!(sftp.options["user"], "u");
        assert_eq!(sftp.options["root"], "/srv/r");
        assert!(Location::parse("gopher://x", &none).is_err());
        assert!(Location::parse("s3:///x", &none).is_err());
    }
}

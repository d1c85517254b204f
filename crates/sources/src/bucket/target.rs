//! Where the objects are: `s3://BUCKET/PREFIX` plus the endpoint, region and keys that
//! go with it (the keys never come from, nor go into, the url).

use crate::SourceError;
use lifeboat_core::Secret;

/// Region used when neither the config nor `AWS_REGION`/`AWS_DEFAULT_REGION` names one:
/// AWS's default, and what MinIO and most other S3 servers accept.
const DEFAULT_REGION: &str = "us-east-1";

/// A prefix of an S3-compatible bucket and how to log in to it.
#[derive(Debug, Clone)]
pub struct BucketTarget {
    pub bucket: String,
    /// Without leading or trailing `/`; empty means the whole bucket.
    pub prefix: String,
    /// `None` means AWS (or `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `None` (with `secret_key`) means the `AWS_*` environment variables, as opendal reads them.
    pub access_key: Option<Secret<String>>,
    pub secret_key: Option<Secret<String>>,
}

fn invalid(why: &str) -> SourceError {
    SourceError::Invalid(format!("invalid bucket url: {why}"))
}

/// Whether `path` is a usable key or prefix: `/`-separated segments that are neither
/// empty nor `.`/`..`, because the engine stores keys as nested paths and opendal
/// would silently normalise such segments away (reading another object).
pub(crate) fn is_clean_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

fn parse_bucket(bucket: &str) -> Result<String, SourceError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || "?#@:\\".contains(c);
    if bucket.is_empty() || bucket.contains(bad) {
        return Err(invalid("expected s3://BUCKET/PREFIX"));
    }
    Ok(bucket.to_string())
}

fn parse_prefix(prefix: &str) -> Result<String, SourceError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if !is_clean_path(trimmed) || trimmed.contains(['?', '#']) {
        return Err(invalid(
            "the prefix has an empty, '.' or '..' segment, or a '?' or '#'",
        ));
    }
    Ok(trimmed.to_string())
}

impl BucketTarget {
    /// Parses `s3://BUCKET[/PREFIX]`; a prefix is a folder: `s3://b/p` means the
    /// objects whose keys start with `p/`.
    pub fn parse(
        url: &str,
        endpoint: Option<String>,
        region: Option<String>,
        access_key: Option<Secret<String>>,
        secret_key: Option<Secret<String>>,
    ) -> Result<Self, SourceError> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("must start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if access_key.is_some() != secret_key.is_some() {
            return Err(SourceError::Invalid(
                "bucket: give both access_key and secret_key, or neither (then the AWS_* \
                 environment variables are used)"
                    .into(),
            ));
        }
        Ok(Self {
            bucket: parse_bucket(bucket)?,
            prefix: parse_prefix(prefix)?,
            endpoint: endpoint.filter(|e| !e.is_empty()),
            region: region.filter(|r| !r.is_empty()),
            access_key,
            secret_key,
        })
    }

    /// Another bucket/prefix on the same endpoint with the same keys (`--to`).
    pub fn with_url(&self, url: &str) -> Result<Self, SourceError> {
        Self::parse(
            url,
            self.endpoint.clone(),
            self.region.clone(),
            self.access_key.clone(),
            self.secret_key.clone(),
        )
    }

    /// `s3://BUCKET/PREFIX` (`s3://BUCKET` for the whole bucket).
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The endpoint as messages name it.
    pub fn endpoint_label(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => match std::env::var("AWS_ENDPOINT_URL") {
                Ok(endpoint) if !endpoint.is_empty() => endpoint,
                _ => "AWS S3".into(),
            },
        }
    }

    /// The region to sign with: configured, else from the environment, else the default.
    pub(crate) fn effective_region(&self) -> String {
        let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        self.region
            .clone()
            .or_else(|| from_env("AWS_REGION"))
            .or_else(|| from_env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.into())
    }

    /// The opendal root for this prefix: `/PREFIX/`, or `/`.
    pub(crate) fn root(&self) -> String {
        if self.prefix.is_empty() {
            "/".into()
        } else {
            format!("/{}/", self.prefix)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<BucketTarget, SourceError> {
        BucketTarget::parse(url, None, None, None, None)
    }

    #[test]
    fn parses_urls() {
        let t = parse("s3://photos/2024/raw/").unwrap();
        assert_eq!(
            (t.bucket.as_str(), t.prefix.as_str()),
            ("photos", "2024/raw")
        );
        assert_eq!(t.url(), "s3://photos/2024/raw");
        assert_eq!(t.root(), "/2024/raw/");
        let t = parse("s3://photos").unwrap();
        assert_eq!(
            (t.prefix.as_str(), t.url(), t.root()),
            ("", "s3://photos".into(), "/".into())
        );
        assert_eq!(parse("s3://photos/").unwrap().prefix, "");
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "http://b/p",
            "s3://",
            "s3:///p",
            "s3://b/a//c",
            "s3://b/a/../c",
            "s3://b/./c",
            "s3://user:pw@b/p",
            "s3://b c/p",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_come_in_pairs_and_carry_over() {
        let key = || Some(Secret::new("k".to_string()));
        assert!(BucketTarget::parse("s3://b", None, None, key(), None).is_err());
        let t = BucketTarget::parse("s3://b/p", Some("http://h:9000".into()), None, key(), key())
            .unwrap();
        let other = t.with_url("s3://c/q").unwrap();
        assert_eq!(other.url(), "s3://c/q");
        assert_eq!(other.endpoint.as_deref(), Some("http://h:9000"));
        assert!(other.access_key.is_some() && other.secret_key.is_some());
        assert!(!format!("{other:?}").contains("\"k\""));
    }

    #[test]
    fn clean_paths() {
        assert!(is_clean_path("a/b.txt"));
        for bad in ["", "/a", "a/", "a//b", "./a", "a/..", "a\0b"] {
            assert!(!is_clean_path(bad), "{bad:?}");
        }
    }
}

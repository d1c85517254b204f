//! Maps lifeboat's repository URLs (`/path`, `s3://BUCKET/PREFIX`,
//! `sftp://USER@HOST[:PORT]/PATH`, `ftp://USER@HOST[:PORT]/PATH`,
//! `rest:http://HOST:PORT/PATH`) onto rustic backend options, and says which server
//! a repository lives on, so that errors can name it.

use crate::RepoError;
use std::collections::BTreeMap;

/// The kind of store a repository lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
    Sftp,
    Ftp,
    Rest,
}

impl Backend {
    /// The name errors use ("the S3 server at ...").
    pub fn name(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::S3 => "S3",
            Backend::Sftp => "SFTP",
            Backend::Ftp => "FTP",
            Backend::Rest => "REST",
        }
    }
}

/// A repository location as rustic_backend wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub repository: String,
    pub options: BTreeMap<String, String>,
    pub backend: Backend,
    /// The server, as errors name it: `http://127.0.0.1:9000`, `host:22`. Never holds
    /// a password. `None` for local repositories.
    pub endpoint: Option<String>,
    /// The S3 bucket.
    pub bucket: Option<String>,
    /// The TCP address to try before rustic does (see `open::reachable`): `None` when
    /// it is not known (AWS's own endpoints, chosen by opendal from the region).
    pub address: Option<(String, u16)>,
}

impl Location {
    /// `options` are the user's `[repository.options]` (and the values of
    /// `[repository.options_env]`); they win over what the URL implies.
    pub fn parse(url: &str, options: &BTreeMap<String, String>) -> Result<Self, RepoError> {
        let bad = |reason: String| RepoError::Location {
            url: url.to_string(),
            reason,
        };
        if let Some(http) = url.strip_prefix("rest:") {
            return rest(url, http, options);
        }
        let (backend, repository, mut derived) = match url.split_once("://") {
            None => (Backend::Local, local_path(url), BTreeMap::new()),
            Some(("s3", rest)) => (
                Backend::S3,
                "opendal:s3".to_string(),
                bucket_and_root(rest).map_err(bad)?,
            ),
            Some(("sftp", rest)) => (
                Backend::Sftp,
                "opendal:sftp".to_string(),
                host_and_root("sftp", rest).map_err(bad)?,
            ),
            Some(("ftp", rest)) => (
                Backend::Ftp,
                "opendal:ftp".to_string(),
                host_and_root("ftp", rest).map_err(bad)?,
            ),
            // opendal 0.58.2's FTP service has FTPS code, but it hands rustls
            // `host:port` as the server name (suppaftp's AsyncRustlsConnector parses it
            // as a DNS name), which rustls rejects for every host: no FTPS connection
            // can succeed. Refused here instead of failing at the first connection.
            Some(("ftps", _)) => {
                return Err(bad("ftps:// is not supported: the FTP client lifeboat uses \
                    (opendal 0.58) cannot verify a TLS server name, so every FTPS connection \
                    fails; use sftp:// for an encrypted connection"
                    .into()))
            }
            Some((scheme, _)) => {
                return Err(bad(format!(
                    "unsupported scheme `{scheme}` (use a path, s3://, sftp://, ftp:// or rest:http://)"
                )))
            }
        };
        derived.extend(options.clone());
        let endpoint = match backend {
            Backend::Local => None,
            Backend::S3 => Some(
                derived
                    .get("endpoint")
                    .cloned()
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
                    .unwrap_or_else(|| "AWS S3 (endpoint from the region)".to_string()),
            ),
            _ => derived.get("endpoint").map(|e| without_user(e)),
        };
        let address = match backend {
            Backend::Local => None,
            Backend::S3 => endpoint.as_deref().and_then(http_address),
            Backend::Sftp => derived.get("endpoint").and_then(|e| host_port(e, 22)),
            Backend::Ftp => derived.get("endpoint").and_then(|e| host_port(e, 21)),
            Backend::Rest => None,
        };
        Ok(Self {
            repository,
            bucket: derived.get("bucket").cloned(),
            options: derived,
            backend,
            endpoint,
            address,
        })
    }

    pub fn is_local(&self) -> bool {
        self.backend == Backend::Local
    }

    /// "the S3 server at http://h:9000 (bucket `b`)", for errors.
    pub fn server(&self) -> String {
        let at = self.endpoint.as_deref().unwrap_or("?");
        match &self.bucket {
            Some(bucket) => format!(
                "the {} server at {at} (bucket `{bucket}`)",
                self.backend.name()
            ),
            None => format!("the {} server at {at}", self.backend.name()),
        }
    }
}

fn local_path(url: &str) -> String {
    // rustic treats `name:` prefixes as backend types; an explicit local: keeps a
    // path such as `/backups/a:b` a path.
    format!("local:{url}")
}

fn bucket_and_root(rest: &str) -> Result<BTreeMap<String, String>, String> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("missing bucket name (s3://BUCKET/PREFIX)".into());
    }
    Ok(BTreeMap::from([
        ("bucket".to_string(), bucket.to_string()),
        ("root".to_string(), format!("/{prefix}")),
    ]))
}

fn host_and_root(scheme: &str, rest: &str) -> Result<BTreeMap<String, String>, String> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    if host.is_empty() {
        return Err(format!("missing host ({scheme}://USER@HOST[:PORT]/PATH)"));
    }
    if user.is_some_and(|u| u.contains(':')) {
        return Err(
            "a password does not belong in the URL: put it in an environment \
             variable and name it in [repository.options_env] (password = \"VAR\")"
                .to_string(),
        );
    }
    let mut opts = BTreeMap::from([("root".to_string(), format!("/{path}"))]);
    // The SFTP client (the openssh crate) takes `ssh://user@host:port` as one
    // destination; the FTP client wants the host alone and the user separately.
    let endpoint = match (scheme, user) {
        ("sftp", Some(user)) => format!("ssh://{user}@{host}"),
        ("sftp", None) => format!("ssh://{host}"),
        _ => format!("ftp://{host}"),
    };
    opts.insert("endpoint".to_string(), endpoint);
    if let Some(user) = user {
        opts.insert("user".to_string(), user.to_string());
    }
    Ok(opts)
}

/// `rest:http://[USER@]HOST:PORT/PATH`: rustic's REST backend takes the URL as it is.
/// Its only credential is the URL's password, which comes from `password` (given
/// through `[repository.options_env]`) and is spliced in here, never read from the file.
fn rest(url: &str, http: &str, options: &BTreeMap<String, String>) -> Result<Location, RepoError> {
    let bad = |reason: &str| RepoError::Location {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let mut parsed =
        url::Url::parse(http).map_err(|e| bad(&format!("{e} (rest:http://HOST:PORT/PATH)")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(bad(
            "expected rest:http://HOST:PORT/PATH or rest:https://...",
        ));
    }
    if parsed.password().is_some() {
        return Err(bad(
            "a password does not belong in the URL: put it in an environment variable \
             and name it in [repository.options_env] (password = \"VAR\")",
        ));
    }
    let endpoint = parsed.to_string();
    let address = parsed
        .host_str()
        .zip(parsed.port_or_known_default())
        .map(|(h, p)| (h.to_string(), p));
    let mut options = options.clone();
    if let Some(password) = options.remove("password") {
        parsed
            .set_password(Some(&password))
            .map_err(|()| bad("a password needs a user in the URL (rest:http://USER@HOST/...)"))?;
    }
    Ok(Location {
        repository: format!("rest:{parsed}"),
        options,
        backend: Backend::Rest,
        endpoint: Some(without_user(&endpoint)),
        bucket: None,
        address,
    })
}

/// `scheme://user@host:port/x` without `user@` (errors name servers, not accounts).
fn without_user(endpoint: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            format!("{scheme}://{host}{path}")
        }
        None => endpoint.to_string(),
    }
}

/// Host and port of an `http(s)://` endpoint.
fn http_address(endpoint: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(endpoint).ok()?;
    Some((url.host_str()?.to_string(), url.port_or_known_default()?))
}

/// Host and port of `scheme://[user@]host[:port]`, `default` when no port is given.
fn host_port(endpoint: &str, default: u16) -> Option<(String, u16)> {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default), |p| p.parse().ok())?;
        return Some((addr.to_string(), port));
    }
    match host.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((host.to_string(), default)),
    }
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
        assert_eq!(sftp.address, Some(("h".into(), 2222)));
        assert_eq!(sftp.endpoint.as_deref(), Some("ssh://h:2222"));
        let ftp = Location::parse("ftp://bob@files.example:2121/b", &none).unwrap();
        assert_eq!(ftp.options["endpoint"], "ftp://files.example:2121");
        assert_eq!(ftp.options["user"], "bob");
        assert_eq!(ftp.address, Some(("files.example".into(), 2121)));
        assert_eq!(
            Location::parse("ftp://h/b", &none).unwrap().address,
            Some(("h".into(), 21))
        );
        assert!(Location::parse("gopher://x", &none).is_err());
        assert!(Location::parse("s3:///x", &none).is_err());
        assert!(Location::parse("ftps://u@h/x", &none).is_err());
        assert!(Location::parse("ftp://u:secret@h/x", &none).is_err());
        assert!(Location::parse("rest:http://u:secret@h:8000/x", &none).is_err());
    }

    #[test]
    fn user_options_win_and_rest_takes_its_password_from_options() {
        let opts = BTreeMap::from([
            ("root".to_string(), "/elsewhere".to_string()),
            ("endpoint".to_string(), "http://10.0.0.5:9000".to_string()),
        ]);
        let s3 = Location::parse("s3://bk/x", &opts).unwrap();
        assert_eq!(s3.options["root"], "/elsewhere");
        assert_eq!(s3.address, Some(("10.0.0.5".into(), 9000)));
        assert_eq!(
            s3.server(),
            "the S3 server at http://10.0.0.5:9000 (bucket `bk`)"
        );

        let pw = BTreeMap::from([("password".to_string(), "s3cr3t".to_string())]);
        let rest = Location::parse("rest:http://alice@127.0.0.1:8000/repo", &pw).unwrap();
        assert_eq!(
            rest.repository,
            "rest:http://alice:s3cr3t@127.0.0.1:8000/repo"
        );
        assert!(!rest.options.contains_key("password"));
        assert_eq!(rest.endpoint.as_deref(), Some("http://127.0.0.1:8000/repo"));
        assert_eq!(rest.address, Some(("127.0.0.1".into(), 8000)));
    }

    /// Proves the trimmed rustic_backend (vendor/rustic_backend/PATCHED.md) still has
    /// every backend a URL form maps to: `to_backends` fails for a service that is not
    /// compiled in. Building a backend connects to nothing.
    #[test]
    fn every_url_form_opens_a_backend() {
        let region = BTreeMap::from([
            ("region".to_string(), "us-east-1".to_string()),
            ("endpoint".to_string(), "http://127.0.0.1:9".to_string()),
        ]);
        let none = BTreeMap::new();
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("repo").display().to_string();
        let forms: [(&str, &BTreeMap<String, String>, Backend); 6] = [
            (&local, &none, Backend::Local),
            ("s3://bucket/prefix", &region, Backend::S3),
            ("sftp://user@127.0.0.1:2222/srv/repo", &none, Backend::Sftp),
            ("ftp://user@127.0.0.1:2121/repo", &none, Backend::Ftp),
            ("rest:http://127.0.0.1:8000/repo", &none, Backend::Rest),
            ("rest:https://127.0.0.1:8443/repo", &none, Backend::Rest),
        ];
        for (url, options, backend) in forms {
            let location = Location::parse(url, options).unwrap();
            assert_eq!(location.backend, backend, "{url}");
            rustic_backend::BackendOptions::default()
                .repository(location.repository.clone())
                .options(location.options.clone())
                .to_backends()
                .unwrap_or_else(|e| {
                    panic!("{url} -> {}: {}", location.repository, e.display_log())
                });
        }
    }
}

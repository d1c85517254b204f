//! Where a Redis server is: parsing `redis://[USER@]HOST:PORT` and the credentials
//! that go with it (the password never comes from, nor goes into, the url).

use crate::SourceError;
use lifeboat_core::Secret;

/// Redis's well-known port, used when the url names none.
const DEFAULT_PORT: u16 = 6379;

/// A Redis server and how to log in to it.
#[derive(Debug, Clone)]
pub struct RedisTarget {
    pub host: String,
    pub port: u16,
    /// An ACL user (Redis 6+); `None` logs in as `default`.
    pub user: Option<String>,
    pub password: Option<Secret<String>>,
}

fn invalid(why: &str) -> SourceError {
    SourceError::Invalid(format!("invalid redis url: {why}"))
}

/// Splits `HOST[:PORT]`, where HOST may be a bracketed IPv6 address.
fn split_host_port(hostport: &str) -> Result<(String, u16), SourceError> {
    let parse_port = |p: &str| p.parse::<u16>().map_err(|_| invalid("bad port"));
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid("unclosed [ in host"))?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| invalid("expected :PORT after ]"))?,
            )?,
        };
        return Ok((host.to_string(), port));
    }
    match hostport.split_once(':') {
        Some((host, port)) => Ok((host.to_string(), parse_port(port)?)),
        None => Ok((hostport.to_string(), DEFAULT_PORT)),
    }
}

impl RedisTarget {
    /// Parses `redis://[USER@]HOST:PORT`. A password in the url is refused without
    /// repeating it: it belongs in `password_env`/`password_file`.
    pub fn parse(url: &str, password: Option<Secret<String>>) -> Result<Self, SourceError> {
        if url.starts_with("rediss://") {
            return Err(invalid("TLS (rediss://) is not supported"));
        }
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| invalid("must start with redis://"))?;
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, rest),
        };
        if user.is_some_and(|u| u.contains(':')) {
            return Err(invalid(
                "passwords do not belong in urls; use password_env or password_file",
            ));
        }
        if user == Some("") || hostport.contains(['/', '?', '#']) {
            return Err(invalid("expected redis://[USER@]HOST:PORT"));
        }
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(invalid("expected redis://[USER@]HOST:PORT"));
        }
        Ok(Self {
            host,
            port,
            user: user.map(str::to_string),
            password,
        })
    }

    /// `redis://[USER@]HOST:PORT`, never with the password.
    pub fn url(&self) -> String {
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!("redis://{user}{}", self.address())
    }

    /// `HOST:PORT` (IPv6 hosts bracketed), as messages and `connect` want it.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = RedisTarget::parse("redis://backup@cache.local:6380", None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_deref()),
            ("cache.local", 6380, Some("backup"))
        );
        assert_eq!(t.url(), "redis://backup@cache.local:6380");
        let t = RedisTarget::parse("redis://127.0.0.1:7000", None).unwrap();
        assert_eq!((t.user, t.port), (None, 7000));
        assert_eq!(RedisTarget::parse("redis://h", None).unwrap().port, 6379);
        let t = RedisTarget::parse("redis://[::1]:7001", None).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 7001));
        assert_eq!(t.url(), "redis://[::1]:7001");
    }

    #[test]
    fn refuses_bad_urls_without_echoing_passwords() {
        for bad in [
            "http://h:1",
            "rediss://h:1",
            "redis://",
            "redis://h:x",
            "redis://h:1/0",
            "redis://@h:1",
            "redis://[::1",
            "redis://u:pw@h:1",
            "redis://:pw@h:1",
        ] {
            assert!(RedisTarget::parse(bad, None).is_err(), "{bad}");
        }
        let err = RedisTarget::parse("redis://u:hunter2@h:1", None).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = RedisTarget::parse("redis://:hunter2@h:1", None).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

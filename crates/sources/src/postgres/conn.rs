//! Connection parameters of a PostgreSQL database and the 0600 passfile that hands
//! the password to pg_dump/pg_restore without argv or environment values.

use crate::SourceError;
use lifeboat_core::Secret;
use std::io::Write;
use std::process::Command;

/// Where a database is, parsed from `postgres://USER@HOST:PORT/DB`.
#[derive(Debug, Clone)]
pub struct PgTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: Option<Secret<String>>,
}

impl PgTarget {
    pub fn parse(url: &str, password: Option<Secret<String>>) -> Result<Self, SourceError> {
        let invalid = |why: &str| SourceError::Invalid(format!("invalid postgres url: {why}"));
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| invalid("must start with postgres://"))?;
        let (authority, dbname) = rest
            .split_once('/')
            .ok_or_else(|| invalid("missing /DATABASE"))?;
        let (user, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| invalid("missing USER@"))?;
        if user.contains(':') {
            return Err(invalid(
                "passwords do not belong in urls; use password_env or password_file",
            ));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| invalid("bad port"))?),
            None => (hostport, 5432),
        };
        if host.is_empty() || user.is_empty() || dbname.is_empty() || dbname.contains(['/', '?']) {
            return Err(invalid("expected postgres://USER@HOST:PORT/DB"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            user: user.to_string(),
            dbname: dbname.to_string(),
            password,
        })
    }

    /// The same server, another database.
    pub fn with_db(&self, dbname: &str) -> Self {
        Self {
            dbname: dbname.to_string(),
            ..self.clone()
        }
    }

    /// `postgres://USER@HOST:PORT/DB` (never with the password).
    pub fn url(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.dbname
        )
    }

    pub fn connect(&self) -> Result<postgres::Client, SourceError> {
        let mut cfg = postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("lifeboat")
            .connect_timeout(std::time::Duration::from_secs(15));
        if let Some(p) = &self.password {
            cfg.password(p.expose());
        }
        cfg.connect(postgres::NoTls).map_err(|e| {
            SourceError::Connect(format!(
                "cannot connect to {}: {}",
                self.url(),
                describe(&e)
            ))
        })
    }

    /// Adds connection arguments and a passfile to a pg_* command. The returned guard
    /// owns the passfile's directory; keep it alive until the child exits.
    pub fn configure(&self, cmd: &mut Command) -> Result<Option<tempfile::TempDir>, SourceError> {
        cmd.arg("--no-password")
            .args([
                "--host",
                &self.host,
                "--port",
                &self.port.to_string(),
                "--username",
                &self.user,
            ])
            .env_remove("PGPASSWORD");
        let Some(password) = &self.password else {
            return Ok(None);
        };
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-pg-")
            .tempdir()
            .map_err(SourceError::io("creating a passfile directory"))?;
        let path = dir.path().join("pgpass");
        let mut file = std::fs::OpenOptions::new();
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = file
            .mode(0o600)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(SourceError::io("writing the passfile"))?;
        let escaped = password.expose().replace('\\', "\\\\").replace(':', "\\:");
        writeln!(file, "*:*:*:*:{escaped}").map_err(SourceError::io("writing the passfile"))?;
        cmd.env("PGPASSFILE", &path);
        Ok(Some(dir))
    }
}

/// postgres errors print "db error" for server errors; the detail is in `as_db_error`.
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                text = format!("{text}: {s}");
                src = s.source();
            }
            text
        }
    }
}

/// Quotes an SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_refuses_passwords() {
        let t = PgTarget::parse("postgres://esp@localhost:1487/lab7", None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_str(), t.dbname.as_str()),
            ("localhost", 1487, "esp", "lab7")
        );
        assert_eq!(t.url(), "postgres://esp@localhost:1487/lab7");
        assert_eq!(
            PgTarget::parse("postgres://u@h/d", None).unwrap().port,
            5432
        );
        for bad in [
            "mysql://u@h/d",
            "postgres://u:pw@h/d",
            "postgres://h/d",
            "postgres://u@h",
            "postgres://u@h:x/d",
        ] {
            assert!(PgTarget::parse(bad, None).is_err(), "{bad}");
        }
        assert!(!PgTarget::parse("postgres://u:hunter2@h/d", None)
            .unwrap_err()
            .to_string()
            .contains("hunter2"));
    }
}

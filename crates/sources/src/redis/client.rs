//! A small synchronous Redis client over a `TcpStream`: connect, log in, run commands
//! one by one or pipelined, and turn server errors into messages that name the server
//! and the command but never an argument (arguments carry passwords and payloads).
//!
//! Hand-rolled rather than the `redis` crate: the replication handshake needs the raw
//! socket anyway, the restore wants explicit pipelining with one payload in memory at a
//! time, and RESP2 with binary-safe bulk strings is a few dozen lines.

use super::resp::{self, Value};
use super::target::RedisTarget;
use crate::SourceError;
use lifeboat_core::TableCount;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Generous: a `FLUSHALL` or a `RESTORE` of a huge key on a busy server takes a while.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// An authenticated connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    url: String,
}

fn connect_tcp(target: &RedisTarget) -> Result<TcpStream, SourceError> {
    let unreachable =
        |why: String| SourceError::Connect(format!("cannot connect to {}: {why}", target.url()));
    let addrs = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(unreachable(last.map_or_else(
        || "the host name resolves to no address".to_string(),
        |e| e.to_string(),
    )))
}

impl Conn {
    /// Connects to `target` and logs in when it has a user or password.
    pub fn open(target: &RedisTarget) -> Result<Conn, SourceError> {
        let stream = connect_tcp(target)?;
        let io_err = |source| SourceError::Io {
            context: format!("setting up the connection to {}", target.url()),
            source,
        };
        stream.set_nodelay(true).map_err(io_err)?;
        stream
            .set_read_timeout(Some(COMMAND_TIMEOUT))
            .and_then(|_| stream.set_write_timeout(Some(COMMAND_TIMEOUT)))
            .map_err(io_err)?;
        let writer = BufWriter::new(stream.try_clone().map_err(io_err)?);
        let mut conn = Conn {
            reader: BufReader::new(stream),
            writer,
            url: target.url(),
        };
        conn.auth(target)?;
        Ok(conn)
    }

    /// `AUTH [user] password`. A user without password still authenticates (with an
    /// empty one, which a `nopass` ACL user accepts) so that we never silently act as
    /// `default` when the config named someone else.
    fn auth(&mut self, target: &RedisTarget) -> Result<(), SourceError> {
        let password = target.password.as_ref().map(|p| p.expose().as_bytes());
        match (&target.user, password) {
            (None, None) => Ok(()),
            (None, Some(pw)) => self.call(&[b"AUTH", pw]).map(drop),
            (Some(user), pw) => self
                .call(&[b"AUTH", user.as_bytes(), pw.unwrap_or_default()])
                .map(drop),
        }
    }

    /// This end's address of the connection: where the server can reach us.
    pub(crate) fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.reader.get_ref().local_addr()
    }

    /// `redis://…` of the server, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one command; an error reply becomes an error.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Value, SourceError> {
        self.send(args)?;
        self.flush(args)?;
        match self.read(args)? {
            Value::Error(msg) => Err(self.server_error(args, &msg)),
            value => Ok(value),
        }
    }

    /// Queues a command; it goes out on [`Conn::flush`] (or when the buffer fills).
    pub fn send(&mut self, args: &[&[u8]]) -> Result<(), SourceError> {
        resp::write_command(&mut self.writer, args).map_err(|e| self.io_error(args, e))
    }

    pub fn flush(&mut self, args: &[&[u8]]) -> Result<(), SourceError> {
        self.writer.flush().map_err(|e| self.io_error(args, e))
    }

    /// Reads the next reply as it is, error replies included. `args` names the
    /// command it answers, for messages.
    pub fn read(&mut self, args: &[&[u8]]) -> Result<Value, SourceError> {
        resp::read_value(&mut self.reader).map_err(|e| self.io_error(args, e))
    }

    /// The text of `INFO section`.
    pub fn info(&mut self, section: &str) -> Result<String, SourceError> {
        let args: [&[u8]; 2] = [b"INFO", section.as_bytes()];
        self.call(&args)?
            .as_text()
            .ok_or_else(|| SourceError::Query(format!("{}: INFO returned no text", self.url)))
    }

    /// One field of `INFO server`, e.g. `redis_version` or `process_id`.
    pub fn server_field(&mut self, field: &str) -> Result<String, SourceError> {
        let info = self.info("server")?;
        info_field(&info, field)
            .ok_or_else(|| SourceError::Query(format!("{}: INFO server has no {field}", self.url)))
    }

    /// Keys per non-empty logical database, by database number.
    pub fn key_counts(&mut self) -> Result<Vec<(u32, u64)>, SourceError> {
        Ok(parse_keyspace(&self.info("keyspace")?))
    }

    /// Keys, and keys with an expiry, per db, from one `INFO keyspace`.
    pub fn keyspace(&mut self) -> Result<(PerDb, PerDb), SourceError> {
        let info = self.info("keyspace")?;
        Ok((parse_keyspace(&info), parse_keyspace_expires(&info)))
    }

    /// Gives up the socket's reading half with whatever is already buffered.
    pub(crate) fn into_reader(self) -> BufReader<TcpStream> {
        self.reader
    }

    /// Gives up both halves of the socket (nothing may be pending).
    pub(crate) fn into_parts(self) -> (BufReader<TcpStream>, BufWriter<TcpStream>) {
        (self.reader, self.writer)
    }

    fn io_error(&self, args: &[&[u8]], source: io::Error) -> SourceError {
        SourceError::Io {
            context: format!("talking to {} ({})", self.url, command_name(args)),
            source,
        }
    }

    pub(crate) fn server_error(&self, args: &[&[u8]], msg: &str) -> SourceError {
        server_error(&self.url, &command_name(args), msg)
    }
}

/// The command's name only: its arguments may be a password or a payload.
fn command_name(args: &[&[u8]]) -> String {
    args.first()
        .map(|a| String::from_utf8_lossy(a).to_uppercase())
        .unwrap_or_default()
}

/// A message for an error reply, with a hint for the errors an operator can fix.
/// Redis's messages never repeat a password.
pub(crate) fn server_error(url: &str, command: &str, msg: &str) -> SourceError {
    let code = msg.split_whitespace().next().unwrap_or_default();
    match code {
        "WRONGPASS" => SourceError::Connect(format!(
            "{url}: authentication failed ({msg}); check the user and password_env/password_file"
        )),
        "NOAUTH" => SourceError::Connect(format!(
            "{url}: the server requires a password ({msg}); set password_env or password_file"
        )),
        "NOPERM" => SourceError::Connect(format!(
            "{url}: the user may not run {command} ({msg}); grant it, e.g. ACL SETUSER <user> +{}",
            command.to_lowercase()
        )),
        _ => SourceError::Query(format!("{url}: {command} failed: {msg}")),
    }
}

/// A number per logical database, sorted by db.
pub type PerDb = Vec<(u32, u64)>;

/// `field:value` lines of an INFO section.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then(|| value.trim().to_string())
    })
}

/// `db3:keys=12,expires=2,avg_ttl=0` lines of `INFO keyspace`, sorted by db.
pub fn parse_keyspace(info: &str) -> Vec<(u32, u64)> {
    keyspace_field(info, "keys=")
}

/// How many keys of each db have an expiry (`expires=`), sorted by db.
pub fn parse_keyspace_expires(info: &str) -> Vec<(u32, u64)> {
    keyspace_field(info, "expires=")
}

fn keyspace_field(info: &str, field: &str) -> Vec<(u32, u64)> {
    let mut dbs: Vec<(u32, u64)> = info
        .lines()
        .filter_map(|line| {
            let (name, fields) = line.trim().split_once(':')?;
            let db = name.strip_prefix("db")?.parse().ok()?;
            let value = fields
                .split(',')
                .find_map(|f| f.strip_prefix(field))?
                .parse()
                .ok()?;
            Some((db, value))
        })
        .collect();
    dbs.sort_unstable();
    dbs
}

/// Key counts as manifest facts: `db0`, `db3`, …
pub fn as_table_counts(counts: &[(u32, u64)]) -> Vec<TableCount> {
    counts
        .iter()
        .map(|&(db, keys)| TableCount {
            table: format!("db{db}"),
            rows: keys,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_sections() {
        let info = "# Keyspace\r\ndb10:keys=4,expires=0,avg_ttl=0\r\ndb0:keys=12,expires=2,avg_ttl=931\r\n";
        assert_eq!(parse_keyspace(info), vec![(0, 12), (10, 4)]);
        assert_eq!(parse_keyspace_expires(info), vec![(0, 2), (10, 0)]);
        assert_eq!(parse_keyspace("# Keyspace\r\n"), vec![]);
        let server = "# Server\r\nredis_version:7.0.15\r\nprocess_id:42\r\n";
        assert_eq!(
            info_field(server, "redis_version").as_deref(),
            Some("7.0.15")
        );
        assert_eq!(info_field(server, "process_id").as_deref(), Some("42"));
        assert_eq!(info_field(server, "nope"), None);
    }

    #[test]
    fn error_messages_name_the_command_only() {
        let args: [&[u8]; 3] = [b"auth", b"someone", b"hunter2"];
        let e = server_error(
            "redis://h:1",
            &command_name(&args),
            "WRONGPASS invalid username-password pair",
        );
        assert!(e.to_string().contains("authentication failed"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = server_error(
            "redis://h:1",
            "SYNC",
            "NOPERM this user has no permissions to run the 'sync' command",
        );
        assert!(e.to_string().contains("+sync"), "{e}");
    }
}

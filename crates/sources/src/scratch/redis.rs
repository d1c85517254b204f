//! A throwaway redis-server: a config file and optional `dump.rdb` in a temp dir, a
//! free loopback port, a random password (the data may be a restored backup), no
//! persistence; killed (its process group) and removed on drop. Runs as the `redis`
//! user when we are root.

use super::{find_binary, free_port, is_root, register, Registration};
use crate::process::{kill_group, Pipes, Running};
use crate::redis::{Conn, RedisTarget};
use crate::SourceError;
use lifeboat_core::Secret;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Time for the port to answer at all.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Time to load a large RDB once the server answers `LOADING`.
const LOAD_TIMEOUT: Duration = Duration::from_secs(3600);
/// Logical databases: more than the default 16, so that an RDB from a server
/// configured with more still loads.
const DATABASES: u32 = 256;

/// A running throwaway server. Dropping it kills the server (its process group) and
/// then removes its directory: the fields go in this order.
pub struct ScratchRedis {
    pub port: u16,
    child: Running,
    password: Secret<String>,
    dir: tempfile::TempDir,
    /// The second signal's clean-up (kill, remove the dir), unregistered on drop.
    _cleanup: Registration,
}

/// uid and gid of the `redis` user, from /etc/passwd.
fn redis_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            ["redis", _, uid, gid, ..] => Some((uid.parse().ok()?, gid.parse().ok()?)),
            _ => None,
        }
    })
}

/// A config-file string: every byte hex-escaped inside double quotes, so any password
/// or path survives redis's config parser.
fn quote(value: &str) -> String {
    let escaped: String = value.bytes().map(|b| format!("\\x{b:02x}")).collect();
    format!("\"{escaped}\"")
}

/// 128 random bits as hex.
fn random_password() -> Result<String, SourceError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(SourceError::io("reading /dev/urandom"))?;
    Ok(hex::encode(bytes))
}

fn config(port: u16, dir: &Path, password: &str) -> String {
    let dir_text = dir.to_string_lossy();
    let log = dir.join("redis.log");
    [
        format!("port {port}"),
        "bind 127.0.0.1".into(),
        format!("dir {}", quote(&dir_text)),
        "dbfilename dump.rdb".into(),
        "save \"\"".into(),
        "appendonly no".into(),
        // A backup of a scratch server (tests) gets its RDB at once instead of after the
        // default 5 s wait for more replicas to join the same diskless transfer.
        "repl-diskless-sync-delay 0".into(),
        "daemonize no".into(),
        format!("databases {DATABASES}"),
        format!("logfile {}", quote(&log.to_string_lossy())),
        format!("requirepass {}", quote(password)),
    ]
    .join("\n")
}

impl ScratchRedis {
    /// Starts a server with a random password, loading `rdb` when given.
    pub fn start(rdb: Option<&Path>) -> Result<Self, SourceError> {
        Self::launch(rdb, random_password()?, false)
    }

    /// Starts a server that loads `rdb` keeping every key, those whose expiry has
    /// passed too: it is a replica (of a port nobody listens on), and replicas leave
    /// expiry to their master. For counting what a backup holds; not for copying keys.
    pub fn start_keeping_expired(rdb: &Path) -> Result<Self, SourceError> {
        Self::launch(Some(rdb), random_password()?, true)
    }

    /// Starts an empty server whose `default` user has `password` (for tests of
    /// logins; add ACL users with `ACL SETUSER` through [`ScratchRedis::admin`]).
    pub fn start_with_password(password: &str) -> Result<Self, SourceError> {
        Self::launch(None, password.to_string(), false)
    }

    fn launch(
        rdb: Option<&Path>,
        password: String,
        keep_expired: bool,
    ) -> Result<Self, SourceError> {
        let binary =
            find_binary(&["redis-server"], &[]).ok_or_else(|| SourceError::MissingTool {
                tool: "redis-server".into(),
                hint: "apt-get install -y redis-server".into(),
            })?;
        let owner = if is_root() { redis_user() } else { None };
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-scratch-redis-")
            .tempdir()
            .map_err(SourceError::io("creating a scratch directory"))?;
        let port = free_port()?;
        let conf = dir.path().join("redis.conf");
        let mut text = config(port, dir.path(), &password);
        if keep_expired {
            text.push_str(&format!("\nreplicaof 127.0.0.1 {}", free_port()?));
        }
        std::fs::write(&conf, text).map_err(SourceError::io("writing the scratch redis.conf"))?;
        give_to(owner, dir.path())?;
        give_to(owner, &conf)?;
        if let Some(rdb) = rdb {
            place_rdb(rdb, dir.path(), owner)?;
        }
        let child = spawn(&binary, &conf, dir.path(), owner)?;
        let cleanup = {
            let (pgid, path) = (child.pid(), dir.path().to_path_buf());
            register(move || {
                kill_group(pgid);
                let _ = std::fs::remove_dir_all(&path);
            })
        };
        let mut server = ScratchRedis {
            port,
            child,
            password: Secret::new(password),
            dir,
            _cleanup: cleanup,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Where the server keeps its files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// How to reach it, password included.
    pub fn target(&self) -> RedisTarget {
        RedisTarget {
            host: "127.0.0.1".into(),
            port: self.port,
            user: None,
            password: Some(self.password.clone()),
        }
    }

    /// A connection as the `default` user.
    pub fn admin(&self) -> Result<Conn, SourceError> {
        Conn::open(&self.target())
    }

    /// The log's last lines, then whatever it wrote to stderr (config errors).
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(4)..].join("\n");
        let stderr = self.child.stderr_tail();
        [tail.trim_end(), stderr.trim_end()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until `PING` answers `PONG`, i.e. the port is open and the RDB loaded.
    fn wait_ready(&mut self) -> Result<(), SourceError> {
        let started = Instant::now();
        let mut deadline = started + START_TIMEOUT;
        let mut pause = Duration::from_millis(10);
        loop {
            match self.admin().and_then(|mut c| c.call(&[b"PING"])) {
                Ok(_) => return Ok(()),
                Err(e) if e.to_string().contains("LOADING") => {
                    deadline = started + LOAD_TIMEOUT;
                }
                Err(_) => {}
            }
            if let Some(failure) = self.exited() {
                return Err(failure);
            }
            if Instant::now() >= deadline {
                return Err(
                    self.failed(format!("not ready after {}s", started.elapsed().as_secs()))
                );
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// An error when the child has already exited.
    fn exited(&mut self) -> Option<SourceError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(self.failed(format!("exited during startup ({status})"))),
            Ok(None) => None,
            Err(e) => Some(e),
        }
    }

    fn failed(&self, why: String) -> SourceError {
        SourceError::ChildFailed {
            tool: "redis-server (scratch)".into(),
            status: why,
            stderr: self.log_tail(),
        }
    }
}

/// Puts the RDB in place as `dump.rdb`: a hard link (a large dump is not copied)
/// when the server may read it as it is, otherwise a copy it can own: chowning a link
/// would change the caller's file too.
fn place_rdb(rdb: &Path, dir: &Path, owner: Option<(u32, u32)>) -> Result<(), SourceError> {
    use std::os::unix::fs::MetadataExt;
    let dest = dir.join("dump.rdb");
    let readable_as_is = match (owner, std::fs::metadata(rdb)) {
        (None, _) => true,
        (Some((uid, _)), Ok(meta)) => meta.uid() == uid,
        (Some(_), Err(_)) => false,
    };
    if readable_as_is && std::fs::hard_link(rdb, &dest).is_ok() {
        return Ok(());
    }
    std::fs::copy(rdb, &dest).map_err(SourceError::io(format!(
        "copying {} into a scratch redis dir",
        rdb.display()
    )))?;
    give_to(owner, &dest)
}

/// Hands a file we created to the server's user (when it runs as another one).
fn give_to(owner: Option<(u32, u32)>, path: &Path) -> Result<(), SourceError> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(SourceError::io(format!("chown {}", path.display()))),
        None => Ok(()),
    }
}

fn spawn(
    binary: &Path,
    conf: &Path,
    dir: &Path,
    owner: Option<(u32, u32)>,
) -> Result<Running, SourceError> {
    let mut cmd = Command::new(binary);
    cmd.arg(conf).current_dir(dir);
    // Dropping privileges in the child itself (not through runuser) keeps the server
    // our direct child, so Drop can kill it.
    if let Some((uid, gid)) = owner {
        cmd.gid(gid).uid(uid);
    }
    Running::spawn("redis-server (scratch)", &mut cmd, Pipes::None)
}

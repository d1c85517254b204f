//! A throwaway MariaDB server: `mariadb-install-db` into a temp dir, `mariadbd` as our
//! own child on a free loopback port, tuned for speed over durability, `root` without
//! password; SIGTERM (SIGKILL after a grace period) and removal on drop.

use super::{find_binary, free_port, is_root, register, run_checked, Registration};
use crate::mysql::{query, MysqlTarget};
use crate::process::{kill_group, Pipes, Running};
use crate::SourceError;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SERVER_HINT: &str = "apt-get install -y mariadb-server";
/// Time for a fresh server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Time for a clean shutdown before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running throwaway server.
pub struct ScratchMariaDb {
    pub port: u16,
    child: Running,
    dir: tempfile::TempDir,
    /// Kills the server if the process is interrupted (no Drop runs then).
    _cleanup: Registration,
}

fn binary(names: &[&str]) -> Result<PathBuf, SourceError> {
    let dirs = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")];
    find_binary(names, &dirs).ok_or_else(|| SourceError::MissingTool {
        tool: names.join(" or "),
        hint: SERVER_HINT.to_string(),
    })
}

/// `--user=root` lets mariadbd run as root (it refuses otherwise); as anyone else it
/// runs as that user.
fn user_arg() -> Option<&'static str> {
    is_root().then_some("--user=root")
}

fn install(program: &Path, data: &Path) -> Result<(), SourceError> {
    let mut cmd = Command::new(program);
    // --no-defaults must come first: /etc/mysql settings must not leak in.
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(user_arg());
    // The bootstrap server keeps temporary tables in $TMPDIR: a shared /tmp lets two
    // installs running at once remove each other's (`Unknown table 'mysql.tmp_user_sys'`).
    if let Some(dir) = data.parent() {
        cmd.env("TMPDIR", dir);
    }
    run_checked("mariadb-install-db", &mut cmd).map(drop)
}

fn server_command(program: &Path, dir: &Path, port: u16) -> Command {
    let path = |name: &str| dir.join(name).display().to_string();
    let mut cmd = Command::new(program);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", path("data")))
        .arg(format!("--socket={}", path("sock")))
        .arg(format!("--pid-file={}", path("pid")))
        .arg(format!("--log-error={}", path("error.log")))
        .arg(format!("--tmpdir={}", dir.display()))
        .arg(format!("--port={port}"))
        .args([
            "--bind-address=127.0.0.1",
            // Clients on 127.0.0.1 match root@127.0.0.1 directly; no DNS lookups.
            "--skip-name-resolve",
            "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--innodb-buffer-pool-size=32M",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci",
            "--max-allowed-packet=1073741824",
            // Restored events must not start running.
            "--event-scheduler=OFF",
        ])
        .args(user_arg());
    cmd
}

/// A string literal for the scratch server (default sql_mode: backslash escapes on).
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl ScratchMariaDb {
    /// Initialises a data dir and starts the server; returns once it accepts queries.
    pub fn start() -> Result<Self, SourceError> {
        let installer = binary(&["mariadb-install-db", "mysql_install_db"])?;
        let server = binary(&["mariadbd", "mysqld"])?;
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-scratch-mariadb-")
            .tempdir()
            .map_err(SourceError::io("creating a scratch directory"))?;
        install(&installer, &dir.path().join("data"))?;
        let port = free_port()?;
        let child = Running::spawn(
            "mariadbd (scratch)",
            &mut server_command(&server, dir.path(), port),
            Pipes::None,
        )?;
        let cleanup = {
            let (pgid, path) = (child.pid(), dir.path().to_path_buf());
            register(move || {
                kill_group(pgid);
                let _ = std::fs::remove_dir_all(&path);
            })
        };
        let mut scratch = Self {
            port,
            child,
            dir,
            _cleanup: cleanup,
        };
        scratch.wait_ready()?;
        Ok(scratch)
    }

    /// Where the server keeps its files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The mariadbd process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Database `db` as `root` (no password) over TCP.
    pub fn target(&self, db: &str) -> MysqlTarget {
        self.root().with_db(db)
    }

    /// The server as `root` (no password), no database.
    pub fn root(&self) -> MysqlTarget {
        MysqlTarget {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "root".into(),
            dbname: None,
            password: None,
        }
    }

    /// Creates `name`@`%` with `password` and every privilege.
    pub fn create_user(&self, name: &str, password: &str) -> Result<(), SourceError> {
        let user = format!("{}@'%'", literal(name));
        let sql = format!(
            "CREATE USER {user} IDENTIFIED BY {};\nGRANT ALL PRIVILEGES ON *.* TO {user} WITH GRANT OPTION;\n",
            literal(password)
        );
        query(&self.root(), &sql).map(drop)
    }

    fn wait_ready(&mut self) -> Result<(), SourceError> {
        let started = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(self.failed(format!("exited during startup ({status})")))
                }
                Ok(None) => {}
                Err(e) => return Err(e),
            }
            // A cheap TCP probe first: each query spawns a client process.
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && query(&self.root(), "SELECT 1").is_ok()
            {
                return Ok(());
            }
            if started.elapsed() >= START_TIMEOUT {
                return Err(self.failed(format!("not ready after {}s", START_TIMEOUT.as_secs())));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn failed(&self, why: String) -> SourceError {
        let log = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let mut stderr = lines[lines.len().saturating_sub(15)..].join("\n");
        let early = self.child.stderr_tail();
        if !early.trim().is_empty() {
            stderr = format!("{stderr}\n{}", early.trim_end());
        }
        SourceError::ChildFailed {
            tool: "mariadbd (scratch)".into(),
            status: why,
            stderr,
        }
    }
}

impl Drop for ScratchMariaDb {
    fn drop(&mut self) {
        // SIGTERM for a clean shutdown, SIGKILL when it takes too long. The fields
        // (the temp dir, the registration) go after the server stopped.
        self.child.terminate(STOP_TIMEOUT);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_server_names_the_package_like_mysql_clients() {
        let e = binary(&["no-such-mariadbd"]).unwrap_err();
        assert!(
            e.to_string().contains("apt-get install -y mariadb-server"),
            "{e}"
        );
    }

    #[test]
    fn mysql_literals_escape_quotes_and_backslashes() {
        assert_eq!(literal(r"a'b\c"), r"'a\'b\\c'");
    }
}

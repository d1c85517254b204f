//! Test support: real servers started on free loopback ports in temp dirs, and a
//! workspace that runs the lifeboat binary against a config. A missing server
//! binary fails the test naming the Debian package to install.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)] // test support: a panic is the failure report

pub mod bucket;
pub mod daemon;
pub mod files;
pub mod fingerprint;
pub mod ftpd;
pub mod http;
pub mod pg;
pub mod rest;
pub mod sshd;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery staple";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn is_root() -> bool {
    // SAFETY-free check: root's home is /root and `id -u` says 0.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// The newest PostgreSQL bin dir, or a failure naming the package.
pub fn pg_bin() -> PathBuf {
    match lifeboat_sources::scratch::postgres::server_bins()
        .into_iter()
        .next()
    {
        Some((_, bin)) => bin,
        None => panic!("PostgreSQL server binaries not found: apt-get install -y postgresql"),
    }
}

/// Runs a command as the unprivileged `postgres` user when we are root (initdb refuses root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A throwaway PostgreSQL cluster.
pub struct PgServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    bin: PathBuf,
}

impl PgServer {
    pub fn start() -> PgServer {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-test-pg-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        if is_root() {
            run_ok(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        run_ok(
            as_server_user(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "postgres", "--no-sync"]),
        );
        // Password auth for the `app` role over TCP; trust for the superuser.
        let hba = "host all app 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\nlocal all all trust\n";
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        if is_root() {
            run_ok(
                Command::new("chown")
                    .arg("postgres")
                    .arg(data.join("pg_hba.conf")),
            );
        }
        let port = free_port();
        let server = PgServer { port, dir, bin };
        server.pg_ctl_start();
        server
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg_ctl_start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        run_ok(
            as_server_user(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.path().join("log"))
                .args(["-w", "-o", &opts, "start"]),
        );
    }

    /// Stops the server abruptly, as a crash or a network loss would.
    pub fn kill(&self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }

    pub fn url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }

    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname(db)
            .connect(postgres::NoTls)
            .unwrap()
    }

    pub fn exec(&self, db: &str, sql: &str) {
        self.client(db)
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn create_db(&self, db: &str) {
        self.exec("postgres", &format!("CREATE DATABASE \"{db}\""));
    }

    pub fn db_exists(&self, db: &str) -> bool {
        self.client("postgres")
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
            .unwrap()
            .is_some()
    }

    /// Every user table with the md5 of its rows in primary-key order.
    pub fn fingerprint(&self, db: &str) -> Vec<(String, i64, String)> {
        let mut c = self.client(db);
        let tables = c
            .query("SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema') ORDER BY 1, 2", &[])
            .unwrap();
        tables
            .iter()
            .map(|r| {
                let (s, t): (String, String) = (r.get(0), r.get(1));
                let q = format!("SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM \"{s}\".\"{t}\" x");
                let row = c.query_one(&q, &[]).unwrap();
                (format!("{s}.{t}"), row.get(0), row.get(1))
            })
            .collect()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A temp dir with a repository path, a config file and the lifeboat binary.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "lifeboat failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn assert_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Workspace {
    /// A workspace whose config starts with a `[repository]` table for `repo/`.
    /// Its own TMPDIR (reachable by the `postgres` user), so scratch servers and dirs of
    /// one test are told apart from another's.
    pub fn new() -> Workspace {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-test-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let env = vec![
            ("LIFEBOAT_PASSWORD".into(), PASSWORD.into()),
            ("TMPDIR".into(), tmp.display().to_string()),
            // lifeboat's local state (which snapshots are complete) stays in the workspace
            (
                "XDG_CACHE_HOME".into(),
                dir.path().join("cache").display().to_string(),
            ),
            (
                "XDG_STATE_HOME".into(),
                dir.path().join("state").display().to_string(),
            ),
        ];
        Workspace { dir, env }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn repo(&self) -> PathBuf {
        self.path("repo")
    }

    /// Writes `lifeboat.toml`: the repository table followed by `apps`.
    pub fn config(&self, apps: &str) {
        let text = format!(
            "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n{apps}",
            self.repo().display()
        );
        std::fs::write(self.path("lifeboat.toml"), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with(&self.path("lifeboat.toml"), args)
    }

    /// A command reading another configuration file than the workspace's.
    pub fn command_with(&self, config: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
        cmd.arg("--config")
            .arg(config)
            .args(args)
            .current_dir(self.dir.path());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args))
    }

    pub fn run_with(&self, config: &Path, args: &[&str]) -> Run {
        Run::of(self.command_with(config, args))
    }
}

impl Run {
    fn of(mut command: Command) -> Run {
        let out = command.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Workspace {
    pub fn run_bytes(&self, args: &[&str]) -> Vec<u8> {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["list", "--json"]).assert_ok();
        serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    }

    pub fn snapshots_of(&self, app: &str, source: &str) -> Vec<serde_json::Value> {
        self.list()
            .into_iter()
            .filter(|s| s["app"] == app && s["source"] == source)
            .collect()
    }

    pub fn manifest(&self, spec: &str) -> serde_json::Value {
        serde_json::from_slice(&self.run_bytes(&["dump", spec, "--manifest"])).unwrap()
    }

    /// The stock restic binary on this repository.
    pub fn restic(&self, args: &[&str]) -> Output {
        self.restic_at(&self.repo(), args)
    }

    /// The stock restic binary on `repo`; lifeboat's repository is restic's
    /// `--from-repo` (same password).
    pub fn restic_at(&self, repo: &Path, args: &[&str]) -> Output {
        let restic = which("restic")
            .unwrap_or_else(|| panic!("restic not found: apt-get install -y restic"));
        Command::new(restic)
            .arg("-r")
            .arg(repo)
            .args(args)
            .env("RESTIC_PASSWORD", PASSWORD)
            .env("RESTIC_FROM_PASSWORD", PASSWORD)
            .env("RESTIC_CACHE_DIR", self.path("restic-cache"))
            .output()
            .unwrap()
    }
}

/// Deterministic bytes that do not compress away: a 64-bit LCG.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// Bytes of every file under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// The body of a dump-tool wrapper (see `pg::pg_dump_wrapper`; `$REAL` is the tool,
/// `$W` its dir): the tool writes into a fifo, its pid goes to `$W/pid`, and its
/// output stalls for 4 s after 200 kB, so a test can break it mid-stream.
pub const STALLING_DUMP: &str = "fifo=$W/fifo; rm -f $fifo; mkfifo $fifo\n$REAL \"$@\" > $fifo &\npid=$!; echo $pid > $W/pid\n(head -c 200000; sleep 4; cat) < $fifo\nwait $pid";

/// Runs `lifeboat backup`; once the stalling wrapper wrote its tool's pid to
/// `pid_file` (when given), calls `fault` with it. Returns the exit code and stderr.
pub fn backup_with_fault(
    ws: &Workspace,
    pid_file: Option<&Path>,
    fault: impl FnOnce(&str),
) -> (Option<i32>, String) {
    let child = ws
        .command(&["backup"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(pid_file) = pid_file {
        assert!(
            wait_for(Duration::from_secs(30), || {
                std::fs::read_to_string(pid_file).is_ok_and(|p| !p.trim().is_empty())
            }),
            "the dump tool never started"
        );
        fault(std::fs::read_to_string(pid_file).unwrap().trim());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Kills the process group of each process whose command line holds `pattern` (a
/// dump's shell left behind by a lifeboat killed with SIGKILL: lifeboat starts each
/// child in a group of its own, so its `sleep` goes too).
pub fn kill_groups_of(pattern: &str) {
    let out = Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
    }
}

/// Waits up to `timeout` until the files under `dir` hold `at_least` bytes and stop
/// growing for `settle` (a pack written whole, not one still being written).
pub fn wait_for_settled_size(
    dir: &Path,
    at_least: u64,
    settle: Duration,
    timeout: Duration,
) -> bool {
    wait_for(timeout, || {
        let size = dir_size(dir);
        size >= at_least && {
            std::thread::sleep(settle);
            dir_size(dir) == size
        }
    })
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Polls `cond` until true or `timeout`.
/// Whether a server accepts connections on loopback `port` within `timeout`.
pub fn port_opens(port: u16, timeout: Duration) -> bool {
    wait_for(timeout, || listens(port))
}

/// Whether something listens on the loopback port. A connection to a port in the
/// ephemeral range can connect to itself (TCP simultaneous open) when nothing
/// listens; that one does not count.
fn listens(port: u16) -> bool {
    let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    match (stream.local_addr(), stream.peer_addr()) {
        (Ok(local), Ok(peer)) => local != peer,
        _ => false,
    }
}

pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Writes an executable shell script.
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/bash\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

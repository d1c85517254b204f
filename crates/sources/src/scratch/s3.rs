//! A throwaway S3 server: `s3s-fs` serving a temp dir (a bucket is a directory under
//! its root) on a free loopback port with random keys; killed (its process group) and
//! removed on drop.

use super::{find_binary, free_port, register, Registration};
use crate::bucket::BucketTarget;
use crate::process::{kill_group, Pipes, Running};
use crate::SourceError;
use lifeboat_core::Secret;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Time for the port to open.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How to get the binary: 0.17 needs a newer rustc than the one we build with.
const INSTALL_HINT: &str = "cargo install s3s-fs@0.14.1 --features binary --locked";

/// A running throwaway S3 server. Dropping it kills the server (its process group)
/// and then removes its directory: the fields go in this order.
pub struct ScratchS3 {
    pub port: u16,
    child: Running,
    access_key: Secret<String>,
    secret_key: Secret<String>,
    dir: tempfile::TempDir,
    _cleanup: Registration,
}

/// `bytes` random bytes as hex.
fn random_hex(bytes: usize) -> Result<String, SourceError> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(SourceError::io("reading /dev/urandom"))?;
    Ok(hex::encode(buf))
}

/// The binary, on PATH or where `cargo install` puts it.
fn binary() -> Result<PathBuf, SourceError> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"));
    find_binary(&["s3s-fs"], &cargo_bin.into_iter().collect::<Vec<_>>()).ok_or_else(|| {
        SourceError::MissingTool {
            tool: "s3s-fs".into(),
            hint: INSTALL_HINT.into(),
        }
    })
}

impl ScratchS3 {
    /// Starts an empty server; returns once it accepts connections.
    pub fn start() -> Result<Self, SourceError> {
        let binary = binary()?;
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-scratch-s3-")
            .tempdir()
            .map_err(SourceError::io("creating a scratch directory"))?;
        let root = dir.path().join("data");
        std::fs::create_dir(&root).map_err(SourceError::io("creating the scratch S3 root"))?;
        let (access_key, secret_key) = (random_hex(10)?, random_hex(20)?);
        let port = free_port()?;
        let child = spawn(&binary, dir.path(), port, &access_key, &secret_key)?;
        let cleanup = {
            let (pgid, path) = (child.pid(), dir.path().to_path_buf());
            register(move || {
                kill_group(pgid);
                let _ = std::fs::remove_dir_all(&path);
            })
        };
        let mut server = Self {
            port,
            child,
            access_key: Secret::new(access_key),
            secret_key: Secret::new(secret_key),
            dir,
            _cleanup: cleanup,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// Kills the server at once (SIGKILL, as a crash or a network cut would look to a
    /// client); [`ScratchS3::restart`] brings it back with what it had stored.
    pub fn kill(&mut self) {
        kill_group(self.child.pid());
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port, directory and keys.
    pub fn restart(&mut self) -> Result<(), SourceError> {
        let binary = binary()?;
        let (access, secret) = (self.access_key.expose(), self.secret_key.expose());
        self.child = spawn(&binary, self.dir.path(), self.port, access, secret)?;
        let (pgid, path) = (self.child.pid(), self.dir.path().to_path_buf());
        self._cleanup = register(move || {
            kill_group(pgid);
            let _ = std::fs::remove_dir_all(&path);
        });
        self.wait_ready()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn access_key(&self) -> Secret<String> {
        self.access_key.clone()
    }

    pub fn secret_key(&self) -> Secret<String> {
        self.secret_key.clone()
    }

    /// The directory served: one subdirectory per bucket.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Creates bucket `name` (a directory under the root).
    pub fn create_bucket(&self, name: &str) -> Result<(), SourceError> {
        if name.is_empty() || name.contains(['/', '\0']) || name.starts_with('.') {
            return Err(SourceError::Invalid(format!("bad bucket name {name:?}")));
        }
        std::fs::create_dir_all(self.root().join(name))
            .map_err(SourceError::io(format!("creating scratch bucket {name}")))
    }

    /// `url` (`s3://BUCKET/PREFIX`) on this server, with its keys.
    pub fn target(&self, url: &str) -> Result<BucketTarget, SourceError> {
        BucketTarget::parse(
            url,
            Some(self.endpoint()),
            Some("us-east-1".into()),
            Some(self.access_key()),
            Some(self.secret_key()),
        )
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("s3s-fs.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(10)..].join("\n");
        let stderr = self.child.stderr_tail();
        if stderr.trim().is_empty() {
            tail
        } else {
            format!("{tail}\n{}", stderr.trim_end())
        }
    }

    /// Waits until the port accepts connections (s3s-fs binds once it is ready).
    fn wait_ready(&mut self) -> Result<(), SourceError> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(self.failed(format!("exited during startup ({status})")))
                }
                Ok(None) => {}
                Err(e) => return Err(e),
            }
            if started.elapsed() >= START_TIMEOUT {
                return Err(self.failed(format!(
                    "port {} not open after {}s",
                    self.port,
                    START_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    fn failed(&self, why: String) -> SourceError {
        SourceError::ChildFailed {
            tool: "s3s-fs (scratch)".into(),
            status: why,
            stderr: self.log_tail(),
        }
    }
}

/// Starts `s3s-fs` on `dir/data`, its stdout going to `dir/s3s-fs.log` (its stderr's
/// tail is kept). The keys go on its command line (it reads them nowhere else):
/// acceptable for a throwaway server holding test data on loopback.
fn spawn(
    binary: &Path,
    dir: &Path,
    port: u16,
    access_key: &str,
    secret_key: &str,
) -> Result<Running, SourceError> {
    let log = std::fs::File::create(dir.join("s3s-fs.log"))
        .map_err(SourceError::io("creating the scratch s3s-fs log"))?;
    let mut cmd = Command::new(binary);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", access_key, "--secret-key", secret_key])
        .arg(dir.join("data"))
        .current_dir(dir);
    Running::spawn("s3s-fs (scratch)", &mut cmd, Pipes::Log(log))
}

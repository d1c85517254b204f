//! The one way lifeboat starts a child process: dump and restore tools, hooks, probes
//! and the throwaway servers of `scratch` alike. Every child runs in its own process
//! group, and every running group is known, so that a cancelled command stops them all
//! (a `sh -c` and what it started, too). Its stderr is drained concurrently keeping a
//! tail for the error message, and a child dropped without being waited for is killed
//! with its whole group. Commands run to their end (with a time limit) are in `run.rs`.

mod run;

pub use run::{run_shell, run_to_end, Ended, Group, PROBE_TIMEOUT};

use crate::SourceError;
use nix::sys::signal::Signal;
use std::io::{self, Read};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of stderr kept for error messages.
const STDERR_TAIL: usize = 4096;

/// Process groups of the children running now (each child leads its own group), and
/// of the servers adopted as a [`Group`], each with the signal that ends it at once
/// (SIGKILL for a child).
static RUNNING: Mutex<Vec<(u32, Signal)>> = Mutex::new(Vec::new());

/// The secrets of the configuration: an environment variable of lifeboat's that holds
/// one (a password's `*_env`) is not passed on to any child, which gets what it needs
/// another way (a password file, the protocol) or not at all.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Keeps every environment variable whose value is one of `secrets` from the children
/// started from now on.
pub fn keep_from_children(secrets: Vec<String>) {
    let mut kept = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    *kept = secrets.into_iter().filter(|s| !s.is_empty()).collect();
}

/// Removes from `cmd`'s environment the variables of ours that hold a secret.
fn hide_secrets(cmd: &mut Command) {
    let secrets = SECRETS.lock().unwrap_or_else(PoisonError::into_inner);
    if secrets.is_empty() {
        return;
    }
    for (name, value) in std::env::vars_os() {
        if secrets
            .iter()
            .any(|s| value.as_encoded_bytes() == s.as_bytes())
        {
            cmd.env_remove(name);
        }
    }
}

fn running() -> MutexGuard<'static, Vec<(u32, Signal)>> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills every running child's process group (on cancellation: a dump tool blocked on
/// a lock or a slow network would otherwise keep its reader waiting). Returns how many.
pub fn kill_all_children() -> usize {
    let groups = std::mem::take(&mut *running());
    for (pgid, kill) in &groups {
        signal_group(*pgid, *kill);
    }
    groups.len()
}

/// Stops the children running now (cancellation): SIGTERM to each process group (a
/// restore tool then cancels its queries on the server), SIGKILL `grace` later to
/// those groups only — children started after this call (after_backup hooks) are
/// left alone. Returns how many groups were stopped.
pub fn stop_running_children(grace: Duration) -> usize {
    let groups = std::mem::take(&mut *running());
    for (pgid, _) in &groups {
        signal_group(*pgid, Signal::SIGTERM);
    }
    let count = groups.len();
    if count > 0 {
        std::thread::spawn(move || {
            std::thread::sleep(grace);
            for (pgid, kill) in groups {
                signal_group(pgid, kill);
            }
        });
    }
    count
}

/// The process groups registered now, oldest first (for diagnostics and tests).
pub fn running_groups() -> Vec<u32> {
    running().iter().map(|(pgid, _)| *pgid).collect()
}

/// SIGKILL to process group `pgid`.
pub(crate) fn kill_group(pgid: u32) {
    signal_group(pgid, Signal::SIGKILL);
}

fn signal_group(pgid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pgid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
    }
}

/// Registers `pgid`, to be ended with `kill` if the command is cancelled.
fn register_group(pgid: u32, kill: Signal) {
    running().push((pgid, kill));
}

/// Takes `pgid` off the list; whether it was on it (a cancel takes them all off).
fn forget_group(pgid: u32) -> bool {
    let mut groups = running();
    let before = groups.len();
    groups.retain(|(g, _)| *g != pgid);
    groups.len() != before
}

/// The tail of a child's stderr, filled by its drain thread, readable at any time.
type Tail = Arc<Mutex<Vec<u8>>>;

fn tail_text(tail: &Tail) -> String {
    let bytes = tail.lock().unwrap_or_else(PoisonError::into_inner);
    let start = bytes.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// A running child process.
pub struct Running {
    tool: String,
    child: Child,
    stderr: Option<JoinHandle<()>>,
    tail: Tail,
    /// Set once the child is reaped: its group is no longer ours to signal.
    status: Option<ExitStatus>,
}

/// What to connect the child's stdin and stdout to (stderr is always drained).
#[derive(Debug)]
pub enum Pipes {
    /// We read its stdout (a dump).
    Stdout,
    /// We write its stdin (a restore).
    Stdin,
    /// We write its stdin and read its stdout (SQL through a client).
    Both,
    /// Neither (a command run for its effect).
    None,
    /// Neither; its stdout goes to this file (a server's log).
    Log(std::fs::File),
}

impl Running {
    /// Spawns `cmd` in its own process group and registers the group; `tool` names
    /// it in messages.
    pub fn spawn(tool: &str, cmd: &mut Command, pipes: Pipes) -> Result<Self, SourceError> {
        let (stdin, stdout) = match pipes {
            Pipes::Stdout => (Stdio::null(), Stdio::piped()),
            Pipes::Stdin => (Stdio::piped(), Stdio::null()),
            Pipes::Both => (Stdio::piped(), Stdio::piped()),
            Pipes::None => (Stdio::null(), Stdio::null()),
            Pipes::Log(file) => (Stdio::null(), Stdio::from(file)),
        };
        cmd.stdin(stdin).stdout(stdout).stderr(Stdio::piped());
        hide_secrets(cmd);
        // Its own group: a terminal's Ctrl-C reaches lifeboat only, which decides.
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => SourceError::MissingTool {
                tool: tool.to_string(),
                hint: format!(
                    "{} is not installed or not on PATH",
                    cmd.get_program().to_string_lossy()
                ),
            },
            _ => SourceError::Io {
                context: format!("starting {tool}"),
                source: e,
            },
        })?;
        register_group(child.id(), Signal::SIGKILL);
        let tail = Tail::default();
        let stderr = child.stderr.take().map(|err| {
            let tail = Arc::clone(&tail);
            std::thread::spawn(move || drain(err, &tail))
        });
        Ok(Self {
            tool: tool.to_string(),
            child,
            stderr,
            tail,
            status: None,
        })
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 4 KiB of what it wrote to stderr so far.
    pub fn stderr_tail(&self) -> String {
        tail_text(&self.tail)
    }

    /// Its exit status if it has exited (it is then reaped), without waiting.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, SourceError> {
        if self.status.is_none() {
            let status = self
                .child
                .try_wait()
                .map_err(SourceError::io(format!("watching {}", self.tool)))?;
            if let Some(status) = status {
                self.exited(status);
            }
        }
        Ok(self.status)
    }

    /// Waits for the child; a non-zero exit becomes an error carrying stderr's tail.
    pub fn finish(mut self) -> Result<String, SourceError> {
        let status = self.wait()?;
        let stderr = self.collect_stderr();
        if status.success() {
            Ok(stderr)
        } else {
            Err(SourceError::ChildFailed {
                tool: self.tool.clone(),
                status: describe(status),
                stderr,
            })
        }
    }

    /// Waits for the child to exit (closing its stdin first).
    pub fn wait(&mut self) -> Result<ExitStatus, SourceError> {
        drop(self.child.stdin.take());
        if let Some(status) = self.status {
            return Ok(status);
        }
        let status = self
            .child
            .wait()
            .map_err(SourceError::io(format!("waiting for {}", self.tool)))?;
        self.exited(status);
        Ok(status)
    }

    /// Waits at most `limit` for the child to exit; `None` if it still runs.
    pub fn wait_timeout(&mut self, limit: Duration) -> Result<Option<ExitStatus>, SourceError> {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + limit;
        // Short first pauses: a `--version` probe ends within milliseconds.
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Stops the child: SIGTERM to its group, SIGKILL if it has not exited `grace`
    /// later (a server's clean shutdown). Nothing if it has exited already.
    pub fn terminate(&mut self, grace: Duration) {
        if !matches!(self.try_wait(), Ok(None)) {
            return;
        }
        signal_group(self.child.id(), Signal::SIGTERM);
        if !matches!(self.wait_timeout(grace), Ok(Some(_))) {
            self.kill();
        }
    }

    /// SIGKILL to the whole group (a `sh -c` leaves its own children otherwise), then
    /// reaps the child.
    fn kill(&mut self) {
        if self.status.is_some() {
            return;
        }
        kill_group(self.child.id());
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => self.exited(status),
            Err(_) => {
                forget_group(self.child.id());
            }
        }
    }

    fn exited(&mut self, status: ExitStatus) {
        self.status = Some(status);
        forget_group(self.child.id());
    }

    /// Stderr's tail once the child has closed it.
    fn collect_stderr(&mut self) -> String {
        if let Some(handle) = self.stderr.take() {
            let _ = handle.join();
        }
        self.stderr_tail()
    }
}

/// Reads `err` to its end, keeping its last [`STDERR_TAIL`] bytes in `tail`.
fn drain(mut err: impl Read, tail: &Tail) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = err.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut kept = tail.lock().unwrap_or_else(PoisonError::into_inner);
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * STDERR_TAIL {
            let excess = kept.len() - STDERR_TAIL;
            kept.drain(..excess);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

/// A restore in progress: a child reading a backup on stdin. Write the backup into
/// [`Feeder::input`], then call [`Feeder::finish`]. `G` keeps alive what the child
/// needs while it runs (e.g. the directory of its 0600 credentials file).
pub struct Feeder<G = ()> {
    running: Running,
    _guard: G,
    pub tool_version: String,
}

impl<G> Feeder<G> {
    pub fn new(running: Running, guard: G, tool_version: String) -> Self {
        Self {
            running,
            _guard: guard,
            tool_version,
        }
    }

    /// Where the backup goes.
    pub fn input(&mut self) -> Result<Box<dyn std::io::Write + Send>, SourceError> {
        let tool = self.running.tool.clone();
        let stdin = self
            .running
            .take_stdin()
            .ok_or_else(|| SourceError::Invalid(format!("{tool} has no stdin")))?;
        Ok(Box::new(stdin))
    }

    /// Waits for the child; its stderr tail explains a failure.
    pub fn finish(self) -> Result<(), SourceError> {
        self.running.finish().map(drop)
    }
}

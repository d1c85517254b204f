//! Running a dump or restore tool: stream stdout, drain stderr concurrently keeping its
//! tail for the error message, check the exit status, kill the child if abandoned.
//! Every child runs in its own process group, and every running group is known, so
//! that a cancelled command kills them all (a `sh -c` and what it started, too).

use crate::SourceError;
use std::io::{self, Read};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;

/// Bytes of stderr kept for error messages.
const STDERR_TAIL: usize = 4096;

/// Process groups of the children running now (each child leads its own group).
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn running() -> std::sync::MutexGuard<'static, Vec<u32>> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills every running child's process group (on cancellation: a dump tool blocked on
/// a lock or a slow network would otherwise keep its reader waiting). Returns how many.
pub fn kill_all_children() -> usize {
    let groups = std::mem::take(&mut *running());
    for pgid in &groups {
        kill_group(*pgid);
    }
    groups.len()
}

/// Stops the children running now (cancellation): SIGTERM to each process group (a
/// restore tool then cancels its queries on the server), SIGKILL `grace` later to
/// those groups only — children started after this call (after_backup hooks) are
/// left alone. Returns how many groups were stopped.
pub fn stop_running_children(grace: std::time::Duration) -> usize {
    let groups = std::mem::take(&mut *running());
    for pgid in &groups {
        signal_group(*pgid, nix::sys::signal::Signal::SIGTERM);
    }
    let count = groups.len();
    if count > 0 {
        std::thread::spawn(move || {
            std::thread::sleep(grace);
            for pgid in groups {
                kill_group(pgid);
            }
        });
    }
    count
}

fn kill_group(pgid: u32) {
    signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
}

fn signal_group(pgid: u32, signal: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(pgid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal);
    }
}

fn forget_group(pgid: u32) {
    running().retain(|g| *g != pgid);
}

/// A running child process.
pub struct Running {
    tool: String,
    child: Child,
    stderr: Option<JoinHandle<String>>,
    finished: bool,
}

/// What to connect the child's stdin and stdout to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pipes {
    /// We read its stdout (a dump).
    Stdout,
    /// We write its stdin (a restore).
    Stdin,
    /// Neither (a command run for its effect).
    None,
}

impl Running {
    /// Spawns `cmd`; `tool` names it in messages.
    pub fn spawn(tool: &str, cmd: &mut Command, pipes: Pipes) -> Result<Self, SourceError> {
        cmd.stdin(if pipes == Pipes::Stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if pipes == Pipes::Stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
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
        running().push(child.id());
        let stderr = child.stderr.take().map(|mut err| {
            std::thread::spawn(move || {
                let mut tail = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 2 * STDERR_TAIL {
                        tail.drain(..tail.len() - STDERR_TAIL);
                    }
                }
                let start = tail.len().saturating_sub(STDERR_TAIL);
                String::from_utf8_lossy(&tail[start..]).into_owned()
            })
        });
        Ok(Self {
            tool: tool.to_string(),
            child,
            stderr,
            finished: false,
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

    /// Waits for the child; a non-zero exit becomes an error carrying stderr's tail.
    pub fn finish(mut self) -> Result<String, SourceError> {
        let status = self.wait()?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
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

    fn wait(&mut self) -> Result<ExitStatus, SourceError> {
        drop(self.child.stdin.take());
        let status = self
            .child
            .wait()
            .map_err(SourceError::io(format!("waiting for {}", self.tool)))?;
        self.finished = true;
        forget_group(self.child.id());
        Ok(status)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            // the whole group: a `sh -c` leaves its own children otherwise
            kill_group(self.child.id());
            let _ = self.child.kill();
            let _ = self.child.wait();
            forget_group(self.child.id());
        }
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

/// Runs a shell command to completion with a timeout; for hooks.
pub fn run_shell(command: &str, timeout: std::time::Duration) -> Result<String, SourceError> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command);
    let mut running = Running::spawn(&format!("`{command}`"), &mut cmd, Pipes::None)?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match running.child.try_wait() {
            Ok(Some(_)) => return running.finish(),
            Ok(None) if std::time::Instant::now() >= deadline => {
                return Err(SourceError::ChildFailed {
                    tool: format!("`{command}`"),
                    status: format!("timed out after {}s", timeout.as_secs()),
                    stderr: String::new(),
                })
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(e) => return Err(SourceError::io("waiting for hook")(e)),
        }
    }
}

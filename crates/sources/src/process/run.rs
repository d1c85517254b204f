//! Commands run to their end: hooks, `--version` probes, setup tools (`initdb`,
//! `chown`, `pg_ctl`), SQL through a client. Each is a [`Running`] child like any
//! other (own group, registered, stderr tail kept) with an optional time limit after
//! which its whole group is killed. And [`Group`]: a server's process group adopted
//! because the tool that started it has let it go.

use super::{describe, forget_group, register_group, signal_group, Pipes, Running};
use crate::SourceError;
use nix::sys::signal::Signal;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// Time limit of a probe such as `--version` or `chown`.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a command run to its end left behind.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// The last 4 KiB of its stderr.
    pub stderr: String,
}

impl Ended {
    /// Itself when the command succeeded; otherwise an error carrying stderr's tail.
    pub fn checked(self, tool: &str) -> Result<Self, SourceError> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(SourceError::ChildFailed {
                tool: tool.to_string(),
                status: describe(self.status),
                stderr: self.stderr,
            })
        }
    }
}

fn timed_out(tool: &str, limit: Duration, stderr: String) -> SourceError {
    SourceError::ChildFailed {
        tool: tool.to_string(),
        status: format!("timed out after {}s", limit.as_secs()),
        stderr,
    }
}

/// Runs `cmd` to its end and collects its stdout, feeding it `input` on stdin when
/// given. After `limit` (`None`: no limit) its group is killed and this is an error.
/// Its exit status is the caller's to judge (see [`Ended::checked`]).
pub fn run_to_end(
    tool: &str,
    cmd: &mut Command,
    input: Option<&[u8]>,
    limit: Option<Duration>,
) -> Result<Ended, SourceError> {
    let pipes = if input.is_some() {
        Pipes::Both
    } else {
        Pipes::Stdout
    };
    let mut running = Running::spawn(tool, cmd, pipes)?;
    if let (Some(input), Some(mut stdin)) = (input, running.take_stdin()) {
        let input = input.to_vec();
        // A child that exits without reading (a client that could not connect) is
        // no error here: its status and stderr say why.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = running.take_stdout().map(|mut out| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = out.read_to_end(&mut bytes);
            bytes
        })
    });
    let status = match limit {
        None => running.wait()?,
        Some(limit) => match running.wait_timeout(limit)? {
            Some(status) => status,
            // Dropping `running` kills the group.
            None => return Err(timed_out(tool, limit, running.stderr_tail())),
        },
    };
    let stdout = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(Ended {
        status,
        stdout,
        stderr: running.collect_stderr(),
    })
}

/// Runs a shell command to completion with a timeout, with `env` set and `hide`
/// removed from its environment; returns the tail of its output (stdout and stderr
/// together). For hooks.
pub fn run_shell(
    command: &str,
    env: &[(&str, String)],
    hide: &[String],
    timeout: Duration,
) -> Result<String, SourceError> {
    let tool = format!("`{command}`");
    let mut cmd = Command::new("sh");
    // stdout into stderr, whose tail is kept: what a hook prints ends up in the log.
    cmd.arg("-c").arg(format!("exec 1>&2\n{command}"));
    for (key, value) in env {
        cmd.env(key, value);
    }
    for key in hide {
        cmd.env_remove(key);
    }
    let mut running = Running::spawn(&tool, &mut cmd, Pipes::None)?;
    match running.wait_timeout(timeout)? {
        Some(_) => running.finish(),
        None => Err(timed_out(&tool, timeout, running.stderr_tail())),
    }
}

/// The process group of a server that a tool we ran started and let go: `pg_ctl
/// start`'s postmaster leads its own session. Registered like a child's group while
/// held, so that a cancel stops it (SIGTERM, then its `kill` signal, or `kill` at
/// once); sent `kill` when dropped unless a cancel took it.
#[derive(Debug)]
pub struct Group {
    pgid: u32,
    kill: Signal,
}

impl Group {
    /// Adopts the group that `pid` leads, to be ended with `kill` (the postmaster's
    /// workers lead groups of their own: SIGQUIT makes it stop them, SIGKILL would
    /// leave them behind). `None` if `pid` leads no group (it is gone, or its group
    /// is someone else's).
    pub(crate) fn adopt(pid: u32, kill: Signal) -> Option<Self> {
        let raw = nix::unistd::Pid::from_raw(i32::try_from(pid).ok()?);
        (nix::unistd::getpgid(Some(raw)).ok()? == raw).then(|| {
            register_group(pid, kill);
            Self { pgid: pid, kill }
        })
    }

    pub fn id(&self) -> u32 {
        self.pgid
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if forget_group(self.pgid) {
            signal_group(self.pgid, self.kill);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn run_to_end_feeds_stdin_and_collects_stdout_and_stderr() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "tr a-z A-Z; echo oops >&2; exit 3"]);
        let ended = run_to_end("sh", &mut cmd, Some(b"hello"), None).unwrap();
        assert_eq!(ended.stdout, b"HELLO");
        assert_eq!(ended.stderr, "oops\n");
        assert_eq!(ended.status.code(), Some(3));
        let err = ended.checked("sh").unwrap_err().to_string();
        assert!(err.contains("exit code 3") && err.contains("oops"), "{err}");
    }

    #[test]
    fn a_command_over_its_time_limit_is_killed_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let mut cmd = Command::new("sh");
        // The background sleep is a grandchild in the same group.
        cmd.arg("-c")
            .arg("sleep 30 & echo $! > \"$0\"; echo started >&2; wait")
            .arg(&pid_file);
        let err = run_to_end("sh", &mut cmd, None, Some(Duration::from_millis(300)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("timed out") && err.contains("started"),
            "{err}"
        );
        let sleeper: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !alive(sleeper)
        });
        assert!(gone, "the grandchild {sleeper} survived");
    }

    #[test]
    fn a_missing_program_is_a_missing_tool() {
        let mut cmd = Command::new("/nonexistent/lifeboat-probe");
        let err = run_to_end("probe", &mut cmd, None, Some(PROBE_TIMEOUT)).unwrap_err();
        assert!(matches!(err, SourceError::MissingTool { .. }), "{err}");
    }

    /// Whether `pid` is a process that has not exited (a zombie has).
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|rest| !rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    }

    #[test]
    fn only_a_group_leader_is_adopted() {
        let kill = Signal::SIGKILL;
        assert!(
            Group::adopt(i32::MAX as u32, kill).is_none(),
            "no such process"
        );
        // A child left in our group leads none.
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        assert!(Group::adopt(child.id(), kill).is_none());
        child.kill().unwrap();
        child.wait().unwrap();
        let mut running =
            Running::spawn("sleep", Command::new("sleep").arg("30"), Pipes::None).unwrap();
        let group = Group::adopt(running.pid(), kill).unwrap();
        assert_eq!(group.id(), running.pid());
        drop(group);
        let status = running.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "dropping the group kills it");
    }
}

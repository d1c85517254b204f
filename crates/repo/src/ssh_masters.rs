//! The ssh control masters that opendal's SFTP service leaves running, found by a
//! mark in their environment and ended when lifeboat exits.
//!
//! The SFTP client (the openssh crate) starts `ssh -M -f -N -o ControlPersist=yes
//! -S DIR/master ...` for each pooled connection and asks it to exit only when the
//! session is dropped inside rustic_backend's tokio runtime, which never happens
//! before the process exits: every lifeboat run on an SFTP repository would leave
//! detached ssh processes (and their `.ssh-connection*` dirs under
//! `~/.local/state`). They are daemons (ssh forked and called setsid), so they are not
//! our children and share neither our process group nor our session; what they do
//! inherit is our environment, which carries [`MARK`] with our pid.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The environment variable that marks the processes this lifeboat started.
pub const MARK: &str = "LIFEBOAT_SSH_OWNER";

/// Puts [`MARK`] into this process's environment, for the ssh masters it will start.
/// Call first thing in `main`, while the process has one thread: changing the
/// environment races with other threads reading it.
pub fn mark_this_process() {
    std::env::set_var(MARK, std::process::id().to_string());
}

/// Ends the ssh masters started by this process (SIGTERM, SIGKILL after 2 s) and
/// removes their control dirs; returns how many there were. Linux only (`/proc`);
/// elsewhere a no-op.
pub fn end_masters() -> usize {
    let masters = find_masters();
    for (pid, _) in &masters {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    for (pid, control_dir) in &masters {
        while alive(*pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(*pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // The openssh crate's temp dir: the socket and ssh's log, nothing else.
        if let Some(dir) = control_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    masters.len()
}

/// Ends the ssh masters when dropped: at the end of `main`, also when it unwinds.
pub struct EndMastersOnDrop;

impl Drop for EndMastersOnDrop {
    fn drop(&mut self) {
        let ended = end_masters();
        if ended > 0 {
            tracing::debug!("ended {ended} ssh control master(s) of the SFTP backend");
        }
    }
}

fn alive(pid: i32) -> bool {
    // A zombie is gone for our purposes; ours are reaped by init, not by us.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        })
        .unwrap_or(false)
}

/// Pid and control dir of each `ssh -M ... -S .../.ssh-connectionXXXX/master` process
/// whose environment holds our mark.
fn find_masters() -> Vec<(i32, Option<PathBuf>)> {
    let mark = format!("{MARK}={}", std::process::id());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == i32::try_from(std::process::id()).unwrap_or(0) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let Some(control_dir) = master_control_dir(&cmdline) else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|v| v == mark.as_bytes()) {
            found.push((pid, control_dir));
        }
    }
    found
}

/// For the command line of an openssh-crate master (`ssh ... -M ... -S SOCKET`), the
/// dir holding SOCKET when it is one of the crate's `.ssh-connection*` temp dirs.
/// `None` (outer) for any other process.
fn master_control_dir(cmdline: &[u8]) -> Option<Option<PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let program = std::path::Path::new(std::ffi::OsStr::from_bytes(args.first()?));
    if program.file_name()? != "ssh" || !args.contains(&&b"-M"[..]) {
        return None;
    }
    let socket = args.windows(2).find(|w| w[0] == b"-S")?[1];
    let socket = std::path::Path::new(std::ffi::OsStr::from_bytes(socket));
    let dir = socket.parent()?;
    let ours = dir
        .file_name()
        .is_some_and(|n| n.as_bytes().starts_with(b".ssh-connection"));
    ours.then(|| Some(dir.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_an_openssh_master_by_its_command_line() {
        let master = b"ssh\0-E\0/root/.local/state/.ssh-connectionAb12/log\0-S\0/root/.local/state/.ssh-connectionAb12/master\0-M\0-f\0-N\0-o\0ControlPersist=yes\0host.example\0";
        assert_eq!(
            master_control_dir(master),
            Some(Some(PathBuf::from(
                "/root/.local/state/.ssh-connectionAb12"
            )))
        );
        assert_eq!(
            master_control_dir(b"ssh\0-S\0/tmp/x/master\0-M\0host\0"),
            None
        );
        assert_eq!(master_control_dir(b"ssh\0host\0ls\0"), None);
        assert_eq!(
            master_control_dir(b"sshd\0-S\0/a/.ssh-connectionX/master\0-M\0"),
            None
        );
    }
}

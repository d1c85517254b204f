//! The content of a restic lock file (restic `internal/restic/lock.go`): who holds
//! the repository, since when, exclusively or not; and when a lock no longer counts.

use serde::{Deserialize, Serialize};

/// A lock older than this is stale whoever wrote it (restic: 30 minutes; a live
/// holder refreshes its lock every 5).
pub const STALE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(30 * 60);

/// restic's lock JSON, field for field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockInfo {
    /// RFC 3339, as Go's `time.Time` marshals it.
    pub time: String,
    pub exclusive: bool,
    pub hostname: String,
    pub username: String,
    pub pid: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
}

/// Why a lock does not count any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Written longer ago than [`STALE_AFTER`].
    Old,
    /// Written on this host by a process that is gone.
    ProcessGone,
    /// Not a lock lifeboat or restic could have written (undecryptable, not JSON).
    Unreadable,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stale::Old => "older than 30 minutes",
            Stale::ProcessGone => "its process on this host is gone",
            Stale::Unreadable => "unreadable",
        })
    }
}

impl LockInfo {
    /// A lock for this process, now.
    pub fn now(exclusive: bool) -> LockInfo {
        let (uid, gid) = process_owner();
        LockInfo {
            time: jiff::Timestamp::now().to_string(),
            exclusive,
            hostname: hostname(),
            username: username(uid),
            pid: std::process::id(),
            uid,
            gid,
        }
    }

    /// The same lock with the current time (a refresh).
    pub fn renewed(&self) -> LockInfo {
        LockInfo {
            time: jiff::Timestamp::now().to_string(),
            ..self.clone()
        }
    }

    /// Placeholder for a lock file that could not be read.
    pub fn unknown() -> LockInfo {
        LockInfo {
            time: String::new(),
            exclusive: false,
            hostname: "?".into(),
            username: "?".into(),
            pid: 0,
            uid: 0,
            gid: 0,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a decrypted lock file: plain JSON, or restic's repository-v2 form of a
    /// compressed file (a `2` byte, then a zstd frame).
    pub fn from_stored(plain: &[u8]) -> Option<LockInfo> {
        match plain.first() {
            Some(2) => {
                let json = zstd::stream::decode_all(&plain[1..]).ok()?;
                serde_json::from_slice(&json).ok()
            }
            _ => serde_json::from_slice(plain).ok(),
        }
    }

    fn timestamp(&self) -> Option<jiff::Timestamp> {
        self.time.parse().ok()
    }

    /// Whether, seen at `now` from host `this_host`, the lock no longer counts.
    pub fn stale(&self, now: jiff::Timestamp, this_host: &str) -> Option<Stale> {
        match self.timestamp() {
            None => return Some(Stale::Unreadable),
            Some(t) if now.duration_since(t) > STALE_AFTER => return Some(Stale::Old),
            Some(_) => {}
        }
        if self.hostname == this_host && !process_exists(self.pid) {
            return Some(Stale::ProcessGone);
        }
        None
    }

    /// "an exclusive lock held by root@db1 (pid 4242) since 2026-12-01T09:00:00Z".
    pub fn describe(&self) -> String {
        let kind = if self.exclusive { "an exclusive" } else { "a" };
        let since = self
            .timestamp()
            .map(|t| format!("since {}", t.round(jiff::Unit::Second).unwrap_or(t)))
            .unwrap_or_else(|| "since an unknown time".into());
        format!(
            "{kind} lock held by {}@{} (pid {}) {since}",
            self.username, self.hostname, self.pid
        )
    }
}

/// This host's name, as restic records it (`os.Hostname`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn process_owner() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or((0, 0), |m| (m.uid(), m.gid()))
}

fn username(uid: u32) -> String {
    let from_passwd = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid.to_string()).then(|| name.to_string())
        })
    });
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| uid.to_string())
}

/// Whether a process with this pid runs on this host (restic sends signal 0; without
/// unsafe code, /proc tells the same on Linux).
fn process_exists(pid: u32) -> bool {
    pid != 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(time: &str, host: &str, pid: u32) -> LockInfo {
        LockInfo {
            time: time.into(),
            hostname: host.into(),
            pid,
            ..LockInfo::unknown()
        }
    }

    #[test]
    fn lock_older_than_30_minutes_is_stale() {
        let now: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let me = std::process::id();
        assert_eq!(
            at("2026-12-01T09:29:59Z", "h", me).stale(now, "h"),
            Some(Stale::Old)
        );
        assert_eq!(at("2026-12-01T09:30:01Z", "h", me).stale(now, "h"), None);
    }

    #[test]
    fn lock_of_a_gone_process_on_this_host_is_stale_elsewhere_not() {
        let now: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let gone = u32::MAX - 1;
        assert_eq!(
            at("2026-12-01T09:59:00Z", "here", gone).stale(now, "here"),
            Some(Stale::ProcessGone)
        );
        assert_eq!(
            at("2026-12-01T09:59:00Z", "other", gone).stale(now, "here"),
            None
        );
    }

    #[test]
    fn reads_restic_json_plain_and_v2_compressed() {
        let json = br#"{"time":"2026-12-01T09:00:00.123456789+01:00","exclusive":true,"hostname":"db1","username":"root","pid":42,"uid":0,"gid":0}"#;
        let plain = LockInfo::from_stored(json).unwrap();
        assert!(plain.exclusive);
        assert_eq!(plain.hostname, "db1");
        let mut v2 = vec![2u8];
        v2.extend(zstd::stream::encode_all(&json[..], 3).unwrap());
        assert_eq!(LockInfo::from_stored(&v2).unwrap(), plain);
        assert!(plain
            .describe()
            .contains("exclusive lock held by root@db1 (pid 42)"));
        assert!(LockInfo::from_stored(b"garbage").is_none());
    }
}

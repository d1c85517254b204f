//! A throwaway PostgreSQL cluster: `initdb` into a temp dir, `pg_ctl start` on a free
//! loopback port with fsync off, `pg_ctl stop -m immediate` and removal on drop. The
//! postmaster leads its own session (pg_ctl detaches it): its group is adopted, so a
//! cancel stops it like any child, with SIGQUIT (what `-m immediate` sends) for a kill.

use super::{as_user, free_port, run_checked, server_dir};
use crate::postgres::PgTarget;
use crate::process::{run_to_end, Group};
use crate::SourceError;
use std::path::{Path, PathBuf};

/// A running throwaway cluster; the superuser `postgres` connects without password.
pub struct ScratchPostgres {
    pub port: u16,
    bin: PathBuf,
    /// The postmaster's process group, while it runs.
    server: Option<Group>,
    dir: tempfile::TempDir,
    stopped: bool,
    _cleanup: super::Registration,
}

/// `pg_ctl -D DATA -m immediate stop`, run to its end (pg_ctl waits at most 60 s).
fn stop_immediately(pg_ctl: &Path, data: &Path) {
    let mut cmd = as_user("postgres", pg_ctl);
    cmd.arg("-D").arg(data).args(["-m", "immediate", "stop"]);
    let _ = run_to_end("pg_ctl stop", &mut cmd, None, None);
}

/// Server binary dirs, newest major first.
pub fn server_bins() -> Vec<(u32, PathBuf)> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    dirs.sort_by(|a, b| b.cmp(a));
    dirs
}

impl ScratchPostgres {
    /// Starts a cluster of major version `min_major` or newer (the newest installed).
    pub fn start(min_major: u32) -> Result<ScratchPostgres, SourceError> {
        let bins = server_bins();
        let (major, bin) = bins
            .first()
            .cloned()
            .ok_or_else(|| SourceError::MissingTool {
                tool: "initdb".into(),
                hint: "PostgreSQL server binaries are not installed: apt-get install -y postgresql"
                    .into(),
            })?;
        if major < min_major {
            return Err(SourceError::MissingTool {
                tool: "initdb".into(),
                hint: format!("PostgreSQL {min_major} or newer is needed but {major} is the newest installed: install postgresql-{min_major}"),
            });
        }
        let dir = server_dir("lifeboat-scratch-pg-", "postgres")?;
        let data = dir.path().join("data");
        // Registered before initdb: an interrupt at any point from here on cleans up.
        let cleanup = {
            let (pg_ctl, data, dir) = (bin.join("pg_ctl"), data.clone(), dir.path().to_path_buf());
            super::register(move || {
                stop_immediately(&pg_ctl, &data);
                let _ = std::fs::remove_dir_all(&dir);
            })
        };

        run_checked(
            "initdb",
            as_user("postgres", &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]),
        )?;
        let port = free_port()?;
        let mut server = ScratchPostgres {
            port,
            bin,
            server: None,
            dir,
            stopped: false,
            _cleanup: cleanup,
        };
        server.pg_ctl_start()?;
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pg_ctl_start(&mut self) -> Result<(), SourceError> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        run_checked(
            "pg_ctl start",
            as_user("postgres", &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.path().join("log"))
                .args(["-w", "-t", "60", "-o", &opts, "start"]),
        )?;
        self.server = self
            .postmaster_pid()
            .and_then(|pid| Group::adopt(pid, nix::sys::signal::Signal::SIGQUIT));
        Ok(())
    }

    /// The first line of `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// The postmaster's process group (it leads one), while it runs.
    pub fn group(&self) -> Option<u32> {
        self.server.as_ref().map(Group::id)
    }

    /// Stops the server at once, as a crash would.
    pub fn kill(&mut self) {
        stop_immediately(&self.bin.join("pg_ctl"), &self.data());
        // Whatever pg_ctl left of the group.
        self.server = None;
        self.stopped = true;
    }

    /// A connection target for database `db` as the superuser.
    pub fn target(&self, db: &str) -> PgTarget {
        PgTarget {
            host: "127.0.0.1".into(),
            port: self.port,
            user: "postgres".into(),
            dbname: db.into(),
            password: None,
        }
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        if !self.stopped {
            self.kill();
        }
    }
}

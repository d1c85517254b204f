//! Storage faults: the repository directory made read-only mid-run, a full disk (a
//! small tmpfs), the S3 server killed mid-backup and mid-copy. Each fails loudly
//! (exit 3, naming the source and the cause), leaves nothing corrupt or partial, and
//! the next run succeeds once the storage is back (reusing what was uploaded).

use crate::common::{check_read_data_clean, lifeboat_ids, restic_ids, spawn, Rng};
use crate::support::Workspace;
use crate::Log;
use lifeboat_sources::scratch::s3::ScratchS3;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// A mount made by the test, unmounted when dropped (also when the test fails).
struct Mounted(PathBuf);

impl Mounted {
    fn run(args: &[&str], at: &Path) {
        let out = Command::new("mount").args(args).arg(at).output().unwrap();
        assert!(
            out.status.success(),
            "mount {args:?} {}: {} (the storage faults need root and mount)",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn tmpfs(at: &Path, size: &str) -> Mounted {
        std::fs::create_dir_all(at).unwrap();
        Mounted::run(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"], at);
        Mounted(at.to_path_buf())
    }

    /// `at` bound onto itself and made read-only: writes fail with EROFS, even root's.
    fn read_only(at: &Path) -> Mounted {
        Mounted::run(&["--bind", at.to_str().unwrap()], at);
        let mounted = Mounted(at.to_path_buf());
        Mounted::run(&["-o", "remount,bind,ro"], at);
        mounted
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn finish(child: Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Kills the S3 server while `run` uses it; how `run` ended (exit code, stderr) and
/// how long after the kill.
fn kill_s3_during(s3: &mut ScratchS3, run: Child) -> (Option<i32>, String, Duration) {
    s3.kill();
    let killed = std::time::Instant::now();
    let (code, stderr) = finish(run);
    (code, stderr, killed.elapsed())
}

/// A command source printing `file`, pausing `pause` s, printing it again.
fn slow_source(ws: &Workspace, file: &Path, pause: u32) {
    ws.config(&format!(
        "[[app]]\nname = \"app\"\n\n[[app.source]]\nname = \"blob\"\nkind = \"command\"\nbackup_command = \"cat {0}; sleep {pause}; cat {0}\"\nfilename = \"blob.bin\"\n",
        file.display()
    ));
}

/// After a storage fault: nothing partial listed, the repository reads back whole,
/// the stale lock goes, and the next backup succeeds.
fn recovers(ws: &Workspace, listed: &[String], restic: &[String]) {
    assert_eq!(lifeboat_ids(ws), listed, "no partial backup listed");
    assert_eq!(
        restic_ids(ws, &ws.repo()),
        restic,
        "restic lists no partial snapshot"
    );
    check_read_data_clean(ws);
    ws.run(&["unlock"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    assert_eq!(
        lifeboat_ids(ws).len(),
        listed.len() + 1,
        "the next backup is listed"
    );
}

pub fn read_only_mid_run(log: &mut Log) {
    let ws = Workspace::new();
    let file = ws.path("blob.src");
    std::fs::write(&file, Rng::for_fault("ro").bytes(20_000_000)).unwrap();
    slow_source(&ws, &file, 3);
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    std::fs::write(&file, Rng::for_fault("ro2").bytes(20_000_000)).unwrap();
    let (listed, restic) = (lifeboat_ids(&ws), restic_ids(&ws, &ws.repo()));
    let backup = spawn(&ws, &["backup"]);
    std::thread::sleep(Duration::from_millis(1500));
    let ro = Mounted::read_only(&ws.repo());
    let (code, stderr) = finish(backup);
    assert_eq!(code, Some(3), "a repository fault is exit 3: {stderr}");
    assert!(stderr.contains("app/blob"), "names the source: {stderr}");
    assert!(
        stderr.contains("Read-only file system"),
        "names the cause: {stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error") && l.contains("Read-only"))
        .unwrap_or("")
        .to_string();
    drop(ro);
    recovers(&ws, &listed, &restic);
    log.fact(format!("exit 3: `{}`", line.trim()));
    log.fact("after remounting rw: nothing partial, check --read-data clean, next backup ok");
}

pub fn disk_full(log: &mut Log) {
    let ws = Workspace::new();
    let small = ws.path("small");
    let disk = Mounted::tmpfs(&small, "24m");
    let file = ws.path("blob.src");
    std::fs::write(&file, Rng::for_fault("full").bytes(2_000_000)).unwrap();
    slow_source(&ws, &file, 0);
    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    let repo = small.join("repo");
    let text = text.replace(
        &ws.repo().display().to_string(),
        &repo.display().to_string(),
    );
    std::fs::write(ws.path("lifeboat.toml"), text).unwrap();
    std::os::unix::fs::symlink(&repo, ws.repo()).unwrap(); // restic_ids reads ws.repo()
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    std::fs::write(&file, Rng::for_fault("full2").bytes(30_000_000)).unwrap();
    let (listed, restic) = (lifeboat_ids(&ws), restic_ids(&ws, &ws.repo()));
    let (code, stderr) = finish(spawn(&ws, &["backup"]));
    assert_eq!(code, Some(3), "a full disk is exit 3: {stderr}");
    assert!(stderr.contains("app/blob"), "names the source: {stderr}");
    assert!(
        stderr.contains("No space left on device"),
        "names the cause: {stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("No space"))
        .unwrap_or("")
        .to_string();
    Mounted::run(&["-o", "remount,size=200m"], &small);
    recovers(&ws, &listed, &restic);
    drop(disk);
    log.fact(format!(
        "60 MB into a 24 MB tmpfs: exit 3: `{}`",
        line.trim()
    ));
    log.fact("after growing the disk: nothing partial, check --read-data clean, next backup ok");
}

pub fn s3_killed_mid_backup(log: &mut Log) {
    let mut s3 = ScratchS3::start().unwrap();
    s3.create_bucket("repo").unwrap();
    let mut ws = Workspace::new();
    crate::support::bucket::aws_env(&mut ws, &s3);
    let file = ws.path("blob.src");
    let size: u64 = 20_000_000;
    std::fs::write(&file, Rng::for_fault("s3 backup").bytes(size as usize)).unwrap();
    // The stream, then a pause: packs are uploaded while the source waits, and the
    // server dies then. The pause is long beside the whole backup: the read-ahead
    // buffers can hold the whole stream, so the pause may begin before the repository
    // is even open, and on a slow machine a short one ended (and the backup with it,
    // exit 0) before the uploads had settled.
    let config = format!(
        "[repository]\nurl = \"s3://repo/lifeboat\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\
         options = {{ endpoint = \"{}\", region = \"us-east-1\" }}\n\n\
         [[app]]\nname = \"app\"\n\n[[app.source]]\nname = \"blob\"\nkind = \"command\"\n\
         backup_command = \"cat {}; sleep 15\"\nfilename = \"blob.bin\"\n",
        s3.endpoint(),
        file.display()
    );
    std::fs::write(ws.path("lifeboat.toml"), config).unwrap();
    ws.run(&["init"]).assert_ok();
    let packs = s3.root().join("repo/lifeboat/data");
    let backup = spawn(&ws, &["backup"]);
    // A pack whole on the server: 8 MB there, and no more being written.
    let uploaded = crate::support::wait_for_settled_size(
        &packs,
        8_000_000,
        Duration::from_millis(500),
        Duration::from_secs(30),
    );
    assert!(uploaded, "the backup never uploaded a pack");
    let (code, stderr, failed_after) = kill_s3_during(&mut s3, backup);
    // The repository failed, not the source: exit 3 (SPEC §4).
    assert_eq!(code, Some(3), "a dead repository is exit 3: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("")
        .to_string();
    assert!(
        line.contains("app/blob") && line.contains("/repo/lifeboat/data/"),
        "names the source and the object: {stderr}"
    );
    s3.restart().unwrap();
    assert!(lifeboat_ids(&ws).is_empty(), "no partial backup listed");
    ws.run(&["unlock"]).assert_ok();
    ws.run(&["check", "--read-data"]).assert_ok();
    // The packs the failed backup uploaded are indexed and reused, not sent again.
    let left = crate::support::dir_size(&packs);
    let next = ws.run(&["-v", "backup"]).assert_ok();
    assert!(
        next.stderr
            .contains("indexed the packs of 1 unfinished backup(s)"),
        "{}",
        next.stderr
    );
    let added = crate::support::dir_size(&packs) - left;
    // Only what never reached the store is uploaded, plus a tree; without the reuse
    // it would be the whole stream again.
    assert!(
        added < size - left + 2_000_000,
        "the next backup uploaded {added} bytes of a {size}-byte stream, of which {left} were stored"
    );
    let dumped = ws.run_bytes(&["dump", "app/blob"]);
    assert!(
        dumped == std::fs::read(&file).unwrap(),
        "the dump differs from the stream"
    );
    ws.run(&["check", "--read-data"]).assert_ok();
    log.fact(format!(
        "S3 killed with {left} bytes of packs uploaded from a 20 MB stream: exit 3 {failed_after:.0?} later: `{}`",
        line.trim()
    ));
    log.fact(format!("after a restart: nothing listed, unlock, check --read-data clean; the next backup indexed the failed one's packs and uploaded {added} bytes more (not the whole stream again); dump exact"));
}

pub fn s3_killed_mid_copy(log: &mut Log) {
    let mut s3 = ScratchS3::start().unwrap();
    s3.create_bucket("offsite").unwrap();
    let mut ws = Workspace::new();
    crate::support::bucket::aws_env(&mut ws, &s3);
    let file = ws.path("blob.src");
    std::fs::write(&file, Rng::for_fault("s3").bytes(40_000_000)).unwrap();
    slow_source(&ws, &file, 0);
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    let copy = format!(
        "[[copy_to]]\nname = \"offsite\"\nurl = \"s3://offsite/lifeboat\"\npassword_env = \"LIFEBOAT_PASSWORD\"\noptions = {{ endpoint = \"{}\", region = \"us-east-1\" }}\n\n",
        s3.endpoint()
    );
    std::fs::write(ws.path("lifeboat.toml"), format!("{copy}{text}")).unwrap();
    let _ = ws.run(&["init"]);
    let copying = spawn(&ws, &["copy"]);
    // Killed once the copy has sent its first pack.
    let sending = crate::support::wait_for(Duration::from_secs(30), || {
        !crate::support::bucket::keys(&s3, "s3://offsite/lifeboat/data/").is_empty()
    });
    assert!(sending, "the copy never sent a pack");
    let (code, stderr, failed_after) = kill_s3_during(&mut s3, copying);
    assert_eq!(code, Some(3), "a dead copy target is exit 3: {stderr}");
    assert!(stderr.contains("offsite"), "names the copy: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("FAILED: copy to offsite"))
        .unwrap_or("")
        .to_string();
    s3.restart().unwrap();
    // A copy killed mid-way leaves its lock in the copy: the next copy sees the holder
    // is gone and goes on.
    ws.run(&["copy"]).assert_ok();
    let unlock = ws.run(&["unlock", "--from", "offsite"]).assert_ok();
    assert!(
        unlock.stdout.contains("removed lock"),
        "the failed copy's lock: {}",
        unlock.stdout
    );
    // lifeboat's check, not restic's: stock restic lists no packs on s3s-fs (its
    // recursive listing of data/ comes back empty there), so it would report every
    // pack missing; restic reads lifeboat's S3 repositories on real S3 (Garage, bench/).
    ws.run(&["check", "--read-data", "--from", "offsite"])
        .assert_ok();
    let copied = ws.run(&["list", "--json", "--from", "offsite"]).assert_ok();
    assert_eq!(
        copied.stdout.matches("\"id\"").count(),
        1,
        "{}",
        copied.stdout
    );
    log.fact(format!(
        "S3 killed after the first pack of a 40 MB copy: exit 3 {failed_after:.0?} later: `{}`",
        line.trim()
    ));
    log.fact("after a restart: the next copy completed; unlock --from removed the failed copy's stale lock; check --read-data of the copy clean");
}

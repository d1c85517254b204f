//! Corruption of a repository on disk: a flipped byte in a pack, a deleted index file,
//! a truncated snapshot file, a missing key file. `check` names the damage, `verify`
//! of the damaged backup fails, a restore of an unaffected backup still works, and the
//! repair the README gives (stock restic's commands) makes the repository whole.

use crate::common::Rng;
use crate::support::Workspace;
use crate::Log;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Files under `repo/dir` (recursively), sorted.
fn files(repo: &Path, dir: &str) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![repo.join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path());
            }
        }
    }
    out
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Two apps backed up in two runs, so that each has its own packs, index and snapshot
/// file: `hurt/data` (files) is damaged, `well/blob` (command) is not.
struct Damaged {
    ws: Workspace,
    /// What the first run (hurt/data) added, per repository directory.
    packs: BTreeSet<PathBuf>,
    index: BTreeSet<PathBuf>,
    snapshots: BTreeSet<PathBuf>,
    blob: Vec<u8>,
}

impl Damaged {
    fn new(fault: &str) -> Damaged {
        let ws = Workspace::new();
        let mut rng = Rng::for_fault(fault);
        let data = ws.path("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("big.bin"), rng.bytes(3_000_000)).unwrap();
        std::fs::write(data.join("note.txt"), "kept\n").unwrap();
        let blob = rng.bytes(1_000_000);
        std::fs::write(ws.path("blob.src"), &blob).unwrap();
        ws.config(&format!(
            "[[app]]\nname = \"hurt\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n\n\
             [[app]]\nname = \"well\"\n\n[[app.source]]\nname = \"blob\"\nkind = \"command\"\nbackup_command = \"cat {}\"\n\
             restore_command = \"cat > {}\"\nfilename = \"blob.bin\"\n",
            data.display(),
            ws.path("blob.src").display(),
            ws.path("blob.out").display()
        ));
        ws.run(&["init"]).assert_ok();
        let repo = ws.repo();
        ws.run(&["backup", "hurt"]).assert_ok();
        let (packs, index, snapshots) = (
            files(&repo, "data"),
            files(&repo, "index"),
            files(&repo, "snapshots"),
        );
        ws.run(&["backup", "well"]).assert_ok();
        ws.run(&["check", "--read-data"]).assert_ok();
        Damaged {
            ws,
            packs,
            index,
            snapshots,
            blob,
        }
    }

    /// `check --read-data` fails and its output holds `wanted`; returns the line.
    fn check_names(&self, wanted: &str) -> String {
        let out = self.ws.run(&["check", "--read-data"]);
        assert_ne!(out.code, 0, "check passed over the damage: {}", out.all());
        let text = out.all();
        assert!(text.contains(wanted), "check names {wanted:?}: {text}");
        text.lines()
            .find(|l| l.contains(wanted))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// `verify hurt` fails (exit 1); its FAILED line (not the warnings before it).
    fn verify_fails(&self) -> String {
        let out = self.ws.run(&["verify", "hurt"]);
        assert_eq!(out.code, 1, "verify of the damaged backup: {}", out.all());
        out.stderr
            .lines()
            .find(|l| l.contains("hurt") && l.contains("FAILED") && !l.contains("WARN"))
            .unwrap_or("")
            .trim()
            .to_string()
    }

    /// The unaffected backup restores byte for byte.
    fn well_restores(&self) {
        let _ = std::fs::remove_file(self.ws.path("blob.out"));
        self.ws.run(&["restore", "well/blob"]).assert_ok();
        assert_eq!(std::fs::read(self.ws.path("blob.out")).unwrap(), self.blob);
    }

    fn restic(&self, args: &[&str]) {
        let out = self.ws.restic(args);
        assert!(
            out.status.success(),
            "restic {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// After the repair: check is clean and the surviving backups verify.
    fn repaired(&self, spec: &str) {
        self.ws.run(&["check", "--read-data"]).assert_ok();
        self.ws.run(&["verify", spec]).assert_ok();
    }
}

pub fn flipped_byte(log: &mut Log) {
    let d = Damaged::new("flipped byte");
    let pack = d
        .packs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(pack).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(pack, bytes).unwrap();
    let line = d.check_names(&name(pack)[..8]);
    log.fact(format!("check: `{line}`"));
    log.fact(format!("verify hurt: `{}`", d.verify_fails()));
    d.well_restores();
    log.fact("restore of the unaffected backup byte for byte");
    // Repair (README): drop the damaged pack, rebuild the index, forget what is gone.
    std::fs::remove_file(pack).unwrap();
    d.restic(&["rebuild-index"]);
    d.ws.run(&["backup", "hurt"]).assert_ok();
    let gone = d.ws.snapshots_of("hurt", "data").len();
    log.fact(format!(
        "repaired with rm pack + restic rebuild-index + a new backup ({gone} hurt backups listed)"
    ));
    d.ws.run(&["verify", "well"]).assert_ok();
}

pub fn deleted_index(log: &mut Log) {
    let d = Damaged::new("deleted index");
    for index in &d.index {
        std::fs::remove_file(index).unwrap();
    }
    let pack = d.packs.iter().next().unwrap();
    let line = d.check_names(&name(pack)[..8]);
    log.fact(format!("check: `{line}`"));
    let verify = d.verify_fails();
    // Not "no backup found": the backup is there, its tree cannot be read.
    assert!(
        verify.contains("no readable backup: 1 backup(s) of it cannot be read"),
        "{verify}"
    );
    log.fact(format!("verify hurt: `{verify}`"));
    let out = d.ws.run(&["restore", "hurt/data", "--plan"]);
    assert!(
        out.code == 1 && out.stderr.contains("no readable backup"),
        "{}",
        out.all()
    );
    d.well_restores();
    log.fact("restore of the unaffected backup byte for byte");
    d.restic(&["rebuild-index"]);
    d.repaired("hurt");
    log.fact("restic rebuild-index: check --read-data clean, verify hurt passes again");
}

pub fn truncated_snapshot(log: &mut Log) {
    let d = Damaged::new("truncated snapshot");
    let snap = d.snapshots.iter().next().unwrap();
    let bytes = std::fs::read(snap).unwrap();
    std::fs::write(snap, &bytes[..bytes.len() / 2]).unwrap();
    let line = d.check_names(&name(snap)[..8]);
    log.fact(format!("check: `{line}`"));
    let list = d.ws.run(&["list"]).assert_ok();
    assert!(
        list.stderr.contains(&format!(
            "snapshot {} cannot be read, skipped",
            &name(snap)[..8]
        )),
        "{}",
        list.stderr
    );
    log.fact(format!(
        "list: exit {}, {}",
        list.code,
        list.all()
            .lines()
            .find(|l| l.contains(&name(snap)[..8]))
            .unwrap_or("the damaged snapshot not listed")
    ));
    d.well_restores();
    log.fact("restore of the unaffected backup byte for byte");
    std::fs::remove_file(snap).unwrap();
    d.ws.run(&["check", "--read-data"]).assert_ok();
    d.ws.run(&["verify", "well"]).assert_ok();
    log.fact("repaired by removing the snapshot file: check --read-data clean");
}

pub fn missing_key(log: &mut Log) {
    let d = Damaged::new("missing key");
    let keys = files(&d.ws.repo(), "keys");
    let saved: Vec<(PathBuf, Vec<u8>)> = keys
        .iter()
        .map(|k| (k.clone(), std::fs::read(k).unwrap()))
        .collect();
    for k in &keys {
        std::fs::remove_file(k).unwrap();
    }
    for args in [
        &["list"][..],
        &["check"],
        &["restore", "well/blob", "--force"],
        &["backup", "well"],
    ] {
        let out = d.ws.run(args);
        assert_eq!(out.code, 3, "{args:?} without a key: {}", out.all());
        if args[0] == "list" {
            log.fact(format!(
                "every command exit 3: `{}`",
                out.stderr.lines().next().unwrap_or("").trim()
            ));
        }
    }
    for (k, bytes) in saved {
        std::fs::write(k, bytes).unwrap();
    }
    d.repaired("hurt");
    d.well_restores();
    log.fact("the key file put back from a copy: check --read-data clean, verify and restore work");
}

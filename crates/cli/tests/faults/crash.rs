//! Crashes: `kill -9` of lifeboat mid-backup (a ~300 MB PostgreSQL dump and a files
//! tree, at seeded random moments), mid-restore, mid-prune and mid-copy.

use crate::common::{
    check_read_data_clean, kill_after, kill_child_after, lifeboat_ids, lock_files, points,
    restic_ids, timed_ok, Ended, Rng,
};
use crate::support::fingerprint::{diff, fingerprint};
use crate::support::pg::{hold_table, pg_config, restore_blocked, restore_sessions_gone, shop};
use crate::support::{dir_size, PgServer, Workspace};
use crate::Log;
use std::path::Path;
use std::time::Duration;

/// Size of the PostgreSQL dump: `LIFEBOAT_FAULT_DUMP_MB`, else 300.
fn dump_mb() -> u64 {
    std::env::var("LIFEBOAT_FAULT_DUMP_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// The killed backups of one source, each followed by the checks of a crash.
struct CrashRun<'a> {
    ws: &'a Workspace,
    spec: &'a str,
    /// Changes the source a little before each backup (the argument is the round).
    mutate: &'a dyn Fn(usize),
    /// What a full backup stores; a backup after a crash must add far less.
    full_size: u64,
}

impl CrashRun<'_> {
    fn run(&self, log: &mut Log, name: &str, wanted: usize) {
        let (ws, repo) = (self.ws, self.ws.repo());
        (self.mutate)(0);
        let normal = timed_ok(ws, &["backup", self.spec]);
        let mut rng = Rng::for_fault(name);
        let (mut kills, mut early, mut stale, mut max_growth) = (0, 0, 0, 0u64);
        let mut round = 0;
        while kills < wanted && round < wanted * 3 {
            round += 1;
            (self.mutate)(round);
            let (listed, restic) = (lifeboat_ids(ws), restic_ids(ws, &repo));
            let at = normal.mul_f64(rng.between(0.02, 1.0));
            match kill_after(ws, &["backup", self.spec], at) {
                Ended::Finished(code) => {
                    assert_eq!(code, Some(0), "a backup that was not killed");
                    early += 1;
                    continue;
                }
                Ended::Killed => kills += 1,
            }
            let point = format!("kill at {at:.2?} of {normal:.2?} (round {round})");
            assert_eq!(
                lifeboat_ids(ws),
                listed,
                "{point}: lifeboat lists a partial backup"
            );
            assert_eq!(
                restic_ids(ws, &repo),
                restic,
                "{point}: restic lists a partial snapshot"
            );
            check_read_data_clean(ws);
            let had_lock = lock_files(&repo) > 0;
            let unlock = ws.run(&["unlock"]).assert_ok();
            if had_lock {
                assert!(
                    unlock.stdout.contains("removed lock"),
                    "{point}: {}",
                    unlock.stdout
                );
                assert!(
                    unlock.stdout.contains("process on this host is gone"),
                    "{}",
                    unlock.stdout
                );
                stale += 1;
            }
            assert_eq!(lock_files(&repo), 0, "{point}: unlock left a lock");
            let before = dir_size(&repo);
            ws.run(&["backup", self.spec]).assert_ok();
            let growth = dir_size(&repo).saturating_sub(before);
            assert!(
                growth < self.full_size / 4,
                "{point}: the backup after the crash added {growth} bytes of a {} byte source",
                self.full_size
            );
            max_growth = max_growth.max(growth);
        }
        assert_eq!(
            kills, wanted,
            "{wanted} kills wanted, {early} backups ended first"
        );
        log.fact(format!(
            "{kills} kills -9 over a {normal:.1?} backup (seed points), {early} ended before their kill"
        ));
        log.fact(
            "0 partial snapshots (lifeboat and restic list), check --read-data clean after each",
        );
        log.fact(format!(
            "{stale} stale locks reported and removed by unlock"
        ));
        log.fact(format!(
            "next backup ok each time, adding at most {:.1} MB of {:.0} MB",
            max_growth as f64 / 1e6,
            self.full_size as f64 / 1e6
        ));
    }
}

pub fn mid_backup_postgres(log: &mut Log) {
    let server = PgServer::start();
    server.create_db("big");
    let rows = dump_mb() * 1000;
    server.exec(
        "big",
        &format!(
            "CREATE TABLE t (id int PRIMARY KEY, body text);\n\
             INSERT INTO t SELECT g, repeat(md5(g::text) || md5((g * 7)::text), 15) FROM generate_series(1, {rows}) g"
        ),
    );
    let ws = Workspace::new();
    ws.config(&format!(
        "[[app]]\nname = \"big\"\n\n[[app.source]]\nname = \"db\"\nkind = \"postgres\"\nurl = \"{}\"\n",
        server.url("postgres", "big")
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup", "big/db"]).assert_ok();
    let full_size = dump_mb() * 1_000_000;
    let mutate = |round: usize| {
        server.exec(
            "big",
            &format!("UPDATE t SET body = md5(random()::text) || substr(body, 33) WHERE id % 97 = {round}"),
        );
    };
    let run = CrashRun {
        ws: &ws,
        spec: "big/db",
        mutate: &mutate,
        full_size,
    };
    run.run(log, "crash mid-backup: postgres", points(20));
    log.fact(format!("dump of {} MB", dump_mb()));
}

/// A tree of `files` random files of `size` bytes under `root`, plus small ones.
fn random_tree(root: &Path, rng: &mut Rng, files: usize, size: usize) {
    for i in 0..files {
        let path = root.join(format!("d{}/f{i}.bin", i % 7));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, rng.bytes(size)).unwrap();
    }
    for i in 0..300 {
        let path = root.join(format!("small/{}/s{i}.txt", i % 13));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("small file {i}\n")).unwrap();
    }
}

/// Every file's mtime set to `secs`: the next backup reads the whole tree again.
fn touch_all(root: &Path, secs: u64) {
    let when = std::time::UNIX_EPOCH + Duration::from_secs(secs);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let f = std::fs::File::options().write(true).open(e.path()).unwrap();
                f.set_modified(when).unwrap();
            }
        }
    }
}

fn files_config(ws: &Workspace, root: &Path, extra: &str) {
    ws.config(&format!(
        "{extra}[[app]]\nname = \"vol\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n",
        root.display()
    ));
}

pub fn mid_backup_files(log: &mut Log) {
    let ws = Workspace::new();
    let root = ws.path("volume");
    let mut rng = Rng::for_fault("files tree");
    random_tree(&root, &mut rng, 40, 1_500_000);
    files_config(&ws, &root, "");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup", "vol/data"]).assert_ok();
    let full_size = dir_size(&root);
    let rng = std::cell::RefCell::new(rng);
    let mutate = |round: usize| {
        // New data, and every file looks changed, so each backup reads the whole tree.
        let bytes = rng.borrow_mut().bytes(1_000_000);
        std::fs::write(root.join(format!("new-{round}.bin")), bytes).unwrap();
        touch_all(&root, 1_700_000_000 + round as u64 * 60);
    };
    let run = CrashRun {
        ws: &ws,
        spec: "vol/data",
        mutate: &mutate,
        full_size,
    };
    run.run(log, "crash mid-backup: files", points(20));
    log.fact(format!("tree of {:.0} MB", full_size as f64 / 1e6));
}

/// The pre-restore safety backup of shop/db (the only one).
fn safety_id(ws: &Workspace) -> String {
    let safety: Vec<String> = ws
        .snapshots_of("shop", "db")
        .into_iter()
        .filter(|s| s["pre_restore"] == true)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(safety.len(), 1, "one safety backup: {safety:?}");
    safety[0].clone()
}

pub fn mid_restore(log: &mut Log) {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    ws.config(&format!("{}lock_timeout = 0\n", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    // The state before the restore differs from the backup.
    server.exec(
        "shop",
        "DELETE FROM customers WHERE id > 1000; INSERT INTO docs VALUES (9999, '{}')",
    );
    let before = server.fingerprint("shop");
    // A session holding a table makes the restore wait there; it is killed waiting.
    let (mut holder, _) = hold_table(&server, "customers", "report-runner");
    let child = ws
        .command(&["restore", "shop/db", "--force"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(restore_blocked(&server), "the restore never waited");
    assert!(matches!(
        kill_child_after(child, Duration::ZERO),
        Ended::Killed
    ));
    holder.batch_execute("ROLLBACK").unwrap();
    drop(holder);
    assert!(
        restore_sessions_gone(&server),
        "the restore's session outlived lifeboat"
    );
    log.fact("lifeboat killed -9 while pg_restore waited on a lock");

    let safety = safety_id(&ws);
    let plan = ws
        .run(&["restore", "shop/db", "--force", "--plan"])
        .assert_ok();
    let warned = "may be partial: a restore of snapshot".to_string();
    assert!(plan.stdout.contains(&warned), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains(&format!("safety backup {}", &safety[..8])),
        "{}",
        plan.stdout
    );
    log.fact("restore --plan: the target may be partial, naming the safety backup");
    let unlock = ws.run(&["unlock"]).assert_ok();
    ws.run(&["restore", "shop/db", "--snapshot", &safety, "--force"])
        .assert_ok();
    assert_eq!(
        server.fingerprint("shop"),
        before,
        "the safety backup restores the state before"
    );
    log.fact(format!(
        "safety backup restored the pre-restore state exactly ({})",
        if unlock.stdout.contains("removed lock") {
            "stale lock removed first"
        } else {
            "no lock left"
        }
    ));
    let plan = ws
        .run(&["restore", "shop/db", "--force", "--plan"])
        .assert_ok();
    assert!(!plan.stdout.contains("may be partial"), "{}", plan.stdout);
    log.fact("after a finished restore the warning is gone");
    check_read_data_clean(&ws);
}

/// Restores every listed backup of vol/data into a fresh dir and compares it with
/// the tree it was taken of.
fn all_listed_restore(
    ws: &Workspace,
    expected: &std::collections::HashMap<String, crate::support::fingerprint::Tree>,
    from: Option<&str>,
) -> usize {
    let mut listed = 0;
    let mut list = vec!["list", "--json"];
    if let Some(name) = from {
        list.extend(["--from", name]);
    }
    let snaps: Vec<serde_json::Value> =
        serde_json::from_str(&ws.run(&list).assert_ok().stdout).unwrap();
    for snap in snaps
        .iter()
        .filter(|s| s["app"] == "vol" && s["source"] == "data")
    {
        let id = snap["id"].as_str().unwrap();
        let dir = ws.path(&format!("check-{}-{id}", from.unwrap_or("primary")));
        let _ = std::fs::remove_dir_all(&dir);
        let mut args = vec![
            "restore",
            "vol/data",
            "--snapshot",
            id,
            "--to",
            dir.to_str().unwrap(),
        ];
        if let Some(name) = from {
            args.extend(["--from", name]);
        }
        ws.run(&args).assert_ok();
        let key = snap["time"].as_str().unwrap().to_string();
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("no tree recorded for {key}"));
        let problems = diff(want, &fingerprint(&dir));
        assert!(
            problems.is_empty(),
            "backup {id} restores differently: {problems:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        listed += 1;
    }
    listed
}

/// A files source backed up in `rounds` rounds that each replace 4 MB, and the tree of
/// each backup by its time.
fn churned(
    ws: &Workspace,
    rounds: usize,
    extra: &str,
) -> std::collections::HashMap<String, crate::support::fingerprint::Tree> {
    let root = ws.path("volume");
    let mut rng = Rng::for_fault("churn");
    files_config(ws, &root, extra);
    ws.run(&["init"]).assert_ok();
    let mut trees = std::collections::HashMap::new();
    for round in 0..rounds {
        let _ = std::fs::remove_dir_all(&root);
        random_tree(&root, &mut rng, 4, 1_000_000);
        std::fs::write(root.join("round"), round.to_string()).unwrap();
        ws.run(&["backup", "vol/data"]).assert_ok();
        let newest = ws
            .snapshots_of("vol", "data")
            .into_iter()
            .map(|s| s["time"].as_str().unwrap().to_string())
            .max()
            .unwrap();
        trees.insert(newest, fingerprint(&root));
    }
    trees
}

/// Seeded moments in (0, `of`), in increasing order.
fn moments(name: &str, n: usize, of: Duration) -> Vec<Duration> {
    let mut rng = Rng::for_fault(name);
    let mut at: Vec<Duration> = (0..n).map(|_| of.mul_f64(rng.between(0.02, 1.0))).collect();
    at.sort();
    at
}

/// A copy of the workspace's repository with its config: the run there measures how
/// long the real one takes.
fn probe_config(ws: &Workspace, probe_repo: &Path, body: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    let text = text.replace(
        &format!("url = \"{}\"", ws.repo().display()),
        &format!("url = \"{}\"", probe_repo.display()),
    );
    let path = ws.path("probe.toml");
    std::fs::write(&path, format!("{body}{text}")).unwrap();
    path
}

pub fn mid_prune(log: &mut Log) {
    let ws = Workspace::new();
    let trees = churned(&ws, 10, "");
    // Retention keeps 3 from now on; the 7 others' data is for prune to remove.
    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    std::fs::write(
        ws.path("lifeboat.toml"),
        format!("{text}retention = {{ strategy = \"daily\", keep = 3 }}\n"),
    )
    .unwrap();
    let probe = ws.path("probe-repo");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(ws.repo())
        .arg(&probe)
        .status()
        .unwrap();
    assert!(status.success());
    let probe_cfg = probe_config(&ws, &probe, "");
    let started = std::time::Instant::now();
    ws.run_with(&probe_cfg, &["prune"]).assert_ok();
    let normal = started.elapsed();
    let (mut kills, mut most) = (0, 0);
    for at in moments("crash mid-prune", points(6), normal) {
        match kill_after(&ws, &["prune"], at) {
            Ended::Finished(code) => {
                assert_eq!(code, Some(0), "prune");
                break;
            }
            Ended::Killed => kills += 1,
        }
        check_read_data_clean(&ws);
        most = most.max(all_listed_restore(&ws, &trees, None));
        ws.run(&["unlock"]).assert_ok();
    }
    ws.run(&["prune"]).assert_ok();
    check_read_data_clean(&ws);
    let kept = all_listed_restore(&ws, &trees, None);
    assert_eq!(kept, 3, "retention keeps 3");
    log.fact(format!(
        "{kills} kills -9 over a {normal:.2?} prune; check --read-data clean after each"
    ));
    log.fact(format!(
        "every listed backup (up to {most}) restored exactly after each kill"
    ));
    log.fact("the next prune completed; the 3 kept backups restore exactly");
}

pub fn mid_copy(log: &mut Log) {
    let ws = Workspace::new();
    let trees = churned(&ws, 6, "");
    let copy = |name: &str, url: &Path| {
        format!("[[copy_to]]\nname = \"{name}\"\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n", url.display())
    };
    let probe_cfg = probe_config(&ws, &ws.repo(), &copy("probe", &ws.path("probe-copy")));
    let _ = ws.run_with(&probe_cfg, &["init"]); // the primary exists; the copy is made
    assert!(
        ws.path("probe-copy/config").is_file(),
        "init made the probe copy"
    );
    let started = std::time::Instant::now();
    ws.run_with(&probe_cfg, &["copy"]).assert_ok();
    let normal = started.elapsed();
    let usb = ws.path("usb");
    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    std::fs::write(
        ws.path("lifeboat.toml"),
        format!("{}{text}", copy("usb", &usb)),
    )
    .unwrap();
    let _ = ws.run(&["init"]);
    assert!(
        usb.join("config").is_file(),
        "init made the copy's repository"
    );
    let (mut kills, mut stale) = (0, 0);
    for at in moments("crash mid-copy", points(6), normal) {
        match kill_after(&ws, &["copy"], at) {
            Ended::Finished(code) => {
                assert_eq!(code, Some(0), "copy");
                break;
            }
            Ended::Killed => kills += 1,
        }
        // A kill while the copy held its shared lock on `usb` leaves that lock, and
        // stock restic refuses every locking command until someone unlocks: the
        // operator's step after a crash, as after a killed backup.
        if lock_files(&usb) > 0 {
            let unlock = ws.run(&["unlock", "--from", "usb"]).assert_ok();
            assert!(
                unlock.stdout.contains("process on this host is gone"),
                "unlock --from usb after the kill: {}",
                unlock.stdout
            );
            stale += 1;
        }
        assert_eq!(lock_files(&usb), 0, "unlock --from usb left a lock");
        let check = ws.restic_at(&usb, &["check", "--read-data"]);
        assert!(
            check.status.success(),
            "restic check of the copy: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        all_listed_restore(&ws, &trees, Some("usb"));
        ws.run(&["unlock"]).assert_ok();
    }
    ws.run(&["copy"]).assert_ok();
    assert_eq!(
        ws.run(&["list", "--json", "--from", "usb"])
            .assert_ok()
            .stdout
            .matches("\"id\"")
            .count(),
        6
    );
    let restored = all_listed_restore(&ws, &trees, Some("usb"));
    assert_eq!(restored, 6);
    log.fact(format!("{kills} kills -9 over a {normal:.2?} copy; {stale} left the copy's shared lock, which unlock --from usb removed as stale; restic check --read-data of the copy clean after each"));
    log.fact("every backup the copy listed restored exactly from it after each kill");
    log.fact("the next copy completed: all 6 backups restore exactly from the copy");
}

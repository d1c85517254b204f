//! `[[copy_to]]` through the binary: offsite copies on a real S3 server (s3s-fs) and in
//! a local directory, `lifeboat copy`, and `list`/`restore`/`verify --from` once the
//! primary repository is gone.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::scratch::s3::ScratchS3;
use support::files::{snapshot_of, tree, write};
use support::Workspace;

const APP: &str = "[[app]]\nname = \"site\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{data}\"\n\n[[app.source]]\nname = \"secrets\"\nkind = \"command\"\nbackup_command = \"cat {data}/config/app.yml\"\nfilename = \"app.yml\"\n";

fn app(ws: &Workspace) -> String {
    APP.replace("{data}", &ws.path("data").display().to_string())
}

/// A workspace whose `[[copy_to]] offsite` is the bucket `offsite` on `s3`, reached
/// with the standard AWS variables.
fn with_s3_offsite(s3: &ScratchS3) -> Workspace {
    let mut ws = Workspace::new();
    ws.env
        .push(("OFFSITE_PASSWORD".into(), "offsite-pw-83".into()));
    support::bucket::aws_env(&mut ws, s3);
    tree(&ws.path("data"));
    // Incompressible bytes, so that the first copy's upload is measurably larger than a day's.
    let noise: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(ws.path("data/uploads/noise.bin"), noise).unwrap();
    let copy = format!(
        "[[copy_to]]\nname = \"offsite\"\nurl = \"s3://offsite/lifeboat\"\npassword_env = \"OFFSITE_PASSWORD\"\noptions = {{ endpoint = \"{}\", region = \"us-east-1\" }}\n\n",
        s3.endpoint()
    );
    ws.config(&(copy + &app(&ws)));
    ws
}

fn backups(list: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|b| {
            (
                format!(
                    "{}/{}",
                    b["app"].as_str().unwrap(),
                    b["source"].as_str().unwrap()
                ),
                b["time"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn list_from(ws: &Workspace, from: &str) -> Vec<serde_json::Value> {
    let out = ws.run(&["list", "--json", "--from", from]).assert_ok();
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn an_s3_offsite_copy_restores_and_verifies_after_the_primary_is_lost() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("offsite").unwrap();
    let ws = with_s3_offsite(&s3);
    let init = ws.run(&["init"]).assert_ok();
    assert!(
        init.stdout.contains("s3://offsite/lifeboat"),
        "{}",
        init.stdout
    );

    let first = ws.run(&["backup"]).assert_ok();
    assert!(
        first
            .stdout
            .contains("copy offsite: 2 backup(s) copied, 0 there already"),
        "{}",
        first.stdout
    );
    let first_bytes = uploaded(&first.stdout);
    ws.run(&["verify"]).assert_ok();
    // The verification records travel by themselves, pointed at the copies.
    let copy = ws.run(&["copy"]).assert_ok();
    assert!(
        copy.stdout
            .contains("0 backup(s) copied, 2 there already, 2 verification record(s)"),
        "{}",
        copy.stdout
    );

    // A day of churn: one file changes; only the new backups and their new blobs travel.
    write(&ws.path("data/config/app.yml"), "port: 1488\n", 0o640);
    let second = ws.run(&["backup"]).assert_ok();
    assert!(
        second
            .stdout
            .contains("copy offsite: 2 backup(s) copied, 2 there already"),
        "{}",
        second.stdout
    );
    let second_bytes = uploaded(&second.stdout);
    assert!(
        second_bytes * 4 < first_bytes,
        "the second copy sent {second_bytes} bytes, the first {first_bytes}"
    );
    let primary = backups(&ws.list());
    let expected = snapshot_of(&ws.path("data"));

    std::fs::remove_dir_all(ws.repo()).unwrap();
    ws.run(&["list"]).assert_code(3);
    let offsite = list_from(&ws, "offsite");
    assert_eq!(backups(&offsite), primary);
    let verified = offsite.iter().filter(|b| b["verified"] == true).count();
    assert_eq!(verified, 2, "{offsite:?}");

    let target = ws.path("restored");
    ws.run(&[
        "restore",
        "site/data",
        "--from",
        "offsite",
        "--to",
        target.to_str().unwrap(),
    ])
    .assert_ok();
    assert_eq!(snapshot_of(&target), expected);
    let dumped = ws.command(&["dump", "site/secrets"]).output().unwrap();
    assert!(!dumped.status.success(), "dump reads the lost primary");
    ws.run(&["verify", "--from", "offsite"]).assert_ok();
}

/// The bytes `copy offsite: …, N uploaded` reports (as printed: `12.3 KiB`, …).
fn uploaded(stdout: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("copy offsite:"))
        .unwrap();
    let text = line.split(", ").find(|p| p.ends_with(" uploaded")).unwrap();
    let text = text.trim_end_matches(" uploaded");
    let (number, unit) = text.split_once(' ').unwrap();
    let factor = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other} in {line}"),
    };
    (number.parse::<f64>().unwrap() * factor) as u64
}

/// A local `[[copy_to]]` with its own retention (keep 1).
fn with_local_offsite() -> Workspace {
    let ws = Workspace::new();
    tree(&ws.path("data"));
    let copy = format!(
        "[[copy_to]]\nname = \"usb\"\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\nretention = {{ strategy = \"daily\", keep = 1 }}\n\n",
        ws.path("usb").display()
    );
    ws.config(&(copy + &app(&ws)));
    ws
}

#[test]
fn a_failed_copy_keeps_the_backup_and_the_next_copy_sends_what_is_missing() {
    let ws = with_local_offsite();
    ws.run(&["init"]).assert_ok();
    // The offsite disk is gone: the backup is kept, the copy fails loudly (exit 1).
    std::fs::rename(ws.path("usb"), ws.path("usb-away")).unwrap();
    let run = ws.run(&["backup"]).assert_code(1);
    assert!(
        run.stderr.contains("FAILED: copy to usb") && run.stderr.contains("lifeboat init"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("site/data: ok"), "{}", run.stdout);
    assert_eq!(ws.list().len(), 2);

    std::fs::rename(ws.path("usb-away"), ws.path("usb")).unwrap();
    let copy = ws.run(&["copy", "--to", "usb"]).assert_ok();
    assert!(
        copy.stdout.contains("copy usb: 2 backup(s) copied"),
        "{}",
        copy.stdout
    );
    assert_eq!(list_from(&ws, "usb").len(), 2);

    // The copy's own retention (keep 1) applies there; the primary keeps everything.
    ws.run(&["backup"]).assert_ok();
    assert_eq!(ws.list().len(), 4);
    let usb = list_from(&ws, "usb");
    assert_eq!(usb.len(), 2, "{usb:?}");
    ws.run(&["check", "--read-data"]).assert_ok();
}

#[test]
fn copy_names_are_checked() {
    let ws = with_local_offsite();
    ws.run(&["init"]).assert_ok();
    let run = ws.run(&["list", "--from", "tape"]).assert_code(2);
    assert!(
        run.stderr
            .contains("no [[copy_to]] named \"tape\" (configured: usb)"),
        "{}",
        run.stderr
    );
    ws.run(&["copy", "--to", "tape"]).assert_code(2);
    // A second init creates nothing and says so.
    ws.run(&["init"]).assert_code(3);

    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    let doubled = text.replacen(
        "[[app]]",
        &format!(
            "[[copy_to]]\nname = \"usb\"\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n[[app]]",
            ws.path("usb2").display()
        ),
        1,
    );
    std::fs::write(ws.path("lifeboat.toml"), doubled).unwrap();
    let run = ws.run(&["config", "--check"]).assert_code(2);
    assert!(
        run.stderr
            .contains("key `copy_to.name`: a copy_to named \"usb\" exists already"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_daemon_copies_each_scheduled_backup_to_the_offsite() {
    let ws = Workspace::new();
    let copy = format!(
        "[[copy_to]]\nname = \"usb\"\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n",
        ws.path("usb").display()
    );
    // Never due: only the catch-up at start runs it.
    let app = "[[app]]\nname = \"shop\"\nschedule = \"0 0 1 1 *\"\n\n[[app.source]]\nname = \"out\"\nkind = \"command\"\nbackup_command = \"echo hello\"\nfilename = \"out.txt\"\n";
    ws.config(&(copy + app));
    ws.run(&["init"]).assert_ok();
    let daemon = support::daemon::Daemon::start(&ws);
    daemon.wait_for_messages("copied", 1, std::time::Duration::from_secs(60));
    daemon.signal("TERM");
    let (code, log) = daemon.wait(std::time::Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    let copied = daemon_copied(&log);
    assert_eq!(copied, vec![("usb".to_string(), 1)], "{log}");
    assert_eq!(list_from(&ws, "usb").len(), 1);
}

/// (copy, backups) of each `copied` line of the daemon's JSON log.
fn daemon_copied(log: &str) -> Vec<(String, u64)> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "copied")
        .map(|l| {
            (
                l["copy"].as_str().unwrap().to_string(),
                l["backups"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn chunker_polynomial(ws: &Workspace, repo: &std::path::Path) -> String {
    let out = ws.restic_at(repo, &["cat", "config"]);
    assert!(out.status.success(), "{out:?}");
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    config["chunker_polynomial"].as_str().unwrap().to_string()
}

#[test]
fn a_copy_cuts_chunks_as_its_primary_so_a_backup_into_it_after_a_loss_dedups() {
    let ws = Workspace::new();
    let dump = ws.path("dump.bin");
    std::fs::write(&dump, support::noise(12_000_000, 5)).unwrap();
    // A stream (no parent to lean on): only equal chunk boundaries make it dedup.
    let source = format!(
        "[[app]]\nname = \"db\"\n\n[[app.source]]\nname = \"dump\"\nkind = \"command\"\nbackup_command = \"cat {}\"\nfilename = \"dump.bin\"\n",
        dump.display()
    );
    let usb = ws.path("usb");
    let copy = format!(
        "[[copy_to]]\nname = \"usb\"\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n",
        usb.display()
    );
    ws.config(&(copy + &source));
    ws.run(&["init"]).assert_ok();
    assert_eq!(
        chunker_polynomial(&ws, &ws.repo()),
        chunker_polynomial(&ws, &usb),
        "the copy has a chunker polynomial of its own"
    );
    ws.run(&["backup"]).assert_ok();

    // The primary is lost: the copy becomes the repository, and the same dump goes
    // straight into it.
    std::fs::remove_dir_all(ws.repo()).unwrap();
    let after = ws.path("after.toml");
    std::fs::write(
        &after,
        format!(
            "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\n{source}",
            usb.display()
        ),
    )
    .unwrap();
    let before = support::dir_size(&usb.join("data"));
    ws.run_with(&after, &["backup"]).assert_ok();
    let added = support::dir_size(&usb.join("data")) - before;
    assert!(
        added < 500_000,
        "a backup of the same 12 MB into the copy added {added} bytes"
    );
}

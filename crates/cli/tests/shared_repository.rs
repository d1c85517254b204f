//! Many lifeboat processes, one repository on a real S3 server (s3s-fs): ten backups of
//! ten different sources at once all land, and a prune started among them waits for
//! the shared locks (or refuses, naming the holder) and removes nothing referenced.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::scratch::s3::ScratchS3;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use support::Workspace;

const WRITERS: usize = 10;

/// One "host": its own config naming its own app and source, the shared repository.
fn host_config(ws: &Workspace, s3: &ScratchS3, n: usize) -> PathBuf {
    let data = ws.path(&format!("host{n}.bin"));
    // Distinct, incompressible content per host, a few MiB, so the backups overlap in time.
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(n as u32 * 7919) >> 11) as u8)
        .collect();
    std::fs::write(&data, bytes).unwrap();
    let text = format!(
        "[repository]\nurl = \"s3://shared/lifeboat\"\npassword_env = \"LIFEBOAT_PASSWORD\"\nlock_wait = \"2m\"\noptions = {{ endpoint = \"{}\", region = \"us-east-1\" }}\n\n[[app]]\nname = \"host{n}\"\n\n[[app.source]]\nname = \"data\"\nkind = \"command\"\nbackup_command = \"cat {}\"\nfilename = \"data.bin\"\nretention = {{ strategy = \"daily\", keep = 1 }}\n",
        s3.endpoint(),
        data.display()
    );
    let path = ws.path(&format!("host{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(ws: &Workspace, config: &std::path::Path, args: &[&str]) -> Child {
    ws.command_with(config, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn ten_hosts_back_up_to_one_s3_repository_at_once_while_a_prune_runs() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("shared").unwrap();
    let mut ws = Workspace::new();
    support::bucket::aws_env(&mut ws, &s3);
    let configs: Vec<PathBuf> = (0..WRITERS).map(|n| host_config(&ws, &s3, n)).collect();
    ws.run_with(&configs[0], &["init"]).assert_ok();
    // A first backup of host 0, so that the prune has something to keep.
    ws.run_with(&configs[0], &["backup"]).assert_ok();

    let writers: Vec<Child> = configs.iter().map(|c| spawn(&ws, c, &["backup"])).collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let prune = spawn(&ws, &configs[0], &["prune"]);
    for (n, child) in writers.into_iter().enumerate() {
        let (code, text) = finish(child);
        assert_eq!(code, 0, "host {n}: {text}");
    }
    let (code, text) = finish(prune);
    assert!(
        code == 0 || (code == 3 && text.contains("locked")),
        "prune: exit {code}: {text}"
    );

    // Every host's backup is there: host 0 keeps one (retention keep = 1), the others one each.
    let out = ws.run_with(&configs[0], &["list", "--json"]).assert_ok();
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    let mut apps: Vec<&str> = list.iter().map(|b| b["app"].as_str().unwrap()).collect();
    apps.sort_unstable();
    apps.dedup();
    assert_eq!(apps.len(), WRITERS, "{list:?}");
    ws.run_with(&configs[0], &["check", "--read-data"])
        .assert_ok();
    for config in &configs {
        let spec = format!("{}/data", host_of(config));
        let out = ws.command_with(config, &["dump", &spec]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let data = std::fs::read(config.with_extension("bin")).unwrap();
        assert!(out.stdout == data, "{}: the dump differs", config.display());
    }
}

fn host_of(config: &std::path::Path) -> String {
    config.file_stem().unwrap().to_string_lossy().into_owned()
}

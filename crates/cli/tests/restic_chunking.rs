//! lifeboat cuts data into exactly the chunks stock restic cuts with the same chunker
//! parameters, for files and for streams: the patched chunker (vendor/rustic_core,
//! vendor/rustic_cdc) must never move a cut point, or dedup against restic-written
//! data and between lifeboat versions would silently stop.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::collections::BTreeSet;
use support::Workspace;

/// Deterministic bytes: a random-looking part (cut points anywhere) and a repetitive
/// text part (long runs without cut points, up to the maximum chunk size).
fn sample(seed: u64, random_mib: usize, text_mib: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity((random_mib + text_mib) << 20);
    while out.len() < random_mib << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    let line = b"INSERT INTO orders VALUES (42, 'shipped', '2024-05-01');\n";
    while out.len() < (random_mib + text_mib) << 20 {
        out.extend_from_slice(line);
    }
    out
}

fn data_blobs(restic: &dyn Fn(&[&str]) -> std::process::Output) -> BTreeSet<String> {
    let out = restic(&["list", "blobs"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("data ").map(str::to_string))
        .collect()
}

#[test]
fn files_and_streams_are_cut_where_restic_cuts() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("files")).unwrap();
    std::fs::write(ws.path("files/a.bin"), sample(7, 20, 12)).unwrap();
    std::fs::write(ws.path("stream.bin"), sample(11, 20, 12)).unwrap();
    ws.config(&format!(
        "[[app]]\nname = \"x\"\n\n[[app.source]]\nname = \"files\"\nkind = \"files\"\npath = \"{}\"\n\n\
         [[app.source]]\nname = \"out\"\nkind = \"command\"\nbackup_command = \"cat '{}'\"\nfilename = \"out.bin\"\n",
        ws.path("files").display(),
        ws.path("stream.bin").display()
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();

    // A restic repository with lifeboat's chunker polynomial, holding the same data.
    let restic_repo = ws.path("restic-repo");
    let restic = |args: &[&str]| ws.restic_at(&restic_repo, args);
    let repo = ws.repo().display().to_string();
    let init = restic(&["init", "--from-repo", &repo, "--copy-chunker-params"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let files = ws.path("files/a.bin").display().to_string();
    let stream = ws.path("stream.bin").display().to_string();
    let backup = restic(&["backup", &files, &stream]);
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );

    let restics = data_blobs(&restic);
    let lifeboats = data_blobs(&|args| ws.restic(args));
    // 64 MiB at 512 KiB–8 MiB per chunk: dozens of cut points, random and textual.
    assert!(restics.len() >= 20, "only {} chunks", restics.len());
    let missing: Vec<_> = restics.difference(&lifeboats).collect();
    assert!(
        missing.is_empty(),
        "{} of restic's {} chunks are not in lifeboat's repository: the cut points moved",
        missing.len(),
        restics.len()
    );
}

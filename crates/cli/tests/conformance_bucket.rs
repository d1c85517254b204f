//! Conformance of the bucket kind on hostile keys and objects: spaces, unicode and
//! emoji, URL-special characters, lifeboat's own file names (`~objects.json`,
//! `~lifeboat/…`), deep nesting, keys that look like directories,
//! case-only differences, empty objects, a multi-MB object, several content types.
//! Restored into an empty prefix and over a modified one (`--force --clean`),
//! compared exactly (keys, bytes, content types), then `lifeboat verify`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::scratch::s3::ScratchS3;
use support::bucket::{objects, put};
use support::Workspace;

fn hostile() -> Vec<(String, Vec<u8>, Option<&'static str>)> {
    let big: Vec<u8> = (0..6_000_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let text = Some("text/plain; charset=utf-8");
    let mut all = vec![
        ("with space.txt".to_string(), b"spaces".to_vec(), text),
        ("  leading and trailing  ".into(), b"blanks".to_vec(), text),
        (
            "ünïcødé/ファイル 🦀.txt".into(),
            "🦀".as_bytes().to_vec(),
            text,
        ),
        (
            "~objects.json".into(),
            b"{\"format\": 1, \"objects\": {}}".to_vec(),
            Some("application/json"),
        ),
        (
            "~lifeboat/bucket-objects.json".into(),
            b"not lifeboat's".to_vec(),
            None,
        ),
        ("~lifeboat/manifest.json".into(), b"{}".to_vec(), None),
        (
            "percent%20and+plus=eq&amp;semi.txt".into(),
            b"url-ish".to_vec(),
            text,
        ),
        ("question?and#hash.txt".into(), b"query-ish".to_vec(), text),
        ("back\\slash".into(), b"\\".to_vec(), None),
        ("CaseOnly".into(), b"upper".to_vec(), None),
        ("caseonly".into(), b"lower".to_vec(), None),
        ("empty".into(), Vec::new(), Some("application/octet-stream")),
        ("nested/empty".into(), Vec::new(), None),
        ("big.bin".into(), big, Some("application/x-lifeboat-test")),
        (
            "image.png".into(),
            b"\x89PNG\r\n\x1a\n\0\xff".to_vec(),
            Some("image/png"),
        ),
        // s3s-fs keeps objects as files, so `dir` and `dir/x` cannot both exist there
        // (lifeboat refuses that pair: see bucket::backup's tree-clash check).
        (
            "dir.d".into(),
            b"a file named like a directory".to_vec(),
            text,
        ),
        ("dir/inside.txt".into(), b"inside".to_vec(), text),
        ("dir/sub/".to_string() + "x", b"x".to_vec(), text),
    ];
    // 12 levels: the s3s-fs test server answers InternalError to a 40-level key.
    let deep = (0..12)
        .map(|i| format!("d{i}"))
        .collect::<Vec<_>>()
        .join("/");
    all.push((format!("{deep}/deep.txt"), b"deep".to_vec(), None));
    all
}

#[test]
fn bucket_conformance_round_trips_exactly() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("source").unwrap();
    s3.create_bucket("restored").unwrap();
    for (key, body, content_type) in hostile() {
        put(&s3, "s3://source/pre fix", &key, &body, content_type);
    }
    let want = objects(&s3, "s3://source/pre fix");
    assert_eq!(want.len(), hostile().len(), "every object is listed");
    let mut ws = Workspace::new();
    support::bucket::config(&mut ws, &s3, "files", "s3://source/pre fix");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();

    ws.run(&["restore", "depot/files", "--to", "s3://restored/copy"])
        .assert_ok();
    assert_eq!(
        objects(&s3, "s3://restored/copy"),
        want,
        "into an empty prefix"
    );

    put(&s3, "s3://restored/copy", "stray", b"x", None);
    put(&s3, "s3://restored/copy", "dir.d", b"changed", None);
    put(&s3, "s3://restored/copy", "~objects.json", b"changed", None);
    ws.run(&["restore", "depot/files", "--to", "s3://restored/copy"])
        .assert_code(1);
    ws.run(&[
        "restore",
        "depot/files",
        "--to",
        "s3://restored/copy",
        "--force",
        "--clean",
    ])
    .assert_ok();
    assert_eq!(
        objects(&s3, "s3://restored/copy"),
        want,
        "over a modified prefix"
    );

    let verified = ws.run(&["verify", "depot/files"]).assert_ok();
    assert!(
        verified
            .stdout
            .contains(&format!("files: {} as recorded", want.len())),
        "{}",
        verified.stdout
    );
}

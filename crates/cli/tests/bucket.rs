//! The bucket kind through the binary, against a real S3 server (s3s-fs) started here.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::scratch::s3::ScratchS3;
use support::bucket::objects;
use support::Workspace;

fn put(s3: &ScratchS3, url: &str, key: &str, body: &[u8], content_type: &str) {
    support::bucket::put(s3, url, key, body, Some(content_type));
}

fn config(ws: &mut Workspace, s3: &ScratchS3) {
    support::bucket::config(ws, s3, "artifacts", "s3://habitat/pkgs");
}

#[test]
fn objects_round_trip_into_another_bucket_with_content_types_and_verify() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("habitat").unwrap();
    s3.create_bucket("restored").unwrap();
    put(
        &s3,
        "s3://habitat/pkgs",
        "core/redis/7.0/pkg.hart",
        &vec![7u8; 3_000_000],
        "application/octet-stream",
    );
    put(
        &s3,
        "s3://habitat/pkgs",
        "index.json",
        b"{\"pkgs\":1}",
        "application/json",
    );
    put(
        &s3,
        "s3://habitat/other",
        "not-mine.txt",
        b"outside the prefix",
        "text/plain",
    );
    let mut ws = Workspace::new();
    config(&mut ws, &s3);
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_ok();
    assert!(!out.all().contains(s3.secret_key().expose().as_str()));
    let manifest = ws.manifest("depot/artifacts");
    assert_eq!(manifest["facts"]["file_count"], 2);
    assert_eq!(manifest["facts"]["total_bytes"], 3_000_010);

    ws.run(&["restore", "depot/artifacts", "--to", "s3://restored/copy"])
        .assert_ok();
    assert_eq!(
        objects(&s3, "s3://restored/copy"),
        objects(&s3, "s3://habitat/pkgs")
    );
    // over data: --force, and a safety backup first
    ws.run(&["restore", "depot/artifacts", "--to", "s3://restored/copy"])
        .assert_code(1);
    ws.run(&[
        "restore",
        "depot/artifacts",
        "--to",
        "s3://restored/copy",
        "--force",
        "--clean",
    ])
    .assert_ok();
    assert_eq!(
        objects(&s3, "s3://restored/copy"),
        objects(&s3, "s3://habitat/pkgs")
    );

    let verified = ws.run(&["verify", "depot/artifacts"]).assert_ok();
    assert!(
        verified.stdout.contains("files: 2 as recorded"),
        "{}",
        verified.stdout
    );
}

#[test]
fn wrong_secret_key_fails_without_showing_it() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("habitat").unwrap();
    let mut ws = Workspace::new();
    config(&mut ws, &s3);
    ws.env.retain(|(k, _)| k != "S3_SECRET");
    ws.env
        .push(("S3_SECRET".into(), "definitely-wrong-secret".into()));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(
        out.stderr.contains("depot/artifacts") && out.stderr.contains("access denied"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("definitely-wrong-secret"));
}

#[test]
fn an_object_named_like_the_old_metadata_file_round_trips() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("habitat").unwrap();
    s3.create_bucket("restored").unwrap();
    for (key, body) in [
        ("~objects.json", &b"{\"format\": 1, \"objects\": {}}"[..]),
        ("~lifeboat/bucket-objects.json", b"mine too"),
        ("a.txt", b"a"),
    ] {
        put(&s3, "s3://habitat/pkgs", key, body, "application/json");
    }
    let mut ws = Workspace::new();
    config(&mut ws, &s3);
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    assert_eq!(ws.manifest("depot/artifacts")["facts"]["file_count"], 3);
    ws.run(&["restore", "depot/artifacts", "--to", "s3://restored/copy"])
        .assert_ok();
    assert_eq!(
        objects(&s3, "s3://restored/copy"),
        objects(&s3, "s3://habitat/pkgs")
    );
    put(
        &s3,
        "s3://restored/copy",
        "~objects.json",
        b"changed",
        "text/plain",
    );
    ws.run(&[
        "restore",
        "depot/artifacts",
        "--to",
        "s3://restored/copy",
        "--force",
        "--clean",
    ])
    .assert_ok();
    assert_eq!(
        objects(&s3, "s3://restored/copy"),
        objects(&s3, "s3://habitat/pkgs")
    );
    let verified = ws.run(&["verify", "depot/artifacts"]).assert_ok();
    assert!(
        verified.stdout.contains("files: 3 as recorded"),
        "{}",
        verified.stdout
    );
}

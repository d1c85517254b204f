//! Every remote repository backend through the binary, against real servers started
//! here: S3 (s3s-fs), SFTP (OpenSSH's sshd), FTP (vsftpd) and REST (rustic-server).
//! Each gets the same round trip (init, backup of a files and a command source,
//! list, status, restore into an empty dir and over data, dump, verify, prune,
//! check --read-data, unlock); the failures an operator meets first (wrong
//! credentials, no bucket, no server) must name the server and say what to do.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::scratch::s3::ScratchS3;
use std::path::Path;
use std::time::{Duration, Instant};
use support::files::snapshot_of;
use support::ftpd::Ftpd;
use support::rest::RestServer;
use support::sshd::{KnownHost, Sshd};
use support::{noise, Workspace};

/// A few files with names that trip up quoting and encodings, and a 1.5 MB blob for
/// the command source.
fn sample(ws: &Workspace) {
    let data = ws.path("data");
    let files: [(&str, Vec<u8>); 7] = [
        ("plain.txt", b"hello\n".to_vec()),
        ("with space & 'quotes\".txt", b"spaces\n".to_vec()),
        ("-leading-dash", b"dash\n".to_vec()),
        ("ünïcödé 名前.txt", "unicode ✓\n".as_bytes().to_vec()),
        ("tab\there #hash%20.bin", noise(70_000, 1)),
        ("deep/er/still/large.bin", noise(2_500_000, 2)),
        ("empty", Vec::new()),
    ];
    for (name, body) in files {
        let path = data.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    std::fs::create_dir_all(data.join("empty-dir")).unwrap();
    std::fs::write(ws.path("blob.bin"), noise(1_500_000, 3)).unwrap();
    std::fs::create_dir_all(ws.path("blob-out")).unwrap();
}

fn apps(ws: &Workspace) -> String {
    format!(
        "[[app]]\nname = \"site\"\n\n[[app.source]]\nname = \"files\"\nkind = \"files\"\npath = \"{data}\"\n\n\
         [[app.source]]\nname = \"blob\"\nkind = \"command\"\nbackup_command = \"cat {blob}\"\n\
         restore_command = \"cat > {out}/blob.bin\"\nfilename = \"blob.bin\"\n",
        data = ws.path("data").display(),
        blob = ws.path("blob.bin").display(),
        out = ws.path("blob-out").display(),
    )
}

/// Writes lifeboat.toml: `repository` (the whole `[repository]` table) and the apps.
fn configure(ws: &Workspace, repository: &str) {
    std::fs::write(
        ws.path("lifeboat.toml"),
        format!("{repository}\n{}", apps(ws)),
    )
    .unwrap();
}

/// The round trip; `after` runs after every command (the SFTP test looks for ssh
/// processes there). Returns how long it took.
fn round_trip(ws: &Workspace, after: &dyn Fn(&str)) -> Duration {
    let started = Instant::now();
    let run = |args: &[&str]| {
        let out = ws.run(args).assert_ok();
        after(&args.join(" "));
        out
    };
    run(&["init"]);
    run(&["backup"]);
    let listed = ws.list();
    after("list --json");
    let mut sources: Vec<String> = listed
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["app"].as_str().unwrap(),
                s["source"].as_str().unwrap()
            )
        })
        .collect();
    sources.sort();
    assert_eq!(sources, ["site/blob", "site/files"], "{listed:?}");
    let status = run(&["status"]);
    assert!(status.stdout.contains("files"), "{}", status.stdout);

    // Into an empty dir, then over the live tree after damaging it (--force).
    let original = snapshot_of(&ws.path("data"));
    let out = ws.path("restored");
    run(&["restore", "site/files", "--to", out.to_str().unwrap()]);
    assert_eq!(snapshot_of(&out), original);
    std::fs::write(ws.path("data/plain.txt"), "damaged").unwrap();
    std::fs::remove_file(ws.path("data/deep/er/still/large.bin")).unwrap();
    run(&["restore", "site/files", "--force"]);
    assert_eq!(snapshot_of(&ws.path("data")), original);
    assert_eq!(
        std::fs::read(ws.path("data/deep/er/still/large.bin")).unwrap(),
        noise(2_500_000, 2)
    );

    run(&["restore", "site/blob"]);
    let blob = std::fs::read(ws.path("blob.bin")).unwrap();
    assert!(std::fs::read(ws.path("blob-out/blob.bin")).unwrap() == blob);
    let dumped = ws.run_bytes(&["dump", "site/blob"]);
    after("dump site/blob");
    assert!(dumped == blob, "dump differs from the source");

    run(&["verify"]);
    run(&["prune"]);
    let check = run(&["check", "--read-data"]);
    assert!(
        check.stdout.contains("no errors were found"),
        "{}",
        check.stdout
    );
    run(&["unlock"]);
    started.elapsed()
}

fn no_ssh_left(sshd: &Sshd, after: &str) {
    let left = sshd.ssh_clients();
    assert!(
        left.is_empty(),
        "ssh processes left after `{after}`: {left:#?}"
    );
}

#[test]
fn s3_round_trip_with_credentials_from_options_env() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("backups").unwrap();
    let mut ws = Workspace::new();
    ws.env
        .push(("S3_KEY".into(), s3.access_key().expose().clone()));
    ws.env
        .push(("S3_SECRET".into(), s3.secret_key().expose().clone()));
    sample(&ws);
    configure(
        &ws,
        &format!(
            "[repository]\nurl = \"s3://backups/lifeboat/site\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\
             options = {{ endpoint = \"{}\", region = \"us-east-1\" }}\n\
             options_env = {{ access_key_id = \"S3_KEY\", secret_access_key = \"S3_SECRET\" }}\n",
            s3.endpoint()
        ),
    );
    let took = round_trip(&ws, &|_| {});
    eprintln!("s3 round trip: {took:?}");
    assert!(s3.root().join("backups/lifeboat/site/config").is_file());
}

#[test]
fn sftp_round_trip_with_a_key_and_strict_host_keys_leaves_no_ssh_processes() {
    let sshd = Sshd::start();
    let _known = KnownHost::add(&sshd);
    let ws = Workspace::new();
    sample(&ws);
    configure(
        &ws,
        &format!(
            "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\noptions = {{ key = \"{}\" }}\n",
            sshd.url("repo"),
            sshd.client_key().display()
        ),
    );
    let took = round_trip(&ws, &|after| no_ssh_left(&sshd, after));
    eprintln!("sftp round trip: {took:?}");
    assert!(sshd.data().join("repo/config").is_file(), "{}", sshd.log());
}

#[test]
fn sftp_failures_and_interrupts_leave_no_ssh_processes() {
    let sshd = Sshd::start();
    let _known = KnownHost::add(&sshd);
    let ws = Workspace::new();
    sample(&ws);
    let table = |key: &Path| {
        format!(
            "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\noptions = {{ key = \"{}\" }}\n",
            sshd.url("repo"),
            key.display()
        )
    };
    // A key the server does not know: refused, and said so.
    let stranger = ws.path("stranger");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    configure(&ws, &table(&stranger));
    let refused = ws.run(&["init"]).assert_code(3);
    let text = refused.all();
    assert!(text.contains("SFTP server at ssh://127.0.0.1:"), "{text}");
    no_ssh_left(&sshd, "init with an unknown key");

    // An interrupt while the repository is open (a dump that waits).
    configure(&ws, &table(&sshd.client_key()));
    ws.run(&["init"]).assert_ok();
    no_ssh_left(&sshd, "init");
    let slow = format!(
        "{}\n[[app]]\nname = \"slow\"\n\n[[app.source]]\nname = \"wait\"\nkind = \"command\"\nbackup_command = \"sleep 30; echo late\"\nrestore_command = \"cat\"\nfilename = \"late.txt\"\n",
        table(&sshd.client_key())
    );
    std::fs::write(ws.path("lifeboat.toml"), slow).unwrap();
    let mut child = ws.command(&["backup"]).spawn().unwrap();
    let masters_up = support::wait_for(Duration::from_secs(30), || !sshd.ssh_clients().is_empty());
    assert!(masters_up, "no ssh master appeared during the backup");
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    no_ssh_left(&sshd, "backup interrupted by SIGINT");
}

#[test]
fn ftp_round_trip_with_the_password_from_the_environment() {
    let ftpd = Ftpd::start();
    let mut ws = Workspace::new();
    ws.env.push(("FTP_PASSWORD".into(), ftpd.password.clone()));
    sample(&ws);
    configure(
        &ws,
        &format!(
            "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\
             options_env = {{ password = \"FTP_PASSWORD\" }}\n",
            ftpd.url("repo")
        ),
    );
    let took = round_trip(&ws, &|_| {});
    eprintln!("ftp round trip: {took:?}");
    assert!(ftpd.files().join("repo/config").is_file(), "{}", ftpd.log());

    // A wrong password: access denied, naming the server, never the password.
    ws.env.retain(|(k, _)| k != "FTP_PASSWORD");
    ws.env
        .push(("FTP_PASSWORD".into(), "not-the-password".into()));
    let denied = ws.run(&["list"]).assert_code(3);
    let text = denied.all();
    assert!(
        text.contains("access denied by the FTP server at ftp://127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
}

#[test]
fn ftps_urls_are_refused_with_the_reason() {
    let ws = Workspace::new();
    sample(&ws);
    configure(
        &ws,
        "[repository]\nurl = \"ftps://backup@127.0.0.1:2121/repo\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n",
    );
    let out = ws.run(&["init"]).assert_code(3);
    assert!(
        out.stderr.contains("ftps:// is not supported"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("use sftp://"), "{}", out.stderr);
}

#[test]
fn rest_round_trip_with_the_password_from_the_environment_and_the_cache_used() {
    let rest = RestServer::start();
    let mut ws = Workspace::new();
    ws.env.push(("REST_PASSWORD".into(), rest.password.clone()));
    sample(&ws);
    let table = format!(
        "[repository]\nurl = \"{}\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\
         options_env = {{ password = \"REST_PASSWORD\" }}\n",
        rest.url("site")
    );
    configure(&ws, &table);
    let took = round_trip(&ws, &|_| {});
    eprintln!("rest round trip: {took:?}");
    assert!(rest.dir.path().join("data/site/config").is_file());

    // The cache: a `list` with --cache-dir puts rustic's cache there, one dir per
    // repository id, holding the snapshot files it read (a second list reads them
    // from there). Counting the server's requests would be the direct proof, but
    // rustic-server 0.4.4 wrote nothing to its --log file here.
    let cache = ws.path("own-cache");
    ws.run(&["list", "--cache-dir", cache.to_str().unwrap()])
        .assert_ok();
    let cached_snapshots: usize = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("snapshots").is_dir())
        .map(|e| {
            std::fs::read_dir(e.path().join("snapshots"))
                .unwrap()
                .count()
        })
        .sum();
    assert!(
        cached_snapshots >= 2,
        "{cached_snapshots} snapshot files in --cache-dir"
    );
    ws.run(&["list", "--cache-dir", cache.to_str().unwrap()])
        .assert_ok();

    // A wrong password: access denied, not "no repository".
    ws.env.retain(|(k, _)| k != "REST_PASSWORD");
    ws.env
        .push(("REST_PASSWORD".into(), "wrong-rest-password".into()));
    let denied = ws.run(&["list"]).assert_code(3);
    let text = denied.all();
    assert!(
        text.contains("access denied by the REST server at http://127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains("wrong-rest-password"), "{text}");
}

fn s3_table(endpoint: &str, bucket: &str) -> String {
    format!(
        "[repository]\nurl = \"s3://{bucket}/lifeboat\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\
         options = {{ endpoint = \"{endpoint}\", region = \"us-east-1\" }}\n"
    )
}

#[test]
fn s3_wrong_credentials_say_access_denied_with_endpoint_and_bucket() {
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("backups").unwrap();
    let mut ws = Workspace::new();
    sample(&ws);
    configure(&ws, &s3_table(&s3.endpoint(), "backups"));
    ws.env
        .push(("AWS_ACCESS_KEY_ID".into(), s3.access_key().expose().clone()));
    ws.env.push((
        "AWS_SECRET_ACCESS_KEY".into(),
        "wrong-secret-key-123".into(),
    ));
    for command in [&["init"][..], &["list"][..]] {
        let out = ws.run(command).assert_code(3);
        let text = out.all();
        let expected = format!(
            "access denied by the S3 server at {} (bucket `backups`)",
            s3.endpoint()
        );
        assert!(text.contains(&expected), "{command:?}: {text}");
        assert!(!text.contains("does not exist"), "{text}");
        assert!(!text.contains("wrong-secret-key-123"), "{text}");
    }
}

#[test]
fn s3_missing_bucket_says_to_create_it_then_init() {
    let s3 = ScratchS3::start().unwrap();
    let mut ws = Workspace::new();
    sample(&ws);
    configure(&ws, &s3_table(&s3.endpoint(), "nobucket"));
    support::bucket::aws_env(&mut ws, &s3);
    // `list` first: s3s-fs, unlike AWS, makes the bucket on the first write.
    for command in [&["list"][..], &["init"][..]] {
        let out = ws.run(command).assert_code(3);
        let text = out.all();
        assert!(
            text.contains("bucket `nobucket` does not exist on the S3 server at http://127.0.0.1:"),
            "{command:?}: {text}"
        );
        assert!(text.contains("then run `lifeboat init`"), "{text}");
    }
}

#[test]
fn unreachable_servers_fail_within_seconds_naming_the_endpoint() {
    let port = support::free_port(); // nothing listens there
    let ws = Workspace::new();
    sample(&ws);
    let forms = [
        (s3_table(&format!("http://127.0.0.1:{port}"), "b"), format!("the S3 server at http://127.0.0.1:{port}")),
        (
            format!("[repository]\nurl = \"sftp://root@127.0.0.1:{port}/srv/repo\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n"),
            format!("the SFTP server at ssh://127.0.0.1:{port}"),
        ),
        (
            format!("[repository]\nurl = \"ftp://u@127.0.0.1:{port}/repo\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n"),
            format!("the FTP server at ftp://127.0.0.1:{port}"),
        ),
        (
            format!("[repository]\nurl = \"rest:http://127.0.0.1:{port}/repo\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n"),
            format!("the REST server at http://127.0.0.1:{port}/repo"),
        ),
    ];
    for (table, server) in forms {
        configure(&ws, &table);
        let started = Instant::now();
        let out = ws.run(&["list"]).assert_code(3);
        let took = started.elapsed();
        let text = out.all();
        assert!(text.contains(&format!("cannot reach {server}")), "{text}");
        assert!(took < Duration::from_secs(20), "{server}: took {took:?}");
    }
}

#[test]
fn literal_credentials_in_repository_options_are_a_config_error() {
    let ws = Workspace::new();
    sample(&ws);
    configure(
        &ws,
        "[repository]\nurl = \"s3://b/x\"\npassword_env = \"LIFEBOAT_PASSWORD\"\n\
         options = { endpoint = \"http://127.0.0.1:9\", secret_access_key = \"hunter2\" }\n",
    );
    let out = ws.run(&["list"]).assert_code(2);
    let text = out.all();
    assert!(
        text.contains("lifeboat.toml:4:")
            && text.contains("key `repository.options.secret_access_key`"),
        "{text}"
    );
    assert!(
        text.contains("[repository.options_env]") && text.contains("AWS_SECRET_ACCESS_KEY"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

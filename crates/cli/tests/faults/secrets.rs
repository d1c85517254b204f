//! Secrets: while lifeboat backs up, verifies and restores every source kind, a
//! sampler reads `/proc/*/cmdline` and `/proc/*/environ` of every process it started
//! (its descendants, and whatever carries the run's marker variable, such as the
//! daemonized scratch servers of verify). No database password, S3 secret or
//! repository password may appear in any child's argv or environment, nor in any
//! output (`-v`, `--json`), manifest, `config` print, listing or error.

use crate::support::{PgServer, Workspace};
use crate::Log;
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use lifeboat_sources::scratch::redis::ScratchRedis;
use lifeboat_sources::scratch::s3::ScratchS3;
use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const PG: &str = "pg-secret-7781-zq";
const MY: &str = "my-secret-5523-zq";
const REDIS: &str = "redis-secret-9041-zq";
const MARK: &str = "LIFEBOAT_FAULT_MARK";

/// What the sampler saw: process names, and every (process, place, secret) leak.
#[derive(Default)]
struct Seen {
    names: BTreeSet<String>,
    samples: usize,
    leaks: Vec<String>,
}

fn read(path: String) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// Pids whose ancestor is `root` or whose environment has the marker.
fn ours(root: u32, mark: &str) -> Vec<(u32, Vec<u8>)> {
    let mut parent = HashMap::new();
    let mut envs = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let stat = String::from_utf8_lossy(&read(format!("/proc/{pid}/stat"))).into_owned();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent.insert(pid, ppid);
        }
        envs.push((pid, read(format!("/proc/{pid}/environ"))));
    }
    let descends = |mut pid: u32| {
        for _ in 0..64 {
            match parent.get(&pid) {
                Some(&p) if p == root => return true,
                Some(&p) if p > 1 => pid = p,
                _ => return false,
            }
        }
        false
    };
    envs.into_iter()
        .filter(|(pid, env)| *pid != root && (descends(*pid) || contains(env, mark.as_bytes())))
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs `lifeboat ARGS` while sampling its processes; returns its output.
fn sampled(
    ws: &Workspace,
    args: &[&str],
    secrets: &[(&str, String)],
    seen: &Arc<Mutex<Seen>>,
) -> String {
    let mark = format!("{MARK}=run-{}", std::process::id());
    let child = ws
        .command(args)
        .env(MARK, format!("run-{}", std::process::id()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let root = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let during = args.join(" ");
    let lifeboat = std::fs::canonicalize(env!("CARGO_BIN_EXE_lifeboat")).unwrap();
    let sampler = {
        let (done, seen, secrets) = (
            done.clone(),
            seen.clone(),
            secrets
                .iter()
                .map(|(n, s)| (n.to_string(), s.clone()))
                .collect::<Vec<_>>(),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for (pid, _) in ours(root, &mark) {
                    // Between fork and exec a child is a copy of lifeboat with its
                    // environment (exec gives it the one lifeboat built): read only
                    // processes that run another program before and after reading.
                    let exe = || std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                    let before = exe();
                    let env = read(format!("/proc/{pid}/environ"));
                    let cmdline = read(format!("/proc/{pid}/cmdline"));
                    let after = exe();
                    if before.is_none()
                        || before != after
                        || before.as_deref() == Some(lifeboat.as_path())
                    {
                        continue;
                    }
                    let comm = String::from_utf8_lossy(&read(format!("/proc/{pid}/comm")))
                        .trim()
                        .to_string();
                    let mut seen = seen.lock().unwrap();
                    seen.samples += 1;
                    if !comm.is_empty() {
                        seen.names.insert(comm.clone());
                    }
                    for (name, secret) in &secrets {
                        for (place, bytes) in [("argv", &cmdline), ("environment", &env)] {
                            if contains(bytes, secret.as_bytes()) {
                                let leak = format!(
                                    "{name} in the {place} of {comm} (pid {pid}) during `{during}`"
                                );
                                if !seen.leaks.contains(&leak) {
                                    seen.leaks.push(leak);
                                }
                            }
                        }
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

pub fn children(log: &mut Log) {
    let pg = PgServer::start();
    pg.exec(
        "postgres",
        &format!("CREATE ROLE app LOGIN SUPERUSER PASSWORD '{PG}'"),
    );
    pg.exec("postgres", "CREATE DATABASE shop OWNER app");
    pg.exec("shop", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g");
    let my = ScratchMariaDb::start().unwrap();
    my.create_user("app", MY).unwrap();
    lifeboat_sources::mysql::query(&my.root(), "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT); INSERT INTO app.t VALUES (1, 'x'), (2, 'y');").unwrap();
    let redis = ScratchRedis::start_with_password(REDIS).unwrap();
    redis.admin().unwrap().call(&[b"SET", b"k", b"v"]).unwrap();
    let s3 = ScratchS3::start().unwrap();
    s3.create_bucket("media").unwrap();
    crate::support::bucket::put(&s3, "s3://media", "a/one.txt", b"one", None);
    let mut ws = Workspace::new();
    let s3_secret = s3.secret_key().expose().clone();
    for (k, v) in [
        ("PG_PW", PG.to_string()),
        ("MY_PW", MY.to_string()),
        ("REDIS_PW", REDIS.to_string()),
        ("S3_KEY", s3.access_key().expose().clone()),
        ("S3_SECRET", s3_secret.clone()),
    ] {
        ws.env.push((k.into(), v));
    }
    let files = ws.path("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("a.txt"), "a").unwrap();
    let sqlite = ws.path("app.db");
    rusqlite::Connection::open(&sqlite)
        .unwrap()
        .execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x');",
        )
        .unwrap();
    let hook = crate::support::http::Receiver::ok();
    ws.config(&format!(
        "[[notify]]\nkind = \"webhook\"\nurl = \"{hook_url}\"\nformat = \"json\"\non = [\"success\", \"failure\", \"verify_success\", \"verify_failure\"]\n\n\
         [[app]]\nname = \"all\"\nbefore_backup = [\"true\"]\nafter_backup = [\"true\"]\n\n\
         [[app.source]]\nname = \"pg\"\nkind = \"postgres\"\nurl = \"postgres://app@127.0.0.1:{pgport}/shop\"\npassword_env = \"PG_PW\"\n\n\
         [[app.source]]\nname = \"my\"\nkind = \"mysql\"\nurl = \"mysql://app@127.0.0.1:{myport}/app\"\npassword_env = \"MY_PW\"\n\n\
         [[app.source]]\nname = \"cache\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:{redisport}\"\npassword_env = \"REDIS_PW\"\n\n\
         [[app.source]]\nname = \"media\"\nkind = \"bucket\"\nurl = \"s3://media\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\naccess_key_env = \"S3_KEY\"\nsecret_key_env = \"S3_SECRET\"\n\n\
         [[app.source]]\nname = \"files\"\nkind = \"files\"\npath = \"{files}\"\n\n\
         [[app.source]]\nname = \"lite\"\nkind = \"sqlite\"\npath = \"{sqlite}\"\n\n\
         [[app.source]]\nname = \"cmd\"\nkind = \"command\"\nbackup_command = \"echo exported\"\nrestore_command = \"cat > {out}\"\nfilename = \"cmd.txt\"\n",
        pgport = pg.port,
        myport = my.port,
        redisport = redis.port,
        endpoint = s3.endpoint(),
        files = files.display(),
        sqlite = sqlite.display(),
        out = ws.path("cmd.out").display(),
        hook_url = hook.url("/hook"),
    ));
    let secrets = vec![
        ("the postgres password", PG.to_string()),
        ("the mysql password", MY.to_string()),
        ("the redis password", REDIS.to_string()),
        ("the S3 secret key", s3_secret),
        (
            "the repository password",
            crate::support::PASSWORD.to_string(),
        ),
    ];
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut outputs = String::new();
    ws.run(&["init"]).assert_ok();
    for args in [
        &["backup", "-v"][..],
        &["backup", "--json"],
        &["verify"],
        &["verify", "--json"],
        &["restore", "all", "--force"],
        &["list", "--json"],
        &["config"],
        &["status"],
    ] {
        outputs.push_str(&sampled(&ws, args, &secrets, &seen));
    }
    for source in ["pg", "my", "cache", "media", "files", "lite", "cmd"] {
        outputs.push_str(&String::from_utf8_lossy(&ws.run_bytes(&[
            "dump",
            &format!("all/{source}"),
            "--manifest",
        ])));
    }
    // A wrong password: its error names the user and the server, never the password.
    ws.env.retain(|(k, _)| k != "PG_PW");
    ws.env.push(("PG_PW".into(), format!("{PG}-wrong")));
    let failed = ws.run(&["backup", "all/pg"]);
    assert_eq!(failed.code, 1, "{}", failed.all());
    outputs.push_str(&failed.all());
    let sent = hook.requests();
    assert!(!sent.is_empty(), "notifications were sent");
    for request in &sent {
        outputs.push_str(&request.body);
    }
    let seen = seen.lock().unwrap();
    assert!(seen.leaks.is_empty(), "secrets leaked: {:#?}", seen.leaks);
    for (name, secret) in &secrets {
        assert!(
            !outputs.contains(secret.as_str()),
            "{name} in lifeboat's output"
        );
    }
    let repo_text = crate::support::dir_size(&ws.repo());
    log.fact(format!(
        "{} samples of {} processes ({}): no secret in any argv or environment",
        seen.samples,
        seen.names.len(),
        seen.names.iter().cloned().collect::<Vec<_>>().join(", ")
    ));
    log.fact(format!("none in the output of backup -v/--json, verify, restore, list, config, status, 7 manifests (with the stored config), a failed login, {} webhook payloads; repository {repo_text} B", sent.len()));
}

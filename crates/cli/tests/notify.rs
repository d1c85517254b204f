//! `[[notify]]` through the binary: `lifeboat backup` and `verify` post to a real
//! HTTP receiver on a loopback port — each webhook format's body, retries and their
//! bound, `on`, the Healthchecks pings, and secrets kept out of all of it.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::{Duration, Instant};
use support::http::{Answer, Receiver};
use support::{Workspace, PASSWORD};

const FAILING: &str = "echo 'dump failed: disk on fire' >&2; exit 3";

/// App `shop` with a source `db` that backs up fine, and `broken` whose source fails.
fn apps(broken: &str) -> String {
    format!(
        "[[app]]\nname = \"shop\"\n\n[[app.source]]\nname = \"db\"\nkind = \"command\"\nbackup_command = \"seq 1 5000\"\n\n\
         [[app]]\nname = \"broken\"\n\n[[app.source]]\nname = \"cache\"\nkind = \"command\"\nbackup_command = \"{broken}\"\n"
    )
}

fn webhook(url: &str, format: &str, on: &str) -> String {
    format!("\n[[notify]]\nkind = \"webhook\"\nurl = \"{url}\"\nformat = \"{format}\"\non = {on}\nenvironment = \"Shop production\"\n")
}

fn healthchecks(url: &str, app: Option<&str>) -> String {
    let app = app.map(|a| format!("app = \"{a}\"\n")).unwrap_or_default();
    format!("\n[[notify]]\nkind = \"healthchecks\"\nurl = \"{url}\"\n{app}")
}

/// A workspace with an initialised repository; `NO_PROXY` keeps a proxy of the
/// environment away from the loopback receiver.
fn workspace(config: &str) -> Workspace {
    workspace_with(config, &[])
}

fn workspace_with(config: &str, env: &[(&str, &str)]) -> Workspace {
    let mut ws = Workspace::new();
    ws.env
        .push(("NO_PROXY".into(), "127.0.0.1,localhost".into()));
    ws.env
        .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ws.config(config);
    ws.run(&["init"]).assert_ok();
    ws
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn json_body_carries_the_run_its_sources_the_error_host_and_run_id() {
    let rx = Receiver::ok();
    let on = r#"["failure", "success"]"#;
    let ws = workspace(&format!(
        "{}{}",
        apps(FAILING),
        webhook(&rx.url("/hook"), "json", on)
    ));
    let out = ws.run(&["backup"]).assert_code(1);
    let got = rx.to("/hook");
    assert_eq!(got.len(), 2, "one per app: {got:?}");
    assert!(got
        .iter()
        .all(|r| r.method == "POST" && r.content_type == "application/json"));
    let shop = got
        .iter()
        .map(|r| r.json())
        .find(|b| b["app"] == "shop")
        .unwrap();
    let broken = got
        .iter()
        .map(|r| r.json())
        .find(|b| b["app"] == "broken")
        .unwrap();
    assert_eq!(shop["event"], "success");
    assert_eq!(shop["sources"][0]["name"], "db");
    assert_eq!(shop["sources"][0]["status"], "ok");
    assert!(shop["size"].as_u64().unwrap() > 20_000, "{shop}");
    assert!(shop["added"].as_u64().unwrap() > 0, "{shop}");
    assert_eq!(broken["event"], "failure");
    assert_eq!(broken["status"], "failure");
    assert_eq!(broken["environment"], "Shop production");
    assert_eq!(broken["host"], hostname());
    assert!(broken["duration_ms"].is_u64());
    let run_id = broken["run_id"].as_str().unwrap();
    assert!(
        out.stdout.contains(&format!("run {run_id}:")),
        "{}",
        out.stdout
    );
    assert_eq!(shop["run_id"], run_id);
    let error = broken["error"].as_str().unwrap();
    assert!(
        error.contains("broken/cache") && error.contains("dump failed: disk on fire"),
        "{error}"
    );
    assert!(!error.ends_with('\n'), "trimmed: {error:?}");
    assert_eq!(broken["sources"][0]["status"], "failed");
}

#[test]
fn slack_mattermost_and_rocketchat_bodies_have_their_shapes() {
    let rx = Receiver::ok();
    let on = r#"["success"]"#;
    let hooks: String = ["slack", "mattermost", "rocketchat"]
        .iter()
        .map(|f| webhook(&rx.url(&format!("/{f}")), f, on))
        .collect();
    let ws = workspace(&format!("{}{hooks}", apps("true")));
    ws.run(&["backup", "shop"]).assert_ok();
    let one = |path: &str| {
        let got = rx.to(path);
        assert_eq!(got.len(), 1, "{path}: {got:?}");
        got[0].json()
    };
    let slack = one("/slack");
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with(":white_check_mark: *backup of shop succeeded on "),
        "{text}"
    );
    let a = &slack["attachments"][0];
    assert_eq!(a["color"], "good");
    assert_eq!(a["title"], "shop");
    assert_eq!(a["fields"][0]["title"], "db (command)");
    assert!(
        a["fields"][0]["value"]
            .as_str()
            .unwrap()
            .starts_with("ok · snapshot "),
        "{a}"
    );
    assert_eq!(a["fields"][0]["short"], true);

    let mattermost = one("/mattermost");
    let text = mattermost["text"].as_str().unwrap();
    assert!(
        text.starts_with(":white_check_mark: **backup of shop succeeded"),
        "{text}"
    );
    assert_eq!(mattermost["attachments"][0]["color"], "#36A64F");
    assert_eq!(mattermost["attachments"][0]["fields"], a["fields"]);

    let rocket = one("/rocketchat");
    assert_eq!(rocket["alias"], "lifeboat");
    assert!(rocket["text"]
        .as_str()
        .unwrap()
        .contains("**backup of shop succeeded"));
    let fields = rocket["attachments"][0]["fields"].as_array().unwrap();
    let titles: Vec<&str> = fields
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["db (command)", "Run", "Host", "Environment"]);
    assert!(fields
        .iter()
        .all(|f| f["short"] == true && f["value"].is_string()));
    assert_eq!(rocket["statusCode"], "INFO");
    assert_eq!(rocket["projectFriendlyName"], "Shop production");
}

#[test]
fn a_500_is_retried_until_delivered() {
    let rx = Receiver::start(
        vec![Answer::Status(500), Answer::Status(503)],
        Answer::Status(200),
    );
    let ws = workspace(&format!(
        "{}{}",
        apps("true"),
        webhook(&rx.url("/hook"), "json", r#"["success"]"#)
    ));
    let out = ws.run(&["backup", "shop"]).assert_ok();
    let got = rx.to("/hook");
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().all(|r| r.body == got[0].body));
    assert!(!out.stderr.contains("NOT delivered"), "{}", out.stderr);
}

#[test]
fn it_gives_up_after_the_bound_and_the_backup_still_exits_0() {
    let rx = Receiver::start(Vec::new(), Answer::Status(500));
    let token = "/hooks/T0KEN-xoxb-s3cr3t";
    let ws = workspace(&format!(
        "{}{}",
        apps("true"),
        webhook(&rx.url(token), "slack", r#"["success"]"#)
    ));
    let started = Instant::now();
    let out = ws.run(&["backup", "shop"]).assert_ok();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rx.to(token).len(), 3, "three tries");
    assert!(
        out.stderr.contains("notification NOT delivered"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("http://127.0.0.1:{}", rx.port)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("HTTP 500"), "{}", out.stderr);
    assert!(!out.all().contains("T0KEN"), "{}", out.all());
}

#[test]
fn a_refusal_is_not_retried() {
    let rx = Receiver::start(Vec::new(), Answer::Status(404));
    let ws = workspace(&format!(
        "{}{}",
        apps("true"),
        webhook(&rx.url("/gone"), "json", r#"["success"]"#)
    ));
    let out = ws.run(&["backup", "shop"]).assert_ok();
    assert_eq!(rx.to("/gone").len(), 1);
    assert!(out.stderr.contains("HTTP 404"), "{}", out.stderr);
}

#[test]
fn a_receiver_that_never_answers_delays_the_exit_at_most_the_bound() {
    let rx = Receiver::start(Vec::new(), Answer::Hang);
    let ws = workspace(&format!(
        "{}{}",
        apps("true"),
        webhook(&rx.url("/slow"), "json", r#"["success"]"#)
    ));
    let started = Instant::now();
    let out = ws.run(&["backup", "shop"]).assert_ok();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(14), "{took:?}");
    assert!(
        out.stderr.contains("notification NOT delivered"),
        "{}",
        out.stderr
    );
    assert!(rx.to("/slow").len() >= 2, "retried after a timeout");
}

#[test]
fn nothing_is_sent_for_events_not_in_on() {
    let rx = Receiver::ok();
    let on = r#"["failure", "verify_failure"]"#;
    let ws = workspace(&format!(
        "{}{}",
        apps(FAILING),
        webhook(&rx.url("/hook"), "json", on)
    ));
    ws.run(&["backup", "shop"]).assert_ok();
    ws.run(&["verify", "shop"]).assert_ok();
    assert!(rx.requests().is_empty(), "{:?}", rx.requests());
    ws.run(&["backup", "broken"]).assert_code(1);
    let got = rx.to("/hook");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["event"], "failure");
}

#[test]
fn healthchecks_start_then_success_or_fail_per_app() {
    let rx = Receiver::ok();
    let config = format!(
        "{}{}{}{}",
        apps(FAILING),
        healthchecks(&rx.url("/hc/shop"), Some("shop")),
        healthchecks(&rx.url("/hc/broken"), Some("broken")),
        healthchecks(&rx.url("/hc/all"), None),
    );
    let ws = workspace(&config);
    ws.run(&["backup"]).assert_code(1);
    let paths =
        |prefix: &str| -> Vec<String> { rx.to(prefix).into_iter().map(|r| r.path).collect() };
    assert_eq!(paths("/hc/shop"), ["/hc/shop/start", "/hc/shop"]);
    assert_eq!(paths("/hc/broken"), ["/hc/broken/start", "/hc/broken/fail"]);
    assert_eq!(
        paths("/hc/all"),
        ["/hc/all/start", "/hc/all/start", "/hc/all", "/hc/all/fail"]
    );
    let fail = rx.to("/hc/broken/fail").remove(0);
    assert_eq!(fail.method, "POST");
    assert!(
        fail.content_type.starts_with("text/plain"),
        "{}",
        fail.content_type
    );
    assert!(
        fail.body.contains("backup of broken FAILED"),
        "{}",
        fail.body
    );
    assert!(
        fail.body.ends_with("dump failed: disk on fire"),
        "{:?}",
        fail.body
    );
    let success = rx.to("/hc/shop").remove(1);
    assert!(
        success
            .body
            .starts_with("lifeboat: backup of shop succeeded"),
        "{}",
        success.body
    );
    // Verification does not ping: it passing must not hide that backups stopped.
    let before = rx.requests().len();
    ws.run(&["verify", "shop"]).assert_ok();
    assert_eq!(rx.requests().len(), before);
}

#[test]
fn verify_tells_verify_success_and_verify_failure() {
    let rx = Receiver::ok();
    let on = r#"["verify_success", "verify_failure"]"#;
    let ws = workspace(&format!(
        "{}{}",
        apps(FAILING),
        webhook(&rx.url("/hook"), "json", on)
    ));
    ws.run(&["backup", "shop"]).assert_ok();
    assert!(rx.requests().is_empty(), "a backup is not a verification");
    ws.run(&["verify"]).assert_code(1);
    let got: Vec<serde_json::Value> = rx.to("/hook").iter().map(|r| r.json()).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    let shop = got.iter().find(|b| b["app"] == "shop").unwrap();
    assert_eq!(shop["event"], "verify_success");
    assert_eq!(shop["work"], "verification");
    assert_eq!(shop["sources"][0]["status"], "ok");
    assert!(shop["run_id"].is_string());
    let broken = got.iter().find(|b| b["app"] == "broken").unwrap();
    assert_eq!(broken["event"], "verify_failure");
    assert!(
        broken["error"].as_str().unwrap().contains("broken/cache"),
        "{broken}"
    );
}

#[test]
fn secrets_never_appear_in_payloads_or_output() {
    let rx = Receiver::ok();
    let token = "xoxb-T0KEN-s3cr3t";
    let hook = rx.url(&format!("/services/T0/B0/{token}"));
    let all = r#"["failure", "success", "verify_failure", "verify_success"]"#;
    let config = format!(
        "{}\n[[notify]]\nkind = \"webhook\"\nurl_env = \"SHOP_HOOK\"\nformat = \"slack\"\non = {all}\n{}",
        apps(FAILING),
        healthchecks(&rx.url(&format!("/ping/{token}")), None)
    );
    let ws = workspace_with(&config, &[("SHOP_HOOK", &hook)]);
    let mut outputs = vec![ws.run(&["backup"]).assert_code(1).all()];
    outputs.push(ws.run(&["verify"]).assert_code(1).all());
    outputs.push(ws.run(&["config"]).assert_ok().all());
    // A failing tool that prints a secret it was given: the notification masks it.
    ws.config(&format!(
        "{}\n[[notify]]\nkind = \"webhook\"\nurl_env = \"SHOP_HOOK\"\nformat = \"json\"\non = {all}\n",
        apps(&format!("echo 'login {PASSWORD} refused' >&2; exit 1"))
    ));
    let printed = ws.run(&["backup", "broken"]).assert_code(1).all();
    assert!(printed.contains("login **** refused"), "{printed}");
    outputs.push(printed);
    outputs.push(ws.run(&["--json", "backup", "broken"]).assert_code(1).all());
    let bodies: Vec<String> = rx.requests().into_iter().map(|r| r.body).collect();
    assert!(bodies.len() >= 8, "{bodies:?}");
    for text in bodies.iter().chain(&outputs) {
        assert!(!text.contains(token) && !text.contains("T0KEN"), "{text}");
        assert!(!text.contains(PASSWORD), "{text}");
    }
    assert!(
        bodies.last().unwrap().contains("login **** refused"),
        "{bodies:?}"
    );
}

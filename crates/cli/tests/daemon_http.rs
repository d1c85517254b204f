//! The daemon's HTTP side against real backups: /healthz, the bearer token, /metrics
//! after a success, a failure and a verification (checked by `promtool check
//! metrics`), /api/status, and the dashboard rendered by headless Chromium.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use serde_json::Value;
use std::time::Duration;
use support::daemon::{get, Daemon};
use support::{wait_for, which, Workspace};

const TOKEN: &str = "s3cr3t-dashboard-token";

fn config() -> String {
    r#"[daemon]
token_env = "LIFEBOAT_TEST_TOKEN"

[[app]]
name = "shop"
schedule = "*/3 * * * * *"
verify_schedule = "*/4 * * * * *"

[[app.source]]
name = "ok"
kind = "command"
backup_command = "echo hello"
filename = "ok.txt"

[[app.source]]
name = "bad"
kind = "command"
backup_command = "echo 'pg_dump: connection refused' >&2; exit 3"
filename = "bad.txt"
"#
    .to_string()
}

fn metric(metrics: &str, name: &str, source: &str) -> Option<f64> {
    let prefix = format!("{name}{{app=\"shop\",source=\"{source}\"");
    metrics
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn tool(name: &str, package: &str) -> std::path::PathBuf {
    which(name).unwrap_or_else(|| panic!("{name} not found: apt-get install -y {package}"))
}

#[test]
fn metrics_status_and_dashboard_reflect_success_failure_and_verification() {
    let promtool = tool("promtool", "prometheus");
    let chromium = tool("chromium", "chromium");
    let mut ws = Workspace::new();
    ws.env.push(("LIFEBOAT_TEST_TOKEN".into(), TOKEN.into()));
    ws.config(&config());
    ws.run(&["init"]).assert_ok();
    let daemon = Daemon::start(&ws);
    let addr = daemon.addr.clone();
    assert!(wait_for(Duration::from_secs(30), || {
        std::net::TcpStream::connect(&addr).is_ok()
    }));

    assert_eq!(get(&addr, "/healthz", None).0, 200);
    assert_eq!(
        get(&addr, "/metrics", None).0,
        401,
        "the token guards /metrics"
    );
    assert_eq!(get(&addr, "/api/status", Some("wrong")).0, 401);

    let mut metrics = String::new();
    let reflected = wait_for(Duration::from_secs(60), || {
        metrics = get(&addr, "/metrics", Some(TOKEN)).1;
        metric(&metrics, "lifeboat_verify_last_success", "ok") == Some(1.0)
            && metric(&metrics, "lifeboat_backup_failures_total", "bad") >= Some(1.0)
    });
    assert!(reflected, "{metrics}\nlog:\n{}", daemon.text());
    assert!(
        metric(&metrics, "lifeboat_backups_total", "ok") >= Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "lifeboat_backup_last_attempt_success", "ok"),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "lifeboat_backup_last_attempt_success", "bad"),
        Some(0.0)
    );
    assert!(metric(
        &metrics,
        "lifeboat_verify_last_restore_duration_seconds",
        "ok"
    )
    .is_some());
    assert!(metric(&metrics, "lifeboat_backup_next_timestamp_seconds", "ok").is_some());
    assert!(
        metrics.contains("lifeboat_repository_size_bytes{"),
        "{metrics}"
    );
    assert!(!metrics.contains(TOKEN) && !metrics.contains(support::PASSWORD));
    let file = ws.path("metrics.txt");
    std::fs::write(&file, &metrics).unwrap();
    let check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool: {}{}\n{metrics}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let (code, body) = get(&addr, "/api/status", Some(TOKEN));
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    let source = |name: &str| {
        status["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(source("bad")["failing"], true);
    assert!(source("bad")["attempts"]["last_error"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
    assert_eq!(source("ok")["failing"], false);
    assert_eq!(source("ok")["last_verification"]["ok"], true);

    // The dashboard in a real browser: the table and the chart appear.
    let url = format!("http://{addr}/#token={TOKEN}");
    let headless = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--virtual-time-budget=10000",
    ];
    let dom = std::process::Command::new(&chromium)
        .args(headless)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("shop/ok (command)") && dom.contains("shop/bad (command)"),
        "{dom}"
    );
    assert!(
        dom.contains(">FAILED<"),
        "the failing source shows red: {dom}"
    );
    assert!(
        dom.contains("id=\"size-line\""),
        "the chart is drawn: {dom}"
    );
    let shot = ws.path("dashboard.png");
    let screenshot = std::process::Command::new(&chromium)
        .args(headless)
        .arg("--window-size=1400,900")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot of {size} bytes: {}",
        String::from_utf8_lossy(&screenshot.stderr)
    );
    if let Some(dir) = std::env::var_os("LIFEBOAT_SCREENSHOT_DIR") {
        std::fs::copy(&shot, std::path::Path::new(&dir).join("dashboard.png")).unwrap();
    }

    daemon.signal("TERM");
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains(TOKEN), "the token never appears in the log");
}

#[test]
fn daemon_runs_notify_webhooks_and_healthchecks_and_counts_them() {
    let rx = support::http::Receiver::ok();
    let mut ws = Workspace::new();
    ws.env.push(("LIFEBOAT_TEST_TOKEN".into(), TOKEN.into()));
    let notify = format!(
        "\n[[notify]]\nkind = \"webhook\"\nformat = \"json\"\nurl = \"{}\"\non = [\"failure\", \"success\"]\n\n[[notify]]\nkind = \"healthchecks\"\nurl = \"{}\"\n",
        rx.url("/hook"),
        rx.url("/hc")
    );
    ws.config(&format!("{}{notify}", config()));
    ws.run(&["init"]).assert_ok();
    let daemon = Daemon::start(&ws);
    let addr = daemon.addr.clone();
    let delivered = wait_for(Duration::from_secs(60), || {
        !rx.to("/hc/fail").is_empty() && !rx.to("/hook").is_empty()
    });
    assert!(delivered, "{:?}\nlog:\n{}", rx.requests(), daemon.text());
    let paths: Vec<String> = rx.to("/hc").into_iter().map(|r| r.path).collect();
    assert_eq!(paths[..2], ["/hc/start", "/hc/fail"], "{paths:?}");
    let hook = rx.to("/hook").remove(0).json();
    assert_eq!(hook["app"], "shop", "{hook}");
    assert!(hook.to_string().contains("connection refused"), "{hook}");
    let metrics = get(&addr, "/metrics", Some(TOKEN)).1;
    let delivered_total = metrics
        .lines()
        .find(|l| l.starts_with("lifeboat_notifications_delivered_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok());
    assert!(delivered_total >= Some(3.0), "{metrics}");
    daemon.signal("TERM");
    let (code, log) = daemon.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log}");
}

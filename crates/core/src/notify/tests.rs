use super::*;

fn source(name: &str, ok: bool, error: Option<&str>) -> SourceOutcome {
    SourceOutcome {
        name: name.into(),
        kind: "command".into(),
        ok,
        snapshot: ok.then(|| "0123456789abcdef".into()),
        size: if ok { 2048 } else { 0 },
        added: if ok { 1024 } else { 0 },
        duration_ms: 1500,
        error: error.map(Into::into),
    }
}

fn failed_run() -> RunSummary {
    RunSummary {
        trigger: Trigger::Failure,
        app: "esp".into(),
        run_id: Some("20240101T010000Z-abcd".into()),
        host: "db1".into(),
        duration_ms: 3000,
        sources: vec![
            source("db", true, None),
            source("data", false, Some("esp/data: exit code 3: disk on fire\n")),
        ],
        errors: vec!["esp: after_backup hook failed".into()],
    }
}

fn good_run() -> RunSummary {
    RunSummary {
        trigger: Trigger::Success,
        sources: vec![source("db", true, None)],
        errors: Vec::new(),
        ..failed_run()
    }
}

#[test]
fn triggers_and_formats_parse_their_names() {
    for t in Trigger::ALL {
        assert_eq!(Trigger::parse(t.name()), Some(t));
    }
    for f in Format::ALL {
        assert_eq!(Format::parse(f.name()), Some(f));
    }
    assert_eq!(Trigger::parse("failed"), None);
    assert_eq!(Format::parse("teams"), None);
    assert!(Trigger::DEFAULT_ON.iter().all(|t| t.is_failure()));
}

#[test]
fn failures_name_their_source_and_are_trimmed() {
    let mut run = failed_run();
    run.sources[1].error = Some("skipped: before_backup hook failed".into());
    assert_eq!(
        run.failures(),
        [
            "esp/data: skipped: before_backup hook failed",
            "esp: after_backup hook failed"
        ]
    );
    assert_eq!(
        failed_run().error_text().unwrap(),
        "esp/data: exit code 3: disk on fire\nesp: after_backup hook failed"
    );
    assert_eq!(good_run().error_text(), None);
}

#[test]
fn clip_keeps_the_start_and_the_end() {
    let long = format!("what failed: {}the last words", "x".repeat(5000));
    let clipped = clip(&long, 100);
    assert!(clipped.chars().count() <= 100, "{clipped}");
    assert!(clipped.starts_with("what failed"), "{clipped}");
    assert!(clipped.ends_with("the last words"), "{clipped}");
    assert_eq!(clip("  short \n", 100), "short");
}

#[test]
fn redact_masks_secrets_in_every_text() {
    let mut run = failed_run();
    run.sources[1].error = Some("esp/data: password hunter22 rejected".into());
    run.errors = vec!["token hunter22".into()];
    run.redact(&["hunter22", "ab"]);
    let body = webhook_body(Format::Json, &run, None).to_string();
    assert!(!body.contains("hunter22"), "{body}");
    assert!(body.contains("password **** rejected"), "{body}");
}

#[test]
fn json_document_has_the_run_the_sources_and_the_error() {
    let body = webhook_body(Format::Json, &failed_run(), Some("ESP production"));
    assert_eq!(body["app"], "esp");
    assert_eq!(body["event"], "failure");
    assert_eq!(body["status"], "failure");
    assert_eq!(body["environment"], "ESP production");
    assert_eq!(body["host"], "db1");
    assert_eq!(body["run_id"], "20240101T010000Z-abcd");
    assert_eq!(body["size"], 2048);
    assert_eq!(body["added"], 1024);
    assert_eq!(body["sources"][0]["status"], "ok");
    assert_eq!(body["sources"][1]["status"], "failed");
    assert_eq!(
        body["sources"][1]["error"],
        "esp/data: exit code 3: disk on fire"
    );
    assert!(body["error"].as_str().unwrap().contains("disk on fire"));
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("backup of esp FAILED on db1 (ESP production): 1 of 2 sources failed"));
}

#[test]
fn slack_and_mattermost_have_text_and_attachments() {
    for (format, bold, bad) in [
        (Format::Slack, "*backup", "danger"),
        (Format::Mattermost, "**backup", "#A63636"),
    ] {
        let body = webhook_body(format, &failed_run(), None);
        let text = body["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(":x: {bold} of esp FAILED")),
            "{text}"
        );
        let a = &body["attachments"][0];
        assert_eq!(a["color"], bad);
        assert!(a["text"].as_str().unwrap().contains("disk on fire"));
        assert_eq!(a["fields"][0]["title"], "db (command)");
        assert_eq!(a["fields"][1]["value"], "FAILED · 1.5s");
        assert_eq!(a["fields"][2]["title"], "Run");
        assert_eq!(a["fields"][3]["value"], "db1");
    }
    let good = webhook_body(Format::Slack, &good_run(), None);
    assert_eq!(good["attachments"][0]["color"], "good");
    assert_eq!(good["attachments"][0]["text"], "");
    assert_eq!(
        good["attachments"][0]["fields"][0]["value"],
        "ok · snapshot 01234567 · 2.0 KiB · +1.0 KiB new · 1.5s"
    );
}

#[test]
fn rocketchat_has_its_fields_and_the_keys_of_the_old_script() {
    let body = webhook_body(Format::Rocketchat, &failed_run(), Some("ESP production"));
    assert_eq!(body["alias"], "lifeboat");
    let a = &body["attachments"][0];
    assert_eq!(a["color"], "#A63636");
    assert_eq!(a["fields"][0]["short"], true);
    assert_eq!(a["fields"][4]["title"], "Environment");
    assert_eq!(body["statusCode"], "ERROR");
    assert_eq!(body["projectFriendlyName"], "ESP production");
    assert!(body["message"].as_str().unwrap().contains("disk on fire"));
    let good = webhook_body(Format::Rocketchat, &good_run(), None);
    assert_eq!(good["statusCode"], "INFO");
    assert_eq!(good["projectFriendlyName"], "esp");
}

#[test]
fn verification_messages_say_verified() {
    let run = RunSummary {
        trigger: Trigger::VerifySuccess,
        ..good_run()
    };
    let body = webhook_body(Format::Json, &run, None);
    assert_eq!(body["work"], "verification");
    assert_eq!(
        body["message"],
        "verification of esp succeeded on db1: 1 source verified in 3.0s"
    );
    let slack = webhook_body(Format::Slack, &run, None);
    assert_eq!(
        slack["attachments"][0]["fields"][0]["value"],
        "verified · snapshot 01234567 · 1.5s"
    );
}

#[test]
fn healthchecks_urls_and_bodies() {
    let base = "https://hc-ping.com/KEY/esp-backup?create=1";
    assert_eq!(
        ping_url(base, Ping::Start),
        "https://hc-ping.com/KEY/esp-backup/start?create=1"
    );
    assert_eq!(
        ping_url("http://hc/ping/uuid/", Ping::Success),
        "http://hc/ping/uuid"
    );
    assert_eq!(
        ping_url("http://hc/ping/uuid", Ping::Fail),
        "http://hc/ping/uuid/fail"
    );
    assert_eq!(
        start_body("esp", Some("r1")),
        "lifeboat: backup of esp started (run r1)"
    );
    let (ping, body) = end_ping(&failed_run());
    assert_eq!(ping, Ping::Fail);
    assert!(
        body.ends_with("disk on fire\nesp: after_backup hook failed"),
        "{body}"
    );
    let (ping, body) = end_ping(&good_run());
    assert_eq!(ping, Ping::Success);
    assert!(
        body.starts_with("lifeboat: backup of esp succeeded"),
        "{body}"
    );
}

#[test]
fn a_long_failure_keeps_its_end_within_the_ping_limit() {
    let mut run = failed_run();
    run.errors = (0..100)
        .map(|i| format!("error {i}: {}", "é".repeat(300)))
        .collect();
    let (_, body) = end_ping(&run);
    assert!(body.len() <= PING_BODY_LIMIT + "…".len(), "{}", body.len());
    assert!(body.ends_with(&"é".repeat(10)), "{body}");
}

#[test]
fn healthchecks_watch_their_app_or_all() {
    let url = Secret::new("http://hc/x".to_string());
    let one = HealthchecksSpec {
        url: url.clone(),
        app: Some("esp".into()),
    };
    assert!(one.watches("esp") && !one.watches("zync"));
    assert!(HealthchecksSpec { url, app: None }.watches("zync"));
}

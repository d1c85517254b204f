use super::*;
use lifeboat_core::notify::{Format, NotifySpec, Trigger};

const BASE: &str = r#"
[repository]
url = "/tmp/repo"
password_env = "LIFEBOAT_TEST_PW"

[[app]]
name = "esp"

[[app.source]]
name = "db"
kind = "command"
backup_command = "true"
"#;

/// BASE followed by `notify` (its first line is line 15).
fn check(notify: &str) -> Result<Loaded, ConfigError> {
    std::env::set_var("LIFEBOAT_TEST_PW", "pw");
    std::env::set_var(
        "LIFEBOAT_TEST_HOOK",
        "https://hooks.slack.com/services/T0/B0/s3cr3t",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifeboat.toml");
    std::fs::write(&path, format!("{BASE}\n\n{notify}")).unwrap();
    load(&path)
}

fn error_of(notify: &str) -> String {
    match check(notify) {
        Ok(_) => panic!("expected an error for:\n{notify}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn webhooks_and_healthchecks_load_with_their_defaults() {
    let loaded = check(
        r#"[[notify]]
kind = "webhook"
url_env = "LIFEBOAT_TEST_HOOK"
format = "slack"
on = ["failure", "success", "failure", "copy_failure"]
environment = "ESP production"

[[notify]]
kind = "webhook"
url = "http://127.0.0.1:8080/hook"

[[notify]]
kind = "healthchecks"
url = "https://hc-ping.com/uuid"
app = "esp"
"#,
    )
    .unwrap();
    let [NotifySpec::Webhook(slack), NotifySpec::Webhook(json), NotifySpec::Healthchecks(hc)] =
        loaded.config.notify.as_slice()
    else {
        panic!("{:?}", loaded.config.notify);
    };
    assert_eq!(slack.format, Format::Slack);
    assert_eq!(
        slack.on,
        [Trigger::Failure, Trigger::Success, Trigger::CopyFailure]
    );
    assert!(slack.url.expose().ends_with("/s3cr3t"));
    assert_eq!(slack.environment.as_deref(), Some("ESP production"));
    assert_eq!(json.format, Format::Json);
    assert_eq!(json.on, Trigger::DEFAULT_ON);
    assert_eq!(hc.app.as_deref(), Some("esp"));
    // `lifeboat config` shows the URLs masked.
    let shown = serde_json::to_string(&loaded.config).unwrap();
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("hc-ping"),
        "{shown}"
    );
}

#[test]
fn url_file_is_read_and_trimmed() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "https://chat.example/hooks/abc\n").unwrap();
    let text = format!(
        "[[notify]]\nkind = \"webhook\"\nformat = \"rocketchat\"\nurl_file = \"{}\"\n",
        file.path().display()
    );
    let loaded = check(&text).unwrap();
    assert_eq!(
        loaded.config.notify[0].url().expose(),
        "https://chat.example/hooks/abc"
    );
}

#[test]
fn errors_name_file_line_column_and_key() {
    let cases = [
        (
            "[[notify]]\nkind = \"email\"\nurl = \"http://x/\"\n",
            ":16:8",
            "notify.kind",
            "unknown kind `email`",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/\"\nformat = \"teams\"\n",
            ":18:10",
            "notify.format",
            "unknown format `teams`: use json, slack, rocketchat, mattermost",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/\"\non = [\"success\", \"failed\"]\n",
            ":18:18",
            "notify.on",
            "unknown event `failed`",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/\"\non = []\n",
            ":18:6",
            "notify.on",
            "nothing would be sent",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"ftp://x/hook\"\n",
            ":17:7",
            "notify.url",
            "bad URL: the scheme is not http or https",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"hooks.slack.com/T0/s3cr3t\"\n",
            ":17:7",
            "notify.url",
            "bad URL",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nformat = \"slack\"\n",
            ":15:1",
            "notify.url",
            "missing url: set url, url_env or url_file",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/\"\nurl_env = \"LIFEBOAT_TEST_HOOK\"\n",
            ":18:11",
            "notify.url_env",
            "give only one of url, url_env and url_file",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl_env = \"LIFEBOAT_NOT_SET_ANYWHERE\"\n",
            ":17:11",
            "notify.url_env",
            "environment variable LIFEBOAT_NOT_SET_ANYWHERE is not set",
        ),
        (
            "[[notify]]\nkind = \"healthchecks\"\nurl = \"http://x/\"\non = [\"failure\"]\n",
            ":18:6",
            "notify.on",
            "`on` is only for kind = \"webhook\"",
        ),
        (
            "[[notify]]\nkind = \"healthchecks\"\nurl = \"http://x/\"\napp = \"zync\"\n",
            ":18:7",
            "notify.app",
            "`zync` is not an app of this configuration",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"http://x/\"\ntoken = \"x\"\n",
            ":18:1",
            "token",
            "unknown field",
        ),
    ];
    for (text, at, key, message) in cases {
        let e = error_of(text);
        assert!(e.contains(&format!("lifeboat.toml{at}")), "{at} in {e}");
        assert!(e.contains(&format!("`{key}`")), "{key} in {e}");
        assert!(e.contains(message), "{message} in {e}");
    }
}

#[test]
fn a_bad_url_is_never_echoed() {
    let e = error_of("[[notify]]\nkind = \"webhook\"\nurl = \"hooks.slack.com/T0/s3cr3t\"\n");
    assert!(!e.contains("s3cr3t"), "{e}");
    std::env::set_var("LIFEBOAT_TEST_BAD_HOOK", "xoxb-s3cr3t");
    let e = error_of("[[notify]]\nkind = \"webhook\"\nurl_env = \"LIFEBOAT_TEST_BAD_HOOK\"\n");
    assert!(e.contains("notify.url_env") && !e.contains("s3cr3t"), "{e}");
}

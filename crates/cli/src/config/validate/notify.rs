//! `[[notify]]`: the kind and the keys that belong to it, the URL (exactly one of
//! `url`, `url_env`, `url_file`; http or https with a host; never echoed, since a chat
//! webhook's URL is its token), `format`, `on` and `app`.

use super::Validator;
use crate::config::raw::RawNotify;
use lifeboat_core::notify::{Format, HealthchecksSpec, NotifySpec, Trigger, WebhookSpec};
use lifeboat_core::Secret;
use toml::Spanned as S;

impl Validator<'_, '_> {
    /// Each entry; `apps` are the configured app names (`app` must be one).
    pub(super) fn notifies(&mut self, raw: &[S<RawNotify>], apps: &[String]) -> Vec<NotifySpec> {
        raw.iter().filter_map(|n| self.notify(n, apps)).collect()
    }

    fn notify(&mut self, raw: &S<RawNotify>, apps: &[String]) -> Option<NotifySpec> {
        let n = raw.get_ref();
        let url = self.notify_url(raw.span(), n);
        match n.kind.get_ref().as_str() {
            "webhook" => {
                self.not_for(&n.app, "app", "healthchecks");
                let format = self.format(n.format.as_ref());
                let on = self.triggers(n.on.as_ref());
                Some(NotifySpec::Webhook(WebhookSpec {
                    url: url?,
                    format: format?,
                    on: on?,
                    environment: n.environment.as_ref().map(|e| e.get_ref().clone()),
                }))
            }
            "healthchecks" => {
                let app = self.healthchecks(n, apps);
                Some(NotifySpec::Healthchecks(HealthchecksSpec {
                    url: url?,
                    app: app?,
                }))
            }
            other => {
                let msg = format!("unknown kind `{other}`: use webhook or healthchecks");
                self.err(n.kind.span(), "notify.kind", msg);
                None
            }
        }
    }

    /// The keys of a healthchecks entry: only `app`, which must name an app.
    fn healthchecks(&mut self, n: &RawNotify, apps: &[String]) -> Option<Option<String>> {
        self.not_for(&n.format, "format", "webhook");
        self.not_for(&n.on, "on", "webhook");
        self.not_for(&n.environment, "environment", "webhook");
        match &n.app {
            Some(app) if !apps.contains(app.get_ref()) => {
                let msg = format!("`{}` is not an app of this configuration", app.get_ref());
                self.err(app.span(), "notify.app", msg);
                None
            }
            app => Some(app.as_ref().map(|a| a.get_ref().clone())),
        }
    }

    /// A key that the other kind takes.
    fn not_for<T>(&mut self, value: &Option<S<T>>, key: &str, kind: &str) {
        if let Some(value) = value {
            let msg = format!("`{key}` is only for kind = \"{kind}\"");
            self.err(value.span(), &format!("notify.{key}"), msg);
        }
    }

    fn format(&mut self, raw: Option<&S<String>>) -> Option<Format> {
        let Some(raw) = raw else {
            return Some(Format::Json);
        };
        let format = Format::parse(raw.get_ref());
        if format.is_none() {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            let msg = format!(
                "unknown format `{}`: use {}",
                raw.get_ref(),
                names.join(", ")
            );
            self.err(raw.span(), "notify.format", msg);
        }
        format
    }

    /// `on`, without repeats; failures only when not given.
    fn triggers(&mut self, raw: Option<&S<Vec<S<String>>>>) -> Option<Vec<Trigger>> {
        let Some(raw) = raw else {
            return Some(Trigger::DEFAULT_ON.to_vec());
        };
        if raw.get_ref().is_empty() {
            let msg = "nothing would be sent: list events, or leave `on` out for the failures";
            self.err(raw.span(), "notify.on", msg);
            return None;
        }
        let mut on = Vec::new();
        let mut ok = true;
        for event in raw.get_ref() {
            match Trigger::parse(event.get_ref()) {
                Some(t) if on.contains(&t) => {}
                Some(t) => on.push(t),
                None => {
                    let names: Vec<&str> = Trigger::ALL.iter().map(|t| t.name()).collect();
                    let msg = format!(
                        "unknown event `{}`: use {}",
                        event.get_ref(),
                        names.join(", ")
                    );
                    self.err(event.span(), "notify.on", msg);
                    ok = false;
                }
            }
        }
        ok.then_some(on)
    }

    /// The URL from whichever of `url`, `url_env`, `url_file` is given.
    fn notify_url(
        &mut self,
        span: std::ops::Range<usize>,
        n: &RawNotify,
    ) -> Option<Secret<String>> {
        let given: Vec<(&str, &S<String>)> = [
            ("url", &n.url),
            ("url_env", &n.url_env),
            ("url_file", &n.url_file),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.as_ref()?)))
        .collect();
        let (key, value) = match given.as_slice() {
            [] => {
                self.err(
                    span,
                    "notify.url",
                    "missing url: set url, url_env or url_file",
                );
                return None;
            }
            [one] => *one,
            [_, (second, value), ..] => {
                let msg = "give only one of url, url_env and url_file";
                self.err(value.span(), &format!("notify.{second}"), msg);
                return None;
            }
        };
        let key_path = format!("notify.{key}");
        let url = match read_url(key, value.get_ref()) {
            Ok(url) => url,
            Err(why) => {
                self.err(value.span(), &key_path, why);
                return None;
            }
        };
        if let Err(why) = check_url(&url) {
            self.err(value.span(), &key_path, format!("bad URL: {why}"));
            return None;
        }
        Some(Secret::new(url))
    }
}

/// The URL that `key` gives with `value`: itself, a variable's or a file's content.
fn read_url(key: &str, value: &str) -> Result<String, String> {
    match key {
        "url" => Ok(value.trim().to_string()),
        "url_env" => match std::env::var(value) {
            Ok(url) if !url.is_empty() => Ok(url.trim().to_string()),
            _ => Err(format!("environment variable {value} is not set")),
        },
        _ => std::fs::read_to_string(value)
            .map(|url| url.trim().to_string())
            .map_err(|e| format!("cannot read {value}: {e}")),
    }
}

/// An http(s) URL with a host. The reason never quotes the URL: it may hold a token.
fn check_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme is not http or https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".into());
    }
    Ok(())
}

//! Raw configuration → domain model, collecting every error with its position: the
//! repository and its copies, apps and their source lists. The
//! settings of each source kind are checked in `sources`, `[[notify]]` in `notify`.

mod copy;
mod notify;
mod retention;
mod schedule;
mod sources;

use super::raw::{RawApp, RawConfig, RawRepoFields, RawSource};
use super::Positions;
use lifeboat_core::layout::is_valid_name;
use lifeboat_core::{AppSpec, Config, RepositorySpec, Retention, Schedules, Secret, SourceSpec};
use std::collections::HashMap;
use toml::Spanned;

/// What an app takes from `[defaults]` when it does not set it.
struct Inherited<'a> {
    retention: Option<&'a Retention>,
    schedules: &'a Schedules,
    hook_timeout_secs: u64,
    max_parallel: usize,
}

struct Validator<'d, 't> {
    doc: &'d Positions<'t>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

pub(super) fn validate(
    raw: RawConfig,
    doc: &Positions<'_>,
) -> Result<(Config, Vec<String>), Vec<String>> {
    let mut v = Validator {
        doc,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let repository = v.repository(
        raw.repository.get_ref().fields(),
        raw.repository.span(),
        "repository",
    );
    let copy_to = v.copies(&raw.copy_to);
    let defaults = raw.defaults.as_ref().map(|d| d.get_ref());
    let timezone = v.timezone(defaults.and_then(|d| d.timezone.as_ref()));
    let default_retention = defaults
        .and_then(|d| d.retention.as_ref())
        .and_then(|r| v.retention(r, "defaults.retention"));
    let default_schedules = match defaults {
        Some(d) => v.schedules(d.schedules(), "defaults", &Schedules::default()),
        None => Schedules::default(),
    };
    let daemon = v.daemon(raw.daemon.as_ref());
    let app_names: Vec<String> = raw
        .app
        .iter()
        .map(|a| a.get_ref().name.get_ref().clone())
        .collect();
    let notify = v.notifies(&raw.notify, &app_names);
    let default_hook_timeout = v.hook_timeout(
        defaults.and_then(|d| d.hook_timeout.as_ref()),
        "defaults.hook_timeout",
        lifeboat_core::ports::DEFAULT_HOOK_TIMEOUT.as_secs(),
    );
    let default_max_parallel = v.max_parallel(
        defaults.and_then(|d| d.max_parallel.as_ref()),
        "defaults.max_parallel",
        lifeboat_core::model::DEFAULT_MAX_PARALLEL_SOURCES,
    );
    let inherited = Inherited {
        retention: default_retention.as_ref(),
        schedules: &default_schedules,
        hook_timeout_secs: default_hook_timeout,
        max_parallel: default_max_parallel,
    };
    let apps = v.apps(raw.app, &inherited);
    match (repository, v.errors.is_empty()) {
        (Some(repository), true) => Ok((
            Config {
                repository,
                apps,
                timezone,
                daemon,
                notify,
                copy_to,
            },
            v.warnings,
        )),
        _ => Err(v.errors),
    }
}

impl Validator<'_, '_> {
    fn err(&mut self, span: std::ops::Range<usize>, key: &str, message: impl AsRef<str>) {
        self.errors
            .push(self.doc.error(&span, key, message.as_ref()));
    }

    /// A `hook_timeout` duration (positive), or `default` when absent.
    fn hook_timeout(&mut self, raw: Option<&Spanned<String>>, key: &str, default: u64) -> u64 {
        let Some(text) = raw else {
            return default;
        };
        match lifeboat_core::duration::parse_seconds(text.get_ref()) {
            Ok(0) => {
                self.err(text.span(), key, "must be longer than 0s");
                default
            }
            Ok(secs) => secs,
            Err(why) => {
                self.err(text.span(), key, why);
                default
            }
        }
    }

    /// A `max_parallel` count (at least 1), or `default` when absent.
    fn max_parallel(&mut self, raw: Option<&Spanned<u32>>, key: &str, default: usize) -> usize {
        match raw {
            None => default,
            Some(n) if *n.get_ref() == 0 => {
                self.err(n.span(), key, "must be at least 1");
                default
            }
            Some(n) => usize::try_from(*n.get_ref()).unwrap_or(usize::MAX),
        }
    }

    /// `[repository]` or one `[[copy_to]]` (`table`) as a repository to open.
    fn repository(
        &mut self,
        repo: RawRepoFields<'_>,
        span: std::ops::Range<usize>,
        table: &str,
    ) -> Option<RepositorySpec> {
        let password = self.secret(table, span, repo.password_env, repo.password_file, true);
        if repo.url.get_ref().trim().is_empty() {
            self.err(
                repo.url.span(),
                &format!("{table}.url"),
                "must not be empty",
            );
        }
        for (key, value) in repo.options {
            if lifeboat_core::model::SECRET_OPTIONS.contains(&key.as_str()) {
                let instead = format!("name an environment variable in [{table}.options_env] ({key} = \"VAR\") or a file in [{table}.options_file]");
                let standard = match key.as_str() {
                    "access_key_id" => ", or set AWS_ACCESS_KEY_ID",
                    "secret_access_key" => ", or set AWS_SECRET_ACCESS_KEY",
                    "session_token" => ", or set AWS_SESSION_TOKEN",
                    _ => "",
                };
                self.err(
                    value.span(),
                    &format!("{table}.options.{key}"),
                    format!(
                        "a credential is never written in the configuration: {instead}{standard}"
                    ),
                );
            }
        }
        let options = repo
            .options
            .iter()
            .map(|(k, v)| (k.clone(), Secret::new(v.get_ref().clone())))
            .collect();
        let lock_wait_secs = match repo.lock_wait {
            None => lifeboat_core::model::DEFAULT_LOCK_WAIT_SECS,
            Some(text) => match lifeboat_core::duration::parse_seconds(text.get_ref()) {
                Ok(secs) => secs,
                Err(why) => {
                    self.err(text.span(), &format!("{table}.lock_wait"), &why);
                    0
                }
            },
        };
        let mut spec = RepositorySpec {
            url: repo.url.get_ref().clone(),
            password: password??,
            options,
            lock_wait_secs,
        };
        self.secret_options(&repo, table, &mut spec);
        Some(spec)
    }

    /// `options_env` and `options_file` of `[repository]` or a `[[copy_to]]` (`table`):
    /// backend options (credentials) read from the environment or from files.
    fn secret_options(
        &mut self,
        raw: &RawRepoFields<'_>,
        table: &str,
        repository: &mut RepositorySpec,
    ) {
        let sources = [
            ("options_env", raw.options_env),
            ("options_file", raw.options_file),
        ];
        for (kind, entries) in sources {
            for (option, from) in entries {
                let key = format!("{table}.{kind}.{option}");
                if raw.options.contains_key(option)
                    || (kind == "options_file" && raw.options_env.contains_key(option))
                {
                    self.err(
                        from.span(),
                        &key,
                        format!("option `{option}` is given twice"),
                    );
                    continue;
                }
                let value = if kind == "options_env" {
                    match std::env::var(from.get_ref()) {
                        Ok(value) if !value.is_empty() => value,
                        _ => {
                            let msg = format!("environment variable {} is not set", from.get_ref());
                            self.err(from.span(), &key, msg);
                            continue;
                        }
                    }
                } else {
                    match std::fs::read_to_string(from.get_ref()) {
                        Ok(value) => value.trim_end_matches(['\n', '\r']).to_string(),
                        Err(e) => {
                            let msg = format!("cannot read {}: {e}", from.get_ref());
                            self.err(from.span(), &key, msg);
                            continue;
                        }
                    }
                };
                repository
                    .options
                    .push((option.clone(), Secret::new(value)));
            }
        }
    }

    /// Reads a secret from `*_env` or `*_file`. `Some(None)` when absent and optional.
    fn secret(
        &mut self,
        table: &str,
        span: std::ops::Range<usize>,
        env: &Option<Spanned<String>>,
        file: &Option<Spanned<String>>,
        required: bool,
    ) -> Option<Option<Secret<String>>> {
        match (env, file) {
            (Some(_), Some(f)) => {
                self.err(
                    f.span(),
                    &format!("{table}.password_file"),
                    "give either password_env or password_file, not both",
                );
                None
            }
            (Some(env), None) => match std::env::var(env.get_ref()) {
                Ok(value) if !value.is_empty() => Some(Some(Secret::new(value))),
                _ => {
                    let msg = format!("environment variable {} is not set", env.get_ref());
                    self.err(env.span(), &format!("{table}.password_env"), msg);
                    None
                }
            },
            (None, Some(file)) => match std::fs::read_to_string(file.get_ref()) {
                Ok(value) => Some(Some(Secret::new(
                    value.trim_end_matches(['\n', '\r']).to_string(),
                ))),
                Err(e) => {
                    let msg = format!("cannot read {}: {e}", file.get_ref());
                    self.err(file.span(), &format!("{table}.password_file"), msg);
                    None
                }
            },
            (None, None) if required => {
                self.err(
                    span,
                    &format!("{table}.password_env"),
                    "a password is required: set password_env or password_file",
                );
                None
            }
            (None, None) => Some(None),
        }
    }

    fn name(&mut self, name: &Spanned<String>, key: &str) {
        if !is_valid_name(name.get_ref()) {
            let msg = format!("`{}` is not a valid name: use letters, digits, `-`, `_`, `.`, starting with a letter or digit", name.get_ref());
            self.err(name.span(), key, msg);
        }
    }

    fn apps(&mut self, raw: Vec<Spanned<RawApp>>, inherited: &Inherited<'_>) -> Vec<AppSpec> {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut apps = Vec::new();
        for app in raw {
            let span = app.span();
            let app = app.into_inner();
            self.name(&app.name, "app.name");
            if let Some(first) = seen.insert(
                app.name.get_ref().clone(),
                self.doc.at(app.name.span().start),
            ) {
                let msg = format!(
                    "duplicate app name `{}` (first defined at {first})",
                    app.name.get_ref()
                );
                self.err(app.name.span(), "app.name", msg);
            }
            if app.source.is_empty() {
                self.err(
                    span,
                    "app.source",
                    "an app needs at least one [[app.source]]",
                );
            }
            let schedules = self.schedules(app.schedules(), "app", inherited.schedules);
            let max_parallel = self.max_parallel(
                app.max_parallel.as_ref(),
                "app.max_parallel",
                inherited.max_parallel,
            );
            let hook_timeout_secs = self.hook_timeout(
                app.hook_timeout.as_ref(),
                "app.hook_timeout",
                inherited.hook_timeout_secs,
            );
            let app_retention = match &app.retention {
                Some(r) => self.retention(r, "app.retention"),
                None => inherited.retention.cloned(),
            };
            let sources = self.sources(app.name.get_ref(), app.source, app_retention.as_ref());
            apps.push(AppSpec {
                name: app.name.into_inner(),
                before_backup: app.before_backup,
                after_backup: app.after_backup,
                before_restore: app.before_restore,
                after_restore: app.after_restore,
                hook_timeout_secs,
                max_parallel,
                schedules,
                sources,
                stored_config: None,
            });
        }
        apps
    }

    fn sources(
        &mut self,
        app: &str,
        raw: Vec<Spanned<RawSource>>,
        app_retention: Option<&Retention>,
    ) -> Vec<SourceSpec> {
        let names: Vec<String> = raw
            .iter()
            .map(|s| s.get_ref().name.get_ref().clone())
            .collect();
        let mut seen: HashMap<&str, String> = HashMap::new();
        let mut sources = Vec::new();
        for (i, source) in raw.iter().enumerate() {
            let s = source.get_ref();
            self.name(&s.name, "app.source.name");
            if let Some(first) = seen.insert(&names[i], self.doc.at(s.name.span().start)) {
                let msg = format!(
                    "duplicate source name `{}` in app `{app}` (first defined at {first})",
                    names[i]
                );
                self.err(s.name.span(), "app.source.name", msg);
            }
            for dep in &s.restore_after {
                if !names.contains(dep.get_ref()) || dep.get_ref() == &names[i] {
                    let msg = format!("`{}` is not another source of app `{app}`", dep.get_ref());
                    self.err(dep.span(), "app.source.restore_after", msg);
                }
            }
            let schedule = s
                .schedule
                .as_ref()
                .and_then(|c| self.cron(c, "app.source.schedule"));
            let retention = match &s.retention {
                Some(r) => self.retention(r, "app.source.retention"),
                None => app_retention.cloned(),
            };
            if let Some(kind) = self.kind(source) {
                sources.push(SourceSpec {
                    name: names[i].clone(),
                    restore_after: s
                        .restore_after
                        .iter()
                        .map(|d| d.get_ref().clone())
                        .collect(),
                    verify_sql: s
                        .verify_sql
                        .as_ref()
                        .map(|v| v.get_ref().clone())
                        .unwrap_or_default(),
                    kind,
                    retention,
                    schedule,
                });
            }
        }
        self.no_restore_cycle(&raw, &sources);
        sources
    }

    /// `restore_after` must order the sources: a loop is an error at the edge that
    /// closes it, naming every source of the loop.
    fn no_restore_cycle(&mut self, raw: &[Spanned<RawSource>], sources: &[SourceSpec]) {
        let refs: Vec<&SourceSpec> = sources.iter().collect();
        let Err(cycle) = lifeboat_core::restore_order(&refs) else {
            return;
        };
        let (from, to) = (&cycle.0[0], &cycle.0[1]);
        let Some(source) = raw.iter().find(|s| s.get_ref().name.get_ref() == from) else {
            return;
        };
        let edge = source
            .get_ref()
            .restore_after
            .iter()
            .find(|d| d.get_ref() == to);
        let span = edge.map_or(source.span(), |d| d.span());
        self.err(span, "app.source.restore_after", cycle.to_string());
    }
}

//! The settings of each source kind (postgres, files, command, sqlite, mysql, redis,
//! bucket): which keys apply, which are required, and what their values must be.

use super::super::raw::RawSource;
use super::Validator;
use lifeboat_core::layout::is_valid_name;
use lifeboat_core::{
    BucketSettings, CommandSettings, FilesSettings, MysqlDatabases, MysqlSettings,
    PostgresSettings, RedisRestoreMode, RedisSettings, Secret, SourceKind, SqliteSettings,
};
use std::path::PathBuf;
use toml::Spanned;

/// Kinds SPEC.md names that this version cannot back up yet.
const PLANNED_KINDS: &[&str] = &[];

impl Validator<'_, '_> {
    pub(super) fn kind(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        let s = source.get_ref();
        match s.kind.get_ref().as_str() {
            "postgres" => self.postgres(source),
            "files" => self.files(source),
            "command" => self.command(source),
            "sqlite" => self.sqlite(source),
            "mysql" => self.mysql(source),
            "redis" => self.redis(source),
            "bucket" => self.bucket(source),
            planned if PLANNED_KINDS.contains(&planned) => {
                let msg = format!("kind `{planned}` is not supported by this version yet (supported: postgres, mysql, redis, sqlite, files, command, bucket)");
                self.err(s.kind.span(), "app.source.kind", msg);
                None
            }
            other => {
                let msg = format!("unknown kind `{other}` (expected one of: postgres, mysql, redis, sqlite, files, command, bucket)");
                self.err(s.kind.span(), "app.source.kind", msg);
                None
            }
        }
    }

    fn no_verify_sql(&mut self, s: &RawSource) {
        if let Some(v) = &s.verify_sql {
            let msg = format!(
                "does not apply to kind `{}` (only to database kinds)",
                s.kind.get_ref()
            );
            self.err(v.span(), "app.source.verify_sql", msg);
        }
    }

    /// Reports keys that are set but do not belong to the source's kind.
    fn only_keys(&mut self, s: &RawSource, allowed: &[&str]) {
        let spans: [(&str, Option<std::ops::Range<usize>>); 20] = [
            ("url", s.url.as_ref().map(Spanned::span)),
            ("password_env", s.password_env.as_ref().map(Spanned::span)),
            ("password_file", s.password_file.as_ref().map(Spanned::span)),
            ("globals", s.globals.as_ref().map(Spanned::span)),
            ("databases", s.databases.as_ref().map(Spanned::span)),
            ("jobs", s.jobs.as_ref().map(Spanned::span)),
            ("no_owner", s.no_owner.as_ref().map(Spanned::span)),
            ("lock_timeout", s.lock_timeout.as_ref().map(Spanned::span)),
            ("path", s.path.as_ref().map(Spanned::span)),
            ("exclude", s.exclude.as_ref().map(Spanned::span)),
            ("restore_mode", s.restore_mode.as_ref().map(Spanned::span)),
            ("data_dir", s.data_dir.as_ref().map(Spanned::span)),
            ("flush", s.flush.as_ref().map(Spanned::span)),
            (
                "backup_command",
                s.backup_command.as_ref().map(Spanned::span),
            ),
            (
                "restore_command",
                s.restore_command.as_ref().map(Spanned::span),
            ),
            ("filename", s.filename.as_ref().map(Spanned::span)),
            ("endpoint", s.endpoint.as_ref().map(Spanned::span)),
            ("region", s.region.as_ref().map(Spanned::span)),
            (
                "access_key_env",
                s.access_key_env.as_ref().map(Spanned::span),
            ),
            (
                "secret_key_env",
                s.secret_key_env.as_ref().map(Spanned::span),
            ),
        ];
        for (key, span) in spans {
            if let Some(span) = span.filter(|_| !allowed.contains(&key)) {
                let msg = format!("does not apply to kind `{}`", s.kind.get_ref());
                self.err(span, &format!("app.source.{key}"), msg);
            }
        }
    }

    fn required<'s>(
        &mut self,
        source: &Spanned<RawSource>,
        value: &'s Option<Spanned<String>>,
        key: &str,
    ) -> Option<&'s Spanned<String>> {
        if value.is_none() {
            let msg = format!("kind `{}` needs `{key}`", source.get_ref().kind.get_ref());
            self.err(source.span(), &format!("app.source.{key}"), msg);
        }
        value.as_ref()
    }

    fn postgres(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        let s = source.get_ref();
        self.only_keys(
            s,
            &[
                "url",
                "password_env",
                "password_file",
                "globals",
                "databases",
                "jobs",
                "no_owner",
                "lock_timeout",
            ],
        );
        let all_databases = match &s.databases {
            None => false,
            Some(v) if v.get_ref().as_str() == Some("all") => true,
            Some(v) => {
                self.err(
                    v.span(),
                    "app.source.databases",
                    "for postgres only `\"all\"` is accepted (one database: put it in the url)",
                );
                false
            }
        };
        let password = self.secret(
            "app.source",
            source.span(),
            &s.password_env,
            &s.password_file,
            false,
        );
        let url = self.required(source, &s.url, "url")?;
        if let Err(e) = lifeboat_sources::postgres::PgTarget::parse(url.get_ref(), None) {
            self.err(url.span(), "app.source.url", e.to_string());
            return None;
        }
        Some(SourceKind::Postgres(PostgresSettings {
            url: url.get_ref().clone(),
            password: password?,
            no_owner: s.no_owner.as_ref().is_some_and(|b| *b.get_ref()),
            jobs: s.jobs.as_ref().map(|j| *j.get_ref()),
            globals: s.globals.as_ref().is_some_and(|b| *b.get_ref()),
            all_databases,
            lock_timeout: s.lock_timeout.as_ref().map(|t| *t.get_ref()),
        }))
    }

    /// A path key, relative paths taken from the configuration file's directory (not from
    /// wherever lifeboat was started).
    fn path(&mut self, source: &Spanned<RawSource>) -> Option<PathBuf> {
        let path = self.required(source, &source.get_ref().path, "path")?;
        let path = PathBuf::from(path.get_ref());
        if path.is_absolute() {
            return Some(path);
        }
        let base = std::path::Path::new(&self.doc.file)
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        Some(std::path::absolute(base.join(path)).unwrap_or_default())
    }

    fn sqlite(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        self.only_keys(source.get_ref(), &["path"]);
        Some(SourceKind::Sqlite(SqliteSettings {
            path: self.path(source)?,
        }))
    }

    fn files(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        let s = source.get_ref();
        self.no_verify_sql(s);
        self.only_keys(s, &["path", "exclude"]);
        if let Some(exclude) = &s.exclude {
            // Read as a .gitignore at the tree's root, as the backup will.
            if let Err(e) = lifeboat_repo::check_exclude_patterns(exclude.get_ref()) {
                self.err(exclude.span(), "app.source.exclude", e);
            }
        }
        Some(SourceKind::Files(FilesSettings {
            path: self.path(source)?,
            exclude: s
                .exclude
                .as_ref()
                .map(|e| e.get_ref().clone())
                .unwrap_or_default(),
        }))
    }

    fn command(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        let s = source.get_ref();
        self.no_verify_sql(s);
        self.only_keys(s, &["backup_command", "restore_command", "filename"]);
        let backup = self.required(source, &s.backup_command, "backup_command")?;
        let filename = match &s.filename {
            Some(f) if !is_valid_name(f.get_ref()) => {
                let msg = format!(
                    "`{}` is not a valid file name (letters, digits, `-`, `_`, `.`)",
                    f.get_ref()
                );
                self.err(f.span(), "app.source.filename", msg);
                return None;
            }
            Some(f) => f.get_ref().clone(),
            None => format!("{}.out", s.name.get_ref()),
        };
        Some(SourceKind::Command(CommandSettings {
            backup_command: backup.get_ref().clone(),
            restore_command: s.restore_command.as_ref().map(|c| c.get_ref().clone()),
            filename,
        }))
    }

    fn mysql(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        let s = source.get_ref();
        self.only_keys(s, &["url", "password_env", "password_file", "databases"]);
        let password = self.secret(
            "app.source",
            source.span(),
            &s.password_env,
            &s.password_file,
            false,
        );
        let databases = match &s.databases {
            None => MysqlDatabases::Url,
            Some(v) => match v.get_ref() {
                toml::Value::String(all) if all == "all" => MysqlDatabases::All,
                toml::Value::Array(items)
                    if items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|n| !n.is_empty())) =>
                {
                    MysqlDatabases::List(
                        items
                            .iter()
                            .filter_map(|i| i.as_str().map(str::to_string))
                            .collect(),
                    )
                }
                _ => {
                    self.err(
                        v.span(),
                        "app.source.databases",
                        "expected \"all\" or a list of database names",
                    );
                    return None;
                }
            },
        };
        let url = self.required(source, &s.url, "url")?;
        match lifeboat_sources::mysql::MysqlTarget::parse(url.get_ref(), None) {
            Err(e) => {
                self.err(url.span(), "app.source.url", e.to_string());
                return None;
            }
            Ok(t) if t.dbname.is_none() && databases == MysqlDatabases::Url => {
                self.err(
                    url.span(),
                    "app.source.url",
                    "names no database: add /DB, or set databases",
                );
                return None;
            }
            Ok(_) => {}
        }
        Some(SourceKind::Mysql(MysqlSettings {
            url: url.get_ref().clone(),
            password: password?,
            databases,
        }))
    }

    fn redis(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        let s = source.get_ref();
        self.no_verify_sql(s);
        self.only_keys(
            s,
            &[
                "url",
                "password_env",
                "password_file",
                "restore_mode",
                "data_dir",
                "flush",
            ],
        );
        let password = self.secret(
            "app.source",
            source.span(),
            &s.password_env,
            &s.password_file,
            false,
        );
        let restore_mode = match s
            .restore_mode
            .as_ref()
            .map(|m| (m.get_ref().as_str(), m.span()))
        {
            None | Some(("online", _)) => RedisRestoreMode::Online,
            Some(("offline", _)) => RedisRestoreMode::Offline,
            Some((other, span)) => {
                self.err(
                    span,
                    "app.source.restore_mode",
                    format!("`{other}`: expected \"online\" or \"offline\""),
                );
                return None;
            }
        };
        let data_dir = s.data_dir.as_ref().map(|d| PathBuf::from(d.get_ref()));
        if restore_mode == RedisRestoreMode::Offline && data_dir.is_none() {
            self.err(
                source.span(),
                "app.source.data_dir",
                "restore_mode = \"offline\" needs data_dir",
            );
        }
        let url = self.required(source, &s.url, "url")?;
        if let Err(e) = lifeboat_sources::redis::RedisTarget::parse(url.get_ref(), None) {
            self.err(url.span(), "app.source.url", e.to_string());
            return None;
        }
        Some(SourceKind::Redis(RedisSettings {
            url: url.get_ref().clone(),
            password: password?,
            restore_mode,
            data_dir,
            flush: s.flush.as_ref().is_none_or(|f| *f.get_ref()),
        }))
    }

    /// A secret named by an `*_env` key (a variable that must be set when given).
    fn env_secret(
        &mut self,
        value: &Option<Spanned<String>>,
        key: &str,
    ) -> Option<Option<Secret<String>>> {
        let Some(var) = value else { return Some(None) };
        match std::env::var(var.get_ref()) {
            Ok(v) if !v.is_empty() => Some(Some(Secret::new(v))),
            _ => {
                let msg = format!("environment variable {} is not set", var.get_ref());
                self.err(var.span(), &format!("app.source.{key}"), msg);
                None
            }
        }
    }

    fn bucket(&mut self, source: &Spanned<RawSource>) -> Option<SourceKind> {
        let s = source.get_ref();
        self.no_verify_sql(s);
        self.only_keys(
            s,
            &[
                "url",
                "endpoint",
                "region",
                "access_key_env",
                "secret_key_env",
            ],
        );
        let access_key = self.env_secret(&s.access_key_env, "access_key_env");
        let secret_key = self.env_secret(&s.secret_key_env, "secret_key_env");
        let url = self.required(source, &s.url, "url")?;
        let endpoint = s.endpoint.as_ref().map(|e| e.get_ref().clone());
        let region = s.region.as_ref().map(|r| r.get_ref().clone());
        if let Err(e) = lifeboat_sources::bucket::BucketTarget::parse(
            url.get_ref(),
            endpoint.clone(),
            region.clone(),
            None,
            None,
        ) {
            self.err(url.span(), "app.source.url", e.to_string());
            return None;
        }
        Some(SourceKind::Bucket(BucketSettings {
            url: url.get_ref().clone(),
            endpoint,
            region,
            access_key: access_key?,
            secret_key: secret_key?,
        }))
    }
}

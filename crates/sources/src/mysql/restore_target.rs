//! Restoring a `mysql` backup: into the database it names (renaming the dumped
//! database to the `--to` one as the stream passes) or, for several databases, into the
//! server under their own names; refused where the dump would write elsewhere.

use super::MysqlTarget;
use crate::payload::{feed, first_file};
use lifeboat_core::ports::{RestoreTarget, SnapshotReader, SnapshotRef};
use lifeboat_core::{
    CancelToken, Error, Manifest, MysqlDatabases, MysqlSettings, RestoreOptions, SourceKind,
};

pub struct MysqlRestoreTarget {
    pub target: MysqlTarget,
    pub settings: MysqlSettings,
}

impl RestoreTarget for MysqlRestoreTarget {
    fn describe(&self) -> String {
        let (target, settings) = (&self.target, &self.settings);
        match (&target.dbname, &settings.databases) {
            (None, MysqlDatabases::List(names)) => {
                format!("{} (databases {})", target.url(), names.join(", "))
            }
            (None, _) => format!("{} (all databases)", target.url()),
            (Some(_), _) => target.url(),
        }
    }

    fn holds_data(&self) -> Result<bool, Error> {
        mysql_holds_data(&self.target, &self.settings)
    }

    fn plan(&self, snapshot: &str, opts: &RestoreOptions) -> Vec<String> {
        let (t, settings) = (&self.target, &self.settings);
        let target = self.describe();
        let mut steps = Vec::new();
        if opts.delete {
            let dropped = match (&t.dbname, &settings.databases) {
                (Some(db), _) => format!("database {db}"),
                (None, MysqlDatabases::List(names)) => format!("databases {}", names.join(", ")),
                (None, _) => match super::user_databases(t) {
                    Ok(names) if names.is_empty() => {
                        "no database (the server has none but its system ones)".into()
                    }
                    Ok(names) => format!(
                        "databases {} (every one but the system ones)",
                        names.join(", ")
                    ),
                    Err(_) => "every database but the system ones".into(),
                },
            };
            steps.push(format!(
                "--clean: drop {dropped}; the backup creates what it holds afresh, objects not in it are gone"
            ));
        }
        let what = match (&settings.databases, &t.dbname) {
            (MysqlDatabases::List(names), Some(db)) if names.first() != Some(db) => {
                format!(
                    "database {} of snapshot {snapshot} as {db}",
                    names.join(", ")
                )
            }
            _ => format!("snapshot {snapshot}"),
        };
        steps.push(format!(
            "load {what} into {target} with the mysql client (database created when missing)"
        ));
        steps
    }

    /// The database the restore writes to, whatever the source dumps.
    fn safety_kind(&self) -> SourceKind {
        let (target, settings) = (&self.target, &self.settings);
        SourceKind::Mysql(MysqlSettings {
            url: target.url(),
            databases: match target.dbname {
                Some(_) => MysqlDatabases::Url,
                None => settings.databases.clone(),
            },
            ..settings.clone()
        })
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        opts: &RestoreOptions,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        if opts.delete {
            clean(&self.target, &self.settings)?;
        }
        restore_mysql(reader, snap, &self.target, &self.settings)
    }
}

/// Where a mysql restore writes: the database in the url or `--to` for a one-database
/// source; for `databases = [one]` that database (or the one `--to` names, which it is
/// then loaded as); for several or all databases the server, and a `--to` naming one
/// database is refused: the dump would write to databases the user did not name.
pub(super) fn mysql_target(
    target: MysqlTarget,
    databases: &MysqlDatabases,
    to_given: bool,
) -> Result<MysqlTarget, Error> {
    match databases {
        MysqlDatabases::Url => Ok(target),
        MysqlDatabases::List(names) => match (names.as_slice(), &target.dbname) {
            ([_], Some(_)) if to_given => Ok(target),
            ([one], _) => Ok(target.with_db(one)),
            (_, Some(db)) if to_given => Err(Error::failed(several_databases(&target, db))),
            _ => Ok(target.without_db()),
        },
        MysqlDatabases::All => match &target.dbname {
            Some(db) if to_given => Err(Error::failed(several_databases(&target, db))),
            _ => Ok(target.without_db()),
        },
    }
}

fn several_databases(target: &MysqlTarget, db: &str) -> String {
    format!(
        "the backup holds several databases, which restore only under their own names; \
         refusing to load them into database {db}: give --to {} (without a database)",
        target.without_db().url()
    )
}

/// A database target holds data when it has tables; without one, when any of the
/// listed databases has (or, for all databases, any non-system database).
fn mysql_holds_data(target: &MysqlTarget, settings: &MysqlSettings) -> Result<bool, Error> {
    let holds = |t: &MysqlTarget| -> Result<bool, Error> {
        Ok(super::prepare_target(t)? == super::TargetState::HoldsData)
    };
    match (&target.dbname, &settings.databases) {
        (None, MysqlDatabases::List(names)) => {
            for name in names {
                if holds(&target.with_db(name))? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        _ => holds(target),
    }
}

/// `--clean`: drops the target database (or the listed ones, or every user database
/// for a restore of all), so that the restore creates them as the backup has them.
fn clean(target: &MysqlTarget, settings: &MysqlSettings) -> Result<(), Error> {
    let names = match (&target.dbname, &settings.databases) {
        (Some(db), _) => vec![db.clone()],
        (None, MysqlDatabases::List(names)) => names.clone(),
        (None, _) => super::user_databases(target)?,
    };
    super::drop_databases(target, &names)?;
    Ok(())
}

fn restore_mysql(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    target: &MysqlTarget,
    settings: &MysqlSettings,
) -> Result<(), Error> {
    let manifest = reader.manifest(snap.id)?;
    let (plan, rename) = mysql_load(&manifest, target, settings)?;
    let state = super::prepare_target(target)?;
    let mut restore = super::start_restore(target, state, &plan)?;
    let input = restore.input()?;
    let (input, problem) = match &rename {
        Some((from, to)) => {
            let (input, problem) = super::renaming(input, from, to);
            (input, Some(problem))
        }
        None => (input, None),
    };
    let fed = feed(reader, snap, &manifest.files, input, || restore.finish());
    let refused = problem.and_then(|p| p.lock().ok().and_then(|why| why.clone()));
    match refused {
        Some(why) => Err(Error::source(why)),
        None => fed,
    }
}

/// How the snapshot's dump loads into `target`'s database, and which database of the
/// dump is renamed to it (`from`, `to`). A dump of several databases into one
/// database is refused.
fn mysql_load(
    manifest: &Manifest,
    target: &MysqlTarget,
    settings: &MysqlSettings,
) -> Result<(super::LoadPlan, Option<(String, String)>), Error> {
    let file = first_file(manifest, "dump file")?;
    let like = |name: &str| {
        let recorded = &manifest.facts.mysql_databases;
        recorded.iter().find(|d| d.name == name).cloned()
    };
    let Some(db) = &target.dbname else {
        if file == "databases.sql" || file == "all-databases.sql" {
            return Ok((super::LoadPlan::default(), None));
        }
        return Err(Error::failed(format!(
            "the backup is a dump of one database ({file}); name the database to load it into: --to {}/DB",
            target.url()
        )));
    };
    if file == "all-databases.sql" {
        return Err(Error::failed(several_databases(target, db)));
    }
    if file == "databases.sql" {
        let names = dumped_databases(manifest, settings);
        let [one] = names.as_slice() else {
            return Err(Error::failed(several_databases(target, db)));
        };
        let plan = super::LoadPlan {
            create_like: like(one),
            dump_creates: true,
        };
        return Ok((plan, Some((one.clone(), db.clone()))));
    }
    // A one-database dump names its database only in `ALTER DATABASE` lines (around
    // routines created under another collation): those are renamed too.
    let from = MysqlTarget::parse(&manifest.origin, None)
        .ok()
        .and_then(|t| t.dbname)
        .or_else(|| file.strip_suffix(".sql").map(str::to_string))
        .unwrap_or_default();
    let plan = super::LoadPlan {
        create_like: like(&from),
        dump_creates: false,
    };
    let rename = (!from.is_empty() && from != *db).then(|| (from, db.clone()));
    Ok((plan, rename))
}

/// The databases a `databases.sql` dump holds: recorded in the manifest, or (older
/// manifests) the configured list, or the databases of its tables.
fn dumped_databases(manifest: &Manifest, settings: &MysqlSettings) -> Vec<String> {
    let recorded = &manifest.facts.mysql_databases;
    if !recorded.is_empty() {
        return recorded.iter().map(|d| d.name.clone()).collect();
    }
    if let MysqlDatabases::List(names) = &settings.databases {
        return names.clone();
    }
    let mut names: Vec<String> = manifest
        .facts
        .tables
        .iter()
        .filter_map(|t| t.table.split_once('.').map(|(d, _)| d.to_string()))
        .collect();
    names.dedup();
    names
}

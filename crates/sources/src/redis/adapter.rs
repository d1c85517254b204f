//! The `redis` kind as a source port: back up the RDB with the keyspace counted once it
//! was read, restore online (as a replica of lifeboat, or key by key) or offline (`dump.rdb` into a stopped server's
//! data dir), verify in a throwaway server.

use super::RedisTarget;
use crate::checks::{compare_keys, Keys};
use crate::payload::{self, first_file};
use crate::scratch::redis::ScratchRedis;
use lifeboat_core::ports::{Prepared, Purpose, RestoreTarget, SnapshotReader, SnapshotRef, Source};
use lifeboat_core::{
    CancelToken, Context, Error, Facts, FilesSettings, Manifest, RedisRestoreMode, RedisSettings,
    RestoreOptions, SourceKind, VerifyReport,
};
use std::path::PathBuf;

pub struct RedisSource {
    pub settings: RedisSettings,
}

impl Source for RedisSource {
    fn backup(&self, _purpose: Purpose, _cancel: &CancelToken) -> Result<Prepared, Error> {
        let rd = &self.settings;
        let target = RedisTarget::parse(&rd.url, rd.password.clone())?;
        let (payload, complete) = payload::streams(vec![super::start_backup(&target)?])?;
        let origin = target.url();
        // Keys and keys with an expiry per db from one `INFO keyspace` taken once the RDB
        // was read, so that the two agree (verification allows for expired keys).
        let complete = payload::and_then(complete, move |mut m| {
            let (keys, expiring) = super::keyspace_counts(&target)?;
            m.facts.tables = keys;
            m.facts.expiring_keys = expiring.into_iter().filter(|t| t.rows > 0).collect();
            Ok(m)
        });
        Ok(Prepared {
            origin,
            facts: Facts::default(),
            payload,
            complete,
        })
    }

    fn restore_target(&self, to: Option<&str>) -> Result<Box<dyn RestoreTarget>, Error> {
        let rd = &self.settings;
        if rd.restore_mode == RedisRestoreMode::Offline {
            let dir = to.map(PathBuf::from).or_else(|| rd.data_dir.clone());
            let dir =
                dir.ok_or_else(|| Error::failed("no data_dir configured; give one with --to DIR"))?;
            return Ok(Box::new(Offline { dir }));
        }
        let target = RedisTarget::parse(to.unwrap_or(&rd.url), rd.password.clone())?;
        Ok(Box::new(Online {
            target,
            settings: rd.clone(),
        }))
    }

    fn verify(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        manifest: &Manifest,
        report: &mut VerifyReport,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        let dir = spool_rdb(reader, snap, manifest)?;
        // Keys whose expiry passed since the backup are still in the RDB: counted too.
        let server = ScratchRedis::start_keeping_expired(&dir.path().join("dump.rdb"))?;
        report
            .checks
            .push("the RDB loads into a throwaway redis-server".into());
        let (found, found_expiring) = super::keyspace_counts(&server.target())?;
        let facts = &manifest.facts;
        let expected = Keys {
            keys: &facts.tables,
            expiring: &facts.expiring_keys,
        };
        let found = Keys {
            keys: &found,
            expiring: &found_expiring,
        };
        compare_keys(&expected, &found, report);
        Ok(())
    }
}

/// The RDB of a backup in a temp file: a restore reads it twice (checked, then sent),
/// verify has a throwaway server load it.
fn spool_rdb(
    reader: &dyn SnapshotReader,
    snap: SnapshotRef<'_>,
    manifest: &Manifest,
) -> Result<tempfile::TempDir, Error> {
    let file = first_file(manifest, "dump.rdb")?;
    let dir = payload::temp_dir("rdb")?;
    payload::spool(reader, snap, file, &dir.path().join("dump.rdb"))?;
    Ok(dir)
}

/// A running server, restored key by key.
struct Online {
    target: RedisTarget,
    settings: RedisSettings,
}

impl RestoreTarget for Online {
    fn describe(&self) -> String {
        self.target.url()
    }

    fn holds_data(&self) -> Result<bool, Error> {
        Ok(super::target_key_count(&self.target)? > 0)
    }

    fn plan(&self, snapshot: &str, opts: &RestoreOptions) -> Vec<String> {
        let target = self.describe();
        if !(self.settings.flush || opts.delete) {
            return vec![format!(
                "merge: snapshot {snapshot} into {target} key by key (RESTORE), no restart, \
                 no config change"
            )];
        }
        let clean = if self.settings.flush { "" } else { "--clean: " };
        vec![format!(
            "{clean}replace everything in {target} with snapshot {snapshot}: loaded as a \
             whole file by full sync (REPLICAOF lifeboat for the load, then REPLICAOF NO ONE) \
             when the target is a master without replicas, else FLUSHALL and key by key \
             (RESTORE); no restart, no config change"
        )]
    }

    fn safety_kind(&self) -> SourceKind {
        SourceKind::Redis(RedisSettings {
            url: self.target.url(),
            ..self.settings.clone()
        })
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        opts: &RestoreOptions,
        cancel: &CancelToken,
    ) -> Result<(), Error> {
        let manifest = reader.manifest(snap.id)?;
        let dir = spool_rdb(reader, snap, &manifest)?;
        // `--clean` empties the target even where `flush = false` merges.
        super::restore_online_cancellable(
            &dir.path().join("dump.rdb"),
            &self.target,
            self.settings.flush || opts.delete,
            cancel,
        )?;
        Ok(())
    }
}

/// A stopped server's data dir, given a new `dump.rdb`.
struct Offline {
    dir: PathBuf,
}

impl RestoreTarget for Offline {
    fn describe(&self) -> String {
        self.dir.join("dump.rdb").display().to_string()
    }

    fn holds_data(&self) -> Result<bool, Error> {
        Ok(self.dir.join("dump.rdb").exists())
    }

    fn plan(&self, snapshot: &str, _opts: &RestoreOptions) -> Vec<String> {
        vec![format!(
            "write snapshot {snapshot} as {} (atomic rename); the server must be stopped",
            self.describe()
        )]
    }

    /// A stopped server's data: keep its whole data dir as files.
    fn safety_kind(&self) -> SourceKind {
        SourceKind::Files(FilesSettings {
            path: self.dir.clone(),
            exclude: Vec::new(),
        })
    }

    fn restore(
        &self,
        reader: &dyn SnapshotReader,
        snap: SnapshotRef<'_>,
        _opts: &RestoreOptions,
        _cancel: &CancelToken,
    ) -> Result<(), Error> {
        let manifest = reader.manifest(snap.id)?;
        let spooled = spool_rdb(reader, snap, &manifest)?;
        let mut rdb = std::fs::File::open(spooled.path().join("dump.rdb"))
            .context("reading the spooled RDB")?;
        super::restore_offline(&mut rdb, &self.dir)?;
        Ok(())
    }
}

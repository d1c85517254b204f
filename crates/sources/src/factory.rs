//! The one match on the source kind outside config validation: a configured source
//! becomes its adapter, and every kind's work lives in that kind's module.

use lifeboat_core::ports::{Source, SourceFactory};
use lifeboat_core::{Error, SourceKind, SourceSpec};

/// The real adapters, one per kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Adapters;

impl SourceFactory for Adapters {
    fn adapter(&self, spec: &SourceSpec) -> Result<Box<dyn Source>, Error> {
        Ok(adapter(spec))
    }
}

/// The adapter of `spec`'s kind.
pub fn adapter(spec: &SourceSpec) -> Box<dyn Source> {
    let verify_sql = spec.verify_sql.clone();
    match &spec.kind {
        SourceKind::Postgres(s) => Box::new(crate::postgres::adapter::PostgresSource {
            settings: s.clone(),
            verify_sql,
        }),
        SourceKind::Mysql(s) => Box::new(crate::mysql::adapter::MysqlSource {
            settings: s.clone(),
            verify_sql,
        }),
        SourceKind::Redis(s) => Box::new(crate::redis::adapter::RedisSource {
            settings: s.clone(),
        }),
        SourceKind::Sqlite(s) => Box::new(crate::sqlite::adapter::SqliteSource {
            settings: s.clone(),
        }),
        SourceKind::Files(s) => Box::new(crate::files::adapter::FilesSource {
            settings: s.clone(),
        }),
        SourceKind::Command(s) => Box::new(crate::command::adapter::CommandSource {
            settings: s.clone(),
        }),
        SourceKind::Bucket(s) => Box::new(crate::bucket::adapter::BucketSource {
            settings: s.clone(),
        }),
    }
}

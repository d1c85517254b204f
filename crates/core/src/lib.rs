//! Pure domain of lifeboat: the configuration model, source selection, manifests,
//! snapshot naming, retention and secrets. No IO of its own, no clock: time is always
//! an argument.

pub mod ahead;
pub mod cancel;
pub mod duration;
pub mod error;
pub mod event;
pub mod fill;
pub mod layout;
pub mod manifest;
pub mod model;
pub mod notify;
pub mod ports;
pub mod report;
pub mod restore_order;
pub mod retention;
pub mod schedule;
pub mod secret;
pub mod selector;
pub mod size;

pub use ahead::{Ahead, Watch};
pub use cancel::{CancelToken, Cancelled};
pub use error::{Context, Error, ErrorKind};
pub use event::{Event, Events, NoEvents, RecordedEvents};
pub use fill::read_full;
pub use manifest::{Facts, Manifest, MysqlDatabase, TableCount};
pub use model::{
    AppSpec, BucketSettings, CommandSettings, Config, CopySpec, DaemonSpec, FilesSettings,
    MysqlDatabases, MysqlSettings, PostgresSettings, RedisRestoreMode, RedisSettings,
    RepositorySpec, Schedules, SourceKind, SourceSpec, SqliteSettings,
};
pub use notify::NotifySpec;
pub use report::{RestoreOptions, VerifyReport};
pub use restore_order::{restore_order, Cycle};
pub use retention::{Candidate, Decision, KeepWithin, Retention, RetentionPolicy};
pub use schedule::Schedule;
pub use secret::{Redactor, Secret};
pub use selector::{Selector, SelectorError};

//! The `postgres` kind: `pg_dump --format=custom` from an exported snapshot, exact row
//! counts from that same snapshot, and `pg_restore --clean --if-exists`.

pub mod adapter;
mod archive;
mod backup;
pub mod cluster;
mod conn;
mod database;
mod locks;
mod offsets;
mod restore;
mod restore_target;
mod tools;
pub mod verify;

pub use backup::start_backup;
pub use conn::PgTarget;
pub use database::{DatabaseSpec, HeadSink};
pub use locks::LockWatch;
pub use restore::{
    apply_database_settings, prepare_target, ready_database, restore_spooled, start_restore,
    PgRestore, TargetState,
};
pub use tools::{find_tool, parse_major, PgTool};

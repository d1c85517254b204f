//! The `redis` kind: an RDB snapshot fetched over the replication protocol; restored
//! online (keys moved into a running server with `DUMP`/`RESTORE`, through a throwaway
//! server that loads the RDB) or offline (`dump.rdb` written into a data dir).

pub mod adapter;
mod backup;
mod client;
mod framing;
mod resp;
mod restore;
mod target;

pub use backup::start_backup;
pub use client::{info_field, parse_keyspace, parse_keyspace_expires, Conn};
pub use resp::Value;
pub use restore::{
    key_counts, keyspace_counts, restore_offline, restore_online, target_key_count, RestoreStats,
};
pub use target::RedisTarget;

/// Every RDB file starts with these bytes (then a four-digit format version).
pub const RDB_MAGIC: &[u8] = b"REDIS";

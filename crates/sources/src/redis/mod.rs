//! The `redis` kind: an RDB snapshot fetched over the replication protocol; restored
//! online (loaded by a running server as a replica of lifeboat, or every key of the
//! RDB sent to it with `RESTORE`) or offline
//! (`dump.rdb` written into a data dir).

pub mod adapter;
mod backup;
mod client;
mod crc64;
mod framing;
mod lzf;
mod pipeline;
mod rdb;
mod replica_load;
mod resp;
mod restore;
mod target;
mod via_server;

pub use backup::start_backup;
pub use client::{info_field, parse_keyspace, parse_keyspace_expires, Conn};
pub use resp::Value;
pub use restore::{
    key_counts, keyspace_counts, restore_offline, restore_online, restore_online_cancellable,
    target_key_count, RestoreStats,
};
pub use target::RedisTarget;

/// Every RDB file starts with these bytes (then a four-digit format version).
pub const RDB_MAGIC: &[u8] = b"REDIS";

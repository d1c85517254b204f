//! Reading an RDB file key by key, without a server. Each value is kept exactly as the
//! file serializes it: those bytes, behind the type byte and followed by the RDB
//! version and a CRC64, are what `DUMP` returns and `RESTORE` takes (Redis builds both
//! with `rdbSaveObject` and reads both with `rdbLoadObject`). So a restore can send
//! the backup's keys to the target directly, with no throwaway server loading the file
//! and no `DUMP` per key: the target's `RESTORE` becomes the only per-key cost.
//!
//! The reader knows the formats up to RDB version 12 (Redis 7.4 and 8); anything it does
//! not know is [`RdbError::Unreadable`], and the caller falls back to a throwaway server.
//! Values are walked just far enough to find their end (strings are never decompressed),
//! and the file's own checksum is verified at its end.

use super::{crc64, lzf};
use std::io::{self, BufRead};

/// The newest RDB format version this reader knows.
pub const MAX_VERSION: u16 = 12;

// Opcodes (rdb.h).
const OP_SLOT_INFO: u8 = 244;
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION_PRE_GA: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

/// The highest value type (`RDB_TYPE_HASH_LISTPACK_EX`).
const MAX_TYPE: u8 = 25;

#[derive(Debug)]
pub enum RdbError {
    Io(io::Error),
    /// Not an RDB this reader understands: newer, unknown parts, or damaged.
    Unreadable(String),
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RdbError::Io(e) => write!(f, "{e}"),
            RdbError::Unreadable(why) => f.write_str(why),
        }
    }
}

type Result<T> = std::result::Result<T, RdbError>;

/// One key of the file.
#[derive(Debug)]
pub struct Entry {
    pub db: u32,
    pub key: Vec<u8>,
    /// Absolute expiry in ms since the epoch.
    pub expire_at: Option<i64>,
    /// The `DUMP` payload of the value (empty when values are not kept).
    pub payload: Vec<u8>,
    /// A collection without elements: Redis skips those when it loads a file, and
    /// `RESTORE` refuses them.
    pub empty: bool,
}

/// How a length field reads (`rdbLoadLen`): a length, or a string's special encoding.
enum Len {
    Plain(u64),
    /// An integer stored in this many bytes, little endian.
    Int(u64),
    Lzf,
}

/// Collections serialized as one string; where their element count sits in it.
#[derive(Clone, Copy)]
enum Blob {
    Zipmap,
    Ziplist,
    Intset,
    Listpack,
}

impl Blob {
    /// The element count from the blob's first bytes (`None`: not that short).
    fn count(self, head: &[u8]) -> Option<u32> {
        let u16_at = |at: usize| {
            Some(u32::from(u16::from_le_bytes(
                head.get(at..at + 2)?.try_into().ok()?,
            )))
        };
        match self {
            Blob::Zipmap => head.first().map(|&n| u32::from(n)),
            Blob::Ziplist => u16_at(8),
            Blob::Listpack => u16_at(4),
            Blob::Intset => Some(u32::from_le_bytes(head.get(4..8)?.try_into().ok()?)),
        }
    }
}

pub struct RdbReader<R> {
    src: R,
    /// CRC64 of every byte read so far, to check against the file's trailer.
    crc: u64,
    /// Keep values (restore) or only walk past them (check).
    keep_values: bool,
    capturing: bool,
    value: Vec<u8>,
    offset: u64,
    version: u16,
    db: u32,
    finished: bool,
    redis_version: Option<String>,
    /// Module values, module aux data or functions seen: more than plain keys.
    beyond_keys: bool,
}

impl<R: BufRead> RdbReader<R> {
    /// Reads the header (`REDIS` and four digits).
    pub fn open(src: R, keep_values: bool) -> Result<Self> {
        let mut reader = RdbReader {
            src,
            crc: 0,
            keep_values,
            capturing: false,
            value: Vec::new(),
            offset: 0,
            version: 0,
            db: 0,
            finished: false,
            redis_version: None,
            beyond_keys: false,
        };
        let head: [u8; 9] = reader.array()?;
        let version = std::str::from_utf8(&head[5..])
            .ok()
            .and_then(|v| v.parse::<u16>().ok());
        match (&head[..5] == super::RDB_MAGIC, version) {
            (true, Some(v)) if (1..=MAX_VERSION).contains(&v) => reader.version = v,
            (true, Some(v)) => {
                return Err(RdbError::Unreadable(format!(
                    "RDB format version {v} is newer than the {MAX_VERSION} this lifeboat reads"
                )))
            }
            _ => return Err(RdbError::Unreadable("not an RDB file".into())),
        }
        Ok(reader)
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// The `redis-ver` the file names, once read (it comes first in files from Redis 3.2+).
    pub fn redis_version(&self) -> Option<&str> {
        self.redis_version.as_deref()
    }

    /// True once the file was seen to hold module data or functions, which only a
    /// server with the same modules (and no clashing functions) loads as a whole file.
    pub fn beyond_keys(&self) -> bool {
        self.beyond_keys
    }

    /// The next key, or `None` after the end of the file (its checksum verified).
    pub fn next_entry(&mut self) -> Result<Option<Entry>> {
        let mut expire_at = None;
        while !self.finished {
            match self.byte()? {
                OP_EXPIRETIME_MS => expire_at = Some(i64::from_le_bytes(self.array()?)),
                OP_EXPIRETIME => {
                    expire_at = Some(i64::from(i32::from_le_bytes(self.array()?)) * 1000);
                }
                OP_FREQ => self.skip(1)?,
                OP_IDLE => self.lengths(1)?,
                OP_SELECTDB => {
                    let db = self.length()?;
                    self.db = u32::try_from(db).map_err(|_| self.bad("database number"))?;
                }
                OP_RESIZEDB => self.lengths(2)?,
                OP_SLOT_INFO => self.lengths(3)?,
                OP_AUX => self.aux()?,
                OP_MODULE_AUX => {
                    self.beyond_keys = true;
                    self.lengths(3)?;
                    self.skip_module_value()?;
                }
                OP_FUNCTION2 => {
                    self.beyond_keys = true;
                    self.skip_string()?;
                }
                OP_EOF => self.trailer()?,
                OP_FUNCTION_PRE_GA => return Err(self.bad("pre-release (7.0 RC) functions")),
                kind if kind <= MAX_TYPE => return self.entry(kind, expire_at).map(Some),
                other => return Err(self.bad(&format!("opcode or value type {other}"))),
            }
        }
        Ok(None)
    }

    fn entry(&mut self, kind: u8, expire_at: Option<i64>) -> Result<Entry> {
        let key = self.string()?;
        self.value.clear();
        self.value.push(kind);
        self.capturing = self.keep_values;
        let empty = self.skip_value(kind);
        self.capturing = false;
        let empty = empty?;
        let payload = if self.keep_values {
            dump_payload(std::mem::take(&mut self.value), self.version)
        } else {
            Vec::new()
        };
        Ok(Entry {
            db: self.db,
            key,
            expire_at,
            payload,
            empty,
        })
    }

    fn aux(&mut self) -> Result<()> {
        let name = self.string()?;
        let value = self.string()?;
        if name == b"redis-ver" {
            self.redis_version = Some(String::from_utf8_lossy(&value).into_owned());
        }
        Ok(())
    }

    /// `EOF`, then (version 5+) the CRC64 of everything before it; 0 means the server
    /// had `rdbchecksum no`.
    fn trailer(&mut self) -> Result<()> {
        self.finished = true;
        if self.version < 5 {
            return Ok(());
        }
        let computed = self.crc;
        let stored = u64::from_le_bytes(self.array()?);
        if stored != 0 && stored != computed {
            return Err(RdbError::Unreadable(
                "the RDB's checksum does not match its contents".into(),
            ));
        }
        Ok(())
    }

    /// Walks past one value of type `kind`; true when it is an empty collection.
    fn skip_value(&mut self, kind: u8) -> Result<bool> {
        match kind {
            0 => self.skip_string().map(|_| false),
            // List, set; quicklist (of ziplists).
            1 | 2 | 14 => self.counted(|r| r.skip_string()),
            // Sorted set with scores as text, hash, sorted set with binary scores.
            3 => self.counted(|r| {
                r.skip_string()?;
                r.skip_text_double()
            }),
            4 => self.counted(|r| r.skip_strings(2)),
            5 => self.counted(|r| {
                r.skip_string()?;
                r.skip(8)
            }),
            6 => Err(self.bad("pre-release (4.0 RC) module value")),
            7 => {
                self.beyond_keys = true;
                self.lengths(1)?;
                self.skip_module_value().map(|_| false)
            }
            9 => self.skip_blob(Blob::Zipmap),
            10 | 12 | 13 => self.skip_blob(Blob::Ziplist),
            11 => self.skip_blob(Blob::Intset),
            16 | 17 | 20 | 23 => self.skip_blob(Blob::Listpack),
            // Hash listpack with field expiries: the minimum expiry first.
            25 => {
                self.skip(8)?;
                self.skip_blob(Blob::Listpack)
            }
            // Quicklist 2: per node, its container kind and the node.
            18 => self.counted(|r| {
                r.lengths(1)?;
                r.skip_string()
            }),
            15 | 19 | 21 => self.skip_stream(kind).map(|_| false),
            // Hash with field expiries: per field its ttl, name and value (24: after
            // the minimum expiry).
            22 => self.counted(|r| {
                r.lengths(1)?;
                r.skip_strings(2)
            }),
            24 => {
                self.skip(8)?;
                self.counted(|r| {
                    r.lengths(1)?;
                    r.skip_strings(2)
                })
            }
            other => Err(self.bad(&format!("value type {other}"))),
        }
    }

    /// A count, then that many elements; true when the count is 0.
    fn counted(&mut self, mut each: impl FnMut(&mut Self) -> Result<()>) -> Result<bool> {
        let n = self.length()?;
        for _ in 0..n {
            each(self)?;
        }
        Ok(n == 0)
    }

    /// Listpacks with their master ids, metadata, consumer groups with their pending
    /// entries and consumers (`RDB_TYPE_STREAM_LISTPACKS`, `_2` from 7.0, `_3` 7.2).
    fn skip_stream(&mut self, kind: u8) -> Result<()> {
        let nodes = self.length()?;
        for _ in 0..nodes {
            self.skip_strings(2)?;
        }
        // Length and last id; then first id, max deleted id, entries added.
        self.lengths(3)?;
        if kind >= 19 {
            self.lengths(5)?;
        }
        let groups = self.length()?;
        for _ in 0..groups {
            self.skip_string()?;
            self.lengths(if kind >= 19 { 3 } else { 2 })?;
            let pending = self.length()?;
            for _ in 0..pending {
                // Entry id, delivery time, delivery count.
                self.skip(16 + 8)?;
                self.lengths(1)?;
            }
            let consumers = self.length()?;
            for _ in 0..consumers {
                self.skip_string()?;
                // Seen time, and active time from 7.2.
                self.skip(if kind >= 21 { 16 } else { 8 })?;
                let owned = self.length()?;
                let bytes = owned
                    .checked_mul(16)
                    .ok_or_else(|| self.bad("pending list"))?;
                self.skip(bytes)?;
            }
        }
        Ok(())
    }

    /// A module value in the self-describing format 2: typed fields up to an EOF.
    fn skip_module_value(&mut self) -> Result<()> {
        loop {
            match self.length()? {
                0 => return Ok(()),
                1 | 2 => self.lengths(1)?,
                3 => self.skip(4)?,
                4 => self.skip(8)?,
                5 => self.skip_string()?,
                other => return Err(self.bad(&format!("module field type {other}"))),
            }
        }
    }

    /// A score as text: a length byte (253-255: NaN, +inf, -inf) and the digits.
    fn skip_text_double(&mut self) -> Result<()> {
        match self.byte()? {
            len @ 0..=252 => self.skip(u64::from(len)),
            _ => Ok(()),
        }
    }

    /// A string holding a whole collection; true when its header counts no elements.
    fn skip_blob(&mut self, blob: Blob) -> Result<bool> {
        match self.len()? {
            Len::Plain(n) => {
                let head_len = n.min(16);
                let mut head = Vec::with_capacity(16);
                self.pull(head_len, Some(&mut head))?;
                self.skip(n - head_len)?;
                Ok(blob.count(&head) == Some(0))
            }
            // Compressed: longer than 20 bytes, so not an empty collection.
            Len::Lzf => self.skip_lzf().map(|_| false),
            Len::Int(bytes) => self.skip(bytes).map(|_| false),
        }
    }

    fn skip_strings(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            self.skip_string()?;
        }
        Ok(())
    }

    fn skip_string(&mut self) -> Result<()> {
        match self.len()? {
            Len::Plain(n) | Len::Int(n) => self.skip(n),
            Len::Lzf => self.skip_lzf(),
        }
    }

    fn skip_lzf(&mut self) -> Result<()> {
        let compressed = self.length()?;
        self.lengths(1)?;
        self.skip(compressed)
    }

    /// A string decoded: integers as decimal text, LZF decompressed.
    fn string(&mut self) -> Result<Vec<u8>> {
        match self.len()? {
            Len::Plain(n) => {
                let mut out = Vec::new();
                self.pull(n, Some(&mut out))?;
                Ok(out)
            }
            Len::Int(bytes) => {
                let mut raw = Vec::with_capacity(8);
                self.pull(bytes, Some(&mut raw))?;
                // Sign-extend the little-endian integer.
                let fill = if raw.last().is_some_and(|b| b & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                raw.resize(8, fill);
                let mut word = [0u8; 8];
                word.copy_from_slice(&raw);
                Ok(i64::from_le_bytes(word).to_string().into_bytes())
            }
            Len::Lzf => {
                let compressed = self.length()?;
                let len = self.length()?;
                let mut data = Vec::new();
                self.pull(compressed, Some(&mut data))?;
                let len = usize::try_from(len).map_err(|_| self.bad("string length"))?;
                lzf::decompress(&data, len).ok_or_else(|| self.bad("compressed string"))
            }
        }
    }

    /// A length or a string encoding (`rdbLoadLenByRef`).
    fn len(&mut self) -> Result<Len> {
        let first = self.byte()?;
        let low = u64::from(first & 0x3f);
        match first >> 6 {
            0 => Ok(Len::Plain(low)),
            1 => Ok(Len::Plain(low << 8 | u64::from(self.byte()?))),
            3 => match low {
                0 => Ok(Len::Int(1)),
                1 => Ok(Len::Int(2)),
                2 => Ok(Len::Int(4)),
                3 => Ok(Len::Lzf),
                _ => Err(self.bad("string encoding")),
            },
            _ => match first {
                0x80 => Ok(Len::Plain(u64::from(u32::from_be_bytes(self.array()?)))),
                0x81 => Ok(Len::Plain(u64::from_be_bytes(self.array()?))),
                _ => Err(self.bad("length")),
            },
        }
    }

    fn length(&mut self) -> Result<u64> {
        match self.len()? {
            Len::Plain(n) => Ok(n),
            _ => Err(self.bad("length")),
        }
    }

    /// Reads `n` lengths whose values do not matter here.
    fn lengths(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            self.length()?;
        }
        Ok(())
    }

    fn byte(&mut self) -> Result<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        let buf = self.src.fill_buf().map_err(RdbError::Io)?;
        if buf.len() >= N {
            out.copy_from_slice(&buf[..N]);
            self.src.consume(N);
            self.account(&out);
        } else {
            // Across the end of the buffer: the slow way.
            let mut bytes = Vec::with_capacity(N);
            self.pull(N as u64, Some(&mut bytes))?;
            out.copy_from_slice(&bytes);
        }
        Ok(out)
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        self.pull(n, None)
    }

    /// Consumes `n` bytes (into `into` when given), growing buffers only as bytes
    /// arrive: lengths come from the file.
    fn pull(&mut self, mut n: u64, mut into: Option<&mut Vec<u8>>) -> Result<()> {
        while n > 0 {
            let buf = self.src.fill_buf().map_err(RdbError::Io)?;
            if buf.is_empty() {
                return Err(RdbError::Unreadable(format!(
                    "the RDB ends in the middle (after {} bytes)",
                    self.offset
                )));
            }
            let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            let chunk = &buf[..take];
            self.crc = crc64::update(self.crc, chunk);
            if self.capturing {
                self.value.extend_from_slice(chunk);
            }
            if let Some(out) = into.as_deref_mut() {
                out.extend_from_slice(chunk);
            }
            self.src.consume(take);
            self.offset += take as u64;
            n -= take as u64;
        }
        Ok(())
    }

    /// Bookkeeping for bytes read outside [`RdbReader::pull`].
    fn account(&mut self, bytes: &[u8]) {
        self.crc = crc64::update(self.crc, bytes);
        if self.capturing {
            self.value.extend_from_slice(bytes);
        }
        self.offset += bytes.len() as u64;
    }

    fn bad(&self, what: &str) -> RdbError {
        RdbError::Unreadable(format!(
            "unsupported or damaged {what} at byte {} of the RDB",
            self.offset
        ))
    }
}

/// A `DUMP` payload: the type byte and value, then the RDB version and the CRC64 of
/// all that, both little endian. `RESTORE` accepts versions up to its own.
pub fn dump_payload(mut value: Vec<u8>, version: u16) -> Vec<u8> {
    value.reserve(10);
    value.extend_from_slice(&version.to_le_bytes());
    let crc = crc64::update(0, &value);
    value.extend_from_slice(&crc.to_le_bytes());
    value
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::redis::Value;
    use crate::scratch::redis::ScratchRedis;

    fn entries(bytes: &[u8]) -> Result<Vec<Entry>> {
        let mut reader = RdbReader::open(bytes, true)?;
        let mut all = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            all.push(entry);
        }
        Ok(all)
    }

    /// A file: header, `body`, EOF and the checksum.
    fn file(body: &[u8]) -> Vec<u8> {
        let mut bytes = [b"REDIS0010".as_slice(), body, &[OP_EOF]].concat();
        let crc = crc64::update(0, &bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    fn value_of(payload: &[u8]) -> &[u8] {
        &payload[..payload.len() - 10]
    }

    #[test]
    fn reads_keys_dbs_expiries_and_encoded_names() {
        let body = [
            &[OP_AUX, 9][..],
            b"redis-ver",
            &[6],
            b"7.0.15",
            &[OP_SELECTDB, 3, OP_RESIZEDB, 2, 1],
            // "k" = "v", expiring at 1234567890123 ms.
            &[OP_EXPIRETIME_MS],
            &1_234_567_890_123i64.to_le_bytes(),
            &[0, 1, b'k', 1, b'v'],
            // An integer-encoded name (-2 in 16 bits) with an LZF value.
            &[
                OP_FREQ, 5, 0, 0xc1, 0xfe, 0xff, 0xc3, 6, 10, 2, b'a', b'b', b'c', 0xa0, 2,
            ],
            // An LZF-encoded name: "xyzxyzxyzx" (the value stays compressed).
            &[OP_SELECTDB, 0, OP_EXPIRETIME],
            &100i32.to_le_bytes(),
            &[0, 0xc3, 6, 10, 2, b'x', b'y', b'z', 0xa0, 2, 0xc0, 7],
        ]
        .concat();
        let all = entries(&file(&body)).unwrap();
        let summary: Vec<_> = all
            .iter()
            .map(|e| {
                (
                    e.db,
                    e.key.clone(),
                    e.expire_at,
                    value_of(&e.payload).to_vec(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (3, b"k".to_vec(), Some(1_234_567_890_123), vec![0, 1, b'v']),
                (
                    3,
                    b"-2".to_vec(),
                    None,
                    vec![0, 0xc3, 6, 10, 2, b'a', b'b', b'c', 0xa0, 2]
                ),
                (0, b"xyzxyzxyzx".to_vec(), Some(100_000), vec![0, 0xc0, 7]),
            ]
        );
        let bytes = file(&body);
        let mut reader = RdbReader::open(bytes.as_slice(), false).unwrap();
        assert!(reader.next_entry().unwrap().unwrap().payload.is_empty());
        assert_eq!(reader.redis_version(), Some("7.0.15"));
        assert_eq!(reader.version(), 10);
    }

    #[test]
    fn payloads_carry_the_version_and_a_checksum() {
        let payload = dump_payload(vec![0, 1, b'v'], 10);
        assert_eq!(&payload[..5], &[0, 1, b'v', 10, 0]);
        assert_eq!(payload[5..], crc64::update(0, &payload[..5]).to_le_bytes());
    }

    #[test]
    fn flags_empty_collections() {
        // An empty list, an empty ziplist-encoded sorted set, and a set that is not.
        let mut empty_ziplist = vec![11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xff];
        empty_ziplist.insert(0, 11);
        let body = [
            &[1, 1, b'l', 0][..],
            &[12, 1, b'z'],
            &empty_ziplist,
            &[2, 1, b's', 1, 1, b'm'],
        ]
        .concat();
        let empty: Vec<bool> = entries(&file(&body))
            .unwrap()
            .iter()
            .map(|e| e.empty)
            .collect();
        assert_eq!(empty, vec![true, true, false]);
    }

    #[test]
    fn refuses_what_it_does_not_know_or_what_is_damaged() {
        let unreadable = |bytes: &[u8]| match entries(bytes) {
            Err(RdbError::Unreadable(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(unreadable(b"REDIS0013").contains("newer"));
        assert!(unreadable(b"HELLO0010").contains("not an RDB"));
        assert!(unreadable(b"REDIS0010\x00\x01k\x05ab").contains("ends in the middle"));
        assert!(unreadable(&file(&[6, 1, b'k'])).contains("module"));
        assert!(unreadable(&file(&[8, 1, b'k'])).contains("value type 8"));
        assert!(unreadable(&file(&[30, 1, b'k'])).contains("value type 30"));
        let mut bad_sum = file(&[0, 1, b'k', 1, b'v']);
        let last = bad_sum.len() - 1;
        bad_sum[last] ^= 1;
        assert!(unreadable(&bad_sum).contains("checksum"));
        // A checksum of 0: written with `rdbchecksum no`, nothing to check.
        let mut no_sum = file(&[0, 1, b'k', 1, b'v']);
        let len = no_sum.len();
        no_sum[len - 8..].fill(0);
        assert_eq!(entries(&no_sum).unwrap().len(), 1);
    }

    fn call(server: &ScratchRedis, args: &[&[u8]]) -> Value {
        server.admin().unwrap().call(args).unwrap()
    }

    /// Keys of every type and encoding the local redis-server writes.
    fn fill(server: &ScratchRedis) {
        let mut c = server.admin().unwrap();
        let mut run = |args: &[&[u8]]| {
            c.call(args).unwrap();
        };
        run(&[b"SET", b"small", b"v"]);
        run(&[b"SET", b"12345", b"an integer-encoded name"]);
        run(&[b"SET", b"int-value", b"-7000000"]);
        let long_name = "compressible-name-".repeat(5);
        run(&[b"SET", long_name.as_bytes(), &[b'z'; 5000]]);
        run(&[b"SET", b"ttl", b"v", b"PX", b"9000000"]);
        run(&[b"PFADD", b"hll", b"a", b"b"]);
        run(&[b"RPUSH", b"list-small", b"a", b"1", b"\x00"]);
        run(&[b"SADD", b"set-ints", b"1", b"2", b"-3"]);
        run(&[b"SADD", b"set-small", b"x", b"y"]);
        run(&[b"ZADD", b"zset-small", b"1.5", b"a", b"-inf", b"b"]);
        run(&[b"HSET", b"hash-small", b"f", b"v"]);
        for i in 0..300 {
            let i = i.to_string();
            let member = format!("member-{i}-{}", "x".repeat(80));
            run(&[b"RPUSH", b"list-big", member.as_bytes()]);
            run(&[b"SADD", b"set-big", member.as_bytes()]);
            run(&[b"ZADD", b"zset-big", i.as_bytes(), member.as_bytes()]);
            run(&[b"HSET", b"hash-big", member.as_bytes(), i.as_bytes()]);
        }
        run(&[b"XADD", b"stream", b"1-1", b"f", b"v"]);
        run(&[b"XADD", b"stream", b"2-1", b"f", b"w"]);
        run(&[b"XGROUP", b"CREATE", b"stream", b"g", b"0"]);
        run(&[
            b"XREADGROUP",
            b"GROUP",
            b"g",
            b"alice",
            b"COUNT",
            b"1",
            b"STREAMS",
            b"stream",
            b">",
        ]);
        run(&[b"SELECT", b"7"]);
        run(&[b"SET", b"in-db7", b"yes"]);
        run(&[b"EXPIREAT", b"in-db7", b"4000000000"]);
    }

    #[test]
    fn payloads_are_what_dump_returns_for_every_type() {
        let server = ScratchRedis::start(None).unwrap();
        fill(&server);
        call(&server, &[b"SAVE"]);
        let rdb = std::fs::read(server.dir().join("dump.rdb")).unwrap();
        let all = entries(&rdb).unwrap();
        assert_eq!(all.len(), 17);
        let mut conn = server.admin().unwrap();
        for entry in &all {
            let db = entry.db.to_string();
            conn.call(&[b"SELECT", db.as_bytes()]).unwrap();
            let name = String::from_utf8_lossy(&entry.key).into_owned();
            let dumped = conn.call(&[b"DUMP", &entry.key]).unwrap();
            assert_eq!(dumped, Value::Bulk(entry.payload.clone()), "{name}");
            let at = conn.call(&[b"PEXPIRETIME", &entry.key]).unwrap();
            assert_eq!(at, Value::Int(entry.expire_at.unwrap_or(-1)), "{name}");
            assert!(!entry.empty, "{name}");
        }
    }
}

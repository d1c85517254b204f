//! Reading a `pg_dump --format=custom` archive: its header and table of contents (the
//! tables, every entry's data offset, the entries about the database itself). The rows
//! of a `--compress=0` archive are counted as it streams past by [`RowCounter`] in
//! `rows`, so the manifest's exact row counts cost no second scan of the database.
//!
//! Archive layout (pg_backup_archiver.c, pg_backup_custom.c): header, table of
//! contents, then data blocks `[type byte][dumpId][(len, bytes)…][0]`. Integers are
//! a sign byte plus `intSize` little-endian bytes; strings are a length integer
//! (-1 for NULL) plus bytes. Any surprise stops counting; the caller then counts with
//! SQL in the same snapshot instead.

mod rows;

pub use rows::{CountingReader, RowCounter};

use std::collections::HashMap;

pub(super) const BLK_DATA: u8 = 1;
pub(super) const BLK_BLOBS: u8 = 3;

/// Not enough bytes yet, or not an archive we understand.
#[derive(Debug)]
pub(super) enum Need {
    More,
    Invalid(String),
}

/// A cursor over buffered bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    int_size: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Need> {
        let end = self.pos.checked_add(n).ok_or(Need::More)?;
        let bytes = self.buf.get(self.pos..end).ok_or(Need::More)?;
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, Need> {
        Ok(self.take(1)?[0])
    }

    fn int(&mut self) -> Result<i64, Need> {
        let size = self.int_size;
        Ok(decode_int(self.take(1 + size)?))
    }

    fn string(&mut self) -> Result<Option<String>, Need> {
        Ok(self
            .raw()?
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned()))
    }

    /// A string's bytes as stored (SQL in the database's encoding, maybe not UTF-8).
    fn raw(&mut self) -> Result<Option<&[u8]>, Need> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| Need::Invalid("string length".into()))?;
        Ok(Some(self.take(len)?))
    }
}

/// An archive integer: a sign byte, then little-endian magnitude bytes.
pub(super) fn decode_int(bytes: &[u8]) -> i64 {
    let Some((sign, magnitude)) = bytes.split_first() else {
        return 0;
    };
    let value = magnitude
        .iter()
        .rev()
        .fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
    if *sign == 0 {
        value
    } else {
        -value
    }
}

/// What the header and table of contents told us.
pub(super) struct Toc {
    pub(super) int_size: usize,
    /// Bytes of a data offset (after its flag byte).
    pub(super) off_size: usize,
    /// dumpId → `schema.table` for every TABLE DATA entry.
    tables: HashMap<i64, String>,
    /// Every entry's data offset field: where it is and its flag.
    pub(super) offsets: Vec<OffsetField>,
    /// The entries about the database itself and the session settings, which
    /// `pg_restore` only applies with `--create` (see [`is_database_entry`]).
    pub(super) database: Vec<DbEntry>,
}

/// A TOC entry about the database itself, its SQL kept byte for byte.
#[derive(Debug, Clone)]
pub(super) struct DbEntry {
    pub(super) desc: String,
    pub(super) tag: String,
    pub(super) defn: Vec<u8>,
    pub(super) owner: String,
}

/// DATABASE, DATABASE PROPERTIES, the database's COMMENT / ACL / SECURITY LABEL (tag
/// `DATABASE name`), and ENCODING / STDSTRINGS (how to read the SQL of the others).
fn is_database_entry(desc: &str, tag: &str) -> bool {
    match desc {
        "DATABASE" | "DATABASE PROPERTIES" | "ENCODING" | "STDSTRINGS" => true,
        "COMMENT" | "ACL" | "SECURITY LABEL" => tag.starts_with("DATABASE "),
        _ => false,
    }
}

/// A TOC entry's data offset: a flag byte (`K_OFFSET_*`) and `off_size` bytes.
pub(super) struct OffsetField {
    pub(super) id: i64,
    /// Position of the flag byte in the archive.
    pub(super) pos: usize,
    pub(super) flag: u8,
}

fn version_at_least(v: (u8, u8), want: (u8, u8)) -> bool {
    v >= want
}

pub(super) fn parse_head(buf: &[u8]) -> Result<(Toc, usize), Need> {
    parse_toc(buf, false)
}

/// The header and TOC; `compressed` archives are accepted when only the TOC matters.
pub(super) fn parse_toc(buf: &[u8], compressed_ok: bool) -> Result<(Toc, usize), Need> {
    let mut c = Cursor {
        buf,
        pos: 0,
        int_size: 4,
    };
    if c.take(5)? != b"PGDMP" {
        return Err(Need::Invalid("not a custom-format archive".into()));
    }
    let (major, minor, _rev) = (c.byte()?, c.byte()?, c.byte()?);
    let v = (major, minor);
    if !version_at_least(v, (1, 12)) || version_at_least(v, (1, 17)) {
        return Err(Need::Invalid(format!(
            "archive version {major}.{minor} is not known"
        )));
    }
    c.int_size = usize::from(c.byte()?);
    let off_size = usize::from(c.byte()?);
    if c.byte()? != 1 {
        return Err(Need::Invalid("not the custom format".into()));
    }
    let compressed = if version_at_least(v, (1, 15)) {
        i64::from(c.byte()?)
    } else {
        c.int()?
    };
    if compressed != 0 && !compressed_ok {
        return Err(Need::Invalid("the archive is compressed".into()));
    }
    for _ in 0..7 {
        c.int()?; // creation time
    }
    for _ in 0..3 {
        c.string()?; // database name, server version, pg_dump version
    }
    let count = c.int()?;
    let mut tables = HashMap::new();
    let mut offsets = Vec::new();
    let mut database = Vec::new();
    for _ in 0..count {
        let id = c.int()?;
        c.int()?; // had dumper
        c.string()?; // table oid
        c.string()?; // oid
        let tag = c.string()?.unwrap_or_default();
        let desc = c.string()?.unwrap_or_default();
        c.int()?; // section
        let keep = is_database_entry(&desc, &tag);
        let defn = match c.raw()? {
            Some(sql) if keep => sql.to_vec(),
            _ => Vec::new(),
        };
        c.raw()?; // drop statement
        c.raw()?; // copy statement
        let namespace = c.string()?.unwrap_or_default();
        c.string()?; // tablespace
        if version_at_least(v, (1, 14)) {
            c.string()?; // table access method
        }
        if version_at_least(v, (1, 16)) {
            c.int()?; // relkind
        }
        let owner = c.string()?.unwrap_or_default();
        c.string()?; // "false": with oids
        while c.string()?.is_some() {} // dependencies, NULL-terminated
        let pos = c.pos;
        let flag = c.take(1 + off_size)?[0]; // data offset (flag + offset)
        offsets.push(OffsetField { id, pos, flag });
        if desc == "TABLE DATA" {
            tables.insert(id, format!("{namespace}.{tag}"));
        } else if keep {
            database.push(DbEntry {
                desc,
                tag,
                defn,
                owner,
            });
        }
    }
    Ok((
        Toc {
            int_size: c.int_size,
            off_size,
            tables,
            offsets,
            database,
        },
        c.pos,
    ))
}

/// Archives built byte by byte, for the tests here and in `rows`, `database`, `offsets`.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn int(v: i64) -> Vec<u8> {
        let mut out = vec![u8::from(v < 0)];
        out.extend_from_slice(&(v.unsigned_abs() as u32).to_le_bytes());
        out
    }

    pub(crate) fn string(s: Option<&str>) -> Vec<u8> {
        match s {
            None => int(-1),
            Some(s) => [int(s.len() as i64), s.as_bytes().to_vec()].concat(),
        }
    }

    pub(crate) fn entry(id: i64, tag: &str, desc: &str, ns: &str) -> Vec<u8> {
        let mut e = [
            int(id),
            int(1),
            string(Some("0")),
            string(Some("0")),
            string(Some(tag)),
            string(Some(desc)),
            int(2),
        ]
        .concat();
        for _ in 0..3 {
            e.extend(string(Some("")));
        }
        e.extend(
            [
                string(Some(ns)),
                string(Some("")),
                string(Some("heap")),
                string(Some("o")),
                string(Some("false")),
            ]
            .concat(),
        );
        e.extend(string(Some("3")));
        e.extend(string(None));
        e.extend([1u8; 9]);
        e
    }

    /// A v1.14 archive with two tables and a blob block (which has no TOC entry).
    pub(crate) fn archive() -> Vec<u8> {
        with_entries(&[
            entry(7, "orders", "TABLE DATA", "public"),
            entry(8, "empty", "TABLE DATA", "billing"),
            entry(9, "orders", "TABLE", "public"),
        ])
    }

    /// A v1.14 archive as pg_dump streams it, with these TOC entries: table data 7
    /// (three rows), 8 (none) and a large-object block 10 (one object).
    pub(crate) fn with_entries(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut a = b"PGDMP".to_vec();
        a.extend([1, 14, 0, 4, 8, 1]);
        a.extend(int(0));
        for _ in 0..7 {
            a.extend(int(1));
        }
        for s in ["shop", "15.18", "15.18"] {
            a.extend(string(Some(s)));
        }
        a.extend(int(entries.len() as i64));
        entries.iter().for_each(|e| a.extend(e));
        a.push(BLK_DATA);
        a.extend(int(7));
        for row in ["1\tx\\ny\n", "2\ty\n", "3\tz\n", "\\.\n\n\n"] {
            a.extend(int(row.len() as i64));
            a.extend(row.as_bytes());
        }
        a.extend(int(0));
        a.push(BLK_DATA);
        a.extend(int(8));
        a.extend(int(0));
        a.push(BLK_BLOBS);
        a.extend(int(10));
        a.extend(int(16385));
        a.extend(int(3));
        a.extend(b"\n\n\n");
        a.extend(int(0));
        a.extend(int(0));
        a
    }
}

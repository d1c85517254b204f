//! Writes the data offsets into the table of contents of a custom-format archive
//! spooled to a file, as `pg_dump` does itself when it writes to a file.
//!
//! Why: a dump streamed through a pipe has no offsets (`K_OFFSET_POS_NOT_SET`), so
//! every `pg_restore --jobs` worker finds a table's data by reading the archive from
//! the start, chunk header by chunk header — and pg_dump writes each row as a chunk of
//! its own. On the 345 MB `shop` dump that cost ~1 s of a 5 s parallel restore. The
//! offsets are fixed-width fields, so they are set in place; nothing else changes.

use super::archive::{decode_int, parse_head, Need, Toc, BLK_BLOBS, BLK_DATA};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// `K_OFFSET_POS_NOT_SET` and `K_OFFSET_POS_SET` of pg_backup_archiver.h.
const OFFSET_NOT_SET: u8 = 1;
const OFFSET_SET: u8 = 2;

/// Sets the data offset of every TOC entry whose data block the archive holds;
/// returns how many were set. On any surprise the file is left as it was.
pub fn set_data_offsets(path: &Path) -> Result<usize, String> {
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let (toc, head_len) = read_head(&file)?;
    let blocks = scan_blocks(&file, head_len, toc.int_size)
        .map_err(|e| format!("reading the data blocks: {e}"))?;
    let fields: HashMap<i64, _> = toc.offsets.iter().map(|f| (f.id, f)).collect();
    let mut patches = Vec::with_capacity(blocks.len());
    for (id, offset) in blocks {
        let field = fields
            .get(&id)
            .ok_or(format!("data block {id} has no TOC entry"))?;
        if field.flag == OFFSET_SET {
            continue;
        }
        if field.flag != OFFSET_NOT_SET {
            return Err(format!("TOC entry {id} says it has no data"));
        }
        let mut bytes = vec![OFFSET_SET];
        bytes.extend((0..toc.off_size).map(|i| (offset >> (8 * i).min(63)) as u8));
        patches.push((field.pos as u64, bytes));
    }
    for (pos, bytes) in &patches {
        file.write_all_at(bytes, *pos)
            .map_err(|e| format!("writing the offsets: {e}"))?;
    }
    Ok(patches.len())
}

/// Parses the header and TOC, reading more of the file until they are complete.
fn read_head(file: &File) -> Result<(Toc, u64), String> {
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let mut want = 1u64 << 20;
    loop {
        let mut buf = vec![0u8; usize::try_from(want.min(len)).map_err(|e| e.to_string())?];
        file.read_exact_at(&mut buf, 0)
            .map_err(|e| format!("reading the table of contents: {e}"))?;
        match parse_head(&buf) {
            Ok((toc, used)) => return Ok((toc, used as u64)),
            Err(Need::Invalid(why)) => return Err(why),
            Err(Need::More) if want >= len => return Err("the archive is truncated".into()),
            Err(Need::More) => want = want.saturating_mul(4),
        }
    }
}

/// The data blocks from `start` to the end: (dumpId, offset of the block's type byte).
fn scan_blocks(file: &File, start: u64, int_size: usize) -> io::Result<Vec<(i64, u64)>> {
    let mut r = Blocks {
        inner: BufReader::with_capacity(1 << 20, file),
        pos: start,
        int_size,
    };
    r.inner.seek(SeekFrom::Start(start))?;
    let mut blocks = Vec::new();
    while let Some(kind) = r.block_type()? {
        let offset = r.pos - 1;
        let id = r.int()?;
        match kind {
            BLK_DATA => r.skip_chunks()?,
            BLK_BLOBS => {
                while r.int()? != 0 {
                    r.skip_chunks()?; // one large object: its oid was read
                }
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown block type {other} at {offset}"),
                ))
            }
        }
        blocks.push((id, offset));
    }
    Ok(blocks)
}

/// A reader over the data section that knows its position.
struct Blocks<'f> {
    inner: BufReader<&'f File>,
    pos: u64,
    int_size: usize,
}

impl Blocks<'_> {
    /// The next block's type byte, or `None` at the end of the archive.
    fn block_type(&mut self) -> io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        match self.inner.read(&mut b)? {
            0 => Ok(None),
            _ => {
                self.pos += 1;
                Ok(Some(b[0]))
            }
        }
    }

    fn int(&mut self) -> io::Result<i64> {
        let mut b = [0u8; 9];
        let bytes = b
            .get_mut(..=self.int_size)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "integer size"))?;
        self.inner.read_exact(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(decode_int(bytes))
    }

    /// Skips `(length, bytes)` chunks up to and including the zero length.
    fn skip_chunks(&mut self) -> io::Result<()> {
        loop {
            let len = self.int()?;
            if len == 0 {
                return Ok(());
            }
            if len < 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "negative chunk length",
                ));
            }
            self.inner.seek_relative(len)?;
            self.pos += len as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::archive::tests::{archive, entry, int, with_entries};
    use super::*;

    /// TOC entries 7 and 8 (table data), 9 (a table, no data) and 10 (large objects).
    fn streamed() -> Vec<u8> {
        with_entries(&[
            entry(7, "orders", "TABLE DATA", "public"),
            entry(8, "empty", "TABLE DATA", "billing"),
            entry(9, "orders", "TABLE", "public"),
            entry(10, "BLOBS", "BLOBS", ""),
        ])
    }

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pgdump");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    /// The offset each entry's field holds, if set.
    fn offsets_in(bytes: &[u8]) -> Vec<(i64, Option<u64>)> {
        let Ok((toc, _)) = parse_head(bytes) else {
            panic!("the head no longer parses")
        };
        toc.offsets
            .iter()
            .map(|f| {
                let raw = &bytes[f.pos + 1..f.pos + 1 + toc.off_size];
                let value = raw
                    .iter()
                    .rev()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                (f.id, (bytes[f.pos] == OFFSET_SET).then_some(value))
            })
            .collect()
    }

    #[test]
    fn each_data_entry_points_at_its_block_and_nothing_else_changes() {
        let before = streamed();
        let (_dir, path) = write(&before);
        assert_eq!(set_data_offsets(&path).unwrap(), 3);
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), before.len());
        let (_, head_len) = parse_head(&before).map_err(|_| ()).unwrap();
        assert_eq!(
            after[head_len..],
            before[head_len..],
            "the data is untouched"
        );
        let offsets = offsets_in(&after);
        assert_eq!(offsets.iter().filter(|(_, o)| o.is_some()).count(), 3);
        for (id, offset) in offsets {
            let Some(offset) = offset else {
                assert_eq!(id, 9, "only the entry without data stays unset");
                continue;
            };
            let at = usize::try_from(offset).unwrap();
            assert!(matches!(after[at], BLK_DATA | BLK_BLOBS), "entry {id}");
            assert_eq!(&after[at + 1..at + 6], &int(id)[..], "entry {id}'s block");
        }
        assert_eq!(
            set_data_offsets(&path).unwrap(),
            0,
            "a second pass finds them set"
        );
    }

    #[test]
    fn a_block_without_an_entry_or_a_foreign_file_is_left_as_it_was() {
        // The shared sample has a large-object block (10) but no TOC entry for it.
        for bytes in [
            archive(),
            b"not an archive at all".to_vec(),
            streamed()[..200].to_vec(),
        ] {
            let (_dir, path) = write(&bytes);
            assert!(set_data_offsets(&path).is_err());
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
    }
}

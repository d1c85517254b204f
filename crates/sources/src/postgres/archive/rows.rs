//! Counts the rows of every table in a `pg_dump --format=custom --compress=0` archive
//! as it streams past. In such an archive each table's data is its COPY text, one line
//! per row (newlines inside values are escaped), framed as length-prefixed chunks.

use super::{parse_head, Cursor, Need, Toc, BLK_BLOBS, BLK_DATA};
use lifeboat_core::TableCount;
use std::collections::HashMap;
use std::io::{self, Read};

/// The end-of-data marker `pg_dump` writes after each table's rows.
const END_OF_COPY: &[u8] = b"\\.\n\n\n";

#[derive(Debug, Clone, Copy)]
enum State {
    Head,
    BlockStart,
    ChunkLen {
        id: i64,
        blob: bool,
    },
    Chunk {
        id: i64,
        blob: bool,
        remaining: usize,
    },
    BlobOid {
        id: i64,
    },
    Failed,
}

/// The incremental parser.
pub struct RowCounter {
    state: State,
    pending: Vec<u8>,
    /// Head parsing restarts from the beginning; retry only when the buffer doubled.
    retry_at: usize,
    toc: Option<Toc>,
    counts: HashMap<i64, u64>,
    /// The table being counted now and its rows so far: pg_dump writes every row as a
    /// chunk of its own and a table's chunks in one run, so this spares a map lookup
    /// per row.
    run: Option<(i64, u64)>,
    failure: Option<String>,
}

impl Default for RowCounter {
    fn default() -> Self {
        Self {
            state: State::Head,
            pending: Vec::new(),
            retry_at: 0,
            toc: None,
            counts: HashMap::new(),
            run: None,
            failure: None,
        }
    }
}

impl RowCounter {
    /// Feeds the next bytes of the archive.
    pub fn feed(&mut self, data: &[u8]) {
        if matches!(self.state, State::Failed) {
            return;
        }
        if self.pending.is_empty() {
            let used = self.step(data);
            self.pending.extend_from_slice(&data[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(data);
            let used = self.step(&buf);
            buf.drain(..used);
            self.pending = buf;
        }
    }

    fn fail(&mut self, why: String) -> usize {
        self.state = State::Failed;
        self.failure = Some(why);
        self.pending = Vec::new();
        0
    }

    /// Consumes what it can of `buf`; returns how many bytes.
    fn step(&mut self, buf: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            if let State::Chunk {
                id,
                blob,
                remaining,
            } = self.state
            {
                let n = remaining.min(rest.len());
                if !blob {
                    let lines = memchr::memchr_iter(b'\n', &rest[..n]).count() as u64;
                    self.add_rows(id, lines);
                }
                pos += n;
                self.state = if n == remaining {
                    State::ChunkLen { id, blob }
                } else {
                    State::Chunk {
                        id,
                        blob,
                        remaining: remaining - n,
                    }
                };
                if pos == buf.len() {
                    return pos;
                }
                continue;
            }
            match self.structured(rest) {
                Ok(used) => pos += used,
                Err(Need::More) => return pos,
                Err(Need::Invalid(why)) => return self.fail(why),
            }
        }
    }

    /// One step of a non-data state over `rest`; returns the bytes it used.
    fn structured(&mut self, rest: &[u8]) -> Result<usize, Need> {
        if let State::Head = self.state {
            if rest.len() < self.retry_at {
                return Err(Need::More);
            }
            return match parse_head(rest) {
                Ok((toc, used)) => {
                    self.toc = Some(toc);
                    self.state = State::BlockStart;
                    Ok(used)
                }
                Err(Need::More) => {
                    // geometric for big tables of contents, every 512 bytes for small ones
                    self.retry_at = rest.len() + rest.len().max(512);
                    Err(Need::More)
                }
                Err(e) => Err(e),
            };
        }
        let int_size = self.toc.as_ref().map_or(4, |t| t.int_size);
        let mut c = Cursor {
            buf: rest,
            pos: 0,
            int_size,
        };
        self.state = match self.state {
            State::BlockStart => match c.byte()? {
                BLK_DATA => State::ChunkLen {
                    id: c.int()?,
                    blob: false,
                },
                BLK_BLOBS => State::BlobOid { id: c.int()? },
                other => return Err(Need::Invalid(format!("unknown block type {other}"))),
            },
            State::ChunkLen { id, blob } => match c.int()? {
                0 if blob => State::BlobOid { id },
                0 => State::BlockStart,
                len => {
                    let remaining =
                        usize::try_from(len).map_err(|_| Need::Invalid("negative chunk".into()))?;
                    if !blob && remaining == END_OF_COPY.len() {
                        // pg_dump ends each table's data with this chunk: not a row.
                        if c.take(remaining)? == END_OF_COPY {
                            self.state = State::ChunkLen { id, blob };
                            return Ok(c.pos);
                        }
                        c.pos -= remaining;
                    }
                    State::Chunk {
                        id,
                        blob,
                        remaining,
                    }
                }
            },
            State::BlobOid { id } => match c.int()? {
                0 => State::BlockStart,
                _ => State::ChunkLen { id, blob: true },
            },
            State::Head | State::Chunk { .. } | State::Failed => {
                return Err(Need::Invalid("parser state".into()))
            }
        };
        Ok(c.pos)
    }

    fn add_rows(&mut self, id: i64, rows: u64) {
        match &mut self.run {
            Some((current, count)) if *current == id => *count += rows,
            _ => {
                self.end_run();
                self.run = Some((id, rows));
            }
        }
    }

    fn end_run(&mut self) {
        if let Some((id, rows)) = self.run.take() {
            *self.counts.entry(id).or_default() += rows;
        }
    }

    /// The row count of every table, if the archive was understood to its end.
    pub fn finish(mut self) -> Result<Vec<TableCount>, String> {
        if matches!(self.state, State::Head) && !self.pending.is_empty() {
            // the last retry may have been deferred
            self.retry_at = 0;
            self.feed(&[]);
        }
        self.end_run();
        if let Some(why) = self.failure {
            return Err(why);
        }
        if !matches!(self.state, State::BlockStart) || !self.pending.is_empty() {
            return Err("the archive ended inside a block".into());
        }
        let toc = self.toc.ok_or("no table of contents")?;
        let mut tables: Vec<TableCount> = toc
            .tables
            .iter()
            .map(|(id, name)| TableCount {
                table: name.clone(),
                rows: self.counts.get(id).copied().unwrap_or(0),
            })
            .collect();
        tables.sort_by(|a, b| a.table.cmp(&b.table));
        Ok(tables)
    }
}

/// Passes an archive through while counting its rows.
pub struct CountingReader<R> {
    inner: R,
    counter: std::sync::Arc<std::sync::Mutex<RowCounter>>,
}

impl<R: Read> CountingReader<R> {
    pub fn new(inner: R, counter: std::sync::Arc<std::sync::Mutex<RowCounter>>) -> Self {
        Self { inner, counter }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .feed(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::archive;
    use super::*;

    fn counts(chunks: impl Iterator<Item = Vec<u8>>) -> Result<Vec<TableCount>, String> {
        let mut c = RowCounter::default();
        for chunk in chunks {
            c.feed(&chunk);
        }
        c.finish()
    }

    #[test]
    fn counts_rows_in_any_chunking() {
        let a = archive();
        let want = vec![
            TableCount {
                table: "billing.empty".into(),
                rows: 0,
            },
            TableCount {
                table: "public.orders".into(),
                rows: 3,
            },
        ];
        assert_eq!(counts(std::iter::once(a.clone())), Ok(want.clone()));
        assert_eq!(counts(a.iter().map(|b| vec![*b])), Ok(want.clone()));
        for size in [2, 3, 7, 64] {
            assert_eq!(
                counts(a.chunks(size).map(<[u8]>::to_vec)),
                Ok(want.clone()),
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn truncated_or_foreign_archives_are_refused() {
        let a = archive();
        assert!(counts(std::iter::once(a[..a.len() - 3].to_vec())).is_err());
        assert!(counts(std::iter::once(b"PGDMPxx".to_vec())).is_err());
        assert!(counts(std::iter::once(b"-- plain SQL".to_vec())).is_err());
    }
}

//! Hashing a payload stream (SHA-256, for its manifest) on a thread of its own, ahead of
//! the archiver that reads it.
//!
//! Why: the archiver's chunking thread is a backup's busiest (rolling hash, then each
//! chunk's SHA-256). Hashing the whole stream there as well cost it ~0.85 s per GiB;
//! here the other core does it while the chunker works. Memory stays bounded: at most
//! `IN_FLIGHT` blocks of `BLOCK` bytes are queued, plus one being filled and one read.

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;

/// 1 MiB blocks: channel traffic negligible beside the hashing.
const BLOCK: usize = 1 << 20;
/// Blocks queued ahead of the archiver at most.
const IN_FLIGHT: usize = 4;

enum Msg {
    Data(Vec<u8>),
    Failed(io::Error),
    /// The stream ended; its SHA-256, hex.
    End(String),
}

/// A `Read` of `inner` whose bytes were hashed on another thread; [`HashAhead::digest`]
/// gives the SHA-256 of everything read once the end was reached.
pub(crate) struct HashAhead {
    rx: Receiver<Msg>,
    /// Empty blocks back to the hashing thread, so that steady state allocates nothing.
    recycle: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    digest: Option<String>,
    done: bool,
}

impl HashAhead {
    pub fn spawn(name: &str, inner: Box<dyn Read + Send>) -> io::Result<Self> {
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let (recycle, spare) = sync_channel(IN_FLIGHT + 1);
        thread::Builder::new()
            .name(format!("hash {name}"))
            .spawn(move || hash_blocks(inner, &tx, &spare))?;
        Ok(Self {
            rx,
            recycle,
            current: Vec::new(),
            pos: 0,
            digest: None,
            done: false,
        })
    }

    /// The SHA-256 (hex) of the whole stream, once a read returned its end.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Makes `current` a block with unread bytes; false at the end of the stream.
    fn refill(&mut self) -> io::Result<bool> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(false);
            }
            let used = std::mem::take(&mut self.current);
            if used.capacity() > 0 {
                let _ = self.recycle.try_send(used);
            }
            self.pos = 0;
            match self.rx.recv() {
                Ok(Msg::Data(block)) => self.current = block,
                Ok(Msg::End(digest)) => {
                    self.digest = Some(digest);
                    self.done = true;
                }
                Ok(Msg::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other(
                        "the stream's hashing thread stopped early",
                    ));
                }
            }
        }
        Ok(true)
    }
}

impl Read for HashAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The hashing thread: fills blocks from `inner`, hashes and sends them on until the
/// end, an error, or the consumer going away (which drops `inner`).
fn hash_blocks(mut inner: Box<dyn Read + Send>, tx: &SyncSender<Msg>, spare: &Receiver<Vec<u8>>) {
    let mut hasher = Sha256::new();
    loop {
        let mut buf = spare.try_recv().unwrap_or_default();
        buf.resize(BLOCK, 0);
        match lifeboat_core::read_full(&mut inner, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                hasher.update(&buf);
                if tx.send(Msg::Data(buf)).is_err() {
                    return;
                }
            }
            Err(e) => {
                drop(inner);
                let _ = tx.send(Msg::Failed(e));
                return;
            }
        }
    }
    drop(inner);
    let _ = tx.send(Msg::End(hex::encode(hasher.finalize())));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Cursor;

    #[test]
    fn gives_every_byte_in_order_and_the_sha256_of_all_of_them_at_the_end() {
        let data: Vec<u8> = (0..3 * BLOCK + 12345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut ahead = HashAhead::spawn("t", Box::new(Cursor::new(data.clone()))).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0; 70_000];
        loop {
            assert_eq!(ahead.digest(), None, "no digest before the end");
            let n = ahead.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, data);
        assert_eq!(
            ahead.digest(),
            Some(hex::encode(Sha256::digest(&data)).as_str())
        );
    }

    #[test]
    fn an_empty_stream_has_the_sha256_of_nothing() {
        let mut ahead = HashAhead::spawn("t", Box::new(io::empty())).unwrap();
        assert_eq!(ahead.read(&mut [0; 10]).unwrap(), 0);
        assert_eq!(
            ahead.digest(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    struct FailsAfter(usize);
    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("connection lost"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_failed_read_is_the_consumers_error_and_gives_no_digest() {
        let mut ahead = HashAhead::spawn("t", Box::new(FailsAfter(10))).unwrap();
        let mut sink = Vec::new();
        let err = ahead.read_to_end(&mut sink).unwrap_err();
        assert!(err.to_string().contains("connection lost"), "{err}");
        assert_eq!(ahead.digest(), None);
    }
}

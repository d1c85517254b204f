//! A payload stream's SHA-256 (for its manifest), computed on the thread that reads the
//! stream ahead of the archiver (`lifeboat_core::Ahead`).
//!
//! Why: the archiver's chunking thread is a backup's busiest (rolling hash, then each
//! chunk's SHA-256). Hashing the whole stream there as well cost it ~0.85 s per GiB;
//! here the other core does it while the chunker works.

use lifeboat_core::{Ahead, Watch};
use sha2::{Digest, Sha256};
use std::io::{self, Read};

/// 1 MiB blocks: channel traffic negligible beside the hashing.
const BLOCK: usize = 1 << 20;
/// Blocks queued ahead of the archiver at most.
const IN_FLIGHT: usize = 4;

/// The watch: SHA-256 of every block, hex at the end.
pub(crate) struct Sha256Watch(Sha256);

impl Watch for Sha256Watch {
    type Output = String;
    fn block(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// A `Read` of a stream hashed on another thread; `output()` gives the SHA-256 (hex)
/// of everything read once the end was reached.
pub(crate) type HashAhead = Ahead<Sha256Watch>;

pub(crate) fn hash_ahead(name: &str, inner: Box<dyn Read + Send>) -> io::Result<HashAhead> {
    Ahead::spawn(name, inner, Sha256Watch(Sha256::new()), IN_FLIGHT, BLOCK)
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
        let mut ahead = hash_ahead("t", Box::new(Cursor::new(data.clone()))).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0; 70_000];
        loop {
            assert_eq!(
                ahead.output().map(String::as_str),
                None,
                "no digest before the end"
            );
            let n = ahead.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, data);
        assert_eq!(
            ahead.output().map(String::as_str),
            Some(hex::encode(Sha256::digest(&data)).as_str())
        );
    }

    #[test]
    fn an_empty_stream_has_the_sha256_of_nothing() {
        let mut ahead = hash_ahead("t", Box::new(io::empty())).unwrap();
        assert_eq!(ahead.read(&mut [0; 10]).unwrap(), 0);
        assert_eq!(
            ahead.output().map(String::as_str),
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
        let mut ahead = hash_ahead("t", Box::new(FailsAfter(10))).unwrap();
        let mut sink = Vec::new();
        let err = ahead.read_to_end(&mut sink).unwrap_err();
        assert!(err.to_string().contains("connection lost"), "{err}");
        assert_eq!(ahead.output().map(String::as_str), None);
    }
}

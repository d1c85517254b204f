//! Filling a buffer from a reader: the one loop that retries interrupted reads.

use std::io::{self, Read};

/// Reads until `buf` is full or the reader ends; returns the bytes read, so fewer
/// than `buf.len()` means the end was reached.
pub fn read_full(reader: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Two bytes per read, with an interruption before each.
    struct Stutter(Vec<u8>, bool);
    impl Read for Stutter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(2).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn fills_across_short_and_interrupted_reads_and_stops_at_the_end() {
        let mut r = Stutter((1..=7).collect(), false);
        let mut buf = [0u8; 5];
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 5);
        assert_eq!(buf, [1, 2, 3, 4, 5]);
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 2, "short: the end");
        assert_eq!(&buf[..2], [6, 7]);
    }
}

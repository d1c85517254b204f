//! How a master frames the RDB it sends after `SYNC`: a disk-based transfer announces
//! its length (`$<len>\r\n`); a diskless one (`REPLCONF capa eof`) cannot know it up
//! front and sends `$EOF:<40 random bytes>\r\n`, the RDB, then the same 40 bytes.
//! Both readers here yield exactly the RDB's bytes and end (`Ok(0)`) only when the
//! transfer is known to be complete: a connection that closes early is an
//! `UnexpectedEof` error, never a short but "successful" stream.

use std::io::{self, Read};

/// Length of the end mark of a diskless transfer (`CONFIG_RUN_ID_SIZE` in Redis).
pub const MARK_LEN: usize = 40;

/// Bytes asked of the socket at a time while looking for the end mark.
const CHUNK: usize = 64 * 1024;

/// How the RDB is delimited, from the line that starts the transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Mark([u8; MARK_LEN]),
}

impl Framing {
    /// Reads the framing from the `$…` line (without its CRLF and the `$`).
    pub fn parse(after_dollar: &[u8]) -> Option<Framing> {
        if let Some(mark) = after_dollar.strip_prefix(b"EOF:") {
            return mark.try_into().ok().map(Framing::Mark);
        }
        let len = std::str::from_utf8(after_dollar).ok()?.parse().ok()?;
        Some(Framing::Length(len))
    }

    /// A reader of the RDB that follows on `inner`.
    pub fn body<R: Read>(self, inner: R) -> Body<R> {
        match self {
            Framing::Length(remaining) => Body::Length { inner, remaining },
            Framing::Mark(mark) => Body::Mark(MarkFramed::new(inner, mark)),
        }
    }
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed early")
}

fn read_retrying(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The RDB bytes of one transfer.
pub enum Body<R> {
    Length { inner: R, remaining: u64 },
    Mark(MarkFramed<R>),
}

impl<R: Read> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Length { inner, remaining } => {
                if *remaining == 0 || buf.is_empty() {
                    return Ok(0);
                }
                let want = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                match inner.read(&mut buf[..want])? {
                    0 => Err(truncated()),
                    n => {
                        *remaining -= n as u64;
                        Ok(n)
                    }
                }
            }
            Body::Mark(marked) => marked.read(buf),
        }
    }
}

/// The bytes before the end mark. Bytes are handed out only once they cannot be the
/// start of the mark, so the mark (or a piece of it) never reaches the caller; what
/// follows the mark (replication traffic) is never read as RDB.
///
/// The mark is 160 random bits chosen by the server for this transfer, so it does not
/// occur inside the RDB: its first occurrence ends the payload, wherever the reads of
/// the socket happen to split it.
pub struct MarkFramed<R> {
    inner: R,
    mark: [u8; MARK_LEN],
    buf: Vec<u8>,
    /// Next byte to hand out.
    start: usize,
    /// Bytes before this index are payload (checked: no mark starts before it).
    safe: usize,
    /// The mark was found; `safe` is where it starts.
    found: bool,
}

impl<R: Read> MarkFramed<R> {
    pub fn new(inner: R, mark: [u8; MARK_LEN]) -> Self {
        MarkFramed {
            inner,
            mark,
            buf: Vec::with_capacity(CHUNK + MARK_LEN),
            start: 0,
            safe: 0,
            found: false,
        }
    }

    /// Reads more from the socket and moves `safe` as far as the new bytes allow.
    fn fill(&mut self) -> io::Result<()> {
        self.buf.drain(..self.start);
        self.safe -= self.start;
        self.start = 0;
        let old = self.buf.len();
        self.buf.resize(old + CHUNK, 0);
        let read = read_retrying(&mut self.inner, &mut self.buf[old..]);
        self.buf.truncate(old + *read.as_ref().unwrap_or(&0));
        if read? == 0 {
            return Err(truncated());
        }
        // A mark can only start at or after `safe`: everything before was searched.
        match memchr::memmem::find(&self.buf[self.safe..], &self.mark) {
            Some(at) => {
                self.safe += at;
                self.found = true;
            }
            None => self.safe = self.safe.max(self.buf.len().saturating_sub(MARK_LEN - 1)),
        }
        Ok(())
    }
}

impl<R: Read> Read for MarkFramed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.start == self.safe {
            if self.found {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = out.len().min(self.safe - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MARK: &[u8; MARK_LEN] = b"0123456789abcdef0123456789abcdef01234567";

    /// Hands out at most `step` bytes per read, so marks straddle reads.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn read_marked(wire: &[u8], step: usize, out_step: usize) -> io::Result<Vec<u8>> {
        let mut body = Framing::Mark(*MARK).body(Trickle { bytes: wire, step });
        let mut out = Vec::new();
        let mut buf = vec![0u8; out_step];
        loop {
            match body.read(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    fn wire(payload: &[u8], tail: &[u8]) -> Vec<u8> {
        [payload, MARK.as_slice(), tail].concat()
    }

    #[test]
    fn parses_both_framings() {
        assert_eq!(Framing::parse(b"1234"), Some(Framing::Length(1234)));
        assert_eq!(
            Framing::parse(&[b"EOF:".as_slice(), MARK].concat()),
            Some(Framing::Mark(*MARK))
        );
        assert_eq!(Framing::parse(b"EOF:short"), None);
        assert_eq!(Framing::parse(b"-1"), None);
        assert_eq!(Framing::parse(b"12a"), None);
    }

    #[test]
    fn the_end_mark_is_found_wherever_the_reads_split_it() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let bytes = wire(&payload, b"*1\r\n$4\r\nPING\r\n");
        for step in [1, 2, 7, 39, 40, 41, 1000, 100_000] {
            for out_step in [1, 3, 64, 8192] {
                let got = read_marked(&bytes, step, out_step).unwrap();
                assert_eq!(got, payload, "step {step}, out {out_step}");
            }
        }
    }

    #[test]
    fn mark_like_bytes_inside_the_payload_are_payload() {
        // The mark's first 39 bytes, the mark with its last byte changed, the mark
        // with its first byte changed, and its first half at the very end: none of
        // them ends the payload.
        let mut almost = *MARK;
        almost[MARK_LEN - 1] = b'X';
        let payload = [
            b"REDIS0010".as_slice(),
            &MARK[..MARK_LEN - 1],
            &almost,
            b"Z",
            &MARK[1..],
            &MARK[..20],
        ]
        .concat();
        for step in [1, 5, 40, 4096] {
            let got = read_marked(&wire(&payload, b""), step, 17).unwrap();
            assert_eq!(got, payload, "step {step}");
        }
    }

    #[test]
    fn a_stream_that_ends_before_its_mark_is_an_error() {
        let payload = b"REDIS0010 some keys".as_slice();
        for cut in [0, 5, payload.len(), payload.len() + 1, payload.len() + 39] {
            let bytes = &wire(payload, b"")[..cut];
            for step in [1, 4096] {
                let err = read_marked(bytes, step, 64).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut {cut}");
            }
        }
    }

    #[test]
    fn a_length_framed_body_stops_at_its_length_and_fails_when_short() {
        let mut body = Framing::Length(5).body(b"REDIS+more".as_slice());
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"REDIS");
        let mut body = Framing::Length(50).body(b"REDIS".as_slice());
        let err = body.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

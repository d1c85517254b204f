//! Reading a stream ahead of its consumer, on a thread of its own, through a bounded
//! queue of blocks, with an optional [`Watch`] that sees every block on that thread.
//!
//! Why here: both the dump side (a dump tool blocks as soon as its 64 KiB pipe is full,
//! so its stream is read ahead while the repository opens) and the repository side (a
//! stream's manifest SHA-256 is computed off the chunking thread) need the same queue.
//! It opens nothing itself: it moves bytes from the reader it is given. Memory stays
//! bounded: at most `buffers` blocks of `block` bytes are queued, plus one being filled
//! and one being read; spent blocks go back to the thread, so steady state allocates
//! nothing.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread;

/// Work done on the reading thread with each block, in order, and a result at the end.
pub trait Watch: Send + 'static {
    type Output: Send + 'static;
    fn block(&mut self, data: &[u8]);
    fn finish(self) -> Self::Output;
}

/// No watch: the stream is only read ahead.
impl Watch for () {
    type Output = ();
    fn block(&mut self, _: &[u8]) {}
    fn finish(self) {}
}

enum Msg<T> {
    Data(Vec<u8>),
    Failed(io::Error),
    /// The stream ended and the inner reader was dropped (a child's pipe closed).
    End(T),
}

/// A `Read` fed by a thread reading `inner` ahead; [`Ahead::output`] gives the watch's
/// result once a read returned the end of the stream.
pub struct Ahead<W: Watch> {
    name: String,
    rx: Receiver<Msg<W::Output>>,
    recycle: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    output: Option<W::Output>,
    done: bool,
}

impl<W: Watch> Ahead<W> {
    /// Starts reading `inner` ahead, at most `buffers` blocks of `block` bytes queued.
    pub fn spawn(
        name: &str,
        inner: Box<dyn Read + Send>,
        watch: W,
        buffers: usize,
        block: usize,
    ) -> io::Result<Self> {
        let (tx, rx) = sync_channel(buffers.max(1));
        let (recycle, spare) = sync_channel(buffers.max(1) + 1);
        thread::Builder::new()
            .name(format!("ahead {name}"))
            .spawn(move || read_blocks(inner, watch, &tx, &spare, block))?;
        Ok(Self {
            name: name.to_string(),
            rx,
            recycle,
            current: Vec::new(),
            pos: 0,
            output: None,
            done: false,
        })
    }

    /// The watch's result, once a read returned the end of the stream.
    pub fn output(&self) -> Option<&W::Output> {
        self.output.as_ref()
    }

    /// Makes `current` a block with unread bytes; false at the end of the stream.
    fn refill(&mut self) -> io::Result<bool> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(false);
            }
            let used = std::mem::take(&mut self.current);
            if used.capacity() > 0 {
                // The thread may have ended or hold enough spares: dropping it is fine.
                let _ = self.recycle.try_send(used);
            }
            self.pos = 0;
            match self.rx.recv() {
                Ok(Msg::Data(block)) => self.current = block,
                Ok(Msg::End(output)) => {
                    self.output = Some(output);
                    self.done = true;
                }
                Ok(Msg::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    let msg = format!("the thread reading {} ahead stopped early", self.name);
                    return Err(io::Error::other(msg));
                }
            }
        }
        Ok(true)
    }
}

impl<W: Watch> Read for Ahead<W> {
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

/// The reading thread: fills blocks from `inner`, shows each to the watch and sends it
/// on, until the end, an error, or the consumer going away (which drops `inner`).
fn read_blocks<W: Watch>(
    mut inner: Box<dyn Read + Send>,
    mut watch: W,
    tx: &SyncSender<Msg<W::Output>>,
    spare: &Receiver<Vec<u8>>,
    block: usize,
) {
    loop {
        let mut buf = spare.try_recv().unwrap_or_default();
        // A recycled block keeps its capacity; only a new one is zeroed.
        buf.resize(block, 0);
        match crate::read_full(&mut inner, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                watch.block(&buf);
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
    let _ = tx.send(Msg::End(watch.finish()));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Cursor;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn plain(inner: Box<dyn Read + Send>, buffers: usize, block: usize) -> Ahead<()> {
        Ahead::spawn("t", inner, (), buffers, block).unwrap()
    }

    /// Counts the bytes it saw, as a stand-in for a hash.
    struct Count(usize);
    impl Watch for Count {
        type Output = usize;
        fn block(&mut self, data: &[u8]) {
            self.0 += data.len();
        }
        fn finish(self) -> usize {
            self.0
        }
    }

    #[test]
    fn passes_every_byte_through_in_order() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut r = plain(Box::new(Cursor::new(data.clone())), 3, 4096);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0, "stays at the end");
    }

    #[test]
    fn the_watch_sees_every_block_and_answers_only_at_the_end() {
        let data = vec![3u8; 3 * 4096 + 17];
        let mut r = Ahead::spawn("t", Box::new(Cursor::new(data)), Count(0), 2, 4096).unwrap();
        let mut buf = vec![0; 5000];
        while r.read(&mut buf).unwrap() > 0 {
            assert_eq!(r.output(), None, "no result before the end");
        }
        assert_eq!(r.output(), Some(&(3 * 4096 + 17)));
    }

    #[test]
    fn empty_stream_is_empty_and_still_finishes_the_watch() {
        let mut r = Ahead::spawn("t", Box::new(io::empty()), Count(0), 2, 16).unwrap();
        assert_eq!(r.read(&mut [0u8; 10]).unwrap(), 0);
        assert_eq!(r.output(), Some(&0));
    }

    /// Yields `good` bytes, then fails.
    struct FailsAfter(usize);
    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "dropped"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_reaches_the_consumer_after_the_good_bytes_and_gives_no_result() {
        let mut r = Ahead::spawn("t", Box::new(FailsAfter(10_000)), Count(0), 2, 4096).unwrap();
        let mut got = 0;
        let mut buf = [0u8; 1000];
        let err = loop {
            match r.read(&mut buf) {
                Ok(0) => panic!("an error must not look like the end"),
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        // The block holding the last good bytes failed as a whole: never more than sent.
        assert!(got <= 10_000);
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(r.output(), None);
    }

    /// Endless; notes when it is dropped.
    struct Endless(Arc<AtomicBool>);
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(0);
            Ok(buf.len())
        }
    }
    impl Drop for Endless {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn dropping_the_consumer_stops_the_thread_and_drops_its_stream() {
        let dropped = Arc::new(AtomicBool::new(false));
        let mut r = plain(Box::new(Endless(dropped.clone())), 2, 1024);
        r.read_exact(&mut [0u8; 10]).unwrap();
        drop(r);
        for _ in 0..200 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the reading thread kept the stream open");
    }
}

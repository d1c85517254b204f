//! `RESTORE`s streamed into a server without waiting for its answers: a thread reads
//! the replies while commands keep going out, so the server always has work queued and
//! never waits for us (or we for it) between batches. Each command costs the target
//! some microseconds; a round trip per batch used to cost as much again.
//!
//! Memory stays bounded: at most [`IN_FLIGHT`] commands are unanswered (their keys are
//! kept to name one in an error), and commands leave through a fixed-size buffer.

use super::client::{server_error, Conn};
use super::resp::{self, Value};
use crate::SourceError;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Commands sent and not yet answered, at most.
const IN_FLIGHT: usize = 32 * 1024;
/// Bytes gathered before they go out in one write.
const OUT_BUFFER: usize = 256 * 1024;

/// What a reply answers.
enum Sent {
    Select(u32),
    Restore(Vec<u8>),
    /// No command: the reply thread signals once it has read every reply before it.
    Barrier(SyncSender<()>),
}

/// Keys restored per db, in the order the dbs came.
#[derive(Debug, Default)]
pub struct Tally {
    pub per_db: Vec<(u32, u64)>,
}

impl Tally {
    fn count(&mut self, db: u32) {
        match self.per_db.last_mut() {
            Some((last, n)) if *last == db => *n += 1,
            _ => self.per_db.push((db, 1)),
        }
    }
}

pub struct Pipeline {
    out: BufWriter<TcpStream>,
    /// To hang up when writing failed, so the reply thread stops waiting.
    socket: TcpStream,
    url: String,
    sent: SyncSender<Sent>,
    replies: JoinHandle<Result<Tally, SourceError>>,
    /// Set by the reply thread at the first refusal: stop sending.
    refused: Arc<AtomicBool>,
    write_error: Option<io::Error>,
    db: Option<u32>,
}

impl Pipeline {
    /// Takes over `conn` (logged in, nothing pending).
    pub fn start(conn: Conn) -> Result<Pipeline, SourceError> {
        let url = conn.url().to_string();
        let io_err = |source| SourceError::Io {
            context: format!("setting up the restore into {url}"),
            source,
        };
        let (reader, writer) = conn.into_parts();
        let socket = reader.get_ref().try_clone().map_err(io_err)?;
        let writer = writer.into_inner().map_err(|e| io_err(e.into_error()))?;
        let (sent, pending) = mpsc::sync_channel(IN_FLIGHT);
        let refused = Arc::new(AtomicBool::new(false));
        let replies = {
            let (url, refused) = (url.clone(), refused.clone());
            std::thread::Builder::new()
                .name("redis-replies".into())
                .spawn(move || read_replies(reader, &pending, &url, &refused))
                .map_err(io_err)?
        };
        Ok(Pipeline {
            out: BufWriter::with_capacity(OUT_BUFFER, writer),
            socket,
            url,
            sent,
            replies,
            refused,
            write_error: None,
            db: None,
        })
    }

    /// Queues `RESTORE key at payload REPLACE ABSTTL` in `db` (`at`: absolute expiry
    /// in ms, 0 for none). False once something failed: stop, [`Pipeline::finish`]
    /// says what.
    pub fn restore(&mut self, db: u32, key: Vec<u8>, payload: &[u8], at: u64) -> bool {
        if self.write_error.is_some() || self.refused.load(Ordering::Relaxed) {
            return false;
        }
        if self.db != Some(db) {
            // Answered before anything follows it: were it refused, the RESTOREs behind
            // it would land in the previous db.
            let n = db.to_string();
            let selected = self.write(&[b"SELECT", n.as_bytes()])
                && self.expect(Sent::Select(db))
                && self.drain();
            if !selected || self.refused.load(Ordering::Relaxed) {
                return false;
            }
            self.db = Some(db);
        }
        let at = at.to_string();
        let args: [&[u8]; 6] = [
            b"RESTORE",
            &key,
            at.as_bytes(),
            payload,
            b"REPLACE",
            b"ABSTTL",
        ];
        self.write(&args) && self.expect(Sent::Restore(key))
    }

    fn write(&mut self, args: &[&[u8]]) -> bool {
        match resp::write_command(&mut self.out, args) {
            Ok(()) => true,
            Err(e) => {
                self.write_error = Some(e);
                false
            }
        }
    }

    /// Waits until every command sent so far is answered.
    fn drain(&mut self) -> bool {
        if let Err(e) = self.out.flush() {
            self.write_error = Some(e);
            return false;
        }
        let (done, wait) = mpsc::sync_channel(1);
        self.expect(Sent::Barrier(done)) && wait.recv().is_ok()
    }

    /// Tells the reply thread what the command just written will answer.
    fn expect(&mut self, sent: Sent) -> bool {
        match self.sent.try_send(sent) {
            Ok(()) => true,
            Err(TrySendError::Full(sent)) => {
                // The reply thread waits for answers to commands still in our buffer.
                if let Err(e) = self.out.flush() {
                    self.write_error = Some(e);
                    return false;
                }
                self.sent.send(sent).is_ok()
            }
            // The reply thread ended: it failed, and says why in `finish`.
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Sends what is buffered, waits for every reply and returns the keys restored per
    /// db, or the first failure: the server's refusal if there was one (it says more
    /// than the broken connection that may follow it), else ours.
    pub fn finish(self) -> Result<Tally, SourceError> {
        let Pipeline {
            mut out,
            socket,
            url,
            sent,
            replies,
            write_error,
            ..
        } = self;
        let write_error = write_error.or_else(|| out.flush().err());
        drop(sent);
        if write_error.is_some() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let replies = replies.join().unwrap_or_else(|_| {
            Err(SourceError::Query(format!(
                "{url}: the thread reading RESTORE replies panicked"
            )))
        });
        match (replies, write_error) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(source)) => Err(SourceError::Io {
                context: format!("sending RESTOREs to {url}"),
                source,
            }),
            (Ok(tally), None) => Ok(tally),
        }
    }
}

/// The reply thread: one reply per command, in order, until the writer hangs up.
/// After a refusal it goes on reading (the replies are on their way anyway) and
/// reports the first one.
fn read_replies(
    mut reader: BufReader<TcpStream>,
    pending: &Receiver<Sent>,
    url: &str,
    refused: &AtomicBool,
) -> Result<Tally, SourceError> {
    let mut tally = Tally::default();
    let mut db = 0;
    let mut failure = None;
    for sent in pending {
        if let Sent::Barrier(done) = sent {
            let _ = done.send(());
            continue;
        }
        let reply = resp::read_value(&mut reader).map_err(|source| {
            refused.store(true, Ordering::Relaxed);
            SourceError::Io {
                context: format!("reading RESTORE replies from {url}"),
                source,
            }
        })?;
        match (sent, reply) {
            (sent, Value::Error(msg)) => {
                refused.store(true, Ordering::Relaxed);
                failure.get_or_insert_with(|| server_error(url, &describe(&sent), &msg));
            }
            (Sent::Select(n), _) => db = n,
            (Sent::Restore(_), _) => tally.count(db),
            (Sent::Barrier(_), _) => {}
        }
    }
    failure.map_or(Ok(tally), Err)
}

fn describe(sent: &Sent) -> String {
    match sent {
        Sent::Select(db) => format!("SELECT {db}"),
        Sent::Restore(key) => format!("RESTORE of key {}", show_key(key)),
        Sent::Barrier(_) => String::new(),
    }
}

/// A key for messages: lossy text, shortened.
pub fn show_key(key: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(key).chars().take(100).collect();
    format!("{text:?}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::scratch::redis::ScratchRedis;

    #[test]
    fn streams_more_commands_than_may_be_in_flight_across_dbs() {
        let server = ScratchRedis::start(None).unwrap();
        let mut admin = server.admin().unwrap();
        admin.call(&[b"SET", b"model", b"value"]).unwrap();
        let Value::Bulk(payload) = admin.call(&[b"DUMP", b"model"]).unwrap() else {
            panic!("no payload");
        };
        let mut pipe = Pipeline::start(server.admin().unwrap()).unwrap();
        let keys = IN_FLIGHT as u64 + 5000;
        for i in 0..keys {
            let db = if i < keys / 2 { 1 } else { 2 };
            assert!(pipe.restore(db, format!("k{i}").into_bytes(), &payload, 0));
        }
        let tally = pipe.finish().unwrap();
        assert_eq!(tally.per_db, vec![(1, keys / 2), (2, keys - keys / 2)]);
        let counts = admin.key_counts().unwrap();
        assert_eq!(counts, vec![(0, 1), (1, keys / 2), (2, keys - keys / 2)]);
    }
}

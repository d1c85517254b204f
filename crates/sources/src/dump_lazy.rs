//! A dump that starts only when the repository first reads it, so that a snapshot of
//! many databases runs as many dump processes at once as the archiver reads streams,
//! not one per database up front.

use crate::dump::{Dump, DumpFacts, Finish};
use crate::SourceError;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, PoisonError};

type Start = Box<dyn FnOnce() -> Result<Dump, SourceError> + Send>;
type Slot = Arc<Mutex<Option<Result<Finish, String>>>>;

struct LazyStream {
    start: Option<Start>,
    stream: Option<Box<dyn Read + Send>>,
    finish: Slot,
}

impl Read for LazyStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(start) = self.start.take() {
            let started = start();
            let mut slot = self.finish.lock().unwrap_or_else(PoisonError::into_inner);
            match started {
                Ok(dump) => {
                    *slot = Some(Ok(dump.finish));
                    self.stream = Some(dump.stream);
                }
                Err(e) => {
                    *slot = Some(Err(e.to_string()));
                    return Err(io::Error::other(e.to_string()));
                }
            }
        }
        match self.stream.as_mut() {
            Some(stream) => stream.read(buf),
            None => Err(io::Error::other("the dump could not be started")),
        }
    }
}

/// A [`Dump`] named `name` whose process `start` launches on first read.
pub fn lazy(name: String, hash: bool, start: Start) -> Dump {
    let slot: Slot = Arc::default();
    let finish_slot = slot.clone();
    let finish: Finish = Box::new(move || -> Result<DumpFacts, SourceError> {
        let taken = finish_slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match taken {
            Some(Ok(finish)) => finish(),
            Some(Err(e)) => Err(SourceError::Invalid(e)),
            None => Err(SourceError::Invalid("the dump was never read".into())),
        }
    });
    Dump {
        name,
        stream: Box::new(LazyStream {
            start: Some(start),
            stream: None,
            finish: slot,
        }),
        hash,
        running: false,
        finish,
    }
}

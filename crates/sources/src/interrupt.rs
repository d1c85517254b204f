//! What an interrupted process must say: a note on the restore in progress (SIGINT/
//! SIGTERM then tell the user the target may be partly restored and where its previous
//! state is). The children to stop are `process`'s registry. Process-global by nature,
//! like signals themselves.

use std::sync::{Mutex, PoisonError};

static NOTE: Mutex<Option<String>> = Mutex::new(None);

/// Keeps the note set until dropped.
#[derive(Debug)]
pub struct InProgress(());

/// Notes what an interruption from now on leaves behind, e.g. "TARGET may be partly
/// restored; its previous state is in safety backup ID".
pub fn in_progress(note: String) -> InProgress {
    *NOTE.lock().unwrap_or_else(PoisonError::into_inner) = Some(note);
    InProgress(())
}

impl Drop for InProgress {
    fn drop(&mut self) {
        *NOTE.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The note of what is in progress, if any (the signal path prints it).
pub fn interrupted() -> Option<String> {
    NOTE.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

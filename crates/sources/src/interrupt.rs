//! What an interrupted process must say and stop: a note on the restore in progress
//! (SIGINT/SIGTERM then tell the user the target may be partly restored and where its
//! previous state is) and the restore tools to terminate, which would otherwise go on
//! writing after lifeboat exits. Process-global by nature, like signals themselves.

use std::process::Command;
use std::sync::{Mutex, PoisonError};

static NOTE: Mutex<Option<String>> = Mutex::new(None);
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

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

/// Keeps a child registered for termination on interruption until dropped.
#[derive(Debug)]
pub struct Child(u32);

/// Registers child `pid` (a restore tool) to be sent SIGTERM if we are interrupted.
pub fn child(pid: u32) -> Child {
    CHILDREN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(pid);
    Child(pid)
}

impl Drop for Child {
    fn drop(&mut self) {
        CHILDREN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|p| *p != self.0);
    }
}

/// The signal path: sends SIGTERM to every registered child (pg_restore then cancels
/// its queries on the server) and returns the note of what is in progress, if any.
pub fn interrupted() -> Option<String> {
    let children = std::mem::take(&mut *CHILDREN.lock().unwrap_or_else(PoisonError::into_inner));
    for pid in children {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .output();
    }
    NOTE.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

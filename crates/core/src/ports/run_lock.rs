//! The run lock port: one backup run of an app at a time on this host, so that a
//! manual `lifeboat backup` and the daemon (or two cron jobs) never run an app's hooks
//! and dumps twice over each other. The second run waits, then fails naming the first.

use crate::{CancelToken, Error, ErrorKind};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Held while an app's run goes on; dropping it lets the next run start.
pub struct RunGuard(#[allow(dead_code)] Box<dyn Send>);

impl RunGuard {
    pub fn new(inner: impl Send + 'static) -> RunGuard {
        RunGuard(Box::new(inner))
    }
}

pub trait RunLocks: Send + Sync {
    /// Takes the run of `app`, waiting for one in progress as long as the adapter
    /// allows; the error names who holds it.
    fn hold(&self, app: &str, cancel: &CancelToken) -> Result<RunGuard, Error>;
}

/// Run locks of this process only (engine tests; a command that wires none): a run
/// in progress makes the next one fail at once.
#[derive(Default)]
pub struct MemoryRunLocks {
    held: Arc<Mutex<HashSet<String>>>,
}

struct Release(Arc<Mutex<HashSet<String>>>, String);

impl Drop for Release {
    fn drop(&mut self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.1);
    }
}

impl RunLocks for MemoryRunLocks {
    fn hold(&self, app: &str, _cancel: &CancelToken) -> Result<RunGuard, Error> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.insert(app.to_string()) {
            return Err(Error::msg(
                ErrorKind::Failed,
                "another backup run of this app is in progress in this process",
            ));
        }
        Ok(RunGuard::new(Release(self.held.clone(), app.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_app_cannot_be_taken_again_until_released() {
        let locks = MemoryRunLocks::default();
        let cancel = CancelToken::new();
        let guard = locks.hold("esp", &cancel).unwrap();
        assert!(locks.hold("esp", &cancel).is_err());
        assert!(locks.hold("other", &cancel).is_ok());
        drop(guard);
        assert!(locks.hold("esp", &cancel).is_ok());
    }
}

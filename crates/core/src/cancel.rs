//! Cancellation: one token per command, set by SIGINT/SIGTERM, checked by every long
//! operation at its next step (restic's context cancellation). Setting it never
//! exits the process: the main thread unwinds, so after-hooks and clean-up still run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared flag: cheap to clone, cancelled once for all clones.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

/// The error of an operation stopped by its [`CancelToken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled (interrupted by a signal)")]
pub struct Cancelled;

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Cancelled)` once cancelled.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelling_one_clone_cancels_all() {
        let token = CancelToken::new();
        let other = token.clone();
        assert_eq!(other.check(), Ok(()));
        token.cancel();
        assert!(other.is_cancelled());
        assert_eq!(other.check(), Err(Cancelled));
    }
}

//! A repository that may still be opening: `open` costs a deliberate scrypt key
//! derivation (~0.3 s), which a backup can overlap with starting its first dump.

use crate::{LockKind, Progress, Repo, RepoError, RepoOptions};
use std::thread::JoinHandle;

enum State {
    Opening(JoinHandle<Result<Repo, RepoError>>),
    Ready(Box<Repo>),
    Failed(String),
}

/// An open repository, or one being opened on another thread.
pub struct RepoSlot(State, Option<Progress>);

/// Access to an open repository, waiting for it if need be.
pub trait RepoAccess {
    fn repo(&mut self) -> Result<&mut Repo, RepoError>;
    /// Like [`Repo::set_progress`], without waiting for a repository still opening.
    fn set_progress(&mut self, progress: Option<Progress>);
}

impl RepoAccess for Repo {
    fn repo(&mut self) -> Result<&mut Repo, RepoError> {
        Ok(self)
    }

    fn set_progress(&mut self, progress: Option<Progress>) {
        Repo::set_progress(self, progress);
    }
}

impl RepoSlot {
    /// Starts opening the repository on another thread, then taking a `lock` on it.
    pub fn open_in_background(
        opts: RepoOptions,
        lock: Option<LockKind>,
        cancel: &lifeboat_core::CancelToken,
    ) -> RepoSlot {
        let cancel = cancel.clone();
        let opening = State::Opening(std::thread::spawn(move || {
            let mut repo = Repo::open(&opts)?;
            repo.set_cancel(&cancel);
            if let Some(kind) = lock {
                repo.hold_lock(kind)?;
            }
            Ok(repo)
        }));
        RepoSlot(opening, None)
    }
}

impl RepoAccess for RepoSlot {
    /// The open repository; the first call waits for the opening to finish. An opening
    /// error is returned once and then remembered as text.
    fn repo(&mut self) -> Result<&mut Repo, RepoError> {
        if let State::Opening(_) = self.0 {
            let State::Opening(handle) =
                std::mem::replace(&mut self.0, State::Failed(String::new()))
            else {
                return Err(RepoError::Engine("repository slot".into()));
            };
            match handle.join() {
                Ok(Ok(mut repo)) => {
                    repo.set_progress(self.1.take());
                    self.0 = State::Ready(Box::new(repo));
                }
                Ok(Err(e)) => {
                    self.0 = State::Failed(e.to_string());
                    return Err(e);
                }
                Err(_) => self.0 = State::Failed("opening the repository panicked".into()),
            }
        }
        match &mut self.0 {
            State::Ready(repo) => Ok(repo),
            State::Failed(why) => Err(RepoError::Engine(why.clone())),
            State::Opening(_) => Err(RepoError::Engine("repository slot".into())),
        }
    }

    fn set_progress(&mut self, progress: Option<Progress>) {
        match &mut self.0 {
            State::Ready(repo) => repo.set_progress(progress),
            _ => self.1 = progress,
        }
    }
}

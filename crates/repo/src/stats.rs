//! How much space the repository takes: the sum of its pack files, from one listing
//! of the backend (no index, no snapshot read).

use crate::error::engine;
use crate::{Repo, RepoError};
use rustic_core::{FileType, ReadBackend};

impl Repo {
    /// The bytes of data the repository holds (its pack files).
    pub fn data_size(&self) -> Result<u64, RepoError> {
        let packs = self
            .locks
            .be
            .list_with_size(FileType::Pack)
            .map_err(engine)?;
        Ok(packs.iter().map(|(_, size)| u64::from(*size)).sum())
    }
}

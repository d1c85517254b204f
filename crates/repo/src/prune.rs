//! Reclaiming the space of forgotten snapshots: rustic's prune (a plan, then its
//! execution) under the command's exclusive lock, two-phase as restic's own prune is:
//! packs no snapshot needs are first marked, and deleted by a prune at least 23 hours
//! later, so that a client that was writing meanwhile loses nothing.

use crate::error::engine;
use crate::{Repo, RepoError};
pub use lifeboat_core::ports::PruneSummary;
use rustic_core::PruneOptions;

impl Repo {
    /// Plans the prune and, unless `dry_run`, carries it out.
    pub fn prune(&mut self, dry_run: bool) -> Result<PruneSummary, RepoError> {
        let repo = self.open_repo()?;
        let opts = PruneOptions::default();
        let plan = repo.prune_plan(&opts).map_err(engine)?;
        let stats = &plan.stats;
        let size = stats.size_sum();
        let summary = PruneSummary {
            unused_bytes: size.unused,
            removed_bytes: size.remove + size.repackrm,
            repacked_packs: stats.packs.repack,
            marked_packs: stats.packs.unused,
            deleted_marked_packs: stats.packs_to_delete.remove,
            waiting_marked_packs: stats.packs_to_delete.keep,
            unreferenced_packs: stats.packs_unref,
            dry_run,
        };
        if !dry_run {
            repo.prune(&opts, plan).map_err(engine)?;
        }
        Ok(summary)
    }
}

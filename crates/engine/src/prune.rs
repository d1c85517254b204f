//! Retention and prune: per source (never a shared pool, never by name matching),
//! decide which backups to keep with the pure retention rules, forget the others
//! with their verification records, then reclaim space under the exclusive lock.

use crate::Engine;
use lifeboat_core::ports::{Listing, PruneSummary, Repository, SnapshotInfo};
use lifeboat_core::retention::{plan, Candidate, Decision};
use lifeboat_core::{AppSpec, Error, SourceSpec};
use serde::Serialize;

/// What retention decided for one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRetention {
    pub app: String,
    pub source: String,
    /// Every backup and verification record of the source, newest first.
    pub decisions: Vec<Decision>,
    /// Why nothing was decided (no retention configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    pub sources: Vec<SourceRetention>,
    /// Full ids of the snapshots forgotten (or to forget).
    pub forgotten: Vec<String>,
    /// The space reclaimed (not on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reclaimed: Option<PruneSummary>,
}

impl Engine {
    /// `lifeboat prune`: retention for each selected source, then rustic's prune
    /// (which also reclaims what interrupted backups left) unless `dry_run`.
    pub fn prune(
        &self,
        repo: &mut dyn Repository,
        selected: &[(&AppSpec, &SourceSpec)],
        dry_run: bool,
    ) -> Result<PruneReport, Error> {
        let mut report = self.forget(repo, selected, dry_run)?;
        if !dry_run {
            self.cancel.check()?;
            report.reclaimed = Some(repo.prune(false)?);
        }
        Ok(report)
    }

    /// Retention after a backup run, for the sources that were stored: forgets what
    /// the policies let go and, when anything went, reclaims its space.
    pub fn retain(
        &self,
        repo: &mut dyn Repository,
        stored: &[(&AppSpec, &SourceSpec)],
    ) -> Result<PruneReport, Error> {
        let mut report = self.forget(repo, stored, false)?;
        if !report.forgotten.is_empty() {
            report.reclaimed = Some(repo.prune(false)?);
        }
        Ok(report)
    }

    fn forget(
        &self,
        repo: &mut dyn Repository,
        selected: &[(&AppSpec, &SourceSpec)],
        dry_run: bool,
    ) -> Result<PruneReport, Error> {
        // One reading of the snapshot list for both (it is most of what a prune of
        // many small backups costs).
        let listing = repo.listing()?;
        let now = self.clock.now().timestamp();
        let tz = &self.timezone;
        let mut report = PruneReport {
            dry_run,
            sources: Vec::new(),
            forgotten: Vec::new(),
            reclaimed: None,
        };
        for (app, source) in selected {
            let mut decided = SourceRetention {
                app: app.name.clone(),
                source: source.name.clone(),
                decisions: Vec::new(),
                note: None,
            };
            match &source.retention {
                None => {
                    decided.note = Some("no retention configured: every backup is kept".into());
                }
                Some(retention) => {
                    let candidates = candidates(&listing, app, source);
                    decided.decisions = plan(&candidates, retention, now, tz);
                    let gone = decided.decisions.iter().filter(|d| !d.keep);
                    report.forgotten.extend(gone.map(|d| d.id.clone()));
                }
            }
            report.sources.push(decided);
        }
        if !dry_run && !report.forgotten.is_empty() {
            self.cancel.check()?;
            repo.forget(&report.forgotten)?;
        }
        Ok(report)
    }
}

/// The source's own snapshots, by their `app=`/`source=` tags: backups, safety
/// backups and verification records.
fn candidates(listing: &Listing, app: &AppSpec, source: &SourceSpec) -> Vec<Candidate> {
    let mine = |s: &&SnapshotInfo| s.app == app.name && s.source == source.name;
    listing
        .backups
        .iter()
        .chain(&listing.verifications)
        .filter(mine)
        .map(Candidate::from)
        .collect()
}

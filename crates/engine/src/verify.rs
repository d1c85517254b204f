//! `verify`: prove that a backup restores. Each kind's adapter restores it into
//! throwaway servers or temp dirs and compares with the facts its manifest recorded at
//! backup time; the engine picks the backups, times them and records every result in
//! the repository.

use crate::error::failed;
use crate::select::{or_unreadable, pick_of_kind};
use crate::Engine;
use lifeboat_core::layout::{self, payload_root, TAG_VERIFY};
use lifeboat_core::manifest::MANIFEST_VERSION;
use lifeboat_core::ports::{Payload, Repository, SnapshotMeta, SnapshotRef, StreamEntry};
use lifeboat_core::{AppSpec, Error, ErrorKind, Facts, Manifest, SourceSpec, VerifyReport};
use serde::Serialize;
use std::time::Instant;

/// What a verify command found: one report per backup verified, and the sources that
/// could not be verified at all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyRun {
    /// The run id its results were recorded under.
    pub run_id: String,
    pub reports: Vec<VerifyReport>,
    pub errors: Vec<String>,
}

impl VerifyRun {
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.reports.iter().all(|r| r.ok)
    }
}

impl Engine {
    /// Verifies the backup `snapshot` of each selected source, one after the other;
    /// `done` sees each report as it is made. A repository problem, a usage error or a
    /// cancel stops the run; any other failure is recorded and the next source goes on.
    pub fn verify_all(
        &self,
        repo: &mut dyn Repository,
        selected: &[(&AppSpec, &SourceSpec)],
        snapshot: &str,
        done: &mut dyn FnMut(Result<&VerifyReport, &Error>),
    ) -> Result<VerifyRun, Error> {
        let (run_id, now) = self.new_run();
        let mut run = VerifyRun {
            run_id: run_id.clone(),
            ..VerifyRun::default()
        };
        for (app, source) in selected {
            match self.verify_source(repo, app, source, snapshot, &run_id, &now) {
                Ok(report) => {
                    done(Ok(&report));
                    run.reports.push(report);
                }
                Err(e) if stops_the_run(&e) => return Err(e),
                Err(e) => {
                    done(Err(&e));
                    run.errors.push(e.to_string());
                }
            }
        }
        Ok(run)
    }

    /// Verifies the backup of `app/source` chosen by `snapshot` and records the result.
    pub fn verify_source(
        &self,
        repo: &mut dyn Repository,
        app: &AppSpec,
        source: &SourceSpec,
        snapshot: &str,
        run_id: &str,
        now: &jiff::Zoned,
    ) -> Result<VerifyReport, Error> {
        let spec = format!("{}/{}", app.name, source.name);
        let snapshots = repo.list()?;
        let kind = source.kind.name();
        let picked = pick_of_kind(&snapshots, &app.name, &source.name, kind, snapshot).cloned();
        let chosen = or_unreadable(picked, repo, &app.name, &source.name)?;
        let adapter = self.sources.adapter(source).map_err(|e| e.context(&spec))?;
        let started = Instant::now();
        let mut report = VerifyReport {
            app: app.name.clone(),
            source: source.name.clone(),
            kind: kind.to_string(),
            snapshot: chosen.id.clone(),
            ok: false,
            verified_at: now.timestamp().to_string(),
            duration_ms: 0,
            checks: Vec::new(),
            problems: Vec::new(),
        };
        {
            let reader = repo.reader()?;
            let manifest = reader.manifest(&chosen.id)?;
            let root = payload_root(&app.name, &source.name);
            let snap = SnapshotRef {
                id: &chosen.id,
                root: &root,
            };
            let outcome =
                adapter.verify(reader.as_ref(), snap, &manifest, &mut report, &self.cancel);
            if let Err(e) = outcome {
                report.problems.push(e.to_string());
            }
        }
        // An interrupted verification proves nothing either way: nothing is recorded.
        if self.cancel.is_cancelled() {
            return Err(Error::msg(
                ErrorKind::Cancelled,
                "verification interrupted; nothing was recorded",
            )
            .context(&spec));
        }
        report.ok = report.problems.is_empty() && !report.checks.is_empty();
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        record(repo, &report, run_id, now)
            .map_err(|e| failed(&spec, format!("recording the result: {e}")))?;
        Ok(report)
    }
}

fn stops_the_run(e: &Error) -> bool {
    e.is_repository_problem() || matches!(e.kind(), ErrorKind::Usage | ErrorKind::Cancelled)
}

/// Stores the report as a small snapshot tagged `lifeboat-verify` and `verifies=ID`.
fn record(
    repo: &mut dyn Repository,
    report: &VerifyReport,
    run_id: &str,
    now: &jiff::Zoned,
) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(report).unwrap_or_default();
    let tags = vec![
        TAG_VERIFY.to_string(),
        format!("app={}", report.app),
        format!("source={}", report.source),
        format!("verifies={}", report.snapshot),
        format!("result={}", if report.ok { "pass" } else { "fail" }),
        format!("run={run_id}"),
        layout::PURPOSE_VERIFY.to_string(),
    ];
    let meta = SnapshotMeta {
        root: format!("{}/verify", payload_root(&report.app, &report.source)),
        tags,
        time: now.clone(),
    };
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        lifeboat_version: env!("CARGO_PKG_VERSION").to_string(),
        app: report.app.clone(),
        source: report.source.clone(),
        kind: "verify".into(),
        run_id: run_id.to_string(),
        origin: report.snapshot.clone(),
        files: vec!["verify.json".into()],
        tool_versions: Vec::new(),
        started_at: report.verified_at.clone(),
        duration_ms: report.duration_ms,
        facts: Facts::default(),
        purpose: Some("verify".into()),
        config: None,
    };
    let entry = StreamEntry {
        name: "verify.json".into(),
        reader: Box::new(std::io::Cursor::new(json)),
        hash: false,
    };
    repo.store(
        &meta,
        Payload::Streams(vec![entry]),
        Box::new(move |_| Ok(manifest.to_json())),
    )?;
    Ok(())
}

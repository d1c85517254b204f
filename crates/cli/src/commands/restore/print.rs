//! The text form of an app restore's report (or plan): the set, the hooks, each
//! source in order with its target and steps, and what to do next.

use lifeboat_engine::{AppRestoreReport, SourceRestore, SourceStatus};

/// Prints the report on stdout, what stopped the restore on stderr; `quiet` keeps
/// only the failure.
pub fn app_report(r: &AppRestoreReport, quiet: bool) {
    if !quiet {
        print_body(r);
    }
    if let Some(error) = &r.error {
        eprintln!("FAILED: {error}");
    }
}

fn print_body(r: &AppRestoreReport) {
    let what = if r.set_pre_restore {
        "safety set"
    } else {
        "backup set"
    };
    let verb = if r.plan_only {
        "plan: restore"
    } else {
        "restore"
    };
    println!(
        "{verb} app {} from {what} {} ({})",
        r.app, r.set, r.set_time
    );
    print_before(r);
    for (i, s) in r.sources.iter().enumerate() {
        print_source(i + 1, s, r.plan_only);
    }
    if !r.skipped.is_empty() {
        println!("left out (--only/--skip): {}", r.skipped.join(", "));
    }
    print_after(r);
    if let Some(set) = r.safety_set() {
        let held: Vec<&str> = r
            .sources
            .iter()
            .filter(|s| s.safety_snapshot.is_some())
            .map(|s| s.source.as_str())
            .collect();
        println!(
            "safety backups of the previous state: run {set} ({}); to go back: lifeboat restore {} --snapshot {set} --force",
            held.join(", "),
            r.app
        );
    }
    if let Some(resume) = &r.resume {
        println!("resume: {resume}");
    }
    if r.plan_only {
        println!("nothing was changed (--plan)");
    }
}

fn print_hooks(stage: &str, commands: &[String], when: &str) {
    if commands.is_empty() {
        println!("{stage}: none");
    } else {
        println!("{stage} (runs {when}): {}", commands.join("; "));
    }
}

fn print_source(n: usize, s: &SourceRestore, plan: bool) {
    let after = if s.restore_after.is_empty() {
        String::new()
    } else {
        format!(", after {}", s.restore_after.join(", "))
    };
    let status = match s.status {
        SourceStatus::Planned | SourceStatus::Restored if plan => String::new(),
        SourceStatus::Planned => ": not attempted".into(),
        SourceStatus::Restored => ": restored".into(),
        SourceStatus::Failed => ": FAILED".into(),
        SourceStatus::NotAttempted => ": not attempted".into(),
    };
    println!("{n}. {} ({}{after}){status}", s.source, s.kind);
    if !s.snapshot.is_empty() {
        println!(
            "   snapshot {} ({}) into {}",
            &s.snapshot[..8.min(s.snapshot.len())],
            s.snapshot_time,
            s.target
        );
    }
    if plan || s.status != SourceStatus::NotAttempted {
        for step in &s.steps {
            println!("   - {step}");
        }
    }
    if let Some(id) = &s.safety_snapshot {
        println!("   safety backup: snapshot {}", &id[..8.min(id.len())]);
    }
    if let Some(error) = &s.error {
        println!("   error: {error}");
    }
}

fn print_before(r: &AppRestoreReport) {
    let ran = r.hooks.iter().any(|h| h.stage == "before_restore");
    if r.plan_only || r.before_restore.is_empty() {
        print_hooks("before_restore", &r.before_restore, "first");
    } else if ran {
        println!("before_restore: ran {}", r.before_restore.join("; "));
    } else {
        println!("before_restore: not run");
    }
}

fn print_after(r: &AppRestoreReport) {
    if r.plan_only {
        print_hooks(
            "after_restore",
            &r.after_restore,
            "last, only when every source restored",
        );
    } else if r.after_restore.is_empty() {
        println!("after_restore: none");
    } else if r.after_restore_ran {
        println!("after_restore: ran {}", r.after_restore.join("; "));
    } else if r.sources.iter().any(|s| s.status == SourceStatus::Restored) {
        println!(
            "after_restore: NOT run: the restore did not finish, and starting the app on half-restored data is worse than leaving it stopped"
        );
    } else {
        println!("after_restore: not run (nothing was restored)");
    }
}

//! The body of each webhook format, built from a [`RunSummary`]: lifeboat's own JSON
//! document, and the incoming-webhook messages of Slack, Mattermost and Rocket.Chat
//! (a text line and one attachment with a field per source).

use super::{clip, Format, RunSummary, SourceOutcome, ERROR_LIMIT};
use crate::size::bytes;
use serde_json::{json, Value};

/// Green and red as the chat clients draw them (Rocket.Chat's are those of the
/// backup-container integration script that posted there before).
const GOOD: &str = "#36A64F";
const BAD: &str = "#A63636";

/// What a webhook in `format` posts for `summary`.
pub fn webhook_body(format: Format, summary: &RunSummary, environment: Option<&str>) -> Value {
    match format {
        Format::Json => document(summary, environment),
        Format::Slack => slack_like(summary, environment, "*", "good", "danger"),
        Format::Mattermost => slack_like(summary, environment, "**", GOOD, BAD),
        Format::Rocketchat => rocketchat(summary, environment),
    }
}

/// `backup of esp FAILED on db1 (ESP production): 1 of 2 sources failed`.
pub(super) fn plain_headline(summary: &RunSummary, environment: Option<&str>) -> String {
    let verdict = if summary.ok() { "succeeded" } else { "FAILED" };
    let place = match environment {
        Some(env) => format!("{} ({env})", summary.host),
        None => summary.host.clone(),
    };
    format!(
        "{} of {} {verdict} on {place}: {}",
        summary.trigger.work(),
        summary.app,
        tally(summary)
    )
}

/// `2 sources, 1.2 MiB (+3.0 KiB) in 4.1s` or `1 of 2 sources failed`.
fn tally(summary: &RunSummary) -> String {
    let total = summary.sources.len();
    let failed = summary.sources.iter().filter(|s| !s.ok).count();
    let plural = |n: usize| if n == 1 { "source" } else { "sources" };
    if failed > 0 {
        return format!("{failed} of {total} {} failed", plural(total));
    }
    if !summary.ok() {
        let n = summary.errors.len();
        return format!("{n} {}", if n == 1 { "error" } else { "errors" });
    }
    let time = seconds(summary.duration_ms);
    if summary.trigger.work() == "backup" {
        let (size, added) = (bytes(summary.size()), bytes(summary.added()));
        format!("{total} {}, {size} (+{added}) in {time}", plural(total))
    } else {
        format!("{total} {} verified in {time}", plural(total))
    }
}

fn document(summary: &RunSummary, environment: Option<&str>) -> Value {
    let sources: Vec<Value> = summary
        .sources
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "kind": s.kind,
                "status": if s.ok { "ok" } else { "failed" },
                "snapshot": s.snapshot,
                "size": s.size,
                "added": s.added,
                "duration_ms": s.duration_ms,
                "error": s.error.as_deref().map(|e| clip(e, ERROR_LIMIT)),
            })
        })
        .collect();
    let errors: Vec<String> = summary
        .errors
        .iter()
        .map(|e| clip(e, ERROR_LIMIT))
        .collect();
    json!({
        "app": summary.app,
        "event": summary.trigger.name(),
        "status": if summary.ok() { "success" } else { "failure" },
        "work": summary.trigger.work(),
        "environment": environment,
        "host": summary.host,
        "run_id": summary.run_id,
        "duration_ms": summary.duration_ms,
        "size": summary.size(),
        "added": summary.added(),
        "sources": sources,
        "errors": errors,
        "error": summary.error_text(),
        "message": plain_headline(summary, environment),
    })
}

/// Slack's legacy attachments, which Mattermost reads as they are; only the bold
/// markup and the colour names differ.
fn slack_like(
    summary: &RunSummary,
    environment: Option<&str>,
    bold: &str,
    good: &str,
    bad: &str,
) -> Value {
    let headline = plain_headline(summary, environment);
    let attachment = json!({
        "fallback": headline,
        "color": if summary.ok() { good } else { bad },
        "title": summary.app,
        "text": failure_block(summary),
        "fields": fields(summary, environment),
        "footer": "lifeboat",
    });
    json!({
        "text": format!("{} {bold}{headline}{bold}", icon(summary)),
        "attachments": [attachment],
    })
}

/// Rocket.Chat's incoming-webhook message, plus the keys the backup-container
/// integration script reads (`projectFriendlyName`, `statusCode`, `message`), so a
/// channel that still runs that script shows lifeboat's messages too.
fn rocketchat(summary: &RunSummary, environment: Option<&str>) -> Value {
    let headline = plain_headline(summary, environment);
    let message = match summary.error_text() {
        Some(errors) => format!("{headline}\n{errors}"),
        None => headline.clone(),
    };
    json!({
        "alias": "lifeboat",
        "text": format!("{} **{headline}**", icon(summary)),
        "attachments": [{
            "title": summary.app,
            "text": failure_block(summary),
            "color": if summary.ok() { GOOD } else { BAD },
            "fields": fields(summary, environment),
        }],
        "projectFriendlyName": environment.unwrap_or(&summary.app),
        "statusCode": if summary.ok() { "INFO" } else { "ERROR" },
        "message": message,
    })
}

fn icon(summary: &RunSummary) -> &'static str {
    if summary.ok() {
        ":white_check_mark:"
    } else {
        ":x:"
    }
}

/// The errors as a code block (they are tool output), empty on success.
fn failure_block(summary: &RunSummary) -> String {
    summary
        .error_text()
        .map(|text| format!("```\n{}\n```", text.replace("```", "'''")))
        .unwrap_or_default()
}

/// `{title, value, short}`: one per source, then the run, host and environment.
fn fields(summary: &RunSummary, environment: Option<&str>) -> Vec<Value> {
    let field = |title: &str, value: String| json!({"title": title, "value": value, "short": true});
    let mut fields: Vec<Value> = summary
        .sources
        .iter()
        .map(|s| field(&format!("{} ({})", s.name, s.kind), source_line(summary, s)))
        .collect();
    if let Some(run) = &summary.run_id {
        fields.push(field("Run", run.clone()));
    }
    fields.push(field("Host", summary.host.clone()));
    if let Some(env) = environment {
        fields.push(field("Environment", env.to_string()));
    }
    fields
}

/// `ok · snapshot 1a2b3c4d · 1.2 MiB · +3.0 KiB new · 4.1s`.
fn source_line(summary: &RunSummary, s: &SourceOutcome) -> String {
    let time = seconds(s.duration_ms);
    if !s.ok {
        return format!("FAILED · {time}");
    }
    let snapshot = s
        .snapshot
        .as_deref()
        .map(|id| format!(" · snapshot {}", &id[..8.min(id.len())]))
        .unwrap_or_default();
    if summary.trigger.work() == "backup" {
        let (size, added) = (bytes(s.size), bytes(s.added));
        format!("ok{snapshot} · {size} · +{added} new · {time}")
    } else {
        format!("verified{snapshot} · {time}")
    }
}

/// `3.2s`.
fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

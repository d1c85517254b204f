//! Retention: which of one source's snapshots to keep, and the rule that decided each,
//! as a pure function of (snapshots, policy, now, time zone). No IO, no clock.
//!
//! The caller groups snapshots per source (retention is never a shared pool) and hands
//! [`plan`] one source's backups, safety backups and verification records. The rules:
//!
//! - The policy ([`RetentionPolicy`]) decides over the regular backups only: `daily`
//!   keeps the newest N; `rolling` classifies each backup as monthly (taken on the last
//!   day of a month), else weekly (taken on a Sunday), else daily, and keeps the newest
//!   of each class; `custom` has restic's `forget` meaning (see [`custom`]).
//! - The newest regular backup is never removed ("newest successful": a snapshot only
//!   becomes a backup once its payload and manifest were stored completely).
//! - A `pre-restore` safety backup is kept while it is younger than
//!   [`Retention::pre_restore_max_age`], and removed after; the policy does not count it.
//! - A verification record goes with the backup it verifies: kept exactly when that
//!   backup is kept.
//!
//! Days, weeks, months and years are those of the time zone passed in.

pub mod custom;
mod rolling;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_calendar;

pub use custom::{KeepWithin, KeepWithinError};

use crate::layout::{tag_value, TAG_PRE_RESTORE, TAG_VERIFY};
use crate::ports::SnapshotInfo;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;

/// The default of `keep` for `strategy = "daily"`.
pub const DEFAULT_DAILY_KEEP: u32 = 31;
/// The defaults of `strategy = "rolling"`: daily, weekly, monthly.
pub const DEFAULT_ROLLING: (u32, u32, u32) = (6, 4, 1);
/// How long `pre-restore` safety backups are kept by default: 30 days.
pub const DEFAULT_PRE_RESTORE_MAX_AGE: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Which regular backups of a source to keep. A count of 0 turns its rule off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetentionPolicy {
    /// `strategy = "daily"`: the newest `keep` backups.
    Daily { keep: u32 },
    /// `strategy = "rolling"`: a backup taken on the last day of a month is monthly,
    /// else one taken on a Sunday is weekly, else it is daily. Keeps the newest
    /// `daily` daily ones, `weekly` weekly ones and `monthly` monthly ones.
    Rolling {
        daily: u32,
        weekly: u32,
        monthly: u32,
    },
    /// `strategy = "custom"`: restic's `forget --keep-last/-hourly/-daily/-weekly/
    /// -monthly/-yearly/-within`, with restic's meaning (see [`custom`]).
    Custom {
        keep_last: u32,
        keep_hourly: u32,
        keep_daily: u32,
        keep_weekly: u32,
        keep_monthly: u32,
        keep_yearly: u32,
        keep_within: Option<KeepWithin>,
    },
}

impl Default for RetentionPolicy {
    /// `daily` with `keep = 31`.
    fn default() -> Self {
        RetentionPolicy::Daily {
            keep: DEFAULT_DAILY_KEEP,
        }
    }
}

impl RetentionPolicy {
    /// `rolling` with its defaults: 6 daily, 4 weekly, 1 monthly.
    pub fn rolling() -> Self {
        let (daily, weekly, monthly) = DEFAULT_ROLLING;
        RetentionPolicy::Rolling {
            daily,
            weekly,
            monthly,
        }
    }

    /// `custom` with every rule off; set the fields wanted.
    pub fn custom() -> Self {
        RetentionPolicy::Custom {
            keep_last: 0,
            keep_hourly: 0,
            keep_daily: 0,
            keep_weekly: 0,
            keep_monthly: 0,
            keep_yearly: 0,
            keep_within: None,
        }
    }
}

/// A source's retention settings: the policy and how long safety backups stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub policy: RetentionPolicy,
    /// `pre-restore` safety backups younger than this are kept (default 30 days).
    pub pre_restore_max_age: SignedDuration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            policy: RetentionPolicy::default(),
            pre_restore_max_age: DEFAULT_PRE_RESTORE_MAX_AGE,
        }
    }
}

impl From<RetentionPolicy> for Retention {
    fn from(policy: RetentionPolicy) -> Self {
        Retention {
            policy,
            ..Retention::default()
        }
    }
}

/// What a snapshot is, as far as retention cares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Role {
    /// A regular backup: counted by the policy.
    Backup,
    /// A safety backup taken before a restore overwrote a target (tag `pre-restore`).
    PreRestore,
    /// A verification record (tag `lifeboat-verify`) of the backup with full id `of`
    /// (tag `verifies=ID`).
    Verification { of: String },
}

/// One snapshot of a source, as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The full snapshot id.
    pub id: String,
    pub time: Timestamp,
    pub role: Role,
}

impl Candidate {
    pub fn new(id: impl Into<String>, time: Timestamp, role: Role) -> Self {
        Candidate {
            id: id.into(),
            time,
            role,
        }
    }

    /// A candidate whose role is read from lifeboat's tags (see [`crate::layout`]):
    /// `lifeboat-verify` with `verifies=ID` is a verification record, `pre-restore` a
    /// safety backup, anything else a regular backup. A `lifeboat-verify` snapshot
    /// without `verifies=` verifies nothing in the list, so it goes (see [`plan`]).
    pub fn from_tags(id: impl Into<String>, time: Timestamp, tags: &[String]) -> Self {
        let has = |tag: &str| tags.iter().any(|t| t == tag);
        let role = if has(TAG_VERIFY) {
            Role::Verification {
                of: tag_value(tags, "verifies").unwrap_or_default().to_string(),
            }
        } else if has(TAG_PRE_RESTORE) {
            Role::PreRestore
        } else {
            Role::Backup
        };
        Candidate::new(id, time, role)
    }
}

impl From<&SnapshotInfo> for Candidate {
    fn from(info: &SnapshotInfo) -> Self {
        let mut c = Candidate::from_tags(info.id.clone(), info.timestamp, &info.tags);
        if info.pre_restore && c.role == Role::Backup {
            c.role = Role::PreRestore;
        }
        c
    }
}

/// What retention decided for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub id: String,
    #[serde(serialize_with = "rfc3339")]
    pub time: Timestamp,
    pub role: Role,
    pub keep: bool,
    /// The rules that decided it, e.g. `daily #3, weekly #1`, `newest successful`,
    /// `pre-restore < 30 d`, `verification of a kept backup`, `no rule keeps it`.
    pub reason: String,
}

fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// Decides, for one source's snapshots, which to keep and which to remove, at time
/// `now`, with days, weeks, months and years of time zone `tz`. Returns one decision
/// per snapshot, newest first (snapshots of the same time by id).
pub fn plan(
    snapshots: &[Candidate],
    retention: &Retention,
    now: Timestamp,
    tz: &TimeZone,
) -> Vec<Decision> {
    let mut order: Vec<&Candidate> = snapshots.iter().collect();
    order.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.id.cmp(&b.id)));

    let backups: Vec<&Candidate> = order
        .iter()
        .copied()
        .filter(|c| c.role == Role::Backup)
        .collect();
    let times: Vec<Timestamp> = backups.iter().map(|c| c.time).collect();
    let mut verdicts = apply_policy(&retention.policy, &times, now, tz);
    if let Some(newest @ Verdict::Remove(_)) = verdicts.first_mut() {
        *newest = Verdict::Keep(vec!["newest successful".to_string()]);
    }
    // `verdicts` are in the order of the regular backups in `order`.
    let mut verdicts = verdicts.into_iter();
    let mut kept: HashMap<&str, bool> = HashMap::new();
    let mut decisions = Vec::with_capacity(order.len());
    for c in &order {
        let (keep, reason) = match &c.role {
            Role::Backup => match verdicts.next() {
                Some(Verdict::Keep(reasons)) => (true, reasons.join(", ")),
                Some(Verdict::Remove(why)) => (false, why),
                None => (false, String::new()),
            },
            Role::PreRestore => {
                let limit = age_text(retention.pre_restore_max_age);
                if now.duration_since(c.time) < retention.pre_restore_max_age {
                    (true, format!("pre-restore < {limit}"))
                } else {
                    (false, format!("pre-restore ≥ {limit}"))
                }
            }
            // decided below, once every backup is
            Role::Verification { .. } => (false, String::new()),
        };
        if !matches!(c.role, Role::Verification { .. }) {
            kept.insert(c.id.as_str(), keep);
        }
        decisions.push(Decision {
            id: c.id.clone(),
            time: c.time,
            role: c.role.clone(),
            keep,
            reason,
        });
    }
    // A verification record goes with its backup (a regular or a safety one).
    for d in &mut decisions {
        if let Role::Verification { of } = &d.role {
            (d.keep, d.reason) = match kept.get(of.as_str()) {
                Some(true) => (true, "verification of a kept backup".into()),
                Some(false) => (false, "verification of a removed backup".into()),
                None => (false, "verification of a missing backup".into()),
            };
        }
    }
    decisions
}

/// The policy's verdict on one regular backup.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Kept, by these rules (never empty).
    Keep(Vec<String>),
    /// Removed, for this reason.
    Remove(String),
}

impl Verdict {
    fn from_reasons(reasons: Vec<String>, otherwise: &str) -> Self {
        if reasons.is_empty() {
            Verdict::Remove(otherwise.to_string())
        } else {
            Verdict::Keep(reasons)
        }
    }
}

/// The policy over the regular backups' times (newest first): one verdict each.
fn apply_policy(
    policy: &RetentionPolicy,
    times: &[Timestamp],
    now: Timestamp,
    tz: &TimeZone,
) -> Vec<Verdict> {
    match policy {
        RetentionPolicy::Daily { keep } => (1..=times.len())
            .map(|n| match u32::try_from(n) {
                Ok(n) if n <= *keep => Verdict::Keep(vec![format!("daily #{n}")]),
                _ => Verdict::Remove(format!("daily #{n}, keeps {keep}")),
            })
            .collect(),
        RetentionPolicy::Rolling {
            daily,
            weekly,
            monthly,
        } => rolling::apply(times, [*daily, *weekly, *monthly], tz),
        RetentionPolicy::Custom {
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            keep_within,
        } => {
            let counts = [
                *keep_last,
                *keep_hourly,
                *keep_daily,
                *keep_weekly,
                *keep_monthly,
                *keep_yearly,
            ];
            custom::apply(times, counts, keep_within.as_ref(), now, tz)
                .into_iter()
                .map(|reasons| Verdict::from_reasons(reasons, "no rule keeps it"))
                .collect()
        }
    }
}

/// `30 d`, `36 h`, `90 min` or `45 s`: the largest unit that divides the duration.
fn age_text(d: SignedDuration) -> String {
    let s = d.as_secs();
    match s {
        _ if s != 0 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        _ if s != 0 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        _ if s != 0 && s % 60 == 0 => format!("{} min", s / 60),
        _ => format!("{s} s"),
    }
}

/// The plan for people: one line per snapshot, `keep`/`remove`, its time in `tz`,
/// its short id, what it is (for safety backups and verification records) and why.
pub fn render_plan(decisions: &[Decision], tz: &TimeZone) -> String {
    let mut out = String::new();
    for d in decisions {
        let what = match &d.role {
            Role::Backup => "",
            Role::PreRestore => " (pre-restore)",
            Role::Verification { .. } => " (verification)",
        };
        out.push_str(&format!(
            "{:<6}  {}  {}{}  {}\n",
            if d.keep { "keep" } else { "remove" },
            d.time.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z"),
            d.id.get(..8).unwrap_or(d.id.as_str()),
            what,
            d.reason
        ));
    }
    out
}

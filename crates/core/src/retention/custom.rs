//! `strategy = "custom"`: restic's `forget` policy (`--keep-last`, `--keep-hourly`,
//! `--keep-daily`, `--keep-weekly`, `--keep-monthly`, `--keep-yearly`,
//! `--keep-within`), reimplemented with restic's meaning (restic 0.14 to 0.17):
//!
//! - Snapshots are walked newest first. Each `keep-*` rule has a bucket function of
//!   the snapshot's local time (hour, day, ISO week, month, year; `last` gives every
//!   snapshot its own bucket) and a count. A snapshot whose bucket differs from the
//!   previous one the rule saw, while the count is not used up, is kept by the rule and
//!   uses one count: so each rule keeps the newest snapshot of each of its newest N
//!   buckets that hold snapshots. A snapshot counts for every rule it satisfies.
//! - `keep-within` keeps every snapshot strictly newer than the newest snapshot's time
//!   (the newest not after `now`) minus the duration, where years, months and days
//!   are subtracted on the local calendar as Go's `time.AddDate` does (31 March minus
//!   one month is 3 March, not 28 February) and hours on the clock.
//!
//! restic 0.18 added a rule this one does not have: the oldest snapshot is kept by
//! every rule that has counts left.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp, Zoned};
use std::fmt;
use std::str::FromStr;

/// A `keep_within` duration in restic's syntax: `1y5m7d2h` is 1 year, 5 months, 7 days
/// and 2 hours (`m` is months). Units may come in any order, each at most once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeepWithin {
    pub years: u32,
    pub months: u32,
    pub days: u32,
    pub hours: u32,
}

impl KeepWithin {
    /// Whether every part is 0 (restic then ignores the rule).
    pub fn is_zero(&self) -> bool {
        *self == KeepWithin::default()
    }

    /// The oldest time (exclusive) kept relative to `latest`, in `latest`'s zone.
    /// `None` when it falls outside the representable range (everything is newer).
    fn threshold(&self, latest: &Zoned) -> Option<Timestamp> {
        let date = go_add_date(
            latest,
            -i64::from(self.years),
            -i64::from(self.months),
            -i64::from(self.days),
        )?;
        date.checked_sub(SignedDuration::from_hours(i64::from(self.hours)))
            .ok()
    }
}

impl fmt::Display for KeepWithin {
    /// restic's form: `1y5m7d2h`, the zero parts left out (`0d` when all are zero).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0d");
        }
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n != 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

/// Why a `keep_within` value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}`: {problem} (write e.g. \"7d\", \"2m15d\" or \"1y6m\": y years, m months, d days, h hours)")]
pub struct KeepWithinError {
    pub text: String,
    pub problem: String,
}

impl FromStr for KeepWithin {
    type Err = KeepWithinError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem: String| KeepWithinError {
            text: text.to_string(),
            problem,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("empty duration".into()));
        }
        let mut out = KeepWithin::default();
        let mut seen = [false; 4];
        let mut digits = String::new();
        for c in trimmed.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let (slot, i) = match c {
                'y' => (&mut out.years, 0),
                'm' => (&mut out.months, 1),
                'd' => (&mut out.days, 2),
                'h' => (&mut out.hours, 3),
                _ => return Err(fail(format!("unknown unit `{c}`"))),
            };
            if digits.is_empty() {
                return Err(fail(format!("a number must come before `{c}`")));
            }
            if seen[i] {
                return Err(fail(format!("`{c}` given twice")));
            }
            seen[i] = true;
            *slot = digits
                .parse()
                .map_err(|_| fail(format!("the number before `{c}` is too large")))?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(fail("the last number has no unit".into()));
        }
        Ok(out)
    }
}

/// Go's `t.AddDate(years, months, days)` in `t`'s time zone: the wall clock is kept,
/// the month is normalised into the year, then day overflow rolls into the following
/// (or preceding) months; the result's offset is resolved as Go's `time.Date` does.
fn go_add_date(t: &Zoned, years: i64, months: i64, days: i64) -> Option<Timestamp> {
    let total = (i64::from(t.year()) + years) * 12 + i64::from(t.month()) - 1 + months;
    let year = i16::try_from(total.div_euclid(12)).ok()?;
    let month = i8::try_from(total.rem_euclid(12) + 1).ok()?;
    let first = Date::new(year, month, 1).ok()?;
    let offset_days = Span::new().try_days(i64::from(t.day()) - 1 + days).ok()?;
    let date = first.checked_add(offset_days).ok()?;
    resolve_like_go(date.to_datetime(t.time()), t.time_zone())
}

/// The instant of wall clock `wall` in `tz`, as Go's `time.Date` picks it: the offset
/// in force at `wall` read as UTC, corrected once if that offset's instant has another.
/// (In a gap or an overlap Go's choice depends on the offsets' signs; this is it.)
fn resolve_like_go(wall: DateTime, tz: &TimeZone) -> Option<Timestamp> {
    let naive = wall.to_zoned(TimeZone::UTC).ok()?.timestamp();
    let shift = |offset: jiff::tz::Offset| {
        naive
            .checked_sub(SignedDuration::from_secs(i64::from(offset.seconds())))
            .ok()
    };
    let first = tz.to_offset(naive);
    let guess = shift(first)?;
    shift(tz.to_offset(guess))
}

/// The rules' names, in the order of the counts passed to [`apply`].
const RULES: [&str; 6] = ["last", "hourly", "daily", "weekly", "monthly", "yearly"];

/// The bucket of local time `z` for rule `rule` (an index into [`RULES`]); `nr` is the
/// snapshot's position, newest first, which is its own bucket for `last`.
fn bucket(rule: usize, z: &Zoned, nr: usize) -> i64 {
    let (y, m, d, h) = (
        i64::from(z.year()),
        i64::from(z.month()),
        i64::from(z.day()),
        i64::from(z.hour()),
    );
    match rule {
        0 => i64::try_from(nr).unwrap_or(i64::MAX),
        1 => ((y * 100 + m) * 100 + d) * 100 + h,
        2 => (y * 100 + m) * 100 + d,
        3 => {
            let week = z.date().iso_week_date();
            i64::from(week.year()) * 100 + i64::from(week.week())
        }
        4 => y * 100 + m,
        _ => y,
    }
}

/// restic's policy over `times` (newest first): per snapshot, the rules that keep it,
/// e.g. `within 7d`, `daily #3` (the third day kept by `keep_daily`); empty when none
/// does. `counts` are keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
/// keep_yearly.
pub(super) fn apply(
    times: &[Timestamp],
    counts: [u32; 6],
    within: Option<&KeepWithin>,
    now: Timestamp,
    tz: &TimeZone,
) -> Vec<Vec<String>> {
    let within = within.filter(|w| !w.is_zero());
    // restic measures from the newest snapshot that is not in the future; when every
    // snapshot is, from the beginning of time, which keeps them all.
    let threshold = within.map(|w| {
        times
            .iter()
            .filter(|t| **t < now)
            .max()
            .and_then(|latest| w.threshold(&latest.to_zoned(tz.clone())))
    });
    let mut left = counts;
    let mut last: [Option<i64>; 6] = [None; 6];
    let mut used = [0u32; 6];
    times
        .iter()
        .enumerate()
        .map(|(nr, t)| {
            let z = t.to_zoned(tz.clone());
            let mut reasons = Vec::new();
            if let (Some(w), Some(limit)) = (within, threshold) {
                if limit.is_none_or(|limit| *t > limit) {
                    reasons.push(format!("within {w}"));
                }
            }
            for rule in 0..RULES.len() {
                if left[rule] == 0 {
                    continue;
                }
                let b = bucket(rule, &z, nr);
                if last[rule] != Some(b) {
                    last[rule] = Some(b);
                    left[rule] -= 1;
                    used[rule] += 1;
                    reasons.push(format!("{} #{}", RULES[rule], used[rule]));
                }
            }
            reasons
        })
        .collect()
}

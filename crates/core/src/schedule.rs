//! When scheduled work is due: a cron expression evaluated in the configured time zone,
//! or a fixed interval (`every = "6h"`). Pure: the time is always an argument.

mod cron;
#[cfg(test)]
mod tests;

pub use cron::{Cron, CronError};
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Serialize, Serializer};

/// A backup, verify or prune schedule, with the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Cron(Box<Cron>),
    Every(SignedDuration),
}

/// How far ahead a cron expression is searched: a leap day on a Monday comes at
/// least every 28 years, but nothing an operator means waits longer than this.
const SEARCH_YEARS: i16 = 30;

impl Schedule {
    /// A cron expression (5 fields, 6 with seconds, or `@daily`-style).
    pub fn cron(text: &str) -> Result<Schedule, CronError> {
        let cron = Cron::parse(text)?;
        Ok(Schedule {
            text: text.trim().to_string(),
            kind: Kind::Cron(Box::new(cron)),
        })
    }

    /// An interval (`every = "6h"`) of `seconds`, which must be positive.
    pub fn every(text: &str, seconds: u64) -> Option<Schedule> {
        let secs = i64::try_from(seconds).ok().filter(|s| *s > 0)?;
        Some(Schedule {
            text: format!("every {}", text.trim()),
            kind: Kind::Every(SignedDuration::from_secs(secs)),
        })
    }

    /// As written (`0 1 * * *`, `every 6h`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is an interval rather than calendar times.
    pub fn is_interval(&self) -> bool {
        matches!(self.kind, Kind::Every(_))
    }

    /// The first time strictly after `after`: for an interval, `after` plus it (the
    /// daemon anchors intervals at the previous run); for cron, the next matching
    /// second in `tz`. A civil time skipped by a DST change runs at the same offset
    /// after the change (02:30 → 03:30), one repeated by it runs once, the first time.
    /// `None` when the expression never matches (`0 0 30 2 *`).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(interval) => after.checked_add(*interval).ok(),
            Kind::Cron(cron) => next_cron(cron, after, tz),
        }
    }

    /// The gap between the next two times after `now`: how old the last run may be
    /// before one was missed (the daemon's catch-up).
    pub fn period(&self, now: Timestamp, tz: &TimeZone) -> Option<SignedDuration> {
        match &self.kind {
            Kind::Every(interval) => Some(*interval),
            Kind::Cron(_) => {
                let first = self.next_after(now, tz)?;
                let second = self.next_after(first, tz)?;
                Some(second.duration_since(first))
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Walks civil time forward field by field (month, day, hour, minute, second),
/// jumping to the start of the next unit whenever a field does not match.
fn next_cron(cron: &Cron, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let start = Timestamp::from_second(after.as_second().checked_add(1)?).ok()?;
    let mut at = start.to_zoned(tz.clone()).datetime();
    let last_year = at.year().saturating_add(SEARCH_YEARS);
    while at.year() <= last_year {
        at = if !cron.matches_month(at.month()) {
            at.date()
                .first_of_month()
                .checked_add(1.month())
                .ok()?
                .to_datetime(Time::midnight())
        } else if !cron.matches_day(at.date()) {
            at.date().tomorrow().ok()?.to_datetime(Time::midnight())
        } else if !cron.matches_hour(at.hour()) {
            start_of(at, Unit::Hour)?.checked_add(1.hour()).ok()?
        } else if !cron.matches_minute(at.minute()) {
            start_of(at, Unit::Minute)?.checked_add(1.minute()).ok()?
        } else if !cron.matches_second(at.second()) {
            at.checked_add(1.second()).ok()?
        } else {
            let candidate = tz.to_ambiguous_timestamp(at).compatible().ok()?;
            if candidate > after {
                return Some(candidate);
            }
            // The second pass through a repeated hour: each civil time runs once.
            at.checked_add(1.second()).ok()?
        };
    }
    None
}

enum Unit {
    Hour,
    Minute,
}

fn start_of(at: DateTime, unit: Unit) -> Option<DateTime> {
    let builder = at.with().second(0).subsec_nanosecond(0);
    let builder = match unit {
        Unit::Hour => builder.minute(0),
        Unit::Minute => builder,
    };
    builder.build().ok()
}

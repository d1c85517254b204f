//! `strategy = "rolling"`, with the seed's classification of each backup by the
//! local date it was taken on: the last day of a month makes it monthly, else a
//! Sunday makes it weekly, else it is daily. Each class keeps its newest N.

use super::Verdict;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The class of a backup taken on local date `date`.
pub(super) fn class(date: Date) -> usize {
    if date == date.last_of_month() {
        MONTHLY
    } else if date.weekday() == Weekday::Sunday {
        WEEKLY
    } else {
        DAILY
    }
}

const DAILY: usize = 0;
const WEEKLY: usize = 1;
const MONTHLY: usize = 2;
const NAMES: [&str; 3] = ["daily", "weekly", "monthly"];

/// `times` newest first; `keep` is [daily, weekly, monthly].
pub(super) fn apply(times: &[Timestamp], keep: [u32; 3], tz: &TimeZone) -> Vec<Verdict> {
    let mut seen = [0u32; 3];
    times
        .iter()
        .map(|t| {
            let c = class(t.to_zoned(tz.clone()).date());
            seen[c] = seen[c].saturating_add(1);
            let (n, name, limit) = (seen[c], NAMES[c], keep[c]);
            if n <= limit {
                Verdict::Keep(vec![format!("{name} #{n}")])
            } else {
                Verdict::Remove(format!("{name} #{n}, keeps {limit}"))
            }
        })
        .collect()
}

//! `retention` tables (in `[defaults]`, an app or a source) and `[defaults] timezone`:
//! each strategy takes only its own keys, counts are non-negative integers, durations
//! parse, and the time zone is a known IANA name.

use super::Validator;
use crate::config::raw::RawRetention;
use lifeboat_core::retention::{KeepWithin, Retention, RetentionPolicy};
use toml::Spanned as S;

/// The keys each strategy takes (besides `strategy` and `keep_pre_restore`).
const DAILY_KEYS: &[&str] = &["keep"];
const ROLLING_KEYS: &[&str] = &["daily", "weekly", "monthly"];
const CUSTOM_KEYS: &[&str] = &[
    "keep_last",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
    "keep_within",
];

/// The keys of `raw` that are set, with their positions.
fn set_keys(raw: &RawRetention) -> Vec<(&'static str, std::ops::Range<usize>)> {
    let counts = [
        ("keep", &raw.keep),
        ("daily", &raw.daily),
        ("weekly", &raw.weekly),
        ("monthly", &raw.monthly),
        ("keep_last", &raw.keep_last),
        ("keep_hourly", &raw.keep_hourly),
        ("keep_daily", &raw.keep_daily),
        ("keep_weekly", &raw.keep_weekly),
        ("keep_monthly", &raw.keep_monthly),
        ("keep_yearly", &raw.keep_yearly),
    ];
    let mut keys: Vec<_> = counts
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v.span())))
        .collect();
    if let Some(v) = &raw.keep_within {
        keys.push(("keep_within", v.span()));
    }
    keys
}

fn count(value: &Option<S<u32>>, default: u32) -> u32 {
    value.as_ref().map_or(default, |v| *v.get_ref())
}

impl Validator<'_, '_> {
    /// The retention of one table, or `None` (with errors recorded) when it is wrong.
    pub(super) fn retention(&mut self, raw: &S<RawRetention>, table: &str) -> Option<Retention> {
        let r = raw.get_ref();
        let strategy = r.strategy.get_ref().as_str();
        let allowed = match strategy {
            "daily" => DAILY_KEYS,
            "rolling" => ROLLING_KEYS,
            "custom" => CUSTOM_KEYS,
            other => {
                let msg =
                    format!("unknown strategy `{other}`: use \"daily\", \"rolling\" or \"custom\"");
                self.err(r.strategy.span(), &format!("{table}.strategy"), msg);
                return None;
            }
        };
        let mut ok = true;
        for (key, span) in set_keys(r) {
            if !allowed.contains(&key) {
                let msg = format!(
                    "`{key}` does not belong to strategy \"{strategy}\" (it takes {})",
                    allowed.join(", ")
                );
                self.err(span, &format!("{table}.{key}"), msg);
                ok = false;
            }
        }
        let policy = match strategy {
            "daily" => RetentionPolicy::Daily {
                keep: count(&r.keep, lifeboat_core::retention::DEFAULT_DAILY_KEEP),
            },
            "rolling" => {
                let (d, w, m) = lifeboat_core::retention::DEFAULT_ROLLING;
                RetentionPolicy::Rolling {
                    daily: count(&r.daily, d),
                    weekly: count(&r.weekly, w),
                    monthly: count(&r.monthly, m),
                }
            }
            _ => self.custom(raw, table)?,
        };
        let mut retention = Retention::from(policy);
        if let Some(text) = &r.keep_pre_restore {
            match lifeboat_core::duration::parse_seconds(text.get_ref()) {
                Ok(secs) => {
                    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
                    retention.pre_restore_max_age = jiff::SignedDuration::from_secs(secs);
                }
                Err(why) => {
                    self.err(text.span(), &format!("{table}.keep_pre_restore"), why);
                    ok = false;
                }
            }
        }
        ok.then_some(retention)
    }

    fn custom(&mut self, raw: &S<RawRetention>, table: &str) -> Option<RetentionPolicy> {
        let r = raw.get_ref();
        let keep_within = match &r.keep_within {
            None => None,
            Some(text) => match text.get_ref().parse::<KeepWithin>() {
                Ok(within) => Some(within),
                Err(e) => {
                    self.err(text.span(), &format!("{table}.keep_within"), e.to_string());
                    return None;
                }
            },
        };
        if set_keys(r).is_empty() {
            let msg = format!(
                "strategy \"custom\" needs at least one of {}",
                CUSTOM_KEYS.join(", ")
            );
            self.err(raw.span(), &format!("{table}.strategy"), msg);
            return None;
        }
        Some(RetentionPolicy::Custom {
            keep_last: count(&r.keep_last, 0),
            keep_hourly: count(&r.keep_hourly, 0),
            keep_daily: count(&r.keep_daily, 0),
            keep_weekly: count(&r.keep_weekly, 0),
            keep_monthly: count(&r.keep_monthly, 0),
            keep_yearly: count(&r.keep_yearly, 0),
            keep_within,
        })
    }

    /// `[defaults] timezone`, checked against the system's time zone database.
    pub(super) fn timezone(&mut self, raw: Option<&S<String>>) -> String {
        let Some(name) = raw else {
            return "UTC".to_string();
        };
        if let Err(e) = jiff::tz::TimeZone::get(name.get_ref()) {
            let msg = format!("unknown time zone `{}`: {e}", name.get_ref());
            self.err(name.span(), "defaults.timezone", msg);
        }
        name.get_ref().clone()
    }
}

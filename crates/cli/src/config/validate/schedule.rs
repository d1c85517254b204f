//! Schedule keys (`schedule`, `every`, `verify_schedule`, `prune_schedule` in
//! `[defaults]`, an app or a source) and `[daemon]`: cron expressions parse and match
//! some time, intervals are positive, `schedule` and `every` are not both given.

use super::Validator;
use crate::config::raw::{RawDaemon, RawSchedules};
use lifeboat_core::{DaemonSpec, Schedule, Schedules};
use toml::Spanned as S;

impl Validator<'_, '_> {
    /// The schedules of one table; what it does not set comes from `inherited`.
    pub(super) fn schedules(
        &mut self,
        raw: RawSchedules<'_>,
        table: &str,
        inherited: &Schedules,
    ) -> Schedules {
        let backup = match (raw.schedule, raw.every) {
            (Some(_), Some(every)) => {
                let msg = "give either schedule (cron) or every (an interval), not both";
                self.err(every.span(), &format!("{table}.every"), msg);
                None
            }
            (Some(cron), None) => self.cron(cron, &format!("{table}.schedule")),
            (None, Some(every)) => self.every(every, &format!("{table}.every")),
            (None, None) => inherited.backup.clone(),
        };
        let mut other = |raw: &Option<S<String>>, key: &str, inherited: &Option<Schedule>| match raw
        {
            Some(cron) => self.cron(cron, &format!("{table}.{key}")),
            None => inherited.clone(),
        };
        let verify = other(raw.verify_schedule, "verify_schedule", &inherited.verify);
        let prune = other(raw.prune_schedule, "prune_schedule", &inherited.prune);
        Schedules {
            backup,
            verify,
            prune,
        }
    }

    /// A cron expression; an error points at the offending field inside the string.
    pub(super) fn cron(&mut self, raw: &S<String>, key: &str) -> Option<Schedule> {
        match Schedule::cron(raw.get_ref()) {
            Ok(schedule) => {
                let tz = jiff::tz::TimeZone::UTC;
                if schedule.next_after(jiff::Timestamp::now(), &tz).is_none() {
                    let msg = format!("`{}` never matches a date", raw.get_ref());
                    self.err(raw.span(), key, msg);
                    return None;
                }
                Some(schedule)
            }
            Err(e) => {
                let start = raw.span().start + self.quote_len(raw.span().start) + e.offset;
                let msg = format!("bad cron expression `{}`: {}", raw.get_ref(), e.message);
                self.err(start..start, key, msg);
                None
            }
        }
    }

    /// Length of the opening quote of the string at `offset` (`"`, `'`, `"""`, `'''`).
    fn quote_len(&self, offset: usize) -> usize {
        let rest = self.doc.text.get(offset..).unwrap_or_default();
        if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else {
            1
        }
    }

    fn every(&mut self, raw: &S<String>, key: &str) -> Option<Schedule> {
        let seconds = match lifeboat_core::duration::parse_seconds(raw.get_ref()) {
            Ok(seconds) => seconds,
            Err(why) => {
                self.err(raw.span(), key, why);
                return None;
            }
        };
        let schedule = Schedule::every(raw.get_ref(), seconds);
        if schedule.is_none() {
            self.err(raw.span(), key, "the interval must be longer than 0s");
        }
        schedule
    }

    /// `[daemon]`, with its defaults.
    pub(super) fn daemon(&mut self, raw: Option<&S<RawDaemon>>) -> DaemonSpec {
        let mut spec = DaemonSpec::default();
        let Some(raw) = raw.map(S::get_ref) else {
            return spec;
        };
        if let Some(listen) = &raw.listen {
            if listen.get_ref().parse::<std::net::SocketAddr>().is_err() {
                let msg = format!(
                    "`{}` is not an address and port such as \"127.0.0.1:9187\"",
                    listen.get_ref()
                );
                self.err(listen.span(), "daemon.listen", msg);
            }
            spec.listen = Some(listen.get_ref().clone());
        }
        spec.token_env = raw.token_env.as_ref().map(|t| t.get_ref().clone());

        if let Some(n) = &raw.max_parallel {
            if *n.get_ref() == 0 {
                self.err(n.span(), "daemon.max_parallel", "must be at least 1");
            }
            spec.max_parallel = usize::try_from(*n.get_ref()).unwrap_or(usize::MAX);
        }
        if let Some(catch_up) = &raw.catch_up {
            spec.catch_up = *catch_up.get_ref();
        }
        if let Some(grace) = &raw.shutdown_grace {
            match lifeboat_core::duration::parse_seconds(grace.get_ref()) {
                Ok(secs) => spec.shutdown_grace_secs = secs,
                Err(why) => self.err(grace.span(), "daemon.shutdown_grace", why),
            }
        }
        spec
    }
}

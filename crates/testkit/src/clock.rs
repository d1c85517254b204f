//! A clock that says what the test says, and moves only when told.

use lifeboat_core::ports::Clock;
use std::sync::Mutex;

#[derive(Debug)]
pub struct FakeClock(Mutex<jiff::Zoned>);

impl FakeClock {
    /// A clock at `when`, e.g. `"2026-11-30T01:00:00+00:00[UTC]"`.
    pub fn at(when: &str) -> Self {
        let now = when
            .parse()
            .unwrap_or_else(|e| panic!("bad time {when}: {e}"));
        Self(Mutex::new(now))
    }

    pub fn set(&self, when: jiff::Zoned) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = when;
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now
            .checked_add(by)
            .unwrap_or_else(|e| panic!("clock overflow: {e}"));
    }
}

impl Clock for FakeClock {
    fn now(&self) -> jiff::Zoned {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

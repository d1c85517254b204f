//! The clock port: the one place "now" comes from, so that schedules, retention and
//! run ids can be tested at a chosen time.

/// Tells the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> jiff::Zoned;
}

/// The system's clock, in UTC.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Zoned {
        jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC)
    }
}

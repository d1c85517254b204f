//! The event port lives in [`crate::event`]; re-exported here beside the other ports.

pub use crate::event::{Event, Events, NoEvents, RecordedEvents};

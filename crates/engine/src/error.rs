//! The engine speaks the ports' error type; these build the engine's own errors,
//! always naming the source (`app/source: …`).

pub use lifeboat_core::Error as EngineError;
use lifeboat_core::Error;

/// Something failed for `spec` (exit 1).
pub(crate) fn failed(spec: &str, message: impl Into<String>) -> Error {
    Error::failed(message).context(spec)
}

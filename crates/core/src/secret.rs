//! `Secret<T>`: a value that never shows itself in Debug, Display or serde output.

use std::fmt;

/// A secret value (password, key). Formatting and serialisation print `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Callers must hand it only to children via env or 0600 files.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl<T> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_masked_everywhere() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s}"), "****");
        assert_eq!(format!("{s:?}"), "****");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"****\"");
        assert_eq!(s.expose(), "hunter2");
    }
}

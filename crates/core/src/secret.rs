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

/// Replaces known secret values in text a tool printed (its stderr in an error, a
/// hook's output) with `****`, before the text reaches a log, a report or a terminal.
#[derive(Debug, Clone, Default)]
pub struct Redactor(Vec<String>);

impl Redactor {
    /// Longest first, so that a secret containing another is masked whole.
    pub fn new(mut secrets: Vec<String>) -> Self {
        secrets.retain(|s| !s.is_empty());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self(secrets)
    }

    pub fn apply(&self, text: &str) -> String {
        self.0.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), "****")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_masks_every_secret_and_the_longest_whole() {
        let r = Redactor::new(vec!["pw".into(), "pw-long".into(), String::new()]);
        assert_eq!(
            r.apply("login pw-long then pw, ok"),
            "login **** then ****, ok"
        );
        assert_eq!(Redactor::default().apply("as is"), "as is");
    }

    #[test]
    fn secret_is_masked_everywhere() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s}"), "****");
        assert_eq!(format!("{s:?}"), "****");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"****\"");
        assert_eq!(s.expose(), "hunter2");
    }
}

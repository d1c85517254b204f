//! `APP/SOURCE` and `APP` spec strings, and choosing the sources they name.

use crate::model::{AppSpec, Config, SourceSpec};
use std::fmt;

/// One parsed spec string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub app: String,
    pub source: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error("`{0}` is not a valid spec: expected APP or APP/SOURCE")]
    Malformed(String),
    #[error("no app named `{0}` in the configuration")]
    UnknownApp(String),
    #[error("app `{app}` has no source named `{name}`")]
    UnknownSource { app: String, name: String },
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut parts = text.split('/');
        let app = parts.next().unwrap_or_default();
        let source = parts.next();
        let valid = |s: &str| !s.is_empty();
        if !valid(app) || parts.next().is_some() || source.is_some_and(|s| !valid(s)) {
            return Err(SelectorError::Malformed(text.to_string()));
        }
        Ok(Self {
            app: app.to_string(),
            source: source.map(str::to_string),
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "{}/{}", self.app, s),
            None => f.write_str(&self.app),
        }
    }
}

/// Every (app, source) pair named by `selectors` (all of them when empty), in config order,
/// each once.
pub fn select<'c>(
    config: &'c Config,
    selectors: &[Selector],
) -> Result<Vec<(&'c AppSpec, &'c SourceSpec)>, SelectorError> {
    for sel in selectors {
        let app = config
            .app(&sel.app)
            .ok_or_else(|| SelectorError::UnknownApp(sel.app.clone()))?;
        if let Some(src) = &sel.source {
            app.source(src)
                .ok_or_else(|| SelectorError::UnknownSource {
                    app: sel.app.clone(),
                    name: src.clone(),
                })?;
        }
    }
    let wanted = |app: &AppSpec, src: &SourceSpec| {
        selectors.is_empty()
            || selectors
                .iter()
                .any(|s| s.app == app.name && s.source.as_deref().is_none_or(|n| n == src.name))
    };
    Ok(config
        .apps
        .iter()
        .flat_map(|app| app.sources.iter().map(move |src| (app, src)))
        .filter(|(app, src)| wanted(app, src))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_app_and_app_source() {
        assert_eq!(
            Selector::parse("esp/db").unwrap(),
            Selector {
                app: "esp".into(),
                source: Some("db".into())
            }
        );
        assert_eq!(Selector::parse("esp").unwrap().source, None);
        for bad in ["", "/db", "esp/", "a/b/c"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Loading `lifeboat.toml`: find the file, parse it into raw structs, validate into
//! the domain model. Every error names the file, line, column and key.

mod raw;
pub mod stored;
mod validate;

use lifeboat_core::Config;
use std::path::{Path, PathBuf};

/// A configuration error, already formatted as `FILE:LINE:COL: key `K`: message`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigError(pub Vec<String>);

/// The configuration and where it came from.
pub struct Loaded {
    pub path: PathBuf,
    pub config: Config,
    /// Accepted keys that this version does not act on yet, as warnings.
    pub warnings: Vec<String>,
}

/// `--config`, else `$LIFEBOAT_CONFIG`, else `./lifeboat.toml`.
pub fn locate(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("LIFEBOAT_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("lifeboat.toml"))
}

/// Reads and validates the configuration at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(vec![format!(
            "{}: cannot read the configuration: {e}",
            path.display()
        )])
    })?;
    parse(path, &text)
}

/// Validates `text`, read from `path` (which messages name).
pub(crate) fn parse(path: &Path, text: &str) -> Result<Loaded, ConfigError> {
    let doc = Positions {
        file: path.display().to_string(),
        text,
    };
    let raw: raw::RawConfig =
        toml::from_str(text).map_err(|e| ConfigError(vec![doc.toml_error(&e)]))?;
    let (mut config, warnings) = validate::validate(raw, &doc).map_err(ConfigError)?;
    let secrets = lifeboat_core::Redactor::new(crate::notify::summary::secrets_of(&config));
    for (name, stored) in stored::app_documents(text, &absolute(path), &secrets) {
        if let Some(app) = config.apps.iter_mut().find(|a| a.name == name) {
            app.stored_config = Some(stored);
        }
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        config,
        warnings,
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Turns byte spans into `file:line:col` prefixes.
pub(crate) struct Positions<'t> {
    pub file: String,
    pub text: &'t str,
}

impl Positions<'_> {
    pub fn at(&self, offset: usize) -> String {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        format!("{}:{line}:{col}", self.file)
    }

    /// `key` is the dotted path of the offending key.
    pub fn error(&self, span: &std::ops::Range<usize>, key: &str, message: &str) -> String {
        format!("{}: key `{key}`: {message}", self.at(span.start))
    }

    fn toml_error(&self, e: &toml::de::Error) -> String {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim();
        match self.key_on_line(span.start) {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("{}: key `{key}`: {message}", self.at(span.start))
            }
            _ => format!("{}: {message}", self.at(span.start)),
        }
    }

    /// The key assigned on the line holding `offset`, if that line is `key = value`.
    fn key_on_line(&self, offset: usize) -> Option<String> {
        let start = self.text[..offset.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim();
        (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
    }
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod notify_tests;
#[cfg(test)]
mod tests;

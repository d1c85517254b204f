//! `[[copy_to]]`: the offsite repositories, each opened like `[repository]`, with a
//! unique name and an optional retention of its own.

use super::Validator;
use crate::config::raw::RawCopyTo;
use lifeboat_core::CopySpec;
use toml::Spanned;

impl Validator<'_, '_> {
    pub(super) fn copies(&mut self, raw: &[Spanned<RawCopyTo>]) -> Vec<CopySpec> {
        let mut copies: Vec<CopySpec> = Vec::new();
        for entry in raw {
            let copy = entry.get_ref();
            let name = copy.name.get_ref();
            self.name(&copy.name, "copy_to.name");
            if copies.iter().any(|c| &c.name == name) {
                self.err(
                    copy.name.span(),
                    "copy_to.name",
                    format!("a copy_to named {name:?} exists already"),
                );
            }
            let retention = copy
                .retention
                .as_ref()
                .and_then(|r| self.retention(r, "copy_to.retention"));
            if let Some(repository) = self.repository(copy.fields(), entry.span(), "copy_to") {
                copies.push(CopySpec {
                    name: name.clone(),
                    repository,
                    retention,
                });
            }
        }
        copies
    }
}

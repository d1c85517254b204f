//! `lifeboat config`: the resolved configuration with every secret masked.

use crate::Ctx;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// Only validate; print nothing on success
    #[arg(long)]
    check: bool,
}

pub fn run(ctx: &Ctx, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(ctx)?;
    if args.check {
        if !ctx.quiet && !ctx.json {
            eprintln!("{}: ok", loaded.path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if ctx.json {
        crate::output::json(&loaded.config)?;
    } else {
        // Secret's serde form is `****`, so TOML output cannot leak one.
        let value = without_nulls(serde_json::to_value(&loaded.config)?);
        println!("# {}", loaded.path.display());
        println!("{}", toml::to_string_pretty(&value)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// TOML has no null: unset optional values are left out.
fn without_nulls(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

//! `lifeboat completions bash|zsh|fish`: a shell completion script, generated from the
//! clap definition, on stdout.

use std::process::ExitCode;

/// The shells a script can be generated for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Install, e.g.:\n  \
    lifeboat completions bash > /etc/bash_completion.d/lifeboat\n  \
    lifeboat completions zsh > \"${fpath[1]}/_lifeboat\"\n  \
    lifeboat completions fish > ~/.config/fish/completions/lifeboat.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for
    shell: Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
    };
    let mut cmd = <crate::Cli as clap::CommandFactory>::command();
    // Generated into memory first: clap_complete panics on a failed write, and a
    // closed stdout (`| head`) should be an error, not a panic.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "lifeboat", &mut script);
    crate::output::raw(&script)?;
    Ok(ExitCode::SUCCESS)
}

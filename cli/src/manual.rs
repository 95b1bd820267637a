//! `tkc completions SHELL` and `tkc man`: shell completion scripts and the man page, generated
//! from the clap definitions in `main.rs` (`clap_complete`, `clap_mangen`), so they cannot drift
//! from the arguments `tkc` actually accepts.

use crate::exit;
use clap::{Args, CommandFactory};
use std::io::Write;
use std::path::PathBuf;

/// The exit codes, one `(code, meaning)` row each: shown at the end of `tkc --help` and as the
/// EXIT STATUS section of the man page.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (
        exit::OK,
        "no errors (warnings allowed unless --deny-warnings); the run succeeded or completed",
    ),
    (
        exit::FAILED,
        "the input has errors, or the run failed or could not start",
    ),
    (exit::USAGE, "usage, I/O or configuration error"),
    (
        crate::run::INTERRUPTED,
        "a run was interrupted (SIGINT or SIGTERM)",
    ),
];

/// The `after_help` of `tkc --help`, built from [`EXIT_CODES`].
pub fn exit_codes_help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code:<5}{meaning}\n"));
    }
    text
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write `tkc.1` and a page per subcommand (`tkc-check.1`, ...) into this directory instead
    /// of printing `tkc.1` to stdout.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// `tkc completions SHELL`: the completion script on stdout.
pub fn completions(args: CompletionsArgs) -> u8 {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "tkc", &mut out);
    write_stdout(&out)
}

/// `tkc man`: the roff man page on stdout, or the pages of every subcommand in `--out-dir`.
pub fn man(args: ManArgs) -> u8 {
    let cmd = crate::Cli::command();
    match args.out_dir {
        None => {
            let mut out = Vec::new();
            if let Err(e) = render(cmd, true, &mut out) {
                eprintln!("error: tkc man: {e}");
                return exit::USAGE;
            }
            write_stdout(&out)
        }
        Some(dir) => match write_pages(cmd, &dir) {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("error: tkc man: cannot write to {}: {e}", dir.display());
                exit::USAGE
            }
        },
    }
}

/// One page: clap_mangen's page, with the top level's after-help (the exit codes, which
/// clap_mangen would print as a section "EXTRA") rendered as EXIT STATUS from [`EXIT_CODES`].
fn render(cmd: clap::Command, top_level: bool, w: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.disable_help_subcommand(true))
        .source(format!("tkc {}", env!("CARGO_PKG_VERSION")))
        .manual("tkc manual");
    let mut page = Vec::new();
    man.render(&mut page)?;
    let page = String::from_utf8_lossy(&page);
    let page = match page.find(".SH EXTRA\n") {
        Some(start) if top_level => {
            let rest = &page[start + 1..];
            let end = rest
                .find("\n.SH ")
                .map_or(page.len(), |i| start + 1 + i + 1);
            let mut section = String::from(".SH \"EXIT STATUS\"\n");
            for (code, meaning) in EXIT_CODES {
                section.push_str(&format!(".TP\n{code}\n{}\n", roff_escape(meaning)));
            }
            format!("{}{section}{}", &page[..start], &page[end..])
        }
        _ => page.into_owned(),
    };
    w.write_all(page.as_bytes())
}

/// `tkc.1` and `tkc-SUB.1` for each visible subcommand (the names `man tkc-check` finds),
/// and `tkc-SUB-SUBSUB.1` for nested ones (`man tkc-bundle-push`).
fn write_pages(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    write_subcommand_pages(&cmd, "tkc", dir)?;
    let mut file = std::fs::File::create(dir.join("tkc.1"))?;
    render(cmd, true, &mut file)
}

fn write_subcommand_pages(
    cmd: &clap::Command,
    prefix: &str,
    dir: &std::path::Path,
) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // After `build`, clap names a subcommand's page `tkc-check` (its display name).
        let name = format!("{prefix}-{}", sub.get_name());
        let mut file = std::fs::File::create(dir.join(format!("{name}.1")))?;
        render(sub.clone(), false, &mut file)?;
        write_subcommand_pages(sub, &name, dir)?;
    }
    Ok(())
}

/// Roff text: a leading `.` or `'` would be read as a request, `\` as an escape.
fn roff_escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

/// Writes to stdout; a closed pipe (`tkc man | head`) is not an error worth a message.
fn write_stdout(bytes: &[u8]) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            exit::USAGE
        }
    }
}

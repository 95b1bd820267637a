//! `tkc-entrypoint`: the program that wraps every step of a tkc/Tekton task.
//!
//! It waits for the previous step's post file, runs the step in its own process group
//! (forwarding signals, enforcing the timeout, honouring cancel and `onError`), then reports
//! through its own post file, the `exitCode` file and the termination message. It also carries
//! the pod set-up subcommands `init`, `cp`, `step-init` and `decode-script`.
//!
//! It is copied into every step container, so it is std plus libc only and builds fully
//! static (see `README.md` and `build-static.sh`). It never looks up users or hosts: those
//! lookups do not work in a static binary in an empty image.

#![deny(unsafe_op_in_unsafe_fn)]

mod base64;
mod cli;
mod duration;
mod json;
mod process;
mod run;
mod spawn;
mod stepresults;
mod subcommands;
mod termination;
mod wait;

use cli::Invocation;
use std::path::Path;
/// The timestamp format of termination messages, for other crates that show times.
pub use termination::format_utc_millis;

/// Runs the entrypoint with `args` (without the program name) and returns the exit code.
///
/// This is the whole program: the `tkc-entrypoint` binary calls it, and so does `tkc` when it
/// stands in for a missing `tkc-entrypoint` (`tkc __entrypoint ...`). It must be called before
/// the process starts any thread: signal forwarding blocks signals in the calling thread, and
/// threads started earlier would keep them unblocked.
pub fn main(args: Vec<String>) -> i32 {
    let env_root = std::env::var("TKC_TEKTON_ROOT")
        .ok()
        .filter(|r| !r.is_empty());
    match cli::parse(&args, env_root) {
        Err(cli::UsageError(msg)) => {
            eprint!("tkc-entrypoint: {msg}\n{}", cli::USAGE);
            2
        }
        Ok(Invocation::Help) => {
            print!("{}", cli::USAGE);
            0
        }
        Ok(Invocation::Run(options)) => match process::block_forwarded_signals() {
            Ok(()) => {
                process::terminate_with_parent();
                process::close_inherited_descriptors();
                process::adopt_orphans();
                run::run(&options)
            }
            Err(e) => {
                eprintln!("tkc-entrypoint: cannot block the forwarded signals: {e}");
                1
            }
        },
        // A sidecar is supervised like a step (its own session, signals forwarded, stopped
        // with everything it started when tkc dies), with nothing to wait for or report.
        Ok(Invocation::Sidecar { argv, started_file }) => {
            match process::block_forwarded_signals() {
                Ok(()) => {
                    process::terminate_with_parent();
                    process::close_inherited_descriptors();
                    process::adopt_orphans();
                    run::run(&cli::Options {
                        args: argv,
                        started_file,
                        ..cli::Options::default()
                    })
                }
                Err(e) => {
                    eprintln!("tkc-entrypoint: cannot block the forwarded signals: {e}");
                    1
                }
            }
        }
        Ok(Invocation::Init {
            src,
            dst,
            steps,
            tekton_root,
        }) => report(
            "init",
            subcommands::cp(Path::new(&src), Path::new(&dst))
                .and_then(|()| subcommands::step_init(&tekton_root, &steps))
                .map_err(|e| e.to_string()),
        ),
        Ok(Invocation::Cp { src, dst }) => report(
            "cp",
            subcommands::cp(Path::new(&src), Path::new(&dst)).map_err(|e| e.to_string()),
        ),
        Ok(Invocation::StepInit { steps, tekton_root }) => report(
            "step-init",
            subcommands::step_init(&tekton_root, &steps).map_err(|e| e.to_string()),
        ),
        Ok(Invocation::DecodeScript { path }) => report(
            "decode-script",
            subcommands::decode_script(Path::new(&path)),
        ),
    }
}

/// Prints a subcommand failure the way Tekton does (`<subcommand> error: <message>`).
fn report(subcommand: &str, result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("tkc-entrypoint: {subcommand} error: {msg}");
            1
        }
    }
}

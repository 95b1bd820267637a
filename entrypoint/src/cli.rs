//! Command line: Go `flag`-style parsing of Tekton's entrypoint flags, and the subcommands.
//!
//! Tekton's pod builder emits `-flag value`, `-flag=value`, `--flag value` and bare booleans,
//! so this follows Go's `flag` package: one or two dashes, `=` or a separate value, booleans
//! only take a value through `=`, parsing stops at the first non-flag. As in Tekton, everything
//! after the first `--` is the step's argv tail and is never read as flags.

use crate::duration::parse_go_duration;
use std::path::PathBuf;

/// What one invocation asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Wait, run the step, report (the normal mode).
    Run(Box<Options>),
    /// `init <src> <dst> <stepName>...`: `cp` then `step-init`.
    Init {
        src: String,
        dst: String,
        steps: Vec<String>,
        tekton_root: PathBuf,
    },
    /// `cp <src> <dst>`: copy with mode 0311.
    Cp { src: String, dst: String },
    /// `decode-script <file>`: base64-decode a script in place.
    DecodeScript { path: String },
    /// `step-init <stepName>...`: only the `/tekton/steps` links.
    StepInit {
        steps: Vec<String>,
        tekton_root: PathBuf,
    },
    /// `sidecar -- <argv>` (tkc): run a sidecar's command supervised like a step, with no
    /// files to wait for or write but `-started_file`; it ends when its parent dies.
    Sidecar {
        argv: Vec<String>,
        /// `-started_file`: created once the command has been started (empty: none).
        started_file: String,
    },
    /// `-h` / `-help`.
    Help,
}

/// Everything the run mode needs, after defaults are applied.
#[derive(Debug, Default)]
pub struct Options {
    /// `-entrypoint`: argv[0] of the step; empty means "look elsewhere" (see `command`).
    pub entrypoint: String,
    /// `-wait_file`, split on commas, empties dropped.
    pub wait_files: Vec<String>,
    /// `-wait_file_content`: a wait file counts only once it is non-empty.
    pub wait_file_content: bool,
    /// `-post_file`: created when the step is done (`.err` suffix on failure); empty = none.
    pub post_file: String,
    /// `-termination_path`.
    pub termination_path: PathBuf,
    /// `-results`: task result names.
    pub results: Vec<String>,
    /// `-step_results`: step result names.
    pub step_results: Vec<String>,
    /// `-when_expressions`: JSON list of step `when` expressions.
    pub when_expressions: String,
    /// `-timeout` in nanoseconds (0 = none; negative fails the step like Tekton does).
    pub timeout_ns: i64,
    /// `-stdout_path`: tee the step's stdout here.
    pub stdout_path: String,
    /// `-stderr_path`: tee the step's stderr here.
    pub stderr_path: String,
    /// `-on_error`: `continue` tolerates a non-zero exit.
    pub on_error: String,
    /// `-step_metadata_dir`: holds `results/`, `artifacts/`, `exitCode`; empty = none.
    pub step_metadata_dir: String,
    /// `-breakpoint_on_failure`.
    pub breakpoint_on_failure: bool,
    /// `-debug_before_step`.
    pub debug_before_step: bool,
    /// `-result_from`: `sidecar-logs` keeps results out of the termination message.
    pub result_from: String,
    /// `-results_dir` (tkc): where task results are read; default `<root>/results`.
    pub results_dir: PathBuf,
    /// `-steps_dir` (tkc): where `$(steps.S.results.R)` are read; default `<root>/steps`.
    pub steps_dir: PathBuf,
    /// `-cancel_file` (tkc): non-empty file = cancel; default `<root>/downward/cancel`.
    pub cancel_file: PathBuf,
    /// `-started_file` (tkc): created once the step's command has been started; empty = none.
    pub started_file: String,
    /// Everything after the first `--`.
    pub args: Vec<String>,
}

/// A usage error: printed with the usage text, exit status 2 (Go's `flag.ExitOnError`).
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

/// The usage text, printed for `-help` and after usage errors.
pub const USAGE: &str = "\
usage: tkc-entrypoint [flags] -- [args...]
       tkc-entrypoint init <src> <dst> [<stepName>...]
       tkc-entrypoint cp <src> <dst>
       tkc-entrypoint decode-script <file>
       tkc-entrypoint step-init [<stepName>...]
       tkc-entrypoint sidecar -- <command> [<arg>...]   (tkc: supervised, dies with tkc)

Tekton flags:
  -entrypoint CMD           argv[0] of the step (else TEKTON_PLATFORM_COMMANDS, else args)
  -wait_file F1,F2          files to wait for, in order (F.err present => skip)
  -wait_file_content        wait files must be non-empty
  -post_file F              written when done; F.err on failure
  -termination_path F       termination message (default <root>/termination)
  -results A,B              task results to report, read from -results_dir
  -step_results A,B         step results to report, read from <step_metadata_dir>/results
  -step_metadata_dir D      holds results/, artifacts/ and exitCode
  -timeout DURATION         kill the step's process group after this long (0 = none)
  -on_error continue|stopAndFail
  -stdout_path F, -stderr_path F   tee the step's output to F
  -when_expressions JSON    step when expressions (in/notin)
  -breakpoint_on_failure, -debug_before_step, -result_from M,
  -compress_termination_message (no-op), credential and SPIRE flags (no-ops)
tkc flags:
  -tekton_root D            base of the defaults below (default $TKC_TEKTON_ROOT or /tekton)
  -results_dir D            task results directory (default <root>/results)
  -steps_dir D              step directories for $(steps.S.results.R) (default <root>/steps)
  -cancel_file F            non-empty => cancel (default <root>/downward/cancel; \"\" = off)
  -started_file F           created once the command has started (sidecars: their readiness)
";

/// How a flag takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Value,
}

/// Every flag we accept. Unknown flags are a usage error, as in Go.
const FLAGS: &[(&str, Kind)] = &[
    ("entrypoint", Kind::Value),
    ("wait_file", Kind::Value),
    ("wait_file_content", Kind::Bool),
    ("post_file", Kind::Value),
    ("termination_path", Kind::Value),
    ("results", Kind::Value),
    ("step_results", Kind::Value),
    ("when_expressions", Kind::Value),
    ("timeout", Kind::Value),
    ("stdout_path", Kind::Value),
    ("stderr_path", Kind::Value),
    ("on_error", Kind::Value),
    ("step_metadata_dir", Kind::Value),
    ("breakpoint_on_failure", Kind::Bool),
    ("debug_before_step", Kind::Bool),
    ("result_from", Kind::Value),
    ("compress_termination_message", Kind::Bool),
    // Credential flags of Tekton's creds-init; accepted and ignored (see README).
    ("basic-git", Kind::Value),
    ("ssh-git", Kind::Value),
    ("basic-docker", Kind::Value),
    ("docker-config", Kind::Value),
    ("docker-cfg", Kind::Value),
    // SPIRE signing; accepted and ignored.
    ("enable_spire", Kind::Bool),
    ("spire_socket_path", Kind::Value),
    // tkc extensions.
    ("tekton_root", Kind::Value),
    ("results_dir", Kind::Value),
    ("steps_dir", Kind::Value),
    ("cancel_file", Kind::Value),
    ("started_file", Kind::Value),
];

/// Go's `strconv.ParseBool`.
fn parse_bool(name: &str, v: &str) -> Result<bool, UsageError> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(UsageError(format!(
            "invalid boolean value {v:?} for -{name}"
        ))),
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `argv[1..]`. `env_root` is `$TKC_TEKTON_ROOT`, passed in so tests need no env.
pub fn parse(args: &[String], env_root: Option<String>) -> Result<Invocation, UsageError> {
    let (flag_args, tail) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], args[i + 1..].to_vec()),
        None => (args, Vec::new()),
    };

    let mut o = Options::default();
    let mut tekton_root: Option<String> = None;
    let mut termination_path = None;
    let mut results_dir = None;
    let mut steps_dir = None;
    let mut cancel_file = None;

    let mut i = 0;
    while i < flag_args.len() {
        let arg = &flag_args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break; // first non-flag: positional arguments start here
        }
        i += 1;
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(UsageError(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Ok(Invocation::Help);
        }
        let Some(&(_, kind)) = FLAGS.iter().find(|(n, _)| *n == name) else {
            return Err(UsageError(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let value: String = match (kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (_, Some(v)) => v.to_owned(),
            (Kind::Value, None) => match flag_args.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => return Err(UsageError(format!("flag needs an argument: -{name}"))),
            },
        };
        match name {
            "entrypoint" => o.entrypoint = value,
            "wait_file" => o.wait_files = split_list(&value),
            "wait_file_content" => o.wait_file_content = parse_bool(name, &value)?,
            "post_file" => o.post_file = value,
            "termination_path" => termination_path = Some(value),
            "results" => o.results = split_list(&value),
            "step_results" => o.step_results = split_list(&value),
            "when_expressions" => o.when_expressions = value,
            "timeout" => {
                o.timeout_ns = parse_go_duration(&value).map_err(|e| {
                    UsageError(format!("invalid value {value:?} for flag -timeout: {e}"))
                })?
            }
            "stdout_path" => o.stdout_path = value,
            "stderr_path" => o.stderr_path = value,
            "on_error" => o.on_error = value,
            "step_metadata_dir" => o.step_metadata_dir = value,
            "breakpoint_on_failure" => o.breakpoint_on_failure = parse_bool(name, &value)?,
            "debug_before_step" => o.debug_before_step = parse_bool(name, &value)?,
            "result_from" => o.result_from = value,
            "tekton_root" => tekton_root = Some(value),
            "results_dir" => results_dir = Some(value),
            "steps_dir" => steps_dir = Some(value),
            "cancel_file" => cancel_file = Some(value),
            "started_file" => o.started_file = value,
            _ if kind == Kind::Bool => {
                parse_bool(name, &value)?; // validated, then ignored
            }
            _ => {} // accepted no-op flags
        }
    }
    let positional = &flag_args[i..];

    let root = PathBuf::from(
        tekton_root
            .or(env_root)
            .unwrap_or_else(|| "/tekton".to_owned()),
    );
    let or_root = |v: Option<String>, rel: &str| v.map_or_else(|| root.join(rel), PathBuf::from);

    if let Some(sub) = positional.first() {
        let rest = &positional[1..];
        let arity_err = |form: &str| Err(UsageError(format!("usage: tkc-entrypoint {form}")));
        return match sub.as_str() {
            "init" if rest.len() >= 2 => Ok(Invocation::Init {
                src: rest[0].clone(),
                dst: rest[1].clone(),
                steps: rest[2..].to_vec(),
                tekton_root: root,
            }),
            "init" => arity_err("init <src> <dst> [<stepName>...]"),
            "cp" if rest.len() == 2 => Ok(Invocation::Cp {
                src: rest[0].clone(),
                dst: rest[1].clone(),
            }),
            "cp" => arity_err("cp <src> <dst>"),
            "decode-script" if rest.len() == 1 => Ok(Invocation::DecodeScript {
                path: rest[0].clone(),
            }),
            "decode-script" => arity_err("decode-script <file>"),
            "sidecar" if rest.is_empty() && !tail.is_empty() => Ok(Invocation::Sidecar {
                argv: tail,
                started_file: o.started_file,
            }),
            "sidecar" => arity_err("sidecar -- <command> [<arg>...]"),
            "step-init" => Ok(Invocation::StepInit {
                steps: rest.to_vec(),
                tekton_root: root,
            }),
            other => Err(UsageError(format!(
                "unexpected argument {other:?}: the step's command goes after \"--\""
            ))),
        };
    }

    o.termination_path = or_root(termination_path, "termination");
    o.results_dir = or_root(results_dir, "results");
    o.steps_dir = or_root(steps_dir, "steps");
    o.cancel_file = or_root(cancel_file, "downward/cancel");
    o.args = tail;
    Ok(Invocation::Run(Box::new(o)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    fn run(s: &[&str]) -> Options {
        match parse(&argv(s), None) {
            Ok(Invocation::Run(o)) => *o,
            other => panic!("expected run options, got {other:?}"),
        }
    }

    #[test]
    fn go_style_flags() {
        let o = run(&[
            "-wait_file",
            "/a,/b",
            "--wait_file_content",
            "-post_file=/p",
            "-timeout=1s",
            "--results",
            "x,,y",
            "-on_error",
            "continue",
            "-compress_termination_message=true",
            "-basic-git=foo=https://x",
            "-entrypoint",
            "sh",
            "--",
            "-c",
            "echo -- hi",
            "--",
        ]);
        assert_eq!(o.wait_files, ["/a", "/b"]);
        assert!(o.wait_file_content);
        assert_eq!(o.post_file, "/p");
        assert_eq!(o.timeout_ns, 1_000_000_000);
        assert_eq!(o.results, ["x", "y"]);
        assert_eq!(o.on_error, "continue");
        assert_eq!(o.entrypoint, "sh");
        assert_eq!(o.args, ["-c", "echo -- hi", "--"]);
        assert_eq!(o.termination_path, PathBuf::from("/tekton/termination"));
        assert_eq!(o.cancel_file, PathBuf::from("/tekton/downward/cancel"));
    }

    #[test]
    fn bool_takes_value_only_with_equals() {
        let o = run(&[
            "-wait_file_content=false",
            "-breakpoint_on_failure",
            "--",
            "x",
        ]);
        assert!(!o.wait_file_content);
        assert!(o.breakpoint_on_failure);
        assert!(parse(&argv(&["-wait_file_content=maybe"]), None).is_err());
    }

    #[test]
    fn root_moves_defaults_and_explicit_flags_win() {
        let o = run(&["-tekton_root", "/r", "-steps_dir", "/s", "--", "true"]);
        assert_eq!(o.results_dir, PathBuf::from("/r/results"));
        assert_eq!(o.steps_dir, PathBuf::from("/s"));
        assert_eq!(o.termination_path, PathBuf::from("/r/termination"));
        match parse(&argv(&["--", "true"]), Some("/env".into())) {
            Ok(Invocation::Run(o)) => assert_eq!(o.results_dir, PathBuf::from("/env/results")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &["-nope"][..],
            &["-timeout"],
            &["-timeout", "10"],
            &["---x"],
            &["-=x"],
            &["stray", "--", "x"],
            &["cp", "a"],
            &["decode-script"],
            &["init", "a"],
        ] {
            assert!(
                matches!(parse(&argv(bad), None), Err(UsageError(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            parse(&argv(&["-help"]), None),
            Ok(Invocation::Help)
        ));
    }

    #[test]
    fn subcommands() {
        match parse(
            &argv(&["-tekton_root=/t", "init", "/s", "/d", "step-a", "step-b"]),
            None,
        ) {
            Ok(Invocation::Init {
                src,
                dst,
                steps,
                tekton_root,
            }) => {
                assert_eq!((src.as_str(), dst.as_str()), ("/s", "/d"));
                assert_eq!(steps, ["step-a", "step-b"]);
                assert_eq!(tekton_root, PathBuf::from("/t"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&argv(&["cp", "a", "b"]), None),
            Ok(Invocation::Cp { .. })
        ));
        assert!(matches!(
            parse(&argv(&["decode-script", "f"]), None),
            Ok(Invocation::DecodeScript { .. })
        ));
        // After `--` a subcommand name is just the step's command.
        assert!(matches!(
            parse(&argv(&["--", "cp", "a", "b"]), None),
            Ok(Invocation::Run(_))
        ));
    }
}

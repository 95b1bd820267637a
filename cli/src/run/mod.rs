//! `tkc run`: check, lower, and run a PipelineRun, TaskRun, Pipeline or Task on this machine.

mod kube;
mod render;

use crate::exit;
use crate::project::{Project, SourceArgs};
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tkc_compiler::diag::{Diagnostic, Diagnostics, Severity, render as diag_render};
use tkc_compiler::lower::RunRequest;
use tkc_compiler::plan::{Binding, ParamValue, Plan, RunKind};
use tkc_runtime::backend::local::{self, LocalBackend, LocalConfig};
use tkc_runtime::{Event, EventSink, LogBudget, RunOptions, RunSummary};

/// Exit code of an interrupted run.
const INTERRUPTED: u8 = 130;

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Live task states, step logs and a summary.
    #[default]
    Human,
    /// Only the JSON summary on stdout (logs go to stderr).
    Json,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Steps as processes on this machine.
    #[default]
    Local,
    /// Task attempts as pods on a Kubernetes cluster (tkc is the controller).
    Kube,
}

#[derive(Args)]
pub struct RunArgs {
    /// Files or directories holding the run and what it uses (Tasks, Pipelines, ConfigMaps, ...).
    #[arg(required_unless_present = "attach")]
    paths: Vec<PathBuf>,
    /// Resume run NAME on Kubernetes, whose `tkc` died: attempts that ended are not run again,
    /// running pods are followed (implies --backend kube; `tkc runs` lists the runs).
    #[arg(long, value_name = "NAME", conflicts_with = "paths")]
    attach: Option<String>,
    /// Which PipelineRun, TaskRun, Pipeline or Task to run (needed when there are several).
    #[arg(long, value_name = "NAME")]
    run: Option<String>,
    /// A param of the run: `name=value`; arrays and objects as JSON (`flags=["-v","-x"]`).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = crate::compile::parse_param)]
    params: Vec<(String, ParamValue)>,
    /// Bind a workspace: `name=dir:PATH` (your own directory), `name=emptyDir`,
    /// `name=pvc:CLAIM`, `name=configMap:NAME`, `name=secret:NAME` or `name=volumeClaimTemplate`.
    #[arg(long = "workspace", short = 'w', value_name = "NAME=BINDING", value_parser = crate::compile::parse_workspace)]
    workspaces: Vec<(String, Binding)>,
    /// How many task attempts may run at once [default: the number of cores].
    #[arg(long, value_name = "N")]
    parallel: Option<usize>,
    /// Run each step with bubblewrap in a mount namespace with Tekton's paths, without
    /// capabilities, in namespaces of its own (docs/security.md).
    #[arg(long)]
    isolate: bool,
    /// With --isolate: let steps use the host's network (otherwise they have none).
    #[arg(long, requires = "isolate")]
    network: bool,
    /// With --isolate: allow `hostPath` volumes, which bind directories of this machine into
    /// the steps (refused otherwise).
    #[arg(long, requires = "isolate")]
    allow_host_path: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
    /// Keep the run directory (attempt directories, results, workspaces, and the files of
    /// Secrets the run uses) afterwards.
    #[arg(long)]
    keep: bool,
    /// Where the run's task attempts run.
    #[arg(long, value_enum, default_value_t)]
    backend: BackendKind,
    /// Kubernetes namespace [default: the context's, else `default`] (--backend kube).
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Kubeconfig context [default: the current context] (--backend kube).
    #[arg(long, value_name = "CTX")]
    context: Option<String>,
    /// Kubeconfig file [default: KUBECONFIG, ~/.kube/config, else in-cluster] (--backend kube).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The static `tkc-entrypoint` pods mount [default: TKC_KUBE_ENTRYPOINT, else a static
    /// `tkc-entrypoint` beside tkc or built by entrypoint/build-static.sh] (--backend kube).
    #[arg(long, value_name = "FILE")]
    entrypoint_binary: Option<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
}

pub use kube::{RunsArgs, runs};

pub fn run(args: RunArgs) -> u8 {
    if let Some(name) = args.attach.clone() {
        return kube::attach(&args, &name);
    }
    let project = match Project::load(&args.paths, &args.source, crate::ColorChoice::Auto) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let mut workspaces = Vec::with_capacity(args.workspaces.len());
    for (name, binding) in &args.workspaces {
        let binding = match binding {
            // The run's processes see the directory from wherever they run.
            Binding::Dir { path } => match std::fs::canonicalize(path) {
                Ok(p) if p.is_dir() => Binding::Dir {
                    path: p.to_string_lossy().into_owned(),
                },
                _ => {
                    eprintln!("error: --workspace {name}=dir:{path}: not a directory");
                    return exit::USAGE;
                }
            },
            other => other.clone(),
        };
        workspaces.push((name.clone(), binding));
    }
    let request = RunRequest {
        run: args.run.clone(),
        params: args.params.clone(),
        workspaces,
    };
    let compiled = tkc_compiler::compile(
        &project.sources,
        &project.inputs.files,
        &project.inputs.library,
        &request,
        &project.options,
    );
    let mut diagnostics = compiled.diagnostics;
    let mut extra = Diagnostics::new();
    extra.extend(project.inputs.diagnostics.iter().cloned());
    tkc_compiler::diag::apply_levels(&project.options.levels, &mut extra);
    diagnostics.extend(extra);
    diagnostics.sort();
    let diagnostics = diagnostics.into_vec();
    let errors: Vec<Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    let color = crate::ColorChoice::Auto.enabled() && args.output == Output::Human;
    let plan = match compiled.plan {
        Some(plan) if errors.is_empty() => plan,
        _ => {
            let kind = run_kind_of(&compiled.documents, args.run.as_deref());
            let reason = errors
                .iter()
                .find_map(|d| d.code.tekton_reason)
                .unwrap_or(match kind {
                    RunKind::PipelineRun => "PipelineValidationFailed",
                    RunKind::TaskRun => "TaskRunValidationFailed",
                });
            let name = match &compiled.plan {
                Some(plan) => plan.run.name.clone(),
                None => run_name_of(&compiled.documents, args.run.as_deref()),
            };
            return cannot_start(
                &args,
                kind,
                name,
                reason,
                "the run has errors; nothing was run".into(),
                Some((&project.sources, &errors)),
                color,
            );
        }
    };
    let warnings = diagnostics.len() - errors.len();
    let mut notes = workspace_notes(&plan);
    if warnings > 0 {
        notes.push(format!(
            "{warnings} warning{} (`tkc check` shows {})",
            if warnings == 1 { "" } else { "s" },
            if warnings == 1 { "it" } else { "them" }
        ));
    }
    execute(&args, plan, compiled.secrets, notes, color)
}

/// What the run does with workspaces the user may not expect.
fn workspace_notes(plan: &Plan) -> Vec<String> {
    let mut notes = Vec::new();
    for w in &plan.workspaces {
        match &w.binding {
            Binding::RunShared {} => notes.push(format!(
                "workspace `{}` is not bound: its tasks share a directory made for this run (bind your own with --workspace {}=dir:PATH)",
                w.name, w.name
            )),
            Binding::Other { .. } => notes.push(format!(
                "workspace `{}`: this source has no local equivalent; an empty directory stands in",
                w.name
            )),
            _ => {}
        }
    }
    notes
}

/// The kind a run of these inputs would be (for the reason of a run that cannot start).
fn run_kind_of(documents: &[tkc_compiler::model::Document], name: Option<&str>) -> RunKind {
    use tkc_compiler::model::Kind;
    let task_like = documents.iter().any(|d| {
        matches!(d.kind, Kind::TaskRun | Kind::Task) && name.is_none_or(|n| d.name() == n)
    });
    let pipeline_like = documents.iter().any(|d| {
        matches!(d.kind, Kind::PipelineRun | Kind::Pipeline) && name.is_none_or(|n| d.name() == n)
    });
    if task_like && !pipeline_like {
        RunKind::TaskRun
    } else {
        RunKind::PipelineRun
    }
}

/// The name of the run these inputs hold (a run document first, else a Pipeline or Task), for
/// the summary of a run that cannot start.
fn run_name_of(documents: &[tkc_compiler::model::Document], name: Option<&str>) -> String {
    use tkc_compiler::model::Kind;
    let pick = |kinds: &[Kind]| {
        documents
            .iter()
            .find(|d| kinds.contains(&d.kind) && name.is_none_or(|n| d.name() == n))
            .map(|d| d.name().to_string())
    };
    pick(&[Kind::PipelineRun, Kind::TaskRun])
        .or_else(|| pick(&[Kind::Pipeline, Kind::Task]))
        .or_else(|| name.map(str::to_string))
        .unwrap_or_default()
}

fn cannot_start(
    args: &RunArgs,
    kind: RunKind,
    name: String,
    reason: &str,
    message: String,
    diagnostics: Option<(&tkc_compiler::source::SourceMap, &[Diagnostic])>,
    color: bool,
) -> u8 {
    let summary = RunSummary {
        kind: match kind {
            RunKind::PipelineRun => "PipelineRun",
            RunKind::TaskRun => "TaskRun",
        }
        .into(),
        name,
        status: "Failed".into(),
        reason: reason.to_string(),
        duration_ms: 0,
        tasks: vec![],
        results: Default::default(),
        diagnostics: Some(match diagnostics {
            Some((sources, d)) => {
                serde_json::to_value(diag_render::json_diagnostics(sources, d)).unwrap_or_default()
            }
            None => serde_json::Value::Array(vec![]),
        }),
        message: message.clone(),
    };
    match args.output {
        Output::Json => println!("{}", render::json_summary(&summary)),
        Output::Human => {
            if let Some((sources, d)) = diagnostics {
                let options = diag_render::HumanOptions { color, width: 100 };
                print!("{}", diag_render::human(sources, d, options));
            }
            println!(
                "{}: {message}",
                render::paint(color, "31", &format!("cannot run ({reason})"))
            );
        }
    }
    exit::FAILED
}

/// The data of the Secrets among the inputs that the run uses, by name (never in the plan).
type SecretValues = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

fn execute(
    args: &RunArgs,
    mut plan: Plan,
    secrets: SecretValues,
    notes: Vec<String>,
    color: bool,
) -> u8 {
    if plan.run.generate_name {
        plan.run.name = format!("{}{}", plan.run.name, random_suffix());
        plan.run.generate_name = false;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::USAGE;
        }
    };
    let code = match args.backend {
        BackendKind::Local => execute_local(args, &runtime, plan, secrets, notes, color),
        BackendKind::Kube => kube::execute(args, &runtime, plan, secrets, notes, color),
    };
    runtime.shutdown_background();
    code
}

fn execute_local(
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    plan: Plan,
    secrets: SecretValues,
    notes: Vec<String>,
    color: bool,
) -> u8 {
    let (entrypoint, entrypoint_args) = match locate_entrypoint() {
        Some(found) => found,
        None => {
            eprintln!(
                "error: no entrypoint: tkc-entrypoint is not beside tkc nor on PATH, and tkc cannot find its own executable; set TKC_ENTRYPOINT"
            );
            return exit::USAGE;
        }
    };
    let bwrap = if args.isolate {
        match which("bwrap") {
            Some(b) => Some(b),
            None => {
                eprintln!(
                    "error: --isolate needs bubblewrap (`bwrap`), which is not on PATH (apt-get install bubblewrap)"
                );
                return exit::USAGE;
            }
        }
    } else {
        None
    };
    // Run directories live in a directory of this user's (0700, refused if planted by
    // someone else); those of runs whose tkc died are removed first, with what still runs in
    // them.
    let base = local::runs_base();
    local::reap_dead_runs(&base);
    let root = match local::create_run_dir(
        &base,
        &format!("{}-{}", file_name_of(&plan.run.name), random_suffix()),
    ) {
        Ok(root) => root,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let config = LocalConfig {
        entrypoint,
        entrypoint_args,
        root: root.clone(),
        state_dir: state_dir(),
        bwrap,
        network: args.network,
        allow_host_paths: args.allow_host_path,
        secrets,
    };
    let secret_names = plan.secrets.clone();
    let backend = Arc::new(LocalBackend::new(config));
    let (summary, interrupted) =
        runtime.block_on(drive(args, &plan, backend, uuid(), notes, color));
    // Nothing the run started outlives it: whatever is left (re-parented to tkc, its
    // subreaper, because its entrypoint died) is killed now.
    local::kill_own_descendants();
    if args.keep {
        eprintln!("run directory kept: {}", root.display());
        if !secret_names.is_empty() {
            let names: Vec<&str> = secret_names.iter().map(String::as_str).collect();
            eprintln!(
                "warning: it holds the files of Secret{} {} (readable by you only); delete it when done",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            );
        }
    } else {
        local::make_removable(&root);
        let _ = std::fs::remove_dir_all(&root);
    }
    report(args, &summary, interrupted, color)
}

/// Prints the summary; the exit code.
fn report(args: &RunArgs, summary: &RunSummary, interrupted: bool, color: bool) -> u8 {
    match args.output {
        Output::Json => println!("{}", render::json_summary(summary)),
        Output::Human => print!("{}", render::human_summary(summary, color)),
    }
    if interrupted {
        INTERRUPTED
    } else if summary.status == "Succeeded" {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// Runs the plan on `backend` with the live view; the summary and whether it was interrupted.
async fn drive<B: tkc_runtime::backend::Backend>(
    args: &RunArgs,
    plan: &Plan,
    backend: Arc<B>,
    uid: String,
    notes: Vec<String>,
    color: bool,
) -> (RunSummary, bool) {
    let parallel = args
        .parallel
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let live = args.output == Output::Human && std::io::stdout().is_terminal();
    let output = args.output;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    let signals = tokio::spawn(async move {
        if wait_for_interrupt().await {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = cancel_tx.send(true);
        }
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut renderer = render::Renderer::new(output, live, color);
    for n in &notes {
        renderer.note(n);
    }
    // Step logs wait for the printer past 1 MiB in flight: memory stays flat however much a
    // step writes.
    let budget = Arc::new(LogBudget::new(1 << 20));
    let released = budget.clone();
    let printer = tokio::spawn(async move {
        let mut rx = rx;
        while let Some(event) = rx.recv().await {
            renderer.event(&event);
            if let Event::StepLog { line, .. } = &event {
                released.release(LogBudget::cost(line));
            }
        }
        renderer.finish();
    });
    let options = RunOptions {
        name: plan.run.name.clone(),
        uid,
        parallel,
        cancel: cancel_rx,
    };
    let events = EventSink::with_log_budget(tx, budget);
    let summary = tkc_runtime::run(plan, backend, options, events).await;
    let _ = printer.await;
    signals.abort();
    (
        summary,
        interrupted.load(std::sync::atomic::Ordering::SeqCst),
    )
}

/// Ctrl-C, SIGTERM, SIGHUP (the terminal closed) or SIGQUIT: each cancels the run, which
/// still stops every step and cleans up; `false` if no handler could be installed.
async fn wait_for_interrupt() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup), Ok(mut quit)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::quit()),
    ) else {
        return tokio::signal::ctrl_c().await.is_ok();
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.is_ok(),
        _ = term.recv() => true,
        _ = hup.recv() => true,
        _ = quit.recv() => true,
    }
}

/// A run name as a file name: characters other than letters, digits, `-`, `_` and `.` become
/// `_`, a name of dots only becomes `run`, and at most 200 characters are kept (a name may
/// have 253, a file name 255 bytes, and a suffix follows).
fn file_name_of(name: &str) -> String {
    let out: String = name
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.chars().all(|c| c == '.') {
        "run".to_string()
    } else {
        out
    }
}

/// The program that wraps each step, and the arguments that come before its own:
/// `TKC_ENTRYPOINT`, else `tkc-entrypoint` beside this executable (`cargo build` puts it
/// there), else on PATH, else this very executable as `tkc __entrypoint` (so `cargo run -p
/// tkc` and `cargo install --path cli` can run pipelines too).
fn locate_entrypoint() -> Option<(PathBuf, Vec<String>)> {
    if let Some(p) = std::env::var_os("TKC_ENTRYPOINT").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), Vec::new()));
    }
    let this = std::env::current_exe().ok();
    if let Some(dir) = this
        .as_ref()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        for candidate in [dir.join("tkc-entrypoint"), dir.join("../tkc-entrypoint")] {
            if candidate.is_file() {
                return Some((candidate, Vec::new()));
            }
        }
    }
    which("tkc-entrypoint")
        .map(|p| (p, Vec::new()))
        .or_else(|| this.map(|t| (t, vec![crate::ENTRYPOINT_COMMAND.to_string()])))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `TKC_STATE_DIR`, else `$XDG_STATE_HOME/tkc`, else `~/.local/state/tkc`.
fn state_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("TKC_STATE_DIR").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_STATE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("tkc");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/state/tkc"),
        None => std::env::temp_dir().join(format!("tkc-state-{}", local::user_id())),
    }
}

fn random_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    b
}

/// Five characters of `[a-z0-9]`, like Kubernetes' generateName suffixes.
fn random_suffix() -> String {
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    random_bytes()[..5]
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

pub(crate) fn uuid() -> String {
    let b = random_bytes();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

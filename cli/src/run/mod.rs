//! `tkc run`: check, lower, and run a PipelineRun, TaskRun, Pipeline or Task on this machine.
//!
//! Running is Linux-only: the local backend, the step entrypoint and the Kubernetes client
//! are built for Linux alone (`cfg(target_os = "linux")`). The arguments of `tkc run`, `tkc
//! runs` and `tkc logs` are defined on every platform, so `--help`, the completions and the man
//! page are one text; elsewhere the commands say they need Linux ([`linux_only`]).
// Elsewhere the arguments are parsed but never read.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

mod inputs;
#[cfg(target_os = "linux")]
mod junit;
#[cfg(target_os = "linux")]
mod kube;
#[cfg(target_os = "linux")]
mod partial;
#[cfg(target_os = "linux")]
mod render;
#[cfg(target_os = "linux")]
mod store;

use crate::exit;
use crate::project::SourceArgs;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use tkc_compiler::plan::{Binding, ParamValue};
#[cfg(target_os = "linux")]
use {
    crate::project::Project,
    std::io::IsTerminal,
    std::path::Path,
    std::sync::Arc,
    tkc_compiler::diag::{Diagnostic, Severity, render as diag_render},
    tkc_compiler::lower::RunRequest,
    tkc_compiler::plan::{Plan, RunKind},
    tkc_runtime::backend::local::engine::{self, Engine, EngineConfig, EngineKind},
    tkc_runtime::backend::local::{self, LocalBackend, LocalConfig},
    tkc_runtime::{Event, EventSink, LogBudget, RunOptions, RunSummary},
};

/// Exit code of an interrupted run.
pub(crate) const INTERRUPTED: u8 = 130;

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
    /// Each step in its own image with podman (docs/containers.md).
    Podman,
    /// Each step in its own image with docker (docs/containers.md).
    Docker,
    /// Each step in its own image with podman, else docker, whichever is installed.
    Container,
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
    /// A variable for every step and sidecar: `NAME=VALUE`, or `NAME` for its value in tkc's
    /// environment (a step's own `env` wins). Local and container backends.
    #[arg(long = "env", short = 'e', value_name = "NAME[=VALUE]", value_parser = inputs::parse_env)]
    env: Vec<(String, Option<String>)>,
    /// Variables for every step and sidecar from a file of `NAME=VALUE` lines (`#` comments,
    /// optional `export` and quotes), before the --env flags.
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// A Secret the run uses (env.valueFrom.secretKeyRef, secret workspaces and volumes),
    /// instead of or over a Secret document: `NAME/KEY=FILE`, `NAME/KEY=env:VAR`,
    /// `NAME=FILE` (key: the file's name) or `NAME=DIR` (each file a key).
    #[arg(long = "secret", value_name = "NAME[/KEY]=SOURCE", value_parser = inputs::parse_secret)]
    secrets: Vec<(String, Option<String>, String)>,
    /// How many task attempts may run at once [default: every task that is ready, as
    /// Tekton runs them].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    parallel: Option<u64>,
    /// Write a report for CI: `junit=FILE` (one testcase per step of each task run, failures
    /// with the step's last lines).
    #[arg(long = "report", value_name = "junit=FILE", value_parser = parse_report)]
    reports: Vec<PathBuf>,
    /// Run steps as plain processes of your user on this machine, with your files, network and
    /// credentials (the default runs each step with bubblewrap; docs/security.md).
    #[arg(long, conflicts_with = "isolate")]
    host: bool,
    /// Run each step with bubblewrap in a mount namespace with Tekton's paths, without
    /// capabilities, in namespaces of its own: the default of the local backend; with this
    /// flag a missing bubblewrap is an error rather than a warning (docs/security.md).
    #[arg(long)]
    isolate: bool,
    /// Isolated or in containers: let steps use the network (otherwise they have none;
    /// containers get the engine's default bridge).
    #[arg(long)]
    network: bool,
    /// Isolated or in containers: allow `hostPath` volumes, which bind directories of this
    /// machine into the steps (refused otherwise).
    #[arg(long)]
    allow_host_path: bool,
    /// Run IMAGE as REPLACEMENT (container backends): `alpine=localhost/my-alpine:1`, or
    /// `*=IMAGE` for every image. The first that matches applies.
    #[arg(long = "image", value_name = "IMAGE=REPLACEMENT", value_parser = parse_image_map)]
    image_map: Vec<(String, String)>,
    /// Run only task T and the tasks it needs (runAfter, results it uses), transitively;
    /// repeatable. The others are not run; finally tasks always are (docs/run.md).
    #[arg(long = "task", value_name = "T", conflicts_with = "attach")]
    tasks: Vec<String>,
    /// Run task T, everything downstream of it, and what they need.
    #[arg(long, value_name = "T", conflicts_with = "attach")]
    from: Option<String>,
    /// Run task T and what it needs, nothing after it.
    #[arg(long, value_name = "T", conflicts_with = "attach")]
    until: Option<String>,
    /// Take up kept run RUN (`tkc runs`; an id, a name or `last`): reuse the results and
    /// workspaces of its succeeded tasks, and run only what failed (or did not run) and
    /// what depends on it.
    #[arg(long, value_name = "RUN", conflicts_with = "attach")]
    rerun_failed: Option<String>,
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
    /// The static `tkc-entrypoint` pods and containers mount [default: TKC_KUBE_ENTRYPOINT,
    /// else TKC_STATIC_ENTRYPOINT, else a static `tkc-entrypoint` beside tkc or built by
    /// entrypoint/build-static.sh] (--backend kube and the container backends).
    #[arg(long, value_name = "FILE")]
    entrypoint_binary: Option<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
}

#[derive(Args)]
pub struct RunsArgs {
    /// Whose runs: `local` (the default, unless a Kubernetes option is given) lists the runs
    /// of this machine that `tkc logs` can show; `kube` those in a namespace.
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
    /// Kubernetes namespace [default: the context's, else `default`].
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Kubeconfig context [default: the current context].
    #[arg(long, value_name = "CTX")]
    context: Option<String>,
    /// Kubeconfig file [default: KUBECONFIG, ~/.kube/config, else in-cluster].
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

#[derive(Args)]
pub struct LogsArgs {
    /// The run: its id (`tkc runs` lists them), its name (its latest run), or `last`.
    run: String,
    /// Only this task's lines (`TASK`, every combination of a matrix), or one step's
    /// (`TASK/STEP`).
    task: Option<String>,
    /// Follow a run in progress: print its lines as they come, until it ends.
    #[arg(long, short = 'f')]
    follow: bool,
}

#[cfg(target_os = "linux")]
pub use kube::runs;
#[cfg(target_os = "linux")]
pub use store::logs;

/// `tkc run` elsewhere than Linux.
#[cfg(not(target_os = "linux"))]
pub fn run(_args: RunArgs) -> u8 {
    linux_only("run")
}

/// `tkc runs` elsewhere than Linux.
#[cfg(not(target_os = "linux"))]
pub fn runs(_args: RunsArgs) -> u8 {
    linux_only("runs")
}

/// `tkc logs` elsewhere than Linux.
#[cfg(not(target_os = "linux"))]
pub fn logs(_args: LogsArgs) -> u8 {
    linux_only("logs")
}

/// What a command that runs steps says where it cannot: steps need Linux's namespaces and
/// process control (bubblewrap, the entrypoint's signal forwarding). A usage error, as an
/// unknown command would be (`tkc --help`, "Exit codes").
#[cfg(not(target_os = "linux"))]
pub(crate) fn linux_only(command: &str) -> u8 {
    eprintln!(
        "error: `tkc {command}` needs Linux, and this is {}; `tkc check`, `compile`, `convert`, `schema`, `explain` and `lsp` work here. To run pipelines, use tkc on Linux: a Linux machine or VM, WSL, or the container image (docs/run.md, \"Platforms\")",
        std::env::consts::OS
    );
    exit::USAGE
}

#[cfg(target_os = "linux")]
pub fn run(args: RunArgs) -> u8 {
    if let Some(name) = args.attach.clone() {
        return kube::attach(&args, &name);
    }
    let mut project = match Project::load(&args.paths, &args.source, crate::ColorChoice::Auto) {
        Ok(project) => project,
        Err(code) => return code,
    };
    let given_env = match inputs::environment(&args.env_files, &args.env) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let given_secrets = match inputs::secrets(&args.secrets) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    // The cluster resolver reads the cluster the run's flags name, as Tekton reads the
    // cluster the run is on.
    let cluster = kube::connect_options(&args).target();
    project.fetch_references(&given_secrets, &cluster, true);
    if args.backend == BackendKind::Kube && (!given_env.is_empty() || !given_secrets.is_empty()) {
        eprintln!(
            "error: --env, --env-file and --secret apply to the local and container backends; on Kubernetes, create the Secret in the cluster"
        );
        return exit::USAGE;
    }
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
    let diagnostics = crate::project::with_input_findings(
        compiled.diagnostics,
        project.inputs.diagnostics.iter().cloned(),
        &project.options,
    )
    .into_vec();
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
            let fallback = match kind {
                RunKind::PipelineRun => "PipelineValidationFailed",
                RunKind::TaskRun => "TaskRunValidationFailed",
            };
            // A code's reason is a TaskRun's (`TaskRunValidationFailed`): a PipelineRun that
            // cannot start reports its own kind's reason instead.
            let reason = errors
                .iter()
                .find_map(|d| d.code.tekton_reason)
                .filter(|r| kind == RunKind::TaskRun || !r.starts_with("TaskRun"))
                .unwrap_or(fallback);
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
    let selection = tkc_runtime::partial::Selection {
        tasks: args.tasks.clone(),
        from: args.from.clone(),
        until: args.until.clone(),
    };
    if args.rerun_failed.is_some() && args.backend == BackendKind::Kube {
        eprintln!(
            "error: --rerun-failed applies to the local and container backends: a kube run's workspaces are claims in the cluster, not a kept directory"
        );
        return exit::USAGE;
    }
    let chosen = match partial::choose(&plan, &selection, args.rerun_failed.as_deref()) {
        Ok(chosen) => chosen,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let mut secrets = compiled.secrets;
    for (name, data) in given_secrets {
        secrets.entry(name).or_default().extend(data);
    }
    execute(&args, plan, secrets, given_env, notes, color, chosen)
}

/// What the run does with workspaces the user may not expect.
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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

#[cfg(target_os = "linux")]
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
        partial: None,
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
#[cfg(target_os = "linux")]
use inputs::SecretValues;

#[cfg(target_os = "linux")]
fn execute(
    args: &RunArgs,
    mut plan: Plan,
    secrets: SecretValues,
    env: Vec<(String, String)>,
    notes: Vec<String>,
    color: bool,
    chosen: partial::Chosen,
) -> u8 {
    if plan.run.generate_name {
        plan.run.name = format!("{}{}", plan.run.name, random_suffix());
        plan.run.generate_name = false;
    }
    // A local run's own work is light (directories, process starts, pipes, the schedule):
    // it runs on this thread, beside the printer's and the sweeper's. More threads only cost:
    // each wakes the others, and each new thread's heap starts on a fresh (huge) page to zero.
    // Talking to a cluster keeps a pool of two.
    let built = match args.backend {
        BackendKind::Kube => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    };
    let runtime = match built {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit::USAGE;
        }
    };
    let code = match args.backend {
        BackendKind::Kube => kube::execute(args, &runtime, plan, secrets, notes, color, chosen),
        _ => execute_local(args, &runtime, plan, secrets, env, notes, color, chosen),
    };
    runtime.shutdown_background();
    code
}

#[cfg(target_os = "linux")]
#[allow(clippy::too_many_arguments)]
fn execute_local(
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    plan: Plan,
    secrets: SecretValues,
    env: Vec<(String, String)>,
    notes: Vec<String>,
    color: bool,
    chosen: partial::Chosen,
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
    let engine_kind = match args.backend {
        BackendKind::Podman => Some(Some(EngineKind::Podman)),
        BackendKind::Docker => Some(Some(EngineKind::Docker)),
        BackendKind::Container => Some(None),
        BackendKind::Local | BackendKind::Kube => None,
    };
    if engine_kind.is_some() && (args.isolate || args.host) {
        eprintln!(
            "error: --isolate and --host apply to the local backend; a container backend isolates each step in its container already"
        );
        return exit::USAGE;
    }
    let engine_config = match engine_kind {
        Some(wanted) => match engine_config(args, wanted) {
            Ok(config) => Some(config),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        },
        None => None,
    };
    let bwrap = if engine_config.is_some() || args.host {
        None
    } else {
        match isolation() {
            Ok(bwrap) => Some(bwrap),
            Err(why) if args.isolate => {
                eprintln!("error: cannot isolate the steps: {why}");
                return exit::USAGE;
            }
            Err(why) if local::user_id() == 0 => {
                eprintln!(
                    "error: refusing to run as root without isolation: {why}; a step could change anything on this machine. {INSTALL_BWRAP}, use a container backend (--backend container), or pass --host to run the steps as root on the host anyway"
                );
                return exit::USAGE;
            }
            Err(why) => {
                eprintln!(
                    "warning: the steps run on the host, as your user, not isolated: {why}. {INSTALL_BWRAP} or use a container backend (--backend container); --host runs on the host without this warning"
                );
                None
            }
        }
    };
    if engine_config.is_none() && bwrap.is_none() {
        for (flag, given) in [
            ("--network", args.network),
            ("--allow-host-path", args.allow_host_path),
            ("--image", !args.image_map.is_empty()),
        ] {
            if given {
                eprintln!(
                    "error: {flag} applies to isolated steps or a container backend (--backend podman|docker|container), not to steps on the host"
                );
                return exit::USAGE;
            }
        }
    }
    // Run directories live in a directory of this user's (0700, refused if planted by
    // someone else); those of runs whose tkc died are removed first, with what still runs in
    // them.
    let base = local::runs_base();
    local::reap_dead_runs(&base);
    if let Some(config) = &engine_config {
        engine::sweep_dead_runs(config, &base);
    }
    let id = format!("{}-{}", file_name_of(&plan.run.name), random_suffix());
    let root = match local::create_run_dir(&base, &id) {
        Ok(root) => root,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let engine = engine_config.map(|config| Arc::new(Engine::new(config, &root)));
    if let Some(engine) = &engine {
        // Images are pulled before the live view starts, so their progress has the
        // terminal to itself.
        let quiet = args.output == Output::Json;
        runtime.block_on(engine.prefetch(&plan, &|line| {
            if !quiet || line.starts_with("pulling ") {
                eprintln!("{line}");
            }
        }));
    }
    let config = LocalConfig {
        entrypoint,
        entrypoint_args,
        root: root.clone(),
        state_dir: state_dir(),
        bwrap,
        network: args.network,
        allow_host_paths: args.allow_host_path,
        secrets,
        env,
        engine: engine.clone(),
        keep: args.keep,
        workspaces_from: chosen.workspaces_from.clone(),
    };
    let secret_names = plan.secrets.clone();
    let backend = Arc::new(LocalBackend::new(config));
    let kind = match plan.run.kind {
        RunKind::PipelineRun => "PipelineRun",
        RunKind::TaskRun => "TaskRun",
    };
    // Every step's log is kept for `tkc logs`; a run that cannot be recorded still runs. Its
    // run-scoped workspaces stay where a later `--rerun-failed` finds them: in the run it
    // took up, else in its own directory if kept.
    let workspaces = chosen
        .workspaces_from
        .clone()
        .or_else(|| args.keep.then(|| root.clone()));
    let recording = store::Recording {
        state: state_dir(),
        id: id.clone(),
        kind,
        name: plan.run.name.clone(),
        reusable: store::reusable_plan(&plan, workspaces),
    };
    let driven = runtime.block_on(drive_recorded(
        args,
        &plan,
        backend.clone(),
        uuid(),
        notes,
        color,
        Some(recording),
        chosen.partial,
    ));
    let Driven {
        summary,
        interrupted,
        tails,
        recorder,
    } = match driven {
        Ok(driven) => driven,
        Err(e) => {
            eprintln!("error: {e}");
            backend.finish();
            let _ = local::remove_tree(&root);
            return exit::USAGE;
        }
    };
    // Whatever container of the run is still there (tkc was interrupted mid-attempt) goes.
    if let Some(engine) = &engine {
        engine.sweep_run();
    }
    // Nothing the run started outlives it: whatever is left (re-parented to tkc, its
    // subreaper, because its entrypoint died) is killed now.
    local::kill_own_descendants();
    // Attempt directories were removed as their attempts ended; wait for the last ones.
    backend.finish();
    if args.keep {
        // Without its owner file, no later run takes the directory for a dead run's and
        // reaps it (`reap_dead_runs` leaves such directories alone): it is the user's now.
        let _ = std::fs::remove_file(root.join(local::OWNER_FILE));
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
        let _ = local::remove_tree(&root);
    }
    // The printer was writing the run's record meanwhile.
    let log_id = recorder.wait();
    report_with(
        args,
        &summary,
        interrupted,
        color,
        &tails,
        log_id.as_deref(),
    )
}

/// The engine a container backend uses: found on PATH, with the static entrypoint.
#[cfg(target_os = "linux")]
fn engine_config(args: &RunArgs, wanted: Option<EngineKind>) -> Result<EngineConfig, String> {
    let (kind, program) = engine::detect(wanted)?;
    let entrypoint = kube::static_entrypoint(args.entrypoint_binary.as_deref())?;
    Ok(EngineConfig {
        kind,
        program,
        entrypoint,
        image_map: args.image_map.clone(),
    })
}

/// `IMAGE=REPLACEMENT` of `--image`.
fn parse_image_map(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => {
            Ok((from.to_string(), to.to_string()))
        }
        _ => Err(format!(
            "expected IMAGE=REPLACEMENT (or *=REPLACEMENT), got {text:?}"
        )),
    }
}

/// `junit=FILE` of `--report`.
fn parse_report(text: &str) -> Result<PathBuf, String> {
    match text.split_once('=') {
        Some(("junit", file)) if !file.is_empty() => Ok(PathBuf::from(file)),
        _ => Err(format!("expected junit=FILE, got {text:?}")),
    }
}

/// Prints the summary, with the last lines of each failing step, and writes the reports
/// `--report` asks for; the exit code. `log_id` is the run's id for `tkc logs`.
#[cfg(target_os = "linux")]
fn report_with(
    args: &RunArgs,
    summary: &RunSummary,
    interrupted: bool,
    color: bool,
    tails: &store::Tails,
    log_id: Option<&str>,
) -> u8 {
    match args.output {
        Output::Json => println!("{}", render::json_summary(summary)),
        Output::Human => {
            print!("{}", render::human_summary(summary, color));
            print!("{}", render::failing_lines(summary, tails, log_id, color));
        }
    }
    for file in &args.reports {
        // Mode 0600: the failing steps' last lines may hold values from --secret.
        let written = {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(file)
                .and_then(|mut f| {
                    // The mode applies to a file this creates; one that was there is made
                    // private too before the report goes into it.
                    use std::os::unix::fs::PermissionsExt;
                    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                    f.write_all(junit::report(summary, tails).as_bytes())
                })
        };
        if let Err(e) = written {
            eprintln!("error: --report junit={}: {e}", file.display());
            return exit::USAGE;
        }
    }
    if interrupted {
        INTERRUPTED
    } else if summary.status == "Succeeded" {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// A run driven to its end: how it ended, the last lines of each step, and the printer, which
/// may still be recording it.
#[cfg(target_os = "linux")]
struct Driven {
    summary: RunSummary,
    interrupted: bool,
    tails: store::Tails,
    recorder: Recorder,
}

/// The printer's thread after the run's output: it records how the run ended (when it is
/// recorded) and ends.
#[cfg(target_os = "linux")]
struct Recorder(std::thread::JoinHandle<Option<String>>);

#[cfg(target_os = "linux")]
impl Recorder {
    /// Waits for the record to be written; the run's id for `tkc logs`, when it was recorded.
    fn wait(self) -> Option<String> {
        self.0.join().ok().flatten()
    }
}

/// [`drive`], printing its events on a thread of its own, which also keeps the last lines of
/// each step and, given a `recording`, stores the step logs and then how the run ended.
/// `partial` leaves tasks out or reuses them.
///
/// The printer has its own thread so that a terminal that stops reading (Ctrl-S, a paused
/// pager) holds the output only, never the schedule with its timeouts and Ctrl-C; and so that
/// the record's writes to disk overlap the run.
#[cfg(target_os = "linux")]
#[allow(clippy::too_many_arguments)]
async fn drive_recorded<B: tkc_runtime::backend::Backend>(
    args: &RunArgs,
    plan: &Plan,
    backend: Arc<B>,
    uid: String,
    notes: Vec<String>,
    color: bool,
    recording: Option<store::Recording>,
    partial: tkc_runtime::partial::Partial,
) -> Result<Driven, String> {
    // Tekton starts every task that is ready; each attempt is a task on the runtime, not a
    // thread of its own.
    let parallel = args
        .parallel
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let live = args.output == Output::Human && std::io::stdout().is_terminal();
    let output = args.output;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut renderer = render::Renderer::new(output, live, color);
    for n in &notes {
        renderer.note(n);
    }
    // Step logs wait for the printer past 1 MiB in flight: memory stays flat however much a
    // step writes.
    let budget = Arc::new(LogBudget::new(1 << 20));
    let released = budget.clone();
    let (printed, tails) = tokio::sync::oneshot::channel();
    let (ended, how) = std::sync::mpsc::channel::<(RunSummary, bool)>();
    let printer = std::thread::Builder::new()
        .name("tkc-printer".into())
        .spawn(move || {
            let mut store = recording.and_then(store::Recording::start);
            let mut tails = store::Tails::default();
            while let Some(event) = rx.blocking_recv() {
                renderer.event(&event);
                tails.event(&event);
                if let Some(store) = &mut store {
                    store.event(&event);
                }
                if let Event::StepLog { line, .. } = &event {
                    released.release(LogBudget::cost(line));
                }
            }
            renderer.finish();
            let _ = printed.send(tails);
            let store = store?;
            let id = store.id().to_string();
            if let Ok((summary, interrupted)) = how.recv() {
                store.finish(&summary, interrupted);
            }
            Some(id)
        })
        .map_err(|e| format!("cannot start the run's printer: {e}"))?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    let signals = tokio::spawn(async move {
        if wait_for_interrupt().await {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = cancel_tx.send(true);
        }
    });
    let options = RunOptions {
        name: plan.run.name.clone(),
        uid,
        parallel,
        cancel: cancel_rx,
        partial,
    };
    let events = EventSink::with_log_budget(tx, budget);
    let summary = tkc_runtime::run(plan, backend, options, events).await;
    // Every event is printed once the printer has let go of them.
    let tails = tails.await.unwrap_or_default();
    signals.abort();
    let interrupted = interrupted.load(std::sync::atomic::Ordering::SeqCst);
    let _ = ended.send((summary.clone(), interrupted));
    Ok(Driven {
        summary,
        interrupted,
        tails,
        recorder: Recorder(printer),
    })
}

/// Ctrl-C, SIGTERM, SIGHUP (the terminal closed) or SIGQUIT: each cancels the run, which
/// still stops every step and cleans up; `false` if no handler could be installed.
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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
                return Some((static_twin(&candidate).unwrap_or(candidate), Vec::new()));
            }
        }
    }
    local::which("tkc-entrypoint")
        .map(|p| (p, Vec::new()))
        .or_else(|| this.map(|t| (t, vec![crate::ENTRYPOINT_COMMAND.to_string()])))
}

/// The static (musl) build of the entrypoint that `entrypoint/build-static.sh` leaves in the
/// same target directory as `dynamic` (`<target>/release/tkc-entrypoint` →
/// `<target>/<arch>-unknown-linux-musl/entrypoint/tkc-entrypoint`), if it is at least as new:
/// it starts without a dynamic loader or glibc's CPU probing, about 0.4 ms less per step.
/// An older one is not taken, as it may predate a change to the entrypoint.
#[cfg(target_os = "linux")]
fn static_twin(dynamic: &Path) -> Option<PathBuf> {
    let target = dynamic.parent()?.parent()?;
    let twin = target
        .join(format!("{}-unknown-linux-musl", std::env::consts::ARCH))
        .join("entrypoint/tkc-entrypoint");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (twin.is_file() && modified(&twin)? >= modified(dynamic)?).then_some(twin)
}

/// How to get bubblewrap, for the messages of a run that cannot be isolated.
#[cfg(target_os = "linux")]
const INSTALL_BWRAP: &str = "Install bubblewrap (`apt-get install bubblewrap`, `dnf install bubblewrap`, `pacman -S bubblewrap`) and allow user namespaces (`sysctl kernel.unprivileged_userns_clone=1`, or on Ubuntu an AppArmor profile for bwrap)";

/// `bwrap`, when it is on PATH and can make the namespaces an isolated step gets (user
/// namespaces may be off, or a container may forbid them); otherwise why not.
#[cfg(target_os = "linux")]
fn isolation() -> Result<PathBuf, String> {
    let Some(bwrap) = local::which("bwrap") else {
        return Err("bubblewrap (`bwrap`) is not on PATH".into());
    };
    let probe = std::process::Command::new(&bwrap)
        .args(["--ro-bind", "/", "/"])
        .args(local::BWRAP_SANDBOX)
        .args([
            "--unshare-net",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--",
            "true",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output();
    match probe {
        Ok(o) if o.status.success() => Ok(bwrap),
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            let first = text.lines().next().unwrap_or("it failed").trim();
            Err(format!(
                "{} cannot make namespaces here ({first})",
                bwrap.display()
            ))
        }
        Err(e) => Err(format!("cannot start {}: {e}", bwrap.display())),
    }
}

/// `TKC_STATE_DIR`, else `$XDG_STATE_HOME/tkc`, else `~/.local/state/tkc`.
#[cfg(target_os = "linux")]
pub(crate) fn state_dir() -> PathBuf {
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

#[cfg(target_os = "linux")]
fn random_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    b
}

/// Five characters of `[a-z0-9]`, like Kubernetes' generateName suffixes.
#[cfg(target_os = "linux")]
fn random_suffix() -> String {
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    random_bytes()[..5]
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

#[cfg(target_os = "linux")]
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

//! `tkc run --backend kube`: the run's task attempts as pods on a cluster (`tkc_kube`), with
//! the same live view and summary as a local run.

use super::store::Tails;
use super::{BackendKind, Output, RunArgs, RunsArgs, drive_recorded, report_with};
use crate::exit;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tkc_compiler::plan::Plan;
use tkc_kube::{ConnectOptions, KubeBackend, RunOptions};
use tkc_runtime::backend::RunIdentity;
use tkc_runtime::partial::{Partial, Selection};

/// How long the end of a run waits for the garbage collector to remove its pods.
const CLEANUP_WAIT: Duration = Duration::from_secs(30);

pub fn execute(
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    plan: Plan,
    secrets: super::SecretValues,
    notes: Vec<String>,
    color: bool,
    chosen: super::partial::Chosen,
) -> u8 {
    let entrypoint = match entrypoint_binary(args.entrypoint_binary.as_deref()) {
        Ok(bytes) => bytes,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let connect = connect_options(args);
    let run = RunIdentity {
        name: plan.run.name.clone(),
        uid: super::uuid(),
    };
    let keep = args.keep;
    // Stored with the plan, so that `--attach` runs the same tasks.
    let selection = chosen
        .selection
        .as_ref()
        .and_then(|s| serde_json::to_string(s).ok());
    let outcome = runtime.block_on(async {
        let cluster = tkc_kube::connect(&connect).await?;
        let problems = tkc_kube::preflight(&cluster, &plan).await;
        if !problems.is_empty() {
            return Err(format!(
                "nothing was created; the preflight found:\n{}",
                problems
                    .iter()
                    .map(|p| format!("  - {p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        let backend = KubeBackend::start(
            cluster,
            &plan,
            &run,
            RunOptions {
                entrypoint,
                keep,
                secrets,
                selection,
            },
        )
        .await?;
        let partial = chosen.partial;
        finish(args, backend, &plan, &run, notes, color, partial).await
    });
    conclude(args, outcome, &run.name, color)
}

/// Drives the run on `backend`, then ends it on the cluster.
async fn finish(
    args: &RunArgs,
    backend: KubeBackend,
    plan: &Plan,
    run: &RunIdentity,
    notes: Vec<String>,
    color: bool,
    partial: Partial,
) -> Result<Outcome, String> {
    let backend = Arc::new(backend);
    // Not stored as a local run, but the failing steps' last lines still reach the summary
    // and the JUnit report.
    let driven = drive_recorded(
        args,
        plan,
        backend.clone(),
        run.uid.clone(),
        notes,
        color,
        None,
        partial,
    )
    .await;
    let super::Driven {
        summary,
        interrupted,
        tails,
        recorder,
    } = match driven {
        Ok(driven) => driven,
        Err(e) => {
            let _ = backend.finish(CLEANUP_WAIT).await;
            return Err(e);
        }
    };
    // A kube run has no local record: the printer's thread has ended, or is about to, with
    // its last output (this join does not wait on anything else).
    recorder.wait();
    backend.mark(&summary.status).await;
    let cleanup = backend.finish(CLEANUP_WAIT).await;
    if std::env::var_os("TKC_KUBE_TRAFFIC").is_some() {
        eprintln!(
            "traffic: {}",
            serde_json::to_string(&backend.traffic()).unwrap_or_default()
        );
    }
    Ok((summary, interrupted, tails, cleanup))
}

/// A finished kube run: its summary, whether it was interrupted, the failing steps' last
/// lines, and how the cleanup went.
type Outcome = (tkc_runtime::RunSummary, bool, Tails, Result<(), String>);

fn conclude(args: &RunArgs, outcome: Result<Outcome, String>, name: &str, color: bool) -> u8 {
    let keep = args.keep;
    match outcome {
        Ok((summary, interrupted, tails, cleanup)) => {
            if let Err(e) = cleanup {
                eprintln!("warning: {e}");
            }
            if keep && args.output == Output::Human {
                eprintln!(
                    "run objects kept: ConfigMap {}{} and what it owns",
                    tkc_kube::RUN_PREFIX,
                    name
                );
            }
            report_with(args, &summary, interrupted, color, &tails, None)
        }
        Err(message) => {
            eprintln!("error: cannot run on Kubernetes: {message}");
            exit::USAGE
        }
    }
}

/// The static entrypoint's bytes (see [`static_entrypoint_for`]).
fn entrypoint_binary(given: Option<&Path>) -> Result<Vec<u8>, String> {
    static_entrypoint_for(given, None).map(|(_, bytes)| bytes)
}

/// The static entrypoint for this machine's architecture, which the container backends
/// mount into every container.
pub(super) fn static_entrypoint(given: Option<&Path>) -> Result<PathBuf, String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => Some(tkc_pods::Arch::Amd64),
        "aarch64" => Some(tkc_pods::Arch::Arm64),
        _ => None,
    };
    static_entrypoint_for(given, arch).map(|(path, _)| path)
}

/// The static entrypoint: `--entrypoint-binary`, else `TKC_KUBE_ENTRYPOINT`, else
/// `TKC_STATIC_ENTRYPOINT` (which `.ci/run` sets), else a static `tkc-entrypoint` beside tkc,
/// else the one `entrypoint/build-static.sh` builds in the same target directory (of `arch`,
/// if given). A dynamically linked binary is refused (it would not run in an image).
fn static_entrypoint_for(
    given: Option<&Path>,
    arch: Option<tkc_pods::Arch>,
) -> Result<(PathBuf, Vec<u8>), String> {
    let explicit = given.map(Path::to_path_buf).or_else(|| {
        ["TKC_KUBE_ENTRYPOINT", "TKC_STATIC_ENTRYPOINT"]
            .iter()
            .find_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()))
            .map(PathBuf::from)
    });
    if let Some(path) = explicit {
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read the entrypoint {}: {e}", path.display()))?;
        let binary = tkc_pods::EntrypointBinary::inspect(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(arch) = arch.filter(|a| *a != binary.arch) {
            return Err(format!(
                "{}: built for {}, but this machine is {}",
                path.display(),
                binary.arch.label(),
                arch.label()
            ));
        }
        return Ok((path, bytes));
    }
    let dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let candidates = [
        dir.join("tkc-entrypoint"),
        dir.join("../x86_64-unknown-linux-musl/entrypoint/tkc-entrypoint"),
        dir.join("../aarch64-unknown-linux-musl/entrypoint/tkc-entrypoint"),
    ];
    for c in &candidates {
        if let Ok(bytes) = std::fs::read(c)
            && let Ok(binary) = tkc_pods::EntrypointBinary::inspect(&bytes)
            && arch.is_none_or(|a| a == binary.arch)
        {
            return Ok((c.clone(), bytes));
        }
    }
    Err("no static tkc-entrypoint for the pods: build one with entrypoint/build-static.sh, or name it with --entrypoint-binary FILE (or TKC_KUBE_ENTRYPOINT)".into())
}

/// The cluster `--kubeconfig`, `--context` and `--namespace` name.
pub(super) fn connect_options(args: &RunArgs) -> ConnectOptions {
    ConnectOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace: args.namespace.clone(),
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            None
        }
    }
}

/// The partial run a run's owner object recorded (`selection`, JSON), for `--attach`.
fn stored_partial(plan: &Plan, selection: Option<&str>) -> Result<Partial, String> {
    let Some(text) = selection else {
        return Ok(Partial::default());
    };
    let selection: Selection = serde_json::from_str(text)
        .map_err(|e| format!("the run's recorded selection of tasks does not read: {e}"))?;
    let flags = selection.flags();
    Ok(tkc_runtime::partial::plan_partial(
        plan, &selection, None, flags,
    ))
}

/// `tkc run --attach NAME`: resumes a run whose `tkc` died.
pub fn attach(args: &RunArgs, name: &str) -> u8 {
    let entrypoint = match entrypoint_binary(args.entrypoint_binary.as_deref()) {
        Ok(bytes) => bytes,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let Some(runtime) = runtime() else {
        return exit::USAGE;
    };
    let color = crate::ColorChoice::Auto.enabled() && args.output == Output::Human;
    let connect = connect_options(args);
    let keep = args.keep;
    let outcome = runtime.block_on(async {
        let cluster = tkc_kube::connect(&connect).await?;
        let (backend, plan, run, selection) = KubeBackend::attach(
            cluster,
            name,
            RunOptions {
                entrypoint,
                keep,
                // Attached runs find the Secrets they made in the cluster.
                secrets: Default::default(),
                selection: None,
            },
        )
        .await?;
        let partial = stored_partial(&plan, selection.as_deref())?;
        finish(args, backend, &plan, &run, vec![], color, partial).await
    });
    let code = conclude(args, outcome, name, color);
    runtime.shutdown_background();
    code
}

/// `tkc runs`: the runs in a namespace (their owner ConfigMaps) and their status.
pub fn runs(args: RunsArgs) -> u8 {
    let kube = match args.backend {
        Some(b) => b == BackendKind::Kube,
        None => args.namespace.is_some() || args.context.is_some() || args.kubeconfig.is_some(),
    };
    if !kube {
        return super::store::list(args.output);
    }
    let Some(runtime) = runtime() else {
        return exit::USAGE;
    };
    let connect = ConnectOptions {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        namespace: args.namespace.clone(),
    };
    let listed = runtime.block_on(async {
        let cluster = tkc_kube::connect(&connect).await?;
        tkc_kube::list_runs(&cluster).await
    });
    runtime.shutdown_background();
    let runs = match listed {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        ),
        Output::Human => {
            let width = runs.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            println!(
                "{:width$}  {:10}  {:>5}  {:>6}  CREATED",
                "NAME", "STATUS", "ENDED", "FAILED"
            );
            for r in &runs {
                println!(
                    "{:width$}  {:10}  {:>5}  {:>6}  {}",
                    r.name, r.status, r.attempts_ended, r.attempts_failed, r.created
                );
            }
        }
    }
    exit::OK
}

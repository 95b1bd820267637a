//! `tkc-kubetest serve --kubeconfig FILE [--state-dir DIR] [--port N]`: the API test server
//! and its kubelet on 127.0.0.1, until SIGINT or SIGTERM.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use tkc_kubetest::{Options, Server};

const USAGE: &str = "usage: tkc-kubetest serve --kubeconfig FILE [--state-dir DIR] [--port N]

Starts a Kubernetes API test server on 127.0.0.1 with a kubelet that runs pods on this
machine (host programs under bubblewrap; images are ignored), writes a kubeconfig for it
(context tkc-kubetest, namespace default) and serves until SIGINT or SIGTERM, when every
process it started is killed.";

struct Args {
    kubeconfig: PathBuf,
    options: Options,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("serve") => {}
        Some("-h" | "--help") => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("missing command".into()),
    }
    let mut kubeconfig = None;
    let mut options = Options::default();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--kubeconfig" => kubeconfig = Some(PathBuf::from(value()?)),
            "--state-dir" => options.state_dir = Some(PathBuf::from(value()?)),
            "--port" => {
                let v = value()?;
                options.port = v
                    .parse()
                    .map_err(|_| format!("--port: not a port: {v:?}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let kubeconfig = kubeconfig.ok_or("--kubeconfig FILE is required")?;
    Ok(Args {
        kubeconfig,
        options,
    })
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tkc-kubetest: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tkc-kubetest: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("tkc-kubetest: cannot handle signals");
        return ExitCode::from(2);
    };
    let server = match Server::start(args.options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tkc-kubetest: cannot start the server: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = server.kubeconfig(&args.kubeconfig) {
        eprintln!("tkc-kubetest: {e}");
        return ExitCode::from(2);
    }
    let pods = match server.pods_unavailable() {
        None => String::new(),
        Some(why) => format!(" (pods will not run: {why})"),
    };
    println!(
        "tkc-kubetest: serving {} (kubeconfig {}, context tkc-kubetest, namespace default){pods}",
        server.url(),
        args.kubeconfig.display()
    );
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    server.stop().await;
    ExitCode::SUCCESS
}

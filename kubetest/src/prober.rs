//! Readiness probes, run as the kubelet's prober runs them (`pkg/kubelet/prober`).
//!
//! One worker per container with a `readinessProbe` (`worker.go`), started with the container
//! and stopped when it ends (a container that will not restart is not probed again). It probes
//! once at once, then every `periodSeconds` and whenever the pod's status is written while the
//! container is not ready (`manager.UpdatePodStatus` triggers a manual run then), never before
//! `initialDelaySeconds` have passed since the container started. A probe that does not answer
//! within `timeoutSeconds` has failed. The result it reports changes only after
//! `successThreshold` successes or `failureThreshold` failures in a row; until the first
//! success the container is not ready (readiness' initial value is `Failure`). A probe that
//! cannot be made at all (an unknown named port, HTTPS, gRPC, a host other than the pod's)
//! errors, and its result is thrown away, as `doProbe` does: the container stays as it was.
//!
//! - `exec`: the command, `$(VAR)` expanded from the container's literal env values
//!   (`ExpandContainerCommandOnlyStatic`), run in a sandbox made as the container's was: the same
//!   host view, volumes, `/tmp`, termination message file, working directory, environment and
//!   hostname. It does not share the container's PID namespace (it cannot see its processes).
//!   Exit code 0 is success; its output (at most 10 KiB, as `probe/exec` keeps) is the message
//!   of the `Unhealthy` event a failure records.
//! - `tcpSocket`: a connection to the port on the pod's IP (127.0.0.1 here) succeeds.
//! - `httpGet` (`probe/http`): `GET` with the probe's headers, `User-Agent: kube-probe/<version>`
//!   and `Accept: */*`; a status from 200 to 399 succeeds. Redirects are not followed (a 3xx is
//!   a success, as Kubernetes counts a redirect to another host).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// `probe/exec`'s `maxReadLength`: the output of an exec probe kept for its event.
const MAX_OUTPUT: u64 = 10 * 1024;
/// The Kubernetes version the `User-Agent` of HTTP probes names (the test server's).
const KUBE_PROBE: &str = "kube-probe/1.33";

/// How a container's sandbox is made, so that an exec probe runs where the container does.
#[derive(Clone)]
pub struct Sandbox {
    pub bwrap: PathBuf,
    /// bubblewrap's arguments before `--` and the command.
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
}

/// What a probe worker tells its pod's worker.
pub enum Report {
    /// The container's readiness changed.
    Ready(String, bool),
    /// A probe failed or errored: the message of a Warning `Unhealthy` event.
    Unhealthy(String, String),
}

/// A container's readiness probe worker; dropping it stops the probing (and kills a probe
/// process that still runs).
pub struct Worker {
    trigger: mpsc::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    /// The last result reported: readiness starts as not ready.
    pub ready: bool,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Worker {
    /// Starts probing `container` (just started) if it has a readiness probe.
    pub fn start(
        container: &Container,
        sandbox: Sandbox,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Option<Worker> {
        let probe = container.readiness_probe.clone()?;
        let (trigger, triggers) = mpsc::channel(1);
        let task = tokio::spawn(run(container.clone(), probe, sandbox, triggers, reports));
        Some(Worker {
            trigger,
            task,
            ready: false,
        })
    }

    /// Probes again now, unless a run is already pending (`manualTriggerCh`, non-blocking).
    pub fn trigger(&self) {
        let _ = self.trigger.try_send(());
    }
}

/// The probe's settings with `SetDefaults_Probe`'s defaults for what is unset or zero.
struct Settings {
    initial_delay: u64,
    timeout: Duration,
    period: Duration,
    success: u32,
    failure: u32,
}

impl Settings {
    fn of(p: &Probe) -> Settings {
        let or = |v: Option<i32>, default: u32| {
            v.and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v > 0)
                .unwrap_or(default)
        };
        Settings {
            initial_delay: u64::from(or(p.initial_delay_seconds, 0)),
            timeout: Duration::from_secs(u64::from(or(p.timeout_seconds, 1))),
            period: Duration::from_secs(u64::from(or(p.period_seconds, 10))),
            success: or(p.success_threshold, 1),
            failure: or(p.failure_threshold, 3),
        }
    }
}

/// `worker.run` and `doProbe` for one readiness probe of a running container.
async fn run(
    container: Container,
    probe: Probe,
    sandbox: Sandbox,
    mut triggers: mpsc::Receiver<()>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let name = container.name.clone();
    let settings = Settings::of(&probe);
    let started = Instant::now();
    let mut ticks = tokio::time::interval_at(started + settings.period, settings.period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reported = false;
    let mut last: Option<bool> = None;
    let mut streak = 0u32;
    loop {
        // `int32(time.Since(StartedAt).Seconds()) < InitialDelaySeconds`: not yet.
        if started.elapsed().as_secs() >= settings.initial_delay {
            match probe_once(&probe, &container, &sandbox, settings.timeout).await {
                Err(why) => {
                    let _ = reports.send(Report::Unhealthy(
                        name.clone(),
                        format!("Readiness probe errored: {why}"),
                    ));
                }
                Ok((ok, output)) => {
                    if !ok {
                        let _ = reports.send(Report::Unhealthy(
                            name.clone(),
                            format!("Readiness probe failed: {output}"),
                        ));
                    }
                    if last == Some(ok) {
                        streak = streak.saturating_add(1);
                    } else {
                        last = Some(ok);
                        streak = 1;
                    }
                    let threshold = if ok {
                        settings.success
                    } else {
                        settings.failure
                    };
                    if streak >= threshold && ok != reported {
                        reported = ok;
                        if reports.send(Report::Ready(name.clone(), ok)).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        tokio::select! {
            _ = ticks.tick() => {}
            Some(()) = triggers.recv() => {}
        }
    }
}

/// One probe: `Ok((success, output))`, or `Err` when it could not be made (`probe.Unknown`
/// with an error: the result is thrown away).
async fn probe_once(
    probe: &Probe,
    container: &Container,
    sandbox: &Sandbox,
    timeout: Duration,
) -> Result<(bool, String), String> {
    if let Some(exec) = &probe.exec {
        return exec_probe(
            exec.command.as_deref().unwrap_or_default(),
            container,
            sandbox,
            timeout,
        )
        .await;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let host = pod_host(tcp.host.as_deref())?;
        let port = resolve_port(&tcp.port, container)?;
        let addr = format!("{host}:{port}");
        return Ok(
            match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
                Ok(Ok(_)) => (true, String::new()),
                Ok(Err(e)) => (false, format!("dial tcp {addr}: connect: {e}")),
                Err(_) => (false, format!("dial tcp {addr}: i/o timeout")),
            },
        );
    }
    if let Some(http) = &probe.http_get {
        if http
            .scheme
            .as_deref()
            .is_some_and(|s| !s.eq_ignore_ascii_case("HTTP"))
        {
            return Err("tkc-kubetest makes HTTP probes only, not HTTPS".into());
        }
        let host = pod_host(http.host.as_deref())?;
        let port = resolve_port(&http.port, container)?;
        let path = http
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let mut request = format!("GET {path} HTTP/1.1\r\n");
        let has = |name: &str| {
            http.http_headers
                .iter()
                .flatten()
                .any(|h| h.name.eq_ignore_ascii_case(name))
        };
        let defaults = [
            ("Host", format!("{host}:{port}")),
            ("User-Agent", KUBE_PROBE.to_string()),
            ("Accept", "*/*".to_string()),
        ];
        for (name, value) in defaults {
            if !has(name) {
                request.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        for h in http.http_headers.iter().flatten() {
            request.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
        request.push_str("Connection: close\r\n\r\n");
        let url = format!("http://{host}:{port}{path}");
        return Ok(
            match tokio::time::timeout(timeout, http_status(&format!("{host}:{port}"), &request))
                .await
            {
                Ok(Ok(code)) if (200..400).contains(&code) => (true, String::new()),
                Ok(Ok(code)) => (false, format!("HTTP probe failed with statuscode: {code}")),
                Ok(Err(e)) => (false, format!("Get \"{url}\": {e}")),
                Err(_) => (
                    false,
                    format!(
                        "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                    ),
                ),
            },
        );
    }
    Err("tkc-kubetest runs exec, tcpSocket and httpGet probes only".into())
}

/// The host a network probe reaches: the pod's IP unless the probe names another, which the
/// test server does not reach (it talks to nothing beyond 127.0.0.1).
fn pod_host(host: Option<&str>) -> Result<&'static str, String> {
    match host.unwrap_or("") {
        "" | "127.0.0.1" | "localhost" => Ok("127.0.0.1"),
        other => Err(format!(
            "tkc-kubetest probes the pod's own IP (127.0.0.1) only, not {other:?}"
        )),
    }
}

/// `probe.ResolveContainerPort`: a number, or the name of one of the container's ports.
fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .ok_or_else(|| format!("couldn't find port: {name} in {}", container.name))?,
    };
    u16::try_from(number)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

/// Sends `request` and reads the status code of the response's first line.
async fn http_status(addr: &str, request: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    // The status line, and no more than a short header of it.
    let mut limited = (&mut stream).take(1024);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = limited.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .filter(|_| line.starts_with("HTTP/"))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))
}

/// An exec probe in a sandbox like the container's; at most [`MAX_OUTPUT`] of its output kept.
async fn exec_probe(
    command: &[String],
    container: &Container,
    sandbox: &Sandbox,
    timeout: Duration,
) -> Result<(bool, String), String> {
    if command.is_empty() {
        return Err("the exec probe has no command".into());
    }
    // `ExpandContainerCommandOnlyStatic`: the container's env as written, valueFrom as empty.
    let literal: std::collections::BTreeMap<String, String> = container
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    let argv: Vec<String> = command
        .iter()
        .map(|a| crate::kubelet::expand(a, &literal))
        .collect();
    let mut cmd = tokio::process::Command::new(&sandbox.bwrap);
    cmd.args(&sandbox.args)
        .arg("--")
        .args(&argv)
        .env_clear()
        .envs(sandbox.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", sandbox.bwrap.display()))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let run = async {
        let (mut out, err, status) =
            tokio::join!(read_capped(stdout), read_capped(stderr), child.wait());
        out.extend(err);
        out.truncate(MAX_OUTPUT as usize);
        (status, out)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok((Ok(status), out)) => Ok((status.success(), String::from_utf8_lossy(&out).into_owned())),
        Ok((Err(e), _)) => Err(e.to_string()),
        // The child is killed as it is dropped.
        Err(_) => Ok((false, format!("command {:?} timed out", argv.join(" ")))),
    }
}

/// At most [`MAX_OUTPUT`] bytes of a stream; the rest is read and dropped (`LimitWriter`), so
/// that a talkative probe does not block on a full pipe.
async fn read_capped(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(mut s) = stream {
        let _ = (&mut s).take(MAX_OUTPUT).read_to_end(&mut out).await;
        let _ = tokio::io::copy(&mut s, &mut tokio::io::sink()).await;
    }
    out
}

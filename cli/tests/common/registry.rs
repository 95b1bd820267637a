//! A `docker-registry` (Debian's package of the CNCF distribution registry, the reference
//! OCI registry; `.ci/run` installs it) for the tests of bundles and of the bundles resolver.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `docker-registry serve` on a free port of 127.0.0.1, killed when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`
    pub host: String,
}

impl Registry {
    /// Starts one, or says why it cannot (then the test skips).
    pub fn start(dir: &Path) -> Option<Registry> {
        Registry::start_with(dir, "")
    }

    /// One that requires the user `tkc` with the password `secret` (htpasswd, bcrypt).
    pub fn start_with_login(dir: &Path) -> Option<Registry> {
        let htpasswd = dir.join("htpasswd");
        std::fs::write(
            &htpasswd,
            "tkc:$2b$04$jM/UDc2IHxHAcXKJPhSRHOFhi.Evj5vR3PX7CAwVY8qe86xbBItGq\n",
        )
        .unwrap();
        let auth = format!(
            "auth:\n  htpasswd:\n    realm: tkc-test\n    path: {}\n",
            htpasswd.display()
        );
        Registry::start_with(dir, &auth)
    }

    fn start_with(dir: &Path, extra_config: &str) -> Option<Registry> {
        let Some(binary) = find_registry() else {
            super::skip("docker-registry is not installed (apt-get install docker-registry)");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {host}\n  secret: tkc-test\n{extra_config}",
                dir.join("storage").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Registry { child, host };
        registry.wait_ready(dir);
        Some(registry)
    }

    /// Until `GET /v2/` answers 200 (the distribution API's version check).
    fn wait_ready(&self, dir: &Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(&self.host) {
                let _ = write!(stream, "GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                // 401 when it wants a login: up all the same.
                if ["200", "401"]
                    .iter()
                    .any(|code| answer.split(' ').nth(1) == Some(code))
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start on {}:\n{log}", self.host);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_registry() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("docker-registry"))
        .find(|p| p.is_file())
}

//! Registry credentials from the docker client's configuration (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`), as `docker login` and `podman login --compat-auth-file`
//! write them and as go-containerregistry's default keychain (which `tkn` uses) reads them:
//! the `auths` entry of the registry, either `auth` (base64 of `user:password`) or
//! `username` and `password`. Credential helpers (`credsStore`, `credHelpers`) and identity
//! tokens are not run or read.

use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ username: {:?}, .. }}", self.username)
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The docker configuration file this process would use: `$DOCKER_CONFIG/config.json`, else
/// `$HOME/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join("config.json")),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|home| PathBuf::from(home).join(".docker").join("config.json")),
    }
}

/// The credentials for `registry` (`host[:port]`) in a docker configuration's text. Keys are
/// matched as docker matches them: the host, with or without a scheme and path; Docker Hub
/// (`docker.io`, `index.docker.io`) also under `https://index.docker.io/v1/`. `Err` when the
/// file is not valid JSON or the entry cannot be decoded.
pub fn from_docker_config(text: &str, registry: &str) -> Result<Option<Credentials>, String> {
    let config: DockerConfig =
        serde_json::from_str(text).map_err(|e| format!("not a docker configuration: {e}"))?;
    let wanted = normalise(registry);
    let Some(entry) = config
        .auths
        .iter()
        .find(|(key, _)| normalise(key) == wanted)
        .map(|(_, entry)| entry)
    else {
        return Ok(None);
    };
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: username.clone(),
            password: password.clone(),
        }));
    }
    let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| format!("the credentials for {registry} are not valid base64"))?;
    let Some((username, password)) = decoded.split_once(':') else {
        return Err(format!(
            "the credentials for {registry} are not `user:password`"
        ));
    };
    Ok(Some(Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
    }))
}

/// A registry key without scheme or path, Docker Hub's names made one.
fn normalise(key: &str) -> &str {
    let host = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = host.split('/').next().unwrap_or(host);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn auth_entries_are_found_as_docker_finds_them() {
        // base64("tkc:se:cret")
        let text = r#"{"auths": {
            "http://127.0.0.1:5000/v2/": {"auth": "dGtjOnNlOmNyZXQ="},
            "https://index.docker.io/v1/": {"username": "hub", "password": "pw"},
            "ghcr.io": {}
        }, "credsStore": "desktop"}"#;
        let local = from_docker_config(text, "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(
            (local.username.as_str(), local.password.as_str()),
            ("tkc", "se:cret")
        );
        let hub = from_docker_config(text, "docker.io").unwrap().unwrap();
        assert_eq!(hub.username, "hub");
        assert_eq!(from_docker_config(text, "ghcr.io").unwrap(), None);
        assert_eq!(from_docker_config(text, "quay.io").unwrap(), None);
        assert!(format!("{local:?}").contains("tkc") && !format!("{local:?}").contains("cret"));
    }

    #[test]
    fn a_broken_file_or_entry_is_an_error() {
        assert!(from_docker_config("{", "r").is_err());
        let bad = r#"{"auths": {"r": {"auth": "!!!"}}}"#;
        assert!(from_docker_config(bad, "r").unwrap_err().contains("base64"));
        let no_colon = r#"{"auths": {"r": {"auth": "dGtj"}}}"#;
        assert!(
            from_docker_config(no_colon, "r")
                .unwrap_err()
                .contains("user:password")
        );
    }
}

//! `--env`, `--env-file` and `--secret` of `tkc run`: values from the command line for the
//! steps' environment and for the Secrets a run uses (docs/run.md, "Inputs").

use std::collections::BTreeMap;
use std::path::Path;

/// Secret data by name, then key.
pub type SecretValues = BTreeMap<String, BTreeMap<String, String>>;

/// Files and directories given to `--secret` and `--env-file` are read up to this size.
const MAX_INPUT: u64 = 1 << 20;

/// `--env NAME=VALUE`, or `--env NAME` (the value of NAME in tkc's environment).
pub fn parse_env(text: &str) -> Result<(String, Option<String>), String> {
    let (name, value) = match text.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (text, None),
    };
    check_env_name(name)?;
    Ok((name.to_string(), value))
}

/// A variable name as Kubernetes accepts it (`IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`).
fn check_env_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid environment variable name"))
    }
}

/// The variables of `--env-file` files then `--env` flags, in order (a later one wins).
pub fn environment(
    env_files: &[std::path::PathBuf],
    env: &[(String, Option<String>)],
) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut set = |name: String, value: String| {
        out.retain(|(n, _)| *n != name);
        out.push((name, value));
    };
    for file in env_files {
        let text = read_small(file).map_err(|e| format!("--env-file {}: {e}", file.display()))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!(
                    "--env-file {}:{}: expected NAME=VALUE",
                    file.display(),
                    n + 1
                ));
            };
            let name = name.trim();
            check_env_name(name)
                .map_err(|e| format!("--env-file {}:{}: {e}", file.display(), n + 1))?;
            set(name.to_string(), unquote(value.trim()));
        }
    }
    for (name, value) in env {
        let value = match value {
            Some(v) => v.clone(),
            None => std::env::var(name).map_err(|_| {
                format!(
                    "--env {name}: {name} is not set in tkc's environment (give --env {name}=VALUE)"
                )
            })?,
        };
        set(name.clone(), value);
    }
    Ok(out)
}

/// A value of an env file without its surrounding quotes (`"..."` or `'...'`).
fn unquote(value: &str) -> String {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return value[1..value.len() - 1].to_string();
        }
    }
    value.to_string()
}

/// One `--secret`: `NAME/KEY=FILE`, `NAME/KEY=env:VAR`, `NAME=FILE` (the key is the file's
/// name) or `NAME=DIR` (each regular file a key), as `kubectl create secret generic
/// --from-file` reads them.
pub fn parse_secret(text: &str) -> Result<(String, Option<String>, String), String> {
    let Some((target, source)) = text.split_once('=') else {
        return Err(format!(
            "expected NAME/KEY=FILE, NAME/KEY=env:VAR, NAME=FILE or NAME=DIR, got {text:?}"
        ));
    };
    let (name, key) = match target.split_once('/') {
        Some((n, k)) => (n, Some(k.to_string())),
        None => (target, None),
    };
    if name.is_empty() || key.as_deref().is_some_and(str::is_empty) || source.is_empty() {
        return Err(format!(
            "expected NAME/KEY=FILE, NAME/KEY=env:VAR, NAME=FILE or NAME=DIR, got {text:?}"
        ));
    }
    Ok((name.to_string(), key, source.to_string()))
}

/// The Secrets of `--secret` flags, read.
pub fn secrets(flags: &[(String, Option<String>, String)]) -> Result<SecretValues, String> {
    let mut out = SecretValues::new();
    for (name, key, source) in flags {
        let flag = match key {
            Some(k) => format!("--secret {name}/{k}={source}"),
            None => format!("--secret {name}={source}"),
        };
        let data = out.entry(name.clone()).or_default();
        if let Some(var) = source.strip_prefix("env:") {
            let Some(key) = key else {
                return Err(format!(
                    "{flag}: env:VAR needs a key: --secret {name}/KEY=env:{var}"
                ));
            };
            let value = std::env::var(var)
                .map_err(|_| format!("{flag}: {var} is not set in tkc's environment"))?;
            data.insert(key.clone(), value);
            continue;
        }
        let path = Path::new(source);
        if path.is_dir() {
            if key.is_some() {
                return Err(format!("{flag}: a directory gives every key; drop /KEY"));
            }
            let entries = std::fs::read_dir(path).map_err(|e| format!("{flag}: {e}"))?;
            for entry in entries.flatten() {
                let p = entry.path();
                let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                if let (true, Some(k)) = (is_file, p.file_name().and_then(|n| n.to_str())) {
                    let value =
                        read_small(&p).map_err(|e| format!("{flag}: {}: {e}", p.display()))?;
                    data.insert(k.to_string(), value);
                }
            }
        } else {
            let key = match key {
                Some(k) => k.clone(),
                None => path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                    .ok_or_else(|| format!("{flag}: cannot take a key from this path"))?,
            };
            let value = read_small(path).map_err(|e| format!("{flag}: {e}"))?;
            data.insert(key, value);
        }
    }
    Ok(out)
}

/// A regular file of at most [`MAX_INPUT`] bytes, as text. The read itself is capped: a file
/// that grows after the check, or a `/proc` file that reports size 0, is still bounded.
fn read_small(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(format!("larger than {MAX_INPUT} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        assert_eq!(
            parse_env("A=b=c"),
            Ok(("A".to_string(), Some("b=c".to_string())))
        );
        assert_eq!(parse_env("HOME"), Ok(("HOME".to_string(), None)));
        assert!(parse_env("1X=y").is_err());
        assert_eq!(
            parse_secret("creds/token=env:TOKEN"),
            Ok((
                "creds".to_string(),
                Some("token".to_string()),
                "env:TOKEN".to_string()
            ))
        );
        assert!(parse_secret("creds").is_err());
        assert!(parse_secret("creds/=x").is_err());
        assert_eq!(unquote("\"a b\""), "a b");
    }
}

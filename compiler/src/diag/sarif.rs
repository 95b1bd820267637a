//! `--format sarif`: SARIF 2.1.0 for code scanning (GitHub and other SARIF viewers).
//!
//! - every rule has a `helpUri`: the section of `docs/checks.md` that holds its row (found in
//!   the file itself, compiled in, so the link cannot point at a section that does not exist);
//! - files inside the source root (the repository) are repository-relative URIs with
//!   `uriBaseId: "%SRCROOT%"`, and `originalUriBaseIds` says where that root was; files outside
//!   it are absolute `file://` URIs;
//! - security rules carry `properties.security-severity` (and the `security` tag), which code
//!   scanning uses to rank alerts as critical/high/medium/low;
//! - `relatedLocations` and `ruleIndex` are left out rather than written empty or `null`.
//!
//! `cli/tests/sarif_schema.rs` validates the output against the OASIS SARIF 2.1.0 schema.

use super::render::{Location, locate};
use super::{Code, Diagnostic, Severity};
use crate::source::SourceMap;

/// Where the documentation lives (the workspace's `repository`).
const REPOSITORY: &str = "https://github.com/tkc-dev/tkc";

/// The base id of repository-relative URIs (the name GitHub and CodeQL use).
pub const SRCROOT: &str = "%SRCROOT%";

/// `docs/checks.md`, the page every rule's `helpUri` points into.
const CHECKS_MD: &str = include_str!("../../../docs/checks.md");

/// The security rules and their `security-severity` (a CVSS-like score, 0.0–10.0: GitHub
/// shows over 9.0 as critical, 7.0–8.9 high, 4.0–6.9 medium). Script injection runs what a
/// PipelineRun's author (or a webhook payload) wrote as shell in the step's container, with
/// its credentials: high, as zizmor and CodeQL rate template injection in GitHub workflows.
/// CEL injection changes which tasks run, not what they run: medium.
pub const SECURITY_SEVERITY: &[(&str, &str)] = &[
    ("tkc::lint::script-injection", "8.0"),
    ("tkc::lint::cel-injection", "6.0"),
];

/// The source root that repository-relative URIs are relative to.
#[derive(Clone, Debug)]
pub struct SrcRoot {
    /// The root's absolute path, `/` separated, without a trailing `/` (`/home/me/repo`).
    pub dir: String,
    /// The working directory relative to the root, `/` separated (`""`, `tekton/tasks`):
    /// relative file names are relative to it.
    pub cwd: String,
}

/// `--format sarif` with rule metadata from `rules` (the code registry). With `root`, files
/// inside it get repository-relative URIs; without, relative names stay as written (with no
/// base id) and absolute ones become `file://` URIs.
pub fn sarif(
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    rules: &[&Code],
    root: Option<&SrcRoot>,
) -> String {
    use serde_json::json;
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Advice => "note",
    };
    let region = |l: &Location| {
        json!({
            "startLine": l.line, "startColumn": l.column,
            "endLine": l.end_line, "endColumn": l.end_column,
        })
    };
    let rules_json: Vec<_> = rules
        .iter()
        .map(|c| {
            let mut rule = json!({
                "id": c.name,
                "name": c.name.rsplit("::").next().unwrap_or(c.name),
                "shortDescription": { "text": c.summary() },
                "fullDescription": { "text": body(c) },
                "helpUri": help_uri(c.name),
                "help": { "text": c.explanation(), "markdown": c.explanation() },
                "defaultConfiguration": { "level": level(c.severity) },
            });
            if let Some((_, score)) = SECURITY_SEVERITY.iter().find(|(n, _)| *n == c.name) {
                rule["properties"] = json!({ "tags": ["security"], "security-severity": score });
            }
            rule
        })
        .collect();
    let results: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(help);
            }
            let locations: Vec<_> = d
                .primary_span()
                .map(|s| locate(sources, s))
                .into_iter()
                .map(|l| {
                    json!({ "physicalLocation": {
                        "artifactLocation": artifact(&l.file, root),
                        "region": region(&l),
                    }})
                })
                .collect();
            let related: Vec<_> = d
                .labels
                .iter()
                .filter(|l| !l.primary)
                .chain(d.related.iter().flat_map(|r| r.labels.iter()))
                .enumerate()
                .map(|(i, label)| {
                    let l = locate(sources, label.span);
                    json!({
                        "id": i,
                        "message": { "text": label.message },
                        "physicalLocation": {
                            "artifactLocation": artifact(&l.file, root),
                            "region": region(&l),
                        },
                    })
                })
                .collect();
            let mut result = json!({
                "ruleId": d.code.name,
                "level": level(d.severity),
                "message": { "text": message },
                "locations": locations,
            });
            if let Some(index) = rules.iter().position(|c| c.name == d.code.name) {
                result["ruleIndex"] = json!(index);
            }
            if !related.is_empty() {
                result["relatedLocations"] = json!(related);
            }
            result
        })
        .collect();
    let mut run = json!({
        "tool": { "driver": {
            "name": "tkc",
            "informationUri": REPOSITORY,
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules_json,
        }},
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if let Some(root) = root {
        run["originalUriBaseIds"] = json!({
            SRCROOT: { "uri": format!("{}/", file_uri(&root.dir)) },
        });
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

/// A code's explanation without its `# Title` line (the title is the short description).
fn body(code: &Code) -> String {
    let explanation = code.explanation();
    let mut lines = explanation.lines().skip_while(|l| l.trim().is_empty());
    let first = lines.next().unwrap_or_default();
    let rest: Vec<&str> = if first.starts_with("# ") {
        lines.skip_while(|l| l.trim().is_empty()).collect()
    } else {
        std::iter::once(first).chain(lines).collect()
    };
    rest.join("\n")
}

/// `https://github.com/tkc-dev/tkc/blob/main/docs/checks.md#<section>`: the section whose table
/// has the code's row (`docs/checks.md` has one per code, a test enforces it), or the page.
pub fn help_uri(code: &str) -> String {
    let page = format!("{REPOSITORY}/blob/main/docs/checks.md");
    match section_of(CHECKS_MD, code) {
        Some(anchor) => format!("{page}#{anchor}"),
        None => page,
    }
}

/// The GitHub anchor of the heading above the table row of `code` in `markdown`.
pub fn section_of(markdown: &str, code: &str) -> Option<String> {
    let row = format!("| `{code}` |");
    let mut seen: Vec<String> = Vec::new();
    let mut current = None;
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if let Some(heading) = heading_text(line) {
            let slug = slug(heading);
            // GitHub numbers repeated anchors: `x`, `x-1`, `x-2`.
            let repeats = seen.iter().filter(|s| **s == slug).count();
            let anchor = if repeats == 0 {
                slug.clone()
            } else {
                format!("{slug}-{repeats}")
            };
            seen.push(slug);
            current = Some(anchor);
        } else if line.starts_with(&row) {
            return current;
        }
    }
    None
}

fn heading_text(line: &str) -> Option<&str> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if (1..=6).contains(&hashes) {
        line[hashes..].strip_prefix(' ').map(str::trim)
    } else {
        None
    }
}

/// GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces
/// as `-`.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The `artifactLocation` of a file name as the check saw it.
fn artifact(file: &str, root: Option<&SrcRoot>) -> serde_json::Value {
    use serde_json::json;
    let absolute = file.starts_with('/');
    match root {
        Some(root) => {
            let path = if absolute {
                normalize(file)
            } else if root.cwd.is_empty() {
                normalize(&format!("{}/{file}", root.dir))
            } else {
                normalize(&format!("{}/{}/{file}", root.dir, root.cwd))
            };
            match path
                .strip_prefix(&root.dir)
                .and_then(|p| p.strip_prefix('/'))
            {
                Some(relative) => {
                    json!({ "uri": encode(relative), "uriBaseId": SRCROOT })
                }
                _ => json!({ "uri": file_uri(&path) }),
            }
        }
        None if absolute => json!({ "uri": file_uri(file) }),
        None => json!({ "uri": encode(file) }),
    }
}

/// An absolute path with `.` and `..` components resolved (lexically: the check read the
/// files through these names, so no symlink is followed here).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

fn file_uri(absolute: &str) -> String {
    format!("file://{}", encode(absolute))
}

/// Percent-encodes the bytes outside the URI path set.
fn encode(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_github() {
        let md = "# Checks\n## Syntax and schema (`syntax`, `schema`)\n| `tkc::syntax::yaml` | x |\n\
                  ```toml\n# not a heading\n```\n## lint\n## Lints (`lint`)\n| `tkc::lint::a` |\n\
                  ## lint\n| `tkc::lint::b` |\n";
        assert_eq!(
            section_of(md, "tkc::syntax::yaml").as_deref(),
            Some("syntax-and-schema-syntax-schema")
        );
        assert_eq!(
            section_of(md, "tkc::lint::a").as_deref(),
            Some("lints-lint")
        );
        assert_eq!(section_of(md, "tkc::lint::b").as_deref(), Some("lint-1"));
        assert_eq!(section_of(md, "tkc::lint::c"), None);
    }

    #[test]
    fn uris_relative_to_the_root() {
        let root = SrcRoot {
            dir: "/r/my repo".into(),
            cwd: "tekton".into(),
        };
        let uri = |f: &str| artifact(f, Some(&root));
        assert_eq!(
            uri("./a b.yaml"),
            serde_json::json!({"uri": "tekton/a%20b.yaml", "uriBaseId": SRCROOT})
        );
        assert_eq!(
            uri("../x/t.yaml"),
            serde_json::json!({"uri": "x/t.yaml", "uriBaseId": SRCROOT})
        );
        assert_eq!(
            uri("/r/my repo/y.kdl"),
            serde_json::json!({"uri": "y.kdl", "uriBaseId": SRCROOT})
        );
        assert_eq!(
            uri("../../elsewhere.yaml"),
            serde_json::json!({"uri": "file:///r/elsewhere.yaml"})
        );
        assert_eq!(
            uri("/r/my repository/z.yaml"),
            serde_json::json!({"uri": "file:///r/my%20repository/z.yaml"})
        );
    }
}

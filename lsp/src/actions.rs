//! Text edits for the fixes findings carry (`diag::Fix`): the finding says what to change in
//! the model's terms (bind these params on this pipeline task; pass these references through
//! the step's `env`), and this module finds where in the text of the document as it is now,
//! with the syntax tree, and writes it in the document's syntax with its indentation.

use tkc_compiler::source::{SourceMap, Span, Syntax};
use tkc_compiler::syntax::{self, Map, Node, Value};

/// A replacement of bytes `start..end` of the document.
#[derive(Debug, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Edit {
    fn insert(at: usize, text: String) -> Edit {
        Edit {
            start: at,
            end: at,
            text,
        }
    }
}

/// A param to bind: its name and a placeholder value in each syntax.
pub struct NewParam<'a> {
    pub name: &'a str,
    pub yaml_value: &'a str,
    pub kdl_value: &'a str,
}

/// A reference to move into `env`: where it is, the variable's name, the reference's text.
pub struct EnvUse<'a> {
    pub start: usize,
    pub end: usize,
    pub var: &'a str,
    pub reference: &'a str,
}

fn parse(name: &str, text: &str) -> (SourceMap, Vec<Node>) {
    let mut sources = SourceMap::new();
    let id = sources.add(name.to_string(), text.to_string());
    let parsed = syntax::parse_file(&sources, id);
    (sources, parsed.documents)
}

/// Every map node of the tree, outermost first.
fn maps<'n>(node: &'n Node, out: &mut Vec<(&'n Node, &'n Map)>) {
    match &node.value {
        Value::Map(map) => {
            out.push((node, map));
            for e in &map.entries {
                maps(&e.value, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| maps(i, out)),
        _ => {}
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1)
}

/// The column of byte `at` in bytes (indentation is ASCII).
fn column(text: &str, at: usize) -> usize {
    at - line_start(text, at)
}

/// Where to insert a line after a node that ends at `end`: the end of its last line.
fn after_line(text: &str, end: usize) -> usize {
    let end = end.min(text.len());
    let trimmed = text[..end].trim_end_matches([' ', '\t', '\r', '\n', ';']);
    let from = trimmed.len();
    text[from..].find('\n').map_or(text.len(), |i| from + i)
}

/// The edits that bind `params` on the pipeline task whose name starts at byte `target`.
pub fn add_params(name: &str, text: &str, target: usize, params: &[NewParam]) -> Option<Vec<Edit>> {
    let (_, documents) = parse(name, text);
    let mut all = Vec::new();
    documents.iter().for_each(|d| maps(d, &mut all));
    let named = |(_, map): &&(&Node, &Map)| {
        map.entries
            .iter()
            .any(|e| e.key == "name" && e.value.span.start as usize == target)
            || map
                .args
                .first()
                .is_some_and(|a| a.span.start as usize == target)
    };
    let (node, map) = *all.iter().rev().find(named)?;
    match node.origin {
        Syntax::Yaml => {
            let items: Vec<String> = params
                .iter()
                .map(|p| format!("- name: {}\n  value: {}", p.name, p.yaml_value))
                .collect();
            yaml_list_append(text, map, node, "params", &items, None)
        }
        Syntax::Kdl => {
            let lines: Vec<String> = params
                .iter()
                .map(|p| format!("param {:?} {}", p.name, p.kdl_value))
                .collect();
            Some(vec![kdl_children_append(text, node.span, &lines)])
        }
    }
}

/// Appends `items` (YAML list items, lines relative to the item's `-`) to the list under
/// `key` of `map`, creating the key when it is missing (before the key `before`, if given,
/// else after the map's last line).
fn yaml_list_append(
    text: &str,
    map: &Map,
    node: &Node,
    key: &str,
    items: &[String],
    before: Option<Span>,
) -> Option<Vec<Edit>> {
    let first_key = map.entries.first()?.key_span.start as usize;
    let indent = " ".repeat(column(text, first_key));
    let block = |dash: &str| -> String {
        items
            .iter()
            .map(|item| {
                item.lines()
                    .map(|l| format!("\n{dash}{l}"))
                    .collect::<String>()
            })
            .collect()
    };
    if let Some(entry) = map.entries.iter().find(|e| e.key == key) {
        let value = &entry.value;
        return match &value.value {
            Value::Seq(list)
                if !list.is_empty() && !text[value.span.start as usize..].starts_with('[') =>
            {
                let first = list.first()?.span.start as usize;
                let dash = " ".repeat(column(text, first).checked_sub(2)?);
                let last = list.last()?.span.end as usize;
                Some(vec![Edit::insert(after_line(text, last), block(&dash))])
            }
            // `key: []`, `key:`: the list is written out in block style.
            Value::Seq(list) if list.is_empty() => {
                let at = value.span.start as usize;
                if !text[at..].starts_with('[') {
                    return None;
                }
                let end = at + text[at..].find(']')? + 1;
                let dash = format!("{indent}  ");
                Some(vec![Edit {
                    start: at - usize::from(text[..at].ends_with(' ')),
                    end,
                    text: block(&dash),
                }])
            }
            Value::Null => {
                let at = after_line(text, entry.key_span.end as usize);
                Some(vec![Edit::insert(at, block(&format!("{indent}  ")))])
            }
            _ => None,
        };
    }
    let dash = format!("{indent}  ");
    match before {
        // Inserted at the key it goes before, so that a key after a list item's `- ` keeps it.
        Some(at) => Some(vec![Edit::insert(
            at.start as usize,
            format!("{key}:{}\n{indent}", block(&dash)),
        )]),
        None => Some(vec![Edit::insert(
            after_line(text, node.span.end as usize),
            format!("\n{indent}{key}:{}", block(&dash)),
        )]),
    }
}

/// Adds child nodes `lines` to the KDL node at `span`: inside its children block, or in a new
/// one.
fn kdl_children_append(text: &str, span: Span, lines: &[String]) -> Edit {
    let start = (span.start as usize).min(text.len());
    let node_indent = " ".repeat(column(text, start));
    let child = format!("{node_indent}    ");
    let end = (span.end as usize).clamp(start, text.len());
    let body = text[start..end].trim_end_matches([' ', '\t', '\r', '\n', ';']);
    let close = start + body.len();
    if body.ends_with('}') {
        let brace = close - 1;
        let own_line = text[line_start(text, brace)..brace].trim().is_empty();
        if own_line {
            let at = line_start(text, brace);
            let added: String = lines.iter().map(|l| format!("{child}{l}\n")).collect();
            return Edit::insert(at, added);
        }
        let added: String = lines.iter().map(|l| format!("{l}; ")).collect();
        return Edit::insert(brace, added);
    }
    let added: String = lines.iter().map(|l| format!("\n{child}{l}")).collect();
    Edit::insert(close, format!(" {{{added}\n{node_indent}}}"))
}

/// The edits that pass `uses` (references pasted into one step's script) through the step's
/// `env`: one variable per reference, and each use replaced by `"${VAR}"` (`${VAR}` where it
/// is already between double quotes), as Tekton's docs recommend.
pub fn script_to_env(name: &str, text: &str, uses: &[EnvUse]) -> Option<Vec<Edit>> {
    let first = uses.first()?;
    let (_, documents) = parse(name, text);
    let mut all = Vec::new();
    documents.iter().for_each(|d| maps(d, &mut all));
    // The step: the innermost map with a `script` whose value holds the first use.
    let (node, map, script) = all.iter().rev().find_map(|(node, map)| {
        let script = map.entries.iter().find(|e| {
            e.key == "script"
                && e.value.span.start as usize <= first.start
                && first.end <= e.value.span.end as usize
        })?;
        Some((*node, *map, script))
    })?;
    let value_at = script.value.span.start as usize;
    let value_end = script.value.span.end as usize;
    // Positions from an older version of the text: nothing is guessed.
    if uses
        .iter()
        .any(|u| u.start < value_at || u.end > value_end || u.start >= u.end)
    {
        return None;
    }
    let style = text[value_at..].chars().next()?;
    let mut vars: Vec<(&str, &str)> = Vec::new();
    for u in uses {
        if !vars.iter().any(|(v, _)| *v == u.var) {
            vars.push((u.var, u.reference));
        }
    }
    let mut edits = Vec::new();
    match node.origin {
        Syntax::Yaml => {
            let items: Vec<String> = vars
                .iter()
                .map(|(var, r)| format!("- name: {var}\n  value: {r}"))
                .collect();
            edits.extend(yaml_list_append(
                text,
                map,
                node,
                "env",
                &items,
                Some(script.key_span),
            )?);
        }
        Syntax::Kdl => {
            let lines: Vec<String> = vars
                .iter()
                .map(|(var, r)| format!("env {var:?} value={r:?}"))
                .collect();
            edits.push(kdl_children_append(text, node.span, &lines));
        }
    }
    // Inside a double-quoted string (YAML "...", KDL "..."), the new quotes are escaped.
    let escaped = style == '"' && !text[value_at..].starts_with("\"\"\"");
    for u in uses {
        if node.origin == Syntax::Yaml && style != '|' && style != '>' && u.start == value_at {
            // A plain scalar cannot start with a quote: leave this one to the user.
            return None;
        }
        let from = match line_start(text, u.start) {
            // On the string's first line: after its opening quotes.
            start if start <= value_at => value_at + opener_len(&text[value_at..]),
            start => start,
        };
        let quoted = !escaped && from <= u.start && between_double_quotes(text, from, u.start);
        let replacement = match (escaped, quoted) {
            (true, _) => format!("\\\"${{{}}}\\\"", u.var),
            (false, true) => format!("${{{}}}", u.var),
            (false, false) => format!("\"${{{}}}\"", u.var),
        };
        edits.push(Edit {
            start: u.start,
            end: u.end,
            text: replacement,
        });
    }
    edits.sort_by_key(|e| (e.start, e.end));
    Some(edits)
}

/// The length of a string's opening: `"`, `'`, `"""`, `#"`, `#"""` (a block scalar's `|`
/// is on a line of its own: nothing).
fn opener_len(value: &str) -> usize {
    let hashes = value.len() - value.trim_start_matches('#').len();
    let rest = &value[hashes..];
    if rest.starts_with("\"\"\"") {
        hashes + 3
    } else if rest.starts_with(['"', '\'']) {
        hashes + 1
    } else {
        0
    }
}

/// Is byte `at` between double quotes of the shell line starting at `from` (an odd number of
/// unescaped `"` before it)?
fn between_double_quotes(text: &str, from: usize, at: usize) -> bool {
    let mut inside = false;
    let mut escaped = false;
    for c in text[from..at].chars() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => inside = !inside,
            _ => {}
        }
        escaped = false;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(text: &str, mut edits: Vec<Edit>) -> String {
        edits.sort_by_key(|e| std::cmp::Reverse((e.start, e.end)));
        let mut out = text.to_string();
        for e in edits {
            out.replace_range(e.start..e.end, &e.text);
        }
        out
    }

    #[test]
    fn kdl_script_references_move_into_env() {
        let text = "task \"greet\" {\n    param \"who\"\n    step \"hello\" image=\"alpine\" {\n        script \"echo hello $(params.who)\"\n    }\n}\n";
        let start = text.find("$(").unwrap_or_default();
        let uses = [EnvUse {
            start,
            end: start + "$(params.who)".len(),
            var: "WHO",
            reference: "$(params.who)",
        }];
        let edits = script_to_env("t.kdl", text, &uses).unwrap_or_default();
        assert_eq!(
            applied(text, edits),
            "task \"greet\" {\n    param \"who\"\n    step \"hello\" image=\"alpine\" {\n        script \"echo hello \\\"${WHO}\\\"\"\n        env \"WHO\" value=\"$(params.who)\"\n    }\n}\n"
        );
    }

    #[test]
    fn stale_positions_give_no_fix() {
        let text = "task \"t\" {\n    step \"s\" image=\"a\" {\n        script \"echo $(params.x)\"\n    }\n}\n";
        let start = text.find("$(").unwrap_or_default();
        let stale = |start: usize, end: usize| {
            let uses = [EnvUse {
                start,
                end,
                var: "X",
                reference: "$(params.x)",
            }];
            script_to_env("t.kdl", text, &uses)
        };
        assert!(stale(start, start + 11).is_some());
        assert!(stale(start, text.len()).is_none());
        assert!(stale(0, 4).is_none());
        assert!(add_params("t.kdl", text, 1, &[]).is_none());
    }
}

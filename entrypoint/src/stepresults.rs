//! `$(steps.<step>.results.<name>...)` replacement in the step's env, argv and `when`
//! expressions, from `<steps_dir>/step-<step>/results/<name>` (algorithm step 4).
//!
//! Tekton finds references with a greedy regex, so two references in one string, or a `)`
//! after one, confuse it; here each `$(...)` is scanned on its own. As in Tekton, a reference
//! that cannot be resolved is reported on stderr and never fails the step: it is left as is.

use crate::json::{self, Value};
use std::path::Path;

/// A result file's content, decoded the way Tekton decodes a `ResultValue`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultValue {
    /// A string: the JSON string if the file holds one, else the raw text.
    String(String),
    /// A JSON array of strings.
    Array(Vec<String>),
    /// A JSON object of string values; `raw` keeps the file text.
    Object {
        members: Vec<(String, String)>,
        raw: String,
    },
}

impl ResultValue {
    /// Decodes like Tekton's `ParamValue.UnmarshalJSON`: `[` that parses as `[]string` is an
    /// array, `{` that parses as `map[string]string` is an object, a JSON string is unquoted,
    /// anything else is taken verbatim.
    pub fn decode(text: &str) -> ResultValue {
        let parsed = json::parse(text).ok();
        match (text.as_bytes().first(), &parsed) {
            (Some(b'['), Some(v)) => {
                if let Some(items) = v.as_string_array() {
                    return ResultValue::Array(items);
                }
            }
            (Some(b'{'), Some(Value::Object(members))) => {
                let strings: Option<Vec<(String, String)>> = members
                    .iter()
                    .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect();
                if let Some(members) = strings {
                    return ResultValue::Object {
                        members,
                        raw: text.to_owned(),
                    };
                }
            }
            _ => {}
        }
        match parsed {
            Some(Value::String(s)) => ResultValue::String(s),
            _ => ResultValue::String(text.to_owned()),
        }
    }
}

/// Which part of a result a reference selects.
#[derive(Debug, Clone, PartialEq)]
enum Selector {
    /// `R`
    Whole,
    /// `R[N]`
    Index(usize),
    /// `R[*]`
    Star,
    /// `R.key`
    Key(String),
}

/// One parsed `$(steps.S.results.R...)`.
#[derive(Debug, Clone, PartialEq)]
struct Reference {
    step: String,
    result: String,
    selector: Selector,
}

/// Parses the inside of `$(...)`; `None` if it is not a step result reference.
fn parse_reference(expr: &str) -> Option<Reference> {
    let rest = expr.strip_prefix("steps.")?;
    let (step, rest) = rest.split_once('.')?;
    let rest = rest.strip_prefix("results.")?;
    if step.is_empty() || rest.is_empty() {
        return None;
    }
    let (result, selector) = if let Some(open) = rest.find('[') {
        let inner = rest[open + 1..].strip_suffix(']')?;
        let selector = match inner {
            "*" => Selector::Star,
            n => Selector::Index(n.parse().ok()?),
        };
        (&rest[..open], selector)
    } else if let Some((name, key)) = rest.split_once('.') {
        (name, Selector::Key(key.to_owned()))
    } else {
        (rest, Selector::Whole)
    };
    if result.is_empty() {
        return None;
    }
    Some(Reference {
        step: step.to_owned(),
        result: result.to_owned(),
        selector,
    })
}

/// Finds each `$(...)` holding a step result reference: (start, end, reference).
fn find_references(s: &str) -> Vec<(usize, usize, Reference)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = s[from..].find("$(steps.") {
        let start = from + at;
        let Some(close) = s[start..].find(')') else {
            break;
        };
        let end = start + close + 1;
        match parse_reference(&s[start + 2..end - 1]) {
            Some(r) => {
                found.push((start, end, r));
                from = end;
            }
            None => from = start + 2,
        }
    }
    found
}

/// Resolves references against one steps directory, reporting failures to `log`.
pub struct Resolver<'a> {
    steps_dir: &'a Path,
    log: &'a mut dyn FnMut(String),
}

/// What a reference expands to.
enum Expansion {
    Text(String),
    Items(Vec<String>),
}

impl<'a> Resolver<'a> {
    /// A resolver reading `<steps_dir>/step-<S>/results/<R>`; problems go to `log`.
    pub fn new(steps_dir: &'a Path, log: &'a mut dyn FnMut(String)) -> Resolver<'a> {
        Resolver { steps_dir, log }
    }

    fn load(&mut self, r: &Reference) -> Option<ResultValue> {
        // The step directory carries the container name, which is `step-` + the step name.
        let path = self
            .steps_dir
            .join(format!("step-{}", r.step))
            .join("results")
            .join(&r.result);
        match crate::termination::read_untrusted(&path, crate::termination::MAX_MESSAGE_BYTES) {
            Ok(bytes) => Some(ResultValue::decode(&String::from_utf8_lossy(&bytes))),
            Err(e) => {
                (self.log)(format!("cannot read step result {}: {e}", path.display()));
                None
            }
        }
    }

    fn expand(&mut self, r: &Reference) -> Option<Expansion> {
        let value = self.load(r)?;
        let name = || format!("$(steps.{}.results.{})", r.step, r.result);
        let expansion = match (&r.selector, value) {
            (Selector::Whole, ResultValue::String(s)) => Expansion::Text(s),
            // Tekton substitutes "" here; the JSON text is what a user would expect.
            (Selector::Whole, ResultValue::Array(items)) => Expansion::Text(array_json(&items)),
            (Selector::Whole, ResultValue::Object { raw, .. }) => Expansion::Text(raw),
            (Selector::Index(i), ResultValue::Array(items)) => match items.get(*i) {
                Some(item) => Expansion::Text(item.clone()),
                None => {
                    (self.log)(format!(
                        "{}: index {i} out of range ({} items)",
                        name(),
                        items.len()
                    ));
                    return None;
                }
            },
            (Selector::Star, ResultValue::Array(items)) => Expansion::Items(items),
            (Selector::Key(k), ResultValue::Object { members, .. }) => {
                match members.iter().rev().find(|(key, _)| key == k) {
                    Some((_, v)) => Expansion::Text(v.clone()),
                    None => {
                        (self.log)(format!("{}: object has no key {k:?}", name()));
                        return None;
                    }
                }
            }
            (selector, _) => {
                (self.log)(format!(
                    "{}: {selector:?} does not fit the result's type",
                    name()
                ));
                return None;
            }
        };
        Some(expansion)
    }

    /// Replaces every string-valued reference in `s`; whole-array `[*]` references cannot be
    /// put inside a string, so they are reported and left in place.
    pub fn substitute(&mut self, s: &str) -> String {
        let refs = find_references(s);
        if refs.is_empty() {
            return s.to_owned();
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (start, end, r) in refs {
            out.push_str(&s[last..start]);
            match self.expand(&r) {
                Some(Expansion::Text(t)) => out.push_str(&t),
                Some(Expansion::Items(_)) => {
                    (self.log)(format!(
                        "{}: a [*] reference must be a whole argument on its own",
                        &s[start..end]
                    ));
                    out.push_str(&s[start..end]);
                }
                None => out.push_str(&s[start..end]),
            }
            last = end;
        }
        out.push_str(&s[last..]);
        out
    }

    /// Substitutes in a list (argv, `when` values): an item that is exactly one `[*]`
    /// reference is replaced by the array's elements; other items via [`Self::substitute`].
    pub fn substitute_list(&mut self, items: Vec<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let refs = find_references(&item);
            if let [(0, end, r)] = refs.as_slice()
                && *end == item.len()
                && r.selector == Selector::Star
            {
                match self.expand(r) {
                    Some(Expansion::Items(elements)) => out.extend(elements),
                    _ => out.push(item),
                }
                continue;
            }
            out.push(self.substitute(&item));
        }
        out
    }
}

fn array_json(items: &[String]) -> String {
    let mut s = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json::write_string(&mut s, item);
    }
    s.push(']');
    s
}

/// Evaluates step `when` expressions (`-when_expressions`): a JSON list of
/// `{input, operator: in|notin, values}`, all of which must hold. References in `input` and
/// `values` are substituted first. CEL expressions are not supported and are an error.
pub fn when_allows(text: &str, resolver: &mut Resolver<'_>) -> Result<bool, String> {
    if text.trim().is_empty() {
        return Ok(true);
    }
    let parsed = json::parse(text).map_err(|e| format!("-when_expressions: {e}"))?;
    let expressions = match parsed {
        Value::Array(items) => items,
        Value::Null => return Ok(true),
        _ => return Err("-when_expressions: expected a JSON list".to_owned()),
    };
    let mut allowed = true;
    for e in &expressions {
        if e.get("cel")
            .and_then(Value::as_str)
            .is_some_and(|c| !c.is_empty())
        {
            return Err(
                "-when_expressions: CEL expressions are not supported by tkc-entrypoint".into(),
            );
        }
        let input = resolver.substitute(e.get("input").and_then(Value::as_str).unwrap_or(""));
        let values = match e.get("values") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => v
                .as_string_array()
                .ok_or("-when_expressions: \"values\" must be a list of strings")?,
        };
        let values = resolver.substitute_list(values);
        let found = values.contains(&input);
        allowed &= match e.get("operator").and_then(Value::as_str) {
            Some("in") => found,
            Some("notin") => !found,
            other => return Err(format!("-when_expressions: unknown operator {other:?}")),
        };
    }
    Ok(allowed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;

    fn steps_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("tkc-ep-unit-steps-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        for (step, name, content) in [
            ("a", "str", "hello"),
            ("a", "quoted", "\"quoted\\n\""),
            ("a", "arr", "[\"x\", \"y z\"]"),
            ("a", "obj", "{\"k\": \"v\"}"),
            ("b", "num", "42"),
        ] {
            let dir = d.join(format!("step-{step}")).join("results");
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(name), content).unwrap();
        }
        d
    }

    #[test]
    fn decodes_like_param_value() {
        assert_eq!(
            ResultValue::decode("plain\n"),
            ResultValue::String("plain\n".into())
        );
        assert_eq!(
            ResultValue::decode("\"a\""),
            ResultValue::String("a".into())
        );
        assert_eq!(ResultValue::decode("42"), ResultValue::String("42".into()));
        assert_eq!(
            ResultValue::decode("[1,2]"),
            ResultValue::String("[1,2]".into())
        );
        assert_eq!(
            ResultValue::decode("[\"1\"]"),
            ResultValue::Array(vec!["1".into()])
        );
        assert!(matches!(
            ResultValue::decode("{\"a\":\"b\"}"),
            ResultValue::Object { .. }
        ));
    }

    #[test]
    fn parses_reference_forms() {
        let r = |s: &str| parse_reference(s).map(|r| (r.step, r.result, r.selector));
        assert_eq!(
            r("steps.a.results.x"),
            Some(("a".into(), "x".into(), Selector::Whole))
        );
        assert_eq!(
            r("steps.a.results.x[2]"),
            Some(("a".into(), "x".into(), Selector::Index(2)))
        );
        assert_eq!(
            r("steps.a.results.x[*]"),
            Some(("a".into(), "x".into(), Selector::Star))
        );
        assert_eq!(
            r("steps.a.results.x.k"),
            Some(("a".into(), "x".into(), Selector::Key("k".into())))
        );
        assert_eq!(r("steps.a.exitCode.path"), None);
        assert_eq!(r("params.x"), None);
        assert_eq!(r("steps.a.results.x[y]"), None);
    }

    #[test]
    fn substitutes_strings_lists_and_leaves_failures() {
        let dir = steps_dir();
        let mut logged = Vec::new();
        let mut log = |m: String| logged.push(m);
        let mut r = Resolver::new(&dir, &mut log);
        assert_eq!(
            r.substitute(
                "[$(steps.a.results.str)] $(steps.a.results.quoted)$(steps.b.results.num))"
            ),
            "[hello] quoted\n42)"
        );
        assert_eq!(
            r.substitute("$(steps.a.results.arr[1])/$(steps.a.results.obj.k)"),
            "y z/v"
        );
        assert_eq!(
            r.substitute("$(params.x) $(steps.a.results.missing)"),
            "$(params.x) $(steps.a.results.missing)"
        );
        assert_eq!(
            r.substitute("x$(steps.a.results.arr[*])"),
            "x$(steps.a.results.arr[*])"
        );
        let argv = vec![
            "echo".into(),
            "$(steps.a.results.arr[*])".into(),
            "$(steps.a.results.arr[9])".into(),
        ];
        assert_eq!(
            r.substitute_list(argv),
            ["echo", "x", "y z", "$(steps.a.results.arr[9])"]
        );
        assert_eq!(logged.len(), 3, "{logged:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn evaluates_when() {
        let dir = std::env::temp_dir().join("tkc-ep-unit-no-such-dir");
        let mut log = |_m: String| {};
        let mut r = Resolver::new(&dir, &mut log);
        assert_eq!(when_allows("", &mut r), Ok(true));
        assert_eq!(
            when_allows(
                r#"[{"input":"a","operator":"in","values":["a","b"]}]"#,
                &mut r
            ),
            Ok(true)
        );
        assert_eq!(
            when_allows(
                r#"[{"input":"a","operator":"notin","values":["a"]}]"#,
                &mut r
            ),
            Ok(false)
        );
        assert_eq!(
            when_allows(
                r#"[{"input":"a","operator":"in","values":["a"]},{"input":"c","operator":"in","values":["a"]}]"#,
                &mut r
            ),
            Ok(false)
        );
        assert!(when_allows(r#"[{"cel":"'a' == 'a'"}]"#, &mut r).is_err());
        assert!(when_allows(r#"[{"input":"a","operator":"gt","values":["a"]}]"#, &mut r).is_err());
        assert!(when_allows("{", &mut r).is_err());
    }
}

//! No input panics or overflows the stack: arbitrary bytes, and real inputs mutated line by
//! line and token by token, go through both parsers, the decoder and the checks.
//!
//! Inputs: the project's fixtures and examples, and Tekton's own examples from
//! `../shared/corpus/tekton-examples` when that folder exists (skipped otherwise). Cases are
//! few enough for a debug build to finish in seconds; raise them with `PROPTEST_CASES`.
//! Failures are not persisted (the source tree stays clean); proptest prints the minimal
//! failing input.

use proptest::prelude::*;
use std::sync::OnceLock;
use tkc_compiler::model::encode::document_to_json;
use tkc_compiler::source::{SourceMap, Syntax};
use tkc_compiler::{Options, check};

mod common;
use common::{files_below, workspace_root};

/// Runs everything `tkc check` runs on one text read as `syntax`, and encodes the documents.
fn check_text(text: &str, syntax: Syntax) -> usize {
    let mut sources = SourceMap::new();
    let name = match syntax {
        Syntax::Yaml => "input.yaml",
        Syntax::Kdl => "input.kdl",
    };
    let file = sources.add_with_syntax(name, text.to_string(), syntax);
    let options = Options {
        api_fields: tkc_compiler::model::ApiFields::Alpha,
        ..Options::default()
    };
    let result = check(&sources, &[file], &[], &options);
    for document in &result.documents {
        document_to_json(document);
    }
    // Rendering reads every span back from the source: it must not panic either.
    let diagnostics: Vec<_> = result.diagnostics.iter().cloned().collect();
    let human = tkc_compiler::diag::render::human(&sources, &diagnostics, Default::default());
    human.len() + result.documents.len()
}

fn both(text: &str) {
    check_text(text, Syntax::Yaml);
    check_text(text, Syntax::Kdl);
}

/// Every input file: `(syntax, text)`.
fn seeds() -> &'static [(Syntax, String)] {
    static SEEDS: OnceLock<Vec<(Syntax, String)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = workspace_root();
        let mut files = Vec::new();
        for dir in [
            root.join("testdata"),
            root.join("examples"),
            root.join("../shared/corpus/tekton-examples"),
        ] {
            files.extend(files_below(&dir, &["yaml", "yml", "kdl"]));
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|path| {
                let bytes = std::fs::read(&path).ok()?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                Some((Syntax::from_path(&path.to_string_lossy()), text))
            })
            .collect()
    })
}

/// Tokens that upset YAML and KDL parsers.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "- ",
    ": ",
    ":",
    "*a",
    "&a ",
    "<<: *a",
    "\"",
    "'",
    "\t",
    "$(",
    "$(params.",
    ")",
    "#",
    "//",
    "/*",
    "*/",
    "/-",
    "\"\"\"",
    "#\"",
    "\"#",
    "|",
    "|-",
    ">",
    "---\n",
    "...\n",
    "\n",
    "\\",
    "=",
    ";",
    "(array)",
    "(object)",
    "#true",
    "#null",
    "null",
    "~",
    "? ",
    "!!str ",
    "%YAML 1.2\n",
    "\u{feff}",
    "é",
    "\u{0}",
    "\r",
    "0x",
    "1e9999",
    "-",
    "steps",
    "step",
];

#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent(usize, u8),
    Dedent(usize),
    Insert(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), 1u8..6).prop_map(|(a, n)| Mutation::Indent(a, n)),
        any::<usize>().prop_map(Mutation::Dedent),
        (any::<usize>(), any::<usize>()).prop_map(|(at, t)| Mutation::Insert(at, t)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let mut text_form: Option<String> = None;
    for m in mutations {
        if let Some(t) = text_form.take() {
            lines = t.split_inclusive('\n').map(str::to_string).collect();
        }
        let n = lines.len().max(1);
        match *m {
            Mutation::DeleteLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Mutation::DuplicateLine(i) if !lines.is_empty() => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Mutation::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Mutation::Indent(i, k) if !lines.is_empty() => {
                lines[i % n].insert_str(0, &" ".repeat(k as usize));
            }
            Mutation::Dedent(i) if !lines.is_empty() => {
                let line = &mut lines[i % n];
                let spaces = line.len() - line.trim_start_matches(' ').len();
                line.drain(..spaces.min(2));
            }
            Mutation::Insert(at, t) => {
                let mut joined = lines.concat();
                let mut at = at % (joined.len() + 1);
                while !joined.is_char_boundary(at) {
                    at -= 1;
                }
                joined.insert_str(at, TOKENS[t % TOKENS.len()]);
                text_form = Some(joined);
            }
            Mutation::Truncate(at) => {
                let mut joined = lines.concat();
                let mut at = at % (joined.len() + 1);
                while !joined.is_char_boundary(at) {
                    at -= 1;
                }
                joined.truncate(at);
                text_form = Some(joined);
            }
            _ => {}
        }
    }
    text_form.unwrap_or_else(|| lines.concat())
}

/// `cases` unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        both(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_token_soup(tokens in proptest::collection::vec(0..TOKENS.len(), 0..64)) {
        let text: String = tokens.iter().map(|&t| TOKENS[t]).collect();
        both(&text);
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn mutated_inputs(
        seed in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..8),
        other_parser in proptest::bool::weighted(0.1),
    ) {
        let seeds = seeds();
        prop_assume!(!seeds.is_empty());
        let (syntax, text) = &seeds[seed % seeds.len()];
        let mutated = apply(text, &mutations);
        let syntax = match (syntax, other_parser) {
            (Syntax::Yaml, true) => Syntax::Kdl,
            (Syntax::Kdl, true) => Syntax::Yaml,
            (s, false) => *s,
        };
        check_text(&mutated, syntax);
    }
}

#[test]
fn every_seed_checks_without_panicking() {
    for (syntax, text) in seeds() {
        check_text(text, *syntax);
    }
}

// ---- nesting: the parsers and the decoder must refuse depth, not overflow ----

fn has_code(text: &str, syntax: Syntax, code: &str) -> bool {
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("deep", text.to_string(), syntax);
    let result = check(&sources, &[file], &[], &Options::default());
    result.diagnostics.iter().any(|d| d.code.name == code)
}

#[test]
fn deep_kdl_is_refused() {
    let n = 10_000;
    let text = format!("task \"x\" {{\n{}{}}}\n", "a {".repeat(n), "}".repeat(n));
    assert!(has_code(&text, Syntax::Kdl, "tkc::syntax::limit"));
    // Braces inside strings and comments do not count.
    let strings = format!(
        "task \"x\" {{\n  step \"s\" image=\"a\" script=\"{}\" {{ /* {} */ }}\n}}\n// {}\n",
        "{".repeat(n),
        "{".repeat(n),
        "{".repeat(n)
    );
    assert!(!has_code(&strings, Syntax::Kdl, "tkc::syntax::limit"));
    let raw = format!(
        "task \"x\" {{\n  description #\"\"\"\n{}\n\"\"\"#\n}}\n",
        "}".repeat(n)
    );
    assert!(!has_code(&raw, Syntax::Kdl, "tkc::syntax::limit"));
    // `}` in a string cannot hide real depth.
    let hidden = format!(
        "task \"x\" description=\"{}\" {{\n{}{}}}\n",
        "}".repeat(n),
        "a {".repeat(n),
        "}".repeat(n)
    );
    assert!(has_code(&hidden, Syntax::Kdl, "tkc::syntax::limit"));
}

#[test]
fn deep_yaml_is_refused() {
    let n = 10_000;
    let flow = format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
    assert!(has_code(&flow, Syntax::Yaml, "tkc::syntax::limit"));
    let flow_maps = format!("a: {}1{}\n", "{a: ".repeat(n), "}".repeat(n));
    assert!(has_code(&flow_maps, Syntax::Yaml, "tkc::syntax::limit"));
    let mut block = String::new();
    for i in 0..n {
        block.push_str(&" ".repeat(i));
        block.push_str("k:\n");
    }
    assert!(has_code(&block, Syntax::Yaml, "tkc::syntax::limit"));
    let dashes = format!("{}x\n", "- ".repeat(n));
    assert!(has_code(&dashes, Syntax::Yaml, "tkc::syntax::limit"));
}

/// Just under the limit, everything runs: parse, decode, checks, encoding, rendering, drop.
#[test]
fn nesting_up_to_the_limit_is_fine() {
    // Kubernetes objects nested 250 levels deep in a step's securityContext.
    let depth = 240;
    let mut yaml = String::from(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: deep\nspec:\n  steps:\n    - name: s\n      image: a\n      securityContext: ",
    );
    yaml.push_str(&"{a: ".repeat(depth));
    yaml.push('1');
    yaml.push_str(&"}".repeat(depth));
    yaml.push('\n');
    check_text(&yaml, Syntax::Yaml);
    assert!(!has_code(&yaml, Syntax::Yaml, "tkc::syntax::limit"));

    let mut kdl =
        String::from("task \"deep\" {\n  step \"s\" image=\"a\" {\n    security-context {\n");
    kdl.push_str(&"a {".repeat(depth));
    kdl.push_str(&"}".repeat(depth));
    kdl.push_str("\n    }\n  }\n}\n");
    check_text(&kdl, Syntax::Kdl);
    assert!(!has_code(&kdl, Syntax::Kdl, "tkc::syntax::limit"));
}

/// Pipelines inside pipelines (alpha) recurse through the typed decoder, the checks and the
/// encoder: nesting within the syntax's limit but beyond the model's is refused.
#[test]
fn nested_pipeline_specs() {
    let yaml = |levels: usize| {
        let mut yaml =
            String::from("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec: ");
        for i in 0..levels {
            yaml.push_str(&format!("{{tasks: [{{name: t{i}, pipelineSpec: "));
        }
        yaml.push_str("{tasks: [{name: leaf, taskRef: {name: leaf}}]}");
        yaml.push_str(&"}]}".repeat(levels));
        yaml.push('\n');
        yaml
    };
    let kdl = |levels: usize| {
        let mut kdl = String::from("pipeline \"p\" {\n");
        for i in 0..levels {
            kdl.push_str(&format!("task \"t{i}\" {{ pipeline-spec {{\n"));
        }
        kdl.push_str("task \"leaf\" task-ref=\"leaf\"\n");
        kdl.push_str(&"}}\n".repeat(levels));
        kdl.push_str("}\n");
        kdl
    };
    for levels in [10, 80] {
        check_text(&yaml(levels), Syntax::Yaml);
        check_text(&kdl(levels), Syntax::Kdl);
        let refused = levels > 15;
        assert_eq!(
            has_code(&yaml(levels), Syntax::Yaml, "tkc::syntax::limit"),
            refused
        );
        assert_eq!(
            has_code(&kdl(levels), Syntax::Kdl, "tkc::syntax::limit"),
            refused
        );
    }
}

#[test]
fn mutations_are_applied() {
    let text = "a: 1\nb: 2\n";
    assert_eq!(apply(text, &[Mutation::DeleteLine(0)]), "b: 2\n");
    assert_eq!(apply(text, &[Mutation::SwapLines(0, 1)]), "b: 2\na: 1\n");
    assert_eq!(apply(text, &[Mutation::Insert(0, 0)]), "{a: 1\nb: 2\n");
    assert_eq!(apply(text, &[Mutation::Truncate(3)]), "a: ");
}

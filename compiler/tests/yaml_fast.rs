//! The fast YAML path (`syntax::yaml_fast`) against the reference (granit, `parse_granit`):
//! wherever the fast path answers, its `ParsedFile` is the reference's, node for node, span
//! for span, diagnostic for diagnostic. Run over every YAML file of Tekton's examples, the
//! repository's `testdata/` and the fuzz corpus, and over a table of snippets for each
//! feature of the subset and each reason to decline.

mod common;

use common::{corpus, files_below, workspace_root};
use tkc_compiler::source::{SourceMap, Syntax};
use tkc_compiler::syntax::{Node, ParsedFile, Value, yaml, yaml_fast};

/// What the fast path did with `text`: `None` when it declined, else whether it agreed with
/// the reference (with both answers rendered for the failure message).
fn differential(text: &str) -> Option<Result<(), (String, String)>> {
    let mut map = SourceMap::new();
    let file = map.add("t.yaml", text);
    let fast = yaml_fast::parse(file, text)?;
    let reference = yaml::parse_granit(file, text);
    let (fast, reference) = (render(&fast), render(&reference));
    Some(if fast == reference {
        Ok(())
    } else {
        Err((fast, reference))
    })
}

/// One line per node (its span, then its value), then the diagnostics.
fn render(parsed: &ParsedFile) -> String {
    let mut out = String::new();
    for document in &parsed.documents {
        render_node(document, 0, &mut out);
    }
    for diagnostic in &parsed.diagnostics {
        out.push_str(&format!("{diagnostic:?}\n"));
    }
    out
}

fn render_node(node: &Node, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let (start, end) = (node.span.start, node.span.end);
    match &node.value {
        Value::Null => out.push_str(&format!("{indent}{start}..{end} null\n")),
        Value::Scalar(s) => out.push_str(&format!(
            "{indent}{start}..{end} {:?} {:?} {}\n",
            s.kind, s.text, s.kdl_argument
        )),
        Value::Seq(items) => {
            out.push_str(&format!("{indent}{start}..{end} seq\n"));
            for item in items {
                render_node(item, depth + 1, out);
            }
        }
        Value::Map(map) => {
            out.push_str(&format!("{indent}{start}..{end} map {}\n", map.args.len()));
            for entry in &map.entries {
                let (ks, ke) = (entry.key_span.start, entry.key_span.end);
                out.push_str(&format!("{indent} key {ks}..{ke} {:?}\n", entry.key));
                render_node(&entry.value, depth + 1, out);
            }
        }
    }
    if node.origin != Syntax::Yaml {
        out.push_str("not YAML\n");
    }
}

/// The first line where two renderings differ, for a readable failure.
fn first_difference(fast: &str, reference: &str) -> String {
    let at = fast
        .lines()
        .zip(reference.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(0);
    let context = |s: &str| {
        s.lines()
            .skip(at.saturating_sub(6))
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "fast:\n{}\nreference:\n{}",
        context(fast),
        context(reference)
    )
}

#[test]
fn fast_path_agrees_with_granit_on_every_yaml_file() {
    let root = workspace_root();
    let mut files = files_below(&root.join("testdata"), &["yaml", "yml"]);
    files.extend(files_below(&root.join("fuzz/corpus"), &["yaml", "yml"]));
    let mut corpus_files = Vec::new();
    if let Some(corpus) = corpus() {
        corpus_files = files_below(&corpus, &["yaml", "yml"]);
    }
    let (mut answered, mut corpus_answered, mut failures) = (0, 0, Vec::new());
    for (n, path) in files.iter().chain(&corpus_files).enumerate() {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        match differential(&text) {
            None => {}
            Some(Ok(())) => {
                answered += 1;
                if n >= files.len() {
                    corpus_answered += 1;
                }
            }
            Some(Err((fast, reference))) => failures.push(format!(
                "{}\n{}",
                path.display(),
                first_difference(&fast, &reference)
            )),
        }
    }
    let total = files.len() + corpus_files.len();
    eprintln!(
        "fast path answered {answered} of {total} files ({corpus_answered} of {} Tekton examples)",
        corpus_files.len()
    );
    assert!(
        failures.is_empty(),
        "{} files differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // Nearly every Tekton example is within the subset; a drop means the fast path declines
    // what it should answer.
    assert!(
        corpus_answered * 100 >= corpus_files.len() * 95,
        "the fast path answered only {corpus_answered} of {} Tekton examples",
        corpus_files.len()
    );
    // And so is most of tkc's own testdata (which holds many files made to be refused), so
    // that the test holds the fast path to granit where the corpus is absent too.
    let own = answered - corpus_answered;
    assert!(
        own * 100 >= files.len() * 80,
        "the fast path answered only {own} of {} testdata files",
        files.len()
    );
}

/// Each feature of the subset (answered) and each reason to decline.
#[test]
fn fast_path_snippets() {
    let answered = [
        "a: 1\nb:\n  c: x\n  d:\n  - 1\n  - 2\ne: end\n",
        "a: 1\nb:\n  c: x\n\n# comment\ne: end\n\n# trailing\n\n",
        "a:\n  b: c\n  # comment at end\n",
        "a:\n  b: c\n# top comment\n  d: e\n",
        "- a\n- b: 1\n  c: 2\n-\n- - x\n  - y\n",
        "---\na: |\n  hello\n  world\n\nb: >-\n  folded\n  text\nc: |+\n  keep\n\n\nd: x\n",
        "a: \"q\\\"x\" # c\nb: 'it''s'\nc: [a, \"b\", {x: 1}]\nd: {}\ne: []\nf: {name: x, image: y}\n",
        "a:\nb: ~\nc:\n  -\n",
        "a:   # c\nb:    \nc:\n",
        "--- \na: 1\n...\n---\nb: 2\n",
        "a: 1\n---\nb: 2\n",
        "a: 1\n\n# c\n---\nb: 2\n",
        "---\n---\n# c\n---\na: 1\n",
        "d:\n- x: 1\n  y: 2\ne:\n- - a\nf:\n-\n- b\ng:\n-   # c\n- \"q\"\nh:\n- |\n  lit\ni: 1\n",
        "d:\n-\n  x: 1\n- y\ne: 1\n",
        "d:\n  -\n    x: 1\n  - y\ne: 1\n",
        "a:\n  b: |\n    x\n  c: 1\n  d: |\n    y\n  # comment\n  e: |\n    z\n\n# top\nf: 2\n",
        "a: b\n  # c\n",
        "k:\n  - a\n  # c\n  - b\nm: x\n",
        "a: b #c\nc: d# e\ne: \"x\" #c\n",
        "a: >\n  one\n  two\n\n  three\n    more\n  four\nb: >+\n  x\n\n",
        "a: |2\n   x\n  y\nb: |-\n  s\n\nc: >2-\n    m\n   n\n",
        "a: |\n  x\n   \n  y\n",
        "a: |\n  x",
        "a: |-\n  x\n\n\n",
        "- |\n  x\n- >\n  y\n  z\n",
        "\"a b\"  : 1\n'c': 2\ne f: \"x\\ty\\\\z\\\"\\/\"\n",
        "--- # c\na: 1\n",
        "# only\n",
        "",
        "a: [ ]\nb: { }\nc: [a,b]\nd: [\"x\" , 'y']\ne: {a: [1, 2], b: {c: d}}\n",
        "a: 1\nb: 2\na: 3\n",
        "a: {x: 1, x: 2}\n",
        "a: yes\nb: on\nc: 1_000\nd: 0x1F\ne: 1.5e3\nf: .inf\ng: null\nh: ~\nj: -1\n",
        "url: http://x.y/z?a=b#frag\ncmd: echo a:b [c] {d}\n",
        "a: Bäu ✓\nb: \"✓\"\n",
        "a: b\u{a0}c\nlong: the quick brown fox jumps over the lazy dog ✓ ✓ ✓ ✓ and on\n",
        "-",
        "-\n",
        "a:",
        "a: b",
        "a:\n  - x\n  -\n",
        "- - - a\n    - b\n  - c\n- d\n",
        "-   name: x\n    image: y\n-   name: z\n",
        "a:\n  b: [\n  x]\n",
        "a:\n  b: [\n x]\n",
        "a:\n  b: [\n    x\n ]\n",
        "a: [x,\n# c\n  y]\n",
        "a: [x, # c\n  y]\n",
        "a: {x: 1,\n  y: 2}\n",
        "- [a,\nb]\n",
        "a: [x\n  , y]\n",
        "a: [\n  \"x\",\n  \n  y ,\n]\n",
        "a: [x #c\n]\n",
        "steps:\n  - name: a\n    script: |\n      #!/bin/sh\n      echo \"$(params.x)\"\n\n      echo done\n  - name: b\n    image: c\n",
    ];
    let declined = [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "<<: {a: 1}\n",
        "? a\n: b\n",
        "%YAML 1.1\n---\na: 1\n",
        "a:\n\tb: 1\n",
        "a: 1\r\nb: 2\r\n",
        "\u{feff}a: 1\n",
        "a: b\n  c\n",
        "a: \"b\n  c\"\n",
        "a: 'b\n  c'\n",
        "a: \"\\u00e9\"\n",
        "a: b: c\n",
        "a: - b\n",
        "a: \"x\"y\n",
        "scalar\n",
        "  a: 1\n",
        "a: |\nb: 1\n",
        "a: |\n    \n  x\n",
        "a: | # a > b\n  x\n",
        // Found by the fuzz target: granit's span of these starts at the content.
        "a: |\n  |x\n",
        "a: >-\n\n  > x\n",
        "a: |2\nb: |3\n  # c\n",
        "~: 1\n",
        "a: {b}\n",
        "a: [b: c]\n",
        "a: 1\n...\nb: 2\n",
        "a: 1\n b: 2\n",
        "- a\n b\n",
        "a:\n  b: 1\n c: 2\n",
        "a: {x: http://y}\n",
        "a: [b\n  c]\n",
        "a: {b\n  : c}\n",
        "a: {b:\n  c}\n",
        "a: [b,\n---\n]\n",
        "a: [b,\n\tc]\n",
        "i: -\n",
        "a: b\u{85}c\n",
        "a: b\u{2028}c\n",
        "a: b\u{1}c\n",
        "a: b\u{7f}\n",
        "a: \"\u{feff}\"\n",
    ];
    for text in answered {
        let outcome = differential(text);
        assert!(outcome.is_some(), "declined {text:?}");
        if let Some(Err((fast, reference))) = outcome {
            assert_eq!(fast, reference, "{text:?}");
        }
    }
    for text in declined {
        assert!(differential(text).is_none(), "answered {text:?}");
    }
    // Nesting deeper than the fast path goes is left to the reference.
    let deep = "[".repeat(100) + &"]".repeat(100);
    assert!(differential(&format!("a: {deep}\n")).is_none());
    // granit stops taking an implicit key once over 1024 characters of source lie between
    // its start and its `:`, however short the key itself: spaces before the `:`, escapes.
    let far = [
        format!("a{}: 1\n", " ".repeat(1100)),
        format!("\"{}\": 1\n", "\\n".repeat(600)),
        format!("x: {{a{}: 1}}\n", " ".repeat(1100)),
        format!("- a{}: 1\n", " ".repeat(1100)),
    ];
    for text in &far {
        assert!(differential(text).is_none(), "answered {:?}", &text[..20]);
    }
    // Up to the limit, the fast path answers as granit does.
    let near = format!("a{}: 1\n", " ".repeat(1000));
    assert_eq!(differential(&near), Some(Ok(())));
}

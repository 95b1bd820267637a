//! `tkc check` cannot be taken down by its input (issue 17, item 5): each test is input an
//! attacker can put in a pull request, checked on a test thread (2 MiB of stack, less than
//! `tkc`'s main thread), which must come back with diagnostics in bounded time and memory.

use std::time::{Duration, Instant};
use tkc_compiler::source::{SourceMap, Syntax};
use tkc_compiler::{Options, check};

/// Checks `text` as one file; the codes found, and how long it took.
fn check_text(text: String, syntax: Syntax) -> (Vec<&'static str>, Duration) {
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("hostile", text, syntax);
    let start = Instant::now();
    let result = check(&sources, &[file], &[], &Options::default());
    let codes = result.diagnostics.iter().map(|d| d.code.name).collect();
    (codes, start.elapsed())
}

/// A `runAfter` chain of `n` tasks, the last one closing a cycle back to the first if `cycle`.
fn chain(n: usize, cycle: bool) -> String {
    let mut text = String::from(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: chain\nspec:\n  tasks:\n",
    );
    for i in 0..n {
        text.push_str(&format!("    - name: t{i}\n      taskRef: {{name: x}}\n"));
        if i > 0 {
            text.push_str(&format!("      runAfter: [t{}]\n", i - 1));
        } else if cycle {
            text.push_str(&format!("      runAfter: [t{}]\n", n - 1));
        }
    }
    text
}

/// Issue 17: a chain of about 87,000 tasks overflowed `tkc`'s 8 MiB stack in the cycle
/// search; 30,000 was enough on a test thread.
#[test]
fn a_long_run_after_chain_does_not_overflow_the_stack() {
    let (codes, _) = check_text(chain(30_000, false), Syntax::Yaml);
    assert!(!codes.contains(&"tkc::dag::cycle"), "{codes:?}");
    let (codes, _) = check_text(chain(30_000, true), Syntax::Yaml);
    assert!(codes.contains(&"tkc::dag::cycle"), "{codes:?}");
}

/// Issue 17: the `kdl` parser recurses once per nested `/*` and once per piece of a block
/// comment; 20,000 levels overflowed any stack. Refused by a scan before parsing.
#[test]
fn deeply_nested_kdl_comments_are_refused_before_parsing() {
    let nested = format!(
        "{}{}\ntask \"a\"\n",
        "/*".repeat(20_000),
        "*/".repeat(20_000)
    );
    let (codes, _) = check_text(nested, Syntax::Kdl);
    assert_eq!(codes, ["tkc::syntax::limit"]);
    let flat = format!("/* {} */\ntask \"a\"\n", "* / ".repeat(50_000));
    let (codes, _) = check_text(flat, Syntax::Kdl);
    assert_eq!(codes, ["tkc::syntax::limit"]);
}

/// Issue 17: chains of `/-` made the `kdl` parser backtrack in worse than quadratic time (500
/// in a row took 20 s, 20,000 overflowed the stack).
#[test]
fn kdl_slashdash_chains_are_refused_before_parsing() {
    for text in [
        format!("task \"a\" {}x\n", "/- ".repeat(20_000)),
        format!("{}task \"a\"\n", "/-\n".repeat(500)),
        format!("task \"a\" {{\n{}{{ }}\n}}\n", "/- /* c */ ".repeat(500)),
    ] {
        let (codes, elapsed) = check_text(text, Syntax::Kdl);
        assert_eq!(codes, ["tkc::syntax::limit"]);
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }
}

/// What the KDL limits must not refuse: comments with nesting, stars and paths, one `/-`
/// before each of many entries, nodes and child blocks.
#[test]
fn ordinary_kdl_comments_and_slashdashes_parse() {
    let text = format!(
        "/* a /* nested */ comment: see https://tekton.dev/docs ** */\n\
         task \"a\" {} /- {{ step \"x\" }} {{\n{}    step \"s\" image=\"alpine:3.20\" script=\"true\"\n}}\n",
        "/-x=1 ".repeat(2_000),
        "    /- step \"off\"\n".repeat(2_000),
    );
    let (codes, elapsed) = check_text(text, Syntax::Kdl);
    assert!(!codes.contains(&"tkc::syntax::limit"), "{codes:?}");
    assert!(!codes.contains(&"tkc::syntax::kdl"), "{codes:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// Issue 17: each reference's span was found by scanning its string from the start, in every
/// family that looks at references, so 5,000 references in one script took minutes; and
/// miette's layout of one report with thousands of labels took as long again. Now linear (a
/// fraction of a second in a debug build); the bound leaves room for a loaded machine.
#[test]
fn ten_thousand_references_in_one_string_check_in_linear_time() {
    // One line of 10,000 references in `args`, and a script of 10,000 lines with one each
    // (one report, 10,000 labels).
    let refs = vec!["$(params.p)"; 10_000].join(" ");
    let lines = vec!["echo $(params.p)"; 10_000].join("\n        ");
    let text = format!(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  params:\n    - name: p\n  \
         steps:\n    - name: s\n      image: alpine:3.20\n      args: [\"{refs}\"]\n      script: |\n        \
         #!/bin/sh\n        {lines}\n"
    );
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("hostile.yaml", text, Syntax::Yaml);
    let start = Instant::now();
    let result = check(&sources, &[file], &[], &Options::default());
    let diagnostics: Vec<_> = result.diagnostics.iter().cloned().collect();
    assert!(
        diagnostics
            .iter()
            .any(|d| d.code.name == "tkc::lint::script-injection"),
        "{diagnostics:?}"
    );
    let report = tkc_compiler::diag::render::human(&sources, &diagnostics, Default::default());
    assert!(report.contains("more places not shown here"), "{report}");
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

/// A one-line file of 1.4 MB (a flow mapping of 20,000 steps) took miette ten minutes to lay
/// out and then panicked on a column past 65,535. Long lines are not shown now; the report
/// names the place.
#[test]
fn reports_on_a_very_long_line_render_without_the_line() {
    let steps: Vec<String> = (0..2_000)
        .map(|i| format!("{{name: s{i}, image: \"alpine:3.20\", script: \"echo $(params.x{i})\"}}"))
        .collect();
    let text = format!(
        "{{apiVersion: tekton.dev/v1, kind: Task, metadata: {{name: t}}, spec: {{steps: [{}]}}}}\n",
        steps.join(", ")
    );
    assert!(text.len() > 65_536);
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("long.yaml", text, Syntax::Yaml);
    let start = Instant::now();
    let result = check(&sources, &[file], &[], &Options::default());
    let diagnostics: Vec<_> = result.diagnostics.iter().cloned().collect();
    assert!(diagnostics.len() >= 2_000, "{}", diagnostics.len());
    let report = tkc_compiler::diag::render::human(&sources, &diagnostics, Default::default());
    assert!(report.contains("the line is too long to show"));
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

/// A chain of 2,000 Pipelines, each running the next as a child pipeline (alpha): lowering
/// recurses once per level, so it stops at 16 levels with a diagnostic instead of
/// exhausting the stack.
#[test]
fn a_long_chain_of_child_pipelines_is_refused_not_recursed() {
    let n = 2_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p{i}\nspec:\n  tasks:\n"
        ));
        if i + 1 < n {
            text.push_str(&format!(
                "    - name: next\n      pipelineRef: {{name: p{}}}\n",
                i + 1
            ));
        } else {
            text.push_str(
                "    - name: last\n      taskSpec:\n        steps: [{image: alpine, script: 'true'}]\n",
            );
        }
        text.push_str("---\n");
    }
    text.push_str(
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: run\nspec:\n  pipelineRef: {name: p0}\n",
    );
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("hostile", text, Syntax::Yaml);
    let options = Options {
        api_fields: tkc_compiler::model::ApiFields::Alpha,
        ..Options::default()
    };
    let compiled = tkc_compiler::compile(
        &sources,
        &[file],
        &[],
        &tkc_compiler::lower::RunRequest::default(),
        &options,
    );
    let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code.name).collect();
    assert!(compiled.plan.is_none());
    assert!(codes.contains(&"tkc::lower::unsupported"), "{codes:?}");
}

/// Pipelines that each run the next one ten times, twelve levels deep: 10^12 tasks if lowered.
/// Lowering stops at 10,000 child pipeline tasks with a diagnostic, quickly and in little memory.
#[test]
fn child_pipelines_that_fan_out_at_every_level_are_refused() {
    let levels = 12;
    let mut text = String::new();
    for i in 0..levels {
        text.push_str(&format!(
            "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p{i}\nspec:\n  tasks:\n"
        ));
        for k in 0..10 {
            if i + 1 < levels {
                text.push_str(&format!(
                    "    - name: t{k}\n      pipelineRef: {{name: p{}}}\n",
                    i + 1
                ));
            } else {
                text.push_str(&format!(
                    "    - name: t{k}\n      taskSpec:\n        steps: [{{image: alpine, script: 'true'}}]\n"
                ));
            }
        }
        text.push_str("---\n");
    }
    text.push_str(
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: run\nspec:\n  pipelineRef: {name: p0}\n",
    );
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("fan", text, Syntax::Yaml);
    let options = Options {
        api_fields: tkc_compiler::model::ApiFields::Alpha,
        ..Options::default()
    };
    let started = std::time::Instant::now();
    let compiled = tkc_compiler::compile(
        &sources,
        &[file],
        &[],
        &tkc_compiler::lower::RunRequest::default(),
        &options,
    );
    let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code.name).collect();
    assert!(compiled.plan.is_none());
    assert!(codes.contains(&"tkc::lower::unsupported"), "{codes:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// 20,000 unclosed references (plain and with an unclosed quoted name) on one line: each
/// line's last `)` is looked up once, and a quoted name only so far, so this stays linear.
#[test]
fn many_unterminated_references_on_one_line_check_in_linear_time() {
    let refs = vec!["$(params.p $(params[\"p"; 10_000].join(" ");
    let text = format!(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n  params:\n    - name: p\n  \
         steps:\n    - name: s\n      image: alpine:3.20\n      args: ['{refs}']\n"
    );
    let mut sources = SourceMap::new();
    let file = sources.add_with_syntax("unterminated.yaml", text, Syntax::Yaml);
    let start = Instant::now();
    let result = check(&sources, &[file], &[], &Options::default());
    assert!(
        result
            .diagnostics
            .iter()
            .any(|d| d.code.name == "tkc::refs::unterminated"),
    );
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
}

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

//! When expressions of pipeline tasks and (alpha) steps: the operator, the values, and CEL
//! exclusive with the rest.

use super::{Checker, pipeline_specs, pipeline_tasks, task_specs};
use crate::declare_code;
use crate::diag::{Code, Diagnostic};
use crate::model::WhenExpression;
use crate::suggest::did_you_mean;

declare_code! {
    /// # An unknown when operator
    ///
    /// A when expression compares `input` with `values` using `in` or `notin` (written exactly
    /// so: lowercase, no space). Tekton rejects anything else (`operator "<op>" is not
    /// recognized. valid operators: in,notin`).
    ///
    /// ## Example
    /// ```yaml
    /// when:
    ///   - input: $(params.branch)
    ///     operator: NotIn
    ///     values: [main]
    /// ```
    /// Use `notin`.
    pub static OPERATOR = "tkc::when::operator", Error;
}

declare_code! {
    /// # A when expression without values
    ///
    /// `in` and `notin` compare `input` with a non-empty list of `values`; Tekton rejects an
    /// expression whose `values` are missing or empty (`expecting non-empty values field`).
    /// An array param spread into the values (`values: ["$(params.branches[*])"]`) counts as
    /// one value here.
    pub static EMPTY_VALUES = "tkc::when::empty-values", Error;
}

declare_code! {
    /// # `cel` together with input, operator or values
    ///
    /// A when expression is either a CEL expression (`cel`, alpha:
    /// `enable-cel-in-whenexpression`) or an `input`/`operator`/`values` comparison, never
    /// both. Tekton rejects the mix (`cel and input+operator+values cannot be set in one
    /// WhenExpression`). Write two expressions; all of a task's expressions must be true.
    pub static CEL_EXCLUSIVE = "tkc::when::cel-exclusive", Error;
}

declare_code! {
    /// # An empty when expression
    ///
    /// A when expression needs `input`, `operator` and `values` (or `cel`). Tekton rejects an
    /// empty one (`missing field(s)`); often an indentation slip moved its fields elsewhere.
    pub static EMPTY = "tkc::when::empty", Error;
}

/// This family's codes.
pub const CODES: &[&Code] = &[&OPERATOR, &EMPTY_VALUES, &CEL_EXCLUSIVE, &EMPTY];

const OPERATORS: [&str; 2] = ["in", "notin"];

pub fn run(cx: &mut Checker) {
    let world = cx.world;
    for pipeline in pipeline_specs(world) {
        for (_, task) in pipeline_tasks(pipeline.spec) {
            for when in &task.when {
                check(cx, when);
            }
        }
    }
    for task in task_specs(world) {
        for step in &task.spec.steps {
            for when in &step.when {
                check(cx, when);
            }
        }
    }
}

/// The operator a mistyped one most likely means.
fn suggest_operator(op: &str) -> Option<&'static str> {
    let squashed: String = op
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    match squashed.as_str() {
        "in" | "=" | "==" | "equals" | "eq" | "oneof" => return Some("in"),
        "notin" | "!=" | "!in" | "ne" | "notequals" | "noneof" => return Some("notin"),
        _ => {}
    }
    did_you_mean(op, OPERATORS)
}

fn check(cx: &mut Checker, when: &WhenExpression) {
    let input_set = when.input.as_ref().is_some_and(|i| !i.is_empty());
    if let Some(cel) = &when.cel
        && !cel.is_empty()
    {
        let others: Vec<_> = [
            when.input
                .as_ref()
                .filter(|_| input_set)
                .map(|s| (s.span, "input")),
            when.operator.as_ref().map(|s| (s.span, "operator")),
            (!when.values.is_empty()).then(|| {
                let span = when.values.iter().map(|v| v.span).reduce(|a, b| a.to(b));
                (span.unwrap_or(when.head), "values")
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !others.is_empty() {
            let mut d = Diagnostic::new(
                &CEL_EXCLUSIVE,
                "`cel` cannot be combined with input, operator and values in one when expression",
            )
            .with_label(cel.span, "a CEL expression");
            for (span, what) in others {
                d = d.with_secondary(span, format!("`{what}` too"));
            }
            cx.report(d.with_help(
                "split them into two when expressions (a task runs only if all of them are true)",
            ));
        }
        return;
    }
    if !input_set && when.operator.is_none() && when.values.is_empty() && when.cel.is_none() {
        cx.report(
            Diagnostic::new(&EMPTY, "empty when expression")
                .with_label(when.head, "no input, operator or values")
                .with_help("write `input`, `operator` (`in` or `notin`) and `values`"),
        );
        return;
    }
    match &when.operator {
        Some(op) if OPERATORS.contains(&op.as_str()) => {}
        Some(op) => {
            let help = match suggest_operator(op) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "use `in` or `notin`".to_string(),
            };
            cx.report(
                Diagnostic::new(
                    &OPERATOR,
                    format!(
                        "operator \"{}\" is not recognized. valid operators: in,notin",
                        op.value
                    ),
                )
                .with_label(op.span, "unknown operator")
                .with_help(help),
            );
        }
        None => cx.report(
            Diagnostic::new(&OPERATOR, "when expression has no operator")
                .with_label(when.head, "no `operator`")
                .with_help("add `operator: in` or `operator: notin`"),
        ),
    }
    if when.values.is_empty() {
        cx.report(
            Diagnostic::new(&EMPTY_VALUES, "expecting non-empty values field")
                .with_label(when.head, "no values to compare with")
                .with_help("add `values: [...]`; the expression is true when input is (`in`) or is not (`notin`) one of them"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_suggestions() {
        assert_eq!(suggest_operator("NotIn"), Some("notin"));
        assert_eq!(suggest_operator("not in"), Some("notin"));
        assert_eq!(suggest_operator("In"), Some("in"));
        assert_eq!(suggest_operator("=="), Some("in"));
        assert_eq!(suggest_operator("!="), Some("notin"));
        assert_eq!(suggest_operator("exists"), None);
    }
}

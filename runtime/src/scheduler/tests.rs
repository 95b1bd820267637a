//! Scheduler semantics with a fake backend, in virtual time (`start_paused`).

use super::*;
use crate::backend::{Attempt, StopSignal};
use crate::values::value_text;
use std::sync::Mutex;
use tkc_compiler::plan::{
    Matrix, NamedValue, PipelineResult, Pod, ResultDecl, RunInfo, Step, TemplateRef, Timeouts,
    ValueTemplate, ValueType,
};

/// What one attempt of a task does.
#[derive(Clone, Default)]
struct Script {
    millis: u64,
    fail: bool,
    results: Vec<(&'static str, &'static str)>,
}

/// One attempt as the fake saw it: task run, retry, rendered params.
type Seen = (String, u32, BTreeMap<String, String>);

#[derive(Default)]
struct Fake {
    /// Per task: the attempts in order (the last one repeats).
    scripts: BTreeMap<String, Vec<Script>>,
    /// (task run, retry, rendered params) of every attempt, in start order.
    log: Mutex<Vec<Seen>>,
}

impl Fake {
    fn with(mut self, task: &str, attempts: Vec<Script>) -> Fake {
        self.scripts.insert(task.to_string(), attempts);
        self
    }

    fn attempts(&self) -> Vec<Seen> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Backend for Fake {
    fn prepare(&self, _: &Plan, _: &RunIdentity) -> Result<Vec<String>, String> {
        Ok(vec![])
    }

    async fn run_attempt(&self, a: Attempt, mut stop: StopSignal, _: EventSink) -> AttemptOutcome {
        let params: BTreeMap<String, String> = a
            .plan
            .params
            .iter()
            .map(|(k, v)| (k.clone(), value_text(&a.values.render_value(v, &no_paths))))
            .collect();
        let mut matrix_params = a.values.matrix.clone();
        matrix_params.extend(params);
        if let Ok(mut log) = self.log.lock() {
            log.push((a.task_run.clone(), a.retry, matrix_params.clone()));
        }
        let scripts = self.scripts.get(&a.task.name).cloned().unwrap_or_default();
        let script = scripts
            .get(a.retry as usize)
            .or(scripts.last())
            .cloned()
            .unwrap_or_default();
        let sleep = tokio::time::sleep(Duration::from_millis(script.millis));
        tokio::select! {
            _ = sleep => {}
            _ = stop.changed() => {
                return AttemptOutcome { steps: vec![], results: BTreeMap::new(), failure: Some(("Killed".into(), String::new())) };
            }
        }
        let mut results: BTreeMap<String, ParamValue> = script
            .results
            .iter()
            .map(|(k, v)| (k.to_string(), ParamValue::String(v.to_string())))
            .collect();
        // A matrixed task echoes its combination as result `combo`.
        if !matrix_params.is_empty() && results.contains_key("combo") {
            let combo: Vec<String> = a.values.matrix.values().cloned().collect();
            results.insert("combo".into(), ParamValue::String(combo.join("")));
        }
        AttemptOutcome {
            steps: vec![],
            results,
            failure: script
                .fail
                .then(|| ("StepFailed".into(), "\"step-x\" exited with code 1".into())),
        }
    }
}

fn ok(millis: u64) -> Script {
    Script {
        millis,
        ..Script::default()
    }
}

fn fail(millis: u64) -> Script {
    Script {
        millis,
        fail: true,
        ..Script::default()
    }
}

fn with_results(millis: u64, results: Vec<(&'static str, &'static str)>) -> Script {
    Script {
        millis,
        results,
        ..Script::default()
    }
}

fn text(s: &str) -> Template {
    Template::Text(s.to_string())
}

/// A one-reference template `$(...)`.
fn reference(value: RunValue) -> Template {
    let t = "$(ref)".to_string();
    Template::Refs {
        refs: vec![TemplateRef {
            start: 0,
            end: t.len(),
            value,
        }],
        template: t,
    }
}

fn result_ref(task: &str, result: &str) -> RunValue {
    RunValue::TaskResult {
        task: task.into(),
        result: result.into(),
        index: None,
        key: None,
        star: false,
    }
}

fn task(name: &str) -> TaskPlan {
    TaskPlan {
        name: name.into(),
        section: Section::Tasks,
        display_name: None,
        task_ref: String::new(),
        after: vec![],
        retries: 0,
        timeout: None,
        on_error: OnError::StopAndFail,
        when: vec![],
        matrix: None,
        params: BTreeMap::new(),
        service_account_name: "default".into(),
        labels: BTreeMap::new(),
        pod: Pod {
            steps: vec![Step::default()],
            ..Pod::default()
        },
        pipeline: None,
    }
}

fn after(mut t: TaskPlan, parents: &[&str]) -> TaskPlan {
    t.after = parents.iter().map(|p| p.to_string()).collect();
    t
}

fn finally(mut t: TaskPlan) -> TaskPlan {
    t.section = Section::Finally;
    t
}

fn param(mut t: TaskPlan, name: &str, value: Template) -> TaskPlan {
    t.params.insert(name.into(), ValueTemplate::String(value));
    t
}

fn declares(mut t: TaskPlan, result: &str) -> TaskPlan {
    t.pod.results.push(ResultDecl {
        name: result.into(),
        result_type: ValueType::String,
        properties: vec![],
        from_step: None,
    });
    t
}

fn when(mut t: TaskPlan, input: &str, values: &[&str]) -> TaskPlan {
    t.when.push(When {
        input: Some(text(input)),
        operator: Some(WhenOperator::In),
        values: values.iter().map(|v| text(v)).collect(),
        cel: None,
    });
    t
}

fn pipeline(tasks: Vec<TaskPlan>) -> Plan {
    Plan {
        api_version: "tkc.dev/v1alpha1".into(),
        kind: "Plan".into(),
        run: RunInfo {
            kind: RunKind::PipelineRun,
            name: "pr".into(),
            generate_name: false,
            namespace: "default".into(),
            pipeline: "p".into(),
            task: String::new(),
            service_account_name: "default".into(),
            status: None,
            timeouts: Timeouts::default(),
            labels: BTreeMap::new(),
        },
        params: BTreeMap::new(),
        workspaces: vec![],
        tasks,
        results: vec![],
        config_maps: BTreeMap::new(),
        secrets: Default::default(),
        claim_templates: BTreeMap::new(),
    }
}

async fn run_with(plan: Plan, fake: Fake, parallel: usize) -> (RunSummary, Arc<Fake>) {
    let fake = Arc::new(fake);
    let (_tx, rx) = watch::channel(false);
    let options = RunOptions {
        name: "pr".into(),
        uid: "uid".into(),
        parallel,
        cancel: rx,
        partial: Default::default(),
    };
    let summary = run(&plan, fake.clone(), options, EventSink::discard()).await;
    (summary, fake)
}

async fn go(plan: Plan, fake: Fake) -> (RunSummary, Arc<Fake>) {
    run_with(plan, fake, 4).await
}

/// (name, status, reason) of every task run.
fn statuses(s: &RunSummary) -> Vec<(String, &'static str, String)> {
    s.tasks
        .iter()
        .map(|t| {
            let name = match t.index {
                Some(i) => format!("{}[{i}]", t.name),
                None => t.name.clone(),
            };
            (name, t.status.as_str(), t.reason.clone())
        })
        .collect()
}

fn row(name: &str, status: &'static str, reason: &str) -> (String, &'static str, String) {
    (name.to_string(), status, reason.to_string())
}

#[tokio::test(start_paused = true)]
async fn succeeded_when_everything_runs() {
    let plan = pipeline(vec![task("a"), after(task("b"), &["a"])]);
    let (s, fake) = go(plan, Fake::default()).await;
    assert_eq!(
        (s.status.as_str(), s.reason.as_str()),
        ("Succeeded", "Succeeded")
    );
    assert_eq!(
        s.message,
        "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0"
    );
    let order: Vec<String> = fake.attempts().into_iter().map(|a| a.0).collect();
    assert_eq!(order, ["pr-a", "pr-b"]);
}

#[tokio::test(start_paused = true)]
async fn when_skip_does_not_cascade_and_makes_the_run_completed() {
    let plan = pipeline(vec![when(task("a"), "x", &["y"]), after(task("b"), &["a"])]);
    let (s, _) = go(plan, Fake::default()).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Skipped", skip::WHEN),
            row("b", "Succeeded", "Succeeded")
        ]
    );
    assert_eq!(
        (s.status.as_str(), s.reason.as_str()),
        ("Succeeded", "Completed")
    );
}

#[tokio::test(start_paused = true)]
async fn other_skips_cascade_as_parent_skipped() {
    let mut a = task("a");
    a.matrix = Some(Matrix {
        params: vec![NamedValue {
            name: "p".into(),
            value: ValueTemplate::Array(vec![]),
        }],
        include: vec![],
        combinations: None,
    });
    let plan = pipeline(vec![a, after(task("b"), &["a"]), after(task("c"), &["b"])]);
    let (s, _) = go(plan, Fake::default()).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Skipped", skip::EMPTY_MATRIX),
            row("b", "Skipped", skip::PARENT_SKIPPED),
            row("c", "Skipped", skip::PARENT_SKIPPED)
        ]
    );
    assert_eq!(s.reason, "Completed");
}

#[tokio::test(start_paused = true)]
async fn a_failure_stops_the_run_and_finally_still_runs() {
    let plan = pipeline(vec![
        task("a"),
        task("slow"),
        after(task("b"), &["a"]),
        finally(task("f")),
    ]);
    let fake = Fake::default()
        .with("a", vec![fail(10)])
        .with("slow", vec![ok(100)]);
    let (s, _) = go(plan, fake).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Failed", "StepFailed"),
            row("slow", "Succeeded", "Succeeded"),
            row("b", "Skipped", skip::STOPPING),
            row("f", "Succeeded", "Succeeded")
        ]
    );
    assert_eq!((s.status.as_str(), s.reason.as_str()), ("Failed", "Failed"));
    assert_eq!(
        s.message,
        "Tasks Completed: 3 (Failed: 1, Cancelled 0), Skipped: 1"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_count_attempts_and_expose_retry_count() {
    let mut a = param(
        task("a"),
        "n",
        reference(RunValue::Context {
            variable: "task.retry-count".into(),
        }),
    );
    a.retries = 3;
    let fake = Fake::default().with("a", vec![fail(5), fail(5), ok(5)]);
    let (s, fake) = go(pipeline(vec![a]), fake).await;
    assert_eq!(s.tasks[0].attempts, 3);
    assert_eq!(s.reason, "Succeeded");
    let counts: Vec<String> = fake.attempts().iter().map(|a| a.2["n"].clone()).collect();
    assert_eq!(counts, ["0", "1", "2"]);
}

#[tokio::test(start_paused = true)]
async fn retries_run_out() {
    let mut a = task("a");
    a.retries = 1;
    let (s, _) = go(pipeline(vec![a]), Fake::default().with("a", vec![fail(5)])).await;
    assert_eq!(s.tasks[0].attempts, 2);
    assert_eq!(statuses(&s), [row("a", "Failed", "StepFailed")]);
}

#[tokio::test(start_paused = true)]
async fn on_error_continue_is_failure_ignored() {
    let mut a = task("a");
    a.on_error = OnError::Continue;
    let plan = pipeline(vec![a, after(task("b"), &["a"])]);
    let (s, _) = go(plan, Fake::default().with("a", vec![fail(5)])).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "FailureIgnored", "FailureIgnored"),
            row("b", "Succeeded", "Succeeded")
        ]
    );
    assert_eq!(
        (s.status.as_str(), s.reason.as_str()),
        ("Succeeded", "Succeeded")
    );
    assert_eq!(
        s.message,
        "Tasks Completed: 2 (Failed: 1 (Ignored: 1), Cancelled 0), Skipped: 0"
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_timeout_is_task_run_timeout_and_is_retried() {
    let mut a = task("a");
    a.timeout = Some("1s".into());
    a.retries = 1;
    let (s, fake) = go(
        pipeline(vec![a]),
        Fake::default().with("a", vec![ok(5_000)]),
    )
    .await;
    assert_eq!(statuses(&s), [row("a", "TimedOut", "TaskRunTimeout")]);
    assert_eq!(
        s.tasks[0].message,
        "TaskRun \"pr-a\" failed to finish within \"1s\""
    );
    assert_eq!(fake.attempts().len(), 2);
    assert_eq!((s.status.as_str(), s.reason.as_str()), ("Failed", "Failed"));
}

#[tokio::test(start_paused = true)]
async fn tasks_timeout_cancels_dag_skips_the_rest_and_runs_finally() {
    let mut plan = pipeline(vec![
        task("a"),
        after(task("b"), &["a"]),
        finally(task("f")),
    ]);
    plan.run.timeouts.tasks = Some("1s".into());
    let (s, _) = go(plan, Fake::default().with("a", vec![ok(5_000)])).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "TimedOut", "TaskRunCancelled"),
            // `skip()` checks `IsStopping` first: `a` was cancelled by the timeout.
            row("b", "Skipped", skip::STOPPING),
            row("f", "Succeeded", "Succeeded")
        ]
    );
    assert_eq!(
        (s.status.as_str(), s.reason.as_str()),
        ("TimedOut", "PipelineRunTimeout")
    );
    assert_eq!(
        s.message,
        "PipelineRun \"pr\" failed due to tasks failed to finish within \"1s\""
    );
}

#[tokio::test(start_paused = true)]
async fn pipeline_timeout_skips_finally() {
    let mut plan = pipeline(vec![task("a"), finally(task("f"))]);
    plan.run.timeouts.pipeline = Some("2s".into());
    let (s, _) = go(plan, Fake::default().with("a", vec![ok(5_000)])).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "TimedOut", "TaskRunCancelled"),
            row("f", "Skipped", skip::PIPELINE_TIMEOUT)
        ]
    );
    assert_eq!(s.reason, "PipelineRunTimeout");
    assert_eq!(
        s.message,
        "PipelineRun \"pr\" failed to finish within \"2s\""
    );
}

#[tokio::test(start_paused = true)]
async fn finally_timeout_counts_from_the_start_of_finally() {
    let mut plan = pipeline(vec![task("a"), finally(task("f")), finally(task("g"))]);
    plan.run.timeouts.finally = Some("1s".into());
    let fake = Fake::default()
        .with("a", vec![ok(1_500)])
        .with("f", vec![ok(5_000)]);
    let (s, _) = go(plan, fake).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Succeeded", "Succeeded"),
            row("f", "TimedOut", "TaskRunCancelled"),
            row("g", "Succeeded", "Succeeded")
        ]
    );
    // Only the pipeline and tasks timeouts are `PipelineRunTimeout`; a finally task cancelled
    // by the finally timeout counts as failed (`getPipelineTasksCount`).
    assert_eq!(s.reason, "Failed");
}

#[tokio::test(start_paused = true)]
async fn finally_sees_tasks_status_and_each_task_status_and_reason() {
    let f = param(
        param(
            param(
                finally(task("f")),
                "all",
                reference(RunValue::TasksStatus {}),
            ),
            "a",
            reference(RunValue::TaskStatus { task: "a".into() }),
        ),
        "why",
        reference(RunValue::TaskReason { task: "a".into() }),
    );
    let mut a = task("a");
    a.on_error = OnError::Continue;
    let plan = pipeline(vec![a, when(task("b"), "x", &["y"]), f]);
    let (_, fake) = go(plan, Fake::default().with("a", vec![fail(5)])).await;
    let attempts = fake.attempts();
    let seen = &attempts[1].2;
    assert_eq!(seen["all"], "Failed");
    assert_eq!(seen["a"], "Failed");
    assert_eq!(seen["why"], "FailureIgnored");
}

#[tokio::test(start_paused = true)]
async fn tasks_status_is_completed_with_skips() {
    let f = param(
        finally(task("f")),
        "all",
        reference(RunValue::TasksStatus {}),
    );
    let plan = pipeline(vec![task("a"), when(task("b"), "x", &["y"]), f]);
    let (_, fake) = go(plan, Fake::default()).await;
    assert_eq!(fake.attempts()[1].2["all"], "Completed");
}

#[tokio::test(start_paused = true)]
async fn results_flow_downstream() {
    let a = declares(task("a"), "out");
    let b = after(
        param(task("b"), "in", reference(result_ref("a", "out"))),
        &["a"],
    );
    let fake = Fake::default().with("a", vec![with_results(5, vec![("out", "v1")])]);
    let (_, fake) = go(pipeline(vec![a, b]), fake).await;
    assert_eq!(fake.attempts()[1].2["in"], "v1");
}

#[tokio::test(start_paused = true)]
async fn a_missing_consumed_result_is_pipeline_validation_failed() {
    let a = declares(task("a"), "out");
    let b = after(
        param(task("b"), "in", reference(result_ref("a", "out"))),
        &["a"],
    );
    let (s, fake) = go(pipeline(vec![a, b, finally(task("f"))]), Fake::default()).await;
    assert_eq!(s.reason, "PipelineValidationFailed");
    // `GetPipelineConditionStatus`: the counts, then the validation errors.
    assert_eq!(
        s.message,
        "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 0, Failed Validation: 1 (task \"a\" completed successfully but did not emit the result \"out\", which is referenced by task \"b\")"
    );
    assert_eq!(fake.attempts().len(), 2, "b does not run; finally does");
}

#[tokio::test(start_paused = true)]
async fn results_of_a_when_skipped_producer_skip_the_consumer() {
    let a = when(declares(task("a"), "out"), "x", &["y"]);
    let b = after(
        param(task("b"), "in", reference(result_ref("a", "out"))),
        &["a"],
    );
    let (s, _) = go(pipeline(vec![a, b]), Fake::default()).await;
    assert_eq!(statuses(&s)[1], row("b", "Skipped", skip::RESULTS_MISSING));
    assert_eq!(s.reason, "Completed");
}

#[tokio::test(start_paused = true)]
async fn finally_with_results_of_a_failed_task_is_skipped() {
    let a = declares(task("a"), "out");
    let f = param(finally(task("f")), "in", reference(result_ref("a", "out")));
    let (s, _) = go(
        pipeline(vec![a, f]),
        Fake::default().with("a", vec![fail(5)]),
    )
    .await;
    assert_eq!(statuses(&s)[1], row("f", "Skipped", skip::RESULTS_MISSING));
}

#[tokio::test(start_paused = true)]
async fn matrix_fans_out_and_aggregates_results() {
    let mut m = declares(task("m"), "combo");
    m.matrix = Some(Matrix {
        params: vec![
            NamedValue {
                name: "a".into(),
                value: ValueTemplate::Array(vec![text("1"), text("2")]),
            },
            NamedValue {
                name: "b".into(),
                value: ValueTemplate::Array(vec![text("x"), text("y")]),
            },
        ],
        include: vec![],
        combinations: None,
    });
    let star = RunValue::TaskResult {
        task: "m".into(),
        result: "combo".into(),
        index: None,
        key: None,
        star: true,
    };
    let c = after(
        param(
            task("c"),
            "n",
            reference(RunValue::MatrixLength {
                task: "m".into(),
                result: None,
            }),
        ),
        &["m"],
    );
    let mut plan = pipeline(vec![m, c]);
    plan.results.push(PipelineResult {
        name: "all".into(),
        result_type: ValueType::Array,
        value: ValueTemplate::String(reference(star)),
    });
    let fake = Fake::default().with("m", vec![with_results(5, vec![("combo", "")])]);
    let (s, fake) = go(plan, fake).await;
    let names: Vec<String> = statuses(&s).into_iter().map(|r| r.0).collect();
    assert_eq!(names, ["m[0]", "m[1]", "m[2]", "m[3]", "c"]);
    assert_eq!(
        s.results.get("all"),
        Some(&ParamValue::Array(vec![
            "1x".into(),
            "2x".into(),
            "1y".into(),
            "2y".into()
        ]))
    );
    assert_eq!(fake.attempts()[4].2["n"], "4");
}

#[tokio::test(start_paused = true)]
async fn pipeline_results_of_failed_tasks_are_omitted_and_missing_ones_fail_the_run() {
    let mut a = declares(task("a"), "out");
    a.on_error = OnError::Continue;
    let b = declares(task("b"), "out");
    let mut plan = pipeline(vec![a, b]);
    for (name, t) in [("from_a", "a"), ("from_b", "b")] {
        plan.results.push(PipelineResult {
            name: name.into(),
            result_type: ValueType::String,
            value: ValueTemplate::String(reference(result_ref(t, "out"))),
        });
    }
    let fake = Fake::default().with(
        "a",
        vec![Script {
            millis: 5,
            fail: true,
            results: vec![("out", "x")],
        }],
    );
    let (s, _) = go(plan.clone(), fake).await;
    // `a` failed but wrote `out`: the value counts (`ApplyTaskResultsToPipelineResults`).
    assert_eq!(s.results.keys().collect::<Vec<_>>(), ["from_a"]);
    assert_eq!(s.reason, "CouldntGetPipelineResult");
    assert_eq!(
        s.message,
        "Failed to get PipelineResult from TaskRun Results for PipelineRun pr: invalid pipelineresults [from_b], the referenced results don't exist"
    );
    let fake = Fake::default()
        .with("a", vec![fail(5)])
        .with("b", vec![with_results(5, vec![("out", "y")])]);
    let (s, _) = go(plan, fake).await;
    assert_eq!(s.reason, "Succeeded");
    assert_eq!(s.results.keys().collect::<Vec<_>>(), ["from_b"]);
}

#[tokio::test(start_paused = true)]
async fn parallelism_limits_concurrent_attempts() {
    let tasks: Vec<TaskPlan> = ["a", "b", "c", "d"].iter().map(|n| task(n)).collect();
    let mut fake = Fake::default();
    for n in ["a", "b", "c", "d"] {
        fake = fake.with(n, vec![ok(1_000)]);
    }
    let start = Instant::now();
    let (s, _) = run_with(pipeline(tasks), fake, 2).await;
    assert_eq!(s.reason, "Succeeded");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2_000) && took < Duration::from_millis(2_500),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_running_tasks_and_skips_the_rest_and_finally() {
    let plan = pipeline(vec![
        task("a"),
        after(task("b"), &["a"]),
        finally(task("f")),
    ]);
    let fake = Arc::new(Fake::default().with("a", vec![ok(10_000)]));
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = tx.send(true);
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let options = RunOptions {
        name: "pr".into(),
        uid: "u".into(),
        parallel: 2,
        cancel: rx,
        partial: Default::default(),
    };
    let s = run(&plan, fake.clone(), options, EventSink::discard()).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Cancelled", "TaskRunCancelled"),
            row("b", "Skipped", skip::STOPPING),
            row("f", "Skipped", skip::STOPPING)
        ]
    );
    assert_eq!(
        (s.status.as_str(), s.reason.as_str()),
        ("Cancelled", "Cancelled")
    );
    assert_eq!(s.message, "PipelineRun \"pr\" was cancelled");
    assert_eq!(fake.attempts().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_taskrun_reports_its_own_reason() {
    let mut plan = pipeline(vec![task("t")]);
    plan.run.kind = RunKind::TaskRun;
    let (s, _) = go(plan.clone(), Fake::default().with("t", vec![fail(5)])).await;
    assert_eq!(
        (s.kind.as_str(), s.status.as_str(), s.reason.as_str()),
        ("TaskRun", "Failed", "StepFailed")
    );
    plan.tasks[0].timeout = Some("1s".into());
    let (s, _) = go(plan, Fake::default().with("t", vec![ok(3_000)])).await;
    assert_eq!(
        (s.status.as_str(), s.reason.as_str()),
        ("TimedOut", "TaskRunTimeout")
    );
}

#[tokio::test(start_paused = true)]
async fn gracefully_cancelled_runs_only_finally() {
    let mut plan = pipeline(vec![task("a"), finally(task("f"))]);
    plan.run.status = Some("CancelledRunFinally".into());
    let (s, _) = go(plan, Fake::default()).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Skipped", skip::GRACEFULLY_CANCELLED),
            row("f", "Succeeded", "Succeeded")
        ]
    );
    assert_eq!(s.reason, "Cancelled");
}

#[tokio::test(start_paused = true)]
async fn when_is_evaluated_before_parent_skipped() {
    // `skip()`: `skipBecauseWhenExpressionsEvaluatedToFalse` comes before
    // `skipBecauseParentTaskWasSkipped` and `skipBecauseResultReferencesAreMissing`.
    let mut a = task("a");
    a.matrix = Some(Matrix {
        params: vec![NamedValue {
            name: "p".into(),
            value: ValueTemplate::Array(vec![]),
        }],
        include: vec![],
        combinations: None,
    });
    let b = when(after(task("b"), &["a"]), "x", &["y"]);
    let c = after(task("c"), &["b"]);
    let (s, _) = go(pipeline(vec![a, b, c]), Fake::default()).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Skipped", skip::EMPTY_MATRIX),
            row("b", "Skipped", skip::WHEN),
            row("c", "Succeeded", "Succeeded")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn skip_reasons_turn_to_stopping_when_the_run_stops() {
    // `skip()` is recomputed at the last reconcile and checks `IsStopping` first.
    let a = when(task("a"), "x", &["y"]);
    let b = task("b");
    let c = after(task("c"), &["b"]);
    let fake = Fake::default().with("b", vec![fail(10)]);
    let (s, _) = go(pipeline(vec![a, b, c, finally(task("f"))]), fake).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Skipped", skip::STOPPING),
            row("b", "Failed", "StepFailed"),
            row("c", "Skipped", skip::STOPPING),
            row("f", "Succeeded", "Succeeded")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_validation_failed_task_has_no_status_and_does_not_count() {
    // `GetPipelineTaskStatus`: no TaskRun, so `None` and an empty reason; the aggregate
    // counts only failed TaskRuns and skips.
    let a = declares(task("a"), "out");
    let b = after(
        param(task("b"), "in", reference(result_ref("a", "out"))),
        &["a"],
    );
    let f = param(
        param(
            param(
                finally(task("f")),
                "status",
                reference(RunValue::TaskStatus { task: "b".into() }),
            ),
            "reason",
            reference(RunValue::TaskReason { task: "b".into() }),
        ),
        "all",
        reference(RunValue::TasksStatus {}),
    );
    let (s, fake) = go(pipeline(vec![a, b, f]), Fake::default()).await;
    assert_eq!(s.reason, "PipelineValidationFailed");
    let seen = &fake.attempts()[1].2;
    assert_eq!(
        (
            seen["status"].as_str(),
            seen["reason"].as_str(),
            seen["all"].as_str()
        ),
        ("None", "", "Succeeded")
    );
}

#[tokio::test(start_paused = true)]
async fn on_error_continue_keeps_a_task_timeout() {
    // `MakeTaskRunStatus` sets `FailureIgnored` only for a failed pod.
    let mut a = task("a");
    a.on_error = OnError::Continue;
    a.timeout = Some("1s".into());
    let (s, _) = go(
        pipeline(vec![a, task("b")]),
        Fake::default().with("a", vec![ok(5_000)]),
    )
    .await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "TimedOut", "TaskRunTimeout"),
            row("b", "Succeeded", "Succeeded")
        ]
    );
    assert_eq!(s.reason, "Succeeded");
    assert_eq!(
        s.message,
        "Tasks Completed: 2 (Failed: 1 (Ignored: 1), Cancelled 0), Skipped: 0"
    );
}

#[tokio::test(start_paused = true)]
async fn the_tasks_timeout_is_checked_when_the_run_ends() {
    // `HaveTasksTimedOut` in `GetPipelineConditionStatus`: the DAG ended in time, but the
    // run ends past the tasks timeout.
    let mut plan = pipeline(vec![task("a"), finally(task("f"))]);
    plan.run.timeouts.tasks = Some("1s".into());
    plan.run.timeouts.pipeline = Some("1m".into());
    let fake = Fake::default()
        .with("a", vec![ok(500)])
        .with("f", vec![ok(2_000)]);
    let (s, _) = go(plan, fake).await;
    assert_eq!(
        statuses(&s),
        [
            row("a", "Succeeded", "Succeeded"),
            row("f", "Succeeded", "Succeeded")
        ]
    );
    assert_eq!(s.reason, "PipelineRunTimeout");
}

#[tokio::test(start_paused = true)]
async fn couldnt_get_pipeline_result_replaces_a_timeout() {
    // pipelinerun.go: `ApplyTaskResultsToPipelineResults` runs after the condition is set,
    // and its error marks the run failed whatever the reason was.
    let a = declares(task("a"), "out");
    let mut plan = pipeline(vec![a, finally(task("f"))]);
    plan.run.timeouts.tasks = Some("1s".into());
    plan.run.timeouts.pipeline = Some("1m".into());
    plan.results.push(PipelineResult {
        name: "r".into(),
        result_type: ValueType::String,
        value: ValueTemplate::String(reference(result_ref("a", "out"))),
    });
    let fake = Fake::default()
        .with("a", vec![ok(10)])
        .with("f", vec![ok(2_000)]);
    let (s, _) = go(plan, fake).await;
    assert_eq!(s.reason, "CouldntGetPipelineResult");
}

#[tokio::test(start_paused = true)]
async fn a_matrixed_task_counts_once() {
    // `getPipelineTasksCount` counts pipeline tasks, not TaskRuns.
    let mut a = task("a");
    a.matrix = Some(Matrix {
        params: vec![NamedValue {
            name: "p".into(),
            value: ValueTemplate::Array(vec![text("1"), text("2"), text("3")]),
        }],
        include: vec![],
        combinations: None,
    });
    let (s, _) = go(pipeline(vec![a]), Fake::default()).await;
    assert_eq!(
        s.message,
        "Tasks Completed: 1 (Failed: 0, Cancelled 0), Skipped: 0"
    );
}

/// TaskRuns are named as Tekton names them (`kmeta.ChildName` through `getNewRunNames`), the
/// same names `tkc-pods` gives their pods: past 63 characters the run's name is cut and its
/// md5 inserted (the expected names were computed with `md5sum`), and a matrix of one
/// combination gets no index.
#[tokio::test(start_paused = true)]
async fn task_runs_get_tektons_names_past_63_characters() {
    let long = "a-pipeline-run-with-a-rather-long-name-that-goes-on-and-on";
    let mut one = task("matrixed");
    one.matrix = Some(Matrix {
        params: vec![NamedValue {
            name: "a".into(),
            value: ValueTemplate::Array(vec![text("1")]),
        }],
        include: vec![],
        combinations: None,
    });
    let plan = pipeline(vec![task("build"), one]);
    let fake = Arc::new(Fake::default());
    let (_tx, rx) = watch::channel(false);
    let options = RunOptions {
        name: long.into(),
        uid: "uid".into(),
        parallel: 4,
        cancel: rx,
        partial: Default::default(),
    };
    run(&plan, fake.clone(), options, EventSink::discard()).await;
    let mut names: Vec<String> = fake.attempts().into_iter().map(|a| a.0).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "a-pipeline-run-with-a-57334c7d823a16bb7f16d422ec277b21-matrixed",
            "a-pipeline-run-with-a-rat57334c7d823a16bb7f16d422ec277b21-build",
        ]
    );
}

/// A pipeline task that runs a child pipeline (`TaskPlan::pipeline`).
fn child(name: &str, tasks: Vec<TaskPlan>) -> TaskPlan {
    let mut t = task(name);
    t.pod = Pod::default();
    let mut plan = pipeline(tasks);
    plan.run.name = name.into();
    t.pipeline = Some(Box::new(plan));
    t
}

#[tokio::test(start_paused = true)]
async fn a_child_pipeline_runs_nested_with_the_parents_values_and_slots() {
    // One slot: the child run holds none, so its tasks and the parent's take turns.
    let x = param(
        task("x"),
        "q",
        reference(RunValue::Parent(Box::new(result_ref("a", "v")))),
    );
    let plan = pipeline(vec![
        task("a"),
        after(child("c", vec![x, after(task("y"), &["x"])]), &["a"]),
        after(task("b"), &["a"]),
    ]);
    let fake = Fake::default()
        .with("a", vec![with_results(100, vec![("v", "hi")])])
        .with("c/y", vec![fail(10)]);
    let (s, fake) = run_with(plan, fake, 1).await;
    let seen: Vec<(String, BTreeMap<String, String>)> =
        fake.attempts().into_iter().map(|a| (a.0, a.2)).collect();
    assert_eq!(seen[0].0, "pr-a");
    let x_run = seen.iter().find(|(name, _)| name == "pr-c-x");
    assert_eq!(
        x_run.and_then(|(_, p)| p.get("q")).map(String::as_str),
        Some("hi")
    );
    assert_eq!(seen.len(), 4);
    // The task's status and reason are the child run's condition; Tekton retries nothing.
    assert_eq!(
        statuses(&s),
        [
            row("a", "Succeeded", "Succeeded"),
            row("c", "Failed", "Failed"),
            row("b", "Succeeded", "Succeeded"),
        ]
    );
    let c = &s.tasks[1];
    let nested = c.pipeline_run.as_deref();
    assert_eq!(nested.map(|n| n.name.as_str()), Some("pr-c"));
    assert_eq!(
        nested.map(statuses).unwrap_or_default(),
        [
            row("x", "Succeeded", "Succeeded"),
            row("y", "Failed", "StepFailed")
        ]
    );
    assert_eq!((s.status.as_str(), s.reason.as_str()), ("Failed", "Failed"));
}

#[tokio::test(start_paused = true)]
async fn a_pipeline_timeout_cancels_a_running_child() {
    let mut plan = pipeline(vec![child("c", vec![task("x")])]);
    plan.run.timeouts.pipeline = Some("1s".into());
    let fake = Fake::default().with("c/x", vec![ok(60_000)]);
    let (s, _) = go(plan, fake).await;
    assert_eq!(statuses(&s), [row("c", "TimedOut", "Cancelled")]);
    let nested = s.tasks[0].pipeline_run.as_deref();
    assert_eq!(
        nested.map(statuses).unwrap_or_default(),
        [row("x", "Cancelled", "TaskRunCancelled")]
    );
    assert_eq!(s.reason, "PipelineRunTimeout");
}

// Partial runs (tkc's `--task`, `--from`, `--until`, `--rerun-failed`).

/// a → b (a result of a) → c (runAfter) → d; x alone; f finally, using a
/// result of d.
fn partial_pipeline() -> Plan {
    let a = declares(task("a"), "out");
    let b = declares(
        param(task("b"), "in", reference(result_ref("a", "out"))),
        "out",
    );
    // Lowering puts the producers of the results a task uses in its `after`.
    let b = after(b, &["a"]);
    let c = after(task("c"), &["b"]);
    let d = declares(after(task("d"), &["c"]), "out");
    let f = finally(param(task("f"), "in", reference(result_ref("d", "out"))));
    pipeline(vec![a, b, c, d, task("x"), f])
}

fn names(set: &BTreeSet<String>) -> Vec<&str> {
    set.iter().map(String::as_str).collect()
}

fn selection(tasks: &[&str], from: Option<&str>, until: Option<&str>) -> partial::Selection {
    partial::Selection {
        tasks: tasks.iter().map(|t| t.to_string()).collect(),
        from: from.map(str::to_string),
        until: until.map(str::to_string),
    }
}

#[test]
fn a_selection_takes_in_what_its_tasks_need() {
    let plan = partial_pipeline();
    let s = |t: &[&str], f, u| partial::selected(&plan, &selection(t, f, u));
    assert_eq!(names(&s(&["c"], None, None)), ["a", "b", "c"]);
    assert_eq!(names(&s(&[], Some("b"), None)), ["a", "b", "c", "d"]);
    assert_eq!(names(&s(&[], None, Some("b"))), ["a", "b"]);
    assert_eq!(names(&s(&[], Some("b"), Some("c"))), ["a", "b", "c"]);
    assert_eq!(names(&s(&["x"], None, Some("a"))), ["a", "x"]);
    assert_eq!(names(&s(&[], None, None)), ["a", "b", "c", "d", "x"]);
    let unknown = partial::unknown_tasks(&plan, &selection(&["cc"], Some("f"), None));
    let text: Vec<String> = unknown.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "--task cc: the pipeline has no task `cc`; did you mean `c`?",
            "--from f: `f` is a finally task; finally tasks run in every partial run",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn tasks_left_out_are_not_run_and_finally_still_runs() {
    let plan = partial_pipeline();
    let partial = partial::plan_partial(&plan, &selection(&["b"], None, None), None, vec![]);
    let fake = Arc::new(Fake::default().with("a", vec![with_results(5, vec![("out", "v1")])]));
    let (_tx, rx) = watch::channel(false);
    let options = RunOptions {
        name: "pr".into(),
        uid: "uid".into(),
        parallel: 4,
        cancel: rx,
        partial,
    };
    let summary = run(&plan, fake.clone(), options, EventSink::discard()).await;
    let ran: Vec<String> = fake.attempts().into_iter().map(|a| a.0).collect();
    assert_eq!(ran, ["pr-a", "pr-b"]);
    assert_eq!(
        statuses(&summary),
        [
            row("a", "Succeeded", "Succeeded"),
            row("b", "Succeeded", "Succeeded"),
            row("c", "NotRun", partial::NOT_SELECTED),
            row("d", "NotRun", partial::NOT_SELECTED),
            row("x", "NotRun", partial::NOT_SELECTED),
            row("f", "Skipped", skip::RESULTS_MISSING),
        ]
    );
    // Tasks left out are not counted; the finally task skipped makes it `Completed`.
    assert_eq!(summary.reason, "Completed");
    assert_eq!(
        summary.message,
        "Tasks Completed: 2 (Failed: 0, Cancelled 0), Skipped: 1"
    );
}

fn previous_run(name: &str, status: TaskStatus, results: &[(&str, &str)]) -> TaskSummary {
    TaskSummary {
        name: name.into(),
        index: None,
        status,
        reason: status.as_str().into(),
        attempts: 1,
        results: results
            .iter()
            .map(|(k, v)| (k.to_string(), ParamValue::String(v.to_string())))
            .collect(),
        steps: vec![],
        pipeline_run: None,
        reused_from: None,
        duration: Duration::ZERO,
        message: String::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn rerun_failed_reuses_what_succeeded_and_reruns_what_failed_and_depends_on_it() {
    let plan = partial_pipeline();
    let previous = [
        previous_run("a", TaskStatus::Succeeded, &[("out", "old")]),
        previous_run("b", TaskStatus::Succeeded, &[("out", "b-old")]),
        previous_run("c", TaskStatus::Failed, &[]),
        previous_run("d", TaskStatus::Skipped, &[]),
        previous_run("x", TaskStatus::Succeeded, &[]),
        previous_run("f", TaskStatus::Skipped, &[]),
    ];
    let unchanged = BTreeMap::new();
    let prev = || partial::Previous {
        id: "run-1",
        tasks: &previous,
        fingerprints: &unchanged,
    };
    let partial = partial::plan_partial(&plan, &selection(&[], None, None), Some(prev()), vec![]);
    let reused: Vec<&str> = partial.reused.keys().map(String::as_str).collect();
    assert_eq!(reused, ["a", "b", "x"]);
    // `--from b` runs b and everything downstream again, whatever they did before; what
    // they need upstream is reused; x, not in b's subgraph, is left out.
    let from = partial::plan_partial(
        &plan,
        &selection(&[], Some("b"), None),
        Some(prev()),
        vec![],
    );
    let reused: Vec<&str> = from.reused.keys().map(String::as_str).collect();
    assert_eq!(reused, ["a"]);
    assert_eq!(names(&from.not_selected), ["x"]);
    // `--task b` runs b again, and so what depends on it; a is reused.
    let task = partial::plan_partial(&plan, &selection(&["b"], None, None), Some(prev()), vec![]);
    let reused: Vec<&str> = task.reused.keys().map(String::as_str).collect();
    assert_eq!(reused, ["a"]);
    // A task whose plan changed since runs again, with what is downstream of it.
    let mut fingerprints: BTreeMap<String, String> = plan
        .tasks
        .iter()
        .map(|t| (t.name.clone(), partial::fingerprint(t)))
        .collect();
    fingerprints.insert("x".into(), "old".into());
    let changed = partial::Previous {
        fingerprints: &fingerprints,
        ..prev()
    };
    let edited = partial::plan_partial(&plan, &selection(&[], None, None), Some(changed), vec![]);
    let reused: Vec<&str> = edited.reused.keys().map(String::as_str).collect();
    assert_eq!(reused, ["a", "b"]);

    let fake = Arc::new(Fake::default().with("d", vec![with_results(5, vec![("out", "d1")])]));
    let (_tx, rx) = watch::channel(false);
    let options = RunOptions {
        name: "pr".into(),
        uid: "uid".into(),
        parallel: 4,
        cancel: rx,
        partial,
    };
    let summary = run(&plan, fake.clone(), options, EventSink::discard()).await;
    let ran: Vec<String> = fake.attempts().into_iter().map(|a| a.0).collect();
    assert_eq!(ran, ["pr-c", "pr-d", "pr-f"]);
    assert_eq!(summary.reason, "Succeeded");
    assert_eq!(summary.tasks[0].reused_from.as_deref(), Some("run-1"));
    assert_eq!(summary.tasks[2].reused_from, None);
    assert_eq!(
        summary.tasks[1].results["out"],
        ParamValue::String("b-old".into())
    );
    assert_eq!(fake.attempts()[2].2["in"], "d1");
}

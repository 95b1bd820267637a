//! The decoder: field rules shared by YAML and KDL, KDL's positional and item rules,
//! v1beta1 conversion, and how param values are typed.

use serde_json::{Value, json};
use tkc_compiler::diag::{Diagnostic, Severity};
use tkc_compiler::model::encode::document_to_json;
use tkc_compiler::model::{ApiFields, Document, ParamValue, Resource};
use tkc_compiler::source::SourceMap;
use tkc_compiler::{Options, decode_files};

struct Decoded {
    sources: SourceMap,
    documents: Vec<Document>,
    diagnostics: Vec<Diagnostic>,
}

impl Decoded {
    fn json(&self) -> Vec<Value> {
        self.documents.iter().map(document_to_json).collect()
    }

    /// The first document's spec as JSON.
    fn spec(&self) -> Value {
        self.json()
            .first()
            .and_then(|d| d.get("spec").cloned())
            .unwrap_or(Value::Null)
    }

    fn codes(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.code.name).collect()
    }

    /// The source text under a diagnostic's primary label.
    fn primary_text(&self, d: &Diagnostic) -> &str {
        d.primary_span().map_or("", |s| self.sources.text(s))
    }

    fn only(&self, code: &str) -> &Diagnostic {
        let found: Vec<&Diagnostic> = self
            .diagnostics
            .iter()
            .filter(|d| d.code.name == code)
            .collect();
        assert_eq!(found.len(), 1, "one {code} in {:?}", self.messages());
        found[0]
    }

    fn messages(&self) -> Vec<String> {
        self.diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.code.name, d.message))
            .collect()
    }

    fn assert_clean(&self) {
        assert!(
            self.diagnostics.is_empty(),
            "unexpected diagnostics: {:?}",
            self.messages()
        );
    }
}

fn decode_with(name: &str, text: &str, api_fields: ApiFields) -> Decoded {
    let mut sources = SourceMap::new();
    let file = sources.add(name, text);
    let (documents, diagnostics) = decode_files(
        &sources,
        &[file],
        &Options {
            api_fields,
            ..Options::default()
        },
    );
    Decoded {
        sources,
        documents,
        diagnostics: diagnostics.into_vec(),
    }
}

fn yaml(text: &str) -> Decoded {
    decode_with("t.yaml", text, ApiFields::Beta)
}

fn kdl(text: &str) -> Decoded {
    decode_with("t.kdl", text, ApiFields::Beta)
}

fn task_yaml(spec: &str) -> Decoded {
    yaml(&format!(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\nspec:\n{spec}"
    ))
}

// ---- unknown fields and their suggestions ----

#[test]
fn unknown_field_suggests_the_closest_field() {
    let d = task_yaml("  steps:\n    - name: s\n      image: a\n      scirpt: make\n");
    let u = d.only("tkc::schema::unknown-field");
    assert_eq!(d.primary_text(u), "scirpt");
    assert_eq!(u.message, "unknown field `scirpt` in step");
    assert_eq!(u.help.as_deref(), Some("did you mean `script`?"));
}

#[test]
fn unknown_field_without_a_close_match_lists_the_fields() {
    let d = task_yaml("  steps:\n    - name: s\n      image: a\n  xyzzy: 1\n");
    let u = d.only("tkc::schema::unknown-field");
    let help = u.help.clone().unwrap_or_default();
    assert!(help.starts_with("task spec fields are `params`"), "{help}");
    assert!(help.contains("`steps`"), "{help}");
}

#[test]
fn kdl_suggestions_are_spelt_the_kdl_way() {
    let d =
        kdl("pipeline \"p\" {\n  task \"a\" {\n    run-aftr \"b\"\n    taskref \"x\"\n  }\n}\n");
    let u = d.only("tkc::schema::unknown-field");
    assert_eq!(d.primary_text(u), "run-aftr");
    assert_eq!(u.help.as_deref(), Some("did you mean `run-after`?"));
    let case = d.only("tkc::schema::field-case");
    assert_eq!(case.message, "field `task-ref` is spelled `taskref`");
}

#[test]
fn a_field_in_another_case_is_an_error_where_the_schema_is_closed_and_still_read() {
    let d = yaml(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n    - name: a\n      taskRef: {name: a}\n    - name: b\n      runafter: [a]\n      taskRef: {name: b}\n",
    );
    let e = d.only("tkc::schema::field-case");
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(d.spec()["tasks"][1]["runAfter"], json!(["a"]));
}

#[test]
fn a_field_in_another_case_is_a_warning_in_an_embedded_spec() {
    // `tasks[].taskSpec` is `x-kubernetes-preserve-unknown-fields` in 300-pipeline.yaml: only
    // the webhook's case-insensitive encoding/json reads it. The key `taskSpec` itself is
    // in the closed part.
    let d = yaml(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n    - name: a\n      taskSpec:\n        steps:\n          - name: s\n            image: a\n            workingdir: /w\n",
    );
    let w = d.only("tkc::schema::field-case");
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(
        d.spec()["tasks"][0]["taskSpec"]["steps"][0]["workingDir"],
        json!("/w")
    );
}

// ---- types, required fields, null ----

#[test]
fn wrong_types_point_at_the_value() {
    let d = task_yaml("  steps:\n    - name: s\n      image: a\n      args: --verbose\n");
    let w = d.only("tkc::schema::wrong-type");
    assert_eq!(d.primary_text(w), "--verbose");
    assert_eq!(w.message, "`args` expects a list, found a string");
    assert_eq!(w.help.as_deref(), Some("write a list: [--verbose]"));
}

#[test]
fn a_number_for_a_string_is_reported_once() {
    // Reported as a wrong type, then read as its text: not also a missing image.
    let d = task_yaml("  steps:\n    - name: s\n      image: 3.20\n");
    assert_eq!(d.codes(), ["tkc::schema::wrong-type"]);
}

#[test]
fn missing_required_fields() {
    let d =
        task_yaml("  params:\n    - type: string\n  steps:\n    - name: s\n      script: make\n");
    let mut codes = d.codes();
    codes.sort();
    assert_eq!(codes, ["tkc::schema::missing-field"; 2]);
    assert!(d.messages().iter().any(|m| m.contains("`name` in param")));
    assert!(d.messages().iter().any(|m| m.contains("`image` in step")));
    let steps = task_yaml("  params: []\n");
    let m = steps.only("tkc::schema::missing-field");
    assert_eq!(steps.primary_text(m), "spec");
}

#[test]
fn a_step_template_image_or_a_ref_stands_in_for_the_image() {
    task_yaml("  stepTemplate: {image: a}\n  steps:\n    - name: s\n").assert_clean();
    task_yaml("  steps:\n    - name: s\n      ref: {name: action}\n").assert_clean();
}

#[test]
fn null_is_the_same_as_absent() {
    let with_nulls = task_yaml(
        "  params: null\n  description: ~\n  steps:\n    - name: s\n      image: a\n      env: null\n      workingDir:\n",
    );
    with_nulls.assert_clean();
    let without = task_yaml("  steps:\n    - name: s\n      image: a\n");
    assert_eq!(with_nulls.json(), without.json());
    // A null required value is missing.
    let d = task_yaml("  steps:\n    - name: s\n      image: null\n");
    assert_eq!(d.codes(), ["tkc::schema::missing-field"]);
    // KDL's #null too.
    let k = kdl("task \"t\" {\n  description #null\n  step \"s\" image=\"a\"\n}\n");
    k.assert_clean();
    assert_eq!(k.json(), without.json());
}

// ---- param values ----

fn default_of(value: &str) -> Value {
    let d = task_yaml(&format!(
        "  params:\n    - name: p\n      default: {value}\n  steps:\n    - name: s\n      image: a\n"
    ));
    d.assert_clean();
    d.spec()["params"][0]["default"].clone()
}

#[test]
fn param_values_are_typed_as_tekton_types_them() {
    assert_eq!(default_of("false"), json!("false"));
    assert_eq!(default_of("yes"), json!("true"));
    assert_eq!(default_of("10"), json!("10"));
    assert_eq!(default_of("010"), json!("8"));
    assert_eq!(default_of("0x1F"), json!("31"));
    assert_eq!(default_of("1_000"), json!("1000"));
    assert_eq!(default_of("1.5"), json!("1.5"));
    assert_eq!(default_of("\"010\""), json!("010"));
    assert_eq!(default_of("[a, b]"), json!(["a", "b"]));
    assert_eq!(default_of("[]"), json!([]));
    // A list or map holding other than strings is kept as its JSON text, as Tekton does.
    assert_eq!(default_of("[1, 2]"), json!("[1,2]"));
    assert_eq!(default_of("{a: 1}"), json!("{\"a\":1}"));
    assert_eq!(
        default_of("{url: x, rev: main}"),
        json!({"url": "x", "rev": "main"})
    );
    // YAML 1.1, as Kubernetes reads it: `y` is a boolean, so this is no object of strings.
    assert_eq!(
        default_of("{url: x, rev: y}"),
        json!("{\"rev\":true,\"url\":\"x\"}")
    );
}

#[test]
fn param_value_types_in_the_model() {
    let d = task_yaml(
        "  params:\n    - name: s\n      default: x\n    - name: a\n      default: [x]\n    - name: o\n      default: {k: v}\n  steps:\n    - {name: s, image: a}\n",
    );
    let Some(Resource::Task(spec)) = d.documents.first().map(|d| &d.resource) else {
        unreachable!("a task");
    };
    let kinds: Vec<&str> = spec
        .params
        .iter()
        .filter_map(|p| p.default.as_ref().map(|d| d.type_name()))
        .collect();
    assert_eq!(kinds, ["string", "array", "object"]);
    assert!(matches!(
        spec.params[0].default.as_ref().map(|d| &d.value),
        Some(ParamValue::String(s)) if s == "x"
    ));
}

// ---- KDL: positional arguments and repeated items ----

fn kdl_step(body: &str) -> Value {
    let d = kdl(&format!(
        "task \"t\" {{\n  step \"s\" image=\"a\" {{\n{body}\n  }}\n}}\n"
    ));
    d.assert_clean();
    d.spec()["steps"][0].clone()
}

#[test]
fn kdl_lists() {
    assert_eq!(kdl_step("args \"one\"")["args"], json!(["one"]));
    assert_eq!(kdl_step("args \"a\" \"b\"")["args"], json!(["a", "b"]));
    assert_eq!(
        kdl_step("args {\n - \"a\"\n - \"b\"\n}")["args"],
        json!(["a", "b"])
    );
    assert_eq!(kdl_step("(array)args \"one\"")["args"], json!(["one"]));
    // An empty list is no list (empty lists are left out of the model).
    assert_eq!(kdl_step("(array)args")["args"], Value::Null);
    // In Kubernetes objects, only `(array)` and `-` make lists.
    let step = kdl_step(
        "security-context {\n capabilities {\n (array)drop \"ALL\"\n add { - \"NET_ADMIN\" }\n (array)keep\n one \"x\"\n }\n}",
    );
    assert_eq!(
        step["securityContext"]["capabilities"],
        json!({"drop": ["ALL"], "add": ["NET_ADMIN"], "keep": [], "one": "x"})
    );
}

#[test]
fn kdl_items_repeat_and_take_their_name_as_argument() {
    let step = kdl_step(
        "env \"A\" value=\"1\"\nenv \"B\" value=\"2\"\nvolume-mount \"v\" mount-path=\"/v\"",
    );
    assert_eq!(
        step["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(
        step["volumeMounts"],
        json!([{"name": "v", "mountPath": "/v"}])
    );
    assert_eq!(step["name"], json!("s"));
}

#[test]
fn kdl_structs_take_their_positional_field() {
    let d = kdl(
        "pipeline \"p\" {\n  task \"a\" {\n    task-ref \"build\"\n  }\n  task \"b\" task-ref=\"test\"\n  task \"c\" {\n    task-ref \"x\" kind=\"Task\"\n  }\n}\n",
    );
    d.assert_clean();
    let tasks = &d.spec()["tasks"];
    assert_eq!(tasks[0]["taskRef"], json!({"name": "build"}));
    assert_eq!(tasks[1]["taskRef"], json!({"name": "test"}));
    assert_eq!(tasks[2]["taskRef"], json!({"name": "x", "kind": "Task"}));
}

#[test]
fn kdl_extra_arguments_are_reported() {
    let d = kdl("task \"t\" {\n  step \"s\" \"extra\" image=\"a\"\n}\n");
    let u = d.only("tkc::schema::unexpected-argument");
    assert_eq!(d.primary_text(u), "\"extra\"");
    let d = kdl("task \"t\" {\n  step-template \"x\"\n  step \"s\" image=\"a\"\n}\n");
    d.only("tkc::schema::unexpected-argument");
}

#[test]
fn kdl_single_value_fields_are_given_once() {
    let d = kdl("task \"t\" {\n  step \"s\" image=\"a\" {\n    image \"b\"\n  }\n}\n");
    let dup = d.only("tkc::schema::duplicate-field");
    assert_eq!(d.primary_text(dup), "image");
    assert_eq!(dup.message, "`image` is given twice in step");
}

#[test]
fn kdl_property_spans_cover_the_value_only() {
    let d = kdl("task \"t\" {\n  step \"s\" image=5\n}\n");
    let w = d.only("tkc::schema::wrong-type");
    assert_eq!(d.primary_text(w), "5");
}

#[test]
fn kdl_resources_and_metadata() {
    let d = kdl(
        "task \"t\" namespace=\"ci\" {\n  metadata {\n    labels { \"app.kubernetes.io/name\" \"t\" }\n  }\n  step \"s\" image=\"a\"\n}\npipeline-run generate-name=\"r-\" {\n  pipeline-ref \"p\"\n}\nstep-action \"sa\" image=\"a\"\n",
    );
    d.assert_clean();
    let json = d.json();
    assert_eq!(
        json[0]["metadata"],
        json!({"name": "t", "namespace": "ci", "labels": {"app.kubernetes.io/name": "t"}})
    );
    assert_eq!(json[1]["metadata"], json!({"generateName": "r-"}));
    assert_eq!(json[1]["kind"], json!("PipelineRun"));
    assert_eq!(json[2]["apiVersion"], json!("tekton.dev/v1beta1"));
}

#[test]
fn kdl_multi_line_strings_end_with_a_newline() {
    let step = kdl_step("script \"\"\"\n    echo a\n    echo b\n    \"\"\"");
    assert_eq!(step["script"], json!("echo a\necho b\n"));
    let raw = kdl_step("script #\"\"\"\n    printf '\\n'\n    \"\"\"#");
    assert_eq!(raw["script"], json!("printf '\\n'\n"));
    assert_eq!(kdl_step("script \"echo a\"")["script"], json!("echo a"));
}

// ---- v1beta1 → v1 ----

fn v1beta1(kind: &str, spec: &str) -> Value {
    let d = yaml(&format!(
        "apiVersion: tekton.dev/v1beta1\nkind: {kind}\nmetadata:\n  name: x\nspec:\n{spec}"
    ));
    d.assert_clean();
    let json = d.json();
    assert_eq!(json[0]["apiVersion"], json!("tekton.dev/v1"));
    json[0]["spec"].clone()
}

#[test]
fn v1beta1_resources_become_compute_resources() {
    let spec = v1beta1(
        "Task",
        "  steps:\n    - name: s\n      image: a\n      resources: {limits: {cpu: '1'}}\n  stepTemplate:\n    resources: {requests: {cpu: 100m}}\n",
    );
    assert_eq!(
        spec["steps"][0]["computeResources"],
        json!({"limits": {"cpu": "1"}})
    );
    assert_eq!(
        spec["stepTemplate"]["computeResources"],
        json!({"requests": {"cpu": "100m"}})
    );
}

#[test]
fn v1beta1_step_overrides_become_step_specs() {
    let spec = v1beta1(
        "TaskRun",
        "  taskRef: {name: t}\n  stepOverrides:\n    - name: s\n      resources: {limits: {cpu: '1'}}\n  sidecarOverrides:\n    - name: db\n      resources: {}\n",
    );
    assert_eq!(
        spec["stepSpecs"],
        json!([{"name": "s", "computeResources": {"limits": {"cpu": "1"}}}])
    );
    assert_eq!(
        spec["sidecarSpecs"],
        json!([{"name": "db", "computeResources": {}}])
    );
}

#[test]
fn v1beta1_bundles_become_the_bundles_resolver() {
    // Refused on create (an existing object still converts this way).
    let d = yaml(
        "apiVersion: tekton.dev/v1beta1\nkind: Pipeline\nmetadata:\n  name: x\nspec:\n  tasks:\n    - name: a\n      taskRef: {name: build, bundle: 'reg.io/b:1', kind: Task}\n",
    );
    assert_eq!(d.diagnostics.len(), 1, "{:?}", d.messages());
    d.only("tkc::schema::disallowed-field");
    let spec = d.json()[0]["spec"].clone();
    assert_eq!(
        spec["tasks"][0]["taskRef"],
        json!({"resolver": "bundles", "params": [
            {"name": "bundle", "value": "reg.io/b:1"},
            {"name": "name", "value": "build"},
            {"name": "kind", "value": "task"},
        ]})
    );
}

#[test]
fn v1beta1_pipeline_run_fields_move() {
    let spec = v1beta1(
        "PipelineRun",
        "  pipelineRef: {name: p}\n  timeout: 1h30m\n  serviceAccountName: sa\n  podTemplate: {nodeSelector: {a: b}}\n  taskRunSpecs:\n    - pipelineTaskName: t\n      taskServiceAccountName: tsa\n      taskPodTemplate: {nodeSelector: {c: d}}\n",
    );
    assert_eq!(spec["timeouts"], json!({"pipeline": "1h30m"}));
    assert_eq!(
        spec["taskRunTemplate"],
        json!({"serviceAccountName": "sa", "podTemplate": {"nodeSelector": {"a": "b"}}})
    );
    assert_eq!(
        spec["taskRunSpecs"],
        json!([{"pipelineTaskName": "t", "serviceAccountName": "tsa", "podTemplate": {"nodeSelector": {"c": "d"}}}])
    );
    assert!(spec.get("timeout").is_none() && spec.get("serviceAccountName").is_none());
}

#[test]
fn v1_only_names_are_not_read_in_v1beta1_and_the_reverse() {
    // `timeout` on a v1 PipelineRun is an unknown field (v1 has `timeouts`).
    let d = yaml(
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: r}\nspec:\n  pipelineRef: {name: p}\n  timeout: 1h\n",
    );
    let u = d.only("tkc::schema::unknown-field");
    assert_eq!(u.help.as_deref(), Some("did you mean `timeouts`?"));
    // Fields v1 dropped are a warning in v1beta1.
    let d = yaml(
        "apiVersion: tekton.dev/v1beta1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n    - {name: s, image: a, ports: [{containerPort: 80}]}\n",
    );
    assert_eq!(
        d.only("tkc::schema::dropped-field").severity,
        Severity::Warning
    );
    // PipelineResources are not dropped but refused by the v1beta1 webhook.
    let d = yaml(
        "apiVersion: tekton.dev/v1beta1\nkind: Task\nmetadata: {name: t}\nspec:\n  resources: {inputs: []}\n  steps:\n    - {name: s, image: a}\n",
    );
    assert_eq!(
        d.only("tkc::schema::disallowed-field").severity,
        Severity::Error
    );
}

// ---- documents ----

#[test]
fn other_documents_are_skipped_and_tekton_mistakes_reported() {
    let d = yaml(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n---\napiVersion: tekton.dev/v1\nkind: Taks\nmetadata: {name: t}\nspec: {}\n---\napiVersion: tekton.dev/v1\nkind: CustomRun\nmetadata: {name: c}\nspec: {}\n",
    );
    assert!(d.documents.is_empty());
    let k = d.only("tkc::schema::unknown-kind");
    assert_eq!(d.primary_text(k), "Taks");
    assert_eq!(k.help.as_deref(), Some("did you mean `Task`?"));
}

#[test]
fn feature_gates() {
    let text = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n    - name: s\n      image: a\n      stdoutConfig: {path: /o}\n";
    let beta = decode_with("t.yaml", text, ApiFields::Beta);
    let g = beta.only("tkc::schema::feature-gated");
    assert_eq!(beta.primary_text(g), "stdoutConfig");
    decode_with("t.yaml", text, ApiFields::Alpha).assert_clean();
}

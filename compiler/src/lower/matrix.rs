//! Matrix fan-out (spec section 4, "Matrix fan-out").
//!
//! When every matrix value is known at compile time the combinations are computed here, in
//! Tekton's order: the Cartesian product built param by param, each new param's values outer,
//! so the first param varies fastest; then each `include` entry adds its params to every
//! combination it agrees with (on the names they share), and becomes a combination of its own
//! when no combination holds any of its values. Otherwise (values from task results) the
//! templates go into the plan and the runtime fans out once the results exist.

use super::subst::{PVal, Tpl};
use crate::plan::{Matrix, MatrixInclude, NamedValue};
use std::collections::BTreeMap;

/// Tekton's `default-max-matrix-combinations-count`.
pub const MAX_COMBINATIONS: usize = 256;

/// One `include` entry: its name and its (string) params.
pub type Include = (Option<String>, Vec<(String, Tpl)>);

/// A matrix after pipeline-level substitution.
pub struct Lowered {
    pub params: Vec<(String, PVal)>,
    pub include: Vec<Include>,
}

/// Why there are no combinations.
#[derive(Debug, PartialEq, Eq)]
pub enum FanOut {
    /// Computed.
    Static(Vec<BTreeMap<String, String>>),
    /// Known only at run time.
    Deferred,
    /// More than [`MAX_COMBINATIONS`].
    TooMany(usize),
}

impl Lowered {
    /// Every name a combination may set (matrix and include params), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .params
            .iter()
            .map(|(n, _)| n.clone())
            .chain(
                self.include
                    .iter()
                    .flat_map(|(_, ps)| ps.iter().map(|(n, _)| n.clone())),
            )
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn fan_out(&self) -> FanOut {
        let mut arrays: Vec<(&str, Vec<&str>)> = Vec::new();
        for (name, value) in &self.params {
            let PVal::Array(items) = value else {
                return FanOut::Deferred;
            };
            let Some(items) = items
                .iter()
                .map(Tpl::as_literal)
                .collect::<Option<Vec<_>>>()
            else {
                return FanOut::Deferred;
            };
            arrays.push((name, items));
        }
        let mut includes: Vec<BTreeMap<String, String>> = Vec::new();
        for (_, params) in &self.include {
            let mut combination = BTreeMap::new();
            for (name, value) in params {
                let Some(text) = value.as_literal() else {
                    return FanOut::Deferred;
                };
                combination.insert(name.clone(), text.to_string());
            }
            includes.push(combination);
        }
        let product = arrays
            .iter()
            .try_fold(1usize, |n, (_, items)| n.checked_mul(items.len()));
        let Some(product) = product else {
            return FanOut::TooMany(usize::MAX);
        };
        if product > MAX_COMBINATIONS {
            return FanOut::TooMany(product);
        }
        let arrays: Vec<(String, Vec<String>)> = arrays
            .into_iter()
            .map(|(name, items)| {
                (
                    name.to_string(),
                    items.into_iter().map(str::to_string).collect(),
                )
            })
            .collect();
        let combinations = crate::plan::fan_out(&arrays, &includes);
        if combinations.len() > MAX_COMBINATIONS {
            return FanOut::TooMany(combinations.len());
        }
        FanOut::Static(combinations)
    }

    /// The plan's matrix.
    pub fn to_plan(&self, combinations: Option<Vec<BTreeMap<String, String>>>) -> Matrix {
        Matrix {
            params: self
                .params
                .iter()
                .map(|(name, value)| NamedValue {
                    name: name.clone(),
                    value: value.to_value_template(),
                })
                .collect(),
            include: self
                .include
                .iter()
                .map(|(name, params)| MatrixInclude {
                    name: name.clone(),
                    params: params
                        .iter()
                        .map(|(n, v)| NamedValue {
                            name: n.clone(),
                            value: crate::plan::ValueTemplate::String(v.to_template()),
                        })
                        .collect(),
                })
                .collect(),
            combinations,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn array(items: &[&str]) -> PVal {
        PVal::Array(items.iter().map(|s| Tpl::lit(*s)).collect())
    }

    fn include(params: &[(&str, &str)]) -> Include {
        (
            None,
            params
                .iter()
                .map(|(k, v)| (k.to_string(), Tpl::lit(*v)))
                .collect(),
        )
    }

    fn text(c: &BTreeMap<String, String>) -> String {
        c.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn first_param_varies_fastest() {
        let m = Lowered {
            params: vec![
                ("a".into(), array(&["1", "2"])),
                ("b".into(), array(&["x", "y"])),
            ],
            include: vec![],
        };
        let FanOut::Static(c) = m.fan_out() else {
            panic!("static");
        };
        let c: Vec<String> = c.iter().map(text).collect();
        assert_eq!(c, ["a=1,b=x", "a=2,b=x", "a=1,b=y", "a=2,b=y"]);
    }

    #[test]
    fn include_adds_to_matching_and_appends_new() {
        // Tekton's own example (pipelinerun-with-matrix-include.yaml).
        let m = Lowered {
            params: vec![
                (
                    "GOARCH".into(),
                    array(&["linux/amd64", "linux/ppc64le", "linux/s390x"]),
                ),
                ("version".into(), array(&["go1.17", "go1.18.1"])),
            ],
            include: vec![
                include(&[("package", "path/to/common/package/")]),
                include(&[("GOARCH", "linux/s390x"), ("flags", "-cover -v")]),
                include(&[("version", "go1.17"), ("context", "path/to/go117/context")]),
                include(&[("GOARCH", "I-do-not-exist")]),
            ],
        };
        let FanOut::Static(c) = m.fan_out() else {
            panic!("static");
        };
        let c: Vec<String> = c.iter().map(text).collect();
        assert_eq!(
            c,
            [
                "GOARCH=linux/amd64,context=path/to/go117/context,package=path/to/common/package/,version=go1.17",
                "GOARCH=linux/ppc64le,context=path/to/go117/context,package=path/to/common/package/,version=go1.17",
                "GOARCH=linux/s390x,context=path/to/go117/context,flags=-cover -v,package=path/to/common/package/,version=go1.17",
                "GOARCH=linux/amd64,package=path/to/common/package/,version=go1.18.1",
                "GOARCH=linux/ppc64le,package=path/to/common/package/,version=go1.18.1",
                "GOARCH=linux/s390x,flags=-cover -v,package=path/to/common/package/,version=go1.18.1",
                "GOARCH=I-do-not-exist",
            ]
        );
    }

    #[test]
    fn include_only_and_deferred() {
        let m = Lowered {
            params: vec![],
            include: vec![include(&[("a", "1")]), include(&[("a", "2")])],
        };
        assert_eq!(
            m.fan_out(),
            FanOut::Static(vec![
                BTreeMap::from([("a".to_string(), "1".to_string())]),
                BTreeMap::from([("a".to_string(), "2".to_string())]),
            ])
        );
        let deferred = Lowered {
            params: vec![("a".into(), PVal::Str(Tpl::lit("x")))],
            include: vec![],
        };
        assert_eq!(deferred.fan_out(), FanOut::Deferred);
        let big = Lowered {
            params: vec![
                ("a".into(), array(&["1"; 20])),
                ("b".into(), array(&["1"; 20])),
            ],
            include: vec![],
        };
        assert_eq!(big.fan_out(), FanOut::TooMany(400));
    }
}

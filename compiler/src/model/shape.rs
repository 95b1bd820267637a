//! What each model type looks like as data: the description the KDL emitter, the canonical
//! key order of `--emit tekton` and the editor schemas are generated from.
//!
//! [`model!`](crate::model!) implements [`Described`] for every struct it declares (its
//! fields' [`FieldMeta`] and the shapes of their types, in declaration order); the leaf types
//! implement it here. Shapes of fields are functions, so recursive types (a pipeline task
//! holding a pipeline spec) describe themselves lazily.

use super::common::{ParamValue, Properties};
use super::decode::{FieldMeta, Object, Spanned, StringMap};
use super::duration::Duration;
use super::task::EmbeddedTask;
use crate::source::Syntax;
use crate::syntax::Node;
use crate::syntax::kdl::is_kebab_of;

/// The shape of a model type.
#[derive(Copy, Clone, Debug)]
pub enum Shape {
    String,
    Bool,
    Int,
    /// A Go duration string (`90s`, `1h0m0s`).
    Duration,
    /// A Kubernetes object kept as written (`securityContext`, `podTemplate`, ...).
    Object,
    /// Any value (`metadata.uid`, volume items).
    Any,
    /// A string, an array of strings or an object of strings.
    ParamValue,
    /// A map of strings (labels, annotations).
    StringMap,
    /// The `properties` of an object param or result: key → `{type}`.
    Properties,
    /// A list of the inner shape.
    List(fn() -> Shape),
    Struct(&'static StructShape),
    /// A pipeline task's `taskSpec`: a Task spec, or a custom task's `apiVersion`, `kind`,
    /// `spec`, with `metadata`.
    EmbeddedTask,
}

/// A struct declared with `model!`.
#[derive(Debug)]
pub struct StructShape {
    /// The Rust type's name (`PipelineTask`).
    pub name: &'static str,
    /// How messages name it (`pipeline task`).
    pub what: &'static str,
    pub doc: &'static str,
    pub fields: &'static [FieldMeta],
    /// The shape of each field's type, parallel to `fields`.
    pub shapes: &'static [fn() -> Shape],
}

impl StructShape {
    /// The fields with their shapes.
    pub fn iter(&self) -> impl Iterator<Item = (&'static FieldMeta, Shape)> {
        self.fields
            .iter()
            .zip(self.shapes.iter())
            .map(|(meta, shape)| (meta, shape()))
    }

    /// A field by its (v1) key.
    pub fn field(&self, key: &str) -> Option<(&'static FieldMeta, Shape)> {
        self.iter().find(|(meta, _)| meta.key == key)
    }

    /// The field a key of this struct is, read as the decoder reads it: the YAML key, or in
    /// KDL its kebab-case form or the item node of a list (`step` for `steps`: then `true`,
    /// the value is one item of the list). v1 keys only.
    pub fn field_for_key(
        &self,
        key: &str,
        syntax: Syntax,
    ) -> Option<(&'static FieldMeta, Shape, bool)> {
        let kdl = syntax == Syntax::Kdl;
        if kdl && let Some(found) = self.iter().find(|(m, _)| m.kdl_item == Some(key)) {
            return Some((found.0, found.1, true));
        }
        self.iter()
            .find(|(m, _)| !m.v1beta1_only && (m.key == key || (kdl && is_kebab_of(key, m.key))))
            .map(|(m, s)| (m, s, false))
    }

    /// The field that takes a KDL node's first argument.
    pub fn positional(&self) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|f| f.positional)
    }
}

/// A type with a [`Shape`].
pub trait Described {
    fn shape() -> Shape;
}

impl Described for String {
    fn shape() -> Shape {
        Shape::String
    }
}

impl Described for bool {
    fn shape() -> Shape {
        Shape::Bool
    }
}

impl Described for i64 {
    fn shape() -> Shape {
        Shape::Int
    }
}

impl Described for Duration {
    fn shape() -> Shape {
        Shape::Duration
    }
}

impl Described for Object {
    fn shape() -> Shape {
        Shape::Object
    }
}

impl Described for Node {
    fn shape() -> Shape {
        Shape::Any
    }
}

impl Described for ParamValue {
    fn shape() -> Shape {
        Shape::ParamValue
    }
}

impl Described for StringMap {
    fn shape() -> Shape {
        Shape::StringMap
    }
}

impl Described for Properties {
    fn shape() -> Shape {
        Shape::Properties
    }
}

impl Described for EmbeddedTask {
    fn shape() -> Shape {
        Shape::EmbeddedTask
    }
}

impl<T: Described> Described for Spanned<T> {
    fn shape() -> Shape {
        T::shape()
    }
}

impl<T: Described> Described for Option<T> {
    fn shape() -> Shape {
        T::shape()
    }
}

impl<T: Described> Described for Box<T> {
    fn shape() -> Shape {
        T::shape()
    }
}

impl<T: Described> Described for Vec<T> {
    fn shape() -> Shape {
        Shape::List(T::shape)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::model::{PipelineSpec, Step, TaskSpec};

    #[test]
    fn structs_describe_their_fields() {
        let Shape::Struct(task) = TaskSpec::shape() else {
            panic!("TaskSpec is a struct");
        };
        assert_eq!(task.name, "TaskSpec");
        let (meta, steps) = task.field("steps").expect("steps");
        assert_eq!(meta.kdl_item, Some("step"));
        let Shape::List(item) = steps else {
            panic!("steps is a list");
        };
        let Shape::Struct(step) = item() else {
            panic!("a step is a struct");
        };
        assert_eq!(step.name, "Step");
        assert_eq!(step.positional().map(|f| f.key), Some("name"));
        assert!(matches!(Step::shape(), Shape::Struct(_)));
        // Recursive types describe themselves lazily.
        let Shape::Struct(pipeline) = PipelineSpec::shape() else {
            panic!("PipelineSpec is a struct");
        };
        assert!(pipeline.field("tasks").is_some());
    }
}

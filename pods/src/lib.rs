//! The Kubernetes view of a plan's pod: a task attempt of a [`tkc_compiler::plan::Plan`] lowered
//! to the typed objects Tekton's controller would create for it.

//! Checks over the resolved [`World`]: one module per family.
//!
//! Each family is `pub fn run(cx: &mut Checker)`; its codes are declared beside its rules with
//! [`declare_code!`](crate::declare_code), whose doc comment is the `tkc explain` text, and are
//! listed in the family's `CODES`. Checks report into the [`Checker`]; findings in files that
//! are not being checked (documents found on search paths) are dropped at the end.

pub mod context;
pub mod dag;
pub mod lint;
pub mod matrix;
pub mod names;
pub mod params;
pub mod references;
pub mod refs;
pub mod results;
pub mod runs;
pub mod scope;
pub mod steps;
pub mod tasks;
pub mod timeouts;
pub mod when;
pub mod workspaces;

use crate::Options;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::resolve::World;

pub use context::*;

/// The state of one check run.
pub struct Checker<'w> {
    pub world: &'w World<'w>,
    pub options: &'w Options,
    out: Diagnostics,
}

impl<'w> Checker<'w> {
    pub fn new(world: &'w World<'w>, options: &'w Options) -> Checker<'w> {
        Checker {
            world,
            options,
            out: Diagnostics::new(),
        }
    }

    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.out.push(diagnostic);
    }

    /// The findings, without those located in files not being checked.
    pub fn finish(mut self) -> Diagnostics {
        let world = self.world;
        self.out.retain(|d| {
            d.primary_span()
                .is_none_or(|s| world.is_checked_file(s.file))
        });
        self.out
    }
}

/// The check families, in the order they run.
const FAMILIES: &[fn(&mut Checker)] = &[
    names::run,
    dag::run,
    params::run,
    results::run,
    workspaces::run,
    refs::run,
    references::run,
    when::run,
    matrix::run,
    timeouts::run,
    steps::run,
    tasks::run,
    runs::run,
    lint::run,
];

/// Runs every check family over the world.
pub fn run(world: &World, options: &Options) -> Diagnostics {
    let mut checker = Checker::new(world, options);
    for family in FAMILIES {
        family(&mut checker);
    }
    checker.finish()
}

/// Every code the checks can report.
pub fn codes() -> Vec<&'static Code> {
    let mut codes = crate::resolve::codes();
    for family in [
        names::CODES,
        dag::CODES,
        params::CODES,
        results::CODES,
        workspaces::CODES,
        refs::CODES,
        references::CODES,
        when::CODES,
        matrix::CODES,
        timeouts::CODES,
        steps::CODES,
        tasks::CODES,
        runs::CODES,
        lint::CODES,
    ] {
        codes.extend(family.iter().copied());
    }
    codes
}

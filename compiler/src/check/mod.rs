//! Checks over the resolved [`World`]: one module per family.
//!
//! Each family is `pub fn run(cx: &mut Checker)`; its codes are declared beside its rules with
//! [`declare_code!`](crate::declare_code), whose doc comment is the `tkc explain` text, and are
//! listed in the family's `CODES`. Checks report into the [`Checker`]; findings in files that
//! are not being checked (documents found on search paths) are dropped at the end.

pub mod context;
pub mod dag;
pub mod kube;
pub mod lint;
pub mod matrix;
pub mod names;
pub mod params;
pub mod references;
pub mod refs;
pub mod results;
pub mod runs;
pub mod scope;
pub mod shellcheck;
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

/// A check family, with its share of the checking time on a catalog-sized tree (instructions
/// per mille, callgrind), by which the families are split over threads.
struct Family {
    run: fn(&mut Checker),
    cost: usize,
}

/// The check families, in the order their findings are reported.
const FAMILIES: &[Family] = &[
    Family {
        run: names::run,
        cost: 50,
    },
    Family {
        run: dag::run,
        cost: 40,
    },
    Family {
        run: params::run,
        cost: 250,
    },
    Family {
        run: results::run,
        cost: 120,
    },
    Family {
        run: workspaces::run,
        cost: 80,
    },
    Family {
        run: refs::run,
        cost: 120,
    },
    Family {
        run: references::run,
        cost: 20,
    },
    Family {
        run: when::run,
        cost: 10,
    },
    Family {
        run: matrix::run,
        cost: 10,
    },
    Family {
        run: timeouts::run,
        cost: 10,
    },
    Family {
        run: steps::run,
        cost: 30,
    },
    Family {
        run: kube::run,
        cost: 10,
    },
    Family {
        run: tasks::run,
        cost: 10,
    },
    Family {
        run: runs::run,
        cost: 10,
    },
    Family {
        run: lint::run,
        cost: 240,
    },
];

/// Runs every check family over the world. Families are independent (each only reads the
/// world and reports), so on a large world they run on several threads, in contiguous groups;
/// the findings are concatenated in family order, exactly as one thread would give them.
pub fn run(world: &World, options: &Options) -> Diagnostics {
    let bytes = world
        .iter()
        .map(|(_, d)| (d.span.end - d.span.start) as usize)
        .sum();
    let out = run_on(world, options, crate::parallel::threads_for(bytes));
    world.refs.clear();
    out
}

/// [`run`] on at most `threads` threads.
fn run_on(world: &World, options: &Options, threads: usize) -> Diagnostics {
    let groups = crate::parallel::map_runs(
        FAMILIES,
        threads,
        |f| f.cost,
        |families| {
            let mut checker = Checker::new(world, options);
            for family in families {
                (family.run)(&mut checker);
            }
            checker.finish()
        },
    );
    let mut out = Diagnostics::new();
    for group in groups {
        out.extend(group);
    }
    out
}

/// Every code the checks can report.
pub fn codes() -> Vec<&'static Code> {
    let mut codes = crate::resolve::codes();
    codes.extend(crate::remote::codes());
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
        kube::CODES,
        tasks::CODES,
        runs::CODES,
        lint::CODES,
        shellcheck::CODES,
    ] {
        codes.extend(family.iter().copied());
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceMap;

    /// Every check fixture of the repository in one world: the findings are the same, in the
    /// same order, on one thread and on several.
    #[test]
    fn findings_do_not_depend_on_the_number_of_threads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/check");
        let mut sources = SourceMap::new();
        let mut dirs = vec![root];
        let mut paths = Vec::new();
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    paths.push(path);
                }
            }
        }
        paths.sort();
        let files: Vec<_> = paths
            .iter()
            .filter_map(|p| {
                Some(sources.add(p.display().to_string(), std::fs::read_to_string(p).ok()?))
            })
            .collect();
        assert!(files.len() > 100, "fixtures not found");
        let options = Options::default();
        let (documents, _) = crate::decode_files(&sources, &files, &options);
        let world = World::build(&sources, documents, &files, &mut Diagnostics::new());
        let one = format!("{:?}", run_on(&world, &options, 1).into_vec());
        for threads in [2, 3, 8] {
            let several = format!("{:?}", run_on(&world, &options, threads).into_vec());
            assert!(
                one == several,
                "{threads} threads report differently from one"
            );
        }
        assert!(one.len() > 10_000, "the fixtures should have findings");
    }
}

//! Work split over the machine's cores with `std::thread::scope`, results in input order, so
//! that output is the same whatever the number of threads.

use std::num::NonZeroUsize;

/// Below this much source per thread one thread does it all: starting a thread costs more
/// than it saves on small inputs (one Task, an editor's file).
const MIN_BYTES_PER_THREAD: usize = 64 * 1024;

/// The threads to use for work over `bytes` of source: the cores available (at most 8), one
/// per `MIN_BYTES_PER_THREAD`.
pub fn threads_for(bytes: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(8)
        .min(bytes / MIN_BYTES_PER_THREAD)
        .max(1)
}

/// Splits `items` into contiguous runs of about equal `weight`, one per thread (at most
/// `threads`), applies `f` to each run on its own thread, and returns the results in the order
/// of the runs.
pub fn map_runs<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    weight: impl Fn(&T) -> usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let total: usize = items.iter().map(&weight).sum();
    let threads = threads.min(items.len());
    if threads <= 1 || total == 0 {
        return vec![f(items)];
    }
    let mut runs = Vec::with_capacity(threads);
    let (mut start, mut acc) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        acc += weight(item);
        // The run ends once it holds its share of the total.
        if acc * threads >= total * (runs.len() + 1) && runs.len() + 1 < threads {
            runs.push(&items[start..=i]);
            start = i + 1;
        }
    }
    runs.push(&items[start..]);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .skip(1)
            .map(|run| scope.spawn(move || f(run)))
            .collect();
        let mut out = Vec::with_capacity(runs.len());
        out.push(f(runs[0]));
        for handle in handles {
            match handle.join() {
                Ok(result) => out.push(result),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_back_in_order_whatever_the_threads() {
        let items: Vec<usize> = (0..1000).collect();
        for threads in 1..=9 {
            let runs = map_runs(&items, threads, |&i| i % 7 + 1, |run| run.to_vec());
            assert!(runs.len() <= threads.max(1));
            assert_eq!(runs.concat(), items, "{threads} threads");
        }
        assert_eq!(map_runs(&[] as &[usize], 4, |_| 1, |run| run.len()), [0]);
    }
}

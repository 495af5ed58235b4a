//! The bounded worker pool every parallel step runs on.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `work` on every item, largest first as given: each worker takes the next item from a
/// shared queue (greedy longest-first), so at most `threads` matrices are in memory at once and no
/// core idles behind one big matrix.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: Option<usize>,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push(work(item));
        }
        done
    };
    match rayon::ThreadPoolBuilder::new().num_threads(threads.unwrap_or(0)).build() {
        Ok(pool) => pool.broadcast(|_| worker()).into_iter().flatten().collect(),
        Err(_) => worker(), // no threads to be had: run on this one
    }
}

//! Each record's p-values under the null "a Gaussian matrix of the same shape"
//! ([`svdiag_core::baselines::null`]): one null per shape, its samples drawn on the worker pool,
//! kept for the life of the process (a run of many checkpoints, or a training loop that analyzes
//! every few steps, draws each shape's null once).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use svdiag_core::baselines::null::{self, Null, NULL_FIELDS};
use svdiag_core::{Normalization, Undefined};

use crate::options::AnalysisOptions;
use crate::record::MatrixRecord;

/// `(N, M)` with `N ≥ M`, the normalization, the samples and the seed.
type Key = (usize, usize, Normalization, usize, u64);

fn cache() -> &'static Mutex<HashMap<Key, Arc<Null>>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<Null>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The samples the null of a shape with smaller side `m` draws under these options.
pub fn samples(options: &AnalysisOptions, m: usize) -> usize {
    null::samples_for(options.thresholds.isotropy_level, m)
}

/// Sets every record's p-values (or the reason there are none).
pub(crate) fn attach(records: &mut [MatrixRecord], options: &AnalysisOptions) {
    let normalization = options.metrics.normalization;
    let key = |r: &MatrixRecord| {
        let [a, b] = r.matrix_shape;
        (a.max(b), a.min(b), normalization, samples(options, a.min(b)), null::SEED)
    };
    let wanted: BTreeSet<Key> = records.iter().filter(|r| r.metrics.null_statistics().is_some()).map(key).collect();
    let missing: Vec<Key> = {
        let c = cache().lock().unwrap_or_else(|e| e.into_inner());
        wanted.iter().copied().filter(|k| !c.contains_key(k)).collect()
    };
    if !missing.is_empty() {
        // every (shape, sample) is one task on the pool, the largest shapes first
        let mut tasks: Vec<(usize, usize, u64)> =
            missing.iter().flat_map(|&(big, small, _, n, _)| (0..n as u64).map(move |i| (big, small, i))).collect();
        tasks.sort_by_key(|&(big, small, i)| (std::cmp::Reverse(small), std::cmp::Reverse(big), i));
        let drawn = crate::run::in_parallel(&tasks, options.threads, |&(big, small, i)| {
            ((big, small), i, null::sample(big, small, normalization, null::SEED, i))
        });
        let mut by_shape: BTreeMap<(usize, usize), Vec<(u64, null::Statistics)>> = BTreeMap::new();
        for (shape, i, s) in drawn {
            if let Some(s) = s {
                by_shape.entry(shape).or_default().push((i, s));
            }
        }
        let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
        for ((big, small), mut v) in by_shape {
            v.sort_by_key(|p| p.0);
            let n = samples(options, small);
            if let Some(null) = Null::from_samples([big, small], null::SEED, v.into_iter().map(|p| p.1).collect()) {
                c.insert((big, small, normalization, n, null::SEED), Arc::new(null));
            }
        }
    }
    let c = cache().lock().unwrap_or_else(|e| e.into_inner());
    for r in records.iter_mut() {
        let k = key(r);
        match (r.metrics.null_statistics(), c.get(&k)) {
            (Some(stats), Some(null)) => r.metrics.set_null(null.test(&stats)),
            (Some(_), None) => r
                .metrics
                .undefined
                .extend(Undefined::all(&NULL_FIELDS, "no null sample of this shape had a Marchenko–Pastur fit")),
            (None, _) => r.metrics.undefined.extend(Undefined::all(
                &NULL_FIELDS,
                if options.quick {
                    "--quick computes no spectrum: nothing to test"
                } else {
                    "no Marchenko–Pastur fit or no entropy: nothing to test"
                },
            )),
        }
    }
}

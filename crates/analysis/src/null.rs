//! Each record's p-values under the null "a Gaussian matrix of the same shape"
//! ([`svdiag_core::baselines::null`]): one null per shape, its samples drawn on the worker pool,
//! kept for the life of the process (a run of many checkpoints, or a training loop that analyzes
//! every few steps, draws each shape's null once) and in a small file per shape in the user's cache
//! directory (`$SVDIAG_NULL_CACHE`, else `$XDG_CACHE_HOME/svdiag/nulls`, else
//! `~/.cache/svdiag/nulls`; `SVDIAG_NULL_CACHE=off` for none), so that the next process does not
//! draw it again. A null is a deterministic function of its key, so a file holds exactly what would
//! be drawn; a file of the wrong size or with a non-finite value is ignored and drawn again.

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

/// Version of the file layout and of the statistics: a change to either must change it.
const FILE_VERSION: u32 = 1;

/// The directory of the null files, or `None` (switched off, or no home).
fn cache_dir() -> Option<std::path::PathBuf> {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(std::path::PathBuf::from);
    if let Some(p) = env("SVDIAG_NULL_CACHE") {
        return (p.as_os_str() != "off").then_some(p);
    }
    let dir = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))?;
    Some(dir.join("svdiag").join("nulls"))
}

fn file_name(&(big, small, normalization, n, seed): &Key) -> String {
    format!("null-v{FILE_VERSION}-{big}x{small}-{normalization}-{n}-{seed:x}.f64")
}

/// The statistics of every sample, six little-endian f64 each.
fn encode(null: &Null) -> Vec<u8> {
    null.samples
        .iter()
        .flat_map(|s| [s.mp_ks, s.kl_excess, s.outliers_above as f64, s.outliers_below as f64, s.top, s.bottom])
        .flat_map(f64::to_le_bytes)
        .collect()
}

fn decode(bytes: &[u8], key: &Key) -> Option<Null> {
    let (big, small, _, n, seed) = *key;
    if bytes.len() != n * 48 {
        return None;
    }
    let v: Vec<f64> = bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    let samples: Option<Vec<null::Statistics>> = v
        .chunks_exact(6)
        .map(|r| {
            let ok = r.iter().all(|x| x.is_finite())
                && r[2] >= 0.0
                && r[3] >= 0.0
                && r[2].fract() == 0.0
                && r[3].fract() == 0.0;
            ok.then(|| null::Statistics {
                mp_ks: r[0],
                kl_excess: r[1],
                outliers_above: r[2] as usize,
                outliers_below: r[3] as usize,
                top: r[4],
                bottom: r[5],
            })
        })
        .collect();
    Null::from_samples([big, small], seed, samples?)
}

/// The null of `key` from its file, if there is a valid one.
fn read_file(key: &Key) -> Option<Null> {
    decode(&std::fs::read(cache_dir()?.join(file_name(key))).ok()?, key)
}

/// Writes the null's file (through a temporary file renamed into place); failures are ignored:
/// the file only saves time.
fn write_file(key: &Key, null: &Null) {
    let Some(dir) = cache_dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join(file_name(key));
    let tmp = dir.join(format!(".{}.{}.{:?}.tmp", file_name(key), std::process::id(), std::thread::current().id()));
    if std::fs::write(&tmp, encode(null)).is_ok() && std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
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
        let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
        for k in &wanted {
            if !c.contains_key(k) {
                if let Some(null) = read_file(k) {
                    c.insert(*k, Arc::new(null));
                }
            }
        }
        wanted.iter().copied().filter(|k| !c.contains_key(k)).collect()
    };
    if !missing.is_empty() {
        // every (shape, sample) is one task on the pool, the largest shapes first
        let mut tasks: Vec<(Key, u64)> = missing.iter().flat_map(|&k| (0..k.3 as u64).map(move |i| (k, i))).collect();
        tasks.sort_by_key(|&((big, small, ..), i)| (std::cmp::Reverse(small), std::cmp::Reverse(big), i));
        let drawn =
            crate::pool::in_parallel(&tasks, options.threads, |&(k, i)| (k, i, null::sample(k.0, k.1, k.2, k.4, i)));
        let mut by_key: BTreeMap<Key, Vec<(u64, Option<null::Statistics>)>> = BTreeMap::new();
        for (k, i, s) in drawn {
            by_key.entry(k).or_default().push((i, s));
        }
        let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
        for (key, mut v) in by_key {
            v.sort_by_key(|p| p.0);
            // a null is kept only whole: every sample had a fit (else its file would never match)
            let Some(samples) = v.into_iter().map(|p| p.1).collect::<Option<Vec<_>>>() else { continue };
            if let Some(null) = Null::from_samples([key.0, key.1], key.4, samples) {
                write_file(&key, &null);
                c.insert(key, Arc::new(null));
            }
        }
    }
    let c = cache().lock().unwrap_or_else(|e| e.into_inner());
    for r in records.iter_mut() {
        let k = key(r);
        match (r.metrics.null_statistics(), c.get(&k)) {
            (Some(stats), Some(null)) => r.metrics.set_null(null.test(&stats)),
            (Some(_), None) => r.metrics.undefined.extend(Undefined::all(
                &NULL_FIELDS,
                "the null of this shape could not be drawn (a sample without a Marchenko–Pastur fit)",
            )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_file_round_trips_and_a_damaged_one_is_refused() {
        let key = (40, 20, Normalization::Sigma, 99, null::SEED);
        let drawn = Null::simulate(40, 20, Normalization::Sigma, 99, null::SEED).unwrap();
        let bytes = encode(&drawn);
        assert_eq!(bytes.len(), 99 * 48);
        assert_eq!(decode(&bytes, &key), Some(drawn.clone()));
        // truncated, or for another sample count, or with a NaN: refused
        assert_eq!(decode(&bytes[..bytes.len() - 8], &key), None);
        assert_eq!(decode(&bytes, &(40, 20, Normalization::Sigma, 98, null::SEED)), None);
        let mut bad = bytes.clone();
        bad[..8].copy_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(decode(&bad, &key), None);
        assert!(file_name(&key).starts_with("null-v1-40x20-sigma-99-"));
    }
}

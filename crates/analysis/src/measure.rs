//! The spectrum and metrics of one matrix, by the route the options ask for.

use std::sync::atomic::{AtomicUsize, Ordering};

use svdiag_core::linalg::gram::{self, Route};
use svdiag_core::{CoreError, Dtype, Matrix, Metrics, Spectrum, TensorIdentity, Undefined};
use svdiag_formats::TensorInfo;

use crate::options::{AnalysisOptions, ApproxMode, Method, QUICK_TOLERANCE};
use crate::plan::Task;
use crate::record::MatrixRecord;
use crate::stored::{bytes_of, Stored, StoredValues};

/// What [`measure`] finds for one matrix.
pub struct Measured {
    /// The metrics.
    pub metrics: Metrics,
    /// The singular values (exact modes).
    pub spectrum: Option<Spectrum>,
    /// How they were computed (exact modes).
    pub route: Option<Route>,
    /// Why the Gram route's guard refined or fell back.
    pub route_reason: Option<String>,
    /// The SLQ estimates (`--approx`, where used).
    pub approx: Option<svdiag_core::linalg::slq::Approx>,
}

impl Measured {
    /// The record of `task`'s matrix (stored as `info` in `file`, analyzed in `dtype`).
    pub(crate) fn into_record(
        self,
        info: &TensorInfo,
        file: String,
        dtype: Dtype,
        task: &Task,
        options: &AnalysisOptions,
    ) -> MatrixRecord {
        MatrixRecord {
            name: info.name.clone(),
            file,
            dtype,
            shape: info.shape.clone(),
            matrix_shape: [task.rows, task.cols],
            reshaped: info.shape.len() > 2,
            gate: task.gate.map(|g| g.label),
            gate_row: task.gate.map_or(0, |g| g.first_row + g.first_col),
            identity: TensorIdentity::from_name(&info.name, info.shape.len()),
            esd: self
                .spectrum
                .as_ref()
                .filter(|_| options.plot_data)
                .map(|s| svdiag_core::esd::Esd::of(s, self.metrics.mp.as_ref())),
            metrics: self.metrics,
            singular_values: self.spectrum.filter(|_| options.keep_spectrum).map(|s| s.values().to_vec()),
            route: self.route,
            route_reason: self.route_reason,
            approx: self.approx,
        }
    }
}

/// The spectrum and metrics of one matrix, by the route the options ask for (from the store
/// where it has them).
pub(crate) fn measure(
    src: &Stored<'_>,
    dtype: Dtype,
    options: &AnalysisOptions,
    store: Option<&dyn crate::store::SpectrumStore>,
    reused: &AtomicUsize,
) -> Result<Measured, CoreError> {
    let (rows, cols) = (src.rows, src.cols);
    if let StoredValues::Spectrum(p) = src.values {
        return Ok(precomputed(p, rows, cols, options));
    }
    let key = store.map(|_| crate::store::key(src, dtype, options));
    let slq = options
        .approx
        .filter(|(mode, o)| *mode == ApproxMode::Always || svdiag_core::linalg::slq::worth_it(rows, cols, o));
    let mut approx = None;
    // the whole matrix in f64, widened at most once, only for the paths that need it
    let mut widened: Option<Matrix> = None;
    let (mut metrics, spectrum, route, route_reason) = if let Some((_, o)) = slq {
        let a = svdiag_core::linalg::slq::estimate(src, options.metrics.normalization, &o)?;
        approx = Some(a);
        let quick = Metrics::quick(src, &options.metrics, QUICK_TOLERANCE)?;
        (quick.with_approx(&a, rows.min(cols)), None, None, None)
    } else if options.quick {
        (Metrics::quick(src, &options.metrics, QUICK_TOLERANCE)?, None, None, None)
    } else if let Some(hit) = key.as_ref().and_then(|k| store?.get(k)).filter(|h| h.validate(rows, cols).is_ok()) {
        reused.fetch_add(1, Ordering::Relaxed);
        let spectrum = Spectrum::from_values(rows, cols, hit.singular_values);
        (Metrics::compute(&spectrum, hit.l12_norm, &options.metrics), Some(spectrum), Some(hit.route), hit.route_reason)
    } else {
        let (spectrum, l12_norm, route, reason) = exact(src, options, &mut widened)?;
        if let (Some(store), Some(key)) = (store, &key) {
            store.put(
                key,
                &crate::store::StoredSpectrum {
                    rows,
                    cols,
                    singular_values: spectrum.values().to_vec(),
                    l12_norm,
                    route,
                    route_reason: reason.clone(),
                },
            );
        }
        (Metrics::compute(&spectrum, l12_norm, &options.metrics), Some(spectrum), Some(route), reason)
    };
    if options.polar && !options.quick {
        match svdiag_core::surgery::Polar::of(whole(&mut widened, src)?) {
            Ok(p) => metrics.polar = Some(p),
            Err(reason) => metrics.undefined.extend(Undefined::all(&svdiag_core::surgery::POLAR_FIELDS, reason)),
        }
    }
    if let (Some(params), false) = (&options.farms, options.quick) {
        match svdiag_core::baselines::farms::Farms::of(whole(&mut widened, src)?, params) {
            Ok(f) => metrics.farms = Some(f),
            Err(reason) => {
                metrics.undefined.extend(Undefined::all(&svdiag_core::baselines::farms::FARMS_FIELDS, reason))
            }
        }
    }
    Ok(Measured { metrics, spectrum, route, route_reason, approx })
}

/// The record of a matrix given only by its singular values: every metric of the spectrum; the
/// options that need the entries (`--polar`, `--farms`) are undefined with the reason.
fn precomputed(p: &svdiag_formats::Precomputed, rows: usize, cols: usize, options: &AnalysisOptions) -> Measured {
    const NO_ENTRIES: &str = "needs the matrix's entries, which stayed where its spectrum was computed";
    let spectrum = Spectrum::from_values(rows, cols, p.singular_values.clone());
    let mut metrics = Metrics::compute(&spectrum, p.l12_norm, &options.metrics);
    if options.polar {
        metrics.undefined.extend(Undefined::all(&svdiag_core::surgery::POLAR_FIELDS, NO_ENTRIES));
    }
    if options.farms.is_some() {
        metrics.undefined.extend(Undefined::all(&svdiag_core::baselines::farms::FARMS_FIELDS, NO_ENTRIES));
    }
    Measured {
        metrics,
        spectrum: Some(spectrum),
        route: Some(p.route.unwrap_or(Route::Gram)),
        route_reason: (!p.how.is_empty()).then(|| p.how.clone()),
        approx: None,
    }
}

/// One `rows × cols` matrix given as its stored bytes (little-endian, row-major `dtype` elements),
/// measured exactly as [`crate::analyze`] measures each matrix of a checkpoint (no result store).
pub fn measure_bytes(
    bytes: &[u8],
    dtype: Dtype,
    rows: usize,
    cols: usize,
    options: &AnalysisOptions,
) -> Result<Measured, CoreError> {
    let values = bytes_of(bytes, dtype, rows.checked_mul(cols), rows, cols)?;
    let src = Stored::whole(values, rows, cols);
    measure(&src, dtype, options, None, &AtomicUsize::new(0))
}

/// The exact spectrum, by the method the options ask for: its `l12_norm`, route and the guard's
/// reason (the matrix widened whole into `widened` when the route needs it).
pub(crate) fn exact(
    src: &Stored<'_>,
    options: &AnalysisOptions,
    widened: &mut Option<Matrix>,
) -> Result<(Spectrum, f64, Route, Option<String>), CoreError> {
    Ok(if options.method == Method::Svd {
        let matrix = whole(widened, src)?;
        (Spectrum::of(matrix)?, matrix.l12_norm(), Route::Svd, None)
    } else {
        let out = gram::spectrum(src, &options.metrics)?;
        (out.spectrum, out.l12_norm, out.route, (!out.reason.is_empty()).then_some(out.reason))
    })
}

/// The matrix widened to f64, computed on first use and kept for the other uses.
fn whole<'a>(cache: &'a mut Option<Matrix>, src: &Stored<'_>) -> Result<&'a Matrix, CoreError> {
    if cache.is_none() {
        *cache = Some(gram::whole(src)?);
    }
    Ok(cache.as_ref().expect("just filled"))
}

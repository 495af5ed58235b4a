//! Approximate entropies (`--approx`): stochastic Lanczos quadrature (SLQ) on the Gram operator of
//! the smaller side, with a control variate and honest error bars.
//!
//! For `G = WᵀW` (or `WWᵀ`, whichever is smaller, `k × k`) and a Rademacher probe `z`,
//! `zᵀ f(G) z` is an unbiased estimate of `tr f(G)`; `s` Lanczos steps from `z/‖z‖` turn it into a
//! Gauss quadrature `‖z‖² Σ_j τ_j² f(θ_j)` (Ritz values `θ_j`, first components `τ_j` of the
//! tridiagonal's eigenvectors). The traces needed are `Σσ = tr G^{1/2}`, `Σσ ln σ = tr(½ G^{1/2} ln G)`
//! (the `sigma` entropy) and `Σλ ln λ` (the `energy` entropy).
//!
//! Variance reduction: first the top eigenpairs of `G` (up to [`SlqOptions::deflate`], found by
//! Lanczos and kept where converged) are taken out exactly — they dominate the variance of
//! spiked and heavy-tailed spectra — and the probes, projected off them, estimate only the rest.
//! Then the same probe's `zᵀGz = ‖Wz‖²` is exact and `tr G = ‖W‖_F²` is known, so
//! `zᵀGz − tr G` (mean 0, strongly correlated with the other quadratic forms) is a control variate,
//! with its coefficient fitted across the probes.
//!
//! Error bars: the probes are independent, so each statistic (entropy, `kl_uniform`, nuclear norm)
//! gets a delete-one jackknife standard error across probes and a Student-t interval with
//! `probes − 2` degrees of freedom (one lost to the control variate's coefficient), at
//! [`CONFIDENCE`]. Lanczos runs until the quadrature changes by less than `1e-7` relative over two
//! steps (or the Krylov space is exhausted, or `max_steps`), so the quadrature error is far below the
//! probe noise; the probes advance in lockstep, one block product with `W` per step for all.
//! Each product streams the matrix from its stored values in blocks of the long side (as the Gram
//! route forms `G`): no f64 copy of the matrix is held. Deterministic for a given seed.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use std::cell::RefCell;

use crate::entropy::Normalization;
use crate::linalg::gram::for_gram_blocks;
use crate::matrix::Blocks;
use crate::CoreError;

/// The nominal coverage of the intervals.
pub const CONFIDENCE: f64 = 0.95;

/// Settings of the estimator.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SlqOptions {
    /// Rademacher probes (at least 4).
    pub probes: usize,
    /// Maximum Lanczos steps per probe.
    pub max_steps: usize,
    /// Seed of the probes.
    pub seed: u64,
    /// Top eigenpairs removed exactly before probing (where Lanczos converges on them).
    pub deflate: usize,
}

impl Default for SlqOptions {
    fn default() -> Self {
        Self { probes: 16, max_steps: 80, seed: 0, deflate: 16 }
    }
}

/// An estimate with its interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// The jackknife standard error.
    pub stderr: f64,
    /// Lower end of the interval.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
}

/// The approximate entropies of one matrix.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Approx {
    /// Shannon entropy under the normalization.
    pub entropy: Estimate,
    /// `log r − entropy`.
    pub kl_uniform: Estimate,
    /// `Σσ`.
    pub nuclear_norm: Estimate,
    /// Probes used.
    pub probes: usize,
    /// Largest number of Lanczos steps a probe needed.
    pub steps: usize,
    /// Eigenpairs deflated exactly.
    pub deflated: usize,
}

/// Seconds per multiply-add of SLQ's products: they stream the stored matrix once per step and
/// are bound by memory bandwidth (one thread, AVX-512, a 4096² BF16 matrix: 16 probes × 80
/// steps in 4.2 s).
const SLQ_SECONDS_PER_MADD: f64 = 9.8e-11;
/// Seconds per multiply-add of the exact route's Gram product (`mn·k`, a GEMM) and per `k³` of its
/// eigenvalue stage (the two-stage reduction, bisection and the guard): the cost model fitted in
/// `docs/scaling.md` on the same machine.
const GRAM_SECONDS_PER_MADD: f64 = 1.08e-11;
const EIGEN_SECONDS_PER_K3: f64 = 2.98e-11;

/// Cost model: SLQ is used only where its products (`probes · max_steps · 2mn` multiply-adds,
/// bound by memory) are predicted faster than the exact Gram route (`mn·k` multiply-adds of GEMM
/// plus the `k³` eigenvalue stage), with the per-operation costs measured on one core. Until the
/// two-stage reductions (2026-11-30) it counted every flop alike and chose SLQ for a 4096² matrix,
/// which it now takes 4.2 s against the exact route's 3.8 s.
pub fn worth_it(rows: usize, cols: usize, options: &SlqOptions) -> bool {
    let (m, n) = (rows as f64, cols as f64);
    let k = m.min(n);
    let slq = SLQ_SECONDS_PER_MADD * options.probes as f64 * options.max_steps as f64 * 2.0 * m * n;
    slq < GRAM_SECONDS_PER_MADD * m * n * k + EIGEN_SECONDS_PER_K3 * k * k * k
}

/// The two-sided Student-t quantile for `CONFIDENCE` with `df` degrees of freedom (table for
/// small `df`, the normal quantile with a `1/df` correction beyond).
fn t_quantile(df: usize) -> f64 {
    const T975: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T975[df - 1],
        _ => 1.959_964 + 2.4 / df as f64,
    }
}

/// The Gram operator of the smaller side, `x ↦ Gx = Σ_b V_b(V_bᵀx)` over the widened blocks `V_b`
/// of the long side (one pass over the stored matrix per product).
struct Gram<'a, B: Blocks> {
    src: &'a B,
    k: usize,
    /// The widened block, reused by every pass.
    buf: RefCell<Vec<f64>>,
    /// The first error of a pass (reported by [`estimate`] at the end).
    failure: RefCell<Option<CoreError>>,
}

impl<B: Blocks> Gram<'_, B> {
    /// `G·X` for a column-major `k × cols` block (one pass over `W` for all columns).
    fn apply_block(&self, x: &[f64], cols: usize) -> Vec<f64> {
        let k = self.k;
        let xs = MatRef::from_column_major_slice(x, k, cols);
        let mut out = vec![0.0; k * cols];
        let mut tmp = Vec::new();
        let pass = for_gram_blocks(self.src, &mut self.buf.borrow_mut(), |block, _| {
            let v = block.view();
            tmp.resize(v.ncols() * cols, 0.0);
            let mut t = MatMut::from_column_major_slice_mut(&mut tmp, v.ncols(), cols);
            matmul(t.as_mut(), Accum::Replace, v.transpose(), xs, 1.0, Par::Seq);
            matmul(MatMut::from_column_major_slice_mut(&mut out, k, cols), Accum::Add, v, t.as_ref(), 1.0, Par::Seq);
        });
        if let Err(e) = pass {
            self.failure.borrow_mut().get_or_insert(e);
        }
        out
    }

    fn apply(&self, x: &[f64], out: &mut Vec<f64>) {
        *out = self.apply_block(x, 1);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Removes the components along `basis` (twice, for orthogonality to rounding).
fn orthogonalize(x: &mut [f64], basis: &[Vec<f64>]) {
    for _ in 0..2 {
        for b in basis {
            let d = dot(x, b);
            x.iter_mut().zip(b).for_each(|(p, q)| *p -= d * q);
        }
    }
}

/// Lanczos with full reorthogonalization from `start` (kept orthogonal to `deflated`): the
/// tridiagonal (`alpha`, `beta`) and the basis. Stops after `max_steps`, at an invariant subspace,
/// or when `stop(alpha, beta)` says so.
fn lanczos<B: Blocks>(
    op: &Gram<'_, B>,
    start: &[f64],
    deflated: &[Vec<f64>],
    max_steps: usize,
    mut stop: impl FnMut(&[f64], &[f64]) -> bool,
) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let norm = dot(start, start).sqrt();
    let mut basis: Vec<Vec<f64>> = vec![start.iter().map(|x| x / norm).collect()];
    let (mut alpha, mut beta): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut w = Vec::with_capacity(op.k);
    loop {
        let j = alpha.len();
        op.apply(&basis[j], &mut w);
        alpha.push(dot(&w, &basis[j]));
        orthogonalize(&mut w, deflated);
        orthogonalize(&mut w, &basis);
        let b = dot(&w, &w).sqrt();
        let scale = alpha.iter().fold(0.0, |m: f64, x| m.max(x.abs()));
        if alpha.len() >= max_steps.min(op.k) || b <= 1e-13 * scale || stop(&alpha, &beta) {
            return (alpha, beta, basis);
        }
        beta.push(b);
        basis.push(w.iter().map(|x| x / b).collect());
    }
}

/// The eigen-decomposition of the Lanczos tridiagonal: Ritz values (non-decreasing) and vectors.
fn tridiagonal_evd(alpha: &[f64], beta: &[f64]) -> (Vec<f64>, Mat<f64>) {
    let s = alpha.len();
    let t = Mat::from_fn(s, s, |i, j| {
        if i == j {
            alpha[i]
        } else if i == j + 1 {
            beta[j]
        } else if j == i + 1 {
            beta[i]
        } else {
            0.0
        }
    });
    let evd = t.self_adjoint_eigen(faer::Side::Lower).expect("a small symmetric tridiagonal");
    let theta = evd.S().column_vector().iter().copied().collect();
    (theta, evd.U().to_owned())
}

/// The top eigenpairs of `G`, found by Lanczos from a fixed start and kept only where converged
/// (residual `≤ 1e-10·λ_1`): removed exactly from the trace so that the probes only see the rest.
fn deflation<B: Blocks>(op: &Gram<'_, B>, count: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    if count == 0 {
        return (Vec::new(), Vec::new());
    }
    let start: Vec<f64> = (0..op.k).map(|i| 1.0 + ((i as f64) * 0.618_033_988_749_895).fract()).collect();
    let (alpha, beta, basis) = lanczos(op, &start, &[], 2 * count + 40, |_, _| false);
    let (theta, y) = tridiagonal_evd(&alpha, &beta);
    let s = alpha.len();
    // ‖G·v_j − θ_j·v_j‖ = β_s·|y_{s,j}|, with β_s the norm of the next Lanczos direction
    let mut w = Vec::new();
    op.apply(&basis[s - 1], &mut w);
    orthogonalize(&mut w, &basis);
    let residual_scale = dot(&w, &w).sqrt();
    let top = theta.last().copied().unwrap_or(0.0).max(0.0);
    let (mut values, mut vectors) = (Vec::new(), Vec::new());
    for j in (0..s).rev().take(count) {
        if residual_scale * y[(s - 1, j)].abs() > 1e-10 * top || theta[j] <= 0.0 {
            break;
        }
        let mut v = vec![0.0; op.k];
        for (i, b) in basis.iter().enumerate() {
            let c = y[(i, j)];
            v.iter_mut().zip(b).for_each(|(p, q)| *p += c * q);
        }
        values.push(theta[j]);
        vectors.push(v);
    }
    (values, vectors)
}

/// The Lanczos state of one probe.
struct Probe {
    basis: Vec<Vec<f64>>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    znorm2: f64,
    last: Option<[f64; 4]>,
    calm: usize,
    done: bool,
}

/// Quadrature values of every probe, `[zᵀGz, Σ√λ, Σ½√λ ln λ, Σλ ln λ]` on the deflated operator,
/// and the steps each took. The probes' Lanczos recurrences run in lockstep so that each step is
/// one block product with `W` (one pass over memory) for all of them. A probe stops when its
/// quadrature moves by less than `1e-7` relative over two steps: far below the probe-to-probe
/// spread that the intervals measure.
fn probes<B: Blocks>(
    op: &Gram<'_, B>,
    zs: &[Vec<f64>],
    deflated: &[Vec<f64>],
    max_steps: usize,
) -> Vec<([f64; 4], usize)> {
    let cap = max_steps.min(op.k).max(1);
    let mut st: Vec<Probe> = zs
        .iter()
        .map(|z| {
            let mut z = z.clone();
            orthogonalize(&mut z, deflated);
            let znorm2 = dot(&z, &z);
            let norm = znorm2.sqrt();
            Probe {
                basis: vec![z.iter().map(|x| x / norm).collect()],
                alpha: Vec::new(),
                beta: Vec::new(),
                znorm2,
                last: None,
                calm: 0,
                done: znorm2 == 0.0,
            }
        })
        .collect();
    loop {
        let active: Vec<usize> = (0..st.len()).filter(|&i| !st[i].done).collect();
        if active.is_empty() {
            break;
        }
        let mut block = Vec::with_capacity(op.k * active.len());
        for &i in &active {
            block.extend_from_slice(st[i].basis.last().expect("a start vector"));
        }
        let out = op.apply_block(&block, active.len());
        for (c, &i) in active.iter().enumerate() {
            let p = &mut st[i];
            let mut w = out[c * op.k..(c + 1) * op.k].to_vec();
            let v = p.basis.last().expect("a start vector");
            p.alpha.push(dot(&w, v));
            orthogonalize(&mut w, deflated);
            orthogonalize(&mut w, &p.basis);
            let b = dot(&w, &w).sqrt();
            let q = quadrature(&p.alpha, &p.beta, p.znorm2);
            if let Some(prev) = p.last {
                let close = q.iter().zip(prev).all(|(x, y)| (x - y).abs() <= 1e-7 * x.abs().max(1e-300));
                p.calm = if close { p.calm + 1 } else { 0 };
            }
            p.last = Some(q);
            let scale = p.alpha.iter().fold(0.0, |m: f64, x| m.max(x.abs()));
            if p.alpha.len() >= cap || b <= 1e-13 * scale || p.calm >= 2 {
                p.done = true;
            } else {
                p.beta.push(b);
                p.basis.push(w.iter().map(|x| x / b).collect());
            }
        }
    }
    st.iter().map(|p| (quadrature(&p.alpha, &p.beta, p.znorm2), p.alpha.len())).collect()
}

/// Gauss quadrature of the four functions from the Lanczos tridiagonal.
fn quadrature(alpha: &[f64], beta: &[f64], znorm2: f64) -> [f64; 4] {
    let s = alpha.len();
    let (theta, u) = tridiagonal_evd(alpha, &beta[..s.saturating_sub(1).min(beta.len())]);
    let mut q = [0.0; 4];
    for j in 0..s {
        let l = theta[j].max(0.0);
        let wgt = znorm2 * u[(0, j)] * u[(0, j)];
        let sig = l.sqrt();
        q[0] += wgt * l;
        q[1] += wgt * sig;
        if l > 0.0 {
            q[2] += wgt * 0.5 * sig * l.ln();
            q[3] += wgt * l * l.ln();
        }
    }
    q
}

/// The SLQ estimates for the matrix `src`, streamed block by block; NaN or Inf in it is an error.
pub fn estimate(src: &impl Blocks, normalization: Normalization, options: &SlqOptions) -> Result<Approx, CoreError> {
    let k = src.rows().min(src.cols());
    // ‖W‖_F² = tr G, in a first pass that also rejects NaN/Inf
    let mut trace_all = 0.0;
    let mut buf = Vec::new();
    for_gram_blocks(src, &mut buf, |v, _| trace_all += v.data.iter().map(|x| x * x).sum::<f64>())?;
    let op = Gram { src, k, buf: RefCell::new(buf), failure: RefCell::new(None) };
    let (top, vectors) = deflation(&op, options.deflate.min(k.saturating_sub(1)));
    // the exact part of each trace, from the deflated eigenvalues
    let exact = top.iter().fold([0.0; 4], |mut acc, &l| {
        let sig = l.sqrt();
        acc[0] += l;
        acc[1] += sig;
        acc[2] += 0.5 * sig * l.ln();
        acc[3] += l * l.ln();
        acc
    });
    let trace = trace_all - exact[0];
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let probes = options.probes.max(4);
    let zs: Vec<Vec<f64>> =
        (0..probes).map(|_| (0..k).map(|_| if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 }).collect()).collect();
    let results = self::probes(&op, &zs, &vectors, options.max_steps);
    let steps = results.iter().map(|r| r.1).max().unwrap_or(0);
    let samples: Vec<[f64; 4]> = results.into_iter().map(|r| r.0).collect();
    // statistics of a subset of probes (all, or all but one for the jackknife)
    let stats = |idx: &[usize]| -> [f64; 3] {
        let p = idx.len() as f64;
        let mean = |c: usize| idx.iter().map(|&i| samples[i][c]).sum::<f64>() / p;
        let x0 = mean(0);
        // control variate: y − c·(x − tr G), c = cov(x, y)/var(x)
        let cv = |c: usize| {
            let y = mean(c);
            let (mut sxy, mut sxx) = (0.0, 0.0);
            for &i in idx {
                sxy += (samples[i][0] - x0) * (samples[i][c] - y);
                sxx += (samples[i][0] - x0).powi(2);
            }
            let coef = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            y - coef * (x0 - trace)
        };
        let nuclear = exact[1] + cv(1);
        let h = match normalization {
            Normalization::Sigma => nuclear.ln() - (exact[2] + cv(2)) / nuclear,
            Normalization::Energy => trace_all.ln() - (exact[3] + cv(3)) / trace_all,
        };
        [h, (k as f64).ln() - h, nuclear]
    };
    let all: Vec<usize> = (0..probes).collect();
    let full = stats(&all);
    let jack: Vec<[f64; 3]> =
        (0..probes).map(|d| stats(&all.iter().copied().filter(|&i| i != d).collect::<Vec<_>>())).collect();
    let t = t_quantile(probes - 2);
    let est = |c: usize| {
        let mean = jack.iter().map(|v| v[c]).sum::<f64>() / probes as f64;
        let var = (probes as f64 - 1.0) / probes as f64 * jack.iter().map(|v| (v[c] - mean).powi(2)).sum::<f64>();
        let se = var.sqrt();
        Estimate { value: full[c], stderr: se, low: full[c] - t * se, high: full[c] + t * se }
    };
    if let Some(e) = op.failure.into_inner() {
        return Err(e);
    }
    Ok(Approx { entropy: est(0), kl_uniform: est(1), nuclear_norm: est(2), probes, steps, deflated: top.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measured trade-off: the exact route up to order 4096 (GPT-2's shapes, a Llama-8B
    /// matrix, its 128256×4096 embedding), SLQ on large square matrices (order 8192 and up).
    #[test]
    fn slq_only_where_predicted_faster() {
        let o = SlqOptions::default();
        for (m, n) in [(768, 3072), (50257, 768), (4096, 4096), (14336, 4096), (128256, 4096)] {
            assert!(!worth_it(m, n, &o), "{m}×{n}");
        }
        for (m, n) in [(8192, 8192), (16384, 16384), (16384, 53248)] {
            assert!(worth_it(m, n, &o), "{m}×{n}");
        }
    }
}

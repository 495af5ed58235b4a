//! The Gram product's kernel: `G += V Vᵀ` (lower triangle) for one widened block `V` of the long
//! side, packed and register-blocked.
//!
//! Written here rather than taken from `faer` because, on AVX2 machines without AVX-512, `faer`'s
//! triangular product (`faer::linalg::matmul::triangular`) ran at 25–28 GFLOP/s per core on the
//! Gram shapes of real checkpoints (768×3072, 50257×768) where OpenBLAS's `dsyrk` ran at 33–36 and
//! its `dgemm` at 40 on the same core; this kernel runs at 31–36 there (1.2–1.4× `faer`, measured
//! side by side in one process). The Gram product is the largest part of the exact mode's time.
//! The design is the textbook one: pack both operands once per `KC` slice of the inner
//! dimension, keep a `KC × NR` sliver in L1 and an `MC × KC` block in L2, and accumulate a
//! `2·lanes × NR` register tile with fused multiply-adds, compiled for the machine's vector width
//! at run time through `pulp`. [`crate::linalg::gram`] uses it only where it was measured faster
//! ([`preferred`]).
//!
//! Only the lower triangle of `G` is written (tiles wholly above the diagonal are skipped), as
//! every caller of the Gram matrix reads only that.

use std::ops::Range;

use pulp::Simd;

/// Columns of the register tile (broadcast values of the `B` sliver).
const NR: usize = 6;
/// The inner dimension per packed slice: a `KC × NR` sliver of `B` (12 KB) and a `KC × MR` sliver
/// of `A` (16 KB with AVX2) fit in L1 together.
pub(crate) const KC: usize = 256;
/// Rows of `A` per L2 block (rounded to a multiple of `MR`): `MC × KC` is 192 KB.
const MC: usize = 96;

/// A `k × len` block `V` of the long side, as widened by [`crate::linalg::gram::for_gram_blocks`].
#[derive(Clone, Copy)]
pub(crate) struct LongBlock<'a> {
    /// The values.
    pub data: &'a [f64],
    /// Rows of `V` (the short side).
    pub k: usize,
    /// Columns of `V` (this block's part of the long side).
    pub len: usize,
    /// `V[i, t]` is at `t·k + i` (column-major: a block of rows of a tall matrix) when true, at
    /// `i·len + t` (row-major: a block of columns of a wide matrix) when false.
    pub column_major: bool,
}

#[cfg(test)]
impl LongBlock<'_> {
    fn at(&self, i: usize, t: usize) -> f64 {
        if self.column_major {
            self.data[t * self.k + i]
        } else {
            self.data[i * self.len + t]
        }
    }
}

/// Packing buffers, kept across blocks so that a matrix allocates them once.
#[derive(Default)]
pub(crate) struct Packs {
    a: Vec<f64>,
    b: Vec<f64>,
}

/// Whether [`crate::linalg::gram`] uses this kernel: where it was measured faster than `faer`'s (x86-64
/// with AVX2 and FMA but no AVX-512: 1.2–1.4× on 3072×768 and 50257×768, one core). With
/// AVX-512, `faer`'s own kernels are wider than this one's tile and it keeps the product.
pub(crate) fn preferred() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && !std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `g += V Vᵀ` on the lower triangle of the column-major `k × k` matrix `g` (`g.len() == k²`).
pub(crate) fn syrk_lower(g: &mut [f64], v: LongBlock<'_>, packs: &mut Packs) {
    assert_eq!(g.len(), v.k * v.k, "g must be k × k");
    syrk_lower_panel(g, 0..v.k, v, packs);
}

/// Columns `cols` of [`syrk_lower`]: `panel` holds those columns of the column-major `k × k` matrix
/// (`panel.len() == cols.len()·k`, column `j` at `(j − cols.start)·k`), and only their lower part is
/// written. `cols.start` must be a multiple of [`PANEL_ALIGN`] (and `cols.end` too, or `k`): each
/// entry then gets the same sequence of operations as from the whole product, so panels computed
/// on any number of threads give the same bits as one call.
pub(crate) fn syrk_lower_panel(panel: &mut [f64], cols: Range<usize>, v: LongBlock<'_>, packs: &mut Packs) {
    assert!(cols.start % PANEL_ALIGN == 0 && (cols.end % PANEL_ALIGN == 0 || cols.end == v.k) && cols.end <= v.k);
    assert_eq!(panel.len(), cols.len() * v.k, "the panel must hold its columns");
    pulp::Arch::new().dispatch(Syrk { g: panel, cols, v, packs });
}

/// Panel boundaries are multiples of this: of the register tile's width `NR` and of every row
/// sliver height `mr` (2·lanes: 4, 8 or 16).
pub(crate) const PANEL_ALIGN: usize = 48;

struct Syrk<'a, 'b> {
    g: &'a mut [f64],
    cols: Range<usize>,
    v: LongBlock<'b>,
    packs: &'a mut Packs,
}

impl pulp::WithSimd for Syrk<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Syrk { g, cols, v, packs } = self;
        let lanes = size_of::<S::f64s>() / size_of::<f64>();
        let mr = 2 * lanes;
        let k = v.k;
        // rows from the panel's first column down (the lower triangle), in slivers aligned as for
        // the whole matrix; the panel's columns in slivers of NR
        let (ia0, slivers_a) = (cols.start / mr, k.div_ceil(mr));
        let (jb0, slivers_b) = (cols.start / NR, cols.end.div_ceil(NR));
        let mc = (MC / mr).max(1) * mr;
        let mut tile = vec![0.0; mr * NR];
        let mut pc = 0;
        while pc < v.len {
            let kc = KC.min(v.len - pc);
            let rows = ia0 * mr..k;
            match mr {
                2 => pack::<2>(v, pc, kc, rows, &mut packs.a),
                4 => pack::<4>(v, pc, kc, rows, &mut packs.a),
                8 => pack::<8>(v, pc, kc, rows, &mut packs.a),
                16 => pack::<16>(v, pc, kc, rows, &mut packs.a),
                _ => unreachable!("vector widths are 1, 2, 4 or 8 f64"),
            }
            pack::<NR>(v, pc, kc, cols.clone(), &mut packs.b);
            let mut ic = ia0 * mr;
            while ic < k {
                let block_end = (ic + mc).min(k);
                for jb in jb0..slivers_b {
                    let j0 = jb * NR;
                    if j0 >= block_end {
                        break; // every column from here is right of this block's last row
                    }
                    let b = &packs.b[(jb - jb0) * NR * kc..(jb - jb0 + 1) * NR * kc];
                    let at = (j0 - cols.start) * k; // column j0 in the panel
                    for ia in ic / mr..block_end.div_ceil(mr).min(slivers_a) {
                        let i0 = ia * mr;
                        if i0 + mr <= j0 {
                            continue; // wholly above the diagonal
                        }
                        let a = &packs.a[(ia - ia0) * mr * kc..(ia - ia0 + 1) * mr * kc];
                        let rows = (i0 + mr).min(k) - i0;
                        let width = NR.min(cols.end - j0);
                        if rows == mr && width == NR && i0 >= j0 + NR - 1 {
                            // wholly on or below the diagonal: accumulate in place
                            micro(simd, a, b, &mut g[at + i0..], k);
                        } else {
                            tile.fill(0.0);
                            micro(simd, a, b, &mut tile, mr);
                            for c in 0..width {
                                let j = j0 + c;
                                for i in i0.max(j)..i0 + rows {
                                    g[at + c * k + i] += tile[c * mr + i - i0];
                                }
                            }
                        }
                    }
                }
                ic = block_end;
            }
            pc += kc;
        }
    }
}

/// Packs rows `rows` (`rows.start` a multiple of `W`) of `V[:, pc..pc + kc]` in slivers of `W`
/// rows: sliver `s` holds `kc` consecutive groups `V[rows.start + s·W .. + W, t]` (zero past
/// `rows.end`).
#[inline(always)]
fn pack<const W: usize>(v: LongBlock<'_>, pc: usize, kc: usize, rows: Range<usize>, out: &mut Vec<f64>) {
    let k = v.k;
    let slivers = rows.len().div_ceil(W);
    out.clear();
    out.resize(slivers * W * kc, 0.0);
    if v.column_major {
        // column t of V is contiguous: copy it W values at a time
        for t in 0..kc {
            let col = &v.data[(pc + t) * k + rows.start..(pc + t) * k + rows.end];
            let (groups, tail) = pulp::as_arrays::<W, f64>(col);
            for (s, group) in groups.iter().enumerate() {
                let at = s * W * kc + t * W;
                out[at..at + W].copy_from_slice(group);
            }
            if !tail.is_empty() {
                let at = groups.len() * W * kc + t * W;
                out[at..at + tail.len()].copy_from_slice(tail);
            }
        }
    } else {
        // row i of V is contiguous: scatter it with stride W
        for (r, i) in rows.enumerate() {
            let row = &v.data[i * v.len + pc..i * v.len + pc + kc];
            let sliver = &mut out[(r / W) * W * kc..(r / W + 1) * W * kc];
            for (slot, &x) in sliver[r % W..].iter_mut().step_by(W).zip(row) {
                *slot = x;
            }
        }
    }
}

/// The register tile: `c[j·ldc + r] += Σ_t a[t·mr + r]·b[t·NR + j]` over the packed slivers
/// (`r < mr`, `j < NR`).
#[inline(always)]
fn micro<S: Simd>(simd: S, a: &[f64], b: &[f64], c: &mut [f64], ldc: usize) {
    let (a, _) = S::as_simd_f64s(a);
    let (b, _) = pulp::as_arrays::<NR, f64>(b);
    let zero = simd.splat_f64s(0.0);
    let mut acc = [[zero; 2]; NR];
    for (pair, bt) in a.chunks_exact(2).zip(b) {
        let (a0, a1) = (pair[0], pair[1]);
        for j in 0..NR {
            let bj = simd.splat_f64s(bt[j]);
            acc[j][0] = simd.mul_add_e_f64s(a0, bj, acc[j][0]);
            acc[j][1] = simd.mul_add_e_f64s(a1, bj, acc[j][1]);
        }
    }
    let lanes = size_of::<S::f64s>() / size_of::<f64>();
    for (j, acc) in acc.iter().enumerate() {
        let (col, _) = S::as_mut_simd_f64s(&mut c[j * ldc..j * ldc + 2 * lanes]);
        col[0] = simd.add_f64s(col[0], acc[0]);
        col[1] = simd.add_f64s(col[1], acc[1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain triple loop, on every shape edge (k and len not multiples of the tiles),
    /// both layouts, and with an existing `g` accumulated into.
    #[test]
    fn matches_the_definition() {
        for &(k, len) in &[(1, 1), (5, 3), (7, 300), (13, 513), (97, 260), (200, 31)] {
            for column_major in [true, false] {
                let data: Vec<f64> = (0..k * len).map(|x| ((x * 37 % 101) as f64) / 17.0 - 2.9).collect();
                let v = LongBlock { data: &data, k, len, column_major };
                let before: Vec<f64> = (0..k * k).map(|x| x as f64 * 0.25).collect();
                let mut g = before.clone();
                syrk_lower(&mut g, v, &mut Packs::default());
                for j in 0..k {
                    for i in 0..k {
                        let got = g[j * k + i];
                        if i >= j {
                            let want: f64 = before[j * k + i] + (0..len).map(|t| v.at(i, t) * v.at(j, t)).sum::<f64>();
                            assert!(
                                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                                "{k}×{len} ({i},{j}): {got} vs {want}"
                            );
                        } else {
                            assert_eq!(got, before[j * k + i], "{k}×{len} ({i},{j}) outside the lower triangle");
                        }
                    }
                }
            }
        }
    }
}

//! ggml's block quantizations (GGUF tensors), dequantized to f64 on demand, a few blocks at a time.
//!
//! Block-quantized types are dequantized exactly as ggml's reference `dequantize_row_*` (and the
//! `gguf` Python package) do, in f32 arithmetic, then widened to f64: the spectra are those of the
//! weights llama.cpp computes with, i.e. of the quantized weights, not of the original ones.

// The dequantizers index elements the way ggml's reference code does (element e of a block);
// iterator chains would hide the correspondence.
#![allow(clippy::needless_range_loop)]

use half::f16;

fn h(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// Dequantizes whole blocks of a ggml type to f64, following ggml's `dequantize_row_*` in f32.
/// `None` for types without a dequantizer here. `bytes.len()` is a whole number of blocks.
pub fn dequantize(name: &str, bytes: &[u8]) -> Option<Vec<f64>> {
    Quantized::new(name, bytes).map(|q| q.to_vec())
}

/// One block's dequantizer: the block's bytes to its `block` values.
type BlockFn = fn(&[u8], &mut [f32]);

/// The quantized blocks of a tensor (borrowed from the memory map), dequantized on demand a few
/// blocks at a time: the analysis widens a quantized matrix block by block into its Gram product
/// as it widens the other dtypes, and never holds an f64 copy of the whole tensor.
#[derive(Clone, Copy)]
pub struct Quantized<'a> {
    bytes: &'a [u8],
    name: &'static str,
    /// Elements per block, bytes per block.
    block: usize,
    size: usize,
    f: BlockFn,
}

impl std::fmt::Debug for Quantized<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Quantized({}, {} bytes)", self.name, self.bytes.len())
    }
}

impl<'a> Quantized<'a> {
    /// The whole blocks of `bytes` (a trailing partial block is ignored) of the ggml type `name`;
    /// `None` for a type without a dequantizer here.
    pub fn new(name: &str, bytes: &'a [u8]) -> Option<Self> {
        let (name, block, size, f): (&'static str, usize, usize, BlockFn) = match name {
            "Q4_0" => ("Q4_0", 32, 18, q4_0),
            "Q4_1" => ("Q4_1", 32, 20, q4_1),
            "Q5_0" => ("Q5_0", 32, 22, q5_0),
            "Q5_1" => ("Q5_1", 32, 24, q5_1),
            "Q8_0" => ("Q8_0", 32, 34, q8_0),
            "Q2_K" => ("Q2_K", 256, 84, q2_k),
            "Q3_K" => ("Q3_K", 256, 110, q3_k),
            "Q4_K" => ("Q4_K", 256, 144, q4_k),
            "Q5_K" => ("Q5_K", 256, 176, q5_k),
            "Q6_K" => ("Q6_K", 256, 210, q6_k),
            _ => return None,
        };
        let bytes = &bytes[..bytes.len() / size * size];
        Some(Self { bytes, name, block, size, f })
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.size * self.block
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The ggml type's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The bytes of the blocks holding values `range` (for a content hash).
    pub fn block_bytes(&self, range: std::ops::Range<usize>) -> &'a [u8] {
        let first = range.start / self.block;
        let end = range.end.div_ceil(self.block);
        &self.bytes[first * self.size..end * self.size]
    }

    /// Values `start .. start + out.len()` into `out`, dequantizing only the blocks that hold them.
    ///
    /// # Panics
    /// Past [`Self::len`].
    pub fn dequantize_into(&self, start: usize, out: &mut [f64]) {
        assert!(start + out.len() <= self.len(), "values past the end of the quantized tensor");
        let mut y = [0f32; 256];
        let (mut at, end, mut done) = (start, start + out.len(), 0);
        while at < end {
            let (b, offset) = (at / self.block, at % self.block);
            (self.f)(&self.bytes[b * self.size..(b + 1) * self.size], &mut y[..self.block]);
            let take = (self.block - offset).min(end - at);
            for (d, &v) in out[done..done + take].iter_mut().zip(&y[offset..offset + take]) {
                *d = f64::from(v);
            }
            at += take;
            done += take;
        }
    }

    /// Every value, dequantized (for a caller that needs the whole matrix at once).
    pub fn to_vec(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.len()];
        self.dequantize_into(0, &mut out);
        out
    }
}

fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    for j in 0..16 {
        y[j] = d * ((b[2 + j] & 0x0F) as i32 - 8) as f32;
        y[j + 16] = d * ((b[2 + j] >> 4) as i32 - 8) as f32;
    }
}

fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (h(b, 0), h(b, 2));
    for j in 0..16 {
        y[j] = d * f32::from(b[4 + j] & 0x0F) + m;
        y[j + 16] = d * f32::from(b[4 + j] >> 4) + m;
    }
}

fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for j in 0..16 {
        let lo = (b[6 + j] & 0x0F) | ((((qh >> j) & 1) as u8) << 4);
        let hi = (b[6 + j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
        y[j] = d * (lo as i32 - 16) as f32;
        y[j + 16] = d * (hi as i32 - 16) as f32;
    }
}

fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (h(b, 0), h(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for j in 0..16 {
        let lo = (b[8 + j] & 0x0F) | ((((qh >> j) & 1) as u8) << 4);
        let hi = (b[8 + j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
        y[j] = d * f32::from(lo) + m;
        y[j + 16] = d * f32::from(hi) + m;
    }
}

fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    for j in 0..32 {
        y[j] = f32::from(b[2 + j] as i8) * d;
    }
}

fn q2_k(b: &[u8], y: &mut [f32]) {
    let (scales, qs) = (&b[0..16], &b[16..80]);
    let (d, dmin) = (h(b, 80), h(b, 82));
    for e in 0..256 {
        let (chunk, r) = (e / 128, e % 128);
        let (shift, l) = (r / 32, r % 32);
        let sc = scales[e / 16];
        let q = (qs[chunk * 32 + l] >> (2 * shift)) & 3;
        y[e] = (d * f32::from(sc & 0x0F)) * f32::from(q) - dmin * f32::from(sc >> 4);
    }
}

fn q3_k(b: &[u8], y: &mut [f32]) {
    let (hmask, qs, sc) = (&b[0..32], &b[32..96], &b[96..108]);
    let d = h(b, 108);
    let mut scales = [0f32; 16];
    for (k, s) in scales.iter_mut().enumerate() {
        let low = if k < 8 { sc[k] & 0x0F } else { sc[k - 8] >> 4 };
        let high = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
        *s = f32::from(((low | (high << 4)) as i8).wrapping_sub(32));
    }
    for e in 0..256 {
        let (chunk, r) = (e / 128, e % 128);
        let (shift, l) = (r / 32, r % 32);
        let ql = (qs[chunk * 32 + l] >> (2 * shift)) & 3;
        let hbit = (hmask[e % 32] >> (e / 32)) & 1;
        let q = ql as i8 - if hbit == 1 { 0 } else { 4 };
        y[e] = (d * scales[e / 16]) * f32::from(q);
    }
}

/// The 6-bit scales and mins of Q4_K/Q5_K (ggml `get_scale_min_k4`).
fn scale_min_k4(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (mut sc, mut mn) = ([0u8; 8], [0u8; 8]);
    for j in 0..4 {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 2) & 0x30);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30);
    }
    (sc, mn)
}

fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (h(b, 0), h(b, 2));
    let (sc, mn) = scale_min_k4(&b[4..16]);
    let qs = &b[16..144];
    for e in 0..256 {
        let (chunk, r) = (e / 64, e % 64);
        let (nib, l) = (r / 32, r % 32);
        let q = (qs[chunk * 32 + l] >> (4 * nib)) & 0x0F;
        let g = e / 32;
        y[e] = (d * f32::from(sc[g])) * f32::from(q) - dmin * f32::from(mn[g]);
    }
}

fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (h(b, 0), h(b, 2));
    let (sc, mn) = scale_min_k4(&b[4..16]);
    let (qh, qs) = (&b[16..48], &b[48..176]);
    for e in 0..256 {
        let (chunk, r) = (e / 64, e % 64);
        let (nib, l) = (r / 32, r % 32);
        let q = ((qs[chunk * 32 + l] >> (4 * nib)) & 0x0F) | (((qh[e % 32] >> (e / 32)) & 1) << 4);
        let g = e / 32;
        y[e] = (d * f32::from(sc[g])) * f32::from(q) - dmin * f32::from(mn[g]);
    }
}

fn q6_k(b: &[u8], y: &mut [f32]) {
    let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
    let d = h(b, 208);
    for e in 0..256 {
        let (chunk, r) = (e / 128, e % 128);
        let low = (ql[chunk * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
        let high = (qh[chunk * 32 + r % 32] >> (2 * (r / 32))) & 3;
        let q = (low | (high << 4)) as i8 - 32;
        y[e] = (d * f32::from(sc[e / 16] as i8)) * f32::from(q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any range of values, across block edges, is what dequantizing every block gives there; a
    /// type without a dequantizer is `None`.
    #[test]
    fn ranges_dequantize_only_their_blocks_to_the_same_values() {
        for (name, size) in [("Q5_0", 22), ("Q8_0", 34), ("Q4_K", 144), ("Q6_K", 210)] {
            let blocks = 5;
            let mut bytes: Vec<u8> = (0..blocks * size).map(|i| (i * 37 % 251) as u8).collect();
            for b in 0..blocks {
                // finite f16 scales (0.01) wherever the type keeps one at the block's start or end
                for at in [0, 2, size - 2] {
                    bytes[b * size + at..b * size + at + 2].copy_from_slice(&f16::from_f32(0.01).to_le_bytes());
                }
            }
            bytes.extend([7, 7, 7]); // a trailing partial block is not a block
            let q = Quantized::new(name, &bytes).unwrap();
            let all = q.to_vec();
            assert_eq!(all.len(), q.len());
            assert_eq!(q.len(), blocks * if size > 40 { 256 } else { 32 });
            for (start, len) in [(0, 1), (3, 40), (31, 2), (q.len() - 5, 5), (17, q.len() - 17), (0, 0)] {
                let mut out = vec![f64::NAN; len];
                q.dequantize_into(start, &mut out);
                assert_eq!(out, all[start..start + len], "{name} {start}+{len}");
            }
            let block = q.len() / blocks;
            assert_eq!(q.block_bytes(block - 1..block + 1).len(), 2 * size);
        }
        assert!(Quantized::new("IQ2_XXS", &[0; 66]).is_none());
        assert!(dequantize("TQ1_0", &[0; 54]).is_none());
    }
}

//! Storage dtypes and their widening to f64.

use std::fmt;

/// A dtype that holds no real numbers (integers, booleans) has nothing to widen to f64
/// ([`crate::CoreError::NotFloat`] once it reaches the core's error type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("dtype {0} is not a floating-point type")]
pub struct NotFloat(pub Dtype);

/// A storage dtype as checkpoints name it (safetensors spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dtype {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16 (the upper half of a binary32).
    BF16,
    /// A block-quantized type (GGUF `Q4_K`, …): readers dequantize it to f64 themselves.
    Quantized(&'static str),
    /// Any other dtype (integers, booleans, 8-bit floats), kept by name so it can be reported.
    Other(&'static str),
}

impl Dtype {
    /// Bytes per element for the floating-point dtypes this crate widens.
    pub fn size(self) -> Option<usize> {
        match self {
            Dtype::F64 => Some(8),
            Dtype::F32 => Some(4),
            Dtype::F16 | Dtype::BF16 => Some(2),
            Dtype::Quantized(_) | Dtype::Other(_) => None,
        }
    }

    /// True for the dtypes that hold real numbers svdiag analyzes: the four floats, and quantized
    /// types (which their reader dequantizes).
    pub fn is_real(self) -> bool {
        !matches!(self, Dtype::Other(_))
    }

    /// The name as written in outputs (`F32`, `BF16`, …).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F64 => "F64",
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::Quantized(name) | Dtype::Other(name) => name,
        }
    }

    /// Widens little-endian elements of this dtype into `out` (exactly: every value of these
    /// dtypes is representable in f64). `bytes.len()` must be `out.len() * size`.
    pub fn widen_le(self, bytes: &[u8], out: &mut [f64]) -> Result<(), NotFloat> {
        let size = self.size().ok_or(NotFloat(self))?;
        debug_assert_eq!(bytes.len(), out.len() * size);
        // compiled for the CPU's vector extensions and chosen at run time (the widening runs once
        // per pass over a stored matrix)
        pulp::Arch::new().dispatch(Widen { dtype: self, size, bytes, out });
        Ok(())
    }
}

/// The widening loops of [`Dtype::widen_le`], as a `pulp` operation.
struct Widen<'a> {
    dtype: Dtype,
    size: usize,
    bytes: &'a [u8],
    out: &'a mut [f64],
}

impl pulp::WithSimd for Widen<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self { dtype, size, bytes, out } = self;
        let chunks = bytes.chunks_exact(size);
        match dtype {
            Dtype::F64 => {
                for (o, c) in out.iter_mut().zip(chunks) {
                    *o = f64::from_le_bytes(c.try_into().expect("chunk of 8"));
                }
            }
            Dtype::F32 => {
                for (o, c) in out.iter_mut().zip(chunks) {
                    *o = f64::from(f32::from_le_bytes(c.try_into().expect("chunk of 4")));
                }
            }
            Dtype::F16 => {
                for (o, c) in out.iter_mut().zip(chunks) {
                    *o = half::f16::from_le_bytes(c.try_into().expect("chunk of 2")).to_f64();
                }
            }
            Dtype::BF16 => {
                // through f32 (exact: bf16 is the top half of an f32): that conversion is a shift
                // and vectorizes, where `bf16::to_f64` branches on every value
                for (o, c) in out.iter_mut().zip(chunks) {
                    *o = f64::from(half::bf16::from_le_bytes(c.try_into().expect("chunk of 2")).to_f32());
                }
            }
            Dtype::Quantized(_) | Dtype::Other(_) => unreachable!("widen_le checked size() first"),
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Dtype {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Dtype {
    /// Rounds f64 values to this dtype (to nearest, ties to even) and writes them little-endian:
    /// the inverse of [`Dtype::widen_le`] for values it produced.
    pub fn narrow_le(self, values: &[f64]) -> Result<Vec<u8>, NotFloat> {
        let size = self.size().ok_or(NotFloat(self))?;
        let mut out = Vec::with_capacity(values.len() * size);
        for &v in values {
            match self {
                Dtype::F64 => out.extend_from_slice(&v.to_le_bytes()),
                Dtype::F32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
                Dtype::F16 => out.extend_from_slice(&half::f16::from_f64(v).to_le_bytes()),
                Dtype::BF16 => out.extend_from_slice(&half::bf16::from_f64(v).to_le_bytes()),
                Dtype::Quantized(_) | Dtype::Other(_) => unreachable!("size() returned None above"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Dtype;

    /// Every one of the 65536 bf16 and f16 bit patterns widens to the value `half` gives it
    /// (NaN to NaN), through the vectorized loops.
    #[test]
    fn widening_is_exact_for_every_16_bit_pattern() {
        let bytes: Vec<u8> = (0..=u16::MAX).flat_map(|b| b.to_le_bytes()).collect();
        let mut out = vec![0.0; 1 << 16];
        for dtype in [Dtype::BF16, Dtype::F16] {
            dtype.widen_le(&bytes, &mut out).unwrap();
            for (bits, &got) in (0..=u16::MAX).zip(&out) {
                let want = match dtype {
                    Dtype::BF16 => half::bf16::from_bits(bits).to_f64(),
                    _ => half::f16::from_bits(bits).to_f64(),
                };
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{dtype} {bits:#06x}: {got} vs {want}"
                );
            }
        }
    }
}

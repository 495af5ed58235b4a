//! Helpers shared by the analysis tests: seeded normals and a safetensors writer.
#![allow(dead_code)]

use std::io::Write;

/// SplitMix64 + Box–Muller: seeded normals.
pub struct Rng(pub u64);
impl Rng {
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (((z ^ (z >> 31)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A safetensors file of F64 matrices.
pub fn write(path: &std::path::Path, tensors: &[(String, usize, usize, Vec<f64>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, m, n, _) in tensors {
        let len = m * n * 8;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F64", "shape": [m, n], "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut h = serde_json::to_vec(&header).unwrap();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&(h.len() as u64).to_le_bytes()).unwrap();
    f.write_all(&h).unwrap();
    for (_, _, _, w) in tensors {
        for x in w {
            f.write_all(&x.to_le_bytes()).unwrap();
        }
    }
}

//! Shared by the fuzz targets: write the input to a file (the readers memory-map files), open it
//! with one reader, and read every tensor. The minimum property is "never panics, never hangs,
//! never allocates without bound"; tensor data must also have exactly the length the reader
//! promised.

use std::io::Write;
use std::path::{Path, PathBuf};

use svdiag_formats::{FormatError, TensorData, TensorSource};

fn scratch() -> PathBuf {
    let dir = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    dir.join(format!("svdiag-fuzz-{}", std::process::id()))
}

pub fn exercise<S: TensorSource>(data: &[u8], open: impl Fn(&Path) -> Result<S, FormatError>) {
    let path = scratch();
    std::fs::File::create(&path).and_then(|mut f| f.write_all(data)).expect("scratch file");
    if let Ok(source) = open(&path) {
        for (i, info) in source.tensors().iter().enumerate() {
            match source.read(i) {
                Ok(TensorData::Bytes(b)) => {
                    if let Some(size) = info.dtype.size() {
                        assert_eq!(b.len(), info.byte_len, "{}: bytes vs promised length", info.name);
                        let numel = svdiag_core::numel(&info.shape);
                        assert_eq!(Some(b.len()), numel.map(|n| n * size), "{}: bytes vs shape", info.name);
                    }
                }
                Ok(TensorData::F64(v)) => {
                    let numel = svdiag_core::numel(&info.shape);
                    assert_eq!(Some(v.len()), numel, "{}: values vs shape", info.name);
                }
                Ok(TensorData::Quantized(q)) => {
                    let numel = svdiag_core::numel(&info.shape);
                    assert_eq!(Some(q.len()), numel, "{}: quantized values vs shape", info.name);
                    // every value, a chunk at a time (as the analysis widens them)
                    let mut chunk = vec![0.0; 4096];
                    for start in (0..q.len()).step_by(chunk.len()) {
                        let n = chunk.len().min(q.len() - start);
                        q.dequantize_into(start, &mut chunk[..n]);
                    }
                }
                Ok(TensorData::Spectrum(_)) => panic!("{}: a file reader served a spectrum", info.name),
                Err(_) => {}
            }
            source.release(i);
        }
    }
}

#![no_main]
//! Zip containers (PyTorch zip checkpoints, NumPy .npz) and legacy PyTorch pickles, through the
//! content sniffing of `svdiag_formats::open`, on arbitrary bytes.

#[path = "common.rs"]
mod common;

struct Boxed(Box<dyn svdiag_formats::TensorSource>);

impl svdiag_formats::TensorSource for Boxed {
    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
    fn format(&self) -> &'static str {
        self.0.format()
    }
    fn tensors(&self) -> &[svdiag_formats::TensorInfo] {
        self.0.tensors()
    }
    fn read(&self, i: usize) -> Result<svdiag_formats::TensorData<'_>, svdiag_formats::FormatError> {
        self.0.read(i)
    }
    fn release(&self, i: usize) {
        self.0.release(i)
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::exercise(data, |p| svdiag_formats::open(p).map(Boxed));
});

#![no_main]
//! The onnx reader on arbitrary bytes.

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::exercise(data, svdiag_formats::onnx::OnnxFile::open);
});

#![no_main]
//! The safetensors reader on arbitrary bytes.

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::exercise(data, svdiag_formats::safetensors::SafetensorsFile::open);
});

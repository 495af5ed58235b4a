#![no_main]
//! The npy reader on arbitrary bytes.

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::exercise(data, svdiag_formats::npy::NpyFile::open);
});

#![no_main]
//! The Keras HDF5 reader (and its HDF5 subset) on arbitrary bytes. `.keras` archives go through the
//! zip target (`pytorch_zip`), which opens every zip format by content. Run with the dictionary:
//! `cargo +nightly fuzz run keras_h5 -- -dict=keras_h5.dict`.

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::exercise(data, svdiag_formats::keras::KerasFile::open);
});

//! Shared code of the fuzz targets in `fuzz_targets/`: each target is a few
//! lines that hand libFuzzer's input to one function here.
//!
//! Invariant: every check panics (and so reports a crash) exactly when the
//! guest breaks a documented promise; well-formed rejections of bad input are
//! never a failure.

pub mod checks;
pub mod differential;
pub mod expo;

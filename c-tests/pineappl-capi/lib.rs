//! pineappl's C API (`pineappl_capi` 1.3.3) re-exported as a static library for the C tests: its
//! `extern "C"` functions end up in `libpineappl_capi_for_tests.a`.
pub use pineappl_capi::*;

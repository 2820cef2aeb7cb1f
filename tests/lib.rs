//! Nothing to link: the tests are in `main.rs` (one test binary, modules by subject).

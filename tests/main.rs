//! Switchboard's integration tests, one binary (style: ripgrep's `tests/tests.rs`).
//!
//! - `relay_ws`: a real relay in-process, real WebSocket clients: happy path, every bad-input
//!   class, origins and tokens, persistence through the store;
//! - `e2e`: the relay as a process, the demo shop, the widget and the console in headless
//!   Chromium driven over WebDriver;
//! - `util`: starting relays, clients and browsers.

mod e2e;
mod relay_ws;
mod util;

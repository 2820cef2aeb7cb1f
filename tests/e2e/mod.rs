//! Browser end-to-end tests (being written).

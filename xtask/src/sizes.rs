//! `cargo xtask sizes`: what a visitor downloads, measured on `dist/` (raw, gzip -9, brotli -q 11).
//!
//! Budgets (issue 2): the loader ≤ 2 KB brotli, everything to the first message ≤ 90 KB brotli.

use std::fs;

use anyhow::Context;

use crate::dist::{brotli, gzip};
use crate::tools::root;

pub const LOADER_BUDGET_BR: usize = 2 * 1024;
pub const TOTAL_BUDGET_BR: usize = 90 * 1024;

pub struct Size {
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

/// Prints the table and returns (loader, everything).
pub fn run() -> anyhow::Result<(Size, Size)> {
    let dist = root().join("dist");
    let mut rows = vec![(
        "widget.js (loader)".to_owned(),
        measure(
            &fs::read(dist.join("widget.js"))
                .context("no dist/widget.js: run `cargo xtask dist`")?,
        )?,
    )];
    let mut names: Vec<_> = crate::dist::files(&dist.join("assets"))?;
    names.sort();
    for path in names {
        let name = path.strip_prefix(&dist)?.display().to_string();
        rows.push((name, measure(&fs::read(&path)?)?));
    }
    let total = Size {
        raw: rows.iter().map(|r| r.1.raw).sum(),
        gzip: rows.iter().map(|r| r.1.gzip).sum(),
        brotli: rows.iter().map(|r| r.1.brotli).sum(),
    };
    println!(
        "\n{:<40} {:>10} {:>10} {:>10}",
        "file (bytes)", "raw", "gzip", "brotli"
    );
    for (name, s) in &rows {
        println!("{name:<40} {:>10} {:>10} {:>10}", s.raw, s.gzip, s.brotli);
    }
    println!(
        "{:<40} {:>10} {:>10} {:>10}",
        "total to first message", total.raw, total.gzip, total.brotli
    );
    let loader = rows.swap_remove(0).1;
    let verdict = |v: usize, budget: usize| if v <= budget { "within" } else { "OVER" };
    println!(
        "budgets: loader {} B brotli ({} {} B); total {} B brotli ({} {} B)",
        loader.brotli,
        verdict(loader.brotli, LOADER_BUDGET_BR),
        LOADER_BUDGET_BR,
        total.brotli,
        verdict(total.brotli, TOTAL_BUDGET_BR),
        TOTAL_BUDGET_BR
    );
    Ok((loader, total))
}

fn measure(bytes: &[u8]) -> anyhow::Result<Size> {
    Ok(Size {
        raw: bytes.len(),
        gzip: gzip(bytes)?.len(),
        brotli: brotli(bytes)?.len(),
    })
}

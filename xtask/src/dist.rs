//! `cargo xtask dist`: the browser bundles.
//!
//! Pipeline (see ../shared/toolchain.md §4a): cargo (wasm32, `wasm-release` profile) →
//! wasm-bindgen (`--target web`, name and producers sections removed) → the widget's files get
//! content-hashed names under `dist/assets/`, the loader template gets those names, and every
//! file gets `.br` and `.gz` siblings for the relay to serve by `Accept-Encoding`.
//!
//! wasm-opt is not run: measured on this stack it saves ~18% raw but ~0% after brotli, and
//! Debian's binaryen miscompiles wasm-bindgen output (toolchain.md P1).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::tools::{self, root, step};

const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-release";

pub fn run() -> anyhow::Result<()> {
    tools::ensure_wasm_target()?;
    tools::ensure_wasm_bindgen()?;
    step("building the widget and console for wasm32 (profile wasm-release)");
    tools::cargo(&[
        "build",
        "--target",
        TARGET,
        "--profile",
        PROFILE,
        "-p",
        "switchboard-widget",
        "-p",
        "switchboard-console",
    ])?;
    let dist = root().join("dist");
    if dist.exists() {
        fs::remove_dir_all(&dist)?;
    }
    fs::create_dir_all(dist.join("assets"))?;
    fs::create_dir_all(dist.join("console"))?;
    let tmp = root().join("target/xtask-bindgen");
    step("wasm-bindgen");
    bindgen("switchboard_widget", &tmp)?;
    bindgen("switchboard_console", &dist.join("console"))?;

    step("hashing widget assets and writing the loader");
    let glue = hashed(&tmp.join("switchboard_widget.js"), &dist, "js")?;
    let wasm = hashed(&tmp.join("switchboard_widget_bg.wasm"), &dist, "wasm")?;
    // Comments and indentation are for people reading widget.css, not for every visitor.
    let css = fs::read_to_string(root().join("widget/widget.css")).context("reading widget.css")?;
    let css = hashed_bytes(strip_comments(&css).as_bytes(), &dist, "css")?;
    let loader =
        fs::read_to_string(root().join("widget/loader.js")).context("reading widget/loader.js")?;
    anyhow::ensure!(
        ["__SB_GLUE__", "__SB_WASM__", "__SB_CSS__"]
            .iter()
            .all(|p| loader.contains(p)),
        "widget/loader.js lacks a placeholder"
    );
    let loader = squeeze(&strip_comments(&loader))
        .replace("__SB_GLUE__", &glue)
        .replace("__SB_WASM__", &wasm)
        .replace("__SB_CSS__", &css);
    fs::write(dist.join("widget.js"), loader)?;
    for file in ["index.html", "console.css", "boot.js"] {
        fs::copy(
            root().join("console").join(file),
            dist.join("console").join(file),
        )
        .with_context(|| format!("copying console/{file}"))?;
    }

    step("precompressing (brotli 11, gzip 9)");
    precompress(&dist)?;
    eprintln!("    dist/ ready");
    // The loader's budget and the total's ratchet are hard limits: CI runs `dist`.
    let (loader, total) = crate::sizes::run()?;
    crate::sizes::check(&loader, &total)
}

/// The loader is on every page view, its comments on none: block comments, whole-line `//`
/// comments and indentation go. (The loader keeps no `/*` or line-leading `//` inside a
/// string, and no comment after code on a line.)
fn strip_comments(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    let mut rest = js;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Drops the spaces beside punctuation outside string literals (`a = b + c;` → `a=b+c;`),
/// which brotli does not make free: ~60 B of the loader's budget. Spaces between two words
/// stay (`return x`, `else if`). (The loader keeps no quote or space inside a regex literal.)
fn squeeze(js: &str) -> String {
    const PUNCT: &str = "{}()[];,=+-*<>!&|?:";
    let mut out = String::with_capacity(js.len());
    let mut quote = None;
    let mut chars = js.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                out.extend(chars.next());
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
        }
        if c != ' ' {
            out.push(c);
            continue;
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let before = out.chars().last().is_some_and(|p| PUNCT.contains(p));
        let after = chars.peek().is_some_and(|n| PUNCT.contains(*n));
        if !before && !after {
            out.push(' ');
        }
    }
    out
}

fn bindgen(name: &str, out: &Path) -> anyhow::Result<()> {
    let input = root().join(format!("target/{TARGET}/{PROFILE}/{name}.wasm"));
    tools::run(
        Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--remove-name-section",
                "--remove-producers-section",
            ])
            .arg("--out-dir")
            .arg(out)
            .arg(input),
    )
}

/// Copies `src` to `dist/assets/sb-widget.<hash>.<ext>`; returns the path relative to `dist/`.
fn hashed(src: &Path, dist: &Path, ext: &str) -> anyhow::Result<String> {
    let bytes = fs::read(src).with_context(|| format!("reading {}", src.display()))?;
    hashed_bytes(&bytes, dist, ext)
}

/// Writes `bytes` to `dist/assets/sb-widget.<hash>.<ext>`; returns the path relative to `dist/`.
fn hashed_bytes(bytes: &[u8], dist: &Path, ext: &str) -> anyhow::Result<String> {
    let digest = Sha256::digest(bytes);
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let rel = format!("assets/sb-widget.{hash}.{ext}");
    fs::write(dist.join(&rel), bytes)?;
    Ok(rel)
}

fn precompress(dir: &Path) -> anyhow::Result<()> {
    for path in files(dir)? {
        let bytes = fs::read(&path)?;
        fs::write(with_suffix(&path, "br"), brotli(&bytes)?)?;
        fs::write(with_suffix(&path, "gz"), gzip(&bytes)?)?;
    }
    Ok(())
}

pub fn files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files(&path)?);
        } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz")) {
            out.push(path);
        }
    }
    Ok(out)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(suffix);
    s.into()
}

pub fn brotli(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

pub fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

#[cfg(test)]
mod tests {
    use super::squeeze;

    #[test]
    fn squeeze_keeps_strings_and_words_apart() {
        assert_eq!(
            squeeze(r#"if (a == "x y") return b + 'p, q';"#),
            r#"if(a=="x y")return b+'p, q';"#
        );
        assert_eq!(squeeze(r#"var s = "a \" b" , t;"#), r#"var s="a \" b",t;"#);
        assert_eq!(squeeze("else if (x) { y(); }"), "else if(x){y();}");
    }
}

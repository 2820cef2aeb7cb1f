//! Static files: the embed loader, the widget's content-hashed assets, the agent console.
//!
//! `cargo xtask dist` writes `dist/` with a `.br` and `.gz` beside every file; `ServeDir` picks
//! the variant the browser's `Accept-Encoding` allows. Hashed assets never change under their
//! name, so they are cached for a year; the loader keeps one name and is cached briefly so a new
//! release reaches visitors within minutes.
//!
//! `widget.js?site=KEY` is the loader with that site's theme (`crate::theme`) at the end of its
//! launcher's stylesheet; every loader comes in the visitor's language (`crate::loader_text`,
//! from `Accept-Language`). All of them are built and compressed once at start; English
//! without a theme is the file itself.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Site;
use crate::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const LOADER: &str = "public, max-age=300";
const REVALIDATE: &str = "no-cache";

pub fn routes(dir: &Path, sites: &[Site]) -> Router<AppState> {
    if !dir.join("widget.js").exists() {
        tracing::warn!(dir = %dir.display(), "no built assets here; run `cargo xtask dist` (the widget and console will 404)");
    }
    let plain = ServeFile::new(dir.join("widget.js"))
        .precompressed_br()
        .precompressed_gzip();
    let built = Arc::new(loaders(dir, sites));
    let loader = get(move |req: Request| {
        let (plain, built) = (plain.clone(), built.clone());
        async move {
            let site = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("site=")))
                .filter(|key| built.themed.contains(*key))
                .map(str::to_owned);
            let lang = crate::loader_text::choose(
                req.headers()
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )[0];
            match built.variants.get(&(site, lang)) {
                Some(loader) => loader.respond(req.headers()),
                None => plain.oneshot(req).await.into_response(),
            }
        }
    });
    let hashed = ServeDir::new(dir.join("assets"))
        .precompressed_br()
        .precompressed_gzip();
    let console = ServeDir::new(dir.join("console"))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .route("/widget.js", loader)
        .layer(cache(LOADER))
        .layer(SetResponseHeaderLayer::overriding(
            header::VARY,
            HeaderValue::from_static("accept-encoding, accept-language"),
        ))
        .nest_service(
            "/assets",
            tower::ServiceBuilder::new()
                .layer(cache(IMMUTABLE))
                // The widget's module and wasm are fetched cross-origin from the host page.
                .layer(SetResponseHeaderLayer::overriding(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ))
                .service(hashed),
        )
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .nest_service(
            "/console/",
            tower::ServiceBuilder::new()
                .layer(cache(REVALIDATE))
                .layer(crate::headers::console())
                .service(console),
        )
}

fn cache(value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static(value))
}

/// One loader (a site's theme, a language), in each encoding a browser may take.
struct Built {
    raw: Vec<u8>,
    gzip: Vec<u8>,
    brotli: Vec<u8>,
}

impl Built {
    fn new(text: String) -> Built {
        let raw = text.into_bytes();
        Built {
            gzip: gzip(&raw),
            brotli: brotli(&raw),
            raw,
        }
    }

    fn respond(&self, headers: &HeaderMap) -> Response {
        let accepts = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let (body, encoding) = if accepts.contains("br") {
            (&self.brotli, Some("br"))
        } else if accepts.contains("gzip") {
            (&self.gzip, Some("gzip"))
        } else {
            (&self.raw, None)
        };
        let mut res = Response::new(Body::from(body.clone()));
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        );
        if let Some(e) = encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        res
    }
}

/// Every loader but the plain English one: (site with a theme or none, language) → loader.
struct Loaders {
    themed: HashSet<String>,
    variants: HashMap<(Option<String>, &'static str), Built>,
}

/// A site's theme goes in at the end of the loader's launcher stylesheet (the JavaScript string
/// that starts with its `:host` rule), the visitor's words in place of the loader's English
/// array, both escaped for a JavaScript string: the file may be read in the host page's
/// encoding, so only ASCII goes in.
fn loaders(dir: &Path, sites: &[Site]) -> Loaders {
    let mut out = Loaders {
        themed: Default::default(),
        variants: HashMap::new(),
    };
    let Ok(loader) = std::fs::read_to_string(dir.join("widget.js")) else {
        return out;
    };
    let theme_at = loader
        .find(":host{all:initial")
        .and_then(|start| loader[start..].find("\")").map(|end| start + end));
    if theme_at.is_none() {
        tracing::warn!("widget.js has no launcher stylesheet: site themes are not served");
    }
    let english = crate::loader_text::array(&crate::loader_text::WORDS[0], str::to_owned);
    if !loader.contains(&english) {
        tracing::warn!("widget.js has no array of English words: the loader speaks English only");
    }
    // (site, its launcher label, the loader with its theme)
    let mut bases = vec![(None, None, loader.clone())];
    for site in sites {
        let (Some(at), Some(theme)) = (theme_at, site.theme.as_ref()) else {
            continue;
        };
        let css = theme.css();
        if css.is_empty() {
            continue;
        }
        let themed = format!("{}{}{}", &loader[..at], js_string_body(&css), &loader[at..]);
        out.themed.insert(site.key.clone());
        bases.push((
            Some(site.key.clone()),
            theme.launcher_label.as_deref(),
            themed,
        ));
    }
    for (site, label, text) in bases {
        for words in &crate::loader_text::WORDS {
            let lang = words[0];
            if site.is_none() && lang == "en" {
                continue;
            }
            // The site's launcher label names the placeholder too, as it names the widget's.
            let mut words: [&str; 5] = *words;
            if let Some(label) = label {
                words[1] = label;
            }
            let text = text.replacen(
                &english,
                &crate::loader_text::array(&words, js_string_body),
                1,
            );
            out.variants.insert((site.clone(), lang), Built::new(text));
        }
    }
    out
}

/// `text` escaped to sit between the double quotes of a JavaScript string, in ASCII.
fn js_string_body(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for unit in text.encode_utf16() {
        match unit {
            0x5c => out.push_str("\\\\"),
            0x22 => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(unit as u8)),
            _ => out.push_str(&format!("\\u{unit:04x}")),
        }
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    let _ = brotli::BrotliCompress(&mut &bytes[..], &mut out, &params);
    out
}

#[cfg(test)]
mod tests {
    use super::js_string_body;

    #[test]
    fn css_goes_into_a_javascript_string_as_ascii() {
        assert_eq!(js_string_body(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(js_string_body("مر"), "\\u0645\\u0631");
        assert_eq!(js_string_body("😀"), "\\ud83d\\ude00");
    }
}

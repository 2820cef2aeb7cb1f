//! Static files: the embed loader, the widget's content-hashed assets, the agent console.
//!
//! `cargo xtask dist` writes `dist/` with a `.br` and `.gz` beside every file; `ServeDir` picks
//! the variant the browser's `Accept-Encoding` allows. Hashed assets never change under their
//! name, so they are cached for a year; the loader keeps one name and is cached briefly so a new
//! release reaches visitors within minutes.

use std::path::Path;

use axum::http::{header, HeaderValue};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const LOADER: &str = "public, max-age=300";
const REVALIDATE: &str = "no-cache";

pub fn routes(dir: &Path) -> Router<AppState> {
    if !dir.join("widget.js").exists() {
        tracing::warn!(dir = %dir.display(), "no built assets here; run `cargo xtask dist` (the widget and console will 404)");
    }
    let loader = ServeFile::new(dir.join("widget.js"))
        .precompressed_br()
        .precompressed_gzip();
    let hashed = ServeDir::new(dir.join("assets"))
        .precompressed_br()
        .precompressed_gzip();
    let console = ServeDir::new(dir.join("console"))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .route_service("/widget.js", loader)
        .layer(cache(LOADER))
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

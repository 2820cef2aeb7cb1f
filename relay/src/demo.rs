//! Demo mode's shop: the `demo-site/` pages on their own port, so the widget is embedded
//! cross-origin exactly as on a customer's site. `{{RELAY}}` in an HTML page becomes the relay's
//! public URL.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::ServeDir;

#[derive(Clone)]
struct Shop {
    dir: PathBuf,
    relay: String,
}

pub fn routes(dir: &Path, relay_url: &str) -> Router {
    Router::new().fallback(page).with_state(Shop {
        dir: dir.to_owned(),
        relay: relay_url.to_owned(),
    })
}

async fn page(State(shop): State<Shop>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_owned();
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path
    };
    let safe = Path::new(&path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return StatusCode::NOT_FOUND.into_response();
    }
    if !path.ends_with(".html") {
        return ServeDir::new(&shop.dir).oneshot(req).await.into_response();
    }
    match tokio::fs::read_to_string(shop.dir.join(&path)).await {
        Ok(html) => {
            let relay = shop.relay.trim_end_matches('/');
            (
                [(header::CACHE_CONTROL, "no-cache")],
                Html(html.replace("{{RELAY}}", relay)),
            )
                .into_response()
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

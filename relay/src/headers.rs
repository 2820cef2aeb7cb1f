//! Security headers. Every response says `nosniff` (a file served as text or JSON is never run
//! as a script or page); the console, which holds an agent's session, also gets a
//! Content-Security-Policy without inline script, may not be framed (clickjacking), leaks no
//! URL in `Referer`, and switches off browser features it does not use.

use axum::http::{header, HeaderName, HeaderValue};
use tower::layer::util::Stack;
use tower_http::set_header::SetResponseHeaderLayer;

/// The console's policy: its own scripts and styles only (`'wasm-unsafe-eval'` lets its
/// WebAssembly compile), sockets to its own relay, images from https (bot avatars), no
/// plugins, no framing, forms and `<base>` pinned.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' https: data:; connect-src 'self' ws: wss:; \
     font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'; object-src 'none'";

/// Features the console never uses; denied so an injected frame or script cannot ask.
pub const PERMISSIONS: &str =
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";

fn set(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// `nosniff` on every response.
pub fn baseline() -> SetResponseHeaderLayer<HeaderValue> {
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
}

type Layers<A, B> = Stack<A, B>;
type Set = SetResponseHeaderLayer<HeaderValue>;

/// The console's headers.
pub fn console() -> Layers<Set, Layers<Set, Layers<Set, Set>>> {
    Stack::new(
        set(header::CONTENT_SECURITY_POLICY, CONSOLE_CSP),
        Stack::new(
            set(header::X_FRAME_OPTIONS, "DENY"),
            Stack::new(
                set(header::REFERRER_POLICY, "no-referrer"),
                set(HeaderName::from_static("permissions-policy"), PERMISSIONS),
            ),
        ),
    )
}

//! Pages that lock the widget down, served by the test itself (its own origin, with its own
//! headers): a strict Content-Security-Policy (no `'unsafe-inline'` anywhere, Trusted Types
//! required) with a hostile stylesheet, embedded both ways README gives (the plain tag under
//! the minimal policy; the zero-impact snippet with a nonce and nothing but nonces for
//! scripts); and a sandboxed iframe (opaque origin: no storage, no Web Locks). In each the
//! visitor opens the widget, sends, and sees an agent's reply; no CSP violation and nothing
//! thrown reaches the page; axe-core finds nothing; screenshots in `artifacts/`.

use std::net::SocketAddr;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use fantoccini::{Client as Browser, Locator};
use serde_json::{json, Value};

use super::axe::assert_clean_in;
use super::harness::{with_browsers, Chromedriver, RelayProcess};
use super::page::*;
use super::visitors_world::{agent, answer, screenshot};
use crate::util::free_port;

const NONCE: &str = "r4nd0mN0nce";

/// Records what the site's monitoring would see: CSP violations, errors, rejections. First in
/// `<head>`, nonced like every inline script of these pages.
const WATCH: &str = "<script nonce=\"NONCE\">window.__csp = []; window.__errors = [];\
document.addEventListener('securitypolicyviolation', e => __csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber), true);\
addEventListener('error', e => __errors.push(String(e.message)));\
addEventListener('unhandledrejection', e => __errors.push(String(e.reason)));\
window.__console = []; for (const k of ['warn', 'error']) { const f = console[k]; console[k] = (...a) => { __console.push(a.map(String).join(' ')); f.apply(console, a); }; }</script>";

/// Everything a hostile (or careless) stylesheet does to widgets: hides every element it can,
/// unsets custom elements and anything with an id, covers the page with an overlay.
const HOSTILE_CSS: &str = "\
div, button, section, form, textarea, ol, ul, li, p, span, svg { display: none !important; visibility: hidden !important; opacity: 0 !important; }\n\
[id], :not(:defined), body > :not(main) { all: unset !important; display: none !important; transform: scale(0) !important; }\n\
* { font-size: 40px !important; color: magenta !important; background: yellow !important; z-index: 1 !important; }\n\
main::before { content: 'Hostile page'; position: fixed; inset: 0; z-index: 2147483647 !important; background: rgba(255, 255, 0, 0.3) !important; }\n\
main { position: relative; z-index: 2147483647 !important; }\n";

/// README's snippet: a nonce on it, the nonce passed to the loader's tag, and the one script URL
/// through a Trusted Types policy.
fn snippet(relay: &str) -> String {
    format!(
        "<script nonce=\"NONCE\">(function(w,d){{var n=d.currentScript.nonce,u=\"{relay}/widget.js\",t=w.trustedTypes;\
w.Switchboard=w.Switchboard||function(){{(Switchboard.q=Switchboard.q||[]).push(arguments)}};\
function l(){{var s=d.createElement(\"script\");s.async=true;s.nonce=n;\
s.src=t?t.createPolicy(\"switchboard\",{{createScriptURL:function(){{return u}}}}).createScriptURL(u):u;\
s.setAttribute(\"data-site\",\"demo\");d.head.appendChild(s)}}\
if(d.readyState===\"complete\")l();else w.addEventListener(\"load\",l)}})(window,document);</script>"
    )
}

fn page(head: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Locked-down shop</title>\
{WATCH}{head}<link rel=\"stylesheet\" href=\"/hostile.css\"></head>\
<body><main><h1>Locked-down shop</h1><p>Rain jackets, 89 EUR.</p></main>{body}</body></html>"
    )
    .replace("NONCE", NONCE)
}

/// The test's own site: `/tag.html` (plain tag, README's minimal policy), `/snippet.html`
/// (nonces only), `/framed.html` (the shop in a sandboxed iframe), `/inner.html`,
/// `/consent-ar.html` (an Arabic page in consent mode).
async fn site(relay_port: u16) -> SocketAddr {
    let relay = format!("http://127.0.0.1:{relay_port}");
    let ws = format!("ws://127.0.0.1:{relay_port}");
    // README's policy, exactly, with the page's own scripts nonced.
    let minimal = format!(
        "script-src 'self' 'nonce-{NONCE}' {relay} 'wasm-unsafe-eval'; style-src 'self'; \
         connect-src {ws} {relay}; require-trusted-types-for 'script'"
    );
    // Nonces only (no host for scripts), Trusted Types with one named policy, nothing else.
    let nonces = format!(
        "default-src 'none'; script-src 'nonce-{NONCE}' 'wasm-unsafe-eval'; style-src 'self'; \
         connect-src {ws} {relay}; require-trusted-types-for 'script'; trusted-types switchboard"
    );
    let tag = page(
        &format!("<script async src=\"{relay}/widget.js\" data-site=\"demo\"></script>"),
        "",
    );
    let snippet = page(&snippet(&relay), "");
    let inner = page(
        &format!("<script async src=\"{relay}/widget.js\" data-site=\"demo\"></script>"),
        "",
    );
    let consent_ar = format!(
        "<!doctype html><html lang=\"ar\" dir=\"rtl\"><head><meta charset=\"utf-8\"><title>الخصوصية</title>\
<script async src=\"{relay}/widget.js\" data-site=\"demo\" data-consent=\"required\"></script></head>\
<body><main><h1>الخصوصية</h1><p>لا نخزّن شيئًا قبل موافقتك.</p></main></body></html>"
    );
    let framed =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Framed shop</title>\
<script>window.__errors = []; addEventListener('error', e => __errors.push(String(e.message)));\
addEventListener('unhandledrejection', e => __errors.push(String(e.reason)));</script></head>\
<body><h1>Outer page</h1><iframe sandbox=\"allow-scripts\" src=\"/inner.html\" title=\"Shop\" \
style=\"width: 720px; height: 640px; border: 1px solid #888\"></iframe></body></html>"
            .to_owned();
    let html = |body: String, csp: Option<String>| {
        move || {
            let (body, csp) = (body.clone(), csp.clone());
            async move {
                let mut res =
                    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
                if let Some(csp) = csp {
                    res.headers_mut()
                        .insert(header::CONTENT_SECURITY_POLICY, csp.parse().unwrap());
                }
                res
            }
        }
    };
    let app = Router::new()
        .route("/tag.html", get(html(tag, Some(minimal))))
        .route("/snippet.html", get(html(snippet, Some(nonces))))
        .route("/inner.html", get(html(inner, None)))
        .route("/framed.html", get(html(framed, None)))
        .route("/consent-ar.html", get(html(consent_ar, None)))
        .route(
            "/hostile.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], HOSTILE_CSS) }),
        );
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A relay whose `demo` site takes any origin (the test's site, and `null`: a sandboxed frame).
async fn relay() -> (RelayProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        "[[sites]]\nkey = \"demo\"\nname = \"Demo shop\"\nallowed_origins = [\"*\"]\n",
    )
    .unwrap();
    let relay = RelayProcess::start_with(&["--config", file.to_str().unwrap()]).await;
    (relay, dir)
}

async fn watched(c: &Browser) -> Value {
    c.execute("return [window.__csp || null, window.__errors];", vec![])
        .await
        .unwrap()
}

/// Opens the widget, sends `question`, waits for the agent's `reply` in the widget.
async fn chat(c: &Browser, desk: &mut crate::util::Client, question: &str, reply: &str) {
    open_widget(c).await;
    visitor_send(c, question).await;
    answer(desk, question, reply).await;
    wait_widget_message(c, "agent", reply, None).await;
}

#[tokio::test]
async fn strict_csp_with_trusted_types_and_a_hostile_stylesheet() {
    let (relay, _dir) = relay().await;
    let mut desk = agent(&relay).await;
    let addr = site(relay.port).await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        // The plain tag under the minimal policy; then the snippet under nonces only, on
        // another origin (`localhost`), so it is a new visitor there.
        for (url, question, reply, shot) in [
            (
                format!("http://127.0.0.1:{}/tag.html", addr.port()),
                "Is the rain jacket waterproof?",
                "Yes, 20,000 mm, taped seams.",
                "csp-strict-tag.png",
            ),
            (
                format!("http://localhost:{}/snippet.html", addr.port()),
                "Do you ship to Oslo?",
                "We do, in 3 working days.",
                "csp-strict-snippet.png",
            ),
        ] {
            c.goto(&url).await.unwrap();
            chat(&c, &mut desk, question, reply).await;
            // The hostile sheet reached neither the host element nor the widget inside.
            let look = in_widget(
                &c,
                "const p = root.querySelector('[data-testid=panel]'), r = p.getBoundingClientRect(); \
                 const s = getComputedStyle(root.querySelector('.sb-header')); \
                 return [getComputedStyle(host).display, getComputedStyle(p).visibility, r.width > 200 && r.height > 200, \
                         s.backgroundColor, root.adoptedStyleSheets.length, root.querySelectorAll('style,link').length];",
            )
            .await;
            assert_eq!(
                look,
                json!(["block", "visible", true, "rgb(37, 99, 235)", 2, 0]),
                "{url}: {look}"
            );
            // The panel is on top: what is at its centre is the widget's, not the overlay.
            let on_top = in_widget(
                &c,
                "const r = root.querySelector('[data-testid=panel]').getBoundingClientRect(); \
                 return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === document.getElementById('switchboard-host');",
            )
            .await;
            assert_eq!(on_top, json!(true), "{url}: the widget above the overlay");
            let seen = watched(&c).await;
            assert_eq!(seen, json!([[], []]), "{url}: no CSP violation, nothing thrown");
            screenshot(&c, shot).await;
            // axe last: it is the test's script, not the widget, and may trip the policy.
            assert_clean_in(&c, "#switchboard-host", &format!("the widget under {url}")).await;
            widget_el(&c, "close").await.click().await.unwrap();
            assert_clean_in(&c, "#switchboard-host", &format!("the closed widget under {url}"))
                .await;
        }
    })
    .await;
}

#[tokio::test]
async fn sandboxed_iframe_without_storage_or_locks_still_chats() {
    let (relay, _dir) = relay().await;
    let mut desk = agent(&relay).await;
    let addr = site(relay.port).await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&format!("http://127.0.0.1:{}/framed.html", addr.port()))
            .await
            .unwrap();
        let frame = c.find(Locator::Css("iframe")).await.unwrap();
        frame.enter_frame().await.unwrap();
        // The frame really is locked down: an opaque origin, storage and locks refused.
        let refused = c
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 let storage = 'allowed'; try { localStorage.length; } catch (e) { storage = e.name; } \
                 const locks = navigator.locks ? navigator.locks.request('probe', () => 1).then(() => 'granted', e => e.name) \
                                               : Promise.resolve('absent'); \
                 locks.then(l => done([origin, storage, l]));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(refused[0], json!("null"), "an opaque origin: {refused}");
        assert_eq!(refused[1], json!("SecurityError"), "{refused}");
        assert_ne!(refused[2], json!("granted"), "{refused}");

        chat(
            &c,
            &mut desk,
            "Hello from inside a sandbox",
            "Hello, we hear you fine.",
        )
        .await;
        let seen = watched(&c).await;
        assert_eq!(seen[1], json!([]), "nothing thrown into the framed page: {seen}");
        assert_clean_in(&c, "#switchboard-host", "the widget in a sandboxed frame").await;
        c.enter_parent_frame().await.unwrap();
        let outer = c.execute("return window.__errors;", vec![]).await.unwrap();
        assert_eq!(outer, json!([]), "nothing thrown into the outer page");
        screenshot(&c, "sandboxed-iframe.png").await;
    })
    .await;
}

/// The loader's own words come in the browser's language (the relay puts them in from
/// `Accept-Language`): an Arabic visitor on an Arabic page in consent mode gets an Arabic
/// launcher name and prompt, right to left, beside the launcher on the left.
#[tokio::test]
async fn consent_prompt_in_the_visitors_language_mirrored_right_to_left() {
    let (relay, _dir) = relay().await;
    let addr = site(relay.port).await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser_in("ar").await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&format!("http://127.0.0.1:{}/consent-ar.html", addr.port()))
            .await
            .unwrap();
        let launcher = crate::util::eventually("the loader's launcher", UI_WAIT, || loader_launcher(&c)).await;
        assert_eq!(
            launcher.attr("aria-label").await.unwrap().as_deref(),
            Some("افتح المحادثة")
        );
        launcher.click().await.unwrap();
        let prompt = crate::util::eventually("the consent prompt", UI_WAIT, || async {
            let v = in_widget(
                &c,
                "const p = root.querySelector('[data-testid=consent-prompt]'); if (!p || p.hidden) return null; \
                 const r = p.getBoundingClientRect(), b = root.querySelector('[data-testid=launcher-placeholder]').getBoundingClientRect(); \
                 return [[...p.children].map(e => e.textContent), getComputedStyle(p).direction, r.left < 40, b.left < 40, \
                         root.activeElement.getAttribute('data-testid')];",
            )
            .await;
            (!v.is_null()).then_some(v)
        })
        .await;
        assert_eq!(
            prompt,
            json!([
                ["تحفظ المحادثة على هذا الجهاز. هل تسمح بذلك؟", "السماح بالمحادثة", "ليس الآن"],
                "rtl",
                true,
                true,
                "consent-allow"
            ])
        );
        assert_clean_in(&c, "#switchboard-host", "the Arabic consent prompt").await;
        screenshot(&c, "consent-prompt-arabic.png").await;
    })
    .await;
}

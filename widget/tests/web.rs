//! Component tests in headless Chromium: the widget mounted inside an open shadow root, with no
//! relay reachable (the widget must keep working and say it is reconnecting).

use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn tick(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

fn shadow_root() -> web_sys::ShadowRoot {
    let document = web_sys::window().unwrap().document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let init = web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open);
    host.attach_shadow(&init).unwrap()
}

fn find(root: &web_sys::ShadowRoot, testid: &str) -> Option<web_sys::HtmlElement> {
    root.query_selector(&format!("[data-testid={testid}]"))
        .unwrap()
        .map(|e| e.unchecked_into())
}

#[wasm_bindgen_test]
async fn launcher_opens_and_closes_the_panel_inside_a_shadow_root() {
    let root = shadow_root();
    let document = web_sys::window().unwrap().document().unwrap();
    let container: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    root.append_child(&container).unwrap();
    // Port 9 (discard) refuses connections: the widget must cope.
    switchboard_widget::mount(container, "test-site".into(), "http://127.0.0.1:9/".into());
    tick(20).await;

    let launcher = find(&root, "launcher").expect("a launcher");
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert!(find(&root, "panel").is_none());
    launcher.click();
    tick(20).await;
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert!(find(&root, "panel").is_some());
    assert!(find(&root, "composer-input").is_some());

    // The API opens and closes it too.
    switchboard_widget::command("close".into(), Default::default(), Default::default());
    tick(20).await;
    assert!(find(&root, "panel").is_none());
    switchboard_widget::command("open".into(), Default::default(), Default::default());
    tick(600).await;
    let state = find(&root, "connection")
        .unwrap()
        .get_attribute("data-state")
        .unwrap();
    assert_ne!(state, "online", "no relay, so not online");
    // Unknown commands and bad arguments are ignored, never thrown.
    switchboard_widget::command("launch".into(), Default::default(), Default::default());
    switchboard_widget::command("setContext".into(), 42.into(), Default::default());
}

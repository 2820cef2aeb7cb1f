//! A browser without the Navigation API: the widget follows a single-page app's navigations by
//! wrapping `history.pushState`/`replaceState`, and the page's own calls keep their effect,
//! their result and their errors. (Chromium has the API, so the end-to-end test takes the
//! other path; here it is hidden before the widget mounts.)

use js_sys::{Function, Object, Reflect, JSON};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn without_the_navigation_api_history_is_wrapped_and_unchanged() {
    let window = web_sys::window().unwrap();
    let descriptor: Object = JSON::parse(r#"{"value":null,"configurable":true}"#)
        .unwrap()
        .unchecked_into();
    Object::define_property(&window, &"navigation".into(), &descriptor);
    let history = Reflect::get(&window, &"history".into()).unwrap();
    let original = Reflect::get(&history, &"pushState".into()).unwrap();

    let document = window.document().unwrap();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    let container: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    root.append_child(&container).unwrap();
    switchboard_widget::mount(container, "test-site".into(), "http://127.0.0.1:9/".into());

    let push: Function = Reflect::get(&history, &"pushState".into())
        .unwrap()
        .unchecked_into();
    assert!(!Object::is(&original, &push), "pushState is wrapped");
    let state = JSON::parse(r#"{"step":2}"#).unwrap();
    let result = push
        .call3(&history, &state, &"".into(), &"?spa=2".into())
        .unwrap();
    assert!(result.is_undefined());
    assert_eq!(window.location().search().unwrap(), "?spa=2");
    let stored = Reflect::get(&history, &"state".into()).unwrap();
    assert_eq!(Reflect::get(&stored, &"step".into()).unwrap(), 2);
    // Without a URL (two arguments) the address stays.
    let replace: Function = Reflect::get(&history, &"replaceState".into())
        .unwrap()
        .unchecked_into();
    replace
        .call2(&history, &JSON::parse(r#"{"step":3}"#).unwrap(), &"".into())
        .unwrap();
    assert_eq!(window.location().search().unwrap(), "?spa=2");
    // What the browser throws, the page gets: another origin is a SecurityError.
    let err = push
        .call3(
            &history,
            &state,
            &"".into(),
            &"https://elsewhere.example/".into(),
        )
        .unwrap_err();
    assert_eq!(
        Reflect::get(&err, &"name".into())
            .unwrap()
            .as_string()
            .as_deref(),
        Some("SecurityError")
    );
    // The throttled report runs (no socket here: it is dropped) without a throw.
    gloo_timers::future::TimeoutFuture::new(1_300).await;
}

//! The page context the widget collects by itself.

use switchboard_protocol::context::{Page, Utm, Viewport};

pub fn page() -> Page {
    let Some(window) = web_sys::window() else {
        return Page::default();
    };
    let document = window.document();
    let url = window.location().href().unwrap_or_default();
    let referrer = document
        .as_ref()
        .map(|d| d.referrer())
        .filter(|r| !r.is_empty());
    let title = document.as_ref().map(|d| d.title()).unwrap_or_default();
    let search = window.location().search().unwrap_or_default();
    let param = |name: &str| query_param(&search, name);
    let utm = Utm {
        source: param("utm_source"),
        medium: param("utm_medium"),
        campaign: param("utm_campaign"),
        term: param("utm_term"),
        content: param("utm_content"),
    };
    let has_utm = utm != Utm::default();
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    let timezone = js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|v| v.as_string());
    let size =
        |v: Result<wasm_bindgen::JsValue, _>| v.ok().and_then(|v| v.as_f64()).unwrap_or(0.0) as u32;
    Page {
        url: truncate(url, 2048),
        title: truncate(title, 512),
        referrer: referrer.map(|r| truncate(r, 2048)),
        utm: has_utm.then_some(utm),
        locale: window.navigator().language(),
        timezone,
        viewport: Some(Viewport {
            width: size(window.inner_width()),
            height: size(window.inner_height()),
        }),
    }
}

fn query_param(search: &str, name: &str) -> Option<String> {
    search.trim_start_matches('?').split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            let v = v.replace('+', " ");
            js_sys::decode_uri_component(&v)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or(v)
        })
    })
}

/// Keeps the context within the relay's limits instead of having it refused.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

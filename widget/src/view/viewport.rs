//! The panel on a phone: full screen, laid over what the visitor actually sees. With the
//! keyboard up, iOS (and Chrome on Android by default) shrinks only the *visual* viewport and
//! may scroll it; a `position: fixed` panel sized to the layout viewport would have its
//! composer under the keyboard or its header scrolled away. So while the panel is open on a
//! phone it follows `visualViewport` (its height and offset, on every resize and scroll), and
//! the page behind is locked (no scroll chaining into it), then restored exactly on close.

use std::cell::RefCell;

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use crate::state::Widget;

/// The same test as `widget.css`'s full-screen rule (portrait phones and landscape ones).
const PHONE: &str = "(max-width: 480px), (max-height: 480px)";

/// What was changed on the host page while the panel is open, to put back exactly.
struct Locked {
    body_style: Option<String>,
    scroll: (f64, f64),
    follow: Closure<dyn Fn()>,
}

thread_local! {
    static LOCKED: RefCell<Option<Locked>> = const { RefCell::new(None) };
}

pub fn follow(w: Widget, panel: NodeRef<html::Section>) {
    Effect::new(move |_| {
        if w.open.get() && is_phone() {
            if let Some(panel) = panel.get_untracked() {
                lock(panel);
            }
        } else {
            unlock(panel.get_untracked());
        }
    });
}

fn is_phone() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media(PHONE).ok().flatten())
        .is_some_and(|m| m.matches())
}

fn lock(panel: web_sys::HtmlElement) {
    if LOCKED.with(|l| l.borrow().is_some()) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(body) = window.document().and_then(|d| d.body()) else {
        return;
    };
    let scroll = (
        window.scroll_x().unwrap_or(0.0),
        window.scroll_y().unwrap_or(0.0),
    );
    let body_style = body.get_attribute("style");
    // `overflow: hidden` alone does not stop iOS from scrolling the page under a fixed
    // layer; pinning the body where it was does, and keeps the page's place.
    let s = body.style();
    let _ = s.set_property("overflow", "hidden");
    let _ = s.set_property("position", "fixed");
    let _ = s.set_property("inset-inline", "0");
    let _ = s.set_property("top", &px(-scroll.1));
    let follow = Closure::<dyn Fn()>::new(move || place(&panel));
    if let Some(vv) = window.visual_viewport() {
        let f = follow.as_ref().unchecked_ref();
        let _ = vv.add_event_listener_with_callback("resize", f);
        let _ = vv.add_event_listener_with_callback("scroll", f);
    }
    follow
        .as_ref()
        .unchecked_ref::<js_sys::Function>()
        .call0(&wasm_bindgen::JsValue::NULL)
        .ok();
    LOCKED.with(|l| {
        *l.borrow_mut() = Some(Locked {
            body_style,
            scroll,
            follow,
        })
    });
}

/// Sizes the panel to the visible part of the page.
fn place(panel: &web_sys::HtmlElement) {
    let Some(vv) = web_sys::window().and_then(|w| w.visual_viewport()) else {
        return;
    };
    let s = panel.style();
    let _ = s.set_property("--sb-vv-top", &px(vv.offset_top()));
    let _ = s.set_property("--sb-vv-height", &px(vv.height()));
}

fn unlock(panel: Option<web_sys::HtmlElement>) {
    let Some(locked) = LOCKED.with(|l| l.borrow_mut().take()) else {
        return;
    };
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(vv) = window.visual_viewport() {
        let f = locked.follow.as_ref().unchecked_ref();
        let _ = vv.remove_event_listener_with_callback("resize", f);
        let _ = vv.remove_event_listener_with_callback("scroll", f);
    }
    if let Some(body) = window.document().and_then(|d| d.body()) {
        // Through the CSSOM, not `setAttribute("style")`: a page whose CSP has no
        // 'unsafe-inline' for styles refuses style attributes set by script.
        let _ = match &locked.body_style {
            Some(style) => {
                body.style().set_css_text(style);
                Ok(())
            }
            None => body.remove_attribute("style"),
        };
    }
    window.scroll_to_with_x_and_y(locked.scroll.0, locked.scroll.1);
    if let Some(panel) = panel {
        let s = panel.style();
        let _ = s.remove_property("--sb-vv-top");
        let _ = s.remove_property("--sb-vv-height");
    }
}

/// CSS pixels, written by the browser (Rust's float formatting would add kilobytes of wasm).
fn px(n: f64) -> String {
    format!("{}px", crate::wire::number_text(n))
}

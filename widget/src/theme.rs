//! The site's theme, as the relay configured it (`[sites.theme]`). It comes inside the loader
//! (`widget.js?site=KEY`, see `relay/src/theme.rs`): custom properties on the shadow host, so
//! the launcher has the site's colour and place from the first paint, before any widget
//! download or socket. Colours, place and stacking are pure CSS (`widget.css` reads the
//! properties); the texts and the colour scheme are read here.

use leptos::prelude::*;

use crate::state::Widget;

/// Where the widget's colours come from: light (the default), dark, or the visitor's system
/// setting (`prefers-color-scheme`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheme {
    #[default]
    Light,
    Dark,
    Auto,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Light => "light",
            Scheme::Dark => "dark",
            Scheme::Auto => "auto",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Theme {
    /// The launcher's name (and visible label); the language's "Open chat" without one.
    pub label: Option<String>,
    /// The panel's heading; the language's "Chat with us" without one.
    pub title: Option<String>,
    /// A line under the heading.
    pub subtitle: Option<String>,
    pub scheme: Scheme,
}

/// Reads the theme from the custom properties the loader's style set on the host.
pub fn read(w: Widget, el: &web_sys::HtmlElement) {
    let Some(style) = web_sys::window().and_then(|win| win.get_computed_style(el).ok().flatten())
    else {
        return;
    };
    let prop = |name: &str| {
        style
            .get_property_value(name)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let text = |name: &str| {
        prop(name)
            .and_then(|v| css_string(&v))
            .filter(|t| !t.is_empty())
    };
    let theme = Theme {
        label: text("--switchboard-label"),
        title: text("--switchboard-title"),
        subtitle: text("--switchboard-subtitle"),
        scheme: match prop("--switchboard-scheme").as_deref() {
            Some("dark") => Scheme::Dark,
            Some("auto") => Scheme::Auto,
            _ => Scheme::Light,
        },
    };
    if w.theme.get_untracked() != theme {
        w.theme.set(theme);
    }
}

/// The text of a CSS string token (`"…"` or `'…'`), its escapes undone: `\` and up to six hex
/// digits (and one space after them) is that code point, `\` and any other character is that
/// character.
pub fn css_string(token: &str) -> Option<String> {
    let quote = token.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = token.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut hex = String::new();
        while hex.len() < 6 {
            match chars.peek() {
                Some(h) if h.is_ascii_hexdigit() => {
                    hex.push(*h);
                    chars.next();
                }
                _ => break,
            }
        }
        if hex.is_empty() {
            if let Some(next) = chars.next() {
                out.push(next);
            }
            continue;
        }
        if chars.peek() == Some(&' ') {
            chars.next();
        }
        let code = u32::from_str_radix(&hex, 16).ok()?;
        out.push(
            char::from_u32(code)
                .filter(|c| *c != '\0')
                .unwrap_or('\u{FFFD}'),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::css_string;

    #[test]
    fn css_strings_decode() {
        assert_eq!(css_string(r#""Hi there""#).as_deref(), Some("Hi there"));
        assert_eq!(
            css_string(r#""say \22 hi\22 \5c  ok""#).as_deref(),
            Some("say \"hi\"\\ ok")
        );
        assert_eq!(css_string(r#""a\a b""#).as_deref(), Some("a\nb"));
        assert_eq!(css_string("'مرحبا'").as_deref(), Some("مرحبا"));
        assert_eq!(css_string("none"), None);
    }
}

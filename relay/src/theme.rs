//! A site's look (`[sites.theme]`): brand colour, side, offsets, stacking, launcher label,
//! greeting, colour scheme. It reaches the visitor inside the loader itself: a site that embeds
//! `widget.js?site=KEY` gets the loader with its theme's CSS in the launcher's stylesheet, so the
//! launcher has its colour and place from the first paint, with no other request (a page view
//! that never chats still costs the loader alone). The widget reads the same custom properties
//! (`widget/widget.css`, `widget/src/theme.rs`). Every value is checked at load, and texts are
//! written as escaped CSS strings, so nothing in the configuration can break out of the CSS.

use anyhow::bail;
use serde::Deserialize;

/// The text colours tried on the brand colour, nicest first; black always reaches 4.5:1 where
/// white does not.
const ON_BRAND: [(u8, u8, u8); 3] = [(255, 255, 255), (17, 24, 39), (0, 0, 0)];

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    /// `#RRGGBB` or `#RGB`: the launcher, the panel's header and the send button.
    #[serde(default)]
    pub brand: Option<String>,
    /// Which side the launcher and panel sit on; unset: the end of the widget's reading
    /// direction (right, or left in Arabic).
    #[serde(default)]
    pub side: Option<Side>,
    /// Pixels from that side (default 20).
    #[serde(default)]
    pub offset_x: Option<u16>,
    /// Pixels from the bottom (default 20).
    #[serde(default)]
    pub offset_y: Option<u16>,
    /// The widget's stacking order on the page (default the highest there is).
    #[serde(default)]
    pub z_index: Option<u32>,
    /// The launcher's name, shown beside its icon (default "Open chat" in the visitor's
    /// language).
    #[serde(default)]
    pub launcher_label: Option<String>,
    /// The panel's heading (default "Chat with us" in the visitor's language).
    #[serde(default)]
    pub title: Option<String>,
    /// A line under the heading.
    #[serde(default)]
    pub subtitle: Option<String>,
    /// `light` (default), `dark`, or `auto` (the visitor's system setting).
    #[serde(default)]
    pub scheme: Option<Scheme>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Light,
    Dark,
    Auto,
}

impl Theme {
    /// Refuses what the widget could not show well (an unreadable colour, a label that would
    /// not fit the launcher, an offset off the screen).
    pub fn check(&self, site: &str) -> anyhow::Result<()> {
        if let Some(brand) = &self.brand {
            if rgb(brand).is_none() {
                bail!("site {site:?}: theme.brand must be #RRGGBB or #RGB, not {brand:?}");
            }
        }
        for (name, value, max) in [
            ("launcher_label", &self.launcher_label, 40),
            ("title", &self.title, 80),
            ("subtitle", &self.subtitle, 160),
        ] {
            if let Some(v) = value {
                if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control)
                {
                    bail!("site {site:?}: theme.{name} must be 1-{max} characters, no control characters");
                }
            }
        }
        if self.offset_x.is_some_and(|x| x > 400) || self.offset_y.is_some_and(|y| y > 400) {
            bail!("site {site:?}: theme offsets must be 0-400 px");
        }
        if self.z_index.is_some_and(|z| z > i32::MAX as u32) {
            bail!("site {site:?}: theme.z_index must be at most 2147483647");
        }
        Ok(())
    }

    /// The theme as CSS for the loader's launcher stylesheet: custom properties on the shadow host that
    /// `widget.css` reads, and the same look for the loader's own launcher (`.sb-boot`), which
    /// uses no custom properties to keep the loader small. Empty for an empty theme.
    pub fn css(&self) -> String {
        let mut vars = String::new();
        let mut boot = String::new();
        let mut push = |name: &str, value: &str| {
            vars.push_str(&format!("--switchboard-{name}:{value};"));
        };
        if let Some((r, g, b)) = self.brand.as_deref().and_then(rgb) {
            let on = on_brand((r, g, b));
            // Hover moves away from the text colour, so the contrast only grows.
            let hover = if on == ON_BRAND[0] {
                mix((r, g, b), (0, 0, 0), 0.15)
            } else {
                mix((r, g, b), (255, 255, 255), 0.15)
            };
            push("brand", &hex((r, g, b)));
            push("on-brand", &hex(on));
            push("brand-hover", &hex(hover));
            // The header's "Reconnecting…" keeps the brand's text colour (the default yellow is
            // only readable on the default blue).
            push("on-brand-alert", &hex(on));
            boot.push_str(&format!(
                ".sb-boot{{background:{};color:{}}}",
                hex((r, g, b)),
                hex(on)
            ));
        }
        let x = self.offset_x.map(|x| format!("{x}px"));
        if let Some(x) = &x {
            push("x", x);
        }
        let x = x.unwrap_or_else(|| "20px".into());
        match self.side {
            Some(Side::Left) => {
                push("left", &x);
                push("right", "auto");
                boot.push_str(&format!(".sb-boot,.sb-boot[dir]{{left:{x};right:auto}}"));
            }
            Some(Side::Right) => {
                push("left", "auto");
                push("right", &x);
                boot.push_str(&format!(".sb-boot,.sb-boot[dir]{{right:{x};left:auto}}"));
            }
            None if self.offset_x.is_some() => {
                boot.push_str(&format!(
                    ".sb-boot{{right:{x}}}.sb-boot[dir=rtl]{{left:{x};right:auto}}"
                ));
            }
            None => {}
        }
        if let Some(y) = self.offset_y {
            push("y", &format!("{y}px"));
            boot.push_str(&format!(".sb-boot{{bottom:{y}px}}"));
        }
        if let Some(z) = self.z_index {
            push("z", &z.to_string());
            boot.push_str(&format!(".sb-boot{{z-index:{z}}}"));
        }
        for (name, value) in [
            ("label", &self.launcher_label),
            ("title", &self.title),
            ("subtitle", &self.subtitle),
        ] {
            if let Some(v) = value {
                push(name, &css_string(v));
            }
        }
        match self.scheme {
            Some(Scheme::Dark) => push("scheme", "dark"),
            Some(Scheme::Auto) => push("scheme", "auto"),
            Some(Scheme::Light) | None => {}
        }
        if vars.is_empty() {
            return boot;
        }
        format!(":host{{{vars}}}{boot}")
    }
}

/// A CSS string token: anything but plain letters, digits, spaces and non-ASCII text becomes a
/// `\HEX ` escape, so no quote, backslash, angle bracket or control character appears as
/// itself (the CSS also travels inside a JavaScript string and HTML).
fn css_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if c.is_alphanumeric() || c == ' ' || (!c.is_ascii() && !c.is_control()) {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:x} ", c as u32));
        }
    }
    out.push('"');
    out
}

fn rgb(s: &str) -> Option<(u8, u8, u8)> {
    let hex = s.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize, len: usize| u8::from_str_radix(&hex[i..i + len], 16).ok();
    match hex.len() {
        6 => Some((digit(0, 2)?, digit(2, 2)?, digit(4, 2)?)),
        3 => Some((digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17)),
        _ => None,
    }
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn mix(a: (u8, u8, u8), b: (u8, u8, u8), t: f64) -> (u8, u8, u8) {
    let m = |x: u8, y: u8| (f64::from(x) * (1.0 - t) + f64::from(y) * t).round() as u8;
    (m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// WCAG 2 relative luminance.
fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let c = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b)
}

pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The text colour for the brand colour: the first of white, near-black and black with at
/// least 4.5:1 (WCAG AA for text); black always has it when white does not.
fn on_brand(brand: (u8, u8, u8)) -> (u8, u8, u8) {
    ON_BRAND
        .into_iter()
        .find(|c| contrast(brand, *c) >= 4.5)
        .unwrap_or(ON_BRAND[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_any_brand_colour_reaches_4_5_to_1() {
        for r in (0..=255).step_by(15) {
            for g in (0..=255).step_by(15) {
                for b in (0..=255).step_by(15) {
                    let brand = (r as u8, g as u8, b as u8);
                    let on = on_brand(brand);
                    assert!(contrast(brand, on) >= 4.5, "{brand:?} with {on:?}");
                    let theme = Theme {
                        brand: Some(hex(brand)),
                        ..Theme::default()
                    };
                    assert!(theme
                        .css()
                        .contains(&format!("--switchboard-on-brand:{}", hex(on))));
                }
            }
        }
        assert_eq!(
            on_brand((37, 99, 235)),
            (255, 255, 255),
            "the default blue keeps white"
        );
        assert_eq!(
            on_brand((250, 204, 21)),
            (17, 24, 39),
            "yellow gets dark text"
        );
    }

    #[test]
    fn texts_cannot_break_out_of_the_css_or_the_script() {
        let theme = Theme {
            title: Some("Hi\"}</style><script>alert(1)</script>\\ 'x' مرحبا".into()),
            ..Theme::default()
        };
        let css = theme.css();
        assert!(!css.contains('<') && !css.contains('\''), "{css}");
        assert_eq!(css.matches('"').count(), 2, "{css}");
        assert!(css.contains("مرحبا"));
        assert!(theme.check("s").is_ok());
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            Theme {
                brand: Some("blue".into()),
                ..Theme::default()
            },
            Theme {
                brand: Some("#12345".into()),
                ..Theme::default()
            },
            Theme {
                brand: Some("#1234567;}".into()),
                ..Theme::default()
            },
            Theme {
                launcher_label: Some("x".repeat(41)),
                ..Theme::default()
            },
            Theme {
                title: Some("a\nb".into()),
                ..Theme::default()
            },
            Theme {
                subtitle: Some("  ".into()),
                ..Theme::default()
            },
            Theme {
                offset_x: Some(401),
                ..Theme::default()
            },
            Theme {
                z_index: Some(u32::MAX),
                ..Theme::default()
            },
        ] {
            assert!(bad.check("s").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_theme_changes_nothing() {
        assert_eq!(Theme::default().css(), "");
    }
}

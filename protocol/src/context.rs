//! The visitor's context: what page they are on, who they are (if the site said), and the
//! site's own data (cart, order). The widget collects [`Page`] itself; the site adds the rest
//! with `Switchboard('identify', …)` and `Switchboard('setContext', …)`. Every field is
//! optional so a partial context is always valid.
//!
//! Money amounts are plain numbers in the currency's major unit (19.99), as sites already have
//! them in JavaScript. They are for display only; nothing computes with them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_CONTEXT_BYTES, MAX_LINE_ITEMS, MAX_SHORT_BYTES, MAX_URL_BYTES};
use crate::ErrorCode;

/// Everything an agent sees about the visitor. Sent whole (not as a patch) by the widget
/// whenever any part changes, so the relay never has to merge.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Page>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart: Option<Cart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// Any other keys the site passed to `setContext`, shown to agents as key/value pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// The page the visitor is on, collected by the widget.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<Utm>,
    /// BCP 47 tag from `navigator.language`, e.g. `de-CH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// IANA zone, e.g. `Europe/Zurich`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
}

/// Campaign parameters from the page URL (`utm_source`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Who the visitor is, as the site says (`Switchboard('identify', …)`). A field is verified
/// only when [`Identity::verified`] names it: the relay took it from an identity token the
/// site's server signed. Anything else is the page's claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Which parts of the context came from a verified identity token. Set by the relay
    /// only: whatever a page sends here is replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified: Vec<Verified>,
}

/// A part of the context the relay verified (see [`Identity::verified`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verified {
    /// `identity.id`, the token's `sub`: the site's customer id.
    Id,
    Name,
    Email,
    Cart,
    Order,
}

impl Identity {
    pub fn is_verified(&self, field: Verified) -> bool {
        self.verified.contains(&field)
    }
}

/// Most entries in [`Identity::verified`]: one per [`Verified`] field.
const MAX_VERIFIED: usize = 5;

/// One product line in a cart or order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub name: String,
    #[serde(default = "one")]
    pub quantity: u32,
    /// Price of one unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cart {
    #[serde(default)]
    pub items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// ISO 4217, e.g. `EUR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The number the shop shows its customers, e.g. `1042`.
    pub number: String,
    /// Free text the shop uses, e.g. `shipped`, `delayed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default)]
    pub items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Date as the shop shows it, e.g. `2026-11-27`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
}

/// A validation failure: the code to send and a human-readable reason.
pub type Invalid = (ErrorCode, String);

impl Context {
    /// Checks every limit and that every link is http(s), so an agent can click it safely.
    pub fn validate(&self) -> Result<(), Invalid> {
        let size = serde_json::to_vec(self)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_CONTEXT_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!("context is {size} bytes, limit {MAX_CONTEXT_BYTES}"),
            ));
        }
        if let Some(page) = &self.page {
            url("page.url", &page.url, true)?;
            if let Some(r) = &page.referrer {
                url("page.referrer", r, true)?;
            }
            short("page.title", &page.title)?;
            for (f, v) in [
                ("page.locale", &page.locale),
                ("page.timezone", &page.timezone),
            ] {
                if let Some(v) = v {
                    short(f, v)?;
                }
            }
        }
        if let Some(id) = &self.identity {
            if id.verified.len() > MAX_VERIFIED {
                return Err((
                    ErrorCode::TooLarge,
                    format!("identity.verified has more than {MAX_VERIFIED} entries"),
                ));
            }
            for (f, v) in [
                ("identity.id", &id.id),
                ("identity.name", &id.name),
                ("identity.email", &id.email),
            ] {
                if let Some(v) = v {
                    short(f, v)?;
                }
            }
        }
        if let Some(cart) = &self.cart {
            items("cart.items", &cart.items)?;
        }
        if let Some(order) = &self.order {
            short("order.number", &order.number)?;
            items("order.items", &order.items)?;
            if let Some(t) = &order.tracking_url {
                url("order.tracking_url", t, false)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn short(field: &str, v: &str) -> Result<(), Invalid> {
    if v.len() > MAX_SHORT_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!("{field} is longer than {MAX_SHORT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Only http(s) links reach an agent; `javascript:` and `data:` URLs would run in the console.
/// An empty page URL is allowed (some embeds cannot read it).
pub(crate) fn url(field: &str, v: &str, allow_empty: bool) -> Result<(), Invalid> {
    if v.len() > MAX_URL_BYTES {
        return Err((
            ErrorCode::TooLarge,
            format!("{field} is longer than {MAX_URL_BYTES} bytes"),
        ));
    }
    if (allow_empty && v.is_empty()) || is_http_url(v) {
        Ok(())
    } else {
        Err((
            ErrorCode::Invalid,
            format!("{field} must be an http or https URL"),
        ))
    }
}

fn items(field: &str, items: &[LineItem]) -> Result<(), Invalid> {
    if items.len() > MAX_LINE_ITEMS {
        return Err((
            ErrorCode::TooLarge,
            format!("{field} has more than {MAX_LINE_ITEMS} items"),
        ));
    }
    for item in items {
        short(field, &item.name)?;
        if let Some(u) = &item.url {
            url(field, u, false)?;
        }
        if item.price.is_some_and(|p| !p.is_finite()) {
            return Err((
                ErrorCode::Invalid,
                format!("{field} has a price that is not a number"),
            ));
        }
    }
    Ok(())
}

/// Whether `s` is an absolute http or https URL (scheme compared case-insensitively). Used by
/// validation and by every renderer that turns text into links.
pub fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    (lower.starts_with("https://") && s.len() > 8) || (lower.starts_with("http://") && s.len() > 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_script_links() {
        let mut c = Context {
            order: Some(Order {
                number: "1".into(),
                tracking_url: Some("javascript:alert(1)".into()),
                ..Order::default()
            }),
            ..Context::default()
        };
        assert_eq!(c.validate().unwrap_err().0, ErrorCode::Invalid);
        c.order.as_mut().unwrap().tracking_url = Some("HTTPS://track.example/1".into());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn rejects_oversize_context() {
        let mut c = Context::default();
        c.custom.insert(
            "blob".into(),
            serde_json::Value::String("x".repeat(MAX_CONTEXT_BYTES)),
        );
        assert_eq!(c.validate().unwrap_err().0, ErrorCode::TooLarge);
    }
}

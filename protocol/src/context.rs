//! The visitor's context: what page they are on, who they are (if the site said), and the
//! site's own data (cart, order). The widget collects [`Page`] itself; the site adds the rest
//! with `Switchboard('identify', …)` and `Switchboard('setContext', …)`. Every field is
//! optional so a partial context is always valid.
//!
//! Money amounts are plain numbers in the currency's major unit (19.99), as sites already have
//! them in JavaScript. They are for display only; nothing computes with them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{
    MAX_CONTEXT_BYTES, MAX_CUSTOM_FIELDS, MAX_CUSTOM_VALUE_BYTES, MAX_EMAIL_BYTES, MAX_LINE_ITEMS,
    MAX_SHORT_BYTES, MAX_URL_BYTES,
};
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
        self.validate_measured(size, &|v| {
            serde_json::to_string(v).map_or(usize::MAX, |s| s.len())
        })
    }

    /// [`Context::validate`] with the JSON sizes measured by the caller: `size` is the whole
    /// context's, `value_size` a custom value's. The widget measures with the browser's
    /// `JSON.stringify`, so it carries no JSON serializer; the rules stay here, once.
    pub fn validate_measured(
        &self,
        size: usize,
        value_size: &dyn Fn(&serde_json::Value) -> usize,
    ) -> Result<(), Invalid> {
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
            if let Some(utm) = &page.utm {
                for (f, v) in [
                    ("page.utm.source", &utm.source),
                    ("page.utm.medium", &utm.medium),
                    ("page.utm.campaign", &utm.campaign),
                    ("page.utm.term", &utm.term),
                    ("page.utm.content", &utm.content),
                ] {
                    if let Some(v) = v {
                        short(f, v)?;
                    }
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
            amount("cart.total", cart.total)?;
            if let Some(c) = &cart.currency {
                short("cart.currency", c)?;
            }
        }
        if let Some(order) = &self.order {
            short("order.number", &order.number)?;
            items("order.items", &order.items)?;
            amount("order.total", order.total)?;
            for (f, v) in [
                ("order.status", &order.status),
                ("order.currency", &order.currency),
                ("order.placed_at", &order.placed_at),
                ("order.estimated_delivery", &order.estimated_delivery),
            ] {
                if let Some(v) = v {
                    short(f, v)?;
                }
            }
            if let Some(t) = &order.tracking_url {
                url("order.tracking_url", t, false)?;
            }
        }
        custom(&self.custom, value_size)
    }
}

/// The site's own keys: each key a short string, each value at most
/// [`MAX_CUSTOM_VALUE_BYTES`] serialized, at most [`MAX_CUSTOM_FIELDS`] of them.
fn custom(
    map: &BTreeMap<String, serde_json::Value>,
    value_size: &dyn Fn(&serde_json::Value) -> usize,
) -> Result<(), Invalid> {
    if map.len() > MAX_CUSTOM_FIELDS {
        return Err((
            ErrorCode::TooLarge,
            format!("custom has more than {MAX_CUSTOM_FIELDS} keys"),
        ));
    }
    for (k, v) in map {
        short("custom key", k)?;
        if k.is_empty() {
            return Err((ErrorCode::Invalid, "custom has an empty key".into()));
        }
        if value_size(v) > MAX_CUSTOM_VALUE_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!(
                    "custom.{} is longer than {MAX_CUSTOM_VALUE_BYTES} bytes",
                    truncated(k)
                ),
            ));
        }
    }
    Ok(())
}

/// A key echoed in an error, cut to a readable length.
fn truncated(k: &str) -> &str {
    let mut end = k.len().min(64);
    while !k.is_char_boundary(end) {
        end -= 1;
    }
    &k[..end]
}

fn amount(field: &str, v: Option<f64>) -> Result<(), Invalid> {
    if v.is_some_and(|p| !p.is_finite()) {
        return Err((ErrorCode::Invalid, format!("{field} is not a number")));
    }
    Ok(())
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
        if let Some(sku) = &item.sku {
            short(field, sku)?;
        }
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

/// Whether `s` is a `mailto:` link to exactly one plain address: no `?cc=`, `bcc`, `body`
/// or other header, no list of addresses, no percent-escapes that could hide either. The
/// only other scheme a rich message may link to besides http(s).
pub fn is_mailto_url(s: &str) -> bool {
    let Some(scheme) = s.get(..7) else {
        return false;
    };
    scheme.eq_ignore_ascii_case("mailto:") && is_email(&s[7..])
}

/// A conservative check of one address: `local@domain`, the local part of RFC 5322's
/// atom characters and dots (without `?`, `%`, `,` and the like, which mean something in
/// a URL), a domain of at least two letter/digit/hyphen labels.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$&'*+-/=^_`{|}~.".contains(c);
    s.len() <= MAX_EMAIL_BYTES
        && !local.is_empty()
        && local.len() <= 64
        && local.chars().all(atom)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailto_links_name_one_plain_address() {
        for ok in ["mailto:help@shop.example", "MAILTO:a.b+c@x-y.example.org"] {
            assert!(is_mailto_url(ok), "{ok}");
        }
        for bad in [
            "mailto:",
            "mailto:help@shop.example?cc=x@evil.example",
            "mailto:help@shop.example?body=hi",
            "mailto:a@x.example,b@y.example",
            "mailto:a@x.example;b@y.example",
            "mailto:%61@x.example",
            "mailto:a@localhost",
            "mailto:a@@x.example",
            "mailto:a b@x.example",
            "mailto:.a@x.example",
            "mailto:a@-x.example",
            "mailto:?to=a@x.example",
            "javascript:alert(1)//@x.example",
        ] {
            assert!(!is_mailto_url(bad), "{bad}");
        }
        let long = format!("mailto:{}@x.example", "a".repeat(65));
        assert!(!is_mailto_url(&long));
    }

    #[test]
    fn every_documented_field_has_its_limit() {
        let long = "x".repeat(MAX_SHORT_BYTES + 1);
        let mut cases: Vec<(&str, Context)> = Vec::new();
        for field in ["source", "medium", "campaign", "term", "content"] {
            let mut utm = Utm::default();
            let v = Some(long.clone());
            match field {
                "source" => utm.source = v,
                "medium" => utm.medium = v,
                "campaign" => utm.campaign = v,
                "term" => utm.term = v,
                _ => utm.content = v,
            }
            cases.push((
                field,
                Context {
                    page: Some(Page {
                        utm: Some(utm),
                        ..Page::default()
                    }),
                    ..Context::default()
                },
            ));
        }
        let order = |f: &dyn Fn(&mut Order)| {
            let mut o = Order {
                number: "1".into(),
                ..Order::default()
            };
            f(&mut o);
            Context {
                order: Some(o),
                ..Context::default()
            }
        };
        cases.push(("order.status", order(&|o| o.status = Some(long.clone()))));
        cases.push((
            "order.currency",
            order(&|o| o.currency = Some(long.clone())),
        ));
        cases.push((
            "order.placed_at",
            order(&|o| o.placed_at = Some(long.clone())),
        ));
        cases.push((
            "order.estimated_delivery",
            order(&|o| o.estimated_delivery = Some(long.clone())),
        ));
        cases.push((
            "order.items.sku",
            order(&|o| {
                o.items = vec![LineItem {
                    sku: Some(long.clone()),
                    name: "a".into(),
                    ..LineItem::default()
                }]
            }),
        ));
        cases.push((
            "cart.currency",
            Context {
                cart: Some(Cart {
                    currency: Some(long.clone()),
                    ..Cart::default()
                }),
                ..Context::default()
            },
        ));
        let mut big_value = Context::default();
        big_value.custom.insert(
            "note".into(),
            serde_json::Value::String("x".repeat(MAX_CUSTOM_VALUE_BYTES)),
        );
        cases.push(("custom value", big_value));
        let mut big_key = Context::default();
        big_key
            .custom
            .insert(long.clone(), serde_json::Value::Bool(true));
        cases.push(("custom key", big_key));
        let mut many = Context::default();
        for i in 0..=MAX_CUSTOM_FIELDS {
            many.custom
                .insert(format!("k{i}"), serde_json::Value::Bool(true));
        }
        cases.push(("custom keys", many));
        for (name, c) in cases {
            assert_eq!(c.validate().unwrap_err().0, ErrorCode::TooLarge, "{name}");
        }
        // At the limit, accepted.
        let mut fits = Context::default();
        fits.custom.insert(
            "note".into(),
            serde_json::Value::String("x".repeat(MAX_CUSTOM_VALUE_BYTES - 2)),
        );
        fits.order = Some(Order {
            number: "1".into(),
            status: Some("x".repeat(MAX_SHORT_BYTES)),
            ..Order::default()
        });
        assert!(fits.validate().is_ok());
        let nan = Context {
            cart: Some(Cart {
                total: Some(f64::NAN),
                ..Cart::default()
            }),
            ..Context::default()
        };
        assert_eq!(nan.validate().unwrap_err().0, ErrorCode::Invalid);
    }

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

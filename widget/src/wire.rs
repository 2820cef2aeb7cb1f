//! The widget's JSON: frames from the relay read from the browser's `JSON.parse`, frames to it
//! built as JS objects and written by `JSON.stringify`, and numbers shown by the browser.
//!
//! Why not serde_json: decoding the protocol's internally tagged enums buffers every frame
//! through serde's `Content` and brought a JSON parser, a serializer and float formatting
//! into the wasm; together they were a third of the widget's download. The wire types stay
//! defined once in `protocol/`: this module reads and writes exactly those types, and the
//! widget's tests (`tests/web.rs`, `wire_*`) check it against the protocol's serde encoding for
//! every `VisitorMsg` variant and every frame the widget sends, so any drift fails a test.
//!
//! Reading follows serde's rules for these types: a missing required field or a mistyped
//! one makes the frame unreadable; an absent or `null` optional field is `None`; a missing
//! list is empty; a `type` the widget does not know is [`VisitorMsg::Other`]. Unknown fields
//! are ignored (the relay validates rich content before it sends it).

use std::collections::BTreeMap;

use js_sys::{Array, Object, Reflect, JSON};
use serde_json::Value;
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::context::{Page, Utm, Verified, Viewport};
use switchboard_protocol::csat::{Csat, Rate, Scale};
use switchboard_protocol::rich::{Button, Card, Price, QuickReply, Rich};
use switchboard_protocol::server::Welcome;
use switchboard_protocol::{
    Cart, ChatMessage, ClientMsg, Context, ErrorCode, Identity, LineItem, Note, Order, Priority,
    ReadSide, Role, Sender, SenderKind, SystemEvent, VisitorMsg,
};
use wasm_bindgen::{JsCast, JsValue};

// ---------------------------------------------------------------------------------------------
// JSON text <-> JS values

/// `JSON.stringify`, safe on pages with Prototype.js (or its imitators): those define `toJSON`
/// on `Array.prototype` and `String.prototype`, which makes `JSON.stringify` write arrays and
/// strings as strings of their own. They are set aside for the one synchronous call and put
/// back exactly as they were, so the page never sees them missing.
pub fn stringify(v: &JsValue) -> Option<String> {
    let protos = [
        Object::get_prototype_of(&Array::new()),
        Object::get_prototype_of(&JsValue::from_str("")),
    ];
    let key = JsValue::from_str("toJSON");
    let saved: Vec<(Object, JsValue)> = protos
        .into_iter()
        .filter_map(|p| {
            let d = Object::get_own_property_descriptor(&p, &key);
            (!d.is_undefined() && Reflect::delete_property(&p, &key).unwrap_or(false))
                .then_some((p, d))
        })
        .collect();
    let s = JSON::stringify(v);
    for (p, d) in saved {
        let _ = Reflect::define_property(&p, &key, d.unchecked_ref());
    }
    s.ok()?.as_string()
}

pub fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}

/// A site's value as plain JSON data (functions and `undefined` dropped, dates as strings), as
/// the relay will see it.
pub fn plain(v: &JsValue) -> Option<JsValue> {
    parse(&stringify(v)?)
}

/// A number as JavaScript writes it (`String(n)`), without Rust's float formatting.
pub fn number_text(n: f64) -> String {
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// `n.toFixed(digits)`.
pub fn fixed(n: f64, digits: u8) -> String {
    js_sys::Number::from(n)
        .to_fixed(digits)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Reading

pub(crate) fn get(o: &JsValue, key: &str) -> JsValue {
    if !o.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn string(v: JsValue) -> Option<String> {
    v.as_string()
}

fn boolean(v: JsValue) -> Option<bool> {
    v.as_bool()
}

/// A JSON number that is a whole number in `0..=max` (serde refuses fractions and negatives).
fn whole(v: &JsValue, max: f64) -> Option<f64> {
    let n = v.as_f64()?;
    (n >= 0.0 && n <= max && n.fract() == 0.0).then_some(n)
}

pub(crate) fn uint(v: JsValue) -> Option<u64> {
    whole(&v, u64::MAX as f64).map(|n| n as u64)
}

fn u32_(v: JsValue) -> Option<u32> {
    whole(&v, u32::MAX as f64).map(|n| n as u32)
}

pub(crate) fn float(v: JsValue) -> Option<f64> {
    v.as_f64()
}

/// A required field.
pub(crate) fn req<T>(o: &JsValue, key: &str, read: fn(JsValue) -> Option<T>) -> Option<T> {
    read(get(o, key))
}

/// An optional field: absent or `null` is `None`, a mistyped value fails.
pub(crate) fn opt<T>(o: &JsValue, key: &str, read: fn(JsValue) -> Option<T>) -> Option<Option<T>> {
    let v = get(o, key);
    if v.is_undefined() || v.is_null() {
        return Some(None);
    }
    read(v).map(Some)
}

/// A `#[serde(default)]` boolean.
fn flag(o: &JsValue, key: &str) -> Option<bool> {
    Some(opt(o, key, boolean)?.unwrap_or(false))
}

/// A list with `#[serde(default)]`: absent is empty.
fn list<T>(o: &JsValue, key: &str, read: fn(JsValue) -> Option<T>) -> Option<Vec<T>> {
    let v = get(o, key);
    if v.is_undefined() {
        return Some(Vec::new());
    }
    if !Array::is_array(&v) {
        return None;
    }
    Array::from(&v).iter().map(read).collect()
}

/// Decodes one frame from the relay; `None`: not a frame (bad JSON, a missing or mistyped
/// field).
pub fn decode(text: &str) -> Option<VisitorMsg> {
    visitor_msg(parse(text)?)
}

pub fn visitor_msg(o: JsValue) -> Option<VisitorMsg> {
    let o = &o;
    Some(match req(o, "type", string)?.as_str() {
        "welcome" => VisitorMsg::Welcome(Welcome {
            protocol: req(o, "protocol", u32_)?,
            role: req(o, "role", role)?,
            id: req(o, "id", string)?,
            token: opt(o, "token", string)?,
            conversation_id: opt(o, "conversation_id", string)?,
            site: opt(o, "site", string)?,
            last_seq: opt(o, "last_seq", uint)?,
            name: opt(o, "name", string)?,
            typical_reply_ms: opt(o, "typical_reply_ms", uint)?,
            ping_interval_ms: req(o, "ping_interval_ms", uint)?,
            csat: opt(o, "csat", |c| {
                Some(Csat {
                    scale: req(&c, "scale", scale)?,
                    comment_max: opt(&c, "comment_max", u32_)?.unwrap_or(0),
                })
            })?,
        }),
        "ack" => VisitorMsg::Ack {
            conversation_id: req(o, "conversation_id", string)?,
            client_id: req(o, "client_id", string)?,
            seq: req(o, "seq", uint)?,
            at: req(o, "at", uint)?,
            duplicate: flag(o, "duplicate")?,
        },
        "message" => VisitorMsg::Message(message(o.clone())?),
        "synced" => VisitorMsg::Synced {
            conversation_id: req(o, "conversation_id", string)?,
            last_seq: req(o, "last_seq", uint)?,
            more: flag(o, "more")?,
        },
        "typing" => VisitorMsg::Typing {
            conversation_id: req(o, "conversation_id", string)?,
            sender: req(o, "sender", sender)?,
            active: req(o, "active", boolean)?,
        },
        "delta" => VisitorMsg::Delta {
            conversation_id: req(o, "conversation_id", string)?,
            client_id: req(o, "client_id", string)?,
            sender: req(o, "sender", sender)?,
            index: req(o, "index", u32_)?,
            text: req(o, "text", string)?,
        },
        "error" => VisitorMsg::Error {
            code: req(o, "code", error_code)?,
            message: req(o, "message", string)?,
            client_id: opt(o, "client_id", string)?,
            retry_after_ms: opt(o, "retry_after_ms", uint)?,
        },
        "pong" => VisitorMsg::Pong {
            nonce: opt(o, "nonce", uint)?,
        },
        "availability" => VisitorMsg::Availability {
            online: req(o, "online", boolean)?,
            typical_reply_ms: opt(o, "typical_reply_ms", uint)?,
        },
        "queue" => VisitorMsg::Queue {
            conversation_id: req(o, "conversation_id", string)?,
            position: req(o, "position", u32_)?,
        },
        "read" => VisitorMsg::Read {
            conversation_id: req(o, "conversation_id", string)?,
            side: match req(o, "side", string)?.as_str() {
                "visitor" => ReadSide::Visitor,
                "agents" => ReadSide::Agents,
                _ => return None,
            },
            seq: req(o, "seq", uint)?,
        },
        _ => VisitorMsg::Other,
    })
}

fn role(v: JsValue) -> Option<Role> {
    Some(match v.as_string()?.as_str() {
        "visitor" => Role::Visitor,
        "agent" => Role::Agent,
        "bot" => Role::Bot,
        _ => return None,
    })
}

fn error_code(v: JsValue) -> Option<ErrorCode> {
    let s = v.as_string()?;
    ErrorCode::ALL.iter().copied().find(|c| c.as_str() == s)
}

fn sender_kind(v: JsValue) -> Option<SenderKind> {
    Some(match v.as_string()?.as_str() {
        "visitor" => SenderKind::Visitor,
        "agent" => SenderKind::Agent,
        "bot" => SenderKind::Bot,
        "system" => SenderKind::System,
        _ => return None,
    })
}

fn kind_name(k: SenderKind) -> &'static str {
    match k {
        SenderKind::Visitor => "visitor",
        SenderKind::Agent => "agent",
        SenderKind::Bot => "bot",
        SenderKind::System => "system",
    }
}

fn sender(o: JsValue) -> Option<Sender> {
    let o = &o;
    Some(Sender {
        kind: req(o, "kind", sender_kind)?,
        id: req(o, "id", string)?,
        name: opt(o, "name", string)?,
        avatar: opt(o, "avatar", string)?,
    })
}

fn message(o: JsValue) -> Option<ChatMessage> {
    let o = &o;
    Some(ChatMessage {
        conversation_id: req(o, "conversation_id", string)?,
        seq: req(o, "seq", uint)?,
        client_id: req(o, "client_id", string)?,
        sender: req(o, "sender", sender)?,
        text: req(o, "text", string)?,
        at: req(o, "at", uint)?,
        rich: opt(o, "rich", rich)?,
        postback: opt(o, "postback", string)?,
        event: opt(o, "event", |v| event(v).map(Box::new))?,
        note: opt(o, "note", |v| {
            Some(Box::new(Note {
                mentions: list(&v, "mentions", string)?,
            }))
        })?,
    })
}

fn rich(o: JsValue) -> Option<Rich> {
    let o = &o;
    Some(Rich {
        quick_replies: list(o, "quick_replies", |q| {
            Some(QuickReply {
                label: req(&q, "label", string)?,
                payload: req(&q, "payload", string)?,
            })
        })?,
        buttons: list(o, "buttons", button)?,
        cards: list(o, "cards", card)?,
    })
}

fn button(o: JsValue) -> Option<Button> {
    let o = &o;
    let label = req(o, "label", string)?;
    Some(match req(o, "type", string)?.as_str() {
        "postback" => Button::Postback {
            label,
            payload: req(o, "payload", string)?,
        },
        "link" => Button::Link {
            label,
            url: req(o, "url", string)?,
        },
        _ => return None,
    })
}

fn card(o: JsValue) -> Option<Card> {
    let o = &o;
    Some(Card {
        title: req(o, "title", string)?,
        text: opt(o, "text", string)?,
        image_url: opt(o, "image_url", string)?,
        price: opt(o, "price", |p| {
            Some(Price {
                amount: req(&p, "amount", float)?,
                currency: req(&p, "currency", string)?,
            })
        })?,
        url: opt(o, "url", string)?,
        buttons: list(o, "buttons", button)?,
    })
}

fn priority(v: JsValue) -> Option<Priority> {
    Some(match v.as_string()?.as_str() {
        "low" => Priority::Low,
        "normal" => Priority::Normal,
        "high" => Priority::High,
        "urgent" => Priority::Urgent,
        _ => return None,
    })
}

fn scale(v: JsValue) -> Option<Scale> {
    Some(match v.as_string()?.as_str() {
        "five" => Scale::Five,
        "thumbs" => Scale::Thumbs,
        _ => return None,
    })
}

fn event(o: JsValue) -> Option<SystemEvent> {
    let o = &o;
    let by = || req(o, "by", string);
    Some(match req(o, "code", string)?.as_str() {
        "assigned" => SystemEvent::Assigned {
            agent: req(o, "agent", string)?,
            by: by()?,
            agent_name: opt(o, "agent_name", string)?,
        },
        "unassigned" => SystemEvent::Unassigned { by: by()? },
        "transferred" => SystemEvent::Transferred {
            from: opt(o, "from", string)?,
            to_agent: opt(o, "to_agent", string)?,
            to_team: opt(o, "to_team", string)?,
            by: by()?,
            to_agent_name: opt(o, "to_agent_name", string)?,
            to_team_name: opt(o, "to_team_name", string)?,
        },
        "handed_off" => SystemEvent::HandedOff {
            team: opt(o, "team", string)?,
            priority: req(o, "priority", priority)?,
            by: by()?,
        },
        "pending" => SystemEvent::Pending { by: by()? },
        "snoozed" => SystemEvent::Snoozed {
            until: req(o, "until", uint)?,
            by: by()?,
        },
        "resolved" => SystemEvent::Resolved { by: by()? },
        "reopened" => SystemEvent::Reopened {
            by: opt(o, "by", string)?,
        },
        "priority" => SystemEvent::Priority {
            priority: req(o, "priority", priority)?,
            by: by()?,
        },
        "blocked" => SystemEvent::Blocked { by: by()? },
        "unblocked" => SystemEvent::Unblocked { by: by()? },
        "rated" => SystemEvent::Rated {
            score: whole(&get(o, "score"), 255.0)? as u8,
            scale: req(o, "scale", scale)?,
            comment: opt(o, "comment", string)?,
        },
        // A newer relay's event: a bare entry, as serde reads it (`#[serde(other)]`).
        _ => SystemEvent::Unknown,
    })
}

// The site's data (`identify`, `setContext`), read from plain JSON data (see [`plain`]).

/// `Switchboard('identify', {id, name, email})`. Sites often keep user ids as numbers; the wire
/// wants strings.
pub fn identity(o: &JsValue) -> Option<Identity> {
    if !o.is_object() || Array::is_array(o) {
        return None;
    }
    let id = get(o, "id");
    let id = if id.as_f64().is_some() {
        Some(number_text(id.as_f64()?))
    } else {
        opt(o, "id", string)?
    };
    Some(Identity {
        id,
        name: opt(o, "name", string)?,
        email: opt(o, "email", string)?,
        verified: list(o, "verified", verified)?,
    })
}

fn verified(v: JsValue) -> Option<Verified> {
    Some(match v.as_string()?.as_str() {
        "id" => Verified::Id,
        "name" => Verified::Name,
        "email" => Verified::Email,
        "cart" => Verified::Cart,
        "order" => Verified::Order,
        _ => return None,
    })
}

fn object(o: &JsValue) -> bool {
    o.is_object() && !Array::is_array(o)
}

fn line_item(o: JsValue) -> Option<LineItem> {
    let o = &o;
    object(o).then_some(())?;
    Some(LineItem {
        sku: opt(o, "sku", string)?,
        name: req(o, "name", string)?,
        quantity: opt(o, "quantity", u32_)?.unwrap_or(1),
        price: opt(o, "price", float)?,
        url: opt(o, "url", string)?,
    })
}

/// A cart as `setContext` takes it.
pub fn cart(o: &JsValue) -> Option<Cart> {
    object(o).then_some(())?;
    Some(Cart {
        items: list(o, "items", line_item)?,
        total: opt(o, "total", float)?,
        currency: opt(o, "currency", string)?,
    })
}

/// An order as `setContext` takes it.
pub fn order(o: &JsValue) -> Option<Order> {
    object(o).then_some(())?;
    Some(Order {
        number: req(o, "number", string)?,
        status: opt(o, "status", string)?,
        items: list(o, "items", line_item)?,
        total: opt(o, "total", float)?,
        currency: opt(o, "currency", string)?,
        placed_at: opt(o, "placed_at", string)?,
        estimated_delivery: opt(o, "estimated_delivery", string)?,
        tracking_url: opt(o, "tracking_url", string)?,
    })
}

/// Plain JSON data as a `serde_json::Value` (the context's `custom` values).
pub fn value(v: &JsValue) -> Value {
    if let Some(b) = v.as_bool() {
        Value::Bool(b)
    } else if let Some(n) = v.as_f64() {
        // Whole numbers as integers, as a JSON parser reads them.
        if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
            if n >= 0.0 {
                Value::from(n as u64)
            } else {
                Value::from(n as i64)
            }
        } else {
            serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
        }
    } else if let Some(s) = v.as_string() {
        Value::String(s)
    } else if Array::is_array(v) {
        Value::Array(Array::from(v).iter().map(|e| value(&e)).collect())
    } else if v.is_object() {
        let mut map = serde_json::Map::new();
        for key in Object::keys(v.unchecked_ref::<Object>()).iter() {
            if let Some(k) = key.as_string() {
                let item = value(&get(v, &k));
                map.insert(k, item);
            }
        }
        Value::Object(map)
    } else {
        Value::Null
    }
}

/// The keys of a plain object, in order.
pub fn entries(o: &JsValue) -> Vec<(String, JsValue)> {
    if !object(o) {
        return Vec::new();
    }
    Object::keys(o.unchecked_ref::<Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .map(|k| {
            let v = get(o, &k);
            (k, v)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Writing: fields in the protocol's order, optional ones left out when empty (as serde does).

pub(crate) struct Obj(Object);

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj(Object::new())
    }

    fn tagged(tag: &str, name: &str) -> Obj {
        Obj::new().s(tag, name)
    }

    pub(crate) fn v(self, key: &str, v: JsValue) -> Obj {
        let _ = Reflect::set(&self.0, &JsValue::from_str(key), &v);
        self
    }

    pub(crate) fn s(self, key: &str, v: &str) -> Obj {
        self.v(key, JsValue::from_str(v))
    }

    pub(crate) fn n(self, key: &str, v: f64) -> Obj {
        self.v(key, JsValue::from_f64(v))
    }

    pub(crate) fn opt_s(self, key: &str, v: &Option<String>) -> Obj {
        match v {
            Some(v) => self.s(key, v),
            None => self,
        }
    }

    fn opt_n(self, key: &str, v: Option<f64>) -> Obj {
        match v {
            Some(v) => self.n(key, v),
            None => self,
        }
    }

    fn opt_v(self, key: &str, v: Option<JsValue>) -> Obj {
        match v {
            Some(v) => self.v(key, v),
            None => self,
        }
    }

    pub(crate) fn done(self) -> JsValue {
        self.0.into()
    }
}

fn array<T>(items: &[T], write: impl Fn(&T) -> JsValue) -> JsValue {
    items.iter().map(write).collect::<Array>().into()
}

/// The JSON of a frame the widget sends (a visitor's frames only; any other is written as
/// `null`, which the relay refuses).
pub fn encode(msg: &ClientMsg) -> String {
    stringify(&frame(msg)).unwrap_or_default()
}

/// `msg.encode()`: [`encode`] as a method, where frames are built inline.
pub trait Encode {
    fn encode(&self) -> String;
}

impl Encode for ClientMsg {
    fn encode(&self) -> String {
        encode(self)
    }
}

pub fn frame(msg: &ClientMsg) -> JsValue {
    let o = |name: &str| Obj::tagged("type", name);
    match msg {
        ClientMsg::Hello(Hello {
            protocol,
            token,
            context,
            identity_token,
        }) => o("hello")
            .n("protocol", *protocol as f64)
            .opt_s("token", token)
            .opt_v("context", context.as_ref().map(self::context))
            .opt_s("identity_token", identity_token)
            .done(),
        ClientMsg::Send(Send {
            conversation_id,
            client_id,
            text,
            ..
        }) => o("send")
            .s("conversation_id", conversation_id)
            .s("client_id", client_id)
            .s("text", text)
            .done(),
        ClientMsg::Typing {
            conversation_id,
            active,
        } => o("typing")
            .s("conversation_id", conversation_id)
            .v("active", JsValue::from_bool(*active))
            .done(),
        ClientMsg::SetContext { context } => {
            o("set_context").v("context", self::context(context)).done()
        }
        ClientMsg::Identify { token } => o("identify").s("token", token).done(),
        ClientMsg::Sync {
            conversation_id,
            since,
        } => o("sync")
            .s("conversation_id", conversation_id)
            .n("since", *since as f64)
            .done(),
        ClientMsg::Ping { nonce } => o("ping").opt_n("nonce", nonce.map(|n| n as f64)).done(),
        ClientMsg::Read {
            conversation_id,
            seq,
        } => o("read")
            .s("conversation_id", conversation_id)
            .n("seq", *seq as f64)
            .done(),
        ClientMsg::Postback {
            conversation_id,
            client_id,
            label,
            payload,
        } => o("postback")
            .s("conversation_id", conversation_id)
            .s("client_id", client_id)
            .s("label", label)
            .s("payload", payload)
            .done(),
        ClientMsg::Rate(Rate {
            conversation_id,
            score,
            comment,
        }) => o("rate")
            .s("conversation_id", conversation_id)
            .n("score", *score as f64)
            .opt_s("comment", comment)
            .done(),
        _ => JsValue::NULL,
    }
}

pub fn context(c: &Context) -> JsValue {
    let custom = (!c.custom.is_empty()).then(|| custom(&c.custom));
    Obj::new()
        .opt_v("page", c.page.as_ref().map(page))
        .opt_v("identity", c.identity.as_ref().map(identity_js))
        .opt_v("cart", c.cart.as_ref().map(cart_js))
        .opt_v("order", c.order.as_ref().map(order_js))
        .opt_v("custom", custom)
        .done()
}

fn custom(map: &BTreeMap<String, Value>) -> JsValue {
    map.iter()
        .fold(Obj::new(), |o, (k, v)| o.v(k, value_js(v)))
        .done()
}

pub fn value_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(a) => array(a, value_js),
        Value::Object(m) => m
            .iter()
            .fold(Obj::new(), |o, (k, v)| o.v(k, value_js(v)))
            .done(),
    }
}

fn page(p: &Page) -> JsValue {
    Obj::new()
        .s("url", &p.url)
        .s("title", &p.title)
        .opt_s("referrer", &p.referrer)
        .opt_v("utm", p.utm.as_ref().map(utm))
        .opt_s("locale", &p.locale)
        .opt_s("timezone", &p.timezone)
        .opt_v("viewport", p.viewport.map(viewport))
        .done()
}

fn utm(u: &Utm) -> JsValue {
    Obj::new()
        .opt_s("source", &u.source)
        .opt_s("medium", &u.medium)
        .opt_s("campaign", &u.campaign)
        .opt_s("term", &u.term)
        .opt_s("content", &u.content)
        .done()
}

fn viewport(v: Viewport) -> JsValue {
    Obj::new()
        .n("width", v.width as f64)
        .n("height", v.height as f64)
        .done()
}

fn identity_js(i: &Identity) -> JsValue {
    let verified = (!i.verified.is_empty()).then(|| {
        array(&i.verified, |v| {
            JsValue::from_str(match v {
                Verified::Id => "id",
                Verified::Name => "name",
                Verified::Email => "email",
                Verified::Cart => "cart",
                Verified::Order => "order",
            })
        })
    });
    Obj::new()
        .opt_s("id", &i.id)
        .opt_s("name", &i.name)
        .opt_s("email", &i.email)
        .opt_v("verified", verified)
        .done()
}

fn items_js(items: &[LineItem]) -> JsValue {
    array(items, |i| {
        Obj::new()
            .opt_s("sku", &i.sku)
            .s("name", &i.name)
            .n("quantity", i.quantity as f64)
            .opt_n("price", i.price)
            .opt_s("url", &i.url)
            .done()
    })
}

fn cart_js(c: &Cart) -> JsValue {
    Obj::new()
        .v("items", items_js(&c.items))
        .opt_n("total", c.total)
        .opt_s("currency", &c.currency)
        .done()
}

fn order_js(o: &Order) -> JsValue {
    Obj::new()
        .s("number", &o.number)
        .opt_s("status", &o.status)
        .v("items", items_js(&o.items))
        .opt_n("total", o.total)
        .opt_s("currency", &o.currency)
        .opt_s("placed_at", &o.placed_at)
        .opt_s("estimated_delivery", &o.estimated_delivery)
        .opt_s("tracking_url", &o.tracking_url)
        .done()
}

/// The plain object handed to `Switchboard('on', 'message', fn)` listeners.
pub fn message_event(m: &ChatMessage) -> JsValue {
    let name = m
        .sender
        .name
        .as_deref()
        .map_or(JsValue::NULL, JsValue::from_str);
    let sender = Obj::new()
        .s("kind", kind_name(m.sender.kind))
        .v("name", name)
        .done();
    Obj::new()
        .s("text", &m.text)
        .n("seq", m.seq as f64)
        .n("at", m.at as f64)
        .v("sender", sender)
        .done()
}

/// A small message between this site's tabs: `{"t": kind, "d": data}` as JSON text.
pub fn tab_message(kind: &str, data: Option<&str>) -> String {
    let o = Obj::new().s("t", kind);
    let o = match data {
        Some(d) => o.s("d", d),
        None => o,
    };
    stringify(&o.done()).unwrap_or_default()
}

/// Reads a message between tabs: its kind and data.
pub fn read_tab_message(text: &str) -> Option<(String, String)> {
    let o = parse(text)?;
    let kind = get(&o, "t").as_string()?;
    let data = get(&o, "d").as_string().unwrap_or_default();
    Some((kind, data))
}

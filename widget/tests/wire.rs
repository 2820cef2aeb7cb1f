//! The widget's JSON (`switchboard_widget::wire`, no serde in the wasm) against the protocol's
//! serde encoding, in the browser whose `JSON` it uses: every frame a visitor can receive
//! decodes to the value the relay serialized, and every frame the widget sends reads back as
//! the protocol's `ClientMsg` and matches serde's JSON. A field added to a wire type that the
//! widget does not read or write makes one of these fail.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::context::{Page, Utm, Verified, Viewport};
use switchboard_protocol::csat::{Csat, Rate, Scale};
use switchboard_protocol::rich::{Button, Card, Price, QuickReply, Rich};
use switchboard_protocol::server::Welcome;
use switchboard_protocol::{
    Cart, ChatMessage, ClientMsg, Context, ErrorCode, Identity, LineItem, Note, Order, Priority,
    ReadSide, Role, Sender, SenderKind, ServerMsg, SystemEvent, VisitorMsg,
};
use switchboard_widget::wire;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn sender(kind: SenderKind, full: bool) -> Sender {
    Sender {
        kind,
        id: "a1".into(),
        name: full.then(|| "Alex ☕".into()),
        avatar: full.then(|| "https://cdn.example/a.png".into()),
    }
}

fn events() -> Vec<SystemEvent> {
    let by = || "alex".to_owned();
    vec![
        SystemEvent::Assigned {
            agent: "sam".into(),
            by: by(),
            agent_name: Some("Sam".into()),
        },
        SystemEvent::Assigned {
            agent: "sam".into(),
            by: by(),
            agent_name: None,
        },
        SystemEvent::Unassigned { by: by() },
        SystemEvent::Transferred {
            from: Some("alex".into()),
            to_agent: Some("sam".into()),
            to_team: Some("billing".into()),
            by: by(),
            to_agent_name: Some("Sam".into()),
            to_team_name: Some("Billing".into()),
        },
        SystemEvent::Transferred {
            from: None,
            to_agent: None,
            to_team: None,
            by: by(),
            to_agent_name: None,
            to_team_name: None,
        },
        SystemEvent::HandedOff {
            team: Some("t".into()),
            priority: Priority::Urgent,
            by: by(),
        },
        SystemEvent::HandedOff {
            team: None,
            priority: Priority::Low,
            by: by(),
        },
        SystemEvent::Pending { by: by() },
        SystemEvent::Snoozed {
            until: 1_900_000_000_000,
            by: by(),
        },
        SystemEvent::Resolved { by: by() },
        SystemEvent::Reopened { by: Some(by()) },
        SystemEvent::Reopened { by: None },
        SystemEvent::Priority {
            priority: Priority::High,
            by: by(),
        },
        SystemEvent::Priority {
            priority: Priority::Normal,
            by: by(),
        },
        SystemEvent::Blocked { by: by() },
        SystemEvent::Unblocked { by: by() },
        SystemEvent::Rated {
            score: 5,
            scale: Scale::Five,
            comment: Some("Très rapide 👍\nmerci".into()),
        },
        SystemEvent::Rated {
            score: 0,
            scale: Scale::Thumbs,
            comment: None,
        },
    ]
}

fn rich() -> Rich {
    Rich {
        quick_replies: vec![QuickReply {
            label: "Talk to a person".into(),
            payload: "human".into(),
        }],
        buttons: vec![
            Button::Link {
                label: "Track".into(),
                url: "https://t.example/1".into(),
            },
            Button::Postback {
                label: "Change".into(),
                payload: "address".into(),
            },
        ],
        cards: vec![
            Card {
                title: "Boots".into(),
                text: Some("Size 43".into()),
                image_url: Some("https://i.example/b.png".into()),
                price: Some(Price {
                    amount: 129.5,
                    currency: "EUR".into(),
                }),
                url: Some("https://shop.example/b".into()),
                buttons: vec![Button::Postback {
                    label: "Buy".into(),
                    payload: "buy".into(),
                }],
            },
            Card {
                title: "Socks".into(),
                text: None,
                image_url: None,
                price: Some(Price {
                    amount: 0.1 + 0.2,
                    currency: "USD".into(),
                }),
                url: None,
                buttons: vec![],
            },
        ],
    }
}

fn message(seq: u64) -> ChatMessage {
    ChatMessage {
        conversation_id: "c_1".into(),
        seq,
        client_id: format!("m{seq}"),
        sender: sender(SenderKind::Agent, false),
        text: "Hello \"there\" \u{1F600} <b>".into(),
        at: 1_700_000_000_123,
        rich: None,
        postback: None,
        event: None,
        note: None,
    }
}

/// Every variant of `VisitorMsg`, with every optional field set and unset.
fn visitor_frames() -> Vec<ServerMsg> {
    let mut frames = vec![
        ServerMsg::Welcome(Welcome {
            protocol: 1,
            role: Role::Visitor,
            id: "v_1".into(),
            token: Some("tok".into()),
            conversation_id: Some("c_1".into()),
            site: Some("s".into()),
            last_seq: Some(12),
            name: Some("n".into()),
            typical_reply_ms: Some(125_000),
            ping_interval_ms: 10_000,
            csat: Some(Csat {
                scale: Scale::Thumbs,
                comment_max: 300,
            }),
        }),
        ServerMsg::Welcome(Welcome {
            protocol: 1,
            role: Role::Agent,
            id: "v_1".into(),
            token: None,
            conversation_id: None,
            site: None,
            last_seq: None,
            name: None,
            typical_reply_ms: None,
            ping_interval_ms: 1,
            csat: None,
        }),
        ServerMsg::Ack {
            conversation_id: "c_1".into(),
            client_id: "a".into(),
            seq: 3,
            at: 9,
            duplicate: true,
        },
        ServerMsg::Ack {
            conversation_id: "c_1".into(),
            client_id: "a".into(),
            seq: 3,
            at: 9,
            duplicate: false,
        },
        ServerMsg::Message(message(1)),
        ServerMsg::Message(ChatMessage {
            sender: sender(SenderKind::Bot, true),
            rich: Some(rich()),
            ..message(2)
        }),
        ServerMsg::Message(ChatMessage {
            sender: sender(SenderKind::Visitor, true),
            postback: Some("human".into()),
            ..message(3)
        }),
        ServerMsg::Message(ChatMessage {
            sender: sender(SenderKind::Agent, true),
            note: Some(Box::new(Note {
                mentions: vec!["sam".into()],
            })),
            ..message(4)
        }),
        ServerMsg::Message(ChatMessage {
            note: Some(Box::default()),
            ..message(5)
        }),
        ServerMsg::Synced {
            conversation_id: "c_1".into(),
            last_seq: 3,
            more: true,
        },
        ServerMsg::Synced {
            conversation_id: "c_1".into(),
            last_seq: 0,
            more: false,
        },
        ServerMsg::Typing {
            conversation_id: "c_1".into(),
            sender: sender(SenderKind::Bot, true),
            active: true,
        },
        ServerMsg::Typing {
            conversation_id: "c_1".into(),
            sender: sender(SenderKind::System, false),
            active: false,
        },
        ServerMsg::Delta {
            conversation_id: "c_1".into(),
            client_id: "answer-1".into(),
            sender: sender(SenderKind::Bot, true),
            index: 0,
            text: "Your order \u{1F4E6} ".into(),
        },
        ServerMsg::Delta {
            conversation_id: "c_1".into(),
            client_id: "answer-1".into(),
            sender: sender(SenderKind::Bot, false),
            index: 4_294_967_295,
            text: "is on its way".into(),
        },
        ServerMsg::Error {
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            client_id: Some("a".into()),
            retry_after_ms: Some(1500),
        },
        ServerMsg::Pong { nonce: Some(7) },
        ServerMsg::Pong { nonce: None },
        ServerMsg::Availability {
            online: true,
            typical_reply_ms: Some(20_000),
        },
        ServerMsg::Availability {
            online: false,
            typical_reply_ms: None,
        },
        ServerMsg::Queue {
            conversation_id: "c_1".into(),
            position: 3,
        },
        ServerMsg::Read {
            conversation_id: "c_1".into(),
            side: ReadSide::Agents,
            seq: 4,
        },
        ServerMsg::Read {
            conversation_id: "c_1".into(),
            side: ReadSide::Visitor,
            seq: 9_007_199_254_740_991,
        },
    ];
    for code in ErrorCode::ALL {
        frames.push(ServerMsg::error(code, code.as_str()));
    }
    for (i, e) in events().into_iter().enumerate() {
        frames.push(ServerMsg::Message(ChatMessage {
            sender: sender(SenderKind::System, false),
            text: String::new(),
            event: Some(Box::new(e)),
            ..message(10 + i as u64)
        }));
    }
    frames
}

#[wasm_bindgen_test]
fn every_frame_a_visitor_receives_decodes_as_serde_wrote_it() {
    let frames = visitor_frames();
    let mut kinds = std::collections::BTreeSet::new();
    for frame in frames {
        let json = frame.to_json();
        let expected: VisitorMsg = serde_json::from_str(&json).unwrap();
        assert_ne!(expected, VisitorMsg::Other, "{json}");
        kinds.insert(json.split('"').nth(3).unwrap().to_owned());
        assert_eq!(wire::decode(&json), Some(expected), "{json}");
    }
    // Every variant of VisitorMsg but `Other` is covered above.
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            "ack",
            "availability",
            "delta",
            "error",
            "message",
            "pong",
            "queue",
            "read",
            "synced",
            "typing",
            "welcome"
        ]
    );
}

#[wasm_bindgen_test]
fn frames_for_others_and_unknown_types_are_other_and_broken_frames_are_refused() {
    for json in [
        r#"{"type":"released","conversation_id":"c","owner":{"kind":"humans"}}"#,
        r#"{"type":"conversations","items":[]}"#,
        r#"{"type":"from_the_future","x":1}"#,
    ] {
        let serde: VisitorMsg = serde_json::from_str(json).unwrap();
        assert_eq!(serde, VisitorMsg::Other);
        assert_eq!(wire::decode(json), Some(VisitorMsg::Other), "{json}");
    }
    for json in [
        "",
        "not json",
        "[]",
        "null",
        r#"{"no_type":1}"#,
        r#"{"type":7}"#,
        r#"{"type":"ack","conversation_id":"c","client_id":"a","seq":-1,"at":1}"#,
        r#"{"type":"ack","conversation_id":"c","client_id":"a","seq":1.5,"at":1}"#,
        r#"{"type":"ack","conversation_id":"c","seq":1,"at":1}"#,
        r#"{"type":"queue","conversation_id":"c","position":4294967296}"#,
        r#"{"type":"error","code":"no_such_code","message":"x"}"#,
        r#"{"type":"typing","conversation_id":"c","sender":{"kind":"alien","id":"x"},"active":true}"#,
        r#"{"type":"message","conversation_id":"c","seq":1,"client_id":"m","sender":{"kind":"bot","id":"b"},"text":"t","at":1,"rich":{"buttons":[{"type":"eval","label":"x"}]}}"#,
        r#"{"type":"welcome","protocol":1,"role":"visitor","id":"v","token":5,"ping_interval_ms":1}"#,
    ] {
        assert!(
            serde_json::from_str::<VisitorMsg>(json).is_err(),
            "serde reads {json}"
        );
        assert_eq!(wire::decode(json), None, "{json}");
    }
    // A newer relay's event code is a bare entry, not a broken frame: its seq still counts.
    let json = r#"{"type":"message","conversation_id":"c","seq":1,"client_id":"m","sender":{"kind":"system","id":"relay"},"text":"","at":1,"event":{"code":"exploded","by":"x"}}"#;
    let serde: VisitorMsg = serde_json::from_str(json).unwrap();
    assert_eq!(wire::decode(json), Some(serde.clone()));
    assert!(
        matches!(&serde, VisitorMsg::Message(m) if m.event.as_deref() == Some(&SystemEvent::Unknown)),
        "{serde:?}"
    );
    // Absent and null optional fields read the same, as serde reads them.
    let json = r#"{"type":"pong","nonce":null}"#;
    assert_eq!(
        wire::decode(json),
        Some(serde_json::from_str(json).unwrap())
    );
}

fn context() -> Context {
    let mut custom = BTreeMap::new();
    custom.insert("plan".into(), json!("pro"));
    custom.insert("seats".into(), json!(12));
    custom.insert("ratio".into(), json!(0.25));
    custom.insert("negative".into(), json!(-3));
    custom.insert("flags".into(), json!([true, false, null, "x", 1.5]));
    custom.insert("nested".into(), json!({ "a": { "b": [1, 2] }, "é": "ü" }));
    Context {
        page: Some(Page {
            url: "https://shop.example/p?q=1".into(),
            title: "Boots – Shop".into(),
            referrer: Some("https://search.example/".into()),
            utm: Some(Utm {
                source: Some("news".into()),
                medium: None,
                campaign: Some("winter".into()),
                term: None,
                content: Some("c".into()),
            }),
            locale: Some("de-CH".into()),
            timezone: Some("Europe/Zurich".into()),
            viewport: Some(Viewport {
                width: 390,
                height: 844,
            }),
        }),
        identity: Some(Identity {
            id: Some("42".into()),
            name: Some("Ada".into()),
            email: Some("ada@example.com".into()),
            verified: vec![Verified::Id, Verified::Email, Verified::Cart],
        }),
        cart: Some(Cart {
            items: vec![
                LineItem {
                    sku: Some("B-43".into()),
                    name: "Boots".into(),
                    quantity: 2,
                    price: Some(129.99),
                    url: Some("https://shop.example/b".into()),
                },
                LineItem {
                    sku: None,
                    name: "Socks".into(),
                    quantity: 1,
                    price: None,
                    url: None,
                },
            ],
            total: Some(259.98),
            currency: Some("EUR".into()),
        }),
        order: Some(Order {
            number: "1042".into(),
            status: Some("shipped".into()),
            items: vec![],
            total: Some(10.5),
            currency: Some("CHF".into()),
            placed_at: Some("2026-11-27".into()),
            estimated_delivery: None,
            tracking_url: Some("https://track.example/1".into()),
        }),
        custom,
    }
}

/// Every frame the widget sends, with optional fields set and unset.
fn sent_frames() -> Vec<ClientMsg> {
    vec![
        ClientMsg::Hello(Hello {
            protocol: 1,
            token: Some("tok".into()),
            context: Some(context()),
            identity_token: Some("jwt".into()),
        }),
        ClientMsg::Hello(Hello {
            protocol: 1,
            token: None,
            context: Some(Context::default()),
            identity_token: None,
        }),
        ClientMsg::Hello(Hello {
            protocol: 1,
            token: None,
            context: None,
            identity_token: None,
        }),
        ClientMsg::Send(Send {
            conversation_id: "c_1".into(),
            client_id: "m1".into(),
            text: "Hi \"you\"\n\u{1F600}".into(),
            rich: None,
            canned_id: None,
        }),
        ClientMsg::Typing {
            conversation_id: "c_1".into(),
            active: true,
        },
        ClientMsg::Typing {
            conversation_id: "c_1".into(),
            active: false,
        },
        ClientMsg::SetContext { context: context() },
        ClientMsg::SetContext {
            context: Context {
                page: Some(Page::default()),
                identity: Some(Identity::default()),
                cart: Some(Cart::default()),
                order: Some(Order::default()),
                custom: BTreeMap::new(),
            },
        },
        ClientMsg::Identify {
            token: "jwt".into(),
        },
        ClientMsg::Sync {
            conversation_id: "c_1".into(),
            since: 9_007_199_254_740_991,
        },
        ClientMsg::Ping { nonce: Some(3) },
        ClientMsg::Ping { nonce: None },
        ClientMsg::Read {
            conversation_id: "c_1".into(),
            seq: 12,
        },
        ClientMsg::Postback {
            conversation_id: "c_1".into(),
            client_id: "m2".into(),
            label: "Talk to a person".into(),
            payload: "human".into(),
        },
        ClientMsg::Rate(Rate {
            conversation_id: "c_1".into(),
            score: 4,
            comment: Some("quick «and» kind\n".into()),
        }),
        ClientMsg::Rate(Rate {
            conversation_id: "c_1".into(),
            score: 0,
            comment: None,
        }),
    ]
}

#[wasm_bindgen_test]
fn every_frame_the_widget_sends_reads_as_the_protocol_writes_it() {
    for frame in sent_frames() {
        let ours = wire::encode(&frame);
        let read: ClientMsg = serde_json::from_str(&ours).unwrap_or_else(|e| panic!("{e}: {ours}"));
        assert_eq!(read, frame, "{ours}");
        // The same JSON as serde's, field for field (optional fields left out alike).
        let a: Value = serde_json::from_str(&ours).unwrap();
        let b: Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(a, b, "{ours}");
        // And `type` first, as the relay writes and expects it.
        assert!(ours.starts_with("{\"type\":"), "{ours}");
    }
    // A whole amount is written `10` (serde writes `10.0`): the same number to the relay.
    let whole = ClientMsg::SetContext {
        context: Context {
            cart: Some(Cart {
                total: Some(10.0),
                ..Cart::default()
            }),
            ..Context::default()
        },
    };
    let read: ClientMsg = serde_json::from_str(&wire::encode(&whole)).unwrap();
    assert_eq!(read, whole);
}

#[wasm_bindgen_test]
fn the_sites_data_reads_like_serde_and_is_measured_like_serde() {
    let ctx = context();
    let json = serde_json::to_string(&ctx).unwrap();
    let parsed = wire::parse(&json).unwrap();
    let get = |k: &str| js_sys::Reflect::get(&parsed, &k.into()).unwrap();
    assert_eq!(wire::cart(&get("cart")), ctx.cart);
    assert_eq!(wire::order(&get("order")), ctx.order);
    assert_eq!(wire::identity(&get("identity")), ctx.identity);
    for (k, v) in wire::entries(&get("custom")) {
        assert_eq!(Some(&wire::value(&v)), ctx.custom.get(&k), "{k}");
    }
    // The widget measures the context with JSON.stringify; serde's size is the relay's.
    let ours = wire::stringify(&wire::context(&ctx)).unwrap();
    assert_eq!(ours.len(), json.len());
    // Defaults as serde has them: quantity 1, lists empty; a number id becomes a string.
    let item = wire::parse(r#"{"items":[{"name":"x"}]}"#).unwrap();
    assert_eq!(
        wire::cart(&item),
        Some(serde_json::from_str(r#"{"items":[{"name":"x"}]}"#).unwrap())
    );
    let id = wire::parse(r#"{"id":1042,"name":"Ada"}"#).unwrap();
    assert_eq!(wire::identity(&id).unwrap().id.as_deref(), Some("1042"));
    for bad in [
        r#"{"items":[{"quantity":1}]}"#,
        r#"{"items":"x"}"#,
        r#"{"total":"12"}"#,
        "[]",
    ] {
        assert_eq!(wire::cart(&wire::parse(bad).unwrap()), None, "{bad}");
    }
    assert_eq!(
        wire::order(&wire::parse(r#"{"status":"x"}"#).unwrap()),
        None
    );
    // Prototype.js-style toJSON on Array.prototype does not change what is written.
    let array_proto = js_sys::Object::get_prototype_of(&js_sys::Array::new());
    let to_json = js_sys::Function::new_no_args("return 'broken'");
    js_sys::Reflect::set(&array_proto, &"toJSON".into(), &to_json).unwrap();
    let written = wire::encode(&ClientMsg::SetContext { context: ctx });
    js_sys::Reflect::delete_property(&array_proto, &"toJSON".into()).unwrap();
    assert!(
        serde_json::from_str::<ClientMsg>(&written).is_ok(),
        "{written}"
    );
}

#[wasm_bindgen_test]
fn numbers_are_written_by_the_browser() {
    assert_eq!(wire::fixed(129.5, 2), "129.50");
    assert_eq!(wire::fixed(0.1 + 0.2, 2), "0.30");
    assert_eq!(wire::number_text(-12.25), "-12.25");
    assert_eq!(wire::number_text(390.0), "390");
}

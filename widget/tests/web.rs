//! Component tests in headless Chromium, the widget mounted inside an open shadow root as the
//! loader does it. There is no relay here: the first test checks the widget copes with a
//! refused WebSocket; the second makes the widget a follower tab (the test holds the site's tab
//! lock) and plays the leader, feeding it relay frames over the tabs' `BroadcastChannel`, so the
//! real frame handling and rendering run without a server.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Leptos effects run asynchronously; give them (and a frame) time.
async fn tick(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Mounts the widget as the loader does: a `div.sb-root` inside an open shadow root.
fn mount(site: &str, relay: &str) -> web_sys::ShadowRoot {
    let host = document().create_element("div").unwrap();
    document().body().unwrap().append_child(&host).unwrap();
    let init = web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open);
    let root = host.attach_shadow(&init).unwrap();
    let container: web_sys::HtmlElement =
        document().create_element("div").unwrap().unchecked_into();
    container.set_class_name("sb-root");
    root.append_child(&container).unwrap();
    switchboard_widget::mount(container, site.into(), relay.into());
    root
}

fn find(root: &web_sys::ShadowRoot, testid: &str) -> Option<web_sys::HtmlElement> {
    root.query_selector(&format!("[data-testid={testid}]"))
        .unwrap()
        .map(|e| e.unchecked_into())
}

fn get(root: &web_sys::ShadowRoot, testid: &str) -> web_sys::HtmlElement {
    find(root, testid).unwrap_or_else(|| panic!("no [data-testid={testid}]"))
}

fn all(root: &web_sys::ShadowRoot, testid: &str) -> Vec<web_sys::Element> {
    let list = root
        .query_selector_all(&format!("[data-testid={testid}]"))
        .unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.unchecked_into())
        .collect()
}

fn panel_shown(root: &web_sys::ShadowRoot) -> bool {
    !get(root, "panel").has_attribute("hidden")
}

fn command(name: &str, a: JsValue, b: JsValue) {
    switchboard_widget::command(name.into(), a, b);
}

#[wasm_bindgen_test]
async fn launcher_toggles_the_panel_and_survives_a_refused_socket() {
    // Port 9 (discard) refuses connections: the widget must cope.
    let root = mount("test-site", "http://127.0.0.1:9/");
    tick(30).await;

    let launcher = get(&root, "launcher");
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert_eq!(
        launcher.get_attribute("aria-controls").as_deref(),
        Some("sb-panel")
    );
    assert!(!panel_shown(&root));
    launcher.click();
    tick(30).await;
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert!(panel_shown(&root));
    let panel = get(&root, "panel");
    assert_eq!(panel.get_attribute("role").as_deref(), Some("dialog"));
    assert!(panel.get_attribute("aria-label").is_some());
    // Opening focuses the composer.
    let input = get(&root, "composer-input");
    assert_eq!(root.active_element().as_ref(), Some(input.unchecked_ref()));
    launcher.click();
    tick(30).await;
    assert!(!panel_shown(&root));
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );

    // The API opens and closes it too, and tells listeners.
    let calls = js_sys::Array::new();
    let record =
        js_sys::Function::new_with_args("e", "this.push(e === undefined ? 'x' : e)").bind0(&calls);
    command("on", "open".into(), record.clone().into());
    command("on", "ready".into(), record.clone().into());
    assert_eq!(calls.length(), 1, "a late ready listener is called at once");
    command("open", JsValue::UNDEFINED, JsValue::UNDEFINED);
    tick(30).await;
    assert!(panel_shown(&root));
    assert_eq!(calls.length(), 2, "open listener called");
    command("toggle", JsValue::UNDEFINED, JsValue::UNDEFINED);
    tick(30).await;
    assert!(!panel_shown(&root));
    command("open", JsValue::UNDEFINED, JsValue::UNDEFINED);
    tick(700).await;
    let state = get(&root, "connection")
        .get_attribute("data-state")
        .unwrap();
    assert!(
        state == "reconnecting" || state == "connecting",
        "no relay, so not online: {state}"
    );
    assert!(!get(&root, "connection").inner_text().is_empty());

    // Unknown commands and bad arguments are ignored, never thrown.
    command("launch", JsValue::UNDEFINED, JsValue::UNDEFINED);
    command("setContext", 42.into(), JsValue::UNDEFINED);
    command("identify", "bob".into(), JsValue::UNDEFINED);
    command("on", "message".into(), 1.into());
    let ctx = js_sys::JSON::parse(r#"{"cart":{"items":"nope"},"plan":"pro"}"#).unwrap();
    command("setContext", ctx, JsValue::UNDEFINED);
    let ok = js_sys::JSON::parse(r#"{"id":42,"name":"Bob","email":"bob@example.com"}"#).unwrap();
    command("identify", ok, JsValue::UNDEFINED);
}

/// The test side of the tabs' channel: posts frames as the leader tab would, and records what
/// the widget asks the leader to send.
struct Leader {
    channel: web_sys::BroadcastChannel,
    asked: Rc<RefCell<Vec<String>>>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl Leader {
    fn new(site: &str) -> Leader {
        // Holding the site's tab lock first makes the widget a follower: it never opens a
        // socket and takes every frame from us.
        let hold = js_sys::Function::new_with_args(
            "name",
            "return navigator.locks.request(name, () => new Promise(() => {}))",
        );
        let name = format!("switchboard:{site}");
        hold.call1(&JsValue::NULL, &JsValue::from_str(&name))
            .unwrap();
        let channel = web_sys::BroadcastChannel::new(&name).unwrap();
        let asked = Rc::new(RefCell::new(Vec::new()));
        let sink = asked.clone();
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(text) = ev.data().as_string() {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    if v["t"] == "send" {
                        sink.borrow_mut().push(v["d"].as_str().unwrap().to_owned());
                    }
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Leader {
            channel,
            asked,
            _on_message: on_message,
        }
    }

    fn frame(&self, frame: serde_json::Value) {
        let wrapped = serde_json::json!({ "t": "frame", "d": frame.to_string() });
        self.channel
            .post_message(&JsValue::from_str(&wrapped.to_string()))
            .unwrap();
    }

    /// The leader's socket is up and caught up on an empty conversation `c1`.
    fn welcome(&self) {
        self.conn("online");
        self.frame(serde_json::json!({
            "type": "welcome", "protocol": 1, "role": "visitor", "id": "v1", "token": "tok",
            "conversation_id": "c1", "last_seq": 0, "ping_interval_ms": 10000,
        }));
        self.frame(serde_json::json!({ "type": "synced", "conversation_id": "c1", "last_seq": 0 }));
    }

    fn conn(&self, state: &str) {
        let wrapped = serde_json::json!({ "t": "conn", "d": state });
        self.channel
            .post_message(&JsValue::from_str(&wrapped.to_string()))
            .unwrap();
    }

    /// The frames the widget asked us to send, decoded.
    fn asked(&self) -> Vec<serde_json::Value> {
        self.asked
            .borrow()
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect()
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Later tests' widgets must not reach our dropped closure.
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

fn agent_message(seq: u64, text: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "message", "conversation_id": "c1", "seq": seq, "client_id": format!("a{seq}"),
        "sender": { "kind": "agent", "id": "agent-1", "name": "Alex" },
        "text": text, "at": 1_700_000_000_000u64 + seq,
    })
}

#[wasm_bindgen_test]
async fn relay_frames_render_as_text_links_and_delivery_states() {
    // No outbox left over from an earlier run.
    if let Ok(Some(storage)) = web_sys::window().unwrap().local_storage() {
        storage.clear().unwrap();
    }
    let leader = Leader::new("follower-site");
    let root = mount("follower-site", "http://127.0.0.1:9/");
    tick(50).await;

    leader.welcome();
    tick(50).await;
    assert_eq!(
        get(&root, "connection")
            .get_attribute("data-state")
            .as_deref(),
        Some("online")
    );
    // A tab that joins tells the relay the page it is on.
    assert!(
        leader.asked().iter().any(|f| f["type"] == "set_context"),
        "asked: {:?}",
        leader.asked()
    );

    let hostile = "<img src=x onerror=alert(1)> javascript:alert(1) data:text/html,<b>x</b>";
    leader.frame(agent_message(1, hostile));
    leader.frame(agent_message(2, "see https://example.com/a?b=1."));
    // A replay repeats a seq: shown once.
    leader.frame(agent_message(1, hostile));
    tick(50).await;

    // Two agent messages arrived while closed.
    assert_eq!(get(&root, "unread").text_content().as_deref(), Some("2"));
    let name = get(&root, "launcher").get_attribute("aria-label").unwrap();
    assert_eq!(
        name, "Open chat, 2 unread messages",
        "the count is in the launcher's name"
    );
    assert_eq!(
        get(&root, "announcer").text_content().as_deref(),
        Some("New message from Alex: see https://example.com/a?b=1."),
        "said while closed"
    );
    get(&root, "launcher").click();
    tick(50).await;
    assert!(find(&root, "unread").is_none(), "opening clears the badge");

    let rows = all(&root, "message");
    assert_eq!(rows.len(), 2, "deduplicated by seq");
    let first = &rows[0];
    assert_eq!(first.get_attribute("data-sender").as_deref(), Some("agent"));
    assert_eq!(first.get_attribute("data-seq").as_deref(), Some("1"));
    assert_eq!(first.get_attribute("data-state").as_deref(), Some("sent"));
    let text = first
        .query_selector("[data-testid=message-text]")
        .unwrap()
        .unwrap();
    assert_eq!(text.text_content().as_deref(), Some(hostile));
    assert!(
        text.query_selector("img, a, b").unwrap().is_none(),
        "rendered as text"
    );
    let sender = first
        .query_selector("[data-testid=message-sender]")
        .unwrap()
        .unwrap();
    assert_eq!(sender.text_content().as_deref(), Some("Alex"));
    let time = first
        .query_selector("[data-testid=message-time]")
        .unwrap()
        .unwrap();
    assert!(time
        .get_attribute("datetime")
        .unwrap()
        .starts_with("2023-11-14T"));
    // Worded by the browser's `Intl` in the widget's language; another day shows its date.
    let shown = time.text_content().unwrap();
    assert!(
        shown.contains("Nov") && shown.contains(':'),
        "date and time: {shown}"
    );
    assert!(root.query_selector("img").unwrap().is_none());

    let second = rows[1]
        .query_selector("[data-testid=message-text]")
        .unwrap()
        .unwrap();
    let links = second.query_selector_all("a").unwrap();
    assert_eq!(links.length(), 1);
    let a: web_sys::Element = links.item(0).unwrap().unchecked_into();
    assert_eq!(
        a.get_attribute("href").as_deref(),
        Some("https://example.com/a?b=1")
    );
    assert_eq!(a.get_attribute("target").as_deref(), Some("_blank"));
    let rel = a.get_attribute("rel").unwrap();
    assert!(
        rel.contains("noopener") && rel.contains("noreferrer"),
        "{rel}"
    );
    assert_eq!(
        second.text_content().as_deref(),
        Some("see https://example.com/a?b=1.")
    );

    // The agent is typing, then stops.
    let typing = serde_json::json!({
        "type": "typing", "conversation_id": "c1", "active": true,
        "sender": { "kind": "agent", "id": "agent-1", "name": "Alex" },
    });
    leader.frame(typing.clone());
    tick(50).await;
    assert!(get(&root, "typing")
        .text_content()
        .unwrap()
        .contains("Alex"));
    let mut stop = typing;
    stop["active"] = false.into();
    leader.frame(stop);
    tick(50).await;
    assert_eq!(get(&root, "typing").text_content().unwrap_or_default(), "");

    // Sending: pending at once, sent with its seq on ack.
    let input: web_sys::HtmlTextAreaElement = get(&root, "composer-input").unchecked_into();
    input.set_value("hello <b>there</b>");
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    get(&root, "send").click();
    tick(50).await;
    assert_eq!(input.value(), "", "draft cleared");
    let rows = all(&root, "message");
    assert_eq!(rows.len(), 3);
    let own = &rows[2];
    assert_eq!(own.get_attribute("data-sender").as_deref(), Some("visitor"));
    assert_eq!(own.get_attribute("data-state").as_deref(), Some("pending"));
    let send = leader
        .asked()
        .into_iter()
        .find(|f| f["type"] == "send")
        .expect("the message was handed to the leader");
    assert_eq!(send["text"], "hello <b>there</b>");
    assert_eq!(send["conversation_id"], "c1");
    let client_id = send["client_id"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 16);
    assert!(client_id.bytes().all(|b| b.is_ascii_hexdigit()));

    leader.frame(serde_json::json!({
        "type": "ack", "conversation_id": "c1", "client_id": client_id, "seq": 3,
        "at": 1_700_000_000_003u64,
    }));
    tick(50).await;
    let rows = all(&root, "message");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].get_attribute("data-state").as_deref(), Some("sent"));
    assert_eq!(rows[2].get_attribute("data-seq").as_deref(), Some("3"));
    let mine = rows[2]
        .query_selector("[data-testid=message-text]")
        .unwrap()
        .unwrap();
    assert_eq!(mine.text_content().as_deref(), Some("hello <b>there</b>"));

    // Too long: said at once, and not sent.
    input.set_value(&"a".repeat(switchboard_protocol::limits::MAX_TEXT_BYTES + 1));
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    tick(50).await;
    assert!(find(&root, "composer-error").is_some());
    assert_eq!(input.get_attribute("aria-invalid").as_deref(), Some("true"));
    get(&root, "send").click();
    tick(50).await;
    assert_eq!(all(&root, "message").len(), 3, "nothing sent");

    // A refused message is marked failed.
    input.set_value("too much");
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    get(&root, "send").click();
    tick(50).await;
    let refused = leader
        .asked()
        .into_iter()
        .rfind(|f| f["type"] == "send")
        .unwrap();
    leader.frame(serde_json::json!({
        "type": "error", "code": "too_large", "message": "text too long",
        "client_id": refused["client_id"],
    }));
    tick(50).await;
    let rows = all(&root, "message");
    assert_eq!(
        rows[3].get_attribute("data-state").as_deref(),
        Some("failed")
    );

    // Escape closes and gives focus back to the launcher.
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let esc = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    input.dispatch_event(&esc).unwrap();
    tick(80).await;
    assert!(!panel_shown(&root));
    let launcher = get(&root, "launcher");
    assert_eq!(
        root.active_element().as_ref(),
        Some(launcher.unchecked_ref())
    );
}

#[wasm_bindgen_test]
async fn bot_rich_messages_render_safely_and_chips_send_postbacks() {
    let leader = Leader::new("bot-site");
    let root = mount("bot-site", "http://127.0.0.1:9/");
    tick(50).await;
    leader.welcome();
    // What a hostile bot might try; the relay refuses it, and the widget must not trust it either.
    leader.frame(serde_json::json!({
        "type": "message", "conversation_id": "c1", "seq": 1, "client_id": "b1",
        "sender": { "kind": "bot", "id": "orderbot", "name": "Orderbot",
                    "avatar": "javascript:alert(1)" },
        "text": "Your order is on its way.", "at": 1_700_000_000_001u64,
        "rich": {
            "quick_replies": [{ "label": "Talk to a person", "payload": "human" }],
            "buttons": [
                { "type": "link", "label": "Track", "url": "https://tracking.example/1042" },
                { "type": "link", "label": "Evil", "url": "javascript:alert(1)" },
                { "type": "postback", "label": "Change address", "payload": "address" }
            ],
            "cards": [{ "title": "Trail boots", "text": "Size 43",
                        "image_url": "data:image/png;base64,AAAA",
                        "url": "https://shop.example/boots",
                        "price": { "amount": 129.5, "currency": "EUR" } }]
        }
    }));
    tick(50).await;
    get(&root, "launcher").click();
    tick(50).await;

    let row = &all(&root, "message")[0];
    assert_eq!(row.get_attribute("data-sender").as_deref(), Some("bot"));
    assert_eq!(
        get(&root, "message-sender").text_content().as_deref(),
        Some("Orderbot")
    );
    assert_eq!(
        get(&root, "bot-badge").text_content().as_deref(),
        Some("Bot")
    );
    assert!(
        root.query_selector("img").unwrap().is_none(),
        "no javascript: or data: images"
    );
    let links: Vec<_> = all(&root, "rich-link")
        .iter()
        .map(|a| a.get_attribute("href").unwrap())
        .collect();
    assert_eq!(
        links,
        ["https://tracking.example/1042"],
        "only http(s) links"
    );
    assert!(root.query_selector("[href^=javascript]").unwrap().is_none());
    assert_eq!(
        get(&root, "card-title")
            .text_content()
            .unwrap()
            .trim_start(),
        "Trail boots (opens in a new tab)"
    );
    assert_eq!(
        get(&root, "card-price").text_content().as_deref(),
        Some("129.50 EUR")
    );
    let chips = get(&root, "quick-replies");
    assert_eq!(chips.get_attribute("role").as_deref(), Some("group"));
    assert_eq!(
        chips.get_attribute("aria-label").as_deref(),
        Some("Suggested replies")
    );

    // The bot's typing indicator names it like an agent's.
    leader.frame(serde_json::json!({
        "type": "typing", "conversation_id": "c1", "active": true,
        "sender": { "kind": "bot", "id": "orderbot", "name": "Orderbot" },
    }));
    tick(50).await;
    assert!(get(&root, "typing")
        .text_content()
        .unwrap()
        .contains("Orderbot"));

    // A chip is the visitor speaking: shown as pending at once, sent as a postback.
    get(&root, "quick-reply").click();
    tick(50).await;
    let postback = leader
        .asked()
        .into_iter()
        .find(|f| f["type"] == "postback")
        .expect("the click was handed to the leader");
    assert_eq!(postback["label"], "Talk to a person");
    assert_eq!(postback["payload"], "human");
    assert_eq!(postback["conversation_id"], "c1");
    let rows = all(&root, "message");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1].get_attribute("data-state").as_deref(),
        Some("pending")
    );
    assert!(
        find(&root, "quick-reply").is_none(),
        "chips only under the latest message"
    );

    // The postback survives a reload like a typed message: it is in the outbox until acked.
    let stored = web_sys::window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap()
        .get_item("switchboard:bot-site:outbox")
        .unwrap()
        .unwrap();
    assert!(stored.contains("\"postback\":\"human\""), "{stored}");

    // The postback button sends its own payload.
    get(&root, "rich-button").click();
    tick(50).await;
    assert!(leader
        .asked()
        .iter()
        .any(|f| f["type"] == "postback" && f["payload"] == "address"));
}

/// Every `t` the widget posts to the other tabs, heard on a channel of our own.
struct Ear {
    channel: web_sys::BroadcastChannel,
    heard: Rc<RefCell<Vec<String>>>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
}

impl Ear {
    fn new(site: &str) -> Ear {
        let channel = web_sys::BroadcastChannel::new(&format!("switchboard:{site}")).unwrap();
        let heard = Rc::new(RefCell::new(Vec::new()));
        let sink = heard.clone();
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(text) = ev.data().as_string() {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    sink.borrow_mut()
                        .push(v["t"].as_str().unwrap_or("").to_owned());
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Ear {
            channel,
            heard,
            _on_message: on_message,
        }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.heard.borrow_mut())
    }
}

impl Drop for Ear {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

#[wasm_bindgen_test]
async fn withdrawn_consent_forgets_the_visitor_blocks_the_chat_and_asks_again() {
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    storage.clear().unwrap();
    storage
        .set_item("switchboard:consent-site:token", "tok-old")
        .unwrap();
    let leader = Leader::new("consent-site");
    let ear = Ear::new("consent-site");
    let root = mount("consent-site", "http://127.0.0.1:9/");
    tick(50).await;
    // A conversation to come back to: the tab asks for the connection at once, unopened.
    assert!(ear.take().contains(&"connect".to_owned()));
    leader.welcome();
    leader.frame(agent_message(1, "hello"));
    tick(50).await;
    assert_eq!(all(&root, "message").len(), 1);

    let calls = js_sys::Array::new();
    let record = js_sys::Function::new_with_args("", "this.push(1)").bind0(&calls);
    command("on", "consent_required".into(), record.into());
    command("consent", false.into(), JsValue::UNDEFINED);
    tick(50).await;
    assert_eq!(
        storage.get_item("switchboard:consent-site:token").unwrap(),
        None
    );
    assert!(all(&root, "message").is_empty(), "the transcript is gone");
    assert!(
        ear.take().contains(&"withdraw".to_owned()),
        "the other tabs are told"
    );

    // Frames for the old visitor no longer reach this tab; opening asks instead of connecting.
    leader.frame(agent_message(2, "still there?"));
    get(&root, "launcher").click();
    tick(50).await;
    assert!(all(&root, "message").is_empty());
    assert!(!panel_shown(&root));
    assert_eq!(calls.length(), 1, "consent_required fired");
    assert!(!ear.take().contains(&"connect".to_owned()));
    assert_eq!(storage.length().unwrap(), 0, "nothing stored");

    command("consent", true.into(), JsValue::UNDEFINED);
    get(&root, "launcher").click();
    tick(50).await;
    assert!(panel_shown(&root));
    assert!(ear.take().contains(&"connect".to_owned()));
}

fn system(seq: u64, event: Option<serde_json::Value>) -> serde_json::Value {
    let mut m = serde_json::json!({
        "type": "message", "conversation_id": "c1", "seq": seq, "client_id": format!("v{seq}"),
        "sender": { "kind": "system", "id": "system" }, "text": "", "at": 1_700_000_000_000u64 + seq,
    });
    if let Some(e) = event {
        m["event"] = e;
    }
    m
}

fn texts(root: &web_sys::ShadowRoot, testid: &str) -> Vec<(String, String)> {
    all(root, testid)
        .iter()
        .map(|e| {
            (
                e.get_attribute("data-code").unwrap_or_default(),
                e.text_content().unwrap_or_default().trim().to_owned(),
            )
        })
        .collect()
}

#[wasm_bindgen_test]
async fn the_story_the_queue_the_resolved_state_and_the_reply_time() {
    if let Ok(Some(storage)) = web_sys::window().unwrap().local_storage() {
        storage.clear().unwrap();
    }
    let leader = Leader::new("desk-site");
    let root = mount("desk-site", "http://127.0.0.1:9/");
    tick(50).await;
    leader.welcome();
    tick(50).await;
    get(&root, "launcher").click();

    // Availability in the header: the figure rounded up to whole minutes.
    leader.frame(
        serde_json::json!({ "type": "availability", "online": true, "typical_reply_ms": 125_000 }),
    );
    tick(50).await;
    assert_eq!(
        get(&root, "connection").text_content().as_deref(),
        Some("We're online — typically replies in 3 minutes")
    );
    leader.frame(
        serde_json::json!({ "type": "availability", "online": true, "typical_reply_ms": 20_000 }),
    );
    tick(50).await;
    assert_eq!(
        get(&root, "connection").text_content().as_deref(),
        Some("We're online — typically replies in 1 minute")
    );
    leader.frame(serde_json::json!({ "type": "availability", "online": false }));
    tick(50).await;
    assert_eq!(
        get(&root, "connection").text_content().as_deref(),
        Some("We're away — we'll reply soon")
    );

    // Waiting: the position, live; another conversation's is not ours.
    leader.frame(serde_json::json!({ "type": "queue", "conversation_id": "c1", "position": 3 }));
    leader.frame(serde_json::json!({ "type": "queue", "conversation_id": "c9", "position": 1 }));
    tick(50).await;
    assert_eq!(
        get(&root, "queue-position").text_content().as_deref(),
        Some("You are number 3 in the queue")
    );
    leader.frame(serde_json::json!({ "type": "queue", "conversation_id": "c1", "position": 2 }));
    tick(50).await;
    assert_eq!(
        get(&root, "queue-position").text_content().as_deref(),
        Some("You are number 2 in the queue")
    );

    // The story; an entry without event (one the relay keeps from visitors) and an agent-only
    // code are not shown, but count for the gap-free seqs.
    leader.frame(agent_message(1, "hello"));
    leader.frame(system(2, None));
    leader.frame(system(3, Some(serde_json::json!({ "code": "assigned", "agent": "alex", "agent_name": "Alex", "by": "system" }))));
    tick(50).await;
    assert!(
        find(&root, "queue-position").is_none(),
        "assigned: no queue"
    );
    leader.frame(system(
        4,
        Some(serde_json::json!({ "code": "priority", "priority": "urgent", "by": "alex" })),
    ));
    leader.frame(system(5, Some(serde_json::json!({ "code": "transferred", "from": "alex", "to_team": "billing", "to_team_name": "Billing", "by": "alex" }))));
    leader.frame(system(
        6,
        Some(serde_json::json!({ "code": "assigned", "agent": "sam", "by": "system" })),
    ));
    leader.frame(system(
        7,
        Some(serde_json::json!({ "code": "resolved", "by": "sam" })),
    ));
    tick(50).await;
    let story = texts(&root, "system-event");
    let want: Vec<(String, String)> = [
        ("assigned", "Alex joined"),
        ("transferred", "Transferred to Billing"),
        ("assigned", "sam joined"),
        ("resolved", "Resolved"),
    ]
    .iter()
    .map(|(c, t)| (c.to_string(), t.to_string()))
    .collect();
    assert_eq!(story, want);
    assert!(!root.inner_html().contains("urgent"));
    assert_eq!(
        get(&root, "conversation-resolved")
            .text_content()
            .as_deref(),
        Some("This conversation was resolved. Write to reopen it.")
    );
    // The composer still works while resolved.
    let input: web_sys::HtmlTextAreaElement = get(&root, "composer-input").unchecked_into();
    assert!(!input.disabled());

    leader.frame(system(8, Some(serde_json::json!({ "code": "reopened" }))));
    tick(50).await;
    assert!(find(&root, "conversation-resolved").is_none(), "reopened");
    assert_eq!(
        texts(&root, "system-event").last().unwrap(),
        &("reopened".to_owned(), "Conversation reopened".to_owned())
    );
}

//! Component tests in headless Chromium: the console mounted on a scratch element, fed relay
//! frames through `connection::receive` (no relay runs; sends go nowhere, as when offline).
//! Each test uses its own conversation ids because the session state is per page.

use leptos::prelude::*;
use serde_json::json;
use switchboard_console::{app, connection, Console};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn tick() {
    gloo_timers::future::TimeoutFuture::new(20).await;
}

struct Mounted {
    root: web_sys::HtmlElement,
    console: Console,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.root.remove();
    }
}

/// The console, signed in (no socket) unless `token` is None.
fn mount(token: Option<&str>) -> Mounted {
    let document = web_sys::window().unwrap().document().unwrap();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let console = Console::create();
    console
        .auth
        .set(token.map(|t| switchboard_console::auth::Auth::Token(t.to_owned())));
    let handle = leptos::mount::mount_to(root.clone(), move || app(console).into_any());
    Mounted {
        root,
        console,
        _handle: handle,
    }
}

impl Mounted {
    fn all(&self, css: &str) -> Vec<web_sys::HtmlElement> {
        let list = self.root.query_selector_all(css).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into())
            .collect()
    }

    fn one(&self, testid: &str) -> web_sys::HtmlElement {
        self.root
            .query_selector(&format!("[data-testid={testid}]"))
            .unwrap()
            .unwrap_or_else(|| panic!("no {testid}"))
            .unchecked_into()
    }

    fn text(&self, testid: &str) -> String {
        self.one(testid).text_content().unwrap_or_default()
    }

    fn frame(&self, v: serde_json::Value) {
        connection::receive(self.console, &v.to_string());
    }
}

fn summary(
    id: &str,
    last_activity: u64,
    last_seq: u64,
    from: &str,
    text: &str,
) -> serde_json::Value {
    json!({
        "id": id, "site": "demo", "visitor_id": format!("v_{id}abcdef"),
        "page_title": "Order status", "created_at": 1, "last_activity": last_activity,
        "last_seq": last_seq, "last_message": {"sender": from, "text": text}
    })
}

fn message(conv: &str, seq: u64, kind: &str, text: &str) -> serde_json::Value {
    json!({
        "type": "message", "conversation_id": conv, "seq": seq, "client_id": format!("m{seq}"),
        "sender": {"kind": kind, "id": "x"}, "text": text, "at": 1_700_000_000_000u64 + seq
    })
}

fn welcome() -> serde_json::Value {
    json!({"type": "welcome", "protocol": 1, "role": "agent", "id": "a_test", "name": "Alex", "ping_interval_ms": 25000})
}

#[wasm_bindgen_test]
async fn sign_in_form_asks_for_agent_and_password_with_a_token_beneath() {
    let m = mount(None);
    tick().await;
    let agent = m.one("login-agent");
    assert_eq!(
        agent.get_attribute("autocomplete").as_deref(),
        Some("username")
    );
    let password = m.one("login-password");
    assert_eq!(password.get_attribute("type").as_deref(), Some("password"));
    assert_eq!(
        password.get_attribute("autocomplete").as_deref(),
        Some("current-password")
    );
    // Each field has its label.
    for id in ["c-agent", "c-password", "c-token"] {
        assert_eq!(m.all(&format!("label[for={id}]")).len(), 1, "{id}");
    }
    m.one("login-submit").click();
    tick().await;
    assert!(m.text("sign-in-error").contains("password"));
    assert_eq!(
        m.one("sign-in-error").get_attribute("role").as_deref(),
        Some("alert")
    );
    let input = m.one("token-input");
    assert_eq!(input.get_attribute("type").as_deref(), Some("password"));
    m.one("sign-in").click();
    tick().await;
    assert!(m.text("sign-in-error").contains("token"));
    assert!(m.all("[data-testid=conversation-list]").is_empty());
}

#[wasm_bindgen_test]
async fn inbox_sorts_by_activity_and_marks_unread() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "conversations", "items": [
        summary("in1", 100, 2, "visitor", "older"),
        summary("in2", 300, 4, "visitor", "newest"),
        summary("in3", 200, 1, "agent", "we answered"),
    ]}));
    tick().await;
    assert_eq!(m.text("agent-name"), "Alex");
    assert_eq!(
        m.one("connection").get_attribute("data-state").as_deref(),
        Some("online")
    );
    let items = m.all("[data-testid=conversation]");
    let ids: Vec<_> = items
        .iter()
        .map(|e| e.get_attribute("data-id").unwrap())
        .collect();
    assert_eq!(ids, ["in2", "in3", "in1"]);
    let unread: Vec<_> = items
        .iter()
        .map(|e| e.get_attribute("data-unread").unwrap())
        .collect();
    assert_eq!(
        unread,
        ["true", "false", "true"],
        "the agent's own last word is not unread"
    );
    assert!(items[0].text_content().unwrap().contains("Visitor in2abc"));
    assert!(items[0].text_content().unwrap().contains("newest"));

    // A new conversation goes to the top; a live message moves an old one up and marks it.
    m.frame(
        json!({"type": "conversation", "id": "in4", "site": "demo", "visitor_id": "v_1",
        "visitor_name": "Dana", "created_at": 400, "last_activity": 400, "last_seq": 1,
        "last_message": {"sender": "visitor", "text": "hi"}}),
    );
    m.frame(message("in3", 2, "visitor", "thanks!"));
    let mut late = message("in3", 2, "visitor", "thanks!");
    late["at"] = json!(500);
    m.frame(late);
    tick().await;
    let items = m.all("[data-testid=conversation]");
    let ids: Vec<_> = items
        .iter()
        .map(|e| e.get_attribute("data-id").unwrap())
        .collect();
    assert_eq!(ids[1], "in4");
    assert!(items[1].text_content().unwrap().contains("Dana"));
    let in3 = &m.all("[data-testid=conversation][data-id=in3]")[0];
    assert_eq!(in3.get_attribute("data-unread").as_deref(), Some("true"));
    assert!(in3.text_content().unwrap().contains("thanks!"));

    // Opening it marks it read.
    in3.query_selector("button")
        .unwrap()
        .unwrap()
        .unchecked_into::<web_sys::HtmlElement>()
        .click();
    tick().await;
    let in3 = &m.all("[data-testid=conversation][data-id=in3]")[0];
    assert_eq!(in3.get_attribute("data-unread").as_deref(), Some("false"));
}

#[wasm_bindgen_test]
async fn transcript_dedupes_and_renders_text_not_html() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "conversations", "items": [summary("tr1", 100, 3, "visitor", "x")]}));
    tick().await;
    connection::open(m.console, "tr1");
    m.frame(message(
        "tr1",
        2,
        "agent",
        "see https://shop.example/track?id=1.",
    ));
    m.frame(message(
        "tr1",
        1,
        "visitor",
        "<img src=x onerror=alert(1)> javascript:alert(1)",
    ));
    m.frame(message("tr1", 2, "agent", "duplicate must not show"));
    m.frame(message("tr1", 3, "bot", "bye"));
    m.frame(json!({"type": "synced", "conversation_id": "tr1", "last_seq": 3}));
    tick().await;
    let rows = m.all("[data-testid=message]");
    let seqs: Vec<_> = rows
        .iter()
        .map(|e| e.get_attribute("data-seq").unwrap())
        .collect();
    assert_eq!(seqs, ["1", "2", "3"]);
    let senders: Vec<_> = rows
        .iter()
        .map(|e| e.get_attribute("data-sender").unwrap())
        .collect();
    assert_eq!(senders, ["visitor", "agent", "bot"]);
    assert!(m.all("[data-testid=transcript] img").is_empty());
    assert!(rows[0].text_content().unwrap().contains("<img src=x"));
    let links = m.all("[data-testid=transcript] a");
    assert_eq!(links.len(), 1, "only the http link");
    assert_eq!(
        links[0].get_attribute("href").as_deref(),
        Some("https://shop.example/track?id=1")
    );
    assert_eq!(links[0].get_attribute("target").as_deref(), Some("_blank"));
    assert_eq!(
        links[0].get_attribute("rel").as_deref(),
        Some("noopener noreferrer nofollow")
    );

    m.frame(json!({"type": "typing", "conversation_id": "tr1", "sender": {"kind": "visitor", "id": "v"}, "active": true}));
    tick().await;
    assert_eq!(m.text("visitor-typing"), "Visitor is typing…");
    m.frame(json!({"type": "typing", "conversation_id": "tr1", "sender": {"kind": "visitor", "id": "v"}, "active": false}));
    tick().await;
    assert!(m.all("[data-testid=visitor-typing]").is_empty());

    // Frames the console cannot read change nothing.
    connection::receive(m.console, "{\"type\":\"message\",\"seq\":\"nope\"}");
    connection::receive(m.console, "not json");
    tick().await;
    assert_eq!(m.all("[data-testid=message]").len(), 3);
}

#[wasm_bindgen_test]
async fn reply_is_pending_then_sent_or_failed() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "conversations", "items": [summary("rp1", 100, 1, "visitor", "x")]}));
    tick().await;
    connection::open(m.console, "rp1");
    m.frame(message("rp1", 1, "visitor", "hello?"));
    tick().await;

    let input: web_sys::HtmlTextAreaElement = m.one("reply-input").unchecked_into();
    for text in ["first answer", "second answer"] {
        input.set_value(text);
        input
            .dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
        m.one("reply-send").click();
        tick().await;
    }
    assert_eq!(input.value(), "", "the draft is cleared");
    let rows = m.all("[data-testid=message]");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1].get_attribute("data-state").as_deref(),
        Some("pending")
    );
    let ids: Vec<String> = m.console.transcripts.with_untracked(|t| {
        t["rp1"]
            .iter()
            .filter(|l| l.seq.is_none())
            .map(|l| l.client_id.clone())
            .collect()
    });
    assert_eq!(ids.len(), 2);
    assert!(ids
        .iter()
        .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    assert_ne!(ids[0], ids[1]);

    m.frame(
        json!({"type": "ack", "conversation_id": "rp1", "client_id": ids[0], "seq": 2, "at": 5}),
    );
    m.frame(json!({"type": "error", "code": "too_large", "message": "text is too long", "client_id": ids[1]}));
    tick().await;
    let rows = m.all("[data-testid=message]");
    let states: Vec<_> = rows
        .iter()
        .map(|e| e.get_attribute("data-state").unwrap())
        .collect();
    assert_eq!(states, ["sent", "sent", "failed"]);
    assert_eq!(rows[1].get_attribute("data-seq").as_deref(), Some("2"));
    assert!(rows[2].text_content().unwrap().contains("text is too long"));

    // The stored copy of the acked reply arrives too: still one line.
    let mut echo = message("rp1", 2, "agent", "first answer");
    echo["client_id"] = json!(ids[0]);
    m.frame(echo);
    tick().await;
    assert_eq!(m.all("[data-testid=message]").len(), 3);
}

#[wasm_bindgen_test]
async fn context_sidebar_shows_page_customer_cart_and_order() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "conversations", "items": [summary("cx1", 100, 1, "visitor", "x")]}));
    tick().await;
    connection::open(m.console, "cx1");
    m.frame(json!({"type": "context", "conversation_id": "cx1", "context": {
        "page": {"url": "https://shop.example/order.html", "title": "Your order", "referrer": "javascript:alert(1)",
                 "utm": {"source": "mail", "campaign": "fall"}, "locale": "de-CH", "timezone": "Europe/Zurich",
                 "viewport": {"width": 1280, "height": 800}},
        "identity": {"id": "u42", "name": "Dana Doe", "email": "dana@example.com"},
        "cart": {"items": [{"name": "Rain jacket", "quantity": 2, "price": 19.5, "url": "https://shop.example/p/1"},
                           {"name": "Socks", "price": 3, "url": "javascript:alert(2)"}], "currency": "EUR"},
        "order": {"number": "1042", "status": "delayed", "items": [{"name": "Trail boots", "price": 120}],
                  "total": 120, "currency": "USD", "estimated_delivery": "2026-11-27",
                  "tracking_url": "https://track.example/1042"},
        "custom": {"plan": "gold", "visits": 3}
    }}));
    tick().await;
    assert_eq!(m.text("context-page-title"), "Your order");
    let url = m.one("context-page-url");
    assert_eq!(url.tag_name(), "A");
    assert_eq!(
        url.text_content().as_deref(),
        Some("https://shop.example/order.html")
    );
    assert_eq!(
        m.one("context-referrer").tag_name(),
        "SPAN",
        "a script URL is not a link"
    );
    assert!(m.text("context-utm").contains("campaign=fall"));
    assert_eq!(m.text("context-locale"), "de-CH");
    assert_eq!(m.text("context-timezone"), "Europe/Zurich");
    assert!(m.text("context-identity").contains("Dana Doe"));
    assert_eq!(m.text("order-number"), "#1042");
    assert_eq!(m.text("order-status"), "delayed");
    assert_eq!(m.text("order-delivery"), "2026-11-27");
    assert_eq!(m.all("[data-testid=order-item]").len(), 1);
    assert!(m.text("order-total").contains("120.00"));
    let cart = m.all("[data-testid=cart-item]");
    assert_eq!(cart.len(), 2);
    assert!(cart[0].text_content().unwrap().contains("Rain jacket"));
    assert!(
        cart[0].text_content().unwrap().contains("39.00"),
        "line total"
    );
    assert_eq!(
        m.all("[data-testid=cart] a").len(),
        1,
        "only the http item link"
    );
    assert!(
        m.text("cart-total").contains("42.00"),
        "summed when the site sends no total"
    );
    assert!(m.text("cart-total").contains('€'));
    let custom = m.text("context-custom");
    assert!(custom.contains("plan") && custom.contains("gold") && custom.contains('3'));

    // The visitor navigates: the sidebar follows; no cart or order means empty states.
    m.frame(
        json!({"type": "context", "conversation_id": "cx1", "context": {
        "page": {"url": "https://shop.example/help", "title": "Help"}}}),
    );
    tick().await;
    assert_eq!(m.text("context-page-title"), "Help");
    assert!(m.text("cart").contains("No cart"));
    assert!(m.text("order").contains("No order"));
}

#[wasm_bindgen_test]
async fn sign_out_forgets_the_agent() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "conversations", "items": [summary("so1", 100, 1, "visitor", "x")]}));
    tick().await;
    assert_eq!(m.all("[data-testid=conversation]").len(), 1);
    m.one("sign-out").click();
    tick().await;
    assert_eq!(m.all("[data-testid=token-input]").len(), 1);
    assert!(m.all("[data-testid=conversation]").is_empty());
    let stored = web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
        .get_item("switchboard:agent-token")
        .unwrap();
    assert_eq!(stored, None);
    assert!(m.console.inbox.with_untracked(Vec::is_empty));
}

#[wasm_bindgen_test]
async fn enter_sends_and_shift_enter_does_not() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "conversations", "items": [summary("ke1", 100, 1, "visitor", "x")]}));
    tick().await;
    connection::open(m.console, "ke1");
    tick().await;
    let input: web_sys::HtmlTextAreaElement = m.one("reply-input").unchecked_into();
    let key = |shift: bool| {
        let init = web_sys::KeyboardEventInit::new();
        init.set_key("Enter");
        init.set_shift_key(shift);
        init.set_bubbles(true);
        init.set_cancelable(true);
        let ev =
            web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        input.dispatch_event(&ev).unwrap();
    };
    input.set_value("line one");
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    key(true);
    tick().await;
    assert!(
        m.all("[data-testid=message]").is_empty(),
        "Shift+Enter is a new line"
    );
    key(false);
    tick().await;
    let rows = m.all("[data-testid=message]");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].get_attribute("data-sender").as_deref(),
        Some("agent")
    );
    assert_eq!(
        rows[0].get_attribute("data-state").as_deref(),
        Some("pending")
    );
    assert_eq!(input.value(), "");
}

#[wasm_bindgen_test]
async fn owner_badges_handoff_card_and_rich_messages() {
    let m = mount(Some("t"));
    m.frame(welcome());
    let mut by_bot = summary("ho1", 200, 2, "bot", "Order #1042 is delayed");
    by_bot["owner"] = json!({"kind": "bot", "id": "orderbot"});
    let mut handed = summary("ho2", 300, 4, "bot", "Getting you a person");
    handed["owner"] = json!({"kind": "humans"});
    handed["handoff"] = json!({
        "by": "orderbot", "at": 250, "reason": "requested", "priority": "high",
        "team": "support", "summary": "Visitor asked for a person about order #1042",
        "fields": {"order": "1042", "email": "dana@example.com"}
    });
    m.frame(json!({"type": "conversations", "items": [by_bot, handed]}));
    tick().await;
    let badges: Vec<_> = m
        .all("[data-testid=owner-badge]")
        .iter()
        .map(|b| {
            (
                b.get_attribute("data-owner").unwrap(),
                b.text_content().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        badges,
        [
            ("handoff".into(), "Handoff".into()),
            ("bot".into(), "Bot".into())
        ]
    );

    // A bot's conversation says who answers; no handoff card.
    connection::open(m.console, "ho1");
    tick().await;
    assert!(m.text("bot-owner").contains("orderbot"));
    assert!(m.all("[data-testid=handoff]").is_empty());

    // A handed-off one shows why, what the bot collected, and the way back, above the transcript.
    connection::open(m.console, "ho2");
    m.frame(message("ho2", 1, "visitor", "Where is my order?"));
    let mut offer = message("ho2", 2, "bot", "Order #1042 is delayed");
    offer["rich"] = json!({
        "quick_replies": [{"label": "Talk to a person", "payload": "human"}],
        "buttons": [{"type": "link", "label": "Track", "url": "https://tracking.example/1042"}],
        "cards": [{"title": "Trail boots", "price": {"amount": 129.5, "currency": "EUR"}}]
    });
    m.frame(offer);
    let mut click = message("ho2", 3, "visitor", "Talk to a person");
    click["postback"] = json!("human");
    m.frame(click);
    tick().await;
    assert!(m.all("[data-testid=bot-owner]").is_empty());
    assert_eq!(m.text("handoff-reason"), "Visitor asked for a person");
    assert_eq!(
        m.text("handoff-summary"),
        "Visitor asked for a person about order #1042"
    );
    assert_eq!(m.text("handoff-team"), "support");
    assert_eq!(m.text("handoff-priority"), "high");
    let fields: Vec<_> = m
        .all("[data-testid=handoff-field]")
        .iter()
        .map(|f| {
            (
                f.get_attribute("data-key").unwrap(),
                f.text_content().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("email".into(), "dana@example.com".into()),
            ("order".into(), "1042".into())
        ]
    );
    let card = m.one("handoff");
    let transcript = m.one("transcript");
    assert!(
        card.compare_document_position(&transcript) & web_sys::Node::DOCUMENT_POSITION_FOLLOWING
            != 0,
        "the card is above the transcript"
    );
    assert_eq!(m.text("hand-back"), "Hand back to bot");
    assert_eq!(m.text("offered"), "Offered: Talk to a person | Track");
    assert!(
        m.text("card").starts_with("Trail boots · "),
        "{}",
        m.text("card")
    );
    assert!(m.text("card").contains("129.5"), "{}", m.text("card"));
    let rows = m.all("[data-testid=message]");
    assert!(rows[2].text_content().unwrap().contains("clicked a button"));
}

/// The helpdesk side fed by relay frames: tab counts, names on inbox lines, the action bar an
/// agent (not an admin) gets on its own conversation, the story line of a transfer, the arrow
/// keys on the tabs, and a conflict said plainly.
#[wasm_bindgen_test]
async fn views_lines_action_bar_story_and_conflict() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "directory", "role": "agent",
        "teams": [
            {"id": "support", "name": "Support", "site": "demo", "members": ["a_test"], "default": true},
            {"id": "billing", "name": "Billing", "site": "demo", "members": ["sam"], "default": false}
        ],
        "agents": [
            {"id": "a_test", "name": "Alex", "sites": ["demo"]},
            {"id": "sam", "name": "Sam", "sites": ["demo"]}
        ]}));
    m.frame(json!({"type": "presence", "site": "demo", "agent": "sam", "status": "away"}));
    let mut mine = summary("hd1", 100, 2, "visitor", "charged twice");
    mine["assignee"] = json!("a_test");
    mine["priority"] = json!("high");
    mine["status"] = json!({"state": "pending"});
    mine["version"] = json!(4);
    let mut other = summary("hd2", 90, 1, "visitor", "hello");
    other["team"] = json!("billing");
    m.frame(
        json!({"type": "view", "view": "all", "items": [mine, other],
        "counts": {"unassigned": 1, "mine": 1, "my_teams": 1, "all": 2, "resolved": 7}}),
    );
    tick().await;

    let counts: Vec<(String, String)> = m
        .all("[data-testid=view-tab]")
        .iter()
        .map(|t| {
            let n = t
                .query_selector("[data-testid=view-count]")
                .unwrap()
                .unwrap();
            (
                t.get_attribute("data-view").unwrap(),
                n.text_content().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("unassigned", "1"),
            ("mine", "1"),
            ("my_teams", "1"),
            ("all", "2"),
            ("resolved", "7")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let texts = |css: &str| -> Vec<String> {
        m.all(css)
            .iter()
            .map(|e| e.text_content().unwrap().trim().to_owned())
            .collect()
    };
    assert_eq!(texts("[data-testid=line-assignee]"), ["Alex", "Unassigned"]);
    assert_eq!(texts("[data-testid=line-team]"), ["Support", "Billing"]);
    assert_eq!(texts("[data-testid=line-priority]"), ["High"]);
    assert_eq!(texts("[data-testid=line-status]"), ["Pending"]);

    // Its own conversation: no take, no assigning others; transfer, reopen, snooze, priority.
    m.all("[data-testid=conversation][data-id=hd1] button")[0].click();
    tick().await;
    let actions = |m: &Mounted| -> Vec<String> {
        m.all("[data-testid=action-bar] :is(button, select)[data-testid^=action-]")
            .iter()
            .map(|e| e.get_attribute("data-testid").unwrap())
            .collect()
    };
    let offered = actions(&m);
    for want in [
        "action-unassign",
        "action-transfer",
        "action-resolve",
        "action-reopen",
        "action-snooze",
        "action-priority",
    ] {
        assert!(offered.iter().any(|a| a == want), "{want}: {offered:?}");
    }
    for never in ["action-take", "action-assign", "action-pending"] {
        assert!(!offered.iter().any(|a| a == never), "{never}: {offered:?}");
    }
    // The transfer dialog offers Billing's members with their presence.
    m.one("action-transfer").click();
    tick().await;
    let team: web_sys::HtmlSelectElement = m.one("transfer-team").unchecked_into();
    team.set_value("billing");
    team.dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    tick().await;
    assert_eq!(
        texts("[data-testid=transfer-agent] option"),
        ["Anyone in the team (its queue)", "Sam · away"]
    );
    m.one("transfer-cancel").click();
    tick().await;
    assert!(m.all("[data-testid=transfer-dialog]").is_empty());

    // Someone else's conversation in another team: nothing to do for a plain agent.
    m.all("[data-testid=conversation][data-id=hd2] button")[0].click();
    tick().await;
    assert!(actions(&m).is_empty(), "{:?}", actions(&m));

    // The story line, with display names.
    m.all("[data-testid=conversation][data-id=hd1] button")[0].click();
    tick().await;
    let mut event = message("hd1", 3, "system", "");
    event["sender"] = json!({"kind": "system", "id": "system"});
    event["event"] =
        json!({"code": "transferred", "from": "a_test", "to_team": "billing", "by": "a_test"});
    m.frame(event);
    tick().await;
    let line = m.all("[data-testid=message][data-sender=system]");
    assert_eq!(line.len(), 1);
    assert_eq!(
        line[0].get_attribute("data-code").as_deref(),
        Some("transferred")
    );
    assert!(
        line[0]
            .text_content()
            .unwrap()
            .contains("Transferred to Billing by Alex"),
        "{:?}",
        line[0].text_content()
    );

    // A stale version: said plainly.
    m.one("action-resolve").click();
    m.frame(json!({"type": "error", "code": "conflict", "message": "the conversation changed"}));
    tick().await;
    assert!(
        m.text("action-notice")
            .contains("Changed by someone else — refreshed"),
        "{:?}",
        m.text("action-notice")
    );

    // Arrow keys move between tabs.
    let all_tab = m.all("[data-testid=view-tab][data-view=all]")[0].clone();
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("ArrowRight");
    init.set_bubbles(true);
    let ev = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    all_tab.dispatch_event(&ev).unwrap();
    tick().await;
    let selected = m.all("[role=tab][aria-selected=true]");
    assert_eq!(selected.len(), 1);
    assert_eq!(
        selected[0].get_attribute("data-view").as_deref(),
        Some("resolved")
    );
}

#[wasm_bindgen_test]
fn canned_search_is_fuzzy_on_shortcut_and_body_and_the_query_starts_with_a_slash() {
    use switchboard_console::canned::{query, search};
    use switchboard_protocol::CannedReply;
    let reply = |id: &str, shortcut: &str, body: &str| CannedReply {
        id: id.into(),
        shortcut: shortcut.into(),
        body: body.into(),
    };
    let items = [
        reply("1", "hello", "Hi, I'm {{agent.name}}"),
        reply("2", "order", "Order {{order.number}} is {{order.status}}"),
        reply("3", "returns", "Send it back within 30 days"),
    ];
    let shortcuts =
        |q: &str| -> Vec<String> { search(&items, q).into_iter().map(|c| c.shortcut).collect() };
    assert_eq!(shortcuts(""), ["hello", "order", "returns"]);
    assert_eq!(shortcuts("ordr")[0], "order");
    assert_eq!(
        shortcuts("30 days"),
        ["returns"],
        "the body is searched too"
    );
    assert!(shortcuts("zzz").is_empty());
    assert_eq!(query("/ord"), Some("ord"));
    assert_eq!(query("/"), Some(""));
    assert_eq!(query("/ord and more"), None, "a space ends the shortcut");
    assert_eq!(query("ord"), None);
}

#[wasm_bindgen_test]
async fn slash_picks_a_canned_reply_filled_from_the_context() {
    let m = mount(Some("t"));
    m.frame(welcome());
    m.frame(json!({"type": "conversations", "items": [summary("cn1", 100, 1, "visitor", "x")]}));
    m.frame(json!({"type": "canned", "site": "demo", "items": [
        {"id": "cr_1", "shortcut": "order", "body": "Order {{order.number}}: {{order.status}}"},
        {"id": "cr_2", "shortcut": "coupon", "body": "Code {{coupon}}"}
    ]}));
    m.frame(json!({"type": "context", "conversation_id": "cn1",
        "context": {"order": {"number": "1042", "status": "delayed"}}}));
    tick().await;
    connection::open(m.console, "cn1");
    tick().await;
    let input: web_sys::HtmlTextAreaElement = m.one("reply-input").unchecked_into();
    let type_text = |text: &str| {
        input.set_value(text);
        input
            .dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
    };
    let key = |k: &str| {
        let init = web_sys::KeyboardEventInit::new();
        init.set_key(k);
        init.set_bubbles(true);
        init.set_cancelable(true);
        let ev =
            web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        input.dispatch_event(&ev).unwrap();
    };
    type_text("/or");
    tick().await;
    let options = m.all("[data-testid=canned-option]");
    assert_eq!(
        options[0].get_attribute("data-shortcut").as_deref(),
        Some("order")
    );
    assert_eq!(
        input.get_attribute("aria-activedescendant").as_deref(),
        Some("c-canned-opt-0")
    );
    key("Enter");
    tick().await;
    assert_eq!(input.value(), "Order 1042: delayed", "filled, not sent");
    assert!(m.all("[data-testid=canned-option]").is_empty());
    assert!(m.all("[data-testid=message]").is_empty());

    // A missing value: visible, named, and Enter sends nothing.
    type_text("");
    type_text("/coupon");
    tick().await;
    key("Enter");
    tick().await;
    assert_eq!(input.value(), "Code {{coupon}}");
    assert!(m.text("canned-missing").contains("coupon is missing"));
    key("Enter");
    tick().await;
    assert!(m.all("[data-testid=message]").is_empty(), "blocked");
    type_text("Code SAVE10");
    tick().await;
    key("Enter");
    tick().await;
    assert_eq!(m.all("[data-testid=message]").len(), 1);
}

#[wasm_bindgen_test]
fn the_console_speaks_the_browsers_language_by_its_primary_subtag() {
    use switchboard_console::i18n::{fill, for_locale};
    assert_eq!(for_locale("de-CH").lang, "de");
    assert_eq!(for_locale("fr").lang, "fr");
    assert_eq!(for_locale("es_MX").lang, "es");
    assert_eq!(for_locale("ja-JP").lang, "ja");
    assert_eq!(for_locale("pt-BR").lang, "pt");
    assert_eq!(for_locale("zh-Hans-CN").lang, "zh");
    assert_eq!(for_locale("ko").lang, "en");
    assert_eq!(for_locale("").lang, "en");
    assert_eq!(for_locale("de").sign_in, "Anmelden");
    assert_eq!(
        fill("{a} and {b}, {a}", &[("a", "x"), ("b", "y")]),
        "x and y, x"
    );
}

/// The `{holes}` a template names, sorted: a translation must fill the same ones.
fn holes(template: &str) -> Vec<&str> {
    let mut found: Vec<&str> = template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    found.sort_unstable();
    found
}

#[wasm_bindgen_test]
fn every_language_fills_every_string_with_the_same_holes_and_arabic_runs_right_to_left() {
    use switchboard_console::i18n::{all, for_locale};
    let languages = all();
    assert_eq!(languages.len(), 12);
    let english = languages[0].fields();
    for strings in languages {
        assert_eq!(
            for_locale(strings.lang).lang,
            strings.lang,
            "{} is not chosen by its own tag",
            strings.lang
        );
        let fields = strings.fields();
        assert_eq!(fields.len(), english.len());
        for ((name, text), (_, en)) in fields.iter().zip(&english) {
            assert!(!text.trim().is_empty(), "{}: {name} is empty", strings.lang);
            assert_eq!(
                holes(text),
                holes(en),
                "{}: {name} names other holes than English",
                strings.lang
            );
        }
        let rtl = strings.lang == "ar";
        assert_eq!(
            strings.dir(),
            if rtl { "rtl" } else { "ltr" },
            "{}",
            strings.lang
        );
    }
}

//! How the console reads `@mentions` out of a private note (run in headless Chromium, like the
//! other component tests).

use switchboard_console::notes::mentioned;
use switchboard_protocol::AgentEntry;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn agent(id: &str, name: &str) -> AgentEntry {
    AgentEntry {
        id: id.into(),
        name: name.into(),
        sites: vec!["s".into()],
    }
}

#[wasm_bindgen_test]
fn mentions_are_read_by_id_name_or_unique_first_name() {
    let agents = [
        agent("alex", "Alex Kim"),
        agent("sam", "Sam Lee"),
        agent("sam2", "Sam Ode"),
    ];
    assert_eq!(mentioned(&agents, "@sam please look"), vec!["sam"]);
    assert_eq!(mentioned(&agents, "cc @AlexKim."), vec!["alex"]);
    assert_eq!(mentioned(&agents, "@alex, @alex and @Alex"), vec!["alex"]);
    // Two Sams: the first name alone is ambiguous, the ids are not.
    assert_eq!(mentioned(&agents, "@Sam2 and @sam"), vec!["sam2", "sam"]);
    assert!(mentioned(&agents, "mail me at a@b.c or @nobody").is_empty());
}

/// A note and a mention as the relay sends them: the note is a labelled card (not a reply
/// bubble), the mention a notice in the live region, shown once however often it arrives; a
/// pending note is resent as a `note`, never as a `send` the visitor would read.
#[wasm_bindgen_test]
async fn a_note_is_a_labelled_card_and_a_mention_a_notice() {
    use leptos::prelude::*;
    use serde_json::json;
    use switchboard_console::state::{Delivery, Line};
    use switchboard_console::{app, connection, Console};
    use switchboard_protocol::{ClientMsg, Note, SenderKind};
    use wasm_bindgen::JsCast;

    let document = web_sys::window().unwrap().document().unwrap();
    let root: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&root).unwrap();
    let console = Console::create();
    console
        .auth
        .set(Some(switchboard_console::auth::Auth::Token("t".into())));
    let _handle = leptos::mount::mount_to(root.clone(), move || app(console).into_any());
    let frame = |v: serde_json::Value| connection::receive(console, &v.to_string());
    frame(
        json!({"type": "welcome", "protocol": 1, "role": "agent", "id": "sam",
        "name": "Sam", "ping_interval_ms": 10000}),
    );
    frame(
        json!({"type": "conversations", "items": [{"id": "c_note1", "site": "demo",
        "visitor_id": "v_1abcdef", "created_at": 1, "last_activity": 2, "last_seq": 0}]}),
    );
    connection::open(console, "c_note1");
    frame(
        json!({"type": "message", "conversation_id": "c_note1", "seq": 1, "client_id": "n1",
        "sender": {"kind": "agent", "id": "alex", "name": "Alex"}, "text": "check @sam",
        "at": 5, "note": {"mentions": ["sam"]}}),
    );
    let mention = json!({"type": "mention", "conversation_id": "c_note1", "seq": 1,
        "by": "alex", "by_name": "Alex", "text": "check @sam", "at": 5});
    frame(mention.clone());
    frame(mention);
    gloo_timers::future::TimeoutFuture::new(20).await;

    let text = |css: &str| {
        root.query_selector(css)
            .unwrap()
            .map(|e| e.text_content().unwrap_or_default())
            .unwrap_or_default()
    };
    let card = text("[data-testid=note]");
    assert!(
        card.contains("Private note") && card.contains("check @sam"),
        "{card}"
    );
    assert!(card.contains("Mentions: sam"), "{card}");
    assert!(
        root.query_selector("[data-testid=message][data-sender=agent]")
            .unwrap()
            .is_none(),
        "a note is not drawn as a reply"
    );
    let notices = root.query_selector_all("[data-testid=mention]").unwrap();
    assert_eq!(notices.length(), 1);
    assert!(text("[data-testid=mention]").contains("Alex mentioned you in a note"));
    assert_eq!(
        root.query_selector("[data-testid=mentions]")
            .unwrap()
            .unwrap()
            .get_attribute("role")
            .as_deref(),
        Some("status")
    );

    let pending = Line {
        seq: None,
        client_id: "n2".into(),
        kind: SenderKind::Agent,
        name: None,
        text: "psst".into(),
        at: 1,
        delivery: Delivery::Pending,
        error: None,
        rich: None,
        postback: None,
        code: None,
        note: Some(Note::default()),
    };
    assert!(matches!(pending.frame("c_note1".into()), ClientMsg::Note(n) if n.text == "psst"));
    root.remove();
}

//! Private notes and agents' rich replies in the browser (issue 13). Two relay processes on one
//! Redis: a visitor chats in the real widget on node 1; Alex's console on node 1 writes a
//! private note mentioning Sam; Sam's console on node 2 shows the mention notice and the note;
//! the widget never shows it (nor does a raw visitor socket reading every frame, live and after
//! `sync`). axe-core on the conversation with a note and on the reply box's buttons editor.
//! Then Alex replies with two quick-reply chips and a link button, typed by keyboard, and the
//! widget shows them.

use std::time::Duration;

use fantoccini::{Client, Locator};
use futures_util::StreamExt;
use switchboard_protocol::client::Hello;
use switchboard_protocol::{ClientMsg, ServerMsg, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;

use super::axe;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess};
use super::page::*;
use crate::redis_server::RedisServer;
use crate::util::{eventually, free_port, Client as Ws};

const ALEX: &str = "notes-e2e-alex-token-0123456789abcdef";
const SAM: &str = "notes-e2e-sam-token-0123456789abcdefgh";
const FIRST: &str = "My parcel for order 1042 never came";
const NOTE: &str = "Carrier lost it, NOTE-ONLY-FOR-AGENTS";
const REPLY: &str = "Sorry about that! Shall we send a new one?";
const ENTER: &str = "\u{E007}";

fn config(demo_port: u16) -> String {
    format!(
        "[[sites]]\nkey = \"demo\"\nallowed_origins = [\"http://127.0.0.1:{demo_port}\"]\n\n\
         [[agents]]\nid = \"alex\"\nname = \"Alex\"\ntoken = \"{ALEX}\"\nsites = [\"demo\"]\n\n\
         [[agents]]\nid = \"sam\"\nname = \"Sam Lee\"\ntoken = \"{SAM}\"\nsites = [\"demo\"]\n"
    )
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("script runs")
}

async fn find(c: &Client, testid: &str) -> fantoccini::elements::Element {
    eventually(&format!("{testid} on the page"), UI_WAIT, || async {
        c.find(Locator::Css(&format!("[data-testid=\"{testid}\"]")))
            .await
            .ok()
    })
    .await
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifact(name), png).unwrap();
}

/// The widget's whole text, shadow root included.
async fn widget_text(c: &Client) -> String {
    in_widget(c, "return root ? root.textContent : '';")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A visitor of the demo site (served from `origin`) over the protocol, continuing the
/// browser's visitor (its token).
async fn raw_visitor(relay: &RelayProcess, origin: &str, token: String) -> Ws {
    let mut v = Ws::connect(&relay.ws("/v1/visitor?site=demo"), Some(origin))
        .await
        .unwrap();
    v.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(token),
        context: None,
        identity_token: None,
    }))
    .await;
    v.welcome().await
}

/// Reads every raw frame until `done`, failing on any that holds the note.
async fn read_clean_until(v: &mut Ws, mut done: impl FnMut(&ServerMsg) -> bool) {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(20), v.ws.next())
            .await
            .expect("a frame for the raw visitor");
        let Some(Ok(Message::Text(t))) = next else {
            continue;
        };
        assert!(
            !t.as_str().contains("NOTE-ONLY"),
            "a visitor read the note: {t}"
        );
        if done(&serde_json::from_str(t.as_str()).unwrap()) {
            return;
        }
    }
}

#[tokio::test]
async fn a_note_mentions_an_agent_on_another_node_and_never_reaches_the_widget() {
    let redis = RedisServer::start().await;
    let demo_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(&file, config(demo_port)).unwrap();
    let args = [
        "--config",
        file.to_str().unwrap(),
        "--redis-url",
        &redis.url(),
    ];
    let one = RelayProcess::start_on(free_port(), demo_port, &args).await;
    let two = RelayProcess::start_on(free_port(), free_port(), &args).await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (alex, _p2) = driver.browser().await;
    let (sam, _p3) = driver.browser().await;
    let (v, a, s) = (visitor.clone(), alex.clone(), sam.clone());
    with_browsers(vec![visitor, alex, sam], async {
        sign_in(&a, &one.console(), ALEX).await;
        sign_in(&s, &two.console(), SAM).await;
        for (c, name) in [(&a, "Alex"), (&s, "Sam Lee")] {
            wait_console_text(c, "agent-name", name).await;
            wait_console_text(c, "connection", "Online").await;
        }

        v.goto(&one.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, FIRST).await;
        wait_widget_message(&v, "visitor", FIRST, Some("sent")).await;
        // The same visitor over a raw socket on node 2, reading every frame.
        let token = eventually("the widget's stored token", UI_WAIT, || async {
            js(
                &v,
                "for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i);\
                 if (k.includes('token')) return localStorage.getItem(k); } return null;",
            )
            .await
            .as_str()
            .map(|t| t.trim_matches('"').to_owned())
        })
        .await;
        let mut raw = raw_visitor(&two, &one.shop_origin(), token).await;

        // Alex writes the note by keyboard: the mode switch, the text with @sam, Enter.
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", FIRST).await;
        find(&a, "mode-note").await.click().await.unwrap();
        assert_eq!(
            js(&a, "return document.querySelector('[data-testid=mode-note]').getAttribute('aria-pressed');").await,
            "true"
        );
        let input = find(&a, "reply-input").await;
        assert_eq!(
            input.attr("aria-label").await.unwrap().as_deref(),
            Some("Private note")
        );
        input.send_keys(&format!("{NOTE} @sam")).await.unwrap();
        input.send_keys(ENTER).await.unwrap();
        eventually("Alex's note stored", UI_WAIT, || async {
            js(
                &a,
                "const n = document.querySelector('[data-testid=note][data-state=sent]'); return n && n.textContent;",
            )
            .await
            .as_str()
            .filter(|t| t.contains(NOTE) && t.contains("Mentions: Sam Lee"))
            .map(drop)
        })
        .await;

        // Sam, on node 2: the mention notice in its live region, then the note in the
        // conversation it opens.
        wait_console_text(&s, "mention", "Alex mentioned you in a note").await;
        assert_eq!(
            js(&s, "return document.querySelector('[data-testid=mentions]').getAttribute('role');").await,
            "status"
        );
        shot(&s, "notes-mention-notice.png").await;
        find(&s, "mention-open").await.click().await.unwrap();
        wait_console_text(&s, "note-text", NOTE).await;
        wait_transcript(&s, "visitor", FIRST).await;
        eventually("the notice gone once opened", UI_WAIT, || async {
            console_texts(&s, "mention").await.is_empty().then_some(())
        })
        .await;
        axe::assert_clean(&s, "the console with a private note").await;
        shot(&s, "notes-note-in-transcript.png").await;
        // At phone width and right to left too.
        s.set_window_size(390, 844).await.unwrap();
        js(&s, "document.documentElement.dir = 'rtl'; return 1;").await;
        js(&s, "const n = document.querySelector('[data-testid=note]'); n.scrollIntoView(); return 1;").await;
        axe::assert_clean(&s, "the console with a private note, 390 px, right to left").await;
        shot(&s, "notes-note-390-rtl.png").await;
        js(&s, "document.documentElement.dir = 'ltr'; return 1;").await;
        s.set_window_size(1280, 900).await.unwrap();

        // The visitor: neither the widget nor the raw socket, live or in a catch-up.
        read_clean_until(&mut raw, |m| matches!(m, ServerMsg::Message(x) if x.seq == 2)).await;
        raw.send(&ClientMsg::Sync {
            conversation_id: raw.conversation_id(),
            since: 0,
        })
        .await;
        read_clean_until(&mut raw, |m| matches!(m, ServerMsg::Synced { .. })).await;

        // Alex replies with two chips and a link button, by keyboard.
        find(&a, "mode-reply").await.click().await.unwrap();
        find(&a, "rich-toggle").await.send_keys(ENTER).await.unwrap();
        let chip = find(&a, "chip-input").await;
        chip.send_keys("Yes, please").await.unwrap();
        chip.send_keys(ENTER).await.unwrap();
        chip.send_keys("No, refund me").await.unwrap();
        chip.send_keys(ENTER).await.unwrap();
        eventually("two chips drafted", UI_WAIT, || async {
            (console_texts(&a, "chip-draft").await.len() == 2).then_some(())
        })
        .await;
        find(&a, "link-label").await.send_keys("Track the parcel").await.unwrap();
        find(&a, "link-url")
            .await
            .send_keys("https://tracking.example/1042")
            .await
            .unwrap();
        axe::assert_clean(&a, "the reply box with quick replies and a link").await;
        shot(&a, "notes-rich-reply-editor.png").await;
        console_reply(&a, REPLY).await;
        wait_transcript(&a, "agent", REPLY).await;

        wait_widget_message(&v, "agent", REPLY, None).await;
        let chips = eventually("the chips in the widget", UI_WAIT, || async {
            let v = in_widget(
                &v,
                "return root ? Array.from(root.querySelectorAll('[data-testid=quick-reply]')).map(b => b.textContent.trim()) : [];",
            )
            .await;
            let chips: Vec<String> = serde_json::from_value(v).unwrap_or_default();
            (chips.len() == 2).then_some(chips)
        })
        .await;
        assert_eq!(chips, vec!["Yes, please", "No, refund me"]);
        let link = in_widget(
            &v,
            "const a = root.querySelector('[data-testid=rich-link]'); return a && [a.textContent.trim(), a.href];",
        )
        .await;
        // The widget adds "(opens in a new tab)" for screen readers.
        assert!(
            link[0].as_str().is_some_and(|t| t.starts_with("Track the parcel"))
                && link[1] == "https://tracking.example/1042",
            "the link button: {link}"
        );
        shot(&v, "notes-widget-rich-reply.png").await;
        // After all that, the widget never showed the note.
        let text = widget_text(&v).await;
        assert!(!text.contains("NOTE-ONLY"), "the widget shows the note: {text}");
        assert!(
            !widget_messages(&v).await.iter().any(|(_, _, t)| t.contains("NOTE-ONLY")),
            "a widget line holds the note"
        );
    })
    .await;
}

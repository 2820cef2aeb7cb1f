//! The agent's workspace (issue 13) in the browser: the console at 390 × 844 as stacked views
//! (list → conversation → context and back, focus following), the keyboard shortcuts and their
//! `?` overlay, and a system notification raised for a new conversation while the console's
//! tab is really hidden (another tab in front), with the count in the tab title; the console in
//! a German browser (strings, `lang`, times), the notifications offer asked once and the sound
//! toggle remembered.
//! Screenshots in `artifacts/workspace-*.png`.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use switchboard_protocol::client::Hello;
use switchboard_protocol::{ClientMsg, SenderKind, ServerMsg, PROTOCOL_VERSION};

use super::axe::{assert_clean, assert_clean_in};
use super::cdp::Cdp;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::{eventually, Client as Ws};

const ESCAPE: &str = "\u{E00C}";
const TAB: &str = "\u{E004}";
const ALT_DOWN: &str = "\u{E00A}\u{E015}\u{E000}";
const ALT_UP: &str = "\u{E00A}\u{E013}\u{E000}";

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(artifact(name), png).unwrap();
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script runs")
}

async fn visitor(relay: &RelayProcess) -> Ws {
    let mut v = Ws::connect(
        &relay.ws("/v1/visitor?site=demo"),
        Some(&relay.shop_origin()),
    )
    .await
    .unwrap();
    v.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context: None,
        identity_token: None,
    }))
    .await;
    v.welcome().await
}

async fn click(c: &Client, testid: &str) {
    eventually(&format!("clicking {testid}"), UI_WAIT, || async {
        let el = c
            .find(Locator::Css(&format!("[data-testid={testid}]")))
            .await
            .ok()?;
        el.click().await.ok()
    })
    .await;
}

/// Whether the element matching `css` is laid out (not `display: none`, and has a size).
async fn shown(c: &Client, css: &str) -> bool {
    js(
        c,
        &format!(
            "const e = document.querySelector('{css}'); \
             return !!e && e.getClientRects().length > 0 && e.getBoundingClientRect().width > 0;"
        ),
    )
    .await
        == json!(true)
}

/// `data-testid` of the focused element, and its inbox line's id when it is one's button.
async fn focused(c: &Client) -> (String, String) {
    let v = js(
        c,
        "const e = document.activeElement; if (!e) return ['', ''];\
         const line = e.closest('[data-testid=conversation]');\
         return [e.getAttribute('data-testid') || e.tagName.toLowerCase(), line ? line.dataset.id : ''];",
    )
    .await;
    serde_json::from_value(v).unwrap_or_default()
}

async fn wait_focus(c: &Client, testid: &str) {
    eventually(&format!("focus on {testid}"), UI_WAIT, || async {
        (focused(c).await.0 == testid).then_some(())
    })
    .await;
}

/// Keys pressed with nothing in particular focused (the page itself).
async fn press(c: &Client, keys: &str) {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

async fn selected(c: &Client) -> String {
    js(
        c,
        "const s = document.querySelector('[data-testid=conversation].c-selected'); return s ? s.dataset.id : '';",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn wait_selected(c: &Client, id: &str) {
    eventually(&format!("conversation {id} open"), UI_WAIT, || async {
        (selected(c).await == id).then_some(())
    })
    .await;
}

async fn inbox_ids(c: &Client, n: usize) -> Vec<String> {
    eventually(&format!("{n} conversations in the inbox"), UI_WAIT, || async {
        let ids: Vec<String> = serde_json::from_value(
            js(
                c,
                "return Array.from(document.querySelectorAll('[data-testid=conversation]')).map(l => l.dataset.id);",
            )
            .await,
        )
        .unwrap_or_default();
        (ids.len() == n).then_some(ids)
    })
    .await
}

async fn wait_title(c: &Client, title: &str) {
    eventually(&format!("the title {title:?}"), UI_WAIT, || async {
        (js(c, "return document.title;").await == json!(title)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn at_390_px_an_agent_opens_a_conversation_replies_and_gets_back_to_the_list() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (agent, _profile) = driver.browser().await;
    let a = agent.clone();
    with_browsers(vec![agent], async {
        let mut v = visitor(&relay).await;
        v.say("q1", "Does the jacket come in blue?").await;
        a.set_window_size(390, 844).await.unwrap();
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        let id = inbox_ids(&a, 1).await.remove(0);
        let width = js(&a, "return window.innerWidth;").await;
        assert!(width.as_f64().is_some_and(|w| w <= 390.0), "a phone's viewport: {width}");

        // The list alone.
        assert!(shown(&a, ".c-inbox").await, "the list is on screen");
        assert!(!shown(&a, ".c-conversation").await && !shown(&a, ".c-context").await);
        let overflow = js(&a, "return document.documentElement.scrollWidth - window.innerWidth;").await;
        assert!(overflow.as_i64().is_some_and(|o| o <= 0), "no sideways scroll: {overflow}");
        assert_clean(&a, "the inbox at 390 px").await;
        shot(&a, "workspace-390-1-list.png").await;

        // The conversation alone, its heading focused, the transcript the screen's width.
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", "Does the jacket come in blue?").await;
        wait_focus(&a, "conversation-title").await;
        assert!(!shown(&a, ".c-inbox").await, "the list steps aside");
        let transcript_width = js(
            &a,
            "return document.querySelector('[data-testid=transcript]').getBoundingClientRect().width;",
        )
        .await;
        assert!(
            transcript_width.as_f64().is_some_and(|w| w >= 340.0),
            "the transcript gets the screen: {transcript_width}"
        );
        assert_clean(&a, "an open conversation at 390 px").await;
        shot(&a, "workspace-390-2-conversation.png").await;

        // The reply reaches the visitor.
        console_reply(&a, "Yes, in navy blue.").await;
        let reply = v
            .until(|m| match m {
                ServerMsg::Message(m) if m.sender.kind == SenderKind::Agent => Some(m.text.clone()),
                _ => None,
            })
            .await;
        assert_eq!(reply, "Yes, in navy blue.");
        eventually("the reply stored", UI_WAIT, || async {
            transcript(&a)
                .await
                .iter()
                .any(|(s, st, t)| s == "agent" && st == "sent" && t.contains("navy"))
                .then_some(())
        })
        .await;
        shot(&a, "workspace-390-3-replied.png").await;

        // The visitor's details, and back to the conversation.
        click(&a, "show-context").await;
        wait_focus(&a, "back-to-conversation").await;
        assert!(shown(&a, "[data-testid=context]").await && !shown(&a, ".c-conversation").await);
        assert_clean(&a, "the visitor's details at 390 px").await;
        shot(&a, "workspace-390-4-context.png").await;
        click(&a, "back-to-conversation").await;
        wait_focus(&a, "show-context").await;

        // Back to the list: focus on the line the agent came from.
        click(&a, "back-to-list").await;
        eventually("focus back on the conversation's line", UI_WAIT, || async {
            (focused(&a).await.1 == id).then_some(())
        })
        .await;
        assert!(shown(&a, ".c-inbox").await && !shown(&a, ".c-conversation").await);
        assert_clean(&a, "the inbox again at 390 px").await;
        shot(&a, "workspace-390-5-back.png").await;

        // By keyboard the same way: Enter on the line opens it again.
        a.active_element()
            .await
            .unwrap()
            .send_keys("\u{E007}")
            .await
            .unwrap();
        wait_focus(&a, "conversation-title").await;
    })
    .await;
}

#[tokio::test]
async fn keyboard_shortcuts_move_take_reply_resolve_and_list_themselves() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (agent, _profile) = driver.browser().await;
    let a = agent.clone();
    with_browsers(vec![agent], async {
        let mut first = visitor(&relay).await;
        first.say("q1", "First question").await;
        let mut second = visitor(&relay).await;
        second.say("q1", "Second question").await;
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        let ids = inbox_ids(&a, 2).await;
        // Two unread conversations in my queue: the title and the tabs say so.
        wait_title(&a, "(2) Switchboard").await;
        wait_console_text(&a, "view-unread", "2").await;

        press(&a, "j").await;
        wait_selected(&a, &ids[0]).await;
        // Focus follows, so a screen reader reads the line now open.
        assert_eq!(focused(&a).await.1, ids[0]);
        press(&a, "j").await;
        wait_selected(&a, &ids[1]).await;
        press(&a, "k").await;
        wait_selected(&a, &ids[0]).await;
        press(&a, ALT_DOWN).await;
        wait_selected(&a, &ids[1]).await;
        press(&a, ALT_UP).await;
        wait_selected(&a, &ids[0]).await;
        wait_title(&a, "Switchboard").await;

        // Take.
        press(&a, "t").await;
        wait_console_text(&a, "state-assignee", "Alex").await;

        // `/`: the reply box with a slash typed (the canned replies' picker opens on it).
        press(&a, "/").await;
        wait_focus(&a, "reply-input").await;
        let typed = js(&a, "return document.querySelector('[data-testid=reply-input]').value;").await;
        assert_eq!(typed, json!("/"));
        // Letters typed in the box are letters: `j` does not move on.
        a.active_element().await.unwrap().send_keys("j").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(selected(&a).await, ids[0]);
        // Escape leaves the box; the shortcuts work again.
        a.active_element().await.unwrap().send_keys(ESCAPE).await.unwrap();
        wait_focus(&a, "conversation-title").await;
        js(
            &a,
            "const t = document.querySelector('[data-testid=reply-input]'); t.value = ''; \
             t.dispatchEvent(new Event('input', {bubbles: true})); return 1;",
        )
        .await;
        press(&a, "r").await;
        wait_focus(&a, "reply-input").await;
        a.active_element().await.unwrap().send_keys(ESCAPE).await.unwrap();
        wait_focus(&a, "conversation-title").await;

        // `?`: the list of shortcuts, modal, focus inside, Escape closes, focus comes back.
        a.active_element().await.unwrap().send_keys("?").await.unwrap();
        eventually("the shortcuts overlay", UI_WAIT, || async {
            (js(&a, "const d = document.querySelector('[data-testid=shortcuts]'); return !!d && d.open;").await
                == json!(true))
            .then_some(())
        })
        .await;
        wait_focus(&a, "shortcuts-close").await;
        let modal = js(&a, "return document.querySelector('[data-testid=shortcuts]').matches(':modal');").await;
        assert_eq!(modal, json!(true), "a modal dialog");
        assert_clean_in(&a, "[data-testid=shortcuts]", "the shortcuts overlay").await;
        shot(&a, "workspace-shortcuts.png").await;
        a.active_element().await.unwrap().send_keys(TAB).await.unwrap();
        wait_focus(&a, "shortcuts-close").await;
        // While it is open, keys are the dialog's: `j` does not move on.
        a.active_element().await.unwrap().send_keys("j").await.unwrap();
        a.active_element().await.unwrap().send_keys(ESCAPE).await.unwrap();
        eventually("the overlay closed", UI_WAIT, || async {
            (js(&a, "return document.querySelector('[data-testid=shortcuts]').open;").await == json!(false))
                .then_some(())
        })
        .await;
        wait_focus(&a, "conversation-title").await;
        assert_eq!(selected(&a).await, ids[0]);

        // Resolve.
        press(&a, "e").await;
        wait_console_text(&a, "state-status", "Resolved").await;
        assert_clean(&a, "the console after the shortcuts").await;
        drop((first, second));
    })
    .await;
}

#[tokio::test]
async fn a_notification_is_raised_for_a_new_conversation_while_the_tab_is_hidden() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (agent, _profile, port) = driver.browser_with_cdp().await;
    let a = agent.clone();
    with_browsers(vec![agent], async {
        let cdp = Cdp::attach(port).await;
        let origin = format!("http://127.0.0.1:{}", relay.port);
        cdp.call(
            "Browser.grantPermissions",
            json!({ "permissions": ["notifications"], "origin": origin }),
        )
        .await;
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        wait_console_text(&a, "connection", "Online").await;
        // Granted already: the console does not offer to ask.
        assert!(console_texts(&a, "notify-offer").await.is_empty());
        // Every call to the real constructor recorded, the real one still called.
        let permission = js(
            &a,
            "const Real = window.Notification; window.__notes = [];\
             window.Notification = class extends Real {\
               constructor(title, options) {\
                 super(title, options);\
                 window.__notes.push({ title, body: options && options.body, tag: options && options.tag,\
                   hidden: document.hidden, real: this instanceof Real });\
               }\
             };\
             return Notification.permission;",
        )
        .await;
        assert_eq!(permission, json!("granted"));
        wait_title(&a, "Switchboard").await;

        // Another tab in front: the console's tab is hidden for real (WebDriver's own new
        // window leaves it visible in headless Chromium; a new target in the same window does
        // not).
        let other = cdp
            .call("Target.createTarget", json!({ "url": "about:blank" }))
            .await["targetId"]
            .clone();
        eventually("the console's tab hidden", UI_WAIT, || async {
            (js(&a, "return document.hidden;").await == json!(true)).then_some(())
        })
        .await;

        let mut v = visitor(&relay).await;
        v.say("q1", "Where is my parcel?").await;
        let notes = eventually("a notification", UI_WAIT, || async {
            let n = js(&a, "return window.__notes;").await;
            n.as_array().filter(|n| !n.is_empty()).cloned()
        })
        .await;
        assert_eq!(notes.len(), 1, "one notification: {notes:?}");
        assert_eq!(notes[0]["title"], json!("New conversation"));
        assert!(
            notes[0]["body"].as_str().is_some_and(|b| b.contains("Where is my parcel?")),
            "{notes:?}"
        );
        assert_eq!(notes[0]["hidden"], json!(true));
        assert_eq!(notes[0]["real"], json!(true));
        assert_eq!(notes[0]["tag"], json!(v.conversation_id()));
        wait_title(&a, "(1) Switchboard").await;

        // Back to the console: the agent takes the conversation; hidden again, the visitor's
        // next message notifies too.
        cdp.call("Target.closeTarget", json!({ "targetId": other })).await;
        eventually("the console's tab visible", UI_WAIT, || async {
            (js(&a, "return document.hidden;").await == json!(false)).then_some(())
        })
        .await;
        open_first_conversation(&a).await;
        click(&a, "action-take").await;
        wait_console_text(&a, "state-assignee", "Alex").await;
        wait_title(&a, "Switchboard").await;
        cdp.call("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        eventually("the console's tab hidden again", UI_WAIT, || async {
            (js(&a, "return document.hidden;").await == json!(true)).then_some(())
        })
        .await;
        v.say("q2", "Hello? Still there?").await;
        eventually("a second notification", UI_WAIT, || async {
            let n = js(&a, "return window.__notes;").await;
            let n = n.as_array()?;
            (n.len() == 2).then(|| n[1].clone())
        })
        .await;
        let notes = js(&a, "return window.__notes;").await;
        assert!(
            notes[1]["title"].as_str().is_some_and(|t| t.starts_with("New message from")),
            "{notes:?}"
        );
        assert_eq!(notes[1]["body"], json!("Hello? Still there?"));
        // Open on screen but not seen while hidden: it counts.
        wait_title(&a, "(1) Switchboard").await;
    })
    .await;
}

#[tokio::test]
async fn the_console_speaks_german_and_remembers_the_agents_notification_choices() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (agent, _profile) = driver.browser_in("de-DE").await;
    let a = agent.clone();
    with_browsers(vec![agent], async {
        let mut v = visitor(&relay).await;
        v.say("q1", "Wo ist mein Paket?").await;
        a.goto(&relay.console()).await.unwrap();
        wait_console_text(&a, "login-submit", "Anmelden").await;
        assert_eq!(
            js(&a, "return document.documentElement.lang;").await,
            json!("de")
        );
        assert_clean(&a, "the sign-in in German").await;
        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        inbox_ids(&a, 1).await;
        wait_console_text(&a, "view-tab", "Alle").await;
        wait_console_text(&a, "connection", "Online").await;
        open_first_conversation(&a).await;
        wait_console_text(&a, "action-take", "Übernehmen").await;
        assert_clean(&a, "an open conversation in German").await;
        // Times in the agent's locale (24-hour clock in German), not the system's.
        let time = console_texts(&a, "message").await.join(" ");
        assert!(
            !time.contains("AM") && !time.contains("PM"),
            "German times: {time}"
        );
        shot(&a, "workspace-de.png").await;

        // The offer to notify is the agent's to accept: "Nicht jetzt" is remembered.
        let permission = js(&a, "return Notification.permission;").await;
        if permission == json!("default") {
            click(&a, "notify-later").await;
            a.refresh().await.unwrap();
            inbox_ids(&a, 1).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                console_texts(&a, "notify-offer").await.is_empty(),
                "asked once"
            );
        }
        // The tone is off until the agent turns it on, and stays as chosen.
        let pressed = "return document.querySelector('[data-testid=sound-toggle]').getAttribute('aria-pressed');";
        assert_eq!(js(&a, pressed).await, json!("false"));
        click(&a, "sound-toggle").await;
        assert_eq!(js(&a, pressed).await, json!("true"));
        a.refresh().await.unwrap();
        inbox_ids(&a, 1).await;
        assert_eq!(js(&a, pressed).await, json!("true"), "remembered");
        drop(v);
    })
    .await;
}

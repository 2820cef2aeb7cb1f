//! The helpdesk in the browser (issue 12): two agents in real consoles, Alex in Support and Sam
//! in Billing (round robin, one conversation each at most). A visitor chats in the real
//! widget → assigned to Alex (in Alex's Mine, not in Sam's) → Alex transfers to Billing with a
//! note → Sam gets it → Sam resolves → the visitor writes again → reopened, still Sam's.
//! Then, with every agent at capacity, a new visitor waits with a queue position. Along the
//! way: the view tabs by keyboard, the transfer dialog by keyboard, the presence switch seen by
//! the other agent, axe on the action bar and the dialog, a phone and a right-to-left
//! screenshot.

use std::time::Duration;

use fantoccini::{Client, Locator};
use switchboard_protocol::client::Hello;
use switchboard_protocol::{ClientMsg, ServerMsg, PROTOCOL_VERSION};

use super::axe;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess};
use super::page::*;
use crate::util::{eventually, free_port, Client as Ws};

const ALEX: &str = "helpdesk-e2e-alex-token-0123456789abcdef";
const SAM: &str = "helpdesk-e2e-sam-token-0123456789abcdefgh";
const FIRST: &str = "I was charged twice for order 1042";
const AGAIN: &str = "And a third charge today";
const NOTE: &str = "Double charge, refund approved";

const ESCAPE: &str = "\u{E00C}";
const ENTER: &str = "\u{E007}";
const ARROW_LEFT: &str = "\u{E012}";
const ARROW_RIGHT: &str = "\u{E014}";

fn config(demo_port: u16) -> String {
    format!(
        "[[sites]]\nkey = \"demo\"\nallowed_origins = [\"http://127.0.0.1:{demo_port}\"]\n\
         default_team = \"support\"\n\n\
         [[teams]]\nid = \"support\"\nname = \"Support\"\nsite = \"demo\"\nmembers = [\"alex\"]\n\
         policy = \"round_robin\"\ncapacity = 1\n\n\
         [[teams]]\nid = \"billing\"\nname = \"Billing\"\nsite = \"demo\"\nmembers = [\"sam\"]\n\
         policy = \"round_robin\"\ncapacity = 1\n\n\
         [[agents]]\nid = \"alex\"\nname = \"Alex\"\ntoken = \"{ALEX}\"\nsites = [\"demo\"]\n\n\
         [[agents]]\nid = \"sam\"\nname = \"Sam\"\ntoken = \"{SAM}\"\nsites = [\"demo\"]\n"
    )
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("script runs")
}

async fn click(c: &Client, testid: &str) {
    let el = eventually(&format!("{testid} to click"), UI_WAIT, || async {
        c.find(Locator::Css(&format!("[data-testid=\"{testid}\"]")))
            .await
            .ok()
    })
    .await;
    el.click()
        .await
        .unwrap_or_else(|e| panic!("clicking {testid}: {e}"));
}

async fn tab(c: &Client, view: &str) {
    click_tab(c, view).await;
    wait_selected_tab(c, view).await;
}

async fn click_tab(c: &Client, view: &str) {
    c.find(Locator::Css(&format!(
        "[data-testid=view-tab][data-view={view}]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
}

async fn wait_selected_tab(c: &Client, view: &str) {
    eventually(&format!("the {view} tab selected"), UI_WAIT, || async {
        js(
            c,
            "const t = document.querySelector('[role=tab][aria-selected=true]'); return t && t.dataset.view;",
        )
        .await
        .as_str()
        .filter(|v| *v == view)
        .map(drop)
    })
    .await;
}

/// The count on a view's tab ("" before the first answer).
async fn count(c: &Client, view: &str) -> String {
    js(
        c,
        &format!(
            "const t = document.querySelector('[data-testid=view-tab][data-view={view}] [data-testid=view-count]');\
             return t ? t.textContent.trim() : null;"
        ),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn wait_count(c: &Client, view: &str, want: u32) {
    let want = want.to_string();
    eventually(&format!("{view} count {want}"), UI_WAIT, || async {
        (count(c, view).await == want).then_some(())
    })
    .await;
}

/// Conversation ids listed in the open tab.
async fn listed(c: &Client) -> Vec<String> {
    serde_json::from_value(
        js(
            c,
            "return Array.from(document.querySelectorAll('[data-testid=conversation]')).map(l => l.dataset.id);",
        )
        .await,
    )
    .unwrap_or_default()
}

/// The `data-testid` of the focused element.
async fn focused(c: &Client) -> String {
    js(
        c,
        "const e = document.activeElement; return e ? (e.getAttribute('data-testid') || e.id || e.tagName) : '';",
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn wait_focused(c: &Client, testid: &str) {
    eventually(&format!("focus on {testid}"), UI_WAIT, || async {
        (focused(c).await == testid).then_some(())
    })
    .await;
}

/// Sends keys to whatever has focus.
async fn keys(c: &Client, k: &str) {
    c.active_element()
        .await
        .expect("a focused element")
        .send_keys(k)
        .await
        .expect("sending keys");
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifact(name), png).unwrap();
}

/// An agent over the protocol, past its inbox's first frame.
async fn raw_agent(relay: &RelayProcess, token: &str) -> Ws {
    let mut c = Ws::connect(&relay.ws("/v1/agent"), None).await.unwrap();
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(token.into()),
        context: None,
        identity_token: None,
    }))
    .await;
    c.welcome().await
}

/// A visitor of the demo site over the protocol, as the widget speaks it.
async fn raw_visitor(relay: &RelayProcess) -> Ws {
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

#[tokio::test]
async fn a_conversation_is_assigned_transferred_resolved_and_reopened_across_two_consoles() {
    let demo_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(&file, config(demo_port)).unwrap();
    let relay = RelayProcess::start_on(
        free_port(),
        demo_port,
        &[
            "--config",
            file.to_str().unwrap(),
            "--assign-interval-ms",
            "300",
        ],
    )
    .await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (alex, _p2) = driver.browser().await;
    let (sam, _p3) = driver.browser().await;
    let (v, a, s) = (visitor.clone(), alex.clone(), sam.clone());
    with_browsers(vec![visitor, alex, sam], async {
        for (c, token, name) in [(&a, ALEX, "Alex"), (&s, SAM, "Sam")] {
            sign_in(c, &relay.console(), token).await;
            wait_console_text(c, "agent-name", name).await;
            wait_console_text(c, "connection", "Online").await;
            tab(c, "mine").await;
            wait_count(c, "mine", 0).await;
        }

        // The visitor chats; the relay assigns the conversation to Alex, the only online
        // member of Support (the demo site's default team).
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, FIRST).await;
        wait_widget_message(&v, "visitor", FIRST, Some("sent")).await;
        wait_count(&a, "mine", 1).await;
        let conv = eventually("the conversation in Alex's Mine", UI_WAIT, || async {
            listed(&a).await.into_iter().next()
        })
        .await;
        wait_console_text(&a, "line-assignee", "Alex").await;
        wait_console_text(&a, "line-team", "Support").await;
        // Not in Sam's Mine; in Sam's All, showing who has it.
        wait_count(&s, "all", 1).await;
        assert_eq!(count(&s, "mine").await, "0");
        assert!(listed(&s).await.is_empty(), "Sam's Mine: {:?}", listed(&s).await);
        tab(&s, "all").await;
        eventually("the conversation in Sam's All", UI_WAIT, || async {
            listed(&s).await.contains(&conv).then_some(())
        })
        .await;
        wait_console_text(&s, "line-assignee", "Alex").await;

        // The view tabs by keyboard: arrows move and select, focus follows.
        a.find(Locator::Css("[data-testid=view-tab][data-view=mine]"))
            .await
            .unwrap()
            .send_keys(ARROW_RIGHT)
            .await
            .unwrap();
        wait_selected_tab(&a, "my_teams").await;
        assert_eq!(
            js(&a, "return document.activeElement.dataset.view;").await,
            "my_teams"
        );
        keys(&a, ARROW_LEFT).await;
        wait_selected_tab(&a, "mine").await;
        wait_count(&a, "mine", 1).await;

        // Alex opens it: the story so far, the action bar.
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", FIRST).await;
        wait_transcript(&a, "system", "Alex joined").await;
        wait_console_text(&a, "state-assignee", "Alex").await;
        wait_console_text(&a, "state-status", "Open").await;
        let offered: Vec<String> = serde_json::from_value(
            js(
                &a,
                "return Array.from(document.querySelectorAll('[data-testid=action-bar] :is(button, select)[data-testid^=action-]')).map(b => b.dataset.testid);",
            )
            .await,
        )
        .unwrap();
        for want in ["action-unassign", "action-transfer", "action-resolve", "action-pending", "action-snooze", "action-priority"] {
            assert!(offered.iter().any(|o| o == want), "{want} offered to its assignee: {offered:?}");
        }
        // Alex is no admin: no assigning to others, and no "take" of its own conversation.
        for never in ["action-assign", "action-take"] {
            assert!(!offered.iter().any(|o| o == never), "{never} offered to an agent: {offered:?}");
        }
        axe::assert_clean(&a, "the console with the action bar").await;

        // The transfer dialog by keyboard: Enter opens it with focus inside, Escape closes it
        // and gives focus back.
        a.find(Locator::Css("[data-testid=action-transfer]"))
            .await
            .unwrap()
            .send_keys(ENTER)
            .await
            .unwrap();
        wait_focused(&a, "transfer-team").await;
        axe::assert_clean(&a, "the console with the transfer dialog open").await;
        shot(&a, "helpdesk-transfer-dialog.png").await;
        keys(&a, ESCAPE).await;
        wait_focused(&a, "action-transfer").await;
        assert!(
            a.find(Locator::Css("[data-testid=transfer-dialog]")).await.is_err(),
            "Escape closes the dialog"
        );

        // Transfer to Billing with a note.
        keys(&a, ENTER).await;
        wait_focused(&a, "transfer-team").await;
        a.find(Locator::Css("[data-testid=transfer-team]"))
            .await
            .unwrap()
            .select_by_value("billing")
            .await
            .unwrap();
        let agents: Vec<String> = serde_json::from_value(
            js(&a, "return Array.from(document.querySelectorAll('[data-testid=transfer-agent] option')).map(o => o.textContent.trim());").await,
        )
        .unwrap();
        assert_eq!(
            agents,
            vec!["Anyone in the team (its queue)".to_owned(), "Sam · online".to_owned()],
            "Billing's members, with their presence"
        );
        a.find(Locator::Css("[data-testid=transfer-note]"))
            .await
            .unwrap()
            .send_keys(NOTE)
            .await
            .unwrap();
        click(&a, "transfer-submit").await;
        wait_transcript(&a, "system", "Transferred to Billing by Alex").await;
        wait_count(&a, "mine", 0).await;
        eventually("the conversation gone from Alex's Mine", UI_WAIT, || async {
            listed(&a).await.is_empty().then_some(())
        })
        .await;

        // Sam, in Billing, gets it, with Alex's note.
        wait_count(&s, "mine", 1).await;
        tab(&s, "mine").await;
        eventually("the conversation in Sam's Mine", UI_WAIT, || async {
            listed(&s).await.contains(&conv).then_some(())
        })
        .await;
        wait_console_text(&s, "line-team", "Billing").await;
        wait_console_text(&s, "line-assignee", "Sam").await;
        open_first_conversation(&s).await;
        wait_transcript(&s, "system", "Transferred to Billing by Alex").await;
        wait_transcript(&s, "system", "Sam joined").await;
        wait_console_text(&s, "transfer-note-shown", NOTE).await;
        // The visitor sees the transfer, in words of its own language (never the note).
        wait_widget_story(&v, "transferred", "Transferred to Billing").await;

        // A stale view: Sam's page is busy while Sam (elsewhere) raises the priority; the
        // click that follows still carries the old version. Refused as a conflict, said
        // plainly, nothing else changed, and the console shows the fresh state.
        let mut elsewhere = raw_agent(&relay, SAM).await;
        let version = elsewhere
            .until(|m| match m {
                ServerMsg::Conversations { items, .. } => {
                    items.iter().find(|i| i.id == conv).map(|i| i.version)
                }
                _ => None,
            })
            .await;
        let busy_then_click = s.execute(
            "const until = Date.now() + 2500; while (Date.now() < until) {}             document.querySelector('[data-testid=action-resolve]').click(); return 1;",
            vec![],
        );
        let raise = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            elsewhere
                .send(&ClientMsg::SetPriority {
                    conversation_id: conv.clone(),
                    expected_version: version,
                    priority: switchboard_protocol::Priority::High,
                })
                .await;
            elsewhere
                .until(|m| match m {
                    ServerMsg::Conversation(c) if c.id == conv && c.version == version + 1 => {
                        Some(())
                    }
                    _ => None,
                })
                .await;
        };
        let (clicked, ()) = tokio::join!(busy_then_click, raise);
        clicked.expect("the busy script runs");
        wait_console_text(&s, "action-notice", "Changed by someone else — refreshed").await;
        wait_console_text(&s, "conversation-state", "High priority").await;
        wait_console_text(&s, "state-status", "Open").await;
        wait_console_text(&s, "line-priority", "High").await;

        // Sam resolves, on the fresh version.
        click(&s, "action-resolve").await;
        wait_transcript(&s, "system", "Resolved by Sam").await;
        wait_console_text(&s, "state-status", "Resolved").await;
        wait_count(&s, "mine", 0).await;
        wait_count(&s, "resolved", 1).await;
        // The visitor sees the resolved state: the story's line and the notice.
        wait_widget_story(&v, "resolved", "Resolved").await;
        eventually("the resolved notice", UI_WAIT, || async {
            let shown = in_widget(
                &v,
                "const n = root.querySelector('[data-testid=conversation-resolved]'); \
                 return !!n && n.getBoundingClientRect().height > 0;",
            )
            .await;
            (shown == serde_json::json!(true)).then_some(())
        })
        .await;

        // The visitor writes again: reopened, assigned to Sam again (in Sam's Mine).
        visitor_send(&v, AGAIN).await;
        wait_widget_message(&v, "visitor", AGAIN, Some("sent")).await;
        wait_transcript(&s, "visitor", AGAIN).await;
        wait_transcript(&s, "system", "Reopened by the visitor's message").await;
        wait_count(&s, "mine", 1).await;
        wait_count(&s, "resolved", 0).await;
        // A reopened conversation stays with its assignee: back in Sam's Mine.
        tab(&s, "mine").await;
        eventually("the reopened conversation in Sam's Mine", UI_WAIT, || async {
            listed(&s).await.contains(&conv).then_some(())
        })
        .await;
        wait_console_text(&s, "line-assignee", "Sam").await;
        wait_console_text(&s, "state-status", "Open").await;
        let story: Vec<String> = transcript(&s)
            .await
            .into_iter()
            .filter(|(who, _, _)| who == "system")
            .map(|(_, _, t)| t)
            .collect();
        assert_eq!(
            story,
            vec![
                "Alex joined",
                "Transferred to Billing by Alex",
                "Sam joined",
                "Priority high by Sam",
                "Resolved by Sam",
                "Reopened by the visitor's message",
            ],
            "the conversation's story in order"
        );
        let system_style = js(
            &s,
            "const l = document.querySelector('[data-testid=message][data-sender=system]');\
             const st = getComputedStyle(l); return [st.textAlign, st.alignSelf, l.dataset.code];",
        )
        .await;
        assert_eq!(system_style, serde_json::json!(["center", "center", "assigned"]));

        // Every agent at capacity: Alex takes a second visitor (Support), a third one waits.
        let mut second = raw_visitor(&relay).await;
        second.say("q1", "Second visitor here").await;
        wait_count(&a, "mine", 1).await;
        let mut third = raw_visitor(&relay).await;
        third.live_state = true;
        third.say("q1", "Third visitor, anyone?").await;
        let position = third
            .until(|m| match m {
                ServerMsg::Queue { position, .. } => Some(*position),
                _ => None,
            })
            .await;
        assert_eq!(position, 1, "the third visitor is next in Support's queue");
        wait_count(&a, "unassigned", 1).await;
        // The same wait as the widget shows it ("You are number 1 in the queue"), in a
        // browser: `e2e::visitor_desk`.

        // Presence: Alex steps away; Sam sees it where agents are offered.
        a.find(Locator::Css("[data-testid=presence-select]"))
            .await
            .unwrap()
            .select_by_value("away")
            .await
            .unwrap();
        click(&s, "action-transfer").await;
        eventually("Alex away in Sam's transfer dialog", UI_WAIT, || async {
            js(&s, "return Array.from(document.querySelectorAll('[data-testid=transfer-agent] option')).map(o => o.textContent.trim());")
                .await
                .as_array()
                .is_some_and(|o| o.iter().any(|t| t == "Alex · away"))
                .then_some(())
        })
        .await;
        click(&s, "transfer-cancel").await;

        // Phone width and right to left, with the dialog open: still no axe violations.
        open_first_conversation(&a).await;
        click(&a, "action-transfer").await;
        a.set_window_size(390, 844).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let overflow = js(&a, "return document.documentElement.scrollWidth - window.innerWidth;").await;
        assert!(overflow.as_i64().is_some_and(|o| o <= 0), "no sideways scroll at 390 px: {overflow}");
        axe::assert_clean(&a, "the console at 390 px").await;
        shot(&a, "helpdesk-phone.png").await;
        a.set_window_size(1280, 900).await.unwrap();
        js(&a, "document.documentElement.dir = 'rtl'; return 1;").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        axe::assert_clean(&a, "the console right to left").await;
        shot(&a, "helpdesk-rtl.png").await;
        // Arrows mirror right to left: ArrowLeft is the next tab.
        a.find(Locator::Css("[role=tab][aria-selected=true]"))
            .await
            .unwrap()
            .send_keys(ARROW_LEFT)
            .await
            .unwrap();
        wait_selected_tab(&a, "my_teams").await;
    })
    .await;
}

/// Waits until the widget's story has a line with this event code whose text contains `text`.
async fn wait_widget_story(v: &Client, code: &str, text: &str) {
    let script = format!(
        "return Array.from(root ? root.querySelectorAll('[data-testid=system-event][data-code={code}]') : [])\
           .map(e => e.textContent);"
    );
    eventually(
        &format!("the visitor's story line {code}: {text}"),
        UI_WAIT,
        || async {
            let lines = in_widget(v, &script).await;
            lines
                .as_array()
                .is_some_and(|l| {
                    l.iter()
                        .any(|t| t.as_str().is_some_and(|t| t.contains(text)))
                })
                .then_some(())
        },
    )
    .await;
}

//! Nothing before the visitor asks, watched through the DevTools protocol (every request,
//! WebSocket and storage write the page makes, not only what its scripts see):
//! - in consent mode (`data-consent="required"`) the loader draws the launcher and nothing
//!   else happens, through reading, scrolling, hovering, focusing and a click (which asks);
//!   consent given, the chat works; withdrawn, everything it stored is gone and the socket too;
//! - without it, a page view that never chats fetches only the loader and opens no socket,
//!   opening the chat without a word leaves nothing for the next page, and a returning visitor
//!   with a conversation reconnects at once and gets an agent's reply with the panel closed.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use super::cdp::Cdp;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::delivery::PATIENCE;
use crate::peer::{Peer, Role};
use crate::util::eventually;

/// Longer than the loader's idle timeout (3 s): anything it would fetch unasked has been.
const LINGER: Duration = Duration::from_millis(3_500);

const ESCAPE: &str = "\u{e00c}";

/// Everything the page asked of the relay's origin (HTTP and WebSocket).
fn relay_requests(cdp: &Cdp, relay: &RelayProcess) -> Vec<String> {
    let (http, ws) = (
        format!("http://127.0.0.1:{}/", relay.port),
        format!("ws://127.0.0.1:{}/", relay.port),
    );
    cdp.requested()
        .into_iter()
        .filter(|u| u.starts_with(&http) || u.starts_with(&ws))
        .collect()
}

fn sockets(cdp: &Cdp) -> usize {
    cdp.events("Network.webSocketCreated").len()
}

/// The widget's keys in the page's localStorage.
async fn stored_keys(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "return Object.keys(localStorage).filter(k => k.startsWith('switchboard:'));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// A visitor who reads, scrolls, points at and focuses the launcher, and waits: nothing of
/// this is asking for the chat.
async fn browse(c: &Client, cdp: &Cdp) {
    eventually("the loader's launcher", UI_WAIT, || loader_launcher(c)).await;
    c.execute("window.scrollTo(0, 300); return 1;", vec![])
        .await
        .unwrap();
    c.find(Locator::Css("h1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let at = in_widget(
        c,
        "const r = root.querySelector('[data-testid=launcher-placeholder]').getBoundingClientRect(); \
         return [r.x + r.width / 2, r.y + r.height / 2];",
    )
    .await;
    cdp.call(
        "Input.dispatchMouseEvent",
        json!({ "type": "mouseMoved", "x": at[0], "y": at[1] }),
    )
    .await;
    in_widget(
        c,
        "root.querySelector('[data-testid=launcher-placeholder]').focus(); return 1;",
    )
    .await;
    tokio::time::sleep(LINGER).await;
}

async fn prompt_shown(c: &Client) -> bool {
    in_widget(
        c,
        "const p = root && root.querySelector('[data-testid=consent-prompt]'); \
         return !!p && !p.hidden && p.getBoundingClientRect().width > 0;",
    )
    .await
    .as_bool()
    .unwrap_or(false)
}

async fn wait_prompt(c: &Client, shown: bool) {
    eventually(
        &format!("the consent prompt shown: {shown}"),
        UI_WAIT,
        || async { (prompt_shown(c).await == shown).then_some(()) },
    )
    .await;
}

async fn focused_testid(c: &Client) -> Value {
    in_widget(
        c,
        "return root.activeElement && root.activeElement.getAttribute('data-testid');",
    )
    .await
}

#[tokio::test]
async fn consent_mode_stores_and_contacts_nothing_until_consent_and_forgets_on_withdrawal() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (v, _profile, port) = driver.browser_with_cdp().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        let cdp = Cdp::attach(port).await;
        cdp.call("Network.enable", json!({})).await;
        cdp.call("DOMStorage.enable", json!({})).await;
        cdp.call("IndexedDB.enable", json!({})).await;
        c.goto(&relay.shop("privacy.html")).await.unwrap();
        browse(&c, &cdp).await;

        // A click asks first: a small prompt, and still nothing fetched or stored.
        loader_launcher(&c).await.unwrap().click().await.unwrap();
        wait_prompt(&c, true).await;
        assert_eq!(focused_testid(&c).await, "consent-allow", "the prompt takes the focus");
        super::axe::assert_clean_in(&c, "#switchboard-host", "the consent prompt").await;
        std::fs::write(artifact("consent-prompt.png"), c.screenshot().await.unwrap()).unwrap();
        c.set_window_size(390, 844).await.unwrap();
        let fits = in_widget(
            &c,
            "const r = root.querySelector('[data-testid=consent-prompt]').getBoundingClientRect(); \
             return r.left >= 0 && r.right <= innerWidth && r.top >= 0;",
        )
        .await;
        assert_eq!(fits, true, "the prompt fits a phone's width");
        super::axe::assert_clean_in(&c, "#switchboard-host", "the consent prompt at phone width")
            .await;
        std::fs::write(artifact("consent-prompt-phone.png"), c.screenshot().await.unwrap()).unwrap();
        c.set_window_size(1280, 900).await.unwrap();
        // Escape says "not now" and gives the focus back to the launcher.
        let allow = widget_el(&c, "consent-allow").await;
        allow.send_keys(ESCAPE).await.unwrap();
        wait_prompt(&c, false).await;
        assert_eq!(focused_testid(&c).await, "launcher-placeholder");
        tokio::time::sleep(Duration::from_millis(500)).await;

        let loader = format!("http://127.0.0.1:{}/widget.js", relay.port);
        assert_eq!(relay_requests(&cdp, &relay), std::slice::from_ref(&loader), "only the loader from the relay");
        assert_eq!(sockets(&cdp), 0, "no WebSocket");
        assert!(cdp.storage_changes().is_empty(), "no storage writes: {:?}", cdp.storage_changes());
        let page = c
            .execute(
                "return [localStorage.length, sessionStorage.length, document.cookie, \
                 performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes(':' + arguments[0] + '/'))];",
                vec![json!(relay.port)],
            )
            .await
            .unwrap();
        assert_eq!(page, json!([0, 0, "", [&loader]]), "storage, cookies, resources");
        let cookies = cdp
            .call(
                "Network.getCookies",
                json!({ "urls": [relay.shop("privacy.html"), format!("http://127.0.0.1:{}/", relay.port)] }),
            )
            .await;
        assert_eq!(cookies["cookies"], json!([]), "no cookies");
        let dbs = cdp
            .call("IndexedDB.requestDatabaseNames", json!({ "securityOrigin": relay.shop_origin() }))
            .await;
        assert_eq!(dbs["databaseNames"], json!([]), "no IndexedDB");
        assert_eq!(relay.health().await["connections"], 0, "no connection at the relay");

        // The visitor allows it in the prompt: the site hears of it, the chat opens and works.
        in_widget(&c, "window.__consent = []; Switchboard('on', 'consent', v => window.__consent.push(v)); return 1;")
            .await;
        loader_launcher(&c).await.unwrap().click().await.unwrap();
        wait_prompt(&c, true).await;
        widget_el(&c, "consent-allow").await.click().await.unwrap();
        eventually("the chat panel to open", UI_WAIT, || async {
            panel_open(&c).await.then_some(())
        })
        .await;
        visitor_send(&c, "Hello, with consent").await;
        wait_widget_message(&c, "visitor", "Hello, with consent", Some("sent")).await;
        assert_eq!(c.execute("return window.__consent;", vec![]).await.unwrap(), json!([true]));
        assert_eq!(sockets(&cdp), 1);
        let token_key = "switchboard:demo:token".to_owned();
        assert!(stored_keys(&c).await.contains(&token_key), "the token, once chatting");
        let before: Value = c
            .execute(&format!("return localStorage.getItem('{token_key}');"), vec![])
            .await
            .unwrap();

        // Withdrawn on the site's banner: everything it stored is gone, and the socket.
        c.find(Locator::Css("[data-testid=site-decline]")).await.unwrap().click().await.unwrap();
        eventually("storage emptied and the socket closed", UI_WAIT, || async {
            (stored_keys(&c).await.is_empty()
                && relay.health().await["connections"] == 0
                && !cdp.events("Network.webSocketClosed").is_empty())
            .then_some(())
        })
        .await;
        assert!(!panel_open(&c).await, "the panel closed");
        assert!(widget_messages(&c).await.is_empty(), "the transcript is gone");

        // The launcher now asks again, and nothing connects or is stored.
        let writes = cdp.storage_changes().len();
        widget_el(&c, "launcher").await.click().await.unwrap();
        wait_prompt(&c, true).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(sockets(&cdp), 1, "no new WebSocket without consent");
        assert_eq!(relay.health().await["connections"], 0);
        assert!(stored_keys(&c).await.is_empty());
        let later: Vec<Value> = cdp.storage_changes()[writes..]
            .iter()
            .filter(|e| e["method"] != "DOMStorage.domStorageItemRemoved")
            .cloned()
            .collect();
        assert!(later.is_empty(), "no writes after withdrawal: {later:?}");
        widget_el(&c, "consent-later").await.click().await.unwrap();
        wait_prompt(&c, false).await;

        // Consent again through the site: a new visitor, with nothing of the previous one.
        c.find(Locator::Css("[data-testid=site-accept]")).await.unwrap().click().await.unwrap();
        open_widget(&c).await;
        assert!(widget_messages(&c).await.is_empty());
        visitor_send(&c, "Someone new").await;
        wait_widget_message(&c, "visitor", "Someone new", Some("sent")).await;
        let after: Value = c
            .execute(&format!("return localStorage.getItem('{token_key}');"), vec![])
            .await
            .unwrap();
        assert!(after.is_string() && after != before, "a new token: {before} → {after}");
        let texts: Vec<String> = widget_messages(&c).await.into_iter().map(|m| m.2).collect();
        assert_eq!(texts, ["Someone new"]);

        // The next page, before the site said anything about consent: the stored conversation
        // does not bring the widget back; declining removes it without fetching anything.
        assert!(stored_keys(&c).await.contains(&token_key));
        cdp.clear();
        c.refresh().await.unwrap();
        browse(&c, &cdp).await;
        assert_eq!(relay_requests(&cdp, &relay), std::slice::from_ref(&loader));
        assert_eq!(sockets(&cdp), 0);
        // A site with its own consent dialog listens to `consent_required`: a click calls it
        // instead of the loader's prompt.
        in_widget(
            &c,
            "window.__asked = 0; Switchboard('on', 'consent_required', () => window.__asked++); return 1;",
        )
        .await;
        loader_launcher(&c).await.unwrap().click().await.unwrap();
        eventually("the site's consent_required listener", UI_WAIT, || async {
            (c.execute("return window.__asked;", vec![]).await.unwrap() == 1).then_some(())
        })
        .await;
        assert!(!prompt_shown(&c).await, "no prompt of our own");
        c.find(Locator::Css("[data-testid=site-decline]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        eventually("the stored visitor removed", UI_WAIT, || async {
            stored_keys(&c).await.is_empty().then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(relay_requests(&cdp, &relay), std::slice::from_ref(&loader));
        assert_eq!(sockets(&cdp), 0);
    })
    .await;
}

#[tokio::test]
async fn a_page_view_that_never_chats_fetches_only_the_loader_and_a_returning_visitor_reconnects() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (v, _profile, port) = driver.browser_with_cdp().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        let cdp = Cdp::attach(port).await;
        cdp.call("Network.enable", json!({})).await;
        cdp.call("DOMStorage.enable", json!({})).await;
        c.goto(&relay.shop("order.html")).await.unwrap();
        eventually("the loader's launcher", UI_WAIT, || loader_launcher(&c)).await;
        c.find(Locator::Css("h1"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        tokio::time::sleep(LINGER).await;
        let loader = format!("http://127.0.0.1:{}/widget.js", relay.port);
        assert_eq!(
            relay_requests(&cdp, &relay),
            std::slice::from_ref(&loader),
            "only the loader"
        );
        assert_eq!(sockets(&cdp), 0, "no WebSocket");
        assert_eq!(relay.health().await["connections"], 0);
        assert!(stored_keys(&c).await.is_empty());
        // For BENCHMARKS.md: what that page view cost, over the wire (headers included).
        let ids: Vec<Value> = cdp
            .events("Network.requestWillBeSent")
            .into_iter()
            .filter(|e| e["request"]["url"] == loader.as_str())
            .map(|e| e["requestId"].clone())
            .collect();
        let bytes: f64 = cdp
            .events("Network.loadingFinished")
            .iter()
            .filter(|e| ids.contains(&e["requestId"]))
            .filter_map(|e| e["encodedDataLength"].as_f64())
            .sum();
        eprintln!("a page view that never chats: {bytes} B from the relay (widget.js, brotli)");

        // Opened without a word: a socket while the page is open, nothing kept for the next.
        open_widget(&c).await;
        eventually("the widget online", UI_WAIT, || async {
            let s = in_widget(
                &c,
                "return root.querySelector('[data-testid=connection]').getAttribute('data-state');",
            )
            .await;
            (s == "online").then_some(())
        })
        .await;
        assert_eq!(sockets(&cdp), 1);
        assert!(
            stored_keys(&c).await.is_empty(),
            "nothing stored: {:?}",
            stored_keys(&c).await
        );
        cdp.clear();
        c.refresh().await.unwrap();
        eventually("the loader's launcher", UI_WAIT, || loader_launcher(&c)).await;
        tokio::time::sleep(LINGER).await;
        assert_eq!(
            relay_requests(&cdp, &relay),
            [loader],
            "only the loader after a silent visit"
        );
        assert_eq!(sockets(&cdp), 0);

        // Chatting makes a conversation to come back to.
        open_widget(&c).await;
        visitor_send(&c, "Is the jacket waterproof?").await;
        wait_widget_message(&c, "visitor", "Is the jacket waterproof?", Some("sent")).await;

        // Back on the next page: connected at idle without a click, and the agent's answer
        // arrives (an unread badge) while the panel stays closed.
        cdp.clear();
        c.refresh().await.unwrap();
        eventually("a WebSocket without a click", UI_WAIT, || async {
            (sockets(&cdp) == 1 && relay.health().await["connections"] == 1).then_some(())
        })
        .await;
        let conv = super::resilience::relay_inbox(&relay).await;
        let mut agent = Peer::new(
            "a",
            &relay.ws(""),
            Role::Agent {
                token: AGENT_TOKEN.into(),
            },
        );
        agent.set_conversation(&conv);
        agent.connect(PATIENCE).await;
        agent.send("Yes: taped seams, 20,000 mm.").await;
        eventually("the unread badge", UI_WAIT, || async {
            let n = in_widget(
                &c,
                "const u = root.querySelector('[data-testid=unread]'); return u && u.textContent;",
            )
            .await;
            (n == "1").then_some(())
        })
        .await;
        assert!(!panel_open(&c).await, "the panel stayed closed");
        open_widget(&c).await;
        wait_widget_message(&c, "agent", "taped seams", None).await;
    })
    .await;
}

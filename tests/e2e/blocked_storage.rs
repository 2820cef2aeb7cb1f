//! A visitor whose browser blocks site data (cookies blocked: storage throws and
//! `navigator.locks.request` rejects with `SecurityError`): the widget still connects, chats and
//! hears the agent, passes axe-core, and nothing of it reaches the host page as an uncaught
//! error. Screenshot: `artifacts/blocked-storage.png`.

use serde_json::json;

use super::axe::assert_clean_in;
use super::harness::{with_browsers, Chromedriver, RelayProcess};
use super::page::*;
use crate::delivery::transcript;
use crate::util::eventually;

#[tokio::test]
async fn the_widget_chats_when_the_browser_blocks_site_data() {
    let relay = RelayProcess::start().await;
    let mut desk = super::visitors_world::agent(&relay).await;
    let driver = Chromedriver::start().await;
    let (c, _profile) = driver.browser_blocking_site_data().await;
    let v = c.clone();
    with_browsers(vec![c], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        // What the site's error monitoring would see.
        v.execute(
            "window.__errors = []; \
             addEventListener('unhandledrejection', e => __errors.push(String(e.reason))); \
             addEventListener('error', e => __errors.push(String(e.message))); return 1;",
            vec![],
        )
        .await
        .unwrap();
        // The browser really refuses: storage throws, the lock request rejects.
        let refused = v
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 let storage = 'allowed'; try { localStorage.length; } catch (e) { storage = e.name; } \
                 navigator.locks.request('probe', () => 1) \
                   .then(() => done([storage, 'granted']), e => done([storage, e.name]));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(refused, json!(["SecurityError", "SecurityError"]));

        open_widget(&v).await;
        eventually("the widget online", UI_WAIT, || async {
            let state = in_widget(
                &v,
                "const c = root.querySelector('[data-testid=connection]'); \
                 return c && c.getAttribute('data-state');",
            )
            .await;
            (state == json!("online")).then_some(())
        })
        .await;
        visitor_send(&v, "Can you see me?").await;
        wait_widget_message(&v, "visitor", "Can you see me?", Some("sent")).await;
        let conv = super::resilience::relay_inbox(&relay).await;
        let stored = transcript(&relay.ws(""), &conv).await;
        assert_eq!(
            stored.values().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            ["Can you see me?"]
        );
        super::visitors_world::answer(&mut desk, "Can you see me?", "Loud and clear.").await;
        wait_widget_message(&v, "agent", "Loud and clear.", None).await;
        assert_clean_in(&v, "#switchboard-host", "the widget without site data").await;
        super::visitors_world::screenshot(&v, "blocked-storage.png").await;
        let errors = v.execute("return window.__errors;", vec![]).await.unwrap();
        assert_eq!(errors, json!([]), "nothing reached the page's error handlers");
    })
    .await;
}

//! The console's password sign-in in Chromium, by keyboard only: a wrong password is announced
//! (role=alert), the right one opens the console over the HttpOnly session cookie (no script
//! can read it), a reload stays signed in, and signing out revokes the session on the relay
//! (the cookie, taken from the browser, no longer opens the agent socket). axe finds nothing
//! on the sign-in screen, with and without the error, at desktop and at 390 px; screenshots in
//! `artifacts/login-*.png`.

use fantoccini::{Client, Locator};
use switchboard_protocol::client::Hello;
use switchboard_protocol::{ClientMsg, CloseCode, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess};
use super::page::*;
use crate::process::AGENT_PASSWORD;
use crate::util::eventually;

/// WebDriver's key codes.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

async fn assert_accessible(c: &Client, screen: &str) {
    super::axe::assert_clean(c, &format!("the sign-in {screen}")).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifact(&format!("login-{screen}.png")), png).unwrap();
}

/// The data-testid of the focused element.
async fn focused(c: &Client) -> String {
    let v = c
        .execute(
            "return document.activeElement && document.activeElement.getAttribute('data-testid');",
            vec![],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_owned()
}

/// Types into whatever has the focus, as a person at a keyboard does.
async fn type_keys(c: &Client, keys: &str) {
    c.active_element()
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

async fn sign_in_screen(c: &Client) {
    eventually("the sign-in form", UI_WAIT, || async {
        c.find(Locator::Css("[data-testid=login-agent]")).await.ok()
    })
    .await;
}

/// Whether the cookie (`name=value`) opens the agent socket from the console's origin.
async fn cookie_signs_in(relay: &RelayProcess, cookie: &str) -> bool {
    let mut req = relay.ws("/v1/agent").into_client_request().unwrap();
    let origin = format!("http://127.0.0.1:{}", relay.port);
    req.headers_mut().insert("origin", origin.parse().unwrap());
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut c = crate::util::Client {
        ws,
        welcome: None,
        live_state: false,
    };
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context: None,
        identity_token: None,
    }))
    .await;
    loop {
        match c.next_event().await {
            crate::util::Event::Msg(m) => {
                if matches!(*m, switchboard_protocol::ServerMsg::Welcome(_)) {
                    return true;
                }
            }
            crate::util::Event::Closed(code) => {
                assert_eq!(code, Some(CloseCode::UNAUTHORIZED.code));
                return false;
            }
        }
    }
}

#[tokio::test]
async fn an_agent_signs_in_with_a_password_by_keyboard_and_signs_out() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (agent, _profile) = driver.browser().await;
    let a = agent.clone();
    with_browsers(vec![agent], async {
        a.goto(&relay.console()).await.unwrap();
        sign_in_screen(&a).await;
        assert_accessible(&a, "form").await;

        // Keyboard only: the agent field has the focus; Tab to the password; Enter submits.
        assert_eq!(focused(&a).await, "login-agent");
        type_keys(&a, "demo-agent").await;
        type_keys(&a, TAB).await;
        assert_eq!(focused(&a).await, "login-password");
        type_keys(&a, "not the password").await;
        type_keys(&a, ENTER).await;
        wait_console_text(&a, "sign-in-error", "not right").await;
        let role = a
            .find(Locator::Css("[data-testid=sign-in-error]"))
            .await
            .unwrap()
            .attr("role")
            .await
            .unwrap();
        assert_eq!(role.as_deref(), Some("alert"), "the error is announced");
        assert_accessible(&a, "error").await;

        // Phone width: the same screen, still clean.
        a.set_window_size(390, 844).await.unwrap();
        assert_accessible(&a, "phone").await;
        a.set_window_size(1280, 900).await.unwrap();

        // The right password (the field still has the focus after the refusal).
        a.find(Locator::Css("[data-testid=login-password]"))
            .await
            .unwrap()
            .clear()
            .await
            .unwrap();
        a.find(Locator::Css("[data-testid=login-password]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        type_keys(&a, AGENT_PASSWORD).await;
        type_keys(&a, ENTER).await;
        wait_console_text(&a, "agent-name", "Alex").await;
        eventually("the console online", UI_WAIT, || async {
            let state = a
                .find(Locator::Css("[data-testid=connection]"))
                .await
                .ok()?
                .attr("data-state")
                .await
                .ok()??;
            (state == "online").then_some(())
        })
        .await;
        // The session is in an HttpOnly cookie: no script on the page can read it.
        let visible = a.execute("return document.cookie;", vec![]).await.unwrap();
        assert!(
            !visible.as_str().unwrap_or_default().contains("sb_agent"),
            "{visible}"
        );
        let cookie = a
            .get_all_cookies()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name() == "sb_agent")
            .expect("the session cookie");
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(
            cookie.same_site().map(|s| s.to_string()).as_deref(),
            Some("Strict")
        );
        let cookie = format!("sb_agent={}", cookie.value());
        assert!(cookie_signs_in(&relay, &cookie).await);

        // A reload keeps the agent signed in, by the cookie alone.
        a.refresh().await.unwrap();
        wait_console_text(&a, "agent-name", "Alex").await;

        // Sign out: back to the form, and the relay no longer takes that cookie.
        a.find(Locator::Css("[data-testid=sign-out]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        sign_in_screen(&a).await;
        eventually("the session revoked on the relay", UI_WAIT, || async {
            (!cookie_signs_in(&relay, &cookie).await).then_some(())
        })
        .await;
        a.refresh().await.unwrap();
        sign_in_screen(&a).await;
    })
    .await;
}

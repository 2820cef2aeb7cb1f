//! What a visitor (widget, inside its shadow root) and an agent (console) do and see. Reads go
//! through small DOM queries; actions are real WebDriver clicks and key presses.

use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::util::eventually;

pub const UI_WAIT: Duration = Duration::from_secs(20);

/// Evaluates `body` with `root` bound to the widget's shadow root (or null).
pub async fn in_widget(c: &Client, body: &str) -> Value {
    let script = format!(
        "const host = document.getElementById('switchboard-host'); const root = host && host.shadowRoot; {body}"
    );
    c.execute(&script, vec![]).await.expect("script runs")
}

/// The element with this `data-testid` inside the widget's shadow root.
pub async fn widget_el(c: &Client, testid: &str) -> Element {
    let host = c
        .find(Locator::Css("#switchboard-host"))
        .await
        .expect("the widget host element");
    let root = host.shadow_root().await.expect("an open shadow root");
    root.find(Locator::Css(&format!("[data-testid=\"{testid}\"]")))
        .await
        .unwrap_or_else(|e| panic!("{testid}: {e}"))
}

/// Waits until the wasm widget has mounted (its own launcher replaced the loader's).
pub async fn widget_ready(c: &Client) {
    eventually("the widget's launcher", UI_WAIT, || async {
        in_widget(
            c,
            "return !!(root && root.querySelector('[data-testid=launcher]'));",
        )
        .await
        .as_bool()
        .filter(|b| *b)
    })
    .await;
}

pub async fn panel_open(c: &Client) -> bool {
    in_widget(
        c,
        "const p = root && root.querySelector('[data-testid=panel]'); \
         return !!p && p.getBoundingClientRect().width > 0 && getComputedStyle(p).display !== 'none' \
         && getComputedStyle(p).visibility !== 'hidden';",
    )
    .await
    .as_bool()
    .unwrap_or(false)
}

/// The loader's launcher, drawn before the widget is fetched (`None` once the widget replaced it).
pub async fn loader_launcher(c: &Client) -> Option<Element> {
    let host = c.find(Locator::Css("#switchboard-host")).await.ok()?;
    let root = host.shadow_root().await.ok()?;
    root.find(Locator::Css("[data-testid=launcher-placeholder]"))
        .await
        .ok()
}

/// Opens the chat as a visitor does: a click on the launcher (the loader's, which fetches the
/// widget and opens it, or the widget's own).
pub async fn open_widget(c: &Client) {
    eventually("a launcher", UI_WAIT, || async {
        in_widget(
            c,
            "return !!(root && root.querySelector('[data-testid=launcher],[data-testid=launcher-placeholder]'));",
        )
        .await
        .as_bool()
        .filter(|b| *b)
    })
    .await;
    if let Some(placeholder) = loader_launcher(c).await {
        // Fails only if the widget replaced it in the meantime: then its own launcher below.
        if placeholder.click().await.is_ok() {
            eventually("the chat panel to open", UI_WAIT, || async {
                panel_open(c).await.then_some(())
            })
            .await;
            return;
        }
    }
    widget_ready(c).await;
    if !panel_open(c).await {
        widget_el(c, "launcher")
            .await
            .click()
            .await
            .expect("clicking the launcher");
    }
    eventually("the chat panel to open", UI_WAIT, || async {
        panel_open(c).await.then_some(())
    })
    .await;
}

pub async fn visitor_send(c: &Client, text: &str) {
    let input = widget_el(c, "composer-input").await;
    input.send_keys(text).await.expect("typing");
    widget_el(c, "send")
        .await
        .click()
        .await
        .expect("clicking send");
}

/// `(sender, state, text)` of every message in the widget.
pub async fn widget_messages(c: &Client) -> Vec<(String, String, String)> {
    let v = in_widget(
        c,
        "if (!root) return []; return Array.from(root.querySelectorAll('[data-testid=message]')).map(li => [\
           li.getAttribute('data-sender') || '', li.getAttribute('data-state') || '',\
           (li.querySelector('[data-testid=message-text]') || li).textContent.trim()]);",
    )
    .await;
    triples(v)
}

pub async fn wait_widget_message(c: &Client, sender: &str, text: &str, state: Option<&str>) {
    eventually(
        &format!("widget message {sender}: {text:?} ({state:?})"),
        UI_WAIT,
        || async {
            widget_messages(c)
                .await
                .iter()
                .any(|(s, st, t)| {
                    s == sender && t.contains(text) && state.is_none_or(|want| st == want)
                })
                .then_some(())
        },
    )
    .await;
}

/// Signs in with an agent token: the option folded beneath the password form.
pub async fn sign_in(c: &Client, console_url: &str, token: &str) {
    c.goto(console_url).await.expect("opening the console");
    let unfold = eventually("the token option", UI_WAIT, || async {
        c.find(Locator::Css("[data-testid=use-token]")).await.ok()
    })
    .await;
    unfold.click().await.unwrap();
    let input = c
        .find(Locator::Css("[data-testid=token-input]"))
        .await
        .unwrap();
    input.send_keys(token).await.unwrap();
    c.find(Locator::Css("[data-testid=sign-in]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks the first conversation in the inbox once it appears.
pub async fn open_first_conversation(c: &Client) {
    let item = eventually("a conversation in the inbox", UI_WAIT, || async {
        c.find(Locator::Css("[data-testid=conversation]"))
            .await
            .ok()
    })
    .await;
    match item.find(Locator::Css("button")).await {
        Ok(button) => button.click().await.unwrap(),
        Err(_) => item.click().await.unwrap(),
    }
}

/// `(sender, state, text)` of the console's transcript.
pub async fn transcript(c: &Client) -> Vec<(String, String, String)> {
    let v = c
        .execute(
            "const t = document.querySelector('[data-testid=transcript]'); if (!t) return [];\
             return Array.from(t.querySelectorAll('[data-testid=message]')).map(li => [\
               li.getAttribute('data-sender') || '', li.getAttribute('data-state') || '',\
               (li.querySelector('[data-testid=message-text]') || li).textContent.trim()]);",
            vec![],
        )
        .await
        .unwrap();
    triples(v)
}

pub async fn wait_transcript(c: &Client, sender: &str, text: &str) {
    eventually(
        &format!("console message {sender}: {text:?}"),
        UI_WAIT,
        || async {
            transcript(c)
                .await
                .iter()
                .any(|(s, _, t)| s == sender && t.contains(text))
                .then_some(())
        },
    )
    .await;
}

/// Text of every element with this `data-testid` in the console.
pub async fn console_texts(c: &Client, testid: &str) -> Vec<String> {
    let v = c
        .execute(
            &format!(
                "return Array.from(document.querySelectorAll('[data-testid=\"{testid}\"]')).map(e => e.textContent.trim());"
            ),
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap_or_default()
}

pub async fn wait_console_text(c: &Client, testid: &str, text: &str) {
    eventually(
        &format!("console {testid} containing {text:?}"),
        UI_WAIT,
        || async {
            console_texts(c, testid)
                .await
                .iter()
                .any(|t| t.contains(text))
                .then_some(())
        },
    )
    .await;
}

pub async fn console_reply(c: &Client, text: &str) {
    let input = c
        .find(Locator::Css("[data-testid=reply-input]"))
        .await
        .expect("the reply box");
    input.send_keys(text).await.unwrap();
    c.find(Locator::Css("[data-testid=reply-send]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

fn triples(v: Value) -> Vec<(String, String, String)> {
    serde_json::from_value(v).unwrap_or_default()
}

//! CSAT in the browser (issue 16): the agent resolves in the console → the widget asks for a
//! rating (the demo site: 1–5 with a comment) → the visitor rates by keyboard with a comment →
//! the thanks, the visitor's own line in the transcript → the agent sees the rating in the
//! conversation's header and transcript. axe-core finds nothing on the prompt (also right to
//! left and at phone width) or on the thanks. Screenshots in `artifacts/`.

use fantoccini::{Client, Locator};

use super::axe;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::eventually;

const QUESTION: &str = "Where is my parcel?";
const COMMENT: &str = "Quick and friendly";
const ENTER: &str = "\u{E007}";
const ARROW_RIGHT: &str = "\u{E014}";

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifact(name), png).unwrap();
}

/// The widget's text of `testid`, `None` while there is none.
async fn widget_text(c: &Client, testid: &str) -> Option<String> {
    in_widget(
        c,
        &format!(
            "const e = root && root.querySelector('[data-testid=\"{testid}\"]'); \
             return e ? e.textContent.trim() : null;"
        ),
    )
    .await
    .as_str()
    .map(str::to_owned)
}

async fn wait_widget(c: &Client, testid: &str) -> String {
    eventually(&format!("the widget's {testid}"), UI_WAIT, || async {
        widget_text(c, testid).await
    })
    .await
}

/// The radio of `score` in the prompt.
async fn score(c: &Client, score: u8) -> fantoccini::elements::Element {
    let host = c.find(Locator::Css("#switchboard-host")).await.unwrap();
    let root = host.shadow_root().await.unwrap();
    root.find(Locator::Css(&format!(
        "[data-testid=csat-score][value=\"{score}\"]"
    )))
    .await
    .unwrap()
}

#[tokio::test]
async fn a_visitor_rates_after_the_resolve_and_the_agent_sees_it() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser().await;
    let (agent, _p2) = driver.browser().await;
    let (v, a) = (visitor.clone(), agent.clone());
    with_browsers(vec![visitor, agent], async {
        v.goto(&relay.shop("order.html")).await.unwrap();
        open_widget(&v).await;
        visitor_send(&v, QUESTION).await;
        wait_widget_message(&v, "visitor", QUESTION, Some("sent")).await;
        assert_eq!(widget_text(&v, "csat").await, None, "no prompt while open");

        sign_in(&a, &relay.console(), AGENT_TOKEN).await;
        open_first_conversation(&a).await;
        wait_transcript(&a, "visitor", QUESTION).await;
        let resolve = eventually("the resolve button", UI_WAIT, || async {
            a.find(Locator::Css("[data-testid=action-resolve]")).await.ok()
        })
        .await;
        resolve.click().await.unwrap();

        // The prompt, under the resolved notice.
        let question = wait_widget(&v, "csat").await;
        assert!(question.contains("How was this conversation?"), "{question}");
        let scale = in_widget(
            &v,
            "return Array.from(root.querySelectorAll('[data-testid=csat-score]')).map(r => r.value);",
        )
        .await;
        assert_eq!(scale, serde_json::json!(["1", "2", "3", "4", "5"]));
        axe::assert_clean(&v, "the rating prompt").await;
        shot(&v, "widget-csat-prompt.png").await;

        // Right to left (Arabic) and at phone width, the prompt stays clean.
        v.execute("Switchboard('locale', 'ar'); return 1;", vec![])
            .await
            .unwrap();
        eventually("the Arabic prompt", UI_WAIT, || async {
            wait_widget(&v, "csat")
                .await
                .contains("كيف كانت هذه المحادثة")
                .then_some(())
        })
        .await;
        v.set_window_size(390, 844).await.unwrap();
        axe::assert_clean(&v, "the rating prompt in Arabic at 390 px").await;
        shot(&v, "widget-csat-prompt-rtl-390.png").await;
        v.execute("Switchboard('locale', 'en'); return 1;", vec![])
            .await
            .unwrap();
        v.set_window_size(1280, 900).await.unwrap();

        // By keyboard: focus on 3, the arrow moves to 4 (and checks it); the comment; Enter
        // on the send button.
        score(&v, 3).await.send_keys(ARROW_RIGHT).await.unwrap();
        let checked = in_widget(
            &v,
            "const r = root.querySelector('[data-testid=csat-score]:checked'); return r && r.value;",
        )
        .await;
        assert_eq!(checked, serde_json::json!("4"));
        widget_el(&v, "csat-comment")
            .await
            .send_keys(COMMENT)
            .await
            .unwrap();
        widget_el(&v, "csat-submit")
            .await
            .send_keys(ENTER)
            .await
            .unwrap();

        let thanks = wait_widget(&v, "csat-thanks").await;
        assert_eq!(thanks, "Thanks for your feedback!");
        assert_eq!(widget_text(&v, "csat").await, None);
        // Focus follows from the send button (gone with the form) to the thanks.
        eventually("the focus on the thanks", UI_WAIT, || async {
            (in_widget(
                &v,
                "return root.activeElement && root.activeElement.getAttribute('data-testid');",
            )
            .await
                == serde_json::json!("csat-thanks"))
            .then_some(())
        })
        .await;
        eventually("the visitor's rating line", UI_WAIT, || async {
            in_widget(
                &v,
                "return Array.from(root.querySelectorAll('[data-testid=system-event][data-code=rated]'))\
                   .map(e => e.textContent.trim());",
            )
            .await
            .as_array()
            .filter(|l| l.len() == 1 && l[0] == "Your rating: 4/5")
            .map(|_| ())
        })
        .await;
        axe::assert_clean(&v, "the thanks").await;
        shot(&v, "widget-csat-thanks.png").await;

        // The agent sees it in the conversation's header and its transcript.
        let want = format!("Visitor rated 4/5: “{COMMENT}”");
        wait_console_text(&a, "state-rating", &want).await;
        eventually("the rating in the console's transcript", UI_WAIT, || async {
            let lines = a
                .execute(
                    "return Array.from(document.querySelectorAll('[data-testid=transcript] li'))\
                       .map(li => li.textContent.trim());",
                    vec![],
                )
                .await
                .unwrap();
            lines
                .as_array()
                .filter(|l| l.iter().any(|t| t.as_str().is_some_and(|t| t.contains(&want))))
                .map(|_| ())
        })
        .await;
        axe::assert_clean_in(&a, "[data-testid=action-bar]", "the console's rating").await;
        shot(&a, "console-csat-rating.png").await;

        // A reload keeps the thanks (the rating is in the log): no second prompt.
        v.refresh().await.unwrap();
        open_widget(&v).await;
        assert_eq!(wait_widget(&v, "csat-thanks").await, thanks);
    })
    .await;
}

//! A host page with hostile CSS (`* { all: unset }`, huge fonts, `button { display: none }`,
//! rules aimed at the host element) and Prototype.js-style `toJSON` on `Array.prototype` and
//! `String.prototype`: the widget still looks and works right, and `setContext` data arrives
//! whole. The screenshot is kept in `artifacts/hostile-css.png`.

use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};

use super::page::*;
use crate::util::eventually;
use switchboard_protocol::ServerMsg;

#[tokio::test]
async fn widget_looks_and_works_right_on_a_hostile_page() {
    let relay = RelayProcess::start().await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&relay.shop("hostile.html")).await.unwrap();
        // The launcher the loader draws (all a visitor sees until they reach for it), then
        // the widget's own, which replaces it.
        for testid in ["launcher-placeholder", "launcher"] {
            if testid == "launcher" {
                open_widget(&c).await;
                // The click left the pointer on the launcher: away, to see it unhovered.
                let away = MouseActions::new("mouse".into())
                    .then(PointerAction::MoveTo { duration: None, x: 5.0, y: 5.0 });
                c.perform_actions(away).await.unwrap();
            }
            let style = eventually(testid, UI_WAIT, || async {
                let v = in_widget(
                    &c,
                    &format!(
                        "const l = root && root.querySelector('[data-testid={testid}]'); if (!l) return null; \
                         const s = getComputedStyle(l); const r = l.getBoundingClientRect(); const h = getComputedStyle(host); \
                         return [s.backgroundColor, s.display, s.fontSize, r.width, r.height, h.transform, h.opacity];"
                    ),
                )
                .await;
                (!v.is_null()).then_some(v)
            })
            .await;
            assert_eq!(style[0], "rgb(37, 99, 235)", "{testid} colour: {style}");
            assert_ne!(style[1], "none", "{testid} hidden: {style}");
            assert!(style[3].as_f64().unwrap() >= 40.0 && style[4].as_f64().unwrap() >= 40.0, "{testid} size: {style}");
            assert_eq!(style[5], "none", "host transform leaked in: {style}");
            assert_eq!(style[6], "1", "host opacity leaked in: {style}");
        }

        let panel = in_widget(
            &c,
            "const p = root.querySelector('[data-testid=panel]').getBoundingClientRect(); \
             const t = getComputedStyle(root.querySelector('[data-testid=composer-input]')); \
             return [p.width, p.height, t.display, t.fontSize];",
        )
        .await;
        assert!(panel[0].as_f64().unwrap() >= 280.0 && panel[1].as_f64().unwrap() >= 300.0, "panel size: {panel}");
        assert_ne!(panel[2], "none", "composer hidden: {panel}");
        let font: f64 = panel[3].as_str().unwrap().trim_end_matches("px").parse().unwrap();
        assert!((12.0..=20.0).contains(&font), "host font size leaked in: {panel}");

        visitor_send(&c, "hello from a hostile page").await;
        wait_widget_message(&c, "visitor", "hello from a hostile page", Some("sent")).await;

        // The page's Prototype-style serializers do not reach the context: the cart's items
        // and a list of tags arrive as lists, the strings as themselves; and the page's own
        // `toJSON`s are still there afterwards.
        let mut agent = super::visitors_world::agent(&relay).await;
        in_widget(
            &c,
            "Switchboard('setContext', {cart: {items: [{sku: 'TB-07', name: 'Trail boots', quantity: 1, price: 129.5}],              total: 129.5, currency: 'EUR'}, tags: ['gift', 'rush']}); return 1;",
        )
        .await;
        let deadline = tokio::time::Instant::now() + UI_WAIT;
        let context = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, agent.recv()).await {
                Ok(ServerMsg::Context { context, .. }) if context.cart.is_some() => break context,
                Ok(_) => {}
                Err(_) => panic!("no context with the cart reached the agent"),
            }
        };
        let cart = context.cart.unwrap();
        assert_eq!(cart.items.len(), 1);
        assert_eq!(cart.items[0].name, "Trail boots");
        assert_eq!(context.custom.get("tags"), Some(&serde_json::json!(["gift", "rush"])));
        let kept = in_widget(
            &c,
            "return [typeof Array.prototype.toJSON, typeof String.prototype.toJSON, JSON.stringify([1])];",
        )
        .await;
        assert_eq!(kept, serde_json::json!(["function", "function", "\"[1]\""]));

        // Loading the loader a second time does nothing.
        in_widget(
            &c,
            "const s = document.createElement('script'); s.src = document.querySelector('script[data-site]').src; \
             s.setAttribute('data-site', 'demo'); document.head.appendChild(s); return 1;",
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let hosts = c.execute("return document.querySelectorAll('#switchboard-host').length;", vec![]).await.unwrap();
        assert_eq!(hosts, 1);

        let png = c.screenshot().await.unwrap();
        std::fs::write(artifact("hostile-css.png"), png).unwrap();
    })
    .await;
}

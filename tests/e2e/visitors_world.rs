//! The widget for visitors anywhere: an Arabic page (Arabic words, right to left, the launcher
//! bottom-left from the loader's first paint), a Hindi visitor, a page that names the widget's
//! language with `data-locale`, a phone whose keyboard shrinks the visual viewport, and a site
//! with its own theme (brand colour, left, dark). Each visitor chats with an agent (a real agent
//! socket on the relay process) and the widget passes axe-core; screenshots in `artifacts/`.

use fantoccini::Client as Browser;
use serde_json::{json, Value};
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::{ClientMsg, ServerMsg, PROTOCOL_VERSION};

use super::axe::assert_clean_in;
use super::cdp::Cdp;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::{eventually, Client};

pub(super) async fn screenshot(c: &Browser, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(artifact(name), png).unwrap();
}

/// An agent on the relay's agent socket, as the console is.
pub(super) async fn agent(relay: &RelayProcess) -> Client {
    let url = format!("ws://127.0.0.1:{}/v1/agent", relay.port);
    let mut c = Client::connect(&url, None).await.expect("the agent socket");
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(AGENT_TOKEN.into()),
        context: None,
        identity_token: None,
    }))
    .await;
    c.welcome().await
}

/// Waits for the visitor's `question`, answers it; returns the conversation.
pub(super) async fn answer(agent: &mut Client, question: &str, reply: &str) -> String {
    let conv = agent
        .until(|m| match m {
            ServerMsg::Message(m) if m.text == question => Some(m.conversation_id.clone()),
            _ => None,
        })
        .await;
    say(agent, &conv, reply).await;
    conv
}

async fn say(agent: &mut Client, conv: &str, text: &str) {
    agent
        .send(&ClientMsg::Send(Send {
            conversation_id: conv.into(),
            client_id: format!("agent-{}", text.len()),
            text: text.into(),
            rich: None,
            canned_id: None,
        }))
        .await;
}

/// The bounding box of the element with this test id in the widget: `[left, top, right,
/// bottom]`, or null.
async fn rect(c: &Browser, testid: &str) -> Value {
    in_widget(
        c,
        &format!(
            "const e = root && root.querySelector('[data-testid={testid}]'); if (!e) return null; \
             const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];"
        ),
    )
    .await
}

fn px(v: &Value, i: usize) -> f64 {
    v[i].as_f64().unwrap_or_else(|| panic!("a box: {v}"))
}

/// The widget's `lang` and `dir`, and its panel's heading.
async fn speaks(c: &Browser) -> Value {
    in_widget(
        c,
        "const w = root.querySelector('.sb-widget'); \
         return [w.getAttribute('lang'), w.getAttribute('dir'), root.querySelector('.sb-title').textContent];",
    )
    .await
}

#[tokio::test]
async fn arabic_page_gets_arabic_right_to_left_with_the_launcher_bottom_left() {
    const QUESTION: &str = "متى يصل طلبي؟";
    const ANSWER: &str = "يصل طلبك رقم 1042 يوم الخميس.";
    const LATER: &str = "وأرسلنا لك رقم التتبع.";
    let relay = RelayProcess::start().await;
    let mut desk = agent(&relay).await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&relay.shop("ar.html")).await.unwrap();
        // The loader's launcher is already on the left: no jump when the widget replaces it.
        let boot = eventually("the loader's launcher", UI_WAIT, || async {
            let r = rect(&c, "launcher-placeholder").await;
            (!r.is_null()).then_some(r)
        })
        .await;
        assert!(px(&boot, 0) < 100.0, "the loader's launcher bottom-left: {boot}");
        open_widget(&c).await;
        assert_eq!(speaks(&c).await, json!(["ar", "rtl", "تحدّث معنا"]));
        let launcher = rect(&c, "launcher").await;
        assert!((px(&launcher, 0) - px(&boot, 0)).abs() < 1.0, "the same place: {boot} {launcher}");
        let panel = rect(&c, "panel").await;
        assert!(px(&panel, 0) < 100.0, "the panel on the left too: {panel}");

        visitor_send(&c, QUESTION).await;
        let conv = answer(&mut desk, QUESTION, ANSWER).await;
        wait_widget_message(&c, "agent", ANSWER, None).await;
        let autos = in_widget(
            &c,
            "return [...root.querySelectorAll('[data-testid=message-text],[data-testid=message-sender]')] \
             .every(e => e.getAttribute('dir') === 'auto');",
        )
        .await;
        assert_eq!(autos, json!(true), "names and messages read in their own direction");
        assert_clean_in(&c, "#switchboard-host", "the widget in Arabic").await;
        screenshot(&c, "world-arabic.png").await;

        // A reply while the panel is closed: said by the live region outside the panel, and
        // counted in the launcher's name (Arabic's "one" form).
        widget_el(&c, "close").await.click().await.unwrap();
        say(&mut desk, &conv, LATER).await;
        let told = eventually("the announcement", UI_WAIT, || async {
            let t = in_widget(
                &c,
                "const a = root.querySelector('[data-testid=announcer]'); \
                 const l = root.querySelector('[data-testid=launcher]'); \
                 return a && a.textContent ? [a.textContent, l.getAttribute('aria-label'), !!a.closest('[hidden]')] : null;",
            )
            .await;
            (!t.is_null()).then_some(t)
        })
        .await;
        assert_eq!(told[0], json!(format!("رسالة جديدة من Alex: {LATER}")), "{told}");
        assert_eq!(told[1], json!("افتح المحادثة، 1 رسالة غير مقروءة"), "{told}");
        assert_eq!(told[2], json!(false), "the live region is not inside the closed panel");
        assert_clean_in(&c, "#switchboard-host", "the closed widget with an unread reply").await;
        screenshot(&c, "world-arabic-unread.png").await;
    })
    .await;
}

#[tokio::test]
async fn hindi_visitor_gets_hindi() {
    const QUESTION: &str = "मेरा ऑर्डर कब आएगा?";
    const ANSWER: &str = "आपका ऑर्डर गुरुवार को पहुँचेगा।";
    let relay = RelayProcess::start().await;
    let mut desk = agent(&relay).await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser_in("hi").await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&relay.shop("order.html")).await.unwrap();
        // A page that does not say its language: the browser's is the visitor's.
        c.execute("document.documentElement.removeAttribute('lang'); return 1;", vec![])
            .await
            .unwrap();
        // Focus on the loader's launcher (which starts the download) stays on the launcher when
        // the widget's own replaces it.
        eventually("the loader's launcher", UI_WAIT, || loader_launcher(&c)).await;
        in_widget(&c, "root.querySelector('[data-testid=launcher-placeholder]').focus(); return 1;").await;
        widget_ready(&c).await;
        let focused = in_widget(&c, "return root.activeElement && root.activeElement.dataset.testid;").await;
        assert_eq!(focused, json!("launcher"), "focus kept across the swap");
        open_widget(&c).await;
        assert_eq!(speaks(&c).await, json!(["hi", "ltr", "हमसे बात करें"]));
        visitor_send(&c, QUESTION).await;
        answer(&mut desk, QUESTION, ANSWER).await;
        wait_widget_message(&c, "agent", ANSWER, None).await;
        let labels = in_widget(
            &c,
            "return [root.querySelector('[data-testid=composer-input]').getAttribute('placeholder'), \
             root.querySelector('[data-testid=send]').textContent];",
        )
        .await;
        assert_eq!(labels, json!(["संदेश लिखें…", "भेजें"]));
        assert_clean_in(&c, "#switchboard-host", "the widget in Hindi").await;
        screenshot(&c, "world-hindi.png").await;
    })
    .await;
}

#[tokio::test]
async fn data_locale_on_the_tag_wins_over_the_page_and_the_api_over_both() {
    const QUESTION: &str = "注文はいつ届きますか？";
    const ANSWER: &str = "木曜日にお届けします。";
    let relay = RelayProcess::start().await;
    let mut desk = agent(&relay).await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&relay.shop("order.html")).await.unwrap();
        // The English page's embed says the widget speaks Japanese (read when it mounts).
        c.execute(
            "document.querySelector('script[data-site]').setAttribute('data-locale', 'ja'); return 1;",
            vec![],
        )
        .await
        .unwrap();
        open_widget(&c).await;
        assert_eq!(speaks(&c).await, json!(["ja", "ltr", "チャットでお問い合わせ"]));
        visitor_send(&c, QUESTION).await;
        answer(&mut desk, QUESTION, ANSWER).await;
        wait_widget_message(&c, "agent", ANSWER, None).await;
        assert_clean_in(&c, "#switchboard-host", "the widget in Japanese").await;
        screenshot(&c, "world-data-locale-ja.png").await;

        // The site's own call wins, at any time: the open widget changes language at once.
        c.execute("Switchboard('locale', 'es'); return 1;", vec![])
            .await
            .unwrap();
        eventually("Spanish", UI_WAIT, || async {
            (speaks(&c).await == json!(["es", "ltr", "Chatea con nosotros"])).then_some(())
        })
        .await;
        let sender = in_widget(
            &c,
            "return root.querySelector('[data-sender=visitor] [data-testid=message-sender]').textContent;",
        )
        .await;
        assert_eq!(sender, json!("Tú"), "rows already shown follow too");
    })
    .await;
}

#[tokio::test]
async fn phone_keeps_composer_and_header_in_view_with_the_keyboard_up() {
    const QUESTION: &str = "Can I change the delivery address?";
    const ANSWER: &str = "Yes — reply with the new address and we'll update it.";
    let relay = RelayProcess::start().await;
    let mut desk = agent(&relay).await;
    let driver = Chromedriver::start().await;
    let (v, _profile, port) = driver.browser_with_cdp().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        let cdp = Cdp::attach(port).await;
        c.set_window_size(390, 844).await.unwrap();
        c.goto(&relay.shop("order.html")).await.unwrap();
        // A long page, scrolled: the scroll lock must put both back exactly.
        let before = c
            .execute(
                "document.body.setAttribute('style', 'min-height: 3000px;'); window.scrollTo(0, 400); \
                 return [document.body.getAttribute('style'), window.scrollY];",
                vec![],
            )
            .await
            .unwrap();
        open_widget(&c).await;
        let locked = c
            .execute("return getComputedStyle(document.body).position;", vec![])
            .await
            .unwrap();
        assert_eq!(locked, json!("fixed"), "the page behind is locked while the chat is open");
        let sizes = in_widget(
            &c,
            "const b = root.querySelector('[data-testid=close]').getBoundingClientRect(); \
             const s = root.querySelector('[data-testid=send]').getBoundingClientRect(); \
             return [b.width, b.height, s.width, s.height, \
                     parseFloat(getComputedStyle(root.querySelector('[data-testid=composer-input]')).fontSize), \
                     getComputedStyle(root.querySelector('[data-testid=messages]')).overscrollBehaviorY];",
        )
        .await;
        for i in 0..4 {
            assert!(px(&sizes, i) >= 44.0, "touch targets of 44 × 44: {sizes}");
        }
        assert!(px(&sizes, 4) >= 16.0, "no zoom on focus: {sizes}");
        assert_eq!(sizes[5], json!("contain"), "{sizes}");

        visitor_send(&c, QUESTION).await;
        answer(&mut desk, QUESTION, ANSWER).await;
        wait_widget_message(&c, "agent", ANSWER, None).await;

        // The keyboard: the visual viewport shrinks to about half the screen while the layout
        // viewport stays (what iOS does); a panel sized to the layout viewport would have its
        // composer under the keyboard.
        widget_el(&c, "composer-input").await.click().await.unwrap();
        cdp.call("Emulation.setPageScaleFactor", json!({ "pageScaleFactor": 1.75 }))
            .await;
        let fits = eventually("the panel to follow the visual viewport", UI_WAIT, || async {
            let v = in_widget(
                &c,
                "const vv = window.visualViewport; \
                 const box = t => root.querySelector(`[data-testid=${t}]`).getBoundingClientRect(); \
                 const c = box('composer'), h = root.querySelector('.sb-header').getBoundingClientRect(); \
                 return [vv.offsetTop, vv.height, h.top, c.bottom];",
            )
            .await;
            let (top, height) = (px(&v, 0), px(&v, 1));
            (height < 600.0 && px(&v, 2) >= top - 1.0 && px(&v, 3) <= top + height + 1.0).then_some(v)
        })
        .await;
        eprintln!("visual viewport [offsetTop, height, header top, composer bottom]: {fits}");
        screenshot(&c, "world-phone-keyboard.png").await;
        cdp.call("Emulation.setPageScaleFactor", json!({ "pageScaleFactor": 1 }))
            .await;
        assert_clean_in(&c, "#switchboard-host", "the widget on a phone").await;
        screenshot(&c, "world-phone.png").await;

        // On its side: still the header, the transcript and the composer on screen.
        c.set_window_size(844, 390).await.unwrap();
        let landscape = eventually("the landscape layout", UI_WAIT, || async {
            let v = in_widget(
                &c,
                "const b = t => root.querySelector(t).getBoundingClientRect(); \
                 return [b('.sb-header').top, b('[data-testid=composer]').bottom, b('[data-testid=messages]').height, innerHeight];",
            )
            .await;
            (px(&v, 0) >= 0.0 && px(&v, 1) <= px(&v, 3) + 1.0 && px(&v, 2) >= 100.0).then_some(v)
        })
        .await;
        eprintln!("landscape [header top, composer bottom, transcript height, height]: {landscape}");
        screenshot(&c, "world-phone-landscape.png").await;

        c.set_window_size(390, 844).await.unwrap();
        widget_el(&c, "close").await.click().await.unwrap();
        let after = eventually("the page restored", UI_WAIT, || async {
            let a = c
                .execute(
                    "return [document.body.getAttribute('style'), window.scrollY];",
                    vec![],
                )
                .await
                .unwrap();
            (a == before).then_some(a)
        })
        .await;
        assert_eq!(after, before, "the page's style and scroll restored exactly");
    })
    .await;
}

/// A relay whose `demo` site has a theme: yellow, left, dark, with a label and a greeting.
async fn themed_relay() -> (RelayProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        "[[sites]]\nkey = \"demo\"\nname = \"Demo shop\"\nallowed_origins = [\"*\"]\n\n\
         [sites.theme]\nbrand = \"#facc15\"\nside = \"left\"\noffset_x = 28\nscheme = \"dark\"\n\
         launcher_label = \"Questions?\"\ntitle = \"Hi, we're \\\"Trailhead\\\"\"\n\
         subtitle = \"Real people, 9–18 CET\"\n",
    )
    .unwrap();
    let relay = RelayProcess::start_with(&["--config", file.to_str().unwrap()]).await;
    (relay, dir)
}

/// `widget.js?site=KEY` is the themed loader for a themed site, in ASCII, compressed when
/// asked; any other query (garbage, oversized, another site, none) gets the plain loader.
#[tokio::test]
async fn themed_loader_only_for_its_site_and_the_plain_one_for_anything_else() {
    let (relay, _dir) = themed_relay().await;
    let http = reqwest::Client::new();
    let get = |query: String, encoding: Option<&'static str>| {
        let mut req = http.get(format!("http://127.0.0.1:{}/widget.js{query}", relay.port));
        if let Some(e) = encoding {
            req = req.header("accept-encoding", e);
        }
        async move {
            let res = req.send().await.expect("the relay answers");
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            (status, headers, res.bytes().await.unwrap().to_vec())
        }
    };
    let (status, headers, themed) = get("?site=demo".into(), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    let text = String::from_utf8(themed.clone()).unwrap();
    assert!(text.is_ascii(), "safe in any page encoding");
    assert!(
        text.contains("--switchboard-brand:#facc15"),
        "the theme is in"
    );
    assert!(text.contains(".sb-boot{background:#facc15;color:#111827}"));
    assert!(
        text.contains("[\"Questions?\",\"Chat keeps"),
        "the site's label names the placeholder launcher"
    );
    let (_, headers, br) = get("?site=demo".into(), Some("gzip, br")).await;
    assert_eq!(headers["content-encoding"], "br");
    assert!(
        br.len() < themed.len() / 2,
        "compressed: {} of {}",
        br.len(),
        themed.len()
    );

    let (_, _, plain) = get(String::new(), None).await;
    assert!(!String::from_utf8_lossy(&plain).contains("--switchboard-"));
    for query in [
        "?site=nope".to_owned(),
        "?site=%22%3E%3C/style%3E%3Cscript%3Ealert(1)%3C/script%3E".to_owned(),
        format!("?site={}", "a".repeat(4000)),
        "?site=DEMO".to_owned(),
        "?site".to_owned(),
        "?x=1&site=".to_owned(),
    ] {
        let (status, _, body) = get(query.clone(), None).await;
        assert_eq!(
            (status, body == plain),
            (200, true),
            "{query}: the plain loader"
        );
    }

    // The loader's own words (launcher name, consent prompt) in the browser's language, for
    // the plain and the themed loader alike; still ASCII.
    let escaped = |text: &str| -> String {
        text.encode_utf16()
            .map(|u| match u {
                0x20..=0x7e => char::from(u as u8).to_string(),
                _ => format!("\\u{u:04x}"),
            })
            .collect()
    };
    for query in ["", "?site=demo"] {
        let res = http
            .get(format!("http://127.0.0.1:{}/widget.js{query}", relay.port))
            .header("accept-language", "sv-SE,hi-IN;q=0.9,en;q=0.8")
            .send()
            .await
            .unwrap();
        assert!(res.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("accept-language"));
        let text = res.text().await.unwrap();
        assert!(text.is_ascii(), "{query}");
        assert!(text.contains(&escaped("अभी नहीं")), "{query}: Hindi words");
        // The themed site's own label names its launcher in every language.
        assert_eq!(
            text.contains(&escaped("चैट खोलें")),
            query.is_empty(),
            "{query}"
        );
        assert!(
            !text.contains("\"Open chat\""),
            "{query}: no English words left"
        );
        assert_eq!(
            text.contains("--switchboard-brand"),
            !query.is_empty(),
            "{query}"
        );
    }
}

#[tokio::test]
async fn themed_site_has_its_colour_side_and_dark_scheme_from_the_first_paint() {
    const QUESTION: &str = "Do you ship to Norway?";
    const ANSWER: &str = "We do, in 3–5 working days.";
    let (relay, _dir) = themed_relay().await;
    let mut desk = agent(&relay).await;
    let driver = Chromedriver::start().await;
    let (v, _profile) = driver.browser().await;
    let c = v.clone();
    with_browsers(vec![v], async {
        c.goto(&relay.shop("help.html")).await.unwrap();
        // Before anything but the loader is fetched: the brand colour, dark text on it (white
        // on yellow would be 1.5:1), on the left.
        let boot = eventually("the loader's launcher", UI_WAIT, || async {
            let v = in_widget(
                &c,
                "const l = root && root.querySelector('[data-testid=launcher-placeholder]'); if (!l) return null; \
                 const s = getComputedStyle(l); return [s.backgroundColor, s.color, l.getBoundingClientRect().left];",
            )
            .await;
            (!v.is_null()).then_some(v)
        })
        .await;
        assert_eq!(boot, json!(["rgb(250, 204, 21)", "rgb(17, 24, 39)", 28]), "{boot}");
        open_widget(&c).await;
        let look = in_widget(
            &c,
            "const s = t => getComputedStyle(root.querySelector(t)); \
             const l = root.querySelector('[data-testid=launcher]'); \
             return [s('.sb-header').backgroundColor, s('.sb-header').color, s('[data-testid=panel]').backgroundColor, \
                     root.querySelector('[data-testid=panel]').getBoundingClientRect().left, l.getBoundingClientRect().left, \
                     root.querySelector('.sb-title').textContent, root.querySelector('[data-testid=subtitle]').textContent, \
                     root.querySelector('.sb-label').textContent, l.getAttribute('aria-label') === null ? null : 'named'];",
        )
        .await;
        assert_eq!(
            look,
            json!([
                "rgb(250, 204, 21)",
                "rgb(17, 24, 39)",
                "rgb(17, 24, 39)",
                28,
                28,
                "Hi, we're \"Trailhead\"",
                "Real people, 9–18 CET",
                "Questions?",
                "named"
            ]),
            "{look}"
        );
        visitor_send(&c, QUESTION).await;
        answer(&mut desk, QUESTION, ANSWER).await;
        wait_widget_message(&c, "agent", ANSWER, None).await;
        assert_clean_in(&c, "#switchboard-host", "the themed widget, dark").await;
        screenshot(&c, "world-themed-dark.png").await;
        widget_el(&c, "close").await.click().await.unwrap();
        let name = in_widget(
            &c,
            "return root.querySelector('[data-testid=launcher]').getAttribute('aria-label');",
        )
        .await;
        assert_eq!(name, json!("Questions?"), "the site's label names the launcher");
        assert_clean_in(&c, "#switchboard-host", "the themed launcher").await;
        screenshot(&c, "world-themed-closed.png").await;
    })
    .await;
}

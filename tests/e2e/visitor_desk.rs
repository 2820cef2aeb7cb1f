//! The helpdesk as the visitor sees it (issue 12), in the real widget: a relay process with two
//! teams, agents as real WebSocket clients. The header tells whether someone is online and how
//! soon they answer (measured from real replies); the visitor waits in the queue while the only
//! support agent is at capacity, then reads the story ("Alex joined", "Transferred to Billing",
//! "Sam joined", "Resolved"), writes again to reopen, and never sees what is for agents (a
//! priority, the transfer's note). The same conversation is then read in every shipped locale,
//! right to left and at phone width, each checked with axe-core. Screenshots in `artifacts/`.

use fantoccini::Client as Browser;
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::{ClientMsg, Presence, Priority, ServerMsg, Status, PROTOCOL_VERSION};

use super::axe;
use super::harness::{artifact, with_browsers, Chromedriver, RelayProcess, AGENT_TOKEN};
use super::page::*;
use crate::util::{eventually, free_port, Client};

const SAM_TOKEN: &str = "e2e-sam-token-0123456789abcdef0123456789";
const ALEX: &str = "demo-agent";
const QUESTION: &str = "I need help with my invoice";
const AGAIN: &str = "One more thing about the invoice";
const NOTE: &str = "VIP customer, refund approved";

/// The demo site with a support team (Alex, the demo agent, one conversation at a time) and a
/// billing team (Sam), both assigning by themselves.
fn config(demo_port: u16) -> tempfile::NamedTempFile {
    let toml = format!(
        "[[sites]]\nkey = \"demo\"\nname = \"Demo shop\"\n\
         allowed_origins = [\"http://127.0.0.1:{demo_port}\", \"http://localhost:{demo_port}\"]\n\
         default_team = \"support\"\n\n\
         [[teams]]\nid = \"support\"\nname = \"Support\"\nsite = \"demo\"\nmembers = [\"{ALEX}\"]\n\
         policy = \"round_robin\"\ncapacity = 1\n\n\
         [[teams]]\nid = \"billing\"\nname = \"Billing\"\nsite = \"demo\"\nmembers = [\"sam\"]\n\
         policy = \"round_robin\"\ncapacity = 1\n\n\
         [[agents]]\nid = \"sam\"\nname = \"Sam\"\ntoken = \"{SAM_TOKEN}\"\nsites = [\"demo\"]\n"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), toml).unwrap();
    file
}

async fn agent(relay: &RelayProcess, token: &str) -> Client {
    let mut c = Client::connect(&relay.ws("/v1/agent"), None).await.unwrap();
    c.live_state = true;
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(token.into()),
        context: None,
        identity_token: None,
    }))
    .await;
    c.until(|m| matches!(m, ServerMsg::Conversations { .. }).then_some(()))
        .await;
    c
}

/// A visitor over a plain WebSocket that asks something; its conversation id.
async fn asking(relay: &RelayProcess) -> (Client, String) {
    let url = relay.ws("/v1/visitor?site=demo");
    let mut v = Client::connect(&url, Some(&relay.shop_origin()))
        .await
        .unwrap();
    v.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context: None,
        identity_token: None,
    }))
    .await;
    let mut v = v.welcome().await;
    let conv = v.conversation_id();
    v.say("q1", "hello?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    (v, conv)
}

/// Sends a frame and waits for the acknowledgement, or the inbox line at `version` for a
/// lifecycle change; any refusal fails the test with its reason.
async fn act(agent: &mut Client, frame: ClientMsg, conv: &str, version: Option<u64>) {
    agent.send(&frame).await;
    agent
        .until(|m| match m {
            ServerMsg::Error { code, message, .. } => {
                panic!("{frame:?} refused: {code:?} {message}")
            }
            ServerMsg::Ack { .. } if version.is_none() => Some(()),
            ServerMsg::Conversation(s) if s.id == conv && Some(s.version) >= version => {
                version.map(|_| ())
            }
            _ => None,
        })
        .await
}

fn say(conv: &str, client_id: &str, text: &str) -> ClientMsg {
    ClientMsg::Send(Send {
        conversation_id: conv.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich: None,
        canned_id: None,
    })
}

fn set_status(conv: &str, version: u64, status: Status) -> ClientMsg {
    ClientMsg::SetStatus {
        conversation_id: conv.into(),
        expected_version: version,
        status,
    }
}

/// `(code, text)` of every system line in the widget's transcript.
async fn story(c: &Browser) -> Vec<(String, String)> {
    let v = in_widget(
        c,
        "if (!root) return []; return Array.from(root.querySelectorAll('[data-testid=system-event]'))\
           .map(li => [li.getAttribute('data-code') || '', li.textContent.trim()]);",
    )
    .await;
    serde_json::from_value(v).unwrap_or_default()
}

async fn wait_story(c: &Browser, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = (want.iter())
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
    eventually(&format!("the story {want:?}"), UI_WAIT, || async {
        let seen = story(c).await;
        (seen == want).then_some(())
    })
    .await;
}

/// The text of the element with this test id in the widget, `None` while there is none.
async fn widget_text(c: &Browser, testid: &str) -> Option<String> {
    let v = in_widget(
        c,
        &format!(
            "const e = root && root.querySelector('[data-testid=\"{testid}\"]'); \
             return e ? e.textContent.trim() : null;"
        ),
    )
    .await;
    v.as_str().map(str::to_owned)
}

async fn wait_text(c: &Browser, testid: &str, want: Option<&str>) {
    eventually(&format!("{testid} = {want:?}"), UI_WAIT, || async {
        (widget_text(c, testid).await.as_deref() == want).then_some(())
    })
    .await;
}

async fn shot(c: &Browser, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifact(name), png).unwrap();
}

/// The words each shipped locale must show for the conversation as it ends: resolved again
/// after the visitor reopened it.
struct Locale {
    lang: &'static str,
    story: [&'static str; 6],
    resolved_notice: &'static str,
    header: &'static str,
}

const LOCALES: [Locale; 4] = [
    Locale {
        lang: "en-US",
        story: [
            "Alex joined",
            "Transferred to Billing",
            "Sam joined",
            "Resolved",
            "Conversation reopened",
            "Resolved",
        ],
        resolved_notice: "This conversation was resolved. Write to reopen it.",
        header: "We're online — typically replies in 1 minute",
    },
    Locale {
        lang: "de-DE",
        story: [
            "Alex ist beigetreten",
            "Weitergeleitet an Billing",
            "Sam ist beigetreten",
            "Gelöst",
            "Unterhaltung wieder geöffnet",
            "Gelöst",
        ],
        resolved_notice: "Diese Unterhaltung wurde gelöst. Schreiben Sie, um sie wieder zu öffnen.",
        header: "Wir sind online – Antwort meist in 1 Minute",
    },
    Locale {
        lang: "fr-FR",
        story: [
            "Alex a rejoint la conversation",
            "Transféré à Billing",
            "Sam a rejoint la conversation",
            "Résolu",
            "Conversation rouverte",
            "Résolu",
        ],
        resolved_notice: "Cette conversation a été résolue. Écrivez pour la rouvrir.",
        header: "Nous sommes en ligne — réponse en 1 minute en général",
    },
    Locale {
        lang: "es-ES",
        story: [
            "Alex se ha unido",
            "Transferido a Billing",
            "Sam se ha unido",
            "Resuelto",
            "Conversación reabierta",
            "Resuelto",
        ],
        resolved_notice: "Esta conversación se resolvió. Escribe para reabrirla.",
        header: "Estamos en línea — solemos responder en 1 minuto",
    },
];

const CODES: [&str; 6] = [
    "assigned",
    "transferred",
    "assigned",
    "resolved",
    "reopened",
    "resolved",
];

#[tokio::test]
async fn the_visitor_waits_in_the_queue_reads_the_story_and_reopens_in_every_locale() {
    let (port, demo_port) = (free_port(), free_port());
    let file = config(demo_port);
    let path = file.path().to_str().unwrap().to_owned();
    let relay = RelayProcess::start_on(
        port,
        demo_port,
        &["--config", &path, "--assign-interval-ms", "200"],
    )
    .await;
    let mut alex = agent(&relay, AGENT_TOKEN).await;
    let mut sam = agent(&relay, SAM_TOKEN).await;

    // Three conversations answered while Alex is away (nobody assigned, so each stays at
    // version 0): the site's first-response times, then resolved out of the way.
    alex.send(&ClientMsg::SetPresence {
        status: Presence::Away,
    })
    .await;
    alex.until(|m| match m {
        ServerMsg::Presence { agent, status, .. } if agent == ALEX => {
            (*status == Presence::Away).then_some(())
        }
        _ => None,
    })
    .await;
    for i in 0..3 {
        let (_v, conv) = asking(&relay).await;
        act(
            &mut alex,
            say(&conv, &format!("w{i}"), "Hello!"),
            &conv,
            None,
        )
        .await;
        act(
            &mut alex,
            set_status(&conv, 0, Status::Resolved),
            &conv,
            Some(1),
        )
        .await;
    }
    // Alex comes back and takes one conversation: the support team is at capacity.
    let (_busy_visitor, busy) = asking(&relay).await;
    alex.send(&ClientMsg::SetPresence {
        status: Presence::Online,
    })
    .await;
    alex.until(|m| match m {
        ServerMsg::Conversation(s) if s.id == busy && s.assignee.as_deref() == Some(ALEX) => {
            Some(())
        }
        _ => None,
    })
    .await;

    let driver = Chromedriver::start().await;
    let (visitor, _p1) = driver.browser_in("en-US").await;
    let v = visitor.clone();
    with_browsers(vec![visitor], async {
        v.goto(&relay.shop("index.html")).await.unwrap();
        open_widget(&v).await;
        // Measured from the three replies (milliseconds): rounded up to a minute.
        wait_text(&v, "connection", Some(LOCALES[0].header)).await;

        visitor_send(&v, QUESTION).await;
        wait_widget_message(&v, "visitor", QUESTION, Some("sent")).await;
        wait_text(&v, "queue-position", Some("You are number 1 in the queue")).await;
        let conv = alex
            .until(|m| match m {
                ServerMsg::Message(msg) if msg.text == QUESTION => {
                    Some(msg.conversation_id.clone())
                }
                _ => None,
            })
            .await;
        axe::assert_clean(&v, "the widget with the queue position").await;
        shot(&v, "visitor-desk-queue.png").await;

        // A slot frees: Alex gets it, the position goes.
        act(
            &mut alex,
            set_status(&busy, 1, Status::Resolved),
            &busy,
            Some(2),
        )
        .await;
        wait_story(&v, &[("assigned", "Alex joined")]).await;
        wait_text(&v, "queue-position", None).await;

        // To billing with a note for agents; Sam takes it and raises its priority.
        let transfer = ClientMsg::Transfer {
            conversation_id: conv.clone(),
            expected_version: 1,
            to_agent: None,
            to_team: Some("billing".into()),
            note: Some(NOTE.into()),
        };
        act(&mut alex, transfer, &conv, Some(2)).await;
        sam.until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv && s.assignee.as_deref() == Some("sam") => {
                Some(())
            }
            _ => None,
        })
        .await;
        let priority = ClientMsg::SetPriority {
            conversation_id: conv.clone(),
            expected_version: 3,
            priority: Priority::Urgent,
        };
        act(&mut sam, priority, &conv, Some(4)).await;
        act(
            &mut sam,
            say(&conv, "s1", "Sam from billing here."),
            &conv,
            None,
        )
        .await;
        wait_widget_message(&v, "agent", "Sam from billing here.", None).await;
        wait_story(
            &v,
            &[
                ("assigned", "Alex joined"),
                ("transferred", "Transferred to Billing"),
                ("assigned", "Sam joined"),
            ],
        )
        .await;

        // Resolved: a quiet line and the notice; the composer still works and reopens.
        act(
            &mut sam,
            set_status(&conv, 4, Status::Resolved),
            &conv,
            Some(5),
        )
        .await;
        wait_text(
            &v,
            "conversation-resolved",
            Some(LOCALES[0].resolved_notice),
        )
        .await;
        axe::assert_clean(&v, "the widget with a resolved conversation").await;
        shot(&v, "visitor-desk-resolved.png").await;
        visitor_send(&v, AGAIN).await;
        wait_widget_message(&v, "visitor", AGAIN, Some("sent")).await;
        wait_text(&v, "conversation-resolved", None).await;
        sam.until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv && s.status == Status::Open => Some(()),
            _ => None,
        })
        .await;

        // What is for agents never reached the page: the note, the priority.
        let page = in_widget(&v, "return root.innerHTML;").await;
        let page = page.as_str().unwrap();
        assert!(
            !page.contains("VIP") && !page.to_lowercase().contains("urgent"),
            "{page}"
        );

        // Resolved again, then the same conversation read in every locale.
        act(
            &mut sam,
            set_status(&conv, 6, Status::Resolved),
            &conv,
            Some(7),
        )
        .await;
        wait_text(
            &v,
            "conversation-resolved",
            Some(LOCALES[0].resolved_notice),
        )
        .await;
        let token = v
            .execute(
                "return localStorage.getItem('switchboard:demo:token');",
                vec![],
            )
            .await
            .unwrap();
        let token = token.as_str().expect("the visitor's token").to_owned();
        for (n, locale) in LOCALES.iter().enumerate() {
            let (b, _profile) = driver.browser_in(locale.lang).await;
            let c = b.clone();
            with_browsers(vec![b], async {
                read_in(&relay, &c, &token, locale, n == 1).await;
            })
            .await;
        }
    })
    .await;
}

/// Opens the visitor's conversation in a browser speaking `locale` and checks every line, the
/// notice and the header in its words; axe-core on it, at phone width, and (with `rtl`) on a
/// right-to-left host page.
async fn read_in(relay: &RelayProcess, c: &Browser, token: &str, locale: &Locale, rtl: bool) {
    c.goto(&relay.shop("index.html")).await.unwrap();
    c.execute(
        "localStorage.setItem('switchboard:demo:token', arguments[0]); return 1;",
        vec![token.into()],
    )
    .await
    .unwrap();
    c.refresh().await.unwrap();
    // The page says it is English, which comes before the browser's language: the site's
    // own choice comes before both.
    c.execute(
        "Switchboard('locale', arguments[0]); return 1;",
        vec![locale.lang.into()],
    )
    .await
    .unwrap();
    if rtl {
        c.execute("document.documentElement.dir = 'rtl'; return 1;", vec![])
            .await
            .unwrap();
    }
    c.set_window_size(390, 844).await.unwrap();
    open_widget(c).await;
    let want: Vec<(&str, &str)> = CODES
        .iter()
        .copied()
        .zip(locale.story.iter().copied())
        .collect();
    wait_story(c, &want).await;
    wait_text(c, "conversation-resolved", Some(locale.resolved_notice)).await;
    wait_text(c, "connection", Some(locale.header)).await;
    let screen = format!(
        "the widget in {} at 390 px{}",
        locale.lang,
        if rtl { ", rtl" } else { "" }
    );
    axe::assert_clean(c, &screen).await;
    // The panel fits the phone's width.
    let width = in_widget(
        c,
        "return root.querySelector('[data-testid=panel]').getBoundingClientRect().right;",
    )
    .await;
    assert!(
        width.as_f64().unwrap() <= 390.0,
        "{screen}: panel ends at {width}"
    );
    let name = format!(
        "visitor-desk-{}{}-390.png",
        locale.lang,
        if rtl { "-rtl" } else { "" }
    );
    shot(c, &name).await;
}

//! Bots through the relay API with real WebSocket and HTTP clients: routing policies, rich
//! messages and postbacks, the typed handoff and the one-owner rule, hand-back and takeover,
//! and every kind of bad input from bots (each gets its typed error and changes nothing).

use std::time::Duration;

use switchboard_protocol::client::Send;
use switchboard_protocol::context::Order;
use switchboard_protocol::rich::{Button, Card, Price, QuickReply, Rich};
use switchboard_protocol::{
    ClientMsg, CloseCode, Context, ErrorCode, Handoff, HandoffReason, Owner, Priority, SenderKind,
    ServerMsg, SystemEvent,
};
use switchboard_relay::config::{Config, Routing};

use crate::util::*;

pub fn bot_first(config: &mut Config) {
    config.sites[0].routing = Routing::BotFirst;
}

fn order_context() -> Context {
    Context {
        order: Some(Order {
            number: "1042".into(),
            status: Some("shipped".into()),
            ..Order::default()
        }),
        ..Context::default()
    }
}

fn send(conversation_id: &str, client_id: &str, text: &str, rich: Option<Rich>) -> ClientMsg {
    ClientMsg::Send(Send {
        conversation_id: conversation_id.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich,
        canned_id: None,
    })
}

fn handoff(conversation_id: &str) -> ClientMsg {
    ClientMsg::Handoff {
        conversation_id: conversation_id.into(),
        handoff: Handoff {
            reason: HandoffReason::Requested,
            summary: "Visitor asks about order #1042 and wants a person.".into(),
            team: Some("support".into()),
            priority: Priority::High,
            fields: [("order".to_string(), "1042".to_string())].into(),
            language: None,
            sentiment: None,
        },
    }
}

fn rich() -> Rich {
    Rich {
        quick_replies: vec![QuickReply {
            label: "Track it".into(),
            payload: "track".into(),
        }],
        buttons: vec![Button::Link {
            label: "Tracking page".into(),
            url: "https://track.example/1042".into(),
        }],
        cards: vec![Card {
            title: "Rain jacket".into(),
            text: Some("Waterproof".into()),
            image_url: Some("https://shop.example/jacket.jpg".into()),
            price: Some(Price {
                amount: 89.0,
                currency: "EUR".into(),
            }),
            url: None,
            buttons: vec![],
        }],
    }
}

fn error_code(m: &ServerMsg) -> Option<ErrorCode> {
    match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    }
}

async fn routed(bot: &mut Client) -> switchboard_protocol::server::Routed {
    bot.until(|m| match m {
        ServerMsg::Routed(r) => Some(r.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn bot_answers_first_hands_off_and_is_refused_after() {
    let relay = TestRelay::start_with(bot_first).await;
    let mut agent = relay.agent(AGENT_TOKEN).await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let mut visitor = relay.visitor_with(None, Some(order_context())).await;
    let conv = visitor.conversation_id();

    visitor.say("v1", "Where is my order?").await;
    let r = routed(&mut bot).await;
    assert_eq!(r.conversation.id, conv);
    assert_eq!(r.conversation.owner, Owner::Bot { id: BOT.into() });
    assert_eq!(r.context.order.unwrap().number, "1042");
    assert_eq!(r.transcript.len(), 1);
    assert_eq!(r.transcript[0].text, "Where is my order?");
    let line = agent
        .until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv => Some(s.clone()),
            _ => None,
        })
        .await;
    assert_eq!(line.owner, Owner::Bot { id: BOT.into() });

    // Bot typing and a rich answer reach the visitor with the bot's name and avatar.
    bot.send(&ClientMsg::Typing {
        conversation_id: conv.clone(),
        active: true,
    })
    .await;
    let typing = visitor
        .until(|m| match m {
            ServerMsg::Typing { sender, .. } => Some(sender.clone()),
            _ => None,
        })
        .await;
    assert_eq!(typing.kind, SenderKind::Bot);
    assert_eq!(typing.name.as_deref(), Some("Shopbot"));
    bot.send(&send(&conv, "b1", "Order #1042 shipped.", Some(rich())))
        .await;
    bot.until(|m| matches!(m, ServerMsg::Ack { client_id, .. } if client_id == "b1").then_some(()))
        .await;
    let answer = visitor
        .until(|m| match m {
            ServerMsg::Message(m) if m.sender.kind == SenderKind::Bot => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(answer.rich, Some(rich()));
    assert_eq!(
        answer.sender.avatar.as_deref(),
        Some("https://shop.example/bot.png")
    );

    // A postback is stored once like a message and reaches the bot with its payload.
    let postback = ClientMsg::Postback {
        conversation_id: conv.clone(),
        client_id: "v2".into(),
        label: "Track it".into(),
        payload: "track".into(),
    };
    visitor.send(&postback).await;
    visitor.send(&postback).await;
    let acks: Vec<bool> = {
        let mut acks = Vec::new();
        while acks.len() < 2 {
            if let ServerMsg::Ack { duplicate, .. } = visitor.recv().await {
                acks.push(duplicate);
            }
        }
        acks
    };
    assert_eq!(acks, vec![false, true]);
    let click = bot
        .until(|m| match m {
            ServerMsg::Message(m) => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (click.text.as_str(), click.postback.as_deref()),
        ("Track it", Some("track"))
    );

    // Handoff: the bot is released, agents see the summary and collected fields.
    bot.send(&handoff(&conv)).await;
    let released = bot
        .until(|m| match m {
            ServerMsg::Released { owner, .. } => Some(owner.clone()),
            _ => None,
        })
        .await;
    assert_eq!(released, Owner::Humans);
    let line = agent
        .until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv && s.owner == Owner::Humans => {
                Some(s.clone())
            }
            _ => None,
        })
        .await;
    let h = line.handoff.expect("the handoff is on the inbox line");
    assert_eq!(h.by, BOT);
    assert_eq!(h.handoff.fields["order"], "1042");
    assert_eq!(h.handoff.priority, Priority::High);

    // The bot may no longer speak there: refused, typed, nothing stored or shown.
    let before = relay.stored(&conv).await.len();
    bot.send(&send(&conv, "b2", "One more thing!", None)).await;
    let refused = bot.until(|m| error_code(m).map(|c| (c, m.clone()))).await;
    assert_eq!(refused.0, ErrorCode::NotOwner);
    assert!(matches!(refused.1, ServerMsg::Error { client_id: Some(ref c), .. } if c == "b2"));
    bot.send(&ClientMsg::Typing {
        conversation_id: conv.clone(),
        active: true,
    })
    .await;
    assert_eq!(bot.until(error_code).await, ErrorCode::NotOwner);
    bot.send(&handoff(&conv)).await;
    assert_eq!(bot.until(error_code).await, ErrorCode::NotOwner);
    assert_eq!(relay.stored(&conv).await.len(), before);

    // The agent answers; then hands back, and the bot gets the whole story again.
    agent.send(&send(&conv, "a1", "Hi, Alex here.", None)).await;
    visitor
        .until(|m| {
            matches!(m, ServerMsg::Message(m) if m.sender.kind == SenderKind::Agent).then_some(())
        })
        .await;
    for m in visitor.roundtrip().await {
        assert!(
            !matches!(&m, ServerMsg::Message(m) if m.sender.kind == SenderKind::Bot),
            "the bot's refused message reached the visitor: {m:?}"
        );
    }
    agent
        .send(&ClientMsg::HandBack {
            conversation_id: conv.clone(),
        })
        .await;
    let again = routed(&mut bot).await;
    assert_eq!(again.transcript.len(), before + 1);
    assert!(again.conversation.handoff.is_none());
    bot.send(&send(&conv, "b3", "I'm back.", None)).await;
    bot.until(|m| matches!(m, ServerMsg::Ack { client_id, .. } if client_id == "b3").then_some(()))
        .await;

    // An agent writing into a bot's conversation takes it over; the bot is told.
    agent.send(&send(&conv, "a2", "I'll take it.", None)).await;
    let released = bot
        .until(|m| match m {
            ServerMsg::Released {
                conversation_id,
                owner,
            } if *conversation_id == conv => Some(owner.clone()),
            _ => None,
        })
        .await;
    assert_eq!(released, Owner::Humans);
    bot.send(&send(&conv, "b4", "Still me?", None)).await;
    assert_eq!(bot.until(error_code).await, ErrorCode::NotOwner);
}

#[tokio::test]
async fn bots_bad_input_gets_typed_errors_and_changes_nothing() {
    let relay = TestRelay::start_with(bot_first).await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let mut visitor = relay.visitor().await;
    let conv = visitor.conversation_id();
    visitor.say("v1", "hello").await;
    routed(&mut bot).await;
    let before = relay.stored(&conv).await.len();

    // Oversize text, script links, too many chips, empty labels, garbage, unknown types.
    let cases: Vec<(String, ErrorCode)> = vec![
        (
            send(&conv, "x1", &"a".repeat(9000), None).to_json(),
            ErrorCode::TooLarge,
        ),
        (
            send(
                &conv,
                "x2",
                "click",
                Some(Rich {
                    buttons: vec![Button::Link {
                        label: "pwn".into(),
                        url: "javascript:alert(1)".into(),
                    }],
                    ..Rich::default()
                }),
            )
            .to_json(),
            ErrorCode::Invalid,
        ),
        (
            send(
                &conv,
                "x3",
                "chips",
                Some(Rich {
                    quick_replies: (0..11)
                        .map(|i| QuickReply {
                            label: format!("q{i}"),
                            payload: "p".into(),
                        })
                        .collect(),
                    ..Rich::default()
                }),
            )
            .to_json(),
            ErrorCode::TooLarge,
        ),
        (
            format!(
                r#"{{"type":"send","conversation_id":"{conv}","client_id":"x4","text":"t","rich":{{"cards":[{{"title":"x","onclick":"alert(1)"}}]}}}}"#
            ),
            ErrorCode::Invalid,
        ),
        (
            format!(
                r#"{{"type":"handoff","conversation_id":"{conv}","handoff":{{"reason":"requested","summary":"  "}}}}"#
            ),
            ErrorCode::Invalid,
        ),
        (
            format!(
                r#"{{"type":"handoff","conversation_id":"{conv}","handoff":{{"reason":"bored","summary":"x"}}}}"#
            ),
            ErrorCode::Invalid,
        ),
        (
            format!(
                r#"{{"type":"handoff","conversation_id":"{conv}","handoff":{{"reason":"requested","summary":"x","sentiment":-101}}}}"#
            ),
            ErrorCode::Invalid,
        ),
        (
            format!(
                r#"{{"type":"handoff","conversation_id":"{conv}","handoff":{{"reason":"requested","summary":"x","language":"<b>en</b>"}}}}"#
            ),
            ErrorCode::Invalid,
        ),
        (
            format!(
                r#"{{"type":"handoff","conversation_id":"{conv}","handoff":{{"reason":"requested","summary":"x","sentiment":1000}}}}"#
            ),
            ErrorCode::Invalid,
        ),
        ("{\"type\":\"send\",".into(), ErrorCode::BadJson),
        (r#"{"type":"takeover"}"#.into(), ErrorCode::UnknownType),
        (
            ClientMsg::Postback {
                conversation_id: conv.clone(),
                client_id: "x5".into(),
                label: "l".into(),
                payload: "p".into(),
            }
            .to_json(),
            ErrorCode::Forbidden,
        ),
        (
            ClientMsg::SetContext {
                context: Context::default(),
            }
            .to_json(),
            ErrorCode::Forbidden,
        ),
        (
            ClientMsg::HandBack {
                conversation_id: conv.clone(),
            }
            .to_json(),
            ErrorCode::Forbidden,
        ),
        (
            send("c_nosuchconversation", "x6", "hi", None).to_json(),
            ErrorCode::NotFound,
        ),
    ];
    for (frame, code) in cases {
        bot.raw(&frame).await;
        assert_eq!(bot.until(error_code).await, code, "for {frame:.120}");
    }
    // Another site's bot cannot touch this site's conversation, owned or not.
    let mut other = relay.bot(OTHER_BOT_TOKEN).await;
    other.send(&send(&conv, "o1", "hijack", None)).await;
    assert_eq!(other.until(error_code).await, ErrorCode::Forbidden);
    other.send(&handoff(&conv)).await;
    assert_eq!(other.until(error_code).await, ErrorCode::Forbidden);
    other
        .send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 0,
        })
        .await;
    assert_eq!(other.until(error_code).await, ErrorCode::Forbidden);
    // Visitors cannot send rich content or act as a bot or an agent.
    visitor.send(&send(&conv, "v9", "look", Some(rich()))).await;
    assert_eq!(visitor.until(error_code).await, ErrorCode::Forbidden);
    visitor.send(&handoff(&conv)).await;
    assert_eq!(visitor.until(error_code).await, ErrorCode::Forbidden);
    assert_eq!(relay.stored(&conv).await.len(), before);
    // A wrong token never gets in.
    let mut c = Client::connect(&relay.url("/v1/bot"), None).await.unwrap();
    c.raw(r#"{"type":"hello","protocol":1,"token":"not-a-bot-token"}"#)
        .await;
    assert_eq!(c.until(error_code).await, ErrorCode::Unauthorized);
    assert_eq!(c.closed().await, Some(CloseCode::UNAUTHORIZED.code));
}

#[tokio::test]
async fn a_reconnecting_bot_gets_its_conversations_again() {
    let relay = TestRelay::start_with(bot_first).await;
    let mut visitor = relay.visitor_with(None, Some(order_context())).await;
    let conv = visitor.conversation_id();
    // No bot is connected when the visitor writes; it finds the conversation on connect.
    visitor.say("v1", "anyone there?").await;
    visitor
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let r = routed(&mut bot).await;
    assert_eq!(r.conversation.id, conv);
    assert_eq!(r.transcript[0].text, "anyone there?");
}

#[tokio::test]
async fn humans_only_never_routes_to_the_bot() {
    let relay = TestRelay::start().await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let mut visitor = relay.visitor().await;
    visitor.say("v1", "hello").await;
    visitor
        .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let seen = bot.roundtrip().await;
    assert!(
        seen.is_empty(),
        "the bot heard of a humans-only conversation: {seen:?}"
    );
    let conv = visitor.conversation_id();
    bot.send(&send(&conv, "b1", "hi", None)).await;
    assert_eq!(bot.until(error_code).await, ErrorCode::NotOwner);
}

#[tokio::test]
async fn humans_first_falls_back_to_the_bot() {
    let relay = TestRelay::start_with(|c| {
        c.sites[0].routing = Routing::HumansFirst;
        // Long enough that the agent below answers in time on a loaded CI machine.
        c.sites[0].bot_after_secs = 3;
    })
    .await;
    let mut bot = relay.bot(BOT_TOKEN).await;

    // No agent online: the bot takes the conversation at once.
    let mut early = relay.visitor().await;
    early.say("v1", "hello?").await;
    let r = routed(&mut bot).await;
    assert_eq!(r.conversation.id, early.conversation_id());

    // An agent online who answers in time keeps the conversation.
    let mut agent = relay.agent(AGENT_TOKEN).await;
    let mut answered = relay.visitor().await;
    answered.say("v1", "question").await;
    let conv = answered.conversation_id();
    agent
        .until(|m| matches!(m, ServerMsg::Message(m) if m.conversation_id == conv).then_some(()))
        .await;
    agent.send(&send(&conv, "a1", "Hi!", None)).await;

    // An agent online who does not answer: the bot takes it after `bot_after_secs`.
    let mut waiting = relay.visitor().await;
    waiting.say("v1", "hello, anyone?").await;
    let started = std::time::Instant::now();
    let r = routed(&mut bot).await;
    assert_eq!(r.conversation.id, waiting.conversation_id());
    assert!(started.elapsed() >= Duration::from_millis(2_900));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let seen = bot.roundtrip().await;
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, ServerMsg::Routed(r) if r.conversation.id == conv)),
        "an answered conversation went to the bot"
    );
}

mod http {
    //! The bot HTTP API with a real HTTP client.

    use reqwest::StatusCode;
    use serde_json::{json, Value};

    use super::*;

    async fn post(
        relay: &TestRelay,
        token: Option<&str>,
        path: &str,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new()
            .post(relay.http(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn http_api_is_idempotent_checked_and_typed() {
        let relay = TestRelay::start_with(bot_first).await;
        let mut visitor = relay.visitor().await;
        let conv = visitor.conversation_id();
        visitor.say("v1", "hi").await;
        eventually("the first message", WAIT, || async {
            (relay.stored(&conv).await.len() == 1).then_some(())
        })
        .await;
        let messages = format!("/v1/bot/conversations/{conv}/messages");
        let body = json!({"text": "Hello from HTTP", "rich": {"buttons": [{"type": "postback", "label": "Yes", "payload": "yes"}]}}).to_string();

        let (s, v) = post(
            &relay,
            Some(BOT_TOKEN),
            &messages,
            Some("k-1"),
            body.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(
            (v["type"].as_str(), v["duplicate"].as_bool()),
            (Some("ack"), Some(false))
        );
        let (s, v) = post(
            &relay,
            Some(BOT_TOKEN),
            &messages,
            Some("k-1"),
            body.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["duplicate"].as_bool(), Some(true));
        assert_eq!(
            relay.stored(&conv).await.len(),
            2,
            "a retried key stored twice"
        );

        let refusals = [
            (None, Some("k-2"), body.clone(), StatusCode::UNAUTHORIZED, "unauthorized"),
            (Some("wrong-token-123"), Some("k-2"), body.clone(), StatusCode::UNAUTHORIZED, "unauthorized"),
            (Some(OTHER_BOT_TOKEN), Some("k-2"), body.clone(), StatusCode::FORBIDDEN, "forbidden"),
            (Some(BOT_TOKEN), None, body.clone(), StatusCode::BAD_REQUEST, "invalid"),
            (Some(BOT_TOKEN), Some("bad key!"), body.clone(), StatusCode::BAD_REQUEST, "invalid"),
            (Some(BOT_TOKEN), Some("k-2"), "{not json".into(), StatusCode::BAD_REQUEST, "bad_json"),
            (Some(BOT_TOKEN), Some("k-2"), json!({"txt": 1}).to_string(), StatusCode::BAD_REQUEST, "invalid"),
            (Some(BOT_TOKEN), Some("k-2"), json!({"text": "x".repeat(70_000)}).to_string(), StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            (Some(BOT_TOKEN), Some("k-2"), json!({"text": "x".repeat(9_000)}).to_string(), StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            (Some(BOT_TOKEN), Some("k-2"), json!({"text": "x", "rich": {"cards": [{"title": "t", "image_url": "data:text/html,<script>"}]}}).to_string(), StatusCode::BAD_REQUEST, "invalid"),
        ];
        for (token, key, body, status, code) in refusals {
            let (s, v) = post(&relay, token, &messages, key, body).await;
            assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{v}");
        }
        let (s, v) = post(
            &relay,
            Some(BOT_TOKEN),
            "/v1/bot/conversations/c_missing/messages",
            Some("k-3"),
            body.clone(),
        )
        .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        assert_eq!(relay.stored(&conv).await.len(), 2);

        let (s, _) = post(
            &relay,
            Some(BOT_TOKEN),
            &format!("/v1/bot/conversations/{conv}/typing"),
            None,
            json!({"active": true}).to_string(),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let handoff = json!({"reason": "cannot_help", "summary": "Needs a refund decision.", "fields": {"order": "1042"}}).to_string();
        let (s, v) = post(
            &relay,
            Some(BOT_TOKEN),
            &format!("/v1/bot/conversations/{conv}/handoff"),
            None,
            handoff.clone(),
        )
        .await;
        assert_eq!(
            (s, v["type"].as_str()),
            (StatusCode::OK, Some("released")),
            "{v}"
        );
        let (s, v) = post(
            &relay,
            Some(BOT_TOKEN),
            &messages,
            Some("k-4"),
            body.clone(),
        )
        .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_owner"))
        );
        let (s, v) = post(
            &relay,
            Some(BOT_TOKEN),
            &format!("/v1/bot/conversations/{conv}/handoff"),
            None,
            handoff,
        )
        .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_owner"))
        );
        // The visitor's message, the bot's, and the handoff's entry into the site's default
        // team's queue (the handoff named no team).
        let stored = relay.stored(&conv).await;
        assert_eq!(stored.len(), 3);
        assert!(
            matches!(
                stored[2].event.as_deref(),
                Some(SystemEvent::HandedOff { team: Some(t), .. }) if t == TEAM
            ),
            "{:?}",
            stored[2]
        );
    }
}

/// Triage of a bot's handoff (`bots::triage`): a team that speaks the visitor's language gets
/// it when the bot names no team, the bot's own team choice wins over the language, and a
/// strongly negative visitor is raised to `high` (never lowered from `urgent`).
#[tokio::test]
async fn a_handoff_goes_to_the_team_speaking_the_visitors_language_and_upset_visitors_come_first() {
    let relay = TestRelay::start_with(|c| {
        bot_first(c);
        c.teams.push(switchboard_relay::config::Team {
            id: "hindi".into(),
            name: "Hindi".into(),
            site: SITE.into(),
            members: vec!["alex".into()],
            policy: switchboard_relay::config::Policy::Manual,
            capacity: 5,
            languages: vec!["hin".into()],
        });
    })
    .await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let cases = [
        // (bot's team, priority, language, sentiment) → (team, priority)
        (
            None,
            Priority::Normal,
            Some("HIN"),
            Some(-80),
            "hindi",
            Priority::High,
        ),
        (
            None,
            Priority::Normal,
            Some("fra"),
            Some(10),
            TEAM,
            Priority::Normal,
        ),
        (
            Some(TEAM),
            Priority::Low,
            Some("hin"),
            Some(-50),
            TEAM,
            Priority::High,
        ),
        (
            None,
            Priority::Urgent,
            None,
            Some(-100),
            TEAM,
            Priority::Urgent,
        ),
        (
            None,
            Priority::Normal,
            Some("hin"),
            Some(-49),
            "hindi",
            Priority::Normal,
        ),
    ];
    for (i, (team, priority, language, sentiment, want_team, want_priority)) in
        cases.into_iter().enumerate()
    {
        let mut v = relay.visitor().await;
        v.say("q", "Mera order kahan hai?").await;
        let conv = v.conversation_id();
        bot.until(|m| match m {
            ServerMsg::Routed(r) if r.conversation.id == conv => Some(()),
            _ => None,
        })
        .await;
        bot.send(&ClientMsg::Handoff {
            conversation_id: conv.clone(),
            handoff: Handoff {
                reason: HandoffReason::Frustration,
                summary: "Upset about a late order.".into(),
                team: team.map(Into::into),
                priority,
                fields: Default::default(),
                language: language.map(Into::into),
                sentiment,
            },
        })
        .await;
        bot.until(|m| match m {
            ServerMsg::Released {
                conversation_id, ..
            } if *conversation_id == conv => Some(()),
            ServerMsg::Error { code, message, .. } => panic!("case {i}: {code:?} {message}"),
            _ => None,
        })
        .await;
        let routed = eventually("the handoff's entry in the log", WAIT, || async {
            relay
                .stored(&conv)
                .await
                .into_iter()
                .find_map(|m| match *m.event? {
                    SystemEvent::HandedOff { team, priority, .. } => Some((team, priority)),
                    _ => None,
                })
        })
        .await;
        assert_eq!(
            routed,
            (Some(want_team.to_string()), want_priority),
            "case {i}"
        );
    }
}

/// A bot that connects while it owns more conversations than one inbox page (200) is given
/// every one of them, without its connection being closed as slow for the burst.
#[tokio::test]
async fn a_connecting_bot_gets_every_conversation_it_owns_beyond_one_page() {
    const OWNED: usize = 260;
    let relay = TestRelay::start_with(|c| {
        bot_first(c);
        // Smaller than the replay, so it must be paced by what the bot reads.
        c.tuning = std::sync::Arc::new(switchboard_relay::connection::Tuning {
            outbox_capacity: 64,
            ..*c.tuning
        });
    })
    .await;
    let mut want = crate::webhooks::waiting_conversations(&relay, OWNED).await;
    // One conversation the bot handed off is not its own any more.
    let mut bot = relay.bot(BOT_TOKEN).await;
    let given = want.pop().unwrap();
    bot.send(&ClientMsg::Handoff {
        conversation_id: given.clone(),
        handoff: Handoff {
            reason: HandoffReason::Requested,
            summary: "wants a human".into(),
            team: None,
            priority: Priority::default(),
            fields: Default::default(),
            language: None,
            sentiment: None,
        },
    })
    .await;
    bot.until(|m| matches!(m, ServerMsg::Released { .. }).then_some(()))
        .await;
    drop(bot);

    let mut bot = relay.bot(BOT_TOKEN).await;
    let mut got = std::collections::HashSet::new();
    while got.len() < want.len() {
        match bot.recv().await {
            ServerMsg::Routed(r) => {
                assert!(got.insert(r.conversation.id.clone()), "given twice");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut got: Vec<String> = got.into_iter().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(!got.contains(&given));
    // Nothing more follows: the handed-off conversation is not given.
    bot.send(&ClientMsg::Ping { nonce: Some(7) }).await;
    match bot.recv().await {
        ServerMsg::Pong { nonce: Some(7) } => {}
        other => panic!("expected the pong, got {other:?}"),
    }
}

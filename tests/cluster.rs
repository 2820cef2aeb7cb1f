//! Scale-out over Redis (issue 4): several relay processes share one `redis-server`; any node
//! serves any conversation; a node dies or Redis restarts mid-stream and nothing is lost or
//! duplicated.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::context::{Order, Page};
use switchboard_protocol::{ClientMsg, Context, SenderKind, ServerMsg, PROTOCOL_VERSION};

use crate::delivery::{
    assert_exactly_once_in_order, assert_same_view, stream, transcript, PATIENCE,
};
use crate::peer::{Peer, Role};
use crate::process::{RelayProcess, AGENT_TOKEN};
use crate::redis_server::RedisServer;
use crate::util::{Client, SITE, SITE_ORIGIN};

/// A relay node on the shared Redis, serving the `shop` site from `https://shop.example`.
async fn node(redis: &RedisServer, config: &tempfile::NamedTempFile) -> RelayProcess {
    let path = config.path().to_str().unwrap().to_owned();
    RelayProcess::start_with(&["--redis-url", &redis.url(), "--config", &path]).await
}

fn site_config() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let toml = format!("[[sites]]\nkey = \"{SITE}\"\nallowed_origins = [\"{SITE_ORIGIN}\"]\n");
    std::fs::write(file.path(), toml).unwrap();
    file
}

fn visitor(base: &str) -> Peer {
    Peer::new(
        "v",
        base,
        Role::Visitor {
            site: SITE.into(),
            origin: SITE_ORIGIN.into(),
        },
    )
}

fn context(page: &str) -> Context {
    Context {
        page: Some(Page {
            url: format!("https://shop.example/{page}"),
            title: page.into(),
            ..Page::default()
        }),
        order: Some(Order {
            number: "1042".into(),
            status: Some("delayed".into()),
            ..Order::default()
        }),
        ..Context::default()
    }
}

#[tokio::test]
async fn visitor_on_one_node_and_agent_on_another_talk_both_ways() {
    let redis = RedisServer::start().await;
    let config = site_config();
    let (a, b) = (node(&redis, &config).await, node(&redis, &config).await);
    assert_eq!(a.health().await["broker"], "redis");

    let mut v = Client::connect(
        &a.ws(&format!("/v1/visitor?site={SITE}")),
        Some(SITE_ORIGIN),
    )
    .await
    .unwrap();
    v.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context: Some(context("order.html")),
        identity_token: None,
    }))
    .await;
    let ServerMsg::Welcome(w) = v.recv().await else {
        panic!("no welcome")
    };
    v.welcome = Some(w);
    let conv = v.conversation_id();

    let mut agent = Client::connect(&b.ws("/v1/agent"), None).await.unwrap();
    agent
        .send(&ClientMsg::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            token: Some(AGENT_TOKEN.into()),
            context: None,
            identity_token: None,
        }))
        .await;
    agent
        .until(|m| matches!(m, ServerMsg::Conversations { .. }).then_some(()))
        .await;

    v.say("v-1", "where is my order?").await;
    let m = agent
        .until(|m| {
            if let ServerMsg::Message(m) = m {
                Some(m.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!((m.seq, m.text.as_str()), (1, "where is my order?"));
    let ctx = agent
        .until(|m| {
            if let ServerMsg::Context { context, .. } = m {
                Some(context.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!(ctx.order.unwrap().number, "1042");

    // Typing crosses nodes both ways.
    agent
        .send(&ClientMsg::Typing {
            conversation_id: conv.clone(),
            active: true,
        })
        .await;
    let typing = v
        .until(|m| {
            if let ServerMsg::Typing { sender, active, .. } = m {
                Some((sender.kind, *active))
            } else {
                None
            }
        })
        .await;
    assert_eq!(typing, (SenderKind::Agent, true));
    v.send(&ClientMsg::Typing {
        conversation_id: conv.clone(),
        active: true,
    })
    .await;
    let typing = agent
        .until(|m| {
            if let ServerMsg::Typing { sender, .. } = m {
                Some(sender.kind)
            } else {
                None
            }
        })
        .await;
    assert_eq!(typing, SenderKind::Visitor);

    // The visitor navigates: the agent on the other node sees the new page.
    v.send(&ClientMsg::SetContext {
        context: context("cart.html"),
    })
    .await;
    let page = agent
        .until(|m| match m {
            ServerMsg::Context { context, .. } => context.page.as_ref().map(|p| p.title.clone()),
            _ => None,
        })
        .await;
    assert_eq!(page, "cart.html");

    agent
        .send(&ClientMsg::Send(Send {
            conversation_id: conv.clone(),
            client_id: "a-1".into(),
            text: "It ships Friday.".into(),
            rich: None,
            canned_id: None,
        }))
        .await;
    let reply = v
        .until(|m| {
            if let ServerMsg::Message(m) = m {
                (m.seq == 2).then(|| m.clone())
            } else {
                None
            }
        })
        .await;
    assert_eq!(
        (reply.sender.kind, reply.text.as_str()),
        (SenderKind::Agent, "It ships Friday.")
    );
}

#[tokio::test]
async fn node_killed_mid_stream_its_clients_resume_on_another_node() {
    const EACH: usize = 500;
    let redis = RedisServer::start().await;
    let config = site_config();
    let (mut a, b) = (node(&redis, &config).await, node(&redis, &config).await);
    let mut v = visitor(&a.ws(""));
    v.bases.push(b.ws(""));
    v.connect(PATIENCE).await;
    let conv = v.conversation_id.clone().unwrap();

    let progress = Arc::new(AtomicUsize::new(0));
    let (p1, p2) = (progress.clone(), Arc::new(AtomicUsize::new(0)));
    let vt = tokio::spawn(async move {
        stream(&mut v, EACH, 50, &p1).await;
        v
    });
    first_message_stored(&progress).await;
    let mut agent = Peer::new(
        "a",
        &b.ws(""),
        Role::Agent {
            token: AGENT_TOKEN.into(),
        },
    );
    agent.set_conversation(&conv);
    agent.connect(PATIENCE).await;
    let at = tokio::spawn(async move {
        stream(&mut agent, EACH, 50, &p2).await;
        agent
    });
    while progress.load(Ordering::Relaxed) < EACH / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Node A dies; the visitor's "load balancer" (its list of nodes) sends it to node B.
    a.kill9();
    let mut v = vt.await.unwrap();
    let mut agent = at.await.unwrap();
    v.settle(2 * EACH as u64, PATIENCE).await;
    agent.settle(2 * EACH as u64, PATIENCE).await;
    let store = transcript(&b.ws(""), &conv).await;
    assert_exactly_once_in_order(&store, 2 * EACH);
    assert_same_view(&v, &store);
    assert_same_view(&agent, &store);
}

#[tokio::test]
async fn redis_restart_during_traffic_acknowledges_nothing_unstored_and_everyone_converges() {
    const EACH: usize = 400;
    let mut redis = RedisServer::start().await;
    let config = site_config();
    let (a, b) = (node(&redis, &config).await, node(&redis, &config).await);
    let mut v = visitor(&a.ws(""));
    v.connect(PATIENCE).await;
    let conv = v.conversation_id.clone().unwrap();

    let progress = Arc::new(AtomicUsize::new(0));
    let (p1, p2) = (progress.clone(), Arc::new(AtomicUsize::new(0)));
    let vt = tokio::spawn(async move {
        stream(&mut v, EACH, 20, &p1).await;
        v
    });
    first_message_stored(&progress).await;
    let mut agent = Peer::new(
        "a",
        &b.ws(""),
        Role::Agent {
            token: AGENT_TOKEN.into(),
        },
    );
    agent.set_conversation(&conv);
    agent.connect(PATIENCE).await;
    let at = tokio::spawn(async move {
        stream(&mut agent, EACH, 20, &p2).await;
        agent
    });
    while progress.load(Ordering::Relaxed) < EACH / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    redis.kill9();
    let acked_before = progress.load(Ordering::Relaxed);
    // While Redis is down the relays stay up and say so.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.health().await["broker_ok"], false);
    redis.start_again().await;

    let (mut v, mut agent) = (vt.await.unwrap(), at.await.unwrap());
    v.settle(2 * EACH as u64, PATIENCE).await;
    agent.settle(2 * EACH as u64, PATIENCE).await;
    let store = transcript(&a.ws(""), &conv).await;
    assert_exactly_once_in_order(&store, 2 * EACH);
    // Every ack either side ever got points at that very message in Redis after the restart.
    assert_same_view(&v, &store);
    assert_same_view(&agent, &store);
    eprintln!(
        "redis restart: killed after {acked_before} visitor acks; visitor reconnects {}",
        v.connects - 1
    );
    assert!(a.health().await["broker_ok"] == true && b.health().await["broker_ok"] == true);
}

/// A conversation is stored with its visitor's first message: the agent watches and writes to
/// it only after that.
async fn first_message_stored(progress: &AtomicUsize) {
    while progress.load(Ordering::Relaxed) < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

//! Nothing lost, nothing duplicated (issue 3): the relay is killed, connections are cut, a client
//! stops reading, the relay is stopped under load — and every acknowledged message is there
//! exactly once, in order, on every side.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_protocol::{ChatMessage, CloseCode, ServerMsg};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::peer::{Peer, Role};
use crate::process::{RelayProcess, AGENT_TOKEN};
use crate::util::{TestRelay, SITE, SITE_ORIGIN};

pub const PATIENCE: Duration = Duration::from_secs(60);

fn visitor_role(relay: &RelayProcess) -> Role {
    Role::Visitor {
        site: "demo".into(),
        origin: relay.shop_origin(),
    }
}

/// Sends `n` messages with at most `window` unacknowledged, reconnecting whenever cut off.
pub async fn stream(peer: &mut Peer, n: usize, window: usize, acked: &AtomicUsize) {
    stream_padded(peer, n, window, acked, 0).await
}

/// [`stream`] with each text padded by `pad` bytes.
async fn stream_padded(peer: &mut Peer, n: usize, window: usize, acked: &AtomicUsize, pad: usize) {
    let padding = "·".repeat(pad / 2);
    let mut sent = 0;
    while sent < n || !peer.pending.is_empty() {
        if !peer.connected() {
            peer.connect(PATIENCE).await;
        }
        if sent < n && peer.pending.len() < window {
            peer.send(&format!("{} says {sent}{padding}", peer.name))
                .await;
            sent += 1;
            peer.pump(Duration::ZERO).await;
        } else {
            peer.pump(Duration::from_millis(20)).await;
        }
        acked.store(peer.acked.len(), Ordering::Relaxed);
    }
}

/// A visitor with its conversation, and an agent watching it, both connected.
async fn visitor_and_agent(relay: &RelayProcess) -> (Peer, Peer, String) {
    let base = relay.ws("");
    let mut visitor = Peer::new("v", &base, visitor_role(relay));
    visitor.connect(PATIENCE).await;
    let conv = visitor.conversation_id.clone().unwrap();
    let agent = agent_on(&base, &conv).await;
    (visitor, agent, conv)
}

/// An agent connected and watching `conv`.
async fn agent_on(base: &str, conv: &str) -> Peer {
    let mut agent = Peer::new(
        "a",
        base,
        Role::Agent {
            token: AGENT_TOKEN.into(),
        },
    );
    agent.set_conversation(conv);
    agent.connect(PATIENCE).await;
    agent
}

/// [`stream`] in a task of its own (window 50); gives the peer back when all is acknowledged.
fn spawn_stream(
    mut peer: Peer,
    n: usize,
    acked: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<Peer> {
    tokio::spawn(async move {
        stream(&mut peer, n, 50, &acked).await;
        peer
    })
}

/// The checks every test makes on a conversation's stored transcript: seq 1..=n without gaps,
/// each client id once, each sender's messages in the order it sent them.
pub fn assert_exactly_once_in_order(store: &BTreeMap<u64, ChatMessage>, expected: usize) {
    assert_eq!(store.len(), expected, "message count");
    assert_eq!(
        store.keys().copied().collect::<Vec<_>>(),
        (1..=expected as u64).collect::<Vec<_>>(),
        "seqs"
    );
    let mut last_n: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    for m in store.values() {
        assert!(
            ids.insert(m.client_id.clone()),
            "{} stored twice",
            m.client_id
        );
        let (who, n) = m.client_id.rsplit_once('-').unwrap();
        let n: usize = n.parse().unwrap();
        let prev = last_n.insert(who.to_owned(), n).unwrap_or(0);
        assert!(n > prev, "{who}: message {n} stored after {prev}");
    }
}

pub fn assert_same_view(peer: &Peer, store: &BTreeMap<u64, ChatMessage>) {
    assert_eq!(
        peer.seen.len(),
        store.len(),
        "{} saw {} of {}",
        peer.name,
        peer.seen.len(),
        store.len()
    );
    for (seq, m) in store {
        assert_eq!(
            peer.seen.get(seq).map(|s| &s.client_id),
            Some(&m.client_id),
            "{} at seq {seq}",
            peer.name
        );
    }
    for (id, seq) in &peer.acked {
        assert_eq!(
            store.get(seq).map(|m| &m.client_id),
            Some(id),
            "{} ack for {id} points elsewhere",
            peer.name
        );
    }
}

/// A fresh agent's view of the whole conversation: what the store holds.
pub async fn transcript(base: &str, conversation: &str) -> BTreeMap<u64, ChatMessage> {
    let mut reader = Peer::new(
        "reader",
        base,
        Role::Agent {
            token: AGENT_TOKEN.into(),
        },
    );
    reader.set_conversation(conversation);
    reader.connect(PATIENCE).await;
    let mut last = 0;
    loop {
        reader.pump(Duration::from_millis(300)).await;
        // Done when the catch-up has ended and nothing more came: a loaded machine may pause
        // a catch-up longer than one pump.
        if reader.caught_up() && reader.last_seq() == last {
            return reader.seen;
        }
        last = reader.last_seq();
    }
}

#[tokio::test]
async fn sigkill_mid_stream_loses_and_duplicates_nothing() {
    const EACH: usize = 1000;
    let mut relay = RelayProcess::start().await;
    let base = relay.ws("");
    let mut visitor = Peer::new("v", &base, visitor_role(&relay));
    visitor.connect(PATIENCE).await;
    let conv = visitor.conversation_id.clone().unwrap();
    let progress = Arc::new(AtomicUsize::new(0));
    let v = spawn_stream(visitor, EACH, progress.clone());
    // The conversation is stored with the visitor's first message; the agent comes after it.
    while progress.load(Ordering::Relaxed) < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let agent = agent_on(&base, &conv).await;
    let a = spawn_stream(agent, EACH, Arc::default());
    while progress.load(Ordering::Relaxed) < EACH / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    relay.kill9();
    let acked_at_kill = progress.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.start_again().await;

    let (mut visitor, mut agent) = (v.await.unwrap(), a.await.unwrap());
    visitor.settle(2 * EACH as u64, PATIENCE).await;
    agent.settle(2 * EACH as u64, PATIENCE).await;
    let store = transcript(&base, &conv).await;
    assert_exactly_once_in_order(&store, 2 * EACH);
    assert_same_view(&visitor, &store);
    assert_same_view(&agent, &store);
    assert!(
        visitor.connects >= 2 && agent.connects >= 2,
        "both sides lived through the kill"
    );
    eprintln!(
        "sigkill: killed at {acked_at_kill} visitor acks; visitor reconnects {}, agent reconnects {}, \
         redeliveries seen {} / {}",
        visitor.connects - 1,
        agent.connects - 1,
        visitor.redeliveries,
        agent.redeliveries
    );
}

/// Group commit's promise (issue 18): many senders on many conversations at once, so their
/// appends share transactions; every ack they got is a stored message, once, at the acked seq,
/// after a SIGKILL right after the last ack.
async fn concurrent_acks_survive_sigkill(extra: &[&str]) {
    const VISITORS: usize = 40;
    const EACH: usize = 25;
    let mut relay = RelayProcess::start_with(extra).await;
    let base = relay.ws("");
    let mut peers = Vec::new();
    for i in 0..VISITORS {
        let mut v = Peer::new(&format!("c{i}"), &base, visitor_role(&relay));
        v.connect(PATIENCE).await;
        peers.push(v);
    }
    // Each visitor's whole stream in flight at once (window = EACH), all visitors together.
    let streams: Vec<_> = peers
        .into_iter()
        .map(|mut v| {
            tokio::spawn(async move {
                stream(&mut v, EACH, EACH, &AtomicUsize::new(0)).await;
                v
            })
        })
        .collect();
    let mut peers = Vec::new();
    for s in streams {
        peers.push(s.await.unwrap());
    }
    relay.kill9();
    relay.start_again().await;
    for v in &peers {
        assert_eq!(
            v.acked.len(),
            EACH,
            "{}: every message acknowledged",
            v.name
        );
        assert_eq!(v.connects, 1, "{}: no reconnect before the kill", v.name);
        let store = transcript(&base, v.conversation_id.as_deref().unwrap()).await;
        assert_exactly_once_in_order(&store, EACH);
        for (id, seq) in &v.acked {
            assert_eq!(
                store.get(seq).map(|m| &m.client_id),
                Some(id),
                "{}: the ack's seq holds its message",
                v.name
            );
        }
    }
}

#[tokio::test]
async fn concurrent_acks_survive_sigkill_on_the_embedded_store() {
    concurrent_acks_survive_sigkill(&[]).await;
}

#[tokio::test]
async fn concurrent_acks_survive_sigkill_on_redis() {
    let redis = crate::redis_server::RedisServer::start().await;
    concurrent_acks_survive_sigkill(&["--redis-url", &redis.url()]).await;
}

#[tokio::test]
async fn flaky_connection_cut_at_random_points_loses_and_duplicates_nothing() {
    const N: usize = 2000;
    const CUTS: usize = 60;
    let relay = TestRelay::start().await;
    let base = format!("ws://{}", relay.addr);
    let mut peer = Peer::new(
        "f",
        &base,
        Role::Visitor {
            site: SITE.into(),
            origin: SITE_ORIGIN.into(),
        },
    );
    peer.connect(PATIENCE).await;
    let conv = peer.conversation_id.clone().unwrap();

    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut cuts = std::collections::BTreeSet::new();
    while cuts.len() < CUTS {
        cuts.insert(rng.random_range(1..N));
    }
    for i in 0..N {
        if !peer.connected() {
            peer.connect(PATIENCE).await;
        }
        peer.send(&format!("flaky {i}")).await;
        peer.pump(Duration::ZERO).await;
        if cuts.contains(&i) {
            // Sometimes cut before the relay could answer, sometimes after a little reading.
            if rng.random_bool(0.5) {
                peer.pump(Duration::from_millis(rng.random_range(0..5)))
                    .await;
            }
            peer.cut();
        }
    }
    peer.settle(N as u64, PATIENCE).await;
    let stored = relay
        .relay
        .state
        .broker
        .history(&conv, 0, 10 * N)
        .await
        .unwrap();
    let store: BTreeMap<u64, ChatMessage> = stored.into_iter().map(|m| (m.seq, m)).collect();
    assert_exactly_once_in_order(&store, N);
    assert_same_view(&peer, &store);
    assert!(
        peer.connects > CUTS,
        "{} connects for {CUTS} cuts",
        peer.connects
    );
}

#[tokio::test]
async fn slow_consumer_is_closed_with_the_slow_code_and_resumes_with_everything() {
    const N: usize = 10_000;
    let relay = RelayProcess::start().await;
    let base = relay.ws("");

    // A visitor whose socket receive buffer is tiny, so the relay's writes back up quickly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket
        .connect(([127, 0, 0, 1], relay.port).into())
        .await
        .unwrap();
    let mut req = relay
        .ws("/v1/visitor?site=demo")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "origin",
        HeaderValue::from_str(&relay.shop_origin()).unwrap(),
    );
    let (mut slow, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    slow.send(Message::text(r#"{"type":"hello","protocol":1}"#))
        .await
        .unwrap();
    let welcome = loop {
        if let Some(Ok(Message::Text(t))) = slow.next().await {
            if let Ok(ServerMsg::Welcome(w)) = serde_json::from_str(t.as_str()) {
                break w;
            }
        }
    };
    let conv = welcome.conversation_id.clone().unwrap();
    // A visitor is stored with its first message: this one says something, then goes quiet.
    let opening = format!(
        r#"{{"type":"send","conversation_id":"{conv}","client_id":"slow-1","text":"opening"}}"#
    );
    slow.send(Message::text(opening)).await.unwrap();
    let mut opened = BTreeMap::new();
    loop {
        if let Some(Ok(Message::Text(t))) = slow.next().await {
            match serde_json::from_str(t.as_str()) {
                Ok(ServerMsg::Message(m)) => {
                    opened.insert(m.seq, m);
                }
                Ok(ServerMsg::Ack { .. }) => break,
                _ => {}
            }
        }
    }

    let baseline = relay.rss();
    let mut agent = agent_on(&base, &conv).await;
    let progress = Arc::new(AtomicUsize::new(0));
    let p = progress.clone();
    let sender = tokio::spawn(async move {
        // 2 KiB messages: 10,000 of them (20 MiB) cannot hide in the kernel's socket buffers
        // (a few MiB at most), so the relay's own queue must fill.
        stream_padded(&mut agent, N, 200, &p, 2048).await;
        agent
    });

    // The visitor reads nothing until the relay gives up on it.
    let mut peak = baseline;
    let detected = Instant::now();
    while relay.health().await["slow_closes"].as_u64().unwrap_or(0) == 0 {
        peak = peak.max(relay.rss());
        assert!(
            detected.elapsed() < PATIENCE,
            "the relay never closed the slow client"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let acked_when_slow = progress.load(Ordering::Relaxed);
    // Now it reads: what was buffered, then the close frame.
    let mut received = opened;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), slow.next())
            .await
            .expect("a close")
        {
            Some(Ok(Message::Text(t))) => {
                if let Ok(ServerMsg::Message(m)) = serde_json::from_str(t.as_str()) {
                    received.insert(m.seq, m);
                }
            }
            Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(
        code,
        Some(CloseCode::SLOW.code),
        "closed with the slow code"
    );

    let mut agent = sender.await.unwrap();
    while !agent.pending.is_empty() {
        agent.pump(Duration::from_millis(50)).await;
    }
    peak = peak.max(relay.rss());
    // It resumes from what it has and ends with every message exactly once.
    let mut visitor = Peer::new(
        "v",
        &base,
        Role::Visitor {
            site: "demo".into(),
            origin: relay.shop_origin(),
        },
    );
    visitor.token = welcome.token.clone();
    visitor.seen = received.clone();
    visitor.settle(N as u64 + 1, PATIENCE).await;
    let store = transcript(&base, &conv).await;
    assert_exactly_once_in_order(&store, N + 1);
    assert_same_view(&visitor, &store);
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "slow consumer: closed after {acked_when_slow} of {N} sends, had {} buffered; relay RSS {} KiB → peak {} KiB (+{} KiB)",
        received.len(),
        baseline / 1024,
        peak / 1024,
        growth / 1024
    );
    // Per connection the relay holds at most outbox_capacity (1024) frames; with SQLite's page
    // cache and allocator slack the whole process stays far below an unbounded queue's growth.
    assert!(growth < 32 * 1024 * 1024, "relay grew by {growth} bytes");
}

#[tokio::test]
async fn sigterm_with_500_clients_tells_all_to_reconnect_and_loses_nothing() {
    const CLIENTS: usize = 500;
    let mut relay = RelayProcess::start().await;
    let base = relay.ws("");
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (base, role, ready) = (base.clone(), visitor_role(&relay), ready.clone());
        tasks.push(tokio::spawn(async move {
            let mut peer = Peer::new(&format!("c{i}"), &base, role);
            peer.connect(PATIENCE).await;
            peer.send("before the restart").await;
            while !peer.pending.is_empty() {
                peer.pump(Duration::from_millis(50)).await;
            }
            ready.fetch_add(1, Ordering::Relaxed);
            // Now wait to be told to go.
            let deadline = Instant::now() + PATIENCE;
            while peer.connected() && Instant::now() < deadline {
                peer.pump(Duration::from_millis(200)).await;
            }
            peer
        }));
    }
    while ready.load(Ordering::Relaxed) < CLIENTS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(relay.health().await["connections"], CLIENTS);
    let took = relay.stop().await;
    let mut peers = Vec::new();
    for t in tasks {
        peers.push(t.await.unwrap());
    }
    let told = peers
        .iter()
        .filter(|p| p.closes == [Some(CloseCode::RECONNECT_NOW.code)])
        .count();
    assert_eq!(told, CLIENTS, "every client got close 4012");
    assert!(
        took < switchboard_relay::server::DRAIN_TIMEOUT + Duration::from_secs(2),
        "exit took {took:?}"
    );
    eprintln!("sigterm: {CLIENTS} clients told to reconnect, exit took {took:?}");

    relay.start_again().await;
    let mut tasks = Vec::new();
    for mut peer in peers {
        tasks.push(tokio::spawn(async move {
            peer.connect(PATIENCE).await;
            peer.send("after the restart").await;
            peer.settle(2, PATIENCE).await;
            peer
        }));
    }
    for t in tasks {
        let peer = t.await.unwrap();
        let texts: Vec<_> = peer.seen.values().map(|m| m.text.as_str()).collect();
        assert_eq!(
            texts,
            ["before the restart", "after the restart"],
            "{}",
            peer.name
        );
    }
}

#[tokio::test]
async fn a_dead_connection_is_noticed_within_the_idle_timeout() {
    let relay =
        RelayProcess::start_with(&["--ping-interval-ms", "200", "--idle-timeout-ms", "600"]).await;
    let mut req = relay
        .ws("/v1/visitor?site=demo")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "origin",
        HeaderValue::from_str(&relay.shop_origin()).unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(r#"{"type":"hello","protocol":1}"#))
        .await
        .unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        panic!("no welcome")
    };
    let Ok(ServerMsg::Welcome(w)) = serde_json::from_str(t.as_str()) else {
        panic!("not a welcome: {t}")
    };
    assert_eq!(w.ping_interval_ms, 200, "clients are told the interval");
    assert_eq!(relay.health().await["connections"], 1);
    // From here on the client neither reads nor answers pings: a dead peer.
    let start = Instant::now();
    while relay.health().await["connections"] != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "dead connection still counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("dead connection dropped after {:?}", start.elapsed());
    drop(ws);
}

/// `--write-coalesce-us`: a connection that has not written lately gets its next frame at
/// once; one that just wrote holds the frames behind it until the window ends; either way
/// nothing is lost, doubled or reordered.
#[tokio::test]
async fn coalesced_writes_hold_only_busy_connections_and_lose_nothing() {
    const EACH: usize = 300;
    // The longest window the relay accepts, so timing noise is small beside it.
    const HOLD: Duration = Duration::from_millis(100);
    let relay = RelayProcess::start_with(&["--write-coalesce-us", "100000"]).await;
    let base = relay.ws("");
    let (mut visitor, mut agent, conv) = visitor_and_agent(&relay).await;
    // The first message also brings the agent the conversation's line and context; then
    // quiet, past every hold.
    visitor.send("opening").await;
    agent.settle(1, PATIENCE).await;
    visitor.pump(HOLD * 2).await;
    agent.pump(Duration::ZERO).await;

    // "second" is sent only once "first" has arrived: sent together, the store's group commit
    // may write both in one transaction and the relay rightly sends them in one write.
    let start = Instant::now();
    let arrival = async |agent: &mut Peer, seq: u64| {
        while !agent.seen.contains_key(&seq) && start.elapsed() < PATIENCE {
            agent.pump(Duration::from_millis(1)).await;
        }
        start.elapsed()
    };
    visitor.send("first").await;
    let first = arrival(&mut agent, 2).await;
    visitor.send("second").await;
    let second = arrival(&mut agent, 3).await;
    eprintln!(
        "coalescing {HOLD:?}: first frame after {first:?}, the one behind it after {second:?}"
    );
    assert!(
        first < HOLD / 2,
        "a quiet connection's frame was held: {first:?}"
    );
    assert!(
        second >= first + HOLD * 3 / 4,
        "the frame right behind it was not held: {first:?} then {second:?}"
    );

    let v = spawn_stream(visitor, EACH, Arc::default());
    let a = spawn_stream(agent, EACH, Arc::default());
    let (mut visitor, mut agent) = (v.await.unwrap(), a.await.unwrap());
    let total = 2 * EACH as u64 + 3;
    visitor.settle(total, PATIENCE).await;
    agent.settle(total, PATIENCE).await;
    let store = transcript(&base, &conv).await;
    assert_exactly_once_in_order(&store, total as usize);
    assert_same_view(&visitor, &store);
    assert_same_view(&agent, &store);
}

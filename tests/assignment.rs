//! Automatic assignment across two relay processes on one Redis (issue 12): a burst of
//! conversations is assigned exactly once with no agent over capacity and round robin spread
//! evenly; agents going offline and online drain the queue; racing transfer, resolve and a
//! visitor's reopening end in one state every client sees.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use switchboard_protocol::client::Hello;
use switchboard_protocol::{
    ClientMsg, ConversationSummary, ErrorCode, Presence, ServerMsg, Status, SystemEvent,
    PROTOCOL_VERSION,
};
use switchboard_relay::broker::redis::RedisBroker;
use switchboard_relay::broker::Broker;
use switchboard_relay::hub::Hub;

use crate::process::RelayProcess;
use crate::redis_server::RedisServer;
use crate::util::{eventually, Client};

/// Two sites, one team each: `a` (round robin, room for everything) and `b` (least busy,
/// capacity 30, so its queue overflows).
const SITES: [(&str, &str); 2] = [("alpha", "a"), ("beta", "b")];
const PER_SITE: usize = 100;
const CAPACITY_B: usize = 30;
const PATIENCE: Duration = Duration::from_secs(40);

fn origin(site: &str) -> String {
    format!("https://{site}.example")
}

fn token(agent: &str) -> String {
    format!("token-of-{agent}-0123456789abcdef0123456789")
}

fn config() -> tempfile::NamedTempFile {
    let mut toml = String::new();
    for (site, team) in SITES {
        let (policy, capacity) = match team {
            "a" => ("round_robin", 40),
            _ => ("least_busy", CAPACITY_B),
        };
        toml += &format!(
            "[[sites]]\nkey = \"{site}\"\nallowed_origins = [\"{}\"]\ndefault_team = \"{team}\"\n\n\
             [[teams]]\nid = \"{team}\"\nname = \"{team}\"\nsite = \"{site}\"\n\
             members = [\"{team}1\", \"{team}2\", \"{team}3\"]\npolicy = \"{policy}\"\ncapacity = {capacity}\n\n",
            origin(site)
        );
        for n in 1..=3 {
            let id = format!("{team}{n}");
            toml += &format!(
                "[[agents]]\nid = \"{id}\"\nname = \"{id}\"\ntoken = \"{}\"\nsites = [\"{site}\"]\n\n",
                token(&id)
            );
        }
        let admin = format!("{team}-admin");
        toml += &format!(
            "[[agents]]\nid = \"{admin}\"\nname = \"{admin}\"\ntoken = \"{}\"\nsites = [\"{site}\"]\nrole = \"admin\"\n\n",
            token(&admin)
        );
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), toml).unwrap();
    file
}

async fn node(redis: &RedisServer, config: &tempfile::NamedTempFile) -> RelayProcess {
    let path = config.path().to_str().unwrap().to_owned();
    RelayProcess::start_with(&[
        "--redis-url",
        &redis.url(),
        "--config",
        &path,
        "--assign-interval-ms",
        "200",
        "--presence-grace-ms",
        "1500",
    ])
    .await
}

async fn agent(node: &RelayProcess, id: &str) -> Client {
    let mut c = Client::connect(&node.ws("/v1/agent"), None).await.unwrap();
    c.live_state = true;
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(token(id)),
        context: None,
        identity_token: None,
    }))
    .await;
    c.until(|m| matches!(m, ServerMsg::Conversations { .. }).then_some(()))
        .await;
    c
}

async fn visitor(node: &RelayProcess, site: &str, n: usize) -> Client {
    let url = node.ws(&format!("/v1/visitor?site={site}"));
    let mut v = Client::connect(&url, Some(&origin(site))).await.unwrap();
    v.live_state = true;
    v.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context: None,
        identity_token: None,
    }))
    .await;
    let mut v = v.welcome().await;
    v.say(&format!("q-{n}"), "hello?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    v
}

/// Every conversation of the site as the broker holds it.
async fn stored(broker: &RedisBroker, site: &str) -> Vec<ConversationSummary> {
    let page = broker.inbox(&[site.to_owned()], None, 200).await.unwrap();
    assert!(page.next.is_none());
    page.items
}

fn load(conversations: &[ConversationSummary]) -> HashMap<String, usize> {
    let mut load = HashMap::new();
    for c in conversations {
        if let (Some(a), Status::Open) = (&c.assignee, c.status) {
            *load.entry(a.clone()).or_default() += 1;
        }
    }
    load
}

/// Waits until the site has `assigned` open assigned conversations.
async fn assigned(broker: &RedisBroker, site: &str, assigned: usize) -> Vec<ConversationSummary> {
    eventually(
        &format!("{assigned} conversations of {site} assigned"),
        PATIENCE,
        || async move {
            let all = stored(broker, site).await;
            let load = load(&all);
            let n = load.values().sum::<usize>();
            assert!(n <= assigned, "{n} assigned, expected at most {assigned}");
            let capacity = if site == "beta" { CAPACITY_B } else { 40 };
            assert!(
                load.values().all(|&l| l <= capacity),
                "over capacity: {load:?}"
            );
            (n == assigned).then_some(all)
        },
    )
    .await
}

/// How many `assigned` events each conversation's log holds.
async fn assignments(broker: &RedisBroker, conversations: &[ConversationSummary]) -> Vec<usize> {
    let mut counts = Vec::new();
    for c in conversations {
        let log = broker.history(&c.id, 0, 1000).await.unwrap();
        counts.push(
            log.iter()
                .filter(|m| matches!(m.event.as_deref(), Some(SystemEvent::Assigned { .. })))
                .count(),
        );
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_assign_a_burst_exactly_once_within_capacity_and_drain_the_queue() {
    let redis = RedisServer::start().await;
    let config = config();
    let (na, nb) = (node(&redis, &config).await, node(&redis, &config).await);
    let broker = RedisBroker::connect(&redis.url(), Arc::new(Hub::default()))
        .await
        .unwrap();

    // Agents split across the nodes; b3 is not there yet.
    let mut a1 = agent(&na, "a1").await;
    let _a2 = agent(&nb, "a2").await;
    let _a3 = agent(&na, "a3").await;
    let b1 = agent(&na, "b1").await;
    let mut b2 = agent(&nb, "b2").await;
    // Everyone sees the others come online, whichever node holds the site's lease.
    for who in ["a2", "a3"] {
        a1.until(|m| match m {
            ServerMsg::Presence { agent, status, .. } => {
                (agent == who && *status == Presence::Online).then_some(())
            }
            _ => None,
        })
        .await;
    }

    // 200 conversations at once, alternating nodes.
    let visitors = join_all((0..2 * PER_SITE).map(|n| {
        let (site, _) = SITES[n % 2];
        let node = if n % 4 < 2 { &na } else { &nb };
        visitor(node, site, n)
    }))
    .await;

    // Team a: all 100, round robin within ±1.
    let alpha = assigned(&broker, "alpha", PER_SITE).await;
    let spread = load(&alpha);
    let (lo, hi) = (
        spread.values().min().unwrap(),
        spread.values().max().unwrap(),
    );
    assert_eq!(spread.len(), 3, "{spread:?}");
    assert!(hi - lo <= 1, "round robin spread {spread:?}");
    // Team b: two agents at capacity, the rest waits.
    let beta = assigned(&broker, "beta", 2 * CAPACITY_B).await;
    let spread = load(&beta);
    assert_eq!(spread.get("b1"), Some(&CAPACITY_B), "{spread:?}");
    assert_eq!(spread.get("b2"), Some(&CAPACITY_B), "{spread:?}");

    // A waiting visitor knows its place in the queue and that agents are online.
    let mut waiting: Vec<Client> = Vec::new();
    let mut others = Vec::new();
    for v in visitors {
        let id = v.conversation_id();
        match beta.iter().any(|c| c.id == id && c.assignee.is_none()) {
            true => waiting.push(v),
            false => others.push(v),
        }
    }
    assert_eq!(waiting.len(), PER_SITE - 2 * CAPACITY_B);
    let position = waiting[0]
        .until(|m| match m {
            ServerMsg::Queue { position, .. } => Some(*position),
            _ => None,
        })
        .await;
    assert!((1..=40).contains(&position), "position {position}");

    // b3 comes online on the other node: 30 more leave the queue.
    let _b3 = agent(&nb, "b3").await;
    let beta = assigned(&broker, "beta", 3 * CAPACITY_B).await;
    assert_eq!(load(&beta).get("b3"), Some(&CAPACITY_B));

    // b1 goes offline (its connection drops): the others hear it after the grace period.
    drop(b1);
    b2.until(|m| match m {
        ServerMsg::Presence { agent, status, .. } => {
            (agent == "b1" && *status == Presence::Offline).then_some(())
        }
        _ => None,
    })
    .await;
    // b2 resolves ten of its conversations: the ten still waiting go to b2 (b3 is full, b1
    // offline).
    let mine: Vec<&ConversationSummary> = (beta.iter())
        .filter(|c| c.assignee.as_deref() == Some("b2"))
        .take(10)
        .collect();
    for c in &mine {
        b2.send(&ClientMsg::SetStatus {
            conversation_id: c.id.clone(),
            expected_version: c.version,
            status: Status::Resolved,
        })
        .await;
    }
    let broker = &broker;
    let beta = eventually("the resolved slots refilled", PATIENCE, || async move {
        let all = stored(broker, "beta").await;
        let resolved = all.iter().filter(|c| c.status == Status::Resolved).count();
        let drained = all.iter().all(|c| c.assignee.is_some());
        (resolved == 10 && drained).then_some(all)
    })
    .await;
    let spread = load(&beta);
    assert_eq!(spread.get("b2"), Some(&CAPACITY_B), "{spread:?}");
    assert_eq!(spread.get("b3"), Some(&CAPACITY_B), "{spread:?}");

    // Each conversation was assigned exactly once, across both nodes.
    let all: Vec<ConversationSummary> = alpha.into_iter().chain(beta).collect();
    assert_eq!(all.len(), 2 * PER_SITE);
    let counts = assignments(broker, &all).await;
    assert!(
        counts.iter().all(|&n| n == 1),
        "assignments per conversation: {counts:?}"
    );
    drop((waiting, others));
}

/// The last `conversation` line each client was sent for `id`.
fn last_line(seen: &[ServerMsg], id: &str) -> Option<(Status, Option<String>, u64)> {
    seen.iter().rev().find_map(|m| match m {
        ServerMsg::Conversation(c) if c.id == id => Some((c.status, c.assignee.clone(), c.version)),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_resolve_and_reopen_racing_on_two_nodes_end_in_one_state_everyone_sees() {
    let redis = RedisServer::start().await;
    let config = config();
    let (na, nb) = (node(&redis, &config).await, node(&redis, &config).await);
    let broker = RedisBroker::connect(&redis.url(), Arc::new(Hub::default()))
        .await
        .unwrap();
    // a1 alone is online: every conversation goes to it.
    let mut a1_here = agent(&na, "a1").await;
    let mut a1_there = agent(&nb, "a1").await;
    let mut admin = agent(&nb, "a-admin").await;

    for round in 0..5 {
        let mut v = visitor(if round % 2 == 0 { &na } else { &nb }, "alpha", round).await;
        let id = v.conversation_id();
        let c = eventually("assigned to a1", PATIENCE, || {
            let (broker, id) = (&broker, id.clone());
            async move {
                let c = broker.summary(&id).await.unwrap()?;
                (c.assignee.as_deref() == Some("a1")).then_some(c)
            }
        })
        .await;
        // On the same version, from both nodes, while the visitor writes again.
        let transfer = ClientMsg::Transfer {
            conversation_id: id.clone(),
            expected_version: c.version,
            to_agent: Some("a2".into()),
            to_team: None,
            note: None,
        };
        let resolve = ClientMsg::SetStatus {
            conversation_id: id.clone(),
            expected_version: c.version,
            status: Status::Resolved,
        };
        let again = format!("again-{round}");
        tokio::join!(
            a1_here.send(&transfer),
            a1_there.send(&resolve),
            v.say(&again, "still there?"),
        );
        // Exactly one of the two agent frames lost, with `conflict`.
        let mut seen: [Vec<ServerMsg>; 3] = Default::default();
        for (a, seen) in [&mut a1_here, &mut a1_there].into_iter().zip(&mut seen) {
            seen.extend(a.roundtrip().await);
        }
        let conflicts = (seen.iter().flatten())
            .filter(|m| {
                matches!(
                    m,
                    ServerMsg::Error {
                        code: ErrorCode::Conflict,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(conflicts, 1, "round {round}");
        // Let every live frame arrive, then compare what each client saw with the store.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let end = broker.summary(&id).await.unwrap().unwrap();
        let want = Some((end.status, end.assignee.clone(), end.version));
        for (a, seen) in [&mut a1_here, &mut a1_there, &mut admin]
            .into_iter()
            .zip(&mut seen)
        {
            seen.extend(a.roundtrip().await);
            assert_eq!(last_line(seen, &id), want, "round {round}");
        }
        let log = broker.history(&id, 0, 1000).await.unwrap();
        // Live, in seq order, nothing the log lacks; a resync replays exactly the log.
        let live: Vec<u64> = (v.roundtrip().await.iter())
            .filter_map(|m| match m {
                ServerMsg::Message(m) => Some(m.seq),
                _ => None,
            })
            .collect();
        assert!(live.windows(2).all(|w| w[0] < w[1]), "{live:?}");
        assert!(live.iter().all(|s| log.iter().any(|m| m.seq == *s)));
        let mut heard = Vec::new();
        v.send(&ClientMsg::Sync {
            conversation_id: id.clone(),
            since: 0,
        })
        .await;
        v.until(|m| match m {
            ServerMsg::Message(m) => {
                heard.push(m.seq);
                None
            }
            ServerMsg::Synced { .. } => Some(()),
            _ => None,
        })
        .await;
        assert_eq!(heard, log.iter().map(|m| m.seq).collect::<Vec<_>>());
        assert_eq!(end.last_seq as usize, log.len());
        // The visitor's message reopens whatever the race left resolved.
        let reopened = log
            .iter()
            .any(|m| matches!(m.event.as_deref(), Some(SystemEvent::Reopened { .. })));
        let resolved_last = log.iter().rev().find_map(|m| match m.event.as_deref() {
            Some(SystemEvent::Resolved { .. }) => Some(true),
            Some(SystemEvent::Reopened { .. }) => Some(false),
            _ => None,
        });
        assert_eq!(
            end.status == Status::Resolved,
            resolved_last == Some(true),
            "round {round}: {end:?}, reopened {reopened}"
        );
    }
}

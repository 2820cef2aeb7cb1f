//! One conformance suite for the broker seam, run against every implementation (the embedded
//! SQLite broker and the Redis broker on a real `redis-server`), in the style of centrifuge's
//! shared broker tests: each behaviour is written once and takes a factory.

use std::sync::Arc;
use std::time::Duration;

use switchboard_protocol::context::{Identity, Page};
use switchboard_protocol::{
    Context, InboxCursor, Owner, Priority, Sender, SenderKind, ServerMsg, Status, SystemEvent,
};
use switchboard_relay::broker::redis::RedisBroker;
use switchboard_relay::broker::sqlite::SqliteBroker;
use switchboard_relay::broker::{
    Audience, Broker, Change, Event, Lifecycle, NewMessage, State, StoreError,
};
use switchboard_relay::hub::Hub;
use switchboard_relay::outbox::{Outbox, OutboxRx, Outgoing};

use crate::redis_server::RedisServer;

/// A broker implementation under test: `open` gives a node (broker + its hub) on the same
/// shared state, so a second `open` is a second relay node, or the same node after a restart.
trait Backend {
    async fn open(&self) -> (Arc<dyn Broker>, Arc<Hub>);
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    async fn open(&self) -> (Arc<dyn Broker>, Arc<Hub>) {
        let hub = Arc::new(Hub::default());
        (
            Arc::new(SqliteBroker::open(self.0.path(), hub.clone()).unwrap()),
            hub,
        )
    }
}

struct Redis(RedisServer);

impl Backend for Redis {
    async fn open(&self) -> (Arc<dyn Broker>, Arc<Hub>) {
        let hub = Arc::new(Hub::default());
        (
            Arc::new(
                RedisBroker::connect(&self.0.url(), hub.clone())
                    .await
                    .unwrap(),
            ),
            hub,
        )
    }
}

/// Runs one behaviour against both implementations.
macro_rules! conformance {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(&super::Sqlite(tempfile::tempdir().unwrap())).await;
            }
            #[tokio::test]
            async fn redis() {
                super::$name(&super::Redis(
                    crate::redis_server::RedisServer::start().await,
                ))
                .await;
            }
        }
    };
}

conformance!(sequences_start_at_one_without_gaps_under_concurrency);
conformance!(history_since_an_offset_in_order_and_limited);
conformance!(duplicate_client_ids_store_once_also_after_reopen);
conformance!(unknown_conversations_are_not_found);
conformance!(visitors_tokens_contexts_and_conversations);
conformance!(appends_are_published_in_seq_order_to_every_node);
conformance!(inbox_lists_active_conversations_newest_first);
conformance!(inboxes_are_per_site);
conformance!(inbox_pages_by_activity_then_id_without_skips_or_repeats);
conformance!(lifecycle_changes_are_compare_and_set_and_logged_in_seq_order);
conformance!(concurrent_changes_on_one_version_exactly_one_wins);
conformance!(changes_retried_on_conflict_are_never_lost);
conformance!(a_visitor_message_reopens_in_the_same_step);
conformance!(a_snooze_ends_on_read_once_its_time_has_passed);
conformance!(creations_under_chosen_ids_are_idempotent_and_counted);

/// The site most behaviours use, as an inbox's site list.
fn shop() -> Vec<String> {
    vec!["shop".into()]
}

fn sender(id: &str) -> Sender {
    Sender {
        kind: SenderKind::Visitor,
        id: id.into(),
        name: None,
        avatar: None,
    }
}

fn new_message(conv: &str, who: &str, client_id: &str, text: &str) -> NewMessage {
    NewMessage::new(conv, client_id.into(), sender(who), text.into())
}

async fn conversation(b: &dyn Broker) -> String {
    let v = b
        .create_visitor("shop", "hash-1", Context::default())
        .await
        .unwrap();
    b.open_conversation("shop", &v.id, 1, &Owner::Humans)
        .await
        .unwrap()
        .id
}

/// A local connection subscribed to a conversation, to watch what the hub delivers.
fn listen(hub: &Hub, conv: &str) -> OutboxRx {
    let (outbox, rx) = Outbox::channel(hub.next_id(), 10_000);
    hub.join_conversation(conv, outbox);
    rx
}

async fn sequences_start_at_one_without_gaps_under_concurrency(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let conv = conversation(&*b).await;
    let mut tasks = Vec::new();
    for who in ["alice", "bob", "carol", "dave"] {
        let (b, conv) = (b.clone(), conv.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25 {
                let a = b
                    .append("shop", new_message(&conv, who, &format!("{who}-{i}"), "hi"))
                    .await
                    .unwrap();
                seqs.push(a.message.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "each sender's order is kept: {seqs:?}"
        );
        all.extend(seqs);
    }
    all.sort();
    assert_eq!(all, (1..=100).collect::<Vec<u64>>());
    assert_eq!(b.conversation(&conv).await.unwrap().unwrap().last_seq, 100);
}

async fn history_since_an_offset_in_order_and_limited(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let conv = conversation(&*b).await;
    for i in 1..=30 {
        b.append(
            "shop",
            new_message(&conv, "v", &format!("m{i}"), &format!("text {i}")),
        )
        .await
        .unwrap();
    }
    let h = b.history(&conv, 0, 1000).await.unwrap();
    assert_eq!(
        h.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
    assert_eq!(h[4].text, "text 5");
    let h = b.history(&conv, 25, 1000).await.unwrap();
    assert_eq!(
        h.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![26, 27, 28, 29, 30]
    );
    let h = b.history(&conv, 10, 3).await.unwrap();
    assert_eq!(
        h.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![11, 12, 13]
    );
    assert!(b.history(&conv, 30, 10).await.unwrap().is_empty());
}

async fn duplicate_client_ids_store_once_also_after_reopen(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let conv = conversation(&*b).await;
    let first = b
        .append("shop", new_message(&conv, "v", "same", "original"))
        .await
        .unwrap();
    assert!(!first.duplicate);
    let again = b
        .append("shop", new_message(&conv, "v", "same", "resent text"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.message.seq, again.message.text.as_str()),
        (first.message.seq, "original")
    );
    // The same client id from another sender is another message.
    let other = b
        .append("shop", new_message(&conv, "agent", "same", "reply"))
        .await
        .unwrap();
    assert_eq!((other.message.seq, other.duplicate), (2, false));
    drop(b);
    // A restarted node (or another node) still recognises the resend.
    let (b, _) = backend.open().await;
    let after = b
        .append(
            "shop",
            new_message(&conv, "v", "same", "resent after restart"),
        )
        .await
        .unwrap();
    assert_eq!((after.message.seq, after.duplicate), (1, true));
    assert_eq!(b.history(&conv, 0, 10).await.unwrap().len(), 2);
}

async fn unknown_conversations_are_not_found(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let err = b
        .append("shop", new_message("c_missing", "v", "x", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(b.conversation("c_missing").await.unwrap().is_none());
    assert!(b.history("c_missing", 0, 10).await.unwrap().is_empty());
    assert!(b.summary("c_missing").await.unwrap().is_none());
    assert!(b
        .inbox(&shop(), None, 10)
        .await
        .unwrap()
        .items
        .iter()
        .all(|s| s.id != "c_missing"));
}

async fn visitors_tokens_contexts_and_conversations(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let ctx = Context {
        page: Some(Page {
            url: "https://shop.example/a".into(),
            title: "A".into(),
            ..Page::default()
        }),
        identity: Some(Identity {
            name: Some("Dana".into()),
            ..Identity::default()
        }),
        ..Context::default()
    };
    let v = b
        .create_visitor("shop", "tok-hash", ctx.clone())
        .await
        .unwrap();
    let found = b
        .visitor_by_token("shop", "tok-hash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id.as_str(), &found.context), (v.id.as_str(), &ctx));
    assert!(
        b.visitor_by_token("other-site", "tok-hash")
            .await
            .unwrap()
            .is_none(),
        "tokens are per site"
    );
    assert!(b.visitor_by_token("shop", "nope").await.unwrap().is_none());

    let c1 = b
        .open_conversation("shop", &v.id, 5, &Owner::Humans)
        .await
        .unwrap();
    let c2 = b
        .open_conversation("shop", &v.id, 6, &Owner::Humans)
        .await
        .unwrap();
    assert_eq!(c1.id, c2.id, "one open conversation per visitor");
    assert_eq!(
        (c1.site.as_str(), c1.visitor_id.as_str(), c1.last_seq),
        ("shop", v.id.as_str(), 0)
    );

    let mut moved = ctx.clone();
    moved.page.as_mut().unwrap().title = "B".into();
    b.set_context(&v.id, &moved).await.unwrap();
    assert_eq!(b.conversation_context(&c1.id).await.unwrap(), moved);
    b.append("shop", new_message(&c1.id, &v.id, "m1", "hello"))
        .await
        .unwrap();
    let s = b.summary(&c1.id).await.unwrap().unwrap();
    assert_eq!(
        (
            s.page_title.as_deref(),
            s.visitor_name.as_deref(),
            s.last_seq,
            s.last_message.unwrap().text.as_str()
        ),
        (Some("B"), Some("Dana"), 1, "hello")
    );
}

async fn appends_are_published_in_seq_order_to_every_node(backend: &impl Backend) {
    let (a, hub_a) = backend.open().await;
    let conv = conversation(&*a).await;
    let mut local = listen(&hub_a, &conv);
    // A second node on the same state hears it too. The embedded broker is one node by design,
    // so there the "second node" is the same one.
    let (b, remote) = if a.name() == "redis" {
        let (b, hub_b) = backend.open().await;
        let rx = listen(&hub_b, &conv);
        (b, Some(rx))
    } else {
        (a.clone(), None)
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut tasks = Vec::new();
    for (node, who) in [(a.clone(), "x"), (b.clone(), "y"), (a.clone(), "z")] {
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                node.append("shop", new_message(&conv, who, &format!("{who}{i}"), "hi"))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    a.publish(Event::new(
        Audience::Visitors,
        "shop",
        &conv,
        &ServerMsg::Pong { nonce: Some(1) },
    ))
    .await;

    let seqs = collect(&mut local, if a.name() == "redis" { 60 } else { 40 }).await;
    assert_in_order(&seqs);
    if let Some(mut remote) = remote {
        let seqs = collect(&mut remote, 60).await;
        assert_eq!(seqs.len(), 60, "the other node heard every append");
        assert_in_order(&seqs);
    }
}

/// Seqs of the `message` frames received until `n` of them or the pong marker arrived.
async fn collect(rx: &mut OutboxRx, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    while seqs.len() < n {
        let Ok(Some(Outgoing::Frame(f))) =
            tokio::time::timeout(Duration::from_secs(5), rx.recv()).await
        else {
            break;
        };
        match serde_json::from_str::<ServerMsg>(&f).unwrap() {
            ServerMsg::Message(m) => seqs.push(m.seq),
            ServerMsg::Pong { .. } => break,
            _ => {}
        }
    }
    seqs
}

fn assert_in_order(seqs: &[u64]) {
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "live frames out of order or with gaps: {seqs:?}"
    );
}

async fn inbox_lists_active_conversations_newest_first(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let mut convs = Vec::new();
    for i in 0..3 {
        let v = b
            .create_visitor("shop", &format!("inbox-{i}"), Context::default())
            .await
            .unwrap();
        convs.push(
            b.open_conversation("shop", &v.id, 1, &Owner::Humans)
                .await
                .unwrap()
                .id,
        );
    }
    // The third stays empty: no message, not in the inbox.
    b.append("shop", new_message(&convs[0], "v0", "a", "first"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    b.append("shop", new_message(&convs[1], "v1", "b", "second"))
        .await
        .unwrap();
    let inbox: Vec<String> = b
        .inbox(&shop(), None, 10)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(inbox, vec![convs[1].clone(), convs[0].clone()]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    b.append("shop", new_message(&convs[0], "v0", "c", "third"))
        .await
        .unwrap();
    let inbox: Vec<String> = b
        .inbox(&shop(), None, 10)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(inbox, vec![convs[0].clone(), convs[1].clone()]);
    assert_eq!(b.inbox(&shop(), None, 1).await.unwrap().items.len(), 1);
}

/// A conversation of `site` with one message sent at `at`.
async fn active_conversation(b: &dyn Broker, site: &str, token: &str, at: u64) -> String {
    let v = b
        .create_visitor(site, token, Context::default())
        .await
        .unwrap();
    let conv = b
        .open_conversation(site, &v.id, at, &Owner::Humans)
        .await
        .unwrap()
        .id;
    let mut msg = new_message(&conv, &v.id, token, "hello");
    msg.at = at;
    b.append(site, msg).await.unwrap();
    conv
}

/// A busy site must not push a quiet site's conversations out of its agents' inbox, and an
/// agent of several sites sees them merged by activity.
async fn inboxes_are_per_site(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let quiet = active_conversation(&*b, "quiet", "q-0", 1_000).await;
    let mut busy = Vec::new();
    for i in 0..5 {
        busy.push(active_conversation(&*b, "busy", &format!("b-{i}"), 2_000 + i).await);
    }
    let ids = |list: Vec<switchboard_protocol::ConversationSummary>| {
        list.into_iter().map(|s| s.id).collect::<Vec<_>>()
    };
    let one = |site: &str| vec![site.to_owned()];
    assert_eq!(
        ids(b.inbox(&one("quiet"), None, 3).await.unwrap().items),
        vec![quiet.clone()]
    );
    assert_eq!(
        ids(b.inbox(&one("busy"), None, 3).await.unwrap().items),
        vec![busy[4].clone(), busy[3].clone(), busy[2].clone()]
    );
    let both = vec!["quiet".to_owned(), "busy".to_owned()];
    assert_eq!(
        ids(b.inbox(&both, None, 2).await.unwrap().items),
        vec![busy[4].clone(), busy[3].clone()]
    );
    assert_eq!(
        ids(b.inbox(&both, None, 10).await.unwrap().items).last(),
        Some(&quiet)
    );
    // The quiet site speaks again: it leads the merged list.
    let mut again = new_message(&quiet, "v", "q-1", "still there?");
    again.at = 3_000;
    b.append("quiet", again).await.unwrap();
    assert_eq!(
        ids(b.inbox(&both, None, 1).await.unwrap().items),
        vec![quiet]
    );
    assert!(b
        .inbox(&one("nobody"), None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(b.inbox(&[], None, 10).await.unwrap().items.is_empty());
}

/// Paging walks the inbox in one order, (last activity, id) descending, across sites and
/// through ties: every quiet conversation comes exactly once, and `next` is set exactly when
/// older conversations exist.
async fn inbox_pages_by_activity_then_id_without_skips_or_repeats(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let sites = vec!["shop".to_owned(), "side".to_owned()];
    let mut expected = Vec::new();
    // Four at the same millisecond, on two sites, so pages end inside a tie.
    for (i, (site, at)) in [
        ("shop", 1_000),
        ("shop", 2_000),
        ("shop", 2_000),
        ("side", 2_000),
        ("shop", 2_000),
        ("side", 1_500),
        ("shop", 3_000),
    ]
    .into_iter()
    .enumerate()
    {
        let id = active_conversation(&*b, site, &format!("page-{i}"), at).await;
        expected.push((at, id));
    }
    // Opened but silent: in no page.
    let v = b
        .create_visitor("shop", "page-silent", Context::default())
        .await
        .unwrap();
    b.open_conversation("shop", &v.id, 5_000, &Owner::Humans)
        .await
        .unwrap();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    for limit in [1, 2, 3, 6, 7, 8] {
        let (mut seen, mut before) = (Vec::new(), None);
        loop {
            let page = b.inbox(&sites, before.as_ref(), limit).await.unwrap();
            assert!(page.items.len() <= limit);
            seen.extend(page.items.iter().map(|s| s.id.clone()));
            let Some(next) = page.next else { break };
            let last = page.items.last().expect("a page with more is not empty");
            assert_eq!(
                (next.last_activity, &next.id),
                (last.last_activity, &last.id)
            );
            before = Some(next);
        }
        assert_eq!(seen, expected, "pages of {limit}");
    }

    // A conversation that becomes active while an agent pages moves to the top (the agent
    // hears of it live); the quiet ones still come exactly once.
    let first = b.inbox(&sites, None, 3).await.unwrap();
    let mut seen: Vec<String> = first.items.iter().map(|s| s.id.clone()).collect();
    let woken = expected[5].clone();
    let mut again = new_message(&woken, "v", "page-wake", "back again");
    again.at = 4_000;
    let site = b.conversation(&woken).await.unwrap().unwrap().site;
    b.append(&site, again).await.unwrap();
    let mut before = first.next;
    while let Some(cursor) = before {
        let page = b.inbox(&sites, Some(&cursor), 3).await.unwrap();
        seen.extend(page.items.iter().map(|s| s.id.clone()));
        before = page.next;
    }
    let quiet: Vec<String> = expected
        .iter()
        .filter(|id| **id != woken)
        .cloned()
        .collect();
    assert_eq!(seen, quiet);
    assert_eq!(b.inbox(&sites, None, 1).await.unwrap().items[0].id, woken);

    // A cursor past everything, or naming no stored conversation, is just a position.
    let nothing = InboxCursor {
        last_activity: 1,
        id: "c_none".into(),
    };
    let page = b.inbox(&sites, Some(&nothing), 10).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
    let everything = InboxCursor {
        last_activity: 9_999,
        id: "c_none".into(),
    };
    assert_eq!(
        b.inbox(&sites, Some(&everything), 10)
            .await
            .unwrap()
            .items
            .len(),
        expected.len()
    );
}

/// Presence claims are scored by expiry; a node that crashed never withdraws its claim, so
/// renewals drop expired ones (readers already ignore them: this keeps the set from growing
/// by one entry per crashed node).
#[tokio::test]
async fn presence_renewal_drops_claims_that_expired() {
    let redis = Redis(crate::redis_server::RedisServer::start().await);
    let (broker, _) = redis.open().await;
    let now = switchboard_relay::clock::now();
    broker
        .set_presence("shop", "crashed", Some(now - 1))
        .await
        .unwrap();
    broker
        .set_presence("shop", "other", Some(now + 60_000))
        .await
        .unwrap();
    assert!(broker.present_elsewhere("shop", "me", now).await.unwrap());
    broker
        .set_presence("shop", "me", Some(now + 60_000))
        .await
        .unwrap();
    let mut c = redis::Client::open(redis.0.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let left: Vec<String> = redis::AsyncCommands::zrange(&mut c, "sb:presence:{shop}", 0, -1)
        .await
        .unwrap();
    assert_eq!(left, ["me", "other"]);
    broker.set_presence("shop", "other", None).await.unwrap();
    assert!(!broker.present_elsewhere("shop", "me", now).await.unwrap());
}

/// The embedded store's writer never checkpoints (that stalled every message behind it); its
/// own thread does. Without that thread the database file would never grow: every page would
/// stay in the WAL.
#[tokio::test]
async fn sqlite_checkpoints_the_wal_into_the_database_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Sqlite(dir);
    let (b, _) = sqlite.open().await;
    let db = sqlite.0.path().join("switchboard.db");
    let size = || std::fs::metadata(&db).unwrap().len();
    tokio::time::sleep(switchboard_relay::broker::sqlite::CHECKPOINT_EVERY * 2).await;
    let before = size();
    let conv = conversation(&*b).await;
    for i in 0..300 {
        let text = "x".repeat(500);
        b.append("shop", new_message(&conv, "v", &format!("c{i}"), &text))
            .await
            .unwrap();
    }
    tokio::time::sleep(switchboard_relay::broker::sqlite::CHECKPOINT_EVERY * 2).await;
    assert!(
        size() > before + 100_000,
        "database file {} bytes, {before} before 150 KB of messages",
        size()
    );
}

fn change(by: &str, what: Lifecycle) -> Change {
    Change {
        by: by.into(),
        at: switchboard_relay::clock::now(),
        what,
    }
}

fn agent_message(conv: &str, client_id: &str, text: &str) -> NewMessage {
    let mut msg = new_message(conv, "alex", client_id, text);
    msg.sender.kind = SenderKind::Agent;
    msg
}

fn assign(to: &str) -> Lifecycle {
    Lifecycle::Assign(Some(to.into()))
}

/// The conversation's stored lifecycle state and last seq, read back.
async fn stored_state(b: &dyn Broker, conv: &str) -> (State, u64) {
    let c = b.conversation(conv).await.unwrap().unwrap();
    (c.state, c.last_seq)
}

/// Every entry of the log: `Ok(event)` for system messages, `Err(text)` for chat messages,
/// after checking that seqs run 1, 2, 3, ... with no gap.
async fn log(b: &dyn Broker, conv: &str) -> Vec<Result<SystemEvent, String>> {
    let h = b.history(conv, 0, 1000).await.unwrap();
    assert_eq!(
        h.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=h.len() as u64).collect::<Vec<_>>()
    );
    h.into_iter()
        .map(|m| match (m.sender.kind, m.event) {
            (SenderKind::System, Some(e)) => Ok(*e),
            (_, None) => Err(m.text),
            (kind, e) => panic!("{kind:?} message with event {e:?}"),
        })
        .collect()
}

async fn lifecycle_changes_are_compare_and_set_and_logged_in_seq_order(backend: &impl Backend) {
    let (b, hub) = backend.open().await;
    let conv = conversation(&*b).await;
    let mut live = listen(&hub, &conv);
    b.append("shop", new_message(&conv, "v", "m1", "help"))
        .await
        .unwrap();
    assert_eq!(stored_state(&*b, &conv).await.0, State::default());

    let done = b
        .change(&conv, 0, change("alex", assign("alex")))
        .await
        .unwrap();
    assert_eq!(done.message.seq, 2);
    assert_eq!(
        (done.state.assignee.as_deref(), done.state.version),
        (Some("alex"), 1)
    );
    assert_eq!(stored_state(&*b, &conv).await, (done.state.clone(), 2));

    // A change made on version 0 after the assignment: refused with the current state,
    // nothing stored, nothing published.
    let err = b
        .change(&conv, 0, change("olga", assign("olga")))
        .await
        .unwrap_err();
    match err {
        StoreError::Conflict(current) => assert_eq!(*current, done.state),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(stored_state(&*b, &conv).await, (done.state.clone(), 2));
    // A change that would change nothing is refused the same way.
    let err = b
        .change(&conv, 1, change("alex", assign("alex")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(stored_state(&*b, &conv).await, (done.state.clone(), 2));

    b.append("shop", agent_message(&conv, "a1", "on it"))
        .await
        .unwrap();
    let transfer = Lifecycle::Transfer {
        to_agent: None,
        to_team: Some("billing".into()),
        note: Some("refund over the limit".into()),
    };
    let at = switchboard_relay::clock::now();
    let until = at + 3_600_000;
    let steps = [
        transfer,
        Lifecycle::Priority(Priority::Urgent),
        assign("bea"),
        Lifecycle::Status(Status::Pending),
        Lifecycle::Status(Status::Snoozed { until }),
        Lifecycle::Status(Status::Resolved),
        Lifecycle::Status(Status::Open),
        Lifecycle::Assign(None),
    ];
    for (i, what) in steps.into_iter().enumerate() {
        let done = b
            .change(&conv, 1 + i as u64, change("alex", what))
            .await
            .unwrap();
        assert_eq!(done.state.version, 2 + i as u64);
        assert_eq!(stored_state(&*b, &conv).await.0, done.state);
    }
    let (state, last_seq) = stored_state(&*b, &conv).await;
    assert_eq!(
        state,
        State {
            status: Status::Open,
            assignee: None,
            team: Some("billing".into()),
            priority: Priority::Urgent,
            note: Some("refund over the limit".into()),
            version: 9,
        }
    );
    assert_eq!(last_seq, 11);
    let by = || "alex".to_string();
    assert_eq!(
        log(&*b, &conv).await,
        vec![
            Err("help".into()),
            Ok(SystemEvent::Assigned {
                agent: "alex".into(),
                by: by()
            }),
            Err("on it".into()),
            Ok(SystemEvent::Transferred {
                from: Some("alex".into()),
                to_agent: None,
                to_team: Some("billing".into()),
                by: by()
            }),
            Ok(SystemEvent::Priority {
                priority: Priority::Urgent,
                by: by()
            }),
            Ok(SystemEvent::Assigned {
                agent: "bea".into(),
                by: by()
            }),
            Ok(SystemEvent::Pending { by: by() }),
            Ok(SystemEvent::Snoozed { until, by: by() }),
            Ok(SystemEvent::Resolved { by: by() }),
            Ok(SystemEvent::Reopened { by: Some(by()) }),
            Ok(SystemEvent::Unassigned { by: by() }),
        ]
    );
    // The inbox line carries the state and the version to send back.
    let line = b.summary(&conv).await.unwrap().unwrap();
    assert_eq!(
        (
            line.status,
            line.assignee,
            line.team.as_deref(),
            line.priority,
            line.note.as_deref(),
            line.version
        ),
        (
            Status::Open,
            None,
            Some("billing"),
            Priority::Urgent,
            Some("refund over the limit"),
            9
        )
    );
    assert_eq!(
        b.inbox(&shop(), None, 10).await.unwrap().items[0].version,
        9
    );
    // Live, every change left in seq order with the messages.
    b.publish(Event::new(
        Audience::Visitors,
        "shop",
        &conv,
        &ServerMsg::Pong { nonce: Some(1) },
    ))
    .await;
    assert_eq!(collect(&mut live, 11).await, (1..=11).collect::<Vec<_>>());

    let missing = b
        .change("c_missing", 0, change("alex", assign("alex")))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing:?}");
}

/// Twenty agents (on two nodes, with Redis) take the same conversation at once, while the
/// visitor keeps writing: exactly one assignment lands, the others are conflicts, and the log
/// has no gap.
async fn concurrent_changes_on_one_version_exactly_one_wins(backend: &impl Backend) {
    let (a, hub_a) = backend.open().await;
    let (b, hub_b) = if a.name() == "redis" {
        backend.open().await
    } else {
        (a.clone(), hub_a.clone())
    };
    let conv = conversation(&*a).await;
    // Every node hears the event with the messages, in seq order.
    let mut live = listen(&hub_b, &conv);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            let agent = format!("agent-{i}");
            let visitor = async {
                node.append("shop", new_message(&conv, "v", &format!("m{i}"), "hi"))
                    .await
                    .unwrap()
            };
            let assigned = node.change(&conv, 0, change(&agent, assign(&agent)));
            let (_, assigned) = tokio::join!(visitor, assigned);
            (agent, assigned)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (agent, result) = t.await.unwrap();
        match result {
            Ok(done) => winners.push((agent, done)),
            Err(StoreError::Conflict(current)) => assert_eq!(current.version, 1),
            Err(other) => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one assignment lands");
    let (winner, done) = &winners[0];
    let (state, last_seq) = stored_state(&*a, &conv).await;
    assert_eq!(
        (state.assignee.as_deref(), state.version, last_seq),
        (Some(winner.as_str()), 1, 21)
    );
    assert_eq!(state, done.state);
    let events: Vec<SystemEvent> = log(&*b, &conv).await.into_iter().flatten().collect();
    assert_eq!(
        events,
        vec![SystemEvent::Assigned {
            agent: winner.clone(),
            by: winner.clone()
        }]
    );
    a.publish(Event::new(
        Audience::Visitors,
        "shop",
        &conv,
        &ServerMsg::Pong { nonce: Some(1) },
    ))
    .await;
    assert_eq!(collect(&mut live, 21).await, (1..=21).collect::<Vec<_>>());
}

/// Ten agents (on two nodes, with Redis) make five changes each, starting from a stale version
/// and retrying with the version each conflict reports: every change lands exactly once, the
/// version counts them, and the log holds one event per change with no gap.
async fn changes_retried_on_conflict_are_never_lost(backend: &impl Backend) {
    let (a, _) = backend.open().await;
    let (b, _) = if a.name() == "redis" {
        backend.open().await
    } else {
        (a.clone(), Arc::new(Hub::default()))
    };
    let conv = conversation(&*a).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let node = if i % 2 == 0 { a.clone() } else { b.clone() };
        let conv = conv.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..5 {
                // A distinct assignee each time, so no change is ever a no-op.
                let agent = format!("agent-{i}-{j}");
                let mut version = 0;
                loop {
                    match node
                        .change(&conv, version, change("ada", assign(&agent)))
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::Conflict(current)) => version = current.version,
                        Err(other) => panic!("{other:?}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (state, last_seq) = stored_state(&*a, &conv).await;
    assert_eq!((state.version, last_seq), (50, 50));
    let mut assigned: Vec<String> = log(&*b, &conv)
        .await
        .into_iter()
        .map(|e| match e {
            Ok(SystemEvent::Assigned { agent, .. }) => agent,
            other => panic!("unexpected log entry {other:?}"),
        })
        .collect();
    assert_eq!(state.assignee.as_ref(), assigned.last());
    assigned.sort();
    let mut expected: Vec<String> = (0..10)
        .flat_map(|i| (0..5).map(move |j| format!("agent-{i}-{j}")))
        .collect();
    expected.sort();
    assert_eq!(assigned, expected, "every change landed exactly once");
}

async fn a_visitor_message_reopens_in_the_same_step(backend: &impl Backend) {
    let (b, hub) = backend.open().await;
    let conv = conversation(&*b).await;
    let mut live = listen(&hub, &conv);
    b.append("shop", new_message(&conv, "v", "m1", "hi"))
        .await
        .unwrap();
    b.change(
        &conv,
        0,
        change("alex", Lifecycle::Status(Status::Resolved)),
    )
    .await
    .unwrap();
    // An agent's message does not reopen.
    let agent = b
        .append("shop", agent_message(&conv, "a1", "bye"))
        .await
        .unwrap();
    assert!(agent.reopened.is_none());
    assert_eq!(stored_state(&*b, &conv).await.0.status, Status::Resolved);

    let back = b
        .append("shop", new_message(&conv, "v", "m2", "one more thing"))
        .await
        .unwrap();
    let reopened = back.reopened.expect("the visitor's message reopens");
    assert_eq!(
        (
            reopened.seq,
            back.message.seq,
            reopened.event.as_deref().cloned()
        ),
        (4, 5, Some(SystemEvent::Reopened { by: None }))
    );
    let (state, last_seq) = stored_state(&*b, &conv).await;
    assert_eq!(
        (state.status, state.version, last_seq),
        (Status::Open, 2, 5)
    );
    // A resend is a duplicate: it reopens nothing again.
    let again = b
        .append("shop", new_message(&conv, "v", "m2", "one more thing"))
        .await
        .unwrap();
    assert!(again.duplicate && again.reopened.is_none());
    // A change based on the state before the visitor came back is stale.
    let stale = b
        .change(&conv, 1, change("alex", Lifecycle::Status(Status::Pending)))
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Conflict(_)), "{stale:?}");

    // Pending (waiting on the visitor) and snoozed end the same way.
    for (i, status) in [
        Status::Pending,
        Status::Snoozed {
            until: switchboard_relay::clock::now() + 3_600_000,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let version = stored_state(&*b, &conv).await.0.version;
        b.change(&conv, version, change("alex", Lifecycle::Status(status)))
            .await
            .unwrap();
        let back = b
            .append("shop", new_message(&conv, "v", &format!("w{i}"), "hello?"))
            .await
            .unwrap();
        assert!(back.reopened.is_some(), "{status:?}");
        assert_eq!(stored_state(&*b, &conv).await.0.status, Status::Open);
    }
    assert_eq!(
        log(&*b, &conv)
            .await
            .into_iter()
            .map(|e| match e {
                Ok(SystemEvent::Reopened { by: None }) => "reopened",
                Ok(_) => "change",
                Err(_) => "message",
            })
            .collect::<Vec<_>>(),
        [
            "message", "change", "message", "reopened", "message", "change", "reopened", "message",
            "change", "reopened", "message"
        ]
    );
    b.publish(Event::new(
        Audience::Visitors,
        "shop",
        &conv,
        &ServerMsg::Pong { nonce: Some(1) },
    ))
    .await;
    assert_eq!(collect(&mut live, 11).await, (1..=11).collect::<Vec<_>>());
}

/// Snoozed until a time: the inbox line reads open once it has passed (evaluated on read);
/// the stored state keeps the snooze until the next change or the visitor's next message.
async fn a_snooze_ends_on_read_once_its_time_has_passed(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let conv = conversation(&*b).await;
    b.append("shop", new_message(&conv, "v", "m1", "hi"))
        .await
        .unwrap();
    let until = switchboard_relay::clock::now() + 300;
    b.change(
        &conv,
        0,
        change("alex", Lifecycle::Status(Status::Snoozed { until })),
    )
    .await
    .unwrap();
    assert_eq!(
        b.summary(&conv).await.unwrap().unwrap().status,
        Status::Snoozed { until }
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        b.summary(&conv).await.unwrap().unwrap().status,
        Status::Open
    );
    let refused = b
        .change(&conv, 1, change("alex", Lifecycle::Status(Status::Open)))
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Invalid(_)), "{refused:?}");
    let done = b
        .change(
            &conv,
            1,
            change("alex", Lifecycle::Status(Status::Resolved)),
        )
        .await
        .unwrap();
    assert_eq!(done.state.status, Status::Resolved);
}

/// The session announces a visitor's and a conversation's ids in `welcome` and stores them at
/// the first message; a retry (after a timeout, or a second tab racing) stores each once,
/// with the latest context, and a token resolves to that visitor.
async fn creations_under_chosen_ids_are_idempotent_and_counted(backend: &impl Backend) {
    let (b, _hub) = backend.open().await;
    assert_eq!(b.stored_counts("shop").await.unwrap(), (0, 0));
    let latest = Context {
        identity: Some(Identity {
            name: Some("Ada".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    for ctx in [Context::default(), latest.clone()] {
        let v = b
            .create_visitor_with_id("shop", "chosen-hash", "v_chosen", ctx.clone())
            .await
            .unwrap();
        assert_eq!(v.id, "v_chosen");
        let c = b
            .open_conversation_with_id("shop", "v_chosen", "c_chosen", 7, &Owner::Humans)
            .await
            .unwrap();
        assert_eq!(c.id, "c_chosen");
        assert_eq!(c.visitor_id, "v_chosen");
    }
    assert_eq!(b.stored_counts("shop").await.unwrap(), (1, 1));
    assert_eq!(b.stored_counts("other").await.unwrap(), (0, 0));
    let found = b
        .visitor_by_token("shop", "chosen-hash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, "v_chosen");
    assert_eq!(found.context, latest);
    assert_eq!(b.conversation_context("c_chosen").await.unwrap(), latest);
    // Once a conversation is open, another chosen id finds that one rather than a second.
    let again = b
        .open_conversation_with_id("shop", "v_chosen", "c_other", 8, &Owner::Humans)
        .await
        .unwrap();
    assert_eq!(again.id, "c_chosen");
    assert_eq!(b.stored_counts("shop").await.unwrap(), (1, 1));
}

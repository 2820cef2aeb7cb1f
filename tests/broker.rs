//! One conformance suite for the broker seam, run against every implementation (the embedded
//! SQLite broker and the Redis broker on a real `redis-server`), in the style of centrifuge's
//! shared broker tests: each behaviour is written once and takes a factory.

use std::sync::Arc;
use std::time::Duration;

use switchboard_protocol::context::{Identity, Page};
use switchboard_protocol::csat::Scale;
use switchboard_protocol::limits::MAX_PAGE_TRAIL;
use switchboard_protocol::{
    Context, InboxCursor, Owner, PageVisit, Priority, ReadSide, Sender, SenderKind, ServerMsg,
    Status, SystemEvent,
};
use switchboard_relay::broker::redis::RedisBroker;
use switchboard_relay::broker::sqlite::SqliteBroker;
use switchboard_relay::broker::{
    Audience, Broker, CannedPut, Change, Event, Lifecycle, NewMessage, ReadMark, State, StoreError,
    REPLY_SAMPLES,
};
use switchboard_relay::hub::Hub;
use switchboard_relay::outbox::{Outbox, OutboxRx, Outgoing};

use crate::redis_server::RedisServer;

/// A broker implementation under test: `open` gives a node (broker + its hub) on the same
/// shared state, so a second `open` is a second relay node, or the same node after a restart.
trait Backend {
    async fn open(&self) -> (Arc<dyn Broker>, Arc<Hub>);
    /// Every stored key or row that mentions one of `needles` (in its name or its content),
    /// read from the store itself rather than through the broker.
    async fn mentions(&self, needles: &[String]) -> Vec<String>;
}

fn mentioned(text: &str, needles: &[String]) -> bool {
    needles.iter().any(|n| text.contains(n.as_str()))
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

    async fn mentions(&self, needles: &[String]) -> Vec<String> {
        let db = rusqlite::Connection::open(self.0.path().join("switchboard.db")).unwrap();
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(tables.iter().any(|t| t == "messages"), "{tables:?}");
        let mut found = Vec::new();
        for table in tables {
            let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let columns = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let text = (0..columns)
                    .map(|i| match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|");
                if mentioned(&text, needles) {
                    found.push(format!("{table}: {text}"));
                }
            }
        }
        found
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

    async fn mentions(&self, needles: &[String]) -> Vec<String> {
        let client = redis::Client::open(self.0.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .unwrap();
            keys.extend(page);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!(!keys.is_empty(), "the store holds something to search");
        let mut found = Vec::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            let content: Vec<String> = match kind.as_str() {
                "string" => vec![redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap()],
                "hash" => redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap(),
                "set" => redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut c)
                    .await
                    .unwrap(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
                    .unwrap(),
                "stream" => {
                    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                        .arg(&key)
                        .arg("-")
                        .arg("+")
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    entries
                        .into_iter()
                        .flat_map(|(_, f)| f)
                        .map(|(k, v)| k + &v)
                        .collect()
                }
                other => vec![format!("(a {other})")],
            };
            let content = content.join("|");
            if mentioned(&key, needles) || mentioned(&content, needles) {
                found.push(format!("{key}: {content}"));
            }
        }
        found
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
conformance!(an_export_holds_every_message_the_lifecycle_and_the_context);
conformance!(deleting_a_visitor_leaves_nothing_of_it_and_keeps_the_others);
conformance!(purge_removes_exactly_what_is_older_than_the_cutoff_in_bounded_rounds);
conformance!(bot_events_queue_in_order_bounded_and_deleted_once_taken);
conformance!(bot_queue_overflow_mark_and_delivery_lease);
conformance!(site_webhook_logs_are_bounded_and_cursors_only_move_forward);
conformance!(a_queued_conversation_is_created_in_its_team);
conformance!(agent_presence_is_the_most_available_live_claim);
conformance!(one_node_at_a_time_holds_a_sites_assignment_lease);
conformance!(creations_under_chosen_ids_are_idempotent_and_counted);
conformance!(first_replies_are_measured_once_per_conversation_in_a_window_per_site);
conformance!(visitors_get_agent_only_events_without_the_event);
conformance!(a_note_takes_the_next_seq_and_reaches_visitors_bare);
conformance!(agent_sessions_live_until_they_expire_or_are_revoked_on_every_node);
conformance!(a_block_hides_the_conversation_refuses_the_visitor_on_every_node);
conformance!(blocks_are_per_site_end_at_their_time_and_lift);
conformance!(canned_replies_are_per_site_bounded_unique_and_seeded_once);
conformance!(a_rating_is_logged_once_per_resolution_in_seq_order);
conformance!(read_marks_only_move_forward_within_the_log_and_change_nothing_else);
conformance!(the_page_trail_keeps_the_last_pages_without_repeats);
conformance!(kpi_facts_follow_the_log_and_outlive_deletion_unlinked);

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
        names: Default::default(),
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
            blocked: false,
            rated: false,
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
                by: by(),
                agent_name: None,
            }),
            Err("on it".into()),
            Ok(SystemEvent::Transferred {
                from: Some("alex".into()),
                to_agent: None,
                to_team: Some("billing".into()),
                by: by(),
                to_agent_name: None,
                to_team_name: None,
            }),
            Ok(SystemEvent::Priority {
                priority: Priority::Urgent,
                by: by()
            }),
            Ok(SystemEvent::Assigned {
                agent: "bea".into(),
                by: by(),
                agent_name: None,
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
            by: winner.clone(),
            agent_name: None,
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

fn rate(score: u8, scale: Scale, comment: Option<&str>) -> Lifecycle {
    Lifecycle::Rate {
        score,
        scale,
        comment: comment.map(Into::into),
    }
}

/// CSAT: a rating is a `rated` event in the log (seq order, published whole to visitors and
/// agents), once per resolution; a reopen and a new resolve allow the next one; what is stored
/// reads the same from another node.
async fn a_rating_is_logged_once_per_resolution_in_seq_order(backend: &impl Backend) {
    let (b, hub) = backend.open().await;
    let conv = conversation(&*b).await;
    let mut live = listen(&hub, &conv);
    b.append("shop", new_message(&conv, "v", "m1", "help"))
        .await
        .unwrap();
    let early = b
        .change(&conv, 0, change("v", rate(5, Scale::Five, None)))
        .await
        .unwrap_err();
    assert!(matches!(early, StoreError::Invalid(_)), "{early:?}");
    b.change(
        &conv,
        0,
        change("alex", Lifecycle::Status(Status::Resolved)),
    )
    .await
    .unwrap();
    let rated = b
        .change(
            &conv,
            1,
            change("v", rate(4, Scale::Five, Some("quick 👍"))),
        )
        .await
        .unwrap();
    assert!(rated.state.rated);
    assert_eq!(rated.message.seq, 3);
    let (state, last) = stored_state(&*b, &conv).await;
    assert_eq!((state.rated, state.version, last), (true, 2, 3));
    // Twice for one resolution: refused, nothing stored.
    let twice = b
        .change(&conv, 2, change("v", rate(1, Scale::Five, None)))
        .await
        .unwrap_err();
    assert!(matches!(twice, StoreError::Invalid(_)), "{twice:?}");
    assert_eq!(stored_state(&*b, &conv).await.1, 3);
    // Reopened by the visitor: nothing to rate until it is resolved again.
    b.append("shop", new_message(&conv, "v", "m2", "one more thing"))
        .await
        .unwrap();
    let open = stored_state(&*b, &conv).await.0;
    assert!(b
        .change(&conv, open.version, change("v", rate(2, Scale::Five, None)))
        .await
        .is_err());
    b.change(
        &conv,
        open.version,
        change("alex", Lifecycle::Status(Status::Resolved)),
    )
    .await
    .unwrap();
    // Visitors get their rating whole, in seq order with everything else.
    assert_eq!(collect(&mut live, 6).await, (1..=6).collect::<Vec<_>>());
    // Another node (or this one after a restart) reads the new resolution as not rated, and
    // stores its rating.
    let (other, _) = backend.open().await;
    let again = stored_state(&*other, &conv).await.0;
    assert!(!again.rated);
    other
        .change(
            &conv,
            again.version,
            change("v", rate(0, Scale::Thumbs, None)),
        )
        .await
        .unwrap();
    assert!(stored_state(&*b, &conv).await.0.rated);
    let events: Vec<_> = log(&*b, &conv)
        .await
        .into_iter()
        .filter_map(|e| match e {
            Ok(e @ SystemEvent::Rated { .. }) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(
        events,
        [
            SystemEvent::Rated {
                score: 4,
                scale: Scale::Five,
                comment: Some("quick 👍".into())
            },
            SystemEvent::Rated {
                score: 0,
                scale: Scale::Thumbs,
                comment: None
            }
        ]
    );
    assert_eq!(stored_state(&*b, &conv).await.1, 7);
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

/// A visitor with a context, a conversation opened at `at`, `messages` visitor messages at
/// `at` and one assignment; returns (visitor id, conversation id).
async fn chatted(
    b: &dyn Broker,
    site: &str,
    token_hash: &str,
    at: u64,
    messages: usize,
) -> (String, String) {
    // Names and client ids without the token hash, so a search for it finds only the token.
    let label = token_hash.trim_start_matches("hash-");
    let context = Context {
        identity: Some(Identity {
            name: Some(format!("Name of {label}")),
            email: Some(format!("{label}@mail.example")),
            ..Identity::default()
        }),
        ..Context::default()
    };
    let v = b.create_visitor(site, token_hash, context).await.unwrap();
    let conv = b
        .open_conversation(site, &v.id, at, &Owner::Humans)
        .await
        .unwrap();
    for i in 0..messages {
        let mut m = new_message(
            &conv.id,
            &v.id,
            &format!("{label}-{i}"),
            &format!("text {i}"),
        );
        m.at = at;
        b.append(site, m).await.unwrap();
    }
    let mut assign = change("alex", Lifecycle::Assign(Some("alex".into())));
    assign.at = at;
    let version = b
        .conversation(&conv.id)
        .await
        .unwrap()
        .unwrap()
        .state
        .version;
    b.change(&conv.id, version, assign).await.unwrap();
    (v.id, conv.id)
}

async fn an_export_holds_every_message_the_lifecycle_and_the_context(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    // Past one export page (500), so paging is exercised.
    let (visitor, conv) = chatted(&*b, "shop", "hash-export", 1_000, 520).await;
    let (_, other_conv) = chatted(&*b, "shop", "hash-bystander", 1_000, 2).await;
    let export = b.export_visitor(&visitor).await.unwrap().expect("stored");
    assert_eq!(export.visitor.id, visitor);
    assert_eq!(export.visitor.site, "shop");
    assert!(export.visitor.created_at > 0);
    let identity = export.visitor.context.identity.as_ref().unwrap();
    assert_eq!(identity.email.as_deref(), Some("export@mail.example"));
    assert_eq!(export.conversations.len(), 1, "not the bystander's");
    let c = &export.conversations[0];
    assert_eq!(c.summary.id, conv);
    assert_eq!(c.summary.assignee.as_deref(), Some("alex"));
    assert_eq!(c.summary.version, 1);
    assert_eq!(
        c.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=521).collect::<Vec<u64>>()
    );
    assert_eq!(c.messages[519].text, "text 519");
    assert!(matches!(
        c.messages[520].event.as_deref(),
        Some(SystemEvent::Assigned { .. })
    ));
    // The JSON the admin API sends: the inbox fields flattened beside the messages.
    let json = serde_json::to_value(&export).unwrap();
    assert_eq!(json["conversations"][0]["id"], conv.as_str());
    assert_eq!(
        json["conversations"][0]["messages"]
            .as_array()
            .unwrap()
            .len(),
        521
    );
    assert_eq!(
        json["visitor"]["context"]["identity"]["name"],
        "Name of export"
    );
    assert!(!json.to_string().contains(&other_conv));
    assert!(
        !json.to_string().contains("hash-export"),
        "no token hash in the export"
    );
    assert!(b
        .export_visitor("v_0000000000000000")
        .await
        .unwrap()
        .is_none());
}

async fn deleting_a_visitor_leaves_nothing_of_it_and_keeps_the_others(backend: &impl Backend) {
    let (b, hub) = backend.open().await;
    let (victim, conv) = chatted(&*b, "shop", "hash-victim", 1_000, 5).await;
    let (kept, kept_conv) = chatted(&*b, "shop", "hash-kept", 2_000, 3).await;
    let needles = vec![
        victim.clone(),
        conv.clone(),
        "hash-victim".to_owned(),
        "victim@mail.example".to_owned(),
    ];
    assert!(
        backend.mentions(&needles).await.len() >= 3,
        "the search finds what is stored"
    );
    let deleted = b.delete_visitor(&victim).await.unwrap();
    assert_eq!(deleted, Some(vec![conv.clone()]));
    assert_eq!(backend.mentions(&needles).await, Vec::<String>::new());
    assert!(b
        .visitor_by_token("shop", "hash-victim")
        .await
        .unwrap()
        .is_none());
    assert!(b.conversation(&conv).await.unwrap().is_none());
    assert!(b.history(&conv, 0, 100).await.unwrap().is_empty());
    assert!(b.export_visitor(&victim).await.unwrap().is_none());
    // A resend to the deleted conversation stores nothing and brings nothing back.
    let resend = b
        .append("shop", new_message(&conv, &victim, "victim-0", "again"))
        .await;
    assert!(matches!(resend, Err(StoreError::NotFound(_))), "{resend:?}");
    assert_eq!(backend.mentions(&needles).await, Vec::<String>::new());
    assert_eq!(b.delete_visitor(&victim).await.unwrap(), None);
    // The other visitor is whole.
    let inbox = b.inbox(&shop(), None, 10).await.unwrap();
    assert_eq!(
        inbox
            .items
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        [kept_conv.as_str()]
    );
    let export = b.export_visitor(&kept).await.unwrap().unwrap();
    assert_eq!(export.conversations[0].messages.len(), 4);
    assert!(b
        .visitor_by_token("shop", "hash-kept")
        .await
        .unwrap()
        .is_some());
    // A restarted node (or another) sees the same.
    let (b2, _) = backend.open().await;
    assert!(b2.conversation(&conv).await.unwrap().is_none());
    drop(hub);
}

async fn purge_removes_exactly_what_is_older_than_the_cutoff_in_bounded_rounds(
    backend: &impl Backend,
) {
    let (b, _) = backend.open().await;
    let now = switchboard_relay::clock::now();
    const DAY: u64 = 86_400_000;
    // Visitors are created at the wall clock's now, so the cutoff is set an hour after it
    // and "recent" activity is put two hours after it.
    let cutoff = now + DAY / 24;
    let recent = now + 2 * DAY / 24;
    let mut old = Vec::new();
    for i in 0..3 {
        old.push(chatted(&*b, "shop", &format!("hash-old-{i}"), now - 10 * DAY, 3).await);
    }
    let (recent_visitor, recent_conv) = chatted(&*b, "shop", "hash-recent", recent, 3).await;
    // Only visited, never chatted (no conversation at all).
    let idle = b
        .create_visitor("shop", "hash-idle", Context::default())
        .await
        .unwrap();
    // Another site's old data is that site's retention's business.
    let (other_visitor, other_conv) = chatted(&*b, "other", "hash-other", now - 10 * DAY, 2).await;

    let first = b.purge("shop", cutoff, 2).await.unwrap();
    assert!(
        !first.conversations.is_empty() && first.visitors <= 2,
        "{first:?}"
    );
    let (mut conversations, mut visitors) = (first.conversations, first.visitors);
    let mut rounds = 1;
    loop {
        let p = b.purge("shop", cutoff, 2).await.unwrap();
        if p.conversations.is_empty() && p.visitors == 0 {
            break;
        }
        conversations.extend(p.conversations);
        visitors += p.visitors;
        rounds += 1;
        assert!(rounds < 20, "purge rounds end");
    }
    assert!(rounds >= 2, "a batch of 2 takes more than one round");
    conversations.sort();
    let mut expected: Vec<String> = old.iter().map(|(_, c)| c.clone()).collect();
    expected.sort();
    assert_eq!((conversations, visitors), (expected, 4));

    let mut needles = vec![idle.id.clone(), "hash-idle".to_owned()];
    for (i, (v, c)) in old.iter().enumerate() {
        needles.extend([v.clone(), c.clone(), format!("hash-old-{i}")]);
        assert!(b.conversation(c).await.unwrap().is_none());
    }
    assert_eq!(backend.mentions(&needles).await, Vec::<String>::new());
    let inbox = b.inbox(&shop(), None, 10).await.unwrap();
    assert_eq!(
        inbox
            .items
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        [recent_conv.as_str()]
    );
    let export = b.export_visitor(&recent_visitor).await.unwrap().unwrap();
    assert_eq!(export.conversations[0].messages.len(), 4);
    let export = b.export_visitor(&other_visitor).await.unwrap().unwrap();
    assert_eq!(export.conversations[0].summary.id, other_conv);
    assert!(b
        .visitor_by_token("shop", "hash-recent")
        .await
        .unwrap()
        .is_some());
    assert!(b
        .visitor_by_token("other", "hash-other")
        .await
        .unwrap()
        .is_some());

    // Once the recent conversation is old too, it goes with its visitor.
    let later = b.purge("shop", recent + 1, 10).await.unwrap();
    assert_eq!(
        later,
        switchboard_relay::broker::Purged {
            conversations: vec![recent_conv.clone()],
            visitors: 1
        }
    );
    assert!(b.export_visitor(&recent_visitor).await.unwrap().is_none());
    assert_eq!(
        b.purge("shop", recent + 1, 10).await.unwrap(),
        Default::default()
    );
}

/// A webhook bot's queue: ordered, per bot, bounded (a full queue stores nothing and says so),
/// read from the oldest in batches, deleted one by one, and the same on another node.
async fn bot_events_queue_in_order_bounded_and_deleted_once_taken(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let mut positions = Vec::new();
    for i in 0..5 {
        let p = b
            .push_bot_event("bot-a", 1, &format!("event-{i}"), 5)
            .await
            .unwrap()
            .expect("room in the queue");
        positions.push(p);
    }
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(
        b.push_bot_event("bot-a", 1, "event-5", 5).await.unwrap(),
        None
    );
    assert_eq!(b.bot_backlog("bot-a").await.unwrap(), 5);
    // Another bot's queue is its own.
    assert!(b
        .push_bot_event("bot-b", 1, "other", 5)
        .await
        .unwrap()
        .is_some());
    assert_eq!(b.bot_backlog("bot-b").await.unwrap(), 1);

    let first = b.bot_events("bot-a", 3).await.unwrap();
    let bodies: Vec<_> = first.iter().map(|e| e.body.as_str()).collect();
    assert_eq!(bodies, ["event-0", "event-1", "event-2"]);
    assert_eq!(first[0].position, positions[0]);
    for e in &first[..2] {
        b.ack_bot_event("bot-a", e.position).await.unwrap();
    }
    // Deleting twice is harmless (a redelivered event's second acknowledgement).
    b.ack_bot_event("bot-a", first[0].position).await.unwrap();
    assert_eq!(b.bot_backlog("bot-a").await.unwrap(), 3);

    // Room again: the next event goes behind the ones still waiting.
    let last = b
        .push_bot_event("bot-a", 2, "event-6", 5)
        .await
        .unwrap()
        .unwrap();
    assert!(last > positions[4]);
    let (other, _) = backend.open().await;
    let rest: Vec<_> = other
        .bot_events("bot-a", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.body)
        .collect();
    assert_eq!(rest, ["event-2", "event-3", "event-4", "event-6"]);
    assert_eq!(other.bot_backlog("bot-b").await.unwrap(), 1);
    assert_eq!(other.bot_backlog("nobody").await.unwrap(), 0);
    assert!(other.bot_events("nobody", 10).await.unwrap().is_empty());
}

/// The overflow mark is kept until taken, once; the delivery lease is one node's until it
/// lapses, then another node's, and the first cannot renew it.
async fn bot_queue_overflow_mark_and_delivery_lease(backend: &impl Backend) {
    let (a, _) = backend.open().await;
    let (b, _) = backend.open().await;
    assert!(!a.take_bot_overflow("bot-a").await.unwrap());
    a.set_bot_overflow("bot-a").await.unwrap();
    a.set_bot_overflow("bot-a").await.unwrap();
    assert!(!b.take_bot_overflow("bot-b").await.unwrap());
    assert!(b.take_bot_overflow("bot-a").await.unwrap());
    assert!(!a.take_bot_overflow("bot-a").await.unwrap());

    // Margins of seconds, not milliseconds: a loaded CI machine stretches every sleep.
    const TTL: u64 = 3_000;
    assert!(a.bot_lease("bot-a", "node-a", TTL).await.unwrap());
    assert!(!b.bot_lease("bot-a", "node-b", TTL).await.unwrap());
    // Another bot's lease is its own.
    assert!(b.bot_lease("bot-b", "node-b", TTL).await.unwrap());
    // Renewed before it lapses, it stays node a's.
    tokio::time::sleep(Duration::from_millis(TTL * 2 / 3)).await;
    assert!(a.bot_lease("bot-a", "node-a", TTL).await.unwrap());
    tokio::time::sleep(Duration::from_millis(TTL * 2 / 3)).await;
    assert!(!b.bot_lease("bot-a", "node-b", TTL).await.unwrap());
    // Node a stops renewing (it died): node b takes over, and a cannot take it back.
    tokio::time::sleep(Duration::from_millis(TTL + 500)).await;
    assert!(b.bot_lease("bot-a", "node-b", TTL).await.unwrap());
    assert!(!a.bot_lease("bot-a", "node-a", TTL).await.unwrap());
}

/// A site webhook's delivery log keeps its newest lines, newest first, per queue, on every
/// node and across a restart; its cursors per conversation never move back.
async fn site_webhook_logs_are_bounded_and_cursors_only_move_forward(backend: &impl Backend) {
    let (a, _) = backend.open().await;
    for i in 0..7 {
        a.log_webhook_attempt("hook:shop:0", &format!("line {i}"), 5)
            .await
            .unwrap();
    }
    a.log_webhook_attempt("hook:shop:1", "other", 5)
        .await
        .unwrap();
    let (b, _) = backend.open().await;
    let lines = b.webhook_attempts("hook:shop:0", 100).await.unwrap();
    assert_eq!(lines, ["line 6", "line 5", "line 4", "line 3", "line 2"]);
    assert_eq!(
        b.webhook_attempts("hook:shop:0", 2).await.unwrap(),
        ["line 6", "line 5"]
    );
    assert_eq!(
        b.webhook_attempts("hook:shop:1", 9).await.unwrap(),
        ["other"]
    );
    assert!(b
        .webhook_attempts("hook:none:0", 9)
        .await
        .unwrap()
        .is_empty());

    assert_eq!(a.webhook_cursor("hook:shop:0", "c_1").await.unwrap(), 0);
    a.set_webhook_cursor("hook:shop:0", "c_1", 4).await.unwrap();
    b.set_webhook_cursor("hook:shop:0", "c_1", 3).await.unwrap();
    assert_eq!(b.webhook_cursor("hook:shop:0", "c_1").await.unwrap(), 4);
    b.set_webhook_cursor("hook:shop:0", "c_1", 9).await.unwrap();
    assert_eq!(a.webhook_cursor("hook:shop:0", "c_1").await.unwrap(), 9);
    // Per queue and per conversation.
    assert_eq!(a.webhook_cursor("hook:shop:1", "c_1").await.unwrap(), 0);
    assert_eq!(a.webhook_cursor("hook:shop:0", "c_2").await.unwrap(), 0);
}

async fn a_queued_conversation_is_created_in_its_team(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let v = b
        .create_visitor("shop", "hash-q", Context::default())
        .await
        .unwrap();
    let c = b
        .open_queued_conversation("shop", &v.id, 1, &Owner::Humans, Some("support"))
        .await
        .unwrap();
    assert_eq!(c.state.team.as_deref(), Some("support"));
    let read = b.conversation(&c.id).await.unwrap().unwrap();
    assert_eq!(
        (read.state.team.as_deref(), read.state.version),
        (Some("support"), 0)
    );
    // The visitor's open conversation is found again, team and all; no second one is made.
    let again = b
        .open_queued_conversation("shop", &v.id, 2, &Owner::Humans, Some("billing"))
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.state.team.as_deref()),
        (c.id.clone(), Some("support"))
    );
    b.append("shop", new_message(&c.id, &v.id, "m1", "hi"))
        .await
        .unwrap();
    let summary = b.summary(&c.id).await.unwrap().unwrap();
    assert_eq!(summary.team.as_deref(), Some("support"));
    // Without a team, none is stored.
    let w = b
        .create_visitor("shop", "hash-r", Context::default())
        .await
        .unwrap();
    let d = b
        .open_conversation("shop", &w.id, 1, &Owner::Humans)
        .await
        .unwrap();
    assert_eq!(
        b.conversation(&d.id).await.unwrap().unwrap().state.team,
        None
    );
}

async fn agent_presence_is_the_most_available_live_claim(backend: &impl Backend) {
    use switchboard_protocol::Presence::{Away, Offline, Online};
    let (b, _) = backend.open().await;
    let now = 1_000_000;
    let claims = [
        ("shop", "ann", "n1", Away, now + 100),
        ("shop", "ann", "n2", Online, now + 50),
        ("shop", "bob", "n1", Away, now + 100),
        ("shop", "cy", "n1", Offline, now + 100),
        ("shop", "dee", "n2", Online, now - 1),
        ("other", "eve", "n1", Online, now + 100),
    ];
    for (site, agent, node, status, until) in claims {
        b.set_agent_presence(site, agent, node, status, until)
            .await
            .unwrap();
    }
    assert_eq!(
        b.agent_presence("shop", now).await.unwrap(),
        vec![
            ("ann".into(), Online),
            ("bob".into(), Away),
            ("cy".into(), Offline)
        ]
    );
    // ann's online claim lapses: her other node's away is what is left.
    assert_eq!(
        b.agent_presence("shop", now + 60).await.unwrap(),
        vec![
            ("ann".into(), Away),
            ("bob".into(), Away),
            ("cy".into(), Offline)
        ]
    );
    // A renewal replaces the node's claim.
    b.set_agent_presence("shop", "bob", "n1", Online, now + 200)
        .await
        .unwrap();
    assert_eq!(
        b.agent_presence("shop", now + 150).await.unwrap(),
        vec![("bob".into(), Online)]
    );
    assert_eq!(
        b.agent_presence("other", now).await.unwrap(),
        vec![("eve".into(), Online)]
    );
}

async fn one_node_at_a_time_holds_a_sites_assignment_lease(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    // Seconds, not milliseconds: a loaded CI machine stretches the gaps between calls.
    const TTL: u64 = 3_000;
    let now = switchboard_relay::clock::now();
    assert!(b
        .assignment_lease("shop", "n1", now + TTL, now)
        .await
        .unwrap());
    assert!(!b
        .assignment_lease("shop", "n2", now + TTL, now)
        .await
        .unwrap());
    // The holder renews; another site's lease is another matter.
    assert!(b
        .assignment_lease("shop", "n1", now + TTL, now)
        .await
        .unwrap());
    assert!(b
        .assignment_lease("other", "n2", now + TTL, now)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(TTL + 400)).await;
    let now = switchboard_relay::clock::now();
    assert!(b
        .assignment_lease("shop", "n2", now + TTL, now)
        .await
        .unwrap());
    assert!(!b
        .assignment_lease("shop", "n1", now + TTL, now)
        .await
        .unwrap());
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
            .open_conversation_with_id("shop", "v_chosen", "c_chosen", 7, &Owner::Humans, None)
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
        .open_conversation_with_id("shop", "v_chosen", "c_other", 8, &Owner::Humans, None)
        .await
        .unwrap();
    assert_eq!(again.id, "c_chosen");
    assert_eq!(b.stored_counts("shop").await.unwrap(), (1, 1));
}

/// A conversation of `site` opened at `at`, as a visitor's first message opens it.
async fn opened_at(b: &dyn Broker, site: &str, token: &str, at: u64) -> String {
    let v = b
        .create_visitor(site, token, Context::default())
        .await
        .unwrap();
    b.open_conversation(site, &v.id, at, &Owner::Humans)
        .await
        .unwrap()
        .id
}

fn at(mut msg: NewMessage, at: u64) -> NewMessage {
    msg.at = at;
    msg
}

async fn first_replies_are_measured_once_per_conversation_in_a_window_per_site(
    backend: &impl Backend,
) {
    let (b, _) = backend.open().await;
    let c1 = opened_at(&*b, "shop", "t1", 1_000).await;
    let first = async |msg: NewMessage| b.append("shop", msg).await.unwrap().first_reply_ms;
    // The visitor's own messages and a bot's answer are no human reply.
    assert_eq!(
        first(at(new_message(&c1, "v", "m1", "hi"), 1_500)).await,
        None
    );
    let mut bot = agent_message(&c1, "b1", "I am a bot");
    bot.sender.kind = SenderKind::Bot;
    assert_eq!(first(at(bot, 2_000)).await, None);
    // The first agent message measures from the opening; later ones and a resend do not.
    assert_eq!(
        first(at(agent_message(&c1, "a1", "hello"), 4_000)).await,
        Some(3_000)
    );
    assert_eq!(
        first(at(agent_message(&c1, "a2", "more"), 9_000)).await,
        None
    );
    assert_eq!(
        first(at(agent_message(&c1, "a1", "hello"), 4_000)).await,
        None
    );
    let c2 = opened_at(&*b, "shop", "t2", 10_000).await;
    assert_eq!(
        first(at(agent_message(&c2, "a1", "hi"), 70_000)).await,
        Some(60_000)
    );
    assert_eq!(
        b.first_reply_times("shop").await.unwrap(),
        vec![60_000, 3_000]
    );
    assert!(b.first_reply_times("other").await.unwrap().is_empty());

    // Only the latest window is kept, newest first; every node reads the same.
    for i in 0..REPLY_SAMPLES as u64 + 5 {
        let c = opened_at(&*b, "shop", &format!("w{i}"), 100_000).await;
        let ms = 1_000 + i;
        assert_eq!(
            first(at(agent_message(&c, "a", "hi"), 100_000 + ms)).await,
            Some(ms)
        );
    }
    let want: Vec<u64> = (5..REPLY_SAMPLES as u64 + 5)
        .rev()
        .map(|i| 1_000 + i)
        .collect();
    assert_eq!(b.first_reply_times("shop").await.unwrap(), want);
    let (other, _) = backend.open().await;
    assert_eq!(other.first_reply_times("shop").await.unwrap(), want);
}

async fn visitors_get_agent_only_events_without_the_event(backend: &impl Backend) {
    let (b, hub) = backend.open().await;
    let conv = conversation(&*b).await;
    b.append("shop", new_message(&conv, "v", "m1", "hi"))
        .await
        .unwrap();
    let mut visitor = listen(&hub, &conv);
    b.change(
        &conv,
        0,
        change("alex", Lifecycle::Priority(Priority::Urgent)),
    )
    .await
    .unwrap();
    b.change(&conv, 1, change("alex", assign("alex")))
        .await
        .unwrap();
    let mut frames = Vec::new();
    while frames.len() < 2 {
        let Ok(Some(Outgoing::Frame(f))) =
            tokio::time::timeout(Duration::from_secs(5), visitor.recv()).await
        else {
            panic!("the visitor heard {frames:?}");
        };
        // On Redis the first message's publish may arrive after the listener joined.
        if !f.as_str().contains(r#""seq":1,"#) {
            frames.push(f.as_str().to_owned());
        }
    }
    let read = |f: &str| match serde_json::from_str::<ServerMsg>(f).unwrap() {
        ServerMsg::Message(m) => m,
        other => panic!("{other:?}"),
    };
    // The priority: its seq and time, nothing of the change; the assignment whole.
    let (priority, assigned) = (read(&frames[0]), read(&frames[1]));
    assert_eq!((priority.seq, priority.event), (2, None), "{}", frames[0]);
    assert!(
        !frames[0].contains("urgent") && !frames[0].contains("alex"),
        "{}",
        frames[0]
    );
    assert_eq!(assigned.seq, 3);
    assert!(matches!(
        assigned.event.as_deref(),
        Some(SystemEvent::Assigned { .. })
    ));
    // The store keeps the whole log (agents and history for agents read it).
    assert_eq!(
        log(&*b, &conv).await[1],
        Ok(SystemEvent::Priority {
            priority: Priority::Urgent,
            by: "alex".into()
        })
    );
}

async fn agent_sessions_live_until_they_expire_or_are_revoked_on_every_node(
    backend: &impl Backend,
) {
    let (a, _) = backend.open().await;
    let (b, _) = backend.open().await;
    let now = switchboard_relay::clock::now();
    let hour = 3_600_000;
    a.create_agent_session("hash-1", "maya", now + hour)
        .await
        .unwrap();
    a.create_agent_session("hash-2", "maya", now + hour)
        .await
        .unwrap();
    a.create_agent_session("hash-3", "tom", now + 2 * hour)
        .await
        .unwrap();
    // Another node sees them; each hash is its own session.
    assert_eq!(
        b.agent_session("hash-1", now).await.unwrap().as_deref(),
        Some("maya")
    );
    assert_eq!(
        b.agent_session("hash-3", now).await.unwrap().as_deref(),
        Some("tom")
    );
    assert_eq!(b.agent_session("hash-9", now).await.unwrap(), None);
    // Expiry is by the time asked about: gone at `expires_at`, not only after.
    assert_eq!(b.agent_session("hash-1", now + hour).await.unwrap(), None);
    assert_eq!(
        b.agent_session("hash-3", now + hour)
            .await
            .unwrap()
            .as_deref(),
        Some("tom")
    );
    // Revoked on one node, refused on every node at once; the agent's other session lives.
    assert!(b.revoke_agent_session("hash-1").await.unwrap());
    assert!(
        !a.revoke_agent_session("hash-1").await.unwrap(),
        "already gone"
    );
    assert_eq!(a.agent_session("hash-1", now).await.unwrap(), None);
    assert_eq!(
        a.agent_session("hash-2", now).await.unwrap().as_deref(),
        Some("maya")
    );
    // A session already past its expiry when stored is never live, and the store lets go of
    // it: after a short while it is not there to revoke.
    a.create_agent_session("hash-4", "maya", now.saturating_sub(1))
        .await
        .unwrap();
    assert_eq!(
        b.agent_session("hash-4", switchboard_relay::clock::now())
            .await
            .unwrap(),
        None
    );
    a.create_agent_session("hash-5", "maya", switchboard_relay::clock::now() + 200)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // The embedded store sweeps expired rows at the next sign-in; Redis drops the key itself.
    a.create_agent_session("hash-6", "tom", now + hour)
        .await
        .unwrap();
    assert!(
        !b.revoke_agent_session("hash-5").await.unwrap(),
        "expired and dropped"
    );
    assert!(b.revoke_agent_session("hash-6").await.unwrap());
}

/// A blocked conversation: resolved, out of every inbox page, its `blocked` event for agents
/// only, the visitor's new messages refused in the append (a resend of a stored one still
/// acknowledged), and all of it the same on another node; lifted, it is listed again.
async fn a_block_hides_the_conversation_refuses_the_visitor_on_every_node(backend: &impl Backend) {
    let (b, hub) = backend.open().await;
    let conv = active_conversation(&*b, "shop", "hash-spam", 1_000).await;
    let kept = active_conversation(&*b, "shop", "hash-kept", 2_000).await;
    let spammer = b.conversation(&conv).await.unwrap().unwrap().visitor_id;
    let mut rx = listen(&hub, &conv);
    b.set_visitor_addr(&spammer, "203.0.113.9").await.unwrap();
    assert_eq!(
        b.visitor_addr(&spammer).await.unwrap().as_deref(),
        Some("203.0.113.9")
    );

    let version = b.conversation(&conv).await.unwrap().unwrap().state.version;
    let changed = b
        .change(&conv, version, change("alex", Lifecycle::Block))
        .await
        .unwrap();
    assert_eq!(changed.message.seq, 2);
    assert!(changed.state.blocked);
    assert_eq!(changed.state.status, Status::Resolved);
    // Blocking twice changes nothing.
    let again = b
        .change(
            &conv,
            changed.state.version,
            change("alex", Lifecycle::Block),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Invalid(_))), "{again:?}");

    // The visitor's connections learn nothing of it: its seq arrives (so their log stays
    // gap-free) without the event, the agent's name or any text; a marker published after
    // the change closes the window.
    b.publish(Event::new(
        Audience::Visitors,
        "shop",
        &conv,
        &ServerMsg::Pong { nonce: None },
    ))
    .await;
    let mut heard = Vec::new();
    while let Ok(Some(Outgoing::Frame(f))) =
        tokio::time::timeout(Duration::from_secs(5), rx.recv()).await
    {
        match serde_json::from_str::<ServerMsg>(&f).unwrap() {
            ServerMsg::Message(m) => heard.push(m),
            ServerMsg::Pong { .. } => break,
            _ => {}
        }
    }
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].seq, 2);
    assert_eq!(heard[0].event, None);
    assert!(heard[0].text.is_empty() && heard[0].client_id.is_empty());

    let inbox = b.inbox(&shop(), None, 10).await.unwrap();
    let ids: Vec<&str> = inbox.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [kept.as_str()]);
    assert!(b.summary(&conv).await.unwrap().unwrap().blocked);

    // A new visitor message is refused and stores nothing; a resend of the stored one is
    // still acknowledged as the duplicate it is.
    let refused = b
        .append("shop", new_message(&conv, &spammer, "spam-2", "more spam"))
        .await;
    assert!(matches!(refused, Err(StoreError::Blocked)), "{refused:?}");
    let resend = b
        .append("shop", new_message(&conv, &spammer, "hash-spam", "hello"))
        .await
        .unwrap();
    assert!(resend.duplicate);
    assert_eq!(
        log(&*b, &conv).await,
        vec![
            Err("hello".into()),
            Ok(SystemEvent::Blocked { by: "alex".into() })
        ]
    );
    // Still out of the inbox after the refused append (Redis pipelines its index update).
    let inbox = b.inbox(&shop(), None, 10).await.unwrap();
    assert_eq!(inbox.items.len(), 1);

    // Another node (or this one restarted) sees the same.
    let (b2, _) = backend.open().await;
    let c = b2.conversation(&conv).await.unwrap().unwrap();
    assert!(c.state.blocked);
    let refused = b2
        .append("shop", new_message(&conv, &spammer, "spam-3", "spam"))
        .await;
    assert!(matches!(refused, Err(StoreError::Blocked)), "{refused:?}");

    // Lifted: listed again, with an agents-only `unblocked` event.
    b2.change(&conv, c.state.version, change("admin", Lifecycle::Unblock))
        .await
        .unwrap();
    let inbox = b.inbox(&shop(), None, 10).await.unwrap();
    assert_eq!(inbox.items.len(), 2);
    assert!(!b.summary(&conv).await.unwrap().unwrap().blocked);
    b.append("shop", new_message(&conv, &spammer, "back-1", "sorry"))
        .await
        .unwrap();
    drop(hub);
}

/// Blocks by key: per site, until their time, visible to every node, lifted once.
async fn blocks_are_per_site_end_at_their_time_and_lift(backend: &impl Backend) {
    let (b, _hub) = backend.open().await;
    let now = switchboard_relay::clock::now();
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(!b
        .is_blocked("shop", &keys(&["visitor:v1"]), now)
        .await
        .unwrap());
    b.block("shop", "visitor:v1", u64::MAX / 2).await.unwrap();
    b.block("shop", "addr:2001:db8:1:2::/64", now + 60_000)
        .await
        .unwrap();
    b.block("shop", "addr:198.51.100.7", now - 1).await.unwrap();
    assert!(b
        .is_blocked("shop", &keys(&["visitor:v1"]), now)
        .await
        .unwrap());
    assert!(b
        .is_blocked(
            "shop",
            &keys(&["addr:203.0.113.1", "addr:2001:db8:1:2::/64"]),
            now
        )
        .await
        .unwrap());
    // Another site's visitor and address, and a block whose time is over, are free.
    assert!(!b
        .is_blocked("other", &keys(&["visitor:v1"]), now)
        .await
        .unwrap());
    assert!(!b
        .is_blocked("shop", &keys(&["addr:198.51.100.7"]), now)
        .await
        .unwrap());
    assert!(!b
        .is_blocked("shop", &keys(&["addr:2001:db8:1:2::/64"]), now + 60_000)
        .await
        .unwrap());
    assert!(!b.is_blocked("shop", &[], now).await.unwrap());
    let (b2, _) = backend.open().await;
    let listed: Vec<String> = b2
        .blocks("shop", now)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(listed, ["addr:2001:db8:1:2::/64", "visitor:v1"]);
    assert!(b2.unblock("shop", "visitor:v1").await.unwrap());
    assert!(!b2.unblock("shop", "visitor:v1").await.unwrap());
    assert!(!b
        .is_blocked("shop", &keys(&["visitor:v1"]), now)
        .await
        .unwrap());
    // An address of a visitor that is not stored is not stored either.
    b.set_visitor_addr("v_missing", "192.0.2.1").await.unwrap();
    assert_eq!(b.visitor_addr("v_missing").await.unwrap(), None);
}

async fn a_note_takes_the_next_seq_and_reaches_visitors_bare(backend: &impl Backend) {
    let (b, hub) = backend.open().await;
    let (other, _) = backend.open().await;
    let conv = conversation(&*b).await;
    b.append("shop", new_message(&conv, "v", "m1", "hi"))
        .await
        .unwrap();
    let before = b.summary(&conv).await.unwrap().unwrap();
    let mut visitor = listen(&hub, &conv);
    let note = |client_id: &str| switchboard_protocol::ChatMessage {
        conversation_id: conv.clone(),
        seq: 0,
        client_id: client_id.into(),
        sender: Sender {
            kind: SenderKind::Agent,
            id: "alex".into(),
            name: Some("Alex".into()),
            avatar: None,
        },
        text: "SECRET refund approved".into(),
        at: before.last_activity + 1_000,
        rich: None,
        postback: None,
        event: None,
        note: Some(Box::new(switchboard_protocol::Note {
            mentions: vec!["sam".into()],
        })),
    };
    let (stored, duplicate) = b.append_note("shop", note("n1")).await.unwrap();
    assert_eq!((stored.seq, duplicate), (2, false));
    assert_eq!(
        stored.note.as_ref().unwrap().mentions,
        vec!["sam".to_owned()]
    );
    // A resend: the stored note again, nothing stored or published.
    let (again, duplicate) = b.append_note("shop", note("n1")).await.unwrap();
    assert_eq!((again.seq, duplicate), (2, true));
    assert!(again.is_note());
    // The visitor's socket: the seq and time, nothing of the note.
    let frame = loop {
        let Ok(Some(Outgoing::Frame(f))) =
            tokio::time::timeout(Duration::from_secs(5), visitor.recv()).await
        else {
            panic!("the visitor heard nothing of the note");
        };
        if !f.as_str().contains(r#""seq":1,"#) {
            break f.as_str().to_owned();
        }
    };
    assert!(
        !frame.contains("SECRET") && !frame.contains("alex") && !frame.contains("note"),
        "{frame}"
    );
    let ServerMsg::Message(bare) = serde_json::from_str(&frame).unwrap() else {
        panic!("{frame}");
    };
    assert_eq!((bare.seq, bare.sender.kind), (2, SenderKind::System));
    // Stored whole for agents, on every node; the next message follows it.
    let log = other.history(&conv, 0, 10).await.unwrap();
    assert!(
        log[1].is_note() && log[1].text.starts_with("SECRET"),
        "{log:?}"
    );
    let next = b
        .append("shop", new_message(&conv, "v", "m2", "more"))
        .await
        .unwrap();
    assert_eq!(next.message.seq, 3);
    // Not the conversation's activity: its preview is the visitor's.
    let after = other.summary(&conv).await.unwrap().unwrap();
    assert_eq!(after.last_message.unwrap().text, "more");
    let mut lost = note("n2");
    lost.conversation_id = "c_missing".into();
    assert!(matches!(
        b.append_note("shop", lost).await,
        Err(StoreError::NotFound(_))
    ));
}

fn canned(id: &str, shortcut: &str, body: &str) -> switchboard_protocol::CannedReply {
    switchboard_protocol::CannedReply {
        id: id.into(),
        shortcut: shortcut.into(),
        body: body.into(),
    }
}

/// Canned replies: seeded only into a site with none, listed by shortcut, shortcuts unique
/// per site, the count bounded, an id readable only through its own site, and every write
/// seen by a second node at once.
async fn canned_replies_are_per_site_bounded_unique_and_seeded_once(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    let (b2, _) = backend.open().await;
    assert!(b.canned_replies("shop").await.unwrap().is_empty());
    let seeds = [
        canned("s1", "where", "Order {{order.number}} is on its way"),
        canned("s2", "hello", "Hi, I am {{agent.name}}"),
    ];
    // Two nodes seeding together: one stores, the other finds the site seeded.
    let (x, y) = tokio::join!(
        b.seed_canned("shop", &seeds),
        b2.seed_canned("shop", &seeds)
    );
    assert!(x.unwrap() ^ y.unwrap(), "seeded exactly once");
    assert!(!b
        .seed_canned("shop", &[canned("s3", "again", "x")])
        .await
        .unwrap());
    let listed = b2.canned_replies("shop").await.unwrap();
    assert_eq!(listed, [seeds[1].clone(), seeds[0].clone()], "by shortcut");
    assert!(b.canned_replies("other").await.unwrap().is_empty());

    // Ids are per site: another site cannot read, change or delete them.
    assert_eq!(
        b.canned_reply("shop", "s1").await.unwrap(),
        Some(seeds[0].clone())
    );
    assert_eq!(b.canned_reply("other", "s1").await.unwrap(), None);
    assert_eq!(
        b.put_canned("other", &canned("s1", "x", "y"), false, 10)
            .await
            .unwrap(),
        CannedPut::NotFound
    );
    assert!(!b.delete_canned("other", "s1").await.unwrap());

    // Shortcuts are unique per site, on create and on update; the same one on another site
    // is fine.
    assert_eq!(
        b.put_canned("shop", &canned("n1", "where", "dup"), true, 10)
            .await
            .unwrap(),
        CannedPut::ShortcutTaken
    );
    assert_eq!(
        b.put_canned("shop", &canned("s2", "where", "dup"), false, 10)
            .await
            .unwrap(),
        CannedPut::ShortcutTaken
    );
    assert_eq!(
        b.put_canned("other", &canned("o1", "where", "other site"), true, 10)
            .await
            .unwrap(),
        CannedPut::Stored
    );
    // An update may rename: the old shortcut is free again.
    assert_eq!(
        b.put_canned(
            "shop",
            &canned("s1", "status", "Now: {{order.status}}"),
            false,
            10
        )
        .await
        .unwrap(),
        CannedPut::Stored
    );
    assert_eq!(
        b2.put_canned("shop", &canned("n2", "where", "reused"), true, 10)
            .await
            .unwrap(),
        CannedPut::Stored
    );
    let shortcuts: Vec<String> = b2
        .canned_replies("shop")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.shortcut)
        .collect();
    assert_eq!(shortcuts, ["hello", "status", "where"]);

    // The bound: a create past `max` is refused, an update at the bound is not.
    assert_eq!(
        b.put_canned("shop", &canned("n3", "more", "x"), true, 3)
            .await
            .unwrap(),
        CannedPut::Full
    );
    assert_eq!(
        b.put_canned("shop", &canned("n2", "where", "edited"), false, 3)
            .await
            .unwrap(),
        CannedPut::Stored
    );
    assert_eq!(b.canned_replies("shop").await.unwrap().len(), 3);

    // Deleting frees the shortcut and the place; deleting twice finds nothing.
    assert!(b2.delete_canned("shop", "n2").await.unwrap());
    assert!(!b.delete_canned("shop", "n2").await.unwrap());
    assert_eq!(
        b.put_canned("shop", &canned("n4", "where", "back"), true, 3)
            .await
            .unwrap(),
        CannedPut::Stored
    );
    // Text survives the store byte for byte (quotes, newlines, other scripts).
    let odd = canned(
        "n5",
        "ünïcode",
        "Line 1\n\"quoted\" {{visitor.name}} — שלום",
    );
    assert_eq!(
        b.put_canned("shop", &odd, true, 10).await.unwrap(),
        CannedPut::Stored
    );
    assert_eq!(b2.canned_reply("shop", "n5").await.unwrap(), Some(odd));
    // A site emptied by its admins is seeded again (the documented rule).
    for c in b.canned_replies("other").await.unwrap() {
        assert!(b.delete_canned("other", &c.id).await.unwrap());
    }
    assert!(b.seed_canned("other", &seeds).await.unwrap());
}

async fn read_marks_only_move_forward_within_the_log_and_change_nothing_else(
    backend: &impl Backend,
) {
    let (b, _) = backend.open().await;
    // Someone else's, so the store is not empty once the reader is deleted.
    chatted(&*b, "shop", "hash-bystander", 1_000, 1).await;
    let (visitor, conv) = chatted(&*b, "shop", "hash-reader", 1_000, 3).await;
    // Three messages and the assignment: seq 4 is the last.
    let before = b.summary(&conv).await.unwrap().unwrap();
    assert_eq!(before.last_seq, 4);
    assert_eq!(b.read_marks(&conv).await.unwrap(), (0, 0));
    assert_eq!(
        b.mark_read(&conv, ReadSide::Visitor, 2).await.unwrap(),
        ReadMark::Moved
    );
    for lower in [1, 2] {
        assert_eq!(
            b.mark_read(&conv, ReadSide::Visitor, lower).await.unwrap(),
            ReadMark::Unchanged(2)
        );
    }
    for past in [5, u64::MAX] {
        assert_eq!(
            b.mark_read(&conv, ReadSide::Agents, past).await.unwrap(),
            ReadMark::Ahead(4)
        );
    }
    assert_eq!(b.read_marks(&conv).await.unwrap(), (2, 0));
    // The sides are apart; many marks at once leave the highest, moved exactly once.
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let (b, conv) = (b.clone(), conv.clone());
        tasks.push(tokio::spawn(async move {
            b.mark_read(&conv, ReadSide::Agents, 1 + i % 4)
                .await
                .unwrap()
        }));
    }
    let mut moved_to_last = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        if r == ReadMark::Moved && 1 + i as u64 % 4 == 4 {
            moved_to_last += 1;
        }
    }
    assert_eq!(moved_to_last, 1);
    assert_eq!(b.read_marks(&conv).await.unwrap(), (2, 4));
    // Marks are not activity: the inbox line is as it was.
    let after = b.summary(&conv).await.unwrap().unwrap();
    assert_eq!(after, before);
    let unknown = b.mark_read("c_unknown", ReadSide::Visitor, 1).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(b.read_marks("c_unknown").await.unwrap(), (0, 0));
    // Another node (or the same one restarted) reads the same marks.
    let (b2, _) = backend.open().await;
    assert_eq!(b2.read_marks(&conv).await.unwrap(), (2, 4));
    // Deleted with the conversation.
    b.delete_visitor(&visitor).await.unwrap();
    assert_eq!(
        backend.mentions(std::slice::from_ref(&conv)).await,
        Vec::<String>::new()
    );
    assert_eq!(b.read_marks(&conv).await.unwrap(), (0, 0));
}

async fn the_page_trail_keeps_the_last_pages_without_repeats(backend: &impl Backend) {
    let (b, _) = backend.open().await;
    chatted(&*b, "shop", "hash-bystander", 1_000, 1).await;
    let v = b
        .create_visitor("shop", "hash-trail", Context::default())
        .await
        .unwrap();
    let page = |n: usize| PageVisit {
        url: format!("https://shop.example/trail-page-{n}"),
        title: format!("Page {n}"),
        at: 1_000 + n as u64,
    };
    let (trail, changed) = b.push_page(&v.id, &page(0), MAX_PAGE_TRAIL).await.unwrap();
    assert!(changed);
    assert_eq!(trail, vec![page(0)]);
    // The same URL again (a reload, a context change on the same page) is no new page.
    let mut again = page(0);
    again.at = 9_999;
    let (trail, changed) = b.push_page(&v.id, &again, MAX_PAGE_TRAIL).await.unwrap();
    assert!(!changed);
    assert_eq!(trail, vec![page(0)]);
    for n in 1..=25 {
        let (trail, changed) = b.push_page(&v.id, &page(n), MAX_PAGE_TRAIL).await.unwrap();
        assert!(changed);
        assert_eq!(trail.len(), (n + 1).min(MAX_PAGE_TRAIL));
        assert_eq!(trail.last(), Some(&page(n)));
    }
    let expected: Vec<PageVisit> = (6..=25).map(page).collect();
    assert_eq!(b.page_trail(&v.id).await.unwrap(), expected);
    // Going back to an earlier page is a new entry.
    let (trail, _) = b.push_page(&v.id, &page(24), MAX_PAGE_TRAIL).await.unwrap();
    assert_eq!(trail.first(), Some(&page(7)));
    assert_eq!(trail.last(), Some(&page(24)));
    // Another node reads the same trail.
    let (b2, _) = backend.open().await;
    assert_eq!(b2.page_trail(&v.id).await.unwrap(), trail);
    // An unknown visitor gets no trail, and nothing is stored for it.
    let (none, changed) = b
        .push_page("v_nobody", &page(99), MAX_PAGE_TRAIL)
        .await
        .unwrap();
    assert!(none.is_empty() && !changed);
    assert_eq!(
        backend.mentions(&["trail-page-99".to_owned()]).await,
        Vec::<String>::new()
    );
    // Deleted with the visitor.
    b.delete_visitor(&v.id).await.unwrap();
    assert_eq!(
        backend.mentions(&["trail-page-".to_owned()]).await,
        Vec::<String>::new()
    );
    assert!(b.page_trail(&v.id).await.unwrap().is_empty());
}

/// KPI facts: every write marks its conversation once, the projector folds the log into facts,
/// an older projection never replaces a newer one, a period reads its rows; a deleted
/// conversation keeps counting under an id that names nothing.
async fn kpi_facts_follow_the_log_and_outlive_deletion_unlinked(backend: &impl Backend) {
    use switchboard_relay::kpi::{projector::catch_up, Dim};
    let (b, _) = backend.open().await;
    let (visitor, conv) = chatted(&*b, "shop", "hash-kpi", 10_000, 2).await;
    let taken = b.take_kpi_dirty("shop", 10).await.unwrap();
    assert_eq!(taken, std::slice::from_ref(&conv));
    assert!(b.take_kpi_dirty("shop", 10).await.unwrap().is_empty());
    assert!(b.take_kpi_dirty("other", 10).await.unwrap().is_empty());
    // A pass that failed puts its marks back.
    b.mark_kpi_dirty("shop", &taken).await.unwrap();
    assert_eq!(catch_up(&*b, "shop").await.unwrap(), 1);
    assert_eq!(catch_up(&*b, "shop").await.unwrap(), 0);
    let facts = b.kpi_facts("shop", &conv).await.unwrap().unwrap();
    // Two messages and Alex's assignment (`chatted`), all at 10 s.
    assert_eq!(
        (facts.seq, facts.messages, facts.started, facts.assign_ms),
        (3, 2, 10_000, Some(0))
    );
    assert_eq!(facts.agent.as_deref(), Some("alex"));
    assert!(facts.human && !facts.resolved);

    let version = b.conversation(&conv).await.unwrap().unwrap().state.version;
    let mut resolve = change("alex", Lifecycle::Status(Status::Resolved));
    resolve.at = 70_000;
    b.change(&conv, version, resolve).await.unwrap();
    assert_eq!(catch_up(&*b, "shop").await.unwrap(), 1);
    let facts = b.kpi_facts("shop", &conv).await.unwrap().unwrap();
    assert_eq!(
        (facts.seq, facts.resolved, facts.resolve_ms),
        (4, true, Some(60_000))
    );
    let mut stale = facts.clone();
    stale.seq = 3;
    stale.resolved = false;
    b.put_kpi_facts(&[stale]).await.unwrap();
    assert_eq!(b.kpi_facts("shop", &conv).await.unwrap(), Some(facts));

    let rows = |from, to| {
        let b = b.clone();
        async move { b.kpi_rows("shop", from, to, Dim::Team).await.unwrap() }
    };
    let read = rows(10_000, 10_001).await;
    assert_eq!(read.rows.len(), 1);
    assert!(read.rows[0].resolved);
    assert_eq!(read.rows[0].dim, None, "no team stored");
    assert!(rows(0, 10_000).await.rows.is_empty(), "the end is excluded");
    assert!(rows(10_001, 20_000).await.rows.is_empty());

    b.delete_visitor(&visitor).await.unwrap();
    let needles = vec![conv.clone(), visitor.clone()];
    assert_eq!(backend.mentions(&needles).await, Vec::<String>::new());
    assert_eq!(rows(10_000, 10_001).await.rows.len(), 1, "still counted");
    assert!(b.kpi_facts("shop", &conv).await.unwrap().is_none());
    assert_eq!(catch_up(&*b, "shop").await.unwrap(), 0);
}

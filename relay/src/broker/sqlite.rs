//! The embedded default broker: SQLite in WAL mode (one file in the data directory) for state,
//! the in-process hub for fan-out. One node.
//!
//! One writing connection, owned by a thread of its own ([`sqlite_writer`](super::sqlite_writer)): SQLite
//! serializes writers anyway, so more would add nothing but contention. Message appends are
//! group-committed there: those waiting together share one transaction. The long reads
//! (history, search, KPI rows) run on read-only connections of their own
//! ([`sqlite_reader`](super::sqlite_reader)), so no append waits behind them.
//! (Earlier every call took an async lock, then a blocking thread, and every append was its own
//! transaction: ~200 µs of CPU per message, the embedded relay's ceiling.)
//!
//! `synchronous = NORMAL` in WAL mode: a commit writes the transaction's pages to the WAL file
//! (a `write`, no `fsync`); the WAL is synced only when checkpointed. So every acknowledged
//! message survives a crash or `kill -9` of the relay process (the file's pages are the
//! kernel's), which is what "acknowledged means stored" promises; a power loss or kernel crash
//! can drop the transactions since the last checkpoint's sync. `synchronous = FULL` would sync
//! the WAL at every commit (with group commit, once per batch) and extend the promise to power
//! loss.
//!
//! WAL checkpoints run on a thread and connection of their own (passive: they never wait for
//! the writer, nor it for them). Left to SQLite, every ~1,000 pages a commit ran the checkpoint
//! and its fsyncs itself, and every message queued behind it waited: embedded p99 5.9–7.1 ms
//! under the benchmark's load, 2.0–2.3 ms with no checkpoints at all.

use std::path::Path;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_protocol::{
    CannedReply, ChatMessage, Context, ConversationSummary, InboxCursor, Millis, PageVisit,
    ReadSide, Sender, SenderKind, ServerMsg, SystemEvent,
};

use super::lifecycle::{self, priority_str, snoozed_until, status_str, State};
use super::side_str;
use super::sqlite_reader::Readers;
use super::sqlite_writer::Writer;
use super::{
    best_presence, kind_str, owner_str, parse_context, parse_kind, parse_owner, Appended, Audience,
    BotEvent, Broker, CannedPut, Change, Changed, Conversation, Event, HandoffChange, InboxPage,
    NewMessage, Purged, ReadMark, Result, StoreError, SummaryFields, Visitor, VisitorRecord,
    REPLY_SAMPLES,
};
use super::{verified_customer, Found, Search};
use crate::hub::Hub;
use switchboard_protocol::{Owner, Presence};

/// The columns [`message`] reads, as a literal so queries are built at compile time (the
/// duplicate check runs on every append).
macro_rules! message_select {
    () => {
        "SELECT conversation_id, seq, client_id, sender_kind, sender_id, sender_name, text, at,
        sender_avatar, rich, postback, event, note FROM messages"
    };
}

/// The schema; `user_version` says which one a file has.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS visitors (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    context TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    visitor_id TEXT NOT NULL REFERENCES visitors(id),
    open INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    last_sender TEXT,
    last_text TEXT
);
CREATE INDEX IF NOT EXISTS conversations_by_visitor ON conversations(visitor_id, open);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    sender_kind TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    sender_name TEXT,
    text TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_id)
) WITHOUT ROWID;
-- Retention's visitor round (per site, by age); idempotent, so it needs no schema version.
CREATE INDEX IF NOT EXISTS visitors_by_site_created ON visitors(site, created_at);
";

/// Bots: conversation owner and handoff, rich content and postbacks on messages.
const MIGRATE_V2: &str = "
ALTER TABLE conversations ADD COLUMN owner TEXT NOT NULL DEFAULT 'humans';
ALTER TABLE conversations ADD COLUMN handoff TEXT;
ALTER TABLE messages ADD COLUMN sender_avatar TEXT;
ALTER TABLE messages ADD COLUMN rich TEXT;
ALTER TABLE messages ADD COLUMN postback TEXT;
PRAGMA user_version = 2;
";

/// Inboxes are per site: the activity index leads with the site.
const MIGRATE_V3: &str = "
DROP INDEX IF EXISTS conversations_by_activity;
CREATE INDEX IF NOT EXISTS conversations_by_site_activity ON conversations(site, last_activity DESC);
PRAGMA user_version = 3;
";

/// Lifecycle: status, assignee, team, priority and their version on conversations; system
/// events on messages.
const MIGRATE_V4: &str = "
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
ALTER TABLE conversations ADD COLUMN assignee TEXT;
ALTER TABLE conversations ADD COLUMN team TEXT;
ALTER TABLE conversations ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal';
ALTER TABLE conversations ADD COLUMN note TEXT;
ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN event TEXT;
PRAGMA user_version = 4;
";

/// Sites' webhook delivery logs. Not a numbered migration: it only creates its own table if
/// missing, so it commutes with every other step and runs at each start.
const WEBHOOK_LOG: &str = "
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_by_queue ON webhook_attempts(queue, id);
CREATE TABLE IF NOT EXISTS webhook_cursors (
    queue TEXT NOT NULL,
    conversation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    moved_at INTEGER NOT NULL,
    PRIMARY KEY (queue, conversation)
);
CREATE INDEX IF NOT EXISTS webhook_cursors_by_age ON webhook_cursors(moved_at);
";

/// Webhook bots' durable event queues (one self-contained step: it only creates its own
/// tables, so it commutes with other migrations).
const MIGRATE_V5: &str = "
CREATE TABLE IF NOT EXISTS bot_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bot TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bot_events_by_bot ON bot_events(bot, id);
CREATE TABLE IF NOT EXISTS bot_queues (
    bot TEXT PRIMARY KEY,
    overflow INTEGER NOT NULL DEFAULT 0,
    lease_node TEXT,
    lease_until INTEGER NOT NULL DEFAULT 0
);
PRAGMA user_version = 5;
";

/// First-response times: a new conversation is `unanswered` until its first agent message,
/// which records the time it took in `reply_times` (the latest [`REPLY_SAMPLES`] per site).
/// Conversations stored before this are left at 0: their next reply is no first response.
const MIGRATE_V6: &str = "
ALTER TABLE conversations ADD COLUMN unanswered INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS reply_times (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reply_times_by_site ON reply_times(site, id);
PRAGMA user_version = 6;
";

/// Agents' console sessions (a self-contained step, like V5).
const MIGRATE_V7: &str = "
CREATE TABLE IF NOT EXISTS agent_sessions (
    hash TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_sessions_by_expiry ON agent_sessions(expires_at);
PRAGMA user_version = 7;
";

/// Blocking spammers: the conversation's flag, the visitor's last network, the site's blocks.
const MIGRATE_V8: &str = "
ALTER TABLE conversations ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visitors ADD COLUMN addr TEXT;
CREATE TABLE IF NOT EXISTS blocks (
    site TEXT NOT NULL,
    key TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (site, key)
) WITHOUT ROWID;
PRAGMA user_version = 8;
";

/// Agents' private notes: the note's marker and mentions (JSON) on its log entry.
const MIGRATE_V9: &str = "
ALTER TABLE messages ADD COLUMN note TEXT;
PRAGMA user_version = 9;
";

/// Search and history (a self-contained step). `search_text` is FTS5, contentless (the text
/// lives in `messages` once; a snippet is cut from there) with `contentless_delete`, keyed by
/// `search_docs.id` because `messages` has no rowid. Triggers keep both in the same
/// transaction as the message's insert or delete, on every path that writes `messages`.
/// `visitors.customer_id` is a verified identity's id, for a customer's history across
/// devices. Rows stored before this are indexed here. Private notes are not indexed (the
/// Redis broker's note script writes no search document either).
const MIGRATE_V11: &str = "
ALTER TABLE visitors ADD COLUMN customer_id TEXT;
UPDATE visitors SET customer_id = json_extract(context, '$.identity.id')
 WHERE json_valid(context)
   AND EXISTS (SELECT 1 FROM json_each(context, '$.identity.verified') WHERE value = 'id');
CREATE INDEX IF NOT EXISTS visitors_by_customer ON visitors(site, customer_id)
 WHERE customer_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS search_docs (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(
    text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS messages_search_insert AFTER INSERT ON messages
WHEN new.sender_kind IN ('visitor', 'agent', 'bot') AND new.note IS NULL
BEGIN
    INSERT INTO search_docs (conversation_id, seq) VALUES (new.conversation_id, new.seq);
    INSERT INTO search_text (rowid, text) VALUES (last_insert_rowid(), new.text);
END;
CREATE TRIGGER IF NOT EXISTS messages_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM search_text WHERE rowid =
        (SELECT id FROM search_docs WHERE conversation_id = old.conversation_id AND seq = old.seq);
    DELETE FROM search_docs WHERE conversation_id = old.conversation_id AND seq = old.seq;
END;
INSERT OR IGNORE INTO search_docs (conversation_id, seq)
 SELECT conversation_id, seq FROM messages
 WHERE sender_kind IN ('visitor', 'agent', 'bot') AND note IS NULL
 ORDER BY at, conversation_id, seq;
INSERT INTO search_text (rowid, text)
 SELECT d.id, m.text FROM search_docs d
 JOIN messages m ON m.conversation_id = d.conversation_id AND m.seq = d.seq;
PRAGMA user_version = 11;
";

/// Ratings (CSAT): whether the current resolution has its rating (the rating itself is the
/// `rated` event in the log). Self-contained: it only adds a column.
const MIGRATE_V12: &str = "
ALTER TABLE conversations ADD COLUMN rated INTEGER NOT NULL DEFAULT 0;
PRAGMA user_version = 12;
";

/// Read marks and page trails: their own tables, deleted with their conversation or visitor
/// by triggers (so every delete path, retention's included, takes them). Idempotent, so it
/// needs no schema version.
const RECEIPTS: &str = "
CREATE TABLE IF NOT EXISTS read_marks (
    conversation_id TEXT NOT NULL,
    side TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, side)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS conversations_read_marks_delete AFTER DELETE ON conversations
BEGIN
    DELETE FROM read_marks WHERE conversation_id = old.id;
END;
CREATE TABLE IF NOT EXISTS page_trail (
    id INTEGER PRIMARY KEY,
    visitor_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS page_trail_by_visitor ON page_trail(visitor_id, id);
CREATE TRIGGER IF NOT EXISTS visitors_page_trail_delete AFTER DELETE ON visitors
BEGIN
    DELETE FROM page_trail WHERE visitor_id = old.id;
END;
";

/// Sites' canned replies (self-contained, like V5: it only adds a table).
const MIGRATE_V10: &str = "
CREATE TABLE IF NOT EXISTS canned_replies (
    site TEXT NOT NULL,
    id TEXT NOT NULL,
    shortcut TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (site, id),
    UNIQUE (site, shortcut)
) WITHOUT ROWID;
PRAGMA user_version = 10;
";

/// The lifecycle columns of `conversations`, in the order [`state`] reads them.
macro_rules! state_columns {
    () => {
        "status, snoozed_until, assignee, team, priority, note, version, blocked, rated"
    };
}

/// Longest inbox preview, in characters.
const PREVIEW_CHARS: usize = 140;

/// How often the WAL is checkpointed into the database file: between checkpoints it grows by
/// what that much traffic writes. Measured under the benchmark's load, 2 s gave embedded p99
/// 2.5–4.4 ms, 500 ms 2.8–4.5 ms (fewer checkpoints, fewer stalls of the writer's I/O).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct SqliteBroker {
    writer: Writer,
    /// The long reads (inbox pages, history, search), off the writer's connection.
    readers: Readers,
    hub: Arc<Hub>,
    /// Agent presence and assignment leases: the embedded broker is one node, so they need
    /// not outlive the process (presence is renewed within seconds of a restart).
    local: Arc<std::sync::Mutex<Local>>,
    /// Dropped with the last broker handle, which ends the checkpoint thread.
    _checkpoints: mpsc::Sender<()>,
}

#[derive(Default)]
struct Local {
    /// (site, agent, node) → status, valid until.
    presence: std::collections::HashMap<(String, String, String), (Presence, Millis)>,
    /// site → (node, until).
    leases: std::collections::HashMap<String, (String, Millis)>,
}

impl SqliteBroker {
    /// Stores a message: dedupe by `(sender, client_id)`, next seq, inbox line. Group commit: the appends waiting together share one transaction (see
    /// [`sqlite_writer`](super::sqlite_writer)), each in a savepoint of its own; the answer comes after the commit.
    async fn append_row(&self, msg: NewMessage) -> Result<Appended> {
        self.writer.batched(move |tx| {
            // Every statement of the hot path is cached: preparing one costs more than running it.
            let current: Option<(i64, String, String, bool, bool)> = tx
                .prepare_cached(
                    "SELECT last_seq, owner, status, unanswered, blocked FROM conversations WHERE id = ?1",
                )?
                .query_row(
                    params![msg.conversation_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)? != 0)),
                )
                .optional()?;
            let Some((mut last, owner, status, unanswered, blocked)) = current else { return Ok(Err(StoreError::NotFound("conversation".into()))) };
            let owner = parse_owner(&owner);
            // Cached: this runs on every append.
            let existing = tx
                .prepare_cached(concat!(
                    message_select!(),
                    " WHERE conversation_id = ?1 AND sender_id = ?2 AND client_id = ?3"
                ))?
                .query_row(params![msg.conversation_id, msg.sender.id, msg.client_id], message)
                .optional()?;
            if let Some(message) = existing {
                return Ok(Ok(Appended { message, duplicate: true, owner, reopened: None, first_reply_ms: None }));
            }
            if msg.require_owner.as_ref().is_some_and(|r| *r != owner) {
                return Ok(Err(StoreError::NotOwner(owner)));
            }
            if blocked && msg.sender.kind == SenderKind::Visitor {
                return Ok(Err(StoreError::Blocked));
            }
            let reopens = msg.sender.kind == SenderKind::Visitor
                && lifecycle::REOPENED_BY_VISITOR.contains(&status.as_str());
            let reopened = if reopens {
                last += 1;
                let event = SystemEvent::Reopened { by: None };
                let client_id = lifecycle::reopen_client_id(&msg.client_id);
                let m = lifecycle::system_message(&msg.conversation_id, last as u64, client_id, msg.at, event);
                insert_system(tx, &m)?;
                tx.execute(
                    "UPDATE conversations SET status = 'open', snoozed_until = NULL, version = version + 1 WHERE id = ?1",
                    params![msg.conversation_id],
                )?;
                Some(m)
            } else {
                None
            };
            let seq = last as u64 + 1;
            tx.prepare_cached(
                "INSERT INTO messages (conversation_id, seq, client_id, sender_kind, sender_id, sender_name, text, at,
                     sender_avatar, rich, postback)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(
                params![
                    msg.conversation_id,
                    seq as i64,
                    msg.client_id,
                    kind_str(msg.sender.kind),
                    msg.sender.id,
                    msg.sender.name,
                    msg.text,
                    msg.at as i64,
                    msg.sender.avatar,
                    msg.rich.as_ref().map(|r| serde_json::to_string(r).expect("rich serializes")),
                    msg.postback,
                ],
            )?;
            let preview: String = msg.text.chars().take(PREVIEW_CHARS).collect();
            tx.prepare_cached(
                "UPDATE conversations SET last_seq = ?1, last_activity = ?2, last_sender = ?3, last_text = ?4
                 WHERE id = ?5",
            )?
            .execute(
                params![seq as i64, msg.at as i64, kind_str(msg.sender.kind), preview, msg.conversation_id],
            )?;
            // Only a conversation's first agent message pays for this.
            let first_reply_ms = if unanswered && msg.sender.kind == SenderKind::Agent {
                let (site, created): (String, i64) = tx.query_row(
                    "UPDATE conversations SET unanswered = 0 WHERE id = ?1 RETURNING site, created_at",
                    params![msg.conversation_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let ms = (msg.at as i64 - created).max(0);
                tx.execute("INSERT INTO reply_times (site, ms) VALUES (?1, ?2)", params![site, ms])?;
                tx.execute(
                    "DELETE FROM reply_times WHERE site = ?1 AND id <=
                     (SELECT id FROM reply_times WHERE site = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                    params![site, REPLY_SAMPLES as i64],
                )?;
                Some(ms as u64)
            } else {
                None
            };
            let message = ChatMessage {
                conversation_id: msg.conversation_id,
                seq,
                client_id: msg.client_id,
                sender: msg.sender,
                text: msg.text,
                at: msg.at,
                rich: msg.rich,
                postback: msg.postback,
                event: None,
                note: None,
            };
            Ok(Ok(Appended { message, duplicate: false, owner, reopened, first_reply_ms }))
        })
        .await?
    }

    pub fn open(dir: &Path, hub: Arc<Hub>) -> anyhow::Result<SqliteBroker> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("switchboard.db");
        let conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // Room for every hot statement (the default is 16).
        conn.set_prepared_statement_cache_capacity(64);
        // `rarray(?)`: a list bound as one parameter (the inbox's sites).
        rusqlite::vtab::array::load_module(&conn)?;
        conn.execute_batch(SCHEMA)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version < 2 {
            conn.execute_batch(MIGRATE_V2)?;
        }
        if version < 3 {
            conn.execute_batch(MIGRATE_V3)?;
        }
        if version < 4 {
            conn.execute_batch(MIGRATE_V4)?;
        }
        if version < 5 {
            conn.execute_batch(MIGRATE_V5)?;
        }
        if version < 6 {
            conn.execute_batch(MIGRATE_V6)?;
        }
        if version < 7 {
            conn.execute_batch(MIGRATE_V7)?;
        }
        if version < 8 {
            conn.execute_batch(MIGRATE_V8)?;
        }
        if version < 9 {
            conn.execute_batch(MIGRATE_V9)?;
        }
        if version < 10 {
            conn.execute_batch(MIGRATE_V10)?;
        }
        if version < 11 {
            // One transaction: a crash halfway would leave the column added and the next
            // start failing to add it again.
            conn.execute_batch(&format!("BEGIN; {MIGRATE_V11} COMMIT;"))?;
        }
        conn.execute_batch(WEBHOOK_LOG)?;
        if version < 12 {
            conn.execute_batch(MIGRATE_V12)?;
        }
        conn.execute_batch(RECEIPTS)?;
        super::sqlite_kpi::install(&conn)?;
        Ok(SqliteBroker {
            writer: Writer::start(conn)?,
            readers: Readers::start(&path)?,
            hub,
            local: Default::default(),
            _checkpoints: checkpoints(&path)?,
        })
    }

    /// Runs `f` alone on the writer's connection.
    pub(super) async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.writer.alone(f).await
    }

    /// Runs `f` on a read-only connection, beside the writer.
    pub(super) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.readers.read(f).await
    }
}

/// Starts the checkpoint thread on its own connection; it stops when the returned sender (held
/// by the broker) is dropped.
fn checkpoints(path: &Path) -> anyhow::Result<mpsc::Sender<()>> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                // Returns (busy, WAL frames, frames checkpointed); passive never blocks the writer.
                let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                if let Err(e) = done {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                }
            }
        })?;
    Ok(stop)
}

#[async_trait]
impl Broker for SqliteBroker {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn visitor_by_token(&self, site: &str, token_hash: &str) -> Result<Option<Visitor>> {
        let (site, hash) = (site.to_owned(), token_hash.to_owned());
        self.with(move |c| {
            c.query_row(
                "SELECT id, site, context FROM visitors WHERE token_hash = ?1 AND site = ?2",
                params![hash, site],
                |r| Ok(visitor(r.get(0)?, r.get(1)?, r.get::<_, String>(2)?)),
            )
            .optional()
        })
        .await
    }

    async fn create_visitor_with_id(
        &self,
        site: &str,
        token_hash: &str,
        id: &str,
        context: Context,
    ) -> Result<Visitor> {
        let v = Visitor {
            id: id.to_owned(),
            site: site.to_owned(),
            context,
        };
        let (row, hash) = (v.clone(), token_hash.to_owned());
        self.with(move |c| {
            // A retry keeps the one row; the context is the latest the session had.
            c.execute(
                "INSERT INTO visitors (id, site, token_hash, context, created_at, customer_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET context = excluded.context, customer_id = excluded.customer_id",
                params![
                    row.id,
                    row.site,
                    hash,
                    json(&row.context),
                    crate::clock::now() as i64,
                    verified_customer(&row.context)
                ],
            )
        })
        .await?;
        Ok(v)
    }

    async fn set_context(&self, visitor_id: &str, context: &Context) -> Result<()> {
        let (id, ctx) = (visitor_id.to_owned(), json(context));
        let customer = verified_customer(context).map(str::to_owned);
        self.with(move |c| {
            c.execute(
                "UPDATE visitors SET context = ?1, customer_id = ?3 WHERE id = ?2",
                params![ctx, id, customer],
            )
        })
        .await
        .map(drop)
    }

    async fn stored_counts(&self, site: &str) -> Result<(u64, u64)> {
        let site = site.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM visitors WHERE site = ?1),
                        (SELECT COUNT(*) FROM conversations WHERE site = ?1)",
                params![site],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
        })
        .await
    }

    async fn open_conversation_with_id(
        &self,
        site: &str,
        visitor_id: &str,
        id: &str,
        now: Millis,
        owner: &Owner,
        team: Option<&str>,
    ) -> Result<Conversation> {
        let (site, visitor_id, owner, id) = (
            site.to_owned(),
            visitor_id.to_owned(),
            owner.clone(),
            id.to_owned(),
        );
        let team = team.map(str::to_owned);
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let found = tx
                .query_row(
                    concat!("SELECT id, site, visitor_id, last_seq, owner, ", state_columns!(), " FROM conversations
                     WHERE visitor_id = ?1 AND open = 1 ORDER BY created_at DESC LIMIT 1"),
                    params![visitor_id],
                    conversation,
                )
                .optional()?;
            let conv = match found {
                Some(conv) => conv,
                None => {
                    let conv = Conversation {
                        id,
                        site,
                        visitor_id,
                        last_seq: 0,
                        owner,
                        state: State {
                            team,
                            ..State::default()
                        },
                    };
                    tx.execute(
                        "INSERT INTO conversations (id, site, visitor_id, created_at, last_activity, owner, team, unanswered)
                         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, 1)",
                        params![conv.id, conv.site, conv.visitor_id, now as i64, owner_str(&conv.owner), conv.state.team],
                    )?;
                    conv
                }
            };
            tx.commit()?;
            Ok(conv)
        })
        .await
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>> {
        let id = id.to_owned();
        self.with(move |c| {
            c.query_row(
                concat!(
                    "SELECT id, site, visitor_id, last_seq, owner, ",
                    state_columns!(),
                    " FROM conversations WHERE id = ?1"
                ),
                params![id],
                conversation,
            )
            .optional()
        })
        .await
    }

    async fn set_owner(
        &self,
        conversation_id: &str,
        expected: &Owner,
        new: &Owner,
        handoff: HandoffChange,
    ) -> Result<bool> {
        let (id, expected, new) = (
            conversation_id.to_owned(),
            owner_str(expected),
            owner_str(new),
        );
        self.with(move |c| {
            let changed = match handoff {
                HandoffChange::Keep => c.execute(
                    "UPDATE conversations SET owner = ?1 WHERE id = ?2 AND owner = ?3",
                    params![new, id, expected],
                )?,
                HandoffChange::Set(h) => c.execute(
                    "UPDATE conversations SET owner = ?1, handoff = ?4 WHERE id = ?2 AND owner = ?3",
                    params![new, id, expected, serde_json::to_string(&h).expect("handoffs serialize")],
                )?,
                HandoffChange::Clear => c.execute(
                    "UPDATE conversations SET owner = ?1, handoff = NULL WHERE id = ?2 AND owner = ?3",
                    params![new, id, expected],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }

    /// One node: the hub's own agent list is the whole truth.
    async fn set_presence(&self, _: &str, _: &str, _: Option<Millis>) -> Result<()> {
        Ok(())
    }

    async fn present_elsewhere(&self, _: &str, _: &str, _: Millis) -> Result<bool> {
        Ok(false)
    }

    async fn set_agent_presence(
        &self,
        site: &str,
        agent: &str,
        node: &str,
        status: Presence,
        until: Millis,
    ) -> Result<()> {
        let key = (site.to_owned(), agent.to_owned(), node.to_owned());
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local.presence.insert(key, (status, until));
        Ok(())
    }

    async fn agent_presence(&self, site: &str, now: Millis) -> Result<Vec<(String, Presence)>> {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        local
            .presence
            .retain(|(s, _, _), (_, until)| s != site || *until >= now);
        let claims = (local.presence.iter())
            .filter(|((s, _, _), _)| s == site)
            .map(|((_, agent, _), (p, _))| (agent.clone(), *p));
        Ok(best_presence(claims))
    }

    async fn assignment_lease(
        &self,
        site: &str,
        node: &str,
        until: Millis,
        now: Millis,
    ) -> Result<bool> {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let lease = local.leases.entry(site.to_owned()).or_default();
        if lease.0 != node && lease.1 >= now {
            return Ok(false);
        }
        *lease = (node.to_owned(), until);
        Ok(true)
    }

    async fn conversation_context(&self, id: &str) -> Result<Context> {
        let id = id.to_owned();
        let ctx: Option<String> = self
            .with(move |c| {
                c.query_row(
                    "SELECT v.context FROM conversations c JOIN visitors v ON v.id = c.visitor_id WHERE c.id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        Ok(ctx.map(|s| parse_context(&s)).unwrap_or_default())
    }

    async fn append(&self, site: &str, msg: NewMessage) -> Result<Appended> {
        // Held until the message is handed to the hub, so live frames leave in seq order.
        let _order = self.hub.order(&msg.conversation_id).await;
        let appended = self.append_row(msg).await?;
        if let Some(reopened) = &appended.reopened {
            let frame = ServerMsg::Message(reopened.clone());
            self.hub.deliver(&Event::new(
                Audience::Both,
                site,
                &reopened.conversation_id,
                &frame,
            ));
        }
        if !appended.duplicate {
            let m = &appended.message;
            let frame = ServerMsg::Message(m.clone());
            self.hub.deliver(&Event::new(
                Audience::Both,
                site,
                &m.conversation_id,
                &frame,
            ));
        }
        Ok(appended)
    }

    async fn append_note(&self, site: &str, note: ChatMessage) -> Result<(ChatMessage, bool)> {
        // Held until the note is handed to the hub, like an append's: one order for both.
        let _order = self.hub.order(&note.conversation_id).await;
        let (stored, duplicate) = self
            .with(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let last: Option<i64> = tx
                    .query_row(
                        "SELECT last_seq FROM conversations WHERE id = ?1",
                        params![note.conversation_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(last) = last else {
                    return Ok(Err(StoreError::NotFound("conversation".into())));
                };
                let existing = tx
                    .prepare_cached(concat!(
                        message_select!(),
                        " WHERE conversation_id = ?1 AND sender_id = ?2 AND client_id = ?3"
                    ))?
                    .query_row(
                        params![note.conversation_id, note.sender.id, note.client_id],
                        message,
                    )
                    .optional()?;
                if let Some(m) = existing {
                    return Ok(Ok((m, true)));
                }
                let mut m = note;
                m.seq = last as u64 + 1;
                tx.execute(
                    "INSERT INTO messages (conversation_id, seq, client_id, sender_kind, sender_id, sender_name, text, at, note)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        m.conversation_id,
                        m.seq as i64,
                        m.client_id,
                        kind_str(m.sender.kind),
                        m.sender.id,
                        m.sender.name,
                        m.text,
                        m.at as i64,
                        serde_json::to_string(&m.note).expect("notes serialize"),
                    ],
                )?;
                // Only the seq: a note is no activity of the conversation's (its inbox order
                // and preview are the visitor's and answerers', which bots read too).
                tx.execute(
                    "UPDATE conversations SET last_seq = ?1 WHERE id = ?2",
                    params![m.seq as i64, m.conversation_id],
                )?;
                tx.commit()?;
                Ok(Ok((m, false)))
            })
            .await??;
        if !duplicate {
            let copy = lifecycle::visitor_copy(&stored).expect("a note has a visitor copy");
            let id = &stored.conversation_id;
            self.hub.deliver(&Event::new(
                Audience::Agents,
                site,
                id,
                &ServerMsg::Message(stored.clone()),
            ));
            self.hub.deliver(&Event::new(
                Audience::Visitors,
                site,
                id,
                &ServerMsg::Message(copy),
            ));
        }
        Ok((stored, duplicate))
    }

    async fn change(
        &self,
        conversation_id: &str,
        expected_version: u64,
        change: Change,
    ) -> Result<Changed> {
        // Held until the event is handed to the hub, like an append's: one order for both.
        let _order = self.hub.order(conversation_id).await;
        let id = conversation_id.to_owned();
        let (site, changed) = self
            .with(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let current = tx
                    .query_row(
                        concat!("SELECT site, last_seq, ", state_columns!(), " FROM conversations WHERE id = ?1"),
                        params![id],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, state(r, 2)?)),
                    )
                    .optional()?;
                let Some((site, last, current)) = current else {
                    return Ok(Err(StoreError::NotFound("conversation".into())));
                };
                if current.version != expected_version {
                    return Ok(Err(StoreError::Conflict(Box::new(current))));
                }
                let (next, event) = match current.apply(&change) {
                    Ok(applied) => applied,
                    Err(why) => return Ok(Err(StoreError::Invalid(why))),
                };
                let client_id = lifecycle::change_client_id(next.version);
                let message = lifecycle::system_message(&id, last + 1, client_id, change.at, event);
                insert_system(&tx, &message)?;
                tx.execute(
                    "UPDATE conversations SET last_seq = ?2, status = ?3, snoozed_until = ?4, assignee = ?5,
                     team = ?6, priority = ?7, note = ?8, version = ?9, blocked = ?10, rated = ?11 WHERE id = ?1",
                    params![
                        id,
                        message.seq as i64,
                        status_str(next.status),
                        snoozed_until(next.status).map(|t| t as i64),
                        next.assignee,
                        next.team,
                        priority_str(next.priority),
                        next.note,
                        next.version as i64,
                        next.blocked as i64,
                        next.rated as i64,
                    ],
                )?;
                tx.commit()?;
                Ok(Ok((site, Changed { message, state: next })))
            })
            .await??;
        let frame = ServerMsg::Message(changed.message.clone());
        match lifecycle::visitor_copy(&changed.message) {
            None => self
                .hub
                .deliver(&Event::new(Audience::Both, &site, conversation_id, &frame)),
            Some(copy) => {
                self.hub.deliver(&Event::new(
                    Audience::Agents,
                    &site,
                    conversation_id,
                    &frame,
                ));
                let copy = ServerMsg::Message(copy);
                self.hub.deliver(&Event::new(
                    Audience::Visitors,
                    &site,
                    conversation_id,
                    &copy,
                ));
            }
        }
        Ok(changed)
    }

    async fn first_reply_times(&self, site: &str) -> Result<Vec<u64>> {
        let site = site.to_owned();
        self.with(move |c| {
            let mut q = c.prepare_cached(
                "SELECT ms FROM reply_times WHERE site = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = q.query_map(params![site, REPLY_SAMPLES as i64], |r| r.get::<_, i64>(0))?;
            rows.map(|r| r.map(|ms| ms as u64)).collect()
        })
        .await
    }

    async fn publish(&self, event: Event) {
        self.hub.deliver(&event);
    }

    async fn history(
        &self,
        conversation_id: &str,
        since: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>> {
        let id = conversation_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(concat!(
                message_select!(),
                " WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![id, since as i64, limit as i64], message)?;
            rows.collect()
        })
        .await
    }

    async fn inbox(
        &self,
        sites: &[String],
        before: Option<&InboxCursor>,
        limit: usize,
    ) -> Result<InboxPage> {
        if limit == 0 {
            return Ok(InboxPage::default());
        }
        let sites: Vec<Value> = sites.iter().cloned().map(Value::from).collect();
        // No cursor: a position after every stored time, so one statement serves both.
        let (at, id) = before.map_or((i64::MAX, String::new()), |c| {
            (c.last_activity as i64, c.id.clone())
        });
        // One more than asked tells whether older conversations exist.
        let mut items: Vec<ConversationSummary> = self
            // On the writer, not a reader: with inbox pages on a read-only connection a bot that
            // reconnected right after a handoff was once replayed the handed-off conversation
            // (`bots::a_connecting_bot_gets_every_conversation_it_owns_beyond_one_page`, 1 run
            // in 4); until that read is understood, pages read what the writer committed.
            .with(move |c| {
                let mut stmt = c.prepare_cached(&format!(
                    "{SUMMARY_SELECT} WHERE c.site IN rarray(?1) AND c.last_seq > 0 AND c.blocked = 0 \
                     AND (c.last_activity, c.id) < (?2, ?3) \
                     ORDER BY c.last_activity DESC, c.id DESC LIMIT ?4"
                ))?;
                let rows =
                    stmt.query_map(params![Rc::new(sites), at, id, limit as i64 + 1], summary)?;
                rows.collect()
            })
            .await?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next = items.last().filter(|_| more).map(|s| InboxCursor {
            last_activity: s.last_activity,
            id: s.id.clone(),
        });
        Ok(InboxPage { items, next })
    }

    async fn summary(&self, conversation_id: &str) -> Result<Option<ConversationSummary>> {
        let id = conversation_id.to_owned();
        self.read(move |c| {
            c.query_row(
                &format!("{SUMMARY_SELECT} WHERE c.id = ?1"),
                params![id],
                summary,
            )
            .optional()
        })
        .await
    }

    async fn visitor_record(
        &self,
        visitor_id: &str,
    ) -> Result<Option<(VisitorRecord, Vec<String>)>> {
        let id = visitor_id.to_owned();
        self.with(move |c| {
            let record = c
                .query_row(
                    "SELECT id, site, created_at, context, addr FROM visitors WHERE id = ?1",
                    params![id],
                    |r| {
                        Ok(VisitorRecord {
                            id: r.get(0)?,
                            site: r.get(1)?,
                            created_at: r.get::<_, i64>(2)? as u64,
                            context: parse_context(&r.get::<_, String>(3)?),
                            addr: r.get(4)?,
                        })
                    },
                )
                .optional()?;
            let Some(record) = record else {
                return Ok(None);
            };
            let mut stmt = c.prepare_cached(
                "SELECT id FROM conversations WHERE visitor_id = ?1 ORDER BY created_at, id",
            )?;
            let ids = stmt
                .query_map(params![id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(Some((record, ids)))
        })
        .await
    }

    async fn delete_visitor(&self, visitor_id: &str) -> Result<Option<Vec<String>>> {
        let id = visitor_id.to_owned();
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let ids = tx
                .prepare_cached("SELECT id FROM conversations WHERE visitor_id = ?1")?
                .query_map(params![id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            // Messages hold the resend records too (their unique client ids); the inbox is
            // the conversations table itself.
            tx.execute(
                "DELETE FROM messages WHERE conversation_id IN
                 (SELECT id FROM conversations WHERE visitor_id = ?1)",
                params![id],
            )?;
            tx.execute(
                "DELETE FROM conversations WHERE visitor_id = ?1",
                params![id],
            )?;
            let visitors = tx.execute("DELETE FROM visitors WHERE id = ?1", params![id])?;
            tx.commit()?;
            Ok((visitors > 0 || !ids.is_empty()).then_some(ids))
        })
        .await
    }

    async fn purge(&self, site: &str, before: Millis, batch: usize) -> Result<Purged> {
        let site = site.to_owned();
        let (before, batch) = (before.min(i64::MAX as u64) as i64, batch as i64);
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // The per-site activity index finds them; the same statement's result decides
            // what both deletes take, in one transaction, so an append in between is not
            // possible (the writer lock is held).
            tx.execute(
                "CREATE TEMP TABLE IF NOT EXISTS purging (id TEXT PRIMARY KEY) WITHOUT ROWID",
                [],
            )?;
            tx.execute("DELETE FROM purging", [])?;
            tx.execute(
                "INSERT INTO purging SELECT id FROM conversations
                 WHERE site = ?1 AND last_activity < ?2 LIMIT ?3",
                params![site, before, batch],
            )?;
            let conversations = tx
                .prepare("SELECT id FROM purging")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            tx.execute(
                "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM purging)",
                [],
            )?;
            tx.execute(
                "DELETE FROM conversations WHERE id IN (SELECT id FROM purging)",
                [],
            )?;
            tx.execute("DELETE FROM purging", [])?;
            let visitors = tx.execute(
                "DELETE FROM visitors WHERE id IN (SELECT v.id FROM visitors v
                 WHERE v.site = ?1 AND v.created_at < ?2
                 AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.visitor_id = v.id)
                 LIMIT ?3)",
                params![site, before, batch],
            )?;
            tx.commit()?;
            Ok(Purged {
                conversations,
                visitors,
            })
        })
        .await
    }

    async fn push_bot_event(
        &self,
        bot: &str,
        at: Millis,
        body: &str,
        limit: u64,
    ) -> Result<Option<u64>> {
        self.queue_push(bot, at, body, limit).await
    }

    async fn bot_events(&self, bot: &str, limit: usize) -> Result<Vec<BotEvent>> {
        let bot = bot.to_owned();
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, body FROM bot_events WHERE bot = ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![bot, limit as i64], |r| {
                Ok(BotEvent {
                    position: r.get::<_, i64>(0)? as u64,
                    body: r.get(1)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn ack_bot_event(&self, bot: &str, position: u64) -> Result<()> {
        let bot = bot.to_owned();
        self.with(move |c| {
            c.prepare_cached("DELETE FROM bot_events WHERE bot = ?1 AND id = ?2")?
                .execute(params![bot, position as i64])
                .map(drop)
        })
        .await
    }

    async fn bot_backlog(&self, bot: &str) -> Result<u64> {
        let bot = bot.to_owned();
        self.with(move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM bot_events WHERE bot = ?1")?
                .query_row(params![bot], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }

    async fn set_bot_overflow(&self, bot: &str) -> Result<()> {
        let bot = bot.to_owned();
        self.with(move |c| {
            c.execute(
                "INSERT INTO bot_queues (bot, overflow) VALUES (?1, 1)
                 ON CONFLICT(bot) DO UPDATE SET overflow = 1",
                params![bot],
            )
            .map(drop)
        })
        .await
    }

    async fn take_bot_overflow(&self, bot: &str) -> Result<bool> {
        let bot = bot.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE bot_queues SET overflow = 0 WHERE bot = ?1 AND overflow = 1",
                params![bot],
            )
            .map(|n| n == 1)
        })
        .await
    }

    async fn block(&self, site: &str, key: &str, until: Millis) -> Result<()> {
        let (site, key) = (site.to_owned(), key.to_owned());
        self.with(move |c| {
            // Ended blocks of the site go with any new one, so the table stays small.
            c.execute(
                "DELETE FROM blocks WHERE site = ?1 AND until <= ?2",
                params![site, crate::clock::now() as i64],
            )?;
            c.execute(
                "INSERT INTO blocks (site, key, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (site, key) DO UPDATE SET until = excluded.until",
                params![site, key, until as i64],
            )
            .map(drop)
        })
        .await
    }

    async fn unblock(&self, site: &str, key: &str) -> Result<bool> {
        let (site, key) = (site.to_owned(), key.to_owned());
        self.with(move |c| {
            c.execute(
                "DELETE FROM blocks WHERE site = ?1 AND key = ?2",
                params![site, key],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn is_blocked(&self, site: &str, keys: &[String], now: Millis) -> Result<bool> {
        if keys.is_empty() {
            return Ok(false);
        }
        let site = site.to_owned();
        let keys: Vec<Value> = keys.iter().cloned().map(Value::from).collect();
        self.with(move |c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM blocks WHERE site = ?1 AND key IN rarray(?2) AND until > ?3)",
            )?
            .query_row(params![site, Rc::new(keys), now as i64], |r| r.get(0))
        })
        .await
    }

    async fn blocks(&self, site: &str, now: Millis) -> Result<Vec<(String, Millis)>> {
        let site = site.to_owned();
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT key, until FROM blocks WHERE site = ?1 AND until > ?2 ORDER BY key",
            )?;
            let rows = stmt.query_map(params![site, now as i64], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            rows.collect()
        })
        .await
    }

    async fn set_visitor_addr(&self, visitor_id: &str, addr: &str) -> Result<()> {
        let (id, addr) = (visitor_id.to_owned(), addr.to_owned());
        self.with(move |c| {
            c.execute(
                "UPDATE visitors SET addr = ?2 WHERE id = ?1 AND addr IS NOT ?2",
                params![id, addr],
            )
            .map(drop)
        })
        .await
    }

    async fn visitor_addr(&self, visitor_id: &str) -> Result<Option<String>> {
        let id = visitor_id.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT addr FROM visitors WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
        .await
    }

    async fn bot_lease(&self, bot: &str, node: &str, ttl_ms: u64) -> Result<bool> {
        let (bot, node) = (bot.to_owned(), node.to_owned());
        let now = crate::clock::now() as i64;
        self.with(move |c| {
            c.execute(
                "INSERT INTO bot_queues (bot, lease_node, lease_until) VALUES (?1, ?2, ?3 + ?4)
                 ON CONFLICT(bot) DO UPDATE SET lease_node = excluded.lease_node,
                     lease_until = excluded.lease_until
                 WHERE bot_queues.lease_node IS NULL OR bot_queues.lease_node = excluded.lease_node
                     OR bot_queues.lease_until <= ?3",
                params![bot, node, now, ttl_ms as i64],
            )
            .map(|n| n == 1)
        })
        .await
    }

    async fn log_webhook_attempt(&self, queue: &str, line: &str, keep: usize) -> Result<()> {
        let (queue, line) = (queue.to_owned(), line.to_owned());
        self.with(move |c| {
            c.prepare_cached("INSERT INTO webhook_attempts (queue, line) VALUES (?1, ?2)")?
                .execute(params![queue, line])?;
            // Lines past the newest `keep` go at once, so the log stays bounded.
            c.prepare_cached(
                "DELETE FROM webhook_attempts WHERE queue = ?1 AND id <= (
                     SELECT id FROM webhook_attempts WHERE queue = ?1
                     ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )?
            .execute(params![queue, keep as i64])
            .map(drop)
        })
        .await
    }

    async fn webhook_attempts(&self, queue: &str, limit: usize) -> Result<Vec<String>> {
        let queue = queue.to_owned();
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT line FROM webhook_attempts WHERE queue = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![queue, limit as i64], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn webhook_cursor(&self, queue: &str, conversation_id: &str) -> Result<u64> {
        let (queue, conv) = (queue.to_owned(), conversation_id.to_owned());
        let since = crate::clock::now().saturating_sub(super::CURSOR_TTL_MS) as i64;
        self.with(move |c| {
            c.prepare_cached(
                "SELECT seq FROM webhook_cursors
                 WHERE queue = ?1 AND conversation = ?2 AND moved_at > ?3",
            )?
            .query_row(params![queue, conv, since], |r| r.get::<_, i64>(0))
            .optional()
            .map(|s| s.unwrap_or(0) as u64)
        })
        .await
    }

    async fn set_webhook_cursor(&self, queue: &str, conversation_id: &str, seq: u64) -> Result<()> {
        let (queue, conv) = (queue.to_owned(), conversation_id.to_owned());
        let now = crate::clock::now();
        self.with(move |c| {
            c.prepare_cached(
                "INSERT INTO webhook_cursors (queue, conversation, seq, moved_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (queue, conversation) DO UPDATE
                 SET seq = max(seq, excluded.seq), moved_at = excluded.moved_at",
            )?
            .execute(params![queue, conv, seq as i64, now as i64])?;
            // A few expired cursors go with every move, so the table stays bounded.
            c.prepare_cached(
                "DELETE FROM webhook_cursors WHERE rowid IN (
                     SELECT rowid FROM webhook_cursors WHERE moved_at <= ?1 LIMIT 8)",
            )?
            .execute(params![now.saturating_sub(super::CURSOR_TTL_MS) as i64])
            .map(drop)
        })
        .await
    }

    async fn create_agent_session(
        &self,
        hash: &str,
        agent: &str,
        expires_at: Millis,
    ) -> Result<()> {
        let (hash, agent) = (hash.to_owned(), agent.to_owned());
        let now = crate::clock::now() as i64;
        self.with(move |c| {
            // Sign-ins are rare: each one also clears the sessions that ran out.
            c.execute(
                "DELETE FROM agent_sessions WHERE expires_at <= ?1",
                params![now],
            )?;
            c.execute(
                "INSERT OR REPLACE INTO agent_sessions (hash, agent, expires_at) VALUES (?1, ?2, ?3)",
                params![hash, agent, expires_at as i64],
            )
            .map(drop)
        })
        .await
    }

    async fn agent_session(&self, hash: &str, now: Millis) -> Result<Option<String>> {
        let hash = hash.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT agent FROM agent_sessions WHERE hash = ?1 AND expires_at > ?2",
                params![hash, now as i64],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    async fn revoke_agent_session(&self, hash: &str) -> Result<bool> {
        let hash = hash.to_owned();
        self.with(move |c| {
            c.execute("DELETE FROM agent_sessions WHERE hash = ?1", params![hash])
                .map(|n| n == 1)
        })
        .await
    }

    async fn search(&self, search: &Search<'_>) -> Result<Vec<Found>> {
        let query = fts_query(search.terms);
        let sites: Vec<Value> = search.sites.iter().cloned().map(Value::from).collect();
        let status = search.status.map(str::to_owned);
        let team = search.team.map(str::to_owned);
        let assignee = search.assignee.map(str::to_owned);
        let (from, to) = (search.from.map(|t| t as i64), search.to.map(|t| t as i64));
        let (offset, limit) = (search.offset as i64, search.limit as i64);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(SEARCH_SQL)?;
            let rows = stmt.query_map(
                params![
                    query,
                    Rc::new(sites),
                    status,
                    team,
                    assignee,
                    from,
                    to,
                    limit,
                    offset
                ],
                |r| {
                    Ok(Found {
                        conversation_id: r.get(0)?,
                        seq: r.get::<_, i64>(1)? as u64,
                        at: r.get::<_, i64>(2)? as u64,
                        sender: parse_kind(&r.get::<_, String>(3)?),
                        text: r.get(4)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }

    async fn customer_visitors(
        &self,
        site: &str,
        customer_id: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let (site, customer) = (site.to_owned(), customer_id.to_owned());
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM visitors WHERE site = ?1 AND customer_id = ?2
                 ORDER BY created_at DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![site, customer, limit as i64], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn canned_replies(&self, site: &str) -> Result<Vec<CannedReply>> {
        let site = site.to_owned();
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, shortcut, body FROM canned_replies WHERE site = ?1 ORDER BY shortcut",
            )?;
            let rows = stmt.query_map(params![site], canned_row)?;
            rows.collect()
        })
        .await
    }

    async fn canned_reply(&self, site: &str, id: &str) -> Result<Option<CannedReply>> {
        let (site, id) = (site.to_owned(), id.to_owned());
        self.with(move |c| {
            c.prepare_cached(
                "SELECT id, shortcut, body FROM canned_replies WHERE site = ?1 AND id = ?2",
            )?
            .query_row(params![site, id], canned_row)
            .optional()
        })
        .await
    }

    async fn put_canned(
        &self,
        site: &str,
        reply: &CannedReply,
        create: bool,
        max: usize,
    ) -> Result<CannedPut> {
        let (site, reply) = (site.to_owned(), reply.clone());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM canned_replies WHERE site = ?1 AND id = ?2)",
                params![site, reply.id],
                |r| r.get(0),
            )?;
            if create {
                let n: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM canned_replies WHERE site = ?1",
                    params![site],
                    |r| r.get(0),
                )?;
                if n as usize >= max {
                    return Ok(CannedPut::Full);
                }
            } else if !exists {
                return Ok(CannedPut::NotFound);
            }
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM canned_replies WHERE site = ?1 AND shortcut = ?2 AND id <> ?3)",
                params![site, reply.shortcut, reply.id],
                |r| r.get(0),
            )?;
            if taken {
                return Ok(CannedPut::ShortcutTaken);
            }
            tx.execute(
                "INSERT INTO canned_replies (site, id, shortcut, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (site, id) DO UPDATE SET shortcut = excluded.shortcut, body = excluded.body",
                params![site, reply.id, reply.shortcut, reply.body],
            )?;
            tx.commit()?;
            Ok(CannedPut::Stored)
        })
        .await
    }

    async fn delete_canned(&self, site: &str, id: &str) -> Result<bool> {
        let (site, id) = (site.to_owned(), id.to_owned());
        self.with(move |c| {
            c.execute(
                "DELETE FROM canned_replies WHERE site = ?1 AND id = ?2",
                params![site, id],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn seed_canned(&self, site: &str, replies: &[CannedReply]) -> Result<bool> {
        let (site, replies) = (site.to_owned(), replies.to_vec());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let any: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM canned_replies WHERE site = ?1)",
                params![site],
                |r| r.get(0),
            )?;
            if any {
                return Ok(false);
            }
            for r in &replies {
                tx.execute(
                    "INSERT INTO canned_replies (site, id, shortcut, body) VALUES (?1, ?2, ?3, ?4)",
                    params![site, r.id, r.shortcut, r.body],
                )?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn mark_read(&self, conversation_id: &str, side: ReadSide, seq: u64) -> Result<ReadMark> {
        let (id, side) = (conversation_id.to_owned(), side_str(side));
        let seq = seq.min(i64::MAX as u64) as i64;
        let done = self
            .with(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let last: Option<i64> = tx
                    .query_row(
                        "SELECT last_seq FROM conversations WHERE id = ?1",
                        params![id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(last) = last else { return Ok(None) };
                if seq > last {
                    return Ok(Some(ReadMark::Ahead(last as u64)));
                }
                let moved = tx.execute(
                    "INSERT INTO read_marks (conversation_id, side, seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT (conversation_id, side) DO UPDATE SET seq = excluded.seq
                     WHERE excluded.seq > read_marks.seq",
                    params![id, side, seq],
                )?;
                let mark = if moved == 1 {
                    ReadMark::Moved
                } else {
                    let cur: i64 = tx.query_row(
                        "SELECT seq FROM read_marks WHERE conversation_id = ?1 AND side = ?2",
                        params![id, side],
                        |r| r.get(0),
                    )?;
                    ReadMark::Unchanged(cur as u64)
                };
                tx.commit()?;
                Ok(Some(mark))
            })
            .await?;
        done.ok_or_else(|| StoreError::NotFound("conversation".into()))
    }

    async fn read_marks(&self, conversation_id: &str) -> Result<(u64, u64)> {
        let id = conversation_id.to_owned();
        self.with(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT side, seq FROM read_marks WHERE conversation_id = ?1")?;
            let mut marks = (0, 0);
            for row in stmt.query_map(params![id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })? {
                let (side, seq) = row?;
                if side == side_str(ReadSide::Visitor) {
                    marks.0 = seq as u64;
                } else if side == side_str(ReadSide::Agents) {
                    marks.1 = seq as u64;
                }
            }
            Ok(marks)
        })
        .await
    }

    async fn push_page(
        &self,
        visitor_id: &str,
        page: &PageVisit,
        keep: usize,
    ) -> Result<(Vec<PageVisit>, bool)> {
        let (id, page) = (visitor_id.to_owned(), page.clone());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM visitors WHERE id = ?1)",
                params![id],
                |r| r.get(0),
            )?;
            if !known {
                return Ok((Vec::new(), false));
            }
            let last: Option<String> = tx
                .query_row(
                    "SELECT url FROM page_trail WHERE visitor_id = ?1 ORDER BY id DESC LIMIT 1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?;
            let changed = last.as_deref() != Some(page.url.as_str());
            if changed {
                tx.execute(
                    "INSERT INTO page_trail (visitor_id, at, url, title) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        id,
                        page.at.min(i64::MAX as u64) as i64,
                        page.url,
                        page.title
                    ],
                )?;
                tx.execute(
                    "DELETE FROM page_trail WHERE visitor_id = ?1 AND id NOT IN
                     (SELECT id FROM page_trail WHERE visitor_id = ?1 ORDER BY id DESC LIMIT ?2)",
                    params![id, keep as i64],
                )?;
            }
            let trail = trail(&tx, &id)?;
            tx.commit()?;
            Ok((trail, changed))
        })
        .await
    }

    async fn page_trail(&self, visitor_id: &str) -> Result<Vec<PageVisit>> {
        let id = visitor_id.to_owned();
        self.with(move |c| trail(c, &id)).await
    }

    async fn take_kpi_dirty(&self, site: &str, limit: usize) -> Result<Vec<String>> {
        super::sqlite_kpi::take_dirty(self, site, limit).await
    }

    async fn mark_kpi_dirty(&self, site: &str, ids: &[String]) -> Result<()> {
        super::sqlite_kpi::mark_dirty(self, site, ids).await
    }

    async fn kpi_facts(&self, site: &str, id: &str) -> Result<Option<crate::kpi::Facts>> {
        super::sqlite_kpi::facts_of(self, site, id).await
    }

    async fn put_kpi_facts(&self, facts: &[crate::kpi::Facts]) -> Result<()> {
        super::sqlite_kpi::put(self, facts).await
    }

    async fn kpi_rows(
        &self,
        site: &str,
        from: Millis,
        to: Millis,
        dim: crate::kpi::Dim,
    ) -> Result<crate::kpi::Rows> {
        super::sqlite_kpi::rows(self, site, from, to, dim).await
    }
}

/// A visitor's trail, oldest first.
fn trail(c: &Connection, visitor_id: &str) -> rusqlite::Result<Vec<PageVisit>> {
    let mut stmt = c.prepare_cached(
        "SELECT url, title, at FROM page_trail WHERE visitor_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![visitor_id], |r| {
        Ok(PageVisit {
            url: r.get(0)?,
            title: r.get(1)?,
            at: r.get::<_, i64>(2)? as u64,
        })
    })?;
    rows.collect()
}

fn canned_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CannedReply> {
    Ok(CannedReply {
        id: r.get(0)?,
        shortcut: r.get(1)?,
        body: r.get(2)?,
    })
}

/// A search: the words' matches joined to their messages and conversations, filtered, the
/// most recently stored first. Documents are numbered as messages are stored, so FTS5 walks
/// them newest first itself and stops at the page's end: no sort of every match.
pub const SEARCH_SQL: &str = "SELECT d.conversation_id, d.seq, m.at, m.sender_kind, m.text
                 FROM search_text s
                 JOIN search_docs d ON d.id = s.rowid
                 JOIN messages m ON m.conversation_id = d.conversation_id AND m.seq = d.seq
                 JOIN conversations c ON c.id = d.conversation_id
                 WHERE search_text MATCH ?1
                   AND c.site IN rarray(?2)
                   AND (?3 IS NULL OR c.status = ?3)
                   AND (?4 IS NULL OR c.team = ?4)
                   AND (?5 IS NULL OR c.assignee = ?5)
                   AND (?6 IS NULL OR m.at >= ?6)
                   AND (?7 IS NULL OR m.at < ?7)
                 ORDER BY s.rowid DESC
                 LIMIT ?8 OFFSET ?9";

/// The FTS5 query for checked words: each one a quoted string (a quote inside doubled, though
/// words have none), so nothing in them is read as FTS5 syntax (`NEAR`, `*`, `col:`, `^`,
/// `AND`/`OR`/`NOT`); strings side by side must all match.
fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl SqliteBroker {
    /// The bot-queue methods of [`Broker`], kept together.
    async fn queue_push(
        &self,
        bot: &str,
        at: Millis,
        body: &str,
        limit: u64,
    ) -> Result<Option<u64>> {
        let (bot, body) = (bot.to_owned(), body.to_owned());
        self.with(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let n: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM bot_events WHERE bot = ?1")?
                .query_row(params![bot], |r| r.get(0))?;
            if n as u64 >= limit {
                return Ok(None);
            }
            tx.prepare_cached(
                "INSERT INTO bot_events (bot, created_at, body) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![bot, at as i64, body])?;
            let id = tx.last_insert_rowid() as u64;
            tx.commit()?;
            Ok(Some(id))
        })
        .await
    }
}

const SUMMARY_SELECT: &str = "SELECT c.id, c.site, c.visitor_id, v.context, c.created_at, c.last_activity,
    c.last_seq, c.last_sender, c.last_text, c.owner, c.handoff, c.status, c.snoozed_until, c.assignee,
    c.team, c.priority, c.note, c.version, c.blocked, c.rated FROM conversations c JOIN visitors v ON v.id = c.visitor_id";

fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConversationSummary> {
    let fields = SummaryFields {
        id: r.get(0)?,
        site: r.get(1)?,
        visitor_id: r.get(2)?,
        created_at: r.get::<_, i64>(4)? as u64,
        last_activity: r.get::<_, i64>(5)? as u64,
        last_seq: r.get::<_, i64>(6)? as u64,
        last_sender: r.get(7)?,
        last_text: r.get(8)?,
        owner: r.get(9)?,
        handoff: r.get(10)?,
        state: state(r, 11)?,
    };
    Ok(fields.into_summary(&parse_context(&r.get::<_, String>(3)?)))
}

fn conversation(r: &rusqlite::Row<'_>) -> rusqlite::Result<Conversation> {
    Ok(Conversation {
        id: r.get(0)?,
        site: r.get(1)?,
        visitor_id: r.get(2)?,
        last_seq: r.get::<_, i64>(3)? as u64,
        owner: parse_owner(&r.get::<_, String>(4)?),
        state: state(r, 5)?,
    })
}

/// The [`state_columns!`] starting at column `at`.
fn state(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<State> {
    let mut state = State::from_stored(
        Some(r.get::<_, String>(at)?.as_str()),
        r.get::<_, Option<i64>>(at + 1)?.map(|t| t as u64),
        r.get(at + 2)?,
        r.get(at + 3)?,
        Some(r.get::<_, String>(at + 4)?.as_str()),
        r.get(at + 5)?,
        r.get::<_, i64>(at + 6)? as u64,
    );
    state.blocked = r.get::<_, i64>(at + 7)? != 0;
    state.rated = r.get::<_, i64>(at + 8)? != 0;
    Ok(state)
}

/// Stores a system message (one that has its seq already) in the caller's transaction.
fn insert_system(tx: &Connection, m: &ChatMessage) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO messages (conversation_id, seq, client_id, sender_kind, sender_id, text, at, event)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            m.conversation_id,
            m.seq as i64,
            m.client_id,
            kind_str(m.sender.kind),
            m.sender.id,
            m.text,
            m.at as i64,
            m.event.as_ref().map(|e| serde_json::to_string(e).expect("events serialize")),
        ],
    )
    .map(drop)
}

fn message(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChatMessage> {
    Ok(ChatMessage {
        conversation_id: r.get(0)?,
        seq: r.get::<_, i64>(1)? as u64,
        client_id: r.get(2)?,
        sender: Sender {
            kind: parse_kind(&r.get::<_, String>(3)?),
            id: r.get(4)?,
            name: r.get(5)?,
            avatar: r.get(8)?,
        },
        text: r.get(6)?,
        at: r.get::<_, i64>(7)? as u64,
        rich: r
            .get::<_, Option<String>>(9)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        postback: r.get(10)?,
        event: r
            .get::<_, Option<String>>(11)?
            .and_then(|s| serde_json::from_str(&s).ok()),
        note: r
            .get::<_, Option<String>>(12)?
            .and_then(|s| serde_json::from_str(&s).ok()),
    })
}

fn visitor(id: String, site: String, context: String) -> Visitor {
    Visitor {
        id,
        site,
        context: parse_context(&context),
    }
}

fn json(context: &Context) -> String {
    serde_json::to_string(context).expect("contexts always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes(path: &Path) -> Vec<String> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'conversations' AND sql IS NOT NULL ORDER BY name")
            .unwrap();
        let names = stmt.query_map([], |r| r.get(0)).unwrap();
        names.collect::<rusqlite::Result<_>>().unwrap()
    }

    /// A file from before per-site inboxes (schema 2, one activity index for every site)
    /// opens as schema 3 with the per-site index instead (then 4, with the lifecycle, and on to
    /// 11).
    #[test]
    fn a_schema_2_file_gets_the_per_site_inbox_index() {
        let dir = std::env::temp_dir().join(format!("sb-sqlite-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("switchboard.db");
        drop(SqliteBroker::open(&dir, Arc::default()).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "DROP INDEX conversations_by_site_activity;
                 CREATE INDEX conversations_by_activity ON conversations(last_activity DESC);
                 ALTER TABLE conversations DROP COLUMN status;
                 ALTER TABLE conversations DROP COLUMN snoozed_until;
                 ALTER TABLE conversations DROP COLUMN assignee;
                 ALTER TABLE conversations DROP COLUMN team;
                 ALTER TABLE conversations DROP COLUMN priority;
                 ALTER TABLE conversations DROP COLUMN note;
                 ALTER TABLE conversations DROP COLUMN version;
                 ALTER TABLE messages DROP COLUMN event;
                 ALTER TABLE conversations DROP COLUMN unanswered;
                 ALTER TABLE conversations DROP COLUMN blocked;
                 ALTER TABLE visitors DROP COLUMN addr;
                 DROP TABLE blocks;
                 DROP TRIGGER messages_search_insert;
                 DROP TRIGGER messages_search_delete;
                 DROP TABLE search_text;
                 DROP TABLE search_docs;
                 DROP INDEX visitors_by_customer;
                 ALTER TABLE visitors DROP COLUMN customer_id;
                 DROP TABLE canned_replies;
                 ALTER TABLE messages DROP COLUMN note;
                 ALTER TABLE conversations DROP COLUMN rated;
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        assert_eq!(
            indexes(&path),
            ["conversations_by_activity", "conversations_by_visitor"]
        );

        drop(SqliteBroker::open(&dir, Arc::default()).unwrap());
        assert_eq!(
            indexes(&path),
            ["conversations_by_site_activity", "conversations_by_visitor"]
        );
        let version: i64 = Connection::open(&path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 12);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

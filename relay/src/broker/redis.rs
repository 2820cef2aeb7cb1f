//! The Redis broker: every piece of state in Redis, fan-out over Redis pub/sub, so relay nodes
//! keep nothing another node needs and any node serves any conversation.
//!
//! Keys (hash tags keep each conversation's and each visitor's keys in one Redis Cluster slot,
//! so the append script touches one slot):
//! - `sb:{c:ID}:meta`  hash: site, visitor_id, created_at, last_activity, last_seq, last_sender, last_text,
//!   `owner` (`humans` or `bot:ID`) and `handoff` (JSON); the lifecycle: `status`,
//!   `snoozed_until`, `assignee`, `team`, `priority`, `note` and `version`;
//! - `sb:{c:ID}:log`   stream, entry id `SEQ-1`, field `m` = the `message` frame as sent to clients;
//! - `sb:{c:ID}:ids`   hash `sender_id:client_id` → seq (resends are recognised for as long as
//!   the conversation is stored);
//! - `sb:{v:ID}`       hash: site, context, created_at, `token` (the token's SHA-256, so
//!   deleting the visitor finds its token key); `sb:{v:ID}:open` → the open conversation;
//!   `sb:{v:ID}:convs` set of all the visitor's conversation ids (export, delete, retention);
//!   `sb:{v:ID}:trail` list: the page trail, oldest first, each page as JSON;
//! - read marks: fields `read_visitor` and `read_agents` of the conversation's meta;
//! - `sb:token:SITE:SHA256` → visitor id;
//! - `sb:visitors:{SITE}` sorted set of the site's visitor ids by creation (retention finds
//!   visitors that never opened a conversation; a visitor kept because of a recent
//!   conversation is moved to that conversation's activity);
//! - `sb:replies:{SITE}` list: the site's latest first-response times in ms, newest first
//!   (a conversation's meta holds `unanswered` until its first agent message measures one);
//! - `sb:inbox:{SITE}`  sorted set of the site's conversation ids by last activity (one per
//!   site, so a busy site never crowds a quiet one out of its agents' inbox);
//! - `sb:presence:{SITE}` sorted set of node ids with agents online for the site, scored by
//!   when that claim expires (a renewal also drops expired claims: a crashed node's);
//! - `sb:{b:BOT}:events` stream: a webhook bot's queued events, entry id `POSITION-0`, fields
//!   `b` (the event as POSTed) and `at`; `sb:{b:BOT}:next` the last position given;
//!   `sb:{b:BOT}:overflow` set while an event was refused for a full backlog;
//!   `sb:{b:BOT}:lease` the node delivering the queue, with an expiry (`PX`);
//! - `sb:asession:SHA256` → `EXPIRES_AT AGENT`: a console session, dropped by Redis when it
//!   expires (`PX`);
//! - `sb:canned:{SITE}` hash `ID` → a canned reply as JSON; `sb:canned:{SITE}:shortcuts`
//!   hash `SHORTCUT` → id (unique shortcuts, checked in the same script as the write);
//! - channel `sb:events`: every live event, `AUDIENCE\nSITE\nCONVERSATION\nFRAME`.
//!
//! The hot path is one round trip: a pipeline of the append script (dedupe, next seq, XADD,
//! meta, PUBLISH — atomic, so publishes leave Redis in seq order) and the inbox ZADD.
//! A lifecycle change reads the conversation's meta, computes the new state, then runs the
//! CHANGE script, which applies it only if `version` is still the one read (compare-and-set).
//! Acknowledged means Redis answered; how durable that is depends on Redis' persistence
//! (`appendonly yes` with `appendfsync always` loses nothing acknowledged, even on a Redis crash).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushKind, Value};
use switchboard_protocol::{
    CannedReply, ChatMessage, CloseCode, Context, ConversationSummary, InboxCursor, Millis,
    PageVisit, ReadSide, SenderKind, ServerMsg, SystemEvent,
};

use super::lifecycle::{self, priority_str, snoozed_until, status_str, State};
use super::side_str;
use super::{
    best_presence, kind_str, owner_str, parse_context, parse_owner, parse_presence, presence_str,
    Appended, Audience, BotEvent, Broker, CannedPut, Change, Changed, Conversation, Event,
    HandoffChange, InboxPage, NewMessage, Purged, ReadMark, Result, StoreError, SummaryFields,
    Visitor, VisitorRecord, REPLY_SAMPLES,
};
use super::{redisearch, verified_customer, Found, Search};
use crate::hub::Hub;
use switchboard_protocol::{Owner, Presence};

const CHANNEL: &str = "sb:events";
const PREVIEW_CHARS: usize = 140;

/// Dedupe, owner check, reopening, sequence, store, publish — one atomic step. Returns
/// `{status, seq, frame, owner, reopened, first}`: status 1 stored, 0 duplicate, -1 no
/// conversation, -2 the required owner (ARGV[9], empty for none) does not own it, -4 a visitor's message to a
/// blocked conversation. A visitor's
/// message (ARGV[10] and ARGV[11], the `reopened` frame around its seq, are given) to a
/// pending, snoozed or resolved conversation first stores and publishes that frame, with its
/// own seq. An agent's message to a conversation still `unanswered` takes the mark away and
/// returns in `first` the time since the conversation opened (-1 otherwise). With ARGV[12]
/// (the search index) not empty, a visitor, agent or bot message is indexed as document
/// ARGV[13] .. seq with text ARGV[14] and the conversation's current filters, and its seq
/// added to the conversation's document set KEYS[4] (`redisearch.rs`); an indexing error is
/// not the append's (the message is stored either way).
const APPEND: &str = r#"
local owner = redis.call('HGET', KEYS[1], 'owner') or 'humans'
local seq = redis.call('HGET', KEYS[3], ARGV[1])
if seq then
  local e = redis.call('XRANGE', KEYS[2], seq .. '-1', seq .. '-1')
  return {0, tonumber(seq), e[1][2][2], owner, '', -1}
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, '', owner, '', -1} end
if ARGV[9] ~= '' and ARGV[9] ~= owner then return {-2, 0, '', owner, '', -1} end
if ARGV[10] ~= '' and redis.call('HGET', KEYS[1], 'blocked') == '1' then
  return {-4, 0, '', owner, '', -1}
end
local reopened = ''
local status = redis.call('HGET', KEYS[1], 'status')
if ARGV[10] ~= '' and (status == 'pending' or status == 'snoozed' or status == 'resolved') then
  local r = redis.call('HINCRBY', KEYS[1], 'last_seq', 1)
  reopened = ARGV[10] .. r .. ARGV[11]
  redis.call('XADD', KEYS[2], r .. '-1', 'm', reopened)
  redis.call('HSET', KEYS[1], 'status', 'open')
  redis.call('HDEL', KEYS[1], 'snoozed_until')
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('PUBLISH', ARGV[7], ARGV[8] .. reopened)
end
seq = redis.call('HINCRBY', KEYS[1], 'last_seq', 1)
local frame = ARGV[2] .. seq .. ARGV[3]
redis.call('XADD', KEYS[2], seq .. '-1', 'm', frame)
redis.call('HSET', KEYS[3], ARGV[1], seq)
redis.call('HSET', KEYS[1], 'last_activity', ARGV[4], 'last_sender', ARGV[5], 'last_text', ARGV[6])
redis.call('PUBLISH', ARGV[7], ARGV[8] .. frame)
local first = -1
if ARGV[5] == 'agent' and redis.call('HDEL', KEYS[1], 'unanswered') == 1 then
  first = math.max(0, tonumber(ARGV[4]) - tonumber(redis.call('HGET', KEYS[1], 'created_at') or ARGV[4]))
end
if ARGV[12] ~= '' and ARGV[5] ~= 'system' then
  local st = redis.call('HMGET', KEYS[1], 'site', 'status', 'team', 'assignee')
  redis.pcall('FT.ADD', ARGV[12], ARGV[13] .. seq, 1, 'REPLACE', 'FIELDS', 'text', ARGV[14],
    'site', st[1] or '', 'status', st[2] or 'open', 'team', st[3] or '', 'assignee', st[4] or '',
    'kind', ARGV[5], 'at', ARGV[4])
  redis.call('SADD', KEYS[4], seq)
end
return {1, seq, frame, owner, reopened, first}
"#;

/// Compare-and-set of the lifecycle: if the version is still ARGV[1], store the new state,
/// append the change's system message (ARGV[2] .. seq .. ARGV[3]) and publish it (channel
/// ARGV[4], header ARGV[5]); when ARGV[6] (a visitors' header) is not empty, the visitors get
/// their own copy (ARGV[7] .. seq .. ARGV[8]) right after. ARGV[9] is the number of
/// field/value pairs to set that follow; the fields after them are deleted. Returns
/// `{1, seq, frame}`, `{-1}` no conversation, `{-3}` another version.
const CHANGE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, ''} end
if tonumber(redis.call('HGET', KEYS[1], 'version') or '0') ~= tonumber(ARGV[1]) then
  return {-3, 0, ''}
end
local seq = redis.call('HINCRBY', KEYS[1], 'last_seq', 1)
local frame = ARGV[2] .. seq .. ARGV[3]
redis.call('XADD', KEYS[2], seq .. '-1', 'm', frame)
local n = tonumber(ARGV[9])
for i = 10, 9 + 2 * n, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
for i = 10 + 2 * n, #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
end
redis.call('PUBLISH', ARGV[4], ARGV[5] .. frame)
if ARGV[6] ~= '' then
  redis.call('PUBLISH', ARGV[4], ARGV[6] .. ARGV[7] .. seq .. ARGV[8])
end
return {1, seq, frame}
"#;

/// A private note: dedupe (ARGV[1] = `sender:client_id`), next seq, XADD of the whole frame
/// (ARGV[2] .. seq .. ARGV[3]), published to agents (channel ARGV[4], header ARGV[5]) and its
/// bare copy (ARGV[7] .. seq .. ARGV[8]) to visitors (header ARGV[6]) — one atomic step.
/// Returns `{1, frame}` stored, `{0, frame}` a resend, `{-1, ''}` no conversation. Neither
/// `last_activity` nor the preview change: a note is not the conversation's activity.
const NOTE: &str = r#"
local seq = redis.call('HGET', KEYS[3], ARGV[1])
if seq then
  local e = redis.call('XRANGE', KEYS[2], seq .. '-1', seq .. '-1')
  return {0, e[1][2][2]}
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, ''} end
seq = redis.call('HINCRBY', KEYS[1], 'last_seq', 1)
local frame = ARGV[2] .. seq .. ARGV[3]
redis.call('XADD', KEYS[2], seq .. '-1', 'm', frame)
redis.call('HSET', KEYS[3], ARGV[1], seq)
redis.call('PUBLISH', ARGV[4], ARGV[5] .. frame)
redis.call('PUBLISH', ARGV[4], ARGV[6] .. ARGV[7] .. seq .. ARGV[8])
return {1, frame}
"#;

/// The lifecycle fields of a conversation's meta hash, in the order [`state_of`] reads them.
const STATE_FIELDS: [&str; 9] = [
    "status",
    "snoozed_until",
    "assignee",
    "team",
    "priority",
    "note",
    "version",
    "blocked",
    "rated",
];

type StateFields = (
    Option<String>,
    Option<u64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<String>,
    Option<String>,
);

fn state_of(f: StateFields) -> State {
    let mut state = State::from_stored(
        f.0.as_deref(),
        f.1,
        f.2,
        f.3,
        f.4.as_deref(),
        f.5,
        f.6.unwrap_or(0),
    );
    state.blocked = f.7.as_deref() == Some("1");
    state.rated = f.8.as_deref() == Some("1");
    state
}

/// The site's blocks: hash `KEY` → `UNTIL` (ms).
fn blocks_key(site: &str) -> String {
    format!("sb:blocks:{{{site}}}")
}

/// Deletes a conversation's keys (one slot) if its last activity is before ARGV[1] and, when
/// ARGV[2] is not empty, it belongs to that visitor. Returns `{1, visitor_id}` deleted (also
/// when only orphaned log or ids keys were left), `{0, ''}` kept. Its search documents (seqs
/// in KEYS[4], keys ARGV[4] .. seq) go too: out of index ARGV[3] when it is given, else just
/// their hashes.
const DROP_CONVERSATION: &str = r#"
local la = redis.call('HGET', KEYS[1], 'last_activity')
if la and tonumber(la) >= tonumber(ARGV[1]) then return {0, ''} end
local v = redis.call('HGET', KEYS[1], 'visitor_id') or ''
if ARGV[2] ~= '' and la and v ~= ARGV[2] then return {0, ''} end
for _, s in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if ARGV[3] ~= '' then redis.pcall('FT.DEL', ARGV[3], ARGV[4] .. s, 'DD') end
  redis.call('DEL', ARGV[4] .. s)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {1, v}
"#;

/// Removes conversation ARGV[1] from its visitor's keys (one slot): the set of conversations
/// and the open pointer if it points there.
const FORGET_CONVERSATION: &str = r#"
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"#;

/// Deletes a visitor's keys (one slot) unless ARGV[1] is `0` and it still has a conversation
/// or an open pointer. Returns `{1, site, token hash}` deleted, `{0, '', ''}` kept.
const DROP_VISITOR: &str = r#"
if ARGV[1] == '0' and (redis.call('SCARD', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[3]) == 1) then
  return {0, '', ''}
end
local site = redis.call('HGET', KEYS[1], 'site') or ''
local token = redis.call('HGET', KEYS[1], 'token') or ''
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {1, site, token}
"#;

/// Compare-and-set of the owner: `1` changed, `0` someone else owns it, `-1` no conversation.
/// ARGV: expected, new, handoff action (`keep`, `set`, `clear`), handoff JSON.
const SET_OWNER: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = redis.call('HGET', KEYS[1], 'owner') or 'humans'
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
if ARGV[3] == 'set' then
  redis.call('HSET', KEYS[1], 'handoff', ARGV[4])
elseif ARGV[3] == 'clear' then
  redis.call('HDEL', KEYS[1], 'handoff')
end
return 1
"#;

/// Queues a bot event if the backlog (KEYS[1]) is below ARGV[1]: the next position from
/// KEYS[2], XADD with it. Returns the position, or 0 when full (nothing stored).
const PUSH_BOT_EVENT: &str = r#"
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
local n = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], n .. '-0', 'b', ARGV[2], 'at', ARGV[3])
return n
"#;

/// Takes or renews a lease (KEYS[1]) for node ARGV[1], ARGV[2] ms: 1 if it is that node's now
/// (free, expired, or already its). A webhook bot's delivery and a site's assignment use it.
const LEASE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"#;

/// Moves a site webhook's cursor on a conversation (KEYS[1]) to ARGV[1] unless it is past it
/// already, and keeps it ARGV[2] ms from now.
const CURSOR: &str = r#"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], math.max(cur, tonumber(ARGV[1])), 'PX', ARGV[2])
"#;

#[derive(Clone)]
pub struct RedisBroker {
    conn: ConnectionManager,
    append: redis::Script,
    set_owner: redis::Script,
    change: redis::Script,
    note: redis::Script,
    drop_conversation: redis::Script,
    forget_conversation: redis::Script,
    drop_visitor: redis::Script,
    push_bot_event: redis::Script,
    lease: redis::Script,
    cursor: redis::Script,
    retag: redis::Script,
    /// Whether RediSearch was found at start (`redisearch.rs`).
    search: bool,
    /// Keeps the subscriber connection (and so its task) alive as long as the broker.
    _subscriber: ConnectionManager,
}

fn meta(id: &str) -> String {
    format!("sb:{{c:{id}}}:meta")
}
fn log(id: &str) -> String {
    format!("sb:{{c:{id}}}:log")
}
fn ids(id: &str) -> String {
    format!("sb:{{c:{id}}}:ids")
}
fn visitor_key(id: &str) -> String {
    format!("sb:{{v:{id}}}")
}
fn open_key(id: &str) -> String {
    format!("sb:{{v:{id}}}:open")
}
fn convs_key(id: &str) -> String {
    format!("sb:{{v:{id}}}:convs")
}
fn visitors_key(site: &str) -> String {
    format!("sb:visitors:{{{site}}}")
}
fn token_key(site: &str, hash: &str) -> String {
    format!("sb:token:{site}:{hash}")
}
fn inbox_key(site: &str) -> String {
    format!("sb:inbox:{{{site}}}")
}
fn replies_key(site: &str) -> String {
    format!("sb:replies:{{{site}}}")
}
fn presence_key(site: &str) -> String {
    format!("sb:presence:{{{site}}}")
}
/// Hash `AGENT NODE` → `STATUS UNTIL`; shares the site's slot with its presence and lease.
fn agents_key(site: &str) -> String {
    format!("sb:agents:{{{site}}}")
}
fn lease_key(site: &str) -> String {
    format!("sb:lease:{{{site}}}")
}

fn bot_key(bot: &str, what: &str) -> String {
    format!("sb:{{b:{bot}}}:{what}")
}

fn is_noscript(e: &redis::RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        || e.to_string().contains("NoScript")
}

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl RedisBroker {
    /// Connects (waiting for Redis if it is not up yet) and subscribes to the event channel;
    /// events from every node are handed to `hub`.
    pub async fn connect(url: &str, hub: Arc<Hub>) -> anyhow::Result<RedisBroker> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_secs(2));
        let client = redis::Client::open(url)?;
        let conn = retry("redis", || {
            client.get_connection_manager_with_config(config.clone())
        })
        .await;

        // Pub/sub needs RESP3 push messages on its own connection.
        let sep = if url.contains('?') { '&' } else { '?' };
        let sub_client = redis::Client::open(format!("{url}{sep}protocol=resp3"))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sub_config = config.set_push_sender(tx).set_automatic_resubscription();
        let mut subscriber = retry("redis pub/sub", || {
            sub_client.get_connection_manager_with_config(sub_config.clone())
        })
        .await;
        subscriber.subscribe(CHANNEL).await?;
        tokio::spawn(fan_in(rx, hub));
        let search = redisearch::detect(&mut conn.clone()).await;
        Ok(RedisBroker {
            conn,
            append: redis::Script::new(APPEND),
            set_owner: redis::Script::new(SET_OWNER),
            change: redis::Script::new(CHANGE),
            note: redis::Script::new(NOTE),
            drop_conversation: redis::Script::new(DROP_CONVERSATION),
            forget_conversation: redis::Script::new(FORGET_CONVERSATION),
            drop_visitor: redis::Script::new(DROP_VISITOR),
            push_bot_event: redis::Script::new(PUSH_BOT_EVENT),
            lease: redis::Script::new(LEASE),
            cursor: redis::Script::new(CURSOR),
            retag: redis::Script::new(redisearch::RETAG),
            search,
            _subscriber: subscriber,
        })
    }

    async fn summary_of(
        &self,
        id: &str,
        fields: Vec<(String, String)>,
    ) -> Result<Option<ConversationSummary>> {
        if fields.is_empty() {
            return Ok(None);
        }
        let fields = summary_fields(id, &fields);
        let context = self.context_of(&fields.visitor_id).await?;
        Ok(Some(fields.into_summary(&context)))
    }

    /// Runs [`DROP_CONVERSATION`]; the visitor id when the conversation's keys were deleted.
    async fn drop_conversation(
        &self,
        id: &str,
        before: Millis,
        visitor: &str,
    ) -> Result<Option<String>> {
        let (done, v): (i64, String) = self
            .drop_conversation
            .key(meta(id))
            .key(log(id))
            .key(ids(id))
            .key(redisearch::docs_key(id))
            .arg(before)
            .arg(visitor)
            .arg(self.search_index())
            .arg(redisearch::doc_prefix(id))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok((done == 1).then_some(v))
    }

    /// What is left of a deleted conversation outside its slot: its inbox line, its KPI
    /// facts' id and mark, and its entries on the visitor's keys (another slot each, so separate calls on a cluster).
    async fn forget_conversation(&self, site: &str, visitor: &str, id: &str) -> Result<()> {
        let mut c = self.conn.clone();
        c.zrem::<_, _, ()>(inbox_key(site), id)
            .await
            .map_err(backend)?;
        super::redis_kpi::forget(c.clone(), site, id).await?;
        if !visitor.is_empty() {
            self.forget_conversation
                .key(convs_key(visitor))
                .key(open_key(visitor))
                .arg(id)
                .invoke_async::<i64>(&mut c)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    /// Runs [`DROP_VISITOR`], then deletes the token key and the retention index entry
    /// (other slots). Whether the visitor was deleted.
    async fn drop_visitor(&self, visitor: &str, force: bool) -> Result<bool> {
        let mut c = self.conn.clone();
        // Read before the hash goes: its entry in the customer's set goes with it.
        let context = self.context_of(visitor).await?;
        let (done, site, token): (i64, String, String) = self
            .drop_visitor
            .key(visitor_key(visitor))
            .key(convs_key(visitor))
            .key(open_key(visitor))
            .key(trail_key(visitor))
            .arg(if force { "1" } else { "0" })
            .invoke_async(&mut c)
            .await
            .map_err(backend)?;
        if done == 1 && !site.is_empty() {
            let mut pipe = redis::pipe();
            pipe.zrem(visitors_key(&site), visitor).ignore();
            // Visitors stored before the hash kept the token's hash cannot find their token
            // key; it maps to a visitor that no longer exists, which reads as unknown.
            if !token.is_empty() {
                pipe.del(token_key(&site, &token)).ignore();
            }
            if let Some(customer) = verified_customer(&context) {
                pipe.srem(customer_key(&site, customer), visitor).ignore();
            }
            pipe.query_async::<()>(&mut c).await.map_err(backend)?;
        }
        Ok(done == 1)
    }

    fn search_index(&self) -> &'static str {
        if self.search {
            redisearch::INDEX
        } else {
            ""
        }
    }

    /// After a change of status, team or assignee (a reopen too): the conversation's search
    /// documents take its new filters. Not in the change's script (which stays as it was),
    /// so a crash between the two leaves stale filters until the next change; the text is
    /// right either way.
    async fn retag(&self, conversation_id: &str) {
        if !self.search {
            return;
        }
        let r = self
            .retag
            .key(meta(conversation_id))
            .key(redisearch::docs_key(conversation_id))
            .arg(redisearch::INDEX)
            .arg(redisearch::doc_prefix(conversation_id))
            .invoke_async::<i64>(&mut self.conn.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, conversation_id, "search filters not updated");
        }
    }

    async fn context_of(&self, visitor_id: &str) -> Result<Context> {
        let raw: Option<String> = self
            .conn
            .clone()
            .hget(visitor_key(visitor_id), "context")
            .await
            .map_err(backend)?;
        Ok(stored_context(raw.as_deref()))
    }
}

/// A visitor's `context` field; a visitor without one has the empty context.
fn stored_context(raw: Option<&str>) -> Context {
    raw.map(parse_context).unwrap_or_default()
}

/// A conversation's meta hash, as read by `HGETALL`, in the form both brokers share.
fn summary_fields(id: &str, fields: &[(String, String)]) -> SummaryFields {
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    SummaryFields {
        id: id.to_owned(),
        site: get("site").unwrap_or_default(),
        visitor_id: get("visitor_id").unwrap_or_default(),
        created_at: num("created_at"),
        last_activity: num("last_activity"),
        last_seq: num("last_seq"),
        last_sender: get("last_sender"),
        last_text: get("last_text"),
        owner: get("owner"),
        handoff: get("handoff"),
        state: state_of((
            get("status"),
            get("snoozed_until").and_then(|v| v.parse().ok()),
            get("assignee"),
            get("team"),
            get("priority"),
            get("note"),
            Some(num("version")),
            get("blocked"),
            get("rated"),
        )),
    }
}

/// Retries a connection attempt until it succeeds: a relay started before Redis waits for it.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    loop {
        match f().await {
            Ok(t) => return t,
            Err(e) => {
                tracing::warn!(error = %e, "{what} unavailable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Hands published events to this node's connections. If the subscription dropped, events
/// may have been missed while it was down: once it is back, every local client is told to
/// reconnect, and resyncs from Redis, so nothing published in the gap is lost to it.
async fn fan_in(mut rx: tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>, hub: Arc<Hub>) {
    let gap = AtomicBool::new(false);
    while let Some(push) = rx.recv().await {
        match push.kind {
            PushKind::Message => {
                let Some(Value::BulkString(payload)) = push.data.get(1) else {
                    continue;
                };
                match decode_event(payload) {
                    Some(event) => hub.deliver(&event),
                    None => tracing::warn!("undecodable event on {CHANNEL}"),
                }
            }
            PushKind::Disconnection => {
                tracing::warn!("redis subscription lost; clients will resync when it is back");
                gap.store(true, Ordering::Relaxed);
            }
            PushKind::Subscribe if gap.swap(false, Ordering::Relaxed) => {
                tracing::info!("redis subscription back; asking clients to resync");
                hub.metrics.redis_resubscribed();
                hub.close_all(CloseCode::RECONNECT_NOW);
            }
            _ => {}
        }
    }
}

fn encode_event(event: &Event) -> String {
    format!(
        "{}{}",
        header(event.audience, &event.site, &event.conversation_id),
        event.frame
    )
}

fn header(audience: Audience, site: &str, conversation_id: &str) -> String {
    let a = match audience {
        Audience::Visitors => 'V',
        Audience::Agents => 'A',
        Audience::Both => 'B',
        Audience::Bot => 'T',
        Audience::Deleted => 'X',
        Audience::SignedOut => 'S',
        Audience::Blocked => 'K',
        Audience::Agent => 'M',
    };
    format!("{a}\n{site}\n{conversation_id}\n")
}

fn decode_event(payload: &[u8]) -> Option<Event> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.splitn(4, '\n');
    let audience = match parts.next()? {
        "V" => Audience::Visitors,
        "A" => Audience::Agents,
        "B" => Audience::Both,
        "T" => Audience::Bot,
        "X" => Audience::Deleted,
        "S" => Audience::SignedOut,
        "K" => Audience::Blocked,
        "M" => Audience::Agent,
        _ => return None,
    };
    let site = parts.next()?.to_owned();
    let conversation_id = parts.next()?.to_owned();
    let frame = parts.next()?.into();
    Some(Event {
        audience,
        site,
        conversation_id,
        frame,
    })
}

/// The `message` frame split around its seq, so the script can insert the seq it assigns and
/// store and publish exactly the bytes clients receive.
fn frame_around_seq(msg: &ChatMessage) -> (String, String) {
    let mut m = msg.clone();
    m.seq = u64::MAX;
    let json = ServerMsg::Message(m).to_json();
    // Inside JSON strings quotes are escaped, so this marker can only be the seq field.
    let marker = format!("\"seq\":{}", u64::MAX);
    let at = json.find(&marker).expect("a message frame has a seq");
    (
        json[..at + 6].to_owned(),
        json[at + marker.len()..].to_owned(),
    )
}

fn parse_message(frame: &str) -> Option<ChatMessage> {
    match serde_json::from_str(frame).ok()? {
        ServerMsg::Message(m) => Some(m),
        _ => None,
    }
}

#[async_trait]
impl Broker for RedisBroker {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<()> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.conn.clone())
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn visitor_by_token(&self, site: &str, token_hash: &str) -> Result<Option<Visitor>> {
        let mut c = self.conn.clone();
        let id: Option<String> = c.get(token_key(site, token_hash)).await.map_err(backend)?;
        let Some(id) = id else { return Ok(None) };
        let (vsite, context): (Option<String>, Option<String>) = c
            .hmget(visitor_key(&id), &["site", "context"])
            .await
            .map_err(backend)?;
        Ok(match vsite {
            Some(s) if s == site => Some(Visitor {
                id,
                site: s,
                context: stored_context(context.as_deref()),
            }),
            _ => None,
        })
    }

    async fn create_visitor_with_id(
        &self,
        site: &str,
        token_hash: &str,
        id: &str,
        context: Context,
    ) -> Result<Visitor> {
        // HSET and SET are idempotent: a retry rewrites the same visitor.
        let v = Visitor {
            id: id.to_owned(),
            site: site.to_owned(),
            context,
        };
        let ctx = serde_json::to_string(&v.context).expect("contexts serialize");
        let now = crate::clock::now();
        redis::pipe()
            .hset_multiple(
                visitor_key(&v.id),
                &[
                    ("site", site),
                    ("context", &ctx),
                    ("created_at", &now.to_string()),
                    ("token", token_hash),
                ],
            )
            .set(token_key(site, token_hash), &v.id)
            .zadd(visitors_key(site), &v.id, now)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        if let Some(customer) = verified_customer(&v.context) {
            self.conn
                .clone()
                .sadd::<_, _, ()>(customer_key(site, customer), &v.id)
                .await
                .map_err(backend)?;
        }
        Ok(v)
    }

    async fn set_context(&self, visitor_id: &str, context: &Context) -> Result<()> {
        let ctx = serde_json::to_string(context).expect("contexts serialize");
        let mut c = self.conn.clone();
        c.hset::<_, _, _, ()>(visitor_key(visitor_id), "context", ctx)
            .await
            .map_err(backend)?;
        // The customer's devices: only a verified identity is listed (a stale entry, for a
        // visitor since verified as someone else, is skipped by the reader's check).
        if let Some(customer) = verified_customer(context) {
            let site: Option<String> = c
                .hget(visitor_key(visitor_id), "site")
                .await
                .map_err(backend)?;
            if let Some(site) = site {
                c.sadd::<_, _, ()>(customer_key(&site, customer), visitor_id)
                    .await
                    .map_err(backend)?;
            }
        }
        Ok(())
    }

    async fn stored_counts(&self, site: &str) -> Result<(u64, u64)> {
        // A full SCAN: for operators and tests, never on a client's path.
        let mut c = self.conn.clone();
        let (mut visitors, mut conversations, mut cursor) = (0, 0, 0u64);
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("sb:{[vc]:*}*")
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .map_err(backend)?;
            for k in keys {
                let is_visitor = k.starts_with("sb:{v:") && k.ends_with('}');
                let is_conversation = k.starts_with("sb:{c:") && k.ends_with("}:meta");
                if !(is_visitor || is_conversation) {
                    continue;
                }
                let s: Option<String> = c.hget(&k, "site").await.map_err(backend)?;
                if s.as_deref() == Some(site) {
                    *if is_visitor {
                        &mut visitors
                    } else {
                        &mut conversations
                    } += 1;
                }
            }
            if next == 0 {
                return Ok((visitors, conversations));
            }
            cursor = next;
        }
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
        let mut c = self.conn.clone();
        if let Some(id) = c
            .get::<_, Option<String>>(open_key(visitor_id))
            .await
            .map_err(backend)?
        {
            if let Some(conv) = self.conversation(&id).await? {
                return Ok(conv);
            }
        }
        let id = id.to_owned();
        let now = now.to_string();
        let owner_s = owner_str(owner);
        let mut fields = vec![
            ("site", site),
            ("visitor_id", visitor_id),
            ("created_at", &now),
            ("last_activity", &now),
            ("last_seq", "0"),
            ("owner", &owner_s),
            // Until its first agent message, which measures the first response.
            ("unanswered", "1"),
        ];
        if let Some(team) = team {
            fields.push(("team", team));
        }
        redis::pipe()
            .hset_multiple(meta(&id), &fields)
            // Before the open pointer: a conversation is never reachable but unlisted.
            .sadd(convs_key(visitor_id), &id)
            .query_async::<()>(&mut c)
            .await
            .map_err(backend)?;
        // Two tabs may race to open the first conversation; the first SET wins and both use it.
        let won: bool = redis::cmd("SET")
            .arg(open_key(visitor_id))
            .arg(&id)
            .arg("NX")
            .query_async::<Option<String>>(&mut c)
            .await
            .map_err(backend)?
            .is_some();
        if !won {
            let winner: String = c.get(open_key(visitor_id)).await.map_err(backend)?;
            // A retry of this very creation finds its own id there: nothing to undo.
            if winner != id {
                let _: () = c.del(meta(&id)).await.map_err(backend)?;
                let _: () = c.srem(convs_key(visitor_id), &id).await.map_err(backend)?;
            }
            return self
                .conversation(&winner)
                .await?
                .ok_or_else(|| StoreError::NotFound("conversation".into()));
        }
        Ok(Conversation {
            id,
            site: site.to_owned(),
            visitor_id: visitor_id.to_owned(),
            last_seq: 0,
            owner: owner.clone(),
            state: State {
                team: team.map(str::to_owned),
                ..State::default()
            },
        })
    }

    async fn set_owner(
        &self,
        conversation_id: &str,
        expected: &Owner,
        new: &Owner,
        handoff: HandoffChange,
    ) -> Result<bool> {
        let (action, json) = match handoff {
            HandoffChange::Keep => ("keep", String::new()),
            HandoffChange::Set(h) => (
                "set",
                serde_json::to_string(&h).expect("handoffs serialize"),
            ),
            HandoffChange::Clear => ("clear", String::new()),
        };
        let r: i64 = self
            .set_owner
            .key(meta(conversation_id))
            .arg(owner_str(expected))
            .arg(owner_str(new))
            .arg(action)
            .arg(json)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        match r {
            -1 => Err(StoreError::NotFound("conversation".into())),
            r => Ok(r == 1),
        }
    }

    async fn set_presence(&self, site: &str, node: &str, until: Option<Millis>) -> Result<()> {
        let mut c = self.conn.clone();
        let key = presence_key(site);
        match until {
            Some(t) => {
                let expired = format!("({}", crate::clock::now());
                redis::pipe()
                    .atomic()
                    .zadd(&key, node, t)
                    .ignore()
                    .zrembyscore(&key, "-inf", expired)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            }
            None => c.zrem::<_, _, ()>(&key, node).await,
        }
        .map_err(backend)
    }

    async fn set_agent_presence(
        &self,
        site: &str,
        agent: &str,
        node: &str,
        status: Presence,
        until: Millis,
    ) -> Result<()> {
        let value = format!("{} {until}", presence_str(status));
        self.conn
            .clone()
            .hset::<_, _, _, ()>(agents_key(site), format!("{agent} {node}"), value)
            .await
            .map_err(backend)
    }

    async fn agent_presence(&self, site: &str, now: Millis) -> Result<Vec<(String, Presence)>> {
        let mut c = self.conn.clone();
        let all: Vec<(String, String)> = c.hgetall(agents_key(site)).await.map_err(backend)?;
        let mut claims = Vec::new();
        let mut expired = Vec::new();
        for (field, value) in all {
            let (status, until) = value.split_once(' ').unwrap_or((&value, "0"));
            let agent = field.split_once(' ').map_or(field.as_str(), |(a, _)| a);
            if until.parse::<Millis>().unwrap_or(0) >= now {
                claims.push((agent.to_owned(), parse_presence(status)));
            } else {
                expired.push(field.clone());
            }
        }
        if !expired.is_empty() {
            // Claims of nodes that went away; a renewal racing this delete is rewritten by
            // that node's next renewal, well within the grace period.
            let _: () = c.hdel(agents_key(site), expired).await.map_err(backend)?;
        }
        Ok(best_presence(claims))
    }

    async fn assignment_lease(
        &self,
        site: &str,
        node: &str,
        until: Millis,
        now: Millis,
    ) -> Result<bool> {
        let ttl = until.saturating_sub(now).max(1);
        let won: i64 = self
            .lease
            .key(lease_key(site))
            .arg(node)
            .arg(ttl)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(won == 1)
    }

    async fn present_elsewhere(&self, site: &str, node: &str, now: Millis) -> Result<bool> {
        let nodes: Vec<String> = self
            .conn
            .clone()
            .zrangebyscore(presence_key(site), now, "+inf")
            .await
            .map_err(backend)?;
        Ok(nodes.iter().any(|n| n != node))
    }

    async fn conversation(&self, id: &str) -> Result<Option<Conversation>> {
        type Fields = (Option<String>, Option<String>, Option<u64>, Option<String>);
        // One round trip, as before the lifecycle: this runs on every agent message.
        let mut pipe = redis::pipe();
        pipe.hmget(meta(id), &["site", "visitor_id", "last_seq", "owner"])
            .hmget(meta(id), &STATE_FIELDS);
        let ((site, visitor_id, last_seq, owner), state): (Fields, StateFields) = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(match (site, visitor_id) {
            (Some(site), Some(visitor_id)) => Some(Conversation {
                id: id.to_owned(),
                site,
                visitor_id,
                last_seq: last_seq.unwrap_or(0),
                owner: owner.as_deref().map(parse_owner).unwrap_or_default(),
                state: state_of(state),
            }),
            _ => None,
        })
    }

    async fn conversation_context(&self, id: &str) -> Result<Context> {
        let visitor: Option<String> = self
            .conn
            .clone()
            .hget(meta(id), "visitor_id")
            .await
            .map_err(backend)?;
        match visitor {
            Some(v) => self.context_of(&v).await,
            None => Ok(Context::default()),
        }
    }

    async fn append(&self, site: &str, msg: NewMessage) -> Result<Appended> {
        let conv = msg.conversation_id.clone();
        let chat = ChatMessage {
            conversation_id: conv.clone(),
            seq: 0,
            client_id: msg.client_id,
            sender: msg.sender,
            text: msg.text,
            at: msg.at,
            rich: msg.rich,
            postback: msg.postback,
            event: None,
            note: None,
        };
        let required = msg
            .require_owner
            .as_ref()
            .map(owner_str)
            .unwrap_or_default();
        let (prefix, suffix) = frame_around_seq(&chat);
        // Only a visitor's message reopens; the frame goes along in case it does (the script
        // decides, in the same step).
        let (reopen_prefix, reopen_suffix) = if chat.sender.kind == SenderKind::Visitor {
            frame_around_seq(&lifecycle::system_message(
                &conv,
                0,
                lifecycle::reopen_client_id(&chat.client_id),
                chat.at,
                SystemEvent::Reopened { by: None },
            ))
        } else {
            Default::default()
        };
        let preview: String = chat.text.chars().take(PREVIEW_CHARS).collect();
        let mut invocation = self.append.prepare_invoke();
        invocation
            .key(meta(&conv))
            .key(log(&conv))
            .key(ids(&conv))
            .key(redisearch::docs_key(&conv))
            .arg(format!("{}:{}", chat.sender.id, chat.client_id))
            .arg(prefix)
            .arg(suffix)
            .arg(chat.at)
            .arg(kind_str(chat.sender.kind))
            .arg(preview)
            .arg(CHANNEL)
            .arg(header(Audience::Both, site, &conv))
            .arg(required)
            .arg(reopen_prefix)
            .arg(reopen_suffix)
            .arg(self.search_index());
        if self.search {
            invocation
                .arg(redisearch::doc_prefix(&conv))
                .arg(&chat.text);
        } else {
            invocation.arg("").arg("");
        }
        let mut c = self.conn.clone();
        // One round trip: the script (EVALSHA) and the inbox update, pipelined. A script cache
        // emptied by a Redis restart answers NOSCRIPT; then the script is loaded and the
        // pipeline sent again (EVALSHA of a missing script runs nothing, so a retry is safe).
        let mut loaded = false;
        // A conditional append (a bot's) may be refused; its inbox update waits for the answer
        // so a refused message changes nothing. Bots are not the hot path.
        let conditional = msg.require_owner.is_some();
        type Answer = (i64, u64, String, String, String, i64);
        let (status, seq, frame, owner, reopened, first): Answer = loop {
            let mut pipe = redis::pipe();
            pipe.invoke_script(&invocation);
            // Marked after the script: a KPI projector that took the mark before reading the
            // log either read this message or finds the mark again.
            pipe.sadd(super::redis_kpi::dirty_key(site), &conv).ignore();
            if !conditional {
                pipe.zadd(inbox_key(site), &conv, chat.at).ignore();
            }
            let result = pipe.query_async::<(Answer,)>(&mut c).await;
            match result {
                Ok((r,)) => break r,
                Err(e) if !loaded && is_noscript(&e) => {
                    invocation.load_async(&mut c).await.map_err(backend)?;
                    loaded = true;
                }
                Err(e) => return Err(backend(e)),
            }
        };
        let owner = parse_owner(&owner);
        match status {
            -1 => {
                let _: redis::RedisResult<()> = c.zrem(inbox_key(site), &conv).await;
                let dirty = super::redis_kpi::dirty_key(site);
                let _: redis::RedisResult<()> = c.srem(dirty, &conv).await;
                Err(StoreError::NotFound("conversation".into()))
            }
            -2 => Err(StoreError::NotOwner(owner)),
            -4 => {
                // Undo the pipelined inbox entry: a blocked conversation is in no inbox.
                let _: redis::RedisResult<()> = c.zrem(inbox_key(site), &conv).await;
                Err(StoreError::Blocked)
            }
            s => {
                if conditional && s == 1 {
                    c.zadd::<_, _, _, ()>(inbox_key(site), &conv, chat.at)
                        .await
                        .map_err(backend)?;
                }
                let message = parse_message(&frame)
                    .ok_or_else(|| StoreError::Backend("stored frame unreadable".into()))?;
                debug_assert_eq!(message.seq, seq);
                let first_reply_ms = u64::try_from(first).ok();
                if let Some(ms) = first_reply_ms {
                    // Another slot (the site's), so not in the script; a conversation's first
                    // reply is the only message that pays this round trip. Lost if Redis fails
                    // just here: one sample of fifty.
                    let r = redis::pipe()
                        .lpush(replies_key(site), ms)
                        .ltrim(replies_key(site), 0, REPLY_SAMPLES as isize - 1)
                        .query_async::<()>(&mut c)
                        .await;
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "first reply time not recorded");
                    }
                }
                let reopened = parse_message(&reopened);
                if reopened.is_some() {
                    self.retag(&conv).await;
                }
                Ok(Appended {
                    message,
                    duplicate: s == 0,
                    owner,
                    reopened,
                    first_reply_ms,
                })
            }
        }
    }

    async fn append_note(&self, site: &str, note: ChatMessage) -> Result<(ChatMessage, bool)> {
        let conv = note.conversation_id.clone();
        let copy = lifecycle::visitor_copy(&note).expect("a note has a visitor copy");
        let (prefix, suffix) = frame_around_seq(&note);
        let (copy_prefix, copy_suffix) = frame_around_seq(&copy);
        let (status, frame): (i64, String) = self
            .note
            .key(meta(&conv))
            .key(log(&conv))
            .key(ids(&conv))
            .arg(format!("{}:{}", note.sender.id, note.client_id))
            .arg(prefix)
            .arg(suffix)
            .arg(CHANNEL)
            .arg(header(Audience::Agents, site, &conv))
            .arg(header(Audience::Visitors, site, &conv))
            .arg(copy_prefix)
            .arg(copy_suffix)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        if status == -1 {
            return Err(StoreError::NotFound("conversation".into()));
        }
        let stored = parse_message(&frame)
            .ok_or_else(|| StoreError::Backend("stored frame unreadable".into()))?;
        Ok((stored, status == 0))
    }

    async fn change(
        &self,
        conversation_id: &str,
        expected_version: u64,
        change: Change,
    ) -> Result<Changed> {
        let Some(conv) = self.conversation(conversation_id).await? else {
            return Err(StoreError::NotFound("conversation".into()));
        };
        // The rule runs here, on the state just read; the script applies its result only if
        // the version is still the one read, so no change is computed from a stale state.
        if conv.state.version != expected_version {
            return Err(StoreError::Conflict(Box::new(conv.state)));
        }
        let (next, event) = conv.state.apply(&change).map_err(StoreError::Invalid)?;
        let client_id = lifecycle::change_client_id(next.version);
        let message = lifecycle::system_message(conversation_id, 0, client_id, change.at, event);
        let (prefix, suffix) = frame_around_seq(&message);
        // An event for agents only: they get it whole, visitors a copy without it.
        let copy = lifecycle::visitor_copy(&message);
        let (audience, visitors) = match &copy {
            None => (Audience::Both, String::new()),
            Some(_) => (
                Audience::Agents,
                header(Audience::Visitors, &conv.site, conversation_id),
            ),
        };
        let (copy_prefix, copy_suffix) = copy.as_ref().map(frame_around_seq).unwrap_or_default();
        let until = snoozed_until(next.status).map(|t| t.to_string());
        let mut set = vec![
            ("status", Some(status_str(next.status).to_owned())),
            ("snoozed_until", until),
            ("assignee", next.assignee.clone()),
            ("team", next.team.clone()),
            ("priority", Some(priority_str(next.priority).to_owned())),
            ("note", next.note.clone()),
            ("version", Some(next.version.to_string())),
            ("blocked", next.blocked.then(|| "1".to_owned())),
            ("rated", next.rated.then(|| "1".to_owned())),
        ];
        // Fields set come first (counted), then the fields to delete.
        set.sort_by_key(|(_, v)| v.is_none());
        let pairs = set.iter().filter(|(_, v)| v.is_some()).count();
        let mut invocation = self.change.key(meta(conversation_id));
        invocation
            .key(log(conversation_id))
            .arg(expected_version)
            .arg(prefix)
            .arg(suffix)
            .arg(CHANNEL)
            .arg(header(audience, &conv.site, conversation_id))
            .arg(visitors)
            .arg(copy_prefix)
            .arg(copy_suffix)
            .arg(pairs);
        for (field, value) in &set {
            match value {
                Some(v) => invocation.arg(*field).arg(v),
                None => invocation.arg(*field),
            };
        }
        // The KPI mark rides in the same round trip, right after the script (as an append's).
        let mut c = self.conn.clone();
        let mut loaded = false;
        let (status, _seq, frame): (i64, u64, String) = loop {
            let mut pipe = redis::pipe();
            pipe.invoke_script(&invocation);
            pipe.sadd(super::redis_kpi::dirty_key(&conv.site), conversation_id)
                .ignore();
            match pipe.query_async::<((i64, u64, String),)>(&mut c).await {
                Ok((r,)) => break r,
                Err(e) if !loaded && is_noscript(&e) => {
                    invocation.load_async(&mut c).await.map_err(backend)?;
                    loaded = true;
                }
                Err(e) => return Err(backend(e)),
            }
        };
        match status {
            -1 => Err(StoreError::NotFound("conversation".into())),
            -3 => {
                let current = self.conversation(conversation_id).await?;
                Err(StoreError::Conflict(Box::new(
                    current.map(|c| c.state).unwrap_or_default(),
                )))
            }
            _ => {
                let message = parse_message(&frame)
                    .ok_or_else(|| StoreError::Backend("stored frame unreadable".into()))?;
                // The inbox index follows the block (the summaries say it too, for a reader
                // that raced this).
                if next.blocked != conv.state.blocked {
                    let mut c = self.conn.clone();
                    if next.blocked {
                        c.zrem::<_, _, ()>(inbox_key(&conv.site), conversation_id)
                            .await
                            .map_err(backend)?;
                    } else {
                        c.zadd::<_, _, _, ()>(inbox_key(&conv.site), conversation_id, message.at)
                            .await
                            .map_err(backend)?;
                    }
                }
                self.retag(conversation_id).await;
                Ok(Changed {
                    message,
                    state: next,
                })
            }
        }
    }

    async fn first_reply_times(&self, site: &str) -> Result<Vec<u64>> {
        self.conn
            .clone()
            .lrange(replies_key(site), 0, REPLY_SAMPLES as isize - 1)
            .await
            .map_err(backend)
    }

    async fn publish(&self, event: Event) {
        let payload = encode_event(&event);
        let r: redis::RedisResult<()> = self.conn.clone().publish(CHANNEL, payload).await;
        if let Err(e) = r {
            // Live-only events (typing, inbox lines) may be lost; stored messages never are.
            tracing::debug!(error = %e, "publish failed");
        }
    }

    async fn history(
        &self,
        conversation_id: &str,
        since: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>> {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(log(conversation_id))
            .arg(format!("{}-0", since + 1))
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(entries
            .iter()
            .filter_map(|(_, fields)| fields.first().and_then(|(_, f)| parse_message(f)))
            .collect())
    }

    async fn inbox(
        &self,
        sites: &[String],
        before: Option<&InboxCursor>,
        limit: usize,
    ) -> Result<InboxPage> {
        if sites.is_empty() || limit == 0 {
            return Ok(InboxPage::default());
        }
        // Each site's first `limit + 1` after the cursor, in one round trip, then merged in
        // inbox order; the extra one says whether older conversations exist. Scores order
        // only by time, so the entries tied with the cursor's time (few: one site's
        // conversations active in that millisecond) are read whole and those with a smaller id
        // than the cursor's kept.
        let mut pipe = redis::pipe();
        for site in sites {
            let key = inbox_key(site);
            match before {
                None => pipe.zrevrange_withscores(key, 0, limit as isize),
                Some(c) => pipe
                    .zrevrangebyscore_withscores(&key, c.last_activity, c.last_activity)
                    .zrevrangebyscore_limit_withscores(
                        key,
                        format!("({}", c.last_activity),
                        "-inf",
                        0,
                        limit as isize + 1,
                    ),
            };
        }
        let lists: Vec<Vec<(String, f64)>> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        let mut newest: Vec<(String, Millis)> = lists
            .into_iter()
            .flatten()
            .map(|(id, score)| (id, score as Millis))
            .filter(|(id, at)| {
                before.is_none_or(|c| (*at, id.as_str()) < (c.last_activity, c.id.as_str()))
            })
            .collect();
        newest.sort_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0)));
        let more = newest.len() > limit;
        newest.truncate(limit);
        let next = newest.last().filter(|_| more).map(|(id, at)| InboxCursor {
            last_activity: *at,
            id: id.clone(),
        });
        if newest.is_empty() {
            return Ok(InboxPage::default());
        }
        // Then every meta hash, then every visitor's context: two more round trips for the
        // whole list, not two per conversation.
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        for (id, _) in &newest {
            pipe.hgetall(meta(id));
        }
        let metas: Vec<Vec<(String, String)>> = pipe.query_async(&mut c).await.map_err(backend)?;
        let found: Vec<SummaryFields> = newest
            .iter()
            .zip(&metas)
            .map(|((id, _), fields)| summary_fields(id, fields))
            .filter(|f| f.last_seq > 0 && !f.state.blocked)
            .collect();
        if found.is_empty() {
            return Ok(InboxPage {
                items: Vec::new(),
                next,
            });
        }
        let mut pipe = redis::pipe();
        for f in &found {
            pipe.hget(visitor_key(&f.visitor_id), "context");
        }
        let contexts: Vec<Option<String>> = pipe.query_async(&mut c).await.map_err(backend)?;
        let items = found
            .into_iter()
            .zip(contexts)
            .map(|(f, raw)| f.into_summary(&stored_context(raw.as_deref())))
            .collect();
        Ok(InboxPage { items, next })
    }

    async fn summary(&self, conversation_id: &str) -> Result<Option<ConversationSummary>> {
        let fields: Vec<(String, String)> = self
            .conn
            .clone()
            .hgetall(meta(conversation_id))
            .await
            .map_err(backend)?;
        self.summary_of(conversation_id, fields).await
    }

    async fn visitor_record(
        &self,
        visitor_id: &str,
    ) -> Result<Option<(VisitorRecord, Vec<String>)>> {
        let mut pipe = redis::pipe();
        pipe.hgetall(visitor_key(visitor_id))
            .smembers(convs_key(visitor_id))
            .get(open_key(visitor_id));
        let (fields, mut convs, open): (Vec<(String, String)>, Vec<String>, Option<String>) = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        // A visitor stored before the set of conversations existed has only its open one.
        if let Some(open) = open.filter(|o| !convs.contains(o)) {
            convs.push(open);
        }
        let record = VisitorRecord {
            id: visitor_id.to_owned(),
            site: get("site").unwrap_or_default().to_owned(),
            created_at: get("created_at").and_then(|v| v.parse().ok()).unwrap_or(0),
            context: stored_context(get("context")),
            addr: get("addr").map(str::to_owned),
        };
        Ok(Some((record, convs)))
    }

    async fn delete_visitor(&self, visitor_id: &str) -> Result<Option<Vec<String>>> {
        let mut pipe = redis::pipe();
        pipe.hget(visitor_key(visitor_id), "site")
            .smembers(convs_key(visitor_id))
            .get(open_key(visitor_id));
        let (site, mut convs, open): (Option<String>, Vec<String>, Option<String>) = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        if let Some(open) = open.filter(|o| !convs.contains(o)) {
            convs.push(open);
        }
        if site.is_none() && convs.is_empty() {
            return Ok(None);
        }
        let mut deleted = Vec::with_capacity(convs.len());
        // One call per slot: each conversation's keys, then the visitor's.
        for id in convs {
            let conv_site: Option<String> = self
                .conn
                .clone()
                .hget(meta(&id), "site")
                .await
                .map_err(backend)?;
            if self
                .drop_conversation(&id, Millis::MAX, visitor_id)
                .await?
                .is_some()
            {
                if let Some(s) = conv_site.as_deref().or(site.as_deref()) {
                    self.forget_conversation(s, visitor_id, &id).await?;
                }
                deleted.push(id);
            }
        }
        self.drop_visitor(visitor_id, true).await?;
        Ok(Some(deleted))
    }

    async fn purge(&self, site: &str, before: Millis, batch: usize) -> Result<Purged> {
        let mut c = self.conn.clone();
        let mut purged = Purged::default();
        let older = format!("({before}");
        // Conversations with messages, by the inbox's activity scores.
        let old: Vec<String> = c
            .zrangebyscore_limit(inbox_key(site), "-inf", &older, 0, batch as isize)
            .await
            .map_err(backend)?;
        for id in old {
            match self.drop_conversation(&id, before, "").await? {
                Some(visitor) => {
                    self.forget_conversation(site, &visitor, &id).await?;
                    purged.conversations.push(id);
                }
                // Newer than its score says (an append's ZADD is on its way): move it, so
                // it does not stay at the head of the range.
                None => {
                    let at: Option<u64> =
                        c.hget(meta(&id), "last_activity").await.map_err(backend)?;
                    if let Some(at) = at {
                        c.zadd::<_, _, _, ()>(inbox_key(site), &id, at)
                            .await
                            .map_err(backend)?;
                    }
                }
            }
        }
        // Visitors created before the cutoff: their conversations without messages (never in
        // the inbox) go here, then the visitor if nothing newer is left.
        let old: Vec<String> = c
            .zrangebyscore_limit(visitors_key(site), "-inf", &older, 0, batch as isize)
            .await
            .map_err(backend)?;
        for visitor in old {
            let convs: Vec<String> = c.smembers(convs_key(&visitor)).await.map_err(backend)?;
            let mut latest: Option<Millis> = None;
            for id in convs {
                if self
                    .drop_conversation(&id, before, &visitor)
                    .await?
                    .is_some()
                {
                    self.forget_conversation(site, &visitor, &id).await?;
                    purged.conversations.push(id);
                } else {
                    let at: Option<u64> =
                        c.hget(meta(&id), "last_activity").await.map_err(backend)?;
                    latest = latest.max(at);
                }
            }
            if self.drop_visitor(&visitor, false).await? {
                // Also when the hash was gone already (deleted through the admin API while
                // listed here), so the entry does not stay at the head of the range.
                c.zrem::<_, _, ()>(visitors_key(site), &visitor)
                    .await
                    .map_err(backend)?;
                purged.visitors += 1;
            } else {
                // Kept for a newer conversation: looked at again once that one is old.
                c.zadd::<_, _, _, ()>(visitors_key(site), &visitor, latest.unwrap_or(before))
                    .await
                    .map_err(backend)?;
            }
        }
        Ok(purged)
    }

    async fn push_bot_event(
        &self,
        bot: &str,
        at: Millis,
        body: &str,
        limit: u64,
    ) -> Result<Option<u64>> {
        // `invoke_async` loads the script itself after a NOSCRIPT (a restarted Redis).
        let n: u64 = self
            .push_bot_event
            .key(bot_key(bot, "events"))
            .key(bot_key(bot, "next"))
            .arg(limit)
            .arg(body)
            .arg(at)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok((n > 0).then_some(n))
    }

    async fn bot_events(&self, bot: &str, limit: usize) -> Result<Vec<BotEvent>> {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(bot_key(bot, "events"))
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        entries
            .into_iter()
            .map(|(id, fields)| {
                let position = id.split('-').next().and_then(|n| n.parse().ok());
                let body = fields.into_iter().find(|(f, _)| f == "b").map(|(_, v)| v);
                match (position, body) {
                    (Some(position), Some(body)) => Ok(BotEvent { position, body }),
                    _ => Err(StoreError::Backend(format!("unreadable bot event {id}"))),
                }
            })
            .collect()
    }

    async fn ack_bot_event(&self, bot: &str, position: u64) -> Result<()> {
        redis::cmd("XDEL")
            .arg(bot_key(bot, "events"))
            .arg(format!("{position}-0"))
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(backend)
    }

    async fn bot_backlog(&self, bot: &str) -> Result<u64> {
        self.conn
            .clone()
            .xlen(bot_key(bot, "events"))
            .await
            .map_err(backend)
    }

    async fn set_bot_overflow(&self, bot: &str) -> Result<()> {
        self.conn
            .clone()
            .set(bot_key(bot, "overflow"), 1)
            .await
            .map_err(backend)
    }

    async fn take_bot_overflow(&self, bot: &str) -> Result<bool> {
        let n: u64 = self
            .conn
            .clone()
            .del(bot_key(bot, "overflow"))
            .await
            .map_err(backend)?;
        Ok(n == 1)
    }

    async fn block(&self, site: &str, key: &str, until: Millis) -> Result<()> {
        self.conn
            .clone()
            .hset::<_, _, _, ()>(blocks_key(site), key, until)
            .await
            .map_err(backend)
    }

    async fn unblock(&self, site: &str, key: &str) -> Result<bool> {
        let n: u64 = self
            .conn
            .clone()
            .hdel(blocks_key(site), key)
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn is_blocked(&self, site: &str, keys: &[String], now: Millis) -> Result<bool> {
        if keys.is_empty() {
            return Ok(false);
        }
        let until: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(blocks_key(site))
            .arg(keys)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(until.into_iter().flatten().any(|u| u > now))
    }

    async fn blocks(&self, site: &str, now: Millis) -> Result<Vec<(String, Millis)>> {
        let mut c = self.conn.clone();
        let all: Vec<(String, u64)> = c.hgetall(blocks_key(site)).await.map_err(backend)?;
        let (live, ended): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, u)| *u > now);
        // Ended blocks are dropped when someone looks, so the hash stays small.
        if !ended.is_empty() {
            let keys: Vec<&str> = ended.iter().map(|(k, _)| k.as_str()).collect();
            let _: redis::RedisResult<()> = c.hdel(blocks_key(site), keys).await;
        }
        let mut live = live;
        live.sort();
        Ok(live)
    }

    async fn set_visitor_addr(&self, visitor_id: &str, addr: &str) -> Result<()> {
        // Only an existing visitor: a deleted one must not come back as a bare hash.
        let script = redis::Script::new(
            "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'addr', ARGV[1]) end return 1",
        );
        script
            .key(visitor_key(visitor_id))
            .arg(addr)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn visitor_addr(&self, visitor_id: &str) -> Result<Option<String>> {
        self.conn
            .clone()
            .hget(visitor_key(visitor_id), "addr")
            .await
            .map_err(backend)
    }

    async fn bot_lease(&self, bot: &str, node: &str, ttl_ms: u64) -> Result<bool> {
        let held: i64 = self
            .lease
            .key(bot_key(bot, "lease"))
            .arg(node)
            .arg(ttl_ms.max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(held == 1)
    }

    async fn log_webhook_attempt(&self, queue: &str, line: &str, keep: usize) -> Result<()> {
        let key = bot_key(queue, "log");
        // One transaction, so the list never holds more than `keep` lines.
        redis::pipe()
            .atomic()
            .lpush(&key, line)
            .ltrim(&key, 0, keep.max(1) as isize - 1)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(backend)
    }

    async fn webhook_attempts(&self, queue: &str, limit: usize) -> Result<Vec<String>> {
        self.conn
            .clone()
            .lrange(bot_key(queue, "log"), 0, limit.max(1) as isize - 1)
            .await
            .map_err(backend)
    }

    async fn webhook_cursor(&self, queue: &str, conversation_id: &str) -> Result<u64> {
        let seq: Option<u64> = self
            .conn
            .clone()
            .get(bot_key(queue, &format!("cursor:{conversation_id}")))
            .await
            .map_err(backend)?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_webhook_cursor(&self, queue: &str, conversation_id: &str, seq: u64) -> Result<()> {
        // Only one node delivers a queue (its lease), so a read-then-write is safe; the
        // script keeps the cursor from moving back all the same.
        self.cursor
            .key(bot_key(queue, &format!("cursor:{conversation_id}")))
            .arg(seq)
            .arg(super::CURSOR_TTL_MS)
            .invoke_async::<()>(&mut self.conn.clone())
            .await
            .map_err(backend)
    }

    async fn create_agent_session(
        &self,
        hash: &str,
        agent: &str,
        expires_at: Millis,
    ) -> Result<()> {
        let ttl = expires_at.saturating_sub(crate::clock::now()).max(1);
        redis::cmd("SET")
            .arg(agent_session_key(hash))
            .arg(format!("{expires_at} {agent}"))
            .arg("PX")
            .arg(ttl)
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(backend)
    }

    async fn agent_session(&self, hash: &str, now: Millis) -> Result<Option<String>> {
        let value: Option<String> = self
            .conn
            .clone()
            .get(agent_session_key(hash))
            .await
            .map_err(backend)?;
        // Redis drops the key by its own clock; the expiry beside the agent holds the
        // contract by the caller's, as the embedded store does.
        Ok(value.and_then(|v| {
            let (until, agent) = v.split_once(' ')?;
            (until.parse::<Millis>().ok()? > now).then(|| agent.to_owned())
        }))
    }

    async fn revoke_agent_session(&self, hash: &str) -> Result<bool> {
        let n: u64 = self
            .conn
            .clone()
            .del(agent_session_key(hash))
            .await
            .map_err(backend)?;
        Ok(n == 1)
    }

    async fn search(&self, search: &Search<'_>) -> Result<Vec<Found>> {
        if !self.search {
            return Err(StoreError::SearchUnavailable);
        }
        let reply: Value = redis::cmd("FT.SEARCH")
            .arg(redisearch::INDEX)
            .arg(redisearch::query_args(search))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(redisearch::parse(reply))
    }

    async fn customer_visitors(
        &self,
        site: &str,
        customer_id: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self
            .conn
            .clone()
            .smembers(customer_key(site, customer_id))
            .await
            .map_err(backend)?;
        ids.sort();
        ids.truncate(limit);
        // Only those still verified as this customer (a visitor may have signed in as
        // someone else since).
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if verified_customer(&self.context_of(&id).await?) == Some(customer_id) {
                out.push(id);
            }
        }
        Ok(out)
    }
    async fn canned_replies(&self, site: &str) -> Result<Vec<CannedReply>> {
        let all: Vec<String> = self
            .conn
            .clone()
            .hvals(canned_key(site))
            .await
            .map_err(backend)?;
        let mut replies: Vec<CannedReply> = all
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        replies.sort_by(|a, b| a.shortcut.cmp(&b.shortcut));
        Ok(replies)
    }

    async fn canned_reply(&self, site: &str, id: &str) -> Result<Option<CannedReply>> {
        let json: Option<String> = self
            .conn
            .clone()
            .hget(canned_key(site), id)
            .await
            .map_err(backend)?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    async fn put_canned(
        &self,
        site: &str,
        reply: &CannedReply,
        create: bool,
        max: usize,
    ) -> Result<CannedPut> {
        let json = serde_json::to_string(reply).map_err(|e| StoreError::Backend(e.to_string()))?;
        let status: i64 = redis::Script::new(PUT_CANNED)
            .key(canned_key(site))
            .key(canned_shortcuts_key(site))
            .arg(&reply.id)
            .arg(&reply.shortcut)
            .arg(json)
            .arg(if create { 1 } else { 0 })
            .arg(max)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(match status {
            1 => CannedPut::Stored,
            -1 => CannedPut::NotFound,
            -2 => CannedPut::Full,
            _ => CannedPut::ShortcutTaken,
        })
    }

    async fn delete_canned(&self, site: &str, id: &str) -> Result<bool> {
        let n: i64 = redis::Script::new(DELETE_CANNED)
            .key(canned_key(site))
            .key(canned_shortcuts_key(site))
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(n == 1)
    }

    async fn seed_canned(&self, site: &str, replies: &[CannedReply]) -> Result<bool> {
        let seed = redis::Script::new(SEED_CANNED);
        let mut script = seed.prepare_invoke();
        script.key(canned_key(site)).key(canned_shortcuts_key(site));
        for r in replies {
            let json = serde_json::to_string(r).map_err(|e| StoreError::Backend(e.to_string()))?;
            script.arg(&r.id).arg(&r.shortcut).arg(json);
        }
        let n: i64 = script
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok(n == 1)
    }

    async fn mark_read(&self, conversation_id: &str, side: ReadSide, seq: u64) -> Result<ReadMark> {
        let (status, n): (i64, u64) = redis::Script::new(MARK_READ)
            .key(meta(conversation_id))
            .arg(side_str(side))
            .arg(seq)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        match status {
            1 => Ok(ReadMark::Moved),
            0 => Ok(ReadMark::Unchanged(n)),
            -2 => Ok(ReadMark::Ahead(n)),
            _ => Err(StoreError::NotFound("conversation".into())),
        }
    }

    async fn read_marks(&self, conversation_id: &str) -> Result<(u64, u64)> {
        let (v, a): (Option<u64>, Option<u64>) = self
            .conn
            .clone()
            .hmget(
                meta(conversation_id),
                &[side_str(ReadSide::Visitor), side_str(ReadSide::Agents)],
            )
            .await
            .map_err(backend)?;
        Ok((v.unwrap_or(0), a.unwrap_or(0)))
    }

    async fn push_page(
        &self,
        visitor_id: &str,
        page: &PageVisit,
        keep: usize,
    ) -> Result<(Vec<PageVisit>, bool)> {
        let json = serde_json::to_string(page).map_err(|e| StoreError::Backend(e.to_string()))?;
        let (changed, raw): (i64, Vec<String>) = redis::Script::new(PUSH_PAGE)
            .key(visitor_key(visitor_id))
            .key(trail_key(visitor_id))
            .arg(&page.url)
            .arg(json)
            .arg(keep)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        Ok((parse_trail(raw), changed == 1))
    }

    async fn page_trail(&self, visitor_id: &str) -> Result<Vec<PageVisit>> {
        let raw: Vec<String> = self
            .conn
            .clone()
            .lrange(trail_key(visitor_id), 0, -1)
            .await
            .map_err(backend)?;
        Ok(parse_trail(raw))
    }

    async fn take_kpi_dirty(&self, site: &str, limit: usize) -> Result<Vec<String>> {
        super::redis_kpi::take_dirty(self.conn.clone(), site, limit).await
    }

    async fn mark_kpi_dirty(&self, site: &str, ids: &[String]) -> Result<()> {
        super::redis_kpi::mark_dirty(self.conn.clone(), site, ids).await
    }

    async fn kpi_facts(&self, site: &str, id: &str) -> Result<Option<crate::kpi::Facts>> {
        super::redis_kpi::facts_of(self.conn.clone(), site, id).await
    }

    async fn put_kpi_facts(&self, facts: &[crate::kpi::Facts]) -> Result<()> {
        super::redis_kpi::put(self.conn.clone(), facts).await
    }

    async fn kpi_rows(
        &self,
        site: &str,
        from: Millis,
        to: Millis,
        dim: crate::kpi::Dim,
    ) -> Result<crate::kpi::Rows> {
        super::redis_kpi::rows(self.conn.clone(), site, from, to, dim).await
    }
}

/// The visitor's page trail (same slot as the visitor).
fn trail_key(visitor: &str) -> String {
    format!("sb:{{v:{visitor}}}:trail")
}

/// Stored pages read back; one that no longer parses is left out.
fn parse_trail(raw: Vec<String>) -> Vec<PageVisit> {
    raw.iter()
        .filter_map(|p| serde_json::from_str(p).ok())
        .collect()
}

/// Moves read mark field ARGV[1] of conversation meta KEYS[1] to ARGV[2] if that is forward
/// and at most `last_seq`. `{1, seq}` moved, `{0, current}` not forward, `{-2, last_seq}`
/// past the end, `{-1, 0}` no conversation. (Seqs stay far below 2^53, where Lua's numbers
/// are exact; a larger ARGV[2] is past the end either way.)
const MARK_READ: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
local last = tonumber(redis.call('HGET', KEYS[1], 'last_seq') or '0')
local seq = tonumber(ARGV[2])
if seq > last then return {-2, last} end
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if seq <= cur then return {0, cur} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1, seq}
"#;

/// Appends page JSON ARGV[2] to trail KEYS[2] of stored visitor KEYS[1] unless the trail's
/// last page has URL ARGV[1], keeping the newest ARGV[3]. `{changed, trail}`.
const PUSH_PAGE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, {}} end
local last = redis.call('LINDEX', KEYS[2], -1)
local changed = 0
if not last or cjson.decode(last)['url'] ~= ARGV[1] then
  redis.call('RPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1)
  changed = 1
end
return {changed, redis.call('LRANGE', KEYS[2], 0, -1)}
"#;

/// The visitors of a site verified as one customer (the site's slot).
fn customer_key(site: &str, customer: &str) -> String {
    format!("sb:customer:{{{site}}}:{customer}")
}

/// A site's canned replies: hash `ID` → the reply as JSON.
fn canned_key(site: &str) -> String {
    format!("sb:canned:{{{site}}}")
}

/// A site's canned shortcuts: hash `SHORTCUT` → id (same slot as [`canned_key`]).
fn canned_shortcuts_key(site: &str) -> String {
    format!("sb:canned:{{{site}}}:shortcuts")
}

/// Creates (ARGV[4] = 1, below ARGV[5] replies) or replaces canned reply ARGV[1] with
/// shortcut ARGV[2] and JSON ARGV[3], keeping shortcuts unique. 1 stored, -1 no such reply,
/// -2 the site is full, -3 the shortcut is another reply's.
const PUT_CANNED: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[4] == '1' then
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return -2 end
elseif not old then
  return -1
end
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder and holder ~= ARGV[1] then return -3 end
if old then
  local was = cjson.decode(old)['shortcut']
  if redis.call('HGET', KEYS[2], was) == ARGV[1] then redis.call('HDEL', KEYS[2], was) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1
"#;

/// Deletes canned reply ARGV[1] and its shortcut. 1 deleted, 0 there was none.
const DELETE_CANNED: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local was = cjson.decode(old)['shortcut']
if redis.call('HGET', KEYS[2], was) == ARGV[1] then redis.call('HDEL', KEYS[2], was) end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"#;

/// Stores the replies given as ARGV triples (id, shortcut, JSON) only if the site has none.
/// 1 seeded, 0 the site had some.
const SEED_CANNED: &str = r#"
if redis.call('HLEN', KEYS[1]) > 0 then return 0 end
for i = 1, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  redis.call('HSET', KEYS[2], ARGV[i + 1], ARGV[i])
end
return 1
"#;

fn agent_session_key(hash: &str) -> String {
    format!("sb:asession:{hash}")
}

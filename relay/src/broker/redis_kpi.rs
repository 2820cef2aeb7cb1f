//! The Redis store's KPI facts (see `kpi`), all in the site's slot:
//! - `sb:kpi:{SITE}`: hash, conversation id → its facts (`kpi::encode`);
//! - `sb:kpi:{SITE}:started`: sorted set of the same ids by start, for a period's range;
//! - `sb:kpi:{SITE}:dirty`: set of the conversations whose log grew since their facts; the
//!   append and a lifecycle change pipeline the `SADD` right after their script (one round
//!   trip still).

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use switchboard_protocol::Millis;

use super::{Result, StoreError};
use crate::kpi::{decode, encode, Dim, Facts, Rows};

fn facts_key(site: &str) -> String {
    format!("sb:kpi:{{{site}}}")
}

fn started_key(site: &str) -> String {
    format!("sb:kpi:{{{site}}}:started")
}

/// The set an append or change of `site` adds its conversation to.
pub(super) fn dirty_key(site: &str) -> String {
    format!("sb:kpi:{{{site}}}:dirty")
}

/// Stores facts unless the stored ones are of a later seq (the encoding starts with it).
static PUT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local seq = tonumber(string.match(cur, '^(%d+)'))
  if seq and seq > tonumber(ARGV[2]) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
",
    )
});

/// A deleted conversation's facts keep counting under an id that names nothing (`ARGV[2]`);
/// its mark goes.
static FORGET: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
redis.call('SREM', KEYS[3], ARGV[1])
local facts = redis.call('HGET', KEYS[1], ARGV[1])
if not facts then return 0 end
local started = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], facts)
redis.call('ZADD', KEYS[2], started, ARGV[2])
return 1
",
    )
});

/// How many facts one `HMGET` reads.
const CHUNK: usize = 2_000;

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(super) async fn take_dirty(
    mut c: ConnectionManager,
    site: &str,
    limit: usize,
) -> Result<Vec<String>> {
    let Some(n) = std::num::NonZeroUsize::new(limit) else {
        return Ok(Vec::new());
    };
    redis::cmd("SPOP")
        .arg(dirty_key(site))
        .arg(n.get())
        .query_async::<Vec<String>>(&mut c)
        .await
        .map_err(backend)
}

pub(super) async fn mark_dirty(mut c: ConnectionManager, site: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    c.sadd::<_, _, ()>(dirty_key(site), ids)
        .await
        .map_err(backend)
}

pub(super) async fn facts_of(
    mut c: ConnectionManager,
    site: &str,
    id: &str,
) -> Result<Option<Facts>> {
    let stored: Option<String> = c.hget(facts_key(site), id).await.map_err(backend)?;
    Ok(stored.and_then(|s| decode(id, site, &s)))
}

pub(super) async fn put(mut c: ConnectionManager, all: &[Facts]) -> Result<()> {
    for f in all {
        PUT.key(facts_key(&f.site))
            .key(started_key(&f.site))
            .arg(&f.conversation_id)
            .arg(f.seq)
            .arg(encode(f))
            .arg(f.started)
            .invoke_async::<i64>(&mut c)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// Called when a conversation was deleted (privacy, retention).
pub(super) async fn forget(mut c: ConnectionManager, site: &str, id: &str) -> Result<()> {
    FORGET
        .key(facts_key(site))
        .key(started_key(site))
        .key(dirty_key(site))
        .arg(id)
        .arg(crate::token::random_id("gone"))
        .invoke_async::<i64>(&mut c)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(super) async fn rows(
    mut c: ConnectionManager,
    site: &str,
    from: Millis,
    to: Millis,
    dim: Dim,
) -> Result<Rows> {
    let ids: Vec<String> = c
        .zrangebyscore(started_key(site), from, format!("({to}"))
        .await
        .map_err(backend)?;
    let mut rows = Rows::default();
    for chunk in ids.chunks(CHUNK) {
        let stored: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(facts_key(site))
            .arg(chunk)
            .query_async(&mut c)
            .await
            .map_err(backend)?;
        for (id, s) in chunk.iter().zip(stored) {
            if let Some(f) = s.and_then(|s| decode(id, site, &s)) {
                rows.push(&f, dim);
            }
        }
    }
    Ok(rows)
}

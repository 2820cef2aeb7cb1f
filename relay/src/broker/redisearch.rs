//! The Redis broker's full-text search: the RediSearch module (1.x, as Debian ships it in
//! `redis-redisearch`), found at start with `MODULE LIST`; without it, `search` answers
//! [`StoreError::SearchUnavailable`](super::StoreError::SearchUnavailable).
//!
//! One document per visitor, agent and bot message, `sb:ft:{c:ID}:SEQ` (a hash in the
//! conversation's slot, written by `FT.ADD` inside the append script, so a message is indexed
//! in the same atomic step that stores it), with the text and, as TAG/NUMERIC fields, the
//! filters: site, status, team, assignee, sender kind, time. The conversation's set
//! `sb:{c:ID}:ft` lists its documents' seqs: a lifecycle change (or a reopen) re-tags them with
//! `FT.ADD … REPLACE PARTIAL` ([`RETAG`], right after the change), and deleting the
//! conversation (admin API, retention) deletes them with `FT.DEL … DD` in the same script as
//! its other keys.
//!
//! On RediSearch 2.x / Redis 8 (module `search`), `FT.ADD` is gone: an index is declared
//! `FT.CREATE sb:search ON HASH PREFIX 1 sb:ft:` and follows plain `HSET`s of the same
//! documents (their own prefix, so no other hash is indexed), on every shard of a cluster (the documents live in their conversation's slot).
//! The append script would `HSET` the document instead of `FT.ADD`, the re-tag `HSET` its
//! tag fields, and a delete `DEL` it; the queries stay as they are. This relay detects 1.x
//! only and treats a 2.x module as absent (search unavailable) rather than guess.

use redis::aio::ConnectionManager;
use redis::Value;

use super::{Found, Search};

/// The index's name.
pub const INDEX: &str = "sb:search";

/// A conversation's document key, without the seq.
pub fn doc_prefix(conversation_id: &str) -> String {
    format!("sb:ft:{{c:{conversation_id}}}:")
}

/// The set of a conversation's indexed seqs.
pub fn docs_key(conversation_id: &str) -> String {
    format!("sb:{{c:{conversation_id}}}:ft")
}

/// Re-tags a conversation's documents with its current status, team and assignee (read here,
/// so concurrent changes converge on the last one). KEYS: meta, docs set; ARGV: index, doc
/// prefix.
pub const RETAG: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local st = redis.call('HMGET', KEYS[1], 'status', 'team', 'assignee')
for _, s in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.pcall('FT.ADD', ARGV[1], ARGV[2] .. s, 1, 'REPLACE', 'PARTIAL', 'FIELDS',
    'status', st[1] or 'open', 'team', st[2] or '', 'assignee', st[3] or '')
end
return 1
"#;

/// Whether RediSearch 1.x is loaded; if so, creates the index unless it exists.
pub async fn detect(conn: &mut ConnectionManager) -> bool {
    let modules: redis::RedisResult<Value> =
        redis::cmd("MODULE").arg("LIST").query_async(conn).await;
    let modules = match modules {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "MODULE LIST failed; full-text search is off");
            return false;
        }
    };
    let Some(version) = module_version(&modules, "ft") else {
        tracing::warn!(
            "the Redis server has no RediSearch 1.x module (`ft`); full-text search is off \
             (install redis-redisearch and start redis-server with --loadmodule)"
        );
        return false;
    };
    let created: redis::RedisResult<()> = redis::cmd("FT.CREATE")
        .arg(INDEX)
        .arg("STOPWORDS")
        .arg(0)
        .arg("SCHEMA")
        .arg(vec![
            "text", "TEXT", "NOSTEM", "site", "TAG", "status", "TAG", "team", "TAG", "assignee",
            "TAG", "kind", "TAG", "at", "NUMERIC", "SORTABLE",
        ])
        .query_async(conn)
        .await;
    match created {
        Ok(()) => true,
        Err(e) if e.to_string().contains("already exists") => true,
        Err(e) => {
            tracing::warn!(error = %e, version, "FT.CREATE failed; full-text search is off");
            false
        }
    }
}

/// The version of module `name` in a `MODULE LIST` answer.
fn module_version(list: &Value, name: &str) -> Option<i64> {
    let Value::Array(modules) = list else {
        return None;
    };
    modules.iter().find_map(|m| {
        let fields: Vec<(String, Value)> = match m {
            Value::Array(kv) => kv
                .chunks(2)
                .filter_map(|p| match p {
                    [k, v] => Some((
                        redis::from_redis_value::<String>(k.clone()).ok()?,
                        v.clone(),
                    )),
                    _ => None,
                })
                .collect(),
            Value::Map(kv) => kv
                .iter()
                .filter_map(|(k, v)| {
                    Some((
                        redis::from_redis_value::<String>(k.clone()).ok()?,
                        v.clone(),
                    ))
                })
                .collect(),
            _ => return None,
        };
        let get = |f: &str| fields.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
        let n: String = redis::from_redis_value(get("name")?).ok()?;
        if n != name {
            return None;
        }
        redis::from_redis_value(get("ver")?).ok()
    })
}

/// A TAG value in a query: every ASCII character but letters and digits escaped, so an id
/// cannot close the braces or add an operator.
fn tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len() * 2);
    for c in v.chars() {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The `FT.SEARCH` arguments after the index name. The words are letters and digits only
/// (`protocol::search::terms`), so they are plain terms (all must match); the filters are
/// escaped TAG values and numbers.
pub fn query_args(search: &Search<'_>) -> Vec<String> {
    let mut q = search.terms.join(" ");
    let sites: Vec<String> = search.sites.iter().map(|s| tag(s)).collect();
    q.push_str(&format!(" @site:{{{}}}", sites.join("|")));
    for (field, v) in [
        ("status", search.status),
        ("team", search.team),
        ("assignee", search.assignee),
    ] {
        if let Some(v) = v {
            q.push_str(&format!(" @{field}:{{{}}}", tag(v)));
        }
    }
    if search.from.is_some() || search.to.is_some() {
        let from = search
            .from
            .map_or_else(|| "-inf".to_owned(), |t| t.to_string());
        let to = search
            .to
            .map_or_else(|| "+inf".to_owned(), |t| format!("({t}"));
        q.push_str(&format!(" @at:[{from} {to}]"));
    }
    let mut args = vec![q, "VERBATIM".into()];
    args.extend(["SORTBY", "at", "DESC", "LIMIT"].map(String::from));
    args.push(search.offset.to_string());
    args.push(search.limit.to_string());
    args.extend(["RETURN", "3", "text", "kind", "at"].map(String::from));
    args
}

/// The hits of an `FT.SEARCH` answer: `[total, id, [field, value, …], …]`.
pub fn parse(reply: Value) -> Vec<Found> {
    let Value::Array(items) = reply else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pair in items.get(1..).unwrap_or_default().chunks(2) {
        let [id, fields] = pair else { continue };
        let Ok(id) = redis::from_redis_value::<String>(id.clone()) else {
            continue;
        };
        let Ok(fields) = redis::from_redis_value::<Vec<String>>(fields.clone()) else {
            continue;
        };
        let get = |f: &str| {
            fields
                .chunks(2)
                .find(|p| p[0] == f)
                .and_then(|p| p.get(1).cloned())
        };
        let Some((conversation_id, seq)) = parse_doc_id(&id) else {
            continue;
        };
        out.push(Found {
            conversation_id,
            seq,
            at: get("at").and_then(|t| t.parse().ok()).unwrap_or(0),
            sender: super::parse_kind(&get("kind").unwrap_or_default()),
            text: get("text").unwrap_or_default(),
        });
    }
    out
}

/// `sb:ft:{c:ID}:SEQ` → (ID, SEQ).
fn parse_doc_id(id: &str) -> Option<(String, u64)> {
    let rest = id.strip_prefix("sb:ft:{c:")?;
    let (conv, tail) = rest.split_once('}')?;
    let seq = tail.strip_prefix(':')?.parse().ok()?;
    Some((conv.to_owned(), seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_escaped_and_words_stay_words() {
        let sites = ["shop-1".to_owned(), "a}b|@x".to_owned()];
        let terms = ["order".to_owned(), "1042".to_owned()];
        let args = query_args(&Search {
            sites: &sites,
            terms: &terms,
            status: Some("resolved"),
            team: Some("billing desk"),
            assignee: None,
            from: Some(5),
            to: None,
            offset: 0,
            limit: 21,
        });
        assert_eq!(
            args[0],
            r"order 1042 @site:{shop\-1|a\}b\|\@x} @status:{resolved} @team:{billing\ desk} @at:[5 +inf]"
        );
        assert_eq!(
            parse_doc_id(&format!("{}12", doc_prefix("c_9"))),
            Some(("c_9".into(), 12))
        );
        assert_eq!(parse_doc_id("sb:{c:c_9}:meta"), None);
    }
}

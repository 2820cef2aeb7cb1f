//! The embedded store's KPI facts (see `kpi`): a `kpi_facts` row per conversation, clustered
//! by (site, start) so a period is one range scan, and `kpi_dirty`, the conversations whose
//! log grew since, marked by a trigger on `messages` in the same transaction as the write
//! (a key insert, O(1), off no lock the append does not already hold).
//!
//! Reports read on a connection of their own (WAL readers never wait for the writer, nor it
//! for them), so a year of rows never stalls a message.

use rusqlite::{params, Connection, OptionalExtension};
use switchboard_protocol::Millis;

use super::sqlite::SqliteBroker;
use super::Result;
use crate::kpi::{Dim, Facts, Rows};

/// Idempotent, so it needs no schema version: run at every start.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kpi_facts (
    site TEXT NOT NULL,
    started INTEGER NOT NULL,
    conversation_id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL,
    first_response_ms INTEGER,
    assign_ms INTEGER,
    resolve_ms INTEGER,
    queue_ms INTEGER,
    resolved INTEGER NOT NULL,
    reopens INTEGER NOT NULL,
    bot INTEGER NOT NULL,
    human INTEGER NOT NULL,
    handoff TEXT,
    messages INTEGER NOT NULL,
    csat INTEGER,
    team TEXT,
    agent TEXT,
    entry TEXT NOT NULL,
    PRIMARY KEY (site, started, conversation_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kpi_dirty (
    site TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    PRIMARY KEY (site, conversation_id)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS messages_kpi_dirty AFTER INSERT ON messages BEGIN
    INSERT OR IGNORE INTO kpi_dirty (site, conversation_id)
    SELECT site, id FROM conversations WHERE id = NEW.conversation_id;
END;
-- A deleted conversation (privacy, retention) keeps counting under an id that names nothing.
CREATE TRIGGER IF NOT EXISTS conversations_kpi_forget AFTER DELETE ON conversations BEGIN
    DELETE FROM kpi_dirty WHERE site = OLD.site AND conversation_id = OLD.id;
    UPDATE kpi_facts SET conversation_id = 'gone_' || lower(hex(randomblob(8)))
    WHERE conversation_id = OLD.id;
END;
";

/// Creates the tables; on a file that had none, marks every stored conversation, so the
/// conversations from before KPIs existed are projected too.
pub(super) fn install(conn: &Connection) -> rusqlite::Result<()> {
    let existed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'kpi_facts')",
        [],
        |r| r.get(0),
    )?;
    conn.execute_batch(&format!("BEGIN; {SCHEMA}"))?;
    if !existed {
        conn.execute_batch(
            "INSERT OR IGNORE INTO kpi_dirty (site, conversation_id)
             SELECT site, id FROM conversations WHERE last_seq > 0",
        )?;
    }
    conn.execute_batch("COMMIT")
}

const COLUMNS: &str = "site, started, conversation_id, seq, first_response_ms, assign_ms,
    resolve_ms, queue_ms, resolved, reopens, bot, human, handoff, messages, csat, team, agent,
    entry";

fn facts(r: &rusqlite::Row<'_>) -> rusqlite::Result<Facts> {
    let ms = |i: usize| r.get::<_, Option<i64>>(i).map(|v| v.map(|v| v as u64));
    Ok(Facts {
        site: r.get(0)?,
        started: r.get::<_, i64>(1)? as Millis,
        conversation_id: r.get(2)?,
        seq: r.get::<_, i64>(3)? as u64,
        first_response_ms: ms(4)?,
        assign_ms: ms(5)?,
        resolve_ms: ms(6)?,
        queue_ms: ms(7)?,
        resolved: r.get(8)?,
        reopens: r.get(9)?,
        bot: r.get(10)?,
        human: r.get(11)?,
        handoff: r.get(12)?,
        messages: r.get(13)?,
        csat: r.get(14)?,
        team: r.get(15)?,
        agent: r.get(16)?,
        entry: r.get(17)?,
    })
}

pub(super) async fn take_dirty(b: &SqliteBroker, site: &str, limit: usize) -> Result<Vec<String>> {
    let site = site.to_owned();
    b.with(move |c| {
        let mut q = c.prepare_cached(
            "DELETE FROM kpi_dirty WHERE site = ?1 AND conversation_id IN
             (SELECT conversation_id FROM kpi_dirty WHERE site = ?1 LIMIT ?2)
             RETURNING conversation_id",
        )?;
        let ids = q.query_map(params![site, limit as i64], |r| r.get(0))?;
        ids.collect()
    })
    .await
}

pub(super) async fn mark_dirty(b: &SqliteBroker, site: &str, ids: &[String]) -> Result<()> {
    let (site, ids) = (site.to_owned(), ids.to_vec());
    b.with(move |c| {
        let tx = c.transaction()?;
        for id in &ids {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO kpi_dirty (site, conversation_id) VALUES (?1, ?2)",
            )?
            .execute(params![site, id])?;
        }
        tx.commit()
    })
    .await
}

pub(super) async fn facts_of(b: &SqliteBroker, site: &str, id: &str) -> Result<Option<Facts>> {
    let (site, id) = (site.to_owned(), id.to_owned());
    b.with(move |c| {
        c.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM kpi_facts WHERE conversation_id = ?1 AND site = ?2"
        ))?
        .query_row(params![id, site], facts)
        .optional()
    })
    .await
}

pub(super) async fn put(b: &SqliteBroker, all: &[Facts]) -> Result<()> {
    let all = all.to_vec();
    b.with(move |c| {
        let tx = c.transaction()?;
        for f in &all {
            // A newer projection stays: then nothing is deleted and the insert is ignored. A
            // conversation deleted since it was read stays forgotten (the trigger re-keyed it).
            tx.prepare_cached("DELETE FROM kpi_facts WHERE conversation_id = ?1 AND seq <= ?2")?
                .execute(params![f.conversation_id, f.seq as i64])?;
            tx.prepare_cached(&format!(
                "INSERT OR IGNORE INTO kpi_facts ({COLUMNS})
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18
             WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ?3)"
            ))?
            .execute(params![
                f.site,
                f.started as i64,
                f.conversation_id,
                f.seq as i64,
                f.first_response_ms.map(|v| v as i64),
                f.assign_ms.map(|v| v as i64),
                f.resolve_ms.map(|v| v as i64),
                f.queue_ms.map(|v| v as i64),
                f.resolved,
                f.reopens,
                f.bot,
                f.human,
                f.handoff,
                f.messages,
                f.csat,
                f.team,
                f.agent,
                f.entry,
            ])?;
        }
        tx.commit()
    })
    .await
}

pub(super) async fn rows(
    b: &SqliteBroker,
    site: &str,
    from: Millis,
    to: Millis,
    dim: Dim,
) -> Result<Rows> {
    let site = site.to_owned();
    let dim = match dim {
        Dim::None => "NULL",
        Dim::Team => "team",
        Dim::Agent => "agent",
        Dim::Entry => "entry",
    };
    // On a read-only connection: a year's scan never holds up the writer.
    b.read(move |c| read_rows(c, &site, from, to, dim)).await
}

fn read_rows(
    c: &Connection,
    site: &str,
    from: Millis,
    to: Millis,
    dim: &str,
) -> rusqlite::Result<Rows> {
    let mut q = c.prepare_cached(&format!(
        "SELECT started, first_response_ms, assign_ms, resolve_ms, queue_ms, resolved, reopens,
         bot, human, handoff, messages, csat, {dim} FROM kpi_facts
         WHERE site = ?1 AND started >= ?2 AND started < ?3"
    ))?;
    let mut rows = Rows::default();
    let mut it = q.query(params![
        site,
        from.min(i64::MAX as u64) as i64,
        to.min(i64::MAX as u64) as i64
    ])?;
    while let Some(r) = it.next()? {
        let ms = |i: usize| r.get::<_, Option<i64>>(i).map(|v| v.map(|v| v as u64));
        let name = |rows: &mut Rows, i: usize| -> rusqlite::Result<Option<u32>> {
            let text = r.get_ref(i)?.as_str_or_null().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
            })?;
            Ok(text.map(|s| rows.intern(s)))
        };
        let row = crate::kpi::Row {
            started: r.get::<_, i64>(0)? as Millis,
            first_response_ms: ms(1)?,
            assign_ms: ms(2)?,
            resolve_ms: ms(3)?,
            queue_ms: ms(4)?,
            resolved: r.get(5)?,
            reopened: r.get::<_, i64>(6)? > 0,
            bot: r.get(7)?,
            human: r.get(8)?,
            handoff: name(&mut rows, 9)?,
            messages: r.get(10)?,
            csat: r.get(11)?,
            dim: name(&mut rows, 12)?,
        };
        rows.rows.push(row);
    }
    Ok(rows)
}

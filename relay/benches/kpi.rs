//! KPI reports over a generated year of a busy site, on the embedded store: the figures the
//! admin API's `GET /v1/admin/sites/{site}/kpis` computes, read and aggregated the way it
//! does (`Broker::kpi_rows`, then `kpi::report::aggregate`).
//!
//! `cargo bench -p switchboard-relay --bench kpi` (a million conversations; figures in
//! BENCHMARKS.md); `-- --conversations N` for another size. Each conversation's facts are
//! folded from a generated log with the projector's rule (`kpi::fold`) and stored in batches
//! with their visitor and conversation rows (the logs themselves are not stored: reports
//! never read them).

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_protocol::{
    ChatMessage, ConversationSummary, Millis, Priority, Sender, SenderKind, SystemEvent,
};
use switchboard_relay::broker::sqlite::SqliteBroker;
use switchboard_relay::broker::Broker;
use switchboard_relay::kpi::report::{aggregate, Group};
use switchboard_relay::kpi::{fold, Facts};

const SITE: &str = "busy";
const YEAR_MS: Millis = 365 * 86_400_000;
/// 2025-01-01T00:00:00Z.
const START: Millis = 1_735_689_600_000;
const TEAMS: [&str; 4] = ["sales", "support", "billing", "returns"];
const PAGES: [&str; 6] = ["", "pricing", "docs", "checkout", "account", "blog"];

fn message(
    seq: u64,
    at: Millis,
    kind: SenderKind,
    id: &str,
    event: Option<SystemEvent>,
) -> ChatMessage {
    ChatMessage {
        conversation_id: String::new(),
        seq,
        client_id: String::new(),
        sender: Sender {
            kind,
            id: id.to_owned(),
            name: None,
            avatar: None,
        },
        text: String::new(),
        at,
        rich: None,
        postback: None,
        event: event.map(Box::new),
        note: None,
    }
}

/// One conversation: a visitor's question, a bot's answer that settles it or hands it off, an
/// agent picked up from the queue, a few messages each way, mostly resolved, some reopened.
fn conversation(rng: &mut StdRng, i: u64, base: &ConversationSummary) -> Facts {
    let started = START + rng.random_range(0..YEAR_MS);
    let mut log = Vec::with_capacity(12);
    let mut at = started;
    let push = |log: &mut Vec<ChatMessage>, at: Millis, kind, id: &str, event| {
        let seq = log.len() as u64 + 1;
        log.push(message(seq, at, kind, id, event));
    };
    push(&mut log, at, SenderKind::Visitor, "v", None);
    let bot = rng.random_bool(0.6);
    let agent = format!("agent{}", rng.random_range(0..40));
    if bot {
        at += rng.random_range(500..3_000);
        push(&mut log, at, SenderKind::Bot, "bot", None);
    }
    let human = !bot || rng.random_bool(0.35);
    if human {
        if bot {
            at += rng.random_range(5_000..60_000);
            let event = SystemEvent::HandedOff {
                team: None,
                priority: Priority::Normal,
                by: "bot".into(),
            };
            push(&mut log, at, SenderKind::System, "bot", Some(event));
        }
        at += rng.random_range(2_000..600_000);
        let event = SystemEvent::Assigned {
            agent: agent.clone(),
            by: "system".into(),
            agent_name: None,
        };
        push(&mut log, at, SenderKind::System, "system", Some(event));
        for _ in 0..rng.random_range(1..5) {
            at += rng.random_range(10_000..300_000);
            push(&mut log, at, SenderKind::Agent, &agent, None);
            at += rng.random_range(10_000..300_000);
            push(&mut log, at, SenderKind::Visitor, "v", None);
        }
    }
    if rng.random_bool(0.85) {
        at += rng.random_range(60_000..3_600_000);
        let event = SystemEvent::Resolved { by: agent.clone() };
        push(&mut log, at, SenderKind::System, &agent, Some(event));
        if rng.random_bool(0.08) {
            at += rng.random_range(60_000..86_400_000);
            push(
                &mut log,
                at,
                SenderKind::System,
                "v",
                Some(SystemEvent::Reopened { by: None }),
            );
            push(&mut log, at, SenderKind::Visitor, "v", None);
        }
    }
    let mut summary = base.clone();
    summary.id = format!("c_{i:016x}");
    summary.created_at = started;
    summary.team = Some(TEAMS[rng.random_range(0..TEAMS.len())].to_owned());
    summary.assignee = human.then_some(agent);
    summary.page_url = Some(format!(
        "https://busy.example/{}/x",
        PAGES[rng.random_range(0..PAGES.len())]
    ));
    fold(&log, &summary, None)
}

fn store_conversations(raw: &rusqlite::Connection, batch: &[Facts]) {
    raw.execute_batch("BEGIN").unwrap();
    for f in batch {
        let visitor = format!("v{}", &f.conversation_id[1..]);
        raw.prepare_cached(
            "INSERT INTO visitors (id, site, token_hash, context, created_at)
             VALUES (?1, ?2, ?1, '{}', ?3)",
        )
        .unwrap()
        .execute(rusqlite::params![visitor, SITE, f.started as i64])
        .unwrap();
        raw.prepare_cached(
            "INSERT INTO conversations (id, site, visitor_id, created_at, last_activity, last_seq)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        )
        .unwrap()
        .execute(rusqlite::params![
            f.conversation_id,
            SITE,
            visitor,
            f.started as i64,
            f.seq as i64
        ])
        .unwrap();
    }
    raw.execute_batch("COMMIT").unwrap();
}

/// This process's CPU time (every thread's, user and system) in ms, from `/proc/self/stat`:
/// what a query costs whatever else the machine runs.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name's `)`;
    // in clock ticks, 100 a second on Linux.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) * 10.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .iter()
        .position(|a| a == "--conversations")
        .and_then(|i| args.get(i + 1))
        .map_or(1_000_000, |v| v.parse().expect("--conversations N"));
    let dir = std::env::temp_dir().join(format!("sb-kpi-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let broker = SqliteBroker::open(&dir, Arc::default()).expect("store opens");
    let base: ConversationSummary = serde_json::from_value(serde_json::json!({
        "id": "", "site": SITE, "visitor_id": "v", "created_at": 0, "last_activity": 0,
        "last_seq": 0, "owner": {"kind": "humans"},
    }))
    .expect("summary");

    // The visitors and conversations the facts belong to, written straight into the file:
    // the relay stores facts only for conversations it has.
    let raw = rusqlite::Connection::open(dir.join("switchboard.db")).expect("file opens");
    raw.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(19);
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n {
        batch.push(conversation(&mut rng, i, &base));
        if batch.len() == batch.capacity() || i + 1 == n {
            store_conversations(&raw, &batch);
            broker.put_kpi_facts(&batch).await.expect("facts stored");
            batch.clear();
        }
    }
    let size: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "generated {n} conversations over a year in {:.1} s ({:.0} MB on disk)",
        started.elapsed().as_secs_f64(),
        size as f64 / 1e6
    );

    let tz = jiff::tz::TimeZone::get("Europe/Paris").expect("tzdb");
    let year = (START, START + YEAR_MS);
    let quarter = (START, START + 90 * 86_400_000);
    let month = (START + 150 * 86_400_000, START + 181 * 86_400_000);
    let cases = [
        ("year, total", year, Group::Total),
        ("year, by day", year, Group::Day),
        ("year, by team", year, Group::Team),
        ("year, by agent", year, Group::Agent),
        ("year, by entry page", year, Group::Entry),
        ("90 days, by hour", quarter, Group::Hour),
        ("a month, by day", month, Group::Day),
    ];
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "query", "rows", "read ms", "agg ms", "total ms", "cpu ms"
    );
    for (what, (from, to), group) in cases {
        // The best of three: the machine is shared.
        let mut best = (f64::INFINITY, 0.0, 0.0, 0);
        let mut cpu = f64::INFINITY;
        for _ in 0..3 {
            let cpu_before = cpu_ms();
            let t = Instant::now();
            let rows = broker
                .kpi_rows(SITE, from, to, group.dim())
                .await
                .expect("rows");
            let read = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let report = aggregate(SITE, (from, to), &tz, group, &rows);
            let agg = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(report.total.conversations, rows.rows.len() as u64);
            cpu = cpu.min(cpu_ms() - cpu_before);
            if read + agg < best.0 {
                best = (read + agg, read, agg, rows.rows.len());
            }
        }
        println!(
            "{what:<22} {:>9} {:>9.0} {:>9.0} {:>9.0} {:>9.0}",
            best.3, best.1, best.2, best.0, cpu
        );
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

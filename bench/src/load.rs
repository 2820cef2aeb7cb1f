//! Load: visitors each sending one message per second (spread evenly over the second), agents
//! each receiving every message. Latency is send → agent receipt (both ends are in this
//! process, so one clock). CPU is the relay processes' user+system time over the measured
//! window divided by the agent receipts in it. Every message is counted: each visitor's must be
//! acknowledged once and reach every agent exactly once.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Frame};
use crate::{procs, Topology};

const WARMUP: Duration = Duration::from_secs(3);
const DRAIN: Duration = Duration::from_secs(3);

struct Shared {
    start: Instant,
    stop: AtomicBool,
    /// Nanoseconds since `start` when the measured window opens (0 = not yet).
    window_from: AtomicU64,
    receipts: AtomicU64,
    /// Payload bytes of the counted receipts, for the average frame size.
    receipt_bytes: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

pub async fn run(
    bin: &procs::RelayCmd,
    topology: Topology,
    visitors: usize,
    agents: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let redis = match topology {
        Topology::Embedded => None,
        _ => Some(procs::redis().await?),
    };
    let url = redis
        .as_ref()
        .map(|r| format!("redis://127.0.0.1:{}/", r.port));
    let a = procs::relay(bin, url.as_deref()).await?;
    let b = match topology {
        Topology::TwoNodes => Some(procs::relay(bin, url.as_deref()).await?),
        _ => None,
    };
    let agent_port = b.as_ref().map_or(a.port, |b| b.port);
    let shared = Arc::new(Shared {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        window_from: AtomicU64::new(0),
        receipts: AtomicU64::new(0),
        receipt_bytes: AtomicU64::new(0),
    });

    let mut agent_tasks = Vec::new();
    for _ in 0..agents {
        let ws = client::agent(agent_port).await?;
        agent_tasks.push(tokio::spawn(agent(ws, shared.clone())));
    }
    let mut visitor_tasks = Vec::new();
    for i in 0..visitors {
        let (ws, conv) = client::visitor(a.port).await?;
        // Spread the sends evenly over each second.
        let phase = Duration::from_micros((i as u64 * 1_000_000) / visitors as u64);
        visitor_tasks.push(tokio::spawn(visitor(ws, conv, i, phase, shared.clone())));
    }

    tokio::time::sleep(WARMUP).await;
    let relays: Vec<&procs::Proc> = [Some(&a), b.as_ref()].into_iter().flatten().collect();
    // Per relay: with two nodes, A's share is the visitors' side (store, ack, publish) and B's
    // the fan-out to agents.
    let cpu = || relays.iter().map(|p| p.cpu_us()).collect::<Vec<u64>>();
    let redis_cpu = || redis.as_ref().map_or(0, |r| r.cpu_us());
    let redis_commands = || async {
        match &redis {
            Some(r) => r.redis_commands().await.map(Some),
            None => Ok(None),
        }
    };
    let cmd0 = redis_commands().await?;
    let (cpu0, rcpu0, rec0) = (cpu(), redis_cpu(), shared.receipts.load(Ordering::Relaxed));
    shared.window_from.store(shared.now_ns(), Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (cpu1, rcpu1, rec1) = (cpu(), redis_cpu(), shared.receipts.load(Ordering::Relaxed));
    let cmd1 = redis_commands().await?;
    shared.stop.store(true, Ordering::Relaxed);

    let mut sent = 0u64;
    let mut unacked = 0u64;
    let mut dup_acks = 0u64;
    let mut all_ids = HashSet::default();
    for t in visitor_tasks {
        let v = t.await?;
        sent += v.sent.len() as u64;
        unacked += v.sent.iter().filter(|id| !v.acks.contains_key(*id)).count() as u64;
        dup_acks += v.acks.values().filter(|n| **n > 1).count() as u64;
        all_ids.extend(v.sent);
    }
    let mut hist = Histogram::<u64>::new(3)?;
    let mut lost = 0u64;
    let mut dups = dup_acks;
    for t in agent_tasks {
        let r = t.await?;
        hist.add(&r.hist)?;
        lost += all_ids.iter().filter(|id| !r.seen.contains(*id)).count() as u64;
        dups += r.dups;
    }
    let deliveries = rec1 - rec0;
    let per_node: Vec<f64> = cpu1
        .iter()
        .zip(&cpu0)
        .map(|(c1, c0)| (c1 - c0) as f64 / deliveries.max(1) as f64)
        .collect();
    let cpu_per: f64 = per_node.iter().sum();
    let split = if per_node.len() > 1 {
        let parts: Vec<String> = per_node.iter().map(|c| format!("{c:.2}")).collect();
        format!(" = A {}", parts.join(" + B "))
    } else {
        String::new()
    };
    let redis_per = (rcpu1 - rcpu0) as f64 / deliveries.max(1) as f64;
    // Every message reaches every agent, so the window's messages are its deliveries / agents.
    // Includes the relay's background commands (presence claims, leases), which cost the same.
    let messages = deliveries as f64 / agents.max(1) as f64;
    let commands_per_message = match (cmd0, cmd1) {
        (Some(c0), Some(c1)) => (c1 - c0) as f64 / messages.max(1.0),
        _ => 0.0,
    };
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1e6;
    let frame_bytes = shared.receipt_bytes.load(Ordering::Relaxed)
        / shared.receipts.load(Ordering::Relaxed).max(1);
    let name = format!("{topology:?}").to_lowercase();
    println!(
        "load {name}: {visitors} visitors x 1 msg/s, {agents} agents; {sent} sent, {deliveries} deliveries in {seconds} s; \
         latency p50 {:.2} ms p99 {:.2} ms p99.9 {:.2} ms; relay CPU {cpu_per:.2}{split} µs/delivery (redis {redis_per:.2}; {commands_per_message:.2} redis commands/message); \
         lost {}, unacked {unacked}, duplicated {dups}; agent frames {frame_bytes} B on average",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        lost + unacked,
    );
    println!(
        r#"{{"scenario":"load","topology":"{name}","visitors":{visitors},"agents":{agents},"seconds":{seconds},"sent":{sent},"deliveries":{deliveries},"p50_ms":{:.3},"p99_ms":{:.3},"p999_ms":{:.3},"relay_cpu_us_per_delivery":{cpu_per:.3},"relay_cpu_us_per_delivery_by_node":{per_node:?},"redis_cpu_us_per_delivery":{redis_per:.3},"redis_commands_per_message":{commands_per_message:.3},"lost":{},"duplicated":{dups},"agent_frame_bytes":{frame_bytes}}}"#,
        ms(0.5),
        ms(0.99),
        ms(0.999),
        lost + unacked
    );
    anyhow::ensure!(
        lost + unacked == 0 && dups == 0,
        "{name}: lost {} duplicated {dups}",
        lost + unacked
    );
    Ok(())
}

struct VisitorResult {
    sent: Vec<String>,
    acks: HashMap<String, u32>,
}

async fn visitor(
    ws: client::Ws,
    conv: String,
    i: usize,
    phase: Duration,
    shared: Arc<Shared>,
) -> VisitorResult {
    let (mut write, mut read) = ws.split();
    let reader = tokio::spawn(async move {
        let mut acks: HashMap<String, u32> = HashMap::default();
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_secs(30), read.next()).await
        {
            if let Message::Text(t) = frame {
                if let Ok(f) = serde_json::from_str::<Frame>(t.as_str()) {
                    if f.kind == "ack" {
                        *acks
                            .entry(f.client_id.unwrap_or_default().into_owned())
                            .or_default() += 1;
                    }
                }
            }
        }
        acks
    });
    tokio::time::sleep(phase).await;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut sent = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let id = format!("v{i}-{}", sent.len());
        let frame = format!(
            r#"{{"type":"send","conversation_id":"{conv}","client_id":"{id}","text":"{}"}}"#,
            shared.now_ns()
        );
        if write.send(Message::text(frame)).await.is_err() {
            break;
        }
        sent.push(id);
    }
    tokio::time::sleep(DRAIN).await;
    let _ = write.close().await;
    let acks = reader.await.unwrap_or_default();
    VisitorResult { sent, acks }
}

struct AgentResult {
    hist: Histogram<u64>,
    seen: HashSet<String>,
    dups: u64,
}

async fn agent(mut ws: client::Ws, shared: Arc<Shared>) -> AgentResult {
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let mut seen = HashSet::default();
    let mut dups = 0;
    loop {
        let timeout = if shared.stop.load(Ordering::Relaxed) {
            DRAIN
        } else {
            Duration::from_secs(30)
        };
        let Ok(Some(Ok(frame))) = tokio::time::timeout(timeout, ws.next()).await else {
            break;
        };
        let Message::Text(t) = frame else { continue };
        let Ok(m) = serde_json::from_str::<Frame>(t.as_str()) else {
            continue;
        };
        if m.kind != "message" || m.sender.map(|s| s.kind) != Some("visitor") {
            continue;
        }
        let client_id = m.client_id.unwrap_or_default().into_owned();
        let now = shared.now_ns();
        shared.receipts.fetch_add(1, Ordering::Relaxed);
        shared
            .receipt_bytes
            .fetch_add(t.len() as u64, Ordering::Relaxed);
        if !seen.insert(client_id) {
            dups += 1;
        }
        let from = shared.window_from.load(Ordering::Relaxed);
        if let Some(Ok(sent_at)) = m.text.map(|t| t.parse::<u64>()) {
            if from > 0 && sent_at >= from && !shared.stop.load(Ordering::Relaxed) {
                let _ = hist.record(now.saturating_sub(sent_at).max(1));
            }
        }
    }
    AgentResult { hist, seen, dups }
}

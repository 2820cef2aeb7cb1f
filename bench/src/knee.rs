//! The knee: a rising inbound rate at a fixed fan-out (by default 2,000 visitors, 5 agents),
//! one step after another, until the relay no longer keeps up. Per step: the rate reached,
//! latency (visitor send → agent receipt) p50/p99, whether every delivery of the step arrived,
//! and the CPU of each relay node per inbound message and per delivery.
//!
//! The generator must not be the limit: it runs on tokio's multi-thread runtime (one worker
//! per core), each visitor a task that sends on its own schedule (open loop: a late relay does
//! not slow the senders), and it reads as little of each frame as it can — a visitor only
//! counts its acks, an agent parses the frame's client id and send time. Its own CPU is
//! printed per step, so a run where it, not the relay, ran out of CPU shows as such.
//!
//! Every message is checked: each agent must see each visitor's messages exactly once and in
//! the order sent (the client id carries the visitor and its message number), and the acks
//! must add up to the messages sent.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Frame};
use crate::{procs, Topology};

/// Time for the backlog of a step to arrive after its last send.
const DRAIN: Duration = Duration::from_secs(2);

pub struct Shape {
    pub visitors: usize,
    pub agents: usize,
    /// Inbound messages per second, all visitors together, one step each.
    pub rates: Vec<u32>,
    pub step_seconds: u64,
    /// A step keeps up when its p99 is at most this and every delivery arrived.
    pub p99_limit_ms: f64,
}

struct Shared {
    start: Instant,
    stop: AtomicBool,
    sent: Vec<AtomicU64>,
    acks: AtomicU64,
    delivered: Vec<AtomicU64>,
    hist: Vec<Mutex<Histogram<u64>>>,
    /// Deliveries out of order or twice, over the whole run.
    disorder: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

pub async fn run(bin: &procs::RelayCmd, topology: Topology, shape: Shape) -> anyhow::Result<()> {
    let Shape {
        visitors,
        agents,
        ref rates,
        step_seconds,
        p99_limit_ms,
    } = shape;
    anyhow::ensure!(visitors > 0 && agents > 0 && !rates.is_empty());
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
    let steps = rates.len();
    let shared = Arc::new(Shared {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        sent: (0..steps).map(|_| AtomicU64::new(0)).collect(),
        acks: AtomicU64::new(0),
        delivered: (0..steps).map(|_| AtomicU64::new(0)).collect(),
        hist: (0..steps)
            .map(|_| Mutex::new(Histogram::new(3).expect("histogram")))
            .collect(),
        disorder: AtomicU64::new(0),
    });

    let mut agent_tasks = Vec::new();
    for _ in 0..agents {
        let ws = client::agent(agent_port).await?;
        agent_tasks.push(tokio::spawn(agent(ws, visitors, shared.clone())));
    }
    // Connect in parallel batches: 2,000 handshakes one by one take a while.
    let mut sockets = Vec::with_capacity(visitors);
    for start in (0..visitors).step_by(250) {
        let batch: Vec<_> = (start..(start + 250).min(visitors))
            .map(|_| tokio::spawn(client::visitor(a.port)))
            .collect();
        for t in batch {
            sockets.push(t.await??);
        }
    }
    // Warm-up: every visitor's first message (which stores the visitor and its conversation,
    // the heavier path), at one message a second each (not counted), then the steps.
    let (pace, paced) = tokio::sync::watch::channel(Pace {
        interval: Some(Duration::from_secs(1)),
        step: usize::MAX,
    });
    let visitor_tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, (ws, conv))| {
            tokio::spawn(visitor(
                ws,
                conv,
                i,
                visitors,
                paced.clone(),
                shared.clone(),
            ))
        })
        .collect();
    let warm = Instant::now() + Duration::from_secs(20);
    while shared.acks.load(Ordering::Relaxed) < visitors as u64 && Instant::now() < warm {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Paused until the first messages' side work (context, inbox lines) has settled, so the
    // first step measures steady messages only.
    pace.send_replace(Pace {
        interval: None,
        step: usize::MAX,
    });
    tokio::time::sleep(DRAIN).await;

    let name = format!("{topology:?}").to_lowercase();
    let relays: Vec<&procs::Proc> = [Some(&a), b.as_ref()].into_iter().flatten().collect();
    let cpu = || relays.iter().map(|p| p.cpu_us()).collect::<Vec<u64>>();
    let redis_cpu = || redis.as_ref().map_or(0, |r| r.cpu_us());
    println!(
        "knee {name}: {visitors} visitors, {agents} agents, {step_seconds} s per step, keeps up = every delivery within {} s and p99 <= {p99_limit_ms} ms",
        DRAIN.as_secs()
    );
    println!("| inbound/s asked | sent/s | p50 | p99 | keeps up | relay CPU / inbound msg | relay CPU / delivery | Redis CPU / inbound | bench CPU |");
    println!("|---:|---:|---:|---:|---|---:|---:|---:|---:|");
    let mut failed = false;
    for (s, &rate) in rates.iter().enumerate() {
        let interval = Duration::from_secs(visitors as u64) / rate.max(1);
        let (cpu0, rcpu0, bench0) = (cpu(), redis_cpu(), procs::self_cpu_us());
        let from = Instant::now();
        pace.send_replace(Pace {
            interval: Some(interval),
            step: s,
        });
        tokio::time::sleep(Duration::from_secs(step_seconds)).await;
        // Paused while the step drains.
        pace.send_replace(Pace {
            interval: None,
            step: usize::MAX,
        });
        let secs = from.elapsed().as_secs_f64();
        let (cpu1, rcpu1, bench1) = (cpu(), redis_cpu(), procs::self_cpu_us());
        let sent = shared.sent[s].load(Ordering::Relaxed);
        let expected = sent * agents as u64;
        let drained = Instant::now() + DRAIN;
        while shared.delivered[s].load(Ordering::Relaxed) < expected && Instant::now() < drained {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let delivered = shared.delivered[s].load(Ordering::Relaxed);
        let (p50, p99) = {
            let h = shared.hist[s].lock().unwrap_or_else(|e| e.into_inner());
            if h.is_empty() {
                // Nothing of the step arrived in time: no latency to show, and no keeping up.
                (f64::INFINITY, f64::INFINITY)
            } else {
                (
                    h.value_at_quantile(0.5) as f64 / 1e6,
                    h.value_at_quantile(0.99) as f64 / 1e6,
                )
            }
        };
        let rate_got = sent as f64 / secs;
        let keeps_up =
            delivered >= expected && p99 <= p99_limit_ms && rate_got >= 0.95 * f64::from(rate);
        let node_cpu: Vec<f64> = cpu1
            .iter()
            .zip(&cpu0)
            .map(|(c1, c0)| (c1 - c0) as f64)
            .collect();
        let total: f64 = node_cpu.iter().sum();
        let per_in = |c: f64| c / sent.max(1) as f64;
        let per_del = |c: f64| c / expected.max(1) as f64;
        let split = |f: &dyn Fn(f64) -> f64| {
            if node_cpu.len() > 1 {
                format!(" (A {:.2} + B {:.2})", f(node_cpu[0]), f(node_cpu[1]))
            } else {
                String::new()
            }
        };
        let redis_in = (rcpu1 - rcpu0) as f64 / sent.max(1) as f64;
        let bench_share = (bench1 - bench0) as f64 / 1e6 / secs;
        println!(
            "| {rate} | {rate_got:.0} | {p50:.2} ms | {p99:.2} ms | {} | {:.1} µs{} | {:.2} µs{} | {} | {:.2} cores |",
            if keeps_up { "yes" } else { "**no**" },
            per_in(total),
            split(&per_in),
            per_del(total),
            split(&per_del),
            if redis.is_some() { format!("{redis_in:.1} µs") } else { "–".into() },
            bench_share,
        );
        println!(
            r#"{{"scenario":"knee","topology":"{name}","visitors":{visitors},"agents":{agents},"rate":{rate},"sent_per_s":{rate_got:.1},"delivered":{delivered},"expected":{expected},"p50_ms":{},"p99_ms":{},"keeps_up":{keeps_up},"relay_cpu_us_per_inbound_by_node":{:?},"relay_cpu_us_per_delivery":{:.3},"redis_cpu_us_per_inbound":{redis_in:.3},"bench_cores":{bench_share:.3}}}"#,
            json_ms(p50),
            json_ms(p99),
            node_cpu.iter().map(|c| per_in(*c)).collect::<Vec<_>>(),
            per_del(total),
        );
        if !keeps_up {
            failed = true;
            break;
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    pace.send_replace(Pace {
        interval: None,
        step: usize::MAX,
    });
    let mut sent_by_visitor = Vec::with_capacity(visitors);
    for t in visitor_tasks {
        sent_by_visitor.push(t.await?);
    }
    let sent_total: u64 = sent_by_visitor.iter().sum();
    let acks = shared.acks.load(Ordering::Relaxed);
    let mut missing = 0u64;
    for t in agent_tasks {
        let seen = t.await?;
        missing += (sent_by_visitor.iter().zip(&seen))
            .map(|(sent, seen)| sent.saturating_sub(*seen))
            .sum::<u64>();
    }
    let disorder = shared.disorder.load(Ordering::Relaxed);
    println!(
        "knee {name}: {sent_total} messages sent, {acks} acks; {missing} deliveries missing, {disorder} twice or out of order{}",
        if failed { "; stopped at the first step that did not keep up" } else { "" }
    );
    anyhow::ensure!(
        acks == sent_total && missing == 0 && disorder == 0,
        "{name}: {sent_total} sent, {acks} acked, {missing} missing, {disorder} out of order"
    );
    Ok(())
}

/// How visitors send now: each every `interval` (none: paused), counted in `step`.
#[derive(Clone, Copy)]
struct Pace {
    interval: Option<Duration>,
    step: usize,
}

/// Sends at the shared pace until told to stop; returns how many it sent. Its reader counts
/// acks only (no JSON: an ack frame starts with its type).
async fn visitor(
    ws: client::Ws,
    conv: String,
    i: usize,
    visitors: usize,
    mut paced: tokio::sync::watch::Receiver<Pace>,
    shared: Arc<Shared>,
) -> u64 {
    let (mut write, mut read) = ws.split();
    let counter = shared.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_secs(30), read.next()).await
        {
            if let Message::Text(t) = frame {
                if t.as_str().starts_with(r#"{"type":"ack""#) {
                    counter.acks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let mut n = 0u64;
    'paces: while !shared.stop.load(Ordering::Relaxed) {
        let pace = *paced.borrow_and_update();
        let Some(interval) = pace.interval else {
            if paced.changed().await.is_err() {
                break;
            }
            continue;
        };
        // Spread over the interval, so the rate is even, not a burst per interval.
        let mut next = tokio::time::Instant::now() + interval * i as u32 / visitors as u32;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                changed = paced.changed() => {
                    if changed.is_err() {
                        break 'paces;
                    }
                    continue 'paces;
                }
            }
            next += interval;
            let frame = format!(
                r#"{{"type":"send","conversation_id":"{conv}","client_id":"v{i}-{n}","text":"{} {}"}}"#,
                shared.now_ns(),
                pace.step
            );
            if write.send(Message::text(frame)).await.is_err() {
                break 'paces;
            }
            if let Some(sent) = shared.sent.get(pace.step) {
                sent.fetch_add(1, Ordering::Relaxed);
            }
            n += 1;
        }
    }
    tokio::time::sleep(DRAIN).await;
    let _ = write.close().await;
    let _ = reader.await;
    n
}

/// Receives until the stream goes quiet after the stop; returns, per visitor, how many of its
/// messages it saw (in order: a hole or a repeat counts in `disorder`).
async fn agent(mut ws: client::Ws, visitors: usize, shared: Arc<Shared>) -> Vec<u64> {
    // Per visitor, the next message number expected.
    let mut next = vec![0u64; visitors];
    loop {
        let timeout = if shared.stop.load(Ordering::Relaxed) {
            DRAIN * 2
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
        let now = shared.now_ns();
        let Some((v, n)) = m.client_id.as_deref().and_then(parse_client_id) else {
            continue;
        };
        let Some(expected) = next.get_mut(v) else {
            continue;
        };
        if n != *expected {
            shared.disorder.fetch_add(1, Ordering::Relaxed);
        }
        *expected = n + 1;
        let Some((sent_at, step)) = m.text.as_deref().and_then(|t| t.split_once(' ')) else {
            continue;
        };
        let (Ok(sent_at), Ok(step)) = (sent_at.parse::<u64>(), step.parse::<usize>()) else {
            continue;
        };
        if let (Some(h), Some(d)) = (shared.hist.get(step), shared.delivered.get(step)) {
            d.fetch_add(1, Ordering::Relaxed);
            let _ = h
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .record(now.saturating_sub(sent_at).max(1));
        }
    }
    next
}

/// Milliseconds for the JSON line: `null` when the step had no latency to show.
fn json_ms(ms: f64) -> String {
    if ms.is_finite() {
        format!("{ms:.3}")
    } else {
        "null".into()
    }
}

/// `v{visitor}-{n}`.
fn parse_client_id(id: &str) -> Option<(usize, u64)> {
    let (v, n) = id.strip_prefix('v')?.split_once('-')?;
    Some((v.parse().ok()?, n.parse().ok()?))
}

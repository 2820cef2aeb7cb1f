//! `stream`: what one streamed piece of a bot's answer (`delta`) costs the relay. One bot
//! connection streams `pieces` pieces into each of `conversations` bot-owned conversations at
//! a fixed total rate; every visitor counts its pieces and times each one from the bot's send
//! (the piece's text is the send time). Reported: the relay's CPU per delta (bot frame in,
//! ownership check, fan-out, visitor frame out) and the bot → visitor latency.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use switchboard_protocol::ServerMsg;
use tokio_tungstenite::tungstenite::Message;

use crate::client;
use crate::procs::RelayCmd;

pub struct Shape {
    pub conversations: usize,
    pub pieces: u32,
    /// Deltas per second, all conversations together.
    pub rate: u32,
}

pub async fn run(relay: &RelayCmd, shape: Shape) -> anyhow::Result<()> {
    // The relay keeps at most 64 streams open per bot connection.
    anyhow::ensure!(
        (1..=64).contains(&shape.conversations),
        "--conversations must be 1 to 64 (one bot connection's open streams)"
    );
    let proc = crate::ai::bot_relay(relay).await?;
    let mut bot = client::bot(proc.port, crate::ai::BOT_TOKEN).await?;

    // Every visitor's first message makes a conversation the bot owns.
    let mut visitors = Vec::new();
    for _ in 0..shape.conversations {
        let (mut ws, conv) = client::visitor(proc.port).await?;
        ws.send(Message::text(format!(
            r#"{{"type":"send","conversation_id":"{conv}","client_id":"q","text":"Where is my order?"}}"#
        )))
        .await?;
        visitors.push((ws, conv));
    }
    let mut routed = 0;
    tokio::time::timeout(Duration::from_secs(30), async {
        while routed < shape.conversations {
            match bot.next().await {
                Some(Ok(Message::Text(t))) => {
                    if let Ok(ServerMsg::Routed(_)) = serde_json::from_str(t.as_str()) {
                        routed += 1;
                    }
                }
                Some(Ok(_)) => {}
                other => anyhow::bail!("the bot's socket: {other:?}"),
            }
        }
        Ok(())
    })
    .await
    .context("the conversations were not routed to the bot within 30 s")??;

    let base = Instant::now();
    let convs: Vec<String> = visitors.iter().map(|(_, c)| c.clone()).collect();
    let readers: Vec<_> = visitors
        .into_iter()
        .map(|(ws, _)| tokio::spawn(receive(ws, shape.pieces, base)))
        .collect();
    let (mut write, mut read) = bot.split();
    // A refused piece is a failed run, not a faster one.
    let refusals = tokio::spawn(async move {
        while let Some(Ok(m)) = read.next().await {
            if let Message::Text(t) = m {
                if let Ok(ServerMsg::Error { code, message, .. }) = serde_json::from_str(t.as_str())
                {
                    let refused = format!("{code:?}: {message}");
                    eprintln!("stream: the relay refused a piece: {refused}");
                    return Some(refused);
                }
            }
        }
        None
    });

    let cpu_before = proc.cpu_us();
    let total = shape.conversations as u64 * u64::from(shape.pieces);
    let mut sent = 0u64;
    for index in 0..shape.pieces {
        // A stream is named by its `client_id` on the bot's connection: one per conversation.
        for (n, conv) in convs.iter().enumerate() {
            let due = Duration::from_secs_f64(sent as f64 / f64::from(shape.rate));
            if let Some(wait) = due.checked_sub(base.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            let at = base.elapsed().as_micros();
            write
                .send(Message::text(format!(
                    r#"{{"type":"delta","conversation_id":"{conv}","client_id":"answer-{n}","index":{index},"text":"{at} "}}"#
                )))
                .await?;
            sent += 1;
        }
    }
    let mut latency = Histogram::<u64>::new(3)?;
    for r in readers {
        let got = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .context("a visitor was still missing pieces after 60 s")???;
        latency.add(got)?;
    }
    let cpu = proc.cpu_us() - cpu_before;
    let elapsed = base.elapsed();
    refusals.abort();
    if let Ok(Some(refused)) = refusals.await {
        anyhow::bail!("the relay refused a piece: {refused}");
    }
    anyhow::ensure!(
        latency.len() == total,
        "pieces lost: {} of {total}",
        latency.len()
    );
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "stream: {total} deltas ({} conversations × {} pieces) at {}/s in {:.1} s: relay CPU \
         {:.2} µs per delta; bot → visitor p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; none lost",
        shape.conversations,
        shape.pieces,
        shape.rate,
        elapsed.as_secs_f64(),
        cpu as f64 / total as f64,
        ms(0.5),
        ms(0.99),
        latency.max() as f64 / 1000.0
    );
    Ok(())
}

/// A visitor's pieces until it has `pieces` of them, in order: the latency of each.
async fn receive(mut ws: client::Ws, pieces: u32, base: Instant) -> anyhow::Result<Histogram<u64>> {
    let mut latency = Histogram::<u64>::new(3)?;
    let mut next = 0u32;
    while next < pieces {
        let Some(frame) = ws.next().await else {
            anyhow::bail!("the visitor's socket closed after {next} pieces");
        };
        let Message::Text(t) = frame? else { continue };
        let f: client::Frame = serde_json::from_str(t.as_str())?;
        if f.kind != "delta" {
            continue;
        }
        let now = base.elapsed().as_micros() as u64;
        let at: u64 = f
            .text
            .as_deref()
            .and_then(|t| t.trim().parse().ok())
            .context("a piece without its send time")?;
        latency.record(now.saturating_sub(at))?;
        next += 1;
    }
    Ok(latency)
}

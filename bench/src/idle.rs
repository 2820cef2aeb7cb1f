//! Memory per idle connection: RSS of the relay before and after N visitors connected and were
//! welcomed, divided by N. Each visitor also creates its visitor and conversation records, so
//! this is the cost of a real idle visitor, not of a bare socket.

use std::time::Duration;

use futures_util::StreamExt;

use crate::{client, procs};

pub async fn run(relay: &procs::RelayCmd, connections: usize) -> anyhow::Result<()> {
    let relay = procs::relay(relay, None).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = relay.rss();
    let mut held = Vec::with_capacity(connections);
    let batch = 250;
    for start in (0..connections).step_by(batch) {
        let mut tasks = Vec::new();
        for _ in start..(start + batch).min(connections) {
            tasks.push(tokio::spawn(client::visitor(relay.port)));
        }
        for t in tasks {
            let (ws, _) = t.await??;
            // Keep reading so pings are answered and the relay sees a live client.
            let (_, mut read) = ws.split();
            held.push(tokio::spawn(
                async move { while read.next().await.is_some() {} },
            ));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = relay.rss();
    let per = rss_after.saturating_sub(rss_before) as f64 / connections as f64;
    println!(
        "idle: {connections} visitors, relay RSS {:.1} MiB → {:.1} MiB, {:.0} bytes per connection",
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        per
    );
    println!(
        r#"{{"scenario":"idle","connections":{connections},"rss_before":{rss_before},"rss_after":{rss_after},"bytes_per_connection":{per:.0}}}"#
    );
    for h in held {
        h.abort();
    }
    Ok(())
}

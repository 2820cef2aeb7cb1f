//! `ai`: the time from a visitor's question to the AI bot's full answer on the visitor's
//! socket, through a release relay process, the bot (in this process) and the model
//! stand-in (in this process, answering at once or after `--model-ms`). What it measures is
//! what Switchboard and the bot add to the model's own time: two relay hops, the bot's
//! retrieval and prompt, one HTTP call, and the SSE parsing when streamed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use switchboard_aibot::brain::{AiBrain, Limits};
use switchboard_aibot::kb::KnowledgeBase;
use switchboard_aibot::llm::{Model, ModelConfig};
use switchboard_aibot::prompt::Prompt;
use switchboard_model_standin::{Answer, ModelStandIn};
use switchboard_protocol::{SenderKind, ServerMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::client;
use crate::procs::{self, RelayCmd};

pub const BOT_TOKEN: &str = "bench-bot-token-0123456789abcdef";
const ANSWER: &str = "Standard delivery takes 3 to 5 working days in the EU [1].";

/// A relay whose `bench` site routes new conversations to a bot with [`BOT_TOKEN`] first.
pub async fn bot_relay(relay: &RelayCmd) -> anyhow::Result<procs::Proc> {
    procs::relay_with(
        relay,
        None,
        "routing = \"bot_first\"\nbot = \"aibot\"\n",
        &format!(
            "\n[[bots]]\nid = \"aibot\"\nname = \"AI\"\nsite = \"bench\"\ntoken = \"{BOT_TOKEN}\"\n"
        ),
    )
    .await
}

pub async fn run(
    relay: &RelayCmd,
    questions: usize,
    stream: bool,
    model_ms: u64,
) -> anyhow::Result<()> {
    let proc = bot_relay(relay).await?;
    let delay = Duration::from_millis(model_ms);
    let model = ModelStandIn::start(move |_| {
        if stream {
            // About 16 pieces, like a model's token stream, spread over the model's time.
            let pieces: Vec<String> = ANSWER.split_inclusive(' ').map(str::to_owned).collect();
            let gap = delay / pieces.len() as u32;
            Answer::Stream { pieces, gap }
        } else {
            Answer::Slow {
                delay,
                text: ANSWER.into(),
            }
        }
    })
    .await;
    let kb_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bots/ai-agent/kb");
    let brain = AiBrain {
        model: Model::new(ModelConfig {
            url: model.url.clone(),
            model: "stand-in".into(),
            key: None,
            stream,
            timeout: Duration::from_secs(10),
            max_tokens: 400,
        }),
        kb: KnowledgeBase::load(&kb_dir, Some("https://bench.example/"))
            .map_err(anyhow::Error::msg)?,
        prompt: Prompt::new("Bench shop"),
        limits: Limits::default(),
    };
    let url = format!("ws://127.0.0.1:{}/v1/bot", proc.port);
    let bot = tokio::spawn(async move {
        switchboard_botclient::run(
            &url,
            BOT_TOKEN,
            Arc::new(brain),
            switchboard_botclient::Options {
                min_typing: Duration::ZERO,
            },
        )
        .await
    });
    let mut full = Histogram::<u64>::new(3)?;
    // Streamed: the visitor's first visible words (the first `delta` frame).
    let mut first = Histogram::<u64>::new(3)?;
    // Warm-up: the bot connects, the first HTTP connection opens.
    for i in 0..(questions + 5) {
        let (mut ws, conv) = client::visitor(proc.port).await?;
        let send = format!(
            r#"{{"type":"send","conversation_id":"{conv}","client_id":"q","text":"How long does shipping take?"}}"#
        );
        let asked = Instant::now();
        ws.send(Message::text(send)).await?;
        let mut seen = None;
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m {
                    match serde_json::from_str(t.as_str()) {
                        Ok(ServerMsg::Delta { .. }) if seen.is_none() => {
                            seen = Some(asked.elapsed());
                        }
                        Ok(ServerMsg::Message(m)) if m.sender.kind == SenderKind::Bot => {
                            return Ok(());
                        }
                        _ => {}
                    }
                }
            }
            anyhow::bail!("the visitor's socket closed")
        })
        .await
        .context("no answer within 10 s")??;
        if i >= 5 {
            full.record(asked.elapsed().as_micros() as u64)?;
            if let Some(seen) = seen {
                first.record(seen.as_micros() as u64)?;
            }
        }
        let _ = ws.close(None).await;
    }
    bot.abort();
    let ms = |q: f64| full.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "ai: {questions} questions one after another, {} model, model time {model_ms} ms: \
         question → full answer p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        if stream { "streamed" } else { "plain" },
        ms(0.5),
        ms(0.9),
        ms(0.99),
        full.max() as f64 / 1000.0
    );
    if stream {
        let first_ms = |q: f64| first.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "ai: first words on the visitor's socket (a `delta`) in {} of {questions} answers: \
             p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
            first.len(),
            first_ms(0.5),
            first_ms(0.9),
            first_ms(0.99)
        );
        anyhow::ensure!(
            first.len() as usize == questions,
            "an answer reached the visitor with no streamed piece before it"
        );
    }
    Ok(())
}

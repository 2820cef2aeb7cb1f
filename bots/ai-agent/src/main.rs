//! `switchboard-aibot --token TOKEN --model-url http://127.0.0.1:11434/v1 --model llama3.2 --kb bots/ai-agent/kb`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use switchboard_aibot::brain::{AiBrain, Limits};
use switchboard_aibot::kb::KnowledgeBase;
use switchboard_aibot::llm::{Model, ModelConfig};
use switchboard_aibot::prompt::Prompt;

/// Switchboard AI agent bot: answers from the site's articles and the visitor's order through
/// an OpenAI-compatible model, hands the rest to people.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The relay's bot WebSocket endpoint.
    #[arg(
        long,
        env = "SWITCHBOARD_BOT_URL",
        default_value = "ws://127.0.0.1:8080/v1/bot"
    )]
    relay: String,
    /// The bot token configured for this bot in the relay.
    #[arg(long, env = "SWITCHBOARD_BOT_TOKEN")]
    token: String,
    /// The model API's base URL, up to `/v1` (Ollama: http://127.0.0.1:11434/v1).
    #[arg(long, env = "SWITCHBOARD_AI_URL")]
    model_url: String,
    /// The model's name at that endpoint.
    #[arg(long, env = "SWITCHBOARD_AI_MODEL")]
    model: String,
    /// The API key, if the endpoint wants one.
    #[arg(long, env = "SWITCHBOARD_AI_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Ask for the answer as a stream of server-sent events.
    #[arg(long, env = "SWITCHBOARD_AI_STREAM")]
    stream: bool,
    /// Seconds a model call may take before the visitor gets the fallback and a person.
    #[arg(long, default_value_t = 20)]
    timeout_secs: u64,
    /// The answer's token limit.
    #[arg(long, default_value_t = 400)]
    max_tokens: u32,
    /// The folder of Markdown articles.
    #[arg(long, env = "SWITCHBOARD_AI_KB", default_value = "bots/ai-agent/kb")]
    kb: PathBuf,
    /// What articles' relative URLs are relative to.
    #[arg(long, env = "SWITCHBOARD_AI_KB_BASE_URL")]
    kb_base_url: Option<String>,
    /// The shop's name, as the bot introduces itself.
    #[arg(long, default_value = "the shop")]
    shop: String,
    #[arg(long, default_value_t = Limits::default().max_turns)]
    max_turns: u32,
    #[arg(long, default_value_t = Limits::default().token_budget)]
    token_budget: u64,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let kb = match KnowledgeBase::load(&args.kb, args.kb_base_url.as_deref()) {
        Ok(kb) => kb,
        Err(e) => {
            eprintln!("knowledge base: {e}");
            std::process::exit(2);
        }
    };
    tracing::info!(articles = kb.len(), "knowledge base loaded");
    let brain = AiBrain {
        model: Model::new(ModelConfig {
            url: args.model_url,
            model: args.model,
            key: args.key,
            stream: args.stream,
            timeout: Duration::from_secs(args.timeout_secs),
            max_tokens: args.max_tokens,
        }),
        kb,
        prompt: Prompt::new(&args.shop),
        limits: Limits {
            max_turns: args.max_turns,
            token_budget: args.token_budget,
            ..Limits::default()
        },
    };
    tokio::select! {
        _ = switchboard_botclient::run(&args.relay, &args.token, Arc::new(brain), switchboard_botclient::Options::default()) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

//! `switchboard-bench`: measures the relay as a black box, over loopback, with real processes.
//!
//! - `idle`: resident memory per idle visitor connection (RSS delta over N connections);
//! - `load`: visitors sending one message per second, agents receiving every message: latency
//!   percentiles, relay CPU per delivered message, lost and duplicated counts; on one embedded
//!   node, one Redis node, or two Redis nodes (visitors on one, agents on the other);
//! - `all`: idle, then load on every topology, then floor;
//! - `ai`: question → the AI bot's full answer on the visitor's socket, through the relay, the
//!   bot and a model stand-in;
//! - `knee`: a rising inbound rate at a fixed fan-out (2,000 visitors, 5 agents) until the relay
//!   no longer keeps up: per step p50/p99, whether it kept up, CPU per inbound message and per
//!   delivery;
//! - `stream`: the relay's CPU per streamed piece of a bot's answer (`delta`) and the bot →
//!   visitor latency of each piece;
//! - `floor`: the kernel's share of `load`'s fan-out, with no relay: one thread writing the same
//!   bytes to N plain sockets.
//!
//! Modules: [`procs`] (relay and redis-server processes, /proc sampling), [`client`]
//! (protocol clients), [`idle`], [`load`], [`knee`], [`ai`], [`stream`], [`floor`].

mod ai;
mod client;
mod floor;
mod idle;
mod knee;
mod load;
mod procs;
mod stream;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(about = "Switchboard relay load generator")]
struct Cli {
    /// The relay binary (build it with --release).
    #[arg(long, default_value = "target/release/switchboard-relay")]
    relay_bin: PathBuf,
    /// An extra argument for every relay process, repeatable
    /// (`--relay-arg=--write-coalesce-us=2000`).
    #[arg(long = "relay-arg", allow_hyphen_values = true)]
    relay_args: Vec<String>,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Memory per idle connection.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
    },
    /// Latency, CPU per delivery, lost and duplicated messages under load.
    Load {
        #[arg(long, value_enum, default_value_t = Topology::Embedded)]
        topology: Topology,
        #[arg(long, default_value_t = 1000)]
        visitors: usize,
        #[arg(long, default_value_t = 50)]
        agents: usize,
        /// Measured seconds, after a 3 s warm-up.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Rising inbound rate at a fixed fan-out, one step after another, until the relay falls
    /// behind.
    Knee {
        #[arg(long, value_enum, default_value_t = Topology::Embedded)]
        topology: Topology,
        #[arg(long, default_value_t = 2000)]
        visitors: usize,
        #[arg(long, default_value_t = 5)]
        agents: usize,
        /// Inbound messages per second of each step, all visitors together.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "2000,5000,10000,15000,20000,25000"
        )]
        rates: Vec<u32>,
        /// Seconds per step.
        #[arg(long, default_value_t = 5)]
        step_seconds: u64,
        /// A step keeps up when every delivery arrived and its p99 is at most this.
        #[arg(long, default_value_t = 100.0)]
        p99_limit_ms: f64,
    },
    /// `idle`, then `load` on every topology, then `floor`.
    All,
    /// Question → full answer of the AI bot through the relay, against a model stand-in.
    Ai {
        #[arg(long, default_value_t = 200)]
        questions: usize,
        /// Ask the stand-in for a server-sent-event stream.
        #[arg(long)]
        stream: bool,
        /// The stand-in's own time per answer.
        #[arg(long, default_value_t = 0)]
        model_ms: u64,
    },
    /// Relay CPU per streamed piece (`delta`): one bot streaming into many conversations.
    Stream {
        /// Bot-owned conversations streamed into at once (at most 64, one bot's open streams).
        #[arg(long, default_value_t = 50)]
        conversations: usize,
        /// Pieces per conversation.
        #[arg(long, default_value_t = 400)]
        pieces: u32,
        /// Deltas per second, all conversations together.
        #[arg(long, default_value_t = 5000)]
        rate: u32,
    },
    /// CPU per delivery of a bare sender: one thread writing `load`'s agent frames to plain
    /// sockets, no relay.
    Floor {
        #[arg(long, default_value_t = 50)]
        agents: usize,
        /// Messages per second, each written to every socket.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Bytes per frame, WebSocket header included.
        #[arg(long, default_value_t = floor::AGENT_FRAME_BYTES)]
        frame_bytes: usize,
        /// Messages per write (what write coalescing would put together).
        #[arg(long, default_value_t = 1)]
        per_write: u32,
        /// Measured seconds, after a 2 s warm-up.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Topology {
    Embedded,
    Redis,
    TwoNodes,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let relay = procs::RelayCmd {
        bin: cli.relay_bin,
        args: cli.relay_args,
    };
    let result = match cli.what {
        What::Idle { connections } => idle::run(&relay, connections).await,
        What::Load {
            topology,
            visitors,
            agents,
            seconds,
        } => load::run(&relay, topology, visitors, agents, seconds).await,
        What::Knee {
            topology,
            visitors,
            agents,
            rates,
            step_seconds,
            p99_limit_ms,
        } => {
            knee::run(
                &relay,
                topology,
                knee::Shape {
                    visitors,
                    agents,
                    rates,
                    step_seconds,
                    p99_limit_ms,
                },
            )
            .await
        }
        What::All => all(&relay).await,
        What::Ai {
            questions,
            stream,
            model_ms,
        } => ai::run(&relay, questions, stream, model_ms).await,
        What::Stream {
            conversations,
            pieces,
            rate,
        } => {
            stream::run(
                &relay,
                stream::Shape {
                    conversations,
                    pieces,
                    rate,
                },
            )
            .await
        }
        What::Floor {
            agents,
            rate,
            frame_bytes,
            per_write,
            seconds,
        } => {
            floor::run(floor::Shape {
                agents,
                rate,
                frame_bytes,
                per_write,
                seconds,
            })
            .await
        }
    };
    if let Err(e) = result {
        eprintln!("switchboard-bench: {e:#}");
        std::process::exit(1);
    }
}

async fn all(relay: &procs::RelayCmd) -> anyhow::Result<()> {
    idle::run(relay, 10_000).await?;
    for topology in [Topology::Embedded, Topology::Redis, Topology::TwoNodes] {
        load::run(relay, topology, 1000, 50, 20).await?;
    }
    floor::run(floor::Shape {
        agents: 50,
        rate: 1000,
        frame_bytes: floor::AGENT_FRAME_BYTES,
        per_write: 1,
        seconds: 10,
    })
    .await
}

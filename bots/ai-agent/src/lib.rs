//! An AI agent bot for Switchboard, attached over the relay's bot WebSocket (the shared
//! `switchboard-botclient`).
//!
//! - [`brain`]: when to answer and when to hand off, the handoff's summary and fields;
//! - [`llm`]: the OpenAI-compatible chat-completions client (plain and streaming), with a
//!   deadline, a bounded answer, and a log line per call;
//! - [`prompt`]: the instructions, the visitor's words and the context passed as data, and
//!   the checks on the model's answer (no instructions leaked, no invented order);
//! - [`reveal`]: what of a streamed answer may be shown before the whole of it is checked;
//! - [`kb`]: the site's Markdown articles, indexed with BM25;
//! - [`signals`]: language and sentiment of the visitor's messages.

pub mod brain;
pub mod kb;
pub mod llm;
pub mod prompt;
pub mod reveal;
pub mod signals;

//! Switchboard's integration tests, one binary (style: ripgrep's `tests/tests.rs`).
//!
//! - `relay_ws`: a real relay in-process, real WebSocket clients: happy path, every bad-input
//!   class, origins and tokens, persistence through the store;
//! - `broker`: the conformance suite of the broker seam, run against SQLite and a real Redis;
//! - `helpdesk`: assignment, transfer, status and priority over WebSocket, and their refusals;
//! - `identity`: verified identity tokens (valid, expired, forged, wrong site, `alg: none`),
//!   required identity, the verified marks agents receive;
//! - `cluster`: relay nodes sharing one Redis: cross-node chat, node loss, Redis restart;
//! - `delivery`: nothing lost, nothing duplicated: SIGKILL, cut connections, slow consumers,
//!   SIGTERM under load, dead connections (scripted `peer` clients that resume and resend);
//! - `edges`: field lengths of the context, invisible-only text, decode errors with the
//!   `client_id`, `mailto:` links, over real sockets;
//! - `e2e`: the relay as a process, the demo shop, the widget and the console in headless
//!   Chromium driven over WebDriver;
//! - `abuse`: floods, guessing, slow and oversized HTTP from one address against a relay
//!   process with its limits on; security headers;
//! - `protocol_answers`: each answer `docs/protocol.md` gives a client implementer, pinned
//!   against a real relay;
//! - `privacy`: the admin API (export, delete a visitor) and its refusals, and the retention
//!   job, against a real relay on SQLite and on Redis;
//! - `agent_login`: agents' password sign-in, the session cookie on `/v1/agent`, sign-out,
//!   expiry, refusals and throttling, against relay processes (SQLite, and two on one Redis);
//! - `blocking`: blocking a spammer (and its address) from an agent's socket, lifting it
//!   through the admin API, and queues that list only conversations with a visitor message;
//! - `notes`: agents' private notes and mentions, across two nodes on Redis and on the
//!   embedded broker; never to a visitor or a bot (live, `sync`, `routed`, webhook queue);
//! - `search`: full-text search (SQLite FTS5, Redis with RediSearch) and a visitor's history:
//!   words, filters, cross-site isolation, injection and oversized input, rate limits;
//! - `canned`: canned replies over real sockets (SQLite, and two nodes on one Redis): seeds,
//!   admin-only changes told live to every node, limits, garbage, cross-site refusal;
//! - `csat`: visitors' ratings after a resolve (SQLite, and two nodes on one Redis): the
//!   prompt in `welcome`, once per resolution, garbage, wrong scale, floods;
//! - `operations`: `/metrics` parsed as Prometheus does, counters moving exactly as scripted
//!   traffic says, who may read it; JSON logs that follow a conversation without its text;
//!   the Grafana dashboard's metric names;
//! - `ai_bot`: the AI agent bot with a stand-in model service: answers with source links,
//!   order facts from the context only, handoffs with language and sentiment, injection,
//!   oversized output, a silent model;
//! - `crm_webhooks`: sites' CRM/data webhooks against a real receiver, on SQLite and Redis:
//!   every event once per id, signed, in order per conversation, across a restart and a
//!   receiver that was down; the delivery log and its refusals;
//! - `receipts`: read marks and the page trail over real sockets (SQLite, and two nodes on
//!   one Redis): forward only, bounded by the log, flooding, garbage, reconnect;
//! - `kpis`: KPIs from scripted conversations with known timings (a manual clock), exact
//!   through the admin API as JSON and CSV, on SQLite and Redis, across a restart; bad input;
//! - `redis_server`: a `redis-server` of the test's own, to kill and restart;
//! - `process`: the relay binary as a child process (kill, restart, memory);
//! - `util`: in-process relays, protocol clients, waiting with a deadline.

mod abuse;
mod agent_login;
mod ai_bot;
mod assignment;
mod blocking;
mod bots;
mod broker;
mod canned;
mod cluster;
mod crm_webhooks;
mod csat;
mod delivery;
mod e2e;
mod edges;
mod example_bots;
mod helpdesk;
mod identity;
mod kpis;
mod notes;
mod operations;
mod peer;
mod privacy;
mod process;
mod protocol_answers;
mod receipts;
mod redis_server;
mod relay_ws;
mod search;
mod streaming;
mod util;
mod webhooks;

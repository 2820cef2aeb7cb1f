//! KPIs of the conversations, computed from their stored logs, so they are exact and survive
//! restarts on both stores.
//!
//! - [`facts`]: the one rule folding a conversation's log into its facts (first response,
//!   assignment, resolution, queue wait, reopens, bot and human involvement, handoff reason,
//!   messages, rating, team, agent, entry page group), and the compact rows reports read;
//! - [`projector`]: keeps the stored facts up to date off the write path: the stores mark a
//!   conversation whose log grew (in the write's own atomic step), the projector takes the
//!   marks, reads those logs and stores their facts, every few seconds and before a report;
//! - [`report`]: aggregates a period's rows into a total and groups (day or hour in the site's
//!   time zone, team, agent, entry group), as JSON or CSV;
//! - [`api`]: `GET /v1/admin/sites/{site}/kpis`, for admins and the operator.

pub mod api;
pub mod facts;
pub mod projector;
pub mod report;

pub use facts::{decode, encode, fold, Dim, Facts, Folder, Row, Rows};

//! `GET /v1/admin/sites/{site}/webhooks[?limit=N]`: a site's webhooks (URL, events, backlog;
//! never the secret) and the newest attempts of their delivery logs, newest first, at most
//! `limit` (1-[`MAX_LIMIT`], default [`DEFAULT_LIMIT`]). For admin agents of the site and the
//! operator token, with the admin API's authentication, quota and typed errors.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_protocol::webhook::{SiteWebhookInfo, SiteWebhookLog, WebhookAttempt};

use crate::admin;
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::AppState;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = super::LOG_KEEP;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    limit: Option<usize>,
}

pub async fn get(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let who = admin::authenticate(&state, addr, &headers)?;
    let site = admin::served_site(&state, &who, path)?;
    let Query(params) = query.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Invalid(format!("limit is 1-{MAX_LIMIT}")));
    }
    let mut webhooks = Vec::new();
    let mut attempts: Vec<WebhookAttempt> = Vec::new();
    for hook in super::site_hooks(&state, &site) {
        let lines = (state.broker)
            .webhook_attempts(hook.queue, limit)
            .await
            .map_err(admin::unavailable)?;
        // A line this version cannot read (written by a newer one) is left out, not an error.
        attempts.extend(lines.iter().filter_map(|l| serde_json::from_str(l).ok()));
        webhooks.push(SiteWebhookInfo {
            webhook: hook.index,
            url: hook.url.to_owned(),
            events: hook.events.to_vec(),
            backlog: state.broker.bot_backlog(hook.queue).await.ok(),
        });
    }
    // Each log is newest first; merged by time, the later webhook first on a tie.
    attempts.sort_by_key(|a| std::cmp::Reverse((a.at, a.webhook)));
    attempts.truncate(limit);
    Ok(Json(SiteWebhookLog { webhooks, attempts }).into_response())
}

//! The admin HTTP API, for privacy requests:
//! - `GET /v1/admin/visitors/{id}`: everything stored about a visitor, as a JSON download;
//! - `DELETE /v1/admin/visitors/{id}`: deletes it all, and closes the visitor's sockets on
//!   every node with 4012 (`reconnect now`; published like a live event): the widget
//!   reconnects with a token that no longer exists and starts over as a new visitor, so no
//!   client keeps a deleted conversation open.
//!
//! - `GET /v1/admin/sites/{site}/blocks`: the site's blocks in force (`[{key, until}]`, keys
//!   `visitor:ID` or `addr:NETWORK`), set by agents with the `block` frame;
//! - `DELETE /v1/admin/sites/{site}/blocks?visitor=ID` or `?addr=NETWORK`: lifts one; lifting
//!   a visitor's also lists its blocked conversations again (an agents-only `unblocked` event).
//!
//! `Authorization: Bearer TOKEN` of an agent whose role is `admin`, or the operator token. An
//! admin acts only on visitors of the sites it serves; any other visitor is `not_found`, as an
//! unknown one is, so ids cannot be probed. Failed authentications count against the address
//! (as the agent and bot sign-ins do); each admin has its own request quota.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::broker::{Audience, Event};
use crate::client_addr::ClientAddr;
use crate::config::{Agent, AgentRole};
use crate::error::ApiError;
use crate::session::Refusal;
use crate::{token, AppState};

/// Longest id the API looks up; stored ids are much shorter (`v_` and 16 hex digits).
pub const MAX_ID_BYTES: usize = 64;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/visitors/{id}", get(export).delete(delete))
        .route("/v1/admin/sites/{site}/blocks", get(blocks).delete(unblock))
}

/// Who is asking.
pub(crate) enum Admin {
    Operator,
    Agent(Arc<Agent>),
}

impl Admin {
    fn serves(&self, site: &str) -> bool {
        match self {
            Admin::Operator => true,
            Admin::Agent(a) => a.serves(site),
        }
    }

    /// Its quota's key; prefixed, so an agent named `operator` has a quota of its own.
    fn key(&self) -> String {
        match self {
            Admin::Operator => "operator".into(),
            Admin::Agent(a) => format!("agent:{}", a.id),
        }
    }
}

fn limited(r: Refusal) -> ApiError {
    ApiError::RateLimited(r.retry_after_ms.unwrap_or(1000))
}

/// Authenticates (counting failures against the address), then applies the admin's quota.
pub(crate) fn authenticate(
    state: &AppState,
    addr: ClientAddr,
    headers: &HeaderMap,
) -> Result<Admin, ApiError> {
    state.limiters.auth_allowed(addr.0).map_err(limited)?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(token::hash);
    let operator = state
        .config
        .operator_token
        .as_deref()
        .map(crate::config::token_hash);
    let admin = match given {
        Some(h) if operator.as_deref() == Some(h.as_str()) => Admin::Operator,
        Some(h) => match state.agents.get(&h) {
            Some(a) if a.role == AgentRole::Admin => Admin::Agent(a.clone()),
            // A real agent: not a failed sign-in, just not allowed.
            Some(_) => return Err(ApiError::Forbidden("the admin API needs an admin agent")),
            None => {
                state.limiters.auth_failed(addr.0);
                return Err(ApiError::Unauthorized);
            }
        },
        None => {
            state.limiters.auth_failed(addr.0);
            return Err(ApiError::Unauthorized);
        }
    };
    state.limiters.admin_api(&admin.key()).map_err(limited)?;
    Ok(admin)
}

/// The id from the path, if it can be a stored id at all.
fn visitor_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(id)
    } else {
        Err(ApiError::Invalid(format!(
            "a visitor id is 1-{MAX_ID_BYTES} letters, digits, '_' or '-'"
        )))
    }
}

pub(crate) fn unavailable(e: crate::broker::StoreError) -> ApiError {
    tracing::warn!(error = %e, "admin API: store failed");
    ApiError::Unavailable
}

/// Whether the admin may act on the visitor; `not_found` for unknown and foreign alike.
async fn visible_site(state: &AppState, admin: &Admin, id: &str) -> Result<(), ApiError> {
    let export = state.broker.visitor_record(id).await.map_err(unavailable)?;
    match export {
        Some((record, _)) if admin.serves(&record.site) => Ok(()),
        _ => Err(ApiError::NotFound),
    }
}

async fn export(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let admin = authenticate(&state, addr, &headers)?;
    let id = visitor_id(path)?;
    // Checked before the transcript is read: a foreign visitor costs what an unknown one does.
    visible_site(&state, &admin, &id).await?;
    let export = state
        .broker
        .export_visitor(&id)
        .await
        .map_err(unavailable)?;
    let Some(export) = export.filter(|e| admin.serves(&e.visitor.site)) else {
        return Err(ApiError::NotFound);
    };
    tracing::info!(admin = %admin.key(), visitor = %id, "visitor exported");
    let disposition = format!("attachment; filename=\"visitor-{id}.json\"");
    let mut response = Json(export).into_response();
    let h = response.headers_mut();
    // The id was checked to be plain ASCII, so the header value is valid.
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // Personal data: no cache keeps a copy.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn delete(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let admin = authenticate(&state, addr, &headers)?;
    let id = visitor_id(path)?;
    visible_site(&state, &admin, &id).await?;
    let Some(deleted) = state
        .broker
        .delete_visitor(&id)
        .await
        .map_err(unavailable)?
    else {
        // Deleted by someone else since the check.
        return Err(ApiError::NotFound);
    };
    for conversation in &deleted {
        // To every node: the visitor may be connected to another one.
        state
            .broker
            .publish(Event {
                audience: Audience::Deleted,
                site: String::new(),
                conversation_id: conversation.clone(),
                frame: "".into(),
            })
            .await;
    }
    tracing::info!(admin = %admin.key(), visitor = %id, conversations = deleted.len(), "visitor deleted");
    Ok(Json(serde_json::json!({
        "deleted": true,
        "visitor_id": id,
        "conversations": deleted.len(),
    }))
    .into_response())
}

/// The site from the path, if the admin serves it; `not_found` otherwise (as an unknown one).
pub(crate) fn served_site(
    state: &AppState,
    admin: &Admin,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let Path(site) = path.map_err(|e| ApiError::Invalid(e.body_text()))?;
    if state.sites.contains_key(&site) && admin.serves(&site) {
        Ok(site)
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(serde::Serialize)]
struct Block {
    key: String,
    until: u64,
}

async fn blocks(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let admin = authenticate(&state, addr, &headers)?;
    let site = served_site(&state, &admin, path)?;
    let list = state
        .broker
        .blocks(&site, crate::clock::now())
        .await
        .map_err(unavailable)?;
    let list: Vec<Block> = list
        .into_iter()
        .map(|(key, until)| Block { key, until })
        .collect();
    Ok(Json(serde_json::json!({ "blocks": list })).into_response())
}

/// Which block to lift: exactly one of the two.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Unblock {
    visitor: Option<String>,
    addr: Option<String>,
}

async fn unblock(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Unblock>, QueryRejection>,
) -> Result<Response, ApiError> {
    let admin = authenticate(&state, addr, &headers)?;
    let site = served_site(&state, &admin, path)?;
    let Query(which) = query.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let key = match (which.visitor, which.addr) {
        (Some(v), None) => {
            visitor_id(Ok(Path(v.clone())))?;
            crate::block::visitor_key(&v)
        }
        (None, Some(a)) => {
            // A network as the block stored it: an IPv4 address or an IPv6 /64.
            let net = a.strip_suffix("/64").unwrap_or(&a);
            if a.len() > 64 || net.parse::<std::net::IpAddr>().is_err() {
                return Err(ApiError::Invalid(
                    "addr is an IP address or an IPv6 /64".into(),
                ));
            }
            format!("addr:{a}")
        }
        _ => {
            return Err(ApiError::Invalid(
                "name exactly one of visitor=ID or addr=NETWORK".into(),
            ))
        }
    };
    let lifted = state
        .broker
        .unblock(&site, &key)
        .await
        .map_err(unavailable)?;
    let mut relisted = 0;
    if let Some(visitor) = key.strip_prefix("visitor:") {
        let record = state
            .broker
            .visitor_record(visitor)
            .await
            .map_err(unavailable)?;
        let by = match &admin {
            Admin::Operator => "operator".to_owned(),
            Admin::Agent(a) => a.id.clone(),
        };
        for conv in record
            .filter(|(r, _)| r.site == site)
            .map(|(_, ids)| ids)
            .unwrap_or_default()
        {
            let Some(c) = state
                .broker
                .conversation(&conv)
                .await
                .map_err(unavailable)?
            else {
                continue;
            };
            if !c.state.blocked {
                continue;
            }
            crate::block::change(
                &state,
                &by,
                &c.id,
                c.state.version,
                crate::broker::Lifecycle::Unblock,
            )
            .await
            .map_err(|r| {
                tracing::warn!(message = %r.message, "unblock: change failed");
                ApiError::Unavailable
            })?;
            crate::bots::routing::publish_summary(&state, &c.id)
                .await
                .map_err(unavailable)?;
            relisted += 1;
        }
    }
    if !lifted && relisted == 0 {
        return Err(ApiError::NotFound);
    }
    tracing::info!(admin = %admin.key(), %site, %key, "block lifted");
    Ok(Json(serde_json::json!({
        "unblocked": true,
        "key": key,
        "conversations": relisted,
    }))
    .into_response())
}

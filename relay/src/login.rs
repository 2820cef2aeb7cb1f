//! The console's sign-in: `POST /v1/agent/login` (agent id or email and password) starts a
//! session held in an HttpOnly cookie; `POST /v1/agent/logout` ends it; the `/v1/agent`
//! WebSocket accepts the cookie (from the relay's own origin only) in place of a token.
//!
//! Sessions are stored in the broker, by the SHA-256 of the cookie's 32 random bytes and with
//! their expiry, so every relay node accepts them and logging out revokes at once everywhere
//! (a signed stateless cookie could not be revoked without a store anyway). The cookie is
//! `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it), `Path=/`,
//! and `Secure` (then named `__Host-…`) when browsers reach the relay over https: its
//! `public_url` says so, or a trusted proxy's `X-Forwarded-Proto` does.
//!
//! Throttling: a failed sign-in counts against the address (with failed tokens, see
//! `limits`) and against the account name typed; either over its quota refuses every attempt
//! with `rate_limited` and `retry_after_ms` until the wait is over. Unknown agents cost a full
//! argon2 verification (`password`), so the answer's timing does not list the agents.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use switchboard_protocol::limits::MAX_LOGIN_BODY_BYTES;
use switchboard_protocol::login::{AgentLogin, AgentSignedIn};

use crate::broker::{Audience, Event};
use crate::client_addr::{self, ClientAddr};
use crate::config::Agent;
use crate::error::ApiError;
use crate::session::Refusal;
use crate::{clock, token, AppState};

/// The cookie's name over plain http.
pub const COOKIE: &str = "sb_agent";
/// Its name over https: the `__Host-` prefix makes browsers refuse it unless it is `Secure`,
/// `Path=/` and set by this host without a `Domain`, so a sibling subdomain cannot plant one.
pub const SECURE_COOKIE: &str = "__Host-sb_agent";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/agent/login", post(login))
        .route("/v1/agent/logout", post(logout))
        // Checked again below, so a body over the limit gets the typed error.
        .layer(DefaultBodyLimit::max(MAX_LOGIN_BODY_BYTES))
}

fn limited(r: Refusal) -> ApiError {
    ApiError::RateLimited(r.retry_after_ms.unwrap_or(1000))
}

/// Whether a browser's `Origin` is the relay's own (its `public_url`, or the host it was
/// reached at).
pub fn own_origin(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let same_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        == Some(host);
    same_host || origin == state.public_origin
}

/// Browsers send `Origin` with every POST from another origin; such a request is refused
/// before anything else, so no other page can sign an agent in or out.
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN) {
        None => Ok(()),
        Some(o) if own_origin(state, headers, o.to_str().unwrap_or("")) => Ok(()),
        Some(o) => {
            tracing::info!(origin = ?o, "agent sign-in from a foreign origin refused");
            Err(ApiError::OriginNotAllowed)
        }
    }
}

/// The account key for throttling: what was typed, trimmed and lowercased.
fn account_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The agent signing in as `name` (its id, or its email without regard to case).
fn find_agent(state: &AppState, name: &str) -> Option<Arc<Agent>> {
    let name = name.trim();
    state.agents_by_id.get(name).cloned().or_else(|| {
        state
            .agents_by_id
            .values()
            .find(|a| {
                a.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(name))
            })
            .cloned()
    })
}

async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_origin(&state, &headers)?;
    state.limiters.auth_allowed(addr.0).map_err(limited)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(MAX_LOGIN_BODY_BYTES)
        } else {
            ApiError::BadJson(e.body_text())
        }
    })?;
    if body.len() > MAX_LOGIN_BODY_BYTES {
        return Err(ApiError::TooLarge(MAX_LOGIN_BODY_BYTES));
    }
    let form: AgentLogin = serde_json::from_slice(&body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::BadJson(e.to_string())
        } else {
            ApiError::Invalid(e.to_string())
        }
    })?;
    form.validate().map_err(ApiError::Invalid)?;
    let account = account_key(&form.agent);
    state.limiters.login_allowed(&account).map_err(limited)?;

    let agent = find_agent(&state, &form.agent);
    let phc = agent.as_ref().and_then(|a| a.password_hash.clone());
    let ok = state
        .passwords
        .verify(form.password, phc)
        .await
        .map_err(|_| ApiError::Busy)?;
    let Some(agent) = agent.filter(|_| ok) else {
        state.limiters.auth_failed(addr.0);
        state.limiters.login_failed(&account);
        tracing::info!(addr = %addr.0, "agent sign-in failed");
        return Err(ApiError::BadLogin);
    };

    let secret = token::random_token();
    let ttl = state.config.agent_session;
    let expires_at = clock::now() + ttl.as_millis() as u64;
    state
        .broker
        .create_agent_session(&token::hash(&secret), &agent.id, expires_at)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "storing an agent session failed");
            ApiError::Unavailable
        })?;
    tracing::info!(agent = %agent.id, "agent signed in");
    let secure = is_https(&state, peer.map(|p| p.0 .0), &headers);
    let cookie = set_cookie(&secret, ttl.as_secs(), secure);
    let mut response = Json(AgentSignedIn {
        id: agent.id.clone(),
        name: agent.name.clone(),
        expires_at,
    })
    .into_response();
    no_store(&mut response, cookie);
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_origin(&state, &headers)?;
    if let Some(secret) = session_cookie(&headers) {
        let hash = token::hash(secret);
        state
            .broker
            .revoke_agent_session(&hash)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "revoking an agent session failed");
                ApiError::Unavailable
            })?;
        // Sockets the session opened, on any node, close too.
        state
            .broker
            .publish(Event {
                audience: Audience::SignedOut,
                site: String::new(),
                conversation_id: hash,
                frame: "".into(),
            })
            .await;
    }
    // Said whether or not there was a session: signing out twice is not an error.
    let secure = is_https(&state, peer.map(|p| p.0 .0), &headers);
    let mut response = StatusCode::NO_CONTENT.into_response();
    no_store(&mut response, set_cookie("", 0, secure));
    Ok(response)
}

fn no_store(response: &mut Response, cookie: String) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(header::SET_COOKIE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The `Set-Cookie` value; an empty secret with max-age 0 deletes the cookie.
fn set_cookie(secret: &str, max_age_secs: u64, secure: bool) -> String {
    let name = if secure { SECURE_COOKIE } else { COOKIE };
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={secret}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
}

/// Whether browsers reach the relay over https.
fn is_https(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    state.public_origin.starts_with("https://")
        || peer.is_some_and(|p| {
            client_addr::forwarded_https(p.ip(), headers, &state.config.trusted_proxies)
        })
}

/// The session cookie's value, if the request carries one that can be a session (64 hex
/// digits); anything else is ignored.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| {
            (*name == COOKIE || *name == SECURE_COOKIE)
                && value.len() == 64
                && value.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|(_, value)| value)
}

/// A live sign-in session: the agent and the session's hash (the hub closes the agent's
/// sockets of that session when it signs out).
pub type SignedIn = (Arc<Agent>, String);

/// The agent a WebSocket upgrade's cookie signs in, if the request comes from the relay's own
/// origin (a browser on another page must never ride the agent's cookie: cross-site
/// WebSocket hijacking) and the session is live. `None` leaves the token in `hello` to decide.
pub async fn cookie_agent(state: &AppState, headers: &HeaderMap) -> Option<SignedIn> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    if !own_origin(state, headers, origin) {
        return None;
    }
    let hash = token::hash(session_cookie(headers)?);
    let id = match state.broker.agent_session(&hash, clock::now()).await {
        Ok(id) => id?,
        Err(e) => {
            tracing::warn!(error = %e, "reading an agent session failed");
            return None;
        }
    };
    Some((state.agents_by_id.get(&id).cloned()?, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_garbage_is_ignored() {
        let secret = "ab".repeat(32);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            format!("theme=dark; {COOKIE}={secret}; x=y")
                .parse()
                .unwrap(),
        );
        assert_eq!(session_cookie(&h), Some(secret.as_str()));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, format!("{COOKIE}=short").parse().unwrap());
        h.append(
            header::COOKIE,
            format!("{SECURE_COOKIE}={}", "zz".repeat(32))
                .parse()
                .unwrap(),
        );
        assert_eq!(session_cookie(&h), None);
        let c = set_cookie(&secret, 60, true);
        assert!(c.starts_with("__Host-sb_agent="), "{c}");
        for part in [
            "Path=/",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Max-Age=60",
        ] {
            assert!(c.contains(part), "{c} lacks {part}");
        }
        assert!(!set_cookie(&secret, 60, false).contains("Secure"));
    }
}

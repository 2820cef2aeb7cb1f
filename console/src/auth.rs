//! How the agent is signed in, and the sign-in and sign-out requests.
//!
//! - With a password: `POST /v1/agent/login` sets an HttpOnly session cookie the console never
//!   sees; the agent WebSocket then sends it by itself. The console keeps only a marker that a
//!   session was started (localStorage, so other tabs and reloads try it); if the relay no
//!   longer accepts it (expired, signed out elsewhere) the socket is refused with 4001 and the
//!   console goes back to sign-in.
//! - With a token (a secondary option for agents without a password): the token goes in
//!   `hello` and is kept in sessionStorage, so a reload stays signed in but not the browser
//!   session.

use switchboard_protocol::login::{AgentLogin, AgentSignedIn};

use crate::i18n::{fill, t};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// sessionStorage: the agent token survives a reload but not the browser session.
pub const TOKEN_KEY: &str = "switchboard:agent-token";
/// localStorage: a password sign-in happened in this browser (not a secret: the cookie is).
pub const SESSION_KEY: &str = "switchboard:agent-session";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// The session cookie set by a password sign-in.
    Session,
    /// An agent token, sent in `hello`.
    Token(String),
}

impl Auth {
    /// What `hello` carries.
    pub fn token(&self) -> Option<String> {
        match self {
            Auth::Session => None,
            Auth::Token(t) => Some(t.clone()),
        }
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// How this browser signed in before a reload, if it did.
pub fn stored() -> Option<Auth> {
    let token = session_storage()
        .and_then(|s| s.get_item(TOKEN_KEY).ok().flatten())
        .filter(|t| !t.is_empty());
    if let Some(t) = token {
        return Some(Auth::Token(t));
    }
    let session = local_storage().and_then(|s| s.get_item(SESSION_KEY).ok().flatten());
    session.is_some().then_some(Auth::Session)
}

/// Remembers (or, with `None`, forgets) how the agent signed in. Storage can refuse (quota,
/// privacy mode); the console then just forgets on reload.
pub fn store(auth: Option<&Auth>) {
    if let Some(s) = session_storage() {
        let _ = match auth {
            Some(Auth::Token(t)) => s.set_item(TOKEN_KEY, t),
            _ => s.remove_item(TOKEN_KEY),
        };
    }
    if let Some(s) = local_storage() {
        let _ = match auth {
            Some(Auth::Session) => s.set_item(SESSION_KEY, "1"),
            _ => s.remove_item(SESSION_KEY),
        };
    }
}

/// Signs in with a password (the relay sets the cookie); a refusal becomes a sentence for the
/// agent.
pub async fn login(agent: &str, password: &str) -> Result<AgentSignedIn, String> {
    let body = serde_json::to_string(&AgentLogin {
        agent: agent.to_owned(),
        password: password.to_owned(),
    })
    .map_err(|e| e.to_string())?;
    let (status, text) = post("/v1/agent/login", Some(&body))
        .await
        .map_err(|_| t().server_unreachable.to_owned())?;
    if status == 200 {
        return serde_json::from_str(&text).map_err(|_| t().server_answer_unclear.to_owned());
    }
    let error: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    Err(match error["code"].as_str() {
        Some("unauthorized") => t().wrong_password.to_owned(),
        Some("rate_limited") => {
            let secs = error["retry_after_ms"]
                .as_u64()
                .unwrap_or(60_000)
                .div_ceil(1000);
            fill(t().too_many_sign_ins, &[("secs", &secs.to_string())])
        }
        Some("invalid") => t().enter_agent_and_password.to_owned(),
        _ => t().sign_in_failed.to_owned(),
    })
}

/// Ends the session on the relay (every node forgets it). Best effort: the console signs out
/// locally either way.
pub async fn logout() {
    if post("/v1/agent/logout", None).await.is_err() {
        crate::connection::warn(
            "signing out on the server failed; the session ends when it expires",
        );
    }
}

/// POSTs to the relay that served the console, with its cookies; the status and body text.
async fn post(path: &str, json: Option<&str>) -> Result<(u16, String), wasm_bindgen::JsValue> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    let headers = web_sys::Headers::new()?;
    if let Some(body) = json {
        headers.set("content-type", "application/json")?;
        init.set_body(&body.into());
    }
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(path, &init)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await?
        .dyn_into()?;
    let text = JsFuture::from(response.text()?).await?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}

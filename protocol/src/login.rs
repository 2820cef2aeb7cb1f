//! The console's sign-in over HTTP: `POST /v1/agent/login` takes an [`AgentLogin`] and answers
//! an [`AgentSignedIn`] with a session cookie; `POST /v1/agent/logout` ends the session. The
//! `/v1/agent` WebSocket then accepts the cookie instead of a token in `hello`.

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_LOGIN_NAME_BYTES, MAX_PASSWORD_BYTES};
use crate::Millis;

/// Body of `POST /v1/agent/login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentLogin {
    /// The agent's id or email (case does not matter for emails).
    pub agent: String,
    pub password: String,
}

impl AgentLogin {
    /// Whether both fields are within their limits and the name is not blank.
    pub fn validate(&self) -> Result<(), String> {
        if self.agent.trim().is_empty() || self.password.is_empty() {
            return Err("agent and password are required".into());
        }
        if self.agent.len() > MAX_LOGIN_NAME_BYTES {
            return Err(format!("agent is longer than {MAX_LOGIN_NAME_BYTES} bytes"));
        }
        if self.password.len() > MAX_PASSWORD_BYTES {
            return Err(format!(
                "password is longer than {MAX_PASSWORD_BYTES} bytes"
            ));
        }
        Ok(())
    }
}

/// Answer of a successful `POST /v1/agent/login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSignedIn {
    pub id: String,
    pub name: String,
    /// When the session ends (ms since the Unix epoch), unless signed out before.
    pub expires_at: Millis,
}

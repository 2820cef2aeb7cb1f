//! Webhook delivery: one queue and one worker per webhook bot. Events go out in order; a
//! failed POST is retried with exponential backoff and jitter until the bot takes it, keeping
//! its event id, so a bot that was down gets each event once after it comes back.
//!
//! The queue lives in the memory of the node where the event happened: a node that dies loses
//! the events it had not delivered yet (the messages themselves are stored; a bot can `sync`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use switchboard_protocol::webhook::{
    WebhookEvent, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use switchboard_protocol::ServerMsg;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Bot;
use crate::{clock, token};

/// Events one bot may have waiting; past this new events are dropped (and logged) rather than
/// growing without bound while a bot stays down.
pub const QUEUE: usize = 10_000;
/// How long one POST may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Webhooks {
    queues: HashMap<String, mpsc::Sender<WebhookEvent>>,
}

impl Webhooks {
    /// Starts a worker for every webhook bot; workers stop on `shutdown`.
    pub fn start(bots: &[Bot], shutdown: CancellationToken) -> Webhooks {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("switchboard-relay/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        let mut queues = HashMap::new();
        for bot in bots.iter().filter(|b| b.webhook().is_some()) {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(worker(
                Arc::new(bot.clone()),
                rx,
                client.clone(),
                shutdown.clone(),
            ));
            queues.insert(bot.id.clone(), tx);
        }
        Webhooks { queues }
    }

    pub fn enqueue(&self, bot_id: &str, event: ServerMsg) {
        let Some(queue) = self.queues.get(bot_id) else {
            return;
        };
        let event = WebhookEvent {
            id: token::random_id("evt"),
            bot_id: bot_id.to_owned(),
            at: clock::now(),
            event,
        };
        if queue.try_send(event).is_err() {
            tracing::error!(bot = bot_id, "webhook queue full; event dropped");
        }
    }
}

pub use switchboard_protocol::signature::sign;

/// Whether a bot should get this event again: it was not reached, failed, or asked to wait.
/// Any other 4xx is the bot refusing this event for good (it would refuse a retry too).
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

async fn worker(
    bot: Arc<Bot>,
    mut rx: mpsc::Receiver<WebhookEvent>,
    client: reqwest::Client,
    shutdown: CancellationToken,
) {
    let (url, secret) = bot.webhook().expect("only webhook bots get a worker");
    loop {
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => return },
            _ = shutdown.cancelled() => return,
        };
        let body = serde_json::to_vec(&event).expect("events serialize");
        let mut wait = FIRST_RETRY;
        loop {
            // Signed afresh on every attempt: a retry hours later must still be inside the
            // bot's replay window.
            let timestamp = clock::now() / 1000;
            let sent = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(EVENT_ID_HEADER, &event.id)
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, sign(secret, timestamp, &body))
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => break,
                Ok(r) if !retryable(r.status()) => {
                    tracing::warn!(bot = %bot.id, event = %event.id, status = %r.status(), "bot refused the event; not retried");
                    break;
                }
                Ok(r) => {
                    tracing::info!(bot = %bot.id, event = %event.id, status = %r.status(), "webhook failed; retrying")
                }
                Err(e) => {
                    tracing::info!(bot = %bot.id, event = %event.id, error = %e, "webhook unreachable; retrying")
                }
            }
            let jitter = rand::rng().random_range(0..=wait.as_millis() as u64 / 2);
            tokio::select! {
                _ = tokio::time::sleep(wait + Duration::from_millis(jitter)) => {}
                _ = shutdown.cancelled() => return,
            }
            wait = (wait * 2).min(MAX_RETRY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'secret-secret-123', b'1700000000.{}', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign("secret-secret-123", 1_700_000_000, b"{}"),
            "v1=1196b5c9835f5176d7628fdc4acb6809f5cb2a0c22a3c251e8ddde90541c29df"
        );
    }
}

//! Protocol clients for the benchmark: a visitor or an agent after `hello`/`welcome`.

use std::borrow::Cow;

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::{ServerMsg, PROTOCOL_VERSION};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::procs::{AGENT_TOKEN, SITE_ORIGIN};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects without Nagle's algorithm, as browsers do for WebSockets: with it, a message sent
/// right after the client's automatic pong waits for the relay's delayed ACK (about 40 ms).
/// A 4 KiB read buffer: tungstenite zero-fills the free part of its buffer before every read,
/// and with its 128 KiB default that memset was the load generator's largest cost (~12% of a
/// core at 50,000 frames/s), taken from the two cores the relays run on.
async fn connect(
    req: impl IntoClientRequest + Unpin,
) -> tokio_tungstenite::tungstenite::Result<(
    Ws,
    tokio_tungstenite::tungstenite::handshake::client::Response,
)> {
    let config = WebSocketConfig::default().read_buffer_size(4096);
    tokio_tungstenite::connect_async_with_config(req, Some(config), true).await
}

/// A visitor connected to `port`; returns the socket and its conversation id.
pub async fn visitor(port: u16) -> anyhow::Result<(Ws, String)> {
    let mut req = format!("ws://127.0.0.1:{port}/v1/visitor?site=bench").into_client_request()?;
    req.headers_mut()
        .insert("origin", HeaderValue::from_static(SITE_ORIGIN));
    let (mut ws, _) = connect(req).await?;
    ws.send(Message::text(format!(
        r#"{{"type":"hello","protocol":{PROTOCOL_VERSION}}}"#
    )))
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if let Ok(ServerMsg::Welcome(w)) = serde_json::from_str(t.as_str()) {
                    return Ok((ws, w.conversation_id.unwrap_or_default()));
                }
            }
            Some(Ok(_)) => {}
            other => anyhow::bail!("visitor hello failed: {other:?}"),
        }
    }
}

/// An agent connected to `port`, past its inbox.
pub async fn agent(port: u16) -> anyhow::Result<Ws> {
    let (mut ws, _) = connect(format!("ws://127.0.0.1:{port}/v1/agent")).await?;
    ws.send(Message::text(format!(
        r#"{{"type":"hello","protocol":{PROTOCOL_VERSION},"token":"{AGENT_TOKEN}"}}"#
    )))
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if let Ok(ServerMsg::Conversations { .. }) = serde_json::from_str(t.as_str()) {
                    return Ok(ws);
                }
            }
            Some(Ok(_)) => {}
            other => anyhow::bail!("agent hello failed: {other:?}"),
        }
    }
}

/// A bot connected to `port` with `token`, past its `welcome`.
pub async fn bot(port: u16, token: &str) -> anyhow::Result<Ws> {
    let (mut ws, _) = connect(format!("ws://127.0.0.1:{port}/v1/bot")).await?;
    ws.send(Message::text(format!(
        r#"{{"type":"hello","protocol":{PROTOCOL_VERSION},"token":"{token}"}}"#
    )))
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                if let Ok(ServerMsg::Welcome(_)) = serde_json::from_str(t.as_str()) {
                    return Ok(ws);
                }
            }
            Some(Ok(_)) => {}
            other => anyhow::bail!("bot hello failed: {other:?}"),
        }
    }
}

/// The fields of a server frame the load generator looks at, borrowed from the frame: a full
/// `ServerMsg` decode per receipt would make the generator, which shares the two cores with
/// the relay, the bottleneck of its own measurement.
#[derive(serde::Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(borrow, default)]
    pub client_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub sender: Option<FrameSender<'a>>,
}

#[derive(serde::Deserialize)]
pub struct FrameSender<'a> {
    pub kind: &'a str,
}

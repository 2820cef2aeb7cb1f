//! A scripted client that behaves as the widget and console must: it keeps every unacknowledged
//! message and resends it (same client id) after reconnecting, remembers the last seq it saw
//! and syncs from it, and fills gaps. Tests break its connection on purpose and then check
//! that nothing was lost or duplicated.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::{
    ChatMessage, ClientMsg, CloseCode, ErrorCode, ServerMsg, PROTOCOL_VERSION,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Clone)]
pub enum Role {
    Visitor { site: String, origin: String },
    Agent { token: String },
}

pub struct Peer {
    pub name: String,
    /// `ws://host:port` of the relay nodes, as behind a load balancer: a failed connect moves
    /// on to the next.
    pub bases: Vec<String>,
    role: Role,
    ws: Option<Ws>,
    /// Visitor token from the first welcome.
    pub token: Option<String>,
    pub conversation_id: Option<String>,
    /// Sent or to be sent, not yet acknowledged, in send order.
    pub pending: VecDeque<(String, String)>,
    pub acked: BTreeMap<String, u64>,
    /// Every message seen, by seq (a redelivery lands on the same key).
    pub seen: BTreeMap<u64, ChatMessage>,
    pub redeliveries: usize,
    pub closes: Vec<Option<u16>>,
    pub connects: usize,
    next_id: usize,
    syncing: bool,
}

impl Peer {
    pub fn new(name: &str, base: &str, role: Role) -> Peer {
        Peer {
            name: name.into(),
            bases: vec![base.into()],
            role,
            ws: None,
            token: None,
            conversation_id: None,
            pending: VecDeque::new(),
            acked: BTreeMap::new(),
            seen: BTreeMap::new(),
            redeliveries: 0,
            closes: Vec::new(),
            connects: 0,
            next_id: 0,
            syncing: false,
        }
    }

    pub fn connected(&self) -> bool {
        self.ws.is_some()
    }

    pub fn last_seq(&self) -> u64 {
        // The highest seq below which nothing is missing: resume from here.
        let mut last = 0;
        for &seq in self.seen.keys() {
            if seq != last + 1 {
                break;
            }
            last = seq;
        }
        last
    }

    /// Connects (retrying until `patience` runs out), says hello, resumes: sync from the last
    /// contiguous seq, then resend everything unacknowledged, in order.
    pub async fn connect(&mut self, patience: Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match self.try_connect().await {
                Ok(()) => return,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    self.bases.rotate_left(1);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{}: could not connect: {e}", self.name),
            }
        }
    }

    async fn try_connect(&mut self) -> Result<(), String> {
        let (url, origin, token) = match &self.role {
            Role::Visitor { site, origin } => (
                format!("{}/v1/visitor?site={site}", self.bases[0]),
                Some(origin.clone()),
                self.token.clone(),
            ),
            Role::Agent { token } => (
                format!("{}/v1/agent", self.bases[0]),
                None,
                Some(token.clone()),
            ),
        };
        let mut req = url.into_client_request().map_err(|e| e.to_string())?;
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", HeaderValue::from_str(&o).unwrap());
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| e.to_string())?;
        let hello = ClientMsg::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            token,
            context: None,
            identity_token: None,
        });
        ws.send(Message::text(hello.to_json()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .map_err(|_| "no welcome")?;
            match frame {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerMsg>(t.as_str()) {
                    Ok(ServerMsg::Welcome(w)) => {
                        if let Some(t) = w.token {
                            self.token = Some(t);
                        }
                        if let Some(c) = w.conversation_id {
                            self.conversation_id = Some(c);
                        }
                        if matches!(self.role, Role::Visitor { .. }) {
                            break;
                        }
                    }
                    Ok(ServerMsg::Conversations { .. }) => break,
                    // Between an agent's welcome and its inbox.
                    Ok(ServerMsg::Directory(_)) => continue,
                    Ok(other) => return Err(format!("unexpected {other:?}")),
                    Err(e) => return Err(e.to_string()),
                },
                Some(Ok(_)) => continue,
                other => return Err(format!("closed during hello: {other:?}")),
            }
        }
        self.ws = Some(ws);
        self.connects += 1;
        if self.conversation_id.is_some() {
            self.sync().await;
        }
        let resend: Vec<_> = self.pending.iter().cloned().collect();
        for (id, text) in resend {
            self.transmit(&id, &text).await;
        }
        Ok(())
    }

    pub fn set_conversation(&mut self, id: &str) {
        self.conversation_id = Some(id.to_owned());
    }

    async fn sync(&mut self) {
        let msg = ClientMsg::Sync {
            conversation_id: self.conversation_id.clone().unwrap(),
            since: self.last_seq(),
        };
        self.syncing = true;
        self.frame(&msg).await;
    }

    /// Queues a new message and sends it if connected.
    pub async fn send(&mut self, text: &str) -> String {
        self.next_id += 1;
        let id = format!("{}-{}", self.name, self.next_id);
        self.pending.push_back((id.clone(), text.to_owned()));
        self.transmit(&id, text).await;
        id
    }

    async fn transmit(&mut self, id: &str, text: &str) {
        let msg = ClientMsg::Send(Send {
            conversation_id: self.conversation_id.clone().expect("a conversation"),
            client_id: id.to_owned(),
            text: text.to_owned(),
            rich: None,
            canned_id: None,
        });
        self.frame(&msg).await;
    }

    async fn frame(&mut self, msg: &ClientMsg) {
        if let Some(ws) = &mut self.ws {
            if ws.send(Message::text(msg.to_json())).await.is_err() {
                self.lost(None);
            }
        }
    }

    /// Drops the connection without a close handshake, as a network cut does.
    pub fn cut(&mut self) {
        self.ws = None;
    }

    fn lost(&mut self, code: Option<u16>) {
        self.ws = None;
        self.closes.push(code);
    }

    /// Handles incoming frames for up to `dur` (returns early when disconnected).
    pub async fn pump(&mut self, dur: Duration) {
        let deadline = tokio::time::Instant::now() + dur;
        while let Some(ws) = &mut self.ws {
            let next = match tokio::time::timeout_at(deadline, ws.next()).await {
                Err(_) => return,
                Ok(n) => n,
            };
            match next {
                Some(Ok(Message::Text(t))) => {
                    let msg: ServerMsg = serde_json::from_str(t.as_str()).expect("valid frames");
                    self.handle(msg).await;
                }
                Some(Ok(Message::Close(f))) => self.lost(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => self.lost(None),
            }
        }
    }

    async fn handle(&mut self, msg: ServerMsg) {
        match msg {
            ServerMsg::Ack { client_id, seq, .. } => {
                self.pending.retain(|(id, _)| *id != client_id);
                self.acked.insert(client_id, seq);
            }
            ServerMsg::Message(m) if Some(&m.conversation_id) == self.conversation_id.as_ref() => {
                let seq = m.seq;
                if self.seen.insert(seq, m).is_some() {
                    self.redeliveries += 1;
                }
                // A gap (not during a catch-up) means something was missed: ask for it.
                if !self.syncing && seq > self.last_seq() + 1 {
                    self.sync().await;
                }
            }
            // The relay could not store it (its storage is down): nothing was stored, so resend.
            // Reconnecting does that, and waits out the outage on the way.
            ServerMsg::Error {
                code: ErrorCode::Unavailable,
                client_id: Some(_),
                ..
            } => {
                self.lost(Some(CloseCode::UNAVAILABLE.code));
            }
            ServerMsg::Synced { more, .. } => {
                self.syncing = false;
                if more {
                    self.sync().await;
                }
            }
            _ => {}
        }
    }

    /// Keeps (re)connecting and pumping until nothing is pending and `seen` reaches `last_seq`.
    /// Whether the last catch-up has ended (its final `synced`, without `more`, arrived).
    pub fn caught_up(&self) -> bool {
        !self.syncing
    }

    pub async fn settle(&mut self, want_last_seq: u64, patience: Duration) {
        let deadline = tokio::time::Instant::now() + patience;
        while !self.pending.is_empty() || self.last_seq() < want_last_seq {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: not settled ({} pending, last seq {} of {want_last_seq})",
                self.name,
                self.pending.len(),
                self.last_seq()
            );
            if !self.connected() {
                self.connect(patience).await;
            } else if self.last_seq() < want_last_seq && !self.syncing {
                self.sync().await;
            }
            self.pump(Duration::from_millis(100)).await;
        }
    }
}

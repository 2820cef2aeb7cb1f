//! Helpers shared by the test modules: relays (in-process and as a process), protocol-speaking
//! WebSocket clients, waiting with a deadline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::client::{Hello, Send};
use switchboard_protocol::server::Welcome;
use switchboard_protocol::{ClientMsg, Context, ServerMsg, PROTOCOL_VERSION};
use switchboard_relay::config::{
    Agent, AgentRole, Bot, Config, Limits, Policy, Routing, Site, Team,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SITE: &str = "shop";
pub const SITE_ORIGIN: &str = "https://shop.example";
pub const OTHER_SITE: &str = "other";
pub const AGENT_TOKEN: &str = "agent-token-alex-0123456789";
pub const OTHER_AGENT_TOKEN: &str = "agent-token-olga-0123456789";
pub const WAIT: Duration = Duration::from_secs(10);

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// A relay running in this process on a free port, with its own data directory.
pub struct TestRelay {
    pub relay: switchboard_relay::Running,
    pub addr: SocketAddr,
    /// The data directory, when the relay owns it (see [`TestRelay::start_in`]).
    _dir: Option<tempfile::TempDir>,
}

pub fn test_config(data_dir: PathBuf) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        assets_dir: workspace().join("dist"),
        public_url: "http://127.0.0.1/".into(),
        redis_url: None,
        metrics_listen: None,
        sites: vec![
            Site {
                key: SITE.into(),
                name: "Shop".into(),
                allowed_origins: vec![SITE_ORIGIN.into()],
                routing: Routing::HumansOnly,
                bot: Some(BOT.into()),
                bot_after_secs: 60,
                default_team: Some(TEAM.into()),
                retention_days: None,
                identity: Default::default(),
                identity_secret: None,
                identity_public_key: None,
                block_addr_days: 30,
                theme: None,
                canned: Vec::new(),
                webhooks: Vec::new(),
                csat: Some(switchboard_relay::csat::SiteCsat {
                    enabled: true,
                    scale: switchboard_protocol::csat::Scale::Five,
                    comment_max: 200,
                }),
                time_zone: None,
            },
            Site {
                key: OTHER_SITE.into(),
                name: "Other".into(),
                allowed_origins: vec!["https://other.example".into()],
                routing: Routing::HumansOnly,
                bot: Some(OTHER_BOT.into()),
                bot_after_secs: 60,
                default_team: None,
                retention_days: None,
                identity: Default::default(),
                identity_secret: None,
                identity_public_key: None,
                block_addr_days: 30,
                theme: None,
                canned: Vec::new(),
                webhooks: Vec::new(),
                csat: Some(switchboard_relay::csat::SiteCsat {
                    enabled: true,
                    scale: switchboard_protocol::csat::Scale::Thumbs,
                    comment_max: 0,
                }),
                time_zone: None,
            },
        ],
        agents: vec![
            Agent {
                id: "alex".into(),
                name: "Alex".into(),
                token: Some(AGENT_TOKEN.into()),
                password_hash: None,
                email: None,
                sites: vec![SITE.into()],
                role: AgentRole::Agent,
            },
            Agent {
                id: "olga".into(),
                name: "Olga".into(),
                token: Some(OTHER_AGENT_TOKEN.into()),
                password_hash: None,
                email: None,
                sites: vec![OTHER_SITE.into()],
                role: AgentRole::Agent,
            },
        ],
        bots: vec![
            Bot {
                id: BOT.into(),
                name: "Shopbot".into(),
                avatar: Some("https://shop.example/bot.png".into()),
                site: SITE.into(),
                token: BOT_TOKEN.into(),
                webhook_url: None,
                webhook_secret: None,
            },
            Bot {
                id: OTHER_BOT.into(),
                name: "Otherbot".into(),
                avatar: None,
                site: OTHER_SITE.into(),
                token: OTHER_BOT_TOKEN.into(),
                webhook_url: None,
                webhook_secret: None,
            },
        ],
        teams: vec![Team {
            id: TEAM.into(),
            name: "Support".into(),
            site: SITE.into(),
            members: vec!["alex".into()],
            policy: Policy::Manual,
            capacity: 5,
            languages: Vec::new(),
        }],
        demo: None,
        tuning: Default::default(),
        // Test clients share 127.0.0.1 and stream faster than people type; the abuse tests
        // and the rate-limit tests turn the limits back on.
        limits: Limits {
            enabled: false,
            ..Limits::default()
        },
        trusted_proxies: Vec::new(),
        operator_token: Some(OPERATOR_TOKEN.into()),
        purge_interval: Duration::from_secs(3600),
        agent_session: Duration::from_secs(3600),
        clock: Default::default(),
    }
}

/// Unlocks `/healthz`'s details in tests.
pub const OPERATOR_TOKEN: &str = "operator-token-0123456789abcdef0123456789";

/// The default team of [`SITE`]; its one member is the agent of [`AGENT_TOKEN`].
pub const TEAM: &str = "support";

/// The bot of [`SITE`] and its token; [`OTHER_BOT`] serves [`OTHER_SITE`].
pub const BOT: &str = "shopbot";
pub const BOT_TOKEN: &str = "bot-token-0123456789";
pub const OTHER_BOT: &str = "otherbot";
pub const OTHER_BOT_TOKEN: &str = "other-bot-token-0123456789";

impl TestRelay {
    pub async fn start() -> TestRelay {
        TestRelay::start_with(|_| {}).await
    }

    /// A relay on [`test_config`] changed by `edit` (routing policies, webhook bots).
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let mut relay = TestRelay::start_in(dir.path(), edit).await;
        relay._dir = Some(dir);
        relay
    }

    /// A relay on a data directory the caller keeps, so a second relay can continue it.
    pub async fn start_in(dir: &std::path::Path, edit: impl FnOnce(&mut Config)) -> TestRelay {
        let mut config = test_config(dir.to_owned());
        edit(&mut config);
        let relay = switchboard_relay::start(config).await.unwrap();
        let addr = relay.addr;
        TestRelay {
            relay,
            addr,
            _dir: None,
        }
    }

    /// Shuts the relay down and waits until it has drained.
    pub async fn stop(self) {
        self.relay.shutdown.cancel();
        self.relay.wait().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    pub async fn visitor(&self) -> Client {
        self.visitor_with(None, None).await
    }

    /// A visitor connection from the site's allowed origin, after `hello`/`welcome`.
    pub async fn visitor_with(&self, token: Option<String>, context: Option<Context>) -> Client {
        let mut c = Client::connect(
            &self.url(&format!("/v1/visitor?site={SITE}")),
            Some(SITE_ORIGIN),
        )
        .await
        .unwrap();
        c.send(&ClientMsg::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            token,
            context,
            identity_token: None,
        }))
        .await;
        c.welcome().await
    }

    pub async fn agent(&self, token: &str) -> Client {
        self.agent_with_inbox(token).await.0
    }

    /// An agent connection and the inbox it was sent on connecting.
    pub async fn agent_with_inbox(
        &self,
        token: &str,
    ) -> (Client, Vec<switchboard_protocol::ConversationSummary>) {
        let mut c = Client::connect(&self.url("/v1/agent"), None).await.unwrap();
        c.send(&ClientMsg::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            token: Some(token.into()),
            context: None,
            identity_token: None,
        }))
        .await;
        let mut c = c.welcome().await;
        // The agent joins the live feed before its inbox is read, so a live frame of a
        // conversation that was just active may come first.
        let items = c
            .until(|m| match m {
                ServerMsg::Conversations { items, .. } => Some(items.clone()),
                _ => None,
            })
            .await;
        (c, items)
    }
}

impl TestRelay {
    /// The conversation's stored lifecycle version: what a change must name to apply.
    pub async fn version(&self, conv: &str) -> u64 {
        let stored = self.relay.state.broker.conversation(conv).await.unwrap();
        stored.expect("the conversation is stored").state.version
    }

    /// A bot connection after `hello`/`welcome` (frames for conversations it owns follow).
    pub async fn bot(&self, token: &str) -> Client {
        bot_at(&self.url("/v1/bot"), token).await
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every stored message of a conversation.
    pub async fn stored(&self, conversation_id: &str) -> Vec<switchboard_protocol::ChatMessage> {
        self.relay
            .state
            .broker
            .history(conversation_id, 0, 1000)
            .await
            .unwrap()
    }
}

/// A bot connection to the relay's bot endpoint `url`, after `hello`/`welcome`.
pub async fn bot_at(url: &str, token: &str) -> Client {
    let mut c = Client::connect(url, None).await.unwrap();
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(token.into()),
        context: None,
        identity_token: None,
    }))
    .await;
    c.welcome().await
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Option<Welcome>,
    /// Whether `recv` returns presence, availability and queue frames. Off by default: they
    /// are live state that arrives whenever it changes, between the frames a test awaits.
    pub live_state: bool,
}

impl Client {
    /// Connects; `Err` carries the HTTP status when the upgrade is refused.
    pub async fn connect(url: &str, origin: Option<&str>) -> Result<Client, u16> {
        let mut req = url.into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut()
                .insert("origin", HeaderValue::from_str(o).unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(Client {
                ws,
                welcome: None,
                live_state: false,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("connect failed: {e}"),
        }
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        self.raw(&msg.to_json()).await;
    }

    pub async fn raw(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn say(&mut self, client_id: &str, text: &str) {
        let conversation_id = self.conversation_id();
        self.send(&ClientMsg::Send(Send {
            conversation_id,
            client_id: client_id.into(),
            text: text.into(),
            rich: None,
            canned_id: None,
        }))
        .await;
    }

    pub fn conversation_id(&self) -> String {
        self.welcome
            .as_ref()
            .and_then(|w| w.conversation_id.clone())
            .expect("a visitor after welcome")
    }

    /// The next protocol frame (pongs and pings skipped); panics on close or after [`WAIT`].
    pub async fn recv(&mut self) -> ServerMsg {
        loop {
            match self.next_event().await {
                Event::Msg(m) if !self.live_state && is_live_state(&m) => continue,
                Event::Msg(m) => return *m,
                Event::Closed(code) => {
                    panic!("connection closed ({code:?}) while a frame was expected")
                }
            }
        }
    }

    pub async fn next_event(&mut self) -> Event {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame within the wait");
            match next {
                Some(Ok(Message::Text(t))) => {
                    return Event::Msg(Box::new(
                        serde_json::from_str(t.as_str()).expect("the relay sends valid frames"),
                    ))
                }
                Some(Ok(Message::Close(frame))) => {
                    return Event::Closed(frame.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Event::Closed(None),
            }
        }
    }

    /// Skips frames until one matches.
    pub async fn until<T>(&mut self, mut f: impl FnMut(&ServerMsg) -> Option<T>) -> T {
        loop {
            let m = self.recv().await;
            if let Some(t) = f(&m) {
                return t;
            }
        }
    }

    /// The close code the relay ends this connection with (skipping frames before it).
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Event::Closed(code) = self.next_event().await {
                return code;
            }
        }
    }

    pub async fn welcome(mut self) -> Client {
        match self.recv().await {
            ServerMsg::Welcome(w) => {
                self.welcome = Some(w);
                self
            }
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    /// Proves the connection is alive and every earlier frame was handled: ping, wait for pong.
    pub async fn roundtrip(&mut self) -> Vec<ServerMsg> {
        self.send(&ClientMsg::Ping { nonce: Some(7) }).await;
        let mut before = Vec::new();
        loop {
            match self.recv().await {
                ServerMsg::Pong { nonce: Some(7) } => return before,
                other => before.push(other),
            }
        }
    }
}

/// Presence, availability and queue position: frames that describe the state of the moment.
pub fn is_live_state(m: &ServerMsg) -> bool {
    matches!(
        m,
        ServerMsg::Presence { .. } | ServerMsg::Availability { .. } | ServerMsg::Queue { .. }
    )
}

#[derive(Debug)]
pub enum Event {
    Msg(Box<ServerMsg>),
    Closed(Option<u16>),
}

/// Polls `f` until it returns `Some`, failing with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

//! Agents' password sign-in against a real relay process over real HTTP and WebSocket: the
//! session cookie opens `/v1/agent` (only from the relay's own origin), sign-out revokes it
//! and closes its open sockets on every node (SQLite, and two nodes on one Redis), expiry ends it; wrong, unknown,
//! garbage and oversized sign-ins are refused with typed errors and sign nobody in; failed
//! sign-ins are throttled per address and per account while other agents still sign in.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_protocol::client::Hello;
use switchboard_protocol::{ClientMsg, CloseCode, ServerMsg, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::process::{relay_bin, RelayProcess, AGENT_PASSWORD};
use crate::redis_server::RedisServer;
use crate::util::Client;

const MAYA_PASSWORD: &str = "maya's long passphrase";
const TOM_TOKEN: &str = "tom-token-0123456789abcdef0123456789";

/// The PHC string `switchboard-relay hash-password` prints for the password.
fn hash_password(password: &str) -> std::process::Output {
    let mut child = Command::new(relay_bin())
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running switchboard-relay hash-password");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

fn maya_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let out = hash_password(MAYA_PASSWORD);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
}

/// A relay whose file adds Maya (password, email) and Tom (token only), with the given extra
/// TOML (e.g. `[limits]`) and flags.
async fn relay(extra_toml: &str, flags: &[&str]) -> (RelayProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    let toml = format!(
        "[[agents]]\nid = \"maya\"\nname = \"Maya\"\nemail = \"Maya@Shop.example\"\n\
         password_hash = \"{}\"\n\n[[agents]]\nid = \"tom\"\nname = \"Tom\"\ntoken = \"{TOM_TOKEN}\"\n\n{extra_toml}\n",
        maya_hash()
    );
    std::fs::write(&file, toml).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let mut args = vec!["--config", file.as_str()];
    args.extend_from_slice(flags);
    (RelayProcess::start_with(&args).await, dir)
}

fn origin(relay: &RelayProcess) -> String {
    format!("http://127.0.0.1:{}", relay.port)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// `name=value` of the session cookie the answer sets.
    fn cookie(&self) -> Option<String> {
        let set = self.headers.get("set-cookie")?.to_str().ok()?;
        Some(set.split(';').next()?.to_owned())
    }
}

async fn post(relay: &RelayProcess, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}{path}", relay.port))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn login(relay: &RelayProcess, agent: &str, password: &str) -> Answer {
    login_from(relay, agent, password, &[]).await
}

async fn login_from(
    relay: &RelayProcess,
    agent: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let body = json!({"agent": agent, "password": password}).to_string();
    let o = origin(relay);
    let mut all = vec![("origin", o.as_str())];
    all.extend_from_slice(headers);
    post(relay, "/v1/agent/login", body.into_bytes(), &all).await
}

async fn logout(relay: &RelayProcess, cookie: &str) -> Answer {
    let o = origin(relay);
    post(
        relay,
        "/v1/agent/logout",
        Vec::new(),
        &[("origin", &o), ("cookie", cookie)],
    )
    .await
}

/// Opens `/v1/agent` with the cookie and origin given and says `hello` (with the token, if
/// any); `Err` is the HTTP status of a refused upgrade.
async fn agent_socket(
    relay: &RelayProcess,
    cookie: Option<&str>,
    origin: Option<&str>,
    token: Option<&str>,
) -> Result<Client, u16> {
    let mut req = relay.ws("/v1/agent").into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    let ws = match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => ws,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            return Err(resp.status().as_u16())
        }
        Err(e) => panic!("connect failed: {e}"),
    };
    let mut c = Client {
        ws,
        welcome: None,
        live_state: false,
    };
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: token.map(str::to_owned),
        context: None,
        identity_token: None,
    }))
    .await;
    Ok(c)
}

/// The agent id the socket was welcomed as, or the close code it was refused with.
async fn signed_in_as(c: Result<Client, u16>) -> Result<String, Option<u16>> {
    let mut c = c.map_err(Some)?;
    loop {
        match c.next_event().await {
            crate::util::Event::Msg(m) => match *m {
                ServerMsg::Welcome(w) => return Ok(w.id),
                ServerMsg::Error { .. } => continue,
                other => panic!("expected welcome or a refusal, got {other:?}"),
            },
            crate::util::Event::Closed(code) => return Err(code),
        }
    }
}

const REFUSED: Result<String, Option<u16>> = Err(Some(CloseCode::UNAUTHORIZED.code));

#[tokio::test]
async fn hash_password_prints_an_argon2id_hash_and_refuses_short_passwords() {
    let hash = maya_hash();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    // Salted: the same password hashes differently each time.
    let again = hash_password(MAYA_PASSWORD);
    assert_ne!(String::from_utf8(again.stdout).unwrap().trim(), hash);
    let short = hash_password("short");
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"),
        "{short:?}"
    );
    assert!(short.stdout.is_empty());
}

/// Signs Maya in on `a`, uses the cookie on `b`, signs out on `b`, and checks `a` refuses it.
async fn sign_in_use_and_revoke(a: &RelayProcess, b: &RelayProcess) {
    let answer = login(a, "maya", MAYA_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["id"], "maya");
    assert_eq!(answer.body["name"], "Maya");
    assert!(answer.body["expires_at"].as_u64().unwrap() > 0);
    let set = answer.headers["set-cookie"].to_str().unwrap().to_owned();
    for part in [
        "sb_agent=",
        "Path=/",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(set.contains(part), "{set} lacks {part}");
    }
    // Plain http: a Secure cookie would never be sent back.
    assert!(!set.contains("Secure"), "{set}");
    assert_eq!(answer.headers["cache-control"], "no-store");
    let cookie = answer.cookie().unwrap();

    // Consoles open on both nodes with this session.
    let mut open = Vec::new();
    for relay in [a, b] {
        let o = origin(relay);
        let mut socket = agent_socket(relay, Some(&cookie), Some(&o), None)
            .await
            .unwrap();
        let welcome = socket.until(|m| match m {
            ServerMsg::Welcome(w) => Some(w.id.clone()),
            _ => None,
        });
        assert_eq!(welcome.await, "maya");
        socket.roundtrip().await;
        open.push(socket);
    }
    // The email, in any case, names the same agent.
    let by_email = login(b, "maya@shop.EXAMPLE", MAYA_PASSWORD).await;
    assert_eq!(by_email.status, StatusCode::OK, "{}", by_email.body);
    assert_eq!(by_email.body["id"], "maya");
    assert_ne!(by_email.cookie(), Some(cookie.clone()), "a new session");

    let out = logout(b, &cookie).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = out.headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("sb_agent=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // Signing out closes the session's open sockets, on every node.
    for mut socket in open {
        assert_eq!(socket.closed().await, Some(CloseCode::UNAUTHORIZED.code));
    }
    for relay in [a, b] {
        let o = origin(relay);
        let socket = agent_socket(relay, Some(&cookie), Some(&o), None).await;
        assert_eq!(signed_in_as(socket).await, REFUSED, "revoked everywhere");
    }
    // The other session (by email) is still live: sign-out ends only its own.
    let other = by_email.cookie().unwrap();
    let o = origin(a);
    let socket = agent_socket(a, Some(&other), Some(&o), None).await;
    assert_eq!(signed_in_as(socket).await, Ok("maya".into()));
    // Signing out twice is not an error.
    assert_eq!(logout(a, &cookie).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_password_sign_in_opens_the_agent_socket_until_sign_out() {
    let (relay, _dir) = relay("", &[]).await;
    sign_in_use_and_revoke(&relay, &relay).await;
    // Tokens still work beside it (bots and scripts keep them).
    let socket = agent_socket(&relay, None, None, Some(TOM_TOKEN)).await;
    assert_eq!(signed_in_as(socket).await, Ok("tom".into()));
}

#[tokio::test]
async fn sessions_live_in_redis_so_every_node_accepts_and_revokes_them() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let (a, _da) = relay("", &["--redis-url", &url]).await;
    let (b, _db) = relay("", &["--redis-url", &url]).await;
    sign_in_use_and_revoke(&a, &b).await;
}

#[tokio::test]
async fn bad_sign_ins_and_sockets_are_refused_and_sign_nobody_in() {
    let (relay, _dir) = relay("", &[]).await;
    let o = origin(&relay);
    let demo = login(&relay, "demo-agent", AGENT_PASSWORD).await;
    assert_eq!(demo.status, StatusCode::OK, "the demo agent's password");
    let cookie = demo.cookie().unwrap();

    // Wrong password, unknown agent, a token-only agent: one answer, no cookie.
    for (agent, password) in [
        ("maya", "not maya's password"),
        ("nobody", MAYA_PASSWORD),
        ("tom", TOM_TOKEN),
        ("maya", MAYA_PASSWORD.to_uppercase().as_str()),
    ] {
        let a = login(&relay, agent, password).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{agent}");
        assert_eq!(a.code(), "unauthorized");
        assert_eq!(a.body["message"], "the agent or the password is not right");
        assert!(a.headers.get("set-cookie").is_none(), "{agent}");
    }
    // An unknown agent costs a full verification too: its answer does not stand out.
    let known = median_refusal_time(&relay, "maya").await;
    let unknown = median_refusal_time(&relay, "nobody").await;
    assert!(unknown * 2 >= known, "known {known:?}, unknown {unknown:?}");

    let raw = |body: &[u8]| post(&relay, "/v1/agent/login", body.to_vec(), &[]);
    let cases: [(&[u8], StatusCode, &str); 6] = [
        (b"{not json", StatusCode::BAD_REQUEST, "bad_json"),
        (b"", StatusCode::BAD_REQUEST, "bad_json"),
        (br#"{"agent":"maya"}"#, StatusCode::BAD_REQUEST, "invalid"),
        (
            br#"{"agent":"maya","password":"x","admin":true}"#,
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            br#"{"agent":" ","password":"x"}"#,
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (br#"[1,2,3]"#, StatusCode::BAD_REQUEST, "invalid"),
    ];
    for (body, status, code) in cases {
        let a = raw(body).await;
        assert_eq!(
            (a.status, a.code()),
            (status, code),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let long_password = json!({"agent": "maya", "password": "x".repeat(2000)}).to_string();
    let a = raw(long_password.as_bytes()).await;
    assert_eq!((a.status, a.code()), (StatusCode::BAD_REQUEST, "invalid"));
    // Over the sign-in's own limit, and over any endpoint's (refused from Content-Length).
    for size in [5 * 1024, 200 * 1024] {
        let a = raw(&vec![b' '; size]).await;
        assert_eq!(
            (a.status, a.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            "{size}"
        );
    }
    // Another site's page cannot sign an agent in (or out).
    let foreign = [("origin", "https://evil.example")];
    let body = json!({"agent": "maya", "password": MAYA_PASSWORD}).to_string();
    let x = post(&relay, "/v1/agent/login", body.into_bytes(), &foreign).await;
    assert_eq!(
        (x.status, x.code()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    assert!(x.headers.get("set-cookie").is_none());
    let out = post(
        &relay,
        "/v1/agent/logout",
        Vec::new(),
        &[("origin", "https://evil.example"), ("cookie", &cookie)],
    )
    .await;
    assert_eq!(
        (out.status, out.code()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );

    // The socket: a foreign page with the cookie is refused at the upgrade (cross-site
    // WebSocket hijacking); a client without Origin cannot use the cookie; no cookie, a
    // made-up one, or garbage is no sign-in; a wrong token beside a good cookie is refused.
    let hijack = agent_socket(&relay, Some(&cookie), Some("https://evil.example"), None).await;
    assert_eq!(hijack.err(), Some(403));
    let sibling = agent_socket(&relay, Some(&cookie), Some("http://localhost:1"), None).await;
    assert_eq!(sibling.err(), Some(403));
    let forged = format!("sb_agent={}", "ab".repeat(32));
    for (cookie, origin) in [
        (Some(cookie.as_str()), None),
        (None, Some(o.as_str())),
        (Some(forged.as_str()), Some(o.as_str())),
        (Some("sb_agent=garbage; other=1"), Some(o.as_str())),
    ] {
        let socket = agent_socket(&relay, cookie, origin, None).await;
        assert_eq!(
            signed_in_as(socket).await,
            REFUSED,
            "{cookie:?} from {origin:?}"
        );
    }
    let socket = agent_socket(&relay, Some(&cookie), Some(&o), Some("wrong-token")).await;
    assert_eq!(signed_in_as(socket).await, REFUSED);

    // After all that, the demo agent's session is untouched and still signs in.
    let socket = agent_socket(&relay, Some(&cookie), Some(&o), None).await;
    assert_eq!(signed_in_as(socket).await, Ok("demo-agent".into()));
}

/// The middle of three refusals' times for this agent name.
async fn median_refusal_time(relay: &RelayProcess, agent: &str) -> Duration {
    let mut t = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let a = login(relay, agent, "a wrong password").await;
        t.push(start.elapsed());
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    t.sort();
    t[1]
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let (relay, _dir) = relay("", &["--agent-session-secs", "2"]).await;
    let o = origin(&relay);
    let a = login(&relay, "maya", MAYA_PASSWORD).await;
    assert!(a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=2"));
    let cookie = a.cookie().unwrap();
    let socket = agent_socket(&relay, Some(&cookie), Some(&o), None).await;
    assert_eq!(signed_in_as(socket).await, Ok("maya".into()));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let socket = agent_socket(&relay, Some(&cookie), Some(&o), None).await;
    assert_eq!(signed_in_as(socket).await, REFUSED);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_address_and_per_account() {
    // Behind a trusted proxy, so each request can come from an address of the test's choice.
    let limits = "[limits]\nauth_failures_per_address = { burst = 4, per_minute = 1 }\n\
                  login_failures_per_account = { burst = 3, per_minute = 1 }\n";
    let (relay, _dir) = relay(
        limits,
        &["--rate-limits", "true", "--trusted-proxy", "127.0.0.1/32"],
    )
    .await;
    let from = |ip: &'static str| [("x-forwarded-for", ip)];

    // Per account: three wrong passwords for Maya from three addresses; then even her right
    // password is refused, from anywhere, with a wait. Other agents sign in as usual.
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let a = login_from(&relay, "maya", "guess", &from(ip)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = login_from(&relay, "MAYA", "guess", &from("203.0.113.4")).await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "the fourth is counted, then the block"
    );
    let blocked = login_from(&relay, "maya", MAYA_PASSWORD, &from("198.51.100.9")).await;
    assert_eq!(
        (blocked.status, blocked.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(
        blocked.body["retry_after_ms"].as_u64().unwrap() > 10_000,
        "{}",
        blocked.body
    );
    assert!(blocked.headers.contains_key("retry-after"));
    assert!(blocked.headers.get("set-cookie").is_none());
    let demo = login_from(&relay, "demo-agent", AGENT_PASSWORD, &from("198.51.100.9")).await;
    assert_eq!(demo.status, StatusCode::OK, "{}", demo.body);

    // Per address: one address guessing many names is blocked whatever it tries next, even
    // a right password; another address is not.
    for name in ["a1", "a2", "a3", "a4", "a5"] {
        login_from(&relay, name, "guess", &from("192.0.2.66")).await;
    }
    let blocked = login_from(&relay, "demo-agent", AGENT_PASSWORD, &from("192.0.2.66")).await;
    assert_eq!(
        (blocked.status, blocked.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let ok = login_from(&relay, "demo-agent", AGENT_PASSWORD, &from("192.0.2.67")).await;
    assert_eq!(ok.status, StatusCode::OK);

    // The trusted proxy says https: the cookie is Secure and host-only (`__Host-`); a
    // client's own X-Forwarded-Proto proves nothing (see the plain relays above).
    let https = login_from(
        &relay,
        "demo-agent",
        AGENT_PASSWORD,
        &[
            ("x-forwarded-for", "192.0.2.68"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    let set = https.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("__Host-sb_agent=") && set.contains("; Secure"),
        "{set}"
    );
}

#[tokio::test]
async fn an_untrusted_forwarded_proto_does_not_make_the_cookie_secure() {
    let (relay, _dir) = relay("", &[]).await;
    let a = login_from(
        &relay,
        "maya",
        MAYA_PASSWORD,
        &[("x-forwarded-proto", "https")],
    )
    .await;
    let set = a.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("sb_agent=") && !set.contains("Secure"),
        "{set}"
    );
}

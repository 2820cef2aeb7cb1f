//! Abuse from one address, against a real relay process with its default limits on: floods of
//! messages, context updates, hellos and sign-in attempts are refused (`rate_limited`, 429,
//! close 4029) while an ordinary visitor keeps chatting; slow and oversized HTTP is cut off;
//! the console carries its security headers. Figures measured here are printed as
//! `abuse: …` lines and recorded in BENCHMARKS.md.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::client::Hello;
use switchboard_protocol::{ClientMsg, Context, ErrorCode, ServerMsg, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use crate::process::{RelayProcess, AGENT_TOKEN};
use crate::util::{Client, Event};

/// A relay with its rate limits on (the tests' default turns them off), with `[limits]`
/// from the given TOML lines.
async fn relay(limits: &str) -> (RelayProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(&file, format!("[limits]\n{limits}\n")).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let relay = RelayProcess::start_with(&["--rate-limits", "true", "--config", &file]).await;
    (relay, dir)
}

async fn visitor(relay: &RelayProcess) -> Result<Client, u16> {
    let url = format!("ws://127.0.0.1:{}/v1/visitor?site=demo", relay.port);
    let mut c = Client::connect(&url, Some(&relay.shop_origin())).await?;
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: None,
        context: None,
        identity_token: None,
    }))
    .await;
    Ok(c)
}

async fn agent(relay: &RelayProcess, token: &str) -> Client {
    let url = format!("ws://127.0.0.1:{}/v1/agent", relay.port);
    let mut c = Client::connect(&url, None).await.unwrap();
    c.send(&ClientMsg::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(token.into()),
        context: None,
        identity_token: None,
    }))
    .await;
    c
}

fn send(conv: &str, client_id: &str, text: &str) -> String {
    ClientMsg::Send(switchboard_protocol::client::Send {
        conversation_id: conv.into(),
        client_id: client_id.into(),
        text: text.into(),
        rich: None,
        canned_id: None,
    })
    .to_json()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// One visitor sends 2,000 messages as fast as its socket takes them, another context
/// updates of 30 KB: the flood is refused past its burst and closed (4029), the agent gets
/// only what passed, and an ordinary visitor's round trips during the flood stay fast.
#[tokio::test]
async fn floods_are_refused_while_an_ordinary_visitor_keeps_chatting() {
    let (relay, _dir) = relay("").await;
    let mut agent = agent(&relay, AGENT_TOKEN).await.welcome().await;
    let rss_before = relay.rss();

    let mut ordinary = visitor(&relay).await.unwrap().welcome().await;
    let ordinary_conv = ordinary.conversation_id();
    let pacer = tokio::spawn(async move {
        let mut rtts = Vec::new();
        let start = Instant::now();
        // About one message a second is what a person does; 40 at 4 a second stays within
        // the visitor's own quota (20 at once, then one a second) for the flood's duration.
        for i in 0..24 {
            let sent = Instant::now();
            ordinary
                .raw(&send(
                    &ordinary_conv,
                    &format!("ok-{i}"),
                    "where is my order?",
                ))
                .await;
            ordinary
                .until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
                .await;
            rtts.push(sent.elapsed());
            tokio::time::sleep(Duration::from_millis(250).saturating_sub(sent.elapsed())).await;
        }
        (rtts, start.elapsed())
    });

    // The message flood.
    let mut flooder = visitor(&relay).await.unwrap().welcome().await;
    let conv = flooder.conversation_id();
    let flood_start = Instant::now();
    let (acked, limited, close) = {
        for i in 0..2_000 {
            let frame = Message::text(send(&conv, &format!("f-{i}"), "spam"));
            if flooder.ws.feed(frame).await.is_err() {
                break;
            }
        }
        let _ = flooder.ws.flush().await;
        let (mut acked, mut limited) = (0, 0);
        let close = loop {
            match flooder.next_event().await {
                Event::Msg(m) => match *m {
                    ServerMsg::Ack { .. } => acked += 1,
                    ServerMsg::Error {
                        code: ErrorCode::RateLimited,
                        retry_after_ms,
                        ..
                    } => {
                        assert!(retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 60_000));
                        limited += 1;
                    }
                    _ => {}
                },
                Event::Closed(code) => break code,
            }
        };
        (acked, limited, close)
    };
    let flood_took = flood_start.elapsed();
    assert_eq!(close, Some(4029), "a persistent flood is closed");
    assert!(acked <= 25, "{acked} flood messages were stored");
    assert!(limited >= 50, "{limited} refusals before the close");

    // The context flood: 300 updates of ~30 KB.
    let mut ctx_flooder = visitor(&relay).await.unwrap().welcome().await;
    let mut context = Context::default();
    // Each custom value is at most 1 KiB: 30 of them.
    for i in 0..30 {
        context
            .custom
            .insert(format!("blob{i}"), "x".repeat(990).into());
    }
    let frame = ClientMsg::SetContext { context }.to_json();
    let mut ctx_limited = 0;
    for _ in 0..300 {
        if ctx_flooder
            .ws
            .send(Message::text(frame.clone()))
            .await
            .is_err()
        {
            break;
        }
    }
    while let Ok(Event::Msg(m)) =
        tokio::time::timeout(Duration::from_secs(3), ctx_flooder.next_event()).await
    {
        if matches!(
            *m,
            ServerMsg::Error {
                code: ErrorCode::RateLimited,
                ..
            }
        ) {
            ctx_limited += 1
        }
    }
    assert!(ctx_limited >= 50, "{ctx_limited} context updates refused");

    let (mut rtts, took) = pacer.await.unwrap();
    rtts.sort();
    let (p50, p99) = (percentile(&rtts, 0.5), percentile(&rtts, 0.99));
    // What reached the agent: the flood's stored messages and the ordinary visitor's, and no
    // more than the context quota's worth of 30 KB updates.
    let mut agent_bytes = 0usize;
    while let Ok(Some(Ok(m))) =
        tokio::time::timeout(Duration::from_millis(500), agent.ws.next()).await
    {
        agent_bytes += m.len();
    }
    let rss_after = relay.rss();
    println!(
        "abuse: 2000-message flood in {flood_took:?}: acked={acked} limited={limited} close={close:?}; context refused={ctx_limited}; \
         ordinary visitor {} round trips in {took:?}: p50 {p50:?} p99 {p99:?}; \
         agent received {agent_bytes} B; relay RSS {} → {} KB",
        rtts.len(),
        rss_before / 1024,
        rss_after / 1024
    );
    assert_eq!(rtts.len(), 24, "the ordinary visitor's chat kept working");
    assert!(
        p99 < Duration::from_millis(500),
        "p99 {p99:?} during the flood"
    );
    // 10 context updates at once (the burst) plus refills, of 30 KB each, and the messages.
    assert!(agent_bytes < 600_000, "{agent_bytes} B pushed to the agent");
    assert!(
        rss_after < rss_before + 64 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
}

/// 2,000 hellos from one address: the address's connection rate refuses most (429 before
/// the upgrade); the rest are welcomed and store nothing. The new-visitor quota applies when
/// the welcomed ones first say something: `rate_limited` with a wait, the connection stays.
#[tokio::test]
async fn a_hello_flood_from_one_address_creates_few_visitors() {
    let (relay, _dir) = relay("").await;
    let (mut welcomed, mut refused_http) = (Vec::new(), 0);
    let start = Instant::now();
    for _ in 0..2_000 {
        match visitor(&relay).await {
            Err(429) => refused_http += 1,
            Err(status) => panic!("unexpected HTTP {status}"),
            Ok(c) => {
                let c = c.welcome().await;
                // Kept open to speak below; the rest are plain page views.
                if welcomed.len() < 60 {
                    welcomed.push(c);
                }
            }
        }
    }
    let (mut stored, mut limited) = (0, 0);
    for (i, c) in welcomed.iter_mut().enumerate() {
        c.say(&format!("m{i}"), "hi").await;
        // The visitor's own `message` may come before its `ack`.
        let answer = c
            .until(|m| (!matches!(m, ServerMsg::Message(_))).then(|| m.clone()))
            .await;
        match answer {
            ServerMsg::Ack { .. } => stored += 1,
            ServerMsg::Error {
                code: ErrorCode::RateLimited,
                retry_after_ms: Some(_),
                ..
            } => {
                limited += 1;
                c.roundtrip().await;
            }
            other => panic!("{other:?}"),
        }
    }
    let took = start.elapsed();
    println!(
        "abuse: 2000 hellos in {took:?}: {} welcomed of which {stored} stored a visitor, {limited} refused at their first message, {refused_http} refused with 429",
        welcomed.len()
    );
    // 30 at once and one every two seconds after that.
    assert!(
        stored <= 30 + took.as_secs() as usize + 2,
        "{stored} visitors created"
    );
    assert!(limited > 0, "the new-visitor quota never applied");
    assert!(refused_http > 0, "the connection rate never applied");
}

/// Wrong agent tokens: after the quota of failures, the address is refused even with the
/// right token until the wait is over; other addresses are not affected (not testable from
/// one machine's loopback address, covered by the relay's unit test).
#[tokio::test]
async fn guessing_agent_tokens_is_throttled() {
    let (relay, _dir) = relay("").await;
    let mut refusals = Vec::new();
    for i in 0..15 {
        let mut c = agent(&relay, &format!("guess-{i:032}")).await;
        let code = match c.recv().await {
            ServerMsg::Error { code, .. } => code,
            other => panic!("a wrong token was answered with {other:?}"),
        };
        refusals.push((code, c.closed().await));
    }
    assert_eq!(refusals[0], (ErrorCode::Forbidden, Some(4001)));
    assert_eq!(
        refusals.last().copied(),
        Some((ErrorCode::RateLimited, Some(4029)))
    );
    // Blocked: the real token is not even checked.
    let mut c = agent(&relay, AGENT_TOKEN).await;
    assert!(matches!(
        c.recv().await,
        ServerMsg::Error {
            code: ErrorCode::RateLimited,
            ..
        }
    ));
}

async fn http(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Headers sent a byte a second are cut off at the header deadline; a body announced as
/// 10^12 bytes is refused from its `Content-Length` at once; connections past the address's
/// share are closed on accept while `/healthz` still answers from the reserve.
#[tokio::test]
async fn slow_and_oversized_http_is_cut_off() {
    let (relay, _dir) = relay("header_timeout_secs = 2\nconnections_per_address = 40").await;
    let port = relay.port;

    // Slow headers.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        slow.push(s);
    }
    let start = Instant::now();
    let mut closed = 0;
    for (i, s) in slow.iter_mut().enumerate() {
        let mut buf = [0u8; 256];
        loop {
            if s.write_all(b"X").await.is_err() {
                break;
            }
            match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                // A 408 and then the close.
                Ok(Ok(_)) => continue,
                Err(_) => {}
            }
            assert!(start.elapsed() < Duration::from_secs(8), "socket {i} held");
        }
        closed += 1;
    }
    let held_for = start.elapsed();
    println!("abuse: {closed} slow-header sockets closed within {held_for:?} (deadline 2 s)");
    assert!(held_for < Duration::from_secs(5));

    // A huge announced body: refused before reading it.
    let answer = http(
        port,
        b"POST /v1/bot/conversations/c_x/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\nContent-Type: application/json\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Past the address's share: closed on accept.
    let mut held = Vec::new();
    for _ in 0..60 {
        held.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut dropped = 0;
    for s in &mut held {
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(50), s.read(&mut b)).await {
            dropped += 1;
        }
    }
    assert!(
        dropped >= 20,
        "only {dropped} of 60 connections over the share of 40 were closed"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(relay.health().await["status"], "ok");
}

/// A text frame that is not UTF-8 closes the socket with 1007.
#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let (relay, _dir) = relay("").await;
    let mut c = visitor(&relay).await.unwrap().welcome().await;
    let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![b'"', 0xff, 0xfe, b'"'],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    c.ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(c.closed().await, Some(1007));
}

/// The console's security headers, `nosniff` everywhere, and a `/healthz` that says only
/// `ok` without the operator token.
#[tokio::test]
async fn security_headers_and_a_quiet_healthz() {
    let relay = RelayProcess::start().await;
    let console = http(
        relay.port,
        b"GET /console/ HTTP/1.0\r\nHost: localhost\r\n\r\n",
    )
    .await
    .to_ascii_lowercase();
    for header in [
        "content-security-policy: default-src 'none'; script-src 'self' 'wasm-unsafe-eval';",
        "frame-ancestors 'none'",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "permissions-policy: camera=()",
    ] {
        assert!(
            console.contains(header),
            "console lacks {header}:\n{console}"
        );
    }
    assert!(
        !console.contains("<script type=\"module\">"),
        "an inline script remains"
    );
    let loader = http(
        relay.port,
        b"GET /widget.js HTTP/1.0\r\nHost: localhost\r\n\r\n",
    )
    .await
    .to_ascii_lowercase();
    assert!(loader.contains("x-content-type-options: nosniff"));
    let health = http(
        relay.port,
        b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n",
    )
    .await;
    let body = health.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(body, r#"{"status":"ok"}"#);
    // With the operator token: the details.
    assert_eq!(relay.health().await["broker"], "sqlite");
}

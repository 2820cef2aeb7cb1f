//! Verified identity over real WebSocket connections: tokens the site's server signs (minted
//! here with the same JWT crate), each refusal class (expired, forged, another site's,
//! `alg: none`, garbage, oversize), `identity = "required"`, the marks agents receive, and a
//! verified customer's conversations carrying one customer id across devices.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard_protocol::context::{Identity, Verified};
use switchboard_protocol::limits::MAX_IDENTITY_TOKEN_BYTES;
use switchboard_protocol::{ClientMsg, Context, ConversationSummary, ErrorCode, ServerMsg};
use switchboard_relay::config::{Config, IdentityMode};

use crate::util::*;

const SECRET: &str = "shop-identity-secret-0123456789abcdef";
const OTHER_SECRET: &str = "other-identity-secret-0123456789abcdef";

/// An EC P-256 key pair for the ES256 case (generated for these tests only).
const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgP/yrYpS9qgG1WECz
ovgTQULGZW9uG2uMV03S1dFtLqGhRANCAAR2V9+5UxOrcAdMqJXc8q2YjvmaUFzP
2udIA+oaxoTmahlKCDV3zeedu4z48vl+kmd6U1tSbi6gp2OPjINuC1bq
-----END PRIVATE KEY-----
";
const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdlffuVMTq3AHTKiV3PKtmI75mlBc
z9rnSAPqGsaE5moZSgg1d83nnbuM+PL5fpJnelNbUm4uoKdjj4yDbgtW6g==
-----END PUBLIC KEY-----
";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn with_secrets(c: &mut Config) {
    c.sites[0].identity_secret = Some(SECRET.into());
    c.sites[0].identity_public_key = Some(EC_PUBLIC.into());
    c.sites[1].identity_secret = Some(OTHER_SECRET.into());
}

fn claims(sub: &str) -> Value {
    json!({
        "sub": sub,
        "aud": SITE,
        "exp": now() + 600,
        "name": "Ada Lovelace",
        "email": "ada@shop.example",
        "order": { "number": "1042", "status": "shipped" },
    })
}

fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// base64url without padding, for the hand-made tokens no library would sign.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A visitor sends `identify` and gets the refusal's code, or `None` when it was accepted
/// (proved by the pong of a ping sent after it).
async fn identify(v: &mut Client, token: &str) -> Option<ErrorCode> {
    v.send(&ClientMsg::Identify {
        token: token.into(),
    })
    .await;
    v.roundtrip().await.iter().find_map(|m| match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    })
}

/// The visitor's first message; the context and line agents get for it.
async fn first_message(relay: &TestRelay, v: &mut Client) -> (Context, ConversationSummary) {
    let mut agent = relay.agent(AGENT_TOKEN).await;
    v.say("first", "where is my order?").await;
    v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
        .await;
    let conv = v.conversation_id();
    let context = agent
        .until(|m| match m {
            ServerMsg::Context {
                conversation_id,
                context,
            } if *conversation_id == conv => Some(context.clone()),
            _ => None,
        })
        .await;
    let line = agent
        .until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv => Some(s.clone()),
            _ => None,
        })
        .await;
    (context, line)
}

#[tokio::test]
async fn a_valid_token_marks_its_fields_verified_for_agents() {
    let relay = TestRelay::start_with(with_secrets).await;
    // The page claims a verified identity of its own: overwritten.
    let forged = Context {
        identity: Some(Identity {
            id: Some("admin".into()),
            name: Some("Page says".into()),
            email: None,
            verified: vec![Verified::Id, Verified::Name],
        }),
        ..Default::default()
    };
    let mut v = relay.visitor_with(None, Some(forged.clone())).await;
    assert_eq!(
        identify(&mut v, &hs256(&claims("cust-42"), SECRET)).await,
        None
    );
    // A later context from the page cannot undo or overwrite the verified fields.
    v.send(&ClientMsg::SetContext { context: forged }).await;
    let (context, line) = first_message(&relay, &mut v).await;
    let identity = context.identity.unwrap();
    assert_eq!(identity.id.as_deref(), Some("cust-42"));
    assert_eq!(identity.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(identity.email.as_deref(), Some("ada@shop.example"));
    assert_eq!(
        identity.verified,
        vec![
            Verified::Id,
            Verified::Name,
            Verified::Email,
            Verified::Order
        ]
    );
    assert_eq!(context.order.unwrap().number, "1042");
    assert_eq!(line.customer_id.as_deref(), Some("cust-42"));
    assert_eq!(line.visitor_name.as_deref(), Some("Ada Lovelace"));
}

#[tokio::test]
async fn an_unverified_identity_is_marked_as_the_sites_claim() {
    let relay = TestRelay::start_with(with_secrets).await;
    let claimed = Context {
        identity: Some(Identity {
            id: Some("cust-42".into()),
            name: Some("Claimed".into()),
            email: None,
            verified: vec![Verified::Id, Verified::Name],
        }),
        ..Default::default()
    };
    let mut v = relay.visitor_with(None, Some(claimed)).await;
    let (context, line) = first_message(&relay, &mut v).await;
    let identity = context.identity.unwrap();
    assert_eq!(identity.name.as_deref(), Some("Claimed"));
    assert!(identity.verified.is_empty(), "{identity:?}");
    assert_eq!(line.customer_id, None, "an unverified id links nothing");
}

#[tokio::test]
async fn expired_forged_wrong_site_none_and_garbage_tokens_are_refused() {
    let relay = TestRelay::start_with(with_secrets).await;
    // Each case on a connection of its own: identify shares the context frames' rate limit.
    let fresh = || relay.visitor();
    let mut expired = claims("cust-42");
    expired["exp"] = json!(now() - 120);
    assert_eq!(
        identify(&mut fresh().await, &hs256(&expired, SECRET)).await,
        Some(ErrorCode::IdentityExpired)
    );
    // Expired and forged: the signature is checked first.
    assert_eq!(
        identify(
            &mut fresh().await,
            &hs256(&expired, "not-the-shop-secret-0123456789abcdef")
        )
        .await,
        Some(ErrorCode::IdentityInvalid)
    );
    assert_eq!(
        identify(
            &mut fresh().await,
            &hs256(&claims("cust-42"), "not-the-shop-secret-0123456789abcdef")
        )
        .await,
        Some(ErrorCode::IdentityInvalid)
    );
    // A token for the other site, signed with its own secret or (a leak) with this one.
    let mut other = claims("cust-42");
    other["aud"] = json!(OTHER_SITE);
    for secret in [OTHER_SECRET, SECRET] {
        assert_eq!(
            identify(&mut fresh().await, &hs256(&other, secret)).await,
            Some(ErrorCode::IdentityInvalid),
            "{secret}"
        );
    }
    let mut no_aud = claims("cust-42");
    no_aud.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        identify(&mut fresh().await, &hs256(&no_aud, SECRET)).await,
        Some(ErrorCode::IdentityInvalid)
    );
    let mut no_exp = claims("cust-42");
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        identify(&mut fresh().await, &hs256(&no_exp, SECRET)).await,
        Some(ErrorCode::IdentityInvalid)
    );
    // `alg: none`, unsigned, with and without a signature part.
    let body = b64(claims("cust-42").to_string().as_bytes());
    for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
        let head = b64(header.as_bytes());
        for token in [format!("{head}.{body}."), format!("{head}.{body}")] {
            assert_eq!(
                identify(&mut fresh().await, &token).await,
                Some(ErrorCode::IdentityInvalid),
                "{token}"
            );
        }
    }
    // The HS256 header with the signature of another token.
    let good = hs256(&claims("cust-1"), SECRET);
    let sig = good.rsplit('.').next().unwrap();
    let head = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    assert_eq!(
        identify(&mut fresh().await, &format!("{head}.{body}.{sig}")).await,
        Some(ErrorCode::IdentityInvalid)
    );
    for garbage in ["x", "a.b.c", "....", "\u{0}\u{1}"] {
        assert_eq!(
            identify(&mut fresh().await, garbage).await,
            Some(ErrorCode::IdentityInvalid),
            "{garbage:?}"
        );
    }
    assert_eq!(
        identify(&mut fresh().await, "").await,
        Some(ErrorCode::Invalid)
    );
    let huge = "a".repeat(MAX_IDENTITY_TOKEN_BYTES + 1);
    assert_eq!(
        identify(&mut fresh().await, &huge).await,
        Some(ErrorCode::TooLarge)
    );
    // An oversized claim from a validly signed token is refused too.
    let mut long = claims("cust-42");
    long["name"] = json!("n".repeat(600));
    assert_eq!(
        identify(&mut fresh().await, &hs256(&long, SECRET)).await,
        Some(ErrorCode::IdentityInvalid)
    );

    // Nothing of refused tokens reaches the visitor's context.
    let mut v = fresh().await;
    for token in [hs256(&expired, SECRET), hs256(&other, SECRET)] {
        assert!(identify(&mut v, &token).await.is_some());
    }
    let (context, line) = first_message(&relay, &mut v).await;
    assert_eq!(context.identity, None);
    assert_eq!(line.customer_id, None);
}

#[tokio::test]
async fn a_site_without_identity_keys_verifies_nothing() {
    let relay = TestRelay::start().await;
    let mut v = relay.visitor().await;
    assert_eq!(
        identify(&mut v, &hs256(&claims("cust-42"), SECRET)).await,
        Some(ErrorCode::IdentityInvalid)
    );
}

#[tokio::test]
async fn es256_tokens_verify_with_the_configured_public_key() {
    let relay = TestRelay::start_with(with_secrets).await;
    let mut v = relay.visitor().await;
    let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims("cust-7"), &key).unwrap();
    assert_eq!(identify(&mut v, &token).await, None);
    // The public key used as an HMAC secret (the classic confusion) is refused.
    assert_eq!(
        identify(&mut v, &hs256(&claims("cust-8"), EC_PUBLIC)).await,
        Some(ErrorCode::IdentityInvalid)
    );
    let (_, line) = first_message(&relay, &mut v).await;
    assert_eq!(line.customer_id.as_deref(), Some("cust-7"));
}

#[tokio::test]
async fn required_identity_refuses_messages_until_identified() {
    let relay = TestRelay::start_with(|c| {
        with_secrets(c);
        c.sites[0].identity = IdentityMode::Required;
    })
    .await;
    let mut v = relay.visitor().await;
    v.say("early", "hello?").await;
    match v.recv().await {
        ServerMsg::Error {
            code: ErrorCode::IdentityRequired,
            client_id,
            ..
        } => assert_eq!(client_id.as_deref(), Some("early")),
        other => panic!("expected identity_required, got {other:?}"),
    }
    let mut expired = claims("cust-42");
    expired["exp"] = json!(now() - 120);
    assert_eq!(
        identify(&mut v, &hs256(&expired, SECRET)).await,
        Some(ErrorCode::IdentityExpired)
    );
    v.say("early", "hello?").await;
    assert!(matches!(
        v.recv().await,
        ServerMsg::Error {
            code: ErrorCode::IdentityRequired,
            ..
        }
    ));
    let stored = relay.relay.state.broker.stored_counts(SITE).await.unwrap();
    assert_eq!(stored, (0, 0), "nothing stored before the identity");
    assert_eq!(
        identify(&mut v, &hs256(&claims("cust-42"), SECRET)).await,
        None
    );
    let (_, line) = first_message(&relay, &mut v).await;
    assert_eq!(line.customer_id.as_deref(), Some("cust-42"));
}

/// The token in `hello`: a valid one identifies at once (and a stored visitor keeps its
/// verified fields on the next connection without it); an invalid one is reported after
/// `welcome` and the connection stays.
#[tokio::test]
async fn an_identity_token_in_hello() {
    let relay = TestRelay::start_with(with_secrets).await;
    let hello = |token: Option<String>, identity: String| {
        ClientMsg::Hello(switchboard_protocol::client::Hello {
            protocol: switchboard_protocol::PROTOCOL_VERSION,
            token,
            context: Some(Context::default()),
            identity_token: Some(identity),
        })
    };
    let url = relay.url(&format!("/v1/visitor?site={SITE}"));
    let mut bad = Client::connect(&url, Some(SITE_ORIGIN)).await.unwrap();
    bad.send(&hello(None, "forged.token.here".into())).await;
    let mut bad = bad.welcome().await;
    assert!(matches!(
        bad.recv().await,
        ServerMsg::Error {
            code: ErrorCode::IdentityInvalid,
            ..
        }
    ));
    bad.roundtrip().await;

    let mut v = Client::connect(&url, Some(SITE_ORIGIN)).await.unwrap();
    v.send(&hello(None, hs256(&claims("cust-42"), SECRET)))
        .await;
    let mut v = v.welcome().await;
    let (_, line) = first_message(&relay, &mut v).await;
    assert_eq!(line.customer_id.as_deref(), Some("cust-42"));
    // Reconnecting without the token (a reload) keeps the verified identity.
    let token = v.welcome.as_ref().unwrap().token.clone();
    drop(v);
    let mut again = relay.visitor_with(token, Some(Context::default())).await;
    again.roundtrip().await;
    let conv = again.conversation_id();
    let summary = relay
        .relay
        .state
        .broker
        .summary(&conv)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.customer_id.as_deref(), Some("cust-42"));
}

/// The same customer on two devices (two visitors, two conversations): both lines carry the
/// customer id, so an agent can find one from the other.
#[tokio::test]
async fn a_verified_customer_is_linked_across_devices() {
    let relay = TestRelay::start_with(with_secrets).await;
    let mut laptop = relay.visitor().await;
    let mut phone = relay.visitor().await;
    for v in [&mut laptop, &mut phone] {
        assert_eq!(identify(v, &hs256(&claims("cust-42"), SECRET)).await, None);
    }
    let (_, a) = first_message(&relay, &mut laptop).await;
    let (_, b) = first_message(&relay, &mut phone).await;
    assert_ne!(a.id, b.id);
    assert_ne!(a.visitor_id, b.visitor_id);
    assert_eq!(a.customer_id.as_deref(), Some("cust-42"));
    assert_eq!(b.customer_id, a.customer_id);
}

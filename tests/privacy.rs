//! Privacy over HTTP against a real relay (SQLite and Redis): the admin API exports and
//! deletes a visitor, refuses everyone else and every malformed request with a typed error,
//! and the retention job purges old conversations while the relay runs.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use reqwest::StatusCode;
use serde_json::Value;
use switchboard_protocol::context::{Identity, Page};
use switchboard_protocol::{Context, Owner, ServerMsg};
use switchboard_relay::broker::NewMessage;
use switchboard_relay::config::{Agent, AgentRole, Config};
use switchboard_relay::limits::Rate;

use crate::redis_server::RedisServer;
use crate::util::*;

const ADMIN_TOKEN: &str = "admin-token-ada-0123456789abcdef0123";
const OTHER_ADMIN_TOKEN: &str = "admin-token-oscar-0123456789abcdef01";

/// [`test_config`] plus an admin of [`SITE`] and an admin of [`OTHER_SITE`].
fn with_admins(c: &mut Config) {
    for (id, token, site) in [
        ("ada", ADMIN_TOKEN, SITE),
        ("oscar", OTHER_ADMIN_TOKEN, OTHER_SITE),
    ] {
        c.agents.push(Agent {
            id: id.into(),
            name: id.into(),
            token: Some(token.into()),
            password_hash: None,
            email: None,
            sites: vec![site.into()],
            role: AgentRole::Admin,
        });
    }
}

async fn request(
    method: reqwest::Method,
    url: &str,
    auth: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A visitor that said two things (acknowledged, so stored), with an identity in its context;
/// returns the connection, its token, its conversation and its visitor id.
async fn chatting_visitor(relay: &TestRelay) -> (Client, String, String, String) {
    let context = Context {
        identity: Some(Identity {
            email: Some("mia@mail.example".into()),
            ..Identity::default()
        }),
        page: Some(Page {
            url: "https://shop.example/orders/1234".into(),
            title: "Order 1234".into(),
            ..Page::default()
        }),
        ..Context::default()
    };
    let mut v = relay.visitor_with(None, Some(context)).await;
    let welcome = v.welcome.clone().unwrap();
    for (id, text) in [
        ("c1", "my order 1234 is late"),
        ("c2", "call me on 555-0100"),
    ] {
        v.say(id, text).await;
        v.until(|m| matches!(m, ServerMsg::Ack { client_id, .. } if client_id == id).then_some(()))
            .await;
    }
    let conv = welcome.conversation_id.unwrap();
    (v, welcome.token.unwrap(), conv, welcome.id)
}

async fn export_and_delete(relay: &TestRelay) {
    let (mut v, token, conv, visitor) = chatting_visitor(relay).await;
    let url = relay.http(&format!("/v1/admin/visitors/{visitor}"));

    let (status, headers, body) =
        request(reqwest::Method::GET, &url, Some(&bearer(ADMIN_TOKEN))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"visitor-{visitor}.json\"")
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["visitor"]["id"], visitor.as_str());
    assert_eq!(
        body["visitor"]["context"]["identity"]["email"],
        "mia@mail.example"
    );
    let convs = body["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0]["id"], conv.as_str());
    let texts: Vec<&str> = convs[0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["my order 1234 is late", "call me on 555-0100"]);
    // The page trail is stored about the visitor too.
    let pages = body["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 1, "{body}");
    assert_eq!(pages[0]["url"], "https://shop.example/orders/1234");
    assert_eq!(pages[0]["title"], "Order 1234");

    // The operator may export too.
    let (status, _, _) = request(reqwest::Method::GET, &url, Some(&bearer(OPERATOR_TOKEN))).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) =
        request(reqwest::Method::DELETE, &url, Some(&bearer(ADMIN_TOKEN))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["conversations"], 1);
    // The visitor's socket is told to reconnect; with its token gone it starts over.
    assert_eq!(v.closed().await, Some(4012));
    assert!(relay.stored(&conv).await.is_empty());
    assert!(relay
        .relay
        .state
        .broker
        .conversation(&conv)
        .await
        .unwrap()
        .is_none());
    let (status, _, body) = request(reqwest::Method::GET, &url, Some(&bearer(ADMIN_TOKEN))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _, _) = request(reqwest::Method::DELETE, &url, Some(&bearer(ADMIN_TOKEN))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let again = relay.visitor_with(Some(token), None).await;
    let welcome = again.welcome.unwrap();
    assert_ne!(welcome.id, visitor, "a new visitor");
    assert_ne!(welcome.conversation_id.unwrap(), conv);
}

#[tokio::test]
async fn an_admin_exports_and_deletes_a_visitor_on_sqlite() {
    let relay = TestRelay::start_with(with_admins).await;
    export_and_delete(&relay).await;
    relay.stop().await;
}

#[tokio::test]
async fn an_admin_exports_and_deletes_a_visitor_on_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let relay = TestRelay::start_with(|c| {
        with_admins(c);
        c.redis_url = Some(url);
    })
    .await;
    export_and_delete(&relay).await;
    relay.stop().await;
    drop(redis);
}

#[tokio::test]
async fn a_delete_on_one_node_closes_the_visitors_socket_on_another() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let node = |url: String| {
        TestRelay::start_with(move |c| {
            with_admins(c);
            c.redis_url = Some(url);
        })
    };
    let (a, b) = (node(url.clone()).await, node(url).await);
    let (mut v, _, conv, visitor) = chatting_visitor(&a).await;
    let (status, _, body) = request(
        reqwest::Method::DELETE,
        &b.http(&format!("/v1/admin/visitors/{visitor}")),
        Some(&bearer(ADMIN_TOKEN)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(v.closed().await, Some(4012));
    assert!(a.stored(&conv).await.is_empty());
    a.stop().await;
    b.stop().await;
    drop(redis);
}

#[tokio::test]
async fn only_admins_of_the_visitors_site_get_anything_and_bad_requests_are_typed() {
    let relay = TestRelay::start_with(with_admins).await;
    let (_v, _, conv, visitor) = chatting_visitor(&relay).await;
    let url = relay.http(&format!("/v1/admin/visitors/{visitor}"));
    use reqwest::Method;

    // An agent that is not an admin.
    for method in [Method::GET, Method::DELETE] {
        let (status, _, body) = request(method, &url, Some(&bearer(AGENT_TOKEN))).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
    }
    // An admin of another site sees exactly what an unknown id gets.
    let (status, _, foreign) =
        request(Method::DELETE, &url, Some(&bearer(OTHER_ADMIN_TOKEN))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unknown = relay.http("/v1/admin/visitors/v_0123456789abcdef");
    let (status, _, missing) =
        request(Method::GET, &unknown, Some(&bearer(OTHER_ADMIN_TOKEN))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(foreign, missing);
    let (status, _, _) = request(Method::GET, &url, Some(&bearer(OTHER_ADMIN_TOKEN))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(relay.stored(&conv).await.len(), 2, "nothing was deleted");

    // Ids that cannot be stored ones.
    let long = "v".repeat(65);
    for id in [
        long.as_str(),
        "v_%C3%BC",
        "v_1%2F..",
        "%00",
        "a%20b",
        "v_1;DROP",
    ] {
        let (status, _, body) = request(
            Method::GET,
            &relay.http(&format!("/v1/admin/visitors/{id}")),
            Some(&bearer(ADMIN_TOKEN)),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid")),
            "{id}"
        );
    }
    // Credentials that are no credentials.
    let admin_tail = &ADMIN_TOKEN[1..];
    for auth in [
        None,
        Some("Basic YWRtaW46YWRtaW4="),
        Some("Bearer "),
        Some("bearer x"),
        Some(admin_tail),
    ] {
        let (status, _, body) = request(Method::DELETE, &url, auth).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{auth:?}"
        );
    }
    // A non-UTF-8 header value and an oversized body announced on a DELETE.
    let res = reqwest::Client::new()
        .delete(&url)
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Over a raw socket, so the announced length is exactly what the relay reads.
    let mut socket = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    let head = format!(
        "DELETE /v1/admin/visitors/{visitor} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Length: 100000000\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");
    // Garbage in a body nobody reads changes nothing.
    let res = reqwest::Client::new()
        .get(&url)
        .bearer_auth(ADMIN_TOKEN)
        .body("{\"visitor\":\u{0}[[[")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(relay.stored(&conv).await.len(), 2, "nothing was deleted");
    relay.stop().await;
}

#[tokio::test]
async fn repeated_failures_and_floods_are_refused_with_429() {
    let relay = TestRelay::start_with(|c| {
        with_admins(c);
        c.limits.enabled = true;
        c.limits.auth_failures_per_address = Rate::new(3, 1);
        c.limits.admin_api_per_token = Rate::new(4, 1);
    })
    .await;
    let url = relay.http("/v1/admin/visitors/v_0123456789abcdef");
    use reqwest::Method;
    // An admin's own quota: a burst, then 429 with a wait, for that admin only.
    for _ in 0..4 {
        let (status, _, _) = request(Method::GET, &url, Some(&bearer(ADMIN_TOKEN))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, headers, body) = request(Method::GET, &url, Some(&bearer(ADMIN_TOKEN))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    assert!(headers.contains_key("retry-after"));
    let (status, _, _) = request(Method::GET, &url, Some(&bearer(OPERATOR_TOKEN))).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another admin's quota is its own"
    );

    // Guessing tokens: past the failures' burst the address is refused, right token or not.
    for i in 0..3 {
        let (status, _, _) =
            request(Method::DELETE, &url, Some(&bearer(&format!("guess-{i}")))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = request(Method::DELETE, &url, Some(&bearer("guess-3"))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the failure past the burst blocks what follows"
    );
    let (status, _, body) = request(Method::GET, &url, Some(&bearer(OTHER_ADMIN_TOKEN))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    relay.stop().await;
}

/// Retention of a day on [`SITE`], passes every 2 s: long enough for a test's setup to finish
/// before the first pass.
fn with_retention(c: &mut Config) {
    c.sites[0].retention_days = Some(1);
    c.purge_interval = Duration::from_secs(2);
}

#[tokio::test]
async fn the_purge_job_runs_in_a_relay_on_sqlite() {
    purge_job(TestRelay::start_with(with_retention).await).await;
}

#[tokio::test]
async fn the_purge_job_runs_in_a_relay_on_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let relay = TestRelay::start_with(|c| {
        with_retention(c);
        c.redis_url = Some(url);
    })
    .await;
    purge_job(relay).await;
    drop(redis);
}

/// Old conversations of the site go (a tab still on one is closed), recent ones and another
/// site's stay.
async fn purge_job(relay: TestRelay) {
    let broker = relay.relay.state.broker.clone();
    let long_ago = switchboard_relay::clock::now() - 3 * 86_400_000;
    let mut old = Vec::new();
    let token = "visitor-token-of-a-tab-left-open-for-days".to_owned();
    let hash_a = switchboard_relay::token::hash(&token);
    for (site, hash) in [
        (SITE, hash_a.as_str()),
        (SITE, "hash-b"),
        (OTHER_SITE, "hash-c"),
    ] {
        let v = broker
            .create_visitor(site, hash, Context::default())
            .await
            .unwrap();
        let conv = broker
            .open_conversation(site, &v.id, long_ago, &Owner::Humans)
            .await
            .unwrap();
        let mut m = NewMessage::new(
            &conv.id,
            "old-1".into(),
            visitor_sender(&v.id),
            "old news".into(),
        );
        m.at = long_ago;
        broker.append(site, m).await.unwrap();
        old.push(conv.id);
    }
    let (_v, _, recent, _) = chatting_visitor(&relay).await;
    // A tab still connected to an old conversation (connecting is no activity).
    let mut tab = relay.visitor_with(Some(token), None).await;
    assert_eq!(tab.conversation_id(), old[0]);
    eventually("the old conversations of the site are purged", WAIT, || {
        let (broker, old) = (broker.clone(), old.clone());
        async move {
            let a = broker.conversation(&old[0]).await.unwrap();
            let b = broker.conversation(&old[1]).await.unwrap();
            (a.is_none() && b.is_none()).then_some(())
        }
    })
    .await;
    assert!(relay.stored(&old[0]).await.is_empty());
    assert_eq!(tab.closed().await, Some(4012), "the tab starts over");
    assert_eq!(
        relay.stored(&recent).await.len(),
        2,
        "recent activity is kept"
    );
    assert_eq!(
        relay.stored(&old[2]).await.len(),
        1,
        "a site without retention keeps all"
    );
    relay.stop().await;
}

fn visitor_sender(id: &str) -> switchboard_protocol::Sender {
    switchboard_protocol::Sender {
        kind: switchboard_protocol::SenderKind::Visitor,
        id: id.into(),
        name: None,
        avatar: None,
    }
}

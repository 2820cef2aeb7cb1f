//! The Chrome DevTools Protocol beside WebDriver: the browser is started with a remote debugging
//! port (`Chromedriver::browser_with_cdp`), and this client attaches to its page over a second
//! WebSocket, so a test sees every request, WebSocket and storage write the page makes, not
//! only what the page's own scripts can observe.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::util::eventually;

type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

pub struct Cdp {
    out: mpsc::UnboundedSender<String>,
    replies: Replies,
    events: Arc<Mutex<Vec<Value>>>,
    next: AtomicU64,
}

impl Cdp {
    /// Attaches to the browser's (first) page; the target stays the same across navigations.
    pub async fn attach(port: u16) -> Cdp {
        let url = eventually(
            "a DevTools page target",
            Duration::from_secs(20),
            || async {
                let list: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                list.as_array()?
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                    .map(str::to_owned)
            },
        )
        .await;
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("the DevTools WebSocket");
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let replies: Replies = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        let (r, e) = (replies.clone(), events.clone());
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                match v["id"].as_u64() {
                    Some(id) => {
                        if let Some(tx) = r.lock().unwrap().remove(&id) {
                            let _ = tx.send(v);
                        }
                    }
                    None => e.lock().unwrap().push(v),
                }
            }
        });
        Cdp {
            out,
            replies,
            events,
            next: AtomicU64::new(1),
        }
    }

    /// Runs a command; panics on a protocol error.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.replies.lock().unwrap().insert(id, tx);
        self.out
            .send(json!({ "id": id, "method": method, "params": params }).to_string())
            .expect("the DevTools connection");
        let reply = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap_or_else(|_| panic!("{method}: no answer"))
            .expect("the DevTools connection");
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// The params of every event named `method` seen so far.
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["method"] == method)
            .map(|e| e["params"].clone())
            .collect()
    }

    /// URLs of every request the page made (documents, scripts, fetches, WebSocket handshakes).
    pub fn requested(&self) -> Vec<String> {
        let mut urls: Vec<String> = self
            .events("Network.requestWillBeSent")
            .iter()
            .filter_map(|e| e["request"]["url"].as_str().map(str::to_owned))
            .collect();
        urls.extend(
            self.events("Network.webSocketCreated")
                .iter()
                .filter_map(|e| e["url"].as_str().map(str::to_owned)),
        );
        urls
    }

    /// Every `DOMStorage` change event (item added, updated, removed, cleared).
    pub fn storage_changes(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| {
                e["method"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("DOMStorage."))
            })
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
    }
}

//! What the widget costs the page that embeds it, measured in headless Chromium over the
//! DevTools protocol (issue 17): bytes per phase (a page view without interaction, after the
//! hover prefetch, to the first message sent), the longest main-thread task and the total
//! blocking time from the widget at 1× and 4× CPU (Chromium's trace: `RunTask` on the
//! renderer's main thread after the visitor reaches for the launcher), and click-to-usable
//! (a click on the launcher → the composer is shown and enabled) on Lighthouse's mobile
//! profile (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up, 4× CPU).
//!
//! A benchmark, not a test: `cargo xtask hostcost` builds `dist/` and the relay, then runs
//! this (`cargo run -p switchboard-tests --example hostcost -- [--runs N] [--only 1x|4x|mobile]
//! [--smoke] [--chromium-arg=FLAG]…`). It
//! shares the e2e tests' relay process and DevTools client through `#[path]` modules.

#[allow(dead_code)]
#[path = "../e2e/cdp.rs"]
mod cdp;
#[allow(dead_code)]
#[path = "../process.rs"]
mod process;
#[allow(dead_code)]
#[path = "../util.rs"]
mod util;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cdp::Cdp;
use process::RelayProcess;
use serde_json::{json, Value};

/// A task longer than this blocks input (the Long Tasks API's and Lighthouse's threshold).
const LONG_TASK_MS: f64 = 50.0;

/// Records the click on the launcher and when the composer first accepts input, in the page's
/// own clock, before any of the page's scripts run.
const PROBE: &str = r#"
window.__hc = {};
addEventListener("click", function () {
  if (window.__hc.click != null) return;
  window.__hc.click = performance.now();
  (function poll() {
    var h = document.getElementById("switchboard-host"), r = h && h.shadowRoot;
    var p = r && r.querySelector("[data-testid=panel]");
    if (p && p.getClientRects().length && window.__hc.panel == null) window.__hc.panel = performance.now();
    var i = r && r.querySelector("[data-testid=composer-input]");
    if (i && !i.disabled && !i.readOnly && i.getClientRects().length) window.__hc.usable = performance.now();
    else requestAnimationFrame(poll);
  })();
}, true);
"#;

const CATEGORIES: &str = "toplevel,devtools.timeline,disabled-by-default-devtools.timeline,\
blink.user_timing,v8.execute,v8.wasm,disabled-by-default-v8.compile";

struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
    port: u16,
}

impl Chromium {
    fn start(extra: &[String]) -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let port = util::free_port();
        let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let child = Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
            ])
            .args(extra)
            .arg(format!("--remote-debugging-port={port}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        Chromium {
            child,
            _profile: profile,
            port,
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Profile {
    /// Localhost network, the CPU slowed `n` times: hover, wait for the prefetch, click, send.
    Desktop(u32),
    /// Lighthouse's mobile profile: a tap with nothing prefetched, to the usable composer.
    Mobile,
}

#[derive(Default)]
struct Bytes {
    requests: usize,
    sockets: usize,
    /// Everything on the wire: the shop's page and the widget, headers included.
    bytes: u64,
    /// What came from or went to the relay: the loader, the widget, the socket's frames.
    widget: u64,
}

#[derive(Default)]
struct Run {
    page_view: Bytes,
    after_prefetch: Bytes,
    first_message: Bytes,
    /// Over the widget's part (from the visitor reaching for the launcher on).
    longest_ms: f64,
    tbt_ms: f64,
    /// Over the page view before it (the page and the loader).
    page_longest_ms: f64,
    /// The widget's three longest tasks: their length and what they spent it in (trace
    /// event names, milliseconds; nested events count in each of their parents).
    top: Vec<(f64, Vec<(String, f64)>)>,
    panel_ms: f64,
    usable_ms: f64,
}

async fn eval(cdp: &Cdp, expr: &str) -> Value {
    let r = cdp
        .call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        )
        .await;
    r["result"]["value"].clone()
}

async fn until(cdp: &Cdp, what: &str, expr: &str, limit: Duration) {
    let start = Instant::now();
    while eval(cdp, expr).await != Value::Bool(true) {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no request has finished for `quiet`.
async fn network_quiet(cdp: &Cdp, quiet: Duration) {
    let mut seen = usize::MAX;
    loop {
        let now = cdp.events("Network.loadingFinished").len()
            + cdp.events("Network.webSocketFrameReceived").len();
        if now == seen {
            return;
        }
        seen = now;
        tokio::time::sleep(quiet).await;
    }
}

fn bytes(cdp: &Cdp, relay: &str) -> Bytes {
    let urls: std::collections::HashMap<String, String> = cdp
        .events("Network.requestWillBeSent")
        .iter()
        .filter_map(|e| {
            Some((
                e["requestId"].as_str()?.to_owned(),
                e["request"]["url"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let (mut http, mut widget) = (0, 0);
    for e in cdp.events("Network.loadingFinished") {
        let n = e["encodedDataLength"].as_f64().unwrap_or(0.0) as u64;
        http += n;
        if e["requestId"]
            .as_str()
            .and_then(|id| urls.get(id))
            .is_some_and(|u| u.starts_with(relay))
        {
            widget += n;
        }
    }
    let frames: u64 = [
        "Network.webSocketFrameSent",
        "Network.webSocketFrameReceived",
    ]
    .iter()
    .flat_map(|m| cdp.events(m))
    .filter_map(|e| {
        e["response"]["payloadData"]
            .as_str()
            .map(|s| s.len() as u64)
    })
    .sum();
    Bytes {
        requests: cdp.events("Network.requestWillBeSent").len(),
        sockets: cdp.events("Network.webSocketCreated").len(),
        bytes: http + frames,
        widget: widget + frames,
    }
}

const LAUNCHER: &str = r#"(function () {
  var r = document.getElementById("switchboard-host").shadowRoot;
  var b = r.querySelector("[data-testid=launcher-placeholder],[data-testid=launcher]").getBoundingClientRect();
  return [b.x + b.width / 2, b.y + b.height / 2];
})()"#;

const MOUNTED: &str = r#"(function () {
  var h = document.getElementById("switchboard-host"), r = h && h.shadowRoot;
  return !!(r && r.querySelector("[data-testid=launcher]"));
})()"#;

async fn mouse(cdp: &Cdp, kind: &str, x: f64, y: f64) {
    let mut p = json!({ "type": kind, "x": x, "y": y });
    if kind != "mouseMoved" {
        p["button"] = json!("left");
        p["clickCount"] = json!(1);
    }
    cdp.call("Input.dispatchMouseEvent", p).await;
}

async fn run(relay: &RelayProcess, profile: Profile, flags: &[String]) -> Run {
    let relay_origin = format!("http://127.0.0.1:{}/", relay.port);
    let browser = Chromium::start(flags);
    let cdp = Cdp::attach(browser.port).await;
    for domain in ["Network", "Page", "Runtime"] {
        cdp.call(&format!("{domain}.enable"), json!({})).await;
    }
    cdp.call("Network.setCacheDisabled", json!({ "cacheDisabled": true }))
        .await;
    let rate = match profile {
        Profile::Desktop(n) => n,
        Profile::Mobile => 4,
    };
    cdp.call("Emulation.setCPUThrottlingRate", json!({ "rate": rate }))
        .await;
    if profile == Profile::Mobile {
        cdp.call(
            "Network.emulateNetworkConditions",
            json!({
                "offline": false,
                "latency": 150,
                "downloadThroughput": 1_600_000 / 8,
                "uploadThroughput": 750_000 / 8,
            }),
        )
        .await;
    }
    cdp.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": PROBE }),
    )
    .await;
    cdp.call(
        "Tracing.start",
        json!({ "categories": CATEGORIES, "transferMode": "ReportEvents" }),
    )
    .await;
    cdp.clear();

    cdp.call("Page.navigate", json!({ "url": relay.shop("index.html") }))
        .await;
    until(
        &cdp,
        "the page's load and the loader's launcher",
        r#"document.readyState == "complete" && !!document.getElementById("switchboard-host")"#,
        Duration::from_secs(60),
    )
    .await;
    network_quiet(&cdp, Duration::from_millis(1000)).await;
    let mut out = Run {
        page_view: bytes(&cdp, &relay_origin),
        ..Run::default()
    };

    eval(&cdp, "performance.mark('hc:reach')").await;
    let at = eval(&cdp, LAUNCHER).await;
    let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
    mouse(&cdp, "mouseMoved", x, y).await;
    if profile != Profile::Mobile {
        until(&cdp, "the widget mounted", MOUNTED, Duration::from_secs(60)).await;
        network_quiet(&cdp, Duration::from_millis(500)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        out.after_prefetch = bytes(&cdp, &relay_origin);
    }
    mouse(&cdp, "mousePressed", x, y).await;
    mouse(&cdp, "mouseReleased", x, y).await;
    until(
        &cdp,
        "the composer accepting input",
        "window.__hc.usable != null",
        Duration::from_secs(60),
    )
    .await;
    let hc = eval(&cdp, "window.__hc").await;
    let click = hc["click"].as_f64().unwrap();
    out.usable_ms = hc["usable"].as_f64().unwrap() - click;
    out.panel_ms = hc["panel"].as_f64().map_or(out.usable_ms, |p| p - click);

    if profile != Profile::Mobile {
        cdp.call("Input.insertText", json!({ "text": "hello from hostcost" }))
            .await;
        for kind in ["keyDown", "keyUp"] {
            cdp.call(
                "Input.dispatchKeyEvent",
                json!({ "type": kind, "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13 }),
            )
            .await;
        }
        let start = Instant::now();
        while !cdp.events("Network.webSocketFrameSent").iter().any(|f| {
            f["response"]["payloadData"]
                .as_str()
                .is_some_and(|s| s.contains("hello from hostcost"))
        }) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the first message was not sent"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        network_quiet(&cdp, Duration::from_millis(500)).await;
        out.first_message = bytes(&cdp, &relay_origin);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    cdp.call("Tracing.end", json!({})).await;
    let start = Instant::now();
    while cdp.events("Tracing.tracingComplete").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no tracingComplete"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let trace: Vec<Value> = cdp
        .events("Tracing.dataCollected")
        .into_iter()
        .flat_map(|d| d["value"].as_array().cloned().unwrap_or_default())
        .collect();
    tasks(&trace, &mut out);
    out
}

/// The longest task and total blocking time on the page's main thread, split at the
/// `hc:reach` mark: before it the page and the loader, from it on the widget.
fn tasks(trace: &[Value], out: &mut Run) {
    let mark = trace
        .iter()
        .find(|e| e["name"] == "hc:reach")
        .expect("the hc:reach mark in the trace");
    let pid = &mark["pid"];
    let reach = mark["ts"].as_f64().unwrap();
    let main = trace
        .iter()
        .find(|e| {
            e["ph"] == "M"
                && e["name"] == "thread_name"
                && &e["pid"] == pid
                && e["args"]["name"] == "CrRendererMain"
        })
        .map(|e| e["tid"].clone())
        .expect("the renderer's main thread");
    let on_main =
        |e: &&Value| &e["pid"] == pid && e["tid"] == main && e["ph"] == "X" && e["dur"].is_number();
    let run_tasks: Vec<&Value> = trace
        .iter()
        .filter(on_main)
        .filter(|e| e["name"] == "RunTask")
        .collect();
    let ms = |e: &Value| e["dur"].as_f64().unwrap() / 1000.0;
    let widget: Vec<&Value> = run_tasks
        .iter()
        .copied()
        .filter(|e| e["ts"].as_f64().unwrap() >= reach)
        .collect();
    out.page_longest_ms = run_tasks
        .iter()
        .filter(|e| e["ts"].as_f64().unwrap() < reach)
        .map(|e| ms(e))
        .fold(0.0, f64::max);
    out.tbt_ms = widget.iter().map(|e| (ms(e) - LONG_TASK_MS).max(0.0)).sum();
    let mut widget = widget;
    widget.sort_by(|a, b| ms(b).total_cmp(&ms(a)));
    out.longest_ms = widget.first().map_or(0.0, |e| ms(e));
    for task in widget.iter().take(3) {
        let t0 = task["ts"].as_f64().unwrap();
        let t1 = t0 + task["dur"].as_f64().unwrap();
        let mut parts: std::collections::BTreeMap<String, f64> = Default::default();
        for e in trace.iter().filter(on_main) {
            let ts = e["ts"].as_f64().unwrap();
            if ts >= t0 && ts < t1 && e["name"] != "RunTask" {
                let name = e["name"].as_str().unwrap_or("?").to_owned();
                *parts.entry(name).or_default() += ms(e);
            }
        }
        let mut parts: Vec<(String, f64)> = parts.into_iter().collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts.truncate(6);
        out.top.push((ms(task), parts));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().expect("--runs N"))
        .unwrap_or(if smoke { 1 } else { 3 });
    // Extra Chromium flags, for experiments: `--chromium-arg=--js-flags=--no-wasm-lazy-compilation`.
    let flags: Vec<String> = args
        .iter()
        .filter_map(|a| a.strip_prefix("--chromium-arg="))
        .map(str::to_owned)
        .collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let profiles: Vec<Profile> = [Profile::Desktop(1), Profile::Desktop(4), Profile::Mobile]
        .into_iter()
        .filter(|p| match only.map(String::as_str) {
            None => !smoke || *p == Profile::Desktop(1),
            Some("1x") => *p == Profile::Desktop(1),
            Some("4x") => *p == Profile::Desktop(4),
            Some("mobile") => *p == Profile::Mobile,
            Some(o) => panic!("--only 1x|4x|mobile, not {o}"),
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let relay = RelayProcess::start().await;
        println!(
            "relay {}; {runs} run(s) per profile, each in a fresh browser (cold cache)\n",
            process::relay_bin().display()
        );
        for profile in profiles {
            let mut all = Vec::new();
            for _ in 0..runs {
                all.push(run(&relay, profile, &flags).await);
            }
            report(profile, &all);
        }
    });
}

fn report(profile: Profile, runs: &[Run]) {
    let med = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let max = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).fold(0.0, f64::max);
    match profile {
        Profile::Desktop(rate) => {
            println!("## {rate}x CPU, localhost (median of {}; max)", runs.len());
            let b = &runs[0];
            for (phase, x) in [
                ("page view, no interaction", &b.page_view),
                ("after the hover prefetch", &b.after_prefetch),
                ("to the first message sent", &b.first_message),
            ] {
                println!(
                    "bytes {phase}: {} B from the relay, {} B in all on the wire ({} requests, {} sockets)",
                    x.widget, x.bytes, x.requests, x.sockets
                );
            }
            println!(
                "page view's longest task (page + loader): {:.0} ms",
                med(&|r| r.page_longest_ms)
            );
        }
        Profile::Mobile => println!(
            "## Lighthouse mobile: 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up, 4x CPU; a tap with nothing prefetched (median of {}; max)",
            runs.len()
        ),
    }
    println!(
        "widget's longest task: {:.0} ms ({:.0}); total blocking time: {:.0} ms ({:.0})",
        med(&|r| r.longest_ms),
        max(&|r| r.longest_ms),
        med(&|r| r.tbt_ms),
        max(&|r| r.tbt_ms)
    );
    println!(
        "click to panel shown: {:.0} ms; click to usable composer: {:.0} ms ({:.0})",
        med(&|r| r.panel_ms),
        med(&|r| r.usable_ms),
        max(&|r| r.usable_ms)
    );
    let worst = runs
        .iter()
        .max_by(|a, b| a.longest_ms.total_cmp(&b.longest_ms))
        .unwrap();
    for (i, (len, parts)) in worst.top.iter().enumerate() {
        let parts: Vec<String> = parts.iter().map(|(n, ms)| format!("{n} {ms:.0}")).collect();
        println!(
            "task {} of the worst run: {len:.0} ms: {}",
            i + 1,
            parts.join(", ")
        );
    }
    println!();
}

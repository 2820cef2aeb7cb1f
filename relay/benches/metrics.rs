//! What counting costs on the hot path: the calls a frame pays (`frame_in`, `frame_out`, a
//! refusal), timed over many iterations in a release build.
//!
//! `cargo bench -p switchboard-relay --bench metrics` (figures in BENCHMARKS.md).

use std::hint::black_box;
use std::time::Instant;

use switchboard_protocol::ErrorCode;
use switchboard_relay::metrics::Metrics;

const N: u32 = 20_000_000;

fn per_call(what: &str, mut f: impl FnMut(u32)) {
    // Warm-up, then the best of three runs (other processes share the cores).
    for i in 0..N / 10 {
        f(i);
    }
    let best = (0..3)
        .map(|_| {
            let start = Instant::now();
            for i in 0..N {
                f(black_box(i));
            }
            start.elapsed().as_nanos() as f64 / f64::from(N)
        })
        .fold(f64::INFINITY, f64::min);
    println!("{what:<58} {best:>6.2} ns");
}

fn main() {
    let m = Metrics::new();
    let ack = r#"{"type":"ack","conversation_id":"c_0123456789","client_id":"m1","seq":42,"at":1764547200000,"duplicate":false}"#;
    let canned = r#"{"type":"canned","site":"demo","items":[]}"#;
    let message = r#"{"type":"message","conversation_id":"c_0123456789","seq":42,"client_id":"m1","sender":{"kind":"visitor","id":"v_1"},"text":"hello there, I have a question about my order","at":1764547200000}"#;
    per_call("frame_in(\"send\") (first in the list)", |_| {
        m.frame_in(black_box("send"))
    });
    per_call("frame_in(\"delete_canned\") (last in the list)", |_| {
        m.frame_in(black_box("delete_canned"))
    });
    per_call("frame_out(ack frame) (second in the list)", |_| {
        m.frame_out(black_box(ack))
    });
    per_call("frame_out(canned frame) (last in the list)", |_| {
        m.frame_out(black_box(canned))
    });
    per_call("refused(rate_limited)", |_| {
        m.refused(black_box(ErrorCode::RateLimited))
    });
    per_call(
        "fanned_out(message frame): once per message per node",
        |i| m.fanned_out(black_box(message), 1_764_547_200_000 + u64::from(i % 1000)),
    );
    per_call("store(append, 1 ms): histogram observe, per append", |_| {
        m.store(
            switchboard_relay::metrics::StoreOp::Append,
            black_box(std::time::Duration::from_millis(1)),
        )
    });
}

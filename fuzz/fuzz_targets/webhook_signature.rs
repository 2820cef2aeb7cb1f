//! Webhook signature checking on attacker-chosen headers and bodies: never panics, never
//! accepts a signature made with another secret, always accepts its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::signature::{sign, verify};

const SECRET: &str = "fuzzing-secret-0123456789abcdef";
const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    // Split the input into the two headers and the body.
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (Some(ts), Some(sig), body) = (parts.next(), parts.next(), parts.next().unwrap_or(b""))
    else {
        return;
    };
    let (Ok(ts), Ok(sig)) = (std::str::from_utf8(ts), std::str::from_utf8(sig)) else {
        return;
    };
    if verify(SECRET, ts, sig, body, NOW).is_ok() {
        // Only a signature over exactly this timestamp and body, under this secret.
        let t: u64 = ts.trim().parse().expect("verified timestamps parse");
        assert!(sig.contains(&sign(SECRET, t, body)["v1=".len()..]));
    }
    assert_eq!(verify(SECRET, "1700000000", &sign(SECRET, NOW, body), body, NOW), Ok(()));
});

//! Webhook signatures, both ways: the relay signs every POST to a webhook bot, and a bot
//! written in Rust verifies it with [`verify`]. One definition, so the two cannot disagree.
//!
//! The header is `v1=` and the lowercase hex HMAC-SHA256 of `"{timestamp}.{body}"`. Several
//! comma-separated `v1=` values may appear (a relay rotating its secret signs with both); one
//! match is enough. Everything in the headers is attacker-controlled until it verifies, so
//! parsing is bounded and total: no panics, no allocation proportional to the input beyond
//! the header itself.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::webhook::REPLAY_WINDOW_SECS;

/// The longest signature header taken: a few signatures during a key rotation.
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 1024;

/// Why a webhook was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The timestamp header is not a whole number of seconds.
    BadTimestamp,
    /// The timestamp is further than [`REPLAY_WINDOW_SECS`] from the receiver's clock.
    Stale,
    /// The signature header is missing, too long, or has no `v1=` value of 64 hex digits.
    Malformed,
    /// No signature matches: wrong secret, or the body or timestamp was changed.
    Mismatch,
}

fn mac(secret: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header for a body sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("v1={}", crate::client_id::hex(&tag))
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

/// Checks a received webhook: its timestamp header against `now` (Unix seconds) and its
/// signature header against the raw body, in constant time per candidate.
pub fn verify(
    secret: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: u64,
) -> Result<(), SignatureError> {
    let timestamp: u64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if timestamp.abs_diff(now) > REPLAY_WINDOW_SECS {
        return Err(SignatureError::Stale);
    }
    if signature_header.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(SignatureError::Malformed);
    }
    let candidates = signature_header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(unhex)
        .collect::<Vec<_>>();
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = mac(secret, timestamp, body);
    if candidates
        .iter()
        .any(|c| expected.clone().verify_slice(c).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let body = br#"{"id":"evt_1"}"#;
        let sig = sign("a-long-random-signing-key", 1_700_000_000, body);
        let ok =
            |s: &str, t: &str, b: &[u8], now| verify("a-long-random-signing-key", t, s, b, now);
        assert_eq!(ok(&sig, "1700000000", body, 1_700_000_100), Ok(()));
        let rotated = format!("v1={}, {sig}", "0".repeat(64));
        assert_eq!(ok(&rotated, "1700000000", body, 1_700_000_000), Ok(()));
        assert_eq!(
            ok(&sig, "1700000001", body, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(&sig, "1700000000", b"{}", 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok(&sig, "1700000000", body, 1_700_001_000),
            Err(SignatureError::Stale)
        );
        assert_eq!(ok(&sig, "soon", body, 0), Err(SignatureError::BadTimestamp));
        assert_eq!(
            ok("v1=zz", "1700000000", body, 1_700_000_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            ok("", "1700000000", body, 1_700_000_000),
            Err(SignatureError::Malformed)
        );
        let long = "v1=".repeat(400);
        assert_eq!(
            ok(&long, "1700000000", body, 1_700_000_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(
                "another-key-entirely-0123456789",
                "1700000000",
                &sig,
                body,
                1_700_000_000
            ),
            Err(SignatureError::Mismatch)
        );
    }
}

//! Client ids for what browsers send (`send`, `postback`): the relay deduplicates resends by
//! client id, so two messages of one sender must never share one; 64 random bits make a
//! collision negligible without any coordination between tabs.

/// 16 lowercase hex characters from the browser's CSPRNG.
#[cfg(feature = "browser")]
pub fn random() -> String {
    let mut bytes = [0u8; 8];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // No Web Crypto (a very old browser): Math.random is unique enough for a client id.
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    hex(&bytes)
}

/// Lowercase hex: how client ids spell random bytes (the relay's tokens and ids use it too).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_lowercase_hex_within_the_limit() {
        let id = super::hex(&[0, 0xab, 0x10, 0xff, 1, 2, 3, 4]);
        assert_eq!(id, "00ab10ff01020304");
        assert!(id.len() <= crate::limits::MAX_CLIENT_ID_BYTES);
    }
}

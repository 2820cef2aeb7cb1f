//! Identity tokens as a page could send them, and claims as a site's server could sign them:
//! verification never panics, never accepts a token not signed with the site's key for this
//! site (another secret, `alg: none`, another audience), and accepts what the site signed
//! correctly.
//!
//! The first byte picks the mode: `t` the rest is a token as sent; anything else, the rest is
//! a claims object signed here (with the site's secret, another secret, and as `alg: none`).
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use switchboard_protocol::identity::{verify, SiteKeys};
use switchboard_protocol::ErrorCode;

const SITE: &str = "shop-key";
const SECRET: &str = "fuzzing-identity-secret-0123456789abcdef";
const OTHER_SECRET: &str = "another-sites-secret-0123456789abcdefgh";
/// An EC P-256 public key, so the ES256 path (and RS256/ES256 confusion) is reached too.
const EC_PUBLIC: &str = include_str!("jwt-es256-public.pem");

fn keys(site: &'static str, secret: &'static str) -> SiteKeys<'static> {
    SiteKeys {
        site,
        secret: Some(secret),
        public_key_pem: Some(EC_PUBLIC),
    }
}

fn typed(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::IdentityInvalid | ErrorCode::IdentityExpired
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == b't' {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        match verify(keys(SITE, SECRET), token) {
            Ok(claims) => {
                assert!(!claims.sub.is_empty());
                // Accepted under this site's keys only: not another site's, not without keys.
                assert!(verify(keys("other-site", SECRET), token).is_err());
                assert!(
                    verify(keys(SITE, OTHER_SECRET), token).is_err()
                        || jsonwebtoken::decode_header(token).unwrap().alg
                            == jsonwebtoken::Algorithm::ES256
                );
                let none = SiteKeys {
                    site: SITE,
                    secret: None,
                    public_key_pem: None,
                };
                assert!(verify(none, token).is_err());
            }
            Err((code, _)) => assert!(typed(code), "{code:?}"),
        }
        return;
    }
    // Claims the fuzzer chose, signed three ways.
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let signed = |secret: &str| {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).expect("an HMAC key"),
        )
        .expect("JSON values sign")
    };
    let own = signed(SECRET);
    let forged = signed(OTHER_SECRET);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
    );
    for bad in [&forged, &none] {
        match verify(keys(SITE, SECRET), bad) {
            Err((code, _)) => assert!(typed(code)),
            Ok(_) => panic!("accepted a token the site did not sign: {bad}"),
        }
    }
    if let Ok(c) = verify(keys(SITE, SECRET), &own) {
        // What the site signed is what comes out.
        assert_eq!(
            claims.get("sub").and_then(|s| s.as_str()),
            Some(c.sub.as_str())
        );
        assert!(verify(keys("other-site", SECRET), &own).is_err());
    }
});

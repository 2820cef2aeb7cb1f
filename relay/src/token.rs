//! Bearer tokens and ids. Tokens are random 256-bit values; the store keeps only their SHA-256
//! so a copy of the database cannot be replayed as visitors.

use rand::Rng;
use sha2::{Digest, Sha256};

/// A new random token, 64 hex characters.
pub fn random_token() -> String {
    hex(&rand::rng().random::<[u8; 32]>())
}

/// A new random id with a readable prefix, e.g. `c_3f9a…` (16 hex characters after it).
pub fn random_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex(&rand::rng().random::<[u8; 8]>()))
}

pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lowercase hex, spelled once for client ids, tokens and ids alike.
pub(crate) use switchboard_protocol::client_id::hex;

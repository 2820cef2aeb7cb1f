//! Agents' console passwords: argon2id hashes in PHC form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`),
//! verified off the async threads and a few at a time.
//!
//! One verification costs tens of milliseconds of CPU and the hash's memory (19 MiB with the
//! default parameters), on purpose; so the relay runs at most [`CONCURRENT`] at once, on
//! blocking threads, and refuses parameters past [`MAX_MEMORY_KIB`] in the configuration. A
//! sign-in for an agent that does not exist (or has no password) is verified against a
//! dummy hash with the same parameters, so its answer takes as long as a wrong password's and
//! does not tell which agents exist.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context as _};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Verifications running at once on this node; more wait their turn (up to [`QUEUE_WAIT`]).
pub const CONCURRENT: usize = 2;
/// How long a sign-in waits for a verification slot before it is told the relay is busy.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// Largest memory cost (KiB) a configured hash may ask for: 64 MiB.
pub const MAX_MEMORY_KIB: u32 = 64 * 1024;
/// Largest time cost (passes) a configured hash may ask for.
pub const MAX_PASSES: u32 = 10;
/// Shortest password `hash-password` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The hasher new hashes are made with: argon2id, v19, with the crate's defaults (OWASP's
/// recommendation: 19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// The PHC string of a new hash of `password`, with a fresh random salt.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow::anyhow!("encoding a salt: {e}"))?;
    let hash = hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    Ok(hash.to_string())
}

/// Whether a configured `password_hash` is an argon2id PHC string within the relay's limits.
pub fn check_phc(phc: &str) -> anyhow::Result<()> {
    let parsed = PasswordHash::new(phc).map_err(|e| {
        anyhow::anyhow!("not a PHC string ({e}); make one with `switchboard-relay hash-password`")
    })?;
    if parsed.algorithm.as_str() != "argon2id" {
        bail!("the algorithm is {}, not argon2id", parsed.algorithm);
    }
    let params = Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("parameters: {e}"))?;
    if params.m_cost() > MAX_MEMORY_KIB || params.t_cost() > MAX_PASSES {
        bail!(
            "m={} t={} is over the relay's limits (m ≤ {MAX_MEMORY_KIB}, t ≤ {MAX_PASSES}): \
             every sign-in would cost that much",
            params.m_cost(),
            params.t_cost()
        );
    }
    parsed.hash.context("the PHC string holds no hash")?;
    Ok(())
}

/// Whether `password` matches `phc`; with `None` (no such agent, or no password) it verifies
/// against the dummy hash and answers false, taking as long as a real check.
fn verify_now(password: &str, phc: Option<&str>) -> bool {
    let (phc, real) = match phc {
        Some(p) => (p, true),
        None => (dummy(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // The parameters come from the hash itself; `hasher()` only names the algorithm family.
    let ok = hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// A hash of a random password with today's parameters, made once.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::token::random_token()).expect("hashing a random password"))
}

/// Limits how many verifications run at once.
pub struct Verifier {
    slots: Semaphore,
}

impl Default for Verifier {
    fn default() -> Verifier {
        Verifier {
            slots: Semaphore::new(CONCURRENT),
        }
    }
}

/// Why a verification did not answer.
#[derive(Debug)]
pub enum Busy {
    /// Every slot stayed taken for [`QUEUE_WAIT`].
    Queue,
}

impl Verifier {
    /// Verifies on a blocking thread once a slot is free.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool, Busy> {
        let permit = tokio::time::timeout(QUEUE_WAIT, self.slots.acquire())
            .await
            .map_err(|_| Busy::Queue)?
            .map_err(|_| Busy::Queue)?;
        let ok = tokio::task::spawn_blocking(move || verify_now(&password, phc.as_deref()))
            .await
            .unwrap_or(false);
        drop(permit);
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_passes_the_checks() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        check_phc(&phc).unwrap();
        assert!(verify_now("correct horse battery", Some(&phc)));
        assert!(!verify_now("correct horse batterY", Some(&phc)));
        assert!(!verify_now("correct horse battery", None));
        assert!(!verify_now("anything", Some("not a hash")));
    }

    #[test]
    fn configured_hashes_must_be_argon2id_within_limits() {
        assert!(check_phc("plaintext").is_err());
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"pw", &SaltString::encode_b64(&[7; 16]).unwrap())
            .unwrap()
            .to_string();
        let err = check_phc(&argon2i).unwrap_err().to_string();
        assert!(err.contains("not argon2id"), "{err}");
        let huge = hash("pw")
            .unwrap()
            .replace("m=19456", &format!("m={}", MAX_MEMORY_KIB * 2));
        let err = check_phc(&huge).unwrap_err().to_string();
        assert!(err.contains("over the relay's limits"), "{err}");
    }
}

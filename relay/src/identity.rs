//! Verified identity: a site's server signs a JWT for its logged-in customer (HS256 with the
//! site's `identity_secret`, or RS256/ES256 with the key whose public half is
//! `identity_public_key`), the page hands it to the widget, and the relay checks it here. The
//! audience must be the site key, so a token minted for one site is refused on another.
//!
//! The verified claims are kept by the visitor's session and laid over every context the page
//! sends, so a page can neither forge the `verified` marks nor overwrite a verified field.

use switchboard_protocol::context::Verified;
pub use switchboard_protocol::identity::{apply, Claims};
use switchboard_protocol::identity::{public_key, SiteKeys};
use switchboard_protocol::Context;

use crate::config::Site;
use crate::session::Refusal;

/// Shortest HS256 secret: shorter ones can be brute-forced from one token.
pub const MIN_SECRET_BYTES: usize = 32;

/// Refuses a site configuration whose identity keys cannot verify anything.
pub fn check_site(site: &Site) -> anyhow::Result<()> {
    if let Some(secret) = &site.identity_secret {
        if secret.len() < MIN_SECRET_BYTES {
            anyhow::bail!(
                "site {:?}: identity_secret must be at least {MIN_SECRET_BYTES} bytes",
                site.key
            );
        }
    }
    if let Some(pem) = &site.identity_public_key {
        if public_key(pem).is_none() {
            anyhow::bail!(
                "site {:?}: identity_public_key is not an RSA or EC (P-256) public key in PEM",
                site.key
            );
        }
    }
    if site.identity == crate::config::IdentityMode::Required
        && site.identity_secret.is_none()
        && site.identity_public_key.is_none()
    {
        anyhow::bail!(
            "site {:?}: identity = \"required\" needs identity_secret or identity_public_key",
            site.key
        );
    }
    Ok(())
}

/// Checks a token against the site's keys (`switchboard_protocol::identity::verify`, where
/// the `jwt` fuzz target drives it too).
pub fn verify(site: &Site, token: &str) -> Result<Claims, Refusal> {
    let keys = SiteKeys {
        site: &site.key,
        secret: site.identity_secret.as_deref(),
        public_key_pem: site.identity_public_key.as_deref(),
    };
    switchboard_protocol::identity::verify(keys, token)
        .map_err(|(code, why)| Refusal::new(code, why))
}

/// A context from the page with no verified identity: any `verified` marks it claims dropped.
pub fn strip(context: &mut Context) {
    if let Some(i) = &mut context.identity {
        i.verified.clear();
    }
}

/// The verified claims a stored context carries (set by an earlier connection), so a reload
/// keeps them without the token.
pub fn stored_claims(context: &Context) -> Option<Claims> {
    let i = context.identity.as_ref()?;
    if !i.is_verified(Verified::Id) {
        return None;
    }
    let take = |field, v: &Option<String>| v.clone().filter(|_| i.is_verified(field));
    Some(Claims {
        sub: i.id.clone()?,
        name: take(Verified::Name, &i.name),
        email: take(Verified::Email, &i.email),
        cart: context
            .cart
            .clone()
            .filter(|_| i.is_verified(Verified::Cart)),
        order: context
            .order
            .clone()
            .filter(|_| i.is_verified(Verified::Order)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocol::context::Identity;

    #[test]
    fn a_page_cannot_claim_verified_fields() {
        let mut ctx = Context {
            identity: Some(Identity {
                id: Some("admin".into()),
                name: Some("Page".into()),
                email: None,
                verified: vec![Verified::Id, Verified::Name],
            }),
            ..Default::default()
        };
        strip(&mut ctx);
        assert!(ctx.identity.as_ref().unwrap().verified.is_empty());
        assert_eq!(stored_claims(&ctx), None);
        let claims = Claims {
            sub: "cust-1".into(),
            email: Some("a@shop.example".into()),
            ..Default::default()
        };
        apply(&mut ctx, &claims);
        let i = ctx.identity.as_ref().unwrap();
        assert_eq!(i.id.as_deref(), Some("cust-1"));
        // The page's name stays, unmarked; the token's email is marked.
        assert_eq!(i.name.as_deref(), Some("Page"));
        assert_eq!(i.verified, vec![Verified::Id, Verified::Email]);
        assert_eq!(stored_claims(&ctx), Some(claims));
    }
}

//! Verified identity: a site's server signs a JWT for its logged-in customer (HS256 with the
//! site's `identity_secret`, or RS256/ES256 with the key whose public half is
//! `identity_public_key`), the page hands it to the widget, and the relay checks it here. The
//! audience must be the site key, so a token minted for one site is refused on another.
//!
//! The verified claims are kept by the visitor's session and laid over every context the page
//! sends, so a page can neither forge the `verified` marks nor overwrite a verified field.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use switchboard_protocol::context::{Cart, Identity, Order, Verified};
use switchboard_protocol::limits::MAX_SHORT_BYTES;
use switchboard_protocol::{Context, ErrorCode};

use crate::config::Site;
use crate::session::Refusal;

/// Clock skew tolerated on `exp`/`nbf` between the site's server and the relay.
const LEEWAY_SECS: u64 = 5;

/// Shortest HS256 secret: shorter ones can be brute-forced from one token.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a valid token says. `sub` is the site's customer id.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub cart: Option<Cart>,
    #[serde(default)]
    pub order: Option<Order>,
}

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

fn public_key(pem: &str) -> Option<(Algorithm, DecodingKey)> {
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .map(|k| (Algorithm::RS256, k))
        .or_else(|_| DecodingKey::from_ec_pem(pem.as_bytes()).map(|k| (Algorithm::ES256, k)))
        .ok()
}

fn invalid(why: impl Into<String>) -> Refusal {
    Refusal::new(ErrorCode::IdentityInvalid, why)
}

/// Checks a token against the site's key: signature, algorithm, audience, expiry, claims.
pub fn verify(site: &Site, token: &str) -> Result<Claims, Refusal> {
    // The header names the algorithm; only the one of the site's configured key is accepted,
    // so `none` and HS256-signed-with-the-public-key tricks fail here.
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| invalid(format!("not a signed identity token: {e}")))?;
    let key = match header.alg {
        Algorithm::HS256 => site
            .identity_secret
            .as_ref()
            .and_then(|s| DecodingKey::from_secret(s.as_bytes()).ok())
            .map(|k| (Algorithm::HS256, k)),
        Algorithm::RS256 | Algorithm::ES256 => site
            .identity_public_key
            .as_deref()
            .and_then(public_key)
            .filter(|(alg, _)| *alg == header.alg),
        _ => None,
    };
    let Some((alg, key)) = key else {
        return Err(invalid(format!(
            "this site does not accept {:?} identity tokens",
            header.alg
        )));
    };
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.set_audience(&[&site.key]);
    validation.set_required_spec_claims(&["exp", "sub", "aud"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => Refusal::new(
                ErrorCode::IdentityExpired,
                "the identity token has expired; fetch a fresh one",
            ),
            ErrorKind::InvalidAudience => invalid("the identity token is for another site"),
            ErrorKind::InvalidSignature => invalid("the identity token's signature is wrong"),
            other => invalid(format!("the identity token is not valid: {other:?}")),
        })?;
    let claims = data.claims;
    if claims.sub.is_empty() {
        return Err(invalid("the identity token's sub is empty"));
    }
    // The claims end up in the context, under the context's own limits.
    let mut probe = Context::default();
    apply(&mut probe, &claims);
    for v in [
        Some(&claims.sub),
        claims.name.as_ref(),
        claims.email.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if v.len() > MAX_SHORT_BYTES {
            return Err(invalid(format!(
                "an identity claim is longer than {MAX_SHORT_BYTES} bytes"
            )));
        }
    }
    probe
        .validate()
        .map_err(|(_, why)| invalid(format!("identity claims: {why}")))?;
    Ok(claims)
}

/// Lays the verified claims over a context from the page: the page's `verified` marks are
/// dropped, the verified fields win, and only they are marked.
pub fn apply(context: &mut Context, claims: &Claims) {
    let page = context.identity.take().unwrap_or_default();
    let mut verified = vec![Verified::Id];
    let mut pick = |claim: &Option<String>, page: Option<String>, field| match claim {
        Some(v) => {
            verified.push(field);
            Some(v.clone())
        }
        None => page,
    };
    let name = pick(&claims.name, page.name, Verified::Name);
    let email = pick(&claims.email, page.email, Verified::Email);
    if let Some(cart) = &claims.cart {
        context.cart = Some(cart.clone());
        verified.push(Verified::Cart);
    }
    if let Some(order) = &claims.order {
        context.order = Some(order.clone());
        verified.push(Verified::Order);
    }
    context.identity = Some(Identity {
        id: Some(claims.sub.clone()),
        name,
        email,
        verified,
    });
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

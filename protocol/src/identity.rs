//! Verified identity tokens, the pure part: a site's server signs a JWT for its logged-in
//! customer (HS256 with the site's identity secret, or RS256/ES256 with a key whose public
//! half the relay holds), and [`verify`] checks it against the site's keys. The audience
//! must be the site key, so a token minted for one site is refused on another.
//!
//! Behind the `identity` feature (it brings `jsonwebtoken`): the relay uses it, and so does
//! the `jwt` fuzz target, without the relay's server dependencies.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::context::{Cart, Identity, Order, Verified};
use crate::limits::{MAX_IDENTITY_TOKEN_BYTES, MAX_SHORT_BYTES};
use crate::{Context, ErrorCode};

/// Clock skew tolerated on `exp`/`nbf` between the site's server and the relay.
pub const LEEWAY_SECS: u64 = 5;

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

/// The keys one site verifies its tokens with.
#[derive(Clone, Copy, Debug)]
pub struct SiteKeys<'a> {
    /// The site key: the audience every token must name.
    pub site: &'a str,
    /// HS256 shared secret.
    pub secret: Option<&'a str>,
    /// RS256 or ES256 (P-256) public key, PEM.
    pub public_key_pem: Option<&'a str>,
}

/// Why a token was refused: the error code to send and a reason.
pub type Refused = (ErrorCode, String);

/// The algorithm and key of a PEM public key: RSA (RS256) or EC P-256 (ES256).
pub fn public_key(pem: &str) -> Option<(Algorithm, DecodingKey)> {
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .map(|k| (Algorithm::RS256, k))
        .or_else(|_| DecodingKey::from_ec_pem(pem.as_bytes()).map(|k| (Algorithm::ES256, k)))
        .ok()
}

fn invalid(why: impl Into<String>) -> Refused {
    (ErrorCode::IdentityInvalid, why.into())
}

/// Checks a token against the site's keys: size, signature, algorithm, audience, expiry,
/// claims (under the context's own limits, since they end up in it).
pub fn verify(keys: SiteKeys<'_>, token: &str) -> Result<Claims, Refused> {
    if token.is_empty() || token.len() > MAX_IDENTITY_TOKEN_BYTES {
        return Err(invalid(format!(
            "an identity token is 1-{MAX_IDENTITY_TOKEN_BYTES} bytes"
        )));
    }
    // The header names the algorithm; only the one of the site's configured key is accepted,
    // so `none` and HS256-signed-with-the-public-key tricks fail here.
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| invalid(format!("not a signed identity token: {e}")))?;
    let key = match header.alg {
        Algorithm::HS256 => keys
            .secret
            .and_then(|s| DecodingKey::from_secret(s.as_bytes()).ok())
            .map(|k| (Algorithm::HS256, k)),
        Algorithm::RS256 | Algorithm::ES256 => keys
            .public_key_pem
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
    validation.set_audience(&[keys.site]);
    validation.set_required_spec_claims(&["exp", "sub", "aud"]);
    let data =
        jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => (
                ErrorCode::IdentityExpired,
                "the identity token has expired; fetch a fresh one".to_owned(),
            ),
            ErrorKind::InvalidAudience => invalid("the identity token is for another site"),
            ErrorKind::InvalidSignature => invalid("the identity token's signature is wrong"),
            other => invalid(format!("the identity token is not valid: {other:?}")),
        })?;
    let claims = data.claims;
    if claims.sub.is_empty() {
        return Err(invalid("the identity token's sub is empty"));
    }
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
    let mut probe = Context::default();
    apply(&mut probe, &claims);
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

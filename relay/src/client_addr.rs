//! The client's address, for per-address limits. Behind a reverse proxy every connection comes
//! from the proxy; its `X-Forwarded-For` is believed only when the connection comes from a
//! configured trusted proxy, and then only up to the first address no trusted proxy added
//! (anything left of that was written by the client and proves nothing).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::AppState;

/// The address rate limits apply to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientAddr, Infallible> {
        // The relay's own server always records the peer; a router driven without it (a
        // test calling the router directly) counts everything as one unknown address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientAddr(resolve(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// The client's address given the peer's and the forwarding headers.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Each proxy appends the address it got the request from, so read from the right: the
    // last entry is what our (trusted) proxy saw.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip,
            // A malformed entry: nothing left of it can be trusted either.
            Err(_) => break,
        }
    }
    peer
}

/// Whether a trusted proxy says the client reached it over https (`X-Forwarded-Proto`, the
/// last value: the one our proxy wrote). From anyone else the header proves nothing.
pub fn forwarded_https(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|n| n.contains(&peer))
        && headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let h = headers(&["203.0.113.5"]);
        assert_eq!(
            resolve(stranger, &h, &trusted),
            stranger,
            "spoofed by a client"
        );
        assert_eq!(
            resolve(proxy, &h, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        // The client wrote the first entry itself; the proxy appended what it saw.
        let h = headers(&["1.1.1.1, 203.0.113.5", "10.9.9.9"]);
        assert_eq!(
            resolve(proxy, &h, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        let h = headers(&["garbage, 10.9.9.9"]);
        assert_eq!(resolve(proxy, &h, &trusted), proxy);
        assert_eq!(resolve(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(resolve(proxy, &h, &[]), proxy);
    }
}

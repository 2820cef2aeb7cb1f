//! Blocking a spammer. An agent of the site sends `block{conversation_id, ip}`: the visitor is
//! blocked on the site (until an admin lifts it), with `ip` also the network it last connected
//! from (an IPv4 address, or the /64 of an IPv6 one, where one household or phone lives) for
//! the site's `block_addr_days`; the conversation is resolved, marked blocked (in no inbox or
//! view) and gets an agents-only `blocked` event; the visitor's sockets are closed with 4004.
//!
//! Blocks live in the broker, so every node sees them: a blocked visitor's `hello` is refused
//! (`blocked`, close 4004), a new visitor from a blocked network too, and the append refuses a
//! visitor's message to a blocked conversation in its own atomic step.

use std::net::IpAddr;

use switchboard_protocol::ErrorCode;

use crate::bots::routing;
use crate::broker::{Audience, Change, Conversation, Event, Lifecycle, StoreError};
use crate::session::Refusal;
use crate::{clock, AppState};

/// A visitor's block never ends by itself.
const FOREVER: u64 = i64::MAX as u64;

/// The block key of a visitor.
pub fn visitor_key(visitor_id: &str) -> String {
    format!("visitor:{visitor_id}")
}

/// The network an address is blocked by: the address itself for IPv4, its /64 for IPv6
/// (one subscriber gets a whole /64, so a single address is trivially changed).
pub fn network(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(bits))
            }
        },
    }
}

/// The block key of the network an address belongs to.
pub fn addr_key(addr: IpAddr) -> String {
    format!("addr:{}", network(addr))
}

/// Whether this visitor (if stored) or its address is blocked on the site.
pub async fn refused(
    state: &AppState,
    site: &str,
    visitor_id: Option<&str>,
    addr: IpAddr,
) -> Result<bool, StoreError> {
    let mut keys = vec![addr_key(addr)];
    keys.extend(visitor_id.map(visitor_key));
    state.broker.is_blocked(site, &keys, clock::now()).await
}

/// An agent's `block`: the agent already passed the site check (it serves the site).
pub async fn block(
    state: &AppState,
    agent_id: &str,
    conv: &Conversation,
    ip: bool,
) -> Result<(), Refusal> {
    let site = state
        .sites
        .get(&conv.site)
        .ok_or_else(|| Refusal::new(ErrorCode::NotFound, "no such site"))?;
    // Everything that can refuse runs first, so a refusal changes nothing.
    let addr = if ip {
        let Some(addr) = state.broker.visitor_addr(&conv.visitor_id).await? else {
            return Err(Refusal::new(
                ErrorCode::Invalid,
                "no address is known for this visitor; block without ip",
            ));
        };
        Some(addr)
    } else {
        None
    };
    let now = clock::now();
    // The blocks first: a socket closed below reconnects into them.
    state
        .broker
        .block(&conv.site, &visitor_key(&conv.visitor_id), FOREVER)
        .await?;
    if let Some(addr) = addr {
        let until = now + u64::from(site.block_addr_days) * 86_400_000;
        state
            .broker
            .block(&conv.site, &format!("addr:{addr}"), until)
            .await?;
    }
    change(
        state,
        agent_id,
        &conv.id,
        conv.state.version,
        Lifecycle::Block,
    )
    .await?;
    state
        .broker
        .publish(Event {
            audience: Audience::Blocked,
            site: conv.site.clone(),
            conversation_id: conv.id.clone(),
            frame: "".into(),
        })
        .await;
    state.assigner.wake();
    // Tells every agent to drop the line (`blocked: true`).
    routing::publish_summary(state, &conv.id).await?;
    tracing::info!(agent = %agent_id, conversation = %conv.id, ip, "visitor blocked");
    Ok(())
}

/// Applies a block or unblock change, retrying on a version race (a message reopening it,
/// an assignment): the block wins over whatever happened meanwhile. Already in that state:
/// nothing to do.
pub async fn change(
    state: &AppState,
    by: &str,
    conversation_id: &str,
    mut version: u64,
    what: Lifecycle,
) -> Result<(), Refusal> {
    for _ in 0..5 {
        let change = Change {
            by: by.to_owned(),
            at: state.config.clock.now(),
            what: what.clone(),
            // A block names nobody.
            names: Default::default(),
        };
        match state.broker.change(conversation_id, version, change).await {
            Ok(_) | Err(StoreError::Invalid(_)) => return Ok(()),
            Err(StoreError::Conflict(current)) => version = current.version,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Refusal::new(
        ErrorCode::Conflict,
        "the conversation kept changing; try again",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_blocked_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(addr_key(a), "addr:2001:db8:1:2::/64");
        assert_eq!(addr_key(a), addr_key(b));
        assert_ne!(addr_key(a), addr_key(other));
        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(addr_key(v4), "addr:203.0.113.9");
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(addr_key(mapped), addr_key(v4));
    }
}

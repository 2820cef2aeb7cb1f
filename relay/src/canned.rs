//! Canned replies: each site's saved answers, kept in the broker so every node serves the
//! same set. The configuration file seeds a site that has none stored; after that admins edit
//! them from the console (`create_canned`, `update_canned`, `delete_canned`), every agent
//! lists them (`list_canned`), and a `send` that names one (`canned_id`) must name one of the
//! conversation's site's, with every placeholder filled.

use switchboard_protocol::canned::{self, CannedReply};
use switchboard_protocol::limits::MAX_CANNED_PER_SITE;
use switchboard_protocol::{ClientMsg, ErrorCode, ServerMsg};

use crate::broker::{Audience, Broker, CannedPut, Event};
use crate::config::{Agent, AgentRole, Config, Site};
use crate::session::Refusal;
use crate::{token, AppState};

/// The file's seeds for one site: each valid, within the site's limit, shortcuts unique.
pub fn check_seeds(site: &Site) -> anyhow::Result<()> {
    if site.canned.len() > MAX_CANNED_PER_SITE {
        anyhow::bail!(
            "site {:?}: at most {MAX_CANNED_PER_SITE} canned replies",
            site.key
        );
    }
    for (i, seed) in site.canned.iter().enumerate() {
        canned::shortcut(&seed.shortcut)
            .and_then(|()| canned::body(&seed.body))
            .map_err(|(_, why)| {
                anyhow::anyhow!(
                    "site {:?}: canned reply {:?}: {why}",
                    site.key,
                    seed.shortcut
                )
            })?;
        if site.canned[..i].iter().any(|s| s.shortcut == seed.shortcut) {
            anyhow::bail!(
                "site {:?}: canned shortcut {:?} appears twice",
                site.key,
                seed.shortcut
            );
        }
    }
    Ok(())
}

/// Stores each site's seeds if the site has no canned reply stored (at start; a site whose
/// admins deleted every canned reply gets the file's again at the next start).
pub async fn seed(config: &Config, broker: &dyn Broker) -> anyhow::Result<()> {
    for site in config.sites.iter().filter(|s| !s.canned.is_empty()) {
        let replies: Vec<CannedReply> = site
            .canned
            .iter()
            .map(|s| CannedReply {
                id: token::random_id("cr"),
                shortcut: s.shortcut.clone(),
                body: s.body.clone(),
            })
            .collect();
        if broker.seed_canned(&site.key, &replies).await? {
            tracing::info!(site = %site.key, count = replies.len(), "canned replies seeded from the configuration");
        }
    }
    Ok(())
}

/// `list_canned`, `create_canned`, `update_canned`, `delete_canned` from an agent.
pub async fn handle(
    state: &AppState,
    agent: &Agent,
    msg: ClientMsg,
    outbox: &crate::outbox::Outbox,
) -> Result<(), Refusal> {
    let (site, write) = match &msg {
        ClientMsg::ListCanned { site: None } => {
            for site in state.config.sites_served_by(agent) {
                let items = state.broker.canned_replies(&site).await?;
                outbox.send(&ServerMsg::Canned { site, items });
            }
            return Ok(());
        }
        ClientMsg::ListCanned { site: Some(site) } => (site, false),
        ClientMsg::CreateCanned { site, .. }
        | ClientMsg::UpdateCanned { site, .. }
        | ClientMsg::DeleteCanned { site, .. } => (site, true),
        _ => unreachable!("called with canned frames only"),
    };
    served(state, agent, site)?;
    if !write {
        let items = state.broker.canned_replies(site).await?;
        outbox.send(&ServerMsg::Canned {
            site: site.clone(),
            items,
        });
        return Ok(());
    }
    if agent.role != AgentRole::Admin {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            "only admins change canned replies",
        ));
    }
    let site = site.clone();
    match msg {
        ClientMsg::CreateCanned { shortcut, body, .. } => {
            let reply = CannedReply {
                id: token::random_id("cr"),
                shortcut,
                body,
            };
            let put = state
                .broker
                .put_canned(&site, &reply, true, MAX_CANNED_PER_SITE)
                .await?;
            stored(put)?;
        }
        ClientMsg::UpdateCanned {
            id, shortcut, body, ..
        } => {
            let reply = CannedReply { id, shortcut, body };
            let put = state
                .broker
                .put_canned(&site, &reply, false, MAX_CANNED_PER_SITE)
                .await?;
            stored(put)?;
        }
        ClientMsg::DeleteCanned { id, .. } => {
            if !state.broker.delete_canned(&site, &id).await? {
                return Err(not_found());
            }
        }
        _ => unreachable!(),
    }
    // Every agent of the site, on every node, gets the new set (this one included).
    let items = state.broker.canned_replies(&site).await?;
    let msg = ServerMsg::Canned {
        site: site.clone(),
        items,
    };
    state
        .broker
        .publish(Event::new(Audience::Agents, &site, "", &msg))
        .await;
    Ok(())
}

/// A `send` naming a canned reply: it must be one of the conversation's site's (an id of
/// another site reads as unknown), and the text must hold no unfilled placeholder, so raw
/// braces never reach a visitor even from a client that skipped the console's check.
pub async fn check_send(
    state: &AppState,
    site: &str,
    canned_id: &str,
    text: &str,
) -> Result<(), Refusal> {
    if state.broker.canned_reply(site, canned_id).await?.is_none() {
        return Err(not_found());
    }
    if let Some(name) = canned::unfilled(text).first() {
        return Err(Refusal::new(
            ErrorCode::Invalid,
            format!("{{{{{name}}}}} is not filled in; replace it before sending"),
        ));
    }
    Ok(())
}

fn served(state: &AppState, agent: &Agent, site: &str) -> Result<(), Refusal> {
    if !state.sites.contains_key(site) {
        return Err(Refusal::new(ErrorCode::NotFound, "no such site"));
    }
    if !agent.serves(site) {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            "this site is not one you serve",
        ));
    }
    Ok(())
}

fn stored(put: CannedPut) -> Result<(), Refusal> {
    match put {
        CannedPut::Stored => Ok(()),
        CannedPut::NotFound => Err(not_found()),
        CannedPut::Full => Err(Refusal::new(
            ErrorCode::CannedLimit,
            format!("the site already has {MAX_CANNED_PER_SITE} canned replies"),
        )),
        CannedPut::ShortcutTaken => Err(Refusal::new(
            ErrorCode::ShortcutTaken,
            "another canned reply of the site has this shortcut",
        )),
    }
}

fn not_found() -> Refusal {
    Refusal::new(
        ErrorCode::CannedNotFound,
        "no such canned reply on this conversation's site",
    )
}

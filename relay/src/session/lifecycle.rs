//! Who may change a conversation's lifecycle, and how: checked on the state the change would
//! apply to, before the broker is asked, so a refusal changes nothing.
//!
//! An agent acts on conversations of the sites it serves that are in one of its teams (a
//! conversation without a team is in the site's default team; a site without teams has one
//! queue for all its agents) or assigned to it. It may take (self-assign) an unassigned
//! conversation, and unassign, transfer, set the status or priority of its own or an
//! unassigned one. An admin may do all of that to anyone's conversation.

use switchboard_protocol::{ClientMsg, ErrorCode};

use super::Refusal;
use crate::broker::{Conversation, Lifecycle};
use crate::config::{Agent, AgentRole, Config};

/// The change an agent's frame asks for, with the version it expects; `None` for other
/// frames.
pub(super) fn requested(msg: &ClientMsg) -> Option<(&str, u64, Lifecycle)> {
    match msg {
        ClientMsg::Assign {
            conversation_id,
            expected_version,
            agent,
        } => Some((
            conversation_id,
            *expected_version,
            Lifecycle::Assign(agent.clone()),
        )),
        ClientMsg::Transfer {
            conversation_id,
            expected_version,
            to_agent,
            to_team,
            note,
        } => Some((
            conversation_id,
            *expected_version,
            Lifecycle::Transfer {
                to_agent: to_agent.clone(),
                to_team: to_team.clone(),
                note: note.clone(),
            },
        )),
        ClientMsg::SetStatus {
            conversation_id,
            expected_version,
            status,
        } => Some((
            conversation_id,
            *expected_version,
            Lifecycle::Status(*status),
        )),
        ClientMsg::SetPriority {
            conversation_id,
            expected_version,
            priority,
        } => Some((
            conversation_id,
            *expected_version,
            Lifecycle::Priority(*priority),
        )),
        _ => None,
    }
}

/// Whether `agent` may make this change to `conv` (whose site it serves).
pub(super) fn authorize(
    config: &Config,
    agent: &Agent,
    conv: &Conversation,
    what: &Lifecycle,
) -> Result<(), Refusal> {
    let site = conv.site.as_str();
    let admin = agent.role == AgentRole::Admin;
    let assignee = conv.state.assignee.as_deref();
    let mine = assignee == Some(agent.id.as_str());
    let unassigned = assignee.is_none();
    let forbidden = |why: &str| Err(Refusal::new(ErrorCode::Forbidden, why));

    let team = conv
        .state
        .team
        .clone()
        .or_else(|| config.site(site).and_then(|s| s.default_team.clone()));
    let in_team = team
        .and_then(|t| config.team(site, &t))
        .is_none_or(|t| t.has_member(&agent.id));
    if !admin && !mine && !in_team {
        return forbidden("this conversation is in a team you are not in");
    }

    match what {
        Lifecycle::Assign(Some(target)) => {
            known_agent(config, site, target)?;
            if !admin && (target != &agent.id || !(unassigned || mine)) {
                return forbidden(
                    "agents take unassigned conversations for themselves; only an admin assigns \
                     to others or reassigns someone else's",
                );
            }
        }
        Lifecycle::Assign(None) => {
            if !admin && !mine {
                return forbidden("only its assignee or an admin unassigns a conversation");
            }
        }
        Lifecycle::Transfer {
            to_agent, to_team, ..
        } => {
            let team = match to_team {
                Some(t) => Some(config.team(site, t).ok_or_else(|| {
                    Refusal::new(
                        ErrorCode::UnknownTeam,
                        format!("{t} is not a team of this conversation's site"),
                    )
                })?),
                None => None,
            };
            if let Some(a) = to_agent {
                known_agent(config, site, a)?;
                if team.is_some_and(|t| !t.has_member(a)) {
                    return Err(Refusal::new(
                        ErrorCode::UnknownAgent,
                        format!("{a} is not a member of that team"),
                    ));
                }
            }
            if !admin && !mine {
                return forbidden("only its assignee or an admin transfers a conversation");
            }
        }
        Lifecycle::Status(_) | Lifecycle::Priority(_) => {
            if !(admin || mine || unassigned) {
                return forbidden("this conversation is assigned to someone else");
            }
        }
        Lifecycle::HandedOff { .. } => return forbidden("only bots hand off"),
        // Blocks have a frame of their own (`block.rs`), never a lifecycle frame.
        Lifecycle::Block | Lifecycle::Unblock => return forbidden("use block"),
        Lifecycle::Rate { .. } => return forbidden("only visitors rate"),
    }
    Ok(())
}

fn known_agent(config: &Config, site: &str, id: &str) -> Result<(), Refusal> {
    match config.agent_of(site, id) {
        Some(_) => Ok(()),
        None => Err(Refusal::new(
            ErrorCode::UnknownAgent,
            format!("{id} is not an agent of this conversation's site"),
        )),
    }
}

//! The `directory` an agent gets after `welcome`: its role, and the teams and agents of the
//! sites it serves, so its console names assignees and offers transfer targets. Built from the
//! configuration alone (it changes only with a restart); never names another site's people.

use switchboard_protocol::{AgentEntry, AgentRole, Directory, TeamEntry};

use crate::config::{self, Agent, Config};

pub(super) fn directory(config: &Config, agent: &Agent) -> Directory {
    let sites = config.sites_served_by(agent);
    let teams = config
        .teams
        .iter()
        .filter(|t| sites.contains(&t.site))
        .map(|t| TeamEntry {
            id: t.id.clone(),
            name: if t.name.is_empty() {
                t.id.clone()
            } else {
                t.name.clone()
            },
            site: t.site.clone(),
            members: t.members.clone(),
            default: config
                .site(&t.site)
                .is_some_and(|s| s.default_team.as_deref() == Some(t.id.as_str())),
        })
        .collect();
    let agents = config
        .agents
        .iter()
        .filter_map(|a| {
            let shared: Vec<String> = sites.iter().filter(|s| a.serves(s)).cloned().collect();
            (!shared.is_empty()).then(|| AgentEntry {
                id: a.id.clone(),
                name: a.name.clone(),
                sites: shared,
            })
        })
        .collect();
    Directory {
        role: match agent.role {
            config::AgentRole::Agent => AgentRole::Agent,
            config::AgentRole::Admin => AgentRole::Admin,
        },
        teams,
        agents,
    }
}

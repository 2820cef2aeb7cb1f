//! An agent's views of its inbox (unassigned, mine, my teams, all, resolved) with a count of
//! each, answered from one read of its sites' conversations.
//!
//! The count needs every conversation, so a view reads the whole inbox of the agent's sites
//! (as an assignment pass does); an index per view in the broker is the step for sites with
//! very many conversations.

use switchboard_protocol::limits::MAX_INBOX;
use switchboard_protocol::{
    ConversationSummary, InboxCursor, Owner, ServerMsg, Status, View, ViewCounts,
};

use super::Refusal;
use crate::config::{Agent, AgentRole, Config};
use crate::outbox::Outbox;
use crate::{clock, AppState};

/// Whether the conversation is in one of the agent's teams: its team, or its site's default
/// team when it has none; a site without teams is one queue for all its agents. An admin is
/// in every team.
fn in_my_teams(config: &Config, agent: &Agent, c: &ConversationSummary) -> bool {
    if agent.role == AgentRole::Admin {
        return true;
    }
    let team =
        (c.team.clone()).or_else(|| config.site(&c.site).and_then(|s| s.default_team.clone()));
    team.and_then(|t| config.team(&c.site, &t))
        .is_none_or(|t| t.has_member(&agent.id))
}

/// The views a conversation is in, as seen by `agent` at `now`.
fn views_of(config: &Config, agent: &Agent, c: &ConversationSummary, now: u64) -> Vec<View> {
    if c.status.at(now) == Status::Resolved {
        return vec![View::Resolved];
    }
    let mut views = vec![View::All];
    let teams = in_my_teams(config, agent, c);
    if c.assignee.as_deref() == Some(agent.id.as_str()) {
        views.push(View::Mine);
    }
    if teams && c.owner == Owner::Humans {
        views.push(View::MyTeams);
        if c.assignee.is_none() {
            views.push(View::Unassigned);
        }
    }
    views
}

fn count(counts: &mut ViewCounts, view: View) {
    let n = match view {
        View::Unassigned => &mut counts.unassigned,
        View::Mine => &mut counts.mine,
        View::MyTeams => &mut counts.my_teams,
        View::All => &mut counts.all,
        View::Resolved => &mut counts.resolved,
    };
    *n += 1;
}

/// Whether `c` comes after `cursor` in the inbox's order (newest activity first, then id).
fn after(c: &ConversationSummary, cursor: &InboxCursor) -> bool {
    (c.last_activity, c.id.as_str()) < (cursor.last_activity, cursor.id.as_str())
}

pub(super) async fn send_view(
    state: &AppState,
    agent: &Agent,
    view: View,
    before: Option<InboxCursor>,
    limit: usize,
    outbox: &Outbox,
) -> Result<(), Refusal> {
    let sites = state.config.sites_served_by(agent);
    let now = clock::now();
    let mut counts = ViewCounts::default();
    let mut items = Vec::new();
    let mut more = false;
    let mut cursor = None;
    loop {
        let page = state
            .broker
            .inbox(&sites, cursor.as_ref(), MAX_INBOX)
            .await?;
        for c in page.items {
            let views = views_of(&state.config, agent, &c, now);
            views.iter().for_each(|v| count(&mut counts, *v));
            if views.contains(&view) && before.as_ref().is_none_or(|b| after(&c, b)) {
                match items.len() < limit {
                    true => items.push(c),
                    false => more = true,
                }
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let next = more.then(|| {
        let last: &ConversationSummary = items.last().expect("a full page");
        InboxCursor {
            last_activity: last.last_activity,
            id: last.id.clone(),
        }
    });
    outbox.send(&ServerMsg::View {
        view,
        items,
        before,
        more,
        next,
        counts,
    });
    Ok(())
}

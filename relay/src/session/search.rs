//! An agent's `search` and `visitor_history`: both read only conversations of the sites the
//! agent serves. The sites are narrowed here, before the store is asked (the store's query is
//! filtered by them), and every hit is checked again against its conversation's site, so a
//! store that matched too much still shows nothing of another site.

use std::collections::HashMap;

use switchboard_protocol::limits::MAX_VISITOR_HISTORY;
use switchboard_protocol::search::{snippet, SearchHit, SearchQuery};
use switchboard_protocol::{ConversationSummary, ServerMsg};

use super::Refusal;
use crate::broker::{verified_customer, Conversation, Search};
use crate::config::Agent;
use crate::outbox::Outbox;
use crate::AppState;

/// How many devices (stored visitors) of one verified customer the history looks at.
const MAX_CUSTOMER_VISITORS: usize = 20;
/// How many conversation ids of those visitors are read before sorting by activity.
const MAX_HISTORY_CANDIDATES: usize = 200;

pub(super) async fn search(
    state: &AppState,
    agent: &Agent,
    query: SearchQuery,
    outbox: &Outbox,
) -> Result<(), Refusal> {
    // Checked by the session loop already; this gives the words.
    let terms = query
        .validate()
        .map_err(|(code, message)| Refusal::new(code, message))?;
    let sites = state.config.sites_served_by(agent);
    let limit = query.page_size();
    let found = if sites.is_empty() {
        Vec::new()
    } else {
        state
            .broker
            .search(&Search {
                sites: &sites,
                terms: &terms,
                status: query.status.map(|s| s.as_str()),
                team: query.team.as_deref(),
                assignee: query.assignee.as_deref(),
                from: query.from,
                to: query.to,
                offset: query.offset,
                // One more tells whether a next page exists.
                limit: limit + 1,
            })
            .await?
    };
    let more = found.len() > limit;
    let mut summaries: HashMap<String, Option<ConversationSummary>> = HashMap::new();
    let mut hits = Vec::with_capacity(limit);
    for f in found.into_iter().take(limit) {
        if !summaries.contains_key(&f.conversation_id) {
            let s = state.broker.summary(&f.conversation_id).await?;
            summaries.insert(f.conversation_id.clone(), s);
        }
        // Deleted since it was indexed, or (defence in depth) not this agent's site.
        let Some(conversation) = summaries[&f.conversation_id]
            .clone()
            .filter(|s| agent.serves(&s.site))
        else {
            continue;
        };
        hits.push(SearchHit {
            conversation,
            seq: f.seq,
            at: f.at,
            sender: f.sender,
            snippet: snippet(&f.text, &terms),
        });
    }
    outbox.send(&ServerMsg::SearchResults {
        text: query.text,
        offset: query.offset,
        hits,
        more,
    });
    Ok(())
}

/// The other conversations of `conv`'s visitor and, when its identity is verified, of every
/// visitor of the same site verified as the same customer; newest activity first.
pub(super) async fn history(
    state: &AppState,
    agent: &Agent,
    conv: &Conversation,
    outbox: &Outbox,
) -> Result<(), Refusal> {
    let context = state.broker.conversation_context(&conv.id).await?;
    let mut visitors = vec![conv.visitor_id.clone()];
    if let Some(customer) = verified_customer(&context) {
        for v in state
            .broker
            .customer_visitors(&conv.site, customer, MAX_CUSTOMER_VISITORS)
            .await?
        {
            if !visitors.contains(&v) {
                visitors.push(v);
            }
        }
    }
    let mut ids = Vec::new();
    for v in &visitors {
        if let Some((record, convs)) = state.broker.visitor_record(v).await? {
            // Identity is per site (the token's audience is the site key).
            if record.site == conv.site {
                ids.extend(convs.into_iter().filter(|id| *id != conv.id));
            }
        }
        if ids.len() >= MAX_HISTORY_CANDIDATES {
            ids.truncate(MAX_HISTORY_CANDIDATES);
            break;
        }
    }
    let mut items = Vec::new();
    for id in ids {
        if let Some(s) = state.broker.summary(&id).await? {
            if s.site == conv.site && agent.serves(&s.site) && s.last_seq > 0 {
                items.push(s);
            }
        }
    }
    items.sort_by(|a, b| (b.last_activity, &b.id).cmp(&(a.last_activity, &a.id)));
    items.truncate(MAX_VISITOR_HISTORY);
    outbox.send(&ServerMsg::VisitorHistory {
        conversation_id: conv.id.clone(),
        items,
    });
    Ok(())
}

//! Agent presence, team queues and automatic assignment.
//!
//! Presence: each node renews, in the broker, a claim for every agent connected to it (with
//! the status the agent chose: online, away, offline), valid for the grace period; an agent
//! whose last connection dropped lapses to offline when its claims expire.
//!
//! Assignment: one node at a time assigns a site's queues, the holder of the site's lease in
//! the broker (renewed at every pass). A pass reads the site's presence and conversations,
//! counts each agent's open assigned conversations, orders every team's queue (priority, then
//! waiting time) and gives each waiting conversation to an online member below the team's
//! capacity by the team's policy, each with [`Broker::change`](crate::broker::Broker::change)
//! on the version it read. The compare-and-set makes sure no conversation is assigned twice
//! (an agent's frame racing the pass wins or loses as a whole); the lease makes the pass's
//! counts the only automatic writer's, so capacity holds across nodes. The pass stops well
//! before its lease could lapse (measured on this node's monotonic clock from before the
//! lease was asked for), so two nodes never assign one site at once.
//!
//! Capacity bounds automatic assignment; an agent taking a conversation itself, or an admin
//! assigning one, is a decision the relay does not second-guess.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use switchboard_protocol::limits::MAX_INBOX;
use switchboard_protocol::{ConversationSummary, Owner, Presence, ServerMsg, Status};
use tokio::sync::Notify;

use crate::bots::routing;
use crate::broker::lifecycle::SYSTEM;
use crate::broker::{Audience, Change, Event, Lifecycle, Names, Result, StoreError};
use crate::config::{Policy, Team};
use crate::{clock, AppState};

/// How long a site's assignment lease lasts; renewed at every pass.
const LEASE: Duration = Duration::from_secs(5);
/// A pass stops this long before its lease would lapse.
const LEASE_MARGIN: Duration = Duration::from_secs(2);

/// This node's part: what its agents chose, and what the site's lease holder last told
/// clients (so it tells only changes).
#[derive(Default)]
pub struct Local {
    wake: Notify,
    /// Agent id → the status it chose on this node.
    chosen: Mutex<HashMap<String, Presence>>,
    /// What the lease holder last published per site.
    told: Mutex<HashMap<String, Told>>,
    /// Team id → index of the member after the last one given a conversation (round robin).
    rotation: Mutex<HashMap<String, usize>>,
}

#[derive(Default)]
struct Told {
    presence: Vec<(String, Presence)>,
    online: Option<bool>,
    /// Conversation → queue position sent to its visitor.
    positions: HashMap<String, u32>,
    /// When every waiting visitor was last told its position, changed or not.
    positions_at: Option<std::time::Instant>,
}

/// How often every waiting visitor hears its position again even when it did not change: a
/// visitor who reloaded the page (or reconnected to another node) while waiting would
/// otherwise learn it only at the next change.
const POSITIONS_AGAIN: Duration = Duration::from_secs(5);

impl Local {
    /// Runs this node's pass soon (an agent came or went, a conversation entered a queue, a
    /// slot freed). Other nodes notice at their next interval.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// An agent connected (it starts online) or chose a status.
    pub fn choose(&self, agent: &str, status: Presence) {
        lock(&self.chosen).insert(agent.to_owned(), status);
        self.wake();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether an agent of the site is online now (what visitors are told).
pub async fn available(state: &AppState, site: &str) -> Result<bool> {
    let presence = state.broker.agent_presence(site, clock::now()).await?;
    Ok(presence.iter().any(|(_, p)| *p == Presence::Online))
}

/// The `presence` frames of a site's agents, for an agent that just connected.
pub async fn presence_frames(state: &AppState, site: &str) -> Result<Vec<ServerMsg>> {
    let presence = state.broker.agent_presence(site, clock::now()).await?;
    Ok(presence
        .into_iter()
        .map(|(agent, status)| ServerMsg::Presence {
            site: site.to_owned(),
            agent,
            status,
        })
        .collect())
}

/// Claims presence for this node's agents, until `until`.
async fn announce(state: &AppState, until: u64) {
    let chosen = lock(&state.assigner.chosen).clone();
    for agent in state.hub.connected_agents() {
        let status = chosen.get(&agent.id).copied().unwrap_or_default();
        for site in state.config.sites_served_by(&agent) {
            if let Err(e) = state
                .broker
                .set_agent_presence(&site, &agent.id, &state.node_id, status, until)
                .await
            {
                tracing::debug!(error = %e, "agent presence claim failed");
            }
        }
    }
}

/// Renews presence and runs assignment passes until shutdown.
pub async fn run(state: AppState) {
    let tuning = state.config.tuning.clone();
    let renew = tuning.presence_grace / 3;
    let mut renewed: Option<Instant> = None;
    loop {
        let woken = tokio::select! {
            _ = tokio::time::sleep(tuning.assign_interval) => false,
            _ = state.assigner.wake.notified() => true,
            _ = state.shutdown.cancelled() => break,
        };
        // A wake means an agent may have come or chosen a status: claim at once.
        if woken || renewed.is_none_or(|t| t.elapsed() >= renew) {
            renewed = Some(Instant::now());
            announce(
                &state,
                clock::now() + tuning.presence_grace.as_millis() as u64,
            )
            .await;
        }
        for site in &state.config.sites {
            let asked = Instant::now();
            let now = clock::now();
            let until = now + LEASE.as_millis() as u64;
            match state
                .broker
                .assignment_lease(&site.key, &state.node_id, until, now)
                .await
            {
                Ok(true) => {
                    let deadline = asked + LEASE - LEASE_MARGIN;
                    if let Err(e) = pass(&state, &site.key, deadline).await {
                        tracing::warn!(error = %e, site = %site.key, "assignment pass failed");
                    }
                }
                Ok(false) => {
                    // Another node assigns this site; what we told its clients may be stale
                    // when the lease comes back.
                    lock(&state.assigner.told).remove(&site.key);
                }
                Err(e) => tracing::debug!(error = %e, "assignment lease failed"),
            }
        }
    }
}

/// One assignment pass over a site whose lease this node holds until `deadline`.
async fn pass(state: &AppState, site: &str, deadline: Instant) -> Result<()> {
    let now = clock::now();
    let presence = state.broker.agent_presence(site, now).await?;
    tell_presence(state, site, &presence).await;

    let conversations = open_conversations(state, site, now).await?;
    let mut load: HashMap<String, u32> = HashMap::new();
    for c in &conversations {
        if let Some(a) = &c.assignee {
            *load.entry(a.clone()).or_default() += 1;
        }
    }
    let default_team = state.sites.get(site).and_then(|s| s.default_team.clone());
    let mut queues: BTreeMap<String, Vec<&ConversationSummary>> = BTreeMap::new();
    for c in conversations.iter().filter(|c| c.assignee.is_none()) {
        if let Some(team) = c.team.clone().or_else(|| default_team.clone()) {
            queues.entry(team).or_default().push(c);
        }
    }
    let online: Vec<&str> = (presence.iter())
        .filter(|(_, p)| *p == Presence::Online)
        .map(|(a, _)| a.as_str())
        .collect();

    let mut positions = HashMap::new();
    for (team_id, queue) in &mut queues {
        queue.sort_by(|a, b| {
            (b.priority.cmp(&a.priority))
                .then(waiting_since(a).cmp(&waiting_since(b)))
                .then(a.id.cmp(&b.id))
        });
        let team = state.config.team(site, team_id);
        let mut waiting = 0u32;
        for c in queue.iter() {
            let given = match team {
                Some(team) if team.policy != Policy::Manual && Instant::now() < deadline => {
                    match pick(state, team, &online, &load) {
                        Some(agent) => assign(state, c, &agent).await?.then_some(agent),
                        None => None,
                    }
                }
                _ => None,
            };
            match given {
                Some(agent) => *load.entry(agent).or_default() += 1,
                None => {
                    waiting += 1;
                    positions.insert(c.id.clone(), waiting);
                }
            }
        }
    }
    tell_positions(state, site, positions).await;
    Ok(())
}

/// When a conversation started waiting, as far as the inbox line tells: its creation (a
/// handed-off or reopened conversation keeps its place from then).
fn waiting_since(c: &ConversationSummary) -> u64 {
    c.created_at
}

/// The site's conversations the humans own that are open now.
async fn open_conversations(
    state: &AppState,
    site: &str,
    now: u64,
) -> Result<Vec<ConversationSummary>> {
    let sites = [site.to_owned()];
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = state
            .broker
            .inbox(&sites, before.as_ref(), MAX_INBOX)
            .await?;
        all.extend(
            (page.items.into_iter())
                .filter(|c| c.owner == Owner::Humans && c.status.at(now) == Status::Open),
        );
        match page.next {
            Some(next) => before = Some(next),
            None => return Ok(all),
        }
    }
}

/// The member of `team` the policy gives the next conversation to, among online members
/// below capacity.
fn pick(
    state: &AppState,
    team: &Team,
    online: &[&str],
    load: &HashMap<String, u32>,
) -> Option<String> {
    let free = |m: &String| {
        online.contains(&m.as_str())
            && load.get(m).copied().unwrap_or(0) < team.capacity
            && state.config.agent_of(&team.site, m).is_some()
    };
    match team.policy {
        Policy::Manual => None,
        Policy::LeastBusy => (team.members.iter())
            .filter(|m| free(m))
            .min_by_key(|m| load.get(*m).copied().unwrap_or(0))
            .cloned(),
        Policy::RoundRobin => {
            let n = team.members.len();
            let mut rotation = lock(&state.assigner.rotation);
            let start = rotation.get(&team.id).copied().unwrap_or(0);
            let i = (0..n)
                .map(|k| (start + k) % n)
                .find(|&i| free(&team.members[i]))?;
            rotation.insert(team.id.clone(), i + 1);
            Some(team.members[i].clone())
        }
    }
}

/// Assigns one conversation on the version the pass read; false if it changed meanwhile (an
/// agent took it, the visitor's message bumped it): the next pass looks again.
async fn assign(state: &AppState, c: &ConversationSummary, agent: &str) -> Result<bool> {
    let what = Lifecycle::Assign(Some(agent.to_owned()));
    let change = Change {
        by: SYSTEM.into(),
        at: state.config.clock.now(),
        names: Names::of(&state.config, &c.site, &what),
        what,
    };
    match state.broker.change(&c.id, c.version, change).await {
        Ok(changed) => {
            crate::site_webhooks::record(state, &c.site, &[&changed.message]).await;
            routing::publish_summary(state, &c.id).await?;
            Ok(true)
        }
        Err(StoreError::Conflict(_) | StoreError::Invalid(_) | StoreError::NotFound(_)) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Tells the site's agents whose presence changed since the last pass, and (through their
/// conversations) waiting visitors whether someone is online.
async fn tell_presence(state: &AppState, site: &str, presence: &[(String, Presence)]) {
    let before = (lock(&state.assigner.told).get(site))
        .map(|t| t.presence.clone())
        .unwrap_or_default();
    let now_of = |list: &[(String, Presence)], a: &str| {
        (list.iter())
            .find(|(x, _)| x == a)
            .map_or(Presence::Offline, |(_, p)| *p)
    };
    let mut agents: Vec<&str> = (presence.iter().chain(before.iter()))
        .map(|(a, _)| a.as_str())
        .collect();
    agents.sort();
    agents.dedup();
    for agent in agents {
        let status = now_of(presence, agent);
        if status != now_of(&before, agent) {
            let msg = ServerMsg::Presence {
                site: site.to_owned(),
                agent: agent.to_owned(),
                status,
            };
            state
                .broker
                .publish(Event::new(Audience::Agents, site, "", &msg))
                .await;
        }
    }
    let online = presence.iter().any(|(_, p)| *p == Presence::Online);
    let waiting: Vec<String> = {
        let mut told = lock(&state.assigner.told);
        let t = told.entry(site.to_owned()).or_default();
        t.presence = presence.to_vec();
        let changed = t.online.is_some_and(|o| o != online);
        t.online = Some(online);
        match changed {
            true => t.positions.keys().cloned().collect(),
            false => Vec::new(),
        }
    };
    // Visitors who wait for an answer hear it live; others read it in their next welcome.
    if waiting.is_empty() {
        return;
    }
    let typical_reply_ms = state.reply_times.typical(&*state.broker, site).await;
    let msg = ServerMsg::Availability {
        online,
        typical_reply_ms,
    };
    for c in waiting {
        state
            .broker
            .publish(Event::new(Audience::Visitors, site, &c, &msg))
            .await;
    }
}

/// Sends each waiting visitor its position in its team's queue when it changed, and every
/// [`POSITIONS_AGAIN`] to all of them.
async fn tell_positions(state: &AppState, site: &str, positions: HashMap<String, u32>) {
    let changed: Vec<(String, u32)> = {
        let mut told = lock(&state.assigner.told);
        let t = told.entry(site.to_owned()).or_default();
        let again = t
            .positions_at
            .is_none_or(|at| at.elapsed() >= POSITIONS_AGAIN);
        if again {
            t.positions_at = Some(std::time::Instant::now());
        }
        let changed = (positions.iter())
            .filter(|(c, p)| again || t.positions.get(*c) != Some(p))
            .map(|(c, p)| (c.clone(), *p))
            .collect();
        t.positions = positions;
        changed
    };
    for (conversation_id, position) in changed {
        let msg = ServerMsg::Queue {
            conversation_id: conversation_id.clone(),
            position,
        };
        state
            .broker
            .publish(Event::new(Audience::Visitors, site, &conversation_id, &msg))
            .await;
    }
}

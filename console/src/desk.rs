//! The helpdesk side of the console: who is who (the relay's `directory`), presence, the views
//! with their counts, what the agent may do to a conversation, and the lifecycle frames the
//! action bar sends.
//!
//! Views are kept true by asking again: every `conversation` frame (a new conversation, or a
//! changed status, assignee, team or priority) schedules one `list_view` for the open tab,
//! debounced, and the answer replaces the list and every count. Working the view's rules out
//! locally would repeat the relay's (teams, default team, admin) and drift from them; one
//! small frame per burst of changes is cheaper than that risk.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchboard_protocol::csat::Scale;
use switchboard_protocol::{
    AgentRole, ClientMsg, ConversationSummary, Directory, ErrorCode, Presence, Priority, Status,
    SystemEvent, View,
};

use crate::i18n::{fill, t};
use crate::state::{send, session, Console};

/// A burst of changes (an assignment pass, a transfer and its assignment) costs one request.
const RELIST_MS: u32 = 250;
/// An `error` without a client id this soon after an action is that action's refusal.
const ACTION_ERROR_WINDOW_MS: f64 = 10_000.0;

pub const VIEWS: [View; 5] = [
    View::Unassigned,
    View::Mine,
    View::MyTeams,
    View::All,
    View::Resolved,
];

pub fn view_key(v: View) -> &'static str {
    match v {
        View::Unassigned => "unassigned",
        View::Mine => "mine",
        View::MyTeams => "my_teams",
        View::All => "all",
        View::Resolved => "resolved",
    }
}

/// An agent's display name from the directory; the id when it is not there.
pub fn agent_name(id: &str) -> String {
    session(|s| {
        s.directory
            .agents
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.clone())
    })
    .unwrap_or_else(|| id.to_owned())
}

/// A team's display name from the directory; the id when it is not there.
pub fn team_name(id: &str) -> String {
    session(|s| {
        s.directory
            .teams
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.name.clone())
    })
    .unwrap_or_else(|| id.to_owned())
}

/// The team a conversation waits in: its own, else its site's default team.
pub fn team_of(d: &Directory, s: &ConversationSummary) -> Option<String> {
    s.team.clone().or_else(|| {
        d.teams
            .iter()
            .find(|t| t.site == s.site && t.default)
            .map(|t| t.id.clone())
    })
}

/// Who did it, as a transcript line says it: the relay's own passes are "automatically".
fn by_whom(by: &str) -> String {
    if by == "system" {
        t().automatically.into()
    } else {
        fill(t().by_agent, &[("name", &agent_name(by))])
    }
}

/// A priority's name, as the agent reads it.
pub fn priority_label(p: Priority) -> &'static str {
    let s = t();
    match p {
        Priority::Low => s.priority_low,
        Priority::Normal => s.priority_normal,
        Priority::High => s.priority_high,
        Priority::Urgent => s.priority_urgent,
    }
}

/// A priority's key, for styles, tests and form values (never translated).
pub fn priority_key(p: Priority) -> &'static str {
    match p {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

pub fn status_key(s: Status) -> &'static str {
    match s {
        Status::Open => "open",
        Status::Pending => "pending",
        Status::Snoozed { .. } => "snoozed",
        Status::Resolved => "resolved",
    }
}

/// The status as the inbox line and the action bar say it.
pub fn status_label(s: Status) -> String {
    let t = t();
    match s {
        Status::Open => t.status_open.into(),
        Status::Pending => t.status_pending.into(),
        Status::Snoozed { until } => {
            fill(t.status_snoozed, &[("time", &crate::i18n::clock(until))])
        }
        Status::Resolved => t.status_resolved.into(),
    }
}

/// A system event as the transcript's note, a line of the conversation's story.
pub fn event_text(event: &SystemEvent) -> String {
    let s = t();
    let with_by = |template: &str, by: &str| fill(template, &[("by", &by_whom(by))]);
    match event {
        SystemEvent::Assigned { agent, by, .. } if by == agent || by == "system" => {
            fill(s.ev_joined, &[("agent", &agent_name(agent))])
        }
        SystemEvent::Assigned { agent, by, .. } => fill(
            s.ev_assigned,
            &[("agent", &agent_name(agent)), ("by", &by_whom(by))],
        ),
        SystemEvent::Unassigned { by } => with_by(s.ev_unassigned, by),
        SystemEvent::Transferred {
            to_agent,
            to_team,
            by,
            ..
        } => {
            let to = match (to_agent, to_team) {
                (Some(a), Some(team)) => fill(
                    s.agent_in_team,
                    &[("agent", &agent_name(a)), ("team", &team_name(team))],
                ),
                (Some(a), None) => agent_name(a),
                (None, Some(team)) => team_name(team),
                (None, None) => s.the_queue.into(),
            };
            fill(s.ev_transferred, &[("to", &to), ("by", &by_whom(by))])
        }
        SystemEvent::HandedOff { team, priority, by } => {
            let to = team.as_deref().map_or(s.the_team.into(), team_name);
            let bot = agent_name(by);
            match priority {
                Priority::Normal => fill(s.ev_handed, &[("team", &to), ("bot", &bot)]),
                p => fill(
                    s.ev_handed_priority,
                    &[
                        ("team", &to),
                        ("bot", &bot),
                        ("priority", &priority_label(*p).to_lowercase()),
                    ],
                ),
            }
        }
        SystemEvent::Pending { by } => with_by(s.ev_pending, by),
        SystemEvent::Snoozed { until, by } => fill(
            s.ev_snoozed,
            &[("time", &crate::i18n::clock(*until)), ("by", &by_whom(by))],
        ),
        SystemEvent::Resolved { by } => with_by(s.ev_resolved, by),
        SystemEvent::Reopened { by: Some(by) } => with_by(s.ev_reopened, by),
        SystemEvent::Reopened { by: None } => s.ev_reopened_visitor.into(),
        SystemEvent::Priority { priority, by } => fill(
            s.ev_priority,
            &[
                ("priority", &priority_label(*priority).to_lowercase()),
                ("by", &by_whom(by)),
            ],
        ),
        SystemEvent::Blocked { by } => with_by(s.ev_blocked, by),
        SystemEvent::Unblocked { by } => with_by(s.ev_unblocked, by),
        // A newer relay's event this console does not know: the line says only that
        // something changed.
        SystemEvent::Unknown => s.ev_unknown.into(),
        SystemEvent::Rated {
            score,
            scale,
            comment,
        } => {
            let score = match (scale, score) {
                (Scale::Five, n) => format!("{n}/5"),
                (Scale::Thumbs, 0) => s.rating_down.into(),
                (Scale::Thumbs, _) => s.rating_up.into(),
            };
            match comment {
                Some(comment) => fill(
                    s.ev_rated_comment,
                    &[("score", &score), ("comment", comment)],
                ),
                None => fill(s.ev_rated, &[("score", &score)]),
            }
        }
    }
}

/// What the signed-in agent may do to a conversation: the relay's rule (relay
/// `session/lifecycle.rs`) as far as the console can tell; the relay still decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    pub take: bool,
    pub assign_others: bool,
    pub unassign: bool,
    pub transfer: bool,
    pub status: bool,
}

pub fn allowed(d: &Directory, me: &str, s: &ConversationSummary) -> Allowed {
    let admin = d.role == AgentRole::Admin;
    let mine = s.assignee.as_deref() == Some(me);
    let unassigned = s.assignee.is_none();
    let in_team = team_of(d, s)
        .and_then(|t| d.teams.iter().find(|x| x.id == t && x.site == s.site))
        .is_none_or(|t| t.members.iter().any(|m| m == me));
    if !(admin || mine || in_team) {
        return Allowed::default();
    }
    Allowed {
        take: !mine && (unassigned || admin),
        assign_others: admin,
        unassign: !unassigned && (admin || mine),
        transfer: admin || mine,
        status: admin || mine || unassigned,
    }
}

impl Console {
    /// The directory arrived (after `welcome`): names for the views, the story's lines.
    pub fn set_directory(self, d: Directory) {
        session(|s| s.directory = d.clone());
        self.directory.set(d);
    }

    /// A `view` answer: the list (if it is still the open tab's) and every count.
    pub fn apply_view(
        self,
        view: View,
        items: Vec<ConversationSummary>,
        counts: switchboard_protocol::ViewCounts,
    ) {
        self.counts.set(Some(counts));
        self.remember(&items);
        if view == self.view.get_untracked() {
            self.view_answered.set(true);
            self.replace_inbox(items);
        }
    }

    /// Keeps the latest summary of every conversation heard of, for the action bar (the open
    /// conversation may have left the open tab's list).
    pub fn remember(self, items: &[ConversationSummary]) {
        self.summaries.update(|all| {
            for s in items {
                let newer = all.get(&s.id).is_none_or(|old| old.version <= s.version);
                if newer {
                    all.insert(s.id.clone(), s.clone());
                }
            }
        });
    }

    /// The open conversation's latest summary.
    pub fn open_summary(self) -> Option<ConversationSummary> {
        let id = self.selected.get()?;
        self.summaries.with(|all| all.get(&id).cloned())
    }
}

/// Switches tabs: the list is asked for at once; it stays as it was until the answer.
pub fn show_view(c: Console, view: View) {
    if c.view.get_untracked() != view {
        c.view.set(view);
    }
    list_view(c);
}

pub fn list_view(c: Console) {
    send(&ClientMsg::ListView {
        view: c.view.get_untracked(),
        before: None,
        limit: None,
    });
}

/// Asks for the open tab again once changes stop arriving for a moment.
pub fn relist_soon(c: Console) {
    let generation = session(|s| {
        s.relist_generation += 1;
        s.relist_generation
    });
    spawn_local(async move {
        TimeoutFuture::new(RELIST_MS).await;
        if session(|s| s.relist_generation) == generation {
            list_view(c);
        }
    });
}

/// Sends one lifecycle frame; its refusal (if any) comes back as an `error` without a client
/// id, shown by [`refused`].
fn act(c: Console, msg: ClientMsg) {
    c.notice.set(None);
    session(|s| s.last_action_at = js_sys::Date::now());
    if !send(&msg) {
        c.notice.set(Some(t().not_connected.into()));
    }
}

/// The relay refused a frame with no client id. An action's refusal is said plainly; after a
/// conflict the console's view of the conversation is stale, so it is fetched again.
pub fn refused(c: Console, code: ErrorCode, message: &str) -> bool {
    let recent = js_sys::Date::now() - session(|s| s.last_action_at) < ACTION_ERROR_WINDOW_MS;
    if !recent {
        return false;
    }
    let text = match code {
        ErrorCode::Conflict => t().conflict.into(),
        _ => fill(t().not_done, &[("message", message)]),
    };
    c.notice.set(Some(text));
    if code == ErrorCode::Conflict {
        send(&ClientMsg::ListConversations {
            before: None,
            limit: None,
        });
        list_view(c);
    }
    true
}

pub fn assign(c: Console, s: &ConversationSummary, agent: Option<String>) {
    act(
        c,
        ClientMsg::Assign {
            conversation_id: s.id.clone(),
            expected_version: s.version,
            agent,
        },
    );
}

pub fn transfer(
    c: Console,
    s: &ConversationSummary,
    to_agent: Option<String>,
    to_team: Option<String>,
    note: Option<String>,
) {
    act(
        c,
        ClientMsg::Transfer {
            conversation_id: s.id.clone(),
            expected_version: s.version,
            to_agent,
            to_team,
            note,
        },
    );
}

pub fn set_status(c: Console, s: &ConversationSummary, status: Status) {
    act(
        c,
        ClientMsg::SetStatus {
            conversation_id: s.id.clone(),
            expected_version: s.version,
            status,
        },
    );
}

pub fn set_priority(c: Console, s: &ConversationSummary, priority: Priority) {
    act(
        c,
        ClientMsg::SetPriority {
            conversation_id: s.id.clone(),
            expected_version: s.version,
            priority,
        },
    );
}

/// The agent's own choice; said again after every `welcome`, since a new connection starts
/// online.
pub fn set_presence(c: Console, status: Presence) {
    c.my_presence.set(status);
    send(&ClientMsg::SetPresence { status });
}

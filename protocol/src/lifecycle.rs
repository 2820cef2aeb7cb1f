//! A conversation's lifecycle as agents manage it: its status, and the system events that
//! record every change in the conversation's log.
//!
//! Events are codes with parameters, never English text, so the widget and the console render
//! them in their own language.

use serde::{Deserialize, Serialize};

use crate::csat::Scale;
use crate::handoff::Priority;
use crate::Millis;

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Someone on the helpdesk side has to act.
    #[default]
    Open,
    /// Waiting on the visitor; the visitor's next message opens it again.
    Pending,
    /// Put aside until `until`; open again once that time has passed, or at the visitor's next
    /// message.
    Snoozed { until: Millis },
    /// Done; the visitor's next message reopens it.
    Resolved,
}

impl Status {
    /// The status as it stands at `now`: a snooze whose time has passed reads as open.
    pub fn at(self, now: Millis) -> Status {
        match self {
            Status::Snoozed { until } if until <= now => Status::Open,
            s => s,
        }
    }
}

/// Whether an agent takes conversations now. `away` is connected but not taking new ones (no
/// automatic assignment); `offline` is no connection for a grace period, or chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    #[default]
    Online,
    Away,
    Offline,
}

/// A filtered inbox an agent asks for with `list_view`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Waiting for someone: not resolved, owned by the humans, assigned to nobody, in one of
    /// the agent's teams (an admin: any team).
    Unassigned,
    /// Assigned to the agent, not resolved.
    Mine,
    /// In one of the agent's teams (an admin: any team), not resolved.
    MyTeams,
    /// Every conversation of the agent's sites that is not resolved.
    All,
    Resolved,
}

/// What an agent may do beyond its own conversations (see docs/protocol.md, "Who may do
/// what").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentRole {
    /// Takes unassigned conversations; acts on its own and its teams' unassigned ones.
    #[default]
    Agent,
    /// Also assigns, reassigns and transfers anyone's conversation.
    Admin,
}

/// Who an agent can hand work to: its own role, and the teams and agents of the sites it
/// serves (never another site's). Presence is not here: `presence` frames carry it live.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub role: AgentRole,
    pub teams: Vec<TeamEntry>,
    pub agents: Vec<AgentEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamEntry {
    pub id: String,
    pub name: String,
    pub site: String,
    /// Agent ids.
    pub members: Vec<String>,
    /// The site's default team: where a conversation without a team waits.
    #[serde(default)]
    pub default: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEntry {
    pub id: String,
    pub name: String,
    /// The sites it serves, of those the receiving agent serves.
    pub sites: Vec<String>,
}

/// How many conversations each view holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewCounts {
    pub unassigned: u32,
    pub mine: u32,
    pub my_teams: u32,
    pub all: u32,
    pub resolved: u32,
}

/// One change of a conversation's lifecycle, as stored in its log (a `message` whose sender
/// kind is `system`). `by` is the agent (or bot) that made the change. The `*_name` fields are
/// the display names (from the relay's configuration, at the time of the change) of the agent
/// or team the event names, so a transcript reads "Alex joined" without a directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SystemEvent {
    Assigned {
        agent: String,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_name: Option<String>,
    },
    Unassigned {
        by: String,
    },
    /// To another agent, another team, or both. The transfer note is not here: it is for
    /// agents, and the log is also the visitor's.
    Transferred {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_agent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_team: Option<String>,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_agent_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_team_name: Option<String>,
    },
    /// A bot handed the conversation to humans: it enters this team's queue.
    HandedOff {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<String>,
        priority: Priority,
        by: String,
    },
    Pending {
        by: String,
    },
    Snoozed {
        until: Millis,
        by: String,
    },
    Resolved {
        by: String,
    },
    /// Open again: by an agent, or (no `by`) by the visitor's message.
    Reopened {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    Priority {
        priority: Priority,
        by: String,
    },
    /// An agent blocked the visitor (and closed the conversation). For agents only: never
    /// sent to the visitor, live or in a `sync`.
    Blocked {
        by: String,
    },
    /// An admin lifted the block. For agents only, like `blocked`.
    Unblocked {
        by: String,
    },
    /// The visitor rated the resolved conversation (see [`crate::csat`]): once per
    /// resolution, on the site's scale at that time. Seen by the visitor (its own rating) and
    /// by agents.
    Rated {
        score: u8,
        scale: Scale,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// An event this build does not know: a newer relay's, met by a client (or a tab) still
    /// running the older code. Read as a bare entry of the log, so the entry's seq still
    /// counts and the client's gap-free seq tracking holds; never written by this relay.
    #[serde(other)]
    Unknown,
}

impl SystemEvent {
    /// The event's wire `code` (the widget's and console's `data-code`).
    pub fn code(&self) -> &'static str {
        match self {
            SystemEvent::Assigned { .. } => "assigned",
            SystemEvent::Unassigned { .. } => "unassigned",
            SystemEvent::Transferred { .. } => "transferred",
            SystemEvent::HandedOff { .. } => "handed_off",
            SystemEvent::Pending { .. } => "pending",
            SystemEvent::Snoozed { .. } => "snoozed",
            SystemEvent::Resolved { .. } => "resolved",
            SystemEvent::Reopened { .. } => "reopened",
            SystemEvent::Priority { .. } => "priority",
            SystemEvent::Blocked { .. } => "blocked",
            SystemEvent::Unblocked { .. } => "unblocked",
            SystemEvent::Rated { .. } => "rated",
            SystemEvent::Unknown => "unknown",
        }
    }

    /// Whether the visitor sees this event. Visitors see who answers them and where the
    /// conversation stands for them: `assigned` ("Alex joined"), `transferred`, `resolved` and
    /// `reopened`, and their own rating (`rated`). The helpdesk's own workflow (`unassigned`, `handed_off` with its priority,
    /// `pending`, `snoozed`, `priority`) and a block (`blocked`, `unblocked`: a blocked visitor
    /// must not learn who blocked it) are for agents only: the relay sends visitors such an
    /// entry of the log without its `event` (see `docs/protocol.md`), so their seqs stay
    /// gap-free and nothing of it reaches them.
    pub fn for_visitors(&self) -> bool {
        matches!(
            self,
            SystemEvent::Assigned { .. }
                | SystemEvent::Transferred { .. }
                | SystemEvent::Resolved { .. }
                | SystemEvent::Reopened { .. }
                | SystemEvent::Rated { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_relays_event_reads_as_unknown_not_as_an_error() {
        let e: SystemEvent =
            serde_json::from_str(r#"{"code":"escalated","by":"alex","level":3}"#).unwrap();
        assert_eq!(e, SystemEvent::Unknown);
        assert!(!e.for_visitors());
        // A known code with broken parameters is still refused.
        assert!(serde_json::from_str::<SystemEvent>(r#"{"code":"resolved"}"#).is_err());
    }

    #[test]
    fn events_are_codes_with_parameters() {
        let e = SystemEvent::Transferred {
            from: Some("alex".into()),
            to_agent: None,
            to_team: Some("billing".into()),
            by: "alex".into(),
            to_agent_name: None,
            to_team_name: Some("Billing".into()),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"transferred","from":"alex","to_team":"billing","by":"alex","to_team_name":"Billing"}"#
        );
        let s = Status::Snoozed { until: 5 };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"state":"snoozed","until":5}"#
        );
        assert_eq!(s.at(4), s);
        assert_eq!(s.at(5), Status::Open);
    }
}

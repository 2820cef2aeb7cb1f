//! A conversation's lifecycle as agents manage it: its status, and the system events that
//! record every change in the conversation's log.
//!
//! Events are codes with parameters, never English text, so the widget and the console render
//! them in their own language.

use serde::{Deserialize, Serialize};

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
/// kind is `system`). `by` is the agent (or bot) that made the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SystemEvent {
    Assigned {
        agent: String,
        by: String,
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
}

impl SystemEvent {
    /// Whether the visitor may see this event (live or in a `sync`): the block's events are
    /// the agents' business, and a blocked visitor must not learn who blocked it.
    pub fn for_visitor(&self) -> bool {
        !matches!(
            self,
            SystemEvent::Blocked { .. } | SystemEvent::Unblocked { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_codes_with_parameters() {
        let e = SystemEvent::Transferred {
            from: Some("alex".into()),
            to_agent: None,
            to_team: Some("billing".into()),
            by: "alex".into(),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"transferred","from":"alex","to_team":"billing","by":"alex"}"#
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

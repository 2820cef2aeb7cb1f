//! A conversation's lifecycle state (status, assignee, team, priority) and the one rule for
//! what a change does to it. Both brokers apply a change through [`State::apply`] and only
//! differ in how they make "check the version, store the new state, append the event, publish
//! it" one atomic step; who may ask for a change is the session's business.

use switchboard_protocol::{
    ChatMessage, Millis, Priority, Sender, SenderKind, Status, SystemEvent,
};

/// The sender id of system messages.
pub const SYSTEM: &str = "system";

/// What agents manage about a conversation, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// As stored: a snooze whose time has passed still says snoozed here (see [`Status::at`]).
    pub status: Status,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub priority: Priority,
    /// The note of the latest transfer, for agents.
    pub note: Option<String>,
    /// Bumped by every change, the visitor's reopening message included.
    pub version: u64,
    /// An agent blocked the visitor: the conversation is in no inbox or view, and the
    /// visitor's messages are refused in the append itself.
    pub blocked: bool,
    /// The visitor rated the current resolution (cleared when the conversation is resolved
    /// again): one rating per resolution.
    pub rated: bool,
}

/// One change an agent (or a bot's handoff) asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// To this agent, or back to the team's queue (`None`).
    Assign(Option<String>),
    Transfer {
        to_agent: Option<String>,
        to_team: Option<String>,
        note: Option<String>,
    },
    Status(Status),
    Priority(Priority),
    /// A bot handed off: the conversation enters `team`'s queue (the current team's if none)
    /// at `priority`, open.
    HandedOff {
        team: Option<String>,
        priority: Priority,
    },
    /// An agent blocked the visitor: resolved and hidden.
    Block,
    /// An admin lifted the block: listed again (still resolved until the visitor writes).
    Unblock,
    /// The visitor rated the resolved conversation (`by`: the visitor's id). It bumps the
    /// version like any change, so it is one compare-and-set with the rest.
    Rate {
        score: u8,
        scale: switchboard_protocol::csat::Scale,
        comment: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct Change {
    /// The agent or bot id that asks.
    pub by: String,
    pub at: Millis,
    pub what: Lifecycle,
    /// Display names for the event, resolved by whoever asks (the broker knows no names).
    pub names: Names,
}

/// The display names of the agent and the team a change names, as its event carries them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub agent: Option<String>,
    pub team: Option<String>,
}

impl Names {
    /// The configured names of the agent and team `what` names on `site`.
    pub fn of(config: &crate::config::Config, site: &str, what: &Lifecycle) -> Names {
        let (agent, team) = match what {
            Lifecycle::Assign(agent) => (agent.as_deref(), None),
            Lifecycle::Transfer {
                to_agent, to_team, ..
            } => (to_agent.as_deref(), to_team.as_deref()),
            _ => (None, None),
        };
        Names {
            agent: agent.and_then(|a| config.agent_of(site, a).map(|a| a.name.clone())),
            team: team.and_then(|t| config.team(site, t).map(|t| t.name.clone())),
        }
    }
}

/// A change that was stored: the system message it appended (already published) and the new
/// state.
#[derive(Clone, Debug)]
pub struct Changed {
    pub message: ChatMessage,
    pub state: State,
}

impl State {
    /// The state after `change` and the event that records it, or why it would change nothing
    /// (assigning to the current assignee, resolving a resolved conversation, ...).
    pub fn apply(&self, change: &Change) -> Result<(State, SystemEvent), String> {
        let mut next = self.clone();
        next.version = self.version + 1;
        let by = change.by.clone();
        let event = match &change.what {
            Lifecycle::Assign(Some(agent)) => {
                if self.assignee.as_ref() == Some(agent) {
                    return Err(format!("already assigned to {agent}"));
                }
                next.assignee = Some(agent.clone());
                SystemEvent::Assigned {
                    agent: agent.clone(),
                    by,
                    agent_name: change.names.agent.clone(),
                }
            }
            Lifecycle::Assign(None) => {
                if self.assignee.is_none() {
                    return Err("not assigned to anyone".into());
                }
                next.assignee = None;
                SystemEvent::Unassigned { by }
            }
            Lifecycle::Transfer {
                to_agent,
                to_team,
                note,
            } => {
                let team = to_team.clone().or_else(|| self.team.clone());
                if *to_agent == self.assignee && team == self.team {
                    return Err("the conversation is there already".into());
                }
                next.assignee = to_agent.clone();
                next.team = team;
                next.note = note.clone();
                SystemEvent::Transferred {
                    from: self.assignee.clone(),
                    to_agent: to_agent.clone(),
                    to_team: to_team.clone(),
                    by,
                    to_agent_name: to_agent.as_ref().and(change.names.agent.clone()),
                    to_team_name: to_team.as_ref().and(change.names.team.clone()),
                }
            }
            Lifecycle::Status(status) => {
                if *status == self.status.at(change.at) {
                    return Err("the conversation has that status already".into());
                }
                next.status = *status;
                if *status == Status::Resolved {
                    // A new resolution, rated afresh.
                    next.rated = false;
                }
                match *status {
                    Status::Open => SystemEvent::Reopened { by: Some(by) },
                    Status::Pending => SystemEvent::Pending { by },
                    Status::Snoozed { until } if until <= change.at => {
                        return Err("a snooze must end in the future".into())
                    }
                    Status::Snoozed { until } => SystemEvent::Snoozed { until, by },
                    Status::Resolved => SystemEvent::Resolved { by },
                }
            }
            Lifecycle::Priority(priority) => {
                if *priority == self.priority {
                    return Err("the conversation has that priority already".into());
                }
                next.priority = *priority;
                SystemEvent::Priority {
                    priority: *priority,
                    by,
                }
            }
            Lifecycle::HandedOff { team, priority } => {
                let moves = team.is_some() && *team != self.team;
                if !moves && *priority == self.priority && self.status.at(change.at) == Status::Open
                {
                    return Err("the handoff changes nothing here".into());
                }
                if moves {
                    // Another team's queue: whoever held it in the old team no longer does.
                    next.assignee = None;
                    next.team = team.clone();
                }
                next.priority = *priority;
                next.status = Status::Open;
                SystemEvent::HandedOff {
                    team: team.clone(),
                    priority: *priority,
                    by,
                }
            }
            Lifecycle::Block => {
                if self.blocked {
                    return Err("the visitor is blocked already".into());
                }
                next.blocked = true;
                next.status = Status::Resolved;
                SystemEvent::Blocked { by }
            }
            Lifecycle::Unblock => {
                if !self.blocked {
                    return Err("the conversation is not blocked".into());
                }
                next.blocked = false;
                SystemEvent::Unblocked { by }
            }
            Lifecycle::Rate {
                score,
                scale,
                comment,
            } => {
                if self.status.at(change.at) != Status::Resolved {
                    return Err("the conversation is not resolved".into());
                }
                if self.rated {
                    return Err("this resolution is rated already".into());
                }
                next.rated = true;
                SystemEvent::Rated {
                    score: *score,
                    scale: *scale,
                    comment: comment.clone(),
                }
            }
        };
        Ok((next, event))
    }

    /// The state as both brokers store it (strings, an optional snooze end).
    pub(crate) fn from_stored(
        status: Option<&str>,
        snoozed_until: Option<Millis>,
        assignee: Option<String>,
        team: Option<String>,
        priority: Option<&str>,
        note: Option<String>,
        version: u64,
    ) -> State {
        State {
            status: parse_status(status.unwrap_or("open"), snoozed_until),
            assignee,
            team,
            priority: priority.map(parse_priority).unwrap_or_default(),
            note,
            version,
            blocked: false,
            rated: false,
        }
    }
}

/// The stored name of a status (its snooze end is stored beside it).
pub(crate) fn status_str(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::Pending => "pending",
        Status::Snoozed { .. } => "snoozed",
        Status::Resolved => "resolved",
    }
}

pub(crate) fn snoozed_until(status: Status) -> Option<Millis> {
    match status {
        Status::Snoozed { until } => Some(until),
        _ => None,
    }
}

/// An unknown name (a newer version's) reads as open: someone looks at it.
fn parse_status(s: &str, until: Option<Millis>) -> Status {
    match (s, until) {
        ("pending", _) => Status::Pending,
        ("snoozed", Some(until)) => Status::Snoozed { until },
        ("resolved", _) => Status::Resolved,
        _ => Status::Open,
    }
}

/// The stored statuses a visitor's message ends: it is the visitor's turn no longer, or the
/// visitor came back early or after the end. Both brokers check this inside the append.
pub(crate) const REOPENED_BY_VISITOR: [&str; 3] = ["pending", "snoozed", "resolved"];

pub(crate) fn priority_str(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "low",
        Priority::Normal => "normal",
        Priority::High => "high",
        Priority::Urgent => "urgent",
    }
}

fn parse_priority(s: &str) -> Priority {
    match s {
        "low" => Priority::Low,
        "high" => Priority::High,
        "urgent" => Priority::Urgent,
        _ => Priority::Normal,
    }
}

/// A system message recording `event`. Its client id is unique in the conversation (the new
/// version for a change, the visitor's client id for a reopening), so the `(sender,
/// client_id)` uniqueness of the log holds for system messages too.
pub(crate) fn system_message(
    conversation_id: &str,
    seq: u64,
    client_id: String,
    at: Millis,
    event: SystemEvent,
) -> ChatMessage {
    ChatMessage {
        conversation_id: conversation_id.to_owned(),
        seq,
        client_id,
        sender: Sender {
            kind: SenderKind::System,
            id: SYSTEM.into(),
            name: None,
            avatar: None,
        },
        text: String::new(),
        at,
        rich: None,
        postback: None,
        event: Some(Box::new(event)),
        note: None,
    }
}

/// The copy of a log entry a visitor receives, live and in history. A private note, and a
/// system entry whose event is the helpdesk's own business (see [`SystemEvent::for_visitors`]),
/// keep their seq and time and lose everything else, the sender included (a bare system
/// entry, which clients show as nothing), so the visitor's log stays gap-free and learns
/// nothing of them; `None`: the entry goes to visitors as it is.
pub fn visitor_copy(m: &ChatMessage) -> Option<ChatMessage> {
    if !m.is_note() && m.event.as_deref().is_none_or(SystemEvent::for_visitors) {
        return None;
    }
    Some(bare(m))
}

/// The copy of a log entry a bot receives (its `sync`, a `routed` transcript, a webhook): a
/// private note as the visitor's bare entry; everything else as it is (bots see the
/// helpdesk's events, which drive their work).
pub fn bot_copy(m: ChatMessage) -> ChatMessage {
    if m.is_note() {
        bare(&m)
    } else {
        m
    }
}

/// A log entry reduced to its place in the log.
fn bare(m: &ChatMessage) -> ChatMessage {
    ChatMessage {
        conversation_id: m.conversation_id.clone(),
        seq: m.seq,
        client_id: String::new(),
        sender: Sender {
            kind: SenderKind::System,
            id: SYSTEM.into(),
            name: None,
            avatar: None,
        },
        text: String::new(),
        at: m.at,
        rich: None,
        postback: None,
        event: None,
        note: None,
    }
}

/// The client id of the `reopened` event a visitor's message with this client id causes.
pub(crate) fn reopen_client_id(visitor_client_id: &str) -> String {
    format!("r-{visitor_client_id}")
}

/// The client id of the event of the change that produced `version`.
pub(crate) fn change_client_id(version: u64) -> String {
    format!("v{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(what: Lifecycle) -> Change {
        Change {
            by: "alex".into(),
            at: 100,
            what,
            names: Names {
                agent: Some("Olga".into()),
                team: None,
            },
        }
    }

    #[test]
    fn a_change_bumps_the_version_and_names_who_made_it() {
        let s = State::default();
        let (s, e) = s
            .apply(&change(Lifecycle::Assign(Some("olga".into()))))
            .unwrap();
        assert_eq!((s.assignee.as_deref(), s.version), (Some("olga"), 1));
        assert_eq!(
            e,
            SystemEvent::Assigned {
                agent: "olga".into(),
                by: "alex".into(),
                agent_name: Some("Olga".into()),
            }
        );
        assert!(s
            .apply(&change(Lifecycle::Assign(Some("olga".into()))))
            .is_err());
        let (s, _) = s
            .apply(&change(Lifecycle::Transfer {
                to_agent: None,
                to_team: Some("billing".into()),
                note: Some("refund".into()),
            }))
            .unwrap();
        assert_eq!(
            (s.assignee, s.team.as_deref(), s.note.as_deref(), s.version),
            (None, Some("billing"), Some("refund"), 2)
        );
    }

    #[test]
    fn a_block_resolves_and_hides_once() {
        let s = State {
            assignee: Some("olga".into()),
            ..State::default()
        };
        let (s, e) = s.apply(&change(Lifecycle::Block)).unwrap();
        assert!(s.blocked);
        assert_eq!((s.status, s.version), (Status::Resolved, 1));
        assert_eq!(e, SystemEvent::Blocked { by: "alex".into() });
        assert!(!e.for_visitors());
        assert!(s.apply(&change(Lifecycle::Block)).is_err());
        let (s, e) = s.apply(&change(Lifecycle::Unblock)).unwrap();
        assert!(!s.blocked);
        assert_eq!(e, SystemEvent::Unblocked { by: "alex".into() });
        assert!(s.apply(&change(Lifecycle::Unblock)).is_err());
    }

    #[test]
    fn a_resolution_is_rated_once() {
        let rate = || {
            change(Lifecycle::Rate {
                score: 4,
                scale: switchboard_protocol::csat::Scale::Five,
                comment: Some("quick".into()),
            })
        };
        let open = State::default();
        assert!(open.apply(&rate()).is_err(), "nothing to rate while open");
        let (resolved, _) = open
            .apply(&change(Lifecycle::Status(Status::Resolved)))
            .unwrap();
        let (rated, e) = resolved.apply(&rate()).unwrap();
        assert!(rated.rated && e.for_visitors());
        assert_eq!(rated.version, resolved.version + 1);
        assert!(rated.apply(&rate()).is_err(), "one rating per resolution");
        let (reopened, _) = rated
            .apply(&change(Lifecycle::Status(Status::Open)))
            .unwrap();
        assert!(reopened.apply(&rate()).is_err());
        let (again, _) = reopened
            .apply(&change(Lifecycle::Status(Status::Resolved)))
            .unwrap();
        assert!(!again.rated);
        assert!(
            again.apply(&rate()).is_ok(),
            "a new resolution is rated afresh"
        );
    }

    #[test]
    fn a_passed_snooze_reads_as_open() {
        let s = State {
            status: Status::Snoozed { until: 50 },
            ..State::default()
        };
        assert!(s.apply(&change(Lifecycle::Status(Status::Open))).is_err());
        let (s, e) = s
            .apply(&change(Lifecycle::Status(Status::Resolved)))
            .unwrap();
        assert_eq!(s.status, Status::Resolved);
        assert_eq!(e, SystemEvent::Resolved { by: "alex".into() });
        assert!(s
            .apply(&change(Lifecycle::Status(Status::Snoozed { until: 100 })))
            .is_err());
    }

    #[test]
    fn a_note_reaches_visitors_and_bots_as_a_bare_entry() {
        let note = ChatMessage {
            conversation_id: "c1".into(),
            seq: 4,
            client_id: "n1".into(),
            sender: Sender {
                kind: SenderKind::Agent,
                id: "alex".into(),
                name: Some("Alex".into()),
                avatar: None,
            },
            text: "refund approved".into(),
            at: 9,
            rich: None,
            postback: None,
            event: None,
            note: Some(Box::default()),
        };
        let bare = visitor_copy(&note).expect("a note is never sent as it is");
        assert_eq!(bot_copy(note.clone()), bare);
        assert_eq!((bare.seq, bare.at), (4, 9));
        assert_eq!(bare.sender.kind, SenderKind::System);
        assert_eq!(bare.sender.id, SYSTEM);
        assert!(bare.text.is_empty() && bare.client_id.is_empty() && bare.note.is_none());
        let json = serde_json::to_string(&bare).unwrap();
        assert!(!json.contains("alex") && !json.contains("refund") && !json.contains("note"));
        // A plain message goes to both as it is.
        let plain = ChatMessage { note: None, ..note };
        assert!(visitor_copy(&plain).is_none());
        assert_eq!(bot_copy(plain.clone()), plain);
    }
}

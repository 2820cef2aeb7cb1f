//! The one rule turning an entry of a conversation's stored log into the events a site's
//! webhooks can subscribe to. Pure: the delivery worker applies it to what it reads from the
//! log, so what a receiver gets is exactly what was stored.

use switchboard_protocol::webhook::{SiteEvent, SiteEventType};
use switchboard_protocol::{ChatMessage, SenderKind, SystemEvent};

/// The kinds of event `entry` stands for, in the order they are sent (a conversation's first
/// entry: `conversation.created` before its `message.created`).
pub fn kinds(entry: &ChatMessage) -> impl Iterator<Item = SiteEventType> {
    let created =
        (entry.seq == 1 && !entry.is_note()).then_some(SiteEventType::ConversationCreated);
    let own = if entry.is_note() {
        // Private notes are for agents; they never leave the relay.
        None
    } else if entry.sender.kind != SenderKind::System {
        Some(SiteEventType::MessageCreated)
    } else {
        entry.event.as_deref().and_then(system)
    };
    created.into_iter().chain(own)
}

/// The event a lifecycle change is, if a CRM hears of it. Exhaustive on purpose: a new
/// `SystemEvent` does not compile until it is decided here.
fn system(event: &SystemEvent) -> Option<SiteEventType> {
    match event {
        SystemEvent::Assigned { .. } => Some(SiteEventType::ConversationAssigned),
        SystemEvent::Transferred { .. } => Some(SiteEventType::ConversationTransferred),
        SystemEvent::Resolved { .. } => Some(SiteEventType::ConversationResolved),
        SystemEvent::Reopened { .. } => Some(SiteEventType::ConversationReopened),
        SystemEvent::HandedOff { .. } => Some(SiteEventType::HandoffRequested),
        SystemEvent::Rated { .. } => Some(SiteEventType::CsatSubmitted),
        SystemEvent::Unassigned { .. }
        | SystemEvent::Pending { .. }
        | SystemEvent::Snoozed { .. }
        | SystemEvent::Priority { .. }
        | SystemEvent::Blocked { .. }
        | SystemEvent::Unblocked { .. }
        | SystemEvent::Unknown => None,
    }
}

/// The events of `entry`, as POSTed.
pub fn derive<'a>(site: &str, entry: &'a ChatMessage) -> impl Iterator<Item = SiteEvent> + 'a {
    let site = site.to_owned();
    kinds(entry).map(move |kind| SiteEvent {
        id: id(&entry.conversation_id, entry.seq, kind),
        kind,
        site: site.clone(),
        conversation_id: entry.conversation_id.clone(),
        seq: entry.seq,
        at: entry.at,
        entry: entry.clone(),
    })
}

/// The event's id: the entry it comes from and its kind, so every retry, every node and a
/// re-read of the log give the same one.
pub fn id(conversation_id: &str, seq: u64, kind: SiteEventType) -> String {
    format!("{conversation_id}.{seq}.{}", kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocol::{Note, Priority, Sender};

    fn entry(seq: u64, kind: SenderKind, event: Option<SystemEvent>) -> ChatMessage {
        ChatMessage {
            conversation_id: "c_1".into(),
            seq,
            client_id: format!("k{seq}"),
            sender: Sender {
                kind,
                id: "x".into(),
                name: None,
                avatar: None,
            },
            text: "hi".into(),
            at: 7,
            rich: None,
            postback: None,
            event: event.map(Box::new),
            note: None,
        }
    }

    fn of(e: &ChatMessage) -> Vec<&'static str> {
        kinds(e).map(SiteEventType::as_str).collect()
    }

    #[test]
    fn log_entries_map_to_crm_events() {
        let first = entry(1, SenderKind::Visitor, None);
        assert_eq!(of(&first), ["conversation.created", "message.created"]);
        assert_eq!(of(&entry(2, SenderKind::Agent, None)), ["message.created"]);
        assert_eq!(of(&entry(3, SenderKind::Bot, None)), ["message.created"]);
        let sys = |e| entry(4, SenderKind::System, Some(e));
        let by = || "alex".to_string();
        for (e, want) in [
            (
                SystemEvent::Assigned {
                    agent: by(),
                    by: by(),
                    agent_name: None,
                },
                vec!["conversation.assigned"],
            ),
            (
                SystemEvent::HandedOff {
                    team: None,
                    priority: Priority::Normal,
                    by: by(),
                },
                vec!["handoff.requested"],
            ),
            (
                SystemEvent::Resolved { by: by() },
                vec!["conversation.resolved"],
            ),
            (
                SystemEvent::Reopened { by: None },
                vec!["conversation.reopened"],
            ),
            (
                SystemEvent::Rated {
                    score: 4,
                    scale: switchboard_protocol::csat::Scale::Five,
                    comment: None,
                },
                vec!["csat.submitted"],
            ),
            (SystemEvent::Pending { by: by() }, vec![]),
            (SystemEvent::Unassigned { by: by() }, vec![]),
        ] {
            assert_eq!(of(&sys(e.clone())), want, "{e:?}");
        }
        let mut note = entry(5, SenderKind::Agent, None);
        note.note = Some(Box::new(Note { mentions: vec![] }));
        assert!(of(&note).is_empty(), "a private note left the relay");

        let events: Vec<SiteEvent> = derive("shop", &first).collect();
        assert_eq!(events[0].id, "c_1.1.conversation.created");
        assert_eq!(events[1].id, "c_1.1.message.created");
        assert_eq!(events[1].entry, first);
    }
}

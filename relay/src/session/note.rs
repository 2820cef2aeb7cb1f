//! An agent's private note (`note` frame): checked, stored through the broker (which alone
//! decides who receives what of it: agents the note, visitors a bare entry), acknowledged,
//! and a `mention` frame to each agent it names, on whichever node they are connected.
//!
//! Visitors and bots never send notes (their sessions refuse the frame as `forbidden`), and
//! never receive one: see `broker::lifecycle::visitor_copy` and `bot_copy`.

use switchboard_protocol::server::Mention;
use switchboard_protocol::{ChatMessage, ErrorCode, Note, Sender, ServerMsg, WriteNote};

use super::Refusal;
use crate::broker::{Conversation, Event};
use crate::outbox::Outbox;
use crate::{clock, AppState};

/// Stores the note of `author` (an agent serving the conversation's site).
pub(super) async fn write(
    state: &AppState,
    author: Sender,
    conv: &Conversation,
    note: WriteNote,
    outbox: &Outbox,
) -> Result<(), Refusal> {
    let client_id = note.client_id;
    let mut mentions = note.mentions;
    mentions.sort();
    mentions.dedup();
    // Only the conversation's own site's agents: a mention never tells another site's
    // people about this conversation.
    if let Some(unknown) = mentions
        .iter()
        .find(|m| state.config.agent_of(&conv.site, m).is_none())
    {
        return Err(Refusal::new(
            ErrorCode::UnknownAgent,
            format!("{unknown} is not an agent of this conversation's site"),
        )
        .for_client(&client_id));
    }
    let entry = ChatMessage {
        conversation_id: conv.id.clone(),
        seq: 0,
        client_id: client_id.clone(),
        sender: author,
        text: note.text,
        at: clock::now(),
        rich: None,
        postback: None,
        event: None,
        note: Some(Box::new(Note { mentions })),
    };
    let (stored, duplicate) = state
        .broker
        .append_note(&conv.site, entry)
        .await
        .map_err(|e| Refusal::from(e).for_client(&client_id))?;
    outbox.send(&ServerMsg::Ack {
        conversation_id: stored.conversation_id.clone(),
        client_id: stored.client_id.clone(),
        seq: stored.seq,
        at: stored.at,
        duplicate,
    });
    if duplicate {
        return Ok(());
    }
    let mentioned = stored.note.as_deref().map_or(&[][..], |n| &n.mentions[..]);
    for agent in mentioned.iter().filter(|a| **a != stored.sender.id) {
        let frame = ServerMsg::Mention(Mention {
            conversation_id: stored.conversation_id.clone(),
            seq: stored.seq,
            by: stored.sender.id.clone(),
            by_name: stored.sender.name.clone(),
            text: stored.text.clone(),
            at: stored.at,
        });
        state
            .broker
            .publish(Event::to_agent(agent, &stored.conversation_id, &frame))
            .await;
    }
    Ok(())
}

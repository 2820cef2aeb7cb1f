//! Read receipts and the page trail, for the visitor and agent sessions (see
//! `protocol::receipts`).
//!
//! A `read` frame reaches the store only when it moves past the last mark this connection
//! stored or saw stored: a flood of repeated or lower marks is answered from memory, and the
//! rest are bounded by the connection's `control` rate limit and by the conversation's last
//! seq (a mark past it is `seq_ahead`, refused by the store's own atomic check).

use std::collections::HashMap;

use switchboard_protocol::limits::MAX_PAGE_TRAIL;
use switchboard_protocol::{Context, ErrorCode, PageVisit, ReadSide, ServerMsg};

use super::{publish, Reader, Refusal};
use crate::broker::{Audience, Conversation, ReadMark};
use crate::outbox::Outbox;
use crate::AppState;

/// Most conversations an agent connection remembers its last mark for; past it the memory
/// starts over (a forgotten mark costs one store call, not a wrong answer).
const REMEMBERED: usize = 256;

/// The marks one connection stored or saw stored, per conversation.
#[derive(Default)]
pub(super) struct Marks(HashMap<String, u64>);

impl Marks {
    /// Moves `side`'s mark of `conv` to `seq`; a mark that moved is told to the other side on
    /// every node (the visitor's to the site's agents, the agents' to the visitor's tabs).
    pub(super) async fn read(
        &mut self,
        state: &AppState,
        conv: &Conversation,
        side: ReadSide,
        seq: u64,
    ) -> Result<(), Refusal> {
        if self.0.get(&conv.id).is_some_and(|&m| seq <= m) {
            return Ok(());
        }
        let stored = match state.broker.mark_read(&conv.id, side, seq).await? {
            ReadMark::Moved => {
                let msg = ServerMsg::Read {
                    conversation_id: conv.id.clone(),
                    side,
                    seq,
                };
                let to = match side {
                    ReadSide::Visitor => Audience::Agents,
                    ReadSide::Agents => Audience::Visitors,
                };
                publish(state, to, conv, &msg).await;
                seq
            }
            ReadMark::Unchanged(current) => current,
            ReadMark::Ahead(last) => {
                return Err(Refusal::new(
                    ErrorCode::SeqAhead,
                    format!("seq {seq} is past the conversation's last ({last})"),
                ))
            }
        };
        if self.0.len() >= REMEMBERED {
            self.0.clear();
        }
        self.0.insert(conv.id.clone(), stored);
        Ok(())
    }
}

/// After a `sync`: the marks this reader may see (agents both, visitors the agents').
pub(super) async fn send_marks(
    state: &AppState,
    outbox: &Outbox,
    conversation_id: &str,
    reader: Reader,
) -> Result<(), Refusal> {
    let (visitor, agents) = state.broker.read_marks(conversation_id).await?;
    let sides = [(ReadSide::Visitor, visitor), (ReadSide::Agents, agents)];
    for (side, seq) in sides {
        if seq > 0 && (reader == Reader::Agent || side == ReadSide::Agents) {
            outbox.send(&ServerMsg::Read {
                conversation_id: conversation_id.to_owned(),
                side,
                seq,
            });
        }
    }
    Ok(())
}

/// Adds the context's page to the stored visitor's trail; the trail when it changed.
pub(super) async fn visit(
    state: &AppState,
    visitor_id: &str,
    context: &Context,
) -> Result<Option<Vec<PageVisit>>, Refusal> {
    let Some(page) = context.page.as_ref().filter(|p| !p.url.is_empty()) else {
        return Ok(None);
    };
    let visit = PageVisit {
        url: page.url.clone(),
        title: page.title.clone(),
        at: state.config.clock.now(),
    };
    let (trail, changed) = state
        .broker
        .push_page(visitor_id, &visit, MAX_PAGE_TRAIL)
        .await?;
    Ok(changed.then_some(trail))
}

/// After an agent's `sync`: the visitor's trail, if it has one.
pub(super) async fn send_trail(
    state: &AppState,
    outbox: &Outbox,
    conv: &Conversation,
) -> Result<(), Refusal> {
    let pages = state.broker.page_trail(&conv.visitor_id).await?;
    if !pages.is_empty() {
        outbox.send(&ServerMsg::PageTrail {
            conversation_id: conv.id.clone(),
            pages,
        });
    }
    Ok(())
}

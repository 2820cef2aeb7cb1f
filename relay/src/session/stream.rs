//! The answers a bot connection is streaming (`delta` frames, see `protocol::stream`): how far
//! each got, so the relay refuses what no client could show (a gap, a second start, a stream
//! longer than the message that will end it) and checks ownership without a store read per
//! piece.

use std::time::{Duration, Instant};

use switchboard_protocol::limits::MAX_TEXT_BYTES;
use switchboard_protocol::{Delta, ErrorCode};

use super::Refusal;
use crate::broker::Conversation;

/// Answers one connection may be writing at once; a bot that starts more without ending any
/// is refused until one ends or goes idle.
pub const MAX_OPEN: usize = 64;
/// A stream not added to for this long is forgotten (the bot gave up on it, or died and came
/// back on another connection).
pub const IDLE: Duration = Duration::from_secs(60);
/// How often a stream's ownership is read again: a conversation an agent took over stops
/// streaming within this, and its final `send` is refused in the store's own atomic step.
pub const RECHECK: Duration = Duration::from_secs(1);

struct Open {
    client_id: String,
    conversation: Conversation,
    next: u32,
    bytes: usize,
    last: Instant,
    checked: Instant,
}

/// What the session does with an accepted delta.
pub enum Step<'a> {
    /// Relay it in this conversation.
    Relay(&'a Conversation),
    /// Read the conversation again (ownership), then call [`Streams::checked`].
    Recheck,
}

#[derive(Default)]
pub struct Streams {
    open: Vec<Open>,
}

impl Streams {
    /// Whether `d` may start a stream (index 0): the caller then reads the conversation,
    /// checks ownership and calls [`Streams::start`].
    pub fn may_start(&mut self, d: &Delta, now: Instant) -> Result<(), Refusal> {
        self.open.retain(|o| now.duration_since(o.last) < IDLE);
        if self.open.iter().any(|o| o.client_id == d.client_id) {
            return Err(Refusal::new(
                ErrorCode::OutOfOrder,
                format!("the stream {} has started already", d.client_id),
            ));
        }
        if self.open.len() >= MAX_OPEN {
            return Err(Refusal::new(
                ErrorCode::RateLimited,
                format!("{MAX_OPEN} answers are streaming already; end one with its send"),
            ));
        }
        Ok(())
    }

    pub fn start(&mut self, d: &Delta, conversation: Conversation, now: Instant) -> &Conversation {
        self.open.push(Open {
            client_id: d.client_id.clone(),
            conversation,
            next: 1,
            bytes: d.text.len(),
            last: now,
            checked: now,
        });
        &self.open[self.open.len() - 1].conversation
    }

    /// A delta after the first: it must follow on, in the same conversation, within the size
    /// of one message.
    pub fn next(&mut self, d: &Delta, now: Instant) -> Result<Step<'_>, Refusal> {
        let Some(at) = self.open.iter().position(|o| o.client_id == d.client_id) else {
            return Err(Refusal::new(
                ErrorCode::OutOfOrder,
                format!("no stream {} was started with index 0", d.client_id),
            ));
        };
        let o = &mut self.open[at];
        if o.conversation.id != d.conversation_id {
            return Err(Refusal::new(
                ErrorCode::Invalid,
                format!("the stream {} is in another conversation", d.client_id),
            ));
        }
        if d.index != o.next {
            return Err(Refusal::new(
                ErrorCode::OutOfOrder,
                format!("the stream {} expects index {}", d.client_id, o.next),
            ));
        }
        if o.bytes + d.text.len() > MAX_TEXT_BYTES {
            return Err(Refusal::new(
                ErrorCode::TooLarge,
                format!("a streamed answer is limited to {MAX_TEXT_BYTES} bytes, like a message"),
            ));
        }
        if now.duration_since(o.checked) >= RECHECK {
            return Ok(Step::Recheck);
        }
        o.next += 1;
        o.bytes += d.text.len();
        o.last = now;
        Ok(Step::Relay(&o.conversation))
    }

    /// After a [`Step::Recheck`]: the conversation as read now, still the bot's.
    pub fn checked(
        &mut self,
        d: &Delta,
        conversation: Conversation,
        now: Instant,
    ) -> &Conversation {
        let at = self
            .open
            .iter()
            .position(|o| o.client_id == d.client_id)
            .expect("a recheck is for an open stream");
        let o = &mut self.open[at];
        o.conversation = conversation;
        o.checked = now;
        o.next += 1;
        o.bytes += d.text.len();
        o.last = now;
        &o.conversation
    }

    /// The stream `client_id` ended (its message was sent) or failed.
    pub fn end(&mut self, client_id: &str) {
        self.open.retain(|o| o.client_id != client_id);
    }

    /// Every stream of a conversation the bot no longer owns.
    pub fn end_conversation(&mut self, conversation_id: &str) {
        self.open.retain(|o| o.conversation.id != conversation_id);
    }
}

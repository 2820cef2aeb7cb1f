//! The storage seam: durable conversations, messages and visitors.
//!
//! [`Store`] is what sessions call; [`sqlite::SqliteStore`] is the embedded default (one file on
//! local disk, no other service). A Redis implementation slots in behind the same trait.
//!
//! Delivery contract: [`Store::append`] returns only after the message is durably stored (it
//! survives the relay process being killed); its `seq` is the next in the conversation, starting
//! at 1 with no gaps. Appending a `(sender, client_id)` pair that is already stored returns the
//! stored message with `duplicate = true` and stores nothing.

pub mod sqlite;

use async_trait::async_trait;
use switchboard_protocol::{ChatMessage, Context, ConversationSummary, Millis, Sender};

/// A visitor as stored: one per browser (per relay-issued token) and site.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub id: String,
    pub site: String,
    pub context: Context,
}

/// A conversation's ownership facts, what every authorization check needs.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub id: String,
    pub site: String,
    pub visitor_id: String,
    pub last_seq: u64,
}

pub struct NewMessage {
    pub conversation_id: String,
    pub client_id: String,
    pub sender: Sender,
    pub text: String,
    pub at: Millis,
}

pub struct Appended {
    pub message: ChatMessage,
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conversation {0} not found")]
    NotFound(String),
    #[error("storage failed: {0}")]
    Backend(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which implementation this is, for logs and `/healthz`.
    fn name(&self) -> &'static str;
    /// Whether the backend answers now.
    async fn ping(&self) -> Result<()>;
    /// The visitor holding this token hash on this site, if any.
    async fn visitor_by_token(&self, site: &str, token_hash: &str) -> Result<Option<Visitor>>;
    async fn create_visitor(
        &self,
        site: &str,
        token_hash: &str,
        context: Context,
    ) -> Result<Visitor>;
    /// Replaces the visitor's context whole.
    async fn set_context(&self, visitor_id: &str, context: &Context) -> Result<()>;
    /// The visitor's open conversation, created if there is none.
    async fn open_conversation(
        &self,
        site: &str,
        visitor_id: &str,
        now: Millis,
    ) -> Result<Conversation>;
    async fn conversation(&self, id: &str) -> Result<Option<Conversation>>;
    /// The context of the conversation's visitor.
    async fn conversation_context(&self, id: &str) -> Result<Context>;
    /// Durably stores a message; see the module docs for the contract.
    async fn append(&self, msg: NewMessage) -> Result<Appended>;
    /// Messages with `seq > since`, in order, at most `limit`.
    async fn history(
        &self,
        conversation_id: &str,
        since: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>>;
    /// Conversations that have at least one message, newest activity first.
    async fn inbox(&self, limit: usize) -> Result<Vec<ConversationSummary>>;
    async fn summary(&self, conversation_id: &str) -> Result<Option<ConversationSummary>>;
}

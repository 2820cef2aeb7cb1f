//! A visitor's connection: one conversation per visitor and site, identified by the
//! relay-issued token the widget keeps in the host page's storage.

use std::sync::Arc;

use switchboard_protocol::client::Hello;
use switchboard_protocol::{
    ClientMsg, CloseCode, Context, ErrorCode, Role, Sender, SenderKind, ServerMsg, PROTOCOL_VERSION,
};

use super::{deliver, ping_interval_ms, publish, publish_summary, send_history, Handler, Refusal};
use crate::broker::{Audience, Conversation, Visitor};
use crate::config::Site;
use crate::hub::Outbox;
use crate::{clock, token, AppState};

pub struct VisitorSession {
    visitor: Visitor,
    conversation: Conversation,
}

impl Handler for VisitorSession {
    type Params = Arc<Site>;

    async fn start(
        state: &AppState,
        site: Arc<Site>,
        hello: Hello,
        outbox: &Outbox,
    ) -> Result<Self, CloseCode> {
        let fail = |e| {
            tracing::error!(error = %e, "visitor start failed");
            outbox.send(&ServerMsg::error(
                ErrorCode::Unavailable,
                "storage is unavailable",
            ));
            CloseCode::UNAVAILABLE
        };
        let known = match &hello.token {
            Some(t) => state
                .broker
                .visitor_by_token(&site.key, &token::hash(t))
                .await
                .map_err(fail)?,
            None => None,
        };
        let (mut visitor, token) = match (known, hello.token) {
            (Some(v), Some(t)) => (v, t),
            _ => {
                let t = token::random_token();
                let ctx = hello.context.clone().unwrap_or_default();
                (
                    state
                        .broker
                        .create_visitor(&site.key, &token::hash(&t), ctx)
                        .await
                        .map_err(fail)?,
                    t,
                )
            }
        };
        if let Some(context) = hello.context {
            if context != visitor.context {
                state
                    .broker
                    .set_context(&visitor.id, &context)
                    .await
                    .map_err(fail)?;
                visitor.context = context;
            }
        }
        let conversation = state
            .broker
            .open_conversation(&site.key, &visitor.id, clock::now())
            .await
            .map_err(fail)?;
        state
            .hub
            .join_conversation(&conversation.id, outbox.clone());
        outbox.send(&ServerMsg::Welcome(switchboard_protocol::server::Welcome {
            protocol: PROTOCOL_VERSION,
            role: Role::Visitor,
            id: visitor.id.clone(),
            token: Some(token),
            conversation_id: Some(conversation.id.clone()),
            last_seq: Some(conversation.last_seq),
            name: None,
            ping_interval_ms: ping_interval_ms(state),
        }));
        let session = VisitorSession {
            visitor,
            conversation,
        };
        // A page load is a context change the agent should see (the visitor navigated).
        session.publish_context(state).await.ok();
        Ok(session)
    }

    async fn handle(
        &mut self,
        state: &AppState,
        msg: ClientMsg,
        outbox: &Outbox,
    ) -> Result<(), Refusal> {
        match msg {
            ClientMsg::Hello(_) => Err(Refusal::new(
                ErrorCode::OutOfOrder,
                "hello was already accepted",
            )),
            ClientMsg::Send(s) => {
                self.own(state, &s.conversation_id)
                    .await
                    .map_err(|r| r.for_client(&s.client_id))?;
                deliver(
                    state,
                    outbox,
                    &self.conversation,
                    self.sender(),
                    s.client_id,
                    s.text,
                )
                .await
            }
            ClientMsg::Typing {
                conversation_id,
                active,
            } => {
                self.own(state, &conversation_id).await?;
                let msg = ServerMsg::Typing {
                    conversation_id,
                    sender: self.sender(),
                    active,
                };
                publish(state, Audience::Agents, &self.conversation, &msg).await;
                Ok(())
            }
            ClientMsg::SetContext { context } => {
                state.broker.set_context(&self.visitor.id, &context).await?;
                self.visitor.context = context;
                self.publish_context(state).await
            }
            ClientMsg::Sync {
                conversation_id,
                since,
            } => {
                self.own(state, &conversation_id).await?;
                send_history(state, outbox, &conversation_id, since).await
            }
            ClientMsg::Ping { nonce } => {
                outbox.send(&ServerMsg::Pong { nonce });
                Ok(())
            }
        }
    }
}

impl VisitorSession {
    fn sender(&self) -> Sender {
        let name = self
            .visitor
            .context
            .identity
            .as_ref()
            .and_then(|i| i.name.clone());
        Sender {
            kind: SenderKind::Visitor,
            id: self.visitor.id.clone(),
            name,
        }
    }

    /// A visitor may act only on its own conversation. Another existing conversation is
    /// `forbidden`; an unknown id is `not_found`.
    async fn own(&self, state: &AppState, conversation_id: &str) -> Result<(), Refusal> {
        if conversation_id == self.conversation.id {
            return Ok(());
        }
        match state.broker.conversation(conversation_id).await? {
            Some(_) => Err(Refusal::new(ErrorCode::Forbidden, "not your conversation")),
            None => Err(Refusal::new(ErrorCode::NotFound, "no such conversation")),
        }
    }

    /// Sends the context to agents once the conversation is in their inbox (has a message).
    async fn publish_context(&self, state: &AppState) -> Result<(), Refusal> {
        let conv = &self.conversation;
        let has_messages = state
            .broker
            .summary(&conv.id)
            .await?
            .is_some_and(|s| s.last_seq > 0);
        if has_messages {
            let context: Context = self.visitor.context.clone();
            let msg = ServerMsg::Context {
                conversation_id: conv.id.clone(),
                context,
            };
            publish(state, Audience::Agents, conv, &msg).await;
            publish_summary(state, conv).await?;
        }
        Ok(())
    }
}

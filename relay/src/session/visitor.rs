//! A visitor's connection: one conversation per visitor and site, identified by the
//! relay-issued token the widget keeps in the host page's storage.

use std::net::IpAddr;
use std::sync::Arc;

use switchboard_protocol::client::Hello;
use switchboard_protocol::{
    ClientMsg, CloseCode, Context, ErrorCode, Owner, Role, Sender, SenderKind, ServerMsg,
    PROTOCOL_VERSION,
};

use super::{deliver, ping_interval_ms, publish, send_history, Handler, Refusal};
use crate::assignment;
use crate::bots::{notify, routing};
use crate::broker::{Audience, Conversation, NewMessage};
use crate::config::Site;
use crate::limits::{FrameRates, Limits};
use crate::outbox::Outbox;
use crate::{clock, token, AppState};

/// Only ids: the context lives in the store, not in every idle connection. The visitor's id
/// is the conversation's `visitor_id`.
pub struct VisitorSession {
    /// The name the site identified the visitor by, shown with their messages.
    name: Option<String>,
    conversation: Conversation,
}

impl Handler for VisitorSession {
    /// The site the page embeds, and the visitor's address.
    type Params = (Arc<Site>, IpAddr);

    fn rates(limits: &Limits) -> &FrameRates {
        &limits.visitor
    }

    async fn start(
        state: &AppState,
        (site, addr): (Arc<Site>, IpAddr),
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
                if let Err(r) = state.limiters.new_visitor(addr, &site.key) {
                    outbox.send(&r.to_msg());
                    return Err(CloseCode::RATE_LIMITED);
                }
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
        let owner = routing::initial_owner(&site);
        // A conversation the humans own waits in the site's default team's queue from the
        // start; a bot's enters a queue when the bot hands it off.
        let team = match owner {
            Owner::Humans => site.default_team.as_deref(),
            Owner::Bot { .. } => None,
        };
        let conversation = state
            .broker
            .open_queued_conversation(&site.key, &visitor.id, clock::now(), &owner, team)
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
            site: None,
            name: None,
            ping_interval_ms: ping_interval_ms(state),
        }));
        let online = assignment::available(state, &site.key)
            .await
            .map_err(fail)?;
        outbox.send(&ServerMsg::Availability { online });
        let session = VisitorSession {
            name: identity_name(&visitor.context),
            conversation,
        };
        // A page load is a context change the agent should see (the visitor navigated).
        session.publish_context(state, visitor.context).await.ok();
        Ok(session)
    }

    async fn handle(
        &mut self,
        state: &AppState,
        msg: ClientMsg,
        outbox: &Outbox,
    ) -> Result<(), Refusal> {
        match msg {
            ClientMsg::Hello(_) => Err(Refusal::hello_again()),
            ClientMsg::Send(s) => {
                self.own(state, &s.conversation_id)
                    .await
                    .map_err(|r| r.for_client(&s.client_id))?;
                if s.rich.is_some() {
                    return Err(Refusal::new(
                        ErrorCode::Forbidden,
                        "visitors cannot send rich content",
                    )
                    .for_client(&s.client_id));
                }
                let new = NewMessage::new(&s.conversation_id, s.client_id, self.sender(), s.text);
                self.store(state, outbox, new).await
            }
            ClientMsg::Postback {
                conversation_id,
                client_id,
                label,
                payload,
            } => {
                self.own(state, &conversation_id)
                    .await
                    .map_err(|r| r.for_client(&client_id))?;
                let mut new = NewMessage::new(&conversation_id, client_id, self.sender(), label);
                new.postback = Some(payload);
                self.store(state, outbox, new).await
            }
            other @ (ClientMsg::Handoff { .. }
            | ClientMsg::HandBack { .. }
            | ClientMsg::ListConversations { .. }
            | ClientMsg::ListView { .. }
            | ClientMsg::Assign { .. }
            | ClientMsg::Transfer { .. }
            | ClientMsg::SetStatus { .. }
            | ClientMsg::SetPriority { .. }
            | ClientMsg::SetPresence { .. }) => Err(Refusal::new(
                ErrorCode::Forbidden,
                format!("{} is not for visitors", other.kind()),
            )),
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
                state
                    .broker
                    .set_context(&self.conversation.visitor_id, &context)
                    .await?;
                self.name = identity_name(&context);
                self.publish_context(state, context).await
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

    fn conversation(&self) -> Option<&str> {
        Some(&self.conversation.id)
    }
}

impl VisitorSession {
    fn sender(&self) -> Sender {
        Sender {
            kind: SenderKind::Visitor,
            id: self.conversation.visitor_id.clone(),
            name: self.name.clone(),
            avatar: None,
        }
    }

    /// Stores a message or postback and hands it to the conversation's bot, if a bot owns it.
    async fn store(
        &self,
        state: &AppState,
        outbox: &Outbox,
        new: NewMessage,
    ) -> Result<(), Refusal> {
        let appended = deliver(state, outbox, &self.conversation, new).await?;
        routing::after_visitor_message(state, &self.conversation, &appended).await;
        Ok(())
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

    /// Sends the context to agents once the conversation is in their inbox (has a message),
    /// and to the bot that owns it.
    async fn publish_context(&self, state: &AppState, context: Context) -> Result<(), Refusal> {
        let conv = &self.conversation;
        let Some(summary) = state.broker.summary(&conv.id).await? else {
            return Ok(());
        };
        if summary.last_seq > 0 {
            let msg = ServerMsg::Context {
                conversation_id: conv.id.clone(),
                context,
            };
            publish(state, Audience::Agents, conv, &msg).await;
            if let Some(bot) = summary.owner.bot_id() {
                notify(state, bot, &conv.id, msg).await;
            }
            // The line shows the page title: the summary was read after the context was stored.
            routing::publish_line(state, summary).await;
        }
        Ok(())
    }
}

fn identity_name(context: &Context) -> Option<String> {
    context.identity.as_ref().and_then(|i| i.name.clone())
}

//! A visitor's connection: one conversation per visitor and site, identified by the
//! relay-issued token the widget keeps in the host page's storage.

use std::net::IpAddr;
use std::sync::Arc;

use switchboard_protocol::client::Hello;
use switchboard_protocol::{
    ClientMsg, CloseCode, Context, ErrorCode, Owner, ReadSide, Role, Sender, SenderKind, ServerMsg,
    PROTOCOL_VERSION,
};

use super::{deliver, ping_interval_ms, publish, receipts, send_history, Handler, Reader, Refusal};
use crate::assignment;
use crate::bots::{notify, routing};
use crate::broker::{Audience, Conversation, NewMessage};
use crate::config::{IdentityMode, Site};
use crate::identity::{self, Claims};
use crate::limits::{FrameRates, Limits};
use crate::outbox::Outbox;
use crate::{token, AppState};

/// Only ids: the context lives in the store, not in every idle connection. The visitor's id
/// is the conversation's `visitor_id`.
pub struct VisitorSession {
    /// The name the site identified the visitor by, shown with their messages.
    name: Option<String>,
    conversation: Conversation,
    /// Until the visitor first says something: the identity announced in `welcome` and not
    /// stored yet, so a page view that never chats leaves nothing behind.
    provisional: Option<Box<Provisional>>,
    /// The claims of the last valid identity token (or of the stored context's verified
    /// fields), laid over every context the page sends.
    verified: Option<Box<Claims>>,
    /// The site's `identity = "required"`: nothing is stored before a verified identity.
    identity_required: bool,
    /// The visitor's read mark, as last stored or seen.
    marks: receipts::Marks,
}

/// What the first stored frame stores before itself.
struct Provisional {
    site: Arc<Site>,
    addr: IpAddr,
    token_hash: String,
    /// The latest context the page sent, held here instead of the store.
    context: Context,
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
        // A blocked visitor, or any new one from a blocked network, goes no further.
        let blocked = crate::block::refused(
            state,
            &site.key,
            known.as_ref().map(|v| v.id.as_str()),
            addr,
        )
        .await
        .map_err(fail)?;
        if blocked {
            outbox.send(&Refusal::blocked().to_msg());
            return Err(CloseCode::BLOCKED);
        }
        // A bad identity token does not refuse the connection: the visitor stays as verified
        // as before, and hears why after `welcome`.
        let (claims, refused) = match hello.identity_token.as_deref() {
            Some(t) => match identity::verify(&site, t) {
                Ok(c) => (Some(Box::new(c)), None),
                Err(r) => (None, Some(r)),
            },
            None => (None, None),
        };
        let typical = state.reply_times.typical(&*state.broker, &site.key).await;
        let Some((mut visitor, token)) = known.zip(hello.token) else {
            let key = site.key.clone();
            let session = VisitorSession::provisional(
                state,
                site,
                addr,
                claims,
                hello.context,
                (outbox, typical),
            );
            availability(state, &key, outbox, typical)
                .await
                .map_err(fail)?;
            if let Some(r) = refused {
                outbox.send(&r.to_msg());
            }
            return Ok(session);
        };
        let verified = claims.or_else(|| identity::stored_claims(&visitor.context).map(Box::new));
        let context = match (hello.context, &verified) {
            (Some(mut c), v) => {
                with_claims(&mut c, v.as_deref());
                Some(c)
            }
            (None, Some(v)) => {
                let mut c = visitor.context.clone();
                identity::apply(&mut c, v);
                Some(c)
            }
            (None, None) => None,
        };
        // The network it is on now, for an agent who blocks it; written only when it moved.
        state
            .broker
            .set_visitor_addr(&visitor.id, &crate::block::network(addr))
            .await
            .map_err(fail)?;
        if let Some(context) = context {
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
        let conversation = state
            .broker
            .open_queued_conversation(
                &site.key,
                &visitor.id,
                state.config.clock.now(),
                &owner,
                queue_of(&site, &owner),
            )
            .await
            .map_err(fail)?;
        let session = VisitorSession {
            name: identity_name(&visitor.context),
            conversation,
            provisional: None,
            verified,
            identity_required: site.identity == IdentityMode::Required,
            marks: Default::default(),
        };
        session.welcome(state, token, outbox, typical);
        availability(state, &site.key, outbox, typical)
            .await
            .map_err(fail)?;
        if let Some(r) = refused {
            outbox.send(&r.to_msg());
        }
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
                if s.rich.is_some() || s.canned_id.is_some() {
                    return Err(Refusal::new(
                        ErrorCode::Forbidden,
                        "visitors cannot send rich content or canned replies",
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
            | ClientMsg::Delta(_)
            | ClientMsg::HandBack { .. }
            | ClientMsg::ListConversations { .. }
            | ClientMsg::ListView { .. }
            | ClientMsg::Assign { .. }
            | ClientMsg::Transfer { .. }
            | ClientMsg::SetStatus { .. }
            | ClientMsg::SetPriority { .. }
            | ClientMsg::SetPresence { .. }
            | ClientMsg::Block { .. }
            | ClientMsg::Note(_)
            | ClientMsg::Search(_)
            | ClientMsg::VisitorHistory { .. }
            | ClientMsg::ListCanned { .. }
            | ClientMsg::CreateCanned { .. }
            | ClientMsg::UpdateCanned { .. }
            | ClientMsg::DeleteCanned { .. }) => Err(Refusal::new(
                ErrorCode::Forbidden,
                format!("{} is not for visitors", other.kind()),
            )),
            ClientMsg::Typing {
                conversation_id,
                active,
            } => {
                self.own(state, &conversation_id).await?;
                if self.provisional.is_some() {
                    // Nobody can see a conversation that does not exist yet.
                    return Ok(());
                }
                let msg = ServerMsg::Typing {
                    conversation_id,
                    sender: self.sender(),
                    active,
                };
                publish(state, Audience::Agents, &self.conversation, &msg).await;
                Ok(())
            }
            ClientMsg::Identify { token } => self.identify(state, &token).await,
            ClientMsg::SetContext { mut context } => {
                with_claims(&mut context, self.verified.as_deref());
                if let Some(p) = &mut self.provisional {
                    self.name = identity_name(&context);
                    p.context = context;
                    return Ok(());
                }
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
                // Before the first message the history is simply empty.
                send_history(state, outbox, &conversation_id, since, Reader::Visitor).await?;
                if self.provisional.is_some() {
                    return Ok(());
                }
                receipts::send_marks(state, outbox, &conversation_id, Reader::Visitor).await
            }
            ClientMsg::Read {
                conversation_id,
                seq,
            } => {
                self.own(state, &conversation_id).await?;
                if self.provisional.is_some() {
                    // Nothing stored yet, so every seq is past the end.
                    return Err(Refusal::new(
                        ErrorCode::SeqAhead,
                        "the conversation has no messages yet",
                    ));
                }
                let conv = &self.conversation;
                self.marks.read(state, conv, ReadSide::Visitor, seq).await
            }
            ClientMsg::Ping { nonce } => {
                outbox.send(&ServerMsg::Pong { nonce });
                Ok(())
            }
            ClientMsg::Rate(r) => {
                self.own(state, &r.conversation_id).await?;
                let id = self.conversation.id.clone();
                crate::csat::rate(state, &self.conversation.visitor_id, &id, r).await
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

    /// A visitor the relay has not met (no token, or one it never stored): fresh token and
    /// ids in `welcome`, nothing stored until [`VisitorSession::materialize`].
    fn provisional(
        state: &AppState,
        site: Arc<Site>,
        addr: IpAddr,
        verified: Option<Box<Claims>>,
        context: Option<Context>,
        (outbox, typical): (&Outbox, Option<u64>),
    ) -> VisitorSession {
        let token = token::random_token();
        let mut context = context.unwrap_or_default();
        with_claims(&mut context, verified.as_deref());
        let session = VisitorSession {
            verified,
            identity_required: site.identity == IdentityMode::Required,
            marks: Default::default(),
            name: identity_name(&context),
            conversation: Conversation {
                id: token::random_id("c"),
                site: site.key.clone(),
                visitor_id: token::random_id("v"),
                last_seq: 0,
                owner: routing::initial_owner(&site),
                state: Default::default(),
            },
            provisional: Some(Box::new(Provisional {
                token_hash: token::hash(&token),
                site,
                addr,
                context,
            })),
        };
        session.welcome(state, token, outbox, typical);
        session
    }

    /// Sends `welcome` and joins the conversation's live frames.
    fn welcome(&self, state: &AppState, token: String, outbox: &Outbox, typical: Option<u64>) {
        let conversation = &self.conversation;
        // `welcome` first, then the hub: joined first, a message fanned out on another thread
        // in between would reach the client before its `welcome`. One appended between the
        // read of `last_seq` and the join is not lost: the client's `sync` from its last seq
        // after `welcome` brings it.
        outbox.send(&ServerMsg::Welcome(switchboard_protocol::server::Welcome {
            protocol: PROTOCOL_VERSION,
            role: Role::Visitor,
            id: conversation.visitor_id.clone(),
            token: Some(token),
            conversation_id: Some(conversation.id.clone()),
            last_seq: Some(conversation.last_seq),
            site: None,
            name: None,
            ping_interval_ms: ping_interval_ms(state),
            typical_reply_ms: typical,
            csat: crate::csat::of_site(state, &conversation.site),
        }));
        state
            .hub
            .join_conversation(&conversation.id, outbox.clone());
    }

    /// Before the first stored frame: stores the visitor and the conversation `welcome`
    /// announced, within the new-visitor quota. A failed attempt keeps the session
    /// provisional; the creations are idempotent, so the client's resend completes them.
    async fn materialize(&mut self, state: &AppState) -> Result<(), Refusal> {
        let Some(p) = &self.provisional else {
            return Ok(());
        };
        state.limiters.new_visitor(p.addr, &p.site.key)?;
        let conv = &self.conversation;
        state
            .broker
            .create_visitor_with_id(
                &p.site.key,
                &p.token_hash,
                &conv.visitor_id,
                p.context.clone(),
            )
            .await?;
        let stored = state
            .broker
            .open_conversation_with_id(
                &p.site.key,
                &conv.visitor_id,
                &conv.id,
                state.config.clock.now(),
                &conv.owner,
                queue_of(&p.site, &conv.owner),
            )
            .await?;
        state
            .broker
            .set_visitor_addr(&conv.visitor_id, &crate::block::network(p.addr))
            .await?;
        // The page the visitor chats from starts the trail.
        receipts::visit(state, &conv.visitor_id, &p.context).await?;
        debug_assert_eq!(stored.id, conv.id);
        self.conversation = stored;
        self.provisional = None;
        Ok(())
    }

    /// Stores a message or postback and hands it to the conversation's bot, if a bot owns it.
    async fn store(
        &mut self,
        state: &AppState,
        outbox: &Outbox,
        new: NewMessage,
    ) -> Result<(), Refusal> {
        let client_id = new.client_id.clone();
        if self.identity_required && self.verified.is_none() {
            return Err(Refusal::new(
                ErrorCode::IdentityRequired,
                "this site needs a verified identity (identify) before a message",
            )
            .for_client(&client_id));
        }
        self.materialize(state)
            .await
            .map_err(|r| r.for_client(&client_id))?;
        let appended = deliver(state, outbox, &self.conversation, new).await?;
        routing::after_visitor_message(state, &self.conversation, &appended).await;
        Ok(())
    }

    /// Verifies an identity token and lays its claims over the visitor's context; a refused
    /// token changes nothing.
    async fn identify(&mut self, state: &AppState, token: &str) -> Result<(), Refusal> {
        let site = state
            .sites
            .get(&self.conversation.site)
            .ok_or_else(identity_unconfigured)?;
        let claims = identity::verify(site, token)?;
        if let Some(p) = &mut self.provisional {
            identity::apply(&mut p.context, &claims);
            self.name = identity_name(&p.context);
            self.verified = Some(Box::new(claims));
            return Ok(());
        }
        let mut context = state
            .broker
            .conversation_context(&self.conversation.id)
            .await?;
        identity::apply(&mut context, &claims);
        state
            .broker
            .set_context(&self.conversation.visitor_id, &context)
            .await?;
        self.name = identity_name(&context);
        self.verified = Some(Box::new(claims));
        self.publish_context(state, context).await
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

    /// Adds the context's page to the visitor's trail; sends the context (and a trail that
    /// changed) to agents once the conversation is in their inbox (has a message), and the
    /// context to the bot that owns it.
    async fn publish_context(&self, state: &AppState, context: Context) -> Result<(), Refusal> {
        let conv = &self.conversation;
        let trail = receipts::visit(state, &conv.visitor_id, &context).await?;
        let Some(summary) = state.broker.summary(&conv.id).await? else {
            return Ok(());
        };
        if summary.last_seq > 0 {
            if let Some(pages) = trail {
                let msg = ServerMsg::PageTrail {
                    conversation_id: conv.id.clone(),
                    pages,
                };
                publish(state, Audience::Agents, conv, &msg).await;
            }
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

/// The queue a new conversation starts in: one the humans own waits in the site's default
/// team's queue from the start; a bot's enters a queue when the bot hands it off.
fn queue_of<'a>(site: &'a Site, owner: &Owner) -> Option<&'a str> {
    match owner {
        Owner::Humans => site.default_team.as_deref(),
        Owner::Bot { .. } => None,
    }
}

/// Tells a visitor whether anyone is there to answer, and how soon they usually do, right
/// after `welcome`.
async fn availability(
    state: &AppState,
    site: &str,
    outbox: &Outbox,
    typical_reply_ms: Option<u64>,
) -> Result<(), crate::broker::StoreError> {
    let online = assignment::available(state, site).await?;
    outbox.send(&ServerMsg::Availability {
        online,
        typical_reply_ms,
    });
    Ok(())
}

fn identity_name(context: &Context) -> Option<String> {
    context.identity.as_ref().and_then(|i| i.name.clone())
}

/// A context from the page, with the session's verified claims over it (or, without any,
/// stripped of the `verified` marks the page may claim).
fn with_claims(context: &mut Context, claims: Option<&Claims>) {
    match claims {
        Some(c) => identity::apply(context, c),
        None => identity::strip(context),
    }
}

fn identity_unconfigured() -> Refusal {
    Refusal::new(
        ErrorCode::IdentityInvalid,
        "this site verifies no identities",
    )
}

//! An agent's connection: authenticated by the agent token in `hello` or by the console's
//! session cookie (checked at the upgrade), sees every conversation of the sites it serves,
//! replies to any of them.

use std::net::IpAddr;
use std::sync::Arc;

use switchboard_protocol::client::Hello;
use switchboard_protocol::limits::MAX_INBOX;
use switchboard_protocol::server::Welcome;
use switchboard_protocol::{
    ClientMsg, CloseCode, ErrorCode, InboxCursor, Owner, Presence, ReadSide, Role, Sender,
    SenderKind, ServerMsg, PROTOCOL_VERSION,
};

use super::{
    deliver, directory, lifecycle, note, ping_interval_ms, publish, receipts, search, send_history,
    views, Handler, Reader, Refusal,
};
use crate::bots::{notify, routing};
use crate::broker::{Audience, Change, Conversation, HandoffChange, Names, NewMessage, StoreError};
use crate::config::Agent;
use crate::limits::{FrameRates, Limits};
use crate::login::SignedIn;
use crate::outbox::Outbox;
use crate::{assignment, token, AppState};

pub struct AgentSession {
    agent: Arc<Agent>,
    marks: receipts::Marks,
}

impl Handler for AgentSession {
    /// The client's address, for the failed-authentication limit, and the agent the session
    /// cookie signed in (with the session), if any.
    type Params = (IpAddr, Option<SignedIn>);

    fn rates(limits: &Limits) -> &FrameRates {
        &limits.agent
    }

    async fn start(
        state: &AppState,
        (addr, cookie_agent): (IpAddr, Option<SignedIn>),
        hello: Hello,
        outbox: &Outbox,
    ) -> Result<Self, CloseCode> {
        if let Err(r) = state.limiters.auth_allowed(addr) {
            outbox.send(&r.to_msg());
            return Err(CloseCode::RATE_LIMITED);
        }
        // A token given is the credential, even beside a cookie: a wrong one is refused, not
        // papered over by the session.
        let (agent, session) = match hello.token.as_deref() {
            Some(t) => (state.agents.get(&token::hash(t)).cloned(), None),
            None => cookie_agent.map_or((None, None), |(a, s)| (Some(a), Some(s))),
        };
        let Some(agent) = agent else {
            state.limiters.auth_failed(addr);
            outbox.send(&ServerMsg::error(
                ErrorCode::Forbidden,
                "agent token or session is missing or not valid",
            ));
            return Err(CloseCode::UNAUTHORIZED);
        };
        outbox.send(&ServerMsg::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            role: Role::Agent,
            id: agent.id.clone(),
            token: None,
            conversation_id: None,
            last_seq: None,
            site: None,
            name: Some(agent.name.clone()),
            ping_interval_ms: ping_interval_ms(state),
            typical_reply_ms: None,
            csat: None,
        }));
        outbox.send(&ServerMsg::Directory(directory::directory(
            &state.config,
            &agent,
        )));
        // Join before reading the inbox so no update falls between the two; a summary that
        // arrives twice is harmless (the console upserts).
        state
            .hub
            .join_agents(outbox.clone(), agent.clone(), session);
        state.presence_changed.notify_one();
        state.assigner.choose(&agent.id, Presence::Online);
        let session = AgentSession {
            agent,
            marks: Default::default(),
        };
        session
            .send_inbox(state, None, MAX_INBOX, outbox)
            .await
            .map_err(|r| {
                // Said before closing, as for visitors: a client tells "storage down, come
                // back later" from a refusal of its token.
                outbox.send(&ServerMsg::error(r.code, r.message));
                CloseCode::UNAVAILABLE
            })?;
        for site in state.config.sites_served_by(&session.agent) {
            // Not worth closing the connection over: the next change is sent anyway.
            if let Ok(frames) = assignment::presence_frames(state, &site).await {
                for f in &frames {
                    outbox.send(f);
                }
            }
        }
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
                let conv = self
                    .conversation(state, &s.conversation_id)
                    .await
                    .map_err(|r| r.for_client(&s.client_id))?;
                if let Some(canned_id) = &s.canned_id {
                    crate::canned::check_send(state, &conv.site, canned_id, &s.text)
                        .await
                        .map_err(|r| r.for_client(&s.client_id))?;
                }
                if let Owner::Bot { id } = &conv.owner {
                    take_over(state, &conv, id).await?;
                }
                let mut new = NewMessage::new(&conv.id, s.client_id, self.sender(), s.text);
                new.rich = s.rich;
                deliver(state, outbox, &conv, new).await.map(drop)
            }
            ClientMsg::HandBack { conversation_id } => {
                let conv = self.conversation(state, &conversation_id).await?;
                let bot = state
                    .sites
                    .get(&conv.site)
                    .and_then(|s| s.bot.clone())
                    .ok_or_else(|| Refusal::new(ErrorCode::Invalid, "this site has no bot"))?;
                if conv.owner != Owner::Humans {
                    return Err(Refusal::new(ErrorCode::Invalid, "a bot already owns it"));
                }
                let new = Owner::Bot { id: bot.clone() };
                if !state
                    .broker
                    .set_owner(&conv.id, &Owner::Humans, &new, HandoffChange::Clear)
                    .await?
                {
                    return Err(Refusal::new(
                        ErrorCode::Invalid,
                        "the conversation changed owner meanwhile; look again",
                    ));
                }
                routing::route(state, &conv.id, &bot).await?;
                routing::publish_summary(state, &conv.id).await?;
                Ok(())
            }
            m @ (ClientMsg::Assign { .. }
            | ClientMsg::Transfer { .. }
            | ClientMsg::SetStatus { .. }
            | ClientMsg::SetPriority { .. }) => self.change(state, &m).await,
            other @ (ClientMsg::Postback { .. }
            | ClientMsg::Handoff { .. }
            | ClientMsg::Delta(_)) => Err(Refusal::new(
                ErrorCode::Forbidden,
                format!("{} is not for agents", other.kind()),
            )),
            ClientMsg::Typing {
                conversation_id,
                active,
            } => {
                let conv = self.conversation(state, &conversation_id).await?;
                let msg = ServerMsg::Typing {
                    conversation_id: conversation_id.clone(),
                    sender: self.sender(),
                    active,
                };
                publish(state, Audience::Visitors, &conv, &msg).await;
                Ok(())
            }
            other @ (ClientMsg::SetContext { .. }
            | ClientMsg::Identify { .. }
            | ClientMsg::Rate(_)) => Err(Refusal::new(
                ErrorCode::Forbidden,
                format!("{} is sent by visitors only", other.kind()),
            )),
            ClientMsg::Sync {
                conversation_id,
                since,
            } => {
                let conv = self.conversation(state, &conversation_id).await?;
                let context = state.broker.conversation_context(&conversation_id).await?;
                outbox.send(&ServerMsg::Context {
                    conversation_id: conversation_id.clone(),
                    context,
                });
                receipts::send_trail(state, outbox, &conv).await?;
                send_history(state, outbox, &conversation_id, since, Reader::Agent).await?;
                receipts::send_marks(state, outbox, &conversation_id, Reader::Agent).await
            }
            ClientMsg::Read {
                conversation_id,
                seq,
            } => {
                let conv = self.conversation(state, &conversation_id).await?;
                self.marks.read(state, &conv, ReadSide::Agents, seq).await
            }
            ClientMsg::Ping { nonce } => {
                outbox.send(&ServerMsg::Pong { nonce });
                Ok(())
            }
            ClientMsg::SetPresence { status } => {
                state.assigner.choose(&self.agent.id, status);
                Ok(())
            }
            ClientMsg::ListView {
                view,
                before,
                limit,
            } => {
                let limit = limit.unwrap_or(MAX_INBOX);
                views::send_view(state, &self.agent, view, before, limit, outbox).await
            }
            ClientMsg::Block {
                conversation_id,
                ip,
            } => {
                let conv = self.conversation(state, &conversation_id).await?;
                crate::block::block(state, &self.agent.id, &conv, ip).await
            }
            ClientMsg::Note(n) => {
                let conv = self
                    .conversation(state, &n.conversation_id)
                    .await
                    .map_err(|r| r.for_client(&n.client_id))?;
                note::write(state, self.sender(), &conv, n, outbox).await
            }
            m @ (ClientMsg::ListCanned { .. }
            | ClientMsg::CreateCanned { .. }
            | ClientMsg::UpdateCanned { .. }
            | ClientMsg::DeleteCanned { .. }) => {
                crate::canned::handle(state, &self.agent, m, outbox).await
            }
            ClientMsg::ListConversations { before, limit } => {
                self.send_inbox(state, before, limit.unwrap_or(MAX_INBOX), outbox)
                    .await
            }
            ClientMsg::Search(query) => search::search(state, &self.agent, query, outbox).await,
            ClientMsg::VisitorHistory { conversation_id } => {
                let conv = self.conversation(state, &conversation_id).await?;
                search::history(state, &self.agent, &conv, outbox).await
            }
        }
    }
}

impl AgentSession {
    /// A lifecycle frame: authorized on the state it would change, then one compare-and-set.
    async fn change(&self, state: &AppState, msg: &ClientMsg) -> Result<(), Refusal> {
        let (conversation_id, expected_version, what) =
            lifecycle::requested(msg).expect("called with lifecycle frames only");
        let conv = self.conversation(state, conversation_id).await?;
        // A stale view is a conflict before anything else: the agent looks again, and what it
        // may do is judged on what it then sees.
        if conv.state.version != expected_version {
            return Err(StoreError::Conflict(Box::new(conv.state)).into());
        }
        lifecycle::authorize(&state.config, &self.agent, &conv, &what)?;
        let change = Change {
            by: self.agent.id.clone(),
            at: state.config.clock.now(),
            names: Names::of(&state.config, &conv.site, &what),
            what,
        };
        let changed = state
            .broker
            .change(&conv.id, expected_version, change)
            .await?;
        crate::site_webhooks::record(state, &conv.site, &[&changed.message]).await;
        // A conversation may have entered a queue or freed a slot.
        state.assigner.wake();
        routing::publish_summary(state, &conv.id).await?;
        Ok(())
    }

    fn sender(&self) -> Sender {
        Sender {
            kind: SenderKind::Agent,
            id: self.agent.id.clone(),
            name: Some(self.agent.name.clone()),
            avatar: None,
        }
    }

    /// One page of the inbox of every site this agent serves.
    async fn send_inbox(
        &self,
        state: &AppState,
        before: Option<InboxCursor>,
        limit: usize,
        outbox: &Outbox,
    ) -> Result<(), Refusal> {
        let sites = state.config.sites_served_by(&self.agent);
        let page = state.broker.inbox(&sites, before.as_ref(), limit).await?;
        outbox.send(&ServerMsg::Conversations {
            items: page.items,
            before,
            more: page.next.is_some(),
            next: page.next,
        });
        Ok(())
    }

    /// The conversation, if it exists and belongs to a site this agent serves.
    async fn conversation(&self, state: &AppState, id: &str) -> Result<Conversation, Refusal> {
        match state.broker.conversation(id).await? {
            None => Err(Refusal::new(ErrorCode::NotFound, "no such conversation")),
            Some(c) if !self.agent.serves(&c.site) => Err(Refusal::new(
                ErrorCode::Forbidden,
                "this conversation belongs to a site you do not serve",
            )),
            Some(c) => Ok(c),
        }
    }
}

/// An agent writing into a bot's conversation takes it over: the humans own it from now on and
/// the bot is told to stop. If the bot handed off meanwhile, the humans own it already.
async fn take_over(state: &AppState, conv: &Conversation, bot: &str) -> Result<(), Refusal> {
    let from = Owner::Bot { id: bot.to_owned() };
    if state
        .broker
        .set_owner(&conv.id, &from, &Owner::Humans, HandoffChange::Keep)
        .await?
    {
        let released = ServerMsg::Released {
            conversation_id: conv.id.clone(),
            owner: Owner::Humans,
        };
        notify(state, bot, &conv.id, released).await;
        routing::publish_summary(state, &conv.id).await?;
    }
    Ok(())
}

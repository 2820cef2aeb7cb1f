//! A bot's connection (`/v1/bot`), and the same handling for the bot HTTP API: authenticated
//! by the bot token, confined to its one site, and allowed to speak only in conversations it
//! owns — the relay checks ownership in the same atomic step that stores the message.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use switchboard_protocol::client::Hello;
use switchboard_protocol::handoff::HandedOff;
use switchboard_protocol::server::Welcome;
use switchboard_protocol::{
    ClientMsg, CloseCode, Delta, ErrorCode, Owner, Role, ServerMsg, PROTOCOL_VERSION,
};

use super::stream::{Step, Streams};
use super::{deliver, ping_interval_ms, publish, send_history, Handler, Reader, Refusal};
use crate::bots::{self, routing, triage};
use crate::broker::{Audience, Conversation, HandoffChange, Lifecycle, NewMessage};
use crate::config::Bot;
use crate::limits::{FrameRates, Limits};
use crate::outbox::Outbox;
use crate::AppState;

pub struct BotSession {
    bot: Arc<Bot>,
    streams: Streams,
}

impl Handler for BotSession {
    /// The client's address, for the failed-authentication limit.
    type Params = IpAddr;

    fn rates(limits: &Limits) -> &FrameRates {
        &limits.bot
    }

    async fn start(
        state: &AppState,
        addr: IpAddr,
        hello: Hello,
        outbox: &Outbox,
    ) -> Result<Self, CloseCode> {
        if let Err(r) = state.limiters.auth_allowed(addr) {
            outbox.send(&r.to_msg());
            return Err(CloseCode::RATE_LIMITED);
        }
        let Some(bot) = hello.token.as_deref().and_then(|t| state.bots.by_token(t)) else {
            state.limiters.auth_failed(addr);
            outbox.send(&ServerMsg::error(
                ErrorCode::Unauthorized,
                "bot token is missing or not valid",
            ));
            return Err(CloseCode::UNAUTHORIZED);
        };
        outbox.send(&ServerMsg::Welcome(Welcome {
            protocol: PROTOCOL_VERSION,
            role: Role::Bot,
            id: bot.id.clone(),
            token: None,
            conversation_id: None,
            site: Some(bot.site.clone()),
            last_seq: None,
            name: Some(bot.name.clone()),
            ping_interval_ms: ping_interval_ms(state),
            typical_reply_ms: None,
            csat: None,
        }));
        // Join first, then replay what the bot owns, so nothing routed in between is missed
        // (a conversation routed twice is harmless: bots key on the conversation id and seq).
        state.hub.join_bot(outbox.clone(), &bot.id);
        let fail = |e| {
            tracing::error!(error = %e, "bot start failed");
            outbox.send(&ServerMsg::error(
                ErrorCode::Unavailable,
                "storage is unavailable",
            ));
            CloseCode::UNAVAILABLE
        };
        // The first page here, so storage trouble refuses the connection as before; the
        // rest in a task of its own, paced by the connection's queue (see `replay`).
        let mut owned = routing::Owned::new(&bot.site, Owner::Bot { id: bot.id.clone() });
        let first = owned
            .next_page(state)
            .await
            .map_err(fail)?
            .unwrap_or_default();
        tokio::spawn(replay(state.clone(), owned, first, outbox.clone()));
        Ok(BotSession::new(bot))
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
                if s.canned_id.is_some() {
                    return Err(Refusal::new(
                        ErrorCode::Forbidden,
                        "canned replies are for agents",
                    )
                    .for_client(&s.client_id));
                }
                // The message a stream was writing ends it, stored or refused.
                self.streams.end(&s.client_id);
                let mut new =
                    NewMessage::new(&conv.id, s.client_id, bots::sender(&self.bot), s.text);
                new.rich = s.rich;
                new.require_owner = Some(self.owner());
                deliver(state, outbox, &conv, new).await.map(drop)
            }
            ClientMsg::Typing {
                conversation_id,
                active,
            } => {
                let conv = self.conversation(state, &conversation_id).await?;
                self.must_own(&conv)?;
                let msg = ServerMsg::Typing {
                    conversation_id,
                    sender: bots::sender(&self.bot),
                    active,
                };
                publish(state, Audience::Visitors, &conv, &msg).await;
                Ok(())
            }
            ClientMsg::Delta(d) => self.delta(state, d).await,
            ClientMsg::Handoff {
                conversation_id,
                handoff,
            } => {
                self.streams.end_conversation(&conversation_id);
                let conv = self.conversation(state, &conversation_id).await?;
                if let Some(team) = &handoff.team {
                    if state.config.team(&conv.site, team).is_none() {
                        return Err(Refusal::new(
                            ErrorCode::UnknownTeam,
                            format!("{team} is not a team of this site"),
                        ));
                    }
                }
                let triage::Route { team, priority } =
                    triage::route(&state.config, &conv.site, &handoff);
                let route = Lifecycle::HandedOff { team, priority };
                let record = HandedOff {
                    by: self.bot.id.clone(),
                    at: state.config.clock.now(),
                    handoff,
                };
                let moved = state
                    .broker
                    .set_owner(
                        &conv.id,
                        &self.owner(),
                        &Owner::Humans,
                        HandoffChange::Set(record),
                    )
                    .await?;
                if !moved {
                    return Err(Refusal::not_owner());
                }
                tracing::info!(conversation = %conv.id, bot = %self.bot.id, "handed off to humans");
                routing::enter_queue(state, &conv, &self.bot.id, route).await?;
                routing::publish_summary(state, &conv.id).await?;
                outbox.send(&ServerMsg::Released {
                    conversation_id,
                    owner: Owner::Humans,
                });
                Ok(())
            }
            ClientMsg::Sync {
                conversation_id,
                since,
            } => {
                self.conversation(state, &conversation_id).await?;
                send_history(state, outbox, &conversation_id, since, Reader::Bot).await
            }
            ClientMsg::Ping { nonce } => {
                outbox.send(&ServerMsg::Pong { nonce });
                Ok(())
            }
            other @ (ClientMsg::SetContext { .. }
            | ClientMsg::Identify { .. }
            | ClientMsg::Rate(_)
            | ClientMsg::Postback { .. }
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
            | ClientMsg::DeleteCanned { .. }
            | ClientMsg::Read { .. }) => Err(Refusal::new(
                ErrorCode::Forbidden,
                format!("{} is not for bots", other.kind()),
            )),
        }
    }
}

impl BotSession {
    /// The session behind one HTTP API request.
    pub fn new(bot: Arc<Bot>) -> BotSession {
        BotSession {
            bot,
            streams: Streams::default(),
        }
    }

    /// A piece of a streamed answer, relayed to the visitor unstored (see `stream`).
    async fn delta(&mut self, state: &AppState, d: Delta) -> Result<(), Refusal> {
        let now = Instant::now();
        let conv = if d.index == 0 {
            self.streams.may_start(&d, now)?;
            let conv = self.conversation(state, &d.conversation_id).await?;
            self.must_own(&conv)?;
            self.streams.start(&d, conv, now)
        } else {
            match self.streams.next(&d, now)? {
                Step::Relay(conv) => conv,
                Step::Recheck => {
                    let conv = self.conversation(state, &d.conversation_id).await;
                    match conv.and_then(|c| self.must_own(&c).map(|()| c)) {
                        Ok(conv) => self.streams.checked(&d, conv, now),
                        Err(refused) => {
                            self.streams.end(&d.client_id);
                            return Err(refused);
                        }
                    }
                }
            }
        };
        let msg = ServerMsg::Delta {
            conversation_id: d.conversation_id,
            client_id: d.client_id,
            sender: bots::sender(&self.bot),
            index: d.index,
            text: d.text,
        };
        publish(state, Audience::Visitors, conv, &msg).await;
        Ok(())
    }

    fn owner(&self) -> Owner {
        Owner::Bot {
            id: self.bot.id.clone(),
        }
    }

    fn must_own(&self, conv: &Conversation) -> Result<(), Refusal> {
        if conv.owner == self.owner() {
            Ok(())
        } else {
            Err(Refusal::not_owner())
        }
    }

    /// The conversation, if it exists and belongs to the bot's site. Another site's
    /// conversation is `forbidden` whatever its owner.
    async fn conversation(&self, state: &AppState, id: &str) -> Result<Conversation, Refusal> {
        match state.broker.conversation(id).await? {
            None => Err(Refusal::new(ErrorCode::NotFound, "no such conversation")),
            Some(c) if c.site != self.bot.site => Err(Refusal::new(
                ErrorCode::Forbidden,
                "this conversation belongs to another site",
            )),
            Some(c) => Ok(c),
        }
    }
}

/// Gives a bot that (re)connects `routed` for every conversation it owns, a page at a time. The
/// connection writes only once its session runs, so this waits for room in its queue before
/// each frame (keeping half free for live frames) rather than filling it: a bot owning
/// thousands of conversations gets all of them without being closed as slow. Ends with the
/// connection.
async fn replay(
    state: AppState,
    mut owned: routing::Owned,
    first: Vec<switchboard_protocol::ConversationSummary>,
    outbox: Outbox,
) {
    let mut page = first;
    loop {
        for c in page {
            loop {
                match outbox.room() {
                    None => return,
                    Some(free) if free > state.config.tuning.outbox_capacity / 2 => break,
                    Some(_) => {
                        tokio::select! {
                            _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
                            _ = state.shutdown.cancelled() => return,
                        }
                    }
                }
            }
            let id = c.id.clone();
            match routing::routed_from(&state, c).await {
                Ok(frame) => {
                    if !outbox.send(&frame) {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, conversation = %id, "replay to a bot failed");
                    outbox.send(&ServerMsg::error(
                        ErrorCode::Unavailable,
                        "storage is unavailable",
                    ));
                    outbox.close(CloseCode::UNAVAILABLE);
                    return;
                }
            }
        }
        page = match owned.next_page(&state).await {
            Ok(Some(page)) => page,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "replay to a bot failed");
                outbox.send(&ServerMsg::error(
                    ErrorCode::Unavailable,
                    "storage is unavailable",
                ));
                outbox.close(CloseCode::UNAVAILABLE);
                return;
            }
        };
    }
}

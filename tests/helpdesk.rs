//! Assignment, transfer, status and priority over real WebSocket connections: what agents,
//! admins, visitors and bots see, and every refusal (another site's agent, an unknown team, a
//! non-admin taking someone else's conversation, a stale version) typed and changing nothing,
//! checked by reading the store back.

use switchboard_protocol::{
    AgentRole as DirectoryRole, ClientMsg, ConversationSummary, Directory, ErrorCode, Handoff,
    HandoffReason, InboxCursor, Owner, Presence, Priority, SenderKind, ServerMsg, Status,
    SystemEvent, View, ViewCounts,
};
use switchboard_relay::broker::State;
use switchboard_relay::config::{Agent, AgentRole, Config, Policy, Routing, Team};

use crate::util::*;

const SAM_TOKEN: &str = "agent-token-sam-0123456789";
const ADA_TOKEN: &str = "agent-token-ada-0123456789";

/// Sam (an agent in the billing team) and Ada (an admin) join Alex on the shop; the other
/// site has a team of its own.
fn helpdesk(config: &mut Config) {
    for (id, token, role) in [
        ("sam", SAM_TOKEN, AgentRole::Agent),
        ("ada", ADA_TOKEN, AgentRole::Admin),
    ] {
        config.agents.push(Agent {
            id: id.into(),
            name: id.into(),
            token: Some(token.into()),
            password_hash: None,
            email: None,
            sites: vec![SITE.into()],
            role,
        });
    }
    for (id, site, member) in [("billing", SITE, "sam"), ("elsewhere", OTHER_SITE, "olga")] {
        config.teams.push(Team {
            id: id.into(),
            name: id.into(),
            site: site.into(),
            members: vec![member.into()],
            policy: Policy::Manual,
            capacity: 5,
            languages: Vec::new(),
        });
    }
}

fn error_code(m: &ServerMsg) -> Option<ErrorCode> {
    match m {
        ServerMsg::Error { code, .. } => Some(*code),
        _ => None,
    }
}

fn assign(conv: &str, version: u64, agent: Option<&str>) -> ClientMsg {
    ClientMsg::Assign {
        conversation_id: conv.into(),
        expected_version: version,
        agent: agent.map(Into::into),
    }
}

fn transfer(conv: &str, version: u64, to_agent: Option<&str>, to_team: Option<&str>) -> ClientMsg {
    ClientMsg::Transfer {
        conversation_id: conv.into(),
        expected_version: version,
        to_agent: to_agent.map(Into::into),
        to_team: to_team.map(Into::into),
        note: None,
    }
}

fn set_status(conv: &str, version: u64, status: Status) -> ClientMsg {
    ClientMsg::SetStatus {
        conversation_id: conv.into(),
        expected_version: version,
        status,
    }
}

/// What the store holds: the lifecycle state, the last seq, the owner.
async fn stored(relay: &TestRelay, conv: &str) -> (State, u64, Owner) {
    let c = relay
        .relay
        .state
        .broker
        .conversation(conv)
        .await
        .unwrap()
        .unwrap();
    (c.state, c.last_seq, c.owner)
}

/// The inbox line of `conv` once it reaches `version`.
async fn line(agent: &mut Client, conv: &str, version: u64) -> ConversationSummary {
    agent
        .until(|m| match m {
            ServerMsg::Conversation(s) if s.id == conv && s.version == version => Some(s.clone()),
            _ => None,
        })
        .await
}

/// The next system event on this connection, and the frame as it arrived.
async fn event(c: &mut Client) -> (SystemEvent, String) {
    c.until(|m| match m {
        ServerMsg::Message(msg) if msg.sender.kind == SenderKind::System => Some((
            *msg.event
                .clone()
                .expect("system messages carry their event"),
            m.to_json(),
        )),
        _ => None,
    })
    .await
}

/// A visitor who said hello, and an agent who saw the conversation arrive.
async fn conversation(relay: &TestRelay, agent: &mut Client) -> (Client, String) {
    let mut visitor = relay.visitor().await;
    let conv = visitor.conversation_id();
    visitor.say("m1", "I was charged twice").await;
    assert_eq!(line(agent, &conv, 0).await.status, Status::Open);
    (visitor, conv)
}

#[tokio::test]
async fn agents_assign_transfer_and_resolve_and_the_visitor_reopens() {
    let relay = TestRelay::start_with(helpdesk).await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let (mut visitor, conv) = conversation(&relay, &mut alex).await;

    alex.send(&assign(&conv, 0, Some("alex"))).await;
    let assigned = SystemEvent::Assigned {
        agent: "alex".into(),
        by: "alex".into(),
        agent_name: Some("Alex".into()),
    };
    assert_eq!(event(&mut visitor).await.0, assigned);
    assert_eq!(event(&mut alex).await.0, assigned);
    assert_eq!(
        line(&mut alex, &conv, 1).await.assignee.as_deref(),
        Some("alex")
    );

    // The note is for agents: on the inbox line, never in a frame the visitor gets.
    alex.send(&ClientMsg::Transfer {
        conversation_id: conv.clone(),
        expected_version: 1,
        to_agent: Some("sam".into()),
        to_team: Some("billing".into()),
        note: Some("VIP customer, refund approved".into()),
    })
    .await;
    let (seen, frame) = event(&mut visitor).await;
    assert_eq!(
        seen,
        SystemEvent::Transferred {
            from: Some("alex".into()),
            to_agent: Some("sam".into()),
            to_team: Some("billing".into()),
            by: "alex".into(),
            to_agent_name: Some("sam".into()),
            to_team_name: Some("billing".into()),
        }
    );
    assert!(!frame.contains("VIP"), "{frame}");
    let moved = line(&mut alex, &conv, 2).await;
    assert_eq!(
        (
            moved.assignee.as_deref(),
            moved.team.as_deref(),
            moved.note.as_deref()
        ),
        (
            Some("sam"),
            Some("billing"),
            Some("VIP customer, refund approved")
        )
    );

    let mut sam = relay.agent(SAM_TOKEN).await;
    sam.send(&ClientMsg::SetPriority {
        conversation_id: conv.clone(),
        expected_version: 2,
        priority: Priority::High,
    })
    .await;
    assert_eq!(line(&mut sam, &conv, 3).await.priority, Priority::High);
    sam.send(&set_status(&conv, 3, Status::Resolved)).await;
    assert_eq!(line(&mut sam, &conv, 4).await.status, Status::Resolved);

    // The visitor writes again: reopened (its own seq, before the message), then the ack.
    visitor.say("m2", "It happened again").await;
    let reopened = visitor
        .until(|m| match m {
            ServerMsg::Message(msg)
                if msg.event.as_deref() == Some(&SystemEvent::Reopened { by: None }) =>
            {
                Some(msg.seq)
            }
            _ => None,
        })
        .await;
    let ack = visitor
        .until(|m| match m {
            ServerMsg::Ack { seq, .. } => Some(*seq),
            _ => None,
        })
        .await;
    assert_eq!((reopened, ack), (6, 7));
    let open = line(&mut sam, &conv, 5).await;
    assert_eq!((open.status, open.last_seq), (Status::Open, ack));
    let (state, last_seq, _) = stored(&relay, &conv).await;
    assert_eq!(
        (state.status, state.version, last_seq),
        (Status::Open, 5, 7)
    );
}

#[tokio::test]
async fn refused_lifecycle_changes_are_typed_and_change_nothing() {
    let relay = TestRelay::start_with(helpdesk).await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let (mut visitor, conv) = conversation(&relay, &mut alex).await;
    let refused = async |c: &mut Client, frame: ClientMsg, code: ErrorCode| {
        let before = stored(&relay, &conv).await;
        c.send(&frame).await;
        assert_eq!(c.until(error_code).await, code, "{frame:?}");
        assert_eq!(
            stored(&relay, &conv).await,
            before,
            "{frame:?} changed the store"
        );
    };

    // Assign to an agent of another site, or to nobody known.
    refused(
        &mut alex,
        assign(&conv, 0, Some("olga")),
        ErrorCode::UnknownAgent,
    )
    .await;
    refused(
        &mut alex,
        assign(&conv, 0, Some("nobody")),
        ErrorCode::UnknownAgent,
    )
    .await;
    // Transfer to an unknown team, or to another site's team.
    refused(
        &mut alex,
        transfer(&conv, 0, None, Some("nope")),
        ErrorCode::UnknownTeam,
    )
    .await;
    refused(
        &mut alex,
        transfer(&conv, 0, None, Some("elsewhere")),
        ErrorCode::UnknownTeam,
    )
    .await;
    // A team member that is not in the team named.
    refused(
        &mut alex,
        transfer(&conv, 0, Some("alex"), Some("billing")),
        ErrorCode::UnknownAgent,
    )
    .await;
    refused(
        &mut alex,
        transfer(&conv, 0, None, None),
        ErrorCode::Invalid,
    )
    .await;
    // A non-admin may take an unassigned conversation for itself only.
    refused(
        &mut alex,
        assign(&conv, 0, Some("sam")),
        ErrorCode::Forbidden,
    )
    .await;

    // The admin gives it to Sam; now it is someone else's for Alex.
    let mut ada = relay.agent(ADA_TOKEN).await;
    ada.send(&assign(&conv, 0, Some("sam"))).await;
    line(&mut ada, &conv, 1).await;
    refused(
        &mut alex,
        assign(&conv, 1, Some("alex")),
        ErrorCode::Forbidden,
    )
    .await;
    refused(&mut alex, assign(&conv, 1, None), ErrorCode::Forbidden).await;
    refused(
        &mut alex,
        transfer(&conv, 1, Some("alex"), None),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &mut alex,
        set_status(&conv, 1, Status::Resolved),
        ErrorCode::Forbidden,
    )
    .await;
    // A stale version, even from an admin who may do anything.
    refused(
        &mut ada,
        assign(&conv, 0, Some("alex")),
        ErrorCode::Conflict,
    )
    .await;
    // Another site's agent, a visitor: not theirs to manage at all.
    let mut olga = relay.agent(OTHER_AGENT_TOKEN).await;
    refused(
        &mut olga,
        assign(&conv, 1, Some("olga")),
        ErrorCode::Forbidden,
    )
    .await;
    refused(
        &mut visitor,
        set_status(&conv, 1, Status::Resolved),
        ErrorCode::Forbidden,
    )
    .await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    refused(&mut bot, assign(&conv, 1, None), ErrorCode::Forbidden).await;

    // The admin may reassign anyone's conversation.
    ada.send(&assign(&conv, 1, Some("alex"))).await;
    assert_eq!(
        line(&mut ada, &conv, 2).await.assignee.as_deref(),
        Some("alex")
    );
    let (state, last_seq, _) = stored(&relay, &conv).await;
    assert_eq!((state.assignee.as_deref(), last_seq), (Some("alex"), 3));
}

#[tokio::test]
async fn a_bots_handoff_enters_its_teams_queue_at_its_priority() {
    let relay = TestRelay::start_with(|c| {
        helpdesk(c);
        c.sites[0].routing = Routing::BotFirst;
    })
    .await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let mut bot = relay.bot(BOT_TOKEN).await;
    let mut visitor = relay.visitor().await;
    let conv = visitor.conversation_id();
    visitor.say("m1", "I want a refund").await;
    bot.until(|m| matches!(m, ServerMsg::Routed(_)).then_some(()))
        .await;
    let handoff = |team: &str| ClientMsg::Handoff {
        conversation_id: conv.clone(),
        handoff: Handoff {
            reason: HandoffReason::Policy,
            summary: "Refund above the bot's limit.".into(),
            team: Some(team.into()),
            priority: Priority::Urgent,
            fields: Default::default(),
            language: None,
            sentiment: None,
        },
    };

    let before = stored(&relay, &conv).await;
    bot.send(&handoff("nope")).await;
    assert_eq!(bot.until(error_code).await, ErrorCode::UnknownTeam);
    assert_eq!(stored(&relay, &conv).await, before);

    bot.send(&handoff("billing")).await;
    bot.until(|m| matches!(m, ServerMsg::Released { .. }).then_some(()))
        .await;
    let (state, _, owner) = stored(&relay, &conv).await;
    assert_eq!(
        (owner, state.team.as_deref(), state.priority, state.version),
        (Owner::Humans, Some("billing"), Priority::Urgent, 1)
    );
    assert_eq!(
        event(&mut alex).await.0,
        SystemEvent::HandedOff {
            team: Some("billing".into()),
            priority: Priority::Urgent,
            by: BOT.into(),
        }
    );
    // The routing and its priority are the helpdesk's business: the visitor gets the entry's
    // seq (so its log stays gap-free) and nothing else, live and when it syncs.
    let live = visitor.until(system_entry).await;
    let token = visitor.welcome.as_ref().and_then(|w| w.token.clone());
    let mut again = relay.visitor_with(token, None).await;
    again
        .send(&ClientMsg::Sync {
            conversation_id: conv.clone(),
            since: 0,
        })
        .await;
    let synced = again.until(system_entry).await;
    for (seq, frame) in [live, synced] {
        assert_eq!(seq, 2, "{frame}");
        assert!(!frame.contains("event"), "{frame}");
        assert!(
            !frame.contains("urgent") && !frame.contains("billing"),
            "{frame}"
        );
    }
}

/// The next system entry of the log on this connection: its seq and the frame as it arrived.
fn system_entry(m: &ServerMsg) -> Option<(u64, String)> {
    match m {
        ServerMsg::Message(msg) if msg.sender.kind == SenderKind::System => {
            Some((msg.seq, m.to_json()))
        }
        _ => None,
    }
}

/// The shop's support team assigns by itself: round robin, one conversation per agent; the
/// relay passes often and forgets a dropped agent within a second.
fn auto(config: &mut Config) {
    config.teams[0].policy = Policy::RoundRobin;
    config.teams[0].capacity = 1;
    config.tuning = std::sync::Arc::new(switchboard_relay::config::Tuning {
        assign_interval: std::time::Duration::from_millis(100),
        presence_grace: std::time::Duration::from_millis(900),
        ..Default::default()
    });
}

/// Waits for `who` to be announced with `status`; earlier announcements may come first.
async fn presence_of(c: &mut Client, who: &str, want: Presence) {
    c.until(|m| match m {
        ServerMsg::Presence { agent, status, .. } if agent == who && *status == want => Some(()),
        _ => None,
    })
    .await
}

async fn availability(c: &mut Client) -> bool {
    c.until(|m| match m {
        ServerMsg::Availability { online, .. } => Some(*online),
        _ => None,
    })
    .await
}

/// A visitor who said hello and sees live state.
async fn asking(relay: &TestRelay, client_id: &str) -> (Client, String) {
    let mut v = relay.visitor().await;
    v.live_state = true;
    let conv = v.conversation_id();
    v.say(client_id, "anyone there?").await;
    (v, conv)
}

#[tokio::test]
async fn new_conversations_wait_in_the_default_team_and_are_assigned_by_presence_and_capacity() {
    let relay = TestRelay::start_with(|c| {
        helpdesk(c);
        auto(c);
    })
    .await;
    let mut watcher = relay.agent(ADA_TOKEN).await;
    watcher.live_state = true;
    // The admin watches without counting as available.
    watcher
        .send(&ClientMsg::SetPresence {
            status: Presence::Away,
        })
        .await;
    presence_of(&mut watcher, "ada", Presence::Away).await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    presence_of(&mut watcher, "alex", Presence::Online).await;

    // Online, with room: assigned at once, by the system, in the default team.
    let (mut v1, c1) = asking(&relay, "m1").await;
    assert!(availability(&mut v1).await);
    assert_eq!(
        event(&mut v1).await.0,
        SystemEvent::Assigned {
            agent: "alex".into(),
            by: "system".into(),
            agent_name: Some("Alex".into()),
        }
    );
    let (state, _, _) = stored(&relay, &c1).await;
    assert_eq!(
        (state.assignee.as_deref(), state.team.as_deref()),
        (Some("alex"), Some(TEAM))
    );

    // At capacity: the next one waits, first in the queue.
    let (mut v2, c2) = asking(&relay, "m1").await;
    let position = v2
        .until(|m| match m {
            ServerMsg::Queue {
                conversation_id,
                position,
            } if *conversation_id == c2 => Some(*position),
            _ => None,
        })
        .await;
    assert_eq!(position, 1);
    assert_eq!(stored(&relay, &c2).await.0.assignee, None);
    // The visitor reloads the page while it waits: the new connection hears its place again
    // although nothing changed.
    let token = v2.welcome.as_ref().and_then(|w| w.token.clone());
    drop(v2);
    let mut v2 = relay.visitor_with(token, None).await;
    v2.live_state = true;
    assert_eq!(v2.conversation_id(), c2);
    let position = v2
        .until(|m| match m {
            ServerMsg::Queue {
                conversation_id,
                position,
            } if *conversation_id == c2 => Some(*position),
            _ => None,
        })
        .await;
    assert_eq!(position, 1);

    // Away: nothing new, and visitors are told nobody is online.
    alex.send(&ClientMsg::SetPresence {
        status: Presence::Away,
    })
    .await;
    presence_of(&mut watcher, "alex", Presence::Away).await;
    assert!(!availability(&mut v2).await);
    let (mut v3, c3) = asking(&relay, "m1").await;
    assert!(!availability(&mut v3).await);
    alex.send(&set_status(&c1, 1, Status::Resolved)).await;
    line(&mut watcher, &c1, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(stored(&relay, &c2).await.0.assignee, None);

    // Online again with a free slot: the queue's head (the longest waiting) goes first.
    alex.send(&ClientMsg::SetPresence {
        status: Presence::Online,
    })
    .await;
    presence_of(&mut watcher, "alex", Presence::Online).await;
    assert!(matches!(
        event(&mut v2).await.0,
        SystemEvent::Assigned { agent, .. } if agent == "alex"
    ));
    assert_eq!(stored(&relay, &c3).await.0.assignee, None);
    // The queue moved up: c3 is first now.
    let position = v3
        .until(|m| match m {
            ServerMsg::Queue { position, .. } => (*position == 1).then_some(1),
            _ => None,
        })
        .await;
    assert_eq!(position, 1);

    // Gone: after the grace period alex is offline for the others.
    drop(alex);
    presence_of(&mut watcher, "alex", Presence::Offline).await;
}

#[tokio::test]
async fn set_presence_is_for_agents_with_a_known_status() {
    let relay = TestRelay::start().await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    alex.raw(r#"{"type":"set_presence","status":"busy"}"#).await;
    assert_eq!(alex.until(error_code).await, ErrorCode::Invalid);
    alex.raw(r#"{"type":"set_presence"}"#).await;
    assert_eq!(alex.until(error_code).await, ErrorCode::Invalid);
    let big = format!(
        r#"{{"type":"set_presence","status":"{}"}}"#,
        "x".repeat(70_000)
    );
    alex.raw(&big).await;
    assert_eq!(alex.until(error_code).await, ErrorCode::TooLarge);
    // Still connected and still online: the refused frames changed nothing.
    let broker = &relay.relay.state.broker;
    eventually(
        "alex online",
        std::time::Duration::from_secs(5),
        || async move {
            let now = switchboard_relay::clock::now();
            let presence = broker.agent_presence(SITE, now).await.unwrap();
            (presence == vec![("alex".to_owned(), Presence::Online)]).then_some(())
        },
    )
    .await;

    let mut visitor = relay.visitor().await;
    visitor
        .send(&ClientMsg::SetPresence {
            status: Presence::Online,
        })
        .await;
    assert_eq!(visitor.until(error_code).await, ErrorCode::Forbidden);
    let mut bot = relay.bot(BOT_TOKEN).await;
    bot.send(&ClientMsg::SetPresence {
        status: Presence::Away,
    })
    .await;
    assert_eq!(bot.until(error_code).await, ErrorCode::Forbidden);
}

async fn view(
    agent: &mut Client,
    view: View,
    before: Option<InboxCursor>,
    limit: usize,
) -> (Vec<String>, Option<InboxCursor>, ViewCounts) {
    agent
        .send(&ClientMsg::ListView {
            view,
            before,
            limit: Some(limit),
        })
        .await;
    agent
        .until(|m| match m {
            ServerMsg::View {
                items,
                next,
                counts,
                ..
            } => Some((
                items.iter().map(|c| c.id.clone()).collect(),
                next.clone(),
                *counts,
            )),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn agents_list_views_with_counts_and_admins_see_every_team() {
    let relay = TestRelay::start_with(helpdesk).await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let mut sam = relay.agent(SAM_TOKEN).await;
    let mut ada = relay.agent(ADA_TOKEN).await;
    let (_v1, c1) = conversation(&relay, &mut alex).await;
    let (_v2, c2) = conversation(&relay, &mut alex).await;
    let (_v3, c3) = conversation(&relay, &mut alex).await;
    let (_v4, c4) = conversation(&relay, &mut alex).await;
    alex.send(&assign(&c2, 0, Some("alex"))).await;
    line(&mut alex, &c2, 1).await;
    alex.send(&set_status(&c3, 0, Status::Resolved)).await;
    line(&mut alex, &c3, 1).await;
    ada.send(&transfer(&c4, 0, None, Some("billing"))).await;
    line(&mut alex, &c4, 1).await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let ids = |v: &[&String]| sorted(v.iter().map(|s| s.to_string()).collect());
    let alex_counts = ViewCounts {
        unassigned: 1,
        mine: 1,
        my_teams: 2,
        all: 3,
        resolved: 1,
    };
    for (v, want) in [
        (View::Unassigned, ids(&[&c1])),
        (View::Mine, ids(&[&c2])),
        (View::MyTeams, ids(&[&c1, &c2])),
        (View::All, ids(&[&c1, &c2, &c4])),
        (View::Resolved, ids(&[&c3])),
    ] {
        let (items, _, counts) = view(&mut alex, v, None, 50).await;
        assert_eq!((sorted(items), counts), (want, alex_counts), "{v:?}");
    }
    let (items, _, counts) = view(&mut sam, View::Unassigned, None, 50).await;
    assert_eq!(items, vec![c4.clone()]);
    assert_eq!((counts.mine, counts.my_teams, counts.all), (0, 1, 3));
    // The admin sees every team's queue.
    let (items, _, counts) = view(&mut ada, View::Unassigned, None, 50).await;
    assert_eq!(sorted(items), ids(&[&c1, &c4]));
    assert_eq!(counts.my_teams, 3);

    // Paged like the inbox: no skips, no repeats.
    let (first, next, _) = view(&mut alex, View::All, None, 2).await;
    assert_eq!(first.len(), 2);
    let (rest, end, _) = view(&mut alex, View::All, next, 2).await;
    assert_eq!(end, None);
    assert_eq!(
        sorted(first.into_iter().chain(rest).collect()),
        ids(&[&c1, &c2, &c4])
    );

    // Bad input is typed and the connection stays.
    alex.raw(r#"{"type":"list_view","view":"nope"}"#).await;
    assert_eq!(alex.until(error_code).await, ErrorCode::Invalid);
    alex.raw(r#"{"type":"list_view","view":"mine","limit":0}"#)
        .await;
    assert_eq!(alex.until(error_code).await, ErrorCode::Invalid);
    let mut visitor = relay.visitor().await;
    visitor
        .send(&ClientMsg::ListView {
            view: View::All,
            before: None,
            limit: None,
        })
        .await;
    assert_eq!(visitor.until(error_code).await, ErrorCode::Forbidden);
    let (items, _, _) = view(&mut alex, View::Mine, None, 50).await;
    assert_eq!(items, vec![c2]);
}

/// The agent's first frame after `welcome`: its role, and the teams and agents of its own
/// sites only (another site's people stay unnamed), so the console can offer assign and
/// transfer targets by name.
#[tokio::test]
async fn agents_learn_their_role_and_the_teams_and_agents_of_their_sites_only() {
    let relay = TestRelay::start_with(helpdesk).await;
    let directory_of = |token: &'static str| {
        let relay = &relay;
        async move {
            let mut c = Client::connect(&relay.url("/v1/agent"), None)
                .await
                .unwrap();
            c.send(&ClientMsg::Hello(switchboard_protocol::client::Hello {
                protocol: switchboard_protocol::PROTOCOL_VERSION,
                token: Some(token.into()),
                context: None,
                identity_token: None,
            }))
            .await;
            let mut c = c.welcome().await;
            match c.recv().await {
                ServerMsg::Directory(d) => d,
                other => panic!("expected the directory right after welcome, got {other:?}"),
            }
        }
    };
    let teams = |d: &Directory| {
        let mut t: Vec<(String, String, Vec<String>, bool)> = d
            .teams
            .iter()
            .map(|t| (t.id.clone(), t.site.clone(), t.members.clone(), t.default))
            .collect();
        t.sort();
        t
    };
    let agents = |d: &Directory| {
        let mut a: Vec<(String, String)> = d
            .agents
            .iter()
            .map(|a| (a.id.clone(), a.name.clone()))
            .collect();
        a.sort();
        a
    };

    let alex = directory_of(AGENT_TOKEN).await;
    assert_eq!(alex.role, DirectoryRole::Agent);
    assert_eq!(
        teams(&alex),
        vec![
            ("billing".into(), SITE.into(), vec!["sam".into()], false),
            (TEAM.into(), SITE.into(), vec!["alex".into()], true),
        ]
    );
    assert_eq!(
        agents(&alex),
        vec![
            ("ada".into(), "ada".into()),
            ("alex".into(), "Alex".into()),
            ("sam".into(), "sam".into()),
        ],
        "Olga serves the other site only"
    );
    assert!(alex.agents.iter().all(|a| a.sites == vec![SITE.to_owned()]));
    let support = alex.teams.iter().find(|t| t.id == TEAM).unwrap();
    assert_eq!(support.name, "Support");

    let ada = directory_of(ADA_TOKEN).await;
    assert_eq!(ada.role, DirectoryRole::Admin);
    assert_eq!(teams(&ada), teams(&alex));

    let olga = directory_of(OTHER_AGENT_TOKEN).await;
    assert_eq!(olga.role, DirectoryRole::Agent);
    assert_eq!(
        teams(&olga),
        vec![(
            "elsewhere".into(),
            OTHER_SITE.into(),
            vec!["olga".into()],
            false
        )]
    );
    assert_eq!(agents(&olga), vec![("olga".into(), "Olga".into())]);

    // It is the relay's to send: a client sending one gets a typed refusal, and its
    // connection goes on.
    let mut c = relay.agent(AGENT_TOKEN).await;
    c.raw(r#"{"type":"directory","role":"admin","teams":[],"agents":[]}"#)
        .await;
    let code = c.until(error_code).await;
    assert_eq!(code, ErrorCode::UnknownType);
    assert!(c.roundtrip().await.iter().all(|m| error_code(m).is_none()));
}

/// "Typically replies in": measured from real replies (a visitor's first message to the first
/// agent message), the median over the site's conversations, in `welcome` and `availability`.
#[tokio::test]
async fn visitors_are_told_the_sites_measured_typical_first_reply_time() {
    let relay = TestRelay::start_with(helpdesk).await;
    let mut alex = relay.agent(AGENT_TOKEN).await;
    let figure = async |relay: &TestRelay| {
        let mut v = relay.visitor().await;
        v.live_state = true;
        let welcome = v.welcome.as_ref().unwrap().typical_reply_ms;
        let live = v
            .until(|m| match m {
                ServerMsg::Availability {
                    typical_reply_ms, ..
                } => Some(*typical_reply_ms),
                _ => None,
            })
            .await;
        assert_eq!(welcome, live, "welcome and availability agree");
        welcome
    };
    // Nothing measured yet: no figure (and this node has just computed that).
    assert_eq!(figure(&relay).await, None);

    let mut measured = Vec::new();
    for (i, wait_ms) in [40u64, 400, 150].into_iter().enumerate() {
        let mut v = relay.visitor().await;
        let conv = v.conversation_id();
        v.say("m1", "anyone there?").await;
        v.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
        for n in 0..2 {
            // The second reply is no first response.
            alex.send(&ClientMsg::Send(switchboard_protocol::client::Send {
                conversation_id: conv.clone(),
                client_id: format!("a{i}-{n}"),
                text: "Hello, Alex here.".into(),
                rich: None,
                canned_id: None,
            }))
            .await;
            alex.until(|m| matches!(m, ServerMsg::Ack { .. }).then_some(()))
                .await;
        }
        // What the store says the first response took.
        let opened = (relay.relay.state.broker.summary(&conv).await.unwrap())
            .unwrap()
            .created_at;
        let reply = (relay.stored(&conv).await.into_iter())
            .find(|m| m.sender.kind == SenderKind::Agent)
            .unwrap();
        assert!(reply.at - opened >= wait_ms, "{} ms", reply.at - opened);
        measured.push(reply.at - opened);
        if i < 2 {
            assert_eq!(figure(&relay).await, None, "too few conversations yet");
        }
    }
    measured.sort();
    assert_eq!(figure(&relay).await, Some(measured[1]), "{measured:?}");
}

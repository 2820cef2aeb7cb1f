//! One conversation's KPI facts, folded from its stored log (the one rule of what each event
//! means for the figures), and the compact rows a report reads back.
//!
//! The facts are a projection: everything in them follows from the log (plus the
//! conversation's current team, assignee and handoff, and its visitor's first page), so they
//! can always be recomputed, and a report never reads a log.

use std::collections::HashMap;

use switchboard_protocol::csat::Scale;
use switchboard_protocol::{ChatMessage, ConversationSummary, Millis, SenderKind, SystemEvent};

/// What one conversation contributes to the KPIs; durations in milliseconds from `started`
/// (the visitor's first message).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub conversation_id: String,
    pub site: String,
    /// The last seq folded in: the conversation's log is projected up to here.
    pub seq: u64,
    pub started: Millis,
    /// To the first agent or bot message after the visitor's first.
    pub first_response_ms: Option<u64>,
    /// To the first assignment to an agent.
    pub assign_ms: Option<u64>,
    /// To the resolution that still holds (none if reopened since).
    pub resolve_ms: Option<u64>,
    /// From entering the humans' queue (a handoff, else the start) to the first assignment.
    pub queue_ms: Option<u64>,
    pub resolved: bool,
    pub reopens: u32,
    /// A bot wrote in it.
    pub bot: bool,
    /// An agent wrote in it or was assigned to it.
    pub human: bool,
    /// Why the bot handed it to humans (`HandoffReason`'s wire name); empty when the reason
    /// is unknown.
    pub handoff: Option<String>,
    /// Visitor, agent and bot messages (not system events, not notes).
    pub messages: u32,
    /// The visitor's last rating on 1–5 (see [`fold`]).
    pub csat: Option<u8>,
    pub team: Option<String>,
    /// The assignee, else the first agent who wrote.
    pub agent: Option<String>,
    /// The entry page group: the first segment of the first page's URL path (`/pricing`),
    /// `/` for the home page, empty when unknown.
    pub entry: String,
}

/// Folds a conversation's whole log (in seq order) into its facts. `summary` is the
/// conversation as stored now (team, assignee, handoff reason, the visitor's page); `entry`
/// is the entry group already projected, kept once known since the visitor's page moves on.
pub fn fold(log: &[ChatMessage], summary: &ConversationSummary, entry: Option<String>) -> Facts {
    let mut folder = Folder::new(summary);
    for m in log {
        folder.push(m);
    }
    folder.finish(summary, entry)
}

/// [`fold`] one log entry at a time, so a long conversation's log is read a page at a time
/// and never held whole (a 10,000-message conversation is megabytes of text).
pub struct Folder {
    f: Facts,
    first: bool,
    visitor_seen: bool,
    first_agent: Option<String>,
    handed_off_at: Option<Millis>,
    assigned_at: Option<Millis>,
    resolved_at: Option<Millis>,
}

impl Folder {
    pub fn new(summary: &ConversationSummary) -> Folder {
        Folder {
            f: Facts {
                conversation_id: summary.id.clone(),
                site: summary.site.clone(),
                started: summary.created_at,
                ..Facts::default()
            },
            first: true,
            visitor_seen: false,
            first_agent: None,
            handed_off_at: None,
            assigned_at: None,
            resolved_at: None,
        }
    }

    /// Whether any entry was folded in.
    pub fn is_empty(&self) -> bool {
        self.f.seq == 0
    }

    /// The next entry of the log, in seq order.
    pub fn push(&mut self, m: &ChatMessage) {
        self.f.seq = m.seq;
        let first = std::mem::replace(&mut self.first, false);
        if m.is_note() {
            return;
        }
        if first || (!self.visitor_seen && m.sender.kind == SenderKind::Visitor) {
            self.f.started = m.at;
        }
        match m.sender.kind {
            SenderKind::Visitor => {
                self.visitor_seen = true;
                self.f.messages += 1;
            }
            SenderKind::Agent | SenderKind::Bot => {
                self.f.messages += 1;
                if m.sender.kind == SenderKind::Agent {
                    self.f.human = true;
                    self.first_agent.get_or_insert_with(|| m.sender.id.clone());
                } else {
                    self.f.bot = true;
                }
                if self.visitor_seen && self.f.first_response_ms.is_none() {
                    self.f.first_response_ms = Some(m.at.saturating_sub(self.f.started));
                }
            }
            SenderKind::System => match m.event.as_deref() {
                Some(SystemEvent::Assigned { .. }) => {
                    self.f.human = true;
                    self.assigned_at.get_or_insert(m.at);
                }
                Some(SystemEvent::Transferred {
                    to_agent: Some(_), ..
                }) => {
                    self.f.human = true;
                    self.assigned_at.get_or_insert(m.at);
                }
                Some(SystemEvent::HandedOff { .. }) => {
                    self.handed_off_at.get_or_insert(m.at);
                }
                Some(SystemEvent::Resolved { .. }) => self.resolved_at = Some(m.at),
                Some(SystemEvent::Reopened { .. }) => {
                    self.f.reopens += 1;
                    self.resolved_at = None;
                }
                // The visitor's rating after a resolve; after a reopen and a new resolve the
                // last rating counts. Reports are on 1–5: a thumbs down counts 1, up 5.
                Some(SystemEvent::Rated { score, scale, .. }) => {
                    self.f.csat = Some(match scale {
                        Scale::Five => *score,
                        Scale::Thumbs if *score == 0 => 1,
                        Scale::Thumbs => 5,
                    });
                }
                _ => {}
            },
        }
    }

    pub fn finish(self, summary: &ConversationSummary, entry: Option<String>) -> Facts {
        let Folder {
            mut f,
            first_agent,
            handed_off_at,
            assigned_at,
            resolved_at,
            ..
        } = self;
        let since = |t: Millis| t.saturating_sub(f.started);
        f.assign_ms = assigned_at.map(since);
        f.resolved = resolved_at.is_some();
        f.resolve_ms = resolved_at.map(since);
        f.queue_ms = assigned_at.map(|a| a.saturating_sub(handed_off_at.unwrap_or(f.started)));
        f.handoff = handed_off_at.map(|_| {
            summary
                .handoff
                .as_ref()
                .and_then(|h| serde_json::to_value(h.handoff.reason).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        });
        f.team = summary.team.clone();
        f.agent = summary.assignee.clone().or(first_agent);
        f.entry = entry.unwrap_or_else(|| entry_group(summary.page_url.as_deref().unwrap_or("")));
        f
    }
}

/// The first segment of a URL's path (`https://shop.example/pricing/pro?x` → `/pricing`):
/// bounded, letters, digits and `-_.~` only, so any URL gives a short, safe group.
pub fn entry_group(url: &str) -> String {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return String::new();
    };
    let path = rest.find('/').map_or("", |i| &rest[i + 1..]);
    let segment: String = path
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.~".contains(*c))
        .take(MAX_ENTRY_CHARS)
        .collect();
    format!("/{segment}")
}

/// The longest entry group kept.
pub const MAX_ENTRY_CHARS: usize = 48;

/// The dimension a report groups rows by, besides time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    None,
    Team,
    Agent,
    Entry,
}

/// One conversation as a report reads it: numbers, and names as indexes into
/// [`Rows::names`] (a year of a busy site is a million rows; they allocate nothing each).
#[derive(Clone, Copy, Debug, Default)]
pub struct Row {
    pub started: Millis,
    pub first_response_ms: Option<u64>,
    pub assign_ms: Option<u64>,
    pub resolve_ms: Option<u64>,
    pub queue_ms: Option<u64>,
    pub resolved: bool,
    pub reopened: bool,
    pub bot: bool,
    pub human: bool,
    pub handoff: Option<u32>,
    pub messages: u32,
    pub csat: Option<u8>,
    /// The row's value of the report's [`Dim`], if it has one.
    pub dim: Option<u32>,
}

/// The rows of a period and the names they refer to.
#[derive(Debug, Default)]
pub struct Rows {
    pub rows: Vec<Row>,
    pub names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Rows {
    /// The index of `name`, stored once.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    /// The row of `facts`, for reports grouped by `dim` (what the Redis store reads back).
    pub fn push(&mut self, facts: &Facts, dim: Dim) {
        let dim = match dim {
            Dim::None => None,
            Dim::Team => facts.team.as_deref(),
            Dim::Agent => facts.agent.as_deref(),
            Dim::Entry => Some(facts.entry.as_str()),
        };
        let row = Row {
            started: facts.started,
            first_response_ms: facts.first_response_ms,
            assign_ms: facts.assign_ms,
            resolve_ms: facts.resolve_ms,
            queue_ms: facts.queue_ms,
            resolved: facts.resolved,
            reopened: facts.reopens > 0,
            bot: facts.bot,
            human: facts.human,
            handoff: facts.handoff.as_deref().map(|h| self.intern(h)),
            messages: facts.messages,
            csat: facts.csat,
            dim: dim.map(|d| self.intern(d)),
        };
        self.rows.push(row);
    }
}

/// The storage encoding of facts in Redis: fields joined by tabs (no field can hold one:
/// ids, team and agent ids, reason names and entry groups are tab-free by construction).
pub fn encode(f: &Facts) -> String {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        f.seq.to_string(),
        f.started.to_string(),
        opt(f.first_response_ms),
        opt(f.assign_ms),
        opt(f.resolve_ms),
        opt(f.queue_ms),
        (f.resolved as u8).to_string(),
        f.reopens.to_string(),
        (f.bot as u8).to_string(),
        (f.human as u8).to_string(),
        f.handoff.as_deref().map_or("-".into(), |h| format!("+{h}")),
        f.messages.to_string(),
        f.csat.map(|c| c.to_string()).unwrap_or_default(),
        f.team.clone().unwrap_or_default(),
        f.agent.clone().unwrap_or_default(),
        f.entry.clone(),
    ]
    .join("\t")
}

/// The inverse of [`encode`]; `None` for a value this version cannot read.
pub fn decode(conversation_id: &str, site: &str, s: &str) -> Option<Facts> {
    let v: Vec<&str> = s.split('\t').collect();
    if v.len() != 16 {
        return None;
    }
    let opt = |s: &str| -> Option<Option<u64>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let name = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Some(Facts {
        conversation_id: conversation_id.to_owned(),
        site: site.to_owned(),
        seq: v[0].parse().ok()?,
        started: v[1].parse().ok()?,
        first_response_ms: opt(v[2])?,
        assign_ms: opt(v[3])?,
        resolve_ms: opt(v[4])?,
        queue_ms: opt(v[5])?,
        resolved: v[6] == "1",
        reopens: v[7].parse().ok()?,
        bot: v[8] == "1",
        human: v[9] == "1",
        handoff: v[10].strip_prefix('+').map(str::to_owned),
        messages: v[11].parse().ok()?,
        csat: opt(v[12])?.map(|c| c.min(u8::MAX as u64) as u8),
        team: name(v[13]),
        agent: name(v[14]),
        entry: v[15].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocol::{Priority, Sender};

    fn msg(seq: u64, at: Millis, kind: SenderKind, event: Option<SystemEvent>) -> ChatMessage {
        ChatMessage {
            conversation_id: "c1".into(),
            seq,
            client_id: format!("m{seq}"),
            sender: Sender {
                kind,
                id: if kind == SenderKind::Agent {
                    "alex"
                } else {
                    "x"
                }
                .into(),
                name: None,
                avatar: None,
            },
            text: String::new(),
            at,
            rich: None,
            postback: None,
            event: event.map(Box::new),
            note: None,
        }
    }

    fn summary() -> ConversationSummary {
        serde_json::from_value(serde_json::json!({
            "id": "c1", "site": "shop", "visitor_id": "v1", "created_at": 1000,
            "last_activity": 1000, "last_seq": 0, "owner": {"kind": "humans"},
            "page_url": "https://shop.example/pricing/pro?utm=x", "team": "support",
        }))
        .unwrap()
    }

    #[test]
    fn a_bot_conversation_handed_off_then_resolved_and_reopened() {
        use SenderKind::*;
        let log = [
            msg(1, 1_000, Visitor, None),
            msg(2, 3_000, Bot, None),
            msg(
                3,
                10_000,
                System,
                Some(SystemEvent::HandedOff {
                    team: None,
                    priority: Priority::Normal,
                    by: "bot".into(),
                }),
            ),
            msg(
                4,
                70_000,
                System,
                Some(SystemEvent::Assigned {
                    agent: "alex".into(),
                    by: "system".into(),
                    agent_name: None,
                }),
            ),
            msg(5, 80_000, Agent, None),
            msg(
                6,
                90_000,
                System,
                Some(SystemEvent::Resolved { by: "alex".into() }),
            ),
            msg(7, 95_000, System, Some(SystemEvent::Reopened { by: None })),
            msg(8, 95_000, Visitor, None),
        ];
        let f = fold(&log, &summary(), None);
        assert_eq!(f.seq, 8);
        assert_eq!(f.started, 1_000);
        assert_eq!(f.first_response_ms, Some(2_000));
        assert_eq!(f.assign_ms, Some(69_000));
        assert_eq!(f.queue_ms, Some(60_000));
        assert_eq!((f.resolved, f.resolve_ms, f.reopens), (false, None, 1));
        assert!(f.bot && f.human);
        assert_eq!(f.handoff.as_deref(), Some(""));
        assert_eq!(f.messages, 4);
        assert_eq!(f.agent.as_deref(), Some("alex"));
        assert_eq!(f.team.as_deref(), Some("support"));
        assert_eq!(f.entry, "/pricing");
        assert_eq!(decode("c1", "shop", &encode(&f)), Some(f));
    }

    #[test]
    fn the_last_rating_counts_on_one_to_five() {
        use SenderKind::*;
        let rated = |seq, score, scale| {
            msg(
                seq,
                seq * 1_000,
                System,
                Some(SystemEvent::Rated {
                    score,
                    scale,
                    comment: None,
                }),
            )
        };
        let resolved = |seq| {
            msg(
                seq,
                seq * 1_000,
                System,
                Some(SystemEvent::Resolved { by: "alex".into() }),
            )
        };
        let mut log = vec![msg(1, 1_000, Visitor, None), resolved(2)];
        assert_eq!(fold(&log, &summary(), None).csat, None);
        log.push(rated(3, 2, Scale::Five));
        assert_eq!(fold(&log, &summary(), None).csat, Some(2));
        log.extend([
            msg(4, 4_000, System, Some(SystemEvent::Reopened { by: None })),
            resolved(5),
            rated(6, 0, Scale::Thumbs),
        ]);
        assert_eq!(fold(&log, &summary(), None).csat, Some(1));
        log.push(rated(7, 1, Scale::Thumbs));
        assert_eq!(fold(&log, &summary(), None).csat, Some(5));
    }

    #[test]
    fn entry_groups_are_short_and_safe() {
        assert_eq!(entry_group("https://a.example"), "/");
        assert_eq!(entry_group("https://a.example/"), "/");
        assert_eq!(entry_group("https://a.example/Docs?q=1"), "/Docs");
        assert_eq!(entry_group("https://a.example/a\tb%20c/d"), "/ab20c");
        assert_eq!(entry_group("not a url"), "");
        assert_eq!(
            entry_group(&format!("https://a.example/{}", "x".repeat(500))).len(),
            49
        );
    }
}

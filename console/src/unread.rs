//! What needs the agent: unread conversations per view (the tabs' badges), the count in the
//! tab title, and "my queue" (assigned to me, or unassigned in my teams), which notifications
//! follow.
//!
//! The views' lists and counts are the relay's (`desk`); but which view a conversation the
//! console heard of belongs to is worked out here, from its summary, by the relay's rule
//! (relay `session/views.rs`, `views_of`) mirrored. Asking the relay for every view after
//! every change would cost a read of the whole inbox per view; a badge that is briefly off
//! after a rule change is a smaller cost than that.

use leptos::prelude::*;
use switchboard_protocol::{AgentRole, ConversationSummary, Directory, Owner, Status, View};

use crate::desk::team_of;
use crate::state::Console;

/// Whether the conversation waits in one of `me`'s teams (its team, else its site's default
/// team; a site without teams is one queue; an admin is in every team).
fn in_my_teams(d: &Directory, me: &str, s: &ConversationSummary) -> bool {
    d.role == AgentRole::Admin
        || team_of(d, s)
            .and_then(|t| d.teams.iter().find(|x| x.id == t && x.site == s.site))
            .is_none_or(|t| t.members.iter().any(|m| m == me))
}

/// Whether `s` is in `view` for the agent `me` at `now` (ms).
pub fn in_view(d: &Directory, me: &str, s: &ConversationSummary, view: View, now: u64) -> bool {
    let resolved = s.status.at(now) == Status::Resolved;
    if view == View::Resolved || resolved {
        return view == View::Resolved && resolved;
    }
    let humans_in_teams = in_my_teams(d, me, s) && s.owner == Owner::Humans;
    match view {
        View::All => true,
        View::Mine => s.assignee.as_deref() == Some(me),
        View::MyTeams => humans_in_teams,
        View::Unassigned => humans_in_teams && s.assignee.is_none(),
        View::Resolved => false,
    }
}

/// My queue: assigned to me, or waiting unassigned in my teams. New arrivals here notify.
pub fn in_my_queue(d: &Directory, me: &str, s: &ConversationSummary, now: u64) -> bool {
    !me.is_empty()
        && !s.blocked
        && (in_view(d, me, s, View::Mine, now) || in_view(d, me, s, View::Unassigned, now))
}

impl Console {
    /// Unread conversations in `view`, among every conversation the console heard of.
    pub fn unread_in(self, view: View) -> usize {
        let now = self.now.get() as u64;
        let me = self.me.get();
        self.directory.with(|d| {
            self.summaries.with(|all| {
                all.values()
                    .filter(|s| !s.blocked && in_view(d, &me, s, view, now) && self.unread(s))
                    .count()
            })
        })
    }

    /// Unread conversations in my queue: the tab title's count.
    pub fn unread_total(self) -> usize {
        let now = self.now.get() as u64;
        let me = self.me.get();
        self.directory.with(|d| {
            self.summaries.with(|all| {
                all.values()
                    .filter(|s| in_my_queue(d, &me, s, now) && self.unread(s))
                    .count()
            })
        })
    }
}

/// The document title: the count of what needs the agent in front, so it shows in the tab
/// strip while the agent works elsewhere.
pub fn title(unread: usize) -> String {
    match unread {
        0 => "Switchboard".to_owned(),
        n => format!("({}) Switchboard", crate::i18n::number(n as u64)),
    }
}

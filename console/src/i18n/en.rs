//! English, and the shape every translation fills.

/// Every string the console shows. `{…}` marks a hole [`super::fill`] fills.
pub struct Strings {
    /// The BCP 47 tag of these words (the page's `lang`).
    pub lang: &'static str,
    /// The inbox's time for something under a minute old.
    pub now: &'static str,
    // Stacked views on narrow screens.
    pub back_to_list: &'static str,
    pub back_to_conversation: &'static str,
    pub visitor_details: &'static str,
    // Keyboard shortcuts and their overlay.
    pub shortcuts: &'static str,
    pub close: &'static str,
    pub or: &'static str,
    pub key_next: &'static str,
    pub key_previous: &'static str,
    pub key_reply: &'static str,
    pub key_canned: &'static str,
    pub key_resolve: &'static str,
    pub key_take: &'static str,
    pub key_help: &'static str,
    pub key_escape: &'static str,
    pub cannot_take: &'static str,
    pub cannot_resolve: &'static str,
    // Notifications.
    pub notify_offer: &'static str,
    pub notify_on: &'static str,
    pub notify_later: &'static str,
    pub sound: &'static str,
    pub new_conversation: &'static str,
    pub assigned_to_you: &'static str,
    /// `{name}`: the visitor.
    pub new_message: &'static str,
    /// `{n}`: conversations with something the agent has not seen.
    pub unread_count: &'static str,
}

pub const EN: Strings = Strings {
    lang: "en",
    now: "now",
    back_to_list: "Back to conversations",
    back_to_conversation: "Back to conversation",
    visitor_details: "Visitor details",
    shortcuts: "Keyboard shortcuts",
    close: "Close",
    or: "or",
    key_next: "Next conversation",
    key_previous: "Previous conversation",
    key_reply: "Reply",
    key_canned: "Canned replies",
    key_resolve: "Resolve",
    key_take: "Take (assign to me)",
    key_help: "Show these shortcuts",
    key_escape: "Leave the reply box; close this list",
    cannot_take: "You cannot take this conversation.",
    cannot_resolve: "You cannot resolve this conversation.",
    notify_offer: "Get a notification when a chat needs you while this tab is in the background.",
    notify_on: "Turn on notifications",
    notify_later: "Not now",
    sound: "Sound",
    new_conversation: "New conversation",
    assigned_to_you: "Assigned to you",
    new_message: "New message from {name}",
    unread_count: "{n} unread",
};

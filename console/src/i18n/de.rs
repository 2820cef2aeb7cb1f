//! Deutsch.

use super::en::Strings;

pub const DE: Strings = Strings {
    lang: "de",
    now: "jetzt",
    back_to_list: "Zurück zu den Unterhaltungen",
    back_to_conversation: "Zurück zur Unterhaltung",
    visitor_details: "Details zum Besucher",
    shortcuts: "Tastenkürzel",
    close: "Schließen",
    or: "oder",
    key_next: "Nächste Unterhaltung",
    key_previous: "Vorherige Unterhaltung",
    key_reply: "Antworten",
    key_canned: "Textbausteine",
    key_resolve: "Erledigen",
    key_take: "Übernehmen (mir zuweisen)",
    key_help: "Diese Kürzel zeigen",
    key_escape: "Antwortfeld verlassen; diese Liste schließen",
    cannot_take: "Sie können diese Unterhaltung nicht übernehmen.",
    cannot_resolve: "Sie können diese Unterhaltung nicht erledigen.",
    notify_offer:
        "Benachrichtigt werden, wenn ein Chat Sie braucht, während dieser Tab im Hintergrund ist.",
    notify_on: "Benachrichtigungen einschalten",
    notify_later: "Nicht jetzt",
    sound: "Ton",
    new_conversation: "Neue Unterhaltung",
    assigned_to_you: "Ihnen zugewiesen",
    new_message: "Neue Nachricht von {name}",
    unread_count: "{n} ungelesen",
};

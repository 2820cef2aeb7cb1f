//! Français.

use super::en::Strings;

pub const FR: Strings = Strings {
    lang: "fr",
    now: "maintenant",
    back_to_list: "Retour aux conversations",
    back_to_conversation: "Retour à la conversation",
    visitor_details: "Détails du visiteur",
    shortcuts: "Raccourcis clavier",
    close: "Fermer",
    or: "ou",
    key_next: "Conversation suivante",
    key_previous: "Conversation précédente",
    key_reply: "Répondre",
    key_canned: "Réponses enregistrées",
    key_resolve: "Résoudre",
    key_take: "Prendre (me l’attribuer)",
    key_help: "Afficher ces raccourcis",
    key_escape: "Quitter la zone de réponse ; fermer cette liste",
    cannot_take: "Vous ne pouvez pas prendre cette conversation.",
    cannot_resolve: "Vous ne pouvez pas résoudre cette conversation.",
    notify_offer: "Recevoir une notification quand un chat a besoin de vous pendant que cet onglet est en arrière-plan.",
    notify_on: "Activer les notifications",
    notify_later: "Plus tard",
    sound: "Son",
    new_conversation: "Nouvelle conversation",
    assigned_to_you: "Attribuée à vous",
    new_message: "Nouveau message de {name}",
    unread_count: "{n} non lues",
};

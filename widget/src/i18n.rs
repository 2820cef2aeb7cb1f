//! The widget's words, in the visitor's language (from `navigator.language`; English otherwise).

pub struct Strings {
    /// The BCP 47 tag of these words, for the widget's `lang` attribute (screen readers
    /// pronounce by it).
    pub lang: &'static str,
    pub title: &'static str,
    pub open: &'static str,
    pub close: &'static str,
    pub placeholder: &'static str,
    pub send: &'static str,
    pub you: &'static str,
    pub agent: &'static str,
    pub online: &'static str,
    pub connecting: &'static str,
    pub reconnecting: &'static str,
    pub offline: &'static str,
    pub error: &'static str,
    pub pending: &'static str,
    pub failed: &'static str,
    pub typing: &'static str,
    pub empty: &'static str,
    pub unread: &'static str,
    pub too_long: &'static str,
    /// The marker beside a bot's name, so nobody takes it for a person.
    pub bot: &'static str,
    /// The label of a bot's quick-reply chips, for screen readers.
    pub suggestions: &'static str,
    /// Said after a link that opens a new tab.
    pub new_tab: &'static str,
    // The conversation's story, from the relay's system events (`{name}`: an agent or team).
    pub joined: &'static str,
    pub transferred: &'static str,
    pub resolved: &'static str,
    pub reopened: &'static str,
    /// Under the transcript while the conversation is resolved.
    pub resolved_notice: &'static str,
    /// `{n}`: the visitor's place in the queue, 1 is next.
    pub queue: &'static str,
    // The header once connected: whether anyone is there, and how soon they answer.
    pub we_are_online: &'static str,
    /// `{time}`: `one_minute` or `minutes`.
    pub replies_in: &'static str,
    pub one_minute: &'static str,
    /// `{n}`: two or more.
    pub minutes: &'static str,
    pub away: &'static str,
}

const EN: Strings = Strings {
    lang: "en",
    title: "Chat with us",
    open: "Open chat",
    close: "Close chat",
    placeholder: "Type a message…",
    send: "Send",
    you: "You",
    agent: "Support",
    online: "Online",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    offline: "You are offline",
    error: "Chat is unavailable",
    pending: "Sending…",
    failed: "Not sent",
    typing: "is typing…",
    empty: "Ask us anything. We usually answer in a few minutes.",
    unread: "unread",
    too_long: "This message is too long. Please shorten it.",
    bot: "Bot",
    suggestions: "Suggested replies",
    new_tab: "(opens in a new tab)",
    joined: "{name} joined",
    transferred: "Transferred to {name}",
    resolved: "Resolved",
    reopened: "Conversation reopened",
    resolved_notice: "This conversation was resolved. Write to reopen it.",
    queue: "You are number {n} in the queue",
    we_are_online: "We're online",
    replies_in: "We're online — typically replies in {time}",
    one_minute: "1 minute",
    minutes: "{n} minutes",
    away: "We're away — we'll reply soon",
};

const DE: Strings = Strings {
    lang: "de",
    title: "Chatten Sie mit uns",
    open: "Chat öffnen",
    close: "Chat schließen",
    placeholder: "Nachricht schreiben…",
    send: "Senden",
    you: "Sie",
    agent: "Support",
    online: "Online",
    connecting: "Verbinden…",
    reconnecting: "Verbindung wird wiederhergestellt…",
    offline: "Sie sind offline",
    error: "Chat nicht verfügbar",
    pending: "Wird gesendet…",
    failed: "Nicht gesendet",
    typing: "schreibt…",
    empty: "Fragen Sie uns – wir antworten meist in wenigen Minuten.",
    unread: "ungelesen",
    too_long: "Diese Nachricht ist zu lang. Bitte kürzen Sie sie.",
    bot: "Bot",
    suggestions: "Antwortvorschläge",
    new_tab: "(öffnet in neuem Tab)",
    joined: "{name} ist beigetreten",
    transferred: "Weitergeleitet an {name}",
    resolved: "Gelöst",
    reopened: "Unterhaltung wieder geöffnet",
    resolved_notice: "Diese Unterhaltung wurde gelöst. Schreiben Sie, um sie wieder zu öffnen.",
    queue: "Sie sind Nummer {n} in der Warteschlange",
    we_are_online: "Wir sind online",
    replies_in: "Wir sind online – Antwort meist in {time}",
    one_minute: "1 Minute",
    minutes: "{n} Minuten",
    away: "Wir sind gerade nicht da – wir antworten bald",
};

const FR: Strings = Strings {
    lang: "fr",
    title: "Discutons",
    open: "Ouvrir le chat",
    close: "Fermer le chat",
    placeholder: "Écrivez un message…",
    send: "Envoyer",
    you: "Vous",
    agent: "Support",
    online: "En ligne",
    connecting: "Connexion…",
    reconnecting: "Reconnexion…",
    offline: "Vous êtes hors ligne",
    error: "Chat indisponible",
    pending: "Envoi…",
    failed: "Non envoyé",
    typing: "écrit…",
    empty: "Posez-nous vos questions, nous répondons en quelques minutes.",
    unread: "non lus",
    too_long: "Ce message est trop long. Merci de le raccourcir.",
    bot: "Bot",
    suggestions: "Réponses suggérées",
    new_tab: "(s’ouvre dans un nouvel onglet)",
    joined: "{name} a rejoint la conversation",
    transferred: "Transféré à {name}",
    resolved: "Résolu",
    reopened: "Conversation rouverte",
    resolved_notice: "Cette conversation a été résolue. Écrivez pour la rouvrir.",
    queue: "Vous êtes numéro {n} dans la file d’attente",
    we_are_online: "Nous sommes en ligne",
    replies_in: "Nous sommes en ligne — réponse en {time} en général",
    one_minute: "1 minute",
    minutes: "{n} minutes",
    away: "Nous sommes absents — nous répondrons bientôt",
};

const ES: Strings = Strings {
    lang: "es",
    title: "Chatea con nosotros",
    open: "Abrir chat",
    close: "Cerrar chat",
    placeholder: "Escribe un mensaje…",
    send: "Enviar",
    you: "Tú",
    agent: "Soporte",
    online: "En línea",
    connecting: "Conectando…",
    reconnecting: "Reconectando…",
    offline: "Sin conexión",
    error: "Chat no disponible",
    pending: "Enviando…",
    failed: "No enviado",
    typing: "está escribiendo…",
    empty: "Pregúntanos lo que quieras; solemos responder en minutos.",
    unread: "sin leer",
    too_long: "Este mensaje es demasiado largo. Acórtalo, por favor.",
    bot: "Bot",
    suggestions: "Respuestas sugeridas",
    new_tab: "(se abre en una pestaña nueva)",
    joined: "{name} se ha unido",
    transferred: "Transferido a {name}",
    resolved: "Resuelto",
    reopened: "Conversación reabierta",
    resolved_notice: "Esta conversación se resolvió. Escribe para reabrirla.",
    queue: "Eres el número {n} en la cola",
    we_are_online: "Estamos en línea",
    replies_in: "Estamos en línea — solemos responder en {time}",
    one_minute: "1 minuto",
    minutes: "{n} minutos",
    away: "Ahora no estamos — responderemos pronto",
};

impl Strings {
    /// "typically replies in N minutes", N rounded up to whole minutes (at least 1), in
    /// integers: no float formatting in the wasm.
    pub fn replies_in(&self, ms: u64) -> String {
        let n = ms.div_ceil(60_000).max(1);
        let time = match n {
            1 => self.one_minute.to_owned(),
            n => self.minutes.replace("{n}", &n.to_string()),
        };
        self.replies_in.replace("{time}", &time)
    }
}

impl Strings {
    /// The direction these words are written in: the widget lays itself out by its own
    /// language, not by the host page's (a German widget on an Arabic page stays
    /// left-to-right, its punctuation where German puts it).
    pub fn dir(&self) -> &'static str {
        match self.lang {
            "ar" | "he" | "fa" | "ur" => "rtl",
            _ => "ltr",
        }
    }
}

/// The strings for a BCP 47 tag such as `de-CH`.
pub fn for_locale(tag: &str) -> &'static Strings {
    match tag
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "de" => &DE,
        "fr" => &FR,
        "es" => &ES,
        _ => &EN,
    }
}

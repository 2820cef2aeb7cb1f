//! The widget's words in twelve languages, and the choice among them.
//!
//! The language is the first of these that names a shipped one: `Switchboard('locale', …)`,
//! the `data-locale` attribute of the embed's `<script>`, the page's `<html lang>`, the
//! browser's languages in order; English otherwise. Numbers, plurals, minutes and times come
//! from the browser's `Intl` (no plural or date tables in the wasm): a string with plural
//! forms lists them as `category:text|category:text`, categories as `Intl.PluralRules` names
//! them, `other` last and required.

use std::cell::RefCell;

use js_sys::{Array, Intl, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

pub struct Strings {
    /// The BCP 47 tag of these words, for the widget's `lang` attribute (screen readers
    /// pronounce by it) and for `Intl`.
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
    /// Under the visitor's last message an agent has read.
    pub seen: &'static str,
    /// `{name}`: who is typing.
    pub typing: &'static str,
    pub empty: &'static str,
    /// The launcher's name with replies waiting, in plural forms: `{label}` the launcher's
    /// own name, `{n}` the count.
    pub unread: &'static str,
    /// Said (not shown) when a reply arrives while the panel is closed; `{name}`: who wrote.
    pub new_message: &'static str,
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
    /// `{time}`: a number of minutes as `Intl` words it ("1 minute", "5 Minuten").
    pub replies_in: &'static str,
    pub away: &'static str,
    // The rating prompt after a resolve (`view/csat.rs`).
    pub rate_question: &'static str,
    /// Under the five scores: what the ends mean.
    pub rate_scale: &'static str,
    /// The thumbs: up and down.
    pub rate_up: &'static str,
    pub rate_down: &'static str,
    pub rate_comment: &'static str,
    pub rate_thanks: &'static str,
    /// The transcript's line for the visitor's rating; `{score}`: "4/5" or the thumb's word.
    pub rated: &'static str,
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
    seen: "Seen",
    typing: "{name} is typing…",
    empty: "Ask us anything. We usually answer in a few minutes.",
    unread: "one:{label}, {n} unread message|other:{label}, {n} unread messages",
    new_message: "New message from {name}",
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
    away: "We're away — we'll reply soon",
    rate_question: "How was this conversation?",
    rate_scale: "1 = poor, 5 = excellent",
    rate_up: "Good",
    rate_down: "Bad",
    rate_comment: "Anything to add? (optional)",
    rate_thanks: "Thanks for your feedback!",
    rated: "Your rating: {score}",
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
    seen: "Visto",
    typing: "{name} está escribiendo…",
    empty: "Pregúntanos lo que quieras; solemos responder en minutos.",
    unread: "one:{label}, {n} mensaje sin leer|other:{label}, {n} mensajes sin leer",
    new_message: "Nuevo mensaje de {name}",
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
    away: "Ahora no estamos — responderemos pronto",
    rate_question: "¿Qué tal fue esta conversación?",
    rate_scale: "1 = mala, 5 = excelente",
    rate_up: "Buena",
    rate_down: "Mala",
    rate_comment: "¿Algo que añadir? (opcional)",
    rate_thanks: "¡Gracias por tu opinión!",
    rated: "Tu valoración: {score}",
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
    seen: "Vu",
    typing: "{name} écrit…",
    empty: "Posez-nous vos questions, nous répondons en quelques minutes.",
    unread: "one:{label}, {n} message non lu|other:{label}, {n} messages non lus",
    new_message: "Nouveau message de {name}",
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
    away: "Nous sommes absents — nous répondrons bientôt",
    rate_question: "Comment s'est passée cette conversation ?",
    rate_scale: "1 = mauvaise, 5 = excellente",
    rate_up: "Bien",
    rate_down: "Pas bien",
    rate_comment: "Quelque chose à ajouter ? (facultatif)",
    rate_thanks: "Merci pour votre avis !",
    rated: "Votre note : {score}",
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
    seen: "Gesehen",
    typing: "{name} schreibt…",
    empty: "Fragen Sie uns – wir antworten meist in wenigen Minuten.",
    unread: "one:{label}, {n} ungelesene Nachricht|other:{label}, {n} ungelesene Nachrichten",
    new_message: "Neue Nachricht von {name}",
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
    away: "Wir sind gerade nicht da – wir antworten bald",
    rate_question: "Wie war diese Unterhaltung?",
    rate_scale: "1 = schlecht, 5 = ausgezeichnet",
    rate_up: "Gut",
    rate_down: "Schlecht",
    rate_comment: "Möchten Sie etwas ergänzen? (optional)",
    rate_thanks: "Danke für Ihr Feedback!",
    rated: "Ihre Bewertung: {score}",
};

const PT: Strings = Strings {
    lang: "pt",
    title: "Fale conosco",
    open: "Abrir chat",
    close: "Fechar chat",
    placeholder: "Digite uma mensagem…",
    send: "Enviar",
    you: "Você",
    agent: "Suporte",
    online: "Online",
    connecting: "Conectando…",
    reconnecting: "Reconectando…",
    offline: "Você está offline",
    error: "Chat indisponível",
    pending: "Enviando…",
    failed: "Não enviada",
    seen: "Visto",
    typing: "{name} está digitando…",
    empty: "Pergunte o que quiser. Costumamos responder em poucos minutos.",
    unread: "one:{label}, {n} mensagem não lida|other:{label}, {n} mensagens não lidas",
    new_message: "Nova mensagem de {name}",
    too_long: "Esta mensagem é longa demais. Encurte-a, por favor.",
    bot: "Bot",
    suggestions: "Respostas sugeridas",
    new_tab: "(abre em uma nova aba)",
    joined: "{name} entrou na conversa",
    transferred: "Transferida para {name}",
    resolved: "Resolvida",
    reopened: "Conversa reaberta",
    resolved_notice: "Esta conversa foi resolvida. Escreva para reabri-la.",
    queue: "Você é o número {n} na fila",
    we_are_online: "Estamos online",
    replies_in: "Estamos online — costumamos responder em {time}",
    away: "Estamos ausentes — responderemos em breve",
    rate_question: "Como foi esta conversa?",
    rate_scale: "1 = ruim, 5 = excelente",
    rate_up: "Boa",
    rate_down: "Ruim",
    rate_comment: "Algo a acrescentar? (opcional)",
    rate_thanks: "Obrigado pela sua opinião!",
    rated: "Sua avaliação: {score}",
};

const IT: Strings = Strings {
    lang: "it",
    title: "Chatta con noi",
    open: "Apri la chat",
    close: "Chiudi la chat",
    placeholder: "Scrivi un messaggio…",
    send: "Invia",
    you: "Tu",
    agent: "Assistenza",
    online: "Online",
    connecting: "Connessione…",
    reconnecting: "Riconnessione…",
    offline: "Sei offline",
    error: "Chat non disponibile",
    pending: "Invio…",
    failed: "Non inviato",
    seen: "Visualizzato",
    typing: "{name} sta scrivendo…",
    empty: "Chiedici pure. Di solito rispondiamo in pochi minuti.",
    unread: "one:{label}, {n} messaggio non letto|other:{label}, {n} messaggi non letti",
    new_message: "Nuovo messaggio da {name}",
    too_long: "Questo messaggio è troppo lungo. Accorcialo, per favore.",
    bot: "Bot",
    suggestions: "Risposte suggerite",
    new_tab: "(si apre in una nuova scheda)",
    joined: "{name} partecipa alla conversazione",
    transferred: "Trasferita a {name}",
    resolved: "Risolta",
    reopened: "Conversazione riaperta",
    resolved_notice: "Questa conversazione è stata risolta. Scrivi per riaprirla.",
    queue: "Sei il numero {n} in coda",
    we_are_online: "Siamo online",
    replies_in: "Siamo online — di solito rispondiamo in {time}",
    away: "Al momento non ci siamo — risponderemo presto",
    rate_question: "Com'è andata questa conversazione?",
    rate_scale: "1 = pessima, 5 = ottima",
    rate_up: "Bene",
    rate_down: "Male",
    rate_comment: "Vuoi aggiungere qualcosa? (facoltativo)",
    rate_thanks: "Grazie per il tuo feedback!",
    rated: "La tua valutazione: {score}",
};

const NL: Strings = Strings {
    lang: "nl",
    title: "Chat met ons",
    open: "Chat openen",
    close: "Chat sluiten",
    placeholder: "Typ een bericht…",
    send: "Versturen",
    you: "Jij",
    agent: "Klantenservice",
    online: "Online",
    connecting: "Verbinden…",
    reconnecting: "Opnieuw verbinden…",
    offline: "Je bent offline",
    error: "Chat is niet beschikbaar",
    pending: "Versturen…",
    failed: "Niet verstuurd",
    seen: "Gezien",
    typing: "{name} is aan het typen…",
    empty: "Vraag ons gerust iets. We antwoorden meestal binnen een paar minuten.",
    unread: "one:{label}, {n} ongelezen bericht|other:{label}, {n} ongelezen berichten",
    new_message: "Nieuw bericht van {name}",
    too_long: "Dit bericht is te lang. Maak het wat korter.",
    bot: "Bot",
    suggestions: "Voorgestelde antwoorden",
    new_tab: "(opent in een nieuw tabblad)",
    joined: "{name} neemt deel aan het gesprek",
    transferred: "Doorgestuurd naar {name}",
    resolved: "Opgelost",
    reopened: "Gesprek heropend",
    resolved_notice: "Dit gesprek is opgelost. Stuur een bericht om het te heropenen.",
    queue: "Je bent nummer {n} in de wachtrij",
    we_are_online: "We zijn online",
    replies_in: "We zijn online — meestal antwoord binnen {time}",
    away: "We zijn er even niet — we antwoorden snel",
    rate_question: "Hoe was dit gesprek?",
    rate_scale: "1 = slecht, 5 = uitstekend",
    rate_up: "Goed",
    rate_down: "Slecht",
    rate_comment: "Nog iets toe te voegen? (optioneel)",
    rate_thanks: "Bedankt voor je feedback!",
    rated: "Jouw beoordeling: {score}",
};

const TR: Strings = Strings {
    lang: "tr",
    title: "Bize yazın",
    open: "Sohbeti aç",
    close: "Sohbeti kapat",
    placeholder: "Bir mesaj yazın…",
    send: "Gönder",
    you: "Siz",
    agent: "Destek",
    online: "Çevrimiçi",
    connecting: "Bağlanıyor…",
    reconnecting: "Yeniden bağlanıyor…",
    offline: "Çevrimdışısınız",
    error: "Sohbet kullanılamıyor",
    pending: "Gönderiliyor…",
    failed: "Gönderilemedi",
    seen: "Görüldü",
    typing: "{name} yazıyor…",
    empty: "Aklınıza takılan her şeyi sorun. Genellikle birkaç dakika içinde yanıt veriyoruz.",
    // Turkish nouns stay singular after a number.
    unread: "other:{label}, {n} okunmamış mesaj",
    new_message: "{name} size yazdı",
    too_long: "Bu mesaj çok uzun. Lütfen kısaltın.",
    bot: "Bot",
    suggestions: "Önerilen yanıtlar",
    new_tab: "(yeni sekmede açılır)",
    joined: "{name} sohbete katıldı",
    transferred: "Aktarıldı: {name}",
    resolved: "Çözüldü",
    reopened: "Sohbet yeniden açıldı",
    resolved_notice: "Bu sohbet çözüldü. Yeniden açmak için yazın.",
    queue: "Sıradaki yeriniz: {n}",
    we_are_online: "Çevrimiçiyiz",
    replies_in: "Çevrimiçiyiz — genellikle {time} içinde yanıt veriyoruz",
    away: "Şu an müsait değiliz — en kısa sürede yanıt vereceğiz",
    rate_question: "Bu sohbet nasıldı?",
    rate_scale: "1 = kötü, 5 = mükemmel",
    rate_up: "İyi",
    rate_down: "Kötü",
    rate_comment: "Eklemek istediğiniz bir şey var mı? (isteğe bağlı)",
    rate_thanks: "Geri bildiriminiz için teşekkürler!",
    rated: "Puanınız: {score}",
};

const HI: Strings = Strings {
    lang: "hi",
    title: "हमसे बात करें",
    open: "चैट खोलें",
    close: "चैट बंद करें",
    placeholder: "संदेश लिखें…",
    send: "भेजें",
    you: "आप",
    agent: "सहायता",
    online: "ऑनलाइन",
    connecting: "कनेक्ट हो रहा है…",
    reconnecting: "फिर से कनेक्ट हो रहा है…",
    offline: "आप ऑफ़लाइन हैं",
    error: "चैट उपलब्ध नहीं है",
    pending: "भेजा जा रहा है…",
    failed: "नहीं भेजा गया",
    seen: "देखा गया",
    typing: "{name} लिख रहे हैं…",
    empty: "हमसे कुछ भी पूछें। हम आमतौर पर कुछ ही मिनटों में जवाब देते हैं।",
    unread: "other:{label}, {n} अपठित संदेश",
    new_message: "{name} का नया संदेश",
    too_long: "यह संदेश बहुत लंबा है। कृपया इसे छोटा करें।",
    bot: "बॉट",
    suggestions: "सुझाए गए जवाब",
    new_tab: "(नए टैब में खुलता है)",
    joined: "{name} बातचीत में शामिल हुए",
    transferred: "{name} को ट्रांसफ़र किया गया",
    resolved: "हल हो गया",
    reopened: "बातचीत फिर से खोली गई",
    resolved_notice: "यह बातचीत हल हो चुकी है। इसे फिर से खोलने के लिए लिखें।",
    queue: "कतार में आपका नंबर {n} है",
    we_are_online: "हम ऑनलाइन हैं",
    replies_in: "हम ऑनलाइन हैं — आमतौर पर {time} में जवाब देते हैं",
    away: "हम अभी उपलब्ध नहीं हैं — जल्द ही जवाब देंगे",
    rate_question: "यह बातचीत कैसी रही?",
    rate_scale: "1 = खराब, 5 = बेहतरीन",
    rate_up: "अच्छी",
    rate_down: "खराब",
    rate_comment: "कुछ और कहना है? (वैकल्पिक)",
    rate_thanks: "आपकी प्रतिक्रिया के लिए धन्यवाद!",
    rated: "आपकी रेटिंग: {score}",
};

const AR: Strings = Strings {
    lang: "ar",
    title: "تحدّث معنا",
    open: "افتح المحادثة",
    close: "أغلق المحادثة",
    placeholder: "اكتب رسالة…",
    send: "إرسال",
    you: "أنت",
    agent: "الدعم",
    online: "متصل",
    connecting: "جارٍ الاتصال…",
    reconnecting: "جارٍ إعادة الاتصال…",
    offline: "أنت غير متصل بالإنترنت",
    error: "المحادثة غير متاحة",
    pending: "جارٍ الإرسال…",
    failed: "لم تُرسل",
    seen: "تمت المشاهدة",
    typing: "{name} يكتب…",
    empty: "اسألنا عن أي شيء. نردّ عادةً خلال دقائق.",
    // Every form says the number: the badge shows it, and a name must contain what is shown.
    unread: "two:{label}، {n} رسالتان غير مقروءتين|few:{label}، {n} رسائل غير مقروءة|other:{label}، {n} رسالة غير مقروءة",
    new_message: "رسالة جديدة من {name}",
    too_long: "هذه الرسالة طويلة جدًا. يُرجى اختصارها.",
    bot: "روبوت",
    suggestions: "ردود مقترحة",
    new_tab: "(تُفتح في علامة تبويب جديدة)",
    joined: "انضم {name} إلى المحادثة",
    transferred: "تم التحويل إلى {name}",
    resolved: "تم الحل",
    reopened: "أُعيد فتح المحادثة",
    resolved_notice: "تم حل هذه المحادثة. اكتب لإعادة فتحها.",
    queue: "ترتيبك في قائمة الانتظار: {n}",
    we_are_online: "نحن متصلون الآن",
    replies_in: "نحن متصلون — نردّ عادةً خلال {time}",
    away: "لسنا متاحين الآن — سنردّ قريبًا",
    rate_question: "كيف كانت هذه المحادثة؟",
    rate_scale: "1 = سيئة، 5 = ممتازة",
    rate_up: "جيدة",
    rate_down: "سيئة",
    rate_comment: "هل تريد إضافة شيء؟ (اختياري)",
    rate_thanks: "شكرًا على ملاحظاتك!",
    rated: "تقييمك: {score}",
};

const ZH: Strings = Strings {
    lang: "zh",
    title: "与我们聊天",
    open: "打开聊天",
    close: "关闭聊天",
    placeholder: "输入消息…",
    send: "发送",
    you: "你",
    agent: "客服",
    online: "在线",
    connecting: "正在连接…",
    reconnecting: "正在重新连接…",
    offline: "你已离线",
    error: "聊天暂不可用",
    pending: "正在发送…",
    failed: "未发送",
    seen: "已读",
    typing: "{name} 正在输入…",
    empty: "有任何问题都可以问我们，我们通常几分钟内回复。",
    unread: "other:{label}（{n} 条未读消息）",
    new_message: "{name} 发来新消息",
    too_long: "消息太长，请缩短后再发送。",
    bot: "机器人",
    suggestions: "建议回复",
    new_tab: "（在新标签页中打开）",
    joined: "{name} 已加入对话",
    transferred: "已转接给 {name}",
    resolved: "已解决",
    reopened: "对话已重新打开",
    resolved_notice: "此对话已解决。发送消息即可重新打开。",
    queue: "你在队列中排第 {n} 位",
    we_are_online: "我们在线",
    replies_in: "我们在线 — 通常在{time}内回复",
    away: "我们暂时不在 — 会尽快回复",
    rate_question: "这次对话体验如何？",
    rate_scale: "1 = 很差，5 = 很好",
    rate_up: "满意",
    rate_down: "不满意",
    rate_comment: "还有什么要补充的吗？（可选）",
    rate_thanks: "感谢您的反馈！",
    rated: "您的评分：{score}",
};

const JA: Strings = Strings {
    lang: "ja",
    title: "チャットでお問い合わせ",
    open: "チャットを開く",
    close: "チャットを閉じる",
    placeholder: "メッセージを入力…",
    send: "送信",
    you: "あなた",
    agent: "サポート",
    online: "オンライン",
    connecting: "接続中…",
    reconnecting: "再接続中…",
    offline: "オフラインです",
    error: "チャットは現在利用できません",
    pending: "送信中…",
    failed: "送信できませんでした",
    seen: "既読",
    typing: "{name}さんが入力中…",
    empty: "お気軽にご質問ください。通常は数分以内に返信します。",
    unread: "other:{label}（未読メッセージ {n} 件）",
    new_message: "{name}さんから新しいメッセージ",
    too_long: "メッセージが長すぎます。短くしてください。",
    bot: "ボット",
    suggestions: "返信の候補",
    new_tab: "（新しいタブで開きます）",
    joined: "{name}さんが参加しました",
    transferred: "{name}に転送されました",
    resolved: "解決済み",
    reopened: "会話が再開されました",
    resolved_notice: "この会話は解決済みです。メッセージを送ると再開されます。",
    queue: "順番待ち：{n}番目",
    we_are_online: "オンラインです",
    replies_in: "オンラインです — 通常{time}以内に返信します",
    away: "ただいま対応できません — 後ほど返信します",
    rate_question: "この会話はいかがでしたか？",
    rate_scale: "1 = 悪い、5 = とても良い",
    rate_up: "良い",
    rate_down: "悪い",
    rate_comment: "ほかにご意見はありますか？（任意）",
    rate_thanks: "ご意見ありがとうございます！",
    rated: "あなたの評価：{score}",
};

/// Every shipped language, English first (the fallback).
pub const ALL: [&Strings; 12] = [&EN, &ES, &FR, &DE, &PT, &IT, &NL, &TR, &HI, &AR, &ZH, &JA];

impl Strings {
    /// The direction these words are written in: the widget lays itself out by its own
    /// language, not by the host page's (a German widget on an Arabic page stays
    /// left-to-right, its punctuation where German puts it).
    pub fn dir(&self) -> &'static str {
        if self.lang == "ar" {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// "typically replies in N minutes", N rounded up to whole minutes (at least 1), the
    /// minutes worded by `Intl` in this language.
    pub fn replies_in(&self, ms: u64) -> String {
        let n = ms.div_ceil(60_000).max(1);
        let options = Object::new();
        set(&options, "style", "unit");
        set(&options, "unit", "minute");
        set(&options, "unitDisplay", "long");
        let time = format_with(
            Intl::NumberFormat::new(&self.locales(), &options).format(),
            n,
        );
        self.replies_in.replace("{time}", &time)
    }

    /// The queue line, the position in this language's digits.
    pub fn queue(&self, n: u32) -> String {
        self.queue.replace("{n}", &self.number(n.into()))
    }

    /// The launcher's name with `n` replies waiting.
    pub fn unread(&self, label: &str, n: u32) -> String {
        self.plural(self.unread, n.into())
            .replace("{label}", label)
            .replace("{n}", &self.number(n.into()))
    }

    /// A time of day as this language writes it; with the date too when it is not today.
    pub fn time(&self, at_ms: f64) -> String {
        let date = js_sys::Date::new(&JsValue::from_f64(at_ms));
        let today = js_sys::Date::new_0().to_date_string() == date.to_date_string();
        let options = Object::new();
        set(&options, "hour", "numeric");
        set(&options, "minute", "2-digit");
        if !today {
            set(&options, "month", "short");
            set(&options, "day", "numeric");
        }
        let format = Intl::DateTimeFormat::new(&self.locales(), &options).format();
        format
            .call1(&JsValue::NULL, &date)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    }

    /// A count in this language's digits.
    pub fn number(&self, n: u64) -> String {
        format_with(
            Intl::NumberFormat::new(&self.locales(), &Object::new()).format(),
            n,
        )
    }

    /// The form of `forms` for `n` (see the module's notes).
    fn plural(&self, forms: &'static str, n: u64) -> &'static str {
        let category: String = PLURALS.with(|p| {
            let mut p = p.borrow_mut();
            let rules = match &*p {
                Some((lang, rules)) if *lang == self.lang => rules.clone(),
                _ => {
                    let rules = Intl::PluralRules::new(&self.locales(), &Object::new());
                    *p = Some((self.lang, rules.clone()));
                    rules
                }
            };
            rules.select(n as f64).into()
        });
        let mut other = forms;
        for form in forms.split('|') {
            if let Some((cat, text)) = form.split_once(':') {
                if cat == category {
                    return text;
                }
                if cat == "other" {
                    other = text;
                }
            }
        }
        other
    }

    fn locales(&self) -> Array {
        Array::of1(&JsValue::from_str(self.lang))
    }
}

thread_local! {
    /// The plural rules of the language last asked for (one language at a time in practice).
    static PLURALS: RefCell<Option<(&'static str, Intl::PluralRules)>> = const { RefCell::new(None) };
}

fn set(o: &Object, key: &str, value: &str) {
    let _ = Reflect::set(o, &key.into(), &value.into());
}

fn format_with(format: js_sys::Function, n: u64) -> String {
    format
        .call1(&JsValue::NULL, &JsValue::from_f64(n as f64))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| n.to_string())
}

/// The shipped strings for a BCP 47 tag such as `de-CH`, if its language is one of them.
pub fn shipped(tag: &str) -> Option<&'static Strings> {
    let language = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    ALL.iter().copied().find(|s| s.lang == language)
}

/// The language the page asks for, else the browser's (see the module's notes; a site's
/// `Switchboard('locale', …)` comes later and wins).
pub fn chosen() -> &'static Strings {
    let Some(window) = web_sys::window() else {
        return &EN;
    };
    let document = window.document();
    let script = document.as_ref().and_then(|d| {
        d.query_selector("script[data-site][data-locale]")
            .ok()
            .flatten()
    });
    let html = document.as_ref().and_then(|d| d.document_element());
    let navigator = window.navigator();
    let page = [
        script.and_then(|s| s.get_attribute("data-locale")),
        html.and_then(|h| h.get_attribute("lang")),
    ];
    let browser = navigator
        .languages()
        .into_iter()
        .filter_map(|l| l.as_string())
        .chain(navigator.language());
    page.into_iter()
        .flatten()
        .chain(browser)
        .find_map(|tag| shipped(&tag))
        .unwrap_or(&EN)
}

/// Whether `v` is a string naming a shipped language (for `Switchboard('locale', …)`).
pub fn from_js(v: &JsValue) -> Option<&'static Strings> {
    v.dyn_ref::<js_sys::JsString>()
        .and_then(|s| s.as_string())
        .and_then(|s| shipped(&s))
}

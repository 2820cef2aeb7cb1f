//! Size limits. The relay enforces every one of them; clients check them first so a visitor
//! sees the problem before anything is sent.

/// Largest text frame the relay parses. A larger frame (up to [`MAX_FRAME_HARD_BYTES`]) is
/// answered with [`crate::ErrorCode::TooLarge`] and the connection stays open.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Largest frame the WebSocket layer accepts at all; past this the connection is closed with
/// 1009 (message too big) because reading it would already cost the memory.
pub const MAX_FRAME_HARD_BYTES: usize = 1024 * 1024;
/// Longest chat message text, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
/// Longest piece of a streamed answer (`delta`); the whole stream is bounded by
/// [`MAX_TEXT_BYTES`] like the message that ends it.
pub const MAX_DELTA_BYTES: usize = 1024;
/// Longest client-generated message id.
pub const MAX_CLIENT_ID_BYTES: usize = 64;
/// Largest serialized [`crate::Context`].
pub const MAX_CONTEXT_BYTES: usize = 32 * 1024;
/// Longest short string in the context (names, titles, statuses, currency, ids).
pub const MAX_SHORT_BYTES: usize = 512;
/// Longest URL in the context (page URL, referrer, item links).
pub const MAX_URL_BYTES: usize = 2048;
/// Most keys in the context's `custom` map.
pub const MAX_CUSTOM_FIELDS: usize = 50;
/// Longest `custom` value, serialized (a string's bytes plus its quotes, or a number, a
/// list, an object as JSON).
pub const MAX_CUSTOM_VALUE_BYTES: usize = 1024;
/// Longest e-mail address in a `mailto:` link (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Most line items in a cart or order.
pub const MAX_LINE_ITEMS: usize = 100;
/// Longest token (visitor or agent).
pub const MAX_TOKEN_BYTES: usize = 256;
/// Longest identity token (a JWT the site's server signed) in `hello` or `identify`.
pub const MAX_IDENTITY_TOKEN_BYTES: usize = 4096;
/// Longest id (conversation, visitor).
pub const MAX_ID_BYTES: usize = 64;
/// Most messages the relay sends in one catch-up before the client asks for more.
pub const MAX_HISTORY_BATCH: usize = 500;
/// Most conversations in one inbox page: the agent's list at connect, and each answer to
/// `list_conversations` (the largest `limit` it accepts).
pub const MAX_INBOX: usize = 200;
/// Most quick-reply chips on one message.
pub const MAX_QUICK_REPLIES: usize = 10;
/// Most buttons on one message or one card.
pub const MAX_BUTTONS: usize = 5;
/// Most cards on one message.
pub const MAX_CARDS: usize = 10;
/// Longest chip or button label, or card title.
pub const MAX_LABEL_BYTES: usize = 80;
/// Longest card body text.
pub const MAX_CARD_TEXT_BYTES: usize = 1024;
/// Longest postback payload.
pub const MAX_PAYLOAD_BYTES: usize = 1024;
/// Longest handoff summary.
pub const MAX_SUMMARY_BYTES: usize = 2048;
/// Most fields a bot may collect for a handoff.
pub const MAX_HANDOFF_FIELDS: usize = 20;
/// A handoff's language code (`hin`, `pt-BR`).
pub const MAX_LANGUAGE_BYTES: usize = 16;
/// Largest body the bot HTTP API accepts.
pub const MAX_HTTP_BODY_BYTES: usize = 64 * 1024;
/// Longest transfer note an agent leaves for the next one.
pub const MAX_NOTE_BYTES: usize = 1024;
/// Largest body `POST /v1/agent/login` accepts.
pub const MAX_LOGIN_BODY_BYTES: usize = 4 * 1024;
/// Longest agent id or email a sign-in names.
pub const MAX_LOGIN_NAME_BYTES: usize = 254;
/// Longest password a sign-in may carry (argon2 takes any length; a bound keeps the request
/// and the work small).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest comment a visitor may leave with a rating, in bytes of UTF-8 (a site's
/// `comment_max`, in characters, is at most [`MAX_RATING_COMMENT_CHARS`]).
pub const MAX_RATING_COMMENT_BYTES: usize = 4 * 1024;
/// The most a site may set as its rating comment's length, in characters.
pub const MAX_RATING_COMMENT_CHARS: u32 = 1000;
/// Longest private note an agent writes into a conversation, in bytes of UTF-8.
pub const MAX_PRIVATE_NOTE_BYTES: usize = 4 * 1024;
/// Most agents one private note may mention.
pub const MAX_MENTIONS: usize = 10;
/// Longest search text an agent may send.
pub const MAX_SEARCH_BYTES: usize = 256;
/// Most distinct words in one search (each one is a term every engine must intersect).
pub const MAX_SEARCH_TERMS: usize = 8;
/// Longest word in a search.
pub const MAX_SEARCH_TERM_BYTES: usize = 64;
/// Most hits in one page of search results (and the default).
pub const MAX_SEARCH_PAGE: usize = 20;
/// Deepest a search may page: past this, narrow the search instead.
pub const MAX_SEARCH_OFFSET: usize = 200;
/// Most earlier conversations `visitor_history` lists.
pub const MAX_VISITOR_HISTORY: usize = 20;
/// Longest canned-reply shortcut (what an agent types after `/`).
pub const MAX_CANNED_SHORTCUT_BYTES: usize = 32;
/// Longest canned-reply body, placeholders included (filled, it must still fit
/// [`MAX_TEXT_BYTES`] to be sent).
pub const MAX_CANNED_BODY_BYTES: usize = 2048;
/// Most canned replies one site stores: each agent's console holds them all, and a `canned`
/// frame carries them all.
pub const MAX_CANNED_PER_SITE: usize = 100;
/// Longest placeholder name inside `{{ }}`.
pub const MAX_PLACEHOLDER_BYTES: usize = 64;
/// Most pages of a visitor's page trail the relay keeps (the oldest is dropped first).
pub const MAX_PAGE_TRAIL: usize = 20;

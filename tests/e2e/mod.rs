//! Browser end-to-end: the relay binary as a process in demo mode, the demo shop with the real
//! widget, the real console, both in headless Chromium over WebDriver (chromedriver +
//! fantoccini).
//!
//! - `harness`: the relay process, chromedriver, browser sessions that always close;
//! - `cdp`: the DevTools protocol beside WebDriver (requests, sockets, storage writes);
//! - `consent`: nothing fetched, stored or connected before the visitor asks (consent mode,
//!   and a page view that never chats); a returning visitor reconnects at once;
//! - `page`: what a visitor and an agent can do and see (shadow-DOM aware);
//! - `accessibility`: the widget (loader launcher, open, with a conversation) and the console
//!   (sign-in, a conversation with its context) under axe-core on desktop, at phone width and
//!   right to left; the widget's `lang` in every shipped locale;
//! - `axe`: axe-core injected into a page, its violations returned;
//! - `helpdesk`: two agents' consoles: views, assignment, transfer, resolve, reopen, presence;
//! - `blocked_storage`: a browser that blocks site data (storage throws, the tab lock is
//!   refused): the widget still chats, and no error reaches the page;
//! - `block`: "Block visitor" in the console: keyboard, axe-core, RTL and phone width;
//! - `canned`: the `/` canned-reply picker: the filled `{{order.number}}` reaches the widget,
//!   a missing value blocks the send, the admin screen adds one (axe-core on both);
//! - `csat`: resolve in the console → the widget's rating prompt → a rating with a comment by
//!   keyboard → the thanks, and the rating in the console (axe-core, RTL, 390 px);
//! - `bots`: the order-status bot answers from the order and hands off to the console;
//! - `chat`: the full conversation, through a reload and a relay restart;
//! - `hostile`: a page whose CSS attacks the widget;
//! - `locked_down`: the test's own pages with their own headers: a strict CSP (README's
//!   minimal policy; nonces only with `default-src 'none'`) with Trusted Types required and a
//!   hostile stylesheet, a sandboxed iframe (opaque origin, no storage, no Web Locks), each
//!   chatting with an agent with no CSP violation or error in the page, under axe-core; the
//!   consent prompt in an Arabic visitor's language, right to left;
//! - `login`: the console's password sign-in by keyboard, axe, 390 px, sign-out revokes;
//! - `notes`: a private note with an @mention seen on another relay node (two on one Redis),
//!   never in the widget or a raw visitor socket; an agent's reply with chips and a link;
//! - `identity`: the console's verified marks; `reset` forgets the visitor;
//! - `search`: a returning verified customer's earlier conversation in the sidebar, opened
//!   read-only; search finds a resolved conversation by a word, opens it; axe-core, 390 px;
//! - `receipts`: "Seen" in the widget once the agent opens the conversation, the visitor's
//!   mark in the console (held while the chat is closed), an SPA navigation in the console's
//!   page trail; axe-core, right to left, 390 px;
//! - `streaming`: a bot's streamed answer grows in one row hidden from screen readers, the
//!   stored message takes its place, a reload mid-stream shows only the stored answer (axe-core);
//! - `resilience`: offline outbox through a reload, two tabs on one WebSocket;
//! - `workspace`: the console at 390 px as stacked views (list → conversation → context and
//!   back, focus following), keyboard shortcuts and their `?` overlay, a notification for a new
//!   conversation while the tab is hidden, the unread count in the title;
//! - `visitor_desk`: the helpdesk as the visitor sees it: availability and reply time, queue
//!   position, the story of system events, resolved and reopened, in every locale (axe-core,
//!   RTL, 390 px); `axe` runs axe-core in the page.
//! - `visitors_world`: an Arabic page (right to left, launcher bottom-left from the first
//!   paint, a reply announced while closed), a Hindi visitor, `data-locale` and
//!   `Switchboard('locale')`, a phone with the keyboard up (visual viewport), landscape and the
//!   scroll lock, a themed site (brand colour, left, dark) — each chatting with an agent, under
//!   axe-core.

mod accessibility;
mod axe;
mod block;
mod blocked_storage;
mod bots;
mod canned;
mod cdp;
mod chat;
mod consent;
mod csat;
mod harness;
mod helpdesk;
mod hostile;
mod identity;
mod locked_down;
mod login;
mod notes;
mod page;
mod receipts;
mod resilience;
mod search;
mod streaming;
mod visitor_desk;
mod visitors_world;
mod workspace;

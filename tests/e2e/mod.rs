//! Browser end-to-end: the relay binary as a process in demo mode, the demo shop with the real
//! widget, the real console, both in headless Chromium over WebDriver (chromedriver +
//! fantoccini).
//!
//! - `harness`: the relay process, chromedriver, browser sessions that always close;
//! - `page`: what a visitor and an agent can do and see (shadow-DOM aware);
//! - `block`: "Block visitor" in the console: keyboard, axe-core, RTL and phone width;
//! - `bots`: the order-status bot answers from the order and hands off to the console;
//! - `chat`: the full conversation, through a reload and a relay restart;
//! - `hostile`: a page whose CSS attacks the widget;
//! - `identity`: the console's verified marks; `reset` forgets the visitor;
//! - `resilience`: offline outbox through a reload, two tabs on one WebSocket.

mod block;
mod bots;
mod chat;
mod harness;
mod hostile;
mod identity;
mod page;
mod resilience;

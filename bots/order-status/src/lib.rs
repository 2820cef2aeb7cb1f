//! An order-status bot for Switchboard, attached over the relay's bot WebSocket.
//!
//! - [`brain`]: what to answer, from the visitor's words and the order data the site passed
//!   in the context (pure, tested without a relay);
//! - the connection (hello, routed conversations, replies, handoffs, reconnects) is the
//!   shared `switchboard-botclient`.

pub mod brain;

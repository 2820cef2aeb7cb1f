//! What of a streamed answer may be shown while the model is still writing it.
//!
//! The whole answer is checked before it is stored (`brain`): no sentence of the instructions,
//! no order number the context does not hold, no "HANDOFF". A piece shown early must not
//! get round those checks, so the gate shows only what they would pass: whole words; nothing
//! that could be the start of an instruction sentence, the instructions' marker or the
//! handoff word (held back until the text shows it is not); nothing after a `[` not yet
//! closed (a citation the stored text drops). Once the text so far would be refused, or what
//! would be shown no longer continues what was shown (citations moved it), the gate shows
//! nothing more: the stored answer (or the handoff's words) replaces what was shown.

use switchboard_protocol::Context;

use crate::prompt::{self, Prompt};

pub struct Gate<'a> {
    prompt: &'a Prompt,
    context: &'a Context,
    sources: usize,
    raw: String,
    shown: String,
    stopped: bool,
}

impl<'a> Gate<'a> {
    pub fn new(prompt: &'a Prompt, context: &'a Context, sources: usize) -> Gate<'a> {
        Gate {
            prompt,
            context,
            sources,
            raw: String::new(),
            shown: String::new(),
            stopped: false,
        }
    }

    /// Takes the model's next piece; returns the text that may now be shown after what was.
    pub fn push(&mut self, piece: &str) -> Option<String> {
        if self.stopped {
            return None;
        }
        self.raw.push_str(piece);
        // Whole words only: a number or a word cut in two could read as something else.
        let mut end = self
            .raw
            .rfind(char::is_whitespace)
            .map_or(0, |at| self.raw[..at].trim_end().len());
        let candidate = &self.raw[..end];
        if self.prompt.leaks(candidate)
            || !prompt::invented_orders(candidate, self.context).is_empty()
            || candidate.contains(prompt::HANDOFF)
        {
            self.stopped = true;
            return None;
        }
        end = end.min(self.prompt.may_start_guarded(candidate));
        if let Some(open) = self.raw[..end].rfind('[') {
            if !self.raw[open..end].contains(']') {
                end = open;
            }
        }
        let (_, view) = prompt::citations(&self.raw[..end], self.sources);
        if !view.starts_with(&self.shown) {
            self.stopped = true;
            return None;
        }
        let new = view[self.shown.len()..].to_owned();
        if new.is_empty() {
            return None;
        }
        self.shown = view;
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use switchboard_protocol::context::Order;

    use super::*;

    fn shown(prompt: &Prompt, context: &Context, pieces: &[&str]) -> String {
        let mut gate = Gate::new(prompt, context, 2);
        pieces.iter().filter_map(|p| gate.push(p)).collect()
    }

    #[test]
    fn whole_words_without_citations_are_shown_as_they_come() {
        let p = Prompt::new("Demo shop");
        let c = Context::default();
        let mut gate = Gate::new(&p, &c, 2);
        assert_eq!(gate.push("Standard deli"), Some("Standard".into()));
        assert_eq!(gate.push("very takes 3 "), Some(" delivery takes 3".into()));
        assert_eq!(gate.push("to 5 days [1"), Some(" to 5 days".into()));
        // The citation is dropped, as the stored answer drops it.
        assert_eq!(gate.push("]. Express [2"), Some(". Express".into()));
        assert_eq!(
            gate.push("] costs more [3]. "),
            Some(" costs more [3].".into())
        );
    }

    #[test]
    fn an_instruction_sentence_is_held_back_and_never_shown() {
        let p = Prompt::new("Demo shop");
        let c = Context::default();
        let leak = "Sure! Answer the visitor's question using only the SOURCES and the CONTEXT in the data message. Done ";
        let pieces: Vec<&str> = leak.split_inclusive(' ').collect();
        let out = shown(&p, &c, &pieces);
        assert_eq!(out, "Sure!");
    }

    #[test]
    fn an_order_the_context_does_not_hold_stops_the_stream_before_it_is_shown() {
        let p = Prompt::new("Demo shop");
        let c = Context {
            order: Some(Order {
                number: "1042".into(),
                ..Order::default()
            }),
            ..Context::default()
        };
        assert_eq!(
            shown(&p, &c, &["Order #1042 ", "shipped; order #", "2002 too. "]),
            "Order #1042 shipped;"
        );
        assert_eq!(shown(&p, &c, &["HANDOFF", "\n"]), "");
    }
}

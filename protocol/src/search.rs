//! Full-text search over the transcripts of the sites an agent serves (`search` →
//! `search_results`), and the one rule for what a query means, shared by the relay (which
//! turns it into each store's query) and the console (which marks the matches in a snippet).
//!
//! A query is a list of words: the text is split on everything that is not a letter or a
//! digit, lowercased, and a message matches when it holds every word. Nothing else of the
//! text reaches a search engine, so no engine's query syntax (`"`, `*`, `NEAR(`, `col:`, `@`,
//! `|`, `-`) can be written through it.

use serde::{Deserialize, Serialize};

use crate::limits::{
    MAX_ID_BYTES, MAX_SEARCH_BYTES, MAX_SEARCH_OFFSET, MAX_SEARCH_PAGE, MAX_SEARCH_TERMS,
    MAX_SEARCH_TERM_BYTES,
};
use crate::message::SenderKind;
use crate::server::ConversationSummary;
use crate::{ErrorCode, Millis};

/// Agent only: find messages (visitor, agent and bot text; not system events) of the sites
/// the agent serves, newest first. Answered by `search_results`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words to find, all of them (see the module docs); at most [`MAX_SEARCH_BYTES`].
    pub text: String,
    /// Only conversations whose stored status is this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SearchStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Messages sent at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Millis>,
    /// Messages sent before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Millis>,
    /// How many hits to skip (the next page: the previous `offset` + its hits), at most
    /// [`MAX_SEARCH_OFFSET`].
    #[serde(default)]
    pub offset: usize,
    /// Hits per page, 1 to [`MAX_SEARCH_PAGE`] (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The status filter of a search: a conversation's stored status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchStatus {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl SearchStatus {
    pub const ALL: [SearchStatus; 4] = [
        SearchStatus::Open,
        SearchStatus::Pending,
        SearchStatus::Snoozed,
        SearchStatus::Resolved,
    ];

    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchStatus::Open => "open",
            SearchStatus::Pending => "pending",
            SearchStatus::Snoozed => "snoozed",
            SearchStatus::Resolved => "resolved",
        }
    }
}

/// One message found, with its conversation's inbox line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub conversation: ConversationSummary,
    pub seq: u64,
    pub at: Millis,
    pub sender: SenderKind,
    /// Plain text around the first match (never markup); [`highlight`] splits it for display.
    pub snippet: String,
}

impl SearchQuery {
    /// The words searched for, or why the query is refused: no word at all, too long, too
    /// many words, a word too long, bad filters or paging.
    pub fn validate(&self) -> Result<Vec<String>, (ErrorCode, String)> {
        if self.text.len() > MAX_SEARCH_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!("search text is longer than {MAX_SEARCH_BYTES} bytes"),
            ));
        }
        for (field, v) in [("team", &self.team), ("assignee", &self.assignee)] {
            if v.as_ref()
                .is_some_and(|v| v.is_empty() || v.len() > MAX_ID_BYTES)
            {
                return Err((
                    ErrorCode::Invalid,
                    format!("{field} must be 1-{MAX_ID_BYTES} bytes"),
                ));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                return Err((ErrorCode::Invalid, "from must be before to".into()));
            }
        }
        if self.offset > MAX_SEARCH_OFFSET {
            return Err((
                ErrorCode::Invalid,
                format!("offset must be at most {MAX_SEARCH_OFFSET}"),
            ));
        }
        if self.limit.is_some_and(|n| n == 0 || n > MAX_SEARCH_PAGE) {
            return Err((
                ErrorCode::Invalid,
                format!("limit must be 1-{MAX_SEARCH_PAGE}"),
            ));
        }
        terms(&self.text)
    }

    pub fn page_size(&self) -> usize {
        self.limit.unwrap_or(MAX_SEARCH_PAGE)
    }
}

/// The words of a search text: runs of letters and digits, lowercased, each once, in order.
pub fn terms(text: &str) -> Result<Vec<String>, (ErrorCode, String)> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word = word.to_lowercase();
        if word.len() > MAX_SEARCH_TERM_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!("a search word is longer than {MAX_SEARCH_TERM_BYTES} bytes"),
            ));
        }
        if !out.contains(&word) {
            out.push(word);
        }
        if out.len() > MAX_SEARCH_TERMS {
            return Err((
                ErrorCode::TooLarge,
                format!("a search has at most {MAX_SEARCH_TERMS} words"),
            ));
        }
    }
    if out.is_empty() {
        return Err((ErrorCode::Invalid, "nothing to search for".into()));
    }
    Ok(out)
}

/// Characters of context kept before the first match in a snippet, and a snippet's length.
const SNIPPET_BEFORE: usize = 60;
const SNIPPET_CHARS: usize = 180;

/// A message's text cut around its first match of any term (the start when none is found,
/// as when the engine matched a form the text spells differently), with `…` where cut.
pub fn snippet(text: &str, terms: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let first = matches(&chars, terms).first().map_or(0, |m| m.0);
    let start = first.saturating_sub(SNIPPET_BEFORE);
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Splits a snippet into runs, `true` for a run that is one of the terms (case-insensitive),
/// for the console to mark.
pub fn highlight(snippet: &str, terms: &[String]) -> Vec<(String, bool)> {
    let chars: Vec<char> = snippet.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    for (start, end) in matches(&chars, terms) {
        if start < at {
            continue;
        }
        if start > at {
            out.push((chars[at..start].iter().collect(), false));
        }
        out.push((chars[start..end].iter().collect(), true));
        at = end;
    }
    if at < chars.len() {
        out.push((chars[at..].iter().collect(), false));
    }
    out
}

/// Where whole words of `chars` equal a term, ignoring case, in order.
fn matches(chars: &[char], terms: &[String]) -> Vec<(usize, usize)> {
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let end = (i..chars.len())
            .find(|&j| !chars[j].is_alphanumeric())
            .unwrap_or(chars.len());
        let word: String = chars[i..end].iter().map(|&c| lower(c)).collect();
        if terms.contains(&word) {
            out.push((i, end));
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_words_only() {
        assert_eq!(
            terms(r#"Order "1042" NEAR(refund*) text:late"#).unwrap(),
            ["order", "1042", "near", "refund", "text", "late"]
        );
        assert_eq!(terms("\" * ( : @ | -").unwrap_err().0, ErrorCode::Invalid);
        assert_eq!(terms("a a A").unwrap(), ["a"]);
        let many = (0..=MAX_SEARCH_TERMS)
            .map(|i| format!("w{i} "))
            .collect::<String>();
        assert_eq!(terms(&many).unwrap_err().0, ErrorCode::TooLarge);
        let long = "x".repeat(MAX_SEARCH_TERM_BYTES + 1);
        assert_eq!(terms(&long).unwrap_err().0, ErrorCode::TooLarge);
    }

    #[test]
    fn queries_are_bounded() {
        let q = |text: &str| SearchQuery {
            text: text.into(),
            ..Default::default()
        };
        assert!(q("refund").validate().is_ok());
        let big = "ab ".repeat(MAX_SEARCH_BYTES);
        assert_eq!(q(&big).validate().unwrap_err().0, ErrorCode::TooLarge);
        let mut paged = q("refund");
        paged.limit = Some(MAX_SEARCH_PAGE + 1);
        assert_eq!(paged.validate().unwrap_err().0, ErrorCode::Invalid);
        paged.limit = None;
        paged.offset = MAX_SEARCH_OFFSET + 1;
        assert_eq!(paged.validate().unwrap_err().0, ErrorCode::Invalid);
        let mut dates = q("refund");
        dates.from = Some(5);
        dates.to = Some(5);
        assert_eq!(dates.validate().unwrap_err().0, ErrorCode::Invalid);
    }

    #[test]
    fn snippets_cut_around_the_first_match_and_mark_words() {
        let text = format!("{} my order 1042 is late", "blah ".repeat(40));
        let terms = terms("ORDER").unwrap();
        let s = snippet(&text, &terms);
        assert!(s.starts_with('…') && s.contains("my order 1042"), "{s}");
        let parts = highlight("Order: the order, reorder", &terms);
        let marked: Vec<_> = parts.iter().filter(|p| p.1).map(|p| &p.0[..]).collect();
        assert_eq!(marked, ["Order", "order"]);
        assert_eq!(
            parts.iter().map(|p| &p.0[..]).collect::<String>(),
            "Order: the order, reorder"
        );
    }
}

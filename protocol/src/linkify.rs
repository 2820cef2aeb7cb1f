//! How every client renders message text: text and link segments, where only http(s) URLs
//! become links and everything else stays text (views render text nodes, never HTML). Lives
//! here so the widget, the console and bots agree on it.

use crate::context::is_http_url;

#[derive(Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Link(String),
}

/// Punctuation that usually ends a sentence rather than a URL.
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '\'', '"'];

pub fn segments(text: &str) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let push_text = |out: &mut Vec<Segment>, s: &str| match out.last_mut() {
        _ if s.is_empty() => {}
        Some(Segment::Text(t)) => t.push_str(s),
        _ => out.push(Segment::Text(s.to_owned())),
    };
    for word in text.split_inclusive(char::is_whitespace) {
        let trimmed = word.trim_end();
        let core = trimmed.trim_end_matches(TRAILING);
        if is_http_url(core) {
            out.push(Segment::Link(core.to_owned()));
            push_text(&mut out, &word[core.len()..]);
        } else {
            push_text(&mut out, word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Segment::{Link, Text};
    use super::*;

    #[test]
    fn only_http_urls_become_links() {
        assert_eq!(
            segments("see https://x.example/a."),
            vec![
                Text("see ".into()),
                Link("https://x.example/a".into()),
                Text(".".into())
            ]
        );
        assert_eq!(
            segments("javascript:alert(1) data:text/html,x"),
            vec![Text("javascript:alert(1) data:text/html,x".into())]
        );
        assert_eq!(
            segments("HTTP://X.EXAMPLE"),
            vec![Link("HTTP://X.EXAMPLE".into())]
        );
        assert_eq!(
            segments("<img src=x onerror=alert(1)>"),
            vec![Text("<img src=x onerror=alert(1)>".into())]
        );
        assert_eq!(segments("https://"), vec![Text("https://".into())]);
    }
}

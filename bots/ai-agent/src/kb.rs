//! The site's knowledge base: a folder of Markdown articles the site owner writes, indexed
//! with BM25 (`bm25`: stemming and stop words), searched with the visitor's question. An
//! article is what the bot may answer from and what it cites.
//!
//! An article file starts with a small front matter:
//!
//! ```text
//! ---
//! title: Shipping
//! url: help.html#shipping
//! ---
//! We ship within 2 working days...
//! ```
//!
//! `url` may be relative to the base URL the bot is given; it must end up http(s). Without
//! front matter the first `# ` heading is the title and the file's name the URL's path.

use std::path::Path;

use bm25::{Language, SearchEngine, SearchEngineBuilder};
use switchboard_protocol::context::is_http_url;

#[derive(Clone, Debug, PartialEq)]
pub struct Article {
    pub title: String,
    /// Where the visitor reads it (the link button).
    pub url: String,
    pub body: String,
}

pub struct KnowledgeBase {
    articles: Vec<Article>,
    index: SearchEngine<usize>,
    /// A hit scoring below this is not about the question (a stop word or a stray match).
    min_score: f32,
}

/// An article too big for a prompt is cut; the knowledge base should be many small articles.
const MAX_ARTICLE_BYTES: usize = 4 * 1024;

impl KnowledgeBase {
    /// Reads every `*.md` file in `dir` (not recursive), in name order.
    pub fn load(dir: &Path, base_url: Option<&str>) -> Result<KnowledgeBase, String> {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        paths.sort();
        let mut articles = Vec::new();
        for path in paths {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("article");
            let article =
                parse(&text, stem, base_url).map_err(|e| format!("{}: {e}", path.display()))?;
            articles.push(article);
        }
        Ok(KnowledgeBase::new(articles))
    }

    pub fn new(articles: Vec<Article>) -> KnowledgeBase {
        let docs = articles
            .iter()
            .enumerate()
            .map(|(i, a)| bm25::Document::new(i, format!("{}\n{}", a.title, a.body)));
        let index = SearchEngineBuilder::<usize>::with_documents(Language::English, docs).build();
        KnowledgeBase {
            articles,
            index,
            min_score: 0.5,
        }
    }

    pub fn len(&self) -> usize {
        self.articles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    /// The articles about `query`, best first, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&Article> {
        self.index
            .search(query, limit)
            .into_iter()
            .filter(|r| r.score >= self.min_score)
            .filter_map(|r| self.articles.get(r.document.id))
            .collect()
    }
}

fn parse(text: &str, stem: &str, base_url: Option<&str>) -> Result<Article, String> {
    let (mut title, mut url, mut body) = (None, None, text);
    if let Some(rest) = text.strip_prefix("---\n") {
        let (head, after) = rest
            .split_once("\n---\n")
            .ok_or("front matter without its closing ---")?;
        for line in head.lines() {
            match line.split_once(':') {
                Some(("title", v)) => title = Some(v.trim().to_owned()),
                Some(("url", v)) => url = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        body = after;
    }
    let title = title
        .or_else(|| {
            body.lines()
                .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_owned()))
        })
        .unwrap_or_else(|| stem.to_owned());
    let url = url.unwrap_or_else(|| stem.to_owned());
    let url = if is_http_url(&url) {
        url
    } else {
        let base = base_url.ok_or("a relative url needs --kb-base-url")?;
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            url.trim_start_matches('/')
        )
    };
    if !is_http_url(&url) {
        return Err(format!("{url} is not an http(s) URL"));
    }
    let mut body = body.trim().to_owned();
    if body.len() > MAX_ARTICLE_BYTES {
        body.truncate(body.floor_char_boundary(MAX_ARTICLE_BYTES));
    }
    Ok(Article { title, url, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_front_matter_and_finds_the_article_a_question_is_about() {
        let kb = KnowledgeBase::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("kb"),
            Some("https://shop.example/"),
        )
        .unwrap();
        assert!(kb.len() >= 3);
        let hits = kb.search("How long does shipping take?", 3);
        assert_eq!(hits[0].title, "Shipping and delivery");
        assert_eq!(hits[0].url, "https://shop.example/help.html#shipping");
        assert_eq!(
            kb.search("can I return my shoes", 3)[0].title,
            "Returns and refunds"
        );
        assert!(kb.search("what is the capital of France", 3).is_empty());
    }

    #[test]
    fn refuses_a_link_that_is_not_http() {
        let e = parse("---\nurl: javascript:alert(1)\n---\nx", "a", None).unwrap_err();
        assert!(e.contains("--kb-base-url"), "{e}");
        let e = parse(
            "---\nurl: javascript:alert(1)\n---\nx",
            "a",
            Some("ftp://x"),
        )
        .unwrap_err();
        assert!(e.contains("not an http"), "{e}");
    }
}

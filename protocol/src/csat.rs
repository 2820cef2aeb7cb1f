//! Customer satisfaction (CSAT): after a conversation is resolved, its visitor rates it once,
//! on the site's scale, with an optional comment.
//!
//! The relay tells the widget the site's [`Csat`] in `welcome` (absent: the site asks for no
//! ratings), so the widget needs no request of its own. A rating is the `rate` frame
//! ([`Rate`]); the relay stores it as a `rated` [`crate::SystemEvent`] in the conversation's
//! log, so it has its seq and time like everything else. One rating per resolution: a second
//! one before the conversation is reopened and resolved again is refused (`already_rated`).

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::limits::MAX_RATING_COMMENT_BYTES;
use crate::ErrorCode;

/// What a visitor rates on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    #[default]
    Five,
    /// 0 (thumbs down) or 1 (thumbs up).
    Thumbs,
}

impl Scale {
    /// The scores this scale takes.
    pub fn scores(self) -> RangeInclusive<u8> {
        match self {
            Scale::Five => 1..=5,
            Scale::Thumbs => 0..=1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scale::Five => "five",
            Scale::Thumbs => "thumbs",
        }
    }
}

/// A site's rating prompt, as `welcome` tells the widget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Csat {
    pub scale: Scale,
    /// Longest comment in characters; 0: the prompt offers no comment.
    #[serde(default)]
    pub comment_max: u32,
}

/// The `rate` frame's body: a visitor's rating of its resolved conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub conversation_id: String,
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl Rate {
    /// What holds for every site: the comment's size and that it shows something.
    pub fn validate(&self) -> Result<(), (ErrorCode, String)> {
        let Some(c) = &self.comment else {
            return Ok(());
        };
        if c.len() > MAX_RATING_COMMENT_BYTES {
            return Err((
                ErrorCode::TooLarge,
                format!(
                    "comment is {} bytes, limit {MAX_RATING_COMMENT_BYTES}",
                    c.len()
                ),
            ));
        }
        if crate::client::is_blank(c) {
            return Err((ErrorCode::Invalid, "comment is blank: leave it out".into()));
        }
        if c.chars()
            .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
        {
            return Err((
                ErrorCode::Invalid,
                "comment holds control characters".into(),
            ));
        }
        Ok(())
    }
}

impl Csat {
    /// What the site's prompt allows: a score on its scale, a comment only if it offers one,
    /// within its length.
    pub fn check(&self, rate: &Rate) -> Result<(), (ErrorCode, String)> {
        let scores = self.scale.scores();
        if !scores.contains(&rate.score) {
            return Err((
                ErrorCode::Invalid,
                format!(
                    "score must be {}-{} on this site's {} scale",
                    scores.start(),
                    scores.end(),
                    self.scale.as_str()
                ),
            ));
        }
        match &rate.comment {
            Some(_) if self.comment_max == 0 => Err((
                ErrorCode::Invalid,
                "this site takes no comment with a rating".into(),
            )),
            Some(c) if c.chars().count() > self.comment_max as usize => Err((
                ErrorCode::TooLarge,
                format!("comment is longer than {} characters", self.comment_max),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(score: u8, comment: Option<&str>) -> Rate {
        Rate {
            conversation_id: "c1".into(),
            score,
            comment: comment.map(Into::into),
        }
    }

    #[test]
    fn a_rating_fits_the_sites_scale_and_comment() {
        let five = Csat {
            scale: Scale::Five,
            comment_max: 10,
        };
        assert!(five.check(&rate(1, None)).is_ok());
        assert!(five.check(&rate(5, Some("très bien"))).is_ok());
        assert_eq!(
            five.check(&rate(0, None)).unwrap_err().0,
            ErrorCode::Invalid
        );
        assert_eq!(
            five.check(&rate(6, None)).unwrap_err().0,
            ErrorCode::Invalid
        );
        let long = five.check(&rate(3, Some("0123456789a"))).unwrap_err();
        assert_eq!(long.0, ErrorCode::TooLarge);
        let thumbs = Csat {
            scale: Scale::Thumbs,
            comment_max: 0,
        };
        assert!(thumbs.check(&rate(0, None)).is_ok());
        assert!(thumbs.check(&rate(1, None)).is_ok());
        assert_eq!(
            thumbs.check(&rate(2, None)).unwrap_err().0,
            ErrorCode::Invalid
        );
        assert_eq!(
            thumbs.check(&rate(1, Some("ok"))).unwrap_err().0,
            ErrorCode::Invalid
        );
    }

    #[test]
    fn a_comment_shows_something_and_fits() {
        assert!(rate(1, Some("fine\nthanks")).validate().is_ok());
        for blank in [" ", "\u{200B}\u{FEFF}", "\n\t"] {
            assert_eq!(
                rate(1, Some(blank)).validate().unwrap_err().0,
                ErrorCode::Invalid
            );
        }
        assert_eq!(
            rate(1, Some("a\u{7}b")).validate().unwrap_err().0,
            ErrorCode::Invalid
        );
        let big = "x".repeat(MAX_RATING_COMMENT_BYTES + 1);
        assert_eq!(
            rate(1, Some(&big)).validate().unwrap_err().0,
            ErrorCode::TooLarge
        );
    }
}

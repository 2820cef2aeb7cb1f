//! Customer satisfaction: a site's `[sites.csat]` (checked at load, told to the widget in
//! `welcome`) and a visitor's `rate` frame, stored as the `rated` event of the conversation's
//! log through the lifecycle's compare-and-set, so both brokers keep it in seq order with
//! everything else and one rating per resolution holds on every node.

use serde::Deserialize;
use switchboard_protocol::csat::{Csat, Rate, Scale};
use switchboard_protocol::limits::MAX_RATING_COMMENT_CHARS;
use switchboard_protocol::{ErrorCode, Status};

use crate::bots::routing;
use crate::broker::{Change, Lifecycle, StoreError};
use crate::session::Refusal;
use crate::AppState;

/// `[sites.csat]`: absent, the site asks for no ratings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteCsat {
    /// Switches the prompt off without losing the rest of the section.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `five` (1–5) or `thumbs` (0 down, 1 up).
    #[serde(default)]
    pub scale: Scale,
    /// Longest comment in characters, at most [`MAX_RATING_COMMENT_CHARS`]; 0: no comment.
    #[serde(default)]
    pub comment_max: u32,
}

fn yes() -> bool {
    true
}

impl SiteCsat {
    pub fn check(&self, site: &str) -> anyhow::Result<()> {
        if self.comment_max > MAX_RATING_COMMENT_CHARS {
            anyhow::bail!(
                "site {site:?}: csat.comment_max must be 0-{MAX_RATING_COMMENT_CHARS} characters"
            );
        }
        Ok(())
    }

    /// What the widget is told, when the site asks for ratings.
    pub fn wire(&self) -> Option<Csat> {
        self.enabled.then_some(Csat {
            scale: self.scale,
            comment_max: self.comment_max,
        })
    }
}

/// The site's prompt as the widget is told it, if the site asks for ratings.
pub fn of_site(state: &AppState, site: &str) -> Option<Csat> {
    state
        .sites
        .get(site)
        .and_then(|s| s.csat.as_ref())
        .and_then(SiteCsat::wire)
}

/// A visitor's rating of its own conversation (`visitor_id`; the session checked it is its
/// own). Refused unless the site asks for ratings, the score and comment fit its prompt, and
/// the conversation stands resolved without a rating; the rating is then the `rated` event,
/// published to the visitor and the site's agents, and the agents' inbox line is told again.
pub async fn rate(
    state: &AppState,
    visitor_id: &str,
    conversation_id: &str,
    rate: Rate,
) -> Result<(), Refusal> {
    let Some(site) = state.broker.conversation(conversation_id).await? else {
        // Not stored yet: the visitor never wrote, so nothing was resolved.
        return Err(not_resolved());
    };
    let csat = of_site(state, &site.site)
        .ok_or_else(|| Refusal::new(ErrorCode::Forbidden, "this site asks for no ratings"))?;
    csat.check(&rate).map_err(|(c, m)| Refusal::new(c, m))?;
    let mut conv = site;
    // A change of the conversation racing the rating (an agent reopening it, say) makes the
    // compare-and-set fail: the rating is judged again on what it then is.
    for _ in 0..3 {
        let now = state.config.clock.now();
        if conv.state.status.at(now) != Status::Resolved {
            return Err(not_resolved());
        }
        if conv.state.rated {
            return Err(Refusal::new(
                ErrorCode::AlreadyRated,
                "this conversation is rated already",
            ));
        }
        let change = Change {
            by: visitor_id.to_owned(),
            at: now,
            what: Lifecycle::Rate {
                score: rate.score,
                scale: csat.scale,
                comment: rate.comment.clone(),
            },
            names: Default::default(),
        };
        match state
            .broker
            .change(conversation_id, conv.state.version, change)
            .await
        {
            Ok(changed) => {
                crate::site_webhooks::record(state, &conv.site, &[&changed.message]).await;
                routing::publish_summary(state, conversation_id).await?;
                return Ok(());
            }
            Err(StoreError::Conflict(_) | StoreError::Invalid(_)) => {
                conv = state
                    .broker
                    .conversation(conversation_id)
                    .await?
                    .ok_or_else(not_resolved)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Refusal::new(
        ErrorCode::Conflict,
        "the conversation kept changing; try again",
    ))
}

fn not_resolved() -> Refusal {
    Refusal::new(
        ErrorCode::NotResolved,
        "the conversation is not resolved: nothing to rate yet",
    )
}
